package bundle

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// TestPromptAsksEveryChannel answers the terminal questions: WhatsApp (the first channel,
// enabled by default), Messenger declined, Instagram accepted. The document validates as a
// file would, with each channel's own keys and suggested token reference.
func TestPromptAsksEveryChannel(t *testing.T) {
	answers := strings.Join([]string{
		"acme", "support", "https://bot.example.com", "", // tenant, team, base URL, app secret (default)
		"", "123456789012345", "", "wa-verify", "", // WhatsApp: enabled by default, id, token, verify, business id
		"n",                                       // Messenger
		"y", "17841400008460056", "", "ig-verify", // Instagram: id, token, verify
	}, "\n") + "\n"
	var out bytes.Buffer
	doc, err := Prompt(strings.NewReader(answers), &out)
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	for _, q := range []string{"Enable WhatsApp? [Y/n]", "WhatsApp phone number ID", "Enable Messenger? [y/N]", "Instagram account ID", "Instagram access token [${INSTAGRAM_TOKEN}]"} {
		if !strings.Contains(out.String(), q) {
			t.Errorf("not asked %q:\n%s", q, out.String())
		}
	}
	a, err := ParseAnswers(doc)
	if err != nil {
		t.Fatalf("%v\n%s", err, doc)
	}
	var m map[string]any
	json.Unmarshal(doc, &m)
	if _, ok := m["messaging-messenger"]; ok || len(a.Channels) != 2 {
		t.Fatalf("channels %+v", a.Channels)
	}
	wa, ig := a.Channels[0], a.Channels[1]
	if wa.Name != "whatsapp" || wa.AccountID != "123456789012345" || wa.Token != "${WHATSAPP_TOKEN}" || wa.AppSecret != "${META_APP_SECRET}" {
		t.Errorf("whatsapp %+v", wa)
	}
	if ig.Name != "instagram" || ig.AccountID != "17841400008460056" || ig.Token != "${INSTAGRAM_TOKEN}" || ig.VerifyToken != "ig-verify" {
		t.Errorf("instagram %+v", ig)
	}
}
