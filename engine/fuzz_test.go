package engine

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
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

// FuzzStateValues stores values built from the fuzzer's input, of every type a variable
// keeps, and reads them back: each comes back equal and with its type.
func FuzzStateValues(f *testing.F) {
	f.Add("Ann", int64(42), 0.25, int64(90*time.Minute), int64(1768917600), int64(0), 3600, true)
	f.Add("", int64(-1)<<63, math.Inf(1), int64(-1), int64(-62135596800), int64(999999999), -720*60, false)
	f.Fuzz(func(t *testing.T, s string, i int64, fl float64, d int64, sec, nsec int64, offset int, b bool) {
		tm := time.Unix(sec, nsec%1e9).In(time.FixedZone("", offset%(24*3600)/60*60))
		if offset%7 == 0 {
			tm = tm.UTC()
		}
		if _, err := tm.MarshalBinary(); err != nil {
			return // beyond what time.Time can store: never produced by an expression
		}
		vars := map[string]any{
			"s": s, "i": int(i), "f": fl, "d": time.Duration(d), "t": tm, "b": b, "nil": nil,
			"list": []any{s, int(i), fl, time.Duration(d), tm, b, nil, []any{}},
			"map":  map[string]any{s: map[string]any{"t": tm, "l": []any{fl}}},
		}
		enc, err := (&State{Vars: vars}).Encode()
		if err != nil {
			t.Fatal(err)
		}
		st, err := DecodeState(enc)
		if err != nil {
			t.Fatal(err)
		}
		if !sameValue(st.Vars, vars) {
			t.Fatalf("round trip:\n got %#v\nwant %#v", st.Vars, vars)
		}
	})
}

// sameValue is reflect.DeepEqual, except that NaN equals NaN and times are compared as
// instants with their offsets.
func sameValue(a, b any) bool {
	switch x := a.(type) {
	case float64:
		y, ok := b.(float64)
		return ok && (x == y || math.IsNaN(x) && math.IsNaN(y))
	case time.Time:
		y, ok := b.(time.Time)
		_, ox := x.Zone()
		_, oy := y.Zone()
		return ok && x.Equal(y) && ox == oy
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !sameValue(x[i], y[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			if w, ok := y[k]; !ok || !sameValue(v, w) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(a, b)
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
