package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/flowgate/flowgate/engine"
	"github.com/flowgate/flowgate/internal/redistest"
	"github.com/flowgate/flowgate/internal/testclock"
)

// These tests check what the conformance suite (storetest) cannot see through the interface:
// the key layout, round trips, what an idle conversation leaves behind, and the embedded
// store's virtual clock. Each runs against the real Redis and the embedded store.

// roundTrips counts the round trips of a client: one per command, one per pipeline. The
// handshake of a new connection (HELLO, CLIENT ...) is not counted.
type roundTrips struct{ n atomic.Int64 }

func handshake(cmds ...redis.Cmder) bool {
	for _, c := range cmds {
		if n := c.Name(); n != "hello" && n != "client" {
			return false
		}
	}
	return true
}

func (h *roundTrips) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *roundTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if !handshake(cmd) {
			h.n.Add(1)
		}
		return next(ctx, cmd)
	}
}

func (h *roundTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if !handshake(cmds...) {
			h.n.Add(1)
		}
		return next(ctx, cmds)
	}
}

// backend is a store under test, its clock (the embedded store's keys expire by it) and its
// round-trip counter.
type backend struct {
	r     *Redis
	clock *testclock.Clock
	rt    *roundTrips
}

// each runs fn against a real Redis, a Redis Cluster and the embedded store, with 4 shards.
func each(t *testing.T, fn func(t *testing.T, b backend)) {
	t.Run("redis", func(t *testing.T) {
		c, prefix := redistest.Client(t)
		b := backend{r: NewRedis(c, Options{Prefix: prefix, Shards: 4}), clock: testclock.At(start()), rt: &roundTrips{}}
		c.AddHook(b.rt)
		fn(t, b)
	})
	t.Run("cluster", func(t *testing.T) {
		c, prefix := redistest.ClusterClient(t)
		b := backend{r: NewRedis(c, Options{Prefix: prefix, Shards: 4}), clock: testclock.At(start()), rt: &roundTrips{}}
		c.AddHook(b.rt)
		fn(t, b)
	})
	t.Run("embedded", func(t *testing.T) {
		clk := testclock.At(start())
		r, closeStore, err := NewEmbedded(EmbeddedOptions{Options: Options{Shards: 4}, Now: clk.Now})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := closeStore(); err != nil {
				t.Error(err)
			}
		})
		b := backend{r: r, clock: clk, rt: &roundTrips{}}
		r.Client().AddHook(b.rt)
		fn(t, b)
	})
}

func start() time.Time { return time.Now().Truncate(time.Millisecond) }

func conv(user string) engine.Conversation {
	return engine.Conversation{Tenant: "t1", Team: "sales", Channel: "whatsapp", Account: "9", User: user}
}

// inShard returns n conversations of shard s.
func inShard(r *Redis, s, n int) []engine.Conversation {
	var cs []engine.Conversation
	for i := 0; len(cs) < n; i++ {
		if c := conv(fmt.Sprint("u", i)); r.ShardOf(c) == s {
			cs = append(cs, c)
		}
	}
	return cs
}

// keysOf lists the keys under the store's prefix.
func keysOf(t *testing.T, r *Redis) []string {
	t.Helper()
	var mu sync.Mutex
	var ks []string
	scan := func(ctx context.Context, c redis.Cmdable) error {
		iter := c.Scan(ctx, 0, r.k.prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			mu.Lock()
			ks = append(ks, iter.Val())
			mu.Unlock()
		}
		return iter.Err()
	}
	var err error
	if cc, isCluster := r.c.(*redis.ClusterClient); isCluster {
		err = cc.ForEachMaster(t.Context(), func(ctx context.Context, m *redis.Client) error { return scan(ctx, m) })
	} else {
		err = scan(t.Context(), r.c)
	}
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(ks)
	return ks
}

