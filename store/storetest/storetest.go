// Package storetest checks that an implementation of store.Store keeps the contract its doc
// comments state. Like testing/fstest, it is a suite any implementation runs:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Store { return newStore(t) })
//	}
//
// Every subtest takes a fresh, empty store from newStore and uses nothing but the store.Store
// interface. Leases and timers are driven by the virtual times the suite passes to each call;
// key expiry (dedup keys, state TTL) is checked with short real TTLs and a bounded poll, since a
// store may expire keys by its own clock. RunClock checks the same expiry with a virtual clock,
// for stores whose key expiry follows a clock the test controls.
package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flowgate/flowgate/engine"
	"github.com/flowgate/flowgate/internal/testclock"
	"github.com/flowgate/flowgate/store"
)

const (
	lease    = 30 * time.Second // the lease every claim takes unless a test says otherwise
	stateTTL = 24 * time.Hour   // long enough never to expire during a test
	dedupTTL = time.Hour        // likewise
	// pollLimit bounds the wait for a key to expire by a real clock. It is a failure bound, not
	// a measurement: the TTLs polled for are a few hundred milliseconds.
	pollLimit = 10 * time.Second
)

// ms is the smallest step of virtual time the suite takes around a deadline.
const ms = time.Millisecond

// NewStore returns a fresh, empty store for t; it registers its own cleanup with t.
type NewStore func(t *testing.T) store.Store

// Run runs the conformance suite, each subtest on a fresh store from newStore.
func Run(t *testing.T, newStore func(t *testing.T) store.Store) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(*testing.T, NewStore)
	}{
		{"Shards", testShards},
		{"EnqueueClaimCommit", testEnqueueClaimCommit},
		{"PerConversationOrder", testPerConversationOrder},
		{"ConversationsInParallel", testConversationsInParallel},
		{"ClaimPriority", testClaimPriority},
		{"Dedup", testDedup},
		{"DedupExpiry", testDedupExpiry},
		{"Fencing", testFencing},
		{"LateCommit", testLateCommit},
		{"RecoveryWithoutOutbox", testRecoveryWithoutOutbox},
		{"Outbox", testOutbox},
		{"RecoveryWithOutbox", testRecoveryWithOutbox},
		{"CommitIdempotent", testCommitIdempotent},
		{"Extend", testExtend},
		{"Timers", testTimers},
		{"ClaimConversation", testClaimConversation},
		{"Handoff", testHandoff},
		{"StateTTL", testStateTTL},
		{"Concurrent", testConcurrent},
		{"ConcurrentWithCrashes", testConcurrentWithCrashes},
		{"ConversationIDs", testConversationIDs},
		{"StatsAndPing", testStatsAndPing},
		{"Ack", testAck},
		{"Park", testPark},
		{"OwnTimerFirst", testOwnTimerFirst},
		{"TimerSurvivesDeath", testTimerSurvivesDeath},
		{"HandoffExpiry", testHandoffExpiry},
		{"Due", testDue},
		{"More", testMore},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, newStore) })
	}
}

// RunClock checks key expiry (dedup keys and state TTL) against a virtual clock. newStore
// returns a fresh store whose key expiry follows now; the suite passes the same virtual time
// to every call.
func RunClock(t *testing.T, newStore func(t *testing.T, now func() time.Time) store.Store) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(*testing.T, store.Store, *testclock.Clock)
	}{
		{"DedupTTL", testClockDedupTTL},
		{"StateTTL", testClockStateTTL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := testclock.At(start())
			tt.fn(t, newStore(t, c.Now), c)
		})
	}
}

// start is the virtual time a test starts at: the real time, so that a store that also puts
// real TTLs on its keys keeps them for the test, to the millisecond, so that times read back
// compare equal.
func start() time.Time { return time.Now().Truncate(time.Millisecond) }

// --- the subtests ---

// testShards: Shards and ShardOf are consistent, Claim(shard) returns only conversations of
// that shard, and a claim says its shard.
func testShards(t *testing.T, newStore NewStore) {
	s := newStore(t)
	now := start()
	n := s.Shards()
	if n < 1 {
		t.Fatalf("Shards() = %d, want at least 1", n)
	}
	var items []store.Item
	want := map[engine.Conversation]bool{}
	for i := range 40 {
		c := conv("t1", "sales", fmt.Sprintf("user%d", i))
		sh := s.ShardOf(c)
		if sh < 0 || sh >= n {
			t.Fatalf("ShardOf(%v) = %d, want 0..%d", c, sh, n-1)
		}
		if again := s.ShardOf(c); again != sh {
			t.Fatalf("ShardOf(%v) = %d, then %d", c, sh, again)
		}
		items = append(items, store.Item{Conv: c, Data: []byte("e-" + c.User)})
		want[c] = true
	}
	for sh := range n {
		if c, err := s.Claim(t.Context(), sh, now, lease, nil); err != nil || c != nil {
			t.Fatalf("empty store: Claim(shard %d) = %s, %v; want nil, nil", sh, show(c), err)
		}
	}
	enqueue(t, s, now, items...) // forty conversations in one call
	for sh := range n {
		for {
			c, err := s.Claim(t.Context(), sh, now, lease, nil)
			if err != nil {
				t.Fatalf("Claim(shard %d): %v", sh, err)
			}
			if c == nil {
				break
			}
			if got := s.ShardOf(c.Conv); got != sh {
				t.Errorf("Claim(shard %d) returned %v, which lives in shard %d", sh, c.Conv, got)
			}
			if c.Shard != sh {
				t.Errorf("Claim(shard %d) returned a claim with Shard %d", sh, c.Shard)
			}
			if !want[c.Conv] {
				t.Fatalf("Claim(shard %d) returned %v, not queued or claimed twice", sh, c.Conv)
			}
			delete(want, c.Conv)
			expectClaim(t, c, want1{conv: c.Conv, kind: store.KindEvent, event: "e-" + c.Conv.User, attempts: 1})
			commit(t, s, c, &store.Commit{StateTTL: stateTTL, Pop: true}, now)
		}
	}
	if len(want) != 0 {
		t.Errorf("%d conversations with a queued event were never claimed: %v", len(want), keys(want))
	}
}

// testEnqueueClaimCommit: the plain life of one event.
func testEnqueueClaimCommit(t *testing.T, newStore NewStore) {
	s := newStore(t)
	now := start()
	a := conv("t1", "sales", "alice")
	if st := load(t, s, a); st != nil {
		t.Fatalf("Load of an unknown conversation = %q, want nil", st)
	}
	if dup, err := s.Enqueue(t.Context(), nil, dedupTTL, now); err != nil || len(dup) != 0 {
		t.Fatalf("Enqueue(no items) = %v, %v; want [], nil", dup, err)
	}
	if dup := enqueue(t, s, now, store.Item{Conv: a, Key: "k1", Data: []byte("e1")}); dup[0] {
		t.Fatalf("first Enqueue of key k1: dup = %v, want [false]", dup)
	}
	c := claimOne(t, s, a, now, lease)
	expectClaim(t, c, want1{conv: a, kind: store.KindEvent, event: "e1", attempts: 1})
	commit(t, s, c, &store.Commit{State: []byte("s1"), StateTTL: stateTTL, Pop: true}, now)
	expectState(t, s, a, "s1")
	claimNone(t, s, now.Add(time.Hour), "the only event was committed with Pop")
}

// testPerConversationOrder: one conversation's events come one at a time, in arrival order.
func testPerConversationOrder(t *testing.T, newStore NewStore) {
	s := newStore(t)
	now := start()
	a := conv("t1", "sales", "alice")
	enqueue(t, s, now, events(a, "e0", "e1")...)
	enqueue(t, s, now, events(a, "e2")...)
	for i := range 5 {
		c := claimAny(t, s, now, lease)
		var st []byte
		if i > 0 {
			st = fmt.Appendf(nil, "after e%d", i-1)
		}
		expectClaim(t, c, want1{conv: a, kind: store.KindEvent, event: fmt.Sprintf("e%d", i), attempts: 1, state: st})
		if i == 2 {
			// Events arriving while the conversation is claimed wait behind it.
			enqueue(t, s, now, events(a, "e3")...)
			enqueue(t, s, now, events(a, "e4")...)
		}
		claimNone(t, s, now, fmt.Sprintf("e%d of %v is claimed and not committed", i, a))
		commit(t, s, c, &store.Commit{State: fmt.Appendf(nil, "after e%d", i), StateTTL: stateTTL, Pop: true}, now)
	}
	claimNone(t, s, now, "all five events were committed")
}

// testConversationsInParallel: two conversations are leased at the same time.
func testConversationsInParallel(t *testing.T, newStore NewStore) {
	for _, same := range []bool{false, true} {
		t.Run(fmt.Sprintf("sameShard=%v", same), func(t *testing.T) {
			s := newStore(t)
			now := start()
			var a, b engine.Conversation
			if same {
				cs := sameShard(t, s, 2)
				a, b = cs[0], cs[1]
			} else {
				a, b = conv("t1", "sales", "alice"), conv("t1", "sales", "bob")
			}
			enqueue(t, s, now, store.Item{Conv: a, Data: []byte("a1")}, store.Item{Conv: b, Data: []byte("b1")})
			c1 := claimAny(t, s, now, lease)
			c2 := claimAny(t, s, now, lease)
			if c1 == nil || c2 == nil {
				t.Fatalf("two conversations with one event each: claims %s and %s, want both", show(c1), show(c2))
			}
			got := map[engine.Conversation]string{c1.Conv: string(c1.Event), c2.Conv: string(c2.Event)}
			if len(got) != 2 || got[a] != "a1" || got[b] != "b1" {
				t.Fatalf("claims %s and %s, want %v with a1 and %v with b1", show(c1), show(c2), a, b)
			}
			commit(t, s, c2, &store.Commit{State: []byte("s2"), StateTTL: stateTTL, Pop: true}, now)
			commit(t, s, c1, &store.Commit{State: []byte("s1"), StateTTL: stateTTL, Pop: true}, now)
			expectState(t, s, c1.Conv, "s1")
			expectState(t, s, c2.Conv, "s2")
		})
	}
}

