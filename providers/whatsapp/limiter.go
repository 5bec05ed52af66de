package whatsapp

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Pacer is what a [Client] waits on before each request: the per-number throughput and the
// per-recipient pair rate. [Limiter] keeps the schedules in the process; an implementation
// that keeps them in Redis shares them between processes.
type Pacer interface {
	// Wait blocks until a message from phoneNumberID to recipient may go on both schedules
	// (an empty recipient skips the pair).
	Wait(ctx context.Context, phoneNumberID, recipient string) error
	// WaitPair blocks until recipient may get another message from phoneNumberID.
	WaitPair(ctx context.Context, phoneNumberID, recipient string) error
	// WaitNumber blocks until phoneNumberID may send another request.
	WaitNumber(ctx context.Context, phoneNumberID string) error
	// Defer holds every further message from phoneNumberID to recipient for at least d.
	Defer(phoneNumberID, recipient string, d time.Duration)
}

var _ Pacer = (*Limiter)(nil)

// Limiter paces sends: a token bucket per phone number id (throughput) and a burst-aware pacer
// per (phone number id, recipient) (Meta's pair rate limit). Both are GCRA schedules: a key's
// state is the theoretical arrival time of its next event, and an event may happen while that
// time is at most tolerance = (burst-1)·interval ahead of now. See the package documentation.
// A Limiter is safe for concurrent use.
type Limiter struct {
	clock Clock

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

// NewLimiter returns a Limiter built from cfg's RatePerSecond, Burst, PairInterval, PairBurst
// and Clock (defaults applied as for a Client).
func NewLimiter(cfg Config) *Limiter {
	cfg = cfg.withDefaults()
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

// Wait blocks until a message from phoneNumberID to recipient may go, or until ctx is done. An
// empty recipient (a read receipt) skips the pair pacing. The pair pacer is waited for first,
// so that a message held for its recipient does not sit on a throughput token.
func (l *Limiter) Wait(ctx context.Context, phoneNumberID, recipient string) error {
	if recipient != "" {
		if err := l.WaitPair(ctx, phoneNumberID, recipient); err != nil {
			return err
		}
	}
	return l.WaitNumber(ctx, phoneNumberID)
}

// WaitNumber blocks until the phone number's token bucket has a token, or until ctx is done.
func (l *Limiter) WaitNumber(ctx context.Context, phoneNumberID string) error {
	err := l.wait(ctx, func(now time.Time) time.Duration {
		return reserve(l.numbers, phoneNumberID, now, l.numberInterval, l.numberTolerance)
	})
	if err != nil {
		return fmt.Errorf("whatsapp: waiting for throughput of %s: %w", phoneNumberID, err)
	}
	return nil
}

// WaitPair blocks until recipient may get another message from phoneNumberID, or until ctx is
// done.
func (l *Limiter) WaitPair(ctx context.Context, phoneNumberID, recipient string) error {
	k := pairKey{phoneNumberID, recipient}
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
		return fmt.Errorf("whatsapp: pacing messages to recipient: %w", err)
	}
	return nil
}

// Defer holds every further message from phoneNumberID to recipient for at least d from now;
// the client calls it when Meta answers 131056 (pair rate limit hit).
func (l *Limiter) Defer(phoneNumberID, recipient string, d time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	k := pairKey{phoneNumberID, recipient}
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
