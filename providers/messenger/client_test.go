package messenger

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flowgate/flowgate/engine/msg"
	"github.com/flowgate/flowgate/internal/testclock"
	"github.com/flowgate/flowgate/providers/channel"
	"github.com/flowgate/flowgate/providers/meta"
)

const testToken = "EAAGm0PX4ZCpsBAKZBpageTOKENdoNotLog1234567890"

// Meta's answers to the Send API, in the shapes of its reference.
const (
	errWindowBody = `{"error":{"message":"(#10) This message is sent outside of allowed window. Learn more about the new policy here: https://developers.facebook.com/docs/messenger-platform/policy-overview","type":"OAuthException","code":10,"error_subcode":2018278,"fbtrace_id":"Wnd0w"}}`
	err551Body    = `{"error":{"message":"(#551) This person isn't available right now.","type":"OAuthException","code":551,"error_subcode":1545041,"fbtrace_id":"Unav"}}`
	err613Body    = `{"error":{"message":"(#613) Calls to this api have exceeded the rate limit.","type":"OAuthException","code":613,"fbtrace_id":"Rate"}}`
	err190Body    = `{"error":{"message":"Error validating access token: the token ` + testToken + ` has expired.","type":"OAuthException","code":190,"error_subcode":463,"fbtrace_id":"T0k3n"}}`
	err500Body    = `{"error":{"message":"An unexpected error has occurred. Please retry your request later.","type":"OAuthException","is_transient":true,"code":2,"fbtrace_id":"Tr4ns"}}`
)

type reply struct {
	status int
	body   string // empty: the success answer for the request
}

// fakeSendAPI is an httptest Send API: it checks what every request looks like and answers the
// scripted replies in order, then success.
type fakeSendAPI struct {
	t       *testing.T
	srv     *httptest.Server
	mu      sync.Mutex
	replies []reply
	bodies  []map[string]any
	paths   []string
	seq     int
}

func newFakeSendAPI(t *testing.T, replies ...reply) *fakeSendAPI {
	f := &fakeSendAPI{t: t, replies: replies}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeSendAPI) serve(w http.ResponseWriter, r *http.Request) {
	raw, _ := io.ReadAll(r.Body)
	if got := r.Header.Get("Authorization"); got != "Bearer "+testToken {
		f.t.Errorf("Authorization = %q", got)
	}
	var body map[string]any
	if r.Method == http.MethodPost {
		if r.Header.Get("Content-Type") != "application/json" {
			f.t.Errorf("Content-Type = %q", r.Header.Get("Content-Type"))
		}
		if err := json.Unmarshal(raw, &body); err != nil {
			f.t.Errorf("body is not JSON: %s", raw)
		}
	}
	f.mu.Lock()
	f.bodies, f.paths = append(f.bodies, body), append(f.paths, r.Method+" "+r.URL.Path)
	var rep reply
	if len(f.replies) > 0 {
		rep, f.replies = f.replies[0], f.replies[1:]
	}
	f.seq++
	seq := f.seq
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if rep.status != 0 {
		w.WriteHeader(rep.status)
		io.WriteString(w, rep.body)
		return
	}
	answer, _ := accepted(raw, "out."+string(rune('0'+seq)))
	w.Write(answer)
}

func (f *fakeSendAPI) requests() ([]string, []map[string]any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.paths...), append([]map[string]any(nil), f.bodies...)
}

func newTestClient(f *fakeSendAPI, clock *testclock.Clock, logs io.Writer) *Client {
	return NewClient(messenger(), Config{
		AccountID: page,
		ClientConfig: meta.ClientConfig{
			AccessToken: testToken,
			BaseURL:     f.srv.URL,
			HTTPClient:  f.srv.Client(),
			Clock:       clock,
			Jitter:      func(n time.Duration) time.Duration { return n / 2 },
			Logger:      slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		},
	})
}

