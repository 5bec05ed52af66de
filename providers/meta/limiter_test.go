package meta

import (
	"context"
	"errors"
	"reflect"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/flowgate/flowgate/internal/testclock"
)

// testPNID is an account id as WhatsApp names it: a phone number id.
const testPNID = "106540352242922"

func newTestLimiter(clock *testclock.Clock, tweak func(*LimiterConfig)) *Limiter {
	cfg := LimiterConfig{Clock: clock}
	if tweak != nil {
		tweak(&cfg)
	}
	return NewLimiter(cfg)
}

func TestLimiterThroughput(t *testing.T) {
	clock := testclock.New()
	l := newTestLimiter(clock, func(c *LimiterConfig) { c.RatePerSecond = 2; c.Burst = 2 })
	ctx := context.Background()
	for range 2 {
		if err := l.WaitNumber(ctx, testPNID); err != nil {
			t.Fatal(err)
		}
	}
	if len(clock.Sleeps()) != 0 {
		t.Fatalf("the burst waited: %v", clock.Sleeps())
	}
	if err := l.WaitNumber(ctx, testPNID); err != nil {
		t.Fatal(err)
	}
	if got := clock.Sleeps(); !reflect.DeepEqual(got, []time.Duration{500 * time.Millisecond}) {
		t.Errorf("third token waited %v, want [500ms]", got)
	}
	// Another phone number has its own bucket.
	if err := l.WaitNumber(ctx, "113269274970227"); err != nil {
		t.Fatal(err)
	}
	if len(clock.Sleeps()) != 1 {
		t.Errorf("another number waited: %v", clock.Sleeps())
	}
	// After a full second of rest the burst is back.
	clock.Advance(time.Second)
	for range 2 {
		_ = l.WaitNumber(ctx, testPNID)
	}
	if len(clock.Sleeps()) != 1 {
		t.Errorf("refilled bucket waited: %v", clock.Sleeps())
	}
}

func TestLimiterDefaultThroughput(t *testing.T) {
	clock := testclock.New()
	l := newTestLimiter(clock, nil) // 80/s, burst 80
	for range 80 {
		_ = l.WaitNumber(context.Background(), testPNID)
	}
	if len(clock.Sleeps()) != 0 {
		t.Fatalf("default burst of 80 waited %v", clock.Sleeps())
	}
	_ = l.WaitNumber(context.Background(), testPNID)
	if got := clock.Sleeps(); !reflect.DeepEqual(got, []time.Duration{12500 * time.Microsecond}) {
		t.Errorf("81st message waited %v, want [12.5ms]", got)
	}
}

// TestLimiterPairBurst checks Meta's borrowing model: a burst goes at once, then one message per
// interval, and the burst comes back only once the borrowed quota is repaid.
func TestLimiterPairBurst(t *testing.T) {
	clock := testclock.New()
	l := newTestLimiter(clock, func(c *LimiterConfig) { c.PairBurst = 3 }) // interval 6 s by default
	ctx := context.Background()
	const a, b = "+16505551234", "+447700900123"
	for range 3 {
		_ = l.WaitPair(ctx, testPNID, a)
	}
	if len(clock.Sleeps()) != 0 {
		t.Fatalf("burst waited %v", clock.Sleeps())
	}
	_ = l.WaitPair(ctx, testPNID, a)
	_ = l.WaitPair(ctx, testPNID, a)
	if got := clock.Sleeps(); !reflect.DeepEqual(got, []time.Duration{6 * time.Second, 6 * time.Second}) {
		t.Errorf("after the burst waited %v, want [6s 6s]", got)
	}
	// Another recipient, or the same recipient on another number, is not held.
	_ = l.WaitPair(ctx, testPNID, b)
	_ = l.WaitPair(ctx, "113269274970227", a)
	if len(clock.Sleeps()) != 2 {
		t.Errorf("other pairs waited %v", clock.Sleeps())
	}
	// 12 s of rest repays two messages: two go at once, the third waits.
	clock.Advance(12 * time.Second)
	_ = l.WaitPair(ctx, testPNID, a)
	_ = l.WaitPair(ctx, testPNID, a)
	if len(clock.Sleeps()) != 2 {
		t.Errorf("repaid quota waited %v", clock.Sleeps())
	}
	_ = l.WaitPair(ctx, testPNID, a)
	if got := clock.Sleeps(); len(got) != 3 || got[2] != 6*time.Second {
		t.Errorf("sleeps = %v, want a third of 6s", got)
	}
}

