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

// exampleEngine builds the engine of the example flows of flows/ and their templates.
func exampleEngine(t *testing.T) *engine.Engine {
	t.Helper()
	files, err := filepath.Glob("../flows/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no example flows: %v", err)
	}
	cfg := engine.Config{Settings: engine.DefaultSettings(), Limits: providers.Registry().Limits()}
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
	e, ds := engine.New(cfg)
	if err := ds.Err(); err != nil {
		t.Fatal(err)
	}
	return e
}

// TestExampleCases replays every case in testdata/cases against the example flows: the cases
// that ship with Flowgate and seed new bundles must pass. They run in parallel on one engine,
// as gtc serve runs conversations.
func TestExampleCases(t *testing.T) {
	files, err := FindCases("../testdata/cases")
	if err != nil {
		t.Fatal(err)
	}
	opts := Options{Engine: exampleEngine(t), Channels: providers.Registry()}
	for _, f := range files {
		c, err := LoadCase(f)
		if err != nil {
			t.Fatal(err)
		}
		t.Run(c.Name, func(t *testing.T) {
			t.Parallel()
			r := Run(context.Background(), c, opts)
			if !r.Passed() {
				var b bytes.Buffer
				Print(&b, []*Result{r}, true)
				t.Error(strings.TrimSpace(b.String()))
			}
		})
	}
}
