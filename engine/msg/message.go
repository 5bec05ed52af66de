package msg

import "errors"

// Message is one normalized outbound message. Exactly one of the content fields is set; its
// shapes follow WhatsApp's, which the Messenger and Instagram providers translate.
type Message struct {
	To string // the user's id, as in Event.From
	// Phone is the user's phone number when the conversation is keyed by another id (a
	// WhatsApp business-scoped user id); WhatsApp then addresses the message to the phone.
	Phone   string
	ReplyTo string // id of a message to quote, optional

	Text        *Text
	Template    *Template
	Interactive *Interactive
	Media       *OutMedia
	Location    *Location
	Reaction    *Reaction
	MarkRead    string // id of an inbound message to mark as read
	// Typing shows the user a typing indicator: alone on Messenger and Instagram
	// (sender_action typing_on), with MarkRead on WhatsApp.
	Typing bool

	// Tag is the Messenger/Instagram message tag that lets this message out after the standard
	// window (HUMAN_AGENT); empty within it.
	Tag string
	// NoRetryOnRateLimit asks the sender not to retry this message when it is throttled
	// (the node's retry_on_rate_limit: false).
	NoRetryOnRateLimit bool
}

// Type names the message's content: text, template, interactive, media, location, reaction,
// read or typing.
func (m *Message) Type() string {
	switch {
	case m.Text != nil:
		return "text"
	case m.Template != nil:
		return "template"
	case m.Interactive != nil:
		return "interactive"
	case m.Media != nil:
		return "media"
	case m.Location != nil:
		return "location"
	case m.Reaction != nil:
		return "reaction"
	case m.MarkRead != "":
		return "read"
	case m.Typing:
		return "typing"
	}
	return ""
}

// FreeForm reports whether the message may only go out within the customer-service window:
// everything but templates and read receipts.
func (m *Message) FreeForm() bool {
	return m.Template == nil && m.MarkRead == ""
}

// Text is a text message.
type Text struct {
	Body       string
	PreviewURL bool
	// MaxParts, when set, is how many messages the channel may split the text into: the
	// parts after it are dropped and the last one kept ends with ….
	MaxParts int `json:",omitempty"`
}

// Template is a pre-approved message template with its parameters.
type Template struct {
	Name     string
	Language string
	// Authentication marks an authentication template (category authentication in
	// templates.yaml: one-tap, zero-tap or copy-code), which WhatsApp sends only to a phone.
	Authentication bool
	Components     []Component
}

// Component is a template component: header, body or button.
type Component struct {
	Type       string // header, body, button
	SubType    string // for buttons: quick_reply, url, copy_code...
	Index      int    // for buttons: the button's position
	Parameters []Parameter
}

// Parameter is one template parameter.
type Parameter struct {
	Type     string // text, payload, image, video, document, location, currency, date_time, coupon_code
	Name     string // parameter_name, for named templates
	Text     string // for text, and the fallback value of currency and date_time
	Payload  string // for quick_reply buttons
	Media    *OutMedia
	Location *Location
	Currency *Currency
}

// Currency is a currency template parameter.
type Currency struct {
	Code       string
	Amount1000 int64
}

// Interactive is a reply-button or list message.
type Interactive struct {
	Type       string // button or list
	Header     *Header
	Body       string
	Footer     string
	Buttons    []Button  // for Type button
	ListButton string    // for Type list: the label of the button that opens the list
	Sections   []Section // for Type list
}

// Header is the header of an interactive message: text, or media.
type Header struct {
	Type  string // text, image, video, document
	Text  string
	Media *OutMedia
}

// Button is a reply button.
type Button struct {
	ID    string
	Title string
}

// Section is a titled group of list rows.
type Section struct {
	Title string
	Rows  []Row
}

// Row is one list row.
type Row struct {
	ID          string
	Title       string
	Description string
}

// OutMedia is outbound media, by link or by uploaded media id.
type OutMedia struct {
	Type     string // image, video, audio, document, sticker
	Link     string
	ID       string
	Caption  string
	Filename string
}

// ErrWindowClosed is returned, wrapped, by a provider's send when the channel refused a message
// because the conversation's customer-service window is closed (WhatsApp 131047). The engine
// answers it with the window fallback, as it does for a failed status with WindowClosed set.
var ErrWindowClosed = errors.New("customer-service window closed")

// Limits are what a channel can carry, used by flow validation. Each provider publishes its
// own; a zero number means no limit, a false flag that the channel cannot carry the kind at all.
type Limits struct {
	Text      int // characters in a text message (counted in runes; bytes when TextBytes)
	TextBytes bool
	Templates bool // approved templates (WhatsApp only); they also go out after the window
	// Tags are the message tags that let a message out after the window (Messenger:
	// HUMAN_AGENT, ACCOUNT_UPDATE...; Instagram: HUMAN_AGENT); none where there are none.
	Tags []string
	// Media lists the media types a message may carry (image, video, audio, document,
	// sticker); nil means all of them.
	Media             []string
	Buttons           int // reply buttons in one message
	ButtonTitle       int
	ButtonBody        int // body text of a button message
	ListRows          int // rows across all sections
	ListSections      int
	ListButton        int // label of the button that opens a list
	RowTitle          int
	RowDescription    int
	SectionTitle      int
	ListBody          int
	HeaderText        int
	FooterText        int
	Caption           int
	InteractiveHeader bool // interactive messages may have a header and footer
	Location          bool // location messages
}
