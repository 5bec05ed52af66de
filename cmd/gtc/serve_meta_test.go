package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/flowgate/flowgate/engine/msg"
	"github.com/flowgate/flowgate/internal/bundle"
	"github.com/flowgate/flowgate/internal/redistest"
	"github.com/flowgate/flowgate/providers/channel"
	"github.com/flowgate/flowgate/providers/instagram"
	"github.com/flowgate/flowgate/providers/messenger"
)

// The end-to-end tests of Messenger and Instagram: the real gtc binary on Redis, the Send API
// faked with the httptest Graph API (which speaks its shapes too), a bundle with both channels from
// gtc setup.

const (
	e2ePage = "105693948574831"
	e2eIG   = "17841400008460056"
)

// newMetaBundle makes a bundle with gtc setup serving Messenger and Instagram, both pointed at
// the fake Send API.
func newMetaBundle(t *testing.T, apiURL string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "bundle")
	answers := fmt.Sprintf(`{
  "tenant": "acme", "team": "support", "api_token": %[1]q,
  "messaging-messenger": {"enabled": true, "public_base_url": "http://localhost:8080",
    "page_id": %[2]q, "page_access_token": %[3]q, "verify_token": %[4]q,
    "app_secret": "${META_APP_SECRET}", "api_base_url": %[5]q},
  "messaging-instagram": {"enabled": true, "public_base_url": "http://localhost:8080",
    "ig_account_id": %[6]q, "access_token": %[3]q, "verify_token": %[4]q,
    "app_secret": "${META_APP_SECRET}", "api_base_url": %[5]q}
}`, e2eAPI, e2ePage, e2eToken, e2eVerify, apiURL, e2eIG)
	if _, err := bundle.Setup(context.Background(), []byte(answers), dir, bundle.SetupOptions{}); err != nil {
		t.Fatal(err)
	}
	return dir
}

// inbound renders a user's message as the channel would deliver it, timestamped now unless set.
func inbound(t *testing.T, p channel.Provider, account string, ev msg.Event) []byte {
	t.Helper()
	ev.Channel, ev.Account = p.Name(), account
	if ev.Kind == "" {
		ev.Kind = msg.KindText
	}
	if ev.Time.IsZero() {
		ev.Time = time.Now()
	}
	body, err := p.WebhookBody(&ev)
	if err != nil {
		t.Fatal(err)
	}
	return body
}

// echo is the webhook of a message the account itself sent (a human agent typing in the
// Page inbox): sender and recipient swapped, is_echo set.
func echo(object, account, user, mid, text string) []byte {
	return []byte(fmt.Sprintf(`{"object":%q,"entry":[{"id":%q,"time":%d,"messaging":[{"sender":{"id":%q},"recipient":{"id":%q},"timestamp":%d,"message":{"is_echo":true,"app_id":1517776481860111,"mid":%q,"text":%q}}]}]}`,
		object, account, time.Now().UnixMilli(), account, user, time.Now().UnixMilli(), mid, text))
}

func mustPostTo(t *testing.T, addr, channel string, body []byte) {
	t.Helper()
	code, err := postTo(addr, channel, body, e2eSecret)
	if err != nil || code != 200 {
		t.Fatalf("%s webhook: %d, %v", channel, code, err)
	}
}

func handshake(t *testing.T, addr, channel string) {
	t.Helper()
	for _, c := range []struct {
		token string
		code  int
	}{{e2eVerify, 200}, {"wrong", 403}} {
		resp, err := http.Get("http://" + addr + "/webhook/" + channel + "/acme/support?hub.mode=subscribe&hub.verify_token=" + c.token + "&hub.challenge=1158201444")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.code || c.code == 200 && string(b) != "1158201444" {
			t.Errorf("%s handshake with token %q: %d %q", channel, c.token, resp.StatusCode, b)
		}
	}
}

