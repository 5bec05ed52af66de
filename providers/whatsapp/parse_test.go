package whatsapp

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/flowgate/flowgate/engine/msg"
)

// requiredShapes are the webhook shapes the issue asks a recording of.
var requiredShapes = []string{
	"text", "text_reply_context", "forwarded", "referral", "bsuid", "bsuid_with_phone", "bsuid_in_from",
	"bsuid_number_changed", "group_message", "status_bsuid", "interactive_button_reply",
	"interactive_list_reply", "nfm_reply", "button", "location", "image", "video", "audio_voice",
	"document", "sticker", "contacts", "reaction", "order", "system", "unsupported", "value_errors",
	"status_sent", "status_delivered", "status_read", "status_failed_131047", "template_status",
	"batch", "timestamp_ms", "unicode_escaped",
}

func TestWebhookCorpusComplete(t *testing.T) {
	have := map[string]bool{}
	for _, n := range webhookNames(t) {
		have[n] = true
	}
	for _, n := range requiredShapes {
		if !have[n] {
			t.Errorf("missing recorded webhook %s/%s.json", webhookDir, n)
		}
	}
	// Every golden has its recording (no stale goldens left behind by a rename).
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
	for _, name := range webhookNames(t) {
		t.Run(name, func(t *testing.T) {
			events, err := Parse(readWebhook(t, name))
			if err != nil {
				t.Fatal(err)
			}
			if len(events) == 0 {
				t.Fatal("no events")
			}
			for i, ev := range events {
				if ev.Channel != msg.WhatsApp {
					t.Errorf("event %d: channel %q", i, ev.Channel)
				}
				if ev.Account == "" {
					t.Errorf("event %d: no account", i)
				}
			}
			checkGolden(t, filepath.Join("testdata", "events", name+".json"), prunedJSON(t, events))
		})
	}
}

// at reads a value out of a raw body by a dotted path ("entry.0.changes.0.value.messages.0.id"),
// independently of the parser's own types.
func at(t *testing.T, body []byte, path string) string {
	t.Helper()
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatal(err)
	}
	for _, k := range strings.Split(path, ".") {
		switch x := v.(type) {
		case map[string]any:
			v = x[k]
		case []any:
			i, err := strconv.Atoi(k)
			if err != nil || i >= len(x) {
				t.Fatalf("path %s: bad index %s", path, k)
			}
			v = x[i]
		default:
			t.Fatalf("path %s: cannot descend into %T at %s", path, v, k)
		}
	}
	s, ok := v.(string)
	if !ok {
		t.Fatalf("path %s: %T, not a string", path, v)
	}
	return s
}

const (
	pnid     = "106540352242922"
	waba     = "102290129340398"
	user     = "16505551234"
	bizPhone = "15550783881"
	msg0     = "entry.0.changes.0.value.messages.0."
	msg1     = "entry.0.changes.0.value.messages.1."
	status0  = "entry.0.changes.0.value.statuses.0."
)

func unix(s int64) time.Time { return time.Unix(s, 0).UTC() }

// message is the envelope of a message from the usual test user.
// bsuid is the business-scoped user id of the recorded username user.
const bsuid = "US.13491208655302741918"

func message(id string, ts int64, kind msg.Kind) msg.Event {
	return msg.Event{
		Kind: kind, Channel: msg.WhatsApp, Account: pnid, ID: id, From: user, Time: unix(ts),
		Contact: msg.Contact{ID: user, Name: "Sheena Nelson", Phone: user},
	}
}

