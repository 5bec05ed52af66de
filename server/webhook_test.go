package server_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/flowgate/flowgate/providers/channel"
	"github.com/flowgate/flowgate/providers/meta"
)

func TestHandshake(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	q := func(mode, token, challenge string) string {
		return "?" + url.Values{"hub.mode": {mode}, "hub.verify_token": {token}, "hub.challenge": {challenge}}.Encode()
	}
	for _, tc := range []struct {
		name, path string
		status     int
		body       string
	}{
		{"ok", "/webhook/whatsapp/acme/support" + q("subscribe", verifyToken, "1158201444"), 200, "1158201444"},
		{"ok on the default path", "/webhook/whatsapp" + q("subscribe", verifyToken, "42"), 200, "42"},
		{"wrong token", "/webhook/whatsapp/acme/support" + q("subscribe", wrongToken, "1158201444"), 403, ""},
		{"wrong mode", "/webhook/whatsapp/acme/support" + q("unsubscribe", verifyToken, "1158201444"), 403, ""},
		{"no challenge", "/webhook/whatsapp/acme/support" + q("subscribe", verifyToken, ""), 403, ""},
		{"unknown tenant", "/webhook/whatsapp/other/support" + q("subscribe", verifyToken, "1"), 404, ""},
		{"unknown team", "/webhook/whatsapp/acme/sales" + q("subscribe", verifyToken, "1"), 404, ""},
		{"channel without account", "/webhook/instagram" + q("subscribe", verifyToken, "1"), 404, ""},
		{"unknown channel", "/webhook/telegram" + q("subscribe", verifyToken, "1"), 404, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest("GET", h.url+tc.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var b bytes.Buffer
			_, _ = b.ReadFrom(resp.Body)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d (%s)", resp.StatusCode, tc.status, b.String())
			}
			if tc.status == 200 {
				if b.String() != tc.body || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
					t.Errorf("body %q (%s), want %q as text/plain", b.String(), resp.Header.Get("Content-Type"), tc.body)
				}
			}
			if strings.Contains(b.String(), verifyToken) || strings.Contains(b.String(), wrongToken) {
				t.Errorf("the answer echoes a token: %s", b.String())
			}
		})
	}
}

func TestWebhookDelivery(t *testing.T) {
	t.Parallel()
	body := webhook(t, "text.json")
	huge := append(append([]byte(`{"object":"whatsapp_business_account","pad":"`), bytes.Repeat([]byte("x"), 5<<20)...), `"}`...)
	garbage := []byte(`{"object": "whatsapp_business_account", "entry": [`)
	crowd := manyMessages(channel.MaxEventsPerBody + 1)
	for _, tc := range []struct {
		name    string
		path    string
		body    []byte
		header  http.Header
		status  int
		replies []string // what the user gets once the queue is drained
	}{
		{"signed", "/webhook/whatsapp/acme/support", body, signed(body, appSecret), 200, []string{user + ": hello"}},
		{"signed, default path", "/webhook/whatsapp", body, signed(body, appSecret), 200, []string{user + ": hello"}},
		{"no signature", "/webhook/whatsapp", body, nil, 401, nil},
		{"wrong signature", "/webhook/whatsapp", body, signed(body, "not-the-secret"), 401, nil},
		{"malformed signature", "/webhook/whatsapp", body, http.Header{"X-Hub-Signature-256": {"sha1=abc"}}, 401, nil},
		{"signature of other bytes", "/webhook/whatsapp", body, signed(append([]byte(" "), body...), appSecret), 401, nil},
		{"over 4 MB", "/webhook/whatsapp", huge, signed(huge, appSecret), 413, nil},
		{"over 4 MB, unsigned: refused before the signature is computed", "/webhook/whatsapp", huge, nil, 413, nil},
		{"more events than a webhook carries", "/webhook/whatsapp", crowd, signed(crowd, appSecret), 413, nil},
		{"signed garbage", "/webhook/whatsapp", garbage, signed(garbage, appSecret), 400, nil},
		{"unknown tenant", "/webhook/whatsapp/globex/support", body, signed(body, appSecret), 404, nil},
		{"unknown channel", "/webhook/sms", body, signed(body, appSecret), 404, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, harnessOptions{})
			status, answer := h.do("POST", tc.path, tc.body, tc.header)
			if status != tc.status {
				t.Fatalf("status %d, want %d (%s)", status, tc.status, answer)
			}
			reps := h.drain()
			if got := h.sender.texts(); !slices.Equal(got, tc.replies) {
				t.Errorf("replies %q, want %q", got, tc.replies)
			}
			if tc.status != 200 && len(reps) != 0 {
				t.Errorf("a refused webhook was processed: %d claims", len(reps))
			}
		})
	}
}

