package engine

import (
	"sync"

	"gopkg.in/yaml.v3"
)

// flowSchema is schema/flow.schema.json, compiled on first use.
var flowSchema = sync.OnceValues(func() (*Schema, error) { return CompileSchema("flow.schema.json") })

// ParseFlow reads one flow file. It checks the file against schema/flow.schema.json and decodes
// it, keeping positions for every diagnostic. References, expressions, templates and limits are
// checked by New, which sees the whole bundle.
func ParseFlow(path string, data []byte) (*Flow, Diagnostics) {
	var ds Diagnostics
	d := diags{file: path, list: &ds}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, Diagnostics{SyntaxDiagnostic(path, data, err)}
	}
	if root.Kind == 0 {
		d.errorf(Pos{1, 1}, "empty flow file")
		return nil, ds
	}
	s, err := flowSchema()
	if err != nil {
		d.errorf(Pos{}, "%v", err)
		return nil, ds
	}
	if ds = append(ds, s.Check(path, &root)...); ds.HasErrors() {
		return nil, ds
	}
	f := &Flow{File: path, root: &root, src: data}
	if err := root.Decode(f); err != nil {
		d.decodeErrs(Pos{1, 1}, "", err)
		return nil, ds
	}
	if _, nodes := lookup(&root, []string{"nodes"}); nodes != nil {
		for i, n := range f.Nodes {
			n.y, n.flow, n.path = nodes.Content[i], f, f.Name+"/"+n.ID
		}
	}
	if _, trigs := lookup(&root, []string{"triggers"}); trigs != nil {
		for i, t := range f.Triggers {
			t.y = trigs.Content[i]
		}
	}
	return f, ds
}

// ParseTemplates reads templates.yaml, the list of approved WhatsApp templates.
func ParseTemplates(path string, data []byte) ([]Template, Diagnostics) {
	var ds Diagnostics
	d := diags{file: path, list: &ds}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, Diagnostics{SyntaxDiagnostic(path, data, err)}
	}
	var doc struct {
		Templates []Template `yaml:"templates"`
	}
	if root.Kind == 0 {
		return nil, ds
	}
	if err := root.Decode(&doc); err != nil {
		d.errorf(Pos{1, 1}, "%v", err)
		return nil, ds
	}
	_, list := lookup(&root, []string{"templates"})
	for i := range doc.Templates {
		t := &doc.Templates[i]
		t.File = path
		if list != nil {
			t.Pos = nodePos(list.Content[i])
		}
		if t.Name == "" {
			d.errorf(t.Pos, "templates[%d]: missing required field \"name\"", i)
		}
		if t.Language == "" {
			d.errorf(t.Pos, "templates[%d]: missing required field \"language\"", i)
		}
		switch t.Category {
		case "marketing", "utility", "authentication":
		default:
			d.errorf(t.Pos, "templates[%d]: category %q: want marketing, utility or authentication", i, t.Category)
		}
		switch t.Header {
		case "", "text", "image", "video", "document", "location":
		default:
			d.errorf(t.Pos, "templates[%d]: header %q: want text, image, video, document or location", i, t.Header)
		}
		for _, b := range t.Buttons {
			switch b {
			case "quick_reply", "url", "phone_number", "copy_code":
			default:
				d.errorf(t.Pos, "templates[%d]: button %q: want quick_reply, url, phone_number or copy_code", i, b)
			}
		}
	}
	return doc.Templates, ds
}
