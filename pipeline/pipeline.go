// Package pipeline is the path every inbound event takes, shared by gtc serve and flowctl test.
//
// Accept parses a webhook and queues its events in the store, dropping those already seen, in
// one atomic step per conversation. Workers then claim one conversation at a time (Run, or
// Drain in tests), route the event through the engine, commit the new state together with the
// replies still to send (the outbox), send them, and record the ids the channel gave them. A
// worker that dies before the commit leaves the event to be processed again from the same
// state; one that dies after it leaves the outbox to be sent again, so the only duplicate left
// is a reply the channel accepted in the moment before the worker could record it.
package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/flowgate/flowgate/engine"
	"github.com/flowgate/flowgate/engine/msg"
	"github.com/flowgate/flowgate/store"
)

// ErrParse is wrapped by Accept's error when the body could not be parsed (answer 400); any
// other error means nothing was queued (answer 503 so that Meta retries).
var ErrParse = errors.New("unparseable webhook")

// ErrInvalid is wrapped by the error of an API call (Start, Reply, Release) that the flows
// refused, such as a start of a flow or node that does not exist (answer 400).
var ErrInvalid = errors.New("invalid request")

// Sender sends a message through a channel's API and returns the ids the channel gave it.
type Sender interface {
	Send(ctx context.Context, m *msg.Message) ([]string, error)
}

// Channel is one channel account a bundle serves: how its webhooks parse and how its
// messages go out.
type Channel struct {
	Name    string // the channel, as its provider names it
	Tenant  string
	Team    string
	Account string // the business account: phone number id, page id or Instagram account id
	// App names the Meta app whose secret signs the channel's webhooks (an opaque key, not the
	// secret): an event for another account moves only to a channel of the same app.
	App    string
	Parse  func(body []byte) ([]msg.Event, error)
	Sender Sender
}

// recipientPacer is a Sender whose messages wait on their recipient's pace too (WhatsApp's
// pair rate limit); PaceRecipient names a conversation's user as its pacer does.
type recipientPacer interface{ PaceRecipient(user string) string }

// Bundle is what the pipeline runs: the engine and the channel accounts. A reload swaps it
// whole (SetBundle); events in hand finish on the bundle they started with.
type Bundle struct {
	Engine   *engine.Engine
	Channels []*Channel
}

// channel returns the channel account a conversation belongs to, or nil.
func (b *Bundle) channel(conv engine.Conversation) *Channel {
	for _, ch := range b.Channels {
		if ch.Name == conv.Channel && ch.Tenant == conv.Tenant && ch.Team == conv.Team && (ch.Account == "" || ch.Account == conv.Account) {
			return ch
		}
	}
	return nil
}

// owner returns the channel of the bundle that serves account on ch's channel and Meta app,
// or nil: where one bundle serves several tenants, it is the one an event for that account
// belongs to.
func (b *Bundle) owner(ch *Channel, account string) *Channel {
	for _, o := range b.Channels {
		if o.Name == ch.Name && o.Account == account && o.App == ch.App {
			return o
		}
	}
	return nil
}

// Pipeline processes events for one bundle.
type Pipeline struct {
	Store    store.Store
	Now      func() time.Time
	Log      *slog.Logger
	DedupTTL time.Duration // how long an event id is remembered (default 168h)
	StateTTL time.Duration // how long an idle conversation is kept (default 30 days)
	Lease    time.Duration // how long a worker holds a conversation before it counts as dead (default 20s)
	// MaxAttempts is how many times an event is claimed before it is dropped as poison
	// (default 5): its workers died each time.
	MaxAttempts int
	// BusyWait bounds how long an API call waits for a worker to let go of its conversation
	// (default 10s).
	BusyWait time.Duration
	// OnReport, when set, observes every claim processed (metrics, the dev console's trace).
	OnReport func(*Report)
	// Offset, when set, is how far a conversation's clock runs ahead of Now: the engine sees
	// Now plus it (window checks, timeouts, timestamps in the state), while the store's leases
	// and timers stay on Now. The sandbox uses it to move one conversation's clock forward.
	Offset func(engine.Conversation) time.Duration

	// Limiter, when set, is the Redis limiter the channels' senders pace on: the commit of a
	// claim's replies books them on the account's schedule (and the recipient's, for a sender
	// that paces recipients) in the commit's own round trip, and the sends wait for their
	// booked slots instead of asking Redis each (store.Booking).
	Limiter *store.Limiter

	bundle atomic.Pointer[Bundle]
	wake   chan int     // shards with new work, for idle workers of this process
	idlers atomic.Int32 // workers waiting for a wake-up

	dueMu   sync.Mutex
	dueAt   time.Time // when dueList was read
	dueList []int     // the shards the last Due read found with work
}

