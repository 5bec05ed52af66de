package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/flowgate/flowgate/engine/msg"
	"github.com/flowgate/flowgate/internal/bundle"
	"github.com/flowgate/flowgate/internal/redistest"
	"github.com/flowgate/flowgate/internal/testbin"
	"github.com/flowgate/flowgate/providers/meta"
	"github.com/flowgate/flowgate/providers/whatsapp"
)

// The end-to-end tests run the real gtc binary, built once per test binary, against a real
// Redis, a fake Graph API (httptest) and a bundle made by gtc setup.

const (
	e2eSecret = "e2e-app-secret"
	e2eToken  = "EAAe2e-token-0123456789"
	e2eAPI    = "e2e-admin-token-0123456789"
	e2eVerify = "e2e-verify-token"
	e2ePhone  = "123456789012345"
)

// gtcBinary builds cmd/gtc once for the test binary.
func gtcBinary(t *testing.T) string { return testbin.Build(t, ".") }

// graphMsg is one message request the fake Graph API received, from any channel: WhatsApp's
// Cloud API shapes or the Send API's of Messenger and Instagram.
type graphMsg struct {
	Path     string
	To       string // WhatsApp's to, or the Send API's recipient.id
	Type     string // WhatsApp's type
	Text     string // WhatsApp's text.body, or the Send API's message.text
	Template string
	Buttons  []string // WhatsApp's reply button ids, or the Send API's quick reply payloads
	// The Send API's messaging_type, tag and sender_action.
	MessagingType, Tag, Action string
	Body                       []byte
	Answered                   bool      // answered 200 (Meta accepted it)
	At                         time.Time // when the request arrived
}

// fakeGraph is the Graph API's messages endpoint for every channel: it answers with the
// channel's success shape, or with what hook decides.
type fakeGraph struct {
	srv  *httptest.Server
	mu   sync.Mutex
	msgs []graphMsg
	seq  int
	// hook, when set, may answer a request itself (status and body) or hold it (block until
	// the channel is closed; the answer is then the usual one).
	hook func(m graphMsg) (status int, body string, hold <-chan struct{})
}

func newFakeGraph(t *testing.T) *fakeGraph {
	g := &fakeGraph{}
	g.srv = httptest.NewServer(http.HandlerFunc(g.serve))
	t.Cleanup(g.srv.Close)
	return g
}

func (g *fakeGraph) serve(w http.ResponseWriter, r *http.Request) {
	at := time.Now()
	body, _ := io.ReadAll(r.Body)
	if r.Header.Get("Authorization") != "Bearer "+e2eToken {
		w.WriteHeader(401)
		fmt.Fprint(w, `{"error":{"message":"Invalid OAuth access token","type":"OAuthException","code":190}}`)
		return
	}
	var req struct {
		MessagingProduct string `json:"messaging_product"`
		To               string `json:"to"`
		Type             string `json:"type"`
		Text             struct{ Body string }
		Template         struct{ Name string }
		Interactive      struct {
			Action struct {
				Buttons []struct{ Reply struct{ ID string } }
			}
		}
		Recipient     struct{ ID string }
		MessagingType string `json:"messaging_type"`
		Tag           string
		SenderAction  string `json:"sender_action"`
		Message       struct {
			Text         string
			QuickReplies []struct{ Payload string } `json:"quick_replies"`
		}
	}
	json.Unmarshal(body, &req)
	whatsapp := req.MessagingProduct == "whatsapp"
	m := graphMsg{Path: r.URL.Path, To: req.To, Type: req.Type, Text: req.Text.Body, Template: req.Template.Name, Body: body,
		MessagingType: req.MessagingType, Tag: req.Tag, Action: req.SenderAction, At: at}
	for _, b := range req.Interactive.Action.Buttons {
		m.Buttons = append(m.Buttons, b.Reply.ID)
	}
	if !whatsapp {
		m.To, m.Text = req.Recipient.ID, req.Message.Text
		for _, q := range req.Message.QuickReplies {
			m.Buttons = append(m.Buttons, q.Payload)
		}
	}
	g.mu.Lock()
	hook := g.hook
	g.mu.Unlock()
	if hook != nil {
		status, answer, hold := hook(m)
		if hold != nil {
			select {
			case <-hold:
			case <-r.Context().Done():
				g.record(m, false)
				return
			}
		}
		if status != 0 {
			g.record(m, false)
			w.WriteHeader(status)
			fmt.Fprint(w, answer)
			return
		}
	}
	id := g.record(m, true)
	if !whatsapp {
		fmt.Fprintf(w, `{"recipient_id":%q,"message_id":%q}`, m.To, id)
		return
	}
	fmt.Fprintf(w, `{"messaging_product":"whatsapp","contacts":[{"input":%q,"wa_id":%q}],"messages":[{"id":%q}]}`, m.To, strings.TrimPrefix(m.To, "+"), id)
}