// TestParseShapes states, shape by shape, the events each recorded webhook must give.
func TestParseShapes(t *testing.T) {
	ourMsg := "wamid.HBgLMTY1MDU1NTEyMzQVAgARGBI3MTE5MjVBOTE3MDk5QUVFM0YA"
	tests := []struct {
		name string
		want func(body []byte) []msg.Event
	}{
		{"text", func(b []byte) []msg.Event {
			e := message(at(t, b, msg0+"id"), 1749416383, msg.KindText)
			e.Text = "Does it come in another color?"
			return []msg.Event{e}
		}},
		{"text_reply_context", func(b []byte) []msg.Event {
			e := message(at(t, b, msg0+"id"), 1749416390, msg.KindText)
			e.Text = "Yes, that one please"
			e.Context = &msg.Context{ReplyTo: ourMsg, From: bizPhone}
			return []msg.Event{e}
		}},
		{"forwarded", func(b []byte) []msg.Event {
			e1 := message(at(t, b, msg0+"id"), 1749416400, msg.KindText)
			e1.Text = "Look at this offer"
			e1.Context = &msg.Context{Forwarded: true}
			e2 := message(at(t, b, msg1+"id"), 1749416401, msg.KindMedia)
			e2.Context = &msg.Context{FrequentlyForwarded: true}
			e2.Media = &msg.Media{Type: "image", ID: "1263592301836462", MimeType: "image/jpeg", SHA256: "ybxq5Z5YiXzZ2uvPxwRT4FTHv5XkWlxF6Lq4tz3sUqg="}
			return []msg.Event{e1, e2}
		}},
		{"referral", func(b []byte) []msg.Event {
			e := message(at(t, b, msg0+"id"), 1749416420, msg.KindText)
			e.Text = "Hi! I saw your ad"
			e.Referral = &msg.Referral{
				SourceURL: "https://fb.me/3cr4Wqqkv", SourceID: "120226305854810726", SourceType: "ad",
				Body: "Lucky Shrub: succulents delivered", Headline: "Chat with us", MediaType: "image",
				ImageURL:     "https://scontent.xx.fbcdn.net/v/t45.1600-4/518949649_1396343990916.jpg",
				ThumbnailURL: "https://scontent.xx.fbcdn.net/v/t45.1600-4/518949649_1396343990916_thumb.jpg",
				ClickID:      at(t, b, msg0+"referral.ctwa_clid"),
				Welcome:      "Hi there! Let us know how we can help.",
			}
			return []msg.Event{e}
		}},
		{"product_inquiry", func(b []byte) []msg.Event {
			e := message(at(t, b, msg0+"id"), 1749416430, msg.KindText)
			e.Text = "Is this still in stock?"
			e.Context = &msg.Context{ReplyTo: at(t, b, msg0+"context.id"), From: bizPhone, ProductID: "di9ozbzfi4", CatalogID: "194836987003835"}
			return []msg.Event{e}
		}},
		{"bsuid", func(b []byte) []msg.Event {
			return []msg.Event{{
				Kind: msg.KindText, Channel: msg.WhatsApp, Account: pnid, ID: at(t, b, msg0+"id"),
				From: bsuid, Time: unix(1749416440), Text: "Hello from a username",
				Contact: msg.Contact{ID: bsuid, Name: "Kerry Fisher", UserID: bsuid, Username: "kfisher"},
			}}
		}},
		{"bsuid_with_phone", func(b []byte) []msg.Event {
			return []msg.Event{{
				Kind: msg.KindText, Channel: msg.WhatsApp, Account: pnid, ID: at(t, b, msg0+"id"),
				From: bsuid, Time: unix(1749416441), Text: "signup",
				Contact: msg.Contact{ID: bsuid, Name: "Kerry Fisher", Phone: user, UserID: bsuid, Username: "kfisher"},
			}}
		}},
		{"bsuid_in_from", func(b []byte) []msg.Event {
			return []msg.Event{{
				Kind: msg.KindText, Channel: msg.WhatsApp, Account: pnid, ID: at(t, b, msg0+"id"),
				From: bsuid, Time: unix(1749416442), Text: "Hello again",
				Contact: msg.Contact{ID: bsuid, Name: "Kerry Fisher", UserID: bsuid, Username: "kfisher"},
			}}
		}},
		{"bsuid_number_changed", func(b []byte) []msg.Event {
			return []msg.Event{{
				Kind: msg.KindSystem, Channel: msg.WhatsApp, Account: pnid, ID: at(t, b, msg0+"id"),
				From: bsuid, Time: unix(1749416500),
				Contact: msg.Contact{ID: bsuid, Phone: user, UserID: bsuid},
				System:  &msg.System{Type: msg.SystemNumberChanged, Body: "User Kerry Fisher changed from 16505551234 to 12195555358", NewID: "12195555358"},
			}}
		}},
		{"group_message", func(b []byte) []msg.Event {
			return []msg.Event{{
				Kind: msg.KindText, Channel: msg.WhatsApp, Account: pnid, ID: at(t, b, msg0+"id"),
				From: bsuid, Group: "120363044123456789", Time: unix(1749416600), Text: "hi everyone",
				Contact: msg.Contact{ID: bsuid, Name: "Kerry Fisher", Phone: user, UserID: bsuid, Username: "kfisher"},
			}}
		}},
		{"status_bsuid", func(b []byte) []msg.Event {
			return []msg.Event{{
				Kind: msg.KindStatus, Channel: msg.WhatsApp, Account: pnid, ID: ourMsg + ":delivered", From: bsuid,
				Contact: msg.Contact{ID: bsuid, Name: "Kerry Fisher", UserID: bsuid, Username: "kfisher"}, Time: unix(1750030075),
				Status: &msg.Status{MessageID: ourMsg, State: msg.StatusDelivered, Recipient: bsuid},
			}}
		}},
		{"interactive_button_reply", func(b []byte) []msg.Event {
			e := message(at(t, b, msg0+"id"), 1714510003, msg.KindButton)
			e.Context = &msg.Context{ReplyTo: at(t, b, msg0+"context.id"), From: bizPhone}
			e.Button = &msg.Reply{ID: "change-button", Title: "Change"}
			return []msg.Event{e}
		}},
		{"interactive_list_reply", func(b []byte) []msg.Event {
			e := message(at(t, b, msg0+"id"), 1714510004, msg.KindList)
			e.Context = &msg.Context{ReplyTo: at(t, b, msg0+"context.id"), From: bizPhone}
			e.List = &msg.ListReply{ID: "priority_express", Title: "Priority Mail Express", Description: "Next Day to 2 Days"}
			return []msg.Event{e}
		}},
		{"nfm_reply", func(b []byte) []msg.Event {
			e := message(at(t, b, msg0+"id"), 1714510005, msg.KindFlowReply)
			e.Context = &msg.Context{ReplyTo: "gBGGEiRVVgBPAgm7FUgc73noXjo", From: bizPhone}
			e.FlowReply = &msg.FlowReply{Name: "flow", Body: "Sent", Response: map[string]any{
				"flow_token": "fl0w+t0k3n", "first_name": "Bob",
				"appointment": map[string]any{"day": "2025-07-01", "slot": float64(3)},
			}}
			return []msg.Event{e}
		}},
		{"button", func(b []byte) []msg.Event {
			e := message(at(t, b, msg0+"id"), 1739321024, msg.KindButton)
			e.Context = &msg.Context{ReplyTo: at(t, b, msg0+"context.id"), From: bizPhone}
			e.Button = &msg.Reply{ID: "TRACK_A-1042", Title: "Track order"} // ID is the payload
			return []msg.Event{e}
		}},
		{"location", func(b []byte) []msg.Event {
			e := message(at(t, b, msg0+"id"), 1739321025, msg.KindLocation)
			e.Location = &msg.Location{Latitude: 37.44216251868683, Longitude: -122.16153582049394, Name: "Philz Coffee", Address: "101 Forest Ave, Palo Alto, CA 94301", URL: "https://philzcoffee.com"}
			return []msg.Event{e}
		}},
		{"image", func(b []byte) []msg.Event {
			e := message(at(t, b, msg0+"id"), 1739321026, msg.KindMedia)
			e.Media = &msg.Media{Type: "image", ID: "1003383421387256", URL: at(t, b, msg0+"image.url"), MimeType: "image/jpeg", SHA256: "SfInY0gGKTsJlUWbwxC1k+FAD0FZHvzwfpvO0zX0GUI=", Caption: "Taj Mahal"}
			return []msg.Event{e}
		}},
		{"video", func(b []byte) []msg.Event {
			e := message(at(t, b, msg0+"id"), 1739321027, msg.KindMedia)
			e.Media = &msg.Media{Type: "video", ID: "1684214772477143", MimeType: "video/mp4", SHA256: "4bTOP+4Fv4E3M7K6CZ+Xc8GGUO9hYbXg1RZ5FJcM5yI=", Caption: "Unboxing"}
			return []msg.Event{e}
		}},
		{"audio_voice", func(b []byte) []msg.Event {
			e := message(at(t, b, msg0+"id"), 1739321028, msg.KindMedia)
			e.Media = &msg.Media{Type: "audio", ID: "1122334455667788", MimeType: "audio/ogg; codecs=opus", SHA256: "Y3uD7i8o7ZBqyE3q1QKMyXbY8Z4hBJk1kBp6oBZcQxw=", Voice: true}
			return []msg.Event{e}
		}},
		{"document", func(b []byte) []msg.Event {
			e := message(at(t, b, msg0+"id"), 1739321029, msg.KindMedia)
			e.Media = &msg.Media{Type: "document", ID: "3141592653589793", MimeType: "application/pdf", SHA256: "xmOZ1aH4P0o6Qf2IbYl6vK1W2kG8j0VbbN9dNoQxQvU=", Caption: "Lucky Shrub Invoice", Filename: "lucky-shrub-invoice.pdf"}
			return []msg.Event{e}
		}},
		{"sticker", func(b []byte) []msg.Event {
			e := message(at(t, b, msg0+"id"), 1739321030, msg.KindMedia)
			e.Media = &msg.Media{Type: "sticker", ID: "2718281828459045", MimeType: "image/webp", SHA256: "Mb4bYbZ9aqR5w0gVh3pW3rXlhE5u9tJ8oVjF6GZ2y2k=", Animated: true}
			return []msg.Event{e}
		}},
		{"contacts", func(b []byte) []msg.Event {
			e := message(at(t, b, msg0+"id"), 1739321031, msg.KindContacts)
			e.Contacts = []msg.SharedContact{{
				Name: "Barbara J. Johnson", Phones: []string{"+1 (940) 555-1234", "+1 (650) 555-0000"},
				Emails: []string{"bjohnson@example.com"}, WaID: "19405551234",
			}}
			return []msg.Event{e}
		}},
		{"reaction", func(b []byte) []msg.Event {
			e1 := message(at(t, b, msg0+"id"), 1739321032, msg.KindReaction)
			e1.Reaction = &msg.Reaction{MessageID: ourMsg, Emoji: "👍"}
			e2 := message(at(t, b, msg1+"id"), 1739321040, msg.KindReaction)
			e2.Reaction = &msg.Reaction{MessageID: ourMsg} // removed
			return []msg.Event{e1, e2}
		}},
		{"order", func(b []byte) []msg.Event {
			e := message(at(t, b, msg0+"id"), 1739321033, msg.KindOrder)
			e.Order = &msg.Order{CatalogID: "194836987003835", Text: "Please deliver before 5pm", Items: []msg.OrderItem{
				{ProductID: "di9ozbzfi4", Quantity: 2, Price: 30, Currency: "USD"},
				{ProductID: "nlr0olnm8b", Quantity: 1, Price: 12.5, Currency: "USD"}, // quantity sent as a string
			}}
			return []msg.Event{e}
		}},
		{"system", func(b []byte) []msg.Event {
			e := message(at(t, b, msg0+"id"), 1739321034, msg.KindSystem)
			e.Contact = msg.Contact{ID: user, Phone: user} // no contacts array in this webhook
			e.System = &msg.System{Type: "user_changed_number", Body: "User Sheena Nelson changed from 16505551234 to 12195555358", NewID: "12195555358"}
			return []msg.Event{e}
		}},
		{"unsupported", func(b []byte) []msg.Event {
			e := message(at(t, b, msg0+"id"), 1750090702, msg.KindUnsupported)
			e.Unsupported = "edit"
			e.Errors = []msg.Error{{Code: 131051, Title: "Message type unknown", Message: "Message type unknown", Details: "Message type is currently not supported."}}
			return []msg.Event{e}
		}},
		{"value_errors", func(b []byte) []msg.Event {
			return []msg.Event{{
				Kind: msg.KindError, Channel: msg.WhatsApp, Account: pnid,
				Errors: []msg.Error{{Code: 130429, Title: "Rate limit hit", Message: "Rate limit hit", Details: "Message failed to send because there were too many messages sent from this phone number in a short period of time"}},
			}}
		}},
		{"status_sent", func(b []byte) []msg.Event {
			return []msg.Event{{
				Kind: msg.KindStatus, Channel: msg.WhatsApp, Account: pnid, ID: ourMsg + ":sent", From: user,
				Contact: msg.Contact{ID: user, Phone: user}, Time: unix(1750030073),
				Status: &msg.Status{MessageID: ourMsg, State: msg.StatusSent, Recipient: user, Callback: "order-8841"},
			}}
		}},
		{"status_delivered", func(b []byte) []msg.Event {
			return []msg.Event{{
				Kind: msg.KindStatus, Channel: msg.WhatsApp, Account: pnid, ID: ourMsg + ":delivered", From: user,
				Contact: msg.Contact{ID: user, Name: "Sheena Nelson", Phone: user, Username: "sheena.n"}, Time: unix(1750030075),
				Status: &msg.Status{MessageID: ourMsg, State: msg.StatusDelivered, Recipient: user},
			}}
		}},
		{"status_read", func(b []byte) []msg.Event {
			return []msg.Event{{
				Kind: msg.KindStatus, Channel: msg.WhatsApp, Account: pnid, ID: ourMsg + ":read", From: user,
				Contact: msg.Contact{ID: user, Phone: user}, Time: unix(1750030190),
				Status: &msg.Status{MessageID: ourMsg, State: msg.StatusRead, Recipient: user},
			}}
		}},
		{"status_failed_131047", func(b []byte) []msg.Event {
			id := at(t, b, status0+"id")
			return []msg.Event{{
				Kind: msg.KindStatus, Channel: msg.WhatsApp, Account: pnid, ID: id + ":failed", From: user,
				Contact: msg.Contact{ID: user, Phone: user}, Time: unix(1751142888),
				Status: &msg.Status{MessageID: id, State: msg.StatusFailed, Recipient: user, WindowClosed: true,
					Errors: []msg.Error{{Code: 131047, Title: "Re-engagement message", Message: "Re-engagement message",
						Details: "Message failed to send because more than 24 hours have passed since the customer last replied to this number."}}},
			}}
		}},
		{"template_status", func(b []byte) []msg.Event {
			return []msg.Event{{
				Kind: msg.KindTemplate, Channel: msg.WhatsApp, Account: waba,
				ID: "1689556908129832:REJECTED:1751247548", Time: unix(1751247548),
				TemplateStatus: &msg.TemplateStatus{Event: "REJECTED", ID: "1689556908129832", Name: "order_confirmation",
					Language: "en_US", Category: "UTILITY", Reason: "INVALID_FORMAT"},
			}}
		}},
		{"timestamp_ms", func(b []byte) []msg.Event {
			e := message(at(t, b, msg0+"id"), 0, msg.KindText)
			e.Time = time.UnixMilli(1749416383123).UTC()
			e.Text = "timestamp in milliseconds"
			return []msg.Event{e, {
				Kind: msg.KindStatus, Channel: msg.WhatsApp, Account: pnid, ID: ourMsg + ":delivered", From: user,
				Contact: msg.Contact{ID: user, Name: "Sheena Nelson", Phone: user}, Time: time.UnixMilli(1749416384456).UTC(),
				Status: &msg.Status{MessageID: ourMsg, State: msg.StatusDelivered, Recipient: user},
			}}
		}},
		{"unicode_escaped", func(b []byte) []msg.Event {
			e := message(at(t, b, msg0+"id"), 1749416600, msg.KindText)
			e.Contact.Name = "Jürgen Müller"
			e.Text = "äöå café — 日本語 😀 <b>&</b> 50% @home a/b"
			return []msg.Event{e}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body := readWebhook(t, tc.name)
			got, err := Parse(body)
			if err != nil {
				t.Fatal(err)
			}
			want := tc.want(body)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("events differ\n got: %s\nwant: %s", prunedJSON(t, got), prunedJSON(t, want))
			}
		})
	}
}

