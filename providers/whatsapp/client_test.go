package whatsapp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flowgate/flowgate/engine/msg"
	"github.com/flowgate/flowgate/internal/testclock"
	"github.com/flowgate/flowgate/providers/meta"
)

const (
	testToken = "EAAGm0PX4ZCpsBAKZBtestTOKENdoNotLog1234567890"
	testPNID  = "106540352242922"
	wamid1    = "wamid.HBgLMTY1MDU1NTEyMzQVAgARGBI1RjQyNUE3NEYxMzAzMzQ5MkEA"
	wamid2    = "wamid.HBgLMTY1MDU1NTEyMzQVAgARGBI2QjdEMzE0RjY0NjE1QzEzNDcA"
)

// Meta's answers, in the shapes the Cloud API gives: a sent message, and the error object.
const (
	okBody   = `{"messaging_product":"whatsapp","contacts":[{"input":"+16505551234","wa_id":"16505551234"}],"messages":[{"id":"` + wamid1 + `"}]}`
	ok2Body  = `{"messaging_product":"whatsapp","contacts":[{"input":"+16505551234","wa_id":"16505551234"}],"messages":[{"id":"` + wamid2 + `"}]}`
	readBody = `{"success":true}`

	err4Body      = `{"error":{"message":"(#4) Application request limit reached","type":"OAuthException","is_transient":true,"code":4,"fbtrace_id":"AbCdEf4"}}`
	err130429Body = `{"error":{"message":"(#130429) Rate limit hit","type":"OAuthException","code":130429,"error_data":{"messaging_product":"whatsapp","details":"Cloud API message throughput has been reached."},"error_subcode":2494055,"fbtrace_id":"Az8or2yhqkZfEZ-_4Qn_Bam"}}`
	err131056Body = `{"error":{"message":"(#131056) (Business Account, Consumer Account) pair rate limit hit","type":"OAuthException","code":131056,"error_data":{"messaging_product":"whatsapp","details":"Message failed to send because there were too many messages sent from this phone number to the same phone number in a short period of time."},"fbtrace_id":"A1b2C3d4"}}`
	err2Body      = `{"error":{"message":"(#2) Service temporarily unavailable","type":"OAuthException","is_transient":true,"code":2,"fbtrace_id":"Ex2"}}`
	err131000Body = `{"error":{"message":"(#131000) Something went wrong","type":"OAuthException","code":131000,"error_data":{"messaging_product":"whatsapp","details":"Something went wrong"},"fbtrace_id":"S0m3"}}`
	err131047Body = `{"error":{"message":"(#131047) Re-engagement message","type":"OAuthException","code":131047,"error_data":{"messaging_product":"whatsapp","details":"Message failed to send because more than 24 hours have passed since the customer last replied to this number."},"fbtrace_id":"ReEng4g3"}}`
	err190Body    = `{"error":{"message":"Error validating access token: Session has expired on Tuesday, 01-Jul-25 10:00:00 PDT. The token ` + testToken + ` is invalid.","type":"OAuthException","code":190,"error_subcode":463,"fbtrace_id":"T0k3nX"}}`
	err100Body    = `{"error":{"message":"(#100) Invalid parameter","type":"OAuthException","code":100,"error_data":{"messaging_product":"whatsapp","details":"Parameter 'to' is not a valid phone number"},"fbtrace_id":"P4r4m"}}`
	htmlBody      = `<html><body><h1>502 Bad Gateway</h1></body></html>`
)

type reply struct {
	status int
	body   string
	header http.Header
	block  bool // hold the request until its context ends (a timeout)
}

type seen struct {
	method, path, auth, contentType string
	body                            map[string]any
	raw                             []byte
}

// fakeGraph is an httptest Graph API answering scripted replies in order and checking what
// every request looks like.
type fakeGraph struct {
	t       *testing.T
	srv     *httptest.Server
	mu      sync.Mutex
	replies []reply
	seen    []seen
	token   string // the bearer token expected
	release chan struct{}
}

