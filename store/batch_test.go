package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// fakeTrips is a round trip that records the calls of each send and answers each call with
// its first argument, blocking while its gate is held.
type fakeTrips struct {
	mu    sync.Mutex
	sends [][]any // the first argument of each call, per send
	gate  chan struct{}
	err   error
}

func (f *fakeTrips) send(ctx context.Context, calls []*call) error {
	if f.gate != nil {
		<-f.gate
	}
	var args []any
	for _, c := range calls {
		c.cmd = redis.NewCmd(ctx)
		c.cmd.SetVal(c.args[0])
		args = append(args, c.args[0])
	}
	f.mu.Lock()
	f.sends = append(f.sends, args)
	f.mu.Unlock()
	return f.err
}

func calls(names ...string) []*call {
	var cs []*call
	for _, n := range names {
		cs = append(cs, &call{args: []any{n}})
	}
	return cs
}

// queued waits until n operations wait in co's queue.
func queued(t *testing.T, co *coalescer, n int) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		co.mu.Lock()
		got := len(co.queued)
		co.mu.Unlock()
		if got == n {
			return
		}
	}
	t.Fatalf("%d operations never queued", n)
}

// busy returns a coalescer of one round trip in flight, with an operation "first" holding it
// until f.gate is closed.
func busy(t *testing.T) (*fakeTrips, *coalescer) {
	f := &fakeTrips{gate: make(chan struct{})}
	co := &coalescer{send: f.send, max: 1}
	go co.do(t.Context(), calls("first"), 0)
	for !func() bool { co.mu.Lock(); defer co.mu.Unlock(); return co.inFlight == 1 }() {
		time.Sleep(time.Millisecond)
	}
	return f, co
}

// TestCoalescerQuietSendsAtOnce: with no round trip in flight, an operation is sent alone,
// at once, in its caller's goroutine.
func TestCoalescerQuietSendsAtOnce(t *testing.T) {
	f := &fakeTrips{}
	co := &coalescer{send: f.send, max: 2}
	cs := calls("a", "b")
	if err := co.do(t.Context(), cs, 0); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(f.sends) != "[[a b]]" {
		t.Errorf("sends = %v, want [[a b]]", f.sends)
	}
	if v, _ := cs[1].cmd.Result(); v != "b" {
		t.Errorf("second call's answer = %v, want b", v)
	}
	if co.inFlight != 0 || len(co.queued) != 0 {
		t.Errorf("after the send: %d in flight, %d queued; want none", co.inFlight, len(co.queued))
	}
}

// TestCoalescerBusySharesRoundTrips: operations that arrive while every round trip is in
// flight go together in the next one, each with its calls together and in order, and each
// gets its own answers.
func TestCoalescerBusySharesRoundTrips(t *testing.T) {
	f, co := busy(t)
	var wg sync.WaitGroup
	ops := [][]*call{calls("b1", "b2"), calls("c1"), calls("d1", "d2", "d3")}
	errs := make([]error, len(ops))
	for i, op := range ops {
		wg.Go(func() { errs[i] = co.do(t.Context(), op, 0) })
		queued(t, co, i+1)
	}
	close(f.gate)
	wg.Wait()
	if len(f.sends) != 2 || fmt.Sprint(f.sends[0]) != "[first]" {
		t.Fatalf("sends = %v, want [first] then the three waiting operations in one", f.sends)
	}
	if got := fmt.Sprint(f.sends[1]); got != "[b1 b2 c1 d1 d2 d3]" {
		t.Errorf("second send = %s, want [b1 b2 c1 d1 d2 d3]", got)
	}
	for i, op := range ops {
		if errs[i] != nil {
			t.Errorf("operation %d: %v", i, errs[i])
		}
		for _, c := range op {
			if v, _ := c.cmd.Result(); v != c.args[0] {
				t.Errorf("call %v answered %v", c.args[0], v)
			}
		}
	}
}

