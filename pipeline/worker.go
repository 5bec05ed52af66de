package pipeline

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/flowgate/flowgate/store"
)

// IdlePoll is how often an idle process looks for work it was not woken for: another
// process's events, a due timer, a dead worker's lease. One poller per process reads every
// shard in one round trip and wakes workers for the shards with work.
const IdlePoll = 200 * time.Millisecond

// BusyPoll is how often a busy worker looks for work beyond the shards it works through and
// those this process's Accept woke it for: another process's events, a due timer, a dead
// worker's lease.
const BusyPoll = time.Second

// DoneLinger is how long an idle claim loop lets the record of a claim's replies (its Done)
// wait for another round trip to Redis to ride on, rather than pay one of its own. It holds
// the conversation that much longer: a user's next message, when it comes within it, waits
// as long.
const DoneLinger = 10 * time.Millisecond

// Run processes up to n claims at once until ctx is done, then lets each finish the claim
// in hand (with its sends) and returns; what is still queued stays queued for the next
// process. A few claim loops (as many as shards, at most n) lease conversations and hand each
// claim to a worker goroutine (started as needed, at most n), which runs the flow, commits and
// sends: n bounds the claims in flight, so that sends to a slow Graph API overlap, while the
// claims, which are quick, do not compete with each other for the same shards. A claim's Done
// (its replies recorded) goes back to the claim loops, which carry it on their next claim.
func (p *Pipeline) Run(ctx context.Context, n int) {
	if n <= 0 {
		n = 1
	}
	r := &run{p: p, slots: make(chan struct{}, n), dones: make(chan *store.Done, n),
		handoff: make(chan *store.Claim), stop: make(chan struct{})}
	r.loops = min(n, p.Store.Shards())
	var wg sync.WaitGroup
	for i := range r.loops {
		wg.Go(func() { r.claims(ctx, i) })
	}
	wg.Go(func() { p.poll(ctx) })
	wg.Wait()
	close(r.stop) // no claim is handed over any more: idle workers end
	r.jobs.Wait()
	work := context.WithoutCancel(ctx)
	for {
		select {
		case d := <-r.dones:
			p.finish(work, d)
		default:
			return
		}
	}
}

// run is the state the claim loops of one Run share.
type run struct {
	p     *Pipeline
	slots chan struct{}    // one per claim in flight
	dones chan *store.Done // Dones waiting to be carried by a claim
	jobs  sync.WaitGroup   // worker goroutines

	handoff chan *store.Claim // to an idle worker
	stop    chan struct{}     // closed when the claim loops have ended

	loops     int          // claim loops
	lingering atomic.Int32 // claim loops whose Done lingers
	workers   atomic.Int32 // worker goroutines started
}

// start hands c to an idle worker goroutine, or starts one when none is idle and fewer than
// n run; else it waits for one to come back (one will: c holds a slot, so fewer than n claims
// are in hand). A worker processes the claims handed to it, holding a slot for each, until the
// run ends; workers outlive their claims so that their grown stacks serve the next ones.
func (r *run) start(ctx context.Context, c *store.Claim) {
	select {
	case r.handoff <- c:
		return
	default:
	}
	if r.workers.Add(1) > int32(cap(r.slots)) {
		r.workers.Add(-1)
		r.handoff <- c
		return
	}
	r.jobs.Add(1)
	go func() {
		defer r.jobs.Done()
		for {
			r.work(ctx, c)
			select {
			case c = <-r.handoff:
			case <-r.stop:
				return
			}
		}
	}()
}

// work processes c and hands its Done over to be carried by a claim, then frees its slot.
func (r *run) work(ctx context.Context, c *store.Claim) {
	defer func() { <-r.slots }() // after the Done is handed over, for the next claim to carry
	_, done := r.p.process(ctx, c, nil)
	if done == nil {
		return
	}
	select {
	case r.dones <- done:
	default:
		r.p.finish(ctx, done) // the claim loops are behind: record it alone
	}
}

// linger lets d wait DoneLinger for a round trip to share, unless half the claim loops are
// doing so already (the others stay free to claim what webhooks bring, whose round trips
// then carry the lingering Dones). The returned func ends it, once d was sent.
func (r *run) linger(d *store.Done) func() {
	if int(r.lingering.Add(1)) > r.loops/2 {
		r.lingering.Add(-1)
		return func() {}
	}
	d.Linger = DoneLinger
	return func() {
		d.Linger = 0
		r.lingering.Add(-1)
	}
}

// done takes a Done waiting to be carried, nil when none waits.
func (r *run) done() *store.Done {
	select {
	case d := <-r.dones:
		return d
	default:
		return nil
	}
}

// poll wakes idle workers for the shards that have work due, every IdlePoll. While no worker
// is idle it reads nothing: busy workers read Due themselves.
func (p *Pipeline) poll(ctx context.Context) {
	t := time.NewTicker(IdlePoll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if p.idlers.Load() == 0 {
			continue
		}
		due, _, ok := p.due(ctx, time.Time{})
		if !ok {
			continue
		}
		for _, s := range due {
			p.notify(s)
		}
	}
}

