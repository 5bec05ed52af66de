// Package msg holds the normalized inbound events and outbound messages that the engine and the
// channel providers share. Providers translate their webhooks into Events and render Messages into
// their Graph API requests; the engine reads Events and produces Messages without knowing which
// channel carries them.
package msg

import "time"

// Channel names.
const (
	WhatsApp  = "whatsapp"
	Messenger = "messenger"
	Instagram = "instagram"
)

// Kind says what an inbound Event is.
type Kind string

// Inbound event kinds. A provider maps every payload it receives to one of these; a payload it
// does not understand becomes KindUnsupported, never an error that drops its batch.
const (
	KindText        Kind = "text"        // Text holds the body
	KindButton      Kind = "button"      // Button: interactive button reply, template quick-reply button or quick reply
	KindPostback    Kind = "postback"    // Button: a Messenger/Instagram postback (persistent menu, button template)
	KindList        Kind = "list"        // List: a list row chosen
	KindFlowReply   Kind = "flow_reply"  // FlowReply: a WhatsApp Flow or address form submitted
	KindLocation    Kind = "location"    // Location
	KindMedia       Kind = "media"       // Media: image, video, audio, document or sticker
	KindContacts    Kind = "contacts"    // Contacts: shared contact cards
	KindReaction    Kind = "reaction"    // Reaction on one of our messages
	KindOrder       Kind = "order"       // Order from a catalog
	KindSystem      Kind = "system"      // System: the user changed number and the like
	KindReferral    Kind = "referral"    // Referral alone (Messenger m.me links); WhatsApp referrals ride on messages
	KindDeleted     Kind = "deleted"     // the user unsent the message whose id is ID (Instagram)
	KindUnsupported Kind = "unsupported" // Unsupported: a message type the channel or we cannot read; Errors says why
	KindStatus      Kind = "status"      // Status: delivery receipt for a message we sent
	KindTemplate    Kind = "template"    // TemplateStatus: a template was approved, rejected, paused...
	KindError       Kind = "error"       // Errors: an account- or app-level error with no message attached
)

// Event is one normalized inbound event. Exactly the field named by Kind is set, plus the
// envelope fields (Channel, Account, ID, From, Contact, Time) where the payload has them.
type Event struct {
	Kind    Kind
	Channel string // WhatsApp, Messenger or Instagram
	Account string // business account: phone number id, page id or Instagram account id
	ID      string // provider message id (wamid, mid); the deduplication key for messages
	// From is the user's id, the one the conversation is keyed by: on WhatsApp the
	// business-scoped user id when the payload has one, else the phone number.
	From    string
	Contact Contact
	// Group is the id of the group the message was written in (WhatsApp groups); empty for a
	// private chat.
	Group string
	Time  time.Time // when the user sent it, from the payload (not when we received it)

	Context  *Context  // reply-to and forwarding information
	Referral *Referral // the ad or link that started the conversation

	Text           string
	Button         *Reply
	List           *ListReply
	FlowReply      *FlowReply
	Location       *Location
	Media          *Media
	Contacts       []SharedContact
	Reaction       *Reaction
	Order          *Order
	System         *System
	Unsupported    string // the provider's name for the unsupported type, when it gives one
	Status         *Status
	TemplateStatus *TemplateStatus
	Errors         []Error // for KindUnsupported and KindError
}

// IsMessage reports whether the event was sent by the user (as opposed to a receipt, a
// notification about the account or an unsent message). Messages run flows and refresh the
// service window.
func (e *Event) IsMessage() bool {
	switch e.Kind {
	case KindStatus, KindTemplate, KindError, KindDeleted:
		return false
	}
	return true
}

// Contact is what the channel tells about the user.
type Contact struct {
	ID       string // same as Event.From
	Name     string // profile name
	Phone    string // phone number, when known (WhatsApp wa_id or from); empty for a username user
	UserID   string // business-scoped user id (WhatsApp user_id), when present
	Username string // the user's WhatsApp username, when they have one
}

