package server

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/flowgate/flowgate/engine"
	"github.com/flowgate/flowgate/pipeline"
	"github.com/flowgate/flowgate/store"
)

// namespace prefixes every metric name.
const namespace = "flowgate"

// statsTimeout bounds the store call a scrape makes for the queue gauges.
const statsTimeout = time.Second

// Results of webhook requests, the result label of webhooks_total.
const (
	resultOK        = "ok"
	resultDuplicate = "duplicate" // counted per event dropped as already seen
	// resultForeignAccount is counted per event dropped because it names another business
	// account than the channel's.
	resultForeignAccount = "foreign_account"
	// resultStale is counted per message event dropped as older than dedup_ttl.
	resultStale = "stale"
	// resultGroup is counted per message dropped because it was written in a WhatsApp group.
	resultGroup        = "group"
	resultBadSignature = "bad_signature"
	resultBadRequest   = "bad_request"
	resultTooLarge     = "too_large"
	// resultTooManyEvents: a body with more events than a webhook carries, refused with 413.
	resultTooManyEvents = "too_many_events"
	// resultRouted is counted per event for another account that went to its own channel.
	resultRouted      = "routed"
	resultUnavailable = "unavailable"
	resultNotFound    = "not_found"
)

// Metrics are the server's Prometheus metrics, registered in a registry of their own (never
// the global default one). Its methods do nothing on a nil *Metrics, so that code holding an
// optional one needs no checks.
type Metrics struct {
	reg *prometheus.Registry

	webhooks       *prometheus.CounterVec
	events         *prometheus.CounterVec
	runDuration    *prometheus.HistogramVec
	sends          *prometheus.CounterVec
	fallbacks      *prometheus.CounterVec
	windowClosed   *prometheus.CounterVec
	budget         *prometheus.CounterVec
	limited        *prometheus.CounterVec
	retries        *prometheus.CounterVec
	possibleDups   prometheus.Counter
	panics         prometheus.Counter
	stateResets    prometheus.Counter
	recordFailures prometheus.Counter
	reloads        *prometheus.CounterVec
}

// NewMetrics registers Flowgate's metrics in reg (a new registry when nil), with queue gauges
// read from st's Stats at scrape time (none when st is nil). It panics when reg already holds
// them: one Metrics per registry.
func NewMetrics(reg *prometheus.Registry, st store.Store) *Metrics {
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: name, Help: help}, labels)
	}
	m := &Metrics{
		reg:      reg,
		webhooks: counter("webhooks_total", "Webhook requests by channel and result (ok, bad_signature, bad_request, too_large, too_many_events, unavailable, not_found), and events dropped as already seen (duplicate) for another business account no channel serves (foreign_account) or older than dedup_ttl (stale), and events routed to the channel of their account (routed).", "channel", "result"),
		events:   counter("events_total", "Units of work processed by kind (event, timer, outbox, direct) and result (ok, dropped, error).", "kind", "result"),
		runDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "run_duration_seconds",
			Help:    "Time from claiming a conversation to committing its work, sends included, by kind.",
			Buckets: []float64{.001, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"kind"}),
		sends:        counter("sends_total", "Outbound messages by channel, result (ok, failed) and the channel's error code.", "channel", "result", "code"),
		fallbacks:    counter("window_fallbacks_total", "Templates sent in place of free-form messages because the window was closed.", "channel"),
		windowClosed: counter("window_closed_total", "Free-form messages not sent because the window was closed: no fallback template applied, or one already went out for the event (then they are held unless window.hold is off).", "channel"),
		budget:       counter("budget_exceeded_total", "Runs ended because an expression went over limits.expr_time or limits.expr_memory.", "channel"),
		limited:      counter("limited_total", "Values cut to limits.value_length and texts cut to limits.text_parts.", "channel"),
		retries:      counter("retries_total", "Graph API requests retried, by channel and error code.", "channel", "code"),
		possibleDups: prometheus.NewCounter(prometheus.CounterOpts{Namespace: namespace, Name: "possible_duplicates_total",
			Help: "Messages sent again from the outbox of a worker that died: each may have reached the user twice."}),
		panics: prometheus.NewCounter(prometheus.CounterOpts{Namespace: namespace, Name: "panics_total",
			Help: "Panics recovered in event processing and HTTP handlers."}),
		stateResets: prometheus.NewCounter(prometheus.CounterOpts{Namespace: namespace, Name: "state_resets_total",
			Help: "Conversations whose stored state could not be read (a newer format after a rollback, a corrupt value): each started over."}),
		recordFailures: prometheus.NewCounter(prometheus.CounterOpts{Namespace: namespace, Name: "record_failures_total",
			Help: "Accepted webhooks that could not be written to the record directory."}),
		reloads: counter("reloads_total", "Bundle reloads by result (ok; failed: the previous bundle kept running).", "result"),
	}
	reg.MustRegister(m.webhooks, m.events, m.runDuration, m.sends, m.fallbacks, m.windowClosed, m.budget, m.limited,
		m.retries, m.possibleDups, m.panics, m.stateResets, m.recordFailures, m.reloads)
	if st != nil {
		reg.MustRegister(newQueueCollector(st))
	}
	return m
}

