package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/flowgate/flowgate/engine"
	"github.com/flowgate/flowgate/engine/msg"
	"github.com/flowgate/flowgate/pipeline"
	"github.com/flowgate/flowgate/providers/meta"
	"github.com/flowgate/flowgate/providers/whatsapp"
	"github.com/flowgate/flowgate/server"
	"github.com/flowgate/flowgate/store"
)

// The secrets of the test site; none of them may ever reach a log line or a response.
const (
	appSecret   = "app-secret-7f3a9c"
	verifyToken = "verify-token-51d2e8"
	apiToken    = "api-token-c0ffee42"
	wrongToken  = "wrong-token-deadbeef"
)

const (
	tenant  = "acme"
	team    = "support"
	account = "106540352242922" // phone_number_id of the recorded webhooks
	user    = "16505551234"     // their sender
)

// testFlow answers any text with "hello", and hands the conversation to a human on "human".
const testFlow = `
name: greet
start: hello
nodes:
  - {id: hello, type: reply, config: {message: "hello"}}
  - id: human
    type: handoff
    config: {queue: support, message: "connecting you"}
triggers:
  - {type: message, keywords: [human], target: human, priority: 10}
  - {type: message, target: hello}
`

// fakeSender records the messages sent through it.
type fakeSender struct {
	mu   sync.Mutex
	sent []msg.Message
}

func (f *fakeSender) Send(_ context.Context, m *msg.Message) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sent = append(f.sent, *m)
	return []string{fmt.Sprintf("wamid.out%d", len(f.sent))}, nil
}

// texts returns the bodies of the text messages sent, in order.
func (f *fakeSender) texts() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, m := range f.sent {
		if m.Text != nil {
			out = append(out, m.To+": "+m.Text.Body)
		}
	}
	return out
}

// flakyStore is the real store with an Enqueue and a Ping that fail while down is set.
type flakyStore struct {
	store.Store
	down atomic.Bool
}

var errDown = errors.New("connection refused")

func (f *flakyStore) Enqueue(ctx context.Context, items []store.Item, ttl time.Duration, now time.Time) ([]bool, error) {
	if f.down.Load() {
		return nil, errDown
	}
	return f.Store.Enqueue(ctx, items, ttl, now)
}

func (f *flakyStore) Ping(ctx context.Context) error {
	if f.down.Load() {
		return errDown
	}
	return f.Store.Ping(ctx)
}

// syncBuffer is a log sink safe for the server's goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// harness is a server over a real (embedded) store, a pipeline running testFlow and a fake
// sender, served through a real HTTP server.
type harness struct {
	t      *testing.T
	now    atomic.Int64 // the pipeline's clock, Unix nanoseconds
	store  *flakyStore
	close  func() error // stops the embedded store
	p      *pipeline.Pipeline
	ch     *pipeline.Channel
	sender *fakeSender
	srv    *server.Server
	url    string
	logs   *syncBuffer
	record string
}

type harnessOptions struct {
	record   bool
	insecure bool
	site     func(*server.Site)
}