func ok(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func must[T any](t *testing.T) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func TestClaimsInArrivalOrder(t *testing.T) {
	each(t, func(t *testing.T, b backend) {
		ctx, now := t.Context(), b.clock.Now()
		a, c := conv("alice"), conv("carol")
		items := []Item{{Conv: a, Data: []byte("a1")}, {Conv: c, Data: []byte("c1")}, {Conv: a, Data: []byte("a2")},
			{Conv: a, Data: []byte("a3")}, {Conv: c, Data: []byte("c2")}}
		must[[]bool](t)(b.r.Enqueue(ctx, items, time.Hour, now))
		got := map[string][]string{}
		var done *Done
		for i := 0; i < 20; i++ {
			claimed := false
			for s := range b.r.Shards() {
				cl, err := b.r.Claim(ctx, s, now, time.Minute, done)
				if err != nil {
					t.Fatal(err)
				}
				done = nil
				if cl == nil {
					continue
				}
				claimed = true
				if cl.Kind != KindEvent || cl.Attempts != 1 {
					t.Fatalf("claim %+v, want a first event", cl)
				}
				got[cl.Conv.User] = append(got[cl.Conv.User], string(cl.Event))
				// Alternate the ways of ending a claim: release by Commit, or outbox then Done.
				cm := &Commit{State: cl.Event, StateTTL: time.Hour, Pop: true}
				if len(got[cl.Conv.User])%2 == 0 {
					cm.Outbox = [][]byte{[]byte("r")}
					done = &Done{Claim: cl, State: cl.Event, StateTTL: time.Hour}
				}
				if err := b.r.Commit(ctx, cl, cm, now, time.Minute); err != nil {
					t.Fatal(err)
				}
			}
			if !claimed && done == nil {
				break
			}
		}
		want := map[string][]string{"alice": {"a1", "a2", "a3"}, "carol": {"c1", "c2"}}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("claimed %v, want %v", got, want)
		}
		if st := must[Stats](t)(b.r.Stats(ctx)); st != (Stats{}) {
			t.Errorf("stats after draining = %+v, want zero", st)
		}
	})
}

func TestFencingRefusesStaleToken(t *testing.T) {
	each(t, func(t *testing.T, b backend) {
		ctx, now := t.Context(), b.clock.Now()
		a := conv("alice")
		must[[]bool](t)(b.r.Enqueue(ctx, []Item{{Conv: a, Data: []byte("e1")}}, time.Hour, now))
		s := b.r.ShardOf(a)
		old := must[*Claim](t)(b.r.Claim(ctx, s, now, time.Second, nil))
		later := now.Add(2 * time.Second)
		cur := must[*Claim](t)(b.r.Claim(ctx, s, later, time.Minute, nil))
		if cur == nil || cur.Kind != KindEvent || cur.Attempts != 2 || cur.Token == old.Token {
			t.Fatalf("recovery claim %+v, want the event again, attempt 2, a new token", cur)
		}
		for name, err := range map[string]error{
			"commit": b.r.Commit(ctx, old, &Commit{State: []byte("stale"), Pop: true}, later, time.Minute),
			"extend": b.r.Extend(ctx, old, later, time.Minute),
			"finish": b.r.Finish(ctx, &Done{Claim: old, State: []byte("stale")}, later),
		} {
			if !errors.Is(err, ErrStale) {
				t.Errorf("%s with the old token: %v, want ErrStale", name, err)
			}
		}
		if st := must[[]byte](t)(b.r.Load(ctx, a)); st != nil {
			t.Errorf("state %q written by a stale token", st)
		}
		// A stale Done given to Claim is reported while the claim proceeds.
		must[[]bool](t)(b.r.Enqueue(ctx, []Item{{Conv: inShard(b.r, s, 2)[1], Data: []byte("x")}}, time.Hour, later))
		got, err := b.r.Claim(ctx, s, later, time.Minute, &Done{Claim: old})
		if !errors.Is(err, ErrStale) || got == nil || string(got.Event) != "x" {
			t.Errorf("Claim with a stale Done = %+v, %v; want the claim and ErrStale", got, err)
		}
		if err := b.r.Commit(ctx, cur, &Commit{State: []byte("ok"), Pop: true}, later, time.Minute); err != nil {
			t.Errorf("commit with the current token: %v", err)
		}
	})
}