func TestLimiterPairBurstClamped(t *testing.T) {
	l := NewLimiter(LimiterConfig{PairBurst: 100})
	if want := 44 * DefaultPairInterval; l.pairTolerance != want {
		t.Errorf("tolerance = %v, want %v (45 messages)", l.pairTolerance, want)
	}
	d := NewLimiter(LimiterConfig{})
	if want := (DefaultPairBurst - 1) * DefaultPairInterval; d.pairTolerance != want {
		t.Errorf("default tolerance = %v, want %v", d.pairTolerance, want)
	}
}

func TestLimiterDefer(t *testing.T) {
	clock := testclock.New()
	l := newTestLimiter(clock, nil)
	ctx := context.Background()
	l.Defer(testPNID, "+16505551234", 16*time.Second)
	_ = l.WaitPair(ctx, testPNID, "+447700900123")
	if len(clock.Sleeps()) != 0 {
		t.Fatalf("another recipient waited %v", clock.Sleeps())
	}
	_ = l.WaitPair(ctx, testPNID, "+16505551234")
	if got := clock.Sleeps(); !reflect.DeepEqual(got, []time.Duration{16 * time.Second}) {
		t.Errorf("deferred recipient waited %v, want [16s]", got)
	}
	// A shorter Defer does not shorten a longer hold.
	l.Defer(testPNID, "+447700900123", 30*time.Second)
	l.Defer(testPNID, "+447700900123", time.Second)
	_ = l.WaitPair(ctx, testPNID, "+447700900123")
	if got := clock.Sleeps(); len(got) != 2 || got[1] != 30*time.Second {
		t.Errorf("sleeps = %v, want a second of 30s", got)
	}
}

func TestLimiterHonoursContext(t *testing.T) {
	clock := testclock.New()
	l := newTestLimiter(clock, func(c *LimiterConfig) { c.PairBurst = 1; c.RatePerSecond = 1; c.Burst = 1 })
	bg := context.Background()
	_ = l.Wait(bg, testPNID, "+16505551234") // both schedules now full

	t.Run("already cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(bg)
		cancel()
		if err := l.Wait(ctx, testPNID, "+16505551234"); !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v", err)
		}
		if err := l.WaitNumber(ctx, testPNID); !errors.Is(err, context.Canceled) {
			t.Errorf("number err = %v", err)
		}
	})
	t.Run("cancelled while waiting books nothing", func(t *testing.T) {
		ctx, cancel := context.WithCancel(bg)
		clock.OnSleep = func(time.Duration) { cancel() }
		err := l.WaitPair(ctx, testPNID, "+16505551234")
		clock.OnSleep = nil
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v", err)
		}
		before := len(clock.Sleeps())
		// The abandoned wait did not take a slot: the next message waits one interval, not two.
		_ = l.WaitPair(bg, testPNID, "+16505551234")
		if got := clock.Sleeps()[before:]; !reflect.DeepEqual(got, []time.Duration{6 * time.Second}) {
			t.Errorf("next wait %v, want [6s]", got)
		}
	})
}

func TestLimiterSweepsIdleRecipients(t *testing.T) {
	clock := testclock.New()
	l := newTestLimiter(clock, nil)
	ctx := context.Background()
	for i := range 3000 {
		_ = l.WaitPair(ctx, testPNID, "user-"+strconv.Itoa(i))
	}
	clock.Advance(DefaultPairInterval + time.Second) // every recipient fully repaid
	for i := range sweepEvery {
		_ = l.WaitPair(ctx, testPNID, "late-"+strconv.Itoa(i))
	}
	l.mu.Lock()
	n := len(l.pairs)
	l.mu.Unlock()
	if n > sweepEvery {
		t.Errorf("%d recipients still tracked after a sweep", n)
	}
}

// TestLimiterConcurrent runs waits from many goroutines (for the race detector). Every booking
// moves the schedule one interval forward and never back, so after 20 waits it is at least
// 20 intervals past the start whatever the interleaving; a lost booking would show.
func TestLimiterConcurrent(t *testing.T) {
	clock := testclock.New()
	start := clock.Now()
	l := newTestLimiter(clock, func(c *LimiterConfig) { c.RatePerSecond = 10; c.Burst = 5 })
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := l.Wait(context.Background(), testPNID, "user-"+strconv.Itoa(i%4)); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	l.mu.Lock()
	tat := l.numbers[testPNID]
	l.mu.Unlock()
	if min := start.Add(20 * 100 * time.Millisecond); tat.Before(min) {
		t.Errorf("schedule at %v, want at least %v", tat.Sub(start), min.Sub(start))
	}
}