// TestServeMessenger drives gtc serve through what Messenger sends it: the handshake, signed
// and unsigned webhooks, the example menu as quick replies and a tap on one, a redelivery, an
// echo, a refusal outside the window and an agent's reply with the HUMAN_AGENT tag.
func TestServeMessenger(t *testing.T) {
	url := redistest.URL(t)
	_, prefix := redistest.Client(t)
	g := newFakeGraph(t)
	dir := newMetaBundle(t, g.srv.URL)
	p := startServe(t, dir, url, prefix)
	fb := messenger.New()
	in := func(ev msg.Event) []byte { return inbound(t, fb, e2ePage, ev) }
	const sendPath = "/v21.0/" + e2ePage + "/messages"

	t.Run("handshake", func(t *testing.T) { handshake(t, p.addr, "messenger") })

	t.Run("menu as quick replies, a tap routed like a WhatsApp button", func(t *testing.T) {
		u := "6700000000000001"
		mustPostTo(t, p.addr, "messenger", in(msg.Event{ID: "m_e2e.1", From: u, Text: "hi"}))
		waitFor(t, 10*time.Second, "the menu", func() bool { return len(g.to(u)) == 1 })
		menu := g.to(u)[0]
		if menu.Path != sendPath || menu.MessagingType != "RESPONSE" || menu.Text != "What would you like to do?" ||
			!slices.Equal(menu.Buttons, []string{"help", "status", "human"}) {
			t.Errorf("menu %+v", menu)
		}
		tap := in(msg.Event{Kind: msg.KindButton, ID: "m_e2e.2", From: u, Button: &msg.Reply{ID: "help", Title: "Get Help"}})
		mustPostTo(t, p.addr, "messenger", tap)
		mustPostTo(t, p.addr, "messenger", tap) // Meta redelivers: one answer
		waitFor(t, 10*time.Second, "the help text", func() bool { return len(g.to(u)) == 2 })
		time.Sleep(300 * time.Millisecond)
		got := g.to(u)
		if len(got) != 2 || !strings.HasPrefix(got[1].Text, "Here's how I can help") || len(got[1].Buttons) != 0 {
			t.Errorf("replies %+v", got)
		}
	})

	t.Run("bad signature refused", func(t *testing.T) {
		body := in(msg.Event{ID: "m_e2e.bad", From: "6700000000000002", Text: "hi"})
		for _, secret := range []string{"", "not-the-secret"} {
			if code, err := postTo(p.addr, "messenger", body, secret); err != nil || code != 401 {
				t.Errorf("secret %q: %d, %v; want 401", secret, code, err)
			}
		}
	})

	t.Run("echoes are never answered", func(t *testing.T) {
		u := "6700000000000003"
		mustPostTo(t, p.addr, "messenger", echo("page", e2ePage, u, "m_e2e.echo", "hi"))
		// A message of the same user posted after the echo is answered, and only it.
		mustPostTo(t, p.addr, "messenger", in(msg.Event{ID: "m_e2e.3", From: u, Text: "menu"}))
		waitFor(t, 10*time.Second, "the menu", func() bool { return len(g.to(u)) == 1 })
		time.Sleep(300 * time.Millisecond)
		if got := g.to(u); len(got) != 1 {
			t.Errorf("%d replies: %+v", len(got), got)
		}
		if got := g.to(e2ePage); len(got) != 0 {
			t.Errorf("the Page answered itself: %+v", got)
		}
	})

	t.Run("outside the window: nothing instead, then an agent's reply with HUMAN_AGENT", func(t *testing.T) {
		u := "6700000000000004"
		g.setHook(func(m graphMsg) (int, string, <-chan struct{}) {
			if m.To == u && m.Tag == "" {
				return 400, `{"error":{"message":"(#10) This message is sent outside of allowed window.","type":"OAuthException","code":10,"error_subcode":2018278,"fbtrace_id":"Wnd"}}`, nil
			}
			return 0, "", nil
		})
		defer g.setHook(nil)
		mustPostTo(t, p.addr, "messenger", in(msg.Event{ID: "m_e2e.4", From: u, Text: "hi"}))
		waitFor(t, 10*time.Second, "the refusal to be logged", func() bool { return strings.Contains(p.out.String(), "window closed: falling back") })
		if got := g.to(u); len(got) != 0 {
			t.Errorf("sent despite the refusal: %+v", got)
		}
		code, out := api(t, p.addr, "POST", "/api/v1/acme/support/messenger/conversations/"+u+"/reply", `{"text": "Hi, Sam from support here."}`)
		if code != 200 {
			t.Fatalf("reply: %d %v", code, out)
		}
		waitFor(t, 10*time.Second, "the agent's reply", func() bool { return len(g.to(u)) == 1 })
		if m := g.to(u)[0]; m.MessagingType != "MESSAGE_TAG" || m.Tag != "HUMAN_AGENT" || m.Text != "Hi, Sam from support here." {
			t.Errorf("agent reply %+v", m)
		}
	})

	t.Run("receipts are accepted and answer nothing", func(t *testing.T) {
		u := "6700000000000001"
		before := len(g.to(u))
		read := fmt.Sprintf(`{"object":"page","entry":[{"id":%q,"time":%d,"messaging":[{"sender":{"id":%q},"recipient":{"id":%q},"timestamp":%d,"read":{"watermark":%d}}]}]}`,
			e2ePage, time.Now().UnixMilli(), u, e2ePage, time.Now().UnixMilli(), time.Now().UnixMilli())
		mustPostTo(t, p.addr, "messenger", []byte(read))
		time.Sleep(300 * time.Millisecond)
		if got := g.to(u); len(got) != before {
			t.Errorf("a read receipt was answered: %+v", got[before:])
		}
		if v := metricValue(t, p.addr, `flowgate_webhooks_total{channel="messenger",result="ok"}`); v < 6 {
			t.Errorf("%v messenger webhooks counted", v)
		}
	})

	if code := p.stop(); code != 0 {
		t.Errorf("exit %d after SIGTERM", code)
	}
}