// Registry returns the registry the metrics are in.
func (m *Metrics) Registry() *prometheus.Registry {
	if m == nil {
		return nil
	}
	return m.reg
}

// Handler serves the registry in Prometheus' exposition format.
func (m *Metrics) Handler() http.Handler {
	if m == nil {
		return http.NotFoundHandler()
	}
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg, ErrorHandling: promhttp.ContinueOnError})
}

// Observe counts what one claim produced; gtc serve sets it as Pipeline.OnReport.
func (m *Metrics) Observe(rep *pipeline.Report) {
	if m == nil || rep == nil {
		return
	}
	kind := rep.Kind.String()
	result := "ok"
	switch {
	case rep.Dropped != "":
		result = "dropped"
	case rep.Err != nil:
		result = "error"
	}
	m.events.WithLabelValues(kind, result).Inc()
	m.runDuration.WithLabelValues(kind).Observe(rep.Duration.Seconds())
	channel := rep.Conversation.Channel
	for _, o := range rep.Outcomes {
		result := "ok"
		if o.Err != nil {
			result = "failed"
		}
		m.sends.WithLabelValues(channel, result, codeLabel(o.Code)).Inc()
	}
	for _, t := range rep.Trace {
		switch t.Kind {
		case engine.TraceFallback:
			m.fallbacks.WithLabelValues(channel).Inc()
		case engine.TraceWindowClosed:
			m.windowClosed.WithLabelValues(channel).Inc()
		case engine.TraceBudget:
			m.budget.WithLabelValues(channel).Inc()
		case engine.TraceLimit:
			m.limited.WithLabelValues(channel).Inc()
		}
	}
	if rep.Resent > 0 {
		m.possibleDups.Add(float64(rep.Resent))
	}
	if rep.Panicked {
		m.panics.Inc()
	}
	if rep.StateReset {
		m.stateResets.Inc()
	}
}

// Retry counts a Graph API request retried on channel after an error with code (0: none,
// such as a network error or a bare HTTP 5xx).
func (m *Metrics) Retry(channel string, code int) {
	if m == nil {
		return
	}
	m.retries.WithLabelValues(channel, codeLabel(code)).Inc()
}

// Reload counts a bundle reload: ok when the new bundle is served, not ok when it failed to
// load and the previous one kept running.
func (m *Metrics) Reload(ok bool) {
	if m == nil {
		return
	}
	result := "ok"
	if !ok {
		result = "failed"
	}
	m.reloads.WithLabelValues(result).Inc()
}

// webhook counts a webhook request of channel with result.
func (m *Metrics) webhook(channel, result string) {
	if m == nil {
		return
	}
	m.webhooks.WithLabelValues(channel, result).Inc()
}

// droppedEvents counts n events of channel that a webhook carried but were dropped, for the
// reason result (resultDuplicate, resultForeignAccount).
func (m *Metrics) droppedEvents(channel, result string, n int) {
	if m == nil || n <= 0 {
		return
	}
	m.webhooks.WithLabelValues(channel, result).Add(float64(n))
}

// panicked counts a recovered panic.
func (m *Metrics) panicked() {
	if m == nil {
		return
	}
	m.panics.Inc()
}

// recordFailed counts a webhook body that could not be recorded.
func (m *Metrics) recordFailed() {
	if m == nil {
		return
	}
	m.recordFailures.Inc()
}

// codeLabel is the code label of an error code: empty for none.
func codeLabel(code int) string {
	if code == 0 {
		return ""
	}
	return strconv.Itoa(code)
}

// queueCollector reads the store's queue gauges at scrape time.
type queueCollector struct {
	st    store.Store
	descs [5]*prometheus.Desc
}

func newQueueCollector(st store.Store) *queueCollector {
	desc := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(namespace, "", name), help, nil, nil)
	}
	return &queueCollector{st: st, descs: [5]*prometheus.Desc{
		desc("queued_events", "Accepted events waiting to be processed."),
		desc("ready_conversations", "Conversations with queued events and no worker."),
		desc("leased_conversations", "Conversations held by a worker."),
		desc("timers", "Conversations with a pending timer."),
		desc("handoffs", "Conversations with a human agent."),
	}}
}

// Describe implements prometheus.Collector.
func (q *queueCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range q.descs {
		ch <- d
	}
}

// Collect implements prometheus.Collector. When the store cannot be read in time the gauges
// are left out of the scrape (and the scrape's error log says why) rather than reported as 0.
func (q *queueCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), statsTimeout)
	defer cancel()
	s, err := q.st.Stats(ctx)
	if err != nil {
		for _, d := range q.descs {
			ch <- prometheus.NewInvalidMetric(d, err)
		}
		return
	}
	for i, v := range []int64{s.Queued, s.Ready, s.Leased, s.Timers, s.Handoffs} {
		ch <- prometheus.MustNewConstMetric(q.descs[i], prometheus.GaugeValue, float64(v))
	}
}
