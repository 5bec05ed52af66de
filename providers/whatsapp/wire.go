package whatsapp

import (
	"encoding/json"

	"github.com/flowgate/flowgate/providers/meta"
)

// This file holds the inbound wire types. Ids and timestamps are meta's lenient scalars: Meta
// documents them as strings, but a number in their place must not make a whole message
// unreadable.

type wireEnvelope struct {
	Object string            `json:"object"`
	Entry  []json.RawMessage `json:"entry"`
}

type wireEntry struct {
	ID      meta.FlexString   `json:"id"`
	Time    meta.FlexTime     `json:"time"`
	Changes []json.RawMessage `json:"changes"`
}

type wireChange struct {
	Field string          `json:"field"`
	Value json.RawMessage `json:"value"`
}

type wireValue struct {
	Metadata json.RawMessage   `json:"metadata"`
	Contacts json.RawMessage   `json:"contacts"`
	Messages []json.RawMessage `json:"messages"`
	Statuses []json.RawMessage `json:"statuses"`
	Errors   []json.RawMessage `json:"errors"`
}

// fastEnvelope decodes a well-formed body in one pass (see Parse).
type fastEnvelope struct {
	Object string `json:"object"`
	Entry  []struct {
		ID      meta.FlexString `json:"id"`
		Time    meta.FlexTime   `json:"time"`
		Changes []struct {
			Field string     `json:"field"`
			Value *fastValue `json:"value"`
		} `json:"changes"`
	} `json:"entry"`
}

// fastValue is the union of the "messages" and "message_template_status_update" values.
type fastValue struct {
	Metadata *wireMetadata `json:"metadata"`
	Contacts []wireContact `json:"contacts"`
	Messages []wireMessage `json:"messages"`
	Statuses []wireStatus  `json:"statuses"`
	Errors   []wireError   `json:"errors"`
	wireTemplateStatus
}

type wireMetadata struct {
	DisplayPhoneNumber meta.FlexString `json:"display_phone_number"`
	PhoneNumberID      meta.FlexString `json:"phone_number_id"`
}

type wireContact struct {
	Profile struct {
		Name     string `json:"name"`
		Username string `json:"username"`
	} `json:"profile"`
	WaID   meta.FlexString `json:"wa_id"`
	UserID string          `json:"user_id"`
}

type wireError struct {
	Code      meta.FlexInt   `json:"code"`
	Title     string         `json:"title"`
	Message   string         `json:"message"`
	ErrorData meta.ErrorData `json:"error_data"`
}

// wireHead is what every message has; it is decoded field by field when the full message is
// malformed.
type wireHead struct {
	From       meta.FlexString `json:"from"`
	FromUserID string          `json:"from_user_id"`
	GroupID    string          `json:"group_id"`
	ID         string          `json:"id"`
	Timestamp  meta.FlexTime   `json:"timestamp"`
	Type       string          `json:"type"`
}

type wireMessage struct {
	wireHead
	Context     *wireContext        `json:"context"`
	Referral    *wireReferral       `json:"referral"`
	Errors      []wireError         `json:"errors"`
	Text        *wireText           `json:"text"`
	Interactive *wireInteractive    `json:"interactive"`
	Button      *wireButton         `json:"button"`
	Location    *wireLocation       `json:"location"`
	Image       *wireMedia          `json:"image"`
	Video       *wireMedia          `json:"video"`
	Audio       *wireMedia          `json:"audio"`
	Document    *wireMedia          `json:"document"`
	Sticker     *wireMedia          `json:"sticker"`
	Contacts    []wireSharedContact `json:"contacts"`
	Reaction    *wireReaction       `json:"reaction"`
	Order       *wireOrder          `json:"order"`
	System      *wireSystem         `json:"system"`
	Unsupported *wireUnsupported    `json:"unsupported"`
}

type wireContext struct {
	From                string `json:"from"`
	ID                  string `json:"id"`
	Forwarded           bool   `json:"forwarded"`
	FrequentlyForwarded bool   `json:"frequently_forwarded"`
	ReferredProduct     *struct {
		CatalogID         string `json:"catalog_id"`
		ProductRetailerID string `json:"product_retailer_id"`
	} `json:"referred_product"`
}

