package bundle

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/flowgate/flowgate/engine"
	"github.com/flowgate/flowgate/providers/meta"
)

// testSeed is a small seed, so that these tests do not depend on the shipped examples.
var testSeed = fstest.MapFS{
	"flows/hello.yaml": {Data: []byte(`name: hello
nodes:
  - id: greet
    type: reply
    config: {message: "Hello!"}
start: greet
triggers:
  - {type: message, keywords: [hi], target: greet}
`)},
	"flows/templates.yaml":            {Data: []byte("templates: []\n")},
	"testdata/cases/hello.test.yaml":  {Data: []byte("name: hello\nsteps:\n  - webhook: webhooks/hi.json\n")},
	"testdata/cases/webhooks/hi.json": {Data: []byte(`{"object":"whatsapp_business_account"}` + "\n")},
	"testdata/cases/webhooks/.keep":   {Data: nil},
	"other/not-seeded.txt":            {Data: []byte("x")},
}

func env(vals map[string]string) func(string) string {
	return func(k string) string { return vals[k] }
}

var fullEnv = env(map[string]string{"WHATSAPP_TOKEN": "EAAwa-token", "META_APP_SECRET": "app-secret"})

// setupExample sets up a bundle from answers.example.json with the test seed.
func setupExample(t *testing.T, opts SetupOptions) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "bundle")
	if opts.Seed == nil {
		opts.Seed = testSeed
	}
	if _, err := Setup(context.Background(), readExample(t), dir, opts); err != nil {
		t.Fatal(err)
	}
	return dir
}

func errorsOnly(ds engine.Diagnostics) []string {
	var out []string
	for _, d := range ds {
		if d.Severity == engine.SevError {
			out = append(out, d.String())
		}
	}
	return out
}

func TestSetupLayout(t *testing.T) {
	dir := setupExample(t, SetupOptions{})
	for rel, mode := range map[string]os.FileMode{
		"bundle.yaml":                          0o644,
		".env":                                 0o600,
		".gitignore":                           0o644,
		"templates.yaml":                       0o644,
		"flows/hello.yaml":                     0o644,
		"tests/hello.test.yaml":                0o644,
		"tests/webhooks/hi.json":               0o644,
		"providers/acme/support/whatsapp.json": 0o600,
	} {
		st, err := os.Stat(filepath.Join(dir, rel))
		if err != nil {
			t.Errorf("%s: %v", rel, err)
			continue
		}
		if st.Mode().Perm() != mode {
			t.Errorf("%s: mode %04o, want %04o", rel, st.Mode().Perm(), mode)
		}
	}
	for _, rel := range []string{"tests/webhooks/.keep", "flows/templates.yaml", "other", "providers/acme/support/messenger.json"} {
		if _, err := os.Stat(filepath.Join(dir, rel)); err == nil {
			t.Errorf("%s should not exist", rel)
		}
	}
}

func TestLoadFreshBundle(t *testing.T) {
	dir := setupExample(t, SetupOptions{Rand: bytes.NewReader(bytes.Repeat([]byte{0xab}, 32))})
	b, ds := Load(dir, fullEnv)
	if errs := errorsOnly(ds); len(errs) > 0 {
		t.Fatalf("fresh bundle does not load:\n%s", strings.Join(errs, "\n"))
	}
	if len(ds) > 0 {
		t.Errorf("warnings on a fresh bundle: %v", ds)
	}
	if b.Engine == nil {
		t.Error("no engine")
	}
	if b.Name != "bundle" || b.DefaultTenant != "acme" || b.DefaultTeam != "support" {
		t.Errorf("name/tenant/team = %q/%q/%q", b.Name, b.DefaultTenant, b.DefaultTeam)
	}
	if want := strings.Repeat("ab", 32); b.APIToken != want {
		t.Errorf("API token %q, want the generated %q (from .env)", b.APIToken, want)
	}
	def := engine.DefaultSettings()
	if b.Settings.SessionTimeout != def.SessionTimeout || b.Settings.MaxSteps != def.MaxSteps ||
		strings.Join(b.Settings.OptOutKeywords, ",") != "STOP,UNSUBSCRIBE,BERHENTI" ||
		b.Settings.OptOutConfirmation != def.OptOutConfirmation || b.DedupTTL != 168*time.Hour {
		t.Errorf("settings %+v, dedup %v: want the defaults", b.Settings, b.DedupTTL)
	}
	if len(b.Flows) != 1 || b.Flows[0].Name != "hello" {
		t.Errorf("flows %v", b.Flows)
	}
	want := []Channel{{Tenant: "acme", Team: "support", Name: "whatsapp", AccountID: "123456789012345",
		Token: "EAAwa-token", AppSecret: "app-secret", VerifyToken: "a-long-random-string", APIVersion: "v21.0",
		APIBaseURL: "https://graph.facebook.com", PublicBaseURL: "https://bot.example.com",
		Optional: map[string]string{"business_account_id": "987654321098765"}, File: filepath.Join(dir, "providers/acme/support/whatsapp.json")}}
	if !reflect.DeepEqual(b.Channels, want) {
		t.Errorf("channels\n%+v\nwant\n%+v", b.Channels, want)
	}
	if c := b.Channel("acme", "support", "whatsapp"); c == nil || c.CallbackURL() != "https://bot.example.com/webhook/whatsapp/acme/support" {
		t.Errorf("Channel(acme, support, whatsapp) = %+v", c)
	}
}