// testClaimPriority: within a shard, Claim takes an expired lease first, then the oldest work:
// ready queues by when they became ready and due timers by when they fell due, together.
func testClaimPriority(t *testing.T, newStore NewStore) {
	s := newStore(t)
	t0 := start()
	cs := sameShard(t, s, 4)
	withTimer, expired, older, newer := cs[0], cs[1], cs[2], cs[3]

	handle(t, s, t0, withTimer, "tm0", &store.Commit{State: []byte("tm"), StateTTL: stateTTL, Pop: true, Timer: t0.Add(time.Second)})
	enqueue(t, s, t0, events(expired, "x1")...)
	claimOne(t, s, expired, t0, lease) // its worker dies
	enqueue(t, s, t0.Add(2*time.Second), events(older, "o1")...)
	enqueue(t, s, t0.Add(3*time.Second), events(newer, "n1")...)

	now := t0.Add(lease + ms)
	wants := []want1{
		{conv: expired, kind: store.KindEvent, event: "x1", attempts: 2},
		{conv: withTimer, kind: store.KindTimer, state: []byte("tm")},  // due at t0+1s
		{conv: older, kind: store.KindEvent, event: "o1", attempts: 1}, // ready at t0+2s
		{conv: newer, kind: store.KindEvent, event: "n1", attempts: 1}, // ready at t0+3s
	}
	shard := s.ShardOf(withTimer)
	for i, w := range wants {
		c, err := s.Claim(t.Context(), shard, now, lease, nil)
		if err != nil {
			t.Fatalf("claim %d: %v", i+1, err)
		}
		if c == nil || c.Conv != w.conv || c.Kind != w.kind {
			t.Fatalf("claim %d of a shard with an expired lease, two ready queues and a due timer: got %s, want %s", i+1, show(c), w)
		}
		expectClaim(t, c, w)
	}
	if c, err := s.Claim(t.Context(), shard, now, lease, nil); err != nil || c != nil {
		t.Fatalf("fifth claim: %s, %v; want nil (all four conversations leased)", show(c), err)
	}
}

// testDedup: a key is accepted once within dedupTTL, within a batch and across batches; an
// empty key never deduplicates.
func testDedup(t *testing.T, newStore NewStore) {
	s := newStore(t)
	now := start()
	a, b := conv("t1", "sales", "alice"), conv("t1", "sales", "bob")
	steps := []struct {
		items []store.Item
		want  []bool
	}{
		{[]store.Item{{Conv: a, Key: "k", Data: []byte("x1")}, {Conv: a, Key: "k", Data: []byte("x2")}}, []bool{false, true}},
		{[]store.Item{{Conv: a, Key: "k", Data: []byte("x3")}}, []bool{true}},
		{[]store.Item{{Conv: a, Data: []byte("y1")}, {Conv: a, Data: []byte("y1")}, {Conv: b, Key: "kb", Data: []byte("b1")}}, []bool{false, false, false}},
		{[]store.Item{{Conv: a, Data: []byte("y2")}, {Conv: b, Key: "kb", Data: []byte("b2")}, {Conv: a, Key: "k2", Data: []byte("z1")}}, []bool{false, true, false}},
	}
	for i, st := range steps {
		dup, err := s.Enqueue(t.Context(), st.items, dedupTTL, now)
		if err != nil {
			t.Fatalf("Enqueue %d: %v", i+1, err)
		}
		if !slices.Equal(dup, st.want) {
			t.Fatalf("Enqueue %d (%s): dup = %v, want %v", i+1, showItems(st.items), dup, st.want)
		}
	}
	// Only the items not reported as duplicates were queued, in order.
	drain(t, s, now, map[engine.Conversation][]string{a: {"x1", "y1", "y1", "y2", "z1"}, b: {"b1"}})
}

// testDedupExpiry: a key is accepted again once dedupTTL has passed (real clock, short TTL).
func testDedupExpiry(t *testing.T, newStore NewStore) {
	s := newStore(t)
	a := conv("t1", "sales", "alice")
	const ttl = 100 * time.Millisecond
	if dup := enqueueTTL(t, s, time.Now(), ttl, store.Item{Conv: a, Key: "k", Data: []byte("first")}); dup[0] {
		t.Fatal("first Enqueue of key k was reported a duplicate")
	}
	deadline := time.Now().Add(pollLimit)
	for tries := 1; ; tries++ {
		dup := enqueueTTL(t, s, time.Now(), ttl, store.Item{Conv: a, Key: "k", Data: []byte("again")})
		if !dup[0] {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("key k still a duplicate after %d tries over %v, with a dedup TTL of %v", tries, pollLimit, ttl)
		}
		time.Sleep(10 * time.Millisecond)
	}
	drain(t, s, time.Now(), map[engine.Conversation][]string{a: {"first", "again"}})
}

// testFencing: once a lease expired and another worker recovered the conversation, the old
// claim can change nothing.
func testFencing(t *testing.T, newStore NewStore) {
	s := newStore(t)
	t0 := start()
	cs := sameShard(t, s, 2)
	a, b := cs[0], cs[1]
	enqueue(t, s, t0, events(a, "e1")...)
	old := claimOne(t, s, a, t0, lease)
	expectClaim(t, old, want1{conv: a, kind: store.KindEvent, event: "e1", attempts: 1})

	now := t0.Add(lease + ms)
	cur := claimOne(t, s, a, now, lease)
	expectClaim(t, cur, want1{conv: a, kind: store.KindEvent, event: "e1", attempts: 2})
	if cur.Token == old.Token {
		t.Fatalf("the recovering claim has the expired claim's token %d; want a new one", cur.Token)
	}

	// Each stale operation fails with ErrStale, and changes nothing, both while the new
	// holder has the conversation and after it committed and released it.
	staleOps := []struct {
		name string
		do   func() error
	}{
		{"Commit", func() error {
			return s.Commit(t.Context(), old, &store.Commit{State: []byte("stale"), StateTTL: stateTTL, Pop: true, Outbox: [][]byte{[]byte("stale reply")}, Timer: now.Add(time.Minute), Handoff: true, Kept: []byte("stale kept")}, now, lease)
		}},
		{"Extend", func() error { return s.Extend(t.Context(), old, now, time.Hour) }},
		{"Finish", func() error {
			return s.Finish(t.Context(), &store.Done{Claim: old, State: []byte("stale"), StateTTL: stateTTL}, now)
		}},
	}
	check := func(phase string, wantState []byte) {
		t.Helper()
		for _, op := range staleOps {
			if err := op.do(); !errors.Is(err, store.ErrStale) {
				t.Errorf("%s: %s with the expired claim: err = %v, want ErrStale", phase, op.name, err)
			}
		}
		if st := load(t, s, a); !bytes.Equal(st, wantState) {
			t.Errorf("%s: after stale operations state = %s, want %s", phase, q(st), q(wantState))
		}
		if hs := handoffs(t, s, a.Tenant, a.Team); len(hs) != 0 {
			t.Errorf("%s: a stale Commit with Handoff listed %v", phase, hs)
		}
		if tm := nextTimer(t, s); !tm.IsZero() {
			t.Errorf("%s: a stale Commit with a Timer set NextTimer to %v", phase, tm)
		}
	}
	check("while recovered", nil)
	// Claim with a stale done: the error wraps ErrStale and the claim is still returned.
	enqueue(t, s, now, events(b, "b1")...)
	next, err := s.Claim(t.Context(), old.Shard, now, lease, &store.Done{Claim: old, State: []byte("stale"), StateTTL: stateTTL})
	if !errors.Is(err, store.ErrStale) {
		t.Errorf("Claim with the expired claim as done: err = %v, want ErrStale", err)
	}
	if next == nil {
		t.Errorf("Claim with a stale done returned no claim; want %v with b1", b)
	} else {
		expectClaim(t, next, want1{conv: b, kind: store.KindEvent, event: "b1", attempts: 1})
		commit(t, s, next, &store.Commit{StateTTL: stateTTL, Pop: true}, now)
	}
	if n := s.Shards(); n > 1 {
		// The same with a done of another shard.
		other := (old.Shard + 1) % n
		var oc engine.Conversation
		for i := 0; ; i++ {
			if oc = conv("t1", "sales", fmt.Sprintf("other%d", i)); s.ShardOf(oc) == other {
				break
			}
		}
		enqueue(t, s, now, events(oc, "o1")...)
		next, err := s.Claim(t.Context(), other, now, lease, &store.Done{Claim: old, State: []byte("stale"), StateTTL: stateTTL})
		if !errors.Is(err, store.ErrStale) {
			t.Errorf("Claim(shard %d) with the expired claim of shard %d as done: err = %v, want ErrStale", other, old.Shard, err)
		}
		if next == nil {
			t.Errorf("Claim with a stale done of another shard returned no claim; want %v with o1", oc)
		} else {
			expectClaim(t, next, want1{conv: oc, kind: store.KindEvent, event: "o1", attempts: 1})
			commit(t, s, next, &store.Commit{StateTTL: stateTTL, Pop: true}, now)
		}
	}
	// The new holder is unaffected.
	if err := s.Extend(t.Context(), cur, now, lease); err != nil {
		t.Errorf("Extend by the current holder after stale operations: %v", err)
	}
	commit(t, s, cur, &store.Commit{State: []byte("new"), StateTTL: stateTTL, Pop: true}, now)
	expectState(t, s, a, "new")
	check("after the new holder committed", []byte("new"))
	claimNone(t, s, now.Add(time.Hour), "e1 was committed once by the new holder; a stale Commit must not pop")
}

