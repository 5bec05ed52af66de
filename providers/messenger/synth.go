package messenger

import (
	"encoding/json"
	"fmt"

	"github.com/flowgate/flowgate/engine/msg"
)

// WebhookBody renders an inbound user message as the webhook the platform would deliver for
// it: the inverse of Parse for text, quick replies (buttons and list rows, with the payloads
// Render writes), postbacks, locations and media. flowctl test's send steps and flowctl chat use
// it, so that synthetic messages take the same parsing path as recorded ones. A media event's
// ID stands for the attachment's URL, as Parse reads it.
func (p *Platform) WebhookBody(ev *msg.Event) ([]byte, error) {
	item := map[string]any{
		"sender":    map[string]any{"id": ev.From},
		"recipient": map[string]any{"id": ev.Account},
		"timestamp": ev.Time.UnixMilli(),
	}
	m := map[string]any{"mid": ev.ID}
	switch ev.Kind {
	case msg.KindText:
		m["text"] = ev.Text
	case msg.KindButton:
		if ev.Button == nil {
			return nil, fmt.Errorf("button event without a button")
		}
		m["text"], m["quick_reply"] = ev.Button.Title, map[string]any{"payload": buttonPayload(ev.Button.ID)}
	case msg.KindList:
		if ev.List == nil {
			return nil, fmt.Errorf("list event without a list reply")
		}
		m["text"], m["quick_reply"] = ev.List.Title, map[string]any{"payload": rowPayload(ev.List.ID)}
	case msg.KindPostback:
		if ev.Button == nil {
			return nil, fmt.Errorf("postback event without a button")
		}
		item["postback"] = map[string]any{"mid": ev.ID, "title": ev.Button.Title, "payload": ev.Button.ID}
		m = nil
	case msg.KindLocation:
		if ev.Location == nil {
			return nil, fmt.Errorf("location event without a location")
		}
		l := ev.Location
		m["attachments"] = []any{map[string]any{"type": "location", "title": l.Name,
			"payload": map[string]any{"coordinates": map[string]any{"lat": l.Latitude, "long": l.Longitude}}}}
	case msg.KindMedia:
		if ev.Media == nil {
			return nil, fmt.Errorf("media event without media")
		}
		typ := ev.Media.Type
		if typ == "document" {
			typ = "file"
		}
		url := ev.Media.URL
		if url == "" {
			url = ev.Media.ID
		}
		// No caption: the platform has none, and a text beside the attachment is an event of
		// its own.
		m["attachments"] = []any{map[string]any{"type": typ, "payload": map[string]any{"url": url}}}
	default:
		return nil, fmt.Errorf("cannot render a %s event as a %s webhook", ev.Kind, p.Name)
	}
	if m != nil {
		item["message"] = m
	}
	return json.Marshal(map[string]any{
		"object": p.Object,
		"entry": []any{map[string]any{
			"id":        ev.Account,
			"time":      ev.Time.UnixMilli(),
			"messaging": []any{item},
		}},
	})
}

// accepted is the Send API's answer to req: the recipient and, for a message, its id ("m_" +
// token); a sender action's answer has no message id.
func accepted(req []byte, token string) ([]byte, string) {
	var r struct {
		Recipient struct {
			ID string `json:"id"`
		} `json:"recipient"`
		SenderAction string `json:"sender_action"`
	}
	_ = json.Unmarshal(req, &r)
	if r.SenderAction != "" {
		b, _ := json.Marshal(map[string]any{"recipient_id": r.Recipient.ID})
		return b, ""
	}
	id := "m_" + token
	b, _ := json.Marshal(map[string]any{"recipient_id": r.Recipient.ID, "message_id": id})
	return b, id
}
