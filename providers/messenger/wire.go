package messenger

import (
	"encoding/json"

	"github.com/flowgate/flowgate/providers/meta"
)

// The inbound wire types: the Messenger Platform's webhook, which Instagram shares. Ids and
// timestamps are meta's lenient scalars; timestamps are milliseconds.

type wireEnvelope struct {
	Object string            `json:"object"`
	Entry  []json.RawMessage `json:"entry"`
}

type wireEntry struct {
	ID        meta.FlexString   `json:"id"`
	Time      meta.FlexTime     `json:"time"`
	Messaging []json.RawMessage `json:"messaging"`
	Standby   []json.RawMessage `json:"standby"`
}

// wireItem is one messaging[] (or standby[]) item; exactly one of the event objects is set.
type wireItem struct {
	Sender struct {
		ID      meta.FlexString `json:"id"`
		UserRef string          `json:"user_ref"`
	} `json:"sender"`
	Recipient struct {
		ID meta.FlexString `json:"id"`
	} `json:"recipient"`
	Timestamp meta.FlexTime `json:"timestamp"`

	Message  *wireMessage  `json:"message"`
	Postback *wirePostback `json:"postback"`
	Delivery *wireDelivery `json:"delivery"`
	Read     *wireRead     `json:"read"`
	Reaction *wireReaction `json:"reaction"`
	Referral *wireReferral `json:"referral"`
	Optin    *wireOptin    `json:"optin"`
}

type wireMessage struct {
	Mid           string           `json:"mid"`
	Text          string           `json:"text"`
	IsEcho        bool             `json:"is_echo"`
	IsDeleted     bool             `json:"is_deleted"`
	IsUnsupported bool             `json:"is_unsupported"`
	QuickReply    *wireQuickReply  `json:"quick_reply"`
	ReplyTo       *wireReplyTo     `json:"reply_to"`
	Attachments   []wireAttachment `json:"attachments"`
	Referral      *wireReferral    `json:"referral"`
}

type wireQuickReply struct {
	Payload string `json:"payload"`
}

type wireReplyTo struct {
	Mid   string `json:"mid"`
	Story *struct {
		URL string          `json:"url"`
		ID  meta.FlexString `json:"id"`
	} `json:"story"`
}

type wireAttachment struct {
	Type    string             `json:"type"`
	Title   string             `json:"title"`
	URL     string             `json:"url"`
	Payload *wireAttachPayload `json:"payload"`
}

type wireAttachPayload struct {
	URL         string          `json:"url"`
	Title       string          `json:"title"`
	StickerID   meta.FlexString `json:"sticker_id"`
	Coordinates *struct {
		Lat  meta.FlexFloat `json:"lat"`
		Long meta.FlexFloat `json:"long"`
	} `json:"coordinates"`
}

type wirePostback struct {
	Mid      string        `json:"mid"`
	Title    string        `json:"title"`
	Payload  string        `json:"payload"`
	Referral *wireReferral `json:"referral"`
}

type wireDelivery struct {
	Mids      []string      `json:"mids"`
	Watermark meta.FlexTime `json:"watermark"`
}

type wireRead struct {
	Watermark meta.FlexTime `json:"watermark"`
	Mid       string        `json:"mid"`
}

type wireReaction struct {
	Mid      string `json:"mid"`
	Action   string `json:"action"`
	Reaction string `json:"reaction"`
	Emoji    string `json:"emoji"`
}

type wireReferral struct {
	Ref            string          `json:"ref"`
	Source         string          `json:"source"`
	Type           string          `json:"type"`
	AdID           meta.FlexString `json:"ad_id"`
	RefererURI     string          `json:"referer_uri"`
	AdsContextData *struct {
		AdTitle  string `json:"ad_title"`
		PhotoURL string `json:"photo_url"`
		VideoURL string `json:"video_url"`
		PostID   string `json:"post_id"`
	} `json:"ads_context_data"`
}

type wireOptin struct {
	Type    string `json:"type"`
	Ref     string `json:"ref"`
	Payload string `json:"payload"`
	Title   string `json:"title"`
}
