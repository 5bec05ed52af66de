package whatsapp

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/flowgate/flowgate/engine/msg"
)

// WebhookBody renders an inbound user message as the webhook body WhatsApp would deliver for
// it (from a phone number, a business-scoped user id, or both, as ev.Contact has them): the inverse of Parse for text, button and template quick replies, list replies,
// locations and media. flowctl test's send steps and flowctl chat use it, so that synthetic
// messages take the same parsing path as recorded ones.
func WebhookBody(ev *msg.Event) ([]byte, error) {
	phone, userID := ev.Contact.Phone, ev.Contact.UserID
	if isUserID(ev.From) && userID == "" {
		userID = ev.From
	} else if !isUserID(ev.From) && phone == "" {
		phone = ev.From
	}
	m := map[string]any{
		"id":        ev.ID,
		"timestamp": strconv.FormatInt(ev.Time.Unix(), 10),
	}
	contact := map[string]any{"profile": map[string]any{"name": ev.Contact.Name}}
	if phone != "" {
		m["from"], contact["wa_id"] = phone, phone
	}
	if userID != "" {
		m["from_user_id"], contact["user_id"] = userID, userID
	}
	if ev.Contact.Username != "" {
		contact["profile"].(map[string]any)["username"] = ev.Contact.Username
	}
	switch ev.Kind {
	case msg.KindText:
		m["type"] = "text"
		m["text"] = map[string]any{"body": ev.Text}
	case msg.KindButton:
		if ev.Button == nil {
			return nil, fmt.Errorf("button event without a button")
		}
		m["type"] = "interactive"
		m["interactive"] = map[string]any{"type": "button_reply",
			"button_reply": map[string]any{"id": ev.Button.ID, "title": ev.Button.Title}}
	case msg.KindList:
		if ev.List == nil {
			return nil, fmt.Errorf("list event without a list reply")
		}
		m["type"] = "interactive"
		m["interactive"] = map[string]any{"type": "list_reply",
			"list_reply": map[string]any{"id": ev.List.ID, "title": ev.List.Title, "description": ev.List.Description}}
	case msg.KindLocation:
		if ev.Location == nil {
			return nil, fmt.Errorf("location event without a location")
		}
		l := ev.Location
		m["type"] = "location"
		m["location"] = map[string]any{"latitude": l.Latitude, "longitude": l.Longitude, "name": l.Name, "address": l.Address}
	case msg.KindMedia:
		if ev.Media == nil {
			return nil, fmt.Errorf("media event without media")
		}
		md := ev.Media
		m["type"] = md.Type
		body := map[string]any{"id": md.ID, "mime_type": md.MimeType}
		if md.Caption != "" {
			body["caption"] = md.Caption
		}
		if md.Filename != "" {
			body["filename"] = md.Filename
		}
		m[md.Type] = body
	default:
		return nil, fmt.Errorf("cannot render a %s event as a WhatsApp webhook", ev.Kind)
	}
	value := map[string]any{
		"messaging_product": "whatsapp",
		"metadata":          map[string]any{"display_phone_number": ev.Account, "phone_number_id": ev.Account},
		"contacts":          []any{contact},
		"messages":          []any{m},
	}
	body := map[string]any{
		"object": "whatsapp_business_account",
		"entry": []any{map[string]any{
			"id":      ev.Account,
			"changes": []any{map[string]any{"field": "messages", "value": value}},
		}},
	}
	return json.Marshal(body)
}
