package bundle

import (
	"flag"
	"testing"

	"github.com/flowgate/flowgate/internal/golden"
)

var update = flag.Bool("update", false, "rewrite schema/answers.schema.json from the channel providers")

// TestAnswersSchemaFile keeps schema/answers.schema.json, which editors and seeded bundles use,
// the document setup validates with: one section per channel of the build. After adding a
// channel, go test ./internal/bundle -update rewrites it.
func TestAnswersSchemaFile(t *testing.T) {
	golden.Check(t, "../../schema/answers.schema.json", AnswersSchema(), *update)
}

// TestAnswersSchemaSections: every channel has its section, with its own id and token keys
// required when enabled.
func TestAnswersSchemaSections(t *testing.T) {
	for _, s := range channelSpecs() {
		doc := []byte(`{"` + s.Section + `": {"enabled": true}}`)
		_, err := ParseAnswers(doc)
		ae, ok := err.(*AnswersError)
		if !ok {
			t.Fatalf("%s: %v", s.Name, err)
		}
		missing := map[string]bool{}
		for _, p := range ae.Problems {
			if p.Message == "required" {
				missing[p.Path] = true
			}
		}
		for _, k := range []string{s.IDKey, s.TokenKey, "public_base_url", "verify_token"} {
			if !missing[s.Section+"."+k] {
				t.Errorf("%s: %s not required: %v", s.Name, k, ae.Problems)
			}
		}
		// app_secret defaults to ${META_APP_SECRET}, as the providers' example answers expect.
		if missing[s.Section+".app_secret"] {
			t.Errorf("%s: app_secret required: %v", s.Name, ae.Problems)
		}
	}
}
