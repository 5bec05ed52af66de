package messenger

import (
	"context"
	"net/http"

	"github.com/flowgate/flowgate/engine/msg"
	"github.com/flowgate/flowgate/providers/channel"
	"github.com/flowgate/flowgate/providers/meta"
)

// Name is Messenger's channel name.
const Name = msg.Messenger

// Limits of the Send API that are the same on every platform, in characters (runes).
const (
	MaxText              = 2000 // Messenger's text limit; Instagram's is in Platform.TextBytes
	MaxQuickReplies      = 13
	MaxQuickReplyTitle   = 20
	MaxPayload           = 1000
	MaxElements          = 10 // cards of a generic template
	MaxElementTitle      = 80
	MaxElementSubtitle   = 80
	MaxButtonTitle       = 20
	DefaultRatePerSecond = 250 // sends per second per Page: below Meta's 300 for text
)

// Platform is what differs between the channels that speak the Messenger Platform's webhook and
// Send API: Messenger itself and Instagram. Everything else (parsing, rendering, sending) is
// this package's.
type Platform struct {
	Name   string // the channel's name
	Object string // the webhooks' "object": page, instagram
	// MaxText is the longest text in one message, in runes, or in bytes when TextBytes is set;
	// longer texts are split.
	MaxText   int
	TextBytes bool
	Tags      []string // message tags it takes after the window
	// Media lists the media types it sends; nil means image, video, audio, document (as a
	// file) and sticker (as an image).
	Media          []string
	DefaultBaseURL string
	RatePerSecond  float64 // default send rate per account
	Setup          channel.Setup
}

// Limits is what one message can carry on the platform. Reply buttons and list rows become
// quick replies (13 at most, titles of 20 characters); a list whose rows have descriptions
// becomes a generic template; headers and footers join the text; locations go out as text.
func (p *Platform) Limits() msg.Limits {
	return msg.Limits{
		Text:              p.MaxText,
		TextBytes:         p.TextBytes,
		Tags:              p.Tags,
		Media:             p.Media,
		Buttons:           MaxQuickReplies,
		ButtonTitle:       MaxQuickReplyTitle,
		ButtonBody:        p.MaxText,
		ListRows:          MaxQuickReplies,
		ListButton:        MaxButtonTitle,
		RowTitle:          MaxQuickReplyTitle,
		RowDescription:    MaxElementSubtitle,
		ListBody:          p.MaxText,
		Caption:           p.MaxText,
		InteractiveHeader: true,
		Location:          true,
	}
}

// Provider is a channel that speaks the Messenger Platform, for the channel registry: New()
// for Messenger, NewPlatform for another (instagram.New).
type Provider struct {
	meta.Webhooks
	p *Platform
}

var _ channel.Provider = Provider{}

// New returns the Messenger provider.
func New() Provider {
	return NewPlatform(Platform{
		Name:           Name,
		Object:         "page",
		MaxText:        MaxText,
		Tags:           []string{"HUMAN_AGENT", "ACCOUNT_UPDATE", "CONFIRMED_EVENT_UPDATE", "POST_PURCHASE_UPDATE", "CUSTOMER_FEEDBACK"},
		DefaultBaseURL: meta.DefaultBaseURL,
		RatePerSecond:  DefaultRatePerSecond,
		Setup: channel.Setup{
			Title:       "Messenger",
			Description: "Facebook Messenger channel.",
			IDKey:       "page_id", IDLabel: "page",
			IDFix:    "add the Facebook Page id (Page > About > Page transparency, or the app dashboard's Messenger settings)",
			TokenKey: "page_access_token", TokenRef: "${MESSENGER_PAGE_TOKEN}",
			TokenFix:          "add the Page access token, preferably as a ${NAME} reference such as ${MESSENGER_PAGE_TOKEN}",
			DefaultAPIVersion: meta.DefaultAPIVersion,
			DefaultBaseURL:    meta.DefaultBaseURL,
			WebhookFields:     []string{"messages", "messaging_postbacks", "messaging_referrals", "messaging_optins", "message_deliveries", "message_reads", "message_reactions"},
			Permissions:       "pages_messaging",
		},
	})
}

// NewPlatform returns the provider of a channel that speaks the Messenger Platform.
func NewPlatform(p Platform) Provider { return Provider{p: &p} }

// Name returns the platform's channel name.
func (pr Provider) Name() string { return pr.p.Name }

// Limits returns what one message can carry; see Platform.Limits.
func (pr Provider) Limits() msg.Limits { return pr.p.Limits() }

// Parse turns a webhook body into events; see the package documentation.
func (pr Provider) Parse(body []byte) ([]msg.Event, error) { return pr.p.Parse(body) }

// NewSender returns a Client for the account a.ID.
func (pr Provider) NewSender(a channel.Account, o channel.SendOptions) channel.Sender {
	return NewClient(pr.p, Config{AccountID: a.ID, ClientConfig: meta.ClientConfigFor(a, o, pr.p.DefaultBaseURL)})
}

// Check reads the account with the token.
func (pr Provider) Check(ctx context.Context, hc *http.Client, a channel.Account) error {
	return meta.CheckAccount(ctx, hc, a, pr.p.DefaultBaseURL)
}

// Setup describes the channel's answers section.
func (pr Provider) Setup() channel.Setup { return pr.p.Setup }

// WebhookBody renders an inbound message as the platform would deliver it.
func (pr Provider) WebhookBody(ev *msg.Event) ([]byte, error) { return pr.p.WebhookBody(ev) }

// Accepted is the Send API's answer to req.
func (pr Provider) Accepted(req []byte, token string) ([]byte, string) { return accepted(req, token) }
