package whatsapp

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/flowgate/flowgate/engine/msg"
)

// FuzzParse feeds the parser arbitrary bodies, seeded with every recorded webhook. Besides not
// panicking, a parsed body must give well-formed events: the channel set, a known kind with the
// content field it names, status ids derived from (wamid, status), and the same events twice.
func FuzzParse(f *testing.F) {
	paths, _ := filepath.Glob(filepath.Join(webhookDir, "*.json"))
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []string{
		`{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages","value":{"messages":[{"type":"text","text":{"body":1}}]}}]}]}`,
		`{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages","value":{"statuses":[{"timestamp":1e999}]}}]}]}`,
		`{"object":"whatsapp_business_account","entry":[null,{"changes":null},{"changes":[null,{"field":"messages","value":null}]}]}`,
		`{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"message_template_status_update","value":{"message_template_id":"x"}}]}]}`,
		`{}`, `null`, `[]`, `{"object":1}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		events, err := Parse(body)
		if err != nil {
			if events != nil {
				t.Fatalf("events with an error: %v", err)
			}
			return
		}
		for i := range events {
			checkEvent(t, &events[i])
		}
		again, _ := Parse(body)
		if !reflect.DeepEqual(events, again) {
			t.Fatal("Parse is not deterministic")
		}
		// The one-pass fast path and the item-by-item path agree. (With duplicate keys they
		// may not: encoding/json merges a repeated object into a struct but keeps only the
		// last json.RawMessage. Meta does not send duplicate keys.)
		if !hasDuplicateKeys(body) {
			lenient, lerr := parseLenient(body)
			if lerr != nil || !reflect.DeepEqual(events, lenient) {
				t.Fatalf("fast and lenient paths differ (%v):\n%s\n%s", lerr, prunedJSON(t, events), prunedJSON(t, lenient))
			}
		}
	})
}

// hasDuplicateKeys reports whether some JSON object in b repeats a key (compared as
// encoding/json matches them: case-insensitively).
func hasDuplicateKeys(b []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(b))
	type frame struct {
		object bool
		keys   map[string]bool
		key    bool // the next string token is a key
	}
	var stack []*frame
	for {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		switch v := tok.(type) {
		case json.Delim:
			switch v {
			case '{', '[':
				if top != nil && top.object {
					top.key = true
				}
				stack = append(stack, &frame{object: v == '{', keys: map[string]bool{}, key: v == '{'})
				continue
			default:
				stack = stack[:len(stack)-1]
				continue
			}
		case string:
			if top != nil && top.object && top.key {
				k := strings.ToLower(v)
				if top.keys[k] {
					return true
				}
				top.keys[k] = true
				top.key = false
				continue
			}
		}
		if top != nil && top.object {
			top.key = true
		}
	}
}

func checkEvent(t *testing.T, e *msg.Event) {
	t.Helper()
	if e.Channel != msg.WhatsApp {
		t.Fatalf("channel %q", e.Channel)
	}
	set := map[msg.Kind]bool{
		msg.KindButton: e.Button != nil, msg.KindList: e.List != nil, msg.KindFlowReply: e.FlowReply != nil,
		msg.KindLocation: e.Location != nil, msg.KindMedia: e.Media != nil, msg.KindContacts: e.Contacts != nil,
		msg.KindReaction: e.Reaction != nil, msg.KindOrder: e.Order != nil, msg.KindSystem: e.System != nil,
		msg.KindStatus: e.Status != nil, msg.KindTemplate: e.TemplateStatus != nil,
	}
	switch e.Kind {
	case msg.KindText, msg.KindUnsupported:
	case msg.KindError:
		if len(e.Errors) == 0 {
			t.Fatal("error event without errors")
		}
	default:
		has, known := set[e.Kind]
		if !known {
			t.Fatalf("unknown kind %q", e.Kind)
		}
		if !has {
			t.Fatalf("%s event without its content", e.Kind)
		}
	}
	for k, has := range set {
		if has && k != e.Kind {
			t.Fatalf("%s event also carries %s content", e.Kind, k)
		}
	}
	if e.Kind == msg.KindStatus && e.ID != e.Status.MessageID+":"+e.Status.State {
		t.Fatalf("status id %q for %q/%q", e.ID, e.Status.MessageID, e.Status.State)
	}
	if e.Kind == msg.KindMedia && !strings.Contains("image video audio document sticker", e.Media.Type) {
		t.Fatalf("media type %q", e.Media.Type)
	}
	if e.Contact.ID != e.From {
		t.Fatalf("contact id %q, from %q", e.Contact.ID, e.From)
	}
	if !e.Time.IsZero() && e.Time.Location() != nil && e.Time.Year() > 40000 {
		t.Fatalf("absurd time %v", e.Time)
	}
}
