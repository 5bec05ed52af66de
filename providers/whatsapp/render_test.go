package whatsapp

import (
	"bytes"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/flowgate/flowgate/engine/msg"
	"github.com/flowgate/flowgate/providers/meta"
)

const to = "+16505551234"

// renderCases has one message per request kind; each has a golden file under testdata/golden.
func renderCases() []struct {
	name string
	m    *msg.Message
} {
	return []struct {
		name string
		m    *msg.Message
	}{
		{"text", &msg.Message{To: to, Text: &msg.Text{Body: "Does it come in another color?"}}},
		{"text_bsuid_recipient", &msg.Message{To: "US.13491208655302741918", Text: &msg.Text{Body: "Hello, kfisher"}}},
		{"text_bsuid_with_phone", &msg.Message{To: "US.13491208655302741918", Phone: "16505551234", Text: &msg.Text{Body: "Hello, Kerry"}}},
		{"template_bsuid_recipient", &msg.Message{To: "US.13491208655302741918", Template: &msg.Template{Name: "order_confirmation", Language: "en",
			Components: []msg.Component{{Type: "body", Parameters: []msg.Parameter{{Type: "text", Text: "Kerry"}, {Type: "text", Text: "A-1042"}}}}}}},
		{"text_preview_reply", &msg.Message{To: to, ReplyTo: "wamid.HBgLMTY1MDU1NTEyMzQVAgASGBQzQUI1NzFEMjlDQTU0QjYwQjY0MgA=",
			Text: &msg.Text{Body: "As requested, here's the link: https://www.meta.com/quest/quest-3/ <enjoy> & share", PreviewURL: true}}},
		{"text_split", &msg.Message{To: to, ReplyTo: "wamid.quoted", Text: &msg.Text{Body: longText()}}},
		{"template_named", &msg.Message{To: to, Template: &msg.Template{Name: "order_update", Language: "en_US", Components: []msg.Component{
			{Type: "header", Parameters: []msg.Parameter{{Type: "image", Media: &msg.OutMedia{ID: "1339522734477770"}}}},
			{Type: "body", Parameters: []msg.Parameter{
				{Type: "text", Name: "first_name", Text: "Jessica"},
				{Type: "text", Name: "order_id", Text: "A-1042"}}},
			{Type: "button", SubType: "quick_reply", Index: 0, Parameters: []msg.Parameter{{Type: "payload", Payload: "TRACK_A-1042"}}},
			{Type: "button", SubType: "url", Index: 1, Parameters: []msg.Parameter{{Type: "text", Text: "A-1042"}}},
		}}}},
		{"template_positional", &msg.Message{To: to, Template: &msg.Template{Name: "payment_due", Language: "pt_BR", Components: []msg.Component{
			{Type: "header", Parameters: []msg.Parameter{{Type: "document", Media: &msg.OutMedia{Link: "https://example.com/boleto.pdf", Filename: "boleto.pdf"}}}},
			{Type: "body", Parameters: []msg.Parameter{
				{Type: "text", Text: "Ana"},
				{Type: "currency", Text: "R$ 99,90", Currency: &msg.Currency{Code: "BRL", Amount1000: 99900}},
				{Type: "date_time", Text: "1 de julho de 2025"}}},
			{Type: "button", SubType: "copy_code", Index: 0, Parameters: []msg.Parameter{{Type: "coupon_code", Text: "PIX-7731"}}},
		}}}},
		{"template_no_params", &msg.Message{To: to, Template: &msg.Template{Name: "hello_world", Language: "en_US"}}},
		{"template_text_header", &msg.Message{To: to, Template: &msg.Template{Name: "welcome_back", Language: "es", Components: []msg.Component{
			{Type: "header", Parameters: []msg.Parameter{{Type: "text", Text: "¡Hola!"}}},
			{Type: "body", Parameters: []msg.Parameter{{Type: "text", Text: "Lucía"}}},
		}}}},
		{"template_location_header", &msg.Message{To: to, Template: &msg.Template{Name: "store_visit", Language: "en", Components: []msg.Component{
			{Type: "header", Parameters: []msg.Parameter{{Type: "location", Location: &msg.Location{Latitude: 37.483307, Longitude: 122.148981, Name: "Pablo Morales", Address: "1 Hacker Way, Menlo Park, CA 94025"}}}},
		}}}},
		{"interactive_buttons", &msg.Message{To: to, Interactive: &msg.Interactive{
			Type:   "button",
			Header: &msg.Header{Type: "image", Media: &msg.OutMedia{ID: "2762702990552401"}},
			Body:   "Your workshop is at 9am tomorrow. Need to reschedule?",
			Footer: "Lucky Shrub",
			Buttons: []msg.Button{
				{ID: "change-button", Title: "Change"},
				{ID: "cancel-button", Title: "Cancel"},
			},
		}}},
		{"interactive_buttons_text_header", &msg.Message{To: to, ReplyTo: "wamid.asked", Interactive: &msg.Interactive{
			Type:    "button",
			Header:  &msg.Header{Type: "text", Text: "Confirm"},
			Body:    "Shall we book it?",
			Buttons: []msg.Button{{ID: "yes", Title: "Yes"}, {ID: "no", Title: "No"}, {ID: "later", Title: "Ask me later"}},
		}}},
		{"interactive_buttons_document_header", &msg.Message{To: to, Interactive: &msg.Interactive{
			Type:    "button",
			Header:  &msg.Header{Type: "document", Media: &msg.OutMedia{Link: "https://example.com/menu.pdf", Filename: "menu.pdf"}},
			Body:    "Here is our menu.",
			Buttons: []msg.Button{{ID: "order", Title: "Order"}},
		}}},
		{"interactive_list", &msg.Message{To: to, Interactive: &msg.Interactive{
			Type:       "list",
			Header:     &msg.Header{Type: "text", Text: "Choose Shipping Option"},
			Body:       "Which shipping option do you prefer?",
			Footer:     "Lucky Shrub",
			ListButton: "Shipping Options",
			Sections: []msg.Section{
				{Title: "I want it ASAP!", Rows: []msg.Row{
					{ID: "priority_express", Title: "Priority Mail Express", Description: "Next Day to 2 Days"},
					{ID: "priority_mail", Title: "Priority Mail", Description: "1–3 Days"}}},
				{Title: "I can wait a bit", Rows: []msg.Row{
					{ID: "ground", Title: "Ground", Description: "2–5 Days"}}},
			},
		}}},
		{"media_image_id", &msg.Message{To: to, Media: &msg.OutMedia{Type: "image", ID: "1013859600285441", Caption: "The best succulent ever?"}}},
		{"media_video_link", &msg.Message{To: to, Media: &msg.OutMedia{Type: "video", Link: "https://example.com/clip.mp4?v=2", Caption: "Unboxing"}}},
		{"media_audio", &msg.Message{To: to, Media: &msg.OutMedia{Type: "audio", ID: "1013859600285442", Caption: "dropped: audio has no caption"}}},
		{"media_document_link", &msg.Message{To: to, Media: &msg.OutMedia{Type: "document", Link: "https://www.example.com/invoices/lucky-shrub-invoice.pdf", Caption: "Lucky Shrub Invoice", Filename: "lucky-shrub-invoice.pdf"}}},
		{"media_sticker", &msg.Message{To: to, Media: &msg.OutMedia{Type: "sticker", ID: "798882015472548"}}},
		{"location", &msg.Message{To: to, Location: &msg.Location{Latitude: 37.44216251868683, Longitude: -122.16153582049394, Name: "Philz Coffee", Address: "101 Forest Ave, Palo Alto, CA 94301"}}},
		{"reaction", &msg.Message{To: to, Reaction: &msg.Reaction{MessageID: "wamid.HBgLMTY0NjcwNDM1OTUVAgASGBQzQUZCMTY0MDc2MUYwNzBDNTY5MAA=", Emoji: "😀"}}},
		{"reaction_remove", &msg.Message{To: to, Reaction: &msg.Reaction{MessageID: "wamid.HBgLMTY0NjcwNDM1OTUVAgASGBQzQUZCMTY0MDc2MUYwNzBDNTY5MAA="}}},
		{"mark_read", &msg.Message{MarkRead: "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBJDQjZCMzlEQUE4OTJBMTE4RTUA"}},
		{"mark_read_typing", &msg.Message{MarkRead: "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBJDQjZCMzlEQUE4OTJBMTE4RTUA", Typing: true}},
	}
}

