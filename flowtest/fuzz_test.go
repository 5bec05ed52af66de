package flowtest

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParseCase feeds the test case parser arbitrary files, seeded with the shipped cases: it
// must never panic, and what it accepts must have at least one step.
func FuzzParseCase(f *testing.F) {
	addCaseSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseCase("fuzz.test.yaml", data)
		if err == nil && len(c.Steps) == 0 {
			t.Fatalf("accepted a case without steps: %q", data)
		}
	})
}

// FuzzParseMocks feeds the mocks file parser arbitrary files, seeded with the shipped cases
// (which serve as mocks files too): it must never panic.
func FuzzParseMocks(f *testing.F) {
	addCaseSeeds(f)
	f.Add([]byte("http_mocks:\n  - {url: \"https://x.test/a\"}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		mocks, err := ParseMocks("fuzz.yaml", data)
		for _, m := range mocks {
			if err == nil && m.URL == "" {
				t.Fatalf("accepted a mock without url: %q", data)
			}
		}
	})
}

// addCaseSeeds adds the shipped cases to a fuzz target's corpus.
func addCaseSeeds(f *testing.F) {
	files, _ := filepath.Glob("../testdata/cases/*.test.yaml")
	for _, p := range files {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
}