// Context describes what an inbound message refers to.
type Context struct {
	ReplyTo             string // id of the message replied to (or that carried the tapped button)
	From                string // sender of the message replied to
	Forwarded           bool
	FrequentlyForwarded bool
	ProductID           string // product the user asked about ("message business" on a product)
	CatalogID           string
}

// Referral is the ad or link that led the user to write.
type Referral struct {
	SourceURL    string
	SourceID     string
	SourceType   string
	Ref          string // Messenger m.me ref parameter
	Body         string
	Headline     string
	MediaType    string
	ImageURL     string
	VideoURL     string
	ThumbnailURL string
	ClickID      string // ctwa_clid
	Welcome      string // welcome_message.text
}

// Reply is a tapped button: an interactive reply button (ID is the button id), a template
// quick-reply button (ID is the payload), a quick reply or a postback.
type Reply struct {
	ID    string
	Title string
}

// ListReply is a chosen list row.
type ListReply struct {
	ID          string
	Title       string
	Description string
}

// FlowReply is a submitted WhatsApp Flow (or address message) form.
type FlowReply struct {
	Name     string
	Body     string
	Response map[string]any // the decoded response_json
}

// Location is a shared or sent location.
type Location struct {
	Latitude  float64
	Longitude float64
	Name      string
	Address   string
	URL       string
}

// Media is an inbound media attachment.
type Media struct {
	Type     string // image, video, audio, document, sticker
	ID       string // provider media id
	URL      string // download URL when the provider gives one
	MimeType string
	SHA256   string
	Caption  string
	Filename string
	Voice    bool // audio recorded as a voice note
	Animated bool // animated sticker
}

// SharedContact is a contact card the user shared.
type SharedContact struct {
	Name   string // formatted name
	Phones []string
	Emails []string
	WaID   string // WhatsApp id of the first phone, when known
}

// Reaction is an emoji reaction on a message; an empty Emoji removes it.
type Reaction struct {
	MessageID string
	Emoji     string
}

// Order is a catalog order.
type Order struct {
	CatalogID string
	Text      string
	Items     []OrderItem
}

// OrderItem is one line of an Order.
type OrderItem struct {
	ProductID string
	Quantity  int
	Price     float64
	Currency  string
}

// SystemNumberChanged is System.Type when the user moved to another phone number (WhatsApp's
// user_changed_number, or customer_changed_number in older payloads); System.NewID is the new
// number.
const SystemNumberChanged = "user_changed_number"

// System is a system notice about the user, such as a changed number.
type System struct {
	Type    string
	Body    string
	NewID   string // the user's new id after a number change
	Subject string
}

// Delivery states of an outbound message, in the order they normally arrive. Failed is terminal.
const (
	StatusSent      = "sent"
	StatusDelivered = "delivered"
	StatusRead      = "read"
	StatusPlayed    = "played"
	StatusFailed    = "failed"
)

// Status is a delivery receipt for a message we sent.
type Status struct {
	MessageID string
	State     string // one of the Status constants, or the provider's own word for others
	Recipient string // the user's id as Event.From: business-scoped user id, else phone number
	Errors    []Error
	// WindowClosed is set by the provider when the failure means the conversation's
	// customer-service window is closed (WhatsApp 131047): the engine then falls back to a
	// template.
	WindowClosed bool
	Callback     string // opaque data set on send and echoed back
	// Watermark, for a receipt without a MessageID (Messenger's read and delivery
	// watermarks), says that every message sent before it has reached State.
	Watermark time.Time
}

// TemplateStatus reports a change to a message template's review state.
type TemplateStatus struct {
	Event    string // APPROVED, REJECTED, PAUSED...
	ID       string
	Name     string
	Language string
	Category string
	Reason   string
}

// Error is an error the channel reported in a webhook.
type Error struct {
	Code    int
	Title   string
	Message string
	Details string
}
