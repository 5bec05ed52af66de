package engine

import (
	"fmt"
	"time"

	"github.com/expr-lang/expr/vm"

	"github.com/flowgate/flowgate/engine/msg"
)

func init() {
	registerNode(nodeSpec[InputConfig]{Name: "input", SchemaDef: "inputConfig", Schema: inputSchema, Compile: compileInput})
}

// InputConfig is the config of an input node.
type InputConfig struct {
	SaveAs       string        `yaml:"save_as"`
	Validate     string        `yaml:"validate"`
	RetryMessage string        `yaml:"retry_message"`
	MaxAttempts  int           `yaml:"max_attempts"`
	Timeout      time.Duration `yaml:"timeout"`
	OnTimeout    string        `yaml:"on_timeout"`
	OnInvalid    string        `yaml:"on_invalid"`
}

// inputStep waits for the user's next event and stores it.
type inputStep struct {
	cfg       *InputConfig
	validate  *vm.Program
	retry     text
	onTimeout *Node
	onInvalid *Node
	next      *Node
}

var _ waiter = (*inputStep)(nil)

func compileInput(nc *nodeCompiler, ic *InputConfig) step {
	s := &inputStep{cfg: ic, next: nc.next}
	if ic.Validate != "" {
		s.validate = nc.bool(ic.Validate, "validate", "validate")
	}
	s.retry = nc.text(ic.RetryMessage, "retry_message")
	s.onTimeout = nc.ref(ic.OnTimeout, "on_timeout")
	s.onInvalid = nc.ref(ic.OnInvalid, "on_invalid")
	if ic.OnTimeout != "" && ic.Timeout == 0 {
		nc.warnf([]string{"on_timeout"}, "node %q: on_timeout without a timeout never fires", nc.n.ID)
	}
	return s
}

func (s *inputStep) exec(r *run, n *Node) *Node {
	r.st.Flow, r.st.Node = n.flow.Name, n.ID
	r.st.Attempts = 0
	r.st.Timeout = 0
	if s.cfg.Timeout > 0 {
		r.st.Timeout = r.now.Add(s.cfg.Timeout).Unix()
	}
	r.tracef(TraceWait, r.nodeID(), "waiting for %s", s.cfg.SaveAs)
	return nil
}

// resume handles the answer to a waiting input node.
func (s *inputStep) resume(r *run, n *Node) *Node {
	if s.validate != nil && !r.evalBool(s.validate, r.nodeID()) {
		r.st.Attempts++
		max := s.cfg.MaxAttempts
		if max == 0 {
			max = 3
		}
		what := fmt.Sprintf("attempt %d of %d: %q", r.st.Attempts, max, r.env.Input)
		switch {
		case r.st.Attempts < max && s.retry.raw != "":
			r.trace(TraceInvalid, r.nodeID(), what)
			r.send(n, msg.Message{Text: &msg.Text{Body: r.render(s.retry)}}, "", nil)
			return nil // keep waiting
		case r.st.Attempts < max:
			r.trace(TraceInvalid, r.nodeID(), what+": no retry_message, still waiting")
			return nil
		case s.onInvalid == nil:
			r.trace(TraceInvalid, r.nodeID(), what+": no attempts left and no on_invalid, the run ends")
		default:
			r.trace(TraceInvalid, r.nodeID(), what+": no attempts left")
		}
		r.clearWait()
		return s.onInvalid
	}
	r.clearWait()
	r.tracef(TraceResume, r.nodeID(), "%s = %q", s.cfg.SaveAs, r.env.Input)
	if !r.setVar(s.cfg.SaveAs, r.env.Input) {
		return nil // an answer beyond the variable limits fails the node: the run ends
	}
	return s.next
}

func (s *inputStep) timedOut() *Node { return s.onTimeout }

func (s *inputStep) edges(add func(*Node, string)) {
	add(s.next, "answer")
	add(s.onInvalid, "invalid")
	add(s.onTimeout, "timeout")
}

const inputSchema = `{
  "type": "object",
  "description": "Config of an input node: waits for the user's next event and stores input in vars.<save_as>.",
  "additionalProperties": false,
  "required": [
    "save_as"
  ],
  "properties": {
    "save_as": {
      "$ref": "#/$defs/varName",
      "description": "Variable that receives input (the text, or the id of the tapped button or list row)."
    },
    "validate": {
      "$ref": "#/$defs/expression",
      "description": "A boolean expression over input; false makes the answer invalid."
    },
    "retry_message": {
      "type": "string",
      "description": "Text sent after an invalid answer while attempts remain. Interpolated.",
      "minLength": 1
    },
    "max_attempts": {
      "type": "integer",
      "minimum": 1,
      "default": 3,
      "description": "Answers accepted in total, the first included; after that many invalid answers the run continues at on_invalid."
    },
    "timeout": {
      "$ref": "#/$defs/duration",
      "description": "How long to wait for the answer, from when the node starts waiting."
    },
    "on_timeout": {
      "$ref": "#/$defs/nodeRef",
      "description": "Node to continue at when the timeout expires. Without it the wait is simply dropped."
    },
    "on_invalid": {
      "$ref": "#/$defs/nodeRef",
      "description": "Node to continue at after max_attempts invalid answers. Without it the run ends."
    }
  },
  "dependentRequired": {
    "retry_message": [
      "validate"
    ],
    "max_attempts": [
      "validate"
    ],
    "on_invalid": [
      "validate"
    ],
    "on_timeout": [
      "timeout"
    ]
  }
}`
