package store

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/flowgate/flowgate/engine"
	"github.com/flowgate/flowgate/providers/channel"
	"github.com/flowgate/flowgate/providers/meta"
)

// fakeClock is a channel.Clock whose Sleep advances its time at once.
type fakeClock struct {
	mu    sync.Mutex
	t     time.Time
	slept []time.Duration
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	c.slept = append(c.slept, d)
	return nil
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// limiterOp is one step of a pacing script: wait for the number, wait for a pair, defer a
// pair, or let time pass.
type limiterOp struct {
	op        string // "number", "pair", "defer", "advance"
	recipient string
	d         time.Duration
}

// runOps runs ops on p and returns the time, relative to the start, after each one.
func runOps(t *testing.T, p channel.Pacer, clk *fakeClock, ops []limiterOp) []time.Duration {
	t.Helper()
	t0 := clk.Now()
	var at []time.Duration
	for _, o := range ops {
		var err error
		switch o.op {
		case "number":
			err = p.WaitNumber(t.Context(), "p1")
		case "pair":
			err = p.WaitPair(t.Context(), "p1", o.recipient)
		case "defer":
			p.Defer("p1", o.recipient, o.d)
		case "advance":
			clk.Advance(o.d)
		}
		if err != nil {
			t.Fatalf("%+v: %v", o, err)
		}
		at = append(at, clk.Now().Sub(t0))
	}
	return at
}

// TestLimiterMatchesInProcessLimiter runs the same script on meta.Limiter and on the Redis
// Limiter: every wait must end at the same time.
func TestLimiterMatchesInProcessLimiter(t *testing.T) {
	var ops []limiterOp
	for range 8 {
		ops = append(ops, limiterOp{op: "number"})
	}
	ops = append(ops, limiterOp{op: "advance", d: 250 * time.Millisecond}, limiterOp{op: "number"}, limiterOp{op: "number"})
	for range 4 {
		ops = append(ops, limiterOp{op: "pair", recipient: "r1"}, limiterOp{op: "pair", recipient: "r2"})
	}
	ops = append(ops, limiterOp{op: "defer", recipient: "r2", d: 20 * time.Second}, limiterOp{op: "pair", recipient: "r1"},
		limiterOp{op: "pair", recipient: "r2"}, limiterOp{op: "advance", d: time.Minute}, limiterOp{op: "pair", recipient: "r1"},
		limiterOp{op: "defer", recipient: "r1", d: 0}, limiterOp{op: "pair", recipient: "r1"})

	start := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	memClock := &fakeClock{t: start}
	mem := meta.NewLimiter(meta.LimiterConfig{RatePerSecond: 10, Burst: 3, PairInterval: 6 * time.Second, PairBurst: 2, Clock: memClock})
	want := runOps(t, mem, memClock, ops)
	t.Logf("meta.Limiter: %v", want)

	each(t, func(t *testing.T, b backend) {
		clk := &fakeClock{t: start}
		l := NewLimiter(b.r.Client(), b.r.k.prefix, LimiterConfig{LimiterConfig: meta.LimiterConfig{RatePerSecond: 10, Burst: 3, PairInterval: 6 * time.Second, PairBurst: 2, Clock: clk}})
		got := runOps(t, l, clk, ops)
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("times after each step:\n got %v\nwant %v (meta.Limiter)", got, want)
		}
	})
}