// testLateCommit: a worker whose lease expired while nobody recovered the conversation still
// holds it: its Commit applies.
func testLateCommit(t *testing.T, newStore NewStore) {
	s := newStore(t)
	t0 := start()
	a := conv("t1", "sales", "alice")
	enqueue(t, s, t0, events(a, "e1", "e2")...)
	c := claimAny(t, s, t0, lease)
	late := t0.Add(2 * lease)
	commit(t, s, c, &store.Commit{State: []byte("s1"), StateTTL: stateTTL, Pop: true}, late)
	expectState(t, s, a, "s1")
	next := claimAny(t, s, late, lease)
	expectClaim(t, next, want1{conv: a, kind: store.KindEvent, event: "e2", attempts: 1, state: []byte("s1")})
}

// testRecoveryWithoutOutbox: an event whose worker died is processed again from the state it
// had before, with Attempts counting the claims.
func testRecoveryWithoutOutbox(t *testing.T, newStore NewStore) {
	s := newStore(t)
	t0 := start()
	a := conv("t1", "sales", "alice")
	handle(t, s, t0, a, "e0", &store.Commit{State: []byte("s0"), StateTTL: stateTTL, Pop: true})
	enqueue(t, s, t0, events(a, "e1", "e2")...)
	now := t0
	for attempt := 1; attempt <= 3; attempt++ {
		c := claimAny(t, s, now, lease)
		expectClaim(t, c, want1{conv: a, kind: store.KindEvent, event: "e1", attempts: attempt, state: []byte("s0")})
		if attempt < 3 {
			claimNone(t, s, now.Add(lease-ms), "the lease has a millisecond to go")
			now = now.Add(lease + ms) // the worker died
			continue
		}
		commit(t, s, c, &store.Commit{State: []byte("s1"), StateTTL: stateTTL, Pop: true}, now)
	}
	c := claimAny(t, s, now, lease)
	expectClaim(t, c, want1{conv: a, kind: store.KindEvent, event: "e2", attempts: 1, state: []byte("s1")})
}

// testOutbox: a Commit with replies keeps the lease until Done, given by Finish or by the next
// Claim; then the next event is claimable.
func testOutbox(t *testing.T, newStore NewStore) {
	cases := []struct {
		name string
		done func(t *testing.T, s store.Store, c *store.Claim, d *store.Done, now time.Time) *store.Claim
	}{
		{"Finish", func(t *testing.T, s store.Store, c *store.Claim, d *store.Done, now time.Time) *store.Claim {
			if err := s.Finish(t.Context(), d, now); err != nil {
				t.Fatalf("Finish: %v", err)
			}
			return claimAny(t, s, now, lease)
		}},
		{"ClaimWithDone", func(t *testing.T, s store.Store, c *store.Claim, d *store.Done, now time.Time) *store.Claim {
			next, err := s.Claim(t.Context(), c.Shard, now, lease, d)
			if err != nil {
				t.Fatalf("Claim with done: %v", err)
			}
			return next
		}},
		{"ClaimWithDoneOtherShard", func(t *testing.T, s store.Store, c *store.Claim, d *store.Done, now time.Time) *store.Claim {
			if s.Shards() == 1 {
				t.Skip("one shard: no other shard to claim in")
			}
			other := (c.Shard + 1) % s.Shards()
			next, err := s.Claim(t.Context(), other, now, lease, d)
			if err != nil || next != nil {
				t.Fatalf("Claim(shard %d, nothing there) with done of shard %d: %s, %v; want nil, nil", other, c.Shard, show(next), err)
			}
			return claimAny(t, s, now, lease)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			now := start()
			a := conv("t1", "sales", "alice")
			enqueue(t, s, now, events(a, "e1", "e2")...)
			c := claimAny(t, s, now, lease)
			expectClaim(t, c, want1{conv: a, kind: store.KindEvent, event: "e1", attempts: 1})
			commit(t, s, c, &store.Commit{State: []byte("s1"), StateTTL: stateTTL, Pop: true, Outbox: bs("r1", "r2")}, now)
			claimNone(t, s, now, "a Commit with an outbox keeps the lease until Done, so e2 waits")
			if err := s.Extend(t.Context(), c, now, lease); err != nil {
				t.Fatalf("Extend after a Commit with an outbox: %v (the lease is kept until Done)", err)
			}
			expectState(t, s, a, "s1")
			next := tc.done(t, s, c, &store.Done{Claim: c, State: []byte("s1 sent"), StateTTL: stateTTL}, now)
			expectState(t, s, a, "s1 sent")
			expectClaim(t, next, want1{conv: a, kind: store.KindEvent, event: "e2", attempts: 1, state: []byte("s1 sent")})
			commit(t, s, next, &store.Commit{State: []byte("s2"), StateTTL: stateTTL, Pop: true}, now)
			claimNone(t, s, now.Add(time.Hour), "both events committed and the outbox done")
		})
	}
}

// testRecoveryWithOutbox: a worker that dies after a Commit with replies and before Done leaves
// them to be sent again, in order, with the committed state.
func testRecoveryWithOutbox(t *testing.T, newStore NewStore) {
	s := newStore(t)
	t0 := start()
	a := conv("t1", "sales", "alice")
	enqueue(t, s, t0, events(a, "e1", "e2")...)
	c := claimAny(t, s, t0, lease)
	commit(t, s, c, &store.Commit{State: []byte("s1"), StateTTL: stateTTL, Pop: true, Outbox: bs("r1", "r2", "r3")}, t0)
	claimNone(t, s, t0.Add(lease-ms), "the outbox lease has a millisecond to go")

	now := t0.Add(lease + ms) // the worker died before Done
	r := claimAny(t, s, now, lease)
	expectClaim(t, r, want1{conv: a, kind: store.KindOutbox, state: []byte("s1"), outbox: []string{"r1", "r2", "r3"}})
	if r.Token == c.Token {
		t.Errorf("the recovering claim has the dead claim's token %d; want a new one", r.Token)
	}
	if err := s.Finish(t.Context(), &store.Done{Claim: c, State: []byte("stale"), StateTTL: stateTTL}, now); !errors.Is(err, store.ErrStale) {
		t.Errorf("Finish by the dead worker's claim after recovery: err = %v, want ErrStale", err)
	}
	if err := s.Finish(t.Context(), &store.Done{Claim: r, State: []byte("s1 resent"), StateTTL: stateTTL}, now); err != nil {
		t.Fatalf("Finish of the recovered outbox: %v", err)
	}
	next := claimAny(t, s, now, lease)
	expectClaim(t, next, want1{conv: a, kind: store.KindEvent, event: "e2", attempts: 1, state: []byte("s1 resent")})
}

// testCommitIdempotent: the same Commit applied twice pops one event, also when the next
// event has the same bytes as the one popped.
func testCommitIdempotent(t *testing.T, newStore NewStore) {
	cases := []struct {
		name   string
		outbox bool
		events []string // queued; the first is claimed and committed twice
	}{
		{"released", false, []string{"e1", "e2", "e3"}},
		{"outbox", true, []string{"e1", "e2", "e3"}},
		{"released/identicalEvents", false, []string{"same", "same", "e3"}},
		{"outbox/identicalEvents", true, []string{"same", "same", "e3"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			now := start()
			a := conv("t1", "sales", "alice")
			enqueue(t, s, now, events(a, tc.events...)...)
			c := claimAny(t, s, now, lease)
			expectClaim(t, c, want1{conv: a, kind: store.KindEvent, event: tc.events[0], attempts: 1})
			cm := &store.Commit{State: []byte("s1"), StateTTL: stateTTL, Pop: true}
			if tc.outbox {
				cm.Outbox = bs("r1")
			}
			commit(t, s, c, cm, now)
			err := s.Commit(t.Context(), c, cm, now, lease)
			switch {
			case tc.outbox && err != nil:
				// The lease is still held: the retry must succeed.
				t.Fatalf("the same Commit again while the outbox keeps the lease: %v, want nil", err)
			case err != nil && !errors.Is(err, store.ErrStale):
				t.Fatalf("the same Commit again after it released the conversation: %v, want nil or ErrStale", err)
			}
			expectState(t, s, a, "s1")
			if tc.outbox {
				claimNone(t, s, now, "the outbox still keeps the lease after the repeated Commit")
				if err := s.Finish(t.Context(), &store.Done{Claim: c, State: []byte("s1"), StateTTL: stateTTL}, now); err != nil {
					t.Fatalf("Finish: %v", err)
				}
			}
			drain(t, s, now, map[engine.Conversation][]string{a: tc.events[1:]})
		})
	}
}

