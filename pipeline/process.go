package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"time"

	"github.com/flowgate/flowgate/engine"
	"github.com/flowgate/flowgate/engine/msg"
	"github.com/flowgate/flowgate/store"
)

// runFunc applies one unit of work to a claimed conversation's state.
type runFunc func(e *engine.Engine, st *engine.State, now time.Time) (*engine.Result, error)

// job is one claim being processed.
type job struct {
	p     *Pipeline
	c     *store.Claim
	b     *Bundle
	ch    *Channel
	st    *engine.State
	rep   *Report
	start time.Time
	saved []byte // the state as last committed
	stop  func() // stops extending the lease
	// fellBack: a window fallback went out, or the channel refused for the closed window,
	// in this claim's event; no second fallback goes out (engine.Refusal).
	fellBack bool
}

// process handles one claim: it runs the engine, commits the state and the outbox, sends the
// outbox and returns the Done that records what went out (nil when nothing is left to finish:
// the commit released the conversation, or the lease was lost).
func (p *Pipeline) process(ctx context.Context, c *store.Claim, fn runFunc) (rep *Report, done *store.Done) {
	j := &job{p: p, c: c, b: p.Bundle(), start: time.Now(), rep: &Report{Conversation: c.Conv, Kind: c.Kind}, saved: c.State}
	j.stop = j.keepAlive(ctx)
	defer func() {
		j.stop()
		j.rep.Duration = time.Since(j.start)
		if p.OnReport != nil {
			p.OnReport(j.rep)
		}
	}()
	defer func() {
		if v := recover(); v != nil {
			// A bug in one event must not take the worker down, nor come back forever: the
			// event is dropped, the state left as it was.
			p.log().Error("panic processing event", "conversation", convString(c.Conv), "kind", c.Kind, "panic", v, "stack", string(debug.Stack()))
			j.rep.Dropped, j.rep.Panicked = fmt.Sprintf("panic: %v", v), true
			rep, done = j.rep, nil
			// What was committed stays committed; replies not yet sent are dropped with it.
			j.commit(ctx, &store.Commit{State: j.saved, Pop: c.Kind == store.KindEvent, Timer: j.timer()})
		}
	}()
	return j.rep, j.run(ctx, fn)
}

func (j *job) run(ctx context.Context, fn runFunc) *store.Done {
	p, c := j.p, j.c
	j.ch = j.b.channel(c.Conv)
	st, reset := engine.ResumeState(c.State)
	if reset != nil {
		p.log().Error("unreadable conversation state: starting over", "conversation", convString(c.Conv), "why", reset.Detail)
		j.rep.Trace = append(j.rep.Trace, *reset)
		j.rep.StateReset = true
	}
	j.st = st
	if j.ch == nil {
		j.rep.Dropped = "no channel account serves this conversation (removed from the bundle?)"
		p.log().Warn("event dropped", "conversation", convString(c.Conv), "reason", j.rep.Dropped)
		j.commit(ctx, &store.Commit{State: c.State, Pop: c.Kind == store.KindEvent})
		return nil
	}
	var sends []engine.Send
	switch c.Kind {
	case store.KindOutbox:
		for _, data := range c.Outbox {
			var s engine.Send
			if err := json.Unmarshal(data, &s); err != nil {
				p.log().Error("outbox entry unreadable: dropped", "conversation", convString(c.Conv), "err", err)
				continue
			}
			sends = append(sends, s)
		}
		j.rep.Resent = len(sends)
		p.log().Warn("resending the outbox of a worker that died", "conversation", convString(c.Conv), "messages", len(sends))
		return j.deliver(ctx, sends)
	case store.KindEvent:
		if c.Attempts > p.maxAttempts() {
			j.rep.Dropped = fmt.Sprintf("claimed %d times: its workers died each time", c.Attempts)
			p.log().Error("poison event dropped", "conversation", convString(c.Conv), "attempts", c.Attempts)
			j.commit(ctx, &store.Commit{State: c.State, Pop: true, Timer: j.timer()})
			return nil
		}
		var ev msg.Event
		if err := json.Unmarshal(c.Event, &ev); err != nil {
			j.rep.Dropped = "unreadable event: " + err.Error()
			p.log().Error("event dropped", "conversation", convString(c.Conv), "reason", j.rep.Dropped)
			j.commit(ctx, &store.Commit{State: c.State, Pop: true, Timer: j.timer()})
			return nil
		}
		fn = func(e *engine.Engine, st *engine.State, now time.Time) (*engine.Result, error) {
			return e.Handle(ctx, c.Conv, st, &ev, now), nil
		}
	case store.KindTimer:
		fn = func(e *engine.Engine, st *engine.State, now time.Time) (*engine.Result, error) {
			return e.Tick(ctx, c.Conv, st, now), nil
		}
	}
	if fn == nil {
		j.commit(ctx, &store.Commit{State: c.State})
		return nil
	}
	res, err := fn(j.b.Engine, st, j.p.now())
	if err != nil {
		j.rep.Err = invalidError{err}
		j.commit(ctx, &store.Commit{State: c.State})
		return nil
	}
	j.rep.Trace = append(j.rep.Trace, res.Trace...)
	j.rep.Kept = res.Kept
	j.fellBack = res.FellBack
	cm := &store.Commit{Pop: c.Kind == store.KindEvent, Handoff: st.Handoff != "", ClearKept: st.Handoff == ""}
	if res.Kept {
		cm.Kept = c.Event
	}
	if !j.commitState(ctx, cm, res.Sends) {
		return nil
	}
	if len(res.Sends) == 0 {
		return nil
	}
	return j.deliver(ctx, res.Sends)
}

