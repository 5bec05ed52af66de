package flowtest

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/flowgate/flowgate/engine/msg"
)

// Expectation matches one outbound message. Every field given must match.
type Expectation struct {
	Text         *string            `yaml:"text,omitempty"`
	TextContains string             `yaml:"text_contains,omitempty"`
	Template     *TemplateExpect    `yaml:"template,omitempty"`
	Interactive  *InteractiveExpect `yaml:"interactive,omitempty"`
	Media        *MediaExpect       `yaml:"media,omitempty"`
	Location     *LocationValue     `yaml:"location,omitempty"`
	Request      map[string]any     `yaml:"request,omitempty"`
}

// TemplateExpect matches a template message; Parameters, when given, are the texts (or
// payloads, or media links) of all its parameters in order.
type TemplateExpect struct {
	Name       string   `yaml:"name"`
	Language   string   `yaml:"language,omitempty"`
	Parameters []string `yaml:"parameters,omitempty"`
}

// InteractiveExpect matches an interactive message by its type and the ids of its buttons or
// list rows, and optionally its body.
type InteractiveExpect struct {
	Type    string   `yaml:"type"`
	Body    string   `yaml:"body,omitempty"`
	Buttons []string `yaml:"buttons,omitempty"`
	Rows    []string `yaml:"rows,omitempty"`
}

// MediaExpect matches a media message.
type MediaExpect struct {
	Type    string `yaml:"type"`
	Link    string `yaml:"link,omitempty"`
	ID      string `yaml:"id,omitempty"`
	Caption string `yaml:"caption,omitempty"`
}

// Expect is the expectation that the outbound message m matches exactly, as --update writes
// it: the dev console's "save as test" writes its cases with it.
func Expect(m *msg.Message) Expectation { return describe(m) }

// describe is the expectation that an outbound message matches exactly: what --update writes
// and what a failure shows as the actual message.
func describe(m *msg.Message) Expectation {
	var e Expectation
	switch {
	case m.Text != nil:
		t := m.Text.Body
		e.Text = &t
	case m.Template != nil:
		e.Template = &TemplateExpect{Name: m.Template.Name, Language: m.Template.Language, Parameters: templateParams(m.Template)}
	case m.Interactive != nil:
		ie := &InteractiveExpect{Type: m.Interactive.Type}
		for _, b := range m.Interactive.Buttons {
			ie.Buttons = append(ie.Buttons, b.ID)
		}
		for _, s := range m.Interactive.Sections {
			for _, r := range s.Rows {
				ie.Rows = append(ie.Rows, r.ID)
			}
		}
		e.Interactive = ie
	case m.Media != nil:
		e.Media = &MediaExpect{Type: m.Media.Type, Link: m.Media.Link, ID: m.Media.ID, Caption: m.Media.Caption}
	case m.Location != nil:
		l := m.Location
		e.Location = &LocationValue{Latitude: l.Latitude, Longitude: l.Longitude, Name: l.Name, Address: l.Address}
	case m.Reaction != nil:
		e.Request = map[string]any{"type": "reaction"}
	case m.MarkRead != "":
		e.Request = map[string]any{"status": "read"}
	}
	return e
}

func templateParams(t *msg.Template) []string {
	var ps []string
	for _, c := range t.Components {
		for _, p := range c.Parameters {
			switch {
			case p.Payload != "":
				ps = append(ps, p.Payload)
			case p.Media != nil && p.Media.Link != "":
				ps = append(ps, p.Media.Link)
			case p.Media != nil:
				ps = append(ps, p.Media.ID)
			default:
				ps = append(ps, p.Text)
			}
		}
	}
	return ps
}

