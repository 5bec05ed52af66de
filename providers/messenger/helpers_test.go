package messenger

import (
	"flag"
	"path/filepath"
	"testing"

	"github.com/flowgate/flowgate/internal/golden"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// webhookDir holds the recorded Messenger webhook bodies, one per shape.
const webhookDir = "../../testdata/webhooks/messenger"

// readWebhook returns the recorded body of one shape.
func readWebhook(t testing.TB, name string) []byte {
	t.Helper()
	for _, f := range golden.Corpus(t, webhookDir) {
		if f.Name == name {
			return f.Body
		}
	}
	t.Fatalf("no recorded webhook %s", filepath.Join(webhookDir, name+".json"))
	return nil
}

func checkGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	golden.Check(t, path, got, *update)
}

func prunedJSON(t testing.TB, v any) []byte {
	t.Helper()
	return golden.PrunedJSON(t, v)
}

// messenger is the platform under test.
func messenger() *Platform { return New().p }
