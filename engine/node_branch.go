package engine

import (
	"strings"

	"github.com/expr-lang/expr/vm"
)

func init() {
	registerNode(nodeSpec[BranchConfig]{Name: "branch", SchemaDef: "branchConfig", Schema: branchSchema, NoNext: true, Compile: compileBranch})
}

// BranchConfig is the config of a branch node.
type BranchConfig struct {
	Conditions []struct {
		Expression string `yaml:"expression"`
		Next       string `yaml:"next"`
	} `yaml:"conditions"`
	Default string `yaml:"default"`
}

// branchStep picks the first condition that holds.
type branchStep struct {
	srcs  []string // the conditions as written, for graphs
	conds []*vm.Program
	nexts []*Node
	def   *Node
}

func compileBranch(nc *nodeCompiler, bc *BranchConfig) step {
	s := &branchStep{def: nc.ref(bc.Default, "default")}
	for i, cond := range bc.Conditions {
		s.srcs = append(s.srcs, cond.Expression)
		s.conds = append(s.conds, nc.bool(cond.Expression, "condition", "conditions", itoa(i), "expression"))
		s.nexts = append(s.nexts, nc.ref(cond.Next, "conditions", itoa(i), "next"))
	}
	return s
}

func (s *branchStep) exec(r *run, n *Node) *Node {
	var why strings.Builder // the conditions tried and their values, for the trace
	next := s.def
	for i, c := range s.conds {
		if i > 0 {
			why.WriteString(", ")
		}
		why.WriteString(s.srcs[i])
		if r.evalBool(c, r.nodeID()) {
			why.WriteString(" is true")
			next = s.nexts[i]
			break
		}
		why.WriteString(" is false")
	}
	if next == s.def {
		why.WriteString("; default")
	}
	if next != nil {
		why.WriteString(" → " + next.ID)
	}
	r.trace(TraceBranch, n.path, why.String())
	return next
}

func (s *branchStep) edges(add func(*Node, string)) {
	for i, n := range s.nexts {
		add(n, s.srcs[i])
	}
	add(s.def, "default")
}

const branchSchema = `{
  "type": "object",
  "description": "Config of a branch node: the first condition whose expression is true wins, else default.",
  "additionalProperties": false,
  "required": [
    "conditions"
  ],
  "properties": {
    "conditions": {
      "type": "array",
      "minItems": 1,
      "description": "Conditions, tried in order.",
      "items": {
        "type": "object",
        "description": "A condition and where it leads.",
        "additionalProperties": false,
        "required": [
          "expression",
          "next"
        ],
        "properties": {
          "expression": {
            "$ref": "#/$defs/expression",
            "description": "A boolean expression."
          },
          "next": {
            "$ref": "#/$defs/nodeRef",
            "description": "Node to continue at when the expression is true."
          }
        }
      }
    },
    "default": {
      "$ref": "#/$defs/nodeRef",
      "description": "Node to continue at when no condition is true. Without it the run ends."
    }
  }
}`