// testExtend: an extended lease outlives its original expiry; one not extended is recovered.
func testExtend(t *testing.T, newStore NewStore) {
	for _, extend := range []bool{false, true} {
		t.Run(fmt.Sprintf("extended=%v", extend), func(t *testing.T) {
			s := newStore(t)
			t0 := start()
			a := conv("t1", "sales", "alice")
			enqueue(t, s, t0, events(a, "e1")...)
			c := claimAny(t, s, t0, lease)
			if !extend {
				r := claimAny(t, s, t0.Add(lease+ms), lease)
				expectClaim(t, r, want1{conv: a, kind: store.KindEvent, event: "e1", attempts: 2})
				return
			}
			mid := t0.Add(lease / 2)
			if err := s.Extend(t.Context(), c, mid, lease); err != nil {
				t.Fatalf("Extend of a live claim: %v", err)
			}
			claimNone(t, s, t0.Add(lease+ms), "the lease was extended past its original expiry")
			claimNone(t, s, mid.Add(lease-ms), "the extended lease has a millisecond to go")
			commit(t, s, c, &store.Commit{State: []byte("s1"), StateTTL: stateTTL, Pop: true}, mid.Add(lease-ms))
			expectState(t, s, a, "s1")
			claimNone(t, s, mid.Add(time.Hour), "e1 was committed under the extended lease")
		})
	}
}

// testTimers: timers fire at their time, not before, not while the conversation is leased,
// are replaced by each Commit and cleared by a zero Timer.
func testTimers(t *testing.T, newStore NewStore) {
	t.Run("fire", func(t *testing.T) {
		s := newStore(t)
		t0 := start()
		a := conv("t1", "sales", "alice")
		if tm := nextTimer(t, s); !tm.IsZero() {
			t.Fatalf("empty store: NextTimer = %v, want zero", tm)
		}
		at := t0.Add(time.Minute)
		handle(t, s, t0, a, "e1", &store.Commit{State: []byte("s1"), StateTTL: stateTTL, Pop: true, Timer: at})
		expectNextTimer(t, s, at)
		claimNone(t, s, at.Add(-ms), "the timer is due in a millisecond")
		c := claimAny(t, s, at, lease)
		expectClaim(t, c, want1{conv: a, kind: store.KindTimer, state: []byte("s1")})
		// The timer's worker dies: the timer is claimed again after the lease.
		claimNone(t, s, at.Add(lease-ms), "the timer claim's lease has a millisecond to go")
		r := claimAny(t, s, at.Add(lease+ms), lease)
		expectClaim(t, r, want1{conv: a, kind: store.KindTimer, state: []byte("s1")})
		commit(t, s, r, &store.Commit{State: []byte("s2"), StateTTL: stateTTL}, at.Add(lease+ms))
		expectState(t, s, a, "s2")
		if tm := nextTimer(t, s); !tm.IsZero() {
			t.Errorf("after a Commit with a zero Timer: NextTimer = %v, want zero", tm)
		}
		claimNone(t, s, at.Add(24*time.Hour), "the timer was cleared by a Commit with a zero Timer")
	})
	t.Run("notWhileLeased", func(t *testing.T) {
		s := newStore(t)
		t0 := start()
		a := conv("t1", "sales", "alice")
		at := t0.Add(time.Minute)
		handle(t, s, t0, a, "e1", &store.Commit{State: []byte("s1"), StateTTL: stateTTL, Pop: true, Timer: at})
		enqueue(t, s, t0, events(a, "e2")...)
		c := claimAny(t, s, t0, time.Hour)
		expectClaim(t, c, want1{conv: a, kind: store.KindEvent, event: "e2", attempts: 1, state: []byte("s1")})
		claimNone(t, s, at, "the conversation's timer is due but the conversation is leased")
		claimNone(t, s, at.Add(time.Minute), "the conversation's timer is due but the conversation is leased")
		// The worker keeps the timer in its Commit; the timer then fires.
		commit(t, s, c, &store.Commit{State: []byte("s2"), StateTTL: stateTTL, Pop: true, Timer: at}, at.Add(time.Minute))
		r := claimAny(t, s, at.Add(time.Minute), lease)
		expectClaim(t, r, want1{conv: a, kind: store.KindTimer, state: []byte("s2")})
	})
	t.Run("manyLeased", func(t *testing.T) {
		// Due timers of leased conversations do not hide the due timer of one that is not.
		s := newStore(t)
		t0 := start()
		at := t0.Add(time.Minute)
		cs := sameShard(t, s, 13)
		busy, free := cs[:12], cs[12]
		for _, cv := range busy {
			handle(t, s, t0, cv, "e1", &store.Commit{State: []byte("s1"), StateTTL: stateTTL, Pop: true, Timer: at})
			enqueue(t, s, t0, events(cv, "e2")...)
			c := claimOne(t, s, cv, t0, time.Hour) // held past the timers
			expectClaim(t, c, want1{conv: cv, kind: store.KindEvent, event: "e2", attempts: 1, state: []byte("s1")})
		}
		handle(t, s, t0, free, "e1", &store.Commit{State: []byte("free"), StateTTL: stateTTL, Pop: true, Timer: at.Add(ms)})
		c, err := s.Claim(t.Context(), s.ShardOf(free), at.Add(time.Second), lease, nil)
		if err != nil {
			t.Fatalf("Claim: %v", err)
		}
		if c == nil || c.Conv != free {
			t.Fatalf("%d leased conversations with due timers and %s, not leased, with a due timer: Claim = %s, want %s's timer", len(busy), free.User, show(c), free.User)
		}
		expectClaim(t, c, want1{conv: free, kind: store.KindTimer, state: []byte("free")})
	})
	t.Run("replacedAndEarliest", func(t *testing.T) {
		s := newStore(t)
		t0 := start()
		a, b := conv("t1", "sales", "alice"), conv("t1", "sales", "bob")
		handle(t, s, t0, a, "a1", &store.Commit{StateTTL: stateTTL, Pop: true, Timer: t0.Add(time.Minute)})
		handle(t, s, t0, b, "b1", &store.Commit{StateTTL: stateTTL, Pop: true, Timer: t0.Add(3 * time.Minute)})
		expectNextTimer(t, s, t0.Add(time.Minute))
		// A later Commit of a replaces its timer.
		handle(t, s, t0, a, "a2", &store.Commit{StateTTL: stateTTL, Pop: true, Timer: t0.Add(5 * time.Minute)})
		expectNextTimer(t, s, t0.Add(3*time.Minute))
		claimNone(t, s, t0.Add(2*time.Minute), "a's timer moved from 1m to 5m; b's is at 3m")
		c := claimAny(t, s, t0.Add(3*time.Minute), lease)
		expectClaim(t, c, want1{conv: b, kind: store.KindTimer})
		commit(t, s, c, &store.Commit{StateTTL: stateTTL}, t0.Add(3*time.Minute))
		expectNextTimer(t, s, t0.Add(5*time.Minute))
		// A zero Timer clears a's.
		handle(t, s, t0.Add(3*time.Minute), a, "a3", &store.Commit{StateTTL: stateTTL, Pop: true})
		if tm := nextTimer(t, s); !tm.IsZero() {
			t.Errorf("after both timers were fired or cleared: NextTimer = %v, want zero", tm)
		}
		claimNone(t, s, t0.Add(time.Hour), "both timers were fired or cleared")
	})
}

// testClaimConversation: an API call leases a conversation whether or not it has work, is
// refused while a worker holds it, and loses no queued event.
func testClaimConversation(t *testing.T, newStore NewStore) {
	t.Run("newConversation", func(t *testing.T) {
		s := newStore(t)
		now := start()
		b := conv("t1", "sales", "bob")
		d := claimConv(t, s, b, now)
		expectClaim(t, d, want1{conv: b, kind: store.KindDirect})
		if _, err := s.ClaimConversation(t.Context(), b, now, lease); !errors.Is(err, store.ErrBusy) {
			t.Errorf("ClaimConversation while a direct claim holds it: err = %v, want ErrBusy", err)
		}
		commit(t, s, d, &store.Commit{State: []byte("d1"), StateTTL: stateTTL}, now)
		expectState(t, s, b, "d1")
		d2 := claimConv(t, s, b, now) // the Commit without outbox released it
		expectClaim(t, d2, want1{conv: b, kind: store.KindDirect, state: []byte("d1")})
		claimNone(t, s, now, "a direct claim is no work for workers")
	})
	t.Run("busyAndQueue", func(t *testing.T) {
		s := newStore(t)
		now := start()
		a := conv("t1", "sales", "alice")
		enqueue(t, s, now, events(a, "e1", "e2", "e3")...)
		c := claimAny(t, s, now, lease)
		expectClaim(t, c, want1{conv: a, kind: store.KindEvent, event: "e1", attempts: 1})
		if d, err := s.ClaimConversation(t.Context(), a, now, lease); !errors.Is(err, store.ErrBusy) {
			t.Fatalf("ClaimConversation while a worker holds the conversation: %s, %v; want ErrBusy", show(d), err)
		}
		commit(t, s, c, &store.Commit{State: []byte("s1"), StateTTL: stateTTL, Pop: true}, now)

		d := claimConv(t, s, a, now)
		expectClaim(t, d, want1{conv: a, kind: store.KindDirect, state: []byte("s1")})
		claimNone(t, s, now, "the conversation is held by a direct claim, so e2 waits")
		commit(t, s, d, &store.Commit{State: []byte("s2"), StateTTL: stateTTL, Outbox: bs("agent reply")}, now)
		claimNone(t, s, now, "the direct claim's outbox keeps the lease")
		if err := s.Finish(t.Context(), &store.Done{Claim: d, State: []byte("s3"), StateTTL: stateTTL}, now); err != nil {
			t.Fatalf("Finish of the direct claim: %v", err)
		}
		expectState(t, s, a, "s3")
		drain(t, s, now, map[engine.Conversation][]string{a: {"e2", "e3"}})
	})
	t.Run("expiredLease", func(t *testing.T) {
		s := newStore(t)
		t0 := start()
		a := conv("t1", "sales", "alice")
		enqueue(t, s, t0, events(a, "e1")...)
		dead := claimAny(t, s, t0, lease)
		now := t0.Add(lease + ms)
		d := claimConv(t, s, a, now) // the worker's lease expired: no one holds it
		expectClaim(t, d, want1{conv: a, kind: store.KindDirect})
		if err := s.Commit(t.Context(), dead, &store.Commit{State: []byte("stale"), StateTTL: stateTTL, Pop: true}, now, lease); !errors.Is(err, store.ErrStale) {
			t.Errorf("Commit by the expired claim after a direct claim took over: err = %v, want ErrStale", err)
		}
		commit(t, s, d, &store.Commit{State: []byte("d1"), StateTTL: stateTTL}, now)
		c := claimAny(t, s, now, lease)
		expectClaim(t, c, want1{conv: a, kind: store.KindEvent, event: "e1", state: []byte("d1")})
	})
}