func newHarness(t *testing.T, o harnessOptions) *harness {
	t.Helper()
	h := &harness{t: t, sender: &fakeSender{}, logs: &syncBuffer{}}
	h.now.Store(time.Unix(1749416383+60, 0).UnixNano()) // a minute after the recorded text message
	clock := func() time.Time { return time.Unix(0, h.now.Load()) }
	rs, closeStore, err := store.NewEmbedded(store.EmbeddedOptions{Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	var closeOnce sync.Once
	h.close = func() error {
		var err error
		closeOnce.Do(func() { err = closeStore() })
		return err
	}
	t.Cleanup(func() { _ = h.close() })
	h.store = &flakyStore{Store: rs}

	f, ds := engine.ParseFlow("greet.yaml", []byte(testFlow))
	if ds.HasErrors() {
		t.Fatal(ds)
	}
	e, ds := engine.New(engine.Config{Flows: []*engine.Flow{f}, Settings: engine.DefaultSettings()})
	if ds.HasErrors() {
		t.Fatal(ds)
	}
	log := slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h.ch = &pipeline.Channel{Name: msg.WhatsApp, Tenant: tenant, Team: team, Account: account, Parse: whatsapp.Parse, Sender: h.sender}
	h.p = pipeline.New(h.store, &pipeline.Bundle{Engine: e, Channels: []*pipeline.Channel{h.ch}})
	h.p.Now, h.p.Log = clock, log

	m := server.NewMetrics(prometheus.NewRegistry(), h.store)
	h.p.OnReport = m.Observe
	opts := server.Options{Pipeline: h.p, Store: h.store, Log: log, Metrics: m, InsecureSkipSignature: o.insecure}
	if o.record {
		h.record = t.TempDir()
		opts.RecordDir = h.record
	}
	h.srv = server.New(opts)
	site := &server.Site{
		DefaultTenant: tenant, DefaultTeam: team, APIToken: apiToken,
		Endpoints: []server.Endpoint{{Channel: h.ch, Webhook: whatsapp.Provider{}, AppSecret: appSecret, VerifyToken: verifyToken}},
	}
	if o.site != nil {
		o.site(site)
	}
	h.srv.Swap(site)
	ts := httptest.NewServer(h.srv.Handler())
	t.Cleanup(ts.Close)
	h.url = ts.URL
	t.Cleanup(func() {
		logs := h.logs.String()
		if t.Failed() || os.Getenv("FLOWGATE_TEST_LOGS") != "" {
			t.Logf("server log:\n%s", logs)
		}
		for _, s := range []string{appSecret, verifyToken, apiToken, wrongToken} {
			if strings.Contains(logs, s) {
				t.Errorf("a secret reached the log:\n%s", logs)
			}
		}
	})
	return h
}

// do sends a request and returns the status and body. Every answer is checked for secrets.
func (h *harness) do(method, path string, body []byte, header http.Header) (int, string) {
	h.t.Helper()
	req, err := http.NewRequest(method, h.url+path, bytes.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatal(err)
	}
	for _, s := range []string{appSecret, apiToken, wrongToken} {
		if bytes.Contains(b, []byte(s)) {
			h.t.Errorf("%s %s: the answer holds a secret: %s", method, path, b)
		}
	}
	return resp.StatusCode, string(b)
}

// advance moves the pipeline's clock.
func (h *harness) advance(d time.Duration) { h.now.Add(int64(d)) }

// drain processes everything queued and returns the reports.
func (h *harness) drain() []*pipeline.Report {
	h.t.Helper()
	reps, err := h.p.Drain(context.Background())
	if err != nil {
		h.t.Fatal(err)
	}
	return reps
}

// scrape returns the /metrics page.
func (h *harness) scrape() string {
	h.t.Helper()
	status, body := h.do("GET", "/metrics", nil, nil)
	if status != http.StatusOK {
		h.t.Fatalf("/metrics: %d %s", status, body)
	}
	return body
}

// webhook reads a recorded webhook body.
func webhook(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", "webhooks", "whatsapp", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// textWebhook is the recorded text webhook with another message id and text.
func textWebhook(t *testing.T, id, text string) []byte {
	t.Helper()
	b := webhook(t, "text.json")
	b = bytes.Replace(b, []byte("wamid.HBgLMTY1MDU1NTEyMzQVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA="), []byte(id), 1)
	return bytes.Replace(b, []byte("Does it come in another color?"), []byte(text), 1)
}

func signed(body []byte, secret string) http.Header {
	return http.Header{meta.SignatureHeader: {meta.SignatureHeaderValue(body, secret)}}
}

func bearerHeader(token string) http.Header {
	return http.Header{"Authorization": {"Bearer " + token}, "Content-Type": {"application/json"}}
}

func decode[T any](t *testing.T, body string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
	return v
}