// New returns a Pipeline over s running b.
func New(s store.Store, b *Bundle) *Pipeline {
	// A few pending wake-ups: a worker that takes one scans the shards from the one named,
	// and more would only send idle workers scanning shards already emptied.
	p := &Pipeline{Store: s, wake: make(chan int, 4)}
	p.bundle.Store(b)
	return p
}

// SetBundle swaps the bundle that claims from now on run with.
func (p *Pipeline) SetBundle(b *Bundle) { p.bundle.Store(b) }

// Bundle returns the bundle in use.
func (p *Pipeline) Bundle() *Bundle { return p.bundle.Load() }

// Outcome is what happened to one outbound message.
type Outcome struct {
	Send engine.Send
	IDs  []string // ids the channel gave the message
	Err  error    // the send failed for good
	Code int      // the channel's error code, when it gave one
}

// Report is what processing one claim (event, timer, outbox or API call) produced.
type Report struct {
	Conversation engine.Conversation
	Kind         store.Kind
	Outcomes     []Outcome
	Trace        []engine.TraceEntry
	Kept         bool   // kept for a human agent
	Resent       int    // messages sent again from a dead worker's outbox (possible duplicates)
	Dropped      string // why the event was dropped unprocessed (poison, no channel, panic)
	Panicked     bool   // processing panicked (and was recovered)
	StateReset   bool   // the stored state could not be read and was replaced by a new one
	// Moved is the user id the conversation continues under when it is a link (the user's
	// phone number, after their user id was seen): the event was passed on to it.
	Moved    string
	Duration time.Duration // from claim to commit or done
	Err      error         // the claim failed (store error, lost lease); it will be retried
}

// Accepted is what Accept did with the events of one webhook body.
type Accepted struct {
	Queued     int // queued for their conversations
	Duplicates int // dropped as seen within DedupTTL (by message id)
	// Foreign counts the events dropped because they name another business account than the
	// channel's, one no channel of the bundle serves.
	Foreign int
	// Routed counts the events for another business account than the channel's that went to
	// the bundle's channel for that account (another tenant or team on the same Meta app).
	Routed int
	// Stale counts the message events dropped because they are older than DedupTTL: their ids
	// may be forgotten, so they could be a captured body replayed.
	Stale int
	// Groups counts the messages dropped because they were written in a group (WhatsApp
	// groups): the flows answer private chats only.
	Groups int
}

// Accept parses a webhook body from ch and queues its events, dropping those seen within
// DedupTTL (by message id), message events older than DedupTTL (a replay the ids can no longer
// catch) and those for another business account than ch's that no channel of the bundle on
// the same Meta app serves; those one does serve are queued for its tenant and team. Events for no
// user (template reviews, account errors) are logged and not queued: there is nobody to
// answer. The error wraps ErrParse for a bad body; any other error means nothing was queued
// for at least one conversation (answer 503: Meta's redelivery is admitted whole, less what
// was queued).
func (p *Pipeline) Accept(ctx context.Context, ch *Channel, body []byte) (Accepted, error) {
	var acc Accepted
	events, err := ch.Parse(body)
	if err != nil {
		return acc, fmt.Errorf("%w: %s: %w", ErrParse, ch.Name, err)
	}
	now := p.now()
	items := make([]store.Item, 0, len(events))
	for i := range events {
		ev := &events[i]
		to := ch
		if ch.Account != "" && ev.Account != "" && ev.Account != ch.Account {
			if to = p.Bundle().owner(ch, ev.Account); to == nil {
				acc.Foreign++
				p.log().Warn("event for another business account dropped", "channel", ch.Name, "tenant", ch.Tenant,
					"team", ch.Team, "account", ch.Account, "event_account", ev.Account, "kind", ev.Kind)
				continue
			}
			acc.Routed++
			p.log().Info("event for another business account routed to its channel", "channel", ch.Name,
				"tenant", ch.Tenant, "team", ch.Team, "event_account", ev.Account, "to_tenant", to.Tenant, "to_team", to.Team)
		}
		if ev.From == "" {
			p.log().Info("event for no user", "channel", ch.Name, "kind", ev.Kind, "account", ev.Account)
			continue
		}
		if ev.Group != "" {
			acc.Groups++
			p.log().Info("group message dropped", "channel", ch.Name, "tenant", ch.Tenant, "team", ch.Team, "group", ev.Group, "kind", ev.Kind)
			continue
		}
		if ev.Time.IsZero() && ev.IsMessage() {
			ev.Time = now // no readable timestamp: it counts as received now
		}
		if ev.IsMessage() && now.Sub(ev.Time) > p.dedupTTL() {
			acc.Stale++
			p.log().Warn("message older than dedup_ttl dropped", "channel", ch.Name, "tenant", ch.Tenant,
				"team", ch.Team, "sent", ev.Time.UTC().Format(time.RFC3339), "dedup_ttl", p.dedupTTL())
			continue
		}
		data, err := json.Marshal(ev)
		if err != nil {
			return Accepted{}, fmt.Errorf("encode %s event %s: %w", ch.Name, ev.ID, err)
		}
		conv := engine.Conversation{Tenant: to.Tenant, Team: to.Team, Channel: to.Name, Account: ev.Account, User: ev.From}
		if conv.Account == "" {
			conv.Account = to.Account
		}
		items = append(items, store.Item{Conv: conv, Key: DedupKey(ch.Name, ev), Data: data})
	}
	if len(items) == 0 {
		return acc, nil
	}
	dup, err := p.Store.Enqueue(ctx, items, p.dedupTTL(), now)
	if err != nil {
		return Accepted{}, fmt.Errorf("queue %d %s event(s): %w", len(items), ch.Name, err)
	}
	for i, d := range dup {
		if d {
			acc.Duplicates++
			continue
		}
		p.notify(p.Store.ShardOf(items[i].Conv))
	}
	acc.Queued = len(items) - acc.Duplicates
	return acc, nil
}

