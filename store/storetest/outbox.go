package storetest

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/flowgate/flowgate/engine"
	"github.com/flowgate/flowgate/store"
)

// The subtests of Ack, parking (Commit.Delay), a conversation's own due timer, handoff
// expiry, Due and Claim.More.

// testAck: each Ack drops the head of the outbox and saves the state, so a worker that dies
// after two of three replies went out leaves one to send again, with the state the last Ack
// saved; a stale Ack changes nothing.
func testAck(t *testing.T, newStore NewStore) {
	s := newStore(t)
	t0 := start()
	c1 := conv("t1", "sales", "ack")
	enqueue(t, s, t0, events(c1, "e1")...)
	c := claimOne(t, s, c1, t0, lease)
	commit(t, s, c, &store.Commit{State: []byte("s0"), StateTTL: stateTTL, Pop: true, Outbox: bs("r1", "r2", "r3")}, t0)
	for i, st := range []string{"s1", "s2"} {
		if err := s.Ack(t.Context(), c, []byte("r"+string(rune('1'+i))), []byte(st), stateTTL, t0, lease); err != nil {
			t.Fatalf("Ack %d: %v", i+1, err)
		}
	}
	// The worker dies; the lease (renewed by the last Ack at t0) expires.
	now := t0.Add(lease + ms)
	r := claimOne(t, s, c1, now, lease)
	expectClaim(t, r, want1{conv: c1, kind: store.KindOutbox, state: []byte("s2"), outbox: []string{"r3"}})
	if err := s.Ack(t.Context(), c, []byte("r3"), []byte("stale"), stateTTL, now, lease); !errors.Is(err, store.ErrStale) {
		t.Fatalf("Ack with the dead worker's token: %v, want ErrStale", err)
	}
	if err := s.Finish(t.Context(), &store.Done{Claim: r, State: []byte("s3"), StateTTL: stateTTL}, now); err != nil {
		t.Fatal(err)
	}
	expectState(t, s, c1, "s3")
	claimNone(t, s, now.Add(2*lease), "everything was sent and recorded")
}

// testPark: a commit with Delay releases the conversation without popping or dropping its
// outbox, and it is claimable again only after the delay, with its work intact and its
// attempts forgotten.
func testPark(t *testing.T, newStore NewStore) {
	s := newStore(t)
	t0 := start()
	ev, ob := conv("t1", "sales", "parked-event"), conv("t1", "sales", "parked-outbox")

	enqueue(t, s, t0, events(ev, "e1")...)
	c := claimOne(t, s, ev, t0, lease)
	commit(t, s, c, &store.Commit{State: c.State, Pop: true, Delay: time.Minute}, t0)

	enqueue(t, s, t0, events(ob, "o1")...)
	c = claimOne(t, s, ob, t0, lease)
	commit(t, s, c, &store.Commit{State: []byte("so"), StateTTL: stateTTL, Pop: true, Outbox: bs("r1")}, t0)
	commit(t, s, c, &store.Commit{State: []byte("so"), StateTTL: stateTTL, Delay: time.Minute}, t0)

	claimNone(t, s, t0.Add(time.Minute-ms), "both conversations are parked")
	later := t0.Add(time.Minute)
	wants := map[string]want1{
		ev.User: {conv: ev, kind: store.KindEvent, event: "e1", attempts: 1},
		ob.User: {conv: ob, kind: store.KindOutbox, state: []byte("so"), outbox: []string{"r1"}},
	}
	for range 2 {
		c = claimAny(t, s, later, lease)
		if c == nil {
			t.Fatalf("a parked conversation is not claimable after its delay; left: %v", wants)
		}
		expectClaim(t, c, wants[c.Conv.User])
		delete(wants, c.Conv.User)
	}
}

// testOwnTimerFirst: a conversation whose own timer fell due before it became ready serves
// the timer first (an answer after an input's timeout comes too late), and its queued event
// right after the timer's commit.
func testOwnTimerFirst(t *testing.T, newStore NewStore) {
	s := newStore(t)
	t0 := start()
	c1 := conv("t1", "sales", "timer-first")
	handle(t, s, t0, c1, "e1", &store.Commit{State: []byte("waiting"), StateTTL: stateTTL, Pop: true, Timer: t0.Add(time.Second)})
	now := t0.Add(2 * time.Second)
	enqueue(t, s, now, events(c1, "late answer")...)
	c := claimOne(t, s, c1, now, lease)
	expectClaim(t, c, want1{conv: c1, kind: store.KindTimer, state: []byte("waiting")})
	commit(t, s, c, &store.Commit{State: []byte("timed out"), StateTTL: stateTTL}, now)
	c = claimOne(t, s, c1, now, lease)
	expectClaim(t, c, want1{conv: c1, kind: store.KindEvent, event: "late answer", attempts: 1, state: []byte("timed out")})
}