// TestWebhookParseErrorLogged: a signed but unparseable body is logged with the channel and
// the parse error, never with the body.
func TestWebhookParseErrorLogged(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	garbage := []byte(`{"object": "whatsapp_business_account", "entry": "SENSITIVE-PAYLOAD"`)
	if status, _ := h.do("POST", "/webhook/whatsapp", garbage, signed(garbage, appSecret)); status != 400 {
		t.Fatalf("status %d", status)
	}
	logs := h.logs.String()
	if !strings.Contains(logs, "unparseable") || !strings.Contains(logs, "channel=whatsapp") {
		t.Errorf("parse error not logged with its channel:\n%s", logs)
	}
	if strings.Contains(logs, "SENSITIVE-PAYLOAD") {
		t.Errorf("the body reached the log:\n%s", logs)
	}
}

// TestWebhookRedelivery: Meta delivering the same webhook twice, even before the first is
// processed, gets one reply.
func TestWebhookRedelivery(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	body := webhook(t, "text.json")
	for i := range 2 {
		if status, _ := h.do("POST", "/webhook/whatsapp", body, signed(body, appSecret)); status != 200 {
			t.Fatalf("delivery %d: %d", i+1, status)
		}
	}
	h.drain()
	if status, _ := h.do("POST", "/webhook/whatsapp", body, signed(body, appSecret)); status != 200 {
		t.Fatalf("late delivery: %d", status)
	}
	h.drain()
	if got := h.sender.texts(); len(got) != 1 {
		t.Errorf("replies %q, want one", got)
	}
}

// TestWebhookGroupMessage: a message written in a WhatsApp group is answered 200, dropped,
// logged and counted; nobody gets a reply to it as if it were a private chat.
func TestWebhookGroupMessage(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	checkDropped(t, h, webhook(t, "group_message.json"), "group", "group message dropped")
}

// checkDropped posts body and checks that it is answered 200 and that its event is dropped:
// nothing processed, no reply, counted with result in webhooks_total and logged with logs.
func checkDropped(t *testing.T, h *harness, body []byte, result string, logs ...string) {
	t.Helper()
	if status, _ := h.do("POST", "/webhook/whatsapp", body, signed(body, appSecret)); status != 200 {
		t.Fatalf("status %d, want 200", status)
	}
	if reps := h.drain(); len(reps) != 0 {
		t.Errorf("%d units of work processed, want none", len(reps))
	}
	if got := h.sender.texts(); len(got) != 0 {
		t.Errorf("replies %q, want none", got)
	}
	if page := h.scrape(); !strings.Contains(page, `flowgate_webhooks_total{channel="whatsapp",result="`+result+`"} 1`) {
		t.Errorf("/metrics does not count the dropped event:\n%s", grep(page, "flowgate_webhooks"))
	}
	for _, l := range logs {
		if !strings.Contains(h.logs.String(), l) {
			t.Errorf("the dropped event is not logged with %q:\n%s", l, h.logs.String())
		}
	}
}

// TestWebhookForeignAccount: with one Meta app serving several tenants, a correctly signed
// webhook for another phone number id than the channel's is answered 200 (it is Meta's to
// deliver, not to retry) but none of its events is processed: they are dropped, logged and
// counted, and nobody gets a reply from this tenant's flows.
func TestWebhookForeignAccount(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	const other = "106540352242999"
	body := bytes.ReplaceAll(webhook(t, "text.json"), []byte(account), []byte(other))
	checkDropped(t, h, body, "foreign_account", "event for another business account dropped", "event_account="+other)
}

// TestWebhookStoreDown: when the queue cannot be written the answer is 503, nothing is lost,
// and Meta's retry succeeds.
func TestWebhookStoreDown(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{record: true})
	body := webhook(t, "text.json")
	h.store.down.Store(true)
	if status, _ := h.do("POST", "/webhook/whatsapp", body, signed(body, appSecret)); status != http.StatusServiceUnavailable {
		t.Fatalf("store down: %d", status)
	}
	h.store.down.Store(false)
	if reps := h.drain(); len(reps) != 0 || len(h.sender.texts()) != 0 {
		t.Fatalf("processed while the store was down: %d claims", len(reps))
	}
	if files, _ := os.ReadDir(filepath.Join(h.record, "whatsapp")); len(files) != 0 {
		t.Errorf("a refused webhook was recorded: %v", files)
	}
	if status, _ := h.do("POST", "/webhook/whatsapp", body, signed(body, appSecret)); status != 200 {
		t.Fatalf("retry: %d", status)
	}
	h.drain()
	if got := h.sender.texts(); !slices.Equal(got, []string{user + ": hello"}) {
		t.Errorf("replies %q", got)
	}
	if !strings.Contains(h.scrape(), `flowgate_webhooks_total{channel="whatsapp",result="unavailable"} 1`) {
		t.Error("503 not counted")
	}
}

