package flowtest

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParseCase feeds the test case parser arbitrary files, seeded with the shipped cases: it
// must never panic, and what it accepts must have at least one step.
func FuzzParseCase(f *testing.F) {
	files, _ := filepath.Glob("../testdata/cases/*.test.yaml")
	for _, p := range files {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseCase("fuzz.test.yaml", data)
		if err == nil && len(c.Steps) == 0 {
			t.Fatalf("accepted a case without steps: %q", data)
		}
	})
}
