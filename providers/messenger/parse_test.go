package messenger

import (
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/flowgate/flowgate/engine/msg"
	"github.com/flowgate/flowgate/internal/golden"
)

// requiredShapes are the Messenger webhook shapes there must be a recording of.
var requiredShapes = []string{
	"text", "quick_reply", "quick_reply_list", "quick_reply_foreign", "reply_to", "image",
	"attachments", "sticker", "location", "fallback", "postback", "postback_list", "referral",
	"optin", "reaction", "read", "delivery", "delivery_watermark", "echo", "standby",
	"chat_plugin", "batch", "malformed", "unicode_escaped",
}

func TestWebhookCorpusComplete(t *testing.T) {
	have := map[string]bool{}
	for _, f := range golden.Corpus(t, webhookDir) {
		have[f.Name] = true
	}
	for _, n := range requiredShapes {
		if !have[n] {
			t.Errorf("missing recorded webhook %s/%s.json", webhookDir, n)
		}
	}
	goldens, _ := filepath.Glob("testdata/events/*.json")
	for _, g := range goldens {
		if n := strings.TrimSuffix(filepath.Base(g), ".json"); !have[n] {
			t.Errorf("golden %s has no recorded webhook", g)
		}
	}
}

// TestParseGolden parses every recorded webhook and compares the events with
// testdata/events/<name>.json.
func TestParseGolden(t *testing.T) {
	for _, f := range golden.Corpus(t, webhookDir) {
		t.Run(f.Name, func(t *testing.T) {
			events, err := messenger().Parse(f.Body)
			if err != nil {
				t.Fatal(err)
			}
			for i, ev := range events {
				if ev.Channel != msg.Messenger || ev.Account != page {
					t.Errorf("event %d: channel %q, account %q", i, ev.Channel, ev.Account)
				}
			}
			checkGolden(t, filepath.Join("testdata", "events", f.Name+".json"), prunedJSON(t, events))
		})
	}
}

const (
	page = "105693948574831"
	psid = "6789012345678901"
)

var t0 = time.UnixMilli(1767603600000).UTC()

// from is an event of the usual test user at t0.
func from(kind msg.Kind, id string) msg.Event {
	return msg.Event{Kind: kind, Channel: msg.Messenger, Account: page, ID: id, From: psid, Contact: msg.Contact{ID: psid}, Time: t0}
}

// TestParseShapes states, shape by shape, the events a user of the flows cares about.
func TestParseShapes(t *testing.T) {
	tests := []struct {
		name string
		want func() []msg.Event
	}{
		{"quick_reply", func() []msg.Event {
			// A tap on a quick reply Flowgate rendered for a reply button routes like a
			// WhatsApp button: button.id is the button's id.
			e := from(msg.KindButton, "m_qr1AG5Hz2Uq7tuwNEhXfYYKj8mJEM")
			e.Button = &msg.Reply{ID: "help", Title: "Get Help"}
			return []msg.Event{e}
		}},
		{"quick_reply_list", func() []msg.Event {
			e := from(msg.KindList, "m_qr2AG5Hz2Uq7tuwNEhXfYYKj8mJEM")
			e.List = &msg.ListReply{ID: "sup_track", Title: "Track my order"}
			return []msg.Event{e}
		}},
		{"quick_reply_foreign", func() []msg.Event {
			e := from(msg.KindButton, "m_qr3AG5Hz2Uq7tuwNEhXfYYKj8mJEM")
			e.Button = &msg.Reply{ID: "DEVELOPER_DEFINED_PAYLOAD_FOR_PICKING_GREEN", Title: "Green"}
			return []msg.Event{e}
		}},
		{"attachments", func() []msg.Event {
			text := from(msg.KindText, "m_multiAttach")
			text.Text = "Here are the files"
			media := func(n, typ, url string) msg.Event {
				e := from(msg.KindMedia, "m_multiAttach#"+n)
				e.Media = &msg.Media{Type: typ, ID: url, URL: url}
				return e
			}
			return []msg.Event{text,
				media("2", "video", "https://video.xx.fbcdn.net/v/t42.3356-2/clip.mp4"),
				media("3", "audio", "https://cdn.fbsbx.com/v/t59.3654-21/voice.mp4"),
				media("4", "document", "https://cdn.fbsbx.com/v/t59.2708-21/invoice.pdf")}
		}},
		{"sticker", func() []msg.Event {
			e := from(msg.KindMedia, "m_sticker1")
			e.Media = &msg.Media{Type: "sticker", ID: "369239263222822", URL: "https://scontent.xx.fbcdn.net/v/t39.1997-6/like.png"}
			return []msg.Event{e}
		}},
		{"postback", func() []msg.Event {
			e := from(msg.KindPostback, "m_postback1AG5Hz2Uq7tuwNEhXfYYKj8mJEM")
			e.Button = &msg.Reply{ID: "GET_STARTED", Title: "Get Started"}
			e.Referral = &msg.Referral{Ref: "spring_promo", SourceType: "SHORTLINK"}
			return []msg.Event{e}
		}},
		{"postback_list", func() []msg.Event {
			// A tap on a card of a list Flowgate rendered as a generic template.
			e := from(msg.KindList, "m_postback2")
			e.List = &msg.ListReply{ID: "sup_return", Title: "Choose a topic"}
			return []msg.Event{e}
		}},
		{"reaction", func() []msg.Event {
			react := from(msg.KindReaction, "reaction:m_ourReply1:react:\u2764\ufe0f")
			react.Reaction = &msg.Reaction{MessageID: "m_ourReply1", Emoji: "\u2764\ufe0f"}
			unreact := from(msg.KindReaction, "reaction:m_ourReply1:unreact:")
			unreact.Time = t0.Add(5 * time.Second)
			unreact.Reaction = &msg.Reaction{MessageID: "m_ourReply1"}
			return []msg.Event{react, unreact}
		}},
		{"read", func() []msg.Event {
			e := from(msg.KindStatus, "read@1767603590000")
			e.Status = &msg.Status{State: msg.StatusRead, Recipient: psid, Watermark: time.UnixMilli(1767603590000).UTC()}
			return []msg.Event{e}
		}},
		{"delivery", func() []msg.Event {
			var out []msg.Event
			for _, mid := range []string{"m_ourReply1", "m_ourReply2"} {
				e := from(msg.KindStatus, mid+":delivered")
				e.Time = t0.Add(200 * time.Millisecond) // no timestamp: the entry's time
				e.Status = &msg.Status{MessageID: mid, State: msg.StatusDelivered, Recipient: psid}
				out = append(out, e)
			}
			return out
		}},
		{"echo", func() []msg.Event { return nil }},
		{"standby", func() []msg.Event {
			// Another app owns the thread: its message is not ours to answer, its receipt is.
			e := from(msg.KindStatus, "read@1767603590000")
			e.Status = &msg.Status{State: msg.StatusRead, Recipient: psid, Watermark: time.UnixMilli(1767603590000).UTC()}
			return []msg.Event{e}
		}},
		{"chat_plugin", func() []msg.Event {
			e := from(msg.KindReferral, "referral:1767603600000")
			e.From, e.Contact.ID = "cp_user_ref_1234", "cp_user_ref_1234"
			e.Referral = &msg.Referral{Ref: "pricing_page", SourceType: "CUSTOMER_CHAT_PLUGIN", SourceURL: "https://example.com/pricing"}
			return []msg.Event{e}
		}},
		{"unicode_escaped", func() []msg.Event {
			e := from(msg.KindText, "m_unicode1")
			e.Text = "äöå café — 日本語 😀 <b>&</b> a/b"
			return []msg.Event{e}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := messenger().Parse(readWebhook(t, tc.name))
			if err != nil {
				t.Fatal(err)
			}
			if want := tc.want(); !reflect.DeepEqual(got, want) {
				t.Errorf("events differ\n got: %s\nwant: %s", prunedJSON(t, got), prunedJSON(t, want))
			}
		})
	}
}

