package whatsapp

import (
	"reflect"
	"testing"
	"time"

	"github.com/flowgate/flowgate/engine/msg"
)

// TestWebhookBodyRoundTrip: what WebhookBody renders, Parse reads back as the same event.
func TestWebhookBodyRoundTrip(t *testing.T) {
	at := time.Unix(1767603600, 0)
	base := msg.Event{Channel: msg.WhatsApp, Account: "106540352242922", ID: "wamid.synth.1", From: "16505551234",
		Contact: msg.Contact{ID: "16505551234", Name: "Sheena Nelson", Phone: "16505551234"}, Time: at}
	cases := map[string]func(e *msg.Event){
		"text":   func(e *msg.Event) { e.Kind, e.Text = msg.KindText, "hi there" },
		"button": func(e *msg.Event) { e.Kind, e.Button = msg.KindButton, &msg.Reply{ID: "help", Title: "Get Help"} },
		"list": func(e *msg.Event) {
			e.Kind, e.List = msg.KindList, &msg.ListReply{ID: "sup_track", Title: "Track", Description: "Where is it"}
		},
		"location": func(e *msg.Event) {
			e.Kind, e.Location = msg.KindLocation, &msg.Location{Latitude: 52.5, Longitude: 13.4, Name: "Shop", Address: "Main St 1"}
		},
		"image": func(e *msg.Event) {
			e.Kind, e.Media = msg.KindMedia, &msg.Media{Type: "image", ID: "1003383421387256", MimeType: "image/jpeg", Caption: "cat"}
		},
		"username user without a phone": func(e *msg.Event) {
			e.Kind, e.Text, e.From = msg.KindText, "hi", "US.13491208655302741918"
			e.Contact = msg.Contact{ID: e.From, Name: "Kerry Fisher", UserID: e.From, Username: "kfisher"}
		},
		"phone and user id": func(e *msg.Event) {
			e.Kind, e.Text, e.From = msg.KindText, "signup", "US.13491208655302741918"
			e.Contact = msg.Contact{ID: e.From, Name: "Kerry Fisher", Phone: "16505551234", UserID: e.From, Username: "kfisher"}
		},
	}
	for name, set := range cases {
		t.Run(name, func(t *testing.T) {
			want := base
			set(&want)
			body, err := WebhookBody(&want)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Parse(body)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 1 {
				t.Fatalf("%d events from %s", len(got), body)
			}
			got[0].Time = got[0].Time.In(want.Time.Location())
			if !reflect.DeepEqual(got[0], want) {
				t.Errorf("round trip:\n got %+v\nwant %+v\nbody %s", got[0], want, body)
			}
		})
	}
	if _, err := WebhookBody(&msg.Event{Kind: msg.KindStatus}); err == nil {
		t.Error("a status event rendered as a user message")
	}
}
