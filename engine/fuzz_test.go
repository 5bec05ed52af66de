package engine

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParseFlow feeds flow files to ParseFlow and, when they parse, to New: neither may panic,
// and a flow that parses without errors compiles into an engine.
func FuzzParseFlow(f *testing.F) {
	for _, pattern := range []string{"../flows/*.yaml", "testdata/*/*.yaml"} {
		paths, _ := filepath.Glob(pattern)
		for _, p := range paths {
			if data, err := os.ReadFile(p); err == nil {
				f.Add(data)
			}
		}
	}
	ts, err := testTemplates()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fl, ds := ParseFlow("fuzz.yaml", data)
		if fl == nil {
			if !ds.HasErrors() {
				t.Fatal("no flow and no error")
			}
			return
		}
		e, _ := New(Config{Flows: []*Flow{fl}, Templates: ts, Settings: DefaultSettings(), Limits: testLimits()})
		if e == nil {
			t.Fatal("New returned no engine")
		}
	})
}

// FuzzInterpolate compiles a string as an interpolated text and renders it.
func FuzzInterpolate(f *testing.F) {
	for _, s := range []string{
		"plain", "{{name}}", "Hi {{ contact.name }}!", "{{ upper(vars.code) }}", "{{a}}{{b}}",
		"{{", "}}", "{{ }}", "{{ vars.order.items[0] }}", "{{ 1/0 }}", "{{ vars.n * 1.5 }}",
		"{{ '{{' }}", "{{ len(input) > 2 ? 'long' : 'short' }}", "Olá {{ name }} 👋",
	} {
		f.Add(s)
	}
	vars := map[string]any{"name": "Ann", "code": "ab", "n": 2, "order": map[string]any{"items": []any{"tea"}}}
	f.Fuzz(func(t *testing.T, s string) {
		txt, ds := compileText(s)
		if ds.HasErrors() {
			return
		}
		testRun(&State{Vars: vars}, textEv("hello")).render(txt)
	})
}

// FuzzDecodeState feeds bytes to DecodeState: it never panics, and whatever it decodes encodes
// again into a stable form.
func FuzzDecodeState(f *testing.F) {
	for _, st := range []*State{{}, fullState(), {Flow: "f", Node: "n", Vars: map[string]any{"x": 1}}} {
		b, err := st.Encode()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		st, err := DecodeState(data)
		if err != nil {
			return
		}
		b1, err := st.Encode()
		if err != nil {
			t.Fatalf("decoded state does not encode: %v", err)
		}
		st2, err := DecodeState(b1)
		if err != nil {
			t.Fatalf("re-encoded state does not decode: %v", err)
		}
		b2, err := st2.Encode()
		if err != nil || !bytes.Equal(b1, b2) {
			t.Fatalf("encoding is not stable: %v\n%x\n%x", err, b1, b2)
		}
	})
}

// FuzzParseTemplates feeds templates.yaml parsing arbitrary input: it must never panic, and
// every template it returns without an error has a name and a language.
func FuzzParseTemplates(f *testing.F) {
	for _, p := range []string{"../flows/templates.yaml", "testdata/templates.yaml"} {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ts, ds := ParseTemplates("templates.yaml", data)
		if ds.HasErrors() {
			return
		}
		for _, tpl := range ts {
			if tpl.Name == "" || tpl.Language == "" {
				t.Fatalf("accepted a template without name or language: %+v", tpl)
			}
		}
	})
}
