package whatsapp

import (
	"encoding/json"
	"fmt"
	"testing"
)

func BenchmarkParseOne(b *testing.B) {
	body := readWebhook(b, "text")
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(body); err != nil {
			b.Fatal(err)
		}
	}
}

// batchBody builds one webhook with n messages of mixed types from n/4 users, as a busy
// number receives them.
func batchBody(b *testing.B, n int) []byte {
	b.Helper()
	var contacts, messages []any
	for u := range n / 4 {
		contacts = append(contacts, map[string]any{"profile": map[string]any{"name": fmt.Sprintf("User %d", u)}, "wa_id": fmt.Sprintf("1650555%04d", u)})
	}
	for i := range n {
		m := map[string]any{
			"from": fmt.Sprintf("1650555%04d", i%(n/4)), "id": fmt.Sprintf("wamid.HBgLMTY1MDU1NTEyMzQVAgASGBQzQTRBNjU5OUFFRTAzODEw%04dA==", i),
			"timestamp": fmt.Sprint(1749416383 + i),
		}
		switch i % 4 {
		case 0:
			m["type"], m["text"] = "text", map[string]any{"body": "Does it come in another color?"}
		case 1:
			m["type"], m["interactive"] = "interactive", map[string]any{"type": "button_reply", "button_reply": map[string]any{"id": "change-button", "title": "Change"}}
			m["context"] = map[string]any{"from": "15550783881", "id": "wamid.HBgLMTY1MDU1NTEyMzQVAgARGBI3MTE5MjVBOTE3MDk5QUVFM0YA"}
		case 2:
			m["type"], m["image"] = "image", map[string]any{"caption": "Taj Mahal", "mime_type": "image/jpeg", "sha256": "SfInY0gGKTsJlUWbwxC1k+FAD0FZHvzwfpvO0zX0GUI=", "id": "1003383421387256"}
		case 3:
			m["type"], m["location"] = "location", map[string]any{"latitude": 37.44216251868683, "longitude": -122.16153582049394, "name": "Philz Coffee"}
		}
		messages = append(messages, m)
	}
	body, err := json.Marshal(map[string]any{
		"object": "whatsapp_business_account",
		"entry": []any{map[string]any{"id": "102290129340398", "changes": []any{map[string]any{
			"field": "messages",
			"value": map[string]any{
				"messaging_product": "whatsapp",
				"metadata":          map[string]any{"display_phone_number": "15550783881", "phone_number_id": "106540352242922"},
				"contacts":          contacts,
				"messages":          messages,
			},
		}}}},
	})
	if err != nil {
		b.Fatal(err)
	}
	return body
}

func BenchmarkParseBatch100(b *testing.B) {
	body := batchBody(b, 100)
	if evs, err := Parse(body); err != nil || len(evs) != 100 {
		b.Fatalf("%d events, %v", len(evs), err)
	}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(body); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRender(b *testing.B) {
	for _, tc := range renderCases() {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Render(tc.m); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