// TestCoalescerSplitsLargeBatches: a round trip carries at most maxBatch calls, and an
// operation's calls are never split between round trips.
func TestCoalescerSplitsLargeBatches(t *testing.T) {
	f, co := busy(t)
	var wg sync.WaitGroup
	big := make([]string, maxBatch/2+1)
	for i := range big {
		big[i] = "x"
	}
	for i := range 3 {
		wg.Go(func() { co.do(t.Context(), calls(big...), 0) })
		queued(t, co, i+1)
	}
	close(f.gate)
	wg.Wait()
	var sizes []int
	for _, s := range f.sends {
		sizes = append(sizes, len(s))
	}
	want := []int{1, len(big), len(big), len(big)}
	if !slices.Equal(sizes, want) {
		t.Errorf("round trips of %v calls, want %v", sizes, want)
	}
}

// TestCoalescerFailedRoundTrip: when a round trip fails, every operation in it whose calls
// got no answer gets the error.
func TestCoalescerFailedRoundTrip(t *testing.T) {
	down := errors.New("connection refused")
	co := &coalescer{send: func(ctx context.Context, cs []*call) error {
		for _, c := range cs {
			c.cmd = redis.NewCmd(ctx)
			c.cmd.SetErr(down)
		}
		return down
	}, max: 1}
	if err := co.do(t.Context(), calls("a"), 0); !errors.Is(err, down) {
		t.Errorf("do = %v, want %v", err, down)
	}
	// A cluster pipeline that failed on one node answered the calls for the others.
	co.send = func(ctx context.Context, cs []*call) error {
		for _, c := range cs {
			c.cmd = redis.NewCmd(ctx)
			c.cmd.SetVal(int64(1))
		}
		return down
	}
	if err := co.do(t.Context(), calls("a"), 0); err != nil {
		t.Errorf("do with its call answered = %v, want nil", err)
	}

	// What counts as answered: a value, nil, a script's error; not NOSCRIPT (its EVAL retry
	// did not happen) nor a connection error.
	r, closeStore, err := NewEmbedded(EmbeddedOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer closeStore()
	ctx := t.Context()
	for _, c := range []struct {
		name string
		cmd  *redis.Cmd
		want bool
	}{
		{"value", r.c.Eval(ctx, "return 1", nil), true},
		{"nil", r.c.Eval(ctx, "return false", nil), true},
		{"script error", r.c.Eval(ctx, "return redis.error_reply('ERR boom')", nil), true},
		{"NOSCRIPT", r.c.EvalSha(ctx, "0000000000000000000000000000000000000000", nil), false},
		{"connection", func() *redis.Cmd { c := redis.NewCmd(ctx); c.SetErr(down); return c }(), false},
	} {
		if got := answered([]*call{{cmd: c.cmd}}); got != c.want {
			t.Errorf("answered(%s: %v) = %v, want %v", c.name, c.cmd.Err(), got, c.want)
		}
	}
}

// TestCoalescerQueuedCancel: an operation whose context ends while it waits returns at once.
func TestCoalescerQueuedCancel(t *testing.T) {
	f, co := busy(t)
	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	go func() { errc <- co.do(ctx, calls("late"), 0) }()
	queued(t, co, 1)
	lctx, lcancel := context.WithCancel(t.Context())
	go func() { errc <- co.do(lctx, calls("lingering"), time.Hour) }()
	queued(t, co, 2)
	cancel()
	lcancel()
	for range 2 {
		if err := <-errc; !errors.Is(err, context.Canceled) {
			t.Errorf("after cancel = %v, want context.Canceled", err)
		}
	}
	close(f.gate)
	for !func() bool { co.mu.Lock(); defer co.mu.Unlock(); return co.inFlight == 0 }() {
		time.Sleep(time.Millisecond)
	}
	if err := co.do(t.Context(), calls("next"), 0); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(f.sends); got != "[[first] [next]]" {
		t.Errorf("sends = %s, want [[first] [next]]: cancelled operations not sent yet are withdrawn", got)
	}
	if co.lingering != 0 || len(co.queued) != 0 {
		t.Errorf("after: %d lingering, %d queued; want none", co.lingering, len(co.queued))
	}
}

// TestCoalescerWaitsBeyondAFullBatch: an operation that starts a round trip behind a full
// batch of lingering ones returns only once it was sent, in the round trip after.
func TestCoalescerWaitsBeyondAFullBatch(t *testing.T) {
	f := &fakeTrips{}
	co := &coalescer{send: f.send, max: 1}
	n := maxBatch/2 + 1
	errc := make(chan error, n)
	for i := range n {
		go func() { errc <- co.do(t.Context(), calls(fmt.Sprint("d", i), "c"), time.Hour) }()
		queued(t, co, i+1)
	}
	x := calls("x")
	if err := co.do(t.Context(), x, 0); err != nil {
		t.Fatal(err)
	}
	if v, err := x[0].cmd.Result(); err != nil || v != "x" {
		t.Fatalf("do returned before its call was answered: %v, %v", v, err)
	}
	for range n {
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}
	var sizes []int
	for _, s := range f.sends {
		sizes = append(sizes, len(s))
	}
	if !slices.Equal(sizes, []int{maxBatch, 3}) {
		t.Errorf("round trips of %v calls, want [%d 3]", sizes, maxBatch)
	}
}

// TestConcurrentOperationsShareRoundTrips: on a real server, many operations at once are each
// applied with their own answers, in fewer round trips than operations.
func TestConcurrentOperationsShareRoundTrips(t *testing.T) {
	each(t, func(t *testing.T, b backend) {
		ctx, now := t.Context(), b.clock.Now()
		ok(t, b.r.LoadScripts(ctx))
		const n = 200
		before := b.rt.n.Load()
		dups := make([][]bool, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			// Every other operation repeats the key of the one before: exactly one of each
			// pair is a duplicate, whichever runs first.
			wg.Go(func() {
				dups[i], errs[i] = b.r.Enqueue(ctx, []Item{{Conv: conv(fmt.Sprint("u", i/2)), Key: fmt.Sprint("k", i/2), Data: []byte("e")}}, time.Hour, now)
			})
		}
		wg.Wait()
		trips := b.rt.n.Load() - before
		for i := 0; i < n; i += 2 {
			if errs[i] != nil || errs[i+1] != nil {
				t.Fatalf("Enqueue %d, %d: %v, %v", i, i+1, errs[i], errs[i+1])
			}
			if dups[i][0] == dups[i+1][0] {
				t.Errorf("key k%d: duplicate flags %v and %v, want one of each", i/2, dups[i][0], dups[i+1][0])
			}
		}
		if st := must[Stats](t)(b.r.Stats(ctx)); st.Queued != n/2 {
			t.Errorf("queued %d events, want %d", st.Queued, n/2)
		}
		if trips >= n {
			t.Errorf("%d operations took %d round trips, want fewer", n, trips)
		}
		t.Logf("%d operations, %d round trips", n, trips)
	})
}

// TestEnqueueDoesNotWaitForWorkers: acknowledging a webhook never waits behind the workers'
// round trips, even when all of theirs are in flight.
func TestEnqueueDoesNotWaitForWorkers(t *testing.T) {
	r, closeStore, err := NewEmbedded(EmbeddedOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer closeStore()
	r.co.mu.Lock()
	r.co.inFlight = r.co.max // every worker round trip is taken
	r.co.mu.Unlock()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	dup, err := r.Enqueue(ctx, []Item{{Conv: conv("a"), Key: "k", Data: []byte("e")}}, time.Hour, start())
	if err != nil || len(dup) != 1 || dup[0] {
		t.Fatalf("Enqueue while the workers' round trips are taken = %v, %v; want [false], nil", dup, err)
	}
	short, cancelShort := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancelShort()
	if _, err := r.Claim(short, 0, start(), time.Minute, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Claim while the workers' round trips are taken = %v, want it to wait (context.DeadlineExceeded)", err)
	}
}

// TestCoalescerLingerRidesAlong: an operation that may wait goes with the next operation
// that starts a round trip, and returns with it.
func TestCoalescerLingerRidesAlong(t *testing.T) {
	f := &fakeTrips{}
	co := &coalescer{send: f.send, max: 2}
	errc := make(chan error, 1)
	go func() { errc <- co.do(t.Context(), calls("done"), time.Hour) }()
	queued(t, co, 1)
	if len(f.sends) != 0 {
		t.Fatalf("a lingering operation was sent alone: %v", f.sends)
	}
	if err := co.do(t.Context(), calls("claim"), 0); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errc:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the lingering operation did not return with the round trip that carried it")
	}
	if fmt.Sprint(f.sends) != "[[done claim]]" {
		t.Errorf("sends = %v, want one round trip [[done claim]]", f.sends)
	}
	if co.inFlight != 0 || co.lingering != 0 || len(co.queued) != 0 {
		t.Errorf("after: %d in flight, %d lingering, %d queued; want none", co.inFlight, co.lingering, len(co.queued))
	}
}

// TestCoalescerLingerAlone: with no company, a lingering operation goes alone once its
// linger is over, and a round trip that ends does not send it early.
func TestCoalescerLingerAlone(t *testing.T) {
	f := &fakeTrips{}
	co := &coalescer{send: f.send, max: 1}
	const linger = 50 * time.Millisecond
	began := time.Now()
	if err := co.do(t.Context(), calls("done"), linger); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(began); took < linger {
		t.Errorf("sent after %s, before its linger of %s", took, linger)
	}
	if fmt.Sprint(f.sends) != "[[done]]" {
		t.Errorf("sends = %v, want [[done]]", f.sends)
	}

	// A round trip in flight that ends while an operation lingers leaves it lingering.
	f2, co2 := busy(t)
	errc := make(chan error, 1)
	go func() { errc <- co2.do(t.Context(), calls("done"), time.Hour) }()
	queued(t, co2, 1)
	close(f2.gate)
	for !func() bool { co2.mu.Lock(); defer co2.mu.Unlock(); return co2.inFlight == 0 }() {
		time.Sleep(time.Millisecond)
	}
	if got := fmt.Sprint(f2.sends); got != "[[first]]" {
		t.Errorf("sends = %s, want [[first]]: the lingering operation waits for company", got)
	}
	if err := co2.do(t.Context(), calls("next"), 0); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(f2.sends); got != "[[first] [done next]]" {
		t.Errorf("sends = %s, want [[first] [done next]]", got)
	}
}

// cancelAware is a round trip that, like go-redis, fails before sending on a context that is
// done.
func cancelAware(f *fakeTrips) func(ctx context.Context, cs []*call) error {
	return func(ctx context.Context, cs []*call) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		return f.send(ctx, cs)
	}
}

