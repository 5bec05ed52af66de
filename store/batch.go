package store

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// coalescer sends the script calls of concurrent operations together, in one pipeline per
// round trip, so that a busy process pays Redis and the kernel one write and one read for
// many operations instead of one each. An operation that finds fewer than max round trips in
// flight sends its own calls (with any others waiting) at once, so that a quiet process waits
// no longer than before; otherwise it waits for the next round trip, which the operations in
// flight start as they end, each taking everything queued meanwhile. Each operation's calls
// stay together and in order; operations sent together are independent of each other (each
// script is atomic on its own, as when they ran side by side).
//
// An operation that can wait (do with a linger) lingers in the queue without starting a round trip: the
// next operation that does start one carries it, or, when none comes within its linger, it
// goes alone.
type coalescer struct {
	send func(ctx context.Context, calls []*call) error // one round trip (with its NOSCRIPT retry)
	max  int                                            // round trips in flight at most

	mu        sync.Mutex
	queued    []*op
	lingering int // of the queued operations, those that wait for company
	inFlight  int
}

// op is one operation's calls and, once sent, the round trip's error.
type op struct {
	calls  []*call
	err    error
	sent   chan struct{}
	linger bool // waits for another operation to carry it
	taken  bool // in a round trip
}

// maxBatch bounds the calls of one round trip. Redis runs a pipeline's scripts back to back,
// and a webhook's enqueue waits behind them: at 2,000 webhooks/s the acknowledgement's p99 was
// 5.8-7.3 ms with pipelines of up to 512 calls, 4.3-4.9 ms with 32 (load test, 2 CPUs).
const maxBatch = 32

// do sends calls, alone or with others', and returns when their results are in their cmds
// or ctx is done: then an operation not sent yet is withdrawn (nothing of it is applied), and
// one in a round trip returns its answer when it comes. With linger > 0 the operation first
// waits up to linger for another to start a round trip and carry it.
func (co *coalescer) do(ctx context.Context, calls []*call, linger time.Duration) error {
	o := &op{calls: calls, sent: make(chan struct{}), linger: linger > 0}
	co.mu.Lock()
	co.queued = append(co.queued, o)
	if o.linger {
		co.lingering++
		co.mu.Unlock()
		t := time.NewTimer(linger)
		defer t.Stop()
		select {
		case <-o.sent:
			return o.err
		case <-ctx.Done():
			return co.abandon(ctx, o)
		case <-t.C:
		}
		co.mu.Lock()
		if !o.taken {
			o.linger = false // nobody came: it goes now
			co.lingering--
		}
	}
	return co.sendOrWait(ctx, o)
}

// sendOrWait starts a round trip with the queue when fewer than max are in flight, then waits
// for o to be sent (in that round trip, or in one that a round trip in flight starts as it
// ends). mu is held, and released.
func (co *coalescer) sendOrWait(ctx context.Context, o *op) error {
	if !o.taken && co.inFlight < co.max {
		co.inFlight++
		batch := co.take()
		co.mu.Unlock()
		// The round trip carries other operations, and each is answered once sent: it is not
		// cut short when this caller's context ends.
		sendCtx := context.WithoutCancel(ctx)
		co.flush(sendCtx, batch) // o is in it unless the queue ahead of it was full
		co.mu.Lock()
		keep := co.keepSlot()
		co.mu.Unlock()
		if keep {
			go co.drain(sendCtx)
		}
	} else {
		co.mu.Unlock()
	}
	select {
	case <-o.sent:
		return o.err
	case <-ctx.Done():
		return co.abandon(ctx, o)
	}
}

// abandon ends the wait of o, whose context is done: an operation not sent yet is taken out
// of the queue and returns ctx's error (nothing of it is applied); one in a round trip returns
// its answer when it comes (bounded by the client's timeouts), since Redis applies it.
func (co *coalescer) abandon(ctx context.Context, o *op) error {
	co.mu.Lock()
	if o.taken {
		co.mu.Unlock()
		<-o.sent
		return o.err
	}
	co.queued = slices.DeleteFunc(co.queued, func(q *op) bool { return q == o })
	if o.linger {
		co.lingering--
	}
	co.mu.Unlock()
	return ctx.Err()
}

// take removes up to maxBatch calls' worth of operations from the queue; mu is held.
func (co *coalescer) take() []*op {
	n, calls := 0, 0
	for n < len(co.queued) && (n == 0 || calls+len(co.queued[n].calls) <= maxBatch) {
		o := co.queued[n]
		calls += len(o.calls)
		o.taken = true
		if o.linger {
			co.lingering--
		}
		n++
	}
	batch := co.queued[:n:n]
	co.queued = co.queued[n:]
	if len(co.queued) == 0 {
		co.queued = nil
	}
	return batch
}

// keepSlot reports whether operations wait that do not linger, keeping the slot of a round
// trip that ended for them; when none does, it gives the slot back. mu is held.
func (co *coalescer) keepSlot() bool {
	if len(co.queued) > co.lingering {
		return true
	}
	co.inFlight--
	return false
}

// drain holds a round trip's slot and sends what waits in further round trips while
// operations that do not linger wait. Lingering operations go along, but never alone.
func (co *coalescer) drain(ctx context.Context) {
	for {
		co.mu.Lock()
		if !co.keepSlot() {
			co.mu.Unlock()
			return
		}
		batch := co.take()
		co.mu.Unlock()
		co.flush(ctx, batch)
	}
}

// flush sends the operations' calls in one round trip and wakes each operation.
func (co *coalescer) flush(ctx context.Context, batch []*op) {
	var calls []*call
	if len(batch) == 1 {
		calls = batch[0].calls
	} else {
		for _, o := range batch {
			calls = append(calls, o.calls...)
		}
	}
	err := co.send(ctx, calls)
	for _, o := range batch {
		if err != nil && !answered(o.calls) {
			o.err = err
		}
		close(o.sent)
	}
}

// answered reports whether every call has its answer, even when the round trip of some other
// operation's calls failed (a cluster's pipeline goes to each node apart): a result, nil, or
// an error reply of the script itself; not NOSCRIPT, which the failed round trip kept from
// being retried with EVAL.
func answered(calls []*call) bool {
	for _, c := range calls {
		if c.cmd == nil {
			return false
		}
		switch err := c.cmd.Err(); {
		case err == nil, errors.Is(err, redis.Nil):
		case !isReplyError(err), redis.HasErrorPrefix(err, "NOSCRIPT"):
			return false
		}
	}
	return true
}