// testHandoff: conversations with a human agent are listed by tenant and team with the events
// kept for the agent, until a Commit ends the handoff.
func testHandoff(t *testing.T, newStore NewStore) {
	t.Run("listing", func(t *testing.T) { testHandoffListing(t, newStore(t)) })
	t.Run("identicalEvents", func(t *testing.T) {
		// Two events with the same bytes, each kept, are two kept events.
		s := newStore(t)
		now := start()
		a := conv("t1", "sales", "alice")
		for _, ev := range []string{"hello", "hello", "bye"} {
			handle(t, s, now, a, ev, &store.Commit{State: []byte("with agent"), StateTTL: stateTTL, Pop: true, Handoff: true, Kept: []byte(ev)})
		}
		expectHandoffs(t, s, "t1", "sales", map[engine.Conversation][]string{a: {"hello", "hello", "bye"}})
	})
	t.Run("carried", func(t *testing.T) {
		// A person's events kept under one conversation move to another: Kept reads them, a
		// commit that clears them ends the first handoff, and the other conversation keeps
		// them before its own event.
		s := newStore(t)
		now := start()
		from, to := conv("t1", "sales", "16505551234"), conv("t1", "sales", "US.1")
		for _, ev := range []string{"k1", "k2"} {
			handle(t, s, now, from, ev, &store.Commit{State: []byte("with agent"), StateTTL: stateTTL, Pop: true, Handoff: true, Kept: []byte(ev)})
		}
		c := claimConv(t, s, from, now)
		kept, err := s.Kept(t.Context(), from)
		if err != nil || len(kept) != 2 || string(kept[0]) != "k1" || string(kept[1]) != "k2" {
			t.Fatalf("Kept = %q, %v; want k1, k2", kept, err)
		}
		commit(t, s, c, &store.Commit{State: []byte("link"), StateTTL: stateTTL, ClearKept: true}, now)
		handle(t, s, now, to, "k3", &store.Commit{State: []byte("with agent"), StateTTL: stateTTL, Pop: true, Handoff: true, Carried: kept, Kept: []byte("k3")})
		expectHandoffs(t, s, "t1", "sales", map[engine.Conversation][]string{to: {"k1", "k2", "k3"}})
		if kept, err := s.Kept(t.Context(), from); err != nil || len(kept) != 0 {
			t.Errorf("Kept of the conversation left = %q, %v; want none", kept, err)
		}
	})
}

func testHandoffListing(t *testing.T, s store.Store) {
	now := start()
	a1, a2 := conv("t1", "sales", "alice"), conv("t1", "sales", "amy")
	b := conv("t1", "support", "bob")
	c := conv("t2", "sales", "carol")
	notHanded := conv("t1", "sales", "nina")
	hand := func(cv engine.Conversation, ev string) {
		t.Helper()
		handle(t, s, now, cv, ev, &store.Commit{State: []byte("with agent"), StateTTL: stateTTL, Pop: true, Handoff: true, Kept: []byte(ev)})
	}
	hand(a1, "a1-1")
	hand(a1, "a1-2")
	hand(a1, "a1-3")
	hand(a2, "a2-1")
	hand(b, "b-1")
	hand(c, "c-1")
	handle(t, s, now, notHanded, "n-1", &store.Commit{State: []byte("bot"), StateTTL: stateTTL, Pop: true})
	// A handoff commit without an event to keep adds none.
	handle(t, s, now, a2, "a2-2", &store.Commit{State: []byte("with agent"), StateTTL: stateTTL, Pop: true, Handoff: true})

	expectHandoffs(t, s, "t1", "sales", map[engine.Conversation][]string{a1: {"a1-1", "a1-2", "a1-3"}, a2: {"a2-1"}})
	expectHandoffs(t, s, "t1", "support", map[engine.Conversation][]string{b: {"b-1"}})
	expectHandoffs(t, s, "t2", "sales", map[engine.Conversation][]string{c: {"c-1"}})
	expectHandoffs(t, s, "t2", "support", nil)
	expectHandoffs(t, s, "t3", "sales", nil)

	// The agent releases a1: the handoff ends and its kept events are dropped.
	handle(t, s, now, a1, "a1-4", &store.Commit{State: []byte("bot"), StateTTL: stateTTL, Pop: true, ClearKept: true})
	expectHandoffs(t, s, "t1", "sales", map[engine.Conversation][]string{a2: {"a2-1"}})
	expectHandoffs(t, s, "t1", "support", map[engine.Conversation][]string{b: {"b-1"}})
	// A new handoff of a1 starts with no kept events from the last one.
	hand(a1, "a1-5")
	expectHandoffs(t, s, "t1", "sales", map[engine.Conversation][]string{a1: {"a1-5"}, a2: {"a2-1"}})
}

// testStateTTL: an idle conversation's state expires after StateTTL (real clock, short TTL).
func testStateTTL(t *testing.T, newStore NewStore) {
	s := newStore(t)
	a, b := conv("t1", "sales", "alice"), conv("t1", "sales", "bob")
	const ttl = 200 * time.Millisecond
	handle(t, s, time.Now(), a, "e1", &store.Commit{State: []byte("short"), StateTTL: ttl, Pop: true})
	handle(t, s, time.Now(), b, "e1", &store.Commit{State: []byte("long"), StateTTL: stateTTL, Pop: true})
	deadline := time.Now().Add(pollLimit)
	for tries := 1; ; tries++ {
		if load(t, s, a) == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("state saved with StateTTL %v still loaded after %d tries over %v", ttl, tries, pollLimit)
		}
		time.Sleep(20 * time.Millisecond)
	}
	expectState(t, s, b, "long")
	enqueue(t, s, time.Now(), events(a, "e2")...)
	c := claimAny(t, s, time.Now(), lease)
	expectClaim(t, c, want1{conv: a, kind: store.KindEvent, event: "e2", attempts: 1})
}

