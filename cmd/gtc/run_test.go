package main

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/flowgate/flowgate/internal/redistest"
	"github.com/flowgate/flowgate/internal/version"
)

func noEnv(string) string { return "" }

// TestExitCodes drives run directly: testscript only tells zero from non-zero.
func TestExitCodes(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	example := "../../answers.example.json"
	bad := map[string]string{
		"missing key":  `{"messaging-whatsapp": {"public_base_url": "https://a.example", "access_token": "t", "verify_token": "v", "app_secret": "s"}}`,
		"unknown key":  `{"tenantt": "acme"}`,
		"wrong type":   `{"tenant": 7}`,
		"http URL":     `{"messaging-whatsapp": {"public_base_url": "http://a.example", "phone_number_id": "1", "access_token": "t", "verify_token": "v", "app_secret": "s"}}`,
		"empty secret": `{"messaging-whatsapp": {"public_base_url": "https://a.example", "phone_number_id": "1", "access_token": "t", "verify_token": "v", "app_secret": ""}}`,
		"not JSON":     `{`,
	}
	tests := []struct {
		name       string
		args       []string
		want       int
		wantStderr string
	}{
		{"no command", nil, 2, "Usage:"},
		{"unknown command", []string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{"serve bad flag", []string{"serve", "--nope"}, 2, "flag provided but not defined"},
		{"serve bad log format", []string{"serve", "--log-format", "xml"}, 2, `--log-format "xml": use text or json`},
		{"serve braces in the key prefix", []string{"serve", "--redis-prefix", "x{"}, 2, "braces are not allowed"},
		{"serve two Redis", []string{"serve", "--redis", "redis://127.0.0.1:6379", "--redis-cluster", "127.0.0.1:7000"}, 2, "are both set: use one"},
		{"serve Redis URL unreadable", []string{"serve", "--redis", "http://:hunter2@127.0.0.1:6379"}, 2, "--redis http://:xxxxx@127.0.0.1:6379: not a Redis URL"},
		{"serve cluster nodes not host:port", []string{"serve", "--redis-cluster", "127.0.0.1:7000,node2"}, 2, `"node2" is not host:port`},
		{"serve cluster URL unreadable", []string{"serve", "--redis-cluster", "redis://:hunter2@127.0.0.1:7000?dial_timeout=soon"}, 2, "not a Redis Cluster URL"},
		{"version", []string{"version"}, 0, ""},
		{"setup ok", []string{"setup", "--answers", example, filepath.Join(dir, "ok")}, 0, ""},
		{"setup flags after dir", []string{"setup", filepath.Join(dir, "ok2"), "--answers", example, "--team", "sales"}, 0, ""},
		{"setup two dirs", []string{"setup", "--answers", example, "a", "b"}, 2, "one bundle directory"},
		{"setup bad flag", []string{"setup", "--nope"}, 2, "flag provided but not defined"},
		{"setup no answers, no terminal", []string{"setup", filepath.Join(dir, "x")}, 2, "stdin is not a terminal, so there is no one to ask: pass --answers FILE"},
		{"setup answers file missing", []string{"setup", "--answers", filepath.Join(dir, "nope.json"), filepath.Join(dir, "x")}, 2, "no such file"},
	}
	for name, content := range bad {
		tests = append(tests, struct {
			name       string
			args       []string
			want       int
			wantStderr string
		}{"bad answers: " + name, []string{"setup", "--answers", write(strings.ReplaceAll(name, " ", "_")+".json", content), filepath.Join(dir, "bad")}, 2, "the bundle was not touched"})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			got := run(tt.args, strings.NewReader(""), &stdout, &stderr, noEnv)
			if got != tt.want {
				t.Errorf("exit code %d, want %d\nstdout:\n%s\nstderr:\n%s", got, tt.want, stdout.String(), stderr.String())
			}
			if !strings.Contains(stderr.String(), tt.wantStderr) {
				t.Errorf("stderr %q does not contain %q", stderr.String(), tt.wantStderr)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "bad")); !os.IsNotExist(err) {
		t.Errorf("bad answers created the bundle directory (stat: %v)", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "ok2", "providers", "acme", "sales", "whatsapp.json")); err != nil {
		t.Errorf("--team after the directory was not applied: %v", err)
	}
}

// TestVersion: gtc reports the same version string as flowctl, from the build information.
func TestVersion(t *testing.T) {
	var stdout bytes.Buffer
	if code := run([]string{"version"}, nil, &stdout, &bytes.Buffer{}, noEnv); code != 0 {
		t.Fatalf("exit %d", code)
	}
	if want := "gtc " + version.String() + "\n"; stdout.String() != want {
		t.Errorf("version output %q, want %q", stdout.String(), want)
	}
}

// terminal is stdin that says it is a terminal, so that setup asks its questions.
type terminal struct{ *strings.Reader }

func (terminal) IsTerminal() bool { return true }

func TestSetupInteractive(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "bundle")
	answers := strings.Join([]string{
		"acme",                    // tenant
		"",                        // team: default
		"https://bot.example.com", // public base URL
		"",                        // app secret: ${META_APP_SECRET}
		"",                        // enable WhatsApp: yes
		"123456789012345",         // phone number id
		"",                        // access token: ${WHATSAPP_TOKEN}
		"typed-verify-token",      // verify token
		"",                        // business account id: none
		"maybe",                   // enable Messenger? (not an answer: asked again)
		"y",                       // enable Messenger
		"112233445566778",         // page id
		"${PAGE_TOKEN}",           // page token
		"page-verify",             // verify token
		"n",                       // enable Instagram
	}, "\n") + "\n"
	var stdout, stderr bytes.Buffer
	code := run([]string{"setup", dir}, terminal{strings.NewReader(answers)}, &stdout, &stderr, noEnv)
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	out := stdout.String()
	for _, want := range []string{
		"Tenant [default]: ",
		"WhatsApp access token [${WHATSAPP_TOKEN}]: ",
		"Please answer y or n.",
		"callback URL:   https://bot.example.com/webhook/whatsapp/acme/default\n",
		"verify token:   typed-verify-token\n",
		"callback URL:   https://bot.example.com/webhook/messenger/acme/default\n",
		"verify token:   page-verify\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	data, err := os.ReadFile(filepath.Join(dir, "providers", "acme", "default", "messenger.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"page_access_token": "${PAGE_TOKEN}"`, `"app_secret": "${META_APP_SECRET}"`, `"page_id": "112233445566778"`} {
		if !strings.Contains(string(data), want) {
			t.Errorf("messenger.json lacks %s:\n%s", want, data)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "providers", "acme", "default", "instagram.json")); !os.IsNotExist(err) {
		t.Errorf("instagram.json written though Instagram was declined")
	}
}

func TestSetupInteractiveBadAnswers(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "bundle")
	// An http URL and an empty phone number id: reported as for a file, exit 2.
	answers := "acme\nsupport\nhttp://bot.example.com\n\n\n\n\n\n\nn\nn\n"
	var stdout, stderr bytes.Buffer
	code := run([]string{"setup", dir}, terminal{strings.NewReader(answers)}, &stdout, &stderr, noEnv)
	if code != 2 {
		t.Fatalf("exit %d, want 2\nstderr:\n%s", code, stderr.String())
	}
	for _, want := range []string{
		`messaging-whatsapp.public_base_url: "http://bot.example.com" is not https`,
		`messaging-whatsapp.phone_number_id: empty; add the Phone number ID`,
	} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
		}
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("the bundle was created")
	}
}

func TestSetupInteractiveEOF(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run([]string{"setup", filepath.Join(t.TempDir(), "b")}, terminal{strings.NewReader("acme\n")}, &stdout, &stderr, noEnv)
	if code != 2 || !strings.Contains(stderr.String(), "input ended before every question was answered") {
		t.Fatalf("exit %d, stderr %q", code, stderr.String())
	}
}

// setupBundle writes the bundle of the example answers into a directory of the test's own and
// returns it with an environment that sets the secrets it needs.
func setupBundle(t *testing.T) (string, func(string) string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "bundle")
	var out bytes.Buffer
	if code := run([]string{"setup", "--answers", "../../answers.example.json", dir}, strings.NewReader(""), &out, &out, noEnv); code != 0 {
		t.Fatalf("setup: %d\n%s", code, out.String())
	}
	return dir, func(k string) string {
		return map[string]string{"WHATSAPP_TOKEN": "t", "META_APP_SECRET": "s"}[k]
	}
}

// TestServeRefusesToStart: gtc serve says in one line why it cannot start, and exits 1.
func TestServeRefusesToStart(t *testing.T) {
	dir, env := setupBundle(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	plain, err := redis.ParseURL(redistest.URL(t)) // a Redis without cluster mode
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name   string
		args   []string
		getenv func(string) string
		want   string
	}{
		{"no bundle", []string{"serve", filepath.Join(dir, "nope")}, env, "is invalid"},
		{"secret not set", []string{"serve", dir}, noEnv, "${WHATSAPP_TOKEN} is not set"},
		{"port taken", []string{"serve", "--addr", ln.Addr().String(), dir}, env, "cannot listen on " + ln.Addr().String()},
		{"Redis unreachable", []string{"serve", "--redis", "redis://:hunter2@127.0.0.1:1/0", dir}, env, "Redis at redis://:xxxxx@127.0.0.1:1/0 cannot be reached"},
		{"Redis Cluster unreachable", []string{"serve", "--redis-cluster", "127.0.0.1:1,127.0.0.1:2", dir}, env, "Redis Cluster 127.0.0.1:1,127.0.0.1:2 cannot be used"},
		{"Redis Cluster URL unreachable", []string{"serve", "--redis-cluster", "redis://:hunter2@127.0.0.1:1?addr=127.0.0.1:2", dir}, env, "Redis Cluster redis://:xxxxx@127.0.0.1:1?addr=127.0.0.1:2 cannot be used"},
		{"not a cluster", []string{"serve", "--redis-cluster", plain.Addr, dir}, env, "cluster support disabled"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := run(tt.args, strings.NewReader(""), &stdout, &stderr, tt.getenv); code != 1 {
				t.Errorf("exit %d, want 1", code)
			}
			if !strings.Contains(stderr.String(), tt.want) || strings.Contains(stderr.String(), "hunter2") {
				t.Errorf("stderr %q, want %q (and no password)", stderr.String(), tt.want)
			}
		})
	}
}

// TestServeRedisOnAClusterNode: --redis naming one node of a Redis Cluster fails at start with
// the flag to use, instead of serving only the conversations whose slots that node holds.
func TestServeRedisOnAClusterNode(t *testing.T) {
	addrs := redistest.ClusterAddrs(t)
	dir, env := setupBundle(t)
	var stdout, stderr bytes.Buffer
	exited := make(chan int, 1)
	go func() {
		exited <- run([]string{"serve", "--addr", "127.0.0.1:0", "--redis", "redis://" + addrs[0], dir}, strings.NewReader(""), &stdout, &stderr, env)
	}()
	select {
	case code := <-exited:
		if code != 1 {
			t.Errorf("exit %d, want 1", code)
		}
	case <-time.After(time.Minute):
		t.Fatal("gtc serve started on one node of a cluster") // the serving goroutine ends with the test binary
	}
	if !strings.Contains(stderr.String(), "--redis-cluster") {
		t.Errorf("stderr %q, want it to name --redis-cluster", stderr.String())
	}
}

// TestSetupWithoutTerminal: gtc setup with stdin from /dev/null or a pipe, and no --answers,
// asks nothing and fails at once with one line saying what to pass; nothing is written.
func TestSetupWithoutTerminal(t *testing.T) {
	devNull, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer devNull.Close()
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	pw.WriteString("acme\n")
	pw.Close()
	for name, stdin := range map[string]*os.File{"/dev/null": devNull, "a pipe": pr} {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "bundle")
			var stdout, stderr bytes.Buffer
			code := run([]string{"setup", dir}, stdin, &stdout, &stderr, noEnv)
			want := "gtc setup: stdin is not a terminal, so there is no one to ask: pass --answers FILE (see answers.example.json)\n"
			if code != 2 || stderr.String() != want || stdout.Len() != 0 {
				t.Errorf("exit %d\nstdout:\n%s\nstderr:\n%s\nwant exit 2, no stdout, stderr %q", code, stdout.String(), stderr.String(), want)
			}
			if _, err := os.Stat(dir); !os.IsNotExist(err) {
				t.Errorf("the bundle directory was created (stat: %v)", err)
			}
		})
	}
}

// TestServeDebugProfiler: --debug-addr (or GTC_DEBUG_ADDR) serves Go's profiler on its own
// listener.
func TestServeDebugProfiler(t *testing.T) {
	cfg, code := parseServe(nil, io.Discard, func(k string) string {
		return map[string]string{"GTC_DEBUG_ADDR": "127.0.0.1:6061"}[k]
	})
	if cfg == nil || cfg.debugAddr != "127.0.0.1:6061" {
		t.Fatalf("parseServe with GTC_DEBUG_ADDR: %+v, exit %d", cfg, code)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := serveDebug(ln)
	defer hs.Close()
	resp, err := http.Get("http://" + ln.Addr().String() + "/debug/pprof/goroutine?debug=1")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "goroutine profile") {
		t.Errorf("GET /debug/pprof/goroutine: %d %.80q, want 200 with the goroutine profile", resp.StatusCode, body)
	}
}
