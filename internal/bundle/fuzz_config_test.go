package bundle

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzConfig feeds bundle.yaml parsing and provider-file loading arbitrary input: neither may
// panic, and every problem must come back as a diagnostic.
func FuzzConfig(f *testing.F) {
	f.Add([]byte(renderConfig("demo", "acme", "support", "${FLOWGATE_API_TOKEN}")), []byte(`{"enabled": true, "phone_number_id": "1"}`))
	f.Add([]byte("window: {margin: 5m, fallback_template: {name: x, language: en}}\nopt_out: {keywords: [STOP]}\n"), []byte(`{"access_token": "${A"}`))
	f.Add([]byte("name: [\n"), []byte(`null`))
	f.Fuzz(func(t *testing.T, cfg, provider []byte) {
		res := &resolver{getenv: func(string) string { return "" }, offline: true}
		parseConfig("bundle.yaml", cfg, res)
		dir := t.TempDir()
		path := filepath.Join(dir, "whatsapp.json")
		if err := os.WriteFile(path, provider, 0o600); err != nil {
			t.Fatal(err)
		}
		loadProvider(path, specFor("whatsapp"), res)
	})
}