func newFakeGraph(t *testing.T, replies ...reply) *fakeGraph {
	g := &fakeGraph{t: t, replies: replies, token: testToken, release: make(chan struct{})}
	g.srv = httptest.NewServer(http.HandlerFunc(g.serve))
	t.Cleanup(func() {
		close(g.release)
		g.srv.Close()
	})
	return g
}

func (g *fakeGraph) serve(w http.ResponseWriter, r *http.Request) {
	raw, _ := io.ReadAll(r.Body)
	s := seen{method: r.Method, path: r.URL.Path, auth: r.Header.Get("Authorization"), contentType: r.Header.Get("Content-Type"), raw: raw}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &s.body); err != nil {
			g.t.Errorf("request body is not JSON: %s", raw)
		}
	}
	g.mu.Lock()
	g.seen = append(g.seen, s)
	expectToken := g.token
	var rep reply
	if len(g.replies) == 0 {
		g.t.Errorf("unexpected request %d: %s %s", len(g.seen), r.Method, r.URL.Path)
		rep = reply{status: 500, body: `{}`}
	} else {
		rep, g.replies = g.replies[0], g.replies[1:]
	}
	g.mu.Unlock()

	if s.auth != "Bearer "+expectToken {
		g.t.Errorf("Authorization = %q", s.auth)
		w.WriteHeader(401)
		return
	}
	switch r.Method {
	case http.MethodPost:
		if s.path != "/v21.0/"+testPNID+"/messages" {
			g.t.Errorf("path = %s", s.path)
		}
		if s.contentType != "application/json" {
			g.t.Errorf("Content-Type = %q", s.contentType)
		}
		if s.body["messaging_product"] != "whatsapp" {
			g.t.Errorf("messaging_product = %v", s.body["messaging_product"])
		}
		if s.body["status"] == "read" {
			if s.body["message_id"] == nil || s.body["to"] != nil {
				g.t.Errorf("read receipt = %s", raw)
			}
		} else if (s.body["to"] == nil) == (s.body["recipient"] == nil) || s.body["type"] == nil || s.body[s.body["type"].(string)] == nil {
			g.t.Errorf("message body lacks to (or recipient)/type/content, or has both to and recipient: %s", raw)
		}
	case http.MethodGet:
		if s.path != "/v21.0/"+testPNID {
			g.t.Errorf("path = %s", s.path)
		}
	default:
		g.t.Errorf("method %s", r.Method)
	}
	if rep.block {
		select {
		case <-r.Context().Done():
		case <-g.release:
		}
		return
	}
	for k, vs := range rep.header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(rep.status)
	io.WriteString(w, rep.body)
}

func (g *fakeGraph) requests() []seen {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]seen(nil), g.seen...)
}

// halfJitter makes full jitter deterministic: the middle of [0, n).
func halfJitter(n time.Duration) time.Duration { return n / 2 }

type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func newTestClient(g *fakeGraph, clock *testclock.Clock, logs io.Writer, tweak func(*Config)) *Client {
	cfg := Config{
		PhoneNumberID: testPNID,
		ClientConfig: meta.ClientConfig{
			AccessToken: testToken,
			BaseURL:     g.srv.URL + "/",
			HTTPClient:  g.srv.Client(),
			Clock:       clock,
			Jitter:      halfJitter,
			Logger:      slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		},
	}
	if tweak != nil {
		tweak(&cfg)
	}
	return NewClient(cfg)
}

func textMsg() *msg.Message {
	return &msg.Message{To: "+16505551234", Text: &msg.Text{Body: "Your order A-1042 has shipped."}}
}

func ms(n int) time.Duration { return time.Duration(n) * time.Millisecond }

func sec(n int) time.Duration { return time.Duration(n) * time.Second }

