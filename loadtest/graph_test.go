package loadtest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/flowgate/flowgate/engine/msg"
	"github.com/flowgate/flowgate/providers/channel"
	"github.com/flowgate/flowgate/providers/instagram"
	"github.com/flowgate/flowgate/providers/messenger"
	"github.com/flowgate/flowgate/providers/meta"
)

func sendText(t *testing.T, c *http.Client, base, phone, to, text string) (int, []byte, error) {
	t.Helper()
	body := fmt.Sprintf(`{"messaging_product":"whatsapp","recipient_type":"individual","to":%q,"type":"text","text":{"body":%q}}`, to, text)
	req, _ := http.NewRequest(http.MethodPost, base+"/v25.0/"+phone+"/messages", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer tok")
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b, nil
}

// trackedGraph serves a fake Graph API of cfg whose replies go to a tracker of two
// conversations of users, the second of which has sent message 1.
func trackedGraph(t *testing.T, cfg GraphConfig) (*Graph, *httptest.Server, UserSpace, *Tracker) {
	g := NewGraph(cfg)
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)
	users := UserSpace{Prefix: "777"}
	tr := NewTracker(2)
	tr.Sent(1, 1, time.Now())
	tr.Accepted(1, 1)
	g.Track(tr, users)
	return g, srv, users, tr
}

// TestGraphAnswers: success in the Cloud API's shape, reported to the tracker; 130429 beyond
// the per-number rate, in Meta's error envelope, classed as throttling; 500 with 131000 for
// failures, classed as transient; timeouts never answered.
func TestGraphAnswers(t *testing.T) {
	g, srv, users, tr := trackedGraph(t, GraphConfig{Latency: -1, PerSecond: 2, Token: "tok"})

	code, body, err := sendText(t, srv.Client(), srv.URL, "111", "+"+users.User(1), "seq 1")
	if err != nil || code != 200 {
		t.Fatalf("first send: %d %v", code, err)
	}
	var ok struct {
		MessagingProduct string `json:"messaging_product"`
		Contacts         []struct {
			Input string `json:"input"`
			WaID  string `json:"wa_id"`
		}
		Messages []struct{ ID string }
	}
	if err := json.Unmarshal(body, &ok); err != nil || ok.MessagingProduct != "whatsapp" || len(ok.Messages) != 1 || !strings.HasPrefix(ok.Messages[0].ID, "wamid.") || ok.Contacts[0].WaID != users.User(1) {
		t.Fatalf("success body %s (%v)", body, err)
	}
	if c := tr.Counts(); c.Replied != 1 || c.Lost != 0 {
		t.Errorf("tracker after one reply: %+v", c)
	}

	sendText(t, srv.Client(), srv.URL, "111", users.User(0), "hello") // the second of the second
	code, body, _ = sendText(t, srv.Client(), srv.URL, "111", users.User(0), "hello")
	e := meta.ParseError(code, body)
	if code != 400 || e == nil || e.Code != 130429 || e.Class != meta.ClassThrottle || !strings.Contains(string(body), `"fbtrace_id"`) {
		t.Errorf("third send within a second at 2/s: %d %s, parsed %+v", code, body, e)
	}
	if code, _, _ := sendText(t, srv.Client(), srv.URL, "222", users.User(0), "hello"); code != 200 {
		t.Errorf("another phone number has its own limit: got %d", code)
	}

	g.SetConfig(GraphConfig{Latency: -1, FailRate: 1, Token: "tok"})
	code, body, _ = sendText(t, srv.Client(), srv.URL, "111", users.User(0), "hello")
	if e := meta.ParseError(code, body); code != 500 || e == nil || e.Code != 131000 || !e.Retryable() {
		t.Errorf("failure: %d %s", code, body)
	}

	g.SetConfig(GraphConfig{Latency: -1, TimeoutRate: 1, Token: "tok"})
	short := &http.Client{Timeout: 200 * time.Millisecond}
	if _, _, err := sendText(t, short, srv.URL, "111", users.User(0), "hello"); err == nil {
		t.Error("a timed-out request was answered")
	}

	g.SetConfig(GraphConfig{Latency: -1})
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v25.0/111/messages", strings.NewReader(`{"messaging_product":"whatsapp"}`))
	if resp, err := srv.Client().Do(req); err != nil || resp.StatusCode != 200 {
		t.Errorf("without a token configured any request goes: %v", err)
	}

	waitFor(t, func() bool { return g.Counts().TimedOut == 1 })
	want := GraphCounts{Received: 7, OK: 4, Throttled: 1, Failed: 1, TimedOut: 1}
	if got := g.Counts(); got != want {
		t.Errorf("counts %+v, want %+v", got, want)
	}
}

// TestGraphRejectsWhatIsNotAMessage: a wrong token is 401 with code 190; a body that is not a
// WhatsApp message or a Send API text message is 400.
func TestGraphRejectsWhatIsNotAMessage(t *testing.T) {
	g := NewGraph(GraphConfig{Latency: -1, Token: "tok"})
	for _, c := range []struct {
		name, auth, path, body string
		status, code           int
	}{
		{"wrong token", "Bearer nope", "/v25.0/1/messages", `{"messaging_product":"whatsapp"}`, 401, 190},
		{"not JSON", "Bearer tok", "/v25.0/1/messages", `{`, 400, 100},
		{"another product", "Bearer tok", "/v25.0/1/messages", `{"messaging_product":"sms","to":"1"}`, 400, 100},
		{"Send API without a text", "Bearer tok", "/v25.0/1/messages", `{"recipient":{"id":"1"},"sender_action":"typing_on"}`, 400, 100},
		{"another path", "Bearer tok", "/v25.0/1/media", `{"messaging_product":"whatsapp"}`, 400, 100},
	} {
		w := httptest.NewRecorder()
		r := httptest.NewRequest(http.MethodPost, c.path, strings.NewReader(c.body))
		r.Header.Set("Authorization", c.auth)
		g.ServeHTTP(w, r)
		if e := meta.ParseError(w.Code, w.Body.Bytes()); w.Code != c.status || e == nil || e.Code != c.code {
			t.Errorf("%s: %d %s", c.name, w.Code, w.Body)
		}
	}
	if g.Counts().Other != 5 {
		t.Errorf("other = %d, want 5", g.Counts().Other)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestGraphSendAPI: a Messenger or Instagram message sent by the providers' own senders is
// answered in the Send API's shape (its message id reaches the sender) and reported to the
// tracker.
func TestGraphSendAPI(t *testing.T) {
	for _, pr := range []messenger.Provider{messenger.New(), instagram.New()} {
		t.Run(pr.Name(), func(t *testing.T) {
			g, srv, users, tr := trackedGraph(t, GraphConfig{Latency: -1, Token: "tok"})
			s := pr.NewSender(channel.Account{ID: "42", Token: "tok", BaseURL: srv.URL}, channel.SendOptions{HTTPClient: srv.Client()})
			ids, err := s.Send(context.Background(), &msg.Message{To: users.User(1), Text: &msg.Text{Body: "seq 1"}})
			if err != nil || len(ids) != 1 || !strings.HasPrefix(ids[0], "m_fake.") {
				t.Fatalf("Send = %v, %v; want one m_fake. id", ids, err)
			}
			if c := tr.Counts(); c.Replied != 1 || c.Lost != 0 || c.Stray != 0 {
				t.Errorf("tracker after one reply: %+v", c)
			}
			if got := g.Counts(); got.OK != 1 || got.Other != 0 {
				t.Errorf("graph counts %+v, want one OK", got)
			}
		})
	}
}