// TestParseBatch checks the multi-entry, multi-change body: every item is kept, in order, an
// unknown type and a malformed message in the middle become unsupported events, each message
// gets its own contact and each entry its own phone number id, and the account_update change
// is skipped.
func TestParseBatch(t *testing.T) {
	body := readWebhook(t, "batch")
	got, err := Parse(body)
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		kind        msg.Kind
		account     string
		from, name  string
		text        string
		unsupported string
	}
	want := []row{
		{msg.KindText, pnid, user, "Sheena Nelson", "first", ""},
		{msg.KindUnsupported, pnid, "16505559876", "Ravi Kumar", "", "poll"},
		{msg.KindMedia, pnid, user, "Sheena Nelson", "", ""},
		{msg.KindUnsupported, pnid, user, "Sheena Nelson", "", "location"}, // latitude "north"
		{msg.KindText, pnid, "16505559876", "Ravi Kumar", "last", ""},
		{msg.KindStatus, pnid, user, "", "", ""},
		{msg.KindStatus, pnid, "16505559876", "", "", ""},
		{msg.KindText, "113269274970227", "16505550101", "Mei Lin", "hello second number", ""},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d events, want %d:\n%s", len(got), len(want), prunedJSON(t, got))
	}
	for i, w := range want {
		g := got[i]
		r := row{g.Kind, g.Account, g.From, g.Contact.Name, g.Text, g.Unsupported}
		if r != w {
			t.Errorf("event %d = %+v, want %+v", i, r, w)
		}
		if g.ID == "" {
			t.Errorf("event %d has no id", i)
		}
	}
	// The malformed location keeps its id and time and says what was wrong.
	bad := got[3]
	if bad.ID != at(t, body, "entry.0.changes.0.value.messages.3.id") || !bad.Time.Equal(unix(1749416503)) {
		t.Errorf("malformed message lost its envelope: %+v", bad)
	}
	if len(bad.Errors) != 1 || bad.Errors[0].Title != unsupportedMalformedTitle || !strings.Contains(bad.Errors[0].Details, "north") {
		t.Errorf("malformed message errors = %+v", bad.Errors)
	}
	if len(got[1].Errors) != 1 || got[1].Errors[0].Code != 131051 {
		t.Errorf("unknown type errors = %+v", got[1].Errors)
	}
}

