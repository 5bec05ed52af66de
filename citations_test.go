package flowgate

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// internalCitation matches a citation of a document users do not have: the product spec the
// project was built from ("SPEC", "SPEC.md", "SPEC section 4") or the numbered sections of its
// private API notes ("reference section 2"). What users need lives in docs/.
var internalCitation = regexp.MustCompile(`\bSPEC\b|\b[Rr]eference sections? [0-9]`)

// TestNoInternalCitations: no README, doc, help text, error, comment or seeded file cites a
// document that is not in the repository.
func TestNoInternalCitations(t *testing.T) {
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != "." && (strings.HasPrefix(d.Name(), ".") || d.Name() == "bin" || d.Name() == "bundle") {
				return filepath.SkipDir
			}
			return nil
		}
		if path == "citations_test.go" || !textFile(path) {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for i, line := range strings.Split(string(data), "\n") {
			if internalCitation.MatchString(line) {
				t.Errorf("%s:%d cites an internal document: %s", path, i+1, strings.TrimSpace(line))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func textFile(path string) bool {
	switch filepath.Ext(path) {
	case ".go", ".md", ".yaml", ".yml", ".json", ".txtar", ".golden", ".lua", ".txt", ".mermaid", ".dot":
		return true
	}
	return filepath.Base(path) == "Makefile"
}