func TestRecoveryReturnsOutbox(t *testing.T) {
	each(t, func(t *testing.T, b backend) {
		ctx, now := t.Context(), b.clock.Now()
		a := conv("alice")
		s := b.r.ShardOf(a)
		must[[]bool](t)(b.r.Enqueue(ctx, []Item{{Conv: a, Data: []byte("e1")}, {Conv: a, Data: []byte("e2")}}, time.Hour, now))
		c := must[*Claim](t)(b.r.Claim(ctx, s, now, time.Second, nil))
		out := [][]byte{[]byte("r1"), []byte("r2")}
		if err := b.r.Commit(ctx, c, &Commit{State: []byte("s1"), Pop: true, Outbox: out}, now, time.Second); err != nil {
			t.Fatal(err)
		}
		if got := must[*Claim](t)(b.r.Claim(ctx, s, now.Add(999*time.Millisecond), time.Minute, nil)); got != nil {
			t.Fatalf("claim during the lease: %+v", got)
		}
		later := now.Add(time.Second)
		r := must[*Claim](t)(b.r.Claim(ctx, s, later, time.Minute, nil))
		if r == nil || r.Kind != KindOutbox || fmt.Sprintf("%s", r.Outbox) != "[r1 r2]" || string(r.State) != "s1" {
			t.Fatalf("recovery = %+v, want the outbox [r1 r2] with state s1", r)
		}
		// Done in the same Claim call releases it; the next event follows.
		next := must[*Claim](t)(b.r.Claim(ctx, s, later, time.Minute, &Done{Claim: r, State: []byte("s2")}))
		if next == nil || next.Kind != KindEvent || string(next.Event) != "e2" || string(next.State) != "s2" {
			t.Fatalf("after Done: %+v, want e2 with state s2", next)
		}
		// A worker dying again with an outbox: ClaimConversation takes the expired lease over
		// and carries the outbox.
		if err := b.r.Commit(ctx, next, &Commit{State: []byte("s3"), Pop: true, Outbox: [][]byte{[]byte("r3")}}, later, time.Second); err != nil {
			t.Fatal(err)
		}
		if _, err := b.r.ClaimConversation(ctx, a, later, time.Minute); !errors.Is(err, ErrBusy) {
			t.Fatalf("ClaimConversation during the lease: %v, want ErrBusy", err)
		}
		d := must[*Claim](t)(b.r.ClaimConversation(ctx, a, later.Add(time.Second), time.Minute))
		if d.Kind != KindOutbox || fmt.Sprintf("%s", d.Outbox) != "[r3]" {
			t.Errorf("ClaimConversation over a dead lease = %+v, want the outbox [r3]", d)
		}
	})
}

func TestDedupWithinTTL(t *testing.T) {
	each(t, func(t *testing.T, b backend) {
		ctx, now := t.Context(), b.clock.Now()
		a := conv("alice")
		ttl := 300 * time.Millisecond
		item := Item{Conv: a, Key: "wamid.1", Data: []byte("e1")}
		free := Item{Conv: a, Data: []byte("e0")}
		if got := must[[]bool](t)(b.r.Enqueue(ctx, []Item{item, free, item, free}, ttl, now)); fmt.Sprint(got) != "[false false true false]" {
			t.Errorf("one batch: dup = %v", got)
		}
		if got := must[[]bool](t)(b.r.Enqueue(ctx, []Item{item}, ttl, now)); !got[0] {
			t.Error("a key within its TTL was not a duplicate")
		}
		b.clock.Advance(ttl + time.Millisecond)
		time.Sleep(ttl + 50*time.Millisecond) // the real Redis expires by its own clock
		if got := must[[]bool](t)(b.r.Enqueue(ctx, []Item{item}, ttl, b.clock.Now())); got[0] {
			t.Error("a key after its TTL was still a duplicate")
		}
		if n := must[Stats](t)(b.r.Stats(ctx)).Queued; n != 4 {
			t.Errorf("queued %d, want 4", n)
		}
	})
}