type wireReferral struct {
	SourceURL      string `json:"source_url"`
	SourceID       string `json:"source_id"`
	SourceType     string `json:"source_type"`
	Body           string `json:"body"`
	Headline       string `json:"headline"`
	MediaType      string `json:"media_type"`
	ImageURL       string `json:"image_url"`
	VideoURL       string `json:"video_url"`
	ThumbnailURL   string `json:"thumbnail_url"`
	CtwaClid       string `json:"ctwa_clid"`
	WelcomeMessage *struct {
		Text string `json:"text"`
	} `json:"welcome_message"`
}

type wireText struct {
	Body string `json:"body"`
}

type wireInteractive struct {
	Type        string `json:"type"`
	ButtonReply *struct {
		ID    string `json:"id"`
		Title string `json:"title"`
	} `json:"button_reply"`
	ListReply *struct {
		ID          string `json:"id"`
		Title       string `json:"title"`
		Description string `json:"description"`
	} `json:"list_reply"`
	NfmReply *struct {
		Name         string `json:"name"`
		Body         string `json:"body"`
		ResponseJSON string `json:"response_json"`
	} `json:"nfm_reply"`
}

type wireButton struct {
	Payload string `json:"payload"`
	Text    string `json:"text"`
}

type wireLocation struct {
	Latitude  meta.FlexFloat `json:"latitude"`
	Longitude meta.FlexFloat `json:"longitude"`
	Name      string         `json:"name"`
	Address   string         `json:"address"`
	URL       string         `json:"url"`
}

type wireMedia struct {
	ID       string `json:"id"`
	URL      string `json:"url"`
	MimeType string `json:"mime_type"`
	SHA256   string `json:"sha256"`
	Caption  string `json:"caption"`
	Filename string `json:"filename"`
	Voice    bool   `json:"voice"`
	Animated bool   `json:"animated"`
}

type wireSharedContact struct {
	Name struct {
		FormattedName string `json:"formatted_name"`
		FirstName     string `json:"first_name"`
		LastName      string `json:"last_name"`
	} `json:"name"`
	Phones []struct {
		Phone string          `json:"phone"`
		WaID  meta.FlexString `json:"wa_id"`
	} `json:"phones"`
	Emails []struct {
		Email string `json:"email"`
	} `json:"emails"`
}

type wireReaction struct {
	MessageID string `json:"message_id"`
	Emoji     string `json:"emoji"`
}

type wireOrder struct {
	CatalogID    string `json:"catalog_id"`
	Text         string `json:"text"`
	ProductItems []struct {
		ProductRetailerID string         `json:"product_retailer_id"`
		Quantity          meta.FlexInt   `json:"quantity"`
		ItemPrice         meta.FlexFloat `json:"item_price"`
		Currency          string         `json:"currency"`
	} `json:"product_items"`
}

type wireSystem struct {
	Body     string          `json:"body"`
	WaID     meta.FlexString `json:"wa_id"`
	NewWaID  meta.FlexString `json:"new_wa_id"`
	Type     string          `json:"type"`
	Customer string          `json:"customer"`
}

type wireUnsupported struct {
	Type string `json:"type"`
}

type wireStatus struct {
	ID            string          `json:"id"`
	Status        string          `json:"status"`
	Timestamp     meta.FlexTime   `json:"timestamp"`
	RecipientID   meta.FlexString `json:"recipient_id"`
	RecipientUser string          `json:"recipient_user_id"`
	Callback      string          `json:"biz_opaque_callback_data"`
	Errors        []wireError     `json:"errors"`
}

type wireTemplateStatus struct {
	Event    string          `json:"event"`
	ID       meta.FlexString `json:"message_template_id"`
	Name     string          `json:"message_template_name"`
	Language string          `json:"message_template_language"`
	Reason   string          `json:"reason"`
	Category string          `json:"message_template_category"`
}
