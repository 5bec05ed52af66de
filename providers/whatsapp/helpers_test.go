package whatsapp

import (
	"flag"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/flowgate/flowgate/internal/golden"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// webhookDir holds the recorded webhook bodies, one per shape.
const webhookDir = "../../testdata/webhooks/whatsapp"

func readWebhook(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(webhookDir, name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func webhookNames(t testing.TB) []string {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(webhookDir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range paths {
		names = append(names, strings.TrimSuffix(filepath.Base(p), ".json"))
	}
	sort.Strings(names)
	return names
}

// checkGolden compares got with the golden file, or rewrites it with -update.
func checkGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	golden.Check(t, path, got, *update)
}

// prunedJSON is v as golden files show it: only what is set.
func prunedJSON(t testing.TB, v any) []byte {
	t.Helper()
	return golden.PrunedJSON(t, v)
}
