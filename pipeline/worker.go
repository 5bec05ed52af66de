package pipeline

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/flowgate/flowgate/store"
)

// IdlePoll is how long an idle worker waits before looking for work again, when no webhook
// of its own process woke it: the delay before another process's events or a due timer are
// picked up.
const IdlePoll = 200 * time.Millisecond

// shutdownGrace bounds how long a stopping worker spends finishing the claim in hand.
const shutdownGrace = 30 * time.Second

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
	wg.Wait()
}

// worker claims and processes conversations, starting at its own shard and moving on when a
// shard has no work.
func (p *Pipeline) worker(ctx context.Context, id int) {
	shards := p.Store.Shards()
	shard := id % shards
	work := context.WithoutCancel(ctx) // a claim in hand is finished even while stopping
	var done *store.Done
	empty := 0 // shards found empty in a row
	for {
		if ctx.Err() != nil {
			p.finish(work, done)
			return
		}
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
			empty++
			shard = (shard + 1) % shards
			if empty >= shards {
				empty = 0
				if s, ok := p.idle(ctx); ok {
					shard = s
				}
			}
			continue
		}
		empty = 0
		shard = c.Shard
		tctx, cancel := context.WithTimeout(work, shutdownGrace+p.lease())
		_, done = p.process(tctx, c, nil)
		cancel()
	}
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

// idle waits for a wake-up from Accept or IdlePoll, and returns the shard woken for.
func (p *Pipeline) idle(ctx context.Context) (int, bool) {
	t := time.NewTimer(IdlePoll)
	defer t.Stop()
	select {
	case s := <-p.wake:
		return s, true
	case <-t.C:
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
