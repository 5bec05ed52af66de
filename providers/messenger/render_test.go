package messenger

import (
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/flowgate/flowgate/engine/msg"
	"github.com/flowgate/flowgate/internal/golden"
	"github.com/flowgate/flowgate/providers/meta"
)

// supportList is the example support_list flow's list: two sections, rows with descriptions.
func supportList() *msg.Interactive {
	return &msg.Interactive{
		Type: "list", Header: &msg.Header{Type: "text", Text: "Acme Support"},
		Body:       "What do you need help with? Tap the button below and pick a topic.",
		Footer:     "Available 24/7",
		ListButton: "Choose a topic",
		Sections: []msg.Section{
			{Title: "Orders", Rows: []msg.Row{
				{ID: "sup_track", Title: "Track my order", Description: "See where your parcel is right now"},
				{ID: "sup_return", Title: "Return an item", Description: "Start a return within 30 days of delivery"},
			}},
			{Title: "Account", Rows: []msg.Row{
				{ID: "sup_password", Title: "Reset my password", Description: "Get a link to set a new password"},
			}},
		},
	}
}

// handleButton is the example handle_button flow's menu.
func handleButton() *msg.Interactive {
	return &msg.Interactive{Type: "button", Body: "What would you like to do?", Buttons: []msg.Button{
		{ID: "help", Title: "Get Help"}, {ID: "status", Title: "Check Status"}, {ID: "human", Title: "Talk to Human"},
	}}
}

func renderCases() []struct {
	name string
	m    *msg.Message
} {
	tagged := &msg.Message{To: psid, Text: &msg.Text{Body: "An agent will call you back today."}, Tag: "HUMAN_AGENT"}
	withHeader := handleButton()
	withHeader.Header = &msg.Header{Type: "image", Media: &msg.OutMedia{Link: "https://example.com/menu.png"}}
	withHeader.Footer = "Reply within 24 hours"
	shortList := &msg.Interactive{Type: "list", Body: "Pick a size", ListButton: "Sizes", Sections: []msg.Section{
		{Title: "Sizes", Rows: []msg.Row{{ID: "s", Title: "Small"}, {ID: "m", Title: "Medium"}, {ID: "l", Title: "A very large size indeed"}}},
	}}
	return []struct {
		name string
		m    *msg.Message
	}{
		{"text", &msg.Message{To: psid, Text: &msg.Text{Body: "Here's how I can help: tap *Check Status* to see where your order is."}}},
		{"text_tagged", tagged},
		{"text_split", &msg.Message{To: psid, Text: &msg.Text{Body: longText()}}},
		{"buttons", &msg.Message{To: psid, Interactive: handleButton()}},
		{"buttons_media_header", &msg.Message{To: psid, Interactive: withHeader}},
		{"button_id_with_prefix", &msg.Message{To: psid, Interactive: &msg.Interactive{Type: "button", Body: "Which?", Buttons: []msg.Button{{ID: "list:a", Title: "A"}, {ID: "b", Title: "B"}}}}},
		{"list_quick_replies", &msg.Message{To: psid, Interactive: shortList}},
		{"list_cards", &msg.Message{To: psid, Interactive: supportList()}},
		{"media_image_caption", &msg.Message{To: psid, Media: &msg.OutMedia{Type: "image", Link: "https://example.com/parcel.jpg", Caption: "Your parcel, as it left"}}},
		{"media_document_id", &msg.Message{To: psid, Media: &msg.OutMedia{Type: "document", ID: "1857777774821032", Filename: "invoice.pdf"}}},
		{"media_sticker", &msg.Message{To: psid, Media: &msg.OutMedia{Type: "sticker", Link: "https://example.com/thanks.webp"}}},
		{"location", &msg.Message{To: psid, Location: &msg.Location{Latitude: 37.44216251868683, Longitude: -122.16153582049394, Name: "Philz Coffee", Address: "101 Forest Ave, Palo Alto, CA 94301"}}},
		{"reaction", &msg.Message{To: psid, Reaction: &msg.Reaction{MessageID: "m_userMsg1", Emoji: "😀"}}},
		{"reaction_remove", &msg.Message{To: psid, Reaction: &msg.Reaction{MessageID: "m_userMsg1"}}},
		{"mark_seen", &msg.Message{To: psid, MarkRead: "m_userMsg1"}},
		{"typing", &msg.Message{To: psid, Typing: true}},
		{"mark_seen_typing", &msg.Message{To: psid, MarkRead: "m_userMsg1", Typing: true}},
	}
}

// longText is two paragraphs that together exceed 2000 characters, with multi-byte runes.
func longText() string {
	p1 := strings.Repeat("Olá, café ☕ ", 120) // 12 runes × 120 = 1440
	p2 := strings.Repeat("naïve résumé ", 60) // 13 runes × 60 = 780
	return strings.TrimSpace(p1) + "\n\n" + strings.TrimSpace(p2)
}

func bodies(reqs []meta.Request) [][]byte {
	out := make([][]byte, len(reqs))
	for i, r := range reqs {
		out[i] = r.Body
	}
	return out
}

