package server_test

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/flowgate/flowgate/engine"
	"github.com/flowgate/flowgate/server"
)

// runAnswer is the answer of start, reply and release.
type runAnswer struct {
	Sent []struct {
		Type string   `json:"type"`
		IDs  []string `json:"ids"`
	} `json:"sent"`
	Errors []string `json:"errors"`
	Trace  []string `json:"trace"`
}

type stateAnswer struct {
	Flow            string         `json:"flow"`
	Node            string         `json:"node"`
	Vars            map[string]any `json:"vars"`
	LastMessageTime *string        `json:"last_message_time"`
	WindowOpen      bool           `json:"window_open"`
	OptedOut        bool           `json:"opted_out"`
	Handoff         string         `json:"handoff"`
	Outbox          []struct {
		ID, Flow, Node, Status string
	} `json:"outbox"`
	Held []struct {
		Type, Flow, Node, Since string
	} `json:"held"`
}

type handoffsAnswer struct {
	Handoffs []struct {
		Channel, Account, User, Queue string
		Kept                          []struct {
			ID   string `json:"id"`
			Type string `json:"type"`
			Text string `json:"text"`
			Time string `json:"time"`
		} `json:"kept"`
	} `json:"handoffs"`
}

const convPath = "/api/v1/acme/support/whatsapp/conversations/" + user

func TestAdminAuth(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	for _, tc := range []struct {
		name   string
		header http.Header
		status int
	}{
		{"no header", nil, 401},
		{"wrong token", bearerHeader(wrongToken), 401},
		{"token as another scheme", http.Header{"Authorization": {"Basic " + apiToken}}, 401},
		{"token without scheme", http.Header{"Authorization": {apiToken}}, 401},
		{"empty bearer", http.Header{"Authorization": {"Bearer "}}, 401},
		{"right token", bearerHeader(apiToken), 200},
		{"scheme in lower case", http.Header{"Authorization": {"bearer " + apiToken}}, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, r := range []struct{ method, path string }{
				{"GET", "/api/v1/acme/support/handoffs"},
				{"POST", convPath + "/start"},
				{"POST", convPath + "/reply"},
				{"POST", convPath + "/release"},
				{"GET", convPath},
			} {
				status, body := h.do(r.method, r.path, nil, tc.header)
				if tc.status == 401 {
					if status != 401 || !strings.Contains(body, `"error"`) {
						t.Errorf("%s %s: %d %s", r.method, r.path, status, body)
					}
				} else if status == 401 || status == 403 {
					t.Errorf("%s %s: %d %s", r.method, r.path, status, body)
				}
			}
		})
	}
	if strings.Contains(h.logs.String(), wrongToken) {
		t.Error("the wrong token was logged")
	}
}

func TestAdminDisabledWithoutToken(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{site: func(s *server.Site) { s.APIToken = "" }})
	for _, header := range []http.Header{nil, bearerHeader(""), bearerHeader(apiToken)} {
		status, body := h.do("GET", "/api/v1/acme/support/handoffs", nil, header)
		if status != http.StatusForbidden || !strings.Contains(body, "set api.token in bundle.yaml") {
			t.Errorf("%v: %d %s", header, status, body)
		}
	}
}

func TestAdminUnknownEndpoint(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	auth := bearerHeader(apiToken)
	for _, r := range []struct{ method, path string }{
		{"GET", "/api/v1/globex/support/handoffs"},
		{"GET", "/api/v1/acme/sales/handoffs"},
		{"POST", "/api/v1/acme/support/messenger/conversations/1/start"},
		{"POST", "/api/v1/acme/support/sms/conversations/1/reply"},
		{"POST", "/api/v1/globex/support/whatsapp/conversations/1/release"},
		{"GET", "/api/v1/acme/sales/whatsapp/conversations/1"},
	} {
		if status, body := h.do(r.method, r.path, []byte(`{"flow":"greet","text":"x"}`), auth); status != 404 || !strings.Contains(body, `"error"`) {
			t.Errorf("%s %s: %d %s", r.method, r.path, status, body)
		}
	}
}

