package engine

import (
	"fmt"
	"reflect"

	"github.com/expr-lang/expr/vm"
	"gopkg.in/yaml.v3"

	"github.com/flowgate/flowgate/engine/msg"
)

// A node type is registered once, in the file that implements it (node_<type>.go): its
// config's Go type, the JSON Schema of that config, whether the node takes next, and the
// function that checks and compiles a node's config into the step a run executes. The step
// knows its outgoing edges. Validation, runs, diagrams and the flow schema
// (schema/flow.schema.json, kept in step by TestFlowSchemaMatchesNodeTypes) all read the
// registry, so adding a node type touches its own file only.

// nodeType is one registered node type.
type nodeType struct {
	name       string
	configType reflect.Type // what config decodes into
	schemaDef  string       // the $defs entry of config in flow.schema.json
	schema     string       // the JSON Schema of config
	noNext     bool         // the node says where to go itself: next is not allowed
	compile    func(nc *nodeCompiler, cfg any) step
}

// nodeTypes holds the registered types by name, and nodeTypeOrder their names in the order
// registered. They are written only while the package initializes.
var (
	nodeTypes     = map[string]*nodeType{}
	nodeTypeOrder []string
)

// nodeSpec describes a node type whose config decodes into C.
type nodeSpec[C any] struct {
	Name      string
	SchemaDef string // the $defs entry of config, such as "replyConfig"
	Schema    string // JSON Schema of config
	NoNext    bool
	// Compile checks the decoded config (its problems go to nc's diagnostics) and returns the
	// step; nil stands for a node that ends the run.
	Compile func(nc *nodeCompiler, cfg *C) step
}

// registerNode registers a node type; it panics on a name registered twice.
func registerNode[C any](s nodeSpec[C]) {
	if s.Name == "" || nodeTypes[s.Name] != nil {
		panic(fmt.Sprintf("engine: node type %q registered twice or without a name", s.Name))
	}
	nodeTypes[s.Name] = &nodeType{
		name:       s.Name,
		configType: reflect.TypeFor[C](),
		schemaDef:  s.SchemaDef,
		schema:     s.Schema,
		noNext:     s.NoNext,
		compile:    func(nc *nodeCompiler, cfg any) step { return s.Compile(nc, cfg.(*C)) },
	}
	nodeTypeOrder = append(nodeTypeOrder, s.Name)
}

// NodeTypes lists the node types flows may use, in the order the flow schema lists them.
func NodeTypes() []string {
	return append([]string(nil), nodeTypeOrder...)
}

// step is a node's compiled config: what the node does when a run reaches it. exec returns
// the node to continue at, or nil when the run ends or waits (the step then says so on r);
// edges lists where exec may continue, for validation and diagrams.
type step interface {
	exec(r *run, n *Node) *Node
	edges(add func(to *Node, label string))
}

// waiter is a step that waits for the user's next message (the input node).
type waiter interface {
	step
	// resume handles the answer and returns where to continue (nil: keep waiting or end).
	resume(r *run, n *Node) *Node
	// timedOut is where a run continues when the wait times out, or nil.
	timedOut() *Node
}

// sender is a step that sends one message of its own content (reply and template nodes).
type sender interface {
	step
	// message renders the message the node sends.
	message(r *run) msg.Message
	// window says what a closed window does to it: the node's own fallback template, its
	// message tag, and where to continue when nothing could be sent.
	window() (own *fallback, tag string, onClosed *Node)
}

// nodeCompiler is what a node type's Compile works with: the node, its config's place in the
// file for positions, and the checker's helpers.
type nodeCompiler struct {
	c    *checker
	cc   compiler
	d    diags
	f    *Flow
	n    *Node
	cfg  *yaml.Node // the config mapping (the node's own when config is absent)
	next *Node      // the node's next, resolved
	what string     // `node "id"`, to begin messages
}

// ref resolves a node reference written at path below config.
func (nc *nodeCompiler) ref(id string, path ...string) *Node {
	return nc.c.ref(nc.d, nc.f, nc.n, id, nc.cfg, path...)
}

// text compiles an interpolated string written at path below config.
func (nc *nodeCompiler) text(s string, path ...string) text {
	return nc.cc.text(s, valueAt(nc.cfg, path...), nc.what+": "+fieldPath(path))
}

// bool compiles a condition written at path below config; label names it in messages.
func (nc *nodeCompiler) bool(src, label string, path ...string) *vm.Program {
	return nc.cc.bool(src, valueAt(nc.cfg, path...), nc.what+": "+label)
}

// errorf reports a problem at path below config.
func (nc *nodeCompiler) errorf(path []string, format string, args ...any) {
	nc.d.errorf(at(nc.cfg, path...), format, args...)
}

// warnf reports a warning at path below config.
func (nc *nodeCompiler) warnf(path []string, format string, args ...any) {
	nc.d.warnf(at(nc.cfg, path...), format, args...)
}

// node decodes and compiles one node's config through its type's registration.
func (c *checker) node(cc compiler, d diags, f *Flow, n *Node) {
	next := c.ref(d, f, n, n.Next, n.y, "next")
	n.step = endStep{}
	nt := nodeTypes[n.Type]
	if nt == nil {
		d.errorf(at(n.y, "type"), "node %q: unknown type %q", n.ID, n.Type)
		return
	}
	cfg := reflect.New(nt.configType).Interface()
	cfgY := &n.Config
	if n.Config.Kind == 0 {
		cfgY = n.y
	} else if err := n.Config.Decode(cfg); err != nil {
		d.decodeErrs(nodePos(&n.Config), fmt.Sprintf("node %q: config: ", n.ID), err)
		return
	}
	nc := &nodeCompiler{c: c, cc: cc, d: d, f: f, n: n, cfg: cfgY, next: next, what: fmt.Sprintf("node %q", n.ID)}
	if s := nt.compile(nc, cfg); s != nil {
		n.step = s
	}
}

// endStep ends the run: the end node, and nodes whose config could not be compiled.
type endStep struct{}

func (endStep) exec(*run, *Node) *Node    { return nil }
func (endStep) edges(func(*Node, string)) {}