func (g *fakeGraph) record(m graphMsg, answered bool) string {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.seq++
	m.Answered = answered
	g.msgs = append(g.msgs, m)
	return fmt.Sprintf("wamid.out.%d", g.seq)
}

func (g *fakeGraph) setHook(h func(m graphMsg) (int, string, <-chan struct{})) {
	g.mu.Lock()
	g.hook = h
	g.mu.Unlock()
}

// to returns the messages Meta accepted for a user, in order.
func (g *fakeGraph) to(user string) []graphMsg {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []graphMsg
	for _, m := range g.msgs {
		if m.Answered && strings.TrimPrefix(m.To, "+") == user {
			out = append(out, m)
		}
	}
	return out
}

// arrivals returns when each request arrived.
func (g *fakeGraph) arrivals() []time.Time {
	g.mu.Lock()
	defer g.mu.Unlock()
	at := make([]time.Time, len(g.msgs))
	for i, m := range g.msgs {
		at[i] = m.At
	}
	return at
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// newBundle makes a bundle with gtc setup pointed at the fake Graph API, plus extra flow files.
func newBundle(t *testing.T, graphURL string, flows map[string]string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "bundle")
	answers := fmt.Sprintf(`{
  "tenant": "acme", "team": "support", "api_token": %q,
  "messaging-whatsapp": {"enabled": true, "public_base_url": "http://localhost:8080",
    "phone_number_id": %q, "access_token": "${WHATSAPP_TOKEN}", "verify_token": %q,
    "app_secret": "${META_APP_SECRET}", "business_account_id": "987654321098765",
    "api_base_url": %q}
}`, e2eAPI, e2ePhone, e2eVerify, graphURL)
	if _, err := bundle.Setup(context.Background(), []byte(answers), dir, bundle.SetupOptions{}); err != nil {
		t.Fatal(err)
	}
	for name, src := range flows {
		if err := os.WriteFile(filepath.Join(dir, "flows", name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// serveProc is a running gtc serve.
type serveProc struct {
	t    *testing.T
	cmd  *exec.Cmd
	addr string
	out  *syncBuffer
	done chan struct{}
	code int
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startServe runs gtc serve on the Redis at redisURL, on a free port, and waits until it is
// ready.
func startServe(t *testing.T, dir, redisURL, prefix string, extra ...string) *serveProc {
	t.Helper()
	return startServeOn(t, dir, []string{"--redis", redisURL}, prefix, extra...)
}

// startServeOn runs gtc serve on the store storeFlags name (--redis URL or --redis-cluster
// nodes), on a free port, and waits until it is ready.
func startServeOn(t *testing.T, dir string, storeFlags []string, prefix string, extra ...string) *serveProc {
	t.Helper()
	port, err := redistest.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	p := &serveProc{t: t, addr: fmt.Sprintf("127.0.0.1:%d", port), out: &syncBuffer{}, done: make(chan struct{})}
	args := append([]string{"serve", "--addr", p.addr}, storeFlags...)
	args = append(args, "--redis-prefix", prefix,
		"--lease", "1s", "--pair-burst", "45", "--pair-interval", "1ms", "--workers", "4", "--log-level", "debug")
	args = append(append(args, extra...), dir)
	p.cmd = exec.Command(gtcBinary(t), args...)
	// The store is the one storeFlags name, whatever the test's own environment says.
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool {
		return strings.HasPrefix(kv, "REDIS_URL=") || strings.HasPrefix(kv, "REDIS_CLUSTER=")
	})
	p.cmd.Env = append(env, "WHATSAPP_TOKEN="+e2eToken, "META_APP_SECRET="+e2eSecret)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.cmd.Wait()
		p.code = p.cmd.ProcessState.ExitCode()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.kill()
		if t.Failed() {
			t.Logf("gtc serve %s output:\n%s", p.addr, p.out.String())
		}
	})
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get("http://" + p.addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return p
			}
		}
		select {
		case <-p.done:
			t.Fatalf("gtc serve exited with %d:\n%s", p.code, p.out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("gtc serve not ready:\n%s", p.out.String())
		}
		time.Sleep(30 * time.Millisecond)
	}
}

// kill ends the process with SIGKILL, as a crash or the OOM killer would.
func (p *serveProc) kill() {
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// stop asks the process to stop (SIGTERM) and waits for it.
func (p *serveProc) stop() int {
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(40 * time.Second):
		p.t.Fatalf("gtc serve did not stop on SIGTERM:\n%s", p.out.String())
	}
	return p.code
}

// webhook renders a text message from user as WhatsApp would deliver it.
func webhook(t *testing.T, ev msg.Event) []byte {
	t.Helper()
	ev.Channel, ev.Account = msg.WhatsApp, e2ePhone
	if ev.Kind == "" {
		ev.Kind = msg.KindText
	}
	if ev.Time.IsZero() {
		ev.Time = time.Now()
	}
	body, err := whatsapp.WebhookBody(&ev)
	if err != nil {
		t.Fatal(err)
	}
	return body
}

// post sends a WhatsApp webhook body signed with secret ("" for none) and returns the status.
func post(addr string, body []byte, secret string) (int, error) {
	return postTo(addr, "whatsapp", body, secret)
}

// postTo sends a webhook body to a channel's route of acme/support, signed with secret ("" for
// none), and returns the status.
func postTo(addr, channel string, body []byte, secret string) (int, error) {
	req, err := http.NewRequest(http.MethodPost, "http://"+addr+"/webhook/"+channel+"/acme/support", bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	if secret != "" {
		req.Header.Set(meta.SignatureHeader, meta.SignatureHeaderValue(body, secret))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// mustPost posts a signed webhook and wants 200.
func mustPost(t *testing.T, addr string, body []byte) {
	t.Helper()
	code, err := post(addr, body, e2eSecret)
	if err != nil || code != 200 {
		t.Fatalf("webhook: %d, %v", code, err)
	}
}

// postRetrying posts like Meta does: on anything but 200 it retries with backoff, for up to
// limit.
func postRetrying(addr string, body []byte, limit time.Duration) (codes []int, err error) {
	deadline := time.Now().Add(limit)
	delay := 50 * time.Millisecond
	for {
		code, err := post(addr, body, e2eSecret)
		codes = append(codes, code)
		if err == nil && code == 200 {
			return codes, nil
		}
		if time.Now().After(deadline) {
			return codes, fmt.Errorf("still %d (%v) after %s", code, err, limit)
		}
		time.Sleep(delay)
		delay = min(delay*2, 500*time.Millisecond)
	}
}

// api calls the admin API and decodes its JSON answer.
func api(t *testing.T, addr, method, path, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, "http://"+addr+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+e2eAPI)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// dialOK reports whether something listens on addr.
func dialOK(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// newBackend is the service a flow's http node calls: it runs onRequest, then answers.
func newBackend(t *testing.T, onRequest func()) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		onRequest()
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"state": "shipped"}`)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// metricValue reads one sample from a process's /metrics (0 when absent).
func metricValue(t *testing.T, addr, sample string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, sample+" "); ok {
			var v float64
			fmt.Sscan(rest, &v)
			return v
		}
	}
	return 0
}
