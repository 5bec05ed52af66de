package flowtest

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowgate/flowgate/engine"
	"github.com/flowgate/flowgate/providers"
)

// exampleConfig loads the example flows of flows/ and their templates.
func exampleConfig(t *testing.T) engine.Config {
	t.Helper()
	files, err := filepath.Glob("../flows/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no example flows: %v", err)
	}
	cfg := engine.Config{Settings: engine.DefaultSettings(), Limits: providers.Limits()}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var ds engine.Diagnostics
		if filepath.Base(f) == "templates.yaml" {
			cfg.Templates, ds = engine.ParseTemplates(f, data)
		} else {
			var fl *engine.Flow
			fl, ds = engine.ParseFlow(f, data)
			cfg.Flows = append(cfg.Flows, fl)
		}
		if err := ds.Err(); err != nil {
			t.Fatal(err)
		}
	}
	return cfg
}

// TestExampleCases replays every case in testdata/cases against the example flows: the cases
// that ship with Flowgate and seed new bundles must pass.
func TestExampleCases(t *testing.T) {
	files, err := FindCases("../testdata/cases")
	if err != nil {
		t.Fatal(err)
	}
	opts := Options{Config: exampleConfig(t)}
	for _, f := range files {
		c, err := LoadCase(f)
		if err != nil {
			t.Fatal(err)
		}
		t.Run(c.Name, func(t *testing.T) {
			r := Run(context.Background(), c, opts)
			if !r.Passed() {
				var b bytes.Buffer
				Print(&b, []*Result{r}, true)
				t.Error(strings.TrimSpace(b.String()))
			}
		})
	}
}