// TestIdleConversationKeepsOnlyState drives a conversation through every kind of work and
// checks that, idle again, nothing of it but its state remains.
func TestIdleConversationKeepsOnlyState(t *testing.T) {
	each(t, func(t *testing.T, b backend) {
		ctx, now := t.Context(), b.clock.Now()
		a := conv("alice|with|bars {and} braces")
		cid, s := rawID(a), b.r.ShardOf(a)
		must[[]bool](t)(b.r.Enqueue(ctx, []Item{{Conv: a, Data: []byte("e1")}, {Conv: a, Data: []byte("e2")}}, 0, now))
		c := must[*Claim](t)(b.r.Claim(ctx, s, now, time.Minute, nil))
		err := b.r.Commit(ctx, c, &Commit{State: []byte("s"), StateTTL: time.Hour, Pop: true, Outbox: [][]byte{[]byte("r")},
			Timer: now.Add(time.Second), Handoff: true, Kept: []byte("e1")}, now, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		c = must[*Claim](t)(b.r.Claim(ctx, s, now, time.Minute, &Done{Claim: c, State: []byte("s"), StateTTL: time.Hour}))
		if c == nil || string(c.Event) != "e2" {
			t.Fatalf("claim %+v, want e2", c)
		}
		if err := b.r.Commit(ctx, c, &Commit{State: []byte("s"), StateTTL: time.Hour, Pop: true, Timer: now.Add(time.Second)}, now, time.Minute); err != nil {
			t.Fatal(err)
		}
		c = must[*Claim](t)(b.r.Claim(ctx, s, now.Add(time.Second), time.Minute, nil))
		if c == nil || c.Kind != KindTimer || c.Conv != a {
			t.Fatalf("claim %+v, want the timer of %v", c, a)
		}
		if err := b.r.Commit(ctx, c, &Commit{State: []byte("s"), StateTTL: time.Hour, ClearKept: true}, now, time.Minute); err != nil {
			t.Fatal(err)
		}
		d := must[*Claim](t)(b.r.ClaimConversation(ctx, a, now, time.Minute))
		if err := b.r.Finish(ctx, &Done{Claim: d, State: []byte("final"), StateTTL: time.Hour}, now); err != nil {
			t.Fatal(err)
		}
		// Per shard, only the token counter and the queued counter; of the conversation, its state.
		want := []string{b.r.k.state(s, cid), b.r.k.queued(s), b.r.k.seq(s)}
		slices.Sort(want)
		if got := keysOf(t, b.r); !slices.Equal(got, want) {
			t.Errorf("keys of an idle conversation:\n got %q\nwant %q", got, want)
		}
		if st := must[[]byte](t)(b.r.Load(ctx, a)); string(st) != "final" {
			t.Errorf("state %q", st)
		}
		if ttl := b.r.c.PTTL(ctx, b.r.k.state(s, cid)).Val(); ttl <= 0 || ttl > time.Hour {
			t.Errorf("state TTL %v, want up to an hour", ttl)
		}
		// The target is at most 1 KB of Redis per idle conversation (MEMORY USAGE: real Redis only).
		if n, err := b.r.c.MemoryUsage(ctx, b.r.k.state(s, cid)).Result(); err == nil && n > 1024 {
			t.Errorf("an idle conversation takes %d bytes", n)
		} else {
			t.Logf("MEMORY USAGE of the state key: %d, %v", n, err)
		}
	})
}

// TestKeysOfAConversationShareASlot fills every key of a conversation and checks their names
// (those keys.go gives) and that they hash to one cluster slot.
func TestKeysOfAConversationShareASlot(t *testing.T) {
	if got := slot("foo"); got != 12182 {
		t.Fatalf("slot(foo) = %d, want 12182 (CLUSTER KEYSLOT foo)", got)
	}
	each(t, func(t *testing.T, b backend) {
		ctx, now := t.Context(), b.clock.Now()
		a := conv("alice{x}")
		cid, s := rawID(a), b.r.ShardOf(a)
		must[[]bool](t)(b.r.Enqueue(ctx, []Item{{Conv: a, Key: "k1", Data: []byte("e1")}, {Conv: a, Data: []byte("e2")}}, time.Hour, now))
		c := must[*Claim](t)(b.r.Claim(ctx, s, now, time.Minute, nil))
		err := b.r.Commit(ctx, c, &Commit{State: []byte("s"), StateTTL: time.Hour, Pop: true, Outbox: [][]byte{[]byte("r")},
			Timer: now.Add(time.Hour), Handoff: true, Kept: []byte("e1")}, now, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		must[[]bool](t)(b.r.Enqueue(ctx, []Item{{Conv: a, Data: []byte("e3")}}, time.Hour, now))
		b.r.c.HSet(ctx, b.r.k.att(s), cid, 1) // as a claim of e2 would
		must[[]bool](t)(b.r.Enqueue(ctx, []Item{{Conv: inShard(b.r, s, 2)[1], Data: []byte("x")}}, time.Hour, now))
		want := []string{b.r.k.ready(s), b.r.k.lease(s), b.r.k.tok(s), b.r.k.seq(s), b.r.k.att(s),
			b.r.k.timers(s), b.r.k.handoff(s), b.r.k.queued(s), b.r.k.dedup(s, "k1"), b.r.k.queue(s, cid),
			b.r.k.state(s, cid), b.r.k.outbox(s, cid), b.r.k.kept(s, cid), b.r.k.queue(s, rawID(inShard(b.r, s, 2)[1]))}
		slices.Sort(want)
		got := keysOf(t, b.r)
		if !slices.Equal(got, want) {
			t.Errorf("keys:\n got %q\nwant %q", got, want)
		}
		for _, k := range got {
			if slot(k) != slot(b.r.k.shard(s)) {
				t.Errorf("key %q is in slot %d, the shard's is %d", k, slot(k), slot(b.r.k.shard(s)))
			}
			if cc, isCluster := b.r.c.(*redis.ClusterClient); isCluster {
				if n := cc.ClusterKeySlot(ctx, k).Val(); n != int64(slot(k)) {
					t.Errorf("CLUSTER KEYSLOT %q = %d, slot() says %d", k, n, slot(k))
				}
			}
		}
		// The limiter's schedules of a phone number, booked together by one script.
		for _, k := range []string{b.r.k.ratePair("p1", "r1"), b.r.k.ratePair("p1", "r2")} {
			if slot(k) != slot(b.r.k.rateNumber("p1")) {
				t.Errorf("limiter key %q is in slot %d, the number's in %d", k, slot(k), slot(b.r.k.rateNumber("p1")))
			}
		}
		if b.r.c.ZScore(ctx, b.r.k.ready(s), cid).Err() != redis.Nil {
			t.Error("a leased conversation is in ready")
		}
	})
}

func TestRoundTripsPerOperation(t *testing.T) {
	each(t, func(t *testing.T, b backend) {
		ctx, now := t.Context(), b.clock.Now()
		cs := append(inShard(b.r, 0, 2), inShard(b.r, 1, 1)...)
		var items []Item
		for i, c := range cs {
			items = append(items, Item{Conv: c, Key: fmt.Sprint("k", i), Data: []byte("a")}, Item{Conv: c, Data: []byte("b")})
		}
		count := func(op string, want int64, f func()) {
			t.Helper()
			before := b.rt.n.Load()
			f()
			if got := b.rt.n.Load() - before; got != want {
				t.Errorf("%s: %d round trips, want %d", op, got, want)
			}
		}
		// Load the scripts (EVALSHA falls back to EVAL once per script on a fresh server).
		ok(t, b.r.LoadScripts(ctx))
		count("Enqueue of 6 items of 3 conversations in 2 shards", 1, func() { must[[]bool](t)(b.r.Enqueue(ctx, items, time.Hour, now)) })
		var c *Claim
		count("Claim", 1, func() { c = must[*Claim](t)(b.r.Claim(ctx, 0, now, time.Minute, nil)) })
		count("Extend", 1, func() { ok(t, b.r.Extend(ctx, c, now, time.Minute)) })
		count("Commit", 1, func() {
			ok(t, b.r.Commit(ctx, c, &Commit{State: []byte("s"), Pop: true, Outbox: [][]byte{[]byte("r")}}, now, time.Minute))
		})
		count("Claim with Done of the same shard", 1, func() {
			c = must[*Claim](t)(b.r.Claim(ctx, 0, now, time.Minute, &Done{Claim: c, State: []byte("s")}))
		})
		ok(t, b.r.Commit(ctx, c, &Commit{Pop: true, Outbox: [][]byte{[]byte("r")}}, now, time.Minute))
		count("Claim with Done of another shard", 1, func() {
			c = must[*Claim](t)(b.r.Claim(ctx, 1, now, time.Minute, &Done{Claim: c, State: []byte("s")}))
		})
		count("Finish", 1, func() { ok(t, b.r.Finish(ctx, &Done{Claim: c}, now)) })
		count("ClaimConversation", 1, func() { c = must[*Claim](t)(b.r.ClaimConversation(ctx, cs[2], now, time.Minute)) })
		count("Load", 1, func() { must[[]byte](t)(b.r.Load(ctx, cs[0])) })
		count("Stats", 1, func() { must[Stats](t)(b.r.Stats(ctx)) })
		count("NextTimer", 1, func() { must[time.Time](t)(b.r.NextTimer(ctx)) })
		count("Handoffs (none)", 1, func() { must[[]Handoff](t)(b.r.Handoffs(ctx, "t1", "sales")) })
		ok(t, b.r.Commit(ctx, c, &Commit{Handoff: true, Kept: []byte("k")}, now, time.Minute))
		count("Handoffs (one)", 2, func() { must[[]Handoff](t)(b.r.Handoffs(ctx, "t1", "sales")) })
	})
}

// TestPingEveryMaster: on a cluster, Ping (what /readyz asks) fails when any master is down,
// not only the one a single PING would reach.
func TestPingEveryMaster(t *testing.T) {
	redistest.ClusterAddrs(t) // skips, like every cluster test, without redis-server
	cl, err := redistest.StartCluster(3)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close() })
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: cl.Addrs[:1], MaxRetries: -1})
	defer c.Close()
	r := NewRedis(c, Options{})
	ok(t, r.Ping(t.Context()))
	ok(t, r.LoadScripts(t.Context()))
	cl.Kill(2)
	if err := r.Ping(t.Context()); err == nil || !strings.Contains(err.Error(), cl.Addrs[2]) {
		t.Errorf("Ping with master %s down = %v, want an error naming it", cl.Addrs[2], err)
	}
}

