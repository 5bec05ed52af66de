package pipeline_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/flowgate/flowgate/engine"
	"github.com/flowgate/flowgate/engine/msg"
	"github.com/flowgate/flowgate/internal/redistest"
	"github.com/flowgate/flowgate/pipeline"
	"github.com/flowgate/flowgate/providers/meta"
	"github.com/flowgate/flowgate/providers/whatsapp"
	"github.com/flowgate/flowgate/store"
)

// roundTrips counts the round trips a go-redis client makes: a command or a whole pipeline
// is one.
type roundTrips struct{ n atomic.Int64 }

func (h *roundTrips) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *roundTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.n.Add(1)
		return next(ctx, cmd)
	}
}

func (h *roundTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.n.Add(1)
		return next(ctx, cmds)
	}
}

// TestRoundTripsPerEvent counts, on a real Redis, the round trips one inbound text costs from
// webhook to recorded reply, everything included, over many conversations with one reply per
// event: the dedup-and-enqueue, the claim (which also records the previous claim's replies),
// the commit of state and outbox with the reply booked on the rate limiter's schedules, the
// looks for work. Users known by phone and user id cost the same once their phone is linked:
// the link is written on their first event only, which the warm-up sends.
func TestRoundTripsPerEvent(t *testing.T) {
	for _, tc := range []struct {
		name string
		user func(i int) msg.Event
	}{
		{"phone", func(i int) msg.Event { return msg.Event{From: fmt.Sprint(i)} }},
		{"phone and user id", func(i int) msg.Event {
			id := fmt.Sprintf("US.%d", i)
			return msg.Event{From: id, Contact: msg.Contact{ID: id, Phone: fmt.Sprint(16505550000 + i), UserID: id}}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) { roundTripsPerEvent(t, tc.user) })
	}
}

// rtSetup is a pipeline on a real Redis whose round trips rt counts, replying to every
// message through a fake Graph API that counts what it was sent, warmed up with one event
// from each of users users (scripts loaded, users known).
func rtSetup(t *testing.T, users int, user func(i int) msg.Event) (*pipeline.Pipeline, *fixture, *roundTrips, *atomic.Int64) {
	c, prefix := redistest.Client(t)
	rt := &roundTrips{}
	c.AddHook(rt)

	sent := &atomic.Int64{}
	graph := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := sent.Add(1)
		fmt.Fprintf(w, `{"messaging_product":"whatsapp","messages":[{"id":"wamid.out.%d"}]}`, n)
	}))
	t.Cleanup(graph.Close)
	limiter := store.NewLimiter(c, prefix, store.LimiterConfig{LimiterConfig: meta.LimiterConfig{RatePerSecond: 1e6, PairBurst: 45, PairInterval: time.Millisecond}})
	client := whatsapp.NewClient(whatsapp.Config{PhoneNumberID: "9", ClientConfig: meta.ClientConfig{AccessToken: "t", BaseURL: graph.URL, Limiter: limiter}})

	fl, ds := engine.ParseFlow("f.yaml", []byte(flow))
	if ds.HasErrors() {
		t.Fatal(ds)
	}
	e, ds := engine.New(engine.Config{Flows: []*engine.Flow{fl}, Settings: engine.DefaultSettings(), Templates: []engine.Template{{Name: "reopen", Language: "en", Category: "utility"}}})
	if ds.HasErrors() {
		t.Fatal(ds)
	}
	st := store.NewRedis(c, store.Options{Prefix: prefix})
	ch := &pipeline.Channel{Name: msg.WhatsApp, Tenant: "acme", Team: "support", Account: "9", Parse: parseJSON, Sender: client}
	p := pipeline.New(st, &pipeline.Bundle{Engine: e, Channels: []*pipeline.Channel{ch}})
	p.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	p.Limiter = limiter

	// Warm up: load the scripts into Redis, so that only steady-state costs are counted.
	f := &fixture{now: time.Now()}
	f.p, f.ch = p, ch
	for i := range users {
		ev := user(i)
		ev.ID, ev.Text = fmt.Sprintf("warm.%d", i), "n"
		f.accept(t, f.body(t, ev))
	}
	runUntil(t, p, func() bool { return sent.Load() == int64(users) })
	return p, f, rt, sent
}