func TestClientSend(t *testing.T) {
	menu := &msg.Message{To: psid, Interactive: handleButton()}
	cards := &msg.Message{To: psid, Interactive: supportList()}
	tests := []struct {
		name      string
		m         *msg.Message
		replies   []reply
		ids       []string
		requests  int
		window    bool   // the error matches msg.ErrWindowClosed
		code      int    // the Graph error code, when the send fails
		sleeps    int    // backoff waits
		errSubstr string // in the error text
	}{
		{name: "quick replies accepted", m: menu, ids: []string{"m_out.1"}, requests: 1},
		{name: "list as text and cards", m: cards, ids: []string{"m_out.1", "m_out.2"}, requests: 2},
		{name: "a sender action has no id", m: &msg.Message{To: psid, MarkRead: "m_in"}, requests: 1},
		{name: "outside the window: the engine falls back, no retry", m: menu,
			replies: []reply{{400, errWindowBody}}, requests: 1, window: true, code: 10, errSubstr: "outside of allowed window"},
		{name: "rate limited, then accepted", m: menu,
			replies: []reply{{400, err613Body}, {400, err613Body}}, ids: []string{"m_out.3"}, requests: 3, sleeps: 2},
		{name: "person unavailable: permanent", m: menu, replies: []reply{{400, err551Body}}, requests: 1, code: 551},
		{name: "token expired: not retried, not echoed", m: menu, replies: []reply{{401, err190Body}}, requests: 1, code: 190, errSubstr: "[redacted]"},
		{name: "second part fails for good: the first id comes back", m: cards,
			replies: []reply{{}, {500, err500Body}, {500, err500Body}, {500, err500Body}, {500, err500Body}, {500, err500Body}},
			ids:     []string{"m_out.1"}, requests: 6, code: 2, sleeps: 4, errSubstr: "part 2 of 2"},
		{name: "a 2xx without a message id is not retried", m: menu, replies: []reply{{200, `{"recipient_id":"1"}`}}, requests: 1, errSubstr: "unexpected success"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeSendAPI(t, tc.replies...)
			clock := testclock.New()
			c := newTestClient(f, clock, io.Discard)
			ids, err := c.Send(context.Background(), tc.m)
			if strings.Join(ids, ",") != strings.Join(tc.ids, ",") {
				t.Errorf("ids = %v, want %v", ids, tc.ids)
			}
			paths, _ := f.requests()
			if len(paths) != tc.requests {
				t.Errorf("%d requests, want %d: %v", len(paths), tc.requests, paths)
			}
			for _, p := range paths {
				if p != "POST /v21.0/"+page+"/messages" {
					t.Errorf("request %s", p)
				}
			}
			if n := len(clock.Sleeps()); n != tc.sleeps {
				t.Errorf("%d backoff waits, want %d", n, tc.sleeps)
			}
			wantErr := tc.code != 0 || tc.errSubstr != ""
			if (err != nil) != wantErr {
				t.Fatalf("err = %v", err)
			}
			if err == nil {
				return
			}
			if errors.Is(err, msg.ErrWindowClosed) != tc.window {
				t.Errorf("errors.Is(ErrWindowClosed) = %v: %v", !tc.window, err)
			}
			var ge *meta.Error
			if tc.code != 0 && (!errors.As(err, &ge) || ge.Code != tc.code) {
				t.Errorf("err = %v, want graph code %d", err, tc.code)
			}
			if tc.errSubstr != "" && !strings.Contains(err.Error(), tc.errSubstr) {
				t.Errorf("err %q lacks %q", err, tc.errSubstr)
			}
			if strings.Contains(err.Error(), testToken) {
				t.Errorf("the token leaks: %v", err)
			}
		})
	}
}

// TestClientTagOutsideWindow: the tag the engine sets goes out as MESSAGE_TAG.
func TestClientTagOutsideWindow(t *testing.T) {
	f := newFakeSendAPI(t)
	c := newTestClient(f, testclock.New(), io.Discard)
	m := &msg.Message{To: psid, Text: &msg.Text{Body: "An agent replies"}, Tag: "HUMAN_AGENT"}
	if _, err := c.Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	_, bodies := f.requests()
	if bodies[0]["messaging_type"] != "MESSAGE_TAG" || bodies[0]["tag"] != "HUMAN_AGENT" {
		t.Errorf("body %v", bodies[0])
	}
}

func TestClientCheckAndConfig(t *testing.T) {
	f := newFakeSendAPI(t)
	if err := New().Check(context.Background(), f.srv.Client(), accountOf(f)); err != nil {
		t.Fatal(err)
	}
	if paths, _ := f.requests(); len(paths) != 1 || paths[0] != "GET /v21.0/"+page {
		t.Errorf("requests %v", paths)
	}
	c := NewClient(messenger(), Config{AccountID: page})
	if _, err := c.Send(context.Background(), &msg.Message{To: psid, Text: &msg.Text{Body: "hi"}}); !errors.Is(err, meta.ErrNotConfigured) {
		t.Errorf("no token: %v", err)
	}
	if _, err := c.Send(context.Background(), &msg.Message{To: psid, Template: &msg.Template{Name: "t", Language: "en"}}); !errors.Is(err, ErrInvalidMessage) {
		t.Errorf("template: %v", err)
	}
}

func accountOf(f *fakeSendAPI) channel.Account {
	return channel.Account{ID: page, Token: testToken, BaseURL: f.srv.URL}
}
