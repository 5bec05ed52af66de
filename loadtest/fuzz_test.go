package loadtest

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// FuzzGraph: whatever a client posts, the fake Graph API answers 200, 400 or 401 with a JSON
// body, and reports to the tracker only what names a tracked message.
func FuzzGraph(f *testing.F) {
	f.Add("/v25.0/1/messages", `{"messaging_product":"whatsapp","to":"+70000000000","type":"text","text":{"body":"seq 1"}}`)
	f.Add("/v25.0/1/messages", `{"messaging_product":"whatsapp","to":"700000000001","text":{"body":"seq -3"}}`)
	f.Add("/x", `{`)
	f.Fuzz(func(t *testing.T, path, body string) {
		if !strings.HasPrefix(path, "/") {
			path = "/" + path
		}
		g := NewGraph(GraphConfig{Latency: -1})
		tr := NewTracker(2)
		tr.Sent(0, 1, time.Now())
		g.Track(tr, UserSpace{Prefix: "7"})
		w := httptest.NewRecorder()
		r, err := http.NewRequest(http.MethodPost, "http://graph"+path, strings.NewReader(body))
		if err != nil {
			return
		}
		g.ServeHTTP(w, r)
		if w.Code != 200 && w.Code != 400 && w.Code != 401 {
			t.Fatalf("status %d", w.Code)
		}
		if c := tr.Counts(); c.Replied+c.Stray > 1 || c.Dup != 0 {
			t.Fatalf("one request, counts %+v", c)
		}
	})
}
