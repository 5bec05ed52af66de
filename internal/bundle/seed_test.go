package bundle_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowgate/flowgate/engine"
	"github.com/flowgate/flowgate/internal/bundle"
	"github.com/flowgate/flowgate/providers"
)

// A bundle set up from answers.example.json with the shipped examples loads as it is: served
// (with the credentials in the environment) and offline (flowctl, without them).
func TestShippedSeedLoads(t *testing.T) {
	answers, err := os.ReadFile("../../answers.example.json")
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "bundle")
	if _, err := bundle.Setup(context.Background(), answers, dir, bundle.SetupOptions{}); err != nil {
		t.Fatal(err)
	}
	getenv := func(k string) string {
		return map[string]string{"WHATSAPP_TOKEN": "EAAtoken", "META_APP_SECRET": "secret"}[k]
	}
	for _, tc := range []struct {
		name string
		opts bundle.LoadOptions
	}{
		{"served", bundle.LoadOptions{Getenv: getenv, Limits: providers.Registry().Limits()}},
		{"offline, no environment", bundle.LoadOptions{Getenv: func(string) string { return "" }, Limits: providers.Registry().Limits(), Offline: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, ds := bundle.LoadWith(dir, tc.opts)
			var errs []string
			for _, d := range ds {
				if d.Severity == engine.SevError {
					errs = append(errs, d.String())
				}
			}
			if len(errs) > 0 {
				t.Fatalf("a freshly set-up bundle does not load:\n%s", strings.Join(errs, "\n"))
			}
			if b.Engine == nil || len(b.Flows) == 0 || len(b.Channels) != 1 {
				t.Errorf("engine %v, %d flows, %d channels", b.Engine != nil, len(b.Flows), len(b.Channels))
			}
		})
	}
	// Served, a missing credential is an error naming it and its file.
	_, ds := bundle.LoadWith(dir, bundle.LoadOptions{Getenv: func(string) string { return "" }, Limits: providers.Registry().Limits()})
	if err := ds.Err(); err == nil || !strings.Contains(err.Error(), filepath.Join("providers", "acme", "support", "whatsapp.json")+":5:3: error: access_token: ${WHATSAPP_TOKEN} is not set") {
		t.Errorf("want an error naming WHATSAPP_TOKEN, got %v", err)
	}
}