func TestClientSend(t *testing.T) {
	retryAfter := func(v string) http.Header { return http.Header{"Retry-After": {v}} }
	tests := []struct {
		name     string
		replies  []reply
		m        *msg.Message
		tweak    func(*Config)
		ids      []string
		attempts int
		sleeps   []time.Duration // backoff delays asked of the clock, in order
		check    func(t *testing.T, err error)
	}{
		{
			name: "success", replies: []reply{{status: 200, body: okBody}},
			ids: []string{wamid1}, attempts: 1,
		},
		{
			name:    "429 then success honours Retry-After",
			replies: []reply{{status: 429, body: err4Body, header: retryAfter("2")}, {status: 200, body: okBody}},
			ids:     []string{wamid1}, attempts: 2, sleeps: []time.Duration{sec(2)},
		},
		{
			name:    "429 without Retry-After uses jittered backoff",
			replies: []reply{{status: 429, body: err4Body}, {status: 200, body: okBody}},
			ids:     []string{wamid1}, attempts: 2, sleeps: []time.Duration{ms(250)},
		},
		{
			name:    "130429 backoff then success",
			replies: []reply{{status: 400, body: err130429Body}, {status: 400, body: err130429Body}, {status: 200, body: okBody}},
			ids:     []string{wamid1}, attempts: 3, sleeps: []time.Duration{ms(250), ms(500)},
		},
		{
			name:    "131056 pair limit backs off 4^n seconds",
			replies: []reply{{status: 400, body: err131056Body}, {status: 400, body: err131056Body}, {status: 400, body: err131056Body}, {status: 200, body: okBody}},
			ids:     []string{wamid1}, attempts: 4, sleeps: []time.Duration{sec(1), sec(4), sec(16)},
		},
		{
			name:    "5xx retried then success",
			replies: []reply{{status: 503, body: err2Body}, {status: 502, body: htmlBody}, {status: 500, body: err131000Body}, {status: 200, body: okBody}},
			ids:     []string{wamid1}, attempts: 4, sleeps: []time.Duration{ms(250), ms(500), ms(1000)},
		},
		{
			name:     "attempts bounded by MaxAttempts",
			replies:  []reply{{status: 503, body: err2Body}, {status: 503, body: err2Body}, {status: 503, body: err2Body}, {status: 503, body: err2Body}, {status: 503, body: err2Body}},
			attempts: 5, sleeps: []time.Duration{ms(250), ms(500), ms(1000), ms(2000)},
			check: func(t *testing.T, err error) {
				e := asError(t, err)
				if e.Code != 2 || e.Class != meta.ClassTransient || e.HTTPStatus != 503 {
					t.Errorf("error = %+v", e)
				}
				if !strings.Contains(err.Error(), "attempt 5 of 5") {
					t.Errorf("error = %v", err)
				}
			},
		},
		{
			name:    "backoff capped by BackoffMax",
			tweak:   func(c *Config) { c.MaxAttempts = 7; c.BackoffMax = 3 * time.Second; c.MaxRetryTime = time.Minute },
			replies: []reply{{status: 503, body: err2Body}, {status: 503, body: err2Body}, {status: 503, body: err2Body}, {status: 503, body: err2Body}, {status: 503, body: err2Body}, {status: 503, body: err2Body}, {status: 200, body: okBody}},
			ids:     []string{wamid1}, attempts: 7, sleeps: []time.Duration{ms(250), ms(500), ms(1000), ms(1500), ms(1500), ms(1500)},
		},
		{
			name:    "retries bounded by MaxRetryTime",
			replies: []reply{{status: 400, body: err131056Body}, {status: 400, body: err131056Body}, {status: 400, body: err131056Body}, {status: 400, body: err131056Body}},
			// 1 + 4 + 16 = 21 s spent; the next delay (64 s) would end past 30 s.
			attempts: 4, sleeps: []time.Duration{sec(1), sec(4), sec(16)},
			check: func(t *testing.T, err error) {
				if e := asError(t, err); e.Code != 131056 || e.Class != meta.ClassThrottle {
					t.Errorf("error = %+v", e)
				}
				if !strings.Contains(err.Error(), "retry time 30s exhausted") {
					t.Errorf("error = %v", err)
				}
			},
		},
		{
			name:     "Retry-After beyond the budget stops at once",
			replies:  []reply{{status: 429, body: err4Body, header: retryAfter("120")}},
			attempts: 1,
			check: func(t *testing.T, err error) {
				if e := asError(t, err); e.RetryAfter != sec(120) || e.Class != meta.ClassThrottle {
					t.Errorf("error = %+v", e)
				}
			},
		},
		{
			name:     "retry_on_rate_limit false: throttle not retried",
			m:        &msg.Message{To: "+16505551234", Text: &msg.Text{Body: "hi"}, NoRetryOnRateLimit: true},
			replies:  []reply{{status: 400, body: err130429Body}},
			attempts: 1,
			check: func(t *testing.T, err error) {
				if e := asError(t, err); e.Code != 130429 || e.Class != meta.ClassThrottle || e.Subcode != 2494055 || e.Details != "Cloud API message throughput has been reached." {
					t.Errorf("error = %+v", e)
				}
			},
		},
		{
			name:    "retry_on_rate_limit false: transient still retried",
			m:       &msg.Message{To: "+16505551234", Text: &msg.Text{Body: "hi"}, NoRetryOnRateLimit: true},
			replies: []reply{{status: 503, body: err2Body}, {status: 200, body: okBody}},
			ids:     []string{wamid1}, attempts: 2, sleeps: []time.Duration{ms(250)},
		},
		{
			name:     "131047 is the window-closed error, not retried",
			replies:  []reply{{status: 400, body: err131047Body}},
			attempts: 1,
			check: func(t *testing.T, err error) {
				if !errors.Is(err, msg.ErrWindowClosed) {
					t.Errorf("errors.Is(err, msg.ErrWindowClosed) = false for %v", err)
				}
				e := asError(t, err)
				if e.Code != 131047 || e.Class != meta.ClassPermanent || e.Title != "Re-engagement message" || e.TraceID != "ReEng4g3" || e.Retryable() {
					t.Errorf("error = %+v", e)
				}
			},
		},
		{
			name:     "190 is auth, not retried, token scrubbed",
			replies:  []reply{{status: 401, body: err190Body}},
			attempts: 1,
			check: func(t *testing.T, err error) {
				e := asError(t, err)
				if e.Code != 190 || e.Subcode != 463 || e.Class != meta.ClassAuth || e.HTTPStatus != 401 || e.Type != "OAuthException" {
					t.Errorf("error = %+v", e)
				}
				if !strings.Contains(e.Message, "[redacted]") {
					t.Errorf("message = %q", e.Message)
				}
				if errors.Is(err, msg.ErrWindowClosed) {
					t.Error("190 matches ErrWindowClosed")
				}
			},
		},
		{
			name:     "100 is permanent, not retried",
			replies:  []reply{{status: 400, body: err100Body}},
			attempts: 1,
			check: func(t *testing.T, err error) {
				e := asError(t, err)
				if e.Code != 100 || e.Class != meta.ClassPermanent || e.Details != "Parameter 'to' is not a valid phone number" || e.Title != "Invalid parameter" {
					t.Errorf("error = %+v", e)
				}
			},
		},
		{
			name:     "2xx without a message id is not retried",
			replies:  []reply{{status: 200, body: `{"messaging_product":"whatsapp"}`}},
			attempts: 1,
			check: func(t *testing.T, err error) {
				if e := asError(t, err); e.Class != meta.ClassPermanent {
					t.Errorf("error = %+v", e)
				}
			},
		},
		{
			name:     "split text sends every part",
			m:        &msg.Message{To: "+16505551234", Text: &msg.Text{Body: strings.Repeat("palavra ", 600)}},
			replies:  []reply{{status: 200, body: okBody}, {status: 200, body: ok2Body}},
			ids:      []string{wamid1, wamid2},
			attempts: 2,
		},
		{
			name:     "split text failing on part 2 returns part 1's id",
			m:        &msg.Message{To: "+16505551234", Text: &msg.Text{Body: strings.Repeat("palavra ", 600)}},
			replies:  []reply{{status: 200, body: okBody}, {status: 400, body: err100Body}},
			ids:      []string{wamid1},
			attempts: 2,
			check: func(t *testing.T, err error) {
				if !strings.Contains(err.Error(), "part 2 of 2") {
					t.Errorf("error = %v", err)
				}
			},
		},
		{
			name:     "mark as read",
			m:        &msg.Message{MarkRead: "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBJDQjZCMzlEQUE4OTJBMTE4RTUA"},
			replies:  []reply{{status: 200, body: readBody}},
			attempts: 1,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := newFakeGraph(t, tc.replies...)
			clock := testclock.New()
			logs := &logBuffer{}
			c := newTestClient(g, clock, logs, tc.tweak)
			m := tc.m
			if m == nil {
				m = textMsg()
			}
			ids, err := c.Send(context.Background(), m)
			if (err != nil) != (tc.check != nil) {
				t.Fatalf("err = %v", err)
			}
			if tc.check != nil {
				tc.check(t, err)
				if strings.Contains(err.Error(), testToken) {
					t.Errorf("error text contains the access token: %v", err)
				}
			}
			if !reflect.DeepEqual(ids, tc.ids) {
				t.Errorf("ids = %q, want %q", ids, tc.ids)
			}
			if n := len(g.requests()); n != tc.attempts {
				t.Errorf("%d requests, want %d", n, tc.attempts)
			}
			if got := clock.Sleeps(); !reflect.DeepEqual(got, tc.sleeps) && !(len(got) == 0 && len(tc.sleeps) == 0) {
				t.Errorf("sleeps = %v, want %v", got, tc.sleeps)
			}
			if strings.Contains(logs.String(), testToken) {
				t.Errorf("logs contain the access token:\n%s", logs.String())
			}
			if len(tc.sleeps) > 0 && !strings.Contains(logs.String(), "retrying request") {
				t.Errorf("retries not logged:\n%s", logs.String())
			}
			// Every attempt of one request posts the same body.
			reqs := g.requests()
			if parts, _ := Render(m); len(parts) == 1 {
				for i := 1; i < len(reqs); i++ {
					if !bytes.Equal(reqs[i].raw, reqs[0].raw) {
						t.Errorf("attempt %d posted a different body", i+1)
					}
				}
			}
		})
	}
}