func TestAdminStart(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	auth := bearerHeader(apiToken)
	for _, tc := range []struct {
		name, body string
		status     int
		errWant    string
	}{
		{"unknown flow", `{"flow": "nope"}`, 400, `no flow \"nope\"`},
		{"unknown node", `{"flow": "greet", "node": "nope"}`, 400, `no node \"nope\"`},
		{"no flow", `{"vars": {}}`, 400, "flow is required"},
		{"no body", ``, 400, "body is required"},
		{"bad JSON", `{"flow": `, 400, "invalid JSON"},
		{"unknown field", `{"flow": "greet", "nodes": "x"}`, 400, "unknown field"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := h.do("POST", convPath+"/start", []byte(tc.body), auth)
			if status != tc.status || !strings.Contains(body, tc.errWant) {
				t.Errorf("%d %s, want %d with %q", status, body, tc.status, tc.errWant)
			}
		})
	}
	if len(h.sender.texts()) != 0 {
		t.Fatalf("refused starts sent %q", h.sender.texts())
	}

	status, body := h.do("POST", convPath+"/start", []byte(`{"flow": "greet", "vars": {"order_id": "A-1"}}`), auth)
	if status != 200 {
		t.Fatalf("start: %d %s", status, body)
	}
	// A proactive message to a user who never wrote: the window is closed, and with no
	// fallback template nothing goes out; the trace says so.
	ans := decode[runAnswer](t, body)
	if len(ans.Sent) != 0 || !slices.ContainsFunc(ans.Trace, func(s string) bool { return strings.HasPrefix(s, "window_closed greet/hello") }) {
		t.Errorf("start with the window closed: %s", body)
	}

	// Once the user writes, the window is open and a start sends its message.
	wh := webhook(t, "text.json")
	h.do("POST", "/webhook/whatsapp", wh, signed(wh, appSecret))
	h.drain()
	status, body = h.do("POST", convPath+"/start", []byte(`{"flow": "greet", "node": "hello"}`), auth)
	if status != 200 {
		t.Fatalf("start: %d %s", status, body)
	}
	ans = decode[runAnswer](t, body)
	if len(ans.Sent) != 1 || ans.Sent[0].Type != "text" || len(ans.Sent[0].IDs) != 1 || !strings.HasPrefix(ans.Sent[0].IDs[0], "wamid.") ||
		len(ans.Errors) != 0 || !slices.Contains(ans.Trace, "node greet/hello: reply") {
		t.Errorf("start answer: %s", body)
	}
	if got := h.sender.texts(); !slices.Equal(got, []string{user + ": hello", user + ": hello"}) {
		t.Errorf("sent %q", got)
	}
	st := decode[stateAnswer](t, mustGet(t, h, convPath))
	if st.Vars["order_id"] != "A-1" {
		t.Errorf("vars not kept: %+v", st)
	}
}

func TestAdminReply(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	auth := bearerHeader(apiToken)
	for _, body := range []string{`{}`, `{"text": "  "}`, `{"text": 3}`} {
		if status, answer := h.do("POST", convPath+"/reply", []byte(body), auth); status != 400 {
			t.Errorf("%s: %d %s", body, status, answer)
		}
	}
	// No message from the user yet: the window stops the reply.
	status, body := h.do("POST", convPath+"/reply", []byte(`{"text": "Hi, this is Ann"}`), auth)
	ans := decode[runAnswer](t, body)
	if status != 200 || len(ans.Sent) != 0 || !slices.ContainsFunc(ans.Trace, func(s string) bool { return strings.HasPrefix(s, "window_closed") }) {
		t.Errorf("reply with the window closed: %d %s", status, body)
	}

	wh := webhook(t, "text.json")
	h.do("POST", "/webhook/whatsapp", wh, signed(wh, appSecret))
	h.drain()
	status, body = h.do("POST", convPath+"/reply", []byte(`{"text": "Hi, this is Ann", "preview_url": true}`), auth)
	ans = decode[runAnswer](t, body)
	if status != 200 || len(ans.Sent) != 1 || ans.Sent[0].Type != "text" || len(ans.Sent[0].IDs) != 1 {
		t.Errorf("reply: %d %s", status, body)
	}
	if got := h.sender.texts(); !slices.Equal(got, []string{user + ": hello", user + ": Hi, this is Ann"}) {
		t.Errorf("sent %q", got)
	}
	h.sender.mu.Lock()
	last := h.sender.sent[len(h.sender.sent)-1]
	h.sender.mu.Unlock()
	if !last.Text.PreviewURL {
		t.Error("preview_url not passed on")
	}
}

func TestAdminState(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	auth := bearerHeader(apiToken)
	if status, body := h.do("GET", convPath, nil, auth); status != 404 {
		t.Errorf("no conversation yet: %d %s", status, body)
	}
	wh := webhook(t, "text.json")
	h.do("POST", "/webhook/whatsapp", wh, signed(wh, appSecret))
	h.drain()
	body := mustGet(t, h, convPath)
	st := decode[stateAnswer](t, body)
	if st.LastMessageTime == nil || *st.LastMessageTime != "2025-06-08T20:59:43Z" || !st.WindowOpen || st.OptedOut || st.Handoff != "" {
		t.Errorf("state: %s", body)
	}
	if len(st.Outbox) != 1 || st.Outbox[0].ID != "wamid.out1" || st.Outbox[0].Node != "hello" || st.Outbox[0].Flow != "greet" || st.Outbox[0].Status != "sent" {
		t.Errorf("outbox: %s", body)
	}
	if st.Held == nil || len(st.Held) != 0 {
		t.Errorf("held: %s, want an empty list", body)
	}
	if status, body := h.do("GET", "/api/v1/acme/support/whatsapp/conversations/999", nil, auth); status != 404 {
		t.Errorf("unknown user: %d %s", status, body)
	}
	// A day later the window is closed.
	h.advance(25 * time.Hour)
	if st := decode[stateAnswer](t, mustGet(t, h, convPath)); st.WindowOpen {
		t.Error("window open after 25 hours")
	}
}

