package whatsapp

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/flowgate/flowgate/engine/msg"
	"github.com/flowgate/flowgate/providers/channel"
	"github.com/flowgate/flowgate/providers/meta"
)

// Provider is the WhatsApp Cloud API channel, for the channel registry.
type Provider struct{ meta.Webhooks }

var _ channel.Provider = Provider{}

// Name returns "whatsapp".
func (Provider) Name() string { return Name }

// Limits returns what a WhatsApp message can carry.
func (Provider) Limits() msg.Limits { return Limits() }

// Parse turns a webhook body into events; see the package function Parse.
func (Provider) Parse(body []byte) ([]msg.Event, error) { return Parse(body) }

// NewSender returns a Client for the phone number a.ID.
func (Provider) NewSender(a channel.Account, o channel.SendOptions) channel.Sender {
	return NewClient(Config{PhoneNumberID: a.ID, ClientConfig: meta.ClientConfigFor(a, o, meta.DefaultBaseURL)})
}

// Check reads the phone number with the token.
func (Provider) Check(ctx context.Context, hc *http.Client, a channel.Account) error {
	return meta.CheckAccount(ctx, hc, a, meta.DefaultBaseURL)
}

// Setup describes the messaging-whatsapp answers.
func (Provider) Setup() channel.Setup {
	return channel.Setup{
		Title:       "WhatsApp",
		Description: "WhatsApp Cloud API channel.",
		IDKey:       "phone_number_id", IDLabel: "phone number",
		IDFix:    "add the Phone number ID from WhatsApp Manager (or the app dashboard's WhatsApp > API Setup)",
		TokenKey: "access_token", TokenRef: "${WHATSAPP_TOKEN}",
		TokenFix:          "add a system user access token, preferably as a ${NAME} reference such as ${WHATSAPP_TOKEN}",
		Optional:          []string{"business_account_id"},
		DefaultAPIVersion: meta.DefaultAPIVersion,
		DefaultBaseURL:    meta.DefaultBaseURL,
		WebhookFields:     []string{"messages", "message_template_status_update"},
		Permissions:       "whatsapp_business_messaging",
	}
}

// WebhookBody renders an inbound message as WhatsApp would deliver it; see the package
// function WebhookBody.
func (Provider) WebhookBody(ev *msg.Event) ([]byte, error) { return WebhookBody(ev) }

// Accepted is the Cloud API's answer to req: {"success": true} for a read receipt, else the
// wamid with the contact it went to.
func (Provider) Accepted(req []byte, token string) ([]byte, string) {
	var r struct {
		To        string `json:"to"`
		Recipient string `json:"recipient"`
		Status    string `json:"status"`
	}
	_ = json.Unmarshal(req, &r)
	if r.Status == "read" {
		return []byte(`{"success":true}`), ""
	}
	id := "wamid." + token
	contact := map[string]any{"input": r.To, "wa_id": strings.TrimPrefix(r.To, "+")}
	if r.Recipient != "" {
		contact = map[string]any{"input": r.Recipient, "user_id": r.Recipient}
	}
	b, _ := json.Marshal(map[string]any{
		"messaging_product": "whatsapp",
		"contacts":          []any{contact},
		"messages":          []any{map[string]any{"id": id}},
	})
	return b, id
}