// DedupKey is the key an event is deduplicated by: channel, business account and the
// provider's event id. Events without an id get none and are never dropped.
func DedupKey(channel string, ev *msg.Event) string {
	if ev.ID == "" {
		return ""
	}
	return channel + ":" + ev.Account + ":" + ev.ID
}

// State returns a conversation's current state.
func (p *Pipeline) State(ctx context.Context, conv engine.Conversation) (*engine.State, error) {
	data, err := p.Store.Load(ctx, conv)
	for hop := 0; err == nil; hop++ {
		l, ok := decodeLink(data)
		if !ok {
			break
		}
		if hop == maxHops {
			err = errTooManyLinks
			break
		}
		conv.User = l.To
		data, err = p.Store.Load(ctx, conv)
	}
	if err != nil {
		return nil, fmt.Errorf("load conversation %s/%s: %w", conv.Channel, conv.User, err)
	}
	st, err := engine.DecodeState(data)
	if err != nil {
		return nil, fmt.Errorf("conversation %s/%s: %w", conv.Channel, conv.User, err)
	}
	return st, nil
}

// Handoff is a conversation with a human agent, with the events kept while it waits.
type Handoff struct {
	Conversation engine.Conversation
	Queue        string // the handoff node's queue
	Kept         []msg.Event
}

// Handoffs lists the conversations of tenant and team that are with a human agent.
func (p *Pipeline) Handoffs(ctx context.Context, tenant, team string) ([]Handoff, error) {
	hs, err := p.Store.Handoffs(ctx, tenant, team)
	if err != nil {
		return nil, fmt.Errorf("list handoffs of %s/%s: %w", tenant, team, err)
	}
	out := make([]Handoff, 0, len(hs))
	for _, h := range hs {
		st, err := p.State(ctx, h.Conv)
		if err != nil {
			return nil, err
		}
		v := Handoff{Conversation: h.Conv, Queue: st.Handoff, Kept: make([]msg.Event, 0, len(h.Kept))}
		for _, k := range h.Kept {
			var ev msg.Event
			if err := json.Unmarshal(k, &ev); err != nil {
				return nil, fmt.Errorf("kept event of %s/%s: %w", h.Conv.Channel, h.Conv.User, err)
			}
			v.Kept = append(v.Kept, ev)
		}
		out = append(out, v)
	}
	return out, nil
}

func (p *Pipeline) now() time.Time {
	if p.Now == nil {
		return time.Now()
	}
	return p.Now()
}

// convNow is the time the engine sees for conv: Now plus the conversation's Offset.
func (p *Pipeline) convNow(conv engine.Conversation) time.Time {
	if p.Offset == nil {
		return p.now()
	}
	return p.now().Add(p.Offset(conv))
}

func (p *Pipeline) log() *slog.Logger {
	if p.Log == nil {
		return slog.Default()
	}
	return p.Log
}

func (p *Pipeline) dedupTTL() time.Duration {
	if p.DedupTTL <= 0 {
		return 168 * time.Hour
	}
	return p.DedupTTL
}

func (p *Pipeline) stateTTL() time.Duration {
	if p.StateTTL <= 0 {
		return 30 * 24 * time.Hour
	}
	return p.StateTTL
}

func (p *Pipeline) lease() time.Duration {
	if p.Lease <= 0 {
		return 20 * time.Second
	}
	return p.Lease
}

func (p *Pipeline) maxAttempts() int {
	if p.MaxAttempts <= 0 {
		return 5
	}
	return p.MaxAttempts
}

// notify tells an idle worker of this process that shard has work.
func (p *Pipeline) notify(shard int) {
	if p.wake == nil {
		return
	}
	select {
	case p.wake <- shard:
	default:
	}
}
