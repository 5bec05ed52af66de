package whatsapp

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"

	"github.com/flowgate/flowgate/engine/msg"
	"github.com/flowgate/flowgate/providers/meta"
)

// Limits of the Cloud API (Meta's Cloud API messages reference; docs/flow-format.md lists them), in
// characters (runes).
const (
	MaxTextLength         = 4096 // text body; longer texts are split
	MaxCaptionLength      = 1024 // image, video and document captions
	MaxButtonBodyLength   = 1024 // body of a reply-button message
	MaxListBodyLength     = 4096 // body of a list message
	MaxButtons            = 3
	MaxButtonTitleLength  = 20
	MaxButtonIDLength     = 256
	MaxListButtonLength   = 20
	MaxSections           = 10
	MaxRows               = 10 // across all sections
	MaxRowTitleLength     = 24
	MaxRowDescLength      = 72
	MaxRowIDLength        = 200
	MaxSectionTitleLength = 24
	MaxHeaderTextLength   = 60
	MaxFooterLength       = 60
)

// ErrInvalidMessage is returned, wrapped, by Render for a message the Cloud API cannot carry.
var ErrInvalidMessage = errors.New("invalid message")

// The outbound wire types: the body of POST /{phone-number-id}/messages in Meta's Cloud API
// reference. Field order is the order in the JSON.

type sendRequest struct {
	MessagingProduct string           `json:"messaging_product"`
	RecipientType    string           `json:"recipient_type,omitempty"`
	To               string           `json:"to,omitempty"`
	Recipient        string           `json:"recipient,omitempty"`
	Context          *sendContext     `json:"context,omitempty"`
	Type             string           `json:"type,omitempty"`
	Text             *sendText        `json:"text,omitempty"`
	Template         *sendTemplate    `json:"template,omitempty"`
	Interactive      *sendInteractive `json:"interactive,omitempty"`
	Image            *sendMedia       `json:"image,omitempty"`
	Video            *sendMedia       `json:"video,omitempty"`
	Audio            *sendMedia       `json:"audio,omitempty"`
	Document         *sendMedia       `json:"document,omitempty"`
	Sticker          *sendMedia       `json:"sticker,omitempty"`
	Location         *sendLocation    `json:"location,omitempty"`
	Reaction         *sendReaction    `json:"reaction,omitempty"`
	Status           string           `json:"status,omitempty"`
	MessageID        string           `json:"message_id,omitempty"`
	TypingIndicator  *sendTyping      `json:"typing_indicator,omitempty"`
}

type sendTyping struct {
	Type string `json:"type"`
}

type sendContext struct {
	MessageID string `json:"message_id"`
}

type sendText struct {
	PreviewURL bool   `json:"preview_url,omitempty"`
	Body       string `json:"body"`
}

type sendMedia struct {
	ID       string `json:"id,omitempty"`
	Link     string `json:"link,omitempty"`
	Caption  string `json:"caption,omitempty"`
	Filename string `json:"filename,omitempty"`
}

type sendLocation struct {
	Latitude  float64 `json:"latitude"`
	Longitude float64 `json:"longitude"`
	Name      string  `json:"name,omitempty"`
	Address   string  `json:"address,omitempty"`
}

type sendReaction struct {
	MessageID string `json:"message_id"`
	Emoji     string `json:"emoji"` // empty removes the reaction
}

type sendTemplate struct {
	Name       string          `json:"name"`
	Language   sendLanguage    `json:"language"`
	Components []sendComponent `json:"components,omitempty"`
}

type sendLanguage struct {
	Code string `json:"code"`
}

type sendComponent struct {
	Type       string          `json:"type"`
	SubType    string          `json:"sub_type,omitempty"`
	Index      *string         `json:"index,omitempty"`
	Parameters []sendParameter `json:"parameters,omitempty"`
}

