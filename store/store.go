// Package store keeps what gtc serve must not lose: each conversation's queue of accepted
// events, its state, the replies committed but not yet confirmed (the outbox), its timers, and
// the events kept while a human agent has it. It is the lowest layer below the pipeline: it
// stores bytes and knows nothing of flows or channels.
//
// The contract, in the order a worker uses it:
//
//   - Enqueue deduplicates items by key and appends them to their conversations' queues,
//     atomically per conversation, in one round trip.
//   - Claim leases one conversation with work (an expired lease to recover, a queued event,
//     or a due timer) and returns it with its state and a fencing token. One worker at a time
//     holds a conversation; a claim also finishes the caller's previous one (Done), so that a
//     worker's steady state costs one round trip for both.
//   - Commit, fenced by the token, saves the state, pops the event, schedules the next
//     timer and stores the replies still to go out. With no replies it releases the
//     conversation; with replies it keeps the lease until Done.
//   - Extend keeps a live worker's lease while it waits on the network.
//
// A worker that dies leaves its lease to expire; the next Claim recovers the conversation:
// with an outbox, the committed replies are sent again (a reply sent but not yet recorded is
// the one duplicate this allows); without one, the event is processed again from the state it
// had before.
//
// One implementation, Redis, serves both Redis itself and the embedded store that gtc serve
// uses without --redis (an in-process miniredis), so that the same Lua scripts define the
// semantics everywhere.
package store

import (
	"context"
	"errors"
	"time"

	"github.com/flowgate/flowgate/engine"
)

// ErrStale is returned, wrapped, when a Commit, Extend or Done comes with a token that no longer
// holds the lease: the lease expired and another worker recovered the conversation. The
// caller must drop what it was doing; the other worker redoes it.
var ErrStale = errors.New("store: lease lost")

// ErrBusy is returned by ClaimConversation when another worker holds the conversation.
var ErrBusy = errors.New("store: conversation busy")

// Item is an accepted event for a conversation.
type Item struct {
	Conv engine.Conversation
	Key  string // deduplication key; empty: never deduplicated
	Data []byte // the encoded event, opaque to the store
}

// Kind says what work a Claim carries.
type Kind int

// Claim kinds.
const (
	// KindEvent: the head of the conversation's queue is to be processed (Claim.Event).
	KindEvent Kind = iota + 1
	// KindTimer: a timer of the conversation is due (or a timer's worker died).
	KindTimer
	// KindOutbox: a worker died after committing replies and before Done; Claim.Outbox holds
	// them, to be sent again.
	KindOutbox
	// KindDirect: the conversation was claimed by ClaimConversation for an API call.
	KindDirect
)

func (k Kind) String() string {
	switch k {
	case KindEvent:
		return "event"
	case KindTimer:
		return "timer"
	case KindOutbox:
		return "outbox"
	case KindDirect:
		return "direct"
	}
	return "unknown"
}

// Claim is a leased conversation and the work it carries.
type Claim struct {
	Conv     engine.Conversation
	Kind     Kind
	Token    int64    // fencing token of this lease
	State    []byte   // the conversation's encoded state; nil for a new conversation
	Event    []byte   // KindEvent: the head of the queue
	Attempts int      // KindEvent: how many times this event has been claimed, this one included
	Outbox   [][]byte // KindOutbox: the committed replies not confirmed sent
	Shard    int      // where the conversation lives; Claim with Done continues there
	// More (Claim only) says that the shard had more work due once this claim was made, or
	// that this conversation has more events queued (ready again once it is done): worth
	// claiming from the shard again. It is a hint: another worker may take that work first.
	More bool
}

// Commit is what processing a claim produced.
type Commit struct {
	State    []byte        // the new encoded state; nil deletes it
	StateTTL time.Duration // how long an idle conversation's state is kept
	// Pop removes the head event of the queue (the one the claim carried). Set it for
	// KindEvent claims; an outbox resend or a timer pops nothing.
	Pop bool
	// Outbox holds the replies to send after the commit. When it is not empty the lease is
	// kept until Done; when empty the conversation is released.
	Outbox [][]byte
	// Timer is when the conversation next needs a timer claim; zero for none.
	Timer time.Time
	// Handoff says whether the conversation is with a human agent after this commit; Kept is
	// an event to keep for the agent.
	Handoff bool
	Kept    []byte
	// Carried are events another conversation of the same person kept for the agent, which
	// this one takes over with the handoff: kept before Kept, in order.
	Carried [][]byte
	// ClearKept drops the kept events (the handoff ended, or they move to another
	// conversation), before any are kept.
	ClearKept bool
	// Book, when set, books the outbox's messages on a Limiter's schedules in the commit's
	// round trip (see Booking); nothing is booked without an outbox.
	Book *Booking
	// Delay parks the conversation instead of releasing it, for work that cannot be done now
	// (a channel that a reload removed): the lease ends, the head event and the outbox stay,
	// the attempts are forgotten, and the conversation is ready again only after Delay.
	// Pop and Outbox are ignored.
	Delay time.Duration
}

