package server_test

import (
	"errors"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/flowgate/flowgate/engine"
	"github.com/flowgate/flowgate/engine/msg"
	"github.com/flowgate/flowgate/pipeline"
	"github.com/flowgate/flowgate/server"
	"github.com/flowgate/flowgate/store"
)

func TestMetricsAfterTraffic(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	body := webhook(t, "text.json")
	h.do("POST", "/webhook/whatsapp", body, signed(body, appSecret))
	h.do("POST", "/webhook/whatsapp", body, signed(body, appSecret)) // a redelivery
	h.do("POST", "/webhook/whatsapp", body, signed(body, "wrong"))
	h.do("POST", "/webhook/whatsapp/acme/nobody", body, signed(body, appSecret))
	garbage := []byte("{not json")
	h.do("POST", "/webhook/whatsapp", garbage, signed(garbage, appSecret))
	before := h.scrape()
	if !strings.Contains(before, "flowgate_queued_events 1") {
		t.Errorf("queue gauge before draining:\n%s", grep(before, "flowgate_queued"))
	}
	h.drain()
	h.srv.Metrics().Retry(msg.WhatsApp, 130429)

	page := h.scrape()
	for _, want := range []string{
		`flowgate_webhooks_total{channel="whatsapp",result="ok"} 2`,
		`flowgate_webhooks_total{channel="whatsapp",result="duplicate"} 1`,
		`flowgate_webhooks_total{channel="whatsapp",result="bad_signature"} 1`,
		`flowgate_webhooks_total{channel="whatsapp",result="not_found"} 1`,
		`flowgate_webhooks_total{channel="whatsapp",result="bad_request"} 1`,
		`flowgate_events_total{kind="event",result="ok"} 1`,
		`flowgate_sends_total{channel="whatsapp",code="",result="ok"} 1`,
		`flowgate_run_duration_seconds_count{kind="event"} 1`,
		`flowgate_retries_total{channel="whatsapp",code="130429"} 1`,
		`flowgate_possible_duplicates_total 0`,
		`flowgate_record_failures_total 0`,
		`flowgate_queued_events 0`,
		`flowgate_ready_conversations 0`,
		`flowgate_leased_conversations 0`,
		`flowgate_timers `,
		`flowgate_handoffs 0`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("/metrics lacks %s:\n%s", want, grep(page, "flowgate_"))
		}
	}
	if strings.Contains(page, "go_goroutines") {
		t.Error("/metrics serves the global registry")
	}
}

// TestObserveWindowMetrics: fallbacks, closed windows, resends, state resets, runs ended by
// the expression budget and values cut to a limit are counted from reports.
func TestObserveWindowMetrics(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	m := server.NewMetrics(reg, nil)
	m.Observe(&pipeline.Report{
		Conversation: engine.Conversation{Channel: msg.WhatsApp},
		Kind:         store.KindOutbox,
		Resent:       2,
		Trace:        []engine.TraceEntry{{Kind: engine.TraceFallback}, {Kind: engine.TraceWindowClosed}, {Kind: engine.TraceWindowClosed}},
		Outcomes:     []pipeline.Outcome{{Err: errors.New("refused"), Code: 131047}},
	})
	m.Observe(&pipeline.Report{Kind: store.KindEvent, Dropped: "panic: boom", Panicked: true})
	m.Observe(&pipeline.Report{Kind: store.KindEvent, StateReset: true})
	m.Observe(&pipeline.Report{Conversation: engine.Conversation{Channel: msg.Messenger}, Kind: store.KindEvent,
		Trace: []engine.TraceEntry{{Kind: engine.TraceLimit}, {Kind: engine.TraceLimit}, {Kind: engine.TraceBudget}}})
	var nilMetrics *server.Metrics
	nilMetrics.Observe(&pipeline.Report{}) // a nil Metrics counts nothing and does not panic
	nilMetrics.Retry("whatsapp", 4)
	m.Reload(true)
	m.Reload(false)
	m.Reload(false)

	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	page := rec.Body.String()
	for _, want := range []string{
		`flowgate_window_fallbacks_total{channel="whatsapp"} 1`,
		`flowgate_window_closed_total{channel="whatsapp"} 2`,
		`flowgate_possible_duplicates_total 2`,
		`flowgate_sends_total{channel="whatsapp",code="131047",result="failed"} 1`,
		`flowgate_events_total{kind="outbox",result="ok"} 1`,
		`flowgate_events_total{kind="event",result="dropped"} 1`,
		`flowgate_panics_total 1`,
		`flowgate_state_resets_total 1`,
		`flowgate_budget_exceeded_total{channel="messenger"} 1`,
		`flowgate_limited_total{channel="messenger"} 2`,
		`flowgate_reloads_total{result="ok"} 1`,
		`flowgate_reloads_total{result="failed"} 2`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("metrics lack %s:\n%s", want, grep(page, "flowgate_"))
		}
	}
}

// grep returns the lines of s that contain sub.
func grep(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
