package loadtest

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flowgate/flowgate/engine/msg"
	"github.com/flowgate/flowgate/providers/instagram"
	"github.com/flowgate/flowgate/providers/messenger"
	"github.com/flowgate/flowgate/providers/meta"
	"github.com/flowgate/flowgate/providers/whatsapp"
)

// TestGenerateBatchesSignedInOrder: every body is signed and parses as a WhatsApp webhook of
// Batch text messages; each conversation's messages arrive in sequence; a webhook answered 503
// is sent again (same message ids) until it is answered 200.
func TestGenerateBatchesSignedInOrder(t *testing.T) {
	var mu sync.Mutex
	lastSeq := map[string]int{}
	ids := map[string]int{}
	var bad []string
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if meta.CheckSignature(r.Header.Get(meta.SignatureHeader), body, "s3cret") != nil {
			w.WriteHeader(401)
			return
		}
		if calls.Add(1)%5 == 0 {
			w.WriteHeader(503) // every fifth attempt fails: it must come again
			return
		}
		events, err := whatsapp.Parse(body)
		mu.Lock()
		defer mu.Unlock()
		if err != nil || len(events) != 3 {
			bad = append(bad, string(body))
		}
		for _, ev := range events {
			ids[ev.ID]++
			var seq int
			if _, err := fmt.Sscanf(ev.Text, "seq %d", &seq); err != nil || ev.Account != "555" {
				bad = append(bad, ev.Text)
			}
			if seq != lastSeq[ev.From]+1 {
				bad = append(bad, "out of order: "+ev.From+" "+ev.Text)
			}
			lastSeq[ev.From] = seq
		}
	}))
	defer srv.Close()
	tr := NewTracker(7)
	res := Generate(context.Background(), GenConfig{URL: srv.URL, AppSecret: "s3cret", Account: "555",
		Users: UserSpace{Prefix: "123"}, Conversations: 7, Connections: 4, Duration: 300 * time.Millisecond,
		Batch: 3, Retry: 5 * time.Second, RunID: "t"}, tr)
	if len(bad) > 0 {
		t.Fatalf("%d bad bodies or messages, first: %s", len(bad), bad[0])
	}
	c := tr.Counts()
	if res.Requests == 0 || c.Sent != 3*int(res.Requests) || c.Accepted != c.Sent || res.Codes["503"] == 0 {
		t.Errorf("requests %d, codes %v, counts %+v", res.Requests, res.Codes, c)
	}
	if len(ids) != c.Sent {
		t.Errorf("%d distinct message ids for %d messages", len(ids), c.Sent)
	}
	if len(res.Ack) != int(res.Requests) {
		t.Errorf("%d ack latencies for %d requests", len(res.Ack), res.Requests)
	}
}

// TestGenerateOpenLoopMeasuresFromSchedule: when the server stalls, the webhooks scheduled
// meanwhile are not sent late and timed from their sending (coordinated omission): their
// latency runs from when they should have been sent.
func TestGenerateOpenLoopMeasuresFromSchedule(t *testing.T) {
	var stalled atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if !stalled.Swap(true) {
			time.Sleep(300 * time.Millisecond) // the first webhook stalls its conversation
		}
	}))
	defer srv.Close()
	tr := NewTracker(1) // one conversation: each webhook waits for the one before
	res := Generate(context.Background(), GenConfig{URL: srv.URL, AppSecret: "x", Account: "1",
		Users: UserSpace{Prefix: "1"}, Conversations: 1, Rate: 100, Duration: 100 * time.Millisecond, RunID: "t"}, tr)
	if res.Requests < 5 {
		t.Fatalf("only %d requests", res.Requests)
	}
	// Every webhook waited for the stalled one: none was answered sooner than ~200 ms after
	// its scheduled time, though each took no time itself once sent.
	if res.Ack[0] < 150*time.Millisecond {
		t.Errorf("fastest ack %v: latency not measured from the schedule", res.Ack[0])
	}
}

// TestGenerateMessengerAndInstagram: Messenger and Instagram bodies parse, with their own
// providers' parsers, as text messages to the account from the run's users, one id each.
func TestGenerateMessengerAndInstagram(t *testing.T) {
	for _, tc := range []struct {
		channel string
		parse   func([]byte) ([]msg.Event, error)
	}{
		{"messenger", messenger.New().Parse},
		{"instagram", instagram.New().Parse},
	} {
		t.Run(tc.channel, func(t *testing.T) {
			var mu sync.Mutex
			var bad []string
			ids := map[string]bool{}
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				body, _ := io.ReadAll(r.Body)
				events, err := tc.parse(body)
				mu.Lock()
				defer mu.Unlock()
				if err != nil || len(events) != 2 {
					bad = append(bad, fmt.Sprintf("%v: %s", err, body))
				}
				for _, ev := range events {
					ids[ev.ID] = true
					if ev.Kind != msg.KindText || ev.Channel != tc.channel || ev.Account != "42" || !strings.HasPrefix(ev.From, "123") || !strings.HasPrefix(ev.Text, "seq ") {
						bad = append(bad, fmt.Sprintf("%+v", ev))
					}
				}
			}))
			defer srv.Close()
			tr := NewTracker(5)
			res := Generate(context.Background(), GenConfig{URL: srv.URL, AppSecret: "s", Channel: tc.channel, Account: "42",
				Users: UserSpace{Prefix: "123"}, Conversations: 5, Connections: 2, Duration: 100 * time.Millisecond, Batch: 2, RunID: "t"}, tr)
			if len(bad) > 0 {
				t.Fatalf("%d bad bodies or events, first: %s", len(bad), bad[0])
			}
			if res.Requests == 0 || len(ids) != 2*int(res.Requests) {
				t.Errorf("%d webhooks, %d distinct message ids; want two per webhook", res.Requests, len(ids))
			}
		})
	}
}