// TestServeInstagram drives gtc serve through what Instagram sends it: the handshake, the menu
// as quick replies, a tap that hands off to a human, an echo, a story mention kept for the
// agent, and a long answer split within Instagram's 1,000 bytes.
func TestServeInstagram(t *testing.T) {
	url := redistest.URL(t)
	_, prefix := redistest.Client(t)
	g := newFakeGraph(t)
	dir := newMetaBundle(t, g.srv.URL)
	p := startServe(t, dir, url, prefix)
	ig := instagram.New()
	in := func(ev msg.Event) []byte { return inbound(t, ig, e2eIG, ev) }

	t.Run("handshake", func(t *testing.T) { handshake(t, p.addr, "instagram") })

	t.Run("menu, a tap, the handoff; echo and story mention unanswered", func(t *testing.T) {
		u := "6172839405162738"
		mustPostTo(t, p.addr, "instagram", in(msg.Event{ID: "ig_e2e.1", From: u, Text: "menu"}))
		waitFor(t, 10*time.Second, "the menu", func() bool { return len(g.to(u)) == 1 })
		if menu := g.to(u)[0]; menu.Path != "/v21.0/"+e2eIG+"/messages" || !slices.Equal(menu.Buttons, []string{"help", "status", "human"}) {
			t.Errorf("menu %+v", menu)
		}
		mustPostTo(t, p.addr, "instagram", echo("instagram", e2eIG, u, "ig_e2e.echo", "menu"))
		mustPostTo(t, p.addr, "instagram", in(msg.Event{Kind: msg.KindButton, ID: "ig_e2e.2", From: u, Button: &msg.Reply{ID: "human", Title: "Talk to Human"}}))
		waitFor(t, 10*time.Second, "the handoff", func() bool { return len(g.to(u)) == 2 })
		if got := g.to(u)[1].Text; got != "Connecting you with our team. Someone will reply here shortly." {
			t.Errorf("handoff text %q", got)
		}
		mention := fmt.Sprintf(`{"object":"instagram","entry":[{"id":%q,"time":%d,"messaging":[{"sender":{"id":%q},"recipient":{"id":%q},"timestamp":%d,"message":{"mid":"ig_e2e.3","attachments":[{"type":"story_mention","payload":{"url":"https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id=1"}}]}}]}]}`,
			e2eIG, time.Now().UnixMilli(), u, e2eIG, time.Now().UnixMilli())
		mustPostTo(t, p.addr, "instagram", []byte(mention))
		var kept []any
		waitFor(t, 10*time.Second, "the story mention kept for the agent", func() bool {
			_, out := api(t, p.addr, "GET", "/api/v1/acme/support/handoffs", "")
			hs, _ := out["handoffs"].([]any)
			for _, h := range hs {
				if h := h.(map[string]any); h["user"] == u && h["channel"] == "instagram" {
					kept, _ = h["kept"].([]any)
				}
			}
			return len(kept) == 1
		})
		time.Sleep(200 * time.Millisecond)
		if got := g.to(u); len(got) != 2 {
			t.Errorf("%d messages: %+v", len(got), got)
		}
	})

	t.Run("an agent's long reply is split within 1,000 bytes", func(t *testing.T) {
		u := "6172839405162738"
		long := strings.Repeat("Olá, obrigado pela paciência! ", 50) // 1,600 bytes
		code, out := api(t, p.addr, "POST", "/api/v1/acme/support/instagram/conversations/"+u+"/reply", fmt.Sprintf(`{"text": %q}`, long))
		if code != 200 {
			t.Fatalf("reply: %d %v", code, out)
		}
		waitFor(t, 10*time.Second, "the reply", func() bool { return len(g.to(u)) == 4 })
		for _, m := range g.to(u)[2:] {
			if len(m.Text) > 1000 || m.Text == "" {
				t.Errorf("part of %d bytes", len(m.Text))
			}
		}
	})

	if code := p.stop(); code != 0 {
		t.Errorf("exit %d after SIGTERM", code)
	}
}
