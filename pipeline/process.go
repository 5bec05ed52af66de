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
type runFunc func(e *engine.Engine, conv engine.Conversation, st *engine.State, now time.Time) (*engine.Result, error)

// job is one claim being processed.
type job struct {
	p       *Pipeline
	c       *store.Claim
	carried [][]byte // events kept for an agent by the conversation this one took over
	b       *Bundle
	ch      *Channel
	st      *engine.State
	rep     *Report
	start   time.Time
	saved   []byte         // the state as last committed
	entries [][]byte       // the outbox as last committed, encoded, head first
	book    *store.Booking // the committed outbox's slots on the limiter, nil without one
	stop    func()         // stops extending the lease
	// fellBack: a window fallback went out, or the channel refused for the closed window,
	// in this claim's event; no second fallback goes out (engine.Refusal).
	fellBack bool
}

// errLeaseLost is the cause a job's context is cancelled with when its lease is gone: another
// worker may have the conversation now, so this one must stop sending.
var errLeaseLost = errors.New("lease lost")

// process handles one claim: it runs the engine, commits the state and the outbox, sends the
// outbox and returns the Done that records what went out (nil when nothing is left to finish:
// the commit released the conversation, or the lease was lost).
func (p *Pipeline) process(ctx context.Context, c *store.Claim, fn runFunc) (rep *Report, done *store.Done) {
	j := &job{p: p, c: c, b: p.Bundle(), start: time.Now(), rep: &Report{Conversation: c.Conv, Kind: c.Kind}, saved: c.State}
	ctx, lost := context.WithCancelCause(ctx)
	defer lost(nil)
	j.stop = j.keepAlive(ctx, lost)
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
	if l, ok := decodeLink(c.State); ok {
		return j.forward(ctx, l)
	}
	st, reset := engine.ResumeState(c.State)
	if reset != nil {
		p.log().Error("unreadable conversation state: starting over", "conversation", convString(c.Conv), "why", reset.Detail)
		j.rep.Trace = append(j.rep.Trace, *reset)
		j.rep.StateReset = true
	}
	j.st = st
	if j.ch == nil {
		// A reload removed the channel account (or changed its id): nothing is dropped, in
		// case the next reload brings it back; the conversation waits, parked.
		j.rep.Err = fmt.Errorf("no channel account of the bundle serves %s: parked for %s", convString(c.Conv), parkDelay)
		p.log().Error("conversation parked: its channel account is not in the bundle", "conversation", convString(c.Conv), "retry_in", parkDelay)
		timer := j.timer()
		if now := p.now(); !timer.IsZero() && timer.Before(now.Add(parkDelay)) {
			timer = now.Add(parkDelay)
		}
		j.commit(ctx, &store.Commit{State: c.State, Delay: parkDelay, Timer: timer})
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
			j.entries = append(j.entries, data)
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
		if !j.identify(ctx, &ev) {
			// What this conversation is to take over is busy: the event waits a little.
			j.rep.Err = fmt.Errorf("%s: identities not linked yet: retried in %s", convString(c.Conv), linkRetry)
			j.commit(ctx, &store.Commit{State: c.State, Delay: linkRetry, Timer: j.timer()})
			return nil
		}
		fn = func(e *engine.Engine, conv engine.Conversation, st *engine.State, now time.Time) (*engine.Result, error) {
			return e.Handle(ctx, conv, st, &ev, now), nil
		}
	case store.KindTimer:
		fn = func(e *engine.Engine, conv engine.Conversation, st *engine.State, now time.Time) (*engine.Result, error) {
			return e.Tick(ctx, conv, st, now), nil
		}
	}
	if fn == nil {
		j.commit(ctx, &store.Commit{State: c.State})
		return nil
	}
	res, err := fn(j.b.Engine, c.Conv, j.st, j.p.convNow(c.Conv))
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
	if st.Handoff != "" {
		cm.Carried = j.carried
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
	cm.Book = j.booking(len(sends))
	if !j.commit(ctx, cm) {
		return false
	}
	j.entries, j.book = cm.Outbox, cm.Book
	return len(sends) > 0
}

// commit applies cm; on failure the claim is left to expire and be processed again.
func (j *job) commit(ctx context.Context, cm *store.Commit) bool {
	if cm.StateTTL == 0 {
		cm.StateTTL = j.p.stateTTL()
	}
	// A commit is fenced and idempotent, so a store that is briefly away (a Redis restart) is
	// retried for as long as the lease allows, instead of leaving the event to recovery.
	err := j.p.Store.Commit(ctx, j.c, cm, j.p.now(), j.p.lease())
	for wait, until := 100*time.Millisecond, time.Now().Add(j.p.lease()/2); err != nil && !errors.Is(err, store.ErrStale) && ctx.Err() == nil && time.Now().Add(wait).Before(until); wait = min(2*wait, time.Second) {
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

// booking is the booking of n messages of the conversation on the pipeline's limiter, nil
// without one.
func (j *job) booking(n int) *store.Booking {
	if j.p.Limiter == nil || n == 0 {
		return nil
	}
	b := &store.Booking{Limiter: j.p.Limiter, Account: j.c.Conv.Account, N: n}
	if rp, ok := j.ch.Sender.(recipientPacer); ok {
		b.Recipient = rp.PaceRecipient(j.c.Conv.User)
	}
	return b
}

// timer is when the conversation next needs a tick, on the store's clock.
func (j *job) timer() time.Time {
	if j.st == nil || j.b == nil {
		return time.Time{}
	}
	t := j.b.Engine.NextTimer(j.st)
	if !t.IsZero() && j.p.Offset != nil {
		t = t.Add(-j.p.Offset(j.c.Conv))
	}
	return t
}

// maxRefusals bounds the fallback rounds of one event: a fallback is a template, which the
// window never refuses, so one round is the norm.
const maxRefusals = 3

// linkRetry is how long an event waits when the conversation it is to take over is busy.
const linkRetry = time.Second

// parkDelay is how long a conversation whose channel account left the bundle waits before it
// is tried again.
const parkDelay = time.Minute

// deliver sends the committed outbox in order and returns the Done that records the ids the
// channel gave. While more messages remain, each one that went out is acknowledged (dropped
// from the outbox, the state saved with its ids), so that a worker dying mid-way sends again
// only the message in flight. A message refused because the window closed goes back to the
// engine with the messages that were to follow it: the engine's answer (the fallback template,
// unless one went out already in this event, or the node's on_window_closed path, and the
// templates among the rest; free-form messages are held) replaces them and is committed
// before it is sent. When the lease is lost the worker stops at once and leaves the rest to
// the worker that took over.
func (j *job) deliver(ctx context.Context, sends []engine.Send) *store.Done {
	queue := sends
	refusals := 0
	for len(queue) > 0 {
		if ctx.Err() != nil {
			j.rep.Err = fmt.Errorf("stopped with %d message(s) not sent: %w", len(queue), context.Cause(ctx))
			j.p.log().Warn("delivery stopped", "conversation", convString(j.c.Conv), "why", context.Cause(ctx))
			return nil
		}
		s, entry := queue[0], j.head()
		m := s.Message
		sctx := ctx
		if j.book != nil {
			sctx = j.book.Context(ctx)
		}
		ids, err := j.send(sctx, &m)
		o := Outcome{Send: s, IDs: ids, Err: err, Code: errorCode(err)}
		j.rep.Outcomes = append(j.rep.Outcomes, o)
		for _, id := range ids {
			j.st.RecordSent(id, s)
		}
		queue = queue[1:]
		switch {
		case err == nil:
		case errors.Is(err, msg.ErrWindowClosed) && refusals < maxRefusals:
			refusals++
			j.p.log().Info("window closed: falling back", "channel", j.c.Conv.Channel, "flow", s.Flow, "node", s.Node)
			res := j.b.Engine.Refused(ctx, j.c.Conv, j.st, engine.Refusal{Send: s, Rest: queue, FellBack: j.fellBack}, j.p.convNow(j.c.Conv))
			j.fellBack = j.fellBack || res.FellBack
			j.rep.Trace = append(j.rep.Trace, res.Trace...)
			// The engine answered for the rest: its sends replace it, committed first (with
			// none, the commit releases the conversation and nothing is left to record).
			queue = append([]engine.Send(nil), res.Sends...)
			if !j.commitState(ctx, &store.Commit{Handoff: j.st.Handoff != ""}, queue) {
				return nil
			}
			continue
		default:
			j.p.log().Warn("send failed", "channel", j.c.Conv.Channel, "flow", s.Flow, "node", s.Node, "code", o.Code, "err", err)
			j.rep.Trace = append(j.rep.Trace, engine.TraceEntry{Kind: engine.TraceError, Node: s.Flow + "/" + s.Node,
				Detail: fmt.Sprintf("%s message not sent: %v", m.Type(), err)})
		}
		if len(queue) > 0 && !j.ack(ctx, entry) {
			return nil
		}
	}
	data, err := j.st.Encode()
	if err != nil {
		// Keep the committed state: only the sent ids are lost.
		j.rep.Err = fmt.Errorf("encode state: %w", err)
		data = j.saved
	}
	return &store.Done{Claim: j.c, State: data, StateTTL: j.p.stateTTL()}
}

// userSender is a Sender that also returns the user id the channel answered with (the
// WhatsApp Cloud API gives the business-scoped user id of the recipient).
type userSender interface {
	SendUser(ctx context.Context, m *msg.Message) ([]string, string, error)
}

// send sends m, recording the user id the channel answered with when the conversation did not
// know it yet (a start addressed by phone number).
func (j *job) send(ctx context.Context, m *msg.Message) ([]string, error) {
	us, ok := j.ch.Sender.(userSender)
	if !ok {
		return j.ch.Sender.Send(ctx, m)
	}
	ids, userID, err := us.SendUser(ctx, m)
	if userID != "" && j.st.UserID == "" {
		j.st.UserID = userID
	}
	return ids, err
}

// head returns the encoded head of the outbox.
func (j *job) head() []byte {
	if len(j.entries) == 0 {
		return nil
	}
	return j.entries[0]
}

// ack records that the head of the outbox (entry) is done with; it reports false when the
// lease is lost. A store error is logged and delivery goes on: at worst a crash later sends
// that message again.
func (j *job) ack(ctx context.Context, entry []byte) bool {
	if len(j.entries) > 0 {
		j.entries = j.entries[1:]
	}
	data, err := j.st.Encode()
	if err != nil {
		return true
	}
	err = j.p.Store.Ack(ctx, j.c, entry, data, j.p.stateTTL(), j.p.now(), j.p.lease())
	switch {
	case err == nil:
		j.saved = data
	case errors.Is(err, store.ErrStale):
		j.p.log().Warn("lease lost while sending: stopping", "conversation", convString(j.c.Conv))
		return false
	default:
		j.p.log().Warn("progress not recorded", "conversation", convString(j.c.Conv), "err", err)
	}
	return true
}

// keepAlive extends the lease while the claim is processed (http nodes and sends wait on the
// network), until the returned stop, which may be called more than once. When the lease is
// lost (another worker took the conversation over) or cannot have survived (no renewal for
// most of its length), it cancels the job with errLeaseLost.
func (j *job) keepAlive(ctx context.Context, lost context.CancelCauseFunc) (stop func()) {
	lease := j.p.lease()
	tick := time.NewTicker(lease / 3)
	quit := make(chan struct{})
	finished := make(chan struct{})
	renewed := j.p.now()
	go func() {
		defer close(finished)
		defer tick.Stop()
		for {
			select {
			case <-quit:
				return
			case <-tick.C:
				ectx, cancel := context.WithTimeout(context.WithoutCancel(ctx), lease/3)
				now := j.p.now()
				err := j.p.Store.Extend(ectx, j.c, now, lease)
				cancel()
				switch {
				case err == nil:
					renewed = now
				case errors.Is(err, store.ErrStale) || !j.p.now().Before(renewed.Add(lease-lease/6)):
					j.p.log().Warn("lease lost: stopping this conversation's work", "conversation", convString(j.c.Conv), "err", err)
					lost(errLeaseLost)
					return
				default:
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