// TestLimitersShareTheBudget paces two Limiters of the same phone number, as two processes
// would have: together they get one burst and one rate.
func TestLimitersShareTheBudget(t *testing.T) {
	each(t, func(t *testing.T, b backend) {
		clk := &fakeClock{t: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
		cfg := LimiterConfig{LimiterConfig: meta.LimiterConfig{RatePerSecond: 10, Burst: 5, PairInterval: 6 * time.Second, PairBurst: 2, Clock: clk}}
		ls := []*Limiter{NewLimiter(b.r.Client(), b.r.k.prefix, cfg), NewLimiter(b.r.Client(), b.r.k.prefix, cfg)}
		t0 := clk.Now()
		for i := range 10 {
			if err := ls[i%2].WaitNumber(t.Context(), "p1"); err != nil {
				t.Fatal(err)
			}
		}
		// A burst of 5, then one every 100 ms.
		if got := clk.Now().Sub(t0); got != 500*time.Millisecond {
			t.Errorf("10 requests of two limiters took %v, want 500ms", got)
		}
		for i := range 3 {
			if err := ls[i%2].WaitPair(t.Context(), "p1", "r1"); err != nil {
				t.Fatal(err)
			}
		}
		if got := clk.Now().Sub(t0); got != 500*time.Millisecond+6*time.Second {
			t.Errorf("3 messages to one recipient from two limiters ended at %v, want 6.5s", got)
		}
		// Another phone number has its own budget; a wait that books at once is one round trip.
		ok(t, b.r.LoadScripts(t.Context())) // on a cluster, p2's node may not have run the script yet
		before, trips := clk.Now(), b.rt.n.Load()
		if err := ls[1].WaitNumber(t.Context(), "p2"); err != nil || clk.Now() != before {
			t.Errorf("another number waited %v (%v)", clk.Now().Sub(before), err)
		}
		if n := b.rt.n.Load() - trips; n != 1 {
			t.Errorf("WaitNumber without waiting: %d round trips, want 1", n)
		}
	})
}

// TestLimitersShareTheBudgetConcurrently runs two Limiters on the real clock from many
// goroutines: 20 requests at 100/s with a burst of 1 take at least 190 ms.
func TestLimitersShareTheBudgetConcurrently(t *testing.T) {
	each(t, func(t *testing.T, b backend) {
		cfg := LimiterConfig{LimiterConfig: meta.LimiterConfig{RatePerSecond: 100, Burst: 1}}
		ls := []*Limiter{NewLimiter(b.r.Client(), b.r.k.prefix, cfg), NewLimiter(b.r.Client(), b.r.k.prefix, cfg)}
		t0 := time.Now()
		var wg sync.WaitGroup
		errs := make(chan error, 20)
		for i := range 20 {
			wg.Go(func() { errs <- ls[i%2].WaitNumber(t.Context(), "p1") })
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		if got := time.Since(t0); got < 190*time.Millisecond {
			t.Errorf("20 requests at 100/s took %v, want at least 190ms", got)
		}
	})
}

func TestLimiterStopsWithContext(t *testing.T) {
	each(t, func(t *testing.T, b backend) {
		clk := &fakeClock{t: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
		l := NewLimiter(b.r.Client(), b.r.k.prefix, LimiterConfig{LimiterConfig: meta.LimiterConfig{PairBurst: 1, Clock: clk}})
		if err := l.WaitPair(t.Context(), "p1", "r1"); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if err := l.WaitPair(ctx, "p1", "r1"); err == nil {
			t.Error("WaitPair with a cancelled context returned nil")
		}
		var got error
		var closed redis.UniversalClient
		if cc, isCluster := b.r.Client().(*redis.ClusterClient); isCluster {
			closed = redis.NewClusterClient(&redis.ClusterOptions{Addrs: cc.Options().Addrs})
		} else {
			closed = redis.NewClient(&redis.Options{Addr: b.r.Client().(*redis.Client).Options().Addr})
		}
		closed.Close()
		bad := NewLimiter(closed, b.r.k.prefix, LimiterConfig{LimiterConfig: meta.LimiterConfig{Clock: clk}, OnError: func(err error) { got = err }})
		bad.Defer("p1", "r1", time.Second)
		if got == nil {
			t.Error("Defer on a closed client did not report the error")
		}
	})
}

// TestBookingInCommit books a commit's three replies on the schedules in the commit's round
// trip: the sends then wait for their slots (the pair's burst of 2, then its 6 s pace) without
// a round trip each; a send beyond the booking, or to another recipient, asks Redis as usual
// and finds the booked messages counted.
func TestBookingInCommit(t *testing.T) {
	each(t, func(t *testing.T, b backend) {
		clk := &fakeClock{t: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
		l := NewLimiter(b.r.Client(), b.r.k.prefix, LimiterConfig{LimiterConfig: meta.LimiterConfig{RatePerSecond: 10, Burst: 3, PairInterval: 6 * time.Second, PairBurst: 2, Clock: clk}})
		cv := engine.Conversation{Tenant: "t", Team: "x", Channel: "whatsapp", Account: "p1", User: "r1"}
		now := b.clock.Now()
		if _, err := b.r.Enqueue(t.Context(), []Item{{Conv: cv, Data: []byte("e1")}}, 0, now); err != nil {
			t.Fatal(err)
		}
		c, err := b.r.Claim(t.Context(), b.r.ShardOf(cv), now, time.Minute, nil)
		if err != nil || c == nil {
			t.Fatalf("claim: %v, %v", c, err)
		}
		book := &Booking{Limiter: l, Account: "p1", Recipient: "r1", N: 3}
		for _, sc := range []*redis.Script{commitScript, bookScript} { // so that EVALSHA finds them
			if err := sc.Load(t.Context(), b.r.Client()).Err(); err != nil {
				t.Fatal(err)
			}
		}
		trips := b.rt.n.Load()
		err = b.r.Commit(t.Context(), c, &Commit{State: []byte("s"), Pop: true, Outbox: [][]byte{[]byte("a"), []byte("b"), []byte("c")}, Book: book}, now, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if b.rt.n.Load()-trips != 1 {
			t.Errorf("commit with a booking: %d round trips, want 1", b.rt.n.Load()-trips)
		}
		t0 := clk.Now()
		ctx := book.Context(t.Context())
		trips = b.rt.n.Load()
		var at []time.Duration
		for range 3 {
			if err := l.Wait(ctx, "p1", "r1"); err != nil {
				t.Fatal(err)
			}
			at = append(at, clk.Now().Sub(t0))
		}
		if b.rt.n.Load() != trips {
			t.Errorf("booked sends made %d round trips, want none", b.rt.n.Load()-trips)
		}
		if want := []time.Duration{0, 0, 6 * time.Second}; !slices.Equal(at, want) {
			t.Errorf("booked sends went at %v, want %v", at, want)
		}
		if err := l.Wait(ctx, "p1", "r1"); err != nil {
			t.Fatal(err)
		}
		if got := clk.Now().Sub(t0); got != 12*time.Second {
			t.Errorf("a send beyond the booking went at %v, want 12s (after the booked ones)", got)
		}
		trips = b.rt.n.Load()
		if err := l.Wait(ctx, "p1", "r2"); err != nil {
			t.Fatal(err)
		}
		if b.rt.n.Load()-trips != 1 {
			t.Errorf("a send to another recipient: %d round trips, want 1 (not booked)", b.rt.n.Load()-trips)
		}
		// A send waiting for its booked slot stops with its context (the lease was lost).
		late := &Booking{Limiter: l, Account: "p1", Recipient: "r1", N: 1}
		late.read(&call{cmd: redis.NewCmd(t.Context())}, clk.Now()) // no slots: a failed booking
		if at, ok := l.booked(late.Context(t.Context()), "p1", "r1"); ok {
			t.Errorf("a failed booking gave a slot at %v", at)
		}
		late.slots = []time.Time{clk.Now().Add(time.Minute)}
		ctx, cancel := context.WithCancel(late.Context(t.Context()))
		cancel()
		if err := l.Wait(ctx, "p1", "r1"); err == nil {
			t.Error("a booked send with a cancelled context did not stop")
		}
	})
}