// TestCoalescerCallersContextEnds: the round trip an operation starts carries others, and a
// caller whose context ends neither cuts it short for them nor loses an answer Redis gave:
// the operation comes back with its answer once it was sent.
func TestCoalescerCallersContextEnds(t *testing.T) {
	f := &fakeTrips{}
	co := &coalescer{send: cancelAware(f), max: 1}
	errc := make(chan error, 1)
	go func() { errc <- co.do(t.Context(), calls("finish"), time.Hour) }()
	queued(t, co, 1)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	claim := calls("claim")
	if err := co.do(ctx, claim, 0); err != nil {
		t.Errorf("do with a done context, once sent = %v, want its answer", err)
	}
	if err := <-errc; err != nil {
		t.Errorf("the lingering operation it carried = %v, want nil", err)
	}
	if fmt.Sprint(f.sends) != "[[finish claim]]" {
		t.Errorf("sends = %v, want [[finish claim]]", f.sends)
	}

	// A context that ends while the round trip that carries it (started by another) is out: the
	// answer still comes back.
	inTrip, release := make(chan any), make(chan struct{})
	co2 := &coalescer{max: 1, send: func(ctx context.Context, cs []*call) error {
		inTrip <- cs[0].args[0]
		<-release
		for _, c := range cs {
			c.cmd = redis.NewCmd(ctx)
			c.cmd.SetVal(c.args[0])
		}
		return nil
	}}
	go co2.do(t.Context(), calls("first"), 0)
	<-inTrip // "first" is out and holds the only slot
	ctx2, cancel2 := context.WithCancel(t.Context())
	late := calls("late")
	go func() { errc <- co2.do(ctx2, late, 0) }()
	queued(t, co2, 1)
	release <- struct{}{} // "first" ends; a drain takes "late" out
	if got := <-inTrip; got != "late" {
		t.Fatalf("second round trip carries %v, want late", got)
	}
	cancel2()
	select {
	case err := <-errc:
		t.Fatalf("do returned %v while its round trip was out", err)
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	if err := <-errc; err != nil {
		t.Errorf("do whose context ended in flight = %v, want its answer", err)
	}
	if v, err := late[0].cmd.Result(); err != nil || v != "late" {
		t.Errorf("answer %v, %v; want late", v, err)
	}
}

// TestConcurrentClaimsShareRoundTrips: many claim loops at once on a real server, their
// claims and commits sharing round trips, each get their own answers: every event is claimed
// by one of them, exactly once, and committed.
func TestConcurrentClaimsShareRoundTrips(t *testing.T) {
	each(t, func(t *testing.T, b backend) {
		ctx, now := t.Context(), b.clock.Now()
		ok(t, b.r.LoadScripts(ctx))
		const convs = 120
		var items []Item
		for i := range convs {
			items = append(items, Item{Conv: conv(fmt.Sprint("c", i)), Key: fmt.Sprint("k", i), Data: []byte(fmt.Sprint("e", i))})
		}
		must[[]bool](t)(b.r.Enqueue(ctx, items, time.Hour, now))
		before := b.rt.n.Load()
		var mu sync.Mutex
		claimed := map[string]int{}
		var wg sync.WaitGroup
		for g := range 24 {
			wg.Go(func() {
				for shard := g % b.r.Shards(); ; {
					c, err := b.r.Claim(ctx, shard, now, time.Minute, nil)
					if err != nil {
						t.Error(err)
						return
					}
					if c == nil {
						if shard = (shard + 1) % b.r.Shards(); shard == g%b.r.Shards() {
							return // a round over every shard found nothing
						}
						continue
					}
					if want := fmt.Sprint("e", strings.TrimPrefix(c.Conv.User, "c")); string(c.Event) != want {
						t.Errorf("claim of %s carries %q, want %q", c.Conv.User, c.Event, want)
					}
					mu.Lock()
					claimed[c.Conv.User]++
					mu.Unlock()
					if err := b.r.Commit(ctx, c, &Commit{State: []byte("s"), Pop: true}, now, time.Minute); err != nil {
						t.Errorf("commit %s: %v", c.Conv.User, err)
					}
				}
			})
		}
		wg.Wait()
		if len(claimed) != convs {
			t.Errorf("%d conversations claimed, want %d", len(claimed), convs)
		}
		for u, n := range claimed {
			if n != 1 {
				t.Errorf("%s claimed %d times", u, n)
			}
		}
		if st := must[Stats](t)(b.r.Stats(ctx)); st.Queued != 0 || st.Leased != 0 {
			t.Errorf("after: %+v, want nothing queued or leased", st)
		}
		t.Logf("%d claims and commits in %d round trips", 2*convs, b.rt.n.Load()-before)
	})
}