// testTimerSurvivesDeath: a worker that dies holding a timer claim leaves the timer due: the
// recovery serves it even when an event was queued meanwhile.
func testTimerSurvivesDeath(t *testing.T, newStore NewStore) {
	s := newStore(t)
	t0 := start()
	c1 := conv("t1", "sales", "timer-death")
	handle(t, s, t0, c1, "e1", &store.Commit{State: []byte("waiting"), StateTTL: stateTTL, Pop: true, Timer: t0.Add(time.Second)})
	now := t0.Add(time.Second)
	c := claimOne(t, s, c1, now, lease)
	expectClaim(t, c, want1{conv: c1, kind: store.KindTimer, state: []byte("waiting")})
	enqueue(t, s, now, events(c1, "meanwhile")...) // and the worker dies
	r := claimOne(t, s, c1, now.Add(lease+ms), lease)
	expectClaim(t, r, want1{conv: c1, kind: store.KindTimer, state: []byte("waiting")})
}

// testHandoffExpiry: a handoff with no activity for as long as its kept events live is no
// longer listed once another commit of its shard runs.
func testHandoffExpiry(t *testing.T, newStore NewStore) {
	s := newStore(t)
	t0 := start()
	cs := sameShard(t, s, 2)
	idle, busy := cs[0], cs[1]
	handle(t, s, t0, idle, "help", &store.Commit{State: []byte("h"), StateTTL: stateTTL, Pop: true, Handoff: true, Kept: []byte("help")})
	later := t0.Add(31 * 24 * time.Hour)
	handle(t, s, later, busy, "hi", &store.Commit{State: []byte("b"), StateTTL: stateTTL, Pop: true})
	for _, h := range handoffs(t, s, idle.Tenant, idle.Team) {
		if h.Conv == idle {
			t.Fatalf("a handoff idle for 31 days is still listed: %+v", h)
		}
	}
}

// testDue: Due lists the shards with a ready queue, an expired lease or a due timer, and no
// other.
func testDue(t *testing.T, newStore NewStore) {
	s := newStore(t)
	t0 := start()
	due := func(now time.Time) []int {
		t.Helper()
		d, err := s.Due(t.Context(), now)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	if d := due(t0); len(d) != 0 {
		t.Fatalf("Due on an empty store = %v", d)
	}
	c1 := conv("t1", "sales", "due")
	enqueue(t, s, t0, events(c1, "e1")...)
	if d := due(t0); !slices.Equal(d, []int{s.ShardOf(c1)}) {
		t.Fatalf("Due with one queue = %v, want [%d]", d, s.ShardOf(c1))
	}
	c := claimOne(t, s, c1, t0, lease)
	if d := due(t0); len(d) != 0 {
		t.Fatalf("Due with the queue claimed = %v, want none", d)
	}
	if d := due(t0.Add(lease + ms)); !slices.Equal(d, []int{s.ShardOf(c1)}) {
		t.Fatalf("Due after the lease expired = %v, want [%d]", d, s.ShardOf(c1))
	}
	commit(t, s, c, &store.Commit{State: []byte("x"), StateTTL: stateTTL, Pop: true, Timer: t0.Add(time.Hour)}, t0)
	if d := due(t0.Add(time.Hour - ms)); len(d) != 0 {
		t.Fatalf("Due before the timer = %v", d)
	}
	if d := due(t0.Add(time.Hour)); !slices.Equal(d, []int{s.ShardOf(c1)}) {
		t.Fatalf("Due at the timer = %v, want [%d]", d, s.ShardOf(c1))
	}
}

// testMore: a claim says whether its shard has more work for Claim (Claim.More), so that a
// worker claims from it again only then: another ready conversation, or events queued behind
// the claimed one's head (ready again on its release).
func testMore(t *testing.T, newStore NewStore) {
	s := newStore(t)
	t0 := start()
	c1 := conv("t1", "sales", "more1")
	c2 := c1
	for i := 0; s.ShardOf(c2) != s.ShardOf(c1) || c2 == c1; i++ {
		c2 = conv("t1", "sales", fmt.Sprintf("more2-%d", i))
	}
	claim := func(want engine.Conversation, more bool) *store.Claim {
		t.Helper()
		c := claimOne(t, s, want, t0, lease)
		if c.More != more {
			t.Fatalf("claim of %s: More = %v, want %v", want.User, c.More, more)
		}
		return c
	}
	enqueue(t, s, t0, events(c1, "e1", "e2")...)
	c := claim(c1, true) // e2 waits behind e1
	commit(t, s, c, &store.Commit{State: []byte("1"), StateTTL: stateTTL, Pop: true}, t0)
	c = claim(c1, false) // e2 alone
	commit(t, s, c, &store.Commit{State: []byte("2"), StateTTL: stateTTL, Pop: true}, t0)
	enqueue(t, s, t0, events(c1, "e3")...)
	enqueue(t, s, t0, events(c2, "f1")...)
	c = claim(c1, true) // c2 is ready
	commit(t, s, c, &store.Commit{State: []byte("3"), StateTTL: stateTTL, Pop: true}, t0)
	c = claim(c2, false)
	commit(t, s, c, &store.Commit{StateTTL: stateTTL, Pop: true}, t0)
	claimNone(t, s, t0, "all popped")
}