type sendParameter struct {
	Type          string        `json:"type"`
	ParameterName string        `json:"parameter_name,omitempty"`
	Text          string        `json:"text,omitempty"`
	Payload       string        `json:"payload,omitempty"`
	Image         *sendMedia    `json:"image,omitempty"`
	Video         *sendMedia    `json:"video,omitempty"`
	Document      *sendMedia    `json:"document,omitempty"`
	Location      *sendLocation `json:"location,omitempty"`
	Currency      *sendCurrency `json:"currency,omitempty"`
	DateTime      *sendDateTime `json:"date_time,omitempty"`
	CouponCode    string        `json:"coupon_code,omitempty"`
}

type sendCurrency struct {
	FallbackValue string `json:"fallback_value"`
	Code          string `json:"code"`
	Amount1000    int64  `json:"amount_1000"`
}

type sendDateTime struct {
	FallbackValue string `json:"fallback_value"`
}

type sendInteractive struct {
	Type   string      `json:"type"`
	Header *sendHeader `json:"header,omitempty"`
	Body   sendBody    `json:"body"`
	Footer *sendBody   `json:"footer,omitempty"`
	Action sendAction  `json:"action"`
}

type sendHeader struct {
	Type     string     `json:"type"`
	Text     string     `json:"text,omitempty"`
	Image    *sendMedia `json:"image,omitempty"`
	Video    *sendMedia `json:"video,omitempty"`
	Document *sendMedia `json:"document,omitempty"`
}

type sendBody struct {
	Text string `json:"text"`
}

type sendAction struct {
	Button   string        `json:"button,omitempty"`
	Buttons  []sendButton  `json:"buttons,omitempty"`
	Sections []sendSection `json:"sections,omitempty"`
}

type sendButton struct {
	Type  string    `json:"type"`
	Reply sendReply `json:"reply"`
}

type sendReply struct {
	ID    string `json:"id"`
	Title string `json:"title"`
}

type sendSection struct {
	Title string    `json:"title,omitempty"`
	Rows  []sendRow `json:"rows"`
}

type sendRow struct {
	ID          string `json:"id"`
	Title       string `json:"title"`
	Description string `json:"description,omitempty"`
}

// Render turns a message into its Cloud API request bodies: one, or several for a text longer
// than MaxTextLength. It returns an error wrapping ErrInvalidMessage for a message the API
// cannot carry (no content or several, no recipient, counts or ids over the limits...).
func Render(m *msg.Message) ([]meta.Request, error) {
	if m == nil {
		return nil, invalid("nil message")
	}
	if n := contentCount(m); n != 1 {
		return nil, invalid("a message needs exactly one content field, it has %d", n)
	}
	if m.MarkRead != "" {
		r := sendRequest{MessagingProduct: "whatsapp", Status: "read", MessageID: m.MarkRead}
		if m.Typing {
			r.TypingIndicator = &sendTyping{Type: "text"} // it marks the message read too
		}
		return encode(nil, "read", "", &r)
	}
	if m.Typing {
		return nil, invalid("a typing indicator goes with a read receipt (MarkRead)")
	}
	if m.To == "" {
		return nil, invalid("%s message without a recipient", m.Type())
	}
	base := sendRequest{MessagingProduct: "whatsapp", RecipientType: "individual"}
	switch {
	case m.Phone != "":
		base.To = recipient(m.Phone)
	case isUserID(m.To):
		base.Recipient = m.To
	default:
		base.To = recipient(m.To)
	}
	if m.ReplyTo != "" {
		base.Context = &sendContext{MessageID: m.ReplyTo}
	}
	switch {
	case m.Text != nil:
		return renderText(base, m.To, m.Text)
	case m.Template != nil:
		if base.To == "" && m.Template.Authentication {
			return nil, invalid("authentication template %q cannot go to a user known only by their business-scoped user id %s: Meta refuses one-tap, zero-tap and copy-code templates without a phone number", m.Template.Name, m.To)
		}
		t, err := renderTemplate(m.Template)
		if err != nil {
			return nil, err
		}
		base.Type, base.Template = "template", t
	case m.Interactive != nil:
		in, err := renderInteractive(m.Interactive)
		if err != nil {
			return nil, err
		}
		base.Type, base.Interactive = "interactive", in
	case m.Media != nil:
		if err := setMedia(&base, m.Media); err != nil {
			return nil, err
		}
	case m.Location != nil:
		l, err := renderLocation(m.Location)
		if err != nil {
			return nil, err
		}
		base.Type, base.Location = "location", l
	case m.Reaction != nil:
		if m.Reaction.MessageID == "" {
			return nil, invalid("reaction without message id")
		}
		base.Type = "reaction"
		base.Reaction = &sendReaction{MessageID: m.Reaction.MessageID, Emoji: m.Reaction.Emoji}
	}
	return encode(nil, base.Type, m.To, &base)
}