func asError(t *testing.T, err error) *meta.Error {
	t.Helper()
	var e *meta.Error
	if !errors.As(err, &e) {
		t.Fatalf("%v (%T) is not a *meta.Error", err, err)
	}
	return e
}

// TestClientTimeouts covers a Graph API that does not answer: the per-attempt timeout is
// transient and retried; the caller's deadline stops everything.
func TestClientTimeouts(t *testing.T) {
	t.Run("attempt timeout retried, then bounded", func(t *testing.T) {
		g := newFakeGraph(t, reply{block: true}, reply{block: true})
		clock := testclock.New()
		c := newTestClient(g, clock, io.Discard, func(c *Config) { c.RequestTimeout = 20 * time.Millisecond; c.MaxAttempts = 2 })
		_, err := c.Send(context.Background(), textMsg())
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v, want a deadline", err)
		}
		if e := asError(t, err); e.Class != meta.ClassTransient || e.HTTPStatus != 0 {
			t.Errorf("error = %+v", e)
		}
		if n := len(g.requests()); n != 2 {
			t.Errorf("%d requests, want 2", n)
		}
		if got := clock.Sleeps(); !reflect.DeepEqual(got, []time.Duration{ms(250)}) {
			t.Errorf("sleeps = %v", got)
		}
	})
	t.Run("attempt timeout then success", func(t *testing.T) {
		g := newFakeGraph(t, reply{block: true}, reply{status: 200, body: okBody})
		c := newTestClient(g, testclock.New(), io.Discard, func(c *Config) { c.RequestTimeout = 20 * time.Millisecond })
		ids, err := c.Send(context.Background(), textMsg())
		if err != nil || len(ids) != 1 {
			t.Fatalf("ids %v, err %v", ids, err)
		}
	})
	t.Run("caller deadline is not retried", func(t *testing.T) {
		g := newFakeGraph(t, reply{block: true})
		clock := testclock.New()
		logs := &logBuffer{}
		c := newTestClient(g, clock, logs, nil)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		defer cancel()
		_, err := c.Send(ctx, textMsg())
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v", err)
		}
		if n := len(g.requests()); n != 1 {
			t.Errorf("%d requests, want 1", n)
		}
		if len(clock.Sleeps()) != 0 {
			t.Errorf("slept %v", clock.Sleeps())
		}
		if strings.Contains(logs.String(), "retrying") {
			t.Errorf("a retry was announced after the caller gave up:\n%s", logs)
		}
	})
	t.Run("cancelled while backing off", func(t *testing.T) {
		g := newFakeGraph(t, reply{status: 503, body: err2Body})
		clock := testclock.New()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		clock.OnSleep = func(time.Duration) { cancel() }
		c := newTestClient(g, clock, io.Discard, nil)
		_, err := c.Send(ctx, textMsg())
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v", err)
		}
		if e := asError(t, err); e.Code != 2 { // the Graph error is kept alongside
			t.Errorf("error = %+v", e)
		}
		if n := len(g.requests()); n != 1 {
			t.Errorf("%d requests, want 1", n)
		}
	})
}

