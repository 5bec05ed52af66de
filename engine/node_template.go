package engine

import "github.com/flowgate/flowgate/engine/msg"

func init() {
	registerNode(nodeSpec[TemplateConfig]{Name: "template", SchemaDef: "templateNodeConfig", Schema: templateSchema, Compile: compileTemplate})
}

// templateStep sends a template (the template node type).
type templateStep struct {
	fb   fallback
	next *Node
}

var _ sender = (*templateStep)(nil)

func compileTemplate(nc *nodeCompiler, tc *TemplateConfig) step {
	nc.c.sendsTemplate(nc.d, nc.f, nc.what, tc, nc.cfg)
	fb := nc.c.fallback(nc.cc, nc.d, nc.f, nc.n, tc, "", nc.cfg)
	return &templateStep{fb: *fb, next: nc.next}
}

func (s *templateStep) exec(r *run, n *Node) *Node {
	r.send(n, s.message(r), "", nil)
	return s.next
}

func (s *templateStep) message(r *run) msg.Message {
	return msg.Message{Template: buildTemplate(s.fb.cfg, r.strs(s.fb.texts))}
}

func (s *templateStep) window() (*fallback, string, *Node) { return nil, "", nil }

func (s *templateStep) edges(add func(*Node, string)) { add(s.next, "") }

const templateSchema = `{
  "$ref": "#/$defs/template",
  "description": "Config of a template node: the template to send, same as a reply node's template."
}`