// TestRenderGolden renders the WhatsApp-shaped messages flows write and compares the Send API
// requests with testdata/golden/<name>.json.
func TestRenderGolden(t *testing.T) {
	for _, tc := range renderCases() {
		t.Run(tc.name, func(t *testing.T) {
			reqs, err := messenger().Render(tc.m)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range reqs {
				if r.To != psid {
					t.Errorf("Request.To = %q", r.To)
				}
			}
			checkGolden(t, filepath.Join("testdata", "golden", tc.name+".json"), golden.JSONArray(t, bodies(reqs)...))
		})
	}
}

// TestRenderGoldenComplete fails on a golden file no case renders (left behind by a rename).
func TestRenderGoldenComplete(t *testing.T) {
	names := map[string]bool{}
	for _, c := range renderCases() {
		names[c.name] = true
	}
	files, _ := filepath.Glob(filepath.Join("testdata", "golden", "*.json"))
	for _, f := range files {
		if n := strings.TrimSuffix(filepath.Base(f), ".json"); !names[n] {
			t.Errorf("golden %s has no render case", f)
		}
	}
}

// TestRenderRoundTrip: whatever Render offers to tap comes back through Parse as what the flow
// routes on: a quick reply of a button as button.id, one of a list row, or a card's postback,
// as list.id.
func TestRenderRoundTrip(t *testing.T) {
	p := messenger()
	check := func(m *msg.Message, kind msg.Kind, ids ...string) {
		t.Helper()
		reqs, err := p.Render(m)
		if err != nil {
			t.Fatal(err)
		}
		var taps []string // payloads of the last request's quick replies or card buttons
		var last struct {
			Message struct {
				QuickReplies []struct{ Title, Payload string } `json:"quick_replies"`
				Attachment   struct {
					Payload struct {
						Elements []struct {
							Buttons []struct{ Title, Payload string }
						}
					}
				}
			}
		}
		if err := json.Unmarshal(reqs[len(reqs)-1].Body, &last); err != nil {
			t.Fatal(err)
		}
		for _, q := range last.Message.QuickReplies {
			taps = append(taps, q.Payload)
		}
		for _, e := range last.Message.Attachment.Payload.Elements {
			taps = append(taps, e.Buttons[0].Payload)
		}
		if len(taps) != len(ids) {
			t.Fatalf("%d choices, want %d", len(taps), len(ids))
		}
		for i, payload := range taps {
			var body string
			if len(last.Message.QuickReplies) > 0 {
				body = `{"object":"page","entry":[{"id":"1","messaging":[{"sender":{"id":"2"},"recipient":{"id":"1"},"timestamp":1,"message":{"mid":"m","text":"t","quick_reply":{"payload":` + jsonString(payload) + `}}}]}]}`
			} else {
				body = `{"object":"page","entry":[{"id":"1","messaging":[{"sender":{"id":"2"},"recipient":{"id":"1"},"timestamp":1,"postback":{"mid":"m","title":"t","payload":` + jsonString(payload) + `}}]}]}`
			}
			evs, err := p.Parse([]byte(body))
			if err != nil || len(evs) != 1 {
				t.Fatalf("tap %d: %v %v", i, evs, err)
			}
			got := evs[0]
			var id string
			switch {
			case got.Button != nil:
				id = got.Button.ID
			case got.List != nil:
				id = got.List.ID
			}
			if got.Kind != kind || id != ids[i] {
				t.Errorf("tap %d (%s): %s %q, want %s %q", i, payload, got.Kind, id, kind, ids[i])
			}
		}
	}
	check(&msg.Message{To: psid, Interactive: handleButton()}, msg.KindButton, "help", "status", "human")
	check(&msg.Message{To: psid, Interactive: &msg.Interactive{Type: "button", Body: "b", Buttons: []msg.Button{{ID: "list:x", Title: "X"}, {ID: "button:y", Title: "Y"}}}}, msg.KindButton, "list:x", "button:y")
	check(&msg.Message{To: psid, Interactive: supportList()}, msg.KindList, "sup_track", "sup_return", "sup_password")
	short := supportList()
	for i := range short.Sections {
		for j := range short.Sections[i].Rows {
			short.Sections[i].Rows[j].Description = ""
		}
	}
	check(&msg.Message{To: psid, Interactive: short}, msg.KindList, "sup_track", "sup_return", "sup_password")
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// TestRenderTextLimits: Messenger splits at 2,000 characters; a platform that counts bytes
// (Instagram) splits by bytes, and the quick replies ride on the last part.
func TestRenderTextLimits(t *testing.T) {
	long := strings.Repeat("é", 1500) + " " + strings.Repeat("é", 1500)
	reqs, err := messenger().Render(&msg.Message{To: psid, Text: &msg.Text{Body: long}})
	if err != nil || len(reqs) != 2 {
		t.Fatalf("%d requests, %v", len(reqs), err)
	}
	bytesPlatform := messenger()
	bytesPlatform.MaxText, bytesPlatform.TextBytes = 1000, true
	m := &msg.Message{To: psid, Interactive: &msg.Interactive{Type: "button", Body: long, Buttons: []msg.Button{{ID: "ok", Title: "OK"}}}}
	reqs, err = bytesPlatform.Render(m)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range reqs {
		var body struct {
			Message struct {
				Text         string
				QuickReplies []any `json:"quick_replies"`
			}
		}
		if err := json.Unmarshal(r.Body, &body); err != nil {
			t.Fatal(err)
		}
		if n := len(body.Message.Text); n > 1000 || !utf8.ValidString(body.Message.Text) {
			t.Errorf("part %d: %d bytes", i, n)
		}
		if hasQR := len(body.Message.QuickReplies) > 0; hasQR != (i == len(reqs)-1) {
			t.Errorf("part %d of %d: quick replies %v", i+1, len(reqs), hasQR)
		}
	}
	if len(reqs) != 6 { // two runs of 3,000 bytes: three parts of 1,000 each
		t.Errorf("%d parts, want 6", len(reqs))
	}
}

func TestRenderInvalid(t *testing.T) {
	btn := func(n int) []msg.Button {
		var b []msg.Button
		for i := range n {
			b = append(b, msg.Button{ID: "b" + string(rune('a'+i)), Title: "B"})
		}
		return b
	}
	rows := func(n int) []msg.Row {
		var r []msg.Row
		for i := range n {
			r = append(r, msg.Row{ID: "r" + string(rune('a'+i)), Title: "R"})
		}
		return r
	}
	noDocs := messenger()
	noDocs.Media = []string{"image", "video", "audio"}
	tests := map[string]struct {
		p *Platform
		m *msg.Message
	}{
		"nil":                      {nil, nil},
		"no content":               {nil, &msg.Message{To: psid}},
		"two contents":             {nil, &msg.Message{To: psid, Text: &msg.Text{Body: "a"}, Reaction: &msg.Reaction{MessageID: "m", Emoji: "x"}}},
		"no recipient":             {nil, &msg.Message{Text: &msg.Text{Body: "a"}}},
		"empty text":               {nil, &msg.Message{To: psid, Text: &msg.Text{}}},
		"template":                 {nil, &msg.Message{To: psid, Template: &msg.Template{Name: "follow_up", Language: "en"}}},
		"no buttons":               {nil, &msg.Message{To: psid, Interactive: &msg.Interactive{Type: "button", Body: "b"}}},
		"14 buttons":               {nil, &msg.Message{To: psid, Interactive: &msg.Interactive{Type: "button", Body: "b", Buttons: btn(14)}}},
		"button without id":        {nil, &msg.Message{To: psid, Interactive: &msg.Interactive{Type: "button", Body: "b", Buttons: []msg.Button{{Title: "t"}}}}},
		"button without title":     {nil, &msg.Message{To: psid, Interactive: &msg.Interactive{Type: "button", Body: "b", Buttons: []msg.Button{{ID: "i"}}}}},
		"button id too long":       {nil, &msg.Message{To: psid, Interactive: &msg.Interactive{Type: "button", Body: "b", Buttons: []msg.Button{{ID: strings.Repeat("x", 1001), Title: "t"}}}}},
		"interactive no body":      {nil, &msg.Message{To: psid, Interactive: &msg.Interactive{Type: "button", Buttons: btn(1)}}},
		"list of 14 rows":          {nil, &msg.Message{To: psid, Interactive: &msg.Interactive{Type: "list", Body: "b", Sections: []msg.Section{{Rows: rows(7)}, {Rows: rows(7)}}}}},
		"list without rows":        {nil, &msg.Message{To: psid, Interactive: &msg.Interactive{Type: "list", Body: "b"}}},
		"unknown interactive":      {nil, &msg.Message{To: psid, Interactive: &msg.Interactive{Type: "carousel", Body: "b"}}},
		"header without media":     {nil, &msg.Message{To: psid, Interactive: &msg.Interactive{Type: "button", Body: "b", Buttons: btn(1), Header: &msg.Header{Type: "image"}}}},
		"media id and link":        {nil, &msg.Message{To: psid, Media: &msg.OutMedia{Type: "image", ID: "1", Link: "https://x"}}},
		"media without source":     {nil, &msg.Message{To: psid, Media: &msg.OutMedia{Type: "image"}}},
		"unknown media":            {nil, &msg.Message{To: psid, Media: &msg.OutMedia{Type: "hologram", Link: "https://x"}}},
		"a media type not sent":    {noDocs, &msg.Message{To: psid, Media: &msg.OutMedia{Type: "document", Link: "https://x"}}},
		"location out of range":    {nil, &msg.Message{To: psid, Location: &msg.Location{Latitude: 91}}},
		"reaction without mid":     {nil, &msg.Message{To: psid, Reaction: &msg.Reaction{Emoji: "x"}}},
		"typing without recipient": {nil, &msg.Message{Typing: true}},
	}
	for name, tc := range tests {
		p := tc.p
		if p == nil {
			p = messenger()
		}
		if _, err := p.Render(tc.m); !errors.Is(err, ErrInvalidMessage) {
			t.Errorf("%s: %v, want ErrInvalidMessage", name, err)
		}
	}
}
