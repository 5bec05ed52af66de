package pipeline_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/flowgate/flowgate/engine"
	"github.com/flowgate/flowgate/engine/msg"
	"github.com/flowgate/flowgate/pipeline"
	"github.com/flowgate/flowgate/store"
)

// TestWorkerDiesMidOutbox: a worker that dies after two of three replies went out leaves only
// the third to send again: each reply that went out was acknowledged.
func TestWorkerDiesMidOutbox(t *testing.T) {
	f := setup(t, nil)
	f.s.onSend = func(n int) {
		if n == 2 {
			f.s.onSend = nil
			killWorker()
		}
	}
	f.accept(t, f.body(t, msg.Event{ID: "wamid.a", From: "1", Text: "three"}))
	drainDying(f)
	f.advance(11 * time.Second)
	reps := f.drain(t)
	if len(reps) != 1 || reps[0].Kind != store.KindOutbox || reps[0].Resent != 1 {
		t.Fatalf("recovery reports %+v", reps)
	}
	if got := f.s.texts(); !equal(got, []string{"one", "two", "three"}) {
		t.Fatalf("sent %q, want each reply once", got)
	}
	st, _ := f.p.State(context.Background(), reps[0].Conversation)
	if len(st.Outbox) != 3 {
		t.Errorf("recorded ids %+v, want all three", st.Outbox)
	}
}

// TestLostLeaseStopsSending: a worker whose lease another worker took over (it stalled past
// the lease) stops sending at once; only the message in flight when it lost the lease can go
// out twice.
func TestLostLeaseStopsSending(t *testing.T) {
	f := setup(t, nil)
	stalled := false
	f.s.onSend = func(int) {
		if stalled {
			return
		}
		stalled = true
		// The worker stalls on its first send; meanwhile its lease expires and another
		// worker recovers the conversation and sends the whole outbox.
		f.advance(11 * time.Second)
		if _, err := f.p.Drain(context.Background()); err != nil {
			t.Error(err)
		}
	}
	f.accept(t, f.body(t, msg.Event{ID: "wamid.a", From: "1", Text: "three"}))
	f.drain(t)
	if got := f.s.texts(); !equal(got, []string{"one", "two", "three", "one"}) {
		t.Fatalf("sent %q: the stalled worker must stop after the message it had in flight", got)
	}
}

// TestReloadWithoutChannelParks: a reload that drops a channel account leaves its
// conversations' events in place (parked), and they are answered once it is back.
func TestReloadWithoutChannelParks(t *testing.T) {
	f := setup(t, nil)
	full := f.p.Bundle()
	f.p.SetBundle(&pipeline.Bundle{Engine: full.Engine})
	f.accept(t, f.body(t, msg.Event{ID: "wamid.a", From: "1", Text: "hi"}, msg.Event{ID: "wamid.b", From: "1", Text: "n"}))
	reps := f.drain(t)
	if len(reps) != 1 || reps[0].Err == nil || len(f.s.texts()) != 0 {
		t.Fatalf("without the channel: reports %+v, sent %q", reps, f.s.texts())
	}
	f.p.SetBundle(full)
	if reps := f.drain(t); len(reps) != 0 {
		t.Fatalf("claimed before the park delay: %+v", reps)
	}
	f.advance(time.Minute)
	f.drain(t)
	if got := f.s.texts(); !equal(got, []string{"hello", "n 1"}) {
		t.Fatalf("sent %q, want both events answered", got)
	}
}

// TestShardsTakeTurns: one worker with a backlog of 300 events in one shard answers a lone
// event of another shard long before the backlog is done.
func TestShardsTakeTurns(t *testing.T) {
	f := setup(t, nil)
	conv := func(user string) engine.Conversation {
		return engine.Conversation{Tenant: "acme", Team: "support", Channel: msg.WhatsApp, Account: "9", User: user}
	}
	busy, lone := "busy", ""
	for i := range 100 {
		if u := fmt.Sprint("lone", i); f.st.ShardOf(conv(u)) != f.st.ShardOf(conv(busy)) {
			lone = u
			break
		}
	}
	var evs []msg.Event
	for i := range 300 {
		evs = append(evs, msg.Event{ID: fmt.Sprint("wamid.busy.", i), From: busy, Text: "hi"})
	}
	f.accept(t, f.body(t, evs...))
	f.accept(t, f.body(t, msg.Event{ID: "wamid.lone", From: lone, Text: "n"}))
	var mu sync.Mutex
	order := map[string]int{}
	n := 0
	f.p.OnReport = func(r *pipeline.Report) {
		mu.Lock()
		defer mu.Unlock()
		n++
		if _, ok := order[r.Conversation.User]; !ok || r.Conversation.User == lone {
			order[r.Conversation.User] = n
		}
	}
	runUntil(t, f.p, func() bool { mu.Lock(); defer mu.Unlock(); return n >= 301 })
	if at := order[lone]; at > 10 {
		t.Errorf("the lone event was processed %dth of 301, after most of another shard's backlog", at)
	}
}

// TestTimerFiresInRun: workers fire an input's timeout when it falls due, found by the
// process's poller with no webhook to wake them.
func TestTimerFiresInRun(t *testing.T) {
	f := setup(t, nil)
	f.accept(t, f.body(t, msg.Event{ID: "wamid.a", From: "1", Text: "ask"}))
	f.drain(t)
	f.advance(2 * time.Minute)
	runUntil(t, f.p, func() bool { return len(f.s.texts()) == 2 })
	if got := f.s.texts(); !equal(got, []string{"name?", "too late"}) {
		t.Fatalf("sent %q", got)
	}
}