// testConcurrent: workers claiming and committing concurrently, while events arrive, process
// every event exactly once and in order per conversation.
func testConcurrent(t *testing.T, newStore NewStore) {
	s := newStore(t)
	const convs, perConv, workers = 10, 20, 8
	const total = convs * perConv
	cvs := make([]engine.Conversation, convs)
	index := map[engine.Conversation]int{}
	for i := range cvs {
		cvs[i] = conv("t1", "sales", fmt.Sprintf("user%d", i))
		index[cvs[i]] = i
	}
	ctx := t.Context()
	n := s.Shards()

	var (
		mu        sync.Mutex
		got       = make([][]int, convs) // sequence numbers per conversation, as processed
		held      = map[engine.Conversation]int{}
		processed int
		failed    bool
	)
	fail := func(format string, args ...any) {
		t.Errorf(format, args...)
		mu.Lock()
		failed = true
		mu.Unlock()
	}
	stop := func() bool {
		mu.Lock()
		defer mu.Unlock()
		return failed || processed == total
	}
	deadline := time.Now().Add(lease / 2) // well within the lease: no lease may expire

	var wg sync.WaitGroup
	wg.Go(func() { // the producer: arrival order is sequence order per conversation
		var items []store.Item
		for seq := range perConv {
			for i := range convs {
				items = append(items, store.Item{Conv: cvs[i], Key: fmt.Sprintf("%d/%d", i, seq), Data: fmt.Appendf(nil, "%d/%d", i, seq)})
			}
		}
		var last *store.Item
		for len(items) > 0 {
			batch := items[:min(7, len(items))]
			items = items[len(batch):]
			send := batch
			if last != nil { // a redelivery of the previous batch's last item
				send = append([]store.Item{*last}, batch...)
			}
			dup, err := s.Enqueue(ctx, send, dedupTTL, time.Now())
			if err != nil {
				fail("Enqueue: %v", err)
				return
			}
			want := make([]bool, len(send))
			want[0] = last != nil
			if !slices.Equal(dup, want) {
				fail("Enqueue(%s): dup = %v, want %v", showItems(send), dup, want)
			}
			last = &batch[len(batch)-1]
		}
	})
	for w := range workers {
		wg.Go(func() {
			var done *store.Done
			shard := w % n
			for idle := 0; ; {
				if stop() && done == nil {
					return
				}
				if time.Now().After(deadline) {
					mu.Lock()
					done := processed
					mu.Unlock()
					fail("worker %d: gave up with %d of %d events processed", w, done, total)
					return
				}
				sh := shard
				if done != nil {
					sh = done.Claim.Shard
				}
				c, err := s.Claim(ctx, sh, time.Now(), lease, done)
				done = nil
				if err != nil {
					fail("worker %d: Claim(shard %d): %v", w, sh, err)
					return
				}
				if c == nil {
					shard = (shard + 1) % n
					if idle++; idle%n == 0 {
						time.Sleep(time.Millisecond) // back off: no work in any shard
					}
					continue
				}
				i, seq, ok := parseEvent(c.Event)
				if c.Kind != store.KindEvent || !ok || i < 0 || i >= convs || cvs[i] != c.Conv || c.Attempts != 1 {
					fail("worker %d: claimed %s, want an event claimed once", w, show(c))
					return
				}
				mu.Lock()
				if other, ok := held[c.Conv]; ok {
					t.Errorf("worker %d claimed %v while worker %d held it", w, c.Conv, other)
					failed = true
				}
				held[c.Conv] = w
				want := len(got[i])
				got[i] = append(got[i], seq)
				processed++
				mu.Unlock()
				var wantState []byte
				if want > 0 {
					wantState = strconv.AppendInt(nil, int64(want), 10)
				}
				if !bytes.Equal(c.State, wantState) {
					fail("worker %d: claim of %v event %d has state %s, want %s", w, c.Conv, seq, q(c.State), q(wantState))
				}
				cm := &store.Commit{State: strconv.AppendInt(nil, int64(want+1), 10), StateTTL: stateTTL, Pop: true}
				if seq%3 == 0 {
					cm.Outbox = bs(fmt.Sprintf("reply %d/%d", i, seq))
				}
				mu.Lock()
				delete(held, c.Conv) // before the commit releases it
				mu.Unlock()
				if err := s.Commit(ctx, c, cm, time.Now(), lease); err != nil {
					fail("worker %d: Commit of %s: %v", w, show(c), err)
					return
				}
				if len(cm.Outbox) > 0 { // replies "sent"; the next Claim finishes this one
					done = &store.Done{Claim: c, State: cm.State, StateTTL: stateTTL}
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	want := make([]int, perConv)
	for i := range want {
		want[i] = i
	}
	for i, g := range got {
		if !slices.Equal(g, want) {
			t.Errorf("%v: events processed in the order %v, want each once in order %v", cvs[i], g, want)
		}
		expectState(t, s, cvs[i], strconv.Itoa(perConv))
	}
	claimNone(t, s, time.Now().Add(time.Hour), "all events were processed and their outboxes done")
	st, err := s.Stats(ctx)
	if err != nil {
		t.Fatalf("Stats: %v", err)
	}
	if st.Queued != 0 || st.Ready != 0 || st.Leased != 0 {
		t.Errorf("after all work: Stats = %+v, want no queued, ready or leased", st)
	}
}

// testConcurrentWithCrashes: workers that die at random (a claim dropped before its Commit,
// or after a Commit with replies and before Done) or stall past their lease and then commit,
// on short real leases: every event is popped
// by exactly one successful Commit, in order, whatever the races between expiry, recovery and
// late commits; the replies of every dead outbox are sent again.
func testConcurrentWithCrashes(t *testing.T, newStore NewStore) {
	s := newStore(t)
	const convs, perConv, workers = 10, 20, 8
	const total = convs * perConv
	const shortLease = 200 * time.Millisecond
	cvs := make([]engine.Conversation, convs)
	for i := range cvs {
		cvs[i] = conv("t1", "sales", fmt.Sprintf("user%d", i))
	}
	var items []store.Item
	for seq := range perConv {
		for i := range convs {
			items = append(items, store.Item{Conv: cvs[i], Data: fmt.Appendf(nil, "%d/%d", i, seq)})
		}
	}
	enqueue(t, s, time.Now(), items...)
	ctx := t.Context()
	n := s.Shards()

	var (
		mu      sync.Mutex
		popped  = make([][]int, convs) // per conversation, the events popped by a successful Commit
		npopped int
		resent  = map[string]int{}  // outbox entries sent again after their worker died
		lost    = map[string]bool{} // outbox entries whose worker died before Done
		failed  bool
	)
	fail := func(format string, args ...any) {
		t.Errorf(format, args...)
		mu.Lock()
		failed = true
		mu.Unlock()
	}
	deadline := time.Now().Add(30 * time.Second) // a failure bound: the work takes a second or two
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			rnd := rand.New(rand.NewPCG(uint64(w), 42))
			shard := w % n
			for {
				mu.Lock()
				stop, all := failed, npopped == total
				mu.Unlock()
				if stop {
					return
				}
				if time.Now().After(deadline) {
					mu.Lock()
					done := npopped
					mu.Unlock()
					fail("worker %d: gave up with %d of %d events popped", w, done, total)
					return
				}
				c, err := s.Claim(ctx, shard, time.Now(), shortLease, nil)
				if err != nil {
					fail("worker %d: Claim(shard %d): %v", w, shard, err)
					return
				}
				if c == nil {
					shard = (shard + 1) % n
					if all {
						st, err := s.Stats(ctx)
						if err != nil {
							fail("Stats: %v", err)
							return
						}
						if st.Leased == 0 && st.Queued == 0 {
							return
						}
					}
					time.Sleep(2 * time.Millisecond) // back off: leases of dead workers run out
					continue
				}
				switch c.Kind {
				case store.KindOutbox:
					// A dead worker's replies: its committed state is the one after the event.
					if len(c.Outbox) != 1 {
						fail("worker %d: outbox claim %s, want one reply", w, show(c))
						return
					}
					i, seq, ok := parseEvent(bytes.TrimPrefix(c.Outbox[0], []byte("reply ")))
					if !ok || i < 0 || i >= convs || cvs[i] != c.Conv || string(c.State) != strconv.Itoa(seq+1) {
						fail("worker %d: outbox claim %s, want the reply of an event and the state after it", w, show(c))
						return
					}
					if rnd.IntN(5) == 0 {
						continue // dies again
					}
					err := s.Finish(ctx, &store.Done{Claim: c, State: c.State, StateTTL: stateTTL}, time.Now())
					if err == nil {
						mu.Lock()
						resent[string(c.Outbox[0])]++
						mu.Unlock()
					} else if !errors.Is(err, store.ErrStale) {
						fail("worker %d: Finish of %s: %v", w, show(c), err)
						return
					}
				case store.KindEvent:
					i, seq, ok := parseEvent(c.Event)
					if !ok || i < 0 || i >= convs || cvs[i] != c.Conv {
						fail("worker %d: claimed %s, not a queued event", w, show(c))
						return
					}
					// The state is the one committed with the previous pop: events are popped
					// in order, and none is popped twice.
					var want []byte
					if seq > 0 {
						want = strconv.AppendInt(nil, int64(seq), 10)
					}
					if !bytes.Equal(c.State, want) {
						fail("worker %d: claim of %v event %d has state %s, want %s", w, c.Conv, seq, q(c.State), q(want))
						return
					}
					switch rnd.IntN(10) {
					case 0:
						continue // dies before its Commit
					case 1:
						// Stalls past its lease, then commits: the Commit applies if nobody
						// recovered the conversation meanwhile, else it is stale.
						time.Sleep(shortLease + shortLease/4)
					}
					reply := fmt.Sprintf("reply %d/%d", i, seq)
					cm := &store.Commit{State: strconv.AppendInt(nil, int64(seq+1), 10), StateTTL: stateTTL, Pop: true, Outbox: bs(reply)}
					err := s.Commit(ctx, c, cm, time.Now(), shortLease)
					if errors.Is(err, store.ErrStale) {
						continue // too slow: another worker recovered it
					}
					if err != nil {
						fail("worker %d: Commit of %s: %v", w, show(c), err)
						return
					}
					mu.Lock()
					popped[i] = append(popped[i], seq)
					npopped++
					mu.Unlock()
					if rnd.IntN(6) == 0 { // dies before Done: the replies go out again
						mu.Lock()
						lost[reply] = true
						mu.Unlock()
						continue
					}
					if err := s.Finish(ctx, &store.Done{Claim: c, State: cm.State, StateTTL: stateTTL}, time.Now()); err != nil && !errors.Is(err, store.ErrStale) {
						fail("worker %d: Finish of %s: %v", w, show(c), err)
						return
					} else if err != nil {
						mu.Lock()
						lost[reply] = true // too slow: recovered and sent again
						mu.Unlock()
					}
				default:
					fail("worker %d: claimed %s, want an event or an outbox", w, show(c))
					return
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	each := make([]int, perConv)
	for i := range each {
		each[i] = i
	}
	for i, p := range popped {
		slices.Sort(p)
		if !slices.Equal(p, each) {
			t.Errorf("%v: events popped by successful Commits: %v, want each of 0..%d once", cvs[i], p, perConv-1)
		}
		expectState(t, s, cvs[i], strconv.Itoa(perConv))
	}
	for reply := range lost {
		if resent[reply] == 0 {
			t.Errorf("%s: its worker died before Done, and it was never claimed again to be resent", reply)
		}
	}
	for reply := range resent {
		if !lost[reply] {
			t.Errorf("%s was sent again, but its worker had finished it", reply)
		}
	}
	t.Logf("%d outboxes recovered", len(resent))
}

// testConversationIDs: conversations whose fields hold separators, braces and other bytes are
// kept apart and read back as they were.
func testConversationIDs(t *testing.T, newStore NewStore) {
	s := newStore(t)
	now := start()
	cvs := []engine.Conversation{
		{Tenant: "t1", Team: "sales", Channel: "wa", Account: "1", User: "a|b"},
		{Tenant: "t1", Team: "sales", Channel: "wa", Account: "1", User: "a"},
		{Tenant: "t1", Team: "sales", Channel: "wa", Account: "1", User: "a:q"},
		{Tenant: "t1", Team: "sales", Channel: "wa", Account: "1", User: "{0}:x"},
		{Tenant: "t1", Team: "sales", Channel: "wa", Account: "1", User: "üser 🙂"},
		{Tenant: "t1", Team: "sales", Channel: "wa", Account: "1", User: ""},
		{Tenant: "t1", Team: "", Channel: "wa", Account: "1", User: "a"},
		{Tenant: "", Team: "", Channel: "", Account: "", User: "a"},
		{Tenant: "t1", Team: "sales", Channel: "wa", Account: "{1}", User: "a"},
	}
	for i, cv := range cvs {
		handle(t, s, now, cv, fmt.Sprintf("e%d", i), &store.Commit{State: fmt.Appendf(nil, "s%d", i), StateTTL: stateTTL, Pop: true, Handoff: true, Kept: fmt.Appendf(nil, "k%d", i)})
	}
	for i, cv := range cvs {
		expectState(t, s, cv, fmt.Sprintf("s%d", i))
	}
	expectHandoffs(t, s, "t1", "sales", map[engine.Conversation][]string{cvs[0]: {"k0"}, cvs[1]: {"k1"}, cvs[2]: {"k2"}, cvs[3]: {"k3"}, cvs[4]: {"k4"}, cvs[5]: {"k5"}, cvs[8]: {"k8"}})
	expectHandoffs(t, s, "t1", "", map[engine.Conversation][]string{cvs[6]: {"k6"}})
	expectHandoffs(t, s, "", "", map[engine.Conversation][]string{cvs[7]: {"k7"}})
}

// testStatsAndPing: the counters follow a simple scenario.
func testStatsAndPing(t *testing.T, newStore NewStore) {
	s := newStore(t)
	now := start()
	if err := s.Ping(t.Context()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	a, b := conv("t1", "sales", "alice"), conv("t1", "sales", "bob")
	expectStats(t, s, "empty store", store.Stats{})
	enqueue(t, s, now, events(a, "a1", "a2", "a3")...)
	expectStats(t, s, "three events queued for one conversation", store.Stats{Queued: 3, Ready: 1})
	c := claimAny(t, s, now, lease)
	expectClaim(t, c, want1{conv: a, kind: store.KindEvent, event: "a1", attempts: 1})
	st := stats(t, s)
	if st.Leased != 1 || st.Ready != 0 {
		t.Errorf("its conversation claimed: Stats = %+v, want Leased 1 and Ready 0", st)
	}
	commit(t, s, c, &store.Commit{State: []byte("s1"), StateTTL: stateTTL, Pop: true, Timer: now.Add(time.Minute), Handoff: true, Kept: []byte("a1")}, now)
	expectStats(t, s, "a1 committed with a timer and a handoff", store.Stats{Queued: 2, Ready: 1, Timers: 1, Handoffs: 1})
	enqueue(t, s, now, events(b, "b1")...)
	expectStats(t, s, "b1 queued", store.Stats{Queued: 3, Ready: 2, Timers: 1, Handoffs: 1})
	d := claimConv(t, s, b, now)
	st = stats(t, s)
	if st.Leased != 1 || st.Ready != 1 {
		t.Errorf("b claimed by ClaimConversation: Stats = %+v, want Leased 1 and Ready 1", st)
	}
	commit(t, s, d, &store.Commit{State: []byte("b"), StateTTL: stateTTL, Handoff: true}, now)
	expectStats(t, s, "b released in handoff", store.Stats{Queued: 3, Ready: 2, Timers: 1, Handoffs: 2})
}

// --- RunClock subtests ---

func testClockDedupTTL(t *testing.T, s store.Store, clk *testclock.Clock) {
	a := conv("t1", "sales", "alice")
	const ttl = 10 * time.Minute
	t0 := clk.Now()
	if dup := enqueueTTL(t, s, t0, ttl, store.Item{Conv: a, Key: "k1", Data: []byte("k1 first")}, store.Item{Conv: a, Key: "k2", Data: []byte("k2 first")}); !slices.Equal(dup, []bool{false, false}) {
		t.Fatalf("first Enqueue of k1 and k2: dup = %v, want [false false]", dup)
	}
	now := clk.Advance(ttl - time.Second)
	if dup := enqueueTTL(t, s, now, ttl, store.Item{Conv: a, Key: "k1", Data: []byte("k1 again")}); !dup[0] {
		t.Errorf("k1 again %v after it was accepted, with a dedup TTL of %v: dup = false, want true", ttl-time.Second, ttl)
	}
	now = clk.Advance(2 * time.Second)
	if dup := enqueueTTL(t, s, now, ttl, store.Item{Conv: a, Key: "k2", Data: []byte("k2 again")}); dup[0] {
		t.Errorf("k2 again %v after it was accepted, with a dedup TTL of %v: dup = true, want false", ttl+time.Second, ttl)
	}
	drain(t, s, now, map[engine.Conversation][]string{a: {"k1 first", "k2 first", "k2 again"}})
}

func testClockStateTTL(t *testing.T, s store.Store, clk *testclock.Clock) {
	a, b := conv("t1", "sales", "alice"), conv("t1", "sales", "bob")
	const ttl = time.Hour
	handle(t, s, clk.Now(), a, "e1", &store.Commit{State: []byte("s1"), StateTTL: ttl, Pop: true})
	handle(t, s, clk.Now(), b, "e1", &store.Commit{State: []byte("b1"), StateTTL: ttl, Pop: true})
	clk.Advance(50 * time.Minute)
	expectState(t, s, a, "s1")
	// a is active again: its TTL runs from its last commit.
	handle(t, s, clk.Now(), a, "e2", &store.Commit{State: []byte("s2"), StateTTL: ttl, Pop: true})
	clk.Advance(20 * time.Minute) // 70 minutes after the first commits, 20 after a's last
	expectState(t, s, a, "s2")
	if st := load(t, s, b); st != nil {
		t.Errorf("b's state, saved 70m ago with StateTTL %v: %q, want nil (expired)", ttl, st)
	}
	clk.Advance(41 * time.Minute)
	if st := load(t, s, a); st != nil {
		t.Errorf("a's state, saved 61m ago with StateTTL %v: %q, want nil (expired)", ttl, st)
	}
	enqueue(t, s, clk.Now(), events(a, "e3")...)
	c := claimAny(t, s, clk.Now(), lease)
	expectClaim(t, c, want1{conv: a, kind: store.KindEvent, event: "e3", attempts: 1})
}

// --- helpers ---

func conv(tenant, team, user string) engine.Conversation {
	return engine.Conversation{Tenant: tenant, Team: team, Channel: "test", Account: "acct1", User: user}
}

// events returns items without keys for c.
func events(c engine.Conversation, data ...string) []store.Item {
	items := make([]store.Item, len(data))
	for i, d := range data {
		items[i] = store.Item{Conv: c, Data: []byte(d)}
	}
	return items
}

func bs(ss ...string) [][]byte {
	out := make([][]byte, len(ss))
	for i, s := range ss {
		out[i] = []byte(s)
	}
	return out
}

func strs(bb [][]byte) []string {
	out := make([]string, len(bb))
	for i, b := range bb {
		out[i] = string(b)
	}
	return out
}

// q quotes a state for messages, telling nil apart.
func q(b []byte) string {
	if b == nil {
		return "nil"
	}
	return strconv.Quote(string(b))
}

func show(c *store.Claim) string {
	if c == nil {
		return "nil"
	}
	s := fmt.Sprintf("{%s/%s/%s kind %v token %d shard %d state %s", c.Conv.Tenant, c.Conv.Team, c.Conv.User, c.Kind, c.Token, c.Shard, q(c.State))
	if c.Event != nil || c.Kind == store.KindEvent {
		s += fmt.Sprintf(" event %s attempts %d", q(c.Event), c.Attempts)
	}
	if c.Outbox != nil {
		s += fmt.Sprintf(" outbox %q", strs(c.Outbox))
	}
	return s + "}"
}

func showItems(items []store.Item) string {
	var parts []string
	for _, it := range items {
		parts = append(parts, fmt.Sprintf("%s key %q data %q", it.Conv.User, it.Key, it.Data))
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

func keys(m map[engine.Conversation]bool) []string {
	var out []string
	for c := range m {
		out = append(out, c.User)
	}
	slices.Sort(out)
	return out
}

// want1 is what a claim should carry. Zero attempts and a nil outbox are not checked; a nil
// state must be nil.
type want1 struct {
	conv     engine.Conversation
	kind     store.Kind
	state    []byte
	event    string
	attempts int
	outbox   []string
}

func (w want1) String() string {
	s := fmt.Sprintf("{%s/%s/%s kind %v state %s", w.conv.Tenant, w.conv.Team, w.conv.User, w.kind, q(w.state))
	if w.kind == store.KindEvent {
		s += fmt.Sprintf(" event %q", w.event)
		if w.attempts > 0 {
			s += fmt.Sprintf(" attempts %d", w.attempts)
		}
	}
	if w.outbox != nil {
		s += fmt.Sprintf(" outbox %q", w.outbox)
	}
	return s + "}"
}

func expectClaim(t *testing.T, c *store.Claim, w want1) {
	t.Helper()
	if c == nil {
		t.Fatalf("claim = nil, want %s", w)
	}
	ok := c.Conv == w.conv && c.Kind == w.kind && bytes.Equal(c.State, w.state) && (w.state != nil || c.State == nil)
	if w.kind == store.KindEvent {
		ok = ok && string(c.Event) == w.event && (w.attempts == 0 || c.Attempts == w.attempts)
	}
	if w.outbox != nil {
		ok = ok && slices.Equal(strs(c.Outbox), w.outbox)
	}
	if !ok {
		t.Fatalf("claim = %s\n\twant %s", show(c), w)
	}
}

func enqueue(t *testing.T, s store.Store, now time.Time, items ...store.Item) []bool {
	t.Helper()
	return enqueueTTL(t, s, now, dedupTTL, items...)
}

func enqueueTTL(t *testing.T, s store.Store, now time.Time, ttl time.Duration, items ...store.Item) []bool {
	t.Helper()
	dup, err := s.Enqueue(t.Context(), items, ttl, now)
	if err != nil {
		t.Fatalf("Enqueue(%s): %v", showItems(items), err)
	}
	if len(dup) != len(items) {
		t.Fatalf("Enqueue of %d items returned %d dup flags", len(items), len(dup))
	}
	return dup
}

// claimAny claims on each shard in turn and returns the first claim, nil when no shard has work.
func claimAny(t *testing.T, s store.Store, now time.Time, lease time.Duration) *store.Claim {
	t.Helper()
	for sh := range s.Shards() {
		c, err := s.Claim(t.Context(), sh, now, lease, nil)
		if err != nil {
			t.Fatalf("Claim(shard %d): %v", sh, err)
		}
		if c != nil {
			return c
		}
	}
	return nil
}

// claimOne claims on conv's shard and requires the claim to be conv's.
func claimOne(t *testing.T, s store.Store, conv engine.Conversation, now time.Time, lease time.Duration) *store.Claim {
	t.Helper()
	sh := s.ShardOf(conv)
	c, err := s.Claim(t.Context(), sh, now, lease, nil)
	if err != nil {
		t.Fatalf("Claim(shard %d): %v", sh, err)
	}
	if c == nil || c.Conv != conv {
		t.Fatalf("Claim(shard %d of %s) = %s, want a claim of it", sh, conv.User, show(c))
	}
	return c
}

// claimNone checks that no shard has work at now.
func claimNone(t *testing.T, s store.Store, now time.Time, why string) {
	t.Helper()
	for sh := range s.Shards() {
		c, err := s.Claim(t.Context(), sh, now, lease, nil)
		if err != nil {
			t.Fatalf("Claim(shard %d): %v", sh, err)
		}
		if c != nil {
			t.Fatalf("Claim(shard %d) = %s, want nil: %s", sh, show(c), why)
		}
	}
}

func claimConv(t *testing.T, s store.Store, conv engine.Conversation, now time.Time) *store.Claim {
	t.Helper()
	c, err := s.ClaimConversation(t.Context(), conv, now, lease)
	if err != nil {
		t.Fatalf("ClaimConversation(%s): %v", conv.User, err)
	}
	return c
}

func commit(t *testing.T, s store.Store, c *store.Claim, cm *store.Commit, now time.Time) {
	t.Helper()
	if err := s.Commit(t.Context(), c, cm, now, lease); err != nil {
		t.Fatalf("Commit of %s: %v", show(c), err)
	}
}

// handle queues one event for conv, claims it and commits cm: the store must have no other
// work in conv's shard.
func handle(t *testing.T, s store.Store, now time.Time, conv engine.Conversation, event string, cm *store.Commit) {
	t.Helper()
	enqueue(t, s, now, events(conv, event)...)
	c := claimOne(t, s, conv, now, lease)
	expectClaim(t, c, want1{conv: conv, kind: store.KindEvent, event: event, attempts: 1, state: c.State})
	commit(t, s, c, cm, now)
}

// drain claims and commits every queued event, and checks they were the ones wanted, in order
// per conversation.
func drain(t *testing.T, s store.Store, now time.Time, want map[engine.Conversation][]string) {
	t.Helper()
	got := map[engine.Conversation][]string{}
	for range 1000 {
		c := claimAny(t, s, now, lease)
		if c == nil {
			break
		}
		if c.Kind != store.KindEvent {
			t.Fatalf("draining the queues: claim = %s, want an event", show(c))
		}
		got[c.Conv] = append(got[c.Conv], string(c.Event))
		commit(t, s, c, &store.Commit{State: c.State, StateTTL: stateTTL, Pop: true}, now)
	}
	for cv, w := range want {
		if !slices.Equal(got[cv], w) {
			t.Errorf("%s's queue held %q, want %q", cv.User, got[cv], w)
		}
	}
	for cv, g := range got {
		if _, ok := want[cv]; !ok {
			t.Errorf("%s's queue held %q, want nothing", cv.User, g)
		}
	}
}

func load(t *testing.T, s store.Store, conv engine.Conversation) []byte {
	t.Helper()
	st, err := s.Load(t.Context(), conv)
	if err != nil {
		t.Fatalf("Load(%s): %v", conv.User, err)
	}
	return st
}

func expectState(t *testing.T, s store.Store, conv engine.Conversation, want string) {
	t.Helper()
	if got := load(t, s, conv); string(got) != want || got == nil {
		t.Errorf("Load(%s) = %s, want %q", conv.User, q(got), want)
	}
}

func nextTimer(t *testing.T, s store.Store) time.Time {
	t.Helper()
	tm, err := s.NextTimer(t.Context())
	if err != nil {
		t.Fatalf("NextTimer: %v", err)
	}
	return tm
}

func expectNextTimer(t *testing.T, s store.Store, want time.Time) {
	t.Helper()
	if got := nextTimer(t, s); !got.Equal(want) {
		t.Errorf("NextTimer = %v, want %v", got, want)
	}
}

func handoffs(t *testing.T, s store.Store, tenant, team string) []store.Handoff {
	t.Helper()
	hs, err := s.Handoffs(t.Context(), tenant, team)
	if err != nil {
		t.Fatalf("Handoffs(%s, %s): %v", tenant, team, err)
	}
	return hs
}

func expectHandoffs(t *testing.T, s store.Store, tenant, team string, want map[engine.Conversation][]string) {
	t.Helper()
	hs := handoffs(t, s, tenant, team)
	got := map[engine.Conversation][]string{}
	for _, h := range hs {
		if _, ok := got[h.Conv]; ok {
			t.Errorf("Handoffs(%s, %s) lists %s twice", tenant, team, h.Conv.User)
		}
		got[h.Conv] = strs(h.Kept)
	}
	show := func(m map[engine.Conversation][]string) string {
		var parts []string
		for c, kept := range m {
			parts = append(parts, fmt.Sprintf("%s/%s/%s kept %q", c.Tenant, c.Team, c.User, kept))
		}
		slices.Sort(parts)
		return "[" + strings.Join(parts, "; ") + "]"
	}
	if show(got) != show(want) {
		t.Errorf("Handoffs(%s, %s) = %s\n\twant %s", tenant, team, show(got), show(want))
	}
}

func stats(t *testing.T, s store.Store) store.Stats {
	t.Helper()
	st, err := s.Stats(t.Context())
	if err != nil {
		t.Fatalf("Stats: %v", err)
	}
	return st
}

func expectStats(t *testing.T, s store.Store, when string, want store.Stats) {
	t.Helper()
	if got := stats(t, s); got != want {
		t.Errorf("%s: Stats = %+v, want %+v", when, got, want)
	}
}

// sameShard returns n conversations that live in one shard.
func sameShard(t *testing.T, s store.Store, n int) []engine.Conversation {
	t.Helper()
	var out []engine.Conversation
	shard := -1
	for i := 0; len(out) < n; i++ {
		if i == 10000 {
			t.Fatalf("found only %d of %d conversations in one shard among %d", len(out), n, i)
		}
		c := conv("t1", "sales", fmt.Sprintf("user%d", i))
		if sh := s.ShardOf(c); shard == -1 || sh == shard {
			shard = sh
			out = append(out, c)
		}
	}
	return out
}

// parseEvent reads the "conversation/sequence" events of testConcurrent.
func parseEvent(b []byte) (conv, seq int, ok bool) {
	cs, ss, found := strings.Cut(string(b), "/")
	c, err1 := strconv.Atoi(cs)
	s, err2 := strconv.Atoi(ss)
	return c, s, found && err1 == nil && err2 == nil
}