func TestClientCheck(t *testing.T) {
	g := newFakeGraph(t,
		reply{status: 200, body: `{"verified_name":"Lucky Shrub","code_verification_status":"VERIFIED","display_phone_number":"+1 555-078-3881","quality_rating":"GREEN","id":"` + testPNID + `"}`},
		reply{status: 401, body: err190Body},
	)
	c := newTestClient(g, testclock.New(), io.Discard, nil)
	if err := c.Check(context.Background()); err != nil {
		t.Fatal(err)
	}
	err := c.Check(context.Background())
	if e := asError(t, err); e.Code != 190 || e.Class != meta.ClassAuth {
		t.Errorf("error = %+v", e)
	}
	if strings.Contains(err.Error(), testToken) {
		t.Errorf("error contains the token: %v", err)
	}
	reqs := g.requests()
	if len(reqs) != 2 || reqs[0].method != http.MethodGet || reqs[0].path != "/v21.0/"+testPNID {
		t.Errorf("requests = %+v", reqs)
	}
}

func TestClientTokenRotation(t *testing.T) {
	g := newFakeGraph(t, reply{status: 200, body: okBody}, reply{status: 200, body: ok2Body})
	c := newTestClient(g, testclock.New(), io.Discard, nil)
	if _, err := c.Send(context.Background(), textMsg()); err != nil {
		t.Fatal(err)
	}
	g.mu.Lock()
	g.token = "EAAnewROTATEDtoken"
	g.mu.Unlock()
	c.SetAccessToken("EAAnewROTATEDtoken")
	if _, err := c.Send(context.Background(), textMsg()); err != nil {
		t.Fatal(err)
	}
	if r := g.requests(); r[1].auth != "Bearer EAAnewROTATEDtoken" {
		t.Errorf("auth after rotation = %q", r[1].auth)
	}
}

