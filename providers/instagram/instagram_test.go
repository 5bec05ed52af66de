package instagram

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/flowgate/flowgate/engine/msg"
	"github.com/flowgate/flowgate/internal/golden"
	"github.com/flowgate/flowgate/providers/channel"
	"github.com/flowgate/flowgate/providers/messenger"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

const (
	webhookDir = "../../testdata/webhooks/instagram"
	igID       = "17841400008460056"
	igsid      = "6172839405162738"
)

var t0 = time.UnixMilli(1767603600000).UTC()

// requiredShapes are the Instagram webhook shapes there must be a recording of.
var requiredShapes = []string{
	"text", "quick_reply", "story_mention", "story_reply", "reply_to", "deleted", "unsupported",
	"like_heart", "image", "share", "seen", "reaction", "postback", "ad_referral", "echo", "batch",
}

func corpus(t *testing.T) map[string][]byte {
	out := map[string][]byte{}
	for _, f := range golden.Corpus(t, webhookDir) {
		out[f.Name] = f.Body
	}
	return out
}

func TestWebhookCorpusComplete(t *testing.T) {
	have := corpus(t)
	for _, n := range requiredShapes {
		if have[n] == nil {
			t.Errorf("missing recorded webhook %s/%s.json", webhookDir, n)
		}
	}
}

// TestParseGolden parses every recorded webhook and compares the events with
// testdata/events/<name>.json.
func TestParseGolden(t *testing.T) {
	for _, f := range golden.Corpus(t, webhookDir) {
		t.Run(f.Name, func(t *testing.T) {
			events, err := New().Parse(f.Body)
			if err != nil {
				t.Fatal(err)
			}
			for i, ev := range events {
				if ev.Channel != msg.Instagram || ev.Account != igID {
					t.Errorf("event %d: channel %q, account %q", i, ev.Channel, ev.Account)
				}
			}
			golden.Check(t, filepath.Join("testdata", "events", f.Name+".json"), golden.PrunedJSON(t, events), *update)
		})
	}
}

func from(kind msg.Kind, id string) msg.Event {
	return msg.Event{Kind: kind, Channel: msg.Instagram, Account: igID, ID: id, From: igsid, Contact: msg.Contact{ID: igsid}, Time: t0}
}

// TestParseShapes states what Instagram's own shapes become for the flows.
func TestParseShapes(t *testing.T) {
	const mid = "aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlEOjE3ODQx"
	tests := []struct {
		name string
		want func() []msg.Event
	}{
		{"story_mention", func() []msg.Event {
			url := "https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id=17950497794123456&signature=abc"
			e := from(msg.KindMedia, mid+"sm1")
			e.Media = &msg.Media{Type: "story_mention", ID: url, URL: url}
			return []msg.Event{e}
		}},
		{"story_reply", func() []msg.Event {
			e := from(msg.KindText, mid+"sr1")
			e.Text, e.Context = "Love this!", &msg.Context{ReplyTo: "17950497794654321"}
			return []msg.Event{e}
		}},
		{"deleted", func() []msg.Event { return []msg.Event{from(msg.KindDeleted, mid+"del1:deleted")} }},
		{"unsupported", func() []msg.Event {
			e := from(msg.KindUnsupported, mid+"uns1")
			e.Unsupported = "unsupported"
			return []msg.Event{e}
		}},
		{"like_heart", func() []msg.Event {
			e := from(msg.KindMedia, mid+"lh1")
			e.Media = &msg.Media{Type: "sticker", ID: "like_heart"}
			return []msg.Event{e}
		}},
		{"seen", func() []msg.Event {
			e := from(msg.KindStatus, mid+"ourMsg:read")
			e.Status = &msg.Status{MessageID: mid + "ourMsg", State: msg.StatusRead, Recipient: igsid}
			return []msg.Event{e}
		}},
		{"postback", func() []msg.Event {
			e := from(msg.KindPostback, mid+"pb1")
			e.Button = &msg.Reply{ID: "ICEBREAKER_TRACK", Title: "Track my order"}
			return []msg.Event{e}
		}},
		{"quick_reply", func() []msg.Event {
			e := from(msg.KindButton, mid+"qr1")
			e.Button = &msg.Reply{ID: "help", Title: "Get Help"}
			return []msg.Event{e}
		}},
		{"ad_referral", func() []msg.Event {
			e := from(msg.KindText, mid+"ad1")
			e.Text = "Is this still available?"
			e.Referral = &msg.Referral{Ref: "summer_sale", SourceType: "ADS", SourceID: "120207412345678", Headline: "Summer sale", ImageURL: "https://scontent.cdninstagram.com/ad.jpg"}
			return []msg.Event{e}
		}},
		{"echo", func() []msg.Event { return nil }},
	}
	hooks := corpus(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := New().Parse(hooks[tc.name])
			if err != nil {
				t.Fatal(err)
			}
			if want := tc.want(); !reflect.DeepEqual(got, want) {
				t.Errorf("events differ\n got: %s\nwant: %s", golden.PrunedJSON(t, got), golden.PrunedJSON(t, want))
			}
		})
	}
	// Messenger's webhooks are not Instagram's.
	if _, err := New().Parse([]byte(`{"object":"page","entry":[]}`)); !errors.Is(err, messenger.ErrNotPlatform) {
		t.Errorf("a page webhook: %v", err)
	}
}

func TestLimits(t *testing.T) {
	l := New().Limits()
	if l.Text != 1000 || !l.TextBytes || l.Templates || !slices.Equal(l.Tags, []string{"HUMAN_AGENT"}) || slices.Contains(l.Media, "document") {
		t.Errorf("limits %+v", l)
	}
}

// TestSend sends through a fake Instagram Graph API: text over 1,000 bytes goes in parts,
// each within the limit, quick replies on the last; a document is refused before any request.
func TestSend(t *testing.T) {
	var bodies []map[string]any
	var paths []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		var b map[string]any
		json.Unmarshal(raw, &b)
		bodies, paths = append(bodies, b), append(paths, r.URL.Path)
		answer, _ := New().Accepted(raw, "x")
		w.Write(answer)
	}))
	defer srv.Close()
	s := New().NewSender(channel.Account{ID: igID, Token: "t", BaseURL: srv.URL}, channel.SendOptions{HTTPClient: srv.Client()})
	body := strings.Repeat("Olá! ", 300) // 1,800 bytes
	m := &msg.Message{To: igsid, Interactive: &msg.Interactive{Type: "button", Body: body, Buttons: []msg.Button{{ID: "yes", Title: "Yes"}}}}
	ids, err := s.Send(context.Background(), m)
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != 2 || len(paths) != 2 || paths[0] != "/v21.0/"+igID+"/messages" {
		t.Fatalf("ids %v, paths %v", ids, paths)
	}
	for i, b := range bodies {
		text := b["message"].(map[string]any)["text"].(string)
		_, hasQR := b["message"].(map[string]any)["quick_replies"]
		if len(text) > 1000 || hasQR != (i == 1) {
			t.Errorf("part %d: %d bytes, quick replies %v", i, len(text), hasQR)
		}
	}
	if _, err := s.Send(context.Background(), &msg.Message{To: igsid, Media: &msg.OutMedia{Type: "document", Link: "https://example.com/a.pdf"}}); !errors.Is(err, messenger.ErrInvalidMessage) {
		t.Errorf("document: %v", err)
	}
	if len(paths) != 2 {
		t.Errorf("a refused message was sent")
	}
}
