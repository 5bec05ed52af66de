package engine

import (
	"errors"

	"github.com/expr-lang/expr/vm"
	"gopkg.in/yaml.v3"
)

func init() {
	registerNode(nodeSpec[SetConfig]{Name: "set", SchemaDef: "setConfig", Schema: setSchema, Compile: compileSet})
}

// SetConfig is the config of a set node: variable names and the expressions that give their
// values, kept as YAML to keep their order and positions.
type SetConfig struct {
	Vars yaml.Node `yaml:"vars"`
}

// setStep assigns variables, in the order written.
type setStep struct {
	names []string
	progs []*vm.Program
	next  *Node
}

func compileSet(nc *nodeCompiler, sc *SetConfig) step {
	s := &setStep{next: nc.next}
	if vars := &sc.Vars; vars.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(vars.Content); i += 2 {
			k, v := vars.Content[i], vars.Content[i+1]
			p := nc.cc.any(v.Value, v, nc.what+": vars."+k.Value)
			if p != nil {
				if ok, why := storableType(p.Node().Type()); !ok {
					nc.d.errorf(nodePos(v), "%s: vars.%s: %s", nc.what, k.Value, why)
				}
			}
			s.names = append(s.names, k.Value)
			s.progs = append(s.progs, p)
		}
	}
	return s
}

func (s *setStep) exec(r *run, n *Node) *Node {
	for i, p := range s.progs {
		v, err := r.eval(p)
		if errors.Is(err, errBudget) {
			return nil
		}
		if err != nil {
			r.tracef(TraceError, r.nodeID(), "set %s: %v", s.names[i], err)
			continue
		}
		if !r.setVar(s.names[i], v) {
			return nil // a value beyond the variable limits fails the node: the run ends
		}
	}
	return s.next
}

func (s *setStep) edges(add func(*Node, string)) { add(s.next, "") }

const setSchema = `{
  "type": "object",
  "description": "Config of a set node.",
  "additionalProperties": false,
  "required": [
    "vars"
  ],
  "properties": {
    "vars": {
      "type": "object",
      "minProperties": 1,
      "description": "Variables to assign: name to expression. All expressions see the variables as they were before the node.",
      "propertyNames": {
        "$ref": "#/$defs/varName",
        "description": "Variable name."
      },
      "additionalProperties": {
        "$ref": "#/$defs/expression",
        "description": "The value, as an expression (quote string literals: '\"Welcome, \" + vars.name')."
      }
    }
  }
}`