// TestParseBatch: several entries, several items each, in order; the echo in the middle is
// skipped and each user keeps their own id.
func TestParseBatch(t *testing.T) {
	got, err := messenger().Parse(readWebhook(t, "batch"))
	if err != nil {
		t.Fatal(err)
	}
	var seen []string
	for _, e := range got {
		seen = append(seen, string(e.Kind)+" "+e.ID+" "+e.From)
	}
	want := []string{
		"text m_batch1 " + psid,
		"text m_batch2 " + psid,
		"postback m_batch3 7788990011223344",
		"status m_ourReply3:delivered " + psid,
	}
	if !reflect.DeepEqual(seen, want) {
		t.Errorf("events\n got %q\nwant %q", seen, want)
	}
}

// TestParseMalformed: an item that cannot be read costs its own event, never the body.
func TestParseMalformed(t *testing.T) {
	got, err := messenger().Parse(readWebhook(t, "malformed"))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("%d events: %s", len(got), prunedJSON(t, got))
	}
	if bad := got[0]; bad.Kind != msg.KindUnsupported || bad.From != psid || len(bad.Errors) != 1 || bad.Errors[0].Title != malformedTitle {
		t.Errorf("malformed item: %s", prunedJSON(t, bad))
	}
	if fine := got[1]; fine.Kind != msg.KindText || fine.Text != "still here" {
		t.Errorf("the next item: %s", prunedJSON(t, fine))
	}
}

func TestParseRejects(t *testing.T) {
	for name, body := range map[string]string{
		"not JSON":         `{"object":`,
		"whatsapp":         `{"object":"whatsapp_business_account","entry":[]}`,
		"instagram":        `{"object":"instagram","entry":[]}`,
		"no object":        `{"entry":[]}`,
		"array":            `[]`,
		"object of a type": `{"object":1}`,
	} {
		_, err := messenger().Parse([]byte(body))
		if err == nil {
			t.Errorf("%s: accepted", name)
		}
		if name == "whatsapp" && !errors.Is(err, ErrNotPlatform) {
			t.Errorf("%s: %v, want ErrNotPlatform", name, err)
		}
	}
	// A body with odd entries still parses: the entry becomes an error event.
	got, err := messenger().Parse([]byte(`{"object":"page","entry":["x",{"id":"1","messaging":[]}]}`))
	if err != nil || len(got) != 1 || got[0].Kind != msg.KindError {
		t.Errorf("odd entry: %v %s", err, prunedJSON(t, got))
	}
}