func roundTripsPerEvent(t *testing.T, user func(i int) msg.Event) {
	const users = 500
	p, f, rt, sent := rtSetup(t, users, user)

	const events = 1000
	bodies := make([][]byte, events)
	for i := range bodies {
		ev := user(i % users)
		ev.ID, ev.Text = fmt.Sprintf("wamid.rt.%d", i), fmt.Sprintf("n%d", i)
		bodies[i] = f.body(t, ev)
	}
	before := rt.n.Load()
	for _, b := range bodies {
		f.accept(t, b)
	}
	ingest := float64(rt.n.Load()-before) / events
	before = rt.n.Load()
	began := time.Now()
	runUntil(t, p, func() bool { return sent.Load() == events+users })
	took := time.Since(began)
	work := float64(rt.n.Load()-before) / events
	t.Logf("Redis round trips per inbound event: %.3f to accept, %.3f to process and reply, %.3f in all", ingest, work, ingest+work)
	if ingest != 1 {
		t.Errorf("accepting an event took %.3f round trips, want 1", ingest)
	}
	// Claim (with the previous Done) and commit (with the limiter's booking). A few round trips
	// are caused by no event: the claim loop's start and stop (its first looks at Due and claims
	// before work is spread, its last look and last Done: up to 8) and its looks for work
	// elsewhere: when it has worked through the shards Due listed, it reads Due again if the
	// last read is IdlePoll old, so at most one per IdlePoll.
	idle := 8 + math.Ceil(float64(took)/float64(pipeline.IdlePoll))
	if perEvent := ingest + (work*events-idle)/events; perEvent > 3.0 {
		t.Errorf("an event took %.3f round trips (start and stop left out), want at most 3 (accept, claim, commit)", perEvent)
	}
}

// runUntil runs one worker until cond holds, then stops it.
func runUntil(t *testing.T, p *pipeline.Pipeline, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); p.Run(ctx, 1) }()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	wg.Wait()
	if !cond() {
		st, _ := p.Store.Stats(context.Background())
		t.Fatalf("timed out: %d shards with claims pending; %+v", len(mustDue(t, p)), st)
	}
}

func mustDue(t *testing.T, p *pipeline.Pipeline) []int {
	d, err := p.Store.Due(context.Background(), time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestRoundTripsAtLightLoad: with one event at a time, a few milliseconds apart, the record
// of an event's replies (its Done) lingers until the next event's claim carries it, so an
// event costs three round trips (accept, claim, commit), not four.
func TestRoundTripsAtLightLoad(t *testing.T) {
	const users = 50
	p, f, rt, sent := rtSetup(t, users, func(i int) msg.Event { return msg.Event{From: fmt.Sprint(i)} })
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { p.Run(ctx, 64) })
	defer func() { cancel(); wg.Wait() }()

	// The claim loops' start (each claims its own shard, then reads Due) is left out: the
	// first events are not counted.
	const warm, events = 20, 200
	var before int64
	var began time.Time
	for i := range warm + events {
		if i == warm {
			before, began = rt.n.Load(), time.Now()
		}
		ev := msg.Event{From: fmt.Sprint(i % users), ID: fmt.Sprintf("wamid.light.%d", i), Text: fmt.Sprintf("n%d", i)}
		f.accept(t, f.body(t, ev))
		for deadline := time.Now().Add(10 * time.Second); sent.Load() < int64(users+i+1); time.Sleep(100 * time.Microsecond) {
			if time.Now().After(deadline) {
				t.Fatalf("event %d: no reply", i)
			}
		}
		time.Sleep(pipeline.DoneLinger / 4) // the reply's Done is back with a claim loop, lingering
	}
	took := time.Since(began)
	perEvent := float64(rt.n.Load()-before) / events
	// Beyond the three: the poller's looks for work (one per IdlePoll while loops are idle),
	// and a Done that came back to its loop too late for the next claim and went alone.
	polls := math.Ceil(float64(took) / float64(pipeline.IdlePoll))
	t.Logf("%.3f round trips per event at light load (%s for %d events, up to %.0f polls)", perEvent, took.Round(time.Millisecond), events, polls)
	if perEvent > 3+(polls+0.1*events)/events {
		t.Errorf("an event took %.3f round trips at light load, want 3 (accept, claim carrying the last Done, commit) and the polls", perEvent)
	}
}