// claims leases conversations and starts their processing. It works through the shards
// that have work (read with Due, one round trip for all), one claim per shard in turn,
// starting at a shard of its own so that the claim loops spread out, and so that a backlog in
// one shard does not hold up the others; a claim that says its shard has no more work
// (Claim.More) drops the shard. After a round it adds the shards Accept woke workers for and
// starts another over the shards that still had work, looking at Due again (to find work
// elsewhere) at most once per BusyPoll, or, when none is left, once per IdlePoll; it waits to be woken when no
// shard has work. Each claim carries a Done of an earlier one, when one waits.
func (r *run) claims(ctx context.Context, id int) {
	p := r.p
	work := context.WithoutCancel(ctx) // a claim in hand is finished even while stopping
	var done *store.Done
	todo := []int{id % p.Store.Shards()}
	next := 0
	var read time.Time // when the Due read of todo was made
	carryOnly := false // the next claim is made to carry done: it may linger
	for {
		if ctx.Err() != nil {
			p.finish(work, done)
			return
		}
		if next >= len(todo) && len(todo) > 0 {
			todo = p.woken(todo)
			if time.Since(read) < BusyPoll {
				next = 0 // another round over the shards that still have work
			}
		}
		if next >= len(todo) {
			todo = todo[:0]
			if time.Since(read) >= IdlePoll {
				var ok bool
				if todo, read, ok = p.due(ctx, read); !ok {
					continue // the store is down: done stays in hand
				}
			}
			// Else the loop has just worked through what Due listed: it waits for a wake-up
			// instead of reading Due again. Accept wakes it for this process's events, the
			// poller within IdlePoll for other work (events accepted elsewhere, timers, leases
			// that expired).
			next = 0
			if len(todo) > 0 {
				next = id % len(todo)
			}
			if len(todo) == 0 && done != nil {
				// Nothing to carry it on. Events queued for its conversation meanwhile woke a
				// worker, and the wake-up waits in p.wake.
				unlinger := r.linger(done)
				p.finish(work, done)
				unlinger()
				done = nil
			}
			if len(todo) == 0 {
				s, d, ok := r.await(ctx)
				if !ok {
					continue
				}
				todo, done = []int{s}, d
				carryOnly = d != nil // woken by the Done alone: nothing else to claim
			}
		}
		select {
		case r.slots <- struct{}{}:
		case <-ctx.Done():
			continue
		}
		unlinger := func() {}
		if carryOnly {
			unlinger = r.linger(done)
			carryOnly = false
		}
		if done == nil {
			done = r.done() // the slot may be the one it just gave back
		}
		shard := todo[next]
		c, err := p.Store.Claim(ctx, shard, p.now(), p.lease(), done)
		unlinger()
		switch {
		case errors.Is(err, store.ErrStale):
			p.log().Warn("lease lost before the replies were recorded", "err", err)
			done = nil
		case err != nil && ctx.Err() != nil:
			<-r.slots
			p.finish(work, done)
			return
		case err != nil:
			// The store is down: done stays in hand and is retried with the next claim.
			<-r.slots
			p.log().Error("claim failed", "shard", shard, "err", err)
			p.sleep(ctx, time.Second)
			continue
		default:
			done = nil
		}
		if c == nil || !c.More {
			todo = append(todo[:next], todo[next+1:]...) // drained
		} else {
			next++
		}
		if c == nil {
			<-r.slots
			continue
		}
		r.start(work, c)
	}
}

// woken adds to todo the shards this process's Accept woke workers for meanwhile.
func (p *Pipeline) woken(todo []int) []int {
	for {
		select {
		case s := <-p.wake:
			if !slices.Contains(todo, s) {
				todo = append(todo, s)
			}
		default:
			return todo
		}
	}
}

// due lists the shards with work due, and when that was read: the process's last Due read
// when it was made after after and less than IdlePoll ago, else a new one. One read runs at a
// time; the workers that need one meanwhile wait for it and share it, so that many busy
// workers cost Redis a few reads per IdlePoll, not one each. False when the store cannot say
// (after a pause).
func (p *Pipeline) due(ctx context.Context, after time.Time) ([]int, time.Time, bool) {
	p.dueMu.Lock()
	if p.dueAt.After(after) && time.Since(p.dueAt) < IdlePoll {
		defer p.dueMu.Unlock()
		return slices.Clone(p.dueList), p.dueAt, true
	}
	at := time.Now()
	due, err := p.Store.Due(ctx, p.now())
	if err == nil {
		p.dueAt, p.dueList = at, due
	}
	p.dueMu.Unlock()
	if err != nil {
		if ctx.Err() == nil {
			p.log().Error("looking for work failed", "err", err)
			p.sleep(ctx, time.Second)
		}
		return nil, time.Time{}, false
	}
	return slices.Clone(due), at, true
}

// finish records a last Done before the worker stops.
func (p *Pipeline) finish(ctx context.Context, done *store.Done) {
	if done == nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := p.Store.Finish(ctx, done, p.now()); err != nil {
		p.log().Warn("replies sent but not recorded at shutdown", "err", err)
	}
}

// await waits for a wake-up from Accept or the poller, and returns the shard woken for; or
// for a Done coming back, and returns it with its shard, to carry it on a claim there (its
// conversation may have more events).
func (r *run) await(ctx context.Context) (int, *store.Done, bool) {
	r.p.idlers.Add(1)
	defer r.p.idlers.Add(-1)
	select {
	case s := <-r.p.wake:
		return s, nil, true
	case d := <-r.dones:
		return d.Claim.Shard, d, true
	case <-ctx.Done():
		return 0, nil, false
	}
}

func (p *Pipeline) sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// Drain processes claims until no shard has work due at p.Now, and returns their reports in
// order. flowctl test and tests use it in place of Run: one goroutine, a virtual clock.
func (p *Pipeline) Drain(ctx context.Context) ([]*Report, error) {
	var reps []*Report
	for {
		found := false
		for shard := range p.Store.Shards() {
			for {
				c, err := p.Store.Claim(ctx, shard, p.now(), p.lease(), nil)
				if err != nil {
					return reps, err
				}
				if c == nil {
					break
				}
				found = true
				rep, done := p.process(ctx, c, nil)
				reps = append(reps, rep)
				if done != nil {
					if err := p.Store.Finish(ctx, done, p.now()); err != nil {
						return reps, err
					}
				}
			}
		}
		if !found {
			return reps, nil
		}
	}
}
