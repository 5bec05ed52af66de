package engine

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The part of docs/diagnostics.md between these markers is generated from testdata/invalid: for
// each flow there, its "# mistake:" and "# fix:" comments, the line it gets wrong and the
// diagnostics of its golden file.
const (
	pageFile  = "../docs/diagnostics.md"
	pageBegin = "<!-- generated: go test ./engine -run TestDiagnosticsPage -update; edit engine/testdata/invalid, not this part -->\n"
	pageEnd   = "<!-- end of the generated part -->\n"
)

// diagGroups orders the invalid flows on the page by the start of their file name.
var diagGroups = []struct {
	title    string
	prefixes []string
}{
	{"YAML syntax", []string{"yaml_"}},
	{"Fields and types", []string{"schema_", "on_timeout"}},
	{"Node ids and references", []string{"duplicate_", "ref_", "suggest_", "goto_"}},
	{"Triggers", []string{"trigger_"}},
	{"Expressions, interpolations and variables", []string{"expr_", "interp_", "set_", "http_", "unset_var"}},
	{"Templates", []string{"template_"}},
	{"What a channel can carry", []string{"channels_", "limit_", "media_", "tag_"}},
	{"The shape of a flow", []string{"cycle", "unreachable", "no_way_in"}},
}

// TestDiagnosticsPage keeps docs/diagnostics.md's list of flow diagnostics equal to what the
// invalid flows of testdata/invalid produce (go test -update rewrites it), so that every
// diagnostic a golden file shows is on the page with its example and fix.
func TestDiagnosticsPage(t *testing.T) {
	page, before, after := readPage(t)
	got := before + pageBegin + diagnosticsList(t) + pageEnd + after
	if *update {
		if err := os.WriteFile(pageFile, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if got != page {
		t.Errorf("%s is not what testdata/invalid gives: run go test ./engine -run TestDiagnosticsPage -update", pageFile)
	}
}

// readPage returns docs/diagnostics.md, and its hand-written parts before and after the
// generated one.
func readPage(t *testing.T) (page, before, after string) {
	data, err := os.ReadFile(pageFile)
	if err != nil {
		t.Fatal(err)
	}
	before, rest, ok1 := strings.Cut(string(data), pageBegin)
	_, after, ok2 := strings.Cut(rest, pageEnd)
	if !ok1 || !ok2 {
		t.Fatalf("%s lacks the markers of its generated part", pageFile)
	}
	return string(data), before, after
}

// diagnosticsList renders the generated part of the page.
func diagnosticsList(t *testing.T) string {
	paths, err := filepath.Glob("testdata/invalid/*.yaml")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no invalid flows: %v", err)
	}
	var b strings.Builder
	placed := map[string]bool{}
	for _, g := range diagGroups {
		fmt.Fprintf(&b, "\n### %s\n", g.title)
		for _, p := range paths {
			name := strings.TrimSuffix(filepath.Base(p), ".yaml")
			if placed[name] || !hasAnyPrefix(name, g.prefixes) {
				continue
			}
			placed[name] = true
			b.WriteString(diagnosticsEntry(t, p))
		}
	}
	for _, p := range paths {
		if name := strings.TrimSuffix(filepath.Base(p), ".yaml"); !placed[name] {
			t.Errorf("%s: no group of the page takes it: add its prefix to diagGroups", p)
		}
	}
	return b.String() + "\n"
}

// diagnosticsEntry renders one invalid flow: the mistake, the line that has it, the diagnostics
// and the fix.
func diagnosticsEntry(t *testing.T, path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	golden, err := os.ReadFile(strings.TrimSuffix(path, ".yaml") + ".golden")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(data), "\n")
	var mistake, fix string
	for _, l := range lines {
		if s, ok := strings.CutPrefix(l, "# mistake: "); ok {
			mistake = s
		}
		if s, ok := strings.CutPrefix(l, "# fix: "); ok {
			fix = s
		}
	}
	if mistake == "" || fix == "" {
		t.Errorf("%s: no \"# mistake:\" and \"# fix:\" comment at its end, which docs/diagnostics.md needs", path)
	}
	diags := strings.ReplaceAll(string(golden), "testdata/invalid/", "flows/")
	var b strings.Builder
	fmt.Fprintf(&b, "\n#### %s\n\n", mistake)
	if n := firstLine(diags); n > 0 && n <= len(lines) && strings.TrimSpace(lines[n-1]) != "" && len(lines[n-1]) < 200 &&
		!strings.HasPrefix(lines[n-1], "# mistake: ") {
		fmt.Fprintf(&b, "```yaml\n%s\n```\n\n", strings.ReplaceAll(lines[n-1], "\t", "→   "))
	}
	fmt.Fprintf(&b, "```text\n%s```\n\nFix: %s\n", diags, fix)
	return b.String()
}

// firstLine is the line number of the first diagnostic in a golden file, or 0.
func firstLine(golden string) int {
	parts := strings.SplitN(golden, ":", 3)
	if len(parts) < 3 {
		return 0
	}
	n, _ := strconv.Atoi(parts[1])
	return n
}

func hasAnyPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// TestDiagnosticsPageExamples checks the examples of docs/diagnostics.md outside its generated
// part: each line of a ```text block must be, word for word, what a test of the repository
// expects (in a script's want file or in a Go test), so that a changed message cannot leave the
// page behind.
func TestDiagnosticsPageExamples(t *testing.T) {
	_, before, after := readPage(t)
	var sources strings.Builder
	for _, pattern := range []string{"../cmd/*/testdata/script/*.txtar", "../cmd/*/*_test.go", "../internal/bundle/*_test.go", "*_test.go"} {
		paths, _ := filepath.Glob(pattern)
		for _, p := range paths {
			data, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			sources.Write(data)
		}
	}
	checked := 0
	for _, part := range []string{before, after} {
		lines := strings.Split(part, "\n")
		for i := 0; i < len(lines); i++ {
			if lines[i] != "```text" {
				continue
			}
			for i++; i < len(lines) && lines[i] != "```"; i++ {
				checked++
				if !strings.Contains(sources.String(), lines[i]) {
					t.Errorf("%s: no test expects %q", pageFile, lines[i])
				}
			}
		}
	}
	if checked == 0 {
		t.Errorf("%s: no examples outside the generated part", pageFile)
	}
}