// TestInsecureSkipSignature: with the check off, unsigned webhooks are accepted.
func TestInsecureSkipSignature(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{insecure: true})
	body := webhook(t, "text.json")
	if status, _ := h.do("POST", "/webhook/whatsapp", body, nil); status != 200 {
		t.Fatalf("status %d", status)
	}
	h.drain()
	if len(h.sender.texts()) != 1 {
		t.Errorf("replies %q", h.sender.texts())
	}
	if !strings.Contains(h.logs.String(), "NOT checked") {
		t.Error("the insecure mode was not logged")
	}
}

// TestRecordDir: every accepted webhook is written, byte for byte, one file each, in arrival
// order, readable by the owner only; refused ones are not.
func TestRecordDir(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{record: true})
	bodies := [][]byte{
		webhook(t, "text.json"),
		webhook(t, "status_delivered.json"),
		webhook(t, "unicode_escaped.json"),
		webhook(t, "text.json"), // a redelivery is accepted, and recorded, too
	}
	for i, b := range bodies {
		if status, _ := h.do("POST", "/webhook/whatsapp", b, signed(b, appSecret)); status != 200 {
			t.Fatalf("webhook %d: %d", i, status)
		}
	}
	bad := webhook(t, "image.json")
	h.do("POST", "/webhook/whatsapp", bad, signed(bad, "wrong"))
	h.do("POST", "/webhook/whatsapp", []byte("{"), signed([]byte("{"), appSecret))

	dir := filepath.Join(h.record, "whatsapp")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	slices.Sort(names)
	if len(names) != len(bodies) {
		t.Fatalf("recorded %q, want %d files", names, len(bodies))
	}
	for i, name := range names {
		if !strings.HasSuffix(name, ".json") || strings.HasPrefix(name, ".") {
			t.Errorf("file name %q", name)
		}
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, bodies[i]) {
			t.Errorf("%s differs from webhook %d", name, i)
		}
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v", name, fi.Mode().Perm())
		}
	}
}

// TestRecordFailureKeepsWebhook: a record directory that cannot be written is logged and
// counted, and the webhook is still accepted (its events are queued).
func TestRecordFailureKeepsWebhook(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{record: true})
	// A file where the channel's directory should be makes every write fail.
	if err := os.WriteFile(filepath.Join(h.record, "whatsapp"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	body := webhook(t, "text.json")
	if status, _ := h.do("POST", "/webhook/whatsapp", body, signed(body, appSecret)); status != 200 {
		t.Fatalf("status %d", status)
	}
	h.drain()
	if len(h.sender.texts()) != 1 {
		t.Errorf("replies %q", h.sender.texts())
	}
	if !strings.Contains(h.scrape(), "flowgate_record_failures_total 1") {
		t.Error("record failure not counted")
	}
	if !strings.Contains(h.logs.String(), "not recorded") {
		t.Error("record failure not logged")
	}
}

// TestWebhookTooLargeUnannounced: a body over the limit sent without a Content-Length
// (chunked) is cut at the limit and refused as well.
func TestWebhookTooLargeUnannounced(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	huge := append(append([]byte(`{"object":"whatsapp_business_account","pad":"`), bytes.Repeat([]byte("x"), 5<<20)...), `"}`...)
	req, err := http.NewRequest("POST", h.url+"/webhook/whatsapp", struct{ io.Reader }{bytes.NewReader(huge)})
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set(meta.SignatureHeader, meta.SignatureHeaderValue(huge, appSecret))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if reps := h.drain(); len(reps) != 0 {
		t.Errorf("%d claims processed", len(reps))
	}
	if !strings.Contains(h.scrape(), `flowgate_webhooks_total{channel="whatsapp",result="too_large"} 1`) {
		t.Error("413 not counted")
	}
}

// manyMessages is a WhatsApp webhook body with n text messages from different users.
func manyMessages(n int) []byte {
	msgs := make([]string, n)
	for i := range msgs {
		msgs[i] = fmt.Sprintf(`{"from": "1650555%04d", "id": "wamid.crowd.%d", "timestamp": "1767603600", "type": "text", "text": {"body": "hi"}}`, i, i)
	}
	return []byte(`{"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{"field": "messages", "value": {
		"messaging_product": "whatsapp", "metadata": {"phone_number_id": "106540352242922"}, "messages": [` + strings.Join(msgs, ",") + `]}}]}]}`)
}
