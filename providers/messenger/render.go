package messenger

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/flowgate/flowgate/engine/msg"
	"github.com/flowgate/flowgate/providers/meta"
)

// ErrInvalidMessage is returned, wrapped, by Render for a message the platform cannot carry.
var ErrInvalidMessage = errors.New("invalid message")

// The outbound wire types of the Send API. Field order is the order in the JSON.

type sendRequest struct {
	Recipient     sendRecipient `json:"recipient"`
	MessagingType string        `json:"messaging_type,omitempty"`
	Tag           string        `json:"tag,omitempty"`
	Message       *sendMessage  `json:"message,omitempty"`
	SenderAction  string        `json:"sender_action,omitempty"`
	Payload       *sendReaction `json:"payload,omitempty"`
}

type sendRecipient struct {
	ID string `json:"id"`
}

type sendMessage struct {
	Text         string           `json:"text,omitempty"`
	Attachment   *sendAttachment  `json:"attachment,omitempty"`
	QuickReplies []sendQuickReply `json:"quick_replies,omitempty"`
}

type sendAttachment struct {
	Type    string `json:"type"`
	Payload any    `json:"payload"` // *sendMedia or *sendTemplate
}

type sendMedia struct {
	URL          string `json:"url,omitempty"`
	IsReusable   bool   `json:"is_reusable,omitempty"`
	AttachmentID string `json:"attachment_id,omitempty"`
}

type sendTemplate struct {
	TemplateType string        `json:"template_type"`
	Elements     []sendElement `json:"elements"`
}

type sendElement struct {
	Title    string       `json:"title"`
	Subtitle string       `json:"subtitle,omitempty"`
	Buttons  []sendButton `json:"buttons"`
}

type sendButton struct {
	Type    string `json:"type"`
	Title   string `json:"title"`
	Payload string `json:"payload"`
}

type sendQuickReply struct {
	ContentType string `json:"content_type"`
	Title       string `json:"title"`
	Payload     string `json:"payload"`
}

type sendReaction struct {
	MessageID string `json:"message_id"`
	Reaction  string `json:"reaction,omitempty"`
}

// Sender actions: requests that carry no message, answered without a message id.
const (
	actionMarkSeen = "mark_seen"
	actionTyping   = "typing_on"
	actionReact    = "react"
	actionUnreact  = "unreact"
)

func isAction(typ string) bool {
	switch typ {
	case actionMarkSeen, actionTyping, actionReact, actionUnreact:
		return true
	}
	return false
}

// Render turns a message written in WhatsApp's shapes into the platform's Send API request
// bodies, in the order they go out (see the package documentation for each shape). It
// returns an error wrapping ErrInvalidMessage for a message the platform cannot carry: a
// template, a media type it does not send, counts or ids over the limits, no recipient.
func (p *Platform) Render(m *msg.Message) ([]meta.Request, error) {
	if m == nil {
		return nil, p.invalid("nil message")
	}
	if n := contentCount(m); n != 1 {
		return nil, p.invalid("a message needs exactly one content field, it has %d", n)
	}
	if m.To == "" {
		return nil, p.invalid("%s message without a recipient", m.Type())
	}
	r := &renderer{p: p, to: m.To, base: sendRequest{Recipient: sendRecipient{ID: m.To}, MessagingType: "RESPONSE"}}
	if m.Tag != "" {
		r.base.MessagingType, r.base.Tag = "MESSAGE_TAG", m.Tag
	}
	var err error
	switch {
	case m.MarkRead != "" || m.Typing:
		if m.MarkRead != "" {
			err = r.action(actionMarkSeen, nil)
		}
		if err == nil && m.Typing {
			err = r.action(actionTyping, nil)
		}
	case m.Text != nil:
		if m.Text.Body == "" {
			return nil, p.invalid("empty text")
		}
		err = r.texts(m.Text.Body, nil, m.Text.MaxParts)
	case m.Interactive != nil:
		err = r.interactive(m.Interactive)
	case m.Media != nil:
		if err = r.media(m.Media); err == nil && m.Media.Caption != "" {
			err = r.texts(m.Media.Caption, nil, 0)
		}
	case m.Location != nil:
		err = r.location(m.Location)
	case m.Reaction != nil:
		err = r.reaction(m.Reaction)
	case m.Template != nil:
		return nil, p.invalid("template %q: %s cannot send WhatsApp templates", m.Template.Name, p.Name)
	}
	if err != nil {
		return nil, err
	}
	return r.out, nil
}