// contentCount counts the contents of m. A typing indicator goes out with a read receipt only:
// alone it is content the Cloud API cannot carry.
func contentCount(m *msg.Message) int {
	n := 0
	for _, set := range []bool{m.Text != nil, m.Template != nil, m.Interactive != nil, m.Media != nil, m.Location != nil, m.Reaction != nil, m.MarkRead != "" || m.Typing} {
		if set {
			n++
		}
	}
	return n
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("whatsapp: render: %s: %w", fmt.Sprintf(format, args...), ErrInvalidMessage)
}

// encode appends the JSON of r to out. HTML characters are not escaped: Meta takes them as is.
func encode(out []meta.Request, typ, to string, r *sendRequest) ([]meta.Request, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(r); err != nil {
		return nil, fmt.Errorf("whatsapp: render %s: %w", typ, err)
	}
	return append(out, meta.Request{Type: typ, To: to, Body: bytes.TrimRight(buf.Bytes(), "\n")}), nil
}

func renderText(base sendRequest, to string, t *msg.Text) ([]meta.Request, error) {
	if t.Body == "" {
		return nil, invalid("empty text")
	}
	parts := meta.CapParts(meta.SplitText(t.Body, MaxTextLength), t.MaxParts, MaxTextLength, false)
	out := make([]meta.Request, 0, len(parts))
	for i, p := range parts {
		r := base
		if i > 0 {
			r.Context = nil // only the first part quotes
		}
		r.Type = "text"
		r.Text = &sendText{PreviewURL: t.PreviewURL, Body: p}
		var err error
		if out, err = encode(out, "text", to, &r); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func runes(s string) int { return utf8.RuneCountInString(s) }

func renderTemplate(t *msg.Template) (*sendTemplate, error) {
	if t.Name == "" {
		return nil, invalid("template without name")
	}
	if t.Language == "" {
		return nil, invalid("template %q without language", t.Name)
	}
	out := &sendTemplate{Name: t.Name, Language: sendLanguage{Code: t.Language}}
	for ci, c := range t.Components {
		if c.Type == "" {
			return nil, invalid("template %q: component %d without type", t.Name, ci)
		}
		sc := sendComponent{Type: c.Type}
		if c.Type == "button" {
			if c.SubType == "" {
				return nil, invalid("template %q: button component %d without sub_type", t.Name, ci)
			}
			if c.Index < 0 {
				return nil, invalid("template %q: button component %d with negative index", t.Name, ci)
			}
			idx := strconv.Itoa(c.Index)
			sc.SubType, sc.Index = c.SubType, &idx
		}
		for pi, p := range c.Parameters {
			sp, err := renderParameter(p)
			if err != nil {
				return nil, fmt.Errorf("whatsapp: render: template %q: component %d (%s) parameter %d: %w", t.Name, ci, c.Type, pi, err)
			}
			sc.Parameters = append(sc.Parameters, sp)
		}
		out.Components = append(out.Components, sc)
	}
	return out, nil
}

func renderParameter(p msg.Parameter) (sendParameter, error) {
	sp := sendParameter{Type: p.Type, ParameterName: p.Name}
	switch p.Type {
	case "text":
		if p.Text == "" {
			return sp, fmt.Errorf("empty text: %w", ErrInvalidMessage)
		}
		sp.Text = p.Text
	case "payload":
		sp.Payload = p.Payload
	case "image", "video", "document":
		if p.Media == nil {
			return sp, fmt.Errorf("%s parameter without media: %w", p.Type, ErrInvalidMessage)
		}
		md, err := mediaObject(p.Media, p.Type, false)
		if err != nil {
			return sp, err
		}
		switch p.Type {
		case "image":
			sp.Image = md
		case "video":
			sp.Video = md
		default:
			sp.Document = md
		}
	case "location":
		if p.Location == nil {
			return sp, fmt.Errorf("location parameter without location: %w", ErrInvalidMessage)
		}
		l, err := renderLocation(p.Location)
		if err != nil {
			return sp, err
		}
		sp.Location = l
	case "currency":
		if p.Currency == nil || p.Currency.Code == "" {
			return sp, fmt.Errorf("currency parameter without currency code: %w", ErrInvalidMessage)
		}
		sp.Currency = &sendCurrency{FallbackValue: p.Text, Code: p.Currency.Code, Amount1000: p.Currency.Amount1000}
	case "date_time":
		sp.DateTime = &sendDateTime{FallbackValue: p.Text}
	case "coupon_code":
		sp.CouponCode = p.Text
	default:
		return sp, fmt.Errorf("unknown parameter type %q: %w", p.Type, ErrInvalidMessage)
	}
	return sp, nil
}

func renderInteractive(in *msg.Interactive) (*sendInteractive, error) {
	if in.Body == "" {
		return nil, invalid("interactive %s without body", in.Type)
	}
	out := &sendInteractive{Type: in.Type, Body: sendBody{Text: in.Body}}
	if in.Footer != "" {
		out.Footer = &sendBody{Text: meta.Truncate(in.Footer, MaxFooterLength)}
	}
	switch in.Type {
	case "button":
		if runes(in.Body) > MaxButtonBodyLength {
			return nil, invalid("button message body of %d characters, the limit is %d", runes(in.Body), MaxButtonBodyLength)
		}
		if len(in.Buttons) == 0 || len(in.Buttons) > MaxButtons {
			return nil, invalid("button message with %d buttons, it takes 1 to %d", len(in.Buttons), MaxButtons)
		}
		for i, b := range in.Buttons {
			if b.ID == "" || runes(b.ID) > MaxButtonIDLength {
				return nil, invalid("button %d: id must have 1 to %d characters", i, MaxButtonIDLength)
			}
			if b.Title == "" {
				return nil, invalid("button %d without title", i)
			}
			out.Action.Buttons = append(out.Action.Buttons, sendButton{
				Type: "reply", Reply: sendReply{ID: b.ID, Title: meta.Truncate(b.Title, MaxButtonTitleLength)},
			})
		}
		if in.Header != nil {
			h, err := renderHeader(in.Header, true)
			if err != nil {
				return nil, err
			}
			out.Header = h
		}
	case "list":
		if runes(in.Body) > MaxListBodyLength {
			return nil, invalid("list message body of %d characters, the limit is %d", runes(in.Body), MaxListBodyLength)
		}
		if in.ListButton == "" {
			return nil, invalid("list message without button label")
		}
		if len(in.Sections) == 0 || len(in.Sections) > MaxSections {
			return nil, invalid("list message with %d sections, it takes 1 to %d", len(in.Sections), MaxSections)
		}
		out.Action.Button = meta.Truncate(in.ListButton, MaxListButtonLength)
		rows := 0
		for si, s := range in.Sections {
			if len(s.Rows) == 0 {
				return nil, invalid("list section %d without rows", si)
			}
			ss := sendSection{Title: meta.Truncate(s.Title, MaxSectionTitleLength)}
			for ri, r := range s.Rows {
				if r.ID == "" || runes(r.ID) > MaxRowIDLength {
					return nil, invalid("list section %d row %d: id must have 1 to %d characters", si, ri, MaxRowIDLength)
				}
				if r.Title == "" {
					return nil, invalid("list section %d row %d without title", si, ri)
				}
				ss.Rows = append(ss.Rows, sendRow{
					ID: r.ID, Title: meta.Truncate(r.Title, MaxRowTitleLength),
					Description: meta.Truncate(r.Description, MaxRowDescLength),
				})
			}
			rows += len(s.Rows)
			out.Action.Sections = append(out.Action.Sections, ss)
		}
		if rows > MaxRows {
			return nil, invalid("list message with %d rows, the limit is %d across all sections", rows, MaxRows)
		}
		if in.Header != nil {
			h, err := renderHeader(in.Header, false)
			if err != nil {
				return nil, err
			}
			out.Header = h
		}
	default:
		return nil, invalid("unknown interactive type %q", in.Type)
	}
	return out, nil
}

func renderHeader(h *msg.Header, mediaAllowed bool) (*sendHeader, error) {
	switch h.Type {
	case "text", "":
		if h.Text == "" {
			return nil, invalid("text header without text")
		}
		return &sendHeader{Type: "text", Text: meta.Truncate(h.Text, MaxHeaderTextLength)}, nil
	case "image", "video", "document":
		if !mediaAllowed {
			return nil, invalid("a list message header can only be text, not %s", h.Type)
		}
		if h.Media == nil {
			return nil, invalid("%s header without media", h.Type)
		}
		md, err := mediaObject(h.Media, h.Type, false)
		if err != nil {
			return nil, err
		}
		out := &sendHeader{Type: h.Type}
		switch h.Type {
		case "image":
			out.Image = md
		case "video":
			out.Video = md
		default:
			out.Document = md
		}
		return out, nil
	}
	return nil, invalid("unknown header type %q", h.Type)
}

// mediaObject renders media by id or link. withCaption keeps the caption where the type takes
// one; the filename is kept for documents only.
func mediaObject(m *msg.OutMedia, typ string, withCaption bool) (*sendMedia, error) {
	if (m.ID == "") == (m.Link == "") {
		return nil, invalid("%s media needs exactly one of id and link", typ)
	}
	out := &sendMedia{ID: m.ID, Link: m.Link}
	if typ == "document" {
		out.Filename = m.Filename
	}
	if withCaption && m.Caption != "" && (typ == "image" || typ == "video" || typ == "document") {
		if runes(m.Caption) > MaxCaptionLength {
			return nil, invalid("%s caption of %d characters, the limit is %d", typ, runes(m.Caption), MaxCaptionLength)
		}
		out.Caption = m.Caption
	}
	return out, nil
}

func setMedia(r *sendRequest, m *msg.OutMedia) error {
	switch m.Type {
	case "image", "video", "audio", "document", "sticker":
	default:
		return invalid("unknown media type %q", m.Type)
	}
	md, err := mediaObject(m, m.Type, true)
	if err != nil {
		return err
	}
	switch m.Type {
	case "image":
		r.Image = md
	case "video":
		r.Video = md
	case "audio":
		r.Audio = md
	case "document":
		r.Document = md
	case "sticker":
		r.Sticker = md
	}
	r.Type = m.Type
	return nil
}

func renderLocation(l *msg.Location) (*sendLocation, error) {
	if math.IsNaN(l.Latitude) || math.IsNaN(l.Longitude) || math.Abs(l.Latitude) > 90 || math.Abs(l.Longitude) > 180 {
		return nil, invalid("location %v,%v out of range", l.Latitude, l.Longitude)
	}
	return &sendLocation{Latitude: l.Latitude, Longitude: l.Longitude, Name: l.Name, Address: l.Address}, nil
}

// recipient writes a phone number the way the Cloud API wants it: with "+" and the country
// code. Webhooks give the user's number without the "+", and a number sent without one gets the
// business number's country code prepended (reference 2.1). Anything that is not a bare number
// (already "+"-prefixed, formatted, or a business-scoped user id) is sent as given.
func recipient(to string) string {
	for i := 0; i < len(to); i++ {
		if to[i] < '0' || to[i] > '9' {
			return to
		}
	}
	return "+" + to
}
