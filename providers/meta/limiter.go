package meta

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/flowgate/flowgate/providers/channel"
)

// Pacing defaults, applied by NewLimiter to zero fields of a LimiterConfig: WhatsApp's
// documented throughput and pair rate.
const (
	DefaultRatePerSecond = 80
	DefaultPairInterval  = 6 * time.Second
	DefaultPairBurst     = 10
	MaxPairBurst         = 45
)

// LimiterConfig configures a Limiter.
type LimiterConfig struct {
	// RatePerSecond is an account's throughput: the token bucket's rate (default 80).
	RatePerSecond float64
	// Burst is the token bucket's size, default one second's worth of RatePerSecond.
	Burst int
	// PairInterval is the steady pace of messages to one recipient (default 6 s).
	PairInterval time.Duration
	// PairBurst is how many messages one recipient may get at once before pacing applies
	// (default 10, at most 45).
	PairBurst int
	// Clock tells the time and sleeps; default the real clock.
	Clock channel.Clock
}

// WithDefaults returns c with the defaults applied to its zero fields.
func (c LimiterConfig) WithDefaults() LimiterConfig {
	if c.RatePerSecond <= 0 {
		c.RatePerSecond = DefaultRatePerSecond
	}
	if c.Burst <= 0 {
		c.Burst = max(1, int(c.RatePerSecond))
	}
	if c.PairInterval <= 0 {
		c.PairInterval = DefaultPairInterval
	}
	if c.PairBurst <= 0 {
		c.PairBurst = DefaultPairBurst
	}
	c.PairBurst = min(c.PairBurst, MaxPairBurst)
	if c.Clock == nil {
		c.Clock = channel.RealClock{}
	}
	return c
}

var _ channel.Pacer = (*Limiter)(nil)

// Limiter paces sends in the process: a token bucket per business account (throughput) and a
// burst-aware pacer per (account, recipient) (WhatsApp's pair rate limit: 1 message per 6 s,
// bursts of up to 45 "borrowing" future quota). Both are GCRA schedules: a key's state is the
// theoretical arrival time of its next event, and an event may happen while that time is at
// most tolerance = (burst-1)·interval ahead of now. A burst of PairBurst messages therefore goes
// out at once and is then repaid at one message per PairInterval, exactly as Meta describes
// borrowing. Both schedules wait through the Clock, so they honour context cancellation. A
// Limiter is safe for concurrent use.
type Limiter struct {
	clock channel.Clock

	numberInterval, numberTolerance time.Duration
	pairInterval, pairTolerance     time.Duration

	mu      sync.Mutex
	numbers map[string]time.Time
	pairs   map[pairKey]time.Time
	ops     int // pair reservations since the last sweep
}

type pairKey struct{ number, recipient string }

// sweepEvery is how many pair reservations pass between sweeps of idle recipients.
const sweepEvery = 1024

// NewLimiter returns a Limiter built from cfg, with defaults applied to its zero fields.
func NewLimiter(cfg LimiterConfig) *Limiter {
	cfg = cfg.WithDefaults()
	ni := time.Duration(float64(time.Second) / cfg.RatePerSecond)
	if ni <= 0 {
		ni = 1
	}
	return &Limiter{
		clock:           cfg.Clock,
		numberInterval:  ni,
		numberTolerance: time.Duration(cfg.Burst-1) * ni,
		pairInterval:    cfg.PairInterval,
		pairTolerance:   time.Duration(cfg.PairBurst-1) * cfg.PairInterval,
		numbers:         map[string]time.Time{},
		pairs:           map[pairKey]time.Time{},
	}
}

// Wait blocks until a message from account to recipient may go, or until ctx is done. An
// empty recipient (a read receipt) skips the pair pacing. The pair pacer is waited for first,
// so that a message held for its recipient does not sit on a throughput token.
func (l *Limiter) Wait(ctx context.Context, account, recipient string) error {
	if recipient != "" {
		if err := l.WaitPair(ctx, account, recipient); err != nil {
			return err
		}
	}
	return l.WaitNumber(ctx, account)
}

// WaitNumber blocks until the account's token bucket has a token, or until ctx is done.
func (l *Limiter) WaitNumber(ctx context.Context, account string) error {
	err := l.wait(ctx, func(now time.Time) time.Duration {
		return reserve(l.numbers, account, now, l.numberInterval, l.numberTolerance)
	})
	if err != nil {
		return fmt.Errorf("waiting for throughput of %s: %w", account, err)
	}
	return nil
}

// WaitPair blocks until recipient may get another message from account, or until ctx is
// done.
func (l *Limiter) WaitPair(ctx context.Context, account, recipient string) error {
	k := pairKey{account, recipient}
	err := l.wait(ctx, func(now time.Time) time.Duration {
		l.ops++
		if l.ops >= sweepEvery {
			l.ops = 0
			for key, tat := range l.pairs {
				if !tat.After(now) { // fully repaid: same as never seen
					delete(l.pairs, key)
				}
			}
		}
		return reserve(l.pairs, k, now, l.pairInterval, l.pairTolerance)
	})
	if err != nil {
		return fmt.Errorf("pacing messages to recipient: %w", err)
	}
	return nil
}

// Defer holds every further message from account to recipient for at least d from now;
// the client calls it when Meta answers 131056 (WhatsApp's pair rate limit hit).
func (l *Limiter) Defer(account, recipient string, d time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	k := pairKey{account, recipient}
	until := l.clock.Now().Add(d + l.pairTolerance)
	if until.After(l.pairs[k]) {
		l.pairs[k] = until
	}
}

// wait calls try under the lock until it reports no wait, sleeping in between.
func (l *Limiter) wait(ctx context.Context, try func(now time.Time) time.Duration) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		l.mu.Lock()
		d := try(l.clock.Now())
		l.mu.Unlock()
		if d <= 0 {
			return nil
		}
		if err := l.clock.Sleep(ctx, d); err != nil {
			return err
		}
	}
}

// reserve books an event for key at now when the schedule allows it and returns 0, or returns
// how long to wait before trying again (and books nothing).
func reserve[K comparable](m map[K]time.Time, key K, now time.Time, interval, tolerance time.Duration) time.Duration {
	tat := m[key]
	if tat.Before(now) {
		tat = now
	}
	if d := tat.Sub(now) - tolerance; d > 0 {
		return d
	}
	m[key] = tat.Add(interval)
	return 0
}