func TestAdminHandoff(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	auth := bearerHeader(apiToken)
	if ho := decode[handoffsAnswer](t, mustGet(t, h, "/api/v1/acme/support/handoffs")); len(ho.Handoffs) != 0 {
		t.Fatalf("handoffs before any: %+v", ho)
	}
	for _, wh := range [][]byte{textWebhook(t, "wamid.1", "human"), textWebhook(t, "wamid.2", "where is my order?")} {
		if status, _ := h.do("POST", "/webhook/whatsapp", wh, signed(wh, appSecret)); status != 200 {
			t.Fatalf("webhook: %d", status)
		}
		h.drain()
	}
	if got := h.sender.texts(); !slices.Equal(got, []string{user + ": connecting you"}) {
		t.Errorf("sent %q", got)
	}
	body := mustGet(t, h, "/api/v1/acme/support/handoffs")
	ho := decode[handoffsAnswer](t, body)
	if len(ho.Handoffs) != 1 {
		t.Fatalf("handoffs: %s", body)
	}
	a := ho.Handoffs[0]
	if a.Channel != "whatsapp" || a.Account != account || a.User != user || a.Queue != "support" ||
		len(a.Kept) != 1 || a.Kept[0].ID != "wamid.2" || a.Kept[0].Type != "text" || a.Kept[0].Text != "where is my order?" || a.Kept[0].Time == "" {
		t.Errorf("handoff: %s", body)
	}
	if st := decode[stateAnswer](t, mustGet(t, h, convPath)); st.Handoff != "support" {
		t.Errorf("state handoff %q", st.Handoff)
	}

	status, body := h.do("POST", convPath+"/release", nil, auth)
	ans := decode[runAnswer](t, body)
	if status != 200 || !slices.ContainsFunc(ans.Trace, func(s string) bool { return strings.Contains(s, "released") }) {
		t.Errorf("release: %d %s", status, body)
	}
	if ho := decode[handoffsAnswer](t, mustGet(t, h, "/api/v1/acme/support/handoffs")); len(ho.Handoffs) != 0 {
		t.Errorf("handoffs after release: %+v", ho)
	}
	// The bot answers again.
	wh := textWebhook(t, "wamid.3", "thanks")
	h.do("POST", "/webhook/whatsapp", wh, signed(wh, appSecret))
	h.drain()
	if got := h.sender.texts(); len(got) != 2 || got[1] != user+": hello" {
		t.Errorf("after release: %q", got)
	}
}

// TestAdminStoreDown: a store that cannot be reached answers 503.
func TestAdminStoreDown(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	// Closing the embedded server makes every store call fail.
	if err := h.close(); err != nil {
		t.Fatal(err)
	}
	for _, r := range []struct{ method, path, body string }{
		{"GET", convPath, ""},
		{"GET", "/api/v1/acme/support/handoffs", ""},
		{"POST", convPath + "/start", `{"flow": "greet"}`},
		{"POST", convPath + "/release", ""},
	} {
		if status, body := h.do(r.method, r.path, []byte(r.body), bearerHeader(apiToken)); status != http.StatusServiceUnavailable {
			t.Errorf("%s %s: %d %s", r.method, r.path, status, body)
		}
	}
}

func mustGet(t *testing.T, h *harness, path string) string {
	t.Helper()
	status, body := h.do("GET", path, nil, bearerHeader(apiToken))
	if status != 200 {
		t.Fatalf("GET %s: %d %s", path, status, body)
	}
	return body
}

// TestAdminBusy: a conversation that a worker keeps holding answers 409.
func TestAdminBusy(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	h.p.BusyWait = 100 * time.Millisecond
	conv := engine.Conversation{Tenant: tenant, Team: team, Channel: "whatsapp", Account: account, User: user}
	now := time.Unix(0, h.now.Load())
	if _, err := h.store.ClaimConversation(context.Background(), conv, now, time.Hour); err != nil {
		t.Fatal(err)
	}
	status, body := h.do("POST", convPath+"/reply", []byte(`{"text": "hi"}`), bearerHeader(apiToken))
	if status != http.StatusConflict || !strings.Contains(body, "busy") {
		t.Errorf("%d %s", status, body)
	}
	if len(h.sender.texts()) != 0 {
		t.Errorf("sent %q", h.sender.texts())
	}
}