func TestClientRefusesBadInput(t *testing.T) {
	g := newFakeGraph(t)
	c := newTestClient(g, testclock.New(), io.Discard, nil)
	if _, err := c.Send(context.Background(), &msg.Message{To: "1"}); !errors.Is(err, ErrInvalidMessage) {
		t.Errorf("empty message: %v", err)
	}
	c = newTestClient(g, testclock.New(), io.Discard, func(c *Config) { c.AccessToken = "" })
	if _, err := c.Send(context.Background(), textMsg()); !errors.Is(err, meta.ErrNotConfigured) {
		t.Errorf("no token: %v", err)
	}
	if err := c.Check(context.Background()); !errors.Is(err, meta.ErrNotConfigured) {
		t.Errorf("check without token: %v", err)
	}
	c = newTestClient(g, testclock.New(), io.Discard, func(c *Config) { c.PhoneNumberID = "" })
	if _, err := c.Send(context.Background(), textMsg()); !errors.Is(err, meta.ErrNotConfigured) {
		t.Errorf("no phone number id: %v", err)
	}
	if n := len(g.requests()); n != 0 {
		t.Errorf("%d requests sent", n)
	}
}

// TestClientPacesRecipient checks that Send goes through the pair pacer: with a burst of 2,
// the third message to one user waits PairInterval, a message to another user does not.
func TestClientPacesRecipient(t *testing.T) {
	g := newFakeGraph(t, reply{status: 200, body: okBody}, reply{status: 200, body: okBody}, reply{status: 200, body: okBody}, reply{status: 200, body: okBody})
	clock := testclock.New()
	c := newTestClient(g, clock, io.Discard, func(c *Config) { c.PairBurst = 2 })
	other := &msg.Message{To: "+447700900123", Text: &msg.Text{Body: "hi"}}
	for i, m := range []*msg.Message{textMsg(), textMsg(), other} {
		if _, err := c.Send(context.Background(), m); err != nil {
			t.Fatal(err)
		}
		if len(clock.Sleeps()) != 0 {
			t.Fatalf("message %d waited %v", i, clock.Sleeps())
		}
	}
	if _, err := c.Send(context.Background(), textMsg()); err != nil {
		t.Fatal(err)
	}
	if got := clock.Sleeps(); !reflect.DeepEqual(got, []time.Duration{6 * time.Second}) {
		t.Errorf("sleeps = %v, want [6s]", got)
	}
}