// commitState commits the state with sends as the outbox; it reports whether the lease is
// still held for sending.
func (j *job) commitState(ctx context.Context, cm *store.Commit, sends []engine.Send) bool {
	data, err := j.st.Encode()
	if err != nil {
		j.rep.Err = fmt.Errorf("encode state: %w", err)
		j.p.log().Error("state not saved", "conversation", convString(j.c.Conv), "err", err)
		return false
	}
	cm.State, cm.Timer = data, j.timer()
	for _, s := range sends {
		b, err := json.Marshal(s)
		if err != nil {
			j.rep.Err = fmt.Errorf("encode reply: %w", err)
			return false
		}
		cm.Outbox = append(cm.Outbox, b)
	}
	return j.commit(ctx, cm) && len(sends) > 0
}

// commit applies cm; on failure the claim is left to expire and be processed again.
func (j *job) commit(ctx context.Context, cm *store.Commit) bool {
	if cm.StateTTL == 0 {
		cm.StateTTL = j.p.stateTTL()
	}
	// A commit is fenced and idempotent, so a store that is briefly away (a Redis restart) is
	// retried for as long as the lease allows, instead of leaving the event to recovery.
	err := j.p.Store.Commit(ctx, j.c, cm, j.p.now(), j.p.lease())
	for wait, until := 100*time.Millisecond, time.Now().Add(j.p.lease()/2); err != nil && !errors.Is(err, store.ErrStale) && time.Now().Add(wait).Before(until); wait = min(2*wait, time.Second) {
		j.p.sleep(ctx, wait)
		err = j.p.Store.Commit(ctx, j.c, cm, j.p.now(), j.p.lease())
	}
	if err == nil {
		j.saved = cm.State
	}
	if err != nil || len(cm.Outbox) == 0 {
		j.stop() // released, or lost: nothing left to keep alive
	}
	if err != nil {
		j.rep.Err = fmt.Errorf("commit: %w", err)
		level := "error"
		if errors.Is(err, store.ErrStale) {
			level = "lease lost"
		}
		j.p.log().Warn("commit failed: the conversation will be processed again", "conversation", convString(j.c.Conv), "why", level, "err", err)
		return false
	}
	return true
}

// timer is when the conversation next needs a tick.
func (j *job) timer() time.Time {
	if j.st == nil || j.b == nil {
		return time.Time{}
	}
	return j.b.Engine.NextTimer(j.st)
}

