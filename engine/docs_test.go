package engine

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/flowgate/flowgate/engine/msg"
)

// docExample is a YAML example of docs/flow-format.md: its first line and its text.
type docExample struct {
	line int
	text string
}

// docExamples returns the ```yaml blocks of a Markdown file.
func docExamples(t *testing.T, path string) []docExample {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []docExample
	lines := strings.Split(string(data), "\n")
	for i := 0; i < len(lines); i++ {
		if strings.TrimSpace(lines[i]) != "```yaml" {
			continue
		}
		start := i + 1
		for i++; i < len(lines) && strings.TrimSpace(lines[i]) != "```"; i++ {
		}
		out = append(out, docExample{line: start + 1, text: strings.Join(lines[start:i], "\n") + "\n"})
	}
	return out
}

// excerptOf matches the first line of an example taken from a seed flow: "# flows/x.yaml",
// maybe followed by a remark.
var excerptOf = regexp.MustCompile(`^# (flows/[a-z_]+\.yaml)\b`)

// TestFlowFormatExamples checks every YAML example of docs/flow-format.md against what runs:
// an excerpt of a seed flow (first line "# flows/x.yaml") must be part of that flow, which
// the example cases validate and run; the http result shape is what an http node stores; the
// templates.yaml example is the seed's entry; the editor line is the seed flows' first line.
// An example no rule covers fails, so that none goes unchecked.
func TestFlowFormatExamples(t *testing.T) {
	examples := docExamples(t, "../docs/flow-format.md")
	if len(examples) < 20 {
		t.Fatalf("found %d examples in docs/flow-format.md", len(examples))
	}
	for _, ex := range examples {
		first, _, _ := strings.Cut(ex.text, "\n")
		where := "docs/flow-format.md:" + itoa(ex.line)
		var doc any
		if err := yaml.Unmarshal([]byte(ex.text), &doc); err != nil {
			t.Errorf("%s: not YAML: %v", where, err)
			continue
		}
		switch m := excerptOf.FindStringSubmatch(first); {
		case m != nil:
			flow := readYAML(t, filepath.Join("..", m[1]))
			if !contains(flow, doc) {
				t.Errorf("%s: the example is not part of %s:\n%s", where, m[1], ex.text)
			}
		case strings.HasPrefix(first, "# yaml-language-server:"):
			files, _ := filepath.Glob("../flows/*.yaml")
			for _, f := range files {
				data, _ := os.ReadFile(f)
				if filepath.Base(f) != "templates.yaml" && !strings.HasPrefix(string(data), first+"\n") {
					t.Errorf("%s: %s does not start with the editor line", where, f)
				}
			}
		case strings.HasPrefix(first, "templates:"):
			ts, ds := ParseTemplates("docs.yaml", []byte(ex.text))
			if ds.HasErrors() || len(ts) == 0 {
				t.Errorf("%s: %v", where, ds)
				continue
			}
			seed := readYAML(t, "../flows/templates.yaml")
			if !contains(seed, doc) {
				t.Errorf("%s: the example is not flows/templates.yaml's entry", where)
			}
		case strings.HasPrefix(first, "status:"):
			checkHTTPResult(t, where, doc)
		default:
			t.Errorf("%s: no test checks this example; start it with the seed flow it comes from (# flows/x.yaml)", where)
		}
	}
}

// TestFlowFormatNodeTypes: docs/flow-format.md has a section for every registered node type,
// and no section for a type that does not exist.
func TestFlowFormatNodeTypes(t *testing.T) {
	data, err := os.ReadFile("../docs/flow-format.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(data)
	start, end := strings.Index(doc, "\n## Node types\n"), strings.Index(doc, "\n## Message shapes\n")
	if start < 0 || end < start {
		t.Fatal("docs/flow-format.md has no Node types section before Message shapes")
	}
	var documented []string
	for _, m := range regexp.MustCompile(`(?m)^### (\w+)$`).FindAllStringSubmatch(doc[start:end], -1) {
		documented = append(documented, m[1])
	}
	if want := slices.Sorted(slices.Values(NodeTypes())); !slices.Equal(slices.Sorted(slices.Values(documented)), want) {
		t.Errorf("docs/flow-format.md documents node types %v, the registered ones are %v", documented, want)
	}
}

// checkHTTPResult runs an http node whose service answers the example's status and body and
// compares what the node stored with the example.
func checkHTTPResult(t *testing.T, where string, want any) {
	w, ok := want.(map[string]any)
	if !ok {
		t.Errorf("%s: not a mapping", where)
		return
	}
	status, _ := w["status"].(int)
	answer := httpAnswer{Status: status, Body: w["body"]}
	e := mustEngine(t, Config{Settings: DefaultSettings(), HTTP: answer}, `
name: f
nodes:
  - {id: call, type: http, config: {url: "https://api.example.com/orders/1", save_as: order}}
triggers:
  - {type: any, target: call}
`)
	st := &State{}
	e.Handle(context.Background(), testConv, st, &msg.Event{Kind: msg.KindText, From: user, Text: "x", Time: t0}, t0)
	if got := st.Vars["order"]; !reflect.DeepEqual(got, want) {
		t.Errorf("%s: the http node stored %#v, the example shows %#v", where, got, want)
	}
}

// httpAnswer answers every request with one response.
type httpAnswer HTTPResponse

func (h httpAnswer) Do(context.Context, *HTTPRequest) (*HTTPResponse, error) {
	r := HTTPResponse(h)
	return &r, nil
}

func readYAML(t *testing.T, path string) any {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := yaml.Unmarshal(data, &v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return v
}

// contains reports whether part appears somewhere in doc: a mapping that has its keys with
// matching values, or a list that holds matches of its elements in order. (Examples leave
// parts out, marked "# ...", but never change what they show.)
func contains(doc, part any) bool {
	if matches(doc, part) {
		return true
	}
	switch x := doc.(type) {
	case map[string]any:
		for _, v := range x {
			if contains(v, part) {
				return true
			}
		}
	case []any:
		for _, v := range x {
			if contains(v, part) {
				return true
			}
		}
	}
	return false
}

func matches(doc, part any) bool {
	switch p := part.(type) {
	case map[string]any:
		d, ok := doc.(map[string]any)
		if !ok {
			return false
		}
		for k, v := range p {
			if dv, ok := d[k]; !ok || !matches(dv, v) {
				return false
			}
		}
		return true
	case []any:
		d, ok := doc.([]any)
		if !ok {
			return false
		}
		i := 0
		for _, e := range d {
			if i < len(p) && matches(e, p[i]) {
				i++
			}
		}
		return i == len(p)
	}
	return reflect.DeepEqual(doc, part)
}