// contentCount counts the contents of m; a read receipt and a typing indicator are one (two
// sender actions).
func contentCount(m *msg.Message) int {
	n := 0
	for _, set := range []bool{m.Text != nil, m.Template != nil, m.Interactive != nil, m.Media != nil, m.Location != nil, m.Reaction != nil, m.MarkRead != "" || m.Typing} {
		if set {
			n++
		}
	}
	return n
}

func (p *Platform) invalid(format string, args ...any) error {
	return fmt.Errorf("%s: render: %s: %w", p.Name, fmt.Sprintf(format, args...), ErrInvalidMessage)
}

// renderer collects the requests of one message.
type renderer struct {
	p    *Platform
	to   string
	base sendRequest
	out  []meta.Request
}

func (r *renderer) add(typ string, req *sendRequest) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // Meta takes <, > and & as they are
	if err := enc.Encode(req); err != nil {
		return fmt.Errorf("%s: render %s: %w", r.p.Name, typ, err)
	}
	r.out = append(r.out, meta.Request{Type: typ, To: r.to, Body: bytes.TrimRight(buf.Bytes(), "\n")})
	return nil
}

// action adds a sender action, which goes alone with the recipient.
func (r *renderer) action(name string, payload *sendReaction) error {
	return r.add(name, &sendRequest{Recipient: r.base.Recipient, SenderAction: name, Payload: payload})
}

// texts adds a text, split into several messages when it is over the platform's limit; the
// quick replies go with the last part, under the text they answer.
// maxParts, when over zero, caps how many messages the text becomes (msg.Text.MaxParts).
func (r *renderer) texts(text string, qrs []sendQuickReply, maxParts int) error {
	var parts []string
	if r.p.TextBytes {
		parts = meta.SplitTextBytes(text, r.p.MaxText)
	} else {
		parts = meta.SplitText(text, r.p.MaxText)
	}
	parts = meta.CapParts(parts, maxParts, r.p.MaxText, r.p.TextBytes)
	for i, part := range parts {
		req := r.base
		req.Message = &sendMessage{Text: part}
		if i == len(parts)-1 {
			req.Message.QuickReplies = qrs
		}
		if err := r.add("text", &req); err != nil {
			return err
		}
	}
	return nil
}

// interactive renders reply buttons and lists. The header's text, the body and the footer
// become one text (the platform has no header or footer); a media header goes out first as
// an attachment. Buttons become quick replies; a list becomes quick replies too, unless its
// rows have descriptions that quick replies would lose: then, up to 10 rows, a generic
// template with a card per row after the text.
func (r *renderer) interactive(in *msg.Interactive) error {
	if in.Body == "" {
		return r.p.invalid("interactive %s without body", in.Type)
	}
	var lines []string
	if h := in.Header; h != nil {
		switch h.Type {
		case "text", "":
			lines = append(lines, h.Text)
		case "image", "video", "document":
			if h.Media == nil {
				return r.p.invalid("%s header without media", h.Type)
			}
			hm := *h.Media
			hm.Type, hm.Caption = h.Type, ""
			if err := r.media(&hm); err != nil {
				return err
			}
		default:
			return r.p.invalid("unknown header type %q", h.Type)
		}
	}
	lines = append(lines, in.Body, in.Footer)
	text := joinLines(lines)
	switch in.Type {
	case "button":
		if len(in.Buttons) == 0 || len(in.Buttons) > MaxQuickReplies {
			return r.p.invalid("button message with %d buttons, it takes 1 to %d", len(in.Buttons), MaxQuickReplies)
		}
		qrs := make([]sendQuickReply, 0, len(in.Buttons))
		for i, b := range in.Buttons {
			qr, err := r.quickReply(i, b.ID, b.Title, buttonPayload(b.ID))
			if err != nil {
				return err
			}
			qrs = append(qrs, qr)
		}
		return r.texts(text, qrs, 0)
	case "list":
		var rows []msg.Row
		for _, s := range in.Sections {
			rows = append(rows, s.Rows...)
		}
		if len(rows) == 0 || len(rows) > MaxQuickReplies {
			return r.p.invalid("list message with %d rows, it takes 1 to %d", len(rows), MaxQuickReplies)
		}
		if cards(rows) {
			if err := r.texts(text, nil, 0); err != nil {
				return err
			}
			return r.generic(rows, in.ListButton)
		}
		qrs := make([]sendQuickReply, 0, len(rows))
		for i, row := range rows {
			qr, err := r.quickReply(i, row.ID, row.Title, rowPayload(row.ID))
			if err != nil {
				return err
			}
			qrs = append(qrs, qr)
		}
		return r.texts(text, qrs, 0)
	}
	return r.p.invalid("unknown interactive type %q", in.Type)
}