// mismatch says why s does not meet e, or "" when it does.
func (e *Expectation) mismatch(s *Sent) string {
	m := &s.Message
	got := describe(m)
	var why []string
	if e.Text != nil && (got.Text == nil || *got.Text != *e.Text) {
		why = append(why, "text differs")
	}
	if e.TextContains != "" && (got.Text == nil || !strings.Contains(*got.Text, e.TextContains)) {
		why = append(why, fmt.Sprintf("text does not contain %q", e.TextContains))
	}
	if t := e.Template; t != nil {
		g := got.Template
		switch {
		case g == nil:
			why = append(why, "not a template")
		case g.Name != t.Name || t.Language != "" && g.Language != t.Language:
			why = append(why, "template name or language differs")
		case t.Parameters != nil && !slices.Equal(g.Parameters, t.Parameters):
			why = append(why, "template parameters differ")
		}
	}
	if i := e.Interactive; i != nil {
		g := got.Interactive
		switch {
		case g == nil:
			why = append(why, "not an interactive message")
		case g.Type != i.Type:
			why = append(why, "interactive type differs")
		case i.Buttons != nil && !slices.Equal(g.Buttons, i.Buttons):
			why = append(why, "button ids differ")
		case i.Rows != nil && !slices.Equal(g.Rows, i.Rows):
			why = append(why, "row ids differ")
		case i.Body != "" && m.Interactive.Body != i.Body:
			why = append(why, "body differs")
		}
	}
	if md := e.Media; md != nil {
		g := got.Media
		switch {
		case g == nil:
			why = append(why, "not a media message")
		case g.Type != md.Type || md.Link != "" && g.Link != md.Link || md.ID != "" && g.ID != md.ID || md.Caption != "" && g.Caption != md.Caption:
			why = append(why, "media differs")
		}
	}
	if l := e.Location; l != nil {
		g := got.Location
		if g == nil || g.Latitude != l.Latitude || g.Longitude != l.Longitude ||
			l.Name != "" && g.Name != l.Name || l.Address != "" && g.Address != l.Address {
			why = append(why, "location differs")
		}
	}
	if e.Request != nil {
		var body any
		if err := json.Unmarshal(s.Request, &body); err != nil {
			why = append(why, "request body is not JSON")
		} else if path := subset(normalize(e.Request), body, "request"); path != "" {
			why = append(why, path)
		}
	}
	return strings.Join(why, "; ")
}

// subset reports the first place where want is not contained in got, or "".
func subset(want, got any, at string) string {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return at + " is not an object"
		}
		for k, wv := range w {
			gv, ok := g[k]
			if !ok {
				return at + "." + k + " is missing"
			}
			if p := subset(wv, gv, at+"."+k); p != "" {
				return p
			}
		}
		return ""
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return at + " differs in length"
		}
		for i := range w {
			if p := subset(w[i], g[i], fmt.Sprintf("%s[%d]", at, i)); p != "" {
				return p
			}
		}
		return ""
	}
	if !reflect.DeepEqual(want, got) {
		return fmt.Sprintf("%s is %s, want %s", at, compact(got), compact(want))
	}
	return ""
}

// normalize turns YAML-decoded values into what encoding/json decodes: float64 numbers.
func normalize(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = normalize(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = normalize(e)
		}
		return out
	case int:
		return float64(x)
	case int64:
		return float64(x)
	}
	return v
}

func compact(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// yamlLine renders an expectation as one line of YAML flow style, for diffs.
func yamlLine(e Expectation) string {
	var n yaml.Node
	if err := n.Encode(e); err != nil {
		return fmt.Sprint(e)
	}
	setFlow(&n)
	b, err := yaml.Marshal(&n)
	if err != nil {
		return fmt.Sprint(e)
	}
	line := strings.TrimSpace(string(b))
	if strings.HasPrefix(line, "{") && strings.HasSuffix(line, "}") {
		line = line[1 : len(line)-1]
	}
	return line
}

func setFlow(n *yaml.Node) {
	if n.Kind == yaml.MappingNode || n.Kind == yaml.SequenceNode {
		n.Style = yaml.FlowStyle
	}
	for _, c := range n.Content {
		setFlow(c)
	}
}
