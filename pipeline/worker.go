package pipeline

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/flowgate/flowgate/store"
)

// IdlePoll is how often an idle process looks for work it was not woken for: another
// process's events, a due timer, a dead worker's lease. One poller per process reads every
// shard in one round trip and wakes workers for the shards with work.
const IdlePoll = 200 * time.Millisecond

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

// poll wakes idle workers for the shards that have work due, every IdlePoll.
func (p *Pipeline) poll(ctx context.Context) {
	t := time.NewTicker(IdlePoll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		due, err := p.Store.Due(ctx, p.now())
		if err != nil {
			if ctx.Err() == nil {
				p.log().Debug("poll failed", "err", err)
			}
			continue
		}
		for _, s := range due {
			p.notify(s)
		}
	}
}

// worker claims and processes conversations. It works through the shards that have work
// (read with Due, one round trip for all), one claim per shard in turn, so that a backlog in
// one shard does not hold up the others. After a round it starts another over the shards that
// still had work, reading Due again (to find shards that have work since) at most once per
// IdlePoll, or when none is left; it waits to be woken when no shard has work.
func (p *Pipeline) worker(ctx context.Context, id int) {
	work := context.WithoutCancel(ctx) // a claim in hand is finished even while stopping
	var done *store.Done
	todo := []int{id % p.Store.Shards()}
	next := 0
	var read time.Time // when Due was last read
	for {
		if ctx.Err() != nil {
			p.finish(work, done)
			return
		}
		if next >= len(todo) && len(todo) > 0 && time.Since(read) < IdlePoll {
			next = 0 // another round over the shards that still have work
		}
		if next >= len(todo) {
			read = time.Now()
			var ok bool
			if todo, ok = p.due(ctx); !ok {
				continue // the store is down: done stays in hand
			}
			next = 0
			if len(todo) == 0 && done != nil {
				// Nothing to piggy-back it on; its release may make work ready: look again.
				p.finish(work, done)
				done = nil
				continue
			}
			if len(todo) == 0 {
				s, ok := p.idle(ctx)
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
		if c == nil {
			todo = append(todo[:next], todo[next+1:]...) // drained
			continue
		}
		next++
		_, done = p.process(work, c, nil)
	}
}

// due lists the shards with work due; false when the store cannot say (after a pause).
func (p *Pipeline) due(ctx context.Context) ([]int, bool) {
	due, err := p.Store.Due(ctx, p.now())
	if err != nil {
		if ctx.Err() == nil {
			p.log().Error("looking for work failed", "err", err)
			p.sleep(ctx, time.Second)
		}
		return nil, false
	}
	return due, true
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

// idle waits for a wake-up from Accept or the poller, and returns the shard woken for.
func (p *Pipeline) idle(ctx context.Context) (int, bool) {
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
