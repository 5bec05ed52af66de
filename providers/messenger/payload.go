package messenger

import "strings"

// The quick replies and postback buttons Flowgate renders carry payloads that say what was
// tapped: a list row's id as "list:" + id, so that the tap routes as a list reply (list.id), and
// a reply button's id as it is, so that it routes as a button (button.id) exactly as on
// WhatsApp. A button id that itself starts with one of the prefixes is sent as "button:" + id,
// so that every payload Flowgate writes reads back unambiguously. Payloads without a prefix
// (another app's, the persistent menu's) are taken as they are.
const (
	listPrefix   = "list:"
	buttonPrefix = "button:"
)

// buttonPayload is the payload of a reply button's quick reply.
func buttonPayload(id string) string {
	if strings.HasPrefix(id, listPrefix) || strings.HasPrefix(id, buttonPrefix) {
		return buttonPrefix + id
	}
	return id
}

// rowPayload is the payload of a list row's quick reply or postback button.
func rowPayload(id string) string { return listPrefix + id }

// readPayload says what a payload taps: its id, whether it is a list row, and whether
// Flowgate wrote it with a prefix.
func readPayload(payload string) (id string, list, prefixed bool) {
	if id, ok := strings.CutPrefix(payload, listPrefix); ok {
		return id, true, true
	}
	if id, ok := strings.CutPrefix(payload, buttonPrefix); ok {
		return id, false, true
	}
	return payload, false, false
}
