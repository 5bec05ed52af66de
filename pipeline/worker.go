package pipeline

import (
	"context"
	"errors"
	"slices"
	"sync"
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

// Run runs n workers until ctx is done, then lets each finish the claim in hand (with its
// sends) and returns; what is still queued stays queued for the next process.
func (p *Pipeline) Run(ctx context.Context, n int) {
	if n <= 0 {
		n = 1
	}
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.worker(ctx, i)
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		p.poll(ctx)
	}()
	wg.Wait()
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

// worker claims and processes conversations. It works through the shards that have work
// (read with Due, one round trip for all), one claim per shard in turn, starting at a shard of
// its own so that the workers spread out, and so that a backlog in one shard does not hold up
// the others; a claim that says its shard has no more work (Claim.More) drops the shard. After
// a round it adds the shards Accept woke workers for and starts another over the shards that
// still had work, looking at Due again (to find work elsewhere) at most once per BusyPoll, or
// when none is left; it waits to be woken when no shard has work.
func (p *Pipeline) worker(ctx context.Context, id int) {
	work := context.WithoutCancel(ctx) // a claim in hand is finished even while stopping
	var done *store.Done
	todo := []int{id % p.Store.Shards()}
	next := 0
	var read time.Time // when the Due read of todo was made
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
			var ok bool
			if todo, read, ok = p.due(ctx, read); !ok {
				continue // the store is down: done stays in hand
			}
			next = 0
			if len(todo) > 0 {
				next = id % len(todo)
			}
			if len(todo) == 0 && done != nil {
				// Nothing to piggy-back it on. Events queued for its conversation meanwhile
				// woke a worker, and the wake-up waits in p.wake.
				p.finish(work, done)
				done = nil
			}
			if len(todo) == 0 {
				s, ok := p.await(ctx)
				if !ok {
					continue
				}
				todo = []int{s}
			}
		}
		shard := todo[next]
		c, err := p.Store.Claim(ctx, shard, p.now(), p.lease(), done)
		switch {
		case errors.Is(err, store.ErrStale):
			p.log().Warn("lease lost before the replies were recorded", "err", err)
			done = nil
		case err != nil && ctx.Err() != nil:
			p.finish(work, done)
			return
		case err != nil:
			// The store is down: done stays in hand and is retried with the next claim.
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
		if c != nil {
			_, done = p.process(work, c, nil)
		}
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

// await waits for a wake-up from Accept or the poller, and returns the shard woken for.
func (p *Pipeline) await(ctx context.Context) (int, bool) {
	p.idlers.Add(1)
	defer p.idlers.Add(-1)
	select {
	case s := <-p.wake:
		return s, true
	case <-ctx.Done():
	}
	return 0, false
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