// cards reports whether a list goes out as a generic template: when a row has a description
// and the rows fit the template's cards.
func cards(rows []msg.Row) bool {
	return len(rows) <= MaxElements && slices.ContainsFunc(rows, func(r msg.Row) bool { return r.Description != "" })
}

func (r *renderer) quickReply(i int, id, title, payload string) (sendQuickReply, error) {
	switch {
	case id == "":
		return sendQuickReply{}, r.p.invalid("choice %d without id", i)
	case title == "":
		return sendQuickReply{}, r.p.invalid("choice %d without title", i)
	case utf8.RuneCountInString(payload) > MaxPayload:
		return sendQuickReply{}, r.p.invalid("choice %d: id longer than %d characters", i, MaxPayload-len(buttonPrefix))
	}
	return sendQuickReply{ContentType: "text", Title: meta.Truncate(title, MaxQuickReplyTitle), Payload: payload}, nil
}

// generic adds a generic template with one card per row: the row's title and description, and
// a postback button labelled like the list's button that answers with the row's id.
func (r *renderer) generic(rows []msg.Row, label string) error {
	if label == "" {
		label = "Choose"
	}
	t := &sendTemplate{TemplateType: "generic"}
	for i, row := range rows {
		if row.ID == "" || row.Title == "" {
			return r.p.invalid("list row %d without id or title", i)
		}
		t.Elements = append(t.Elements, sendElement{
			Title:    meta.Truncate(row.Title, MaxElementTitle),
			Subtitle: meta.Truncate(row.Description, MaxElementSubtitle),
			Buttons:  []sendButton{{Type: "postback", Title: meta.Truncate(label, MaxButtonTitle), Payload: rowPayload(row.ID)}},
		})
	}
	req := r.base
	req.Message = &sendMessage{Attachment: &sendAttachment{Type: "template", Payload: t}}
	return r.add("template", &req)
}

// media adds an attachment by link (reusable) or by attachment id. Documents go out as files
// and stickers as images; the caption is the caller's.
func (r *renderer) media(m *msg.OutMedia) error {
	if r.p.Media != nil && !slices.Contains(r.p.Media, m.Type) {
		return r.p.invalid("%s cannot send %s media", r.p.Name, m.Type)
	}
	var typ string
	switch m.Type {
	case "image", "video", "audio":
		typ = m.Type
	case "document":
		typ = "file"
	case "sticker":
		typ = "image"
	default:
		return r.p.invalid("unknown media type %q", m.Type)
	}
	if (m.ID == "") == (m.Link == "") {
		return r.p.invalid("%s media needs exactly one of id and link", m.Type)
	}
	pl := &sendMedia{AttachmentID: m.ID}
	if m.Link != "" {
		pl = &sendMedia{URL: m.Link, IsReusable: true}
	}
	req := r.base
	req.Message = &sendMessage{Attachment: &sendAttachment{Type: typ, Payload: pl}}
	return r.add(typ, &req)
}

// location adds a location as text: its name, its address and a map link.
func (r *renderer) location(l *msg.Location) error {
	if math.IsNaN(l.Latitude) || math.IsNaN(l.Longitude) || math.Abs(l.Latitude) > 90 || math.Abs(l.Longitude) > 180 {
		return r.p.invalid("location %v,%v out of range", l.Latitude, l.Longitude)
	}
	return r.texts(locationText(l), nil, 0)
}

// locationText is how a location reads where the channel cannot send one: name, address and a
// map link, one per line.
func locationText(l *msg.Location) string {
	f := func(x float64) string { return strconv.FormatFloat(x, 'f', -1, 64) }
	var lines []string
	for _, s := range []string{l.Name, l.Address} {
		if strings.TrimSpace(s) != "" {
			lines = append(lines, s)
		}
	}
	return strings.Join(append(lines, "https://www.google.com/maps/search/?api=1&query="+f(l.Latitude)+","+f(l.Longitude)), "\n")
}

// reaction adds a react sender action, or unreact for an empty emoji.
func (r *renderer) reaction(re *msg.Reaction) error {
	if re.MessageID == "" {
		return r.p.invalid("reaction without message id")
	}
	if re.Emoji == "" {
		return r.action(actionUnreact, &sendReaction{MessageID: re.MessageID})
	}
	return r.action(actionReact, &sendReaction{MessageID: re.MessageID, Reaction: re.Emoji})
}

// joinLines joins the non-empty lines with a blank line between them.
func joinLines(lines []string) string {
	var keep []string
	for _, l := range lines {
		if strings.TrimSpace(l) != "" {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\n\n")
}
