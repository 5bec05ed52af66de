package engine

import "github.com/flowgate/flowgate/engine/msg"

func init() {
	registerNode(nodeSpec[HandoffConfig]{Name: "handoff", SchemaDef: "handoffConfig", Schema: handoffSchema, NoNext: true, Compile: compileHandoff})
}

// HandoffConfig is the config of a handoff node.
type HandoffConfig struct {
	Queue   string `yaml:"queue"`
	Message string `yaml:"message"`
}

// handoffStep hands the conversation to a human agent.
type handoffStep struct {
	cfg     *HandoffConfig
	message text
}

func compileHandoff(nc *nodeCompiler, hc *HandoffConfig) step {
	return &handoffStep{cfg: hc, message: nc.text(hc.Message, "message")}
}

func (s *handoffStep) exec(r *run, n *Node) *Node {
	if s.message.raw != "" {
		r.send(n, msg.Message{Text: &msg.Text{Body: r.render(s.message)}}, "", nil)
	}
	r.st.Handoff = s.cfg.Queue
	r.clearWait()
	r.tracef(TraceHandoff, r.nodeID(), "queue %s", s.cfg.Queue)
	return nil
}

func (s *handoffStep) edges(func(*Node, string)) {}

const handoffSchema = `{
  "type": "object",
  "description": "Config of a handoff node: stops the bot for the conversation until a release through the API.",
  "additionalProperties": false,
  "required": [
    "queue"
  ],
  "properties": {
    "queue": {
      "type": "string",
      "description": "Agent queue the conversation is handed to.",
      "minLength": 1
    },
    "message": {
      "type": "string",
      "description": "Text sent to the user before the handoff. Interpolated.",
      "minLength": 1
    }
  }
}`
