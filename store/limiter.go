package store

import (
	"context"
	_ "embed"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/flowgate/flowgate/providers/whatsapp"
)

// LimiterConfig configures a Limiter; zero fields take the defaults of whatsapp.Config.
type LimiterConfig struct {
	// RatePerSecond is a phone number's throughput (default 80).
	RatePerSecond float64
	// Burst is the number's bucket size (default one second's worth of RatePerSecond).
	Burst int
	// PairInterval is the steady pace of messages to one recipient (default 6 s).
	PairInterval time.Duration
	// PairBurst is how many messages one recipient may get at once (default 10, at most 45).
	PairBurst int
	// Clock tells the time and sleeps (default whatsapp.RealClock{}).
	Clock whatsapp.Clock
	// OnError, when set, is told when Redis could not be reached: the wait then falls back to
	// pacing this process alone, and Defer has no error to return.
	OnError func(error)
}

// deferTimeout bounds Defer's round trip, which has no context of its own.
const deferTimeout = 5 * time.Second

//go:embed lua/gcra.lua
var luaGCRA string

var gcraScript = redis.NewScript(luaGCRA)

// Limiter is a whatsapp.Pacer whose GCRA schedules live in Redis, so that every process
// sending from a phone number draws on the same throughput and pair budgets. Its semantics are
// whatsapp.Limiter's: a wait attempt (one script, one round trip) books the event when the
// schedule allows it, or books nothing and tells how long to sleep before trying again. A
// Limiter is safe for concurrent use.
type Limiter struct {
	c       redis.UniversalClient
	k       keys
	clock   whatsapp.Clock
	onError func(error)

	numberInterval, numberTolerance time.Duration
	pairInterval, pairTolerance     time.Duration
	// local paces this process alone while Redis cannot be reached, so that an outage slows
	// sends down to one process's share instead of failing them.
	local *whatsapp.Limiter
}

var _ whatsapp.Pacer = (*Limiter)(nil)

// NewLimiter returns a Limiter keeping its schedules in c under prefix (default "fg:"; the
// keys are named in keys.go).
func NewLimiter(c redis.UniversalClient, prefix string, cfg LimiterConfig) *Limiter {
	if prefix == "" {
		prefix = DefaultPrefix
	}
	if cfg.RatePerSecond <= 0 {
		cfg.RatePerSecond = whatsapp.DefaultRatePerSecond
	}
	if cfg.Burst <= 0 {
		cfg.Burst = max(1, int(cfg.RatePerSecond))
	}
	if cfg.PairInterval <= 0 {
		cfg.PairInterval = whatsapp.DefaultPairInterval
	}
	if cfg.PairBurst <= 0 {
		cfg.PairBurst = whatsapp.DefaultPairBurst
	}
	cfg.PairBurst = min(cfg.PairBurst, whatsapp.MaxPairBurst)
	if cfg.Clock == nil {
		cfg.Clock = whatsapp.RealClock{}
	}
	ni := max(time.Duration(float64(time.Second)/cfg.RatePerSecond), time.Microsecond)
	pi := max(cfg.PairInterval, time.Microsecond)
	return &Limiter{
		local: whatsapp.NewLimiter(whatsapp.Config{RatePerSecond: cfg.RatePerSecond, Burst: cfg.Burst,
			PairInterval: cfg.PairInterval, PairBurst: cfg.PairBurst, Clock: cfg.Clock}),
		c:               c,
		k:               keys{prefix},
		clock:           cfg.Clock,
		onError:         cfg.OnError,
		numberInterval:  ni,
		numberTolerance: time.Duration(cfg.Burst-1) * ni,
		pairInterval:    pi,
		pairTolerance:   time.Duration(cfg.PairBurst-1) * pi,
	}
}

// Wait blocks until a message from phoneNumberID to recipient may go: the pair first (an empty
// recipient, a read receipt, skips it), then the number's throughput.
func (l *Limiter) Wait(ctx context.Context, phoneNumberID, recipient string) error {
	if recipient != "" {
		if err := l.WaitPair(ctx, phoneNumberID, recipient); err != nil {
			return err
		}
	}
	return l.WaitNumber(ctx, phoneNumberID)
}

// WaitNumber blocks until the phone number's bucket has a token, or until ctx is done.
func (l *Limiter) WaitNumber(ctx context.Context, phoneNumberID string) error {
	err := l.wait(ctx, l.k.rateNumber(phoneNumberID), l.numberInterval, l.numberTolerance)
	if err != nil && ctx.Err() == nil {
		l.fellBack(err)
		return l.local.WaitNumber(ctx, phoneNumberID)
	}
	if err != nil {
		return fmt.Errorf("store: waiting for throughput of %s: %w", phoneNumberID, err)
	}
	return nil
}

// WaitPair blocks until recipient may get another message from phoneNumberID, or until ctx is
// done.
func (l *Limiter) WaitPair(ctx context.Context, phoneNumberID, recipient string) error {
	err := l.wait(ctx, l.k.ratePair(phoneNumberID, recipient), l.pairInterval, l.pairTolerance)
	if err != nil && ctx.Err() == nil {
		l.fellBack(err)
		return l.local.WaitPair(ctx, phoneNumberID, recipient)
	}
	if err != nil {
		return fmt.Errorf("store: pacing messages to recipient: %w", err)
	}
	return nil
}

// Defer holds every further message from phoneNumberID to recipient for at least d from now.
// A failure to reach Redis goes to LimiterConfig.OnError.
func (l *Limiter) Defer(phoneNumberID, recipient string, d time.Duration) {
	l.local.Defer(phoneNumberID, recipient, d)
	ctx, cancel := context.WithTimeout(context.Background(), deferTimeout)
	defer cancel()
	hold := max(d.Microseconds(), 0)
	err := gcraScript.Run(ctx, l.c, []string{l.k.ratePair(phoneNumberID, recipient)},
		l.clock.Now().UnixMicro(), l.pairInterval.Microseconds(), l.pairTolerance.Microseconds(), hold).Err()
	if err != nil && l.onError != nil {
		l.onError(fmt.Errorf("store: deferring messages to recipient: %w", err))
	}
}

// fellBack reports that Redis could not be reached and the process paces alone.
func (l *Limiter) fellBack(err error) {
	if l.onError != nil {
		l.onError(fmt.Errorf("store: limiter schedules unreachable, pacing this process alone: %w", err))
	}
}

// wait runs the schedule's script until it books the event, sleeping as long as it says in
// between.
func (l *Limiter) wait(ctx context.Context, key string, interval, tolerance time.Duration) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		us, err := gcraScript.Run(ctx, l.c, []string{key},
			l.clock.Now().UnixMicro(), interval.Microseconds(), tolerance.Microseconds(), "").Int64()
		if err != nil {
			return err
		}
		if us <= 0 {
			return nil
		}
		if err := l.clock.Sleep(ctx, time.Duration(us)*time.Microsecond); err != nil {
			return err
		}
	}
}