// TestParsePaths checks, on every recording, that the one-pass decoder handles the
// well-formed bodies (batch carries a malformed message on purpose) and that it gives exactly
// the events of the item-by-item decoder.
func TestParsePaths(t *testing.T) {
	lenientOnly := map[string]bool{"batch": true}
	for _, name := range webhookNames(t) {
		body := readWebhook(t, name)
		var env fastEnvelope
		if err := json.Unmarshal(body, &env); (err != nil) != lenientOnly[name] {
			t.Errorf("%s: one-pass decode error %v", name, err)
		}
		fast, err1 := Parse(body)
		lenient, err2 := parseLenient(body)
		if err1 != nil || err2 != nil || !reflect.DeepEqual(fast, lenient) {
			t.Errorf("%s: paths differ (%v, %v)", name, err1, err2)
		}
	}
}

func TestParseRejects(t *testing.T) {
	for name, body := range map[string]string{
		"empty":          ``,
		"not json":       `<html>`,
		"truncated":      `{"object":"whatsapp_business_account","entry":[`,
		"array":          `[{"object":"whatsapp_business_account"}]`,
		"string":         `"whatsapp_business_account"`,
		"messenger":      `{"object":"page","entry":[{"id":"1","messaging":[]}]}`,
		"instagram":      `{"object":"instagram","entry":[]}`,
		"no object":      `{"entry":[]}`,
		"entry not list": `{"object":"whatsapp_business_account","entry":{}}`,
	} {
		t.Run(name, func(t *testing.T) {
			events, err := Parse([]byte(body))
			if err == nil {
				t.Fatalf("no error, events %+v", events)
			}
			if !strings.HasPrefix(err.Error(), "whatsapp: parsing webhook: ") {
				t.Errorf("error without context: %v", err)
			}
		})
	}
	_, err := Parse([]byte(`{"object":"page"}`))
	if !errors.Is(err, ErrNotWhatsApp) {
		t.Errorf("Messenger body: %v, want ErrNotWhatsApp", err)
	}
}

