package messenger

import (
	"testing"
	"unicode/utf8"

	"github.com/flowgate/flowgate/engine/msg"
	"github.com/flowgate/flowgate/internal/golden"
)

// FuzzParse feeds the parser mutations of the recorded Messenger and Instagram webhooks: it
// must never panic, and what it returns must be events a pipeline can queue: of the platform,
// with a kind, never the business's own messages.
func FuzzParse(f *testing.F) {
	for _, dir := range []string{webhookDir, "../../testdata/webhooks/instagram"} {
		for _, c := range golden.Corpus(f, dir) {
			f.Add(c.Body)
		}
	}
	f.Add([]byte(`{"object":"page","entry":[{"id":1,"messaging":[{"sender":{"id":2},"timestamp":"17e2","message":{"attachments":[{"type":"image","payload":null},{}]}}]}]}`))
	f.Add([]byte(`{"object":"instagram","entry":[{"standby":[{"read":{}},{"delivery":{"mids":[""]}}]}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, p := range []*Platform{messenger(), instagramLike()} {
			events, err := p.Parse(body)
			if err != nil {
				if len(events) != 0 {
					t.Fatalf("%d events with error %v", len(events), err)
				}
				continue
			}
			for i, e := range events {
				if e.Channel != p.Name || e.Kind == "" {
					t.Fatalf("event %d: channel %q kind %q", i, e.Channel, e.Kind)
				}
				if e.From != "" && e.From == e.Account {
					t.Fatalf("event %d: the account's own message %+v", i, e)
				}
				if e.Kind == msg.KindStatus && e.Status == nil || e.Kind == msg.KindMedia && e.Media == nil ||
					e.Kind == msg.KindButton && e.Button == nil || e.Kind == msg.KindList && e.List == nil {
					t.Fatalf("event %d: kind %s without its content", i, e.Kind)
				}
				if utf8.ValidString(string(body)) && !utf8.ValidString(e.Text) {
					t.Fatalf("event %d: invalid UTF-8 text from a valid body", i)
				}
			}
		}
	})
}

// instagramLike is a second platform on the same parser, as providers/instagram makes one.
func instagramLike() *Platform {
	p := messenger()
	p.Name, p.Object = msg.Instagram, "instagram"
	return p
}