// The environment wins over .env.
func TestLoadEnvironmentBeatsDotenv(t *testing.T) {
	dir := setupExample(t, SetupOptions{})
	b, ds := Load(dir, env(map[string]string{"WHATSAPP_TOKEN": "t", "META_APP_SECRET": "s", "FLOWGATE_API_TOKEN": "from-env"}))
	if ds.HasErrors() {
		t.Fatal(ds)
	}
	if b.APIToken != "from-env" {
		t.Errorf("API token %q, want from-env", b.APIToken)
	}
}

func TestLoadMissingVariable(t *testing.T) {
	dir := setupExample(t, SetupOptions{})
	_, ds := Load(dir, env(map[string]string{"META_APP_SECRET": "s"}))
	file := filepath.Join(dir, "providers", "acme", "support", "whatsapp.json")
	want := file + ":5:3: error: access_token: ${WHATSAPP_TOKEN} is not set: export WHATSAPP_TOKEN in the environment or add WHATSAPP_TOKEN=... to " + filepath.Join(dir, ".env")
	if errs := errorsOnly(ds); len(errs) != 1 || errs[0] != want {
		t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(errs, "\n"), want)
	}

	// The admin token: missing from both the environment and .env.
	if err := os.Remove(filepath.Join(dir, ".env")); err != nil {
		t.Fatal(err)
	}
	_, ds = Load(dir, fullEnv)
	errs := errorsOnly(ds)
	if len(errs) != 1 || !strings.HasPrefix(errs[0], filepath.Join(dir, "bundle.yaml")+":26:10: error: ${FLOWGATE_API_TOKEN} is not set") {
		t.Errorf("errors:\n%s", strings.Join(errs, "\n"))
	}
}

