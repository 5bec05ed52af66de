package engine

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/flowgate/flowgate/engine/msg"
)

// TestCleanParam: the profile names that made Meta refuse a template come out within its rules.
func TestCleanParam(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"Ann Lee", "Ann Lee"},
		{"Ann\nLee", "Ann Lee"},
		{"Ann\r\nLee", "Ann Lee"},
		{"Ann\tLee", "Ann Lee"},
		{"Ann    Lee", "Ann    Lee"}, // four spaces are allowed
		{"Ann     Lee", "Ann Lee"},
		{"Ann \n \t Lee\n", "Ann Lee "},
		{"Olá  👋", "Olá  👋"},
	} {
		if got := cleanParam(c.in); got != c.want {
			t.Errorf("cleanParam(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// TestFitMessageToWhatsApp: user values that push an interactive message's texts over WhatsApp's
// limits are cut with … instead of the whole message being refused; a template parameter is
// cleaned and cut to 1,024 characters, a header parameter to the header limit.
func TestFitMessageToWhatsApp(t *testing.T) {
	const flow = `
name: menu
nodes:
  - id: menu
    type: reply
    config:
      interactive:
        type: button
        body: {text: "{{ input }}: what next?"}
        footer: {text: "{{ input }}"}
        action:
          buttons:
            - {type: reply, reply: {id: more, title: "More {{ input }}"}}
triggers:
  - {type: message, target: menu}
`
	e := mustEngine(t, Config{Limits: testLimits()}, flow)
	long := strings.Repeat("é", 5000)
	res := e.Handle(t.Context(), testConv, &State{}, &msg.Event{Kind: msg.KindText, Text: long, From: user, Time: t0}, t0)
	if len(res.Sends) != 1 || res.Sends[0].Message.Interactive == nil {
		t.Fatalf("sends %+v, want one interactive message", res.Sends)
	}
	im := res.Sends[0].Message.Interactive
	l := testLimits()[msg.WhatsApp]
	for _, f := range []struct {
		what  string
		s     string
		limit int
	}{{"body", im.Body, l.ButtonBody}, {"footer", im.Footer, l.FooterText}, {"button title", im.Buttons[0].Title, l.ButtonTitle}} {
		if n := utf8.RuneCountInString(f.s); n != f.limit || !strings.HasSuffix(f.s, "…") {
			t.Errorf("%s is %d characters (%q...), want %d ending in …", f.what, n, f.s[:min(len(f.s), 20)], f.limit)
		}
	}

	m := msg.Message{Template: &msg.Template{Name: "t", Components: []msg.Component{
		{Type: "header", Parameters: []msg.Parameter{{Type: "text", Text: long}}},
		{Type: "body", Parameters: []msg.Parameter{{Type: "text", Text: "Ann\n" + long}}},
	}}}
	fitMessage(&m, l)
	head, body := m.Template.Components[0].Parameters[0].Text, m.Template.Components[1].Parameters[0].Text
	if utf8.RuneCountInString(head) != l.HeaderText || utf8.RuneCountInString(body) != maxTemplateParam || !strings.HasPrefix(body, "Ann é") {
		t.Errorf("header parameter %d characters, body %d starting %q; want %d and %d starting \"Ann é\"",
			utf8.RuneCountInString(head), utf8.RuneCountInString(body), body[:8], l.HeaderText, maxTemplateParam)
	}
}