// TestParseOddities feeds hand-made bodies that stress the never-drop-the-batch rule and the
// identity, contact and timestamp rules.
func TestParseOddities(t *testing.T) {
	wrap := func(value string) []byte {
		return []byte(`{"object":"whatsapp_business_account","entry":[{"id":"` + waba + `","changes":[{"field":"messages","value":` + value + `}]}]}`)
	}
	md := `"metadata":{"display_phone_number":"15550783881","phone_number_id":"` + pnid + `"}`
	tests := []struct {
		name  string
		body  []byte
		check func(t *testing.T, evs []msg.Event)
	}{
		{"empty entry list", []byte(`{"object":"whatsapp_business_account","entry":[]}`), func(t *testing.T, evs []msg.Event) {
			if len(evs) != 0 {
				t.Errorf("events %+v", evs)
			}
		}},
		{"message that is not an object keeps its neighbours", wrap(`{` + md + `,"messages":[42,{"from":"1","id":"wamid.B","timestamp":"1","type":"text","text":{"body":"ok"}}]}`), func(t *testing.T, evs []msg.Event) {
			if len(evs) != 2 || evs[0].Kind != msg.KindUnsupported || evs[1].Text != "ok" {
				t.Errorf("events %s", prunedJSON(t, evs))
			}
		}},
		{"type without its object", wrap(`{` + md + `,"messages":[{"from":"1","id":"wamid.C","timestamp":"1","type":"image"}]}`), func(t *testing.T, evs []msg.Event) {
			if len(evs) != 1 || evs[0].Kind != msg.KindUnsupported || evs[0].Unsupported != "image" || len(evs[0].Errors) != 1 {
				t.Errorf("events %s", prunedJSON(t, evs))
			}
		}},
		{"unknown interactive type", wrap(`{` + md + `,"messages":[{"from":"1","id":"wamid.D","timestamp":"1","type":"interactive","interactive":{"type":"call_permission_reply","call_permission_reply":{}}}]}`), func(t *testing.T, evs []msg.Event) {
			if len(evs) != 1 || evs[0].Kind != msg.KindUnsupported || evs[0].Unsupported != "interactive.call_permission_reply" {
				t.Errorf("events %s", prunedJSON(t, evs))
			}
		}},
		{"flow response that is not JSON keeps the reply", wrap(`{` + md + `,"messages":[{"from":"1","id":"wamid.E","timestamp":"1","type":"interactive","interactive":{"type":"nfm_reply","nfm_reply":{"name":"flow","body":"Sent","response_json":"not json"}}}]}`), func(t *testing.T, evs []msg.Event) {
			if len(evs) != 1 || evs[0].Kind != msg.KindFlowReply || evs[0].FlowReply.Response != nil || len(evs[0].Errors) != 1 {
				t.Errorf("events %s", prunedJSON(t, evs))
			}
		}},
		{"empty from falls back to from_user_id", wrap(`{` + md + `,"messages":[{"from":"","from_user_id":"US.77","id":"wamid.F","timestamp":"1","type":"text","text":{"body":"x"}}]}`), func(t *testing.T, evs []msg.Event) {
			if len(evs) != 1 || evs[0].From != "US.77" || evs[0].Contact.ID != "US.77" || evs[0].Contact.UserID != "US.77" || evs[0].Contact.Phone != "" {
				t.Errorf("events %s", prunedJSON(t, evs))
			}
		}},
		{"phone and user id both kept, the user id is the key", wrap(`{` + md + `,"contacts":[{"profile":{"name":"A"},"wa_id":"5511","user_id":"BR.1"}],"messages":[{"from":"5511","from_user_id":"BR.1","id":"wamid.G","timestamp":"1","type":"text","text":{"body":"x"}}]}`), func(t *testing.T, evs []msg.Event) {
			want := msg.Contact{ID: "BR.1", Name: "A", Phone: "5511", UserID: "BR.1"}
			if len(evs) != 1 || evs[0].From != "BR.1" || evs[0].Contact != want {
				t.Errorf("events %s", prunedJSON(t, evs))
			}
		}},
		{"single contact lent to a from that differs from wa_id", wrap(`{` + md + `,"contacts":[{"profile":{"name":"Brasil"},"wa_id":"5511987654321"}],"messages":[{"from":"551187654321","id":"wamid.H","timestamp":"1","type":"text","text":{"body":"x"}}]}`), func(t *testing.T, evs []msg.Event) {
			if evs[0].Contact.Name != "Brasil" || evs[0].From != "551187654321" {
				t.Errorf("events %s", prunedJSON(t, evs))
			}
		}},
		{"single contact of another user id not lent to a message", wrap(`{` + md + `,"contacts":[{"profile":{"name":"A"},"wa_id":"16505550001","user_id":"US.1"}],"messages":[{"from":"16505550001","from_user_id":"US.1","id":"wamid.T","timestamp":"1","type":"text","text":{"body":"x"}},{"from":"16505550002","id":"wamid.U","timestamp":"1","type":"text","text":{"body":"y"}}]}`), func(t *testing.T, evs []msg.Event) {
			want := msg.Contact{ID: "16505550002", Phone: "16505550002"}
			if len(evs) != 2 || evs[1].From != "16505550002" || evs[1].Contact != want {
				t.Errorf("the second user's message was given the first user's ids: %s", prunedJSON(t, evs))
			}
		}},
		{"single contact of another user id not lent to a status", wrap(`{` + md + `,"contacts":[{"profile":{"name":"A"},"wa_id":"16505550001","user_id":"US.1"}],"statuses":[{"id":"wamid.V","status":"read","timestamp":"1","recipient_id":"","recipient_user_id":"US.2"}]}`), func(t *testing.T, evs []msg.Event) {
			want := msg.Contact{ID: "US.2", UserID: "US.2"}
			if len(evs) != 1 || evs[0].Contact != want {
				t.Errorf("the status of US.2 was given US.1's phone: %s", prunedJSON(t, evs))
			}
		}},
		{"no contact lent when several do not match", wrap(`{` + md + `,"contacts":[{"profile":{"name":"A"},"wa_id":"1"},{"profile":{"name":"B"},"wa_id":"2"}],"messages":[{"from":"3","id":"wamid.I","timestamp":"1","type":"text","text":{"body":"x"}}]}`), func(t *testing.T, evs []msg.Event) {
			if evs[0].Contact.Name != "" {
				t.Errorf("events %s", prunedJSON(t, evs))
			}
		}},
		{"numeric timestamp and from", wrap(`{` + md + `,"messages":[{"from":16505551234,"id":"wamid.J","timestamp":1749416383,"type":"text","text":{"body":"x"}}]}`), func(t *testing.T, evs []msg.Event) {
			if evs[0].Kind != msg.KindText || evs[0].From != user || !evs[0].Time.Equal(unix(1749416383)) {
				t.Errorf("events %s", prunedJSON(t, evs))
			}
		}},
		{"garbage timestamp keeps the message", wrap(`{` + md + `,"messages":[{"from":"1","id":"wamid.K","timestamp":"yesterday","type":"text","text":{"body":"x"}}]}`), func(t *testing.T, evs []msg.Event) {
			if evs[0].Kind != msg.KindText || !evs[0].Time.IsZero() {
				t.Errorf("events %s", prunedJSON(t, evs))
			}
		}},
		{"change without value", []byte(`{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages"},{"field":"message_template_status_update","value":null}]}]}`), func(t *testing.T, evs []msg.Event) {
			if len(evs) != 0 { // fuzz regression: both parse paths must agree on this
				t.Errorf("events %s", prunedJSON(t, evs))
			}
		}},
		{"malformed value", wrap(`"oops"`), func(t *testing.T, evs []msg.Event) {
			if len(evs) != 1 || evs[0].Kind != msg.KindError || evs[0].Account != waba {
				t.Errorf("events %s", prunedJSON(t, evs))
			}
		}},
		{"malformed status keeps the message before it", wrap(`{` + md + `,"messages":[{"from":"1","id":"wamid.L","timestamp":"1","type":"text","text":{"body":"x"}}],"statuses":[{"id":"wamid.M","status":"sent","errors":"bad"}]}`), func(t *testing.T, evs []msg.Event) {
			if len(evs) != 2 || evs[0].Kind != msg.KindText || evs[1].Kind != msg.KindError || !strings.Contains(evs[1].Errors[0].Message, "wamid.M") {
				t.Errorf("events %s", prunedJSON(t, evs))
			}
		}},
		{"unknown status is kept", wrap(`{` + md + `,"statuses":[{"id":"wamid.N","status":"deleted","timestamp":"1","recipient_id":"1"}]}`), func(t *testing.T, evs []msg.Event) {
			if len(evs) != 1 || evs[0].Status.State != "deleted" || evs[0].ID != "wamid.N:deleted" {
				t.Errorf("events %s", prunedJSON(t, evs))
			}
		}},
		{"failed status without 131047 leaves the window open", wrap(`{` + md + `,"statuses":[{"id":"wamid.O","status":"failed","timestamp":"1","recipient_id":"1","errors":[{"code":131026,"title":"Message Undeliverable"}]}]}`), func(t *testing.T, evs []msg.Event) {
			if evs[0].Status.WindowClosed || evs[0].Status.Errors[0].Code != 131026 {
				t.Errorf("events %s", prunedJSON(t, evs))
			}
		}},
		{"131047 among several errors closes the window", wrap(`{` + md + `,"statuses":[{"id":"wamid.P","status":"failed","timestamp":"1","recipient_id":"1","errors":[{"code":131000},{"code":"131047"}]}]}`), func(t *testing.T, evs []msg.Event) {
			if !evs[0].Status.WindowClosed {
				t.Errorf("events %s", prunedJSON(t, evs))
			}
		}},
		{"messages, statuses and errors in one value", wrap(`{` + md + `,"messages":[{"from":"1","id":"wamid.Q","timestamp":"1","type":"text","text":{"body":"x"}}],"statuses":[{"id":"wamid.R","status":"read","timestamp":"1","recipient_id":"1"}],"errors":[{"code":131000,"title":"Something went wrong"}]}`), func(t *testing.T, evs []msg.Event) {
			if len(evs) != 3 || evs[0].Kind != msg.KindText || evs[1].Kind != msg.KindStatus || evs[2].Kind != msg.KindError {
				t.Errorf("events %s", prunedJSON(t, evs))
			}
		}},
		{"legacy customer_changed_number", wrap(`{` + md + `,"messages":[{"from":"1","id":"wamid.S","timestamp":"1","type":"system","system":{"body":"changed","new_wa_id":"2","type":"customer_changed_number"}}]}`), func(t *testing.T, evs []msg.Event) {
			if evs[0].Kind != msg.KindSystem || evs[0].System.NewID != "2" || evs[0].System.Type != msg.SystemNumberChanged {
				t.Errorf("events %s", prunedJSON(t, evs))
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			evs, err := Parse(tc.body)
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, evs)
		})
	}
}

func TestMain(m *testing.M) {
	os.Exit(m.Run())
}