// TestPipelineReloadsScripts checks Enqueue's pipeline on a server that lost its scripts.
func TestPipelineReloadsScripts(t *testing.T) {
	r, closeStore, err := NewEmbedded(EmbeddedOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer closeStore()
	ctx, now := t.Context(), start()
	items := []Item{{Conv: conv("a"), Data: []byte("1")}, {Conv: conv("b"), Data: []byte("2")}}
	for i := 0; i < 2; i++ {
		if err := r.c.ScriptFlush(ctx).Err(); err != nil {
			t.Fatal(err)
		}
		if dup, err := r.Enqueue(ctx, items, time.Hour, now); err != nil || fmt.Sprint(dup) != "[false false]" {
			t.Fatalf("Enqueue after SCRIPT FLUSH = %v, %v", dup, err)
		}
	}
	if n := must[Stats](t)(r.Stats(ctx)).Queued; n != 4 {
		t.Errorf("queued %d, want 4", n)
	}
}

// TestEmbeddedExpiryFollowsClock checks that the embedded store's keys expire by its virtual
// clock, whatever the wall clock does.
func TestEmbeddedExpiryFollowsClock(t *testing.T) {
	clk := testclock.At(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	r, closeStore, err := NewEmbedded(EmbeddedOptions{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer closeStore()
	ctx := t.Context()
	a := conv("alice")
	must[[]bool](t)(r.Enqueue(ctx, []Item{{Conv: a, Key: "k", Data: []byte("e")}}, time.Minute, clk.Now()))
	c := must[*Claim](t)(r.Claim(ctx, r.ShardOf(a), clk.Now(), time.Minute, nil))
	if err := r.Commit(ctx, c, &Commit{State: []byte("s"), StateTTL: 24 * time.Hour, Pop: true}, clk.Now(), time.Minute); err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * time.Millisecond)
	clk.Advance(time.Minute - time.Millisecond)
	if dup := must[[]bool](t)(r.Enqueue(ctx, []Item{{Conv: a, Key: "k"}}, time.Minute, clk.Now())); !dup[0] {
		t.Error("dedup key expired before its TTL on the virtual clock")
	}
	clk.Advance(time.Millisecond)
	if dup := must[[]bool](t)(r.Enqueue(ctx, []Item{{Conv: a, Key: "k"}}, time.Minute, clk.Now())); dup[0] {
		t.Error("dedup key outlived its TTL on the virtual clock")
	}
	clk.Advance(23 * time.Hour)
	if st := must[[]byte](t)(r.Load(ctx, a)); string(st) != "s" {
		t.Errorf("state after 23h of a 24h TTL: %q", st)
	}
	clk.Advance(time.Hour)
	if st := must[[]byte](t)(r.Load(ctx, a)); st != nil {
		t.Errorf("state after its TTL: %q", st)
	}
}

func TestConversationIDs(t *testing.T) {
	c := engine.Conversation{Tenant: "t", Team: "", Channel: "wa", Account: "9", User: "a|b|c"}
	id, err := convID(c)
	if err != nil || parseConv(id) != c {
		t.Errorf("convID %q, %v; parsed back %+v", id, err, parseConv(id))
	}
	if _, err := convID(engine.Conversation{Tenant: "t|x"}); err == nil {
		t.Error("a '|' in the tenant was accepted")
	}
	r := NewRedis(nil, Options{})
	if r.Shards() != DefaultShards || r.k.prefix != DefaultPrefix {
		t.Errorf("defaults: %d shards, prefix %q", r.Shards(), r.k.prefix)
	}
	if _, err := r.Claim(t.Context(), DefaultShards, time.Now(), time.Minute, nil); err == nil || !strings.Contains(err.Error(), "shard 16") {
		t.Errorf("Claim of a shard out of range: %v", err)
	}
}

// slot is the Redis Cluster slot of key: CRC16 (XMODEM) of its hash tag, modulo 16384.
func slot(key string) int {
	if i := strings.IndexByte(key, '{'); i >= 0 {
		if j := strings.IndexByte(key[i+1:], '}'); j > 0 {
			key = key[i+1 : i+1+j]
		}
	}
	var crc uint16
	for i := 0; i < len(key); i++ {
		crc ^= uint16(key[i]) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return int(crc) % 16384
}