func TestLoadBundleYAMLProblems(t *testing.T) {
	dir := setupExample(t, SetupOptions{})
	cfg := `name: demo
default_tenant: Acme
window:
  margin: 5 minutes
  fallback_templat: {name: x}
  hold: sometimes
opt_out:
  keywords: STOP
sesion_timeout: 24h
dedup_ttl: -1h
max_steps_per_event: lots
default_flow: nowhere
api:
  token: ${NOT_SET}
extra: 1
limits: {var_depth: 70, var_bytes: 0}
`
	if err := os.WriteFile(filepath.Join(dir, "bundle.yaml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	_, ds := Load(dir, fullEnv)
	f := filepath.Join(dir, "bundle.yaml")
	want := []string{
		f + `:2:17: error: "Acme" is not a valid tenant or team name: use lowercase letters, digits, - or _`,
		f + `:4:11: error: "5 minutes" is not a duration: write it like 24h, 90m or 30s`,
		f + `:5:3: error: unknown key "fallback_templat" in window (did you mean "fallback_template"?)`,
		f + `:6:9: error: "sometimes" is not true or false`,
		f + `:8:13: error: want a list, like [STOP, UNSUBSCRIBE]`,
		f + `:9:1: error: unknown key "sesion_timeout" in bundle.yaml (did you mean "session_timeout"?)`,
		f + `:10:12: error: duration -1h must be positive`,
		f + `:11:22: error: "lots" is not a positive whole number`,
		f + `:14:10: error: ${NOT_SET} is not set: export NOT_SET in the environment or add NOT_SET=... to ` + filepath.Join(dir, ".env"),
		f + `:15:1: error: unknown key "extra" in bundle.yaml (known keys: api, dedup_ttl, default_flow, default_team, default_tenant, limits, max_steps_per_event, name, opt_in, opt_out, session_timeout, window)`,
		f + `:16:21: error: var_depth 70 is more than 64, the deepest nesting a conversation's state can hold`,
		f + `:16:36: error: "0" is not a positive whole number`,
	}
	got := errorsOnly(ds)
	// The engine adds its own error about default_flow; the positioned bundle.yaml errors come first.
	if len(got) < len(want) || strings.Join(got[:len(want)], "\n") != strings.Join(want, "\n") {
		t.Errorf("errors:\n%s\nwant first:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if !strings.Contains(strings.Join(got, "\n"), `default_flow: no flow named "nowhere"`) {
		t.Errorf("engine.New did not check default_flow:\n%s", strings.Join(got, "\n"))
	}
}

// TestLoadYAMLSyntax: a layout mistake in any of a bundle's YAML files is reported at the line
// that has it, as it is in a flow, not at the start of the block around it.
func TestLoadYAMLSyntax(t *testing.T) {
	for _, tc := range []struct {
		name, file, text, want string
	}{
		{"bundle.yaml mis-indented", "bundle.yaml", "name: demo\nwindow:\n  fallback_template:\n    name: follow_up\n   language: en\n",
			":5:4: error: invalid YAML: did not find expected key (this line's indentation does not fit the block it is in)"},
		{"bundle.yaml tab", "bundle.yaml", "name: demo\nopt_out:\n\tkeywords: [STOP]\n",
			":3:1: error: invalid YAML: a tab indents this line; indent with spaces"},
		{"templates.yaml mis-indented", "templates.yaml", "templates:\n  - name: follow_up\n    language: en\n    category: utility\n  body_parameters: 1\n",
			":5:3: error: invalid YAML: did not find expected '-' indicator (this line's indentation does not fit the block it is in)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := setupExample(t, SetupOptions{})
			f := filepath.Join(dir, tc.file)
			if err := os.WriteFile(f, []byte(tc.text), 0o644); err != nil {
				t.Fatal(err)
			}
			_, ds := Load(dir, fullEnv)
			got := errorsOnly(ds)
			if len(got) == 0 || got[0] != f+tc.want {
				t.Errorf("errors:\n%s\nwant first:\n%s", strings.Join(got, "\n"), f+tc.want)
			}
		})
	}
}

func TestLoadSettings(t *testing.T) {
	dir := setupExample(t, SetupOptions{})
	cfg := `name: demo
default_tenant: acme
default_team: support
window:
  margin: 1h
  fallback_template: {name: follow_up, language: en}
  hold: false
  hold_messages: 3
  hold_for: 48h
opt_out: {keywords: [ALTO], confirmation: "Bye"}
opt_in: {keywords: [VOLVER]}
session_timeout: 2h
dedup_ttl: 48h
max_steps_per_event: 7
default_flow: hello
api: {token: literal-admin-token}
limits: {var_depth: 8, var_bytes: 4096, expr_time: 20ms, expr_memory: 65536, value_length: 500, text_parts: 2}
`
	if err := os.WriteFile(filepath.Join(dir, "bundle.yaml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "templates.yaml"), []byte("templates:\n  - {name: follow_up, language: en, category: utility, body_parameters: 0}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	b, ds := Load(dir, fullEnv)
	if ds.HasErrors() {
		t.Fatal(ds.Err())
	}
	s := b.Settings
	if s.WindowMargin != time.Hour || s.FallbackTemplate == nil || s.FallbackTemplate.Name != "follow_up" ||
		strings.Join(s.OptOutKeywords, ",") != "ALTO" || s.OptOutConfirmation != "Bye" ||
		strings.Join(s.OptInKeywords, ",") != "VOLVER" || s.SessionTimeout != 2*time.Hour || s.MaxSteps != 7 ||
		s.DefaultFlow != "hello" || b.DedupTTL != 48*time.Hour || b.APIToken != "literal-admin-token" || b.Name != "demo" ||
		s.Hold || s.HoldMessages != 3 || s.HoldFor != 48*time.Hour || s.MaxVarDepth != 8 || s.MaxVarBytes != 4096 ||
		s.MaxExprTime != 20*time.Millisecond || s.MaxExprMemory != 65536 || s.MaxValueLength != 500 || s.MaxTextParts != 2 {
		t.Errorf("settings %+v dedup %v token %q", s, b.DedupTTL, b.APIToken)
	}
}

func TestLoadProviderProblems(t *testing.T) {
	dir := setupExample(t, SetupOptions{})
	prov := filepath.Join(dir, "providers", "acme", "support")
	write := func(name, content string, mode os.FileMode) string {
		p := filepath.Join(prov, name)
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	ms := write("messenger.json", `{
  "enabled": true,
  "public_base_url": "http://bot.example.com",
  "page_id": "1",
  "page_acess_token": "x",
  "verify_token": "v",
  "app_secret": "s"
}
`, 0o600)
	ig := write("instagram.json", `{"enabled": true, "public_base_url": "${PUBLIC_URL}", "ig_account_id": "1", "access_token": "t", "verify_token": "v"}`, 0o644)
	tg := write("telegram.json", `{}`, 0o600)
	_, ds := Load(dir, env(map[string]string{"WHATSAPP_TOKEN": "t", "META_APP_SECRET": "s", "PUBLIC_URL": "http://public.example.com"}))
	var got []string
	for _, d := range ds {
		got = append(got, d.String())
	}
	want := []string{
		ig + ":1:1: error: app_secret: required; add the App secret from the Meta app dashboard (App settings > Basic), preferably as ${META_APP_SECRET}",
		ig + ":1:19: error: public_base_url: \"http://public.example.com\" is not https; " + urlFix,
		ig + ": warning: holds credentials but is readable by others (mode 0644): chmod 600 " + ig,
		ms + `:3:3: error: public_base_url: "http://bot.example.com" is not https; ` + urlFix,
		ms + `:5:3: error: page_acess_token: unknown key; did you mean "page_access_token"? Fix the spelling or remove it`,
		ms + ":1:1: error: page_access_token: required; add the Page access token, preferably as a ${NAME} reference such as ${MESSENGER_PAGE_TOKEN}",
		tg + `: error: unknown channel "telegram": the file name must be one of whatsapp.json, messenger.json, instagram.json`,
	}
	// Order: files sorted, then within a file as found; compare as sets per file.
	if strings.Join(sortedCopy(got), "\n") != strings.Join(sortedCopy(want), "\n") {
		t.Errorf("diagnostics:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestLoadWarnsReadableDotenv: a .env that others may read is warned about like a provider file
// (it holds the same secrets); one only its owner reads is not.
func TestLoadWarnsReadableDotenv(t *testing.T) {
	for _, mode := range []os.FileMode{0o644, 0o600} {
		dir := setupExample(t, SetupOptions{})
		path := filepath.Join(dir, EnvFile)
		if err := os.WriteFile(path, []byte("WHATSAPP_TOKEN=t\n"), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
		_, ds := Load(dir, fullEnv)
		want := path + ": warning: holds credentials but is readable by others (mode 0644): chmod 600 " + path
		var found bool
		for _, d := range ds {
			found = found || d.String() == want
		}
		if found != (mode == 0o644) {
			t.Errorf("mode %04o: warned %v:\n%s", mode, found, ds)
		}
	}
}

func sortedCopy(s []string) []string {
	c := append([]string(nil), s...)
	for i := range c {
		for j := i + 1; j < len(c); j++ {
			if c[j] < c[i] {
				c[i], c[j] = c[j], c[i]
			}
		}
	}
	return c
}

func TestLoadNotABundle(t *testing.T) {
	dir := t.TempDir()
	_, ds := Load(dir, fullEnv)
	errs := errorsOnly(ds)
	if len(errs) != 1 || !strings.Contains(errs[0], "no bundle.yaml: "+dir+" is not a bundle (create one with gtc setup)") {
		t.Errorf("errors %v", errs)
	}
	if IsBundle(dir) {
		t.Error("IsBundle of an empty directory")
	}
}

func TestSetupIdempotent(t *testing.T) {
	dir := setupExample(t, SetupOptions{})
	before := snapshot(t, dir)
	rep, err := Setup(context.Background(), readExample(t), dir, SetupOptions{Seed: testSeed})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Changed() {
		t.Errorf("second run changed: %+v", rep.Changes)
	}
	for _, c := range rep.Changes {
		if c.Action != Unchanged {
			t.Errorf("second run: %s %s", c.Action, c.Path)
		}
	}
	if after := snapshot(t, dir); after != before {
		t.Errorf("second run touched the bundle:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

func TestSetupAPIToken(t *testing.T) {
	answers := func(tok string) []byte {
		var m map[string]any
		if err := json.Unmarshal(readExample(t), &m); err != nil {
			t.Fatal(err)
		}
		m["api_token"] = tok
		b, _ := json.Marshal(m)
		return b
	}
	// A literal token goes to .env, never into bundle.yaml.
	dir := filepath.Join(t.TempDir(), "b")
	if _, err := Setup(context.Background(), answers("a-literal-admin-token-123"), dir, SetupOptions{Seed: testSeed}); err != nil {
		t.Fatal(err)
	}
	cfg, _ := os.ReadFile(filepath.Join(dir, "bundle.yaml"))
	if strings.Contains(string(cfg), "a-literal-admin-token-123") {
		t.Error("bundle.yaml holds the literal token")
	}
	b, ds := Load(dir, fullEnv)
	if ds.HasErrors() || b.APIToken != "a-literal-admin-token-123" {
		t.Errorf("token %q, %v", b.APIToken, ds)
	}
	// A new literal updates .env; other lines of .env are kept.
	envPath := filepath.Join(dir, ".env")
	old, _ := os.ReadFile(envPath)
	os.WriteFile(envPath, append(old, "WHATSAPP_TOKEN=from-dotenv\n# old token-in-a-comment\ntoken-pasted-alone\n"...), 0o600)
	rep, err := Setup(context.Background(), answers("another-admin-token-4567"), dir, SetupOptions{Seed: testSeed, DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	var diff string
	for _, c := range rep.Changes {
		if c.Path == ".env" {
			diff = c.Diff
		}
	}
	if !strings.Contains(diff, "-FLOWGATE_API_TOKEN=<redacted>\n+FLOWGATE_API_TOKEN=<redacted, changed>\n") || strings.Contains(diff, "token-") || strings.Contains(diff, "from-dotenv") ||
		!strings.Contains(diff, "# <redacted>\n") {
		t.Errorf(".env diff shows secrets or no change:\n%s", diff)
	}
	// Without the lines that are not NAME=value, which Load refuses.
	os.WriteFile(envPath, append(old, "WHATSAPP_TOKEN=from-dotenv\n"...), 0o600)
	if _, err := Setup(context.Background(), answers("another-admin-token-4567"), dir, SetupOptions{Seed: testSeed}); err != nil {
		t.Fatal(err)
	}
	b, ds = Load(dir, env(map[string]string{"META_APP_SECRET": "s"}))
	if ds.HasErrors() || b.APIToken != "another-admin-token-4567" || b.Channels[0].Token != "from-dotenv" {
		t.Errorf("token %q, whatsapp token %q, %v", b.APIToken, b.Channels[0].Token, ds)
	}

	// A reference is written into a new bundle.yaml as it is; no .env.
	dir2 := filepath.Join(t.TempDir(), "b2")
	if _, err := Setup(context.Background(), answers("${MY_ADMIN_TOKEN}"), dir2, SetupOptions{Seed: testSeed}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir2, ".env")); err == nil {
		t.Error(".env written for a referenced token")
	}
	b, ds = Load(dir2, env(map[string]string{"WHATSAPP_TOKEN": "t", "META_APP_SECRET": "s", "MY_ADMIN_TOKEN": "mine"}))
	if ds.HasErrors() || b.APIToken != "mine" {
		t.Errorf("token %q, %v", b.APIToken, ds)
	}
}

func TestSetupAnswersErrorTouchesNothing(t *testing.T) {
	dir := setupExample(t, SetupOptions{})
	before := snapshot(t, dir)
	_, err := Setup(context.Background(), []byte(`{"tenant": 1, "messaging-whatsapp": {"enabled": true}}`), dir, SetupOptions{Seed: testSeed})
	var ae *AnswersError
	if !errors.As(err, &ae) || len(ae.Problems) != 5 {
		t.Fatalf("error %v, want 5 problems", err)
	}
	if after := snapshot(t, dir); after != before {
		t.Error("the bundle was touched")
	}
	_, err = Setup(context.Background(), readExample(t), dir, SetupOptions{Seed: testSeed, Tenant: "UPPER", Team: "a b"})
	if !errors.As(err, &ae) || len(ae.Problems) != 2 || ae.Problems[0].Path != "--tenant" || ae.Problems[1].Path != "--team" {
		t.Fatalf("error %v, want --tenant and --team problems", err)
	}
}

func TestCheckAllChannels(t *testing.T) {
	var paths []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		paths = append(paths, r.URL.Path+" "+r.Header.Get("Authorization"))
		if r.URL.Path == "/v20.0/17841400000000001" {
			w.WriteHeader(400)
			w.Write([]byte(`{"error":{"message":"Unsupported get request.","type":"GraphMethodException","code":100,"fbtrace_id":"T"}}`))
			return
		}
		w.Write([]byte(`{"id":"x"}`))
	}))
	defer srv.Close()
	a, err := ParseAnswers([]byte(`{"tenant": "t", "team": "u",
	  "messaging-whatsapp": {"public_base_url": "https://b.example", "phone_number_id": "111", "access_token": "${WA}", "verify_token": "v", "app_secret": "s", "api_base_url": "` + srv.URL + `", "api_version": "v20.0"},
	  "messaging-messenger": {"public_base_url": "https://b.example", "page_id": "222", "page_access_token": "page-token", "verify_token": "v", "app_secret": "s", "api_base_url": "` + srv.URL + `", "api_version": "v20.0"},
	  "messaging-instagram": {"public_base_url": "https://b.example", "ig_account_id": "17841400000000001", "access_token": "ig-token", "verify_token": "v", "app_secret": "s", "api_base_url": "` + srv.URL + `", "api_version": "v20.0"}}`))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, ".env"), []byte("WA=wa-from-dotenv\n"), 0o600)
	res := Check(context.Background(), srv.Client(), a, dir, env(nil))
	if len(res) != 3 {
		t.Fatalf("%d results", len(res))
	}
	wantPaths := "/v20.0/111 Bearer wa-from-dotenv\n/v20.0/222 Bearer page-token\n/v20.0/17841400000000001 Bearer ig-token"
	if strings.Join(paths, "\n") != wantPaths {
		t.Errorf("requests:\n%s\nwant:\n%s", strings.Join(paths, "\n"), wantPaths)
	}
	if res[0].Err != nil || res[1].Err != nil {
		t.Errorf("whatsapp/messenger: %v / %v", res[0].Err, res[1].Err)
	}
	if got := res[1].String(); got != "messenger t/u: page 222 answers: the credentials work" {
		t.Errorf("messenger result %q", got)
	}
	var ge *meta.Error
	if !errors.As(res[2].Err, &ge) || ge.Code != 100 {
		t.Fatalf("instagram error %v", res[2].Err)
	}
	want := `instagram t/u: Instagram account 17841400000000001 does not answer: Meta said "Unsupported get request." (HTTP 400, code 100, GraphMethodException, fbtrace_id T); the id is wrong or the token cannot see it: check the id and that the token belongs to the same app and business`
	if res[2].String() != want {
		t.Errorf("instagram result\n%q\nwant\n%q", res[2].String(), want)
	}
	for _, r := range res {
		if strings.Contains(r.String(), "token\"") || strings.Contains(r.String(), "ig-token") || strings.Contains(r.String(), "page-token") {
			t.Errorf("result shows a token: %s", r)
		}
	}
}

func TestUnifiedDiff(t *testing.T) {
	old := "a\nb\nc\nd\ne\nf\ng\nh\ni\nj\nx\ny\n"
	new := "a\nb\nc\nD\ne\nf\ng\nh\ni\nj\nx\nk\n"
	// as diff -u prints it
	want := `--- a/x
+++ b/x
@@ -1,7 +1,7 @@
 a
 b
 c
-d
+D
 e
 f
 g
@@ -9,4 +9,4 @@
 i
 j
 x
-y
+k
`
	if got := unifiedDiff("a/x", "b/x", []byte(old), []byte(new)); got != want {
		t.Errorf("diff:\n%s\nwant:\n%s", got, want)
	}
	if got := unifiedDiff("/dev/null", "b/y", nil, []byte("one\ntwo")); got != "--- /dev/null\n+++ b/y\n@@ -0,0 +1,2 @@\n+one\n+two\n\\ No newline at end of file\n" {
		t.Errorf("creation diff:\n%s", got)
	}
	if unifiedDiff("a", "b", []byte("same\n"), []byte("same\n")) != "" {
		t.Error("diff of equal files")
	}
}

// snapshot lists every file under dir with mode, modification time and content.
func snapshot(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		b.WriteString(rel + " " + info.Mode().String() + " " + info.ModTime().String())
		if !info.IsDir() {
			data, _ := os.ReadFile(p)
			b.WriteString(" " + string(data))
		}
		b.WriteString("\n")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestSetupDisabledChannelOddFile: a disabled channel's provider file that is JSON but not an
// object (null, a list) is not the answers' to rewrite: setup keeps it, and never panics.
func TestSetupDisabledChannelOddFile(t *testing.T) {
	for _, content := range []string{"null", "[]", `"x"`, "{"} {
		t.Run(content, func(t *testing.T) {
			dir := setupExample(t, SetupOptions{})
			p := filepath.Join(dir, "providers", "acme", "support", "messenger.json")
			if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			rep, err := Setup(context.Background(), readExample(t), dir, SetupOptions{Seed: testSeed})
			if err != nil {
				t.Fatal(err)
			}
			if rep.Changed() {
				t.Errorf("changes: %+v", rep.Changes)
			}
			if got, _ := os.ReadFile(p); string(got) != content {
				t.Errorf("file rewritten to %q", got)
			}
		})
	}
}

// TestSetupKeepsDotenvLine: .env changes "only when it must": a FLOWGATE_API_TOKEN line
// written in another style (export, quotes) that holds the token already is left alone.
func TestSetupKeepsDotenvLine(t *testing.T) {
	dir := setupExample(t, SetupOptions{})
	envPath := filepath.Join(dir, ".env")
	data, err := os.ReadFile(envPath)
	if err != nil {
		t.Fatal(err)
	}
	vals, _ := parseDotenv(data)
	mine := "# mine\nexport FLOWGATE_API_TOKEN=\"" + vals[APITokenVar] + "\"\n"
	if err := os.WriteFile(envPath, []byte(mine), 0o600); err != nil {
		t.Fatal(err)
	}
	rep, err := Setup(context.Background(), readExample(t), dir, SetupOptions{Seed: testSeed})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Changed() {
		t.Errorf("changes: %+v", rep.Changes)
	}
	if got, _ := os.ReadFile(envPath); string(got) != mine {
		t.Errorf(".env rewritten:\n%s", got)
	}
}

// TestSetupQuotedLiteralAPIToken: a literal api_token that starts and ends with a quote is
// served as written, not with its quotes stripped by the .env reader.
func TestSetupQuotedLiteralAPIToken(t *testing.T) {
	var m map[string]any
	if err := json.Unmarshal(readExample(t), &m); err != nil {
		t.Fatal(err)
	}
	for _, tok := range []string{`'quoted-admin-token'`, `"quoted-admin-token"`} {
		m["api_token"] = tok
		answers, _ := json.Marshal(m)
		dir := filepath.Join(t.TempDir(), "b")
		if _, err := Setup(context.Background(), answers, dir, SetupOptions{Seed: testSeed}); err != nil {
			t.Fatal(err)
		}
		b, ds := Load(dir, fullEnv)
		if ds.HasErrors() || b.APIToken != tok {
			t.Errorf("api token %q, want %q (%v)", b.APIToken, tok, ds)
		}
		rep, err := Setup(context.Background(), answers, dir, SetupOptions{Seed: testSeed})
		if err != nil || rep.Changed() {
			t.Errorf("second run: %v %+v", err, rep.Changes)
		}
	}
}
