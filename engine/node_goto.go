package engine

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/flowgate/flowgate/internal/suggest"
)

func init() {
	registerNode(nodeSpec[GotoConfig]{Name: "goto", SchemaDef: "gotoConfig", Schema: gotoSchema, NoNext: true, Compile: compileGoto})
}

// GotoConfig is the config of a goto node.
type GotoConfig struct {
	Flow string `yaml:"flow"`
	Node string `yaml:"node"`
}

// gotoStep continues in another flow.
type gotoStep struct{ target *Node }

func compileGoto(nc *nodeCompiler, gc *GotoConfig) step {
	tf := nc.c.e.flows[gc.Flow]
	if tf == nil {
		hint := suggest.DidYouMean(gc.Flow, slices.Sorted(maps.Keys(nc.c.e.flows)))
		if len(nc.c.unloaded) > 0 {
			hint = fmt.Sprintf(" loaded (%s did not load: fix it first)", strings.Join(nc.c.unloaded, ", "))
		}
		nc.errorf([]string{"flow"}, "node %q: goto: no flow %q%s", nc.n.ID, gc.Flow, hint)
		return &gotoStep{}
	}
	var t *Node
	if gc.Node != "" {
		if t = tf.index[gc.Node]; t == nil {
			nc.errorf([]string{"node"}, "node %q: goto: no node %q in flow %q%s", nc.n.ID, gc.Node, gc.Flow, suggest.DidYouMean(gc.Node, tf.nodeIDs()))
		}
	} else if t = tf.start(); t == nil {
		nc.errorf([]string{"flow"}, "node %q: goto: flow %q has no start node; name one with node:", nc.n.ID, gc.Flow)
	}
	return &gotoStep{target: t}
}

func (s *gotoStep) exec(r *run, n *Node) *Node { return s.target }

func (s *gotoStep) edges(add func(*Node, string)) { add(s.target, "goto") }

const gotoSchema = `{
  "type": "object",
  "description": "Config of a goto node: continues the run in another flow.",
  "additionalProperties": false,
  "required": [
    "flow"
  ],
  "properties": {
    "flow": {
      "type": "string",
      "description": "Name of the flow to continue in.",
      "minLength": 1
    },
    "node": {
      "$ref": "#/$defs/nodeRef",
      "description": "Node of that flow to continue at. Without it, the flow's start."
    }
  }
}`
