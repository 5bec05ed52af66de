package engine

import (
	"strings"
	"unicode/utf8"

	"github.com/flowgate/flowgate/engine/msg"
)

// maxTemplateParam is the most characters Meta takes in a template's body text parameter.
const maxTemplateParam = 1024

// fitMessage makes the texts of m that user data flows into acceptable to the channel with
// limits l, so that a profile name or an answer cannot make it refuse the whole message. A
// template's text parameters are cleaned to Meta's rules: line breaks and tabs folded into a
// space, runs of more than four spaces shortened to one, and the text cut to 1,024 characters
// (a header parameter to the channel's header limit). An interactive message's texts are cut
// to the channel's limits. Texts within the rules are left as they are.
func fitMessage(m *msg.Message, l msg.Limits) {
	if t := m.Template; t != nil {
		for i := range t.Components {
			c := &t.Components[i]
			limit := maxTemplateParam
			if c.Type == "header" && l.HeaderText > 0 {
				limit = l.HeaderText
			}
			for j := range c.Parameters {
				if p := &c.Parameters[j]; p.Text != "" {
					p.Text = cut(cleanParam(p.Text), limit)
				}
			}
		}
	}
	if im := m.Interactive; im != nil {
		body := l.ButtonBody
		if im.Type == "list" {
			body = l.ListBody
		}
		im.Body = cut(im.Body, body)
		im.Footer = cut(im.Footer, l.FooterText)
		im.ListButton = cut(im.ListButton, l.ListButton)
		if im.Header != nil {
			im.Header.Text = cut(im.Header.Text, l.HeaderText)
		}
		for i := range im.Buttons {
			im.Buttons[i].Title = cut(im.Buttons[i].Title, l.ButtonTitle)
		}
		for i := range im.Sections {
			s := &im.Sections[i]
			s.Title = cut(s.Title, l.SectionTitle)
			for j := range s.Rows {
				s.Rows[j].Title = cut(s.Rows[j].Title, l.RowTitle)
				s.Rows[j].Description = cut(s.Rows[j].Description, l.RowDescription)
			}
		}
	}
}

// cleanParam folds each run of whitespace that holds a line break or a tab, or more than four
// spaces, into one space: Meta refuses a template parameter with any of them.
func cleanParam(s string) string {
	if !strings.ContainsAny(s, "\n\r\t\v\f") && !strings.Contains(s, "     ") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		j := i
		for j < len(s) && strings.IndexByte(" \n\r\t\v\f", s[j]) >= 0 {
			j++
		}
		if j == i {
			b.WriteByte(s[i])
			i++
			continue
		}
		run := s[i:j]
		if len(run) > 4 || strings.ContainsAny(run, "\n\r\t\v\f") {
			run = " "
		}
		b.WriteString(run)
		i = j
	}
	return b.String()
}

// cut shortens s to at most limit characters, ending it with … when it had more; a limit of
// zero or less leaves s whole.
func cut(s string, limit int) string {
	if limit <= 0 || utf8.RuneCountInString(s) <= limit {
		return s
	}
	n := 0
	for i := range s {
		if n == limit-1 {
			return s[:i] + "…"
		}
		n++
	}
	return s
}
