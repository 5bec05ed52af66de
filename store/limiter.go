package store

import (
	"context"
	_ "embed"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/flowgate/flowgate/providers/channel"
	"github.com/flowgate/flowgate/providers/meta"
)

// LimiterConfig configures a Limiter: the schedules' rates and bursts as for the in-process
// meta.Limiter (zero fields take its defaults), and what to do when Redis is away.
type LimiterConfig struct {
	meta.LimiterConfig
	// OnError, when set, is told when Redis could not be reached: the wait then falls back to
	// pacing this process alone, and Defer has no error to return.
	OnError func(error)
}

// deferTimeout bounds Defer's round trip, which has no context of its own.
const deferTimeout = 5 * time.Second

//go:embed lua/gcra.lua
var luaGCRA string

var gcraScript = redis.NewScript(luaGCRA)

// Limiter is a channel.Pacer whose GCRA schedules live in Redis, so that every process
// sending from a business account draws on the same throughput and pair budgets. Its semantics
// are meta.Limiter's: a wait attempt (one script, one round trip) books the event when the
// schedule allows it, or books nothing and tells how long to sleep before trying again. A
// Limiter is safe for concurrent use.
type Limiter struct {
	c       redis.UniversalClient
	k       keys
	clock   channel.Clock
	onError func(error)

	numberInterval, numberTolerance time.Duration
	pairInterval, pairTolerance     time.Duration
	// local paces this process alone while Redis cannot be reached, so that an outage slows
	// sends down to one process's share instead of failing them.
	local *meta.Limiter
}

var _ channel.Pacer = (*Limiter)(nil)

// NewLimiter returns a Limiter keeping its schedules in c under prefix (default "fg:"; the
// keys are named in keys.go).
func NewLimiter(c redis.UniversalClient, prefix string, cfg LimiterConfig) *Limiter {
	if prefix == "" {
		prefix = DefaultPrefix
	}
	cfg.LimiterConfig = cfg.LimiterConfig.WithDefaults()
	ni := max(time.Duration(float64(time.Second)/cfg.RatePerSecond), time.Microsecond)
	pi := max(cfg.PairInterval, time.Microsecond)
	return &Limiter{
		local:           meta.NewLimiter(cfg.LimiterConfig),
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

// Wait blocks until a message from phoneNumberID to recipient may go on both the pair's and
// the number's schedule, booked together in one round trip (an empty recipient, a read
// receipt, skips the pair).
func (l *Limiter) Wait(ctx context.Context, phoneNumberID, recipient string) error {
	scheds := []schedule{{l.k.rateNumber(phoneNumberID), l.numberInterval, l.numberTolerance}}
	if recipient != "" {
		scheds = append(scheds, schedule{l.k.ratePair(phoneNumberID, recipient), l.pairInterval, l.pairTolerance})
	}
	err := l.wait(ctx, scheds...)
	if err != nil && ctx.Err() == nil {
		l.fellBack(err)
		return l.local.Wait(ctx, phoneNumberID, recipient)
	}
	if err != nil {
		return fmt.Errorf("store: pacing messages from %s: %w", phoneNumberID, err)
	}
	return nil
}

// WaitNumber blocks until the phone number's bucket has a token, or until ctx is done.
func (l *Limiter) WaitNumber(ctx context.Context, phoneNumberID string) error {
	err := l.wait(ctx, schedule{l.k.rateNumber(phoneNumberID), l.numberInterval, l.numberTolerance})
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
	err := l.wait(ctx, schedule{l.k.ratePair(phoneNumberID, recipient), l.pairInterval, l.pairTolerance})
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
		l.clock.Now().UnixMicro(), hold, l.pairInterval.Microseconds(), l.pairTolerance.Microseconds()).Err()
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

// schedule is one GCRA schedule: its key, interval and tolerance.
type schedule struct {
	key                 string
	interval, tolerance time.Duration
}

// wait runs the schedules' script until it books the event on all of them, sleeping as long
// as it says in between.
func (l *Limiter) wait(ctx context.Context, scheds ...schedule) error {
	keys := make([]string, len(scheds))
	args := make([]any, 2, 2+2*len(scheds))
	for i, s := range scheds {
		keys[i] = s.key
		args = append(args, s.interval.Microseconds(), s.tolerance.Microseconds())
	}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		args[0], args[1] = l.clock.Now().UnixMicro(), ""
		us, err := gcraScript.Run(ctx, l.c, keys, args...).Int64()
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