// maxRefusals bounds the fallback rounds of one event: a fallback is a template, which the
// window never refuses, so one round is the norm.
const maxRefusals = 3

// deliver sends the committed outbox in order, keeping the lease alive meanwhile. A message
// refused because the window closed goes back to the engine with the messages that were to
// follow it: the engine's answer (the fallback template, unless one went out already in this
// event, or the node's on_window_closed path, and the templates among the rest; free-form
// messages are held) is committed before it is sent. It returns the Done that records the ids
// the channel gave.
func (j *job) deliver(ctx context.Context, sends []engine.Send) *store.Done {
	for round := 0; len(sends) > 0 && round <= maxRefusals; round++ {
		var again []engine.Send
		for i, s := range sends {
			m := s.Message
			ids, err := j.ch.Sender.Send(ctx, &m)
			o := Outcome{Send: s, IDs: ids, Err: err, Code: errorCode(err)}
			j.rep.Outcomes = append(j.rep.Outcomes, o)
			for _, id := range ids {
				j.st.RecordSent(id, s)
			}
			if errors.Is(err, msg.ErrWindowClosed) && round < maxRefusals {
				j.p.log().Info("window closed: falling back", "channel", j.c.Conv.Channel, "flow", s.Flow, "node", s.Node)
				res := j.b.Engine.Refused(ctx, j.c.Conv, j.st, engine.Refusal{Send: s, Rest: sends[i+1:], FellBack: j.fellBack}, j.p.now())
				j.fellBack = j.fellBack || res.FellBack
				j.rep.Trace = append(j.rep.Trace, res.Trace...)
				again = res.Sends
				break // the engine answered for the rest
			}
			if err != nil {
				j.p.log().Warn("send failed", "channel", j.c.Conv.Channel, "flow", s.Flow, "node", s.Node, "code", o.Code, "err", err)
			}
		}
		if len(again) > 0 && !j.commitState(ctx, &store.Commit{Handoff: j.st.Handoff != ""}, again) {
			return nil
		}
		sends = again
	}
	data, err := j.st.Encode()
	if err != nil {
		j.rep.Err = fmt.Errorf("encode state: %w", err)
		data = nil
	}
	if data == nil {
		// Keep the committed state: only the sent ids are lost.
		return &store.Done{Claim: j.c, State: j.c.State, StateTTL: j.p.stateTTL()}
	}
	return &store.Done{Claim: j.c, State: data, StateTTL: j.p.stateTTL()}
}

// keepAlive extends the lease while the claim is processed (http nodes and sends wait on the
// network), until the returned stop, which may be called more than once.
func (j *job) keepAlive(ctx context.Context) (stop func()) {
	lease := j.p.lease()
	tick := time.NewTicker(lease / 3)
	quit := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		defer tick.Stop()
		for {
			select {
			case <-quit:
				return
			case <-tick.C:
				if err := j.p.Store.Extend(context.WithoutCancel(ctx), j.c, j.p.now(), lease); err != nil {
					j.p.log().Warn("lease not extended", "conversation", convString(j.c.Conv), "err", err)
				}
			}
		}
	}()
	var once sync.Once
	return func() { once.Do(func() { close(quit); <-finished }) }
}

// errorCode extracts the channel's error code from a send error, 0 when it has none.
func errorCode(err error) int {
	var c interface{ ErrorCode() int }
	if errors.As(err, &c) {
		return c.ErrorCode()
	}
	return 0
}

func convString(c engine.Conversation) string {
	return c.Tenant + "/" + c.Team + "/" + c.Channel + "/" + c.Account + "/" + c.User
}

// invalidError is an error of the flows refusing an API call: it reads as the engine's
// message and matches ErrInvalid.
type invalidError struct{ err error }

func (e invalidError) Error() string        { return e.err.Error() }
func (e invalidError) Unwrap() error        { return e.err }
func (e invalidError) Is(target error) bool { return target == ErrInvalid }