// Done finishes a claim whose replies went out: it saves the final state (with the ids the
// channel gave the replies), drops the outbox and releases the conversation.
type Done struct {
	Claim    *Claim
	State    []byte
	StateTTL time.Duration
	// Linger lets the Claim or Finish that carries the Done wait up to Linger for another
	// operation of the process to share its round trip, holding the lease that much longer:
	// a quiet process then records replies without a round trip of their own.
	Linger time.Duration
}

// Handoff is a conversation with a human agent and the events kept while it waits.
type Handoff struct {
	Conv engine.Conversation
	Kept [][]byte
}

// Stats are the store's counters for metrics.
type Stats struct {
	Queued   int64 // events waiting in queues
	Ready    int64 // conversations with queued events and no worker
	Leased   int64 // conversations held by a worker
	Timers   int64 // conversations with a pending timer
	Handoffs int64 // conversations with a human agent
}

// Store is the contract the pipeline works against. Redis implements it, over a Redis server
// or the embedded one; storetest checks any implementation.
type Store interface {
	// Enqueue records the keys of items not seen within dedupTTL and appends those items to
	// their conversations' queues, atomically per conversation (a failed write queues and
	// records nothing for that conversation), in one round trip. dup[i] reports that items[i]
	// was a duplicate and was dropped. An empty key is never a duplicate.
	Enqueue(ctx context.Context, items []Item, dedupTTL time.Duration, now time.Time) (dup []bool, err error)
	// Claim finishes done (when not nil) and leases one conversation of shard with work due at
	// now, for lease: first a conversation whose lease expired, then the oldest ready queue,
	// then a due timer. It returns nil when the shard has no work. When done was stale the
	// error wraps ErrStale and the claim, if any, is still returned.
	Claim(ctx context.Context, shard int, now time.Time, lease time.Duration, done *Done) (*Claim, error)
	// ClaimConversation leases one given conversation for an API call (start, agent reply,
	// release), whether or not it has work; ErrBusy when a worker holds it.
	ClaimConversation(ctx context.Context, conv engine.Conversation, now time.Time, lease time.Duration) (*Claim, error)
	// Commit applies cm to a claimed conversation, fenced by the claim's token (ErrStale).
	// Applying the same commit twice has the effect of once.
	Commit(ctx context.Context, c *Claim, cm *Commit, now time.Time, lease time.Duration) error
	// Ack records that the head of the claim's outbox (entry) went out: it leaves the outbox
	// and state (with the ids the channel gave) is saved, so that a worker dying later sends
	// again only what had not gone out. It renews the lease. ErrStale when stale.
	Ack(ctx context.Context, c *Claim, entry, state []byte, stateTTL time.Duration, now time.Time, lease time.Duration) error
	// Finish is Done without claiming another conversation (ErrStale when stale).
	Finish(ctx context.Context, d *Done, now time.Time) error
	// Extend renews a claim's lease for lease from now (ErrStale when it was lost).
	Extend(ctx context.Context, c *Claim, now time.Time, lease time.Duration) error
	// Load returns a conversation's encoded state, nil when it has none.
	Load(ctx context.Context, conv engine.Conversation) ([]byte, error)
	// Kept returns the events a conversation keeps for a human agent, in order.
	Kept(ctx context.Context, conv engine.Conversation) ([][]byte, error)
	// Handoffs lists the conversations of tenant and team that are with a human agent.
	Handoffs(ctx context.Context, tenant, team string) ([]Handoff, error)
	// Due lists the shards that have work for Claim at now (a ready queue, an expired lease
	// or a due timer), with plain reads in one round trip: an idle process polls it instead of
	// claiming on every shard.
	Due(ctx context.Context, now time.Time) ([]int, error)
	// NextTimer returns the earliest pending timer of any conversation, zero when none.
	NextTimer(ctx context.Context) (time.Time, error)
	// Shards is how many shards conversations are spread over; Claim takes 0..Shards()-1.
	Shards() int
	// ShardOf returns the shard a conversation lives in.
	ShardOf(conv engine.Conversation) int
	// Stats counts queues, leases, timers and handoffs.
	Stats(ctx context.Context) (Stats, error)
	// Ping checks that the store can be reached.
	Ping(ctx context.Context) error
}