// TestClientRedactsTokenInCutSnippet: a proxy's error page that echoes the token is cut to a
// short snippet for the error text; the cut must not leave a piece of the token behind.
func TestClientRedactsTokenInCutSnippet(t *testing.T) {
	page := strings.Repeat("x", 160) + " Authorization: Bearer " + testToken
	g := newFakeGraph(t, reply{status: 403, body: page})
	c := newTestClient(g, testclock.New(), io.Discard, nil)
	_, err := c.Send(context.Background(), textMsg())
	if err == nil {
		t.Fatal("Send succeeded")
	}
	if strings.Contains(err.Error(), testToken[:10]) {
		t.Errorf("a piece of the token leaks: %v", err)
	}
}

// TestClientSendUser: a message to a business-scoped user id goes in "recipient", and the user
// id Meta answers with comes back with the wamid; an answer without one gives none.
func TestClientSendUser(t *testing.T) {
	const uid = "US.13491208655302741918"
	g := newFakeGraph(t,
		reply{status: 200, body: `{"messaging_product":"whatsapp","contacts":[{"input":"` + uid + `","user_id":"` + uid + `"}],"messages":[{"id":"` + wamid1 + `"}]}`},
		reply{status: 200, body: okBody})
	c := newTestClient(g, testclock.New(), io.Discard, nil)
	ids, userID, err := c.SendUser(context.Background(), &msg.Message{To: uid, Text: &msg.Text{Body: "hi"}})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(ids, []string{wamid1}) || userID != uid {
		t.Errorf("ids %v, user id %q", ids, userID)
	}
	if got := g.requests()[0].body["recipient"]; got != uid {
		t.Errorf("recipient = %v", got)
	}
	if _, userID, err = c.SendUser(context.Background(), textMsg()); err != nil || userID != "" {
		t.Errorf("answer without user id: %q, %v", userID, err)
	}
}
