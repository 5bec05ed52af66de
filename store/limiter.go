package store

import (
	"context"
	_ "embed"
	"fmt"
	"sync"
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

//go:embed lua/book.lua
var luaBook string

var bookScript = redis.NewScript(luaBook)

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
	if at, ok := l.booked(ctx, phoneNumberID, recipient); ok {
		return l.until(ctx, at)
	}
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
	if at, ok := l.booked(ctx, phoneNumberID, ""); ok {
		return l.until(ctx, at)
	}
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

// until sleeps until at, a booked slot.
func (l *Limiter) until(ctx context.Context, at time.Time) error {
	if d := at.Sub(l.clock.Now()); d > 0 {
		if err := l.clock.Sleep(ctx, d); err != nil {
			return fmt.Errorf("store: waiting for a booked slot: %w", err)
		}
	}
	return nil
}

// booked takes the next slot of the Booking that ctx carries, when it is this Limiter's for
// phoneNumberID and recipient and has one left.
func (l *Limiter) booked(ctx context.Context, phoneNumberID, recipient string) (time.Time, bool) {
	b, _ := ctx.Value(bookingKey{}).(*Booking)
	if b == nil || b.Limiter != l || b.Account != phoneNumberID || b.Recipient != recipient {
		return time.Time{}, false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.slots) == 0 {
		return time.Time{}, false
	}
	at := b.slots[0]
	b.slots = b.slots[1:]
	return at, true
}

// Booking books a commit's replies on a Limiter's schedules in the commit's own round trip
// (Commit.Book), so that sending them costs no round trip of its own: the Limiter's Wait (or,
// without a Recipient, WaitNumber) finds the booking in its context (Context) and sleeps until
// the booked slot; a request beyond the booked ones (the second part of a split text, a retry)
// waits as usual. The messages are booked in order, each at the first time that both the
// account's and the recipient's schedule allow, and count against the schedules whether or not
// they go out: a message not sent (the lease was lost, the process died) leaves its slot unused.
// A Booking is used by one commit at a time.
type Booking struct {
	Limiter   *Limiter
	Account   string // the business account: phone number id, page id
	Recipient string // whose pace applies too; "" for the account's throughput alone
	N         int    // how many messages

	mu    sync.Mutex
	slots []time.Time // when each booked message may go, filled by the commit
}

type bookingKey struct{}

// Context returns ctx carrying b, for the sends of the booked messages.
func (b *Booking) Context(ctx context.Context) context.Context {
	return context.WithValue(ctx, bookingKey{}, b)
}

// call is the booking script, run in the commit's pipeline; now is the Limiter's.
func (b *Booking) call(now time.Time) *call {
	l := b.Limiter
	keys := []string{l.k.rateNumber(b.Account)}
	args := []any{now.UnixMicro(), b.N, l.numberInterval.Microseconds(), l.numberTolerance.Microseconds()}
	if b.Recipient != "" {
		keys = append(keys, l.k.ratePair(b.Account, b.Recipient))
		args = append(args, l.pairInterval.Microseconds(), l.pairTolerance.Microseconds())
	}
	return &call{script: bookScript, keys: keys, args: args}
}

// read records the slots the booking script answered (waits in µs from now); a failed booking
// records none, and the sends wait as usual.
func (b *Booking) read(c *call, now time.Time) {
	waits, err := c.cmd.Int64Slice()
	b.mu.Lock()
	defer b.mu.Unlock()
	b.slots = b.slots[:0]
	if err != nil {
		return
	}
	for _, w := range waits {
		b.slots = append(b.slots, now.Add(time.Duration(w)*time.Microsecond))
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
