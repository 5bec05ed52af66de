// Package golden compares test output with golden files under testdata, and rewrites them
// when the test runs with its package's -update flag.
package golden

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// Check compares got with the golden file at path, or writes got there when update is set.
func Check(t testing.TB, path string, got []byte, update bool) {
	t.Helper()
	if update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the output (run with -update if the change is intended)\n%s", path, lineDiff(string(want), string(got)))
	}
}

// lineDiff shows the first differing lines of want and got.
func lineDiff(want, got string) string {
	wl, gl := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	shown := 0
	for i := 0; i < max(len(wl), len(gl)) && shown < 10; i++ {
		var w, g string
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if w != g {
			fmt.Fprintf(&b, "line %d:\n  want: %s\n  got:  %s\n", i+1, w, g)
			shown++
		}
	}
	return b.String()
}

// PrunedJSON marshals v as indented JSON and drops null, false, "", 0, {} and [] members, so
// that golden files show only what is set (for Go structs an absent member and its zero value
// are the same). Array elements keep their positions.
func PrunedJSON(t testing.TB, v any) []byte {
	t.Helper()
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var x any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&x); err != nil {
		t.Fatal(err)
	}
	x, _ = prune(x)
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(x); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func prune(v any) (any, bool) {
	switch x := v.(type) {
	case nil:
		return nil, false
	case bool:
		return x, x
	case string:
		return x, x != "" && x != "0001-01-01T00:00:00Z"
	case json.Number:
		return x, x.String() != "0"
	case []any:
		out := make([]any, 0, len(x))
		for _, e := range x {
			p, _ := prune(e)
			out = append(out, p) // keep positions in arrays
		}
		return out, len(out) > 0
	case map[string]any:
		out := map[string]any{}
		for k, e := range x {
			if p, keep := prune(e); keep {
				out[k] = p
			}
		}
		return out, len(out) > 0
	}
	return v, true
}

// File is one recorded input of a corpus: its name without extension and its bytes.
type File struct {
	Name string
	Body []byte
}

// Corpus reads the *.json files of dir, sorted by name.
func Corpus(t testing.TB, dir string) []File {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) == 0 {
		t.Fatalf("no recorded inputs in %s", dir)
	}
	sort.Strings(paths)
	out := make([]File, 0, len(paths))
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, File{Name: strings.TrimSuffix(filepath.Base(p), ".json"), Body: b})
	}
	return out
}

// JSONArray joins JSON documents into one indented array, keeping their key order: what a
// golden file of rendered request bodies holds.
func JSONArray(t testing.TB, docs ...[]byte) []byte {
	t.Helper()
	var raw bytes.Buffer
	raw.WriteString("[")
	for i, d := range docs {
		if i > 0 {
			raw.WriteString(",")
		}
		raw.Write(d)
	}
	raw.WriteString("]")
	var out bytes.Buffer
	if err := json.Indent(&out, raw.Bytes(), "", "  "); err != nil {
		t.Fatalf("invalid JSON: %v\n%s", err, raw.Bytes())
	}
	out.WriteString("\n")
	return out.Bytes()
}
