// Package instagram is Flowgate's Instagram Direct provider. Instagram messaging speaks the
// Messenger Platform's webhook and Send API shapes, so providers/messenger parses, renders and
// sends for it; this package holds what is Instagram's own:
//
//   - webhooks come with "object": "instagram" and entry.id is the Instagram professional
//     account id; read receipts (messaging_seen) name the message read, reactions and
//     postbacks (ice breakers) come as on Messenger, and story mentions, story replies,
//     unsent (is_deleted) and unsupported messages are Instagram's;
//   - text is limited to 1,000 bytes of UTF-8 (not characters), longer texts are split;
//   - HUMAN_AGENT is the only message tag (7 days after the user's last message);
//   - images, videos and audio can be sent, not documents or stickers;
//   - the API is the Instagram API with Instagram Login: POST
//     graph.instagram.com/{version}/{ig_account_id}/messages with an Instagram user access
//     token, at 100 sends per second. (The Facebook Login flavour sends through the linked
//     Page's id instead, which this provider does not do.)
package instagram

import (
	"github.com/flowgate/flowgate/engine/msg"
	"github.com/flowgate/flowgate/providers/channel"
	"github.com/flowgate/flowgate/providers/messenger"
	"github.com/flowgate/flowgate/providers/meta"
)

// Name is Instagram's channel name.
const Name = msg.Instagram

// Instagram's own limits and defaults.
const (
	MaxTextBytes         = 1000
	DefaultBaseURL       = "https://graph.instagram.com"
	DefaultRatePerSecond = 100 // Meta documents 100 sends per second per account (300 elsewhere)
)

// New returns the Instagram provider.
func New() messenger.Provider {
	return messenger.NewPlatform(messenger.Platform{
		Name:           Name,
		Object:         "instagram",
		MaxText:        MaxTextBytes,
		TextBytes:      true,
		Tags:           []string{"HUMAN_AGENT"},
		Media:          []string{"image", "video", "audio"},
		DefaultBaseURL: DefaultBaseURL,
		RatePerSecond:  DefaultRatePerSecond,
		Setup: channel.Setup{
			Title:       "Instagram",
			Description: "Instagram Direct channel.",
			IDKey:       "ig_account_id", IDLabel: "Instagram account",
			IDFix:    "add the Instagram professional account id (the app dashboard's Instagram settings)",
			TokenKey: "access_token", TokenRef: "${INSTAGRAM_TOKEN}",
			TokenFix:          "add the Instagram access token, preferably as a ${NAME} reference such as ${INSTAGRAM_TOKEN}",
			DefaultAPIVersion: meta.DefaultAPIVersion,
			DefaultBaseURL:    DefaultBaseURL,
			WebhookFields:     []string{"messages", "messaging_postbacks", "messaging_seen", "message_reactions", "messaging_referral"},
			Permissions:       "instagram_business_manage_messages",
		},
	})
}
