package providers_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/flowgate/flowgate/engine/msg"
	"github.com/flowgate/flowgate/providers"
	"github.com/flowgate/flowgate/providers/channel"
)

// TestProvidersConform holds every registered provider to what the hosts rely on: the
// synthetic webhooks flowctl builds parse back into the same events, signed deliveries
// authenticate and tampered ones do not, the handshake answers only with the token, the fake
// API answers carry ids, and gtc setup has what it prints.
func TestProvidersConform(t *testing.T) {
	reg := providers.Registry() // panics on a bad list
	if len(reg.Names()) == 0 {
		t.Fatal("no providers")
	}
	at := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
	for _, p := range reg.Providers() {
		t.Run(p.Name(), func(t *testing.T) {
			base := msg.Event{Channel: p.Name(), Account: "100000000000001", From: "16505551234", Time: at}
			events := []msg.Event{
				{Kind: msg.KindText, Text: "hi there"},
				{Kind: msg.KindButton, Button: &msg.Reply{ID: "help", Title: "Get Help"}},
				{Kind: msg.KindList, List: &msg.ListReply{ID: "sup_track", Title: "Track my order"}},
				{Kind: msg.KindLocation, Location: &msg.Location{Latitude: 52.52, Longitude: 13.405}},
				{Kind: msg.KindMedia, Media: &msg.Media{Type: "image", ID: "img-1", MimeType: "image/jpeg"}},
			}
			for i, want := range events {
				ev := base
				ev.Kind, ev.Text, ev.Button, ev.List, ev.Location, ev.Media = want.Kind, want.Text, want.Button, want.List, want.Location, want.Media
				ev.ID = "in." + string(want.Kind)
				body, err := p.WebhookBody(&ev)
				if err != nil {
					t.Fatalf("event %d (%s): WebhookBody: %v", i, want.Kind, err)
				}
				got, err := p.Parse(body)
				if err != nil || len(got) != 1 {
					t.Fatalf("event %d (%s): Parse = %d events, %v\n%s", i, want.Kind, len(got), err, body)
				}
				g := got[0]
				if g.Kind != want.Kind || g.Channel != p.Name() || g.From != ev.From || g.Account != ev.Account || g.ID == "" || !g.Time.Equal(at) {
					t.Errorf("event %d (%s): parsed %+v", i, want.Kind, g)
				}
				switch {
				case want.Text != "" && g.Text != want.Text,
					want.Button != nil && (g.Button == nil || g.Button.ID != want.Button.ID),
					want.List != nil && (g.List == nil || g.List.ID != want.List.ID),
					want.Location != nil && (g.Location == nil || g.Location.Latitude != want.Location.Latitude),
					want.Media != nil && (g.Media == nil || g.Media.Type != want.Media.Type):
					t.Errorf("event %d (%s): content lost: %+v", i, want.Kind, g)
				}

				h := http.Header{}
				p.Sign(h, body, "s3cret")
				if err := p.Authenticate(h, body, "s3cret"); err != nil {
					t.Errorf("own signature refused: %v", err)
				}
				if err := p.Authenticate(h, append([]byte(" "), body...), "s3cret"); !errors.Is(err, channel.ErrBadSignature) {
					t.Errorf("changed body: %v, want ErrBadSignature", err)
				}
				if err := p.Authenticate(h, body, ""); !errors.Is(err, channel.ErrNoAppSecret) {
					t.Errorf("no secret: %v, want ErrNoAppSecret", err)
				}
			}
			if _, err := p.Parse([]byte(`{"object":"something_else","entry":[]}`)); err == nil {
				t.Error("Parse accepted another channel's envelope")
			}
			if _, err := p.Parse([]byte(`not json`)); err == nil {
				t.Error("Parse accepted a body that is not JSON")
			}

			q := url.Values{"hub.mode": {"subscribe"}, "hub.challenge": {"42"}, "hub.verify_token": {"vt"}}
			if c, ok := p.Verify(q, "vt"); !ok || c != "42" {
				t.Errorf("Verify = %q, %v", c, ok)
			}
			if _, ok := p.Verify(q, "other"); ok {
				t.Error("Verify accepted another token")
			}

			s := p.NewSender(channel.Account{ID: "100000000000001", Token: "t"}, channel.SendOptions{})
			if s == nil {
				t.Fatal("NewSender returned nil")
			}
			if _, id := p.Accepted([]byte(`{}`), "flowctl.1"); id == "" {
				t.Error("Accepted gave no message id")
			}

			su := p.Setup()
			if su.Title == "" || su.IDKey == "" || su.TokenKey == "" || su.DefaultBaseURL == "" || len(su.WebhookFields) == 0 {
				t.Errorf("Setup is incomplete: %+v", su)
			}
			if l := p.Limits(); l.Text == 0 {
				t.Errorf("Limits without a text limit: %+v", l)
			}
			if err := p.Check(context.Background(), nil, channel.Account{}); err == nil {
				t.Error("Check without an account id succeeded")
			}
		})
	}
}