// longText is 2 paragraphs that together exceed 4096 characters, with multi-byte runes.
func longText() string {
	p1 := strings.Repeat("Olá, café ☕ ", 300)  // 12 runes × 300 = 3600
	p2 := strings.Repeat("naïve résumé ", 100) // 13 runes × 100 = 1300
	return strings.TrimSpace(p1) + "\n\n" + strings.TrimSpace(p2)
}

// goldenBodies renders the bodies as an indented JSON array, keeping their key order.
func goldenBodies(t *testing.T, reqs []meta.Request) []byte {
	t.Helper()
	var raw bytes.Buffer
	raw.WriteString("[")
	for i, r := range reqs {
		if i > 0 {
			raw.WriteString(",")
		}
		raw.Write(r.Body)
	}
	raw.WriteString("]")
	var out bytes.Buffer
	if err := json.Indent(&out, raw.Bytes(), "", "  "); err != nil {
		t.Fatalf("rendered invalid JSON: %v\n%s", err, raw.Bytes())
	}
	out.WriteString("\n")
	return out.Bytes()
}

func TestRenderGolden(t *testing.T) {
	for _, tc := range renderCases() {
		t.Run(tc.name, func(t *testing.T) {
			reqs, err := Render(tc.m)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range reqs {
				if !json.Valid(r.Body) {
					t.Fatalf("invalid JSON: %s", r.Body)
				}
				if r.To != tc.m.To {
					t.Errorf("Request.To = %q, want %q", r.To, tc.m.To)
				}
			}
			checkGolden(t, filepath.Join("testdata", "golden", tc.name+".json"), goldenBodies(t, reqs))
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
	if len(files) < len(names) {
		t.Errorf("%d golden files for %d cases", len(files), len(names))
	}
	for _, f := range files {
		if n := strings.TrimSuffix(filepath.Base(f), ".json"); !names[n] {
			t.Errorf("golden %s has no render case", f)
		}
	}
}

func decodeBody(t *testing.T, r meta.Request) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func renderOne(t *testing.T, m *msg.Message) map[string]any {
	t.Helper()
	reqs, err := Render(m)
	if err != nil {
		t.Fatal(err)
	}
	if len(reqs) != 1 {
		t.Fatalf("%d requests", len(reqs))
	}
	return decodeBody(t, reqs[0])
}

func get(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, _ := v.(map[string]any)
			v = m[k]
		case int:
			a, _ := v.([]any)
			if k >= len(a) {
				return nil
			}
			v = a[k]
		}
	}
	return v
}

// TestRenderShapes checks the documented request shapes field by field, independently of the
// golden files.
func TestRenderShapes(t *testing.T) {
	cases := map[string]*msg.Message{}
	for _, c := range renderCases() {
		cases[c.name] = c.m
	}
	t.Run("envelope and quote", func(t *testing.T) {
		b := renderOne(t, cases["text_preview_reply"])
		for k, want := range map[string]any{"messaging_product": "whatsapp", "recipient_type": "individual", "to": to, "type": "text"} {
			if b[k] != want {
				t.Errorf("%s = %v, want %v", k, b[k], want)
			}
		}
		if get(b, "context", "message_id") != cases["text_preview_reply"].ReplyTo {
			t.Errorf("context = %v", b["context"])
		}
		if get(b, "text", "preview_url") != true || get(b, "text", "body") != cases["text_preview_reply"].Text.Body {
			t.Errorf("text = %v", b["text"])
		}
		if _, ok := renderOne(t, cases["text"])["context"]; ok {
			t.Error("context without ReplyTo")
		}
	})
	t.Run("HTML characters are not escaped", func(t *testing.T) {
		reqs, _ := Render(cases["text_preview_reply"])
		if !bytes.Contains(reqs[0].Body, []byte("<enjoy> & share")) {
			t.Errorf("body %s", reqs[0].Body)
		}
	})
	t.Run("mark as read is exactly the documented body", func(t *testing.T) {
		reqs, err := Render(cases["mark_read"])
		if err != nil {
			t.Fatal(err)
		}
		want := `{"messaging_product":"whatsapp","status":"read","message_id":"wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBJDQjZCMzlEQUE4OTJBMTE4RTUA"}`
		if len(reqs) != 1 || string(reqs[0].Body) != want || reqs[0].Type != "read" || reqs[0].To != "" {
			t.Errorf("got %+v", reqs)
		}
	})
	t.Run("template index is a string, parameters in place", func(t *testing.T) {
		b := renderOne(t, cases["template_named"])
		tpl := get(b, "template")
		if get(tpl, "name") != "order_update" || get(tpl, "language", "code") != "en_US" {
			t.Errorf("template = %v", tpl)
		}
		if idx, ok := get(tpl, "components", 2, "index").(string); !ok || idx != "0" {
			t.Errorf("quick_reply index = %#v", get(tpl, "components", 2, "index"))
		}
		if get(tpl, "components", 3, "index") != "1" || get(tpl, "components", 3, "sub_type") != "url" {
			t.Errorf("url button = %v", get(tpl, "components", 3))
		}
		if get(tpl, "components", 0, "index") != nil || get(tpl, "components", 1, "index") != nil {
			t.Error("index on a non-button component")
		}
		if get(tpl, "components", 0, "parameters", 0, "image", "id") != "1339522734477770" {
			t.Errorf("header = %v", get(tpl, "components", 0))
		}
		if get(tpl, "components", 1, "parameters", 1, "parameter_name") != "order_id" {
			t.Errorf("body = %v", get(tpl, "components", 1))
		}
		if get(tpl, "components", 2, "parameters", 0, "payload") != "TRACK_A-1042" {
			t.Errorf("quick reply = %v", get(tpl, "components", 2))
		}
		p := renderOne(t, cases["template_positional"])
		cur := get(p, "template", "components", 1, "parameters", 1, "currency")
		if get(cur, "code") != "BRL" || get(cur, "amount_1000") != float64(99900) || get(cur, "fallback_value") != "R$ 99,90" {
			t.Errorf("currency = %v", cur)
		}
		if get(p, "template", "components", 0, "parameters", 0, "document", "filename") != "boleto.pdf" {
			t.Errorf("document header = %v", get(p, "template", "components", 0))
		}
		if get(p, "template", "components", 1, "parameters", 0, "parameter_name") != nil {
			t.Error("positional parameter has a name")
		}
	})
	t.Run("location coordinates are numbers", func(t *testing.T) {
		b := renderOne(t, cases["location"])
		if _, ok := get(b, "location", "latitude").(float64); !ok {
			t.Errorf("latitude = %#v", get(b, "location", "latitude"))
		}
		if get(b, "location", "longitude") != -122.16153582049394 {
			t.Errorf("longitude = %#v", get(b, "location", "longitude"))
		}
	})
	t.Run("interactive buttons", func(t *testing.T) {
		b := renderOne(t, cases["interactive_buttons"])
		in := get(b, "interactive")
		if get(in, "type") != "button" || get(in, "header", "type") != "image" || get(in, "header", "image", "id") != "2762702990552401" {
			t.Errorf("interactive = %v", in)
		}
		if get(in, "body", "text") == nil || get(in, "footer", "text") != "Lucky Shrub" {
			t.Errorf("body/footer = %v", in)
		}
		if get(in, "action", "buttons", 1, "type") != "reply" || get(in, "action", "buttons", 1, "reply", "id") != "cancel-button" {
			t.Errorf("buttons = %v", get(in, "action"))
		}
	})
	t.Run("interactive list", func(t *testing.T) {
		in := get(renderOne(t, cases["interactive_list"]), "interactive")
		if get(in, "action", "button") != "Shipping Options" || get(in, "header", "text") != "Choose Shipping Option" {
			t.Errorf("interactive = %v", in)
		}
		if get(in, "action", "sections", 1, "rows", 0, "id") != "ground" || get(in, "action", "sections", 0, "rows", 1, "description") != "1–3 Days" {
			t.Errorf("sections = %v", get(in, "action", "sections"))
		}
	})
	t.Run("media by id and by link", func(t *testing.T) {
		img := renderOne(t, cases["media_image_id"])
		if img["type"] != "image" || get(img, "image", "id") != "1013859600285441" || get(img, "image", "link") != nil || get(img, "image", "caption") != "The best succulent ever?" {
			t.Errorf("image = %v", img)
		}
		doc := renderOne(t, cases["media_document_link"])
		if get(doc, "document", "link") == nil || get(doc, "document", "filename") != "lucky-shrub-invoice.pdf" || get(doc, "document", "id") != nil {
			t.Errorf("document = %v", doc)
		}
		aud := renderOne(t, cases["media_audio"])
		if get(aud, "audio", "caption") != nil {
			t.Errorf("audio carries a caption: %v", aud)
		}
	})
	t.Run("reaction removal keeps an empty emoji", func(t *testing.T) {
		b := renderOne(t, cases["reaction_remove"])
		if e, ok := get(b, "reaction", "emoji").(string); !ok || e != "" {
			t.Errorf("reaction = %v", b["reaction"])
		}
	})
	t.Run("labels truncated on rune boundaries", func(t *testing.T) {
		b := renderOne(t, &msg.Message{To: to, Interactive: &msg.Interactive{
			Type: "list", Body: "b", ListButton: "Escolha uma opção agora mesmo", Footer: strings.Repeat("é", 70),
			Sections: []msg.Section{{Title: strings.Repeat("ü", 30), Rows: []msg.Row{{ID: "r", Title: strings.Repeat("日", 30), Description: strings.Repeat("ñ", 80)}}}},
		}})
		in := get(b, "interactive")
		for _, c := range []struct {
			path []any
			n    int
		}{
			{[]any{"action", "button"}, MaxListButtonLength},
			{[]any{"footer", "text"}, MaxFooterLength},
			{[]any{"action", "sections", 0, "title"}, MaxSectionTitleLength},
			{[]any{"action", "sections", 0, "rows", 0, "title"}, MaxRowTitleLength},
			{[]any{"action", "sections", 0, "rows", 0, "description"}, MaxRowDescLength},
		} {
			s, _ := get(in, c.path...).(string)
			if utf8.RuneCountInString(s) != c.n || !utf8.ValidString(s) {
				t.Errorf("%v = %q (%d runes), want %d runes", c.path, s, utf8.RuneCountInString(s), c.n)
			}
		}
		bt := renderOne(t, &msg.Message{To: to, Interactive: &msg.Interactive{Type: "button", Body: "b", Buttons: []msg.Button{{ID: "x", Title: "Reprogramar a visita técnica"}}}})
		if got := get(bt, "interactive", "action", "buttons", 0, "reply", "title"); got != "Reprogramar a visita" {
			t.Errorf("button title = %q", got)
		}
	})
}

func TestRenderSplit(t *testing.T) {
	m := &msg.Message{To: to, ReplyTo: "wamid.quoted", Text: &msg.Text{Body: longText(), PreviewURL: true}}
	reqs, err := Render(m)
	if err != nil {
		t.Fatal(err)
	}
	if len(reqs) != 2 {
		t.Fatalf("%d parts, want 2", len(reqs))
	}
	var bodies []string
	for i, r := range reqs {
		b := decodeBody(t, r)
		body := get(b, "text", "body").(string)
		bodies = append(bodies, body)
		if n := utf8.RuneCountInString(body); n > MaxTextLength {
			t.Errorf("part %d has %d runes", i, n)
		}
		if (i == 0) != (b["context"] != nil) {
			t.Errorf("part %d context = %v (only the first part quotes)", i, b["context"])
		}
		if b["to"] != to || get(b, "text", "preview_url") != true {
			t.Errorf("part %d = %v", i, b)
		}
	}
	// The cut is at the paragraph break: the first part is the first paragraph exactly.
	if want := strings.TrimSpace(strings.Repeat("Olá, café ☕ ", 300)); bodies[0] != want {
		t.Errorf("first part ends %q", bodies[0][len(bodies[0])-20:])
	}
	if !strings.HasPrefix(bodies[1], "naïve") {
		t.Errorf("second part starts %q", bodies[1][:20])
	}
	// 4096 runes of two-byte characters are 8192 bytes: a byte-counting splitter would cut at
	// 2048 characters.
	wide := strings.Repeat("é", MaxTextLength)
	reqs, err = Render(&msg.Message{To: to, Text: &msg.Text{Body: wide}})
	if err != nil || len(reqs) != 1 {
		t.Fatalf("4096 two-byte runes: %d parts, %v", len(reqs), err)
	}
}

func TestRenderInvalid(t *testing.T) {
	long := func(n int) string { return strings.Repeat("x", n) }
	btn := func(n int) []msg.Button {
		var b []msg.Button
		for i := range n {
			b = append(b, msg.Button{ID: "b" + string(rune('0'+i)), Title: "B"})
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
	tests := map[string]*msg.Message{
		"nil":                       nil,
		"no content":                {To: to},
		"two contents":              {To: to, Text: &msg.Text{Body: "a"}, Reaction: &msg.Reaction{MessageID: "w", Emoji: "x"}},
		"typing alone":              {To: to, Typing: true},
		"typing with text":          {To: to, Typing: true, Text: &msg.Text{Body: "a"}},
		"no recipient":              {Text: &msg.Text{Body: "a"}},
		"empty text":                {To: to, Text: &msg.Text{}},
		"template without name":     {To: to, Template: &msg.Template{Language: "en"}},
		"template without language": {To: to, Template: &msg.Template{Name: "t"}},
		"component without type":    {To: to, Template: &msg.Template{Name: "t", Language: "en", Components: []msg.Component{{}}}},
		"button without sub_type":   {To: to, Template: &msg.Template{Name: "t", Language: "en", Components: []msg.Component{{Type: "button"}}}},
		"negative index":            {To: to, Template: &msg.Template{Name: "t", Language: "en", Components: []msg.Component{{Type: "button", SubType: "url", Index: -1}}}},
		"unknown parameter":         {To: to, Template: &msg.Template{Name: "t", Language: "en", Components: []msg.Component{{Type: "body", Parameters: []msg.Parameter{{Type: "emoji"}}}}}},
		"empty text parameter":      {To: to, Template: &msg.Template{Name: "t", Language: "en", Components: []msg.Component{{Type: "body", Parameters: []msg.Parameter{{Type: "text"}}}}}},
		"image parameter no media":  {To: to, Template: &msg.Template{Name: "t", Language: "en", Components: []msg.Component{{Type: "header", Parameters: []msg.Parameter{{Type: "image"}}}}}},
		"currency without code":     {To: to, Template: &msg.Template{Name: "t", Language: "en", Components: []msg.Component{{Type: "body", Parameters: []msg.Parameter{{Type: "currency", Currency: &msg.Currency{}}}}}}},
		"no buttons":                {To: to, Interactive: &msg.Interactive{Type: "button", Body: "b"}},
		"four buttons":              {To: to, Interactive: &msg.Interactive{Type: "button", Body: "b", Buttons: btn(4)}},
		"button without id":         {To: to, Interactive: &msg.Interactive{Type: "button", Body: "b", Buttons: []msg.Button{{Title: "t"}}}},
		"button id too long":        {To: to, Interactive: &msg.Interactive{Type: "button", Body: "b", Buttons: []msg.Button{{ID: long(257), Title: "t"}}}},
		"button body too long":      {To: to, Interactive: &msg.Interactive{Type: "button", Body: long(1025), Buttons: btn(1)}},
		"interactive without body":  {To: to, Interactive: &msg.Interactive{Type: "button", Buttons: btn(1)}},
		"unknown interactive":       {To: to, Interactive: &msg.Interactive{Type: "carousel", Body: "b"}},
		"list of 11 rows":           {To: to, Interactive: &msg.Interactive{Type: "list", Body: "b", ListButton: "l", Sections: []msg.Section{{Rows: rows(6)}, {Rows: rows(5)}}}},
		"list without sections":     {To: to, Interactive: &msg.Interactive{Type: "list", Body: "b", ListButton: "l"}},
		"list without button":       {To: to, Interactive: &msg.Interactive{Type: "list", Body: "b", Sections: []msg.Section{{Rows: rows(1)}}}},
		"list section without rows": {To: to, Interactive: &msg.Interactive{Type: "list", Body: "b", ListButton: "l", Sections: []msg.Section{{Title: "s"}}}},
		"list with media header":    {To: to, Interactive: &msg.Interactive{Type: "list", Body: "b", ListButton: "l", Header: &msg.Header{Type: "image", Media: &msg.OutMedia{ID: "1"}}, Sections: []msg.Section{{Rows: rows(1)}}}},
		"row id too long":           {To: to, Interactive: &msg.Interactive{Type: "list", Body: "b", ListButton: "l", Sections: []msg.Section{{Rows: []msg.Row{{ID: long(201), Title: "t"}}}}}},
		"media id and link":         {To: to, Media: &msg.OutMedia{Type: "image", ID: "1", Link: "https://x"}},
		"media neither":             {To: to, Media: &msg.OutMedia{Type: "image"}},
		"unknown media":             {To: to, Media: &msg.OutMedia{Type: "gif", ID: "1"}},
		"caption too long":          {To: to, Media: &msg.OutMedia{Type: "image", ID: "1", Caption: long(1025)}},
		"latitude out of range":     {To: to, Location: &msg.Location{Latitude: 91}},
		"reaction without target":   {To: to, Reaction: &msg.Reaction{Emoji: "x"}},
		"authentication template to a user id": {To: "US.13491208655302741918", Template: &msg.Template{Name: "otp", Language: "en", Authentication: true,
			Components: []msg.Component{{Type: "button", SubType: "url", Parameters: []msg.Parameter{{Type: "text", Text: "123456"}}}}}},
	}
	for name, m := range tests {
		t.Run(name, func(t *testing.T) {
			reqs, err := Render(m)
			if !errors.Is(err, ErrInvalidMessage) {
				t.Fatalf("err = %v, requests %d; want ErrInvalidMessage", err, len(reqs))
			}
			if !strings.HasPrefix(err.Error(), "whatsapp: render") {
				t.Errorf("error without context: %v", err)
			}
		})
	}
}

// TestRecipientField: a business-scoped user id goes in "recipient", a phone in "to"; when the
// message knows both, "to" carries the phone and "recipient" is left out (Meta's "to wins").
func TestRecipientField(t *testing.T) {
	const uid = "US.13491208655302741918"
	tests := []struct {
		m             msg.Message
		to, recipient string
	}{
		{msg.Message{To: uid}, "", uid},
		{msg.Message{To: uid, Phone: "16505551234"}, "+16505551234", ""},
		{msg.Message{To: "16505551234"}, "+16505551234", ""},
		{msg.Message{To: "BR.ABC123"}, "", "BR.ABC123"},
	}
	for _, tc := range tests {
		m := tc.m
		m.Text = &msg.Text{Body: "hi"}
		reqs, err := Render(&m)
		if err != nil {
			t.Fatal(err)
		}
		var body struct {
			To        *string `json:"to"`
			Recipient *string `json:"recipient"`
		}
		if err := json.Unmarshal(reqs[0].Body, &body); err != nil {
			t.Fatal(err)
		}
		if deref(body.To) != tc.to || deref(body.Recipient) != tc.recipient || (body.To != nil && body.Recipient != nil) {
			t.Errorf("%+v: to %q recipient %q, want %q and %q", tc.m, deref(body.To), deref(body.Recipient), tc.to, tc.recipient)
		}
	}
	// An authentication template to a user with a phone goes out.
	m := msg.Message{To: uid, Phone: "16505551234", Template: &msg.Template{Name: "otp", Language: "en", Authentication: true}}
	if _, err := Render(&m); err != nil {
		t.Errorf("authentication template with a phone: %v", err)
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// TestRecipientPlus: a bare number from a webhook is sent with "+", so that Meta does not
// prepend the business number's country code; other recipients go as given.
func TestRecipientPlus(t *testing.T) {
	for to, want := range map[string]string{
		"16505551234":     "+16505551234",
		"+16505551234":    "+16505551234",
		"+1 650-555-1234": "+1 650-555-1234",
	} {
		reqs, err := Render(&msg.Message{To: to, Text: &msg.Text{Body: "hi"}})
		if err != nil {
			t.Fatal(err)
		}
		var body struct {
			To string `json:"to"`
		}
		if err := json.Unmarshal(reqs[0].Body, &body); err != nil {
			t.Fatal(err)
		}
		if body.To != want {
			t.Errorf("to %q rendered as %q, want %q", to, body.To, want)
		}
	}
}
