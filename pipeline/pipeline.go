// Package pipeline is the path every inbound event takes, shared by gtc serve and flowctl test.
// Accept parses a webhook and queues its events in the Inbox, dropping those already seen, in
// one atomic step of the storage; Process then loads an event's conversation, routes and runs
// it through the engine, sends the replies (answering a closed window with the fallback
// template), records what went out and saves the conversation. The server adds HTTP, a Redis
// Inbox and Store, and workers around it; flowctl test drives it with recorded webhooks, a
// memory store, a virtual clock and a fake Graph API.
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/flowgate/flowgate/engine"
	"github.com/flowgate/flowgate/engine/msg"
)

// Store keeps conversation state.
type Store interface {
	// Load returns the encoded state of a conversation, nil when it has none.
	Load(ctx context.Context, c engine.Conversation) ([]byte, error)
	// Save stores the encoded state of a conversation for ttl.
	Save(ctx context.Context, c engine.Conversation, data []byte, ttl time.Duration) error
}

// Item is an accepted event waiting to be processed, with the channel account it came from.
type Item struct {
	Channel string // msg.WhatsApp, msg.Messenger, msg.Instagram
	Tenant  string
	Team    string
	Key     string // the deduplication key; empty for events that carry no id
	Event   msg.Event
}

// Inbox holds accepted events until a worker processes them. Add queues the items whose keys
// were not recorded within ttl and records those keys, in one atomic step: when the write fails
// nothing is queued and nothing is recorded, so the webhook is answered 503 and Meta's
// redelivery is admitted whole. Items with an empty key are always queued.
type Inbox interface {
	Add(ctx context.Context, items []Item, ttl time.Duration) (dups int, err error)
}

// Sender sends a message through a channel's API and returns the ids the channel gave it.
type Sender interface {
	Send(ctx context.Context, m *msg.Message) ([]string, error)
}

// Channel is one channel account a bundle serves: how its webhooks parse and how its
// messages go out.
type Channel struct {
	Name   string // msg.WhatsApp, msg.Messenger, msg.Instagram
	Tenant string
	Team   string
	Parse  func(body []byte) ([]msg.Event, error)
	Sender Sender
}

// Pipeline processes events for one bundle.
type Pipeline struct {
	Engine   *engine.Engine
	Store    Store
	Inbox    Inbox
	Now      func() time.Time
	Log      *slog.Logger
	DedupTTL time.Duration // how long an event id is remembered (default 168h)
	StateTTL time.Duration // how long an idle conversation is kept (default 30 days)
}

// Outcome is what happened to one outbound message.
type Outcome struct {
	Send engine.Send
	IDs  []string // ids the channel gave the message
	Err  error    // the send failed for good
}

// Report is what processing one event, start or timer produced.
type Report struct {
	Conversation engine.Conversation
	Duplicate    bool // the event was seen before and not processed again
	Outcomes     []Outcome
	Trace        []engine.TraceEntry
	Kept         bool // kept for a human agent
}

// Accept parses a webhook body from ch and queues its events in the Inbox, dropping those seen
// within DedupTTL (by message id). It returns how many were queued and how many were
// duplicates. A parse error means the body is bad (answer 4xx); an Inbox error means nothing
// was queued (answer 503 so that Meta retries).
func (p *Pipeline) Accept(ctx context.Context, ch *Channel, body []byte) (queued, dups int, err error) {
	events, err := ch.Parse(body)
	if err != nil {
		return 0, 0, fmt.Errorf("parse %s webhook: %w", ch.Name, err)
	}
	if len(events) == 0 {
		return 0, 0, nil
	}
	items := make([]Item, len(events))
	for i, ev := range events {
		items[i] = Item{Channel: ch.Name, Tenant: ch.Tenant, Team: ch.Team, Key: DedupKey(ch.Name, &ev), Event: ev}
	}
	dups, err = p.Inbox.Add(ctx, items, p.dedupTTL())
	if err != nil {
		return 0, 0, fmt.Errorf("queue %d %s event(s): %w", len(items), ch.Name, err)
	}
	if dups > 0 {
		p.log().Debug("duplicate events dropped", "channel", ch.Name, "count", dups)
	}
	return len(items) - dups, dups, nil
}

// DedupKey is the key an event is deduplicated by: channel, business account and the
// provider's event id. Events without an id get none and are never dropped.
func DedupKey(channel string, ev *msg.Event) string {
	if ev.ID == "" {
		return ""
	}
	return channel + ":" + ev.Account + ":" + ev.ID
}

// Process routes one accepted event through its conversation and sends the replies.
func (p *Pipeline) Process(ctx context.Context, ch *Channel, ev *msg.Event) (*Report, error) {
	conv := engine.Conversation{Tenant: ch.Tenant, Team: ch.Team, Channel: ch.Name, Account: ev.Account, User: ev.From}
	if ev.From == "" {
		// Account-level events (template reviews, app errors) belong to no conversation: there
		// is no state to load or save and nobody to answer.
		return &Report{Conversation: conv, Trace: []engine.TraceEntry{{Kind: engine.TraceIgnored, Detail: fmt.Sprintf("%s event for no user", ev.Kind)}}}, nil
	}
	return p.with(ctx, ch, conv, func(st *engine.State, now time.Time) (*engine.Result, error) {
		return p.Engine.Handle(ctx, conv, st, ev, now), nil
	})
}

// Start runs a flow for a user, as the API's start call does.
func (p *Pipeline) Start(ctx context.Context, ch *Channel, account, user, flow, node string, vars map[string]any) (*Report, error) {
	conv := engine.Conversation{Tenant: ch.Tenant, Team: ch.Team, Channel: ch.Name, Account: account, User: user}
	return p.with(ctx, ch, conv, func(st *engine.State, now time.Time) (*engine.Result, error) {
		return p.Engine.Start(ctx, conv, st, flow, node, vars, now)
	})
}

// Tick fires a conversation's due timers (input timeouts, session expiry).
func (p *Pipeline) Tick(ctx context.Context, ch *Channel, conv engine.Conversation) (*Report, error) {
	return p.with(ctx, ch, conv, func(st *engine.State, now time.Time) (*engine.Result, error) {
		return p.Engine.Tick(ctx, conv, st, now), nil
	})
}

// Due reports when a conversation next needs Tick, zero when never.
func (p *Pipeline) Due(ctx context.Context, conv engine.Conversation) (time.Time, error) {
	st, err := p.load(ctx, conv)
	if err != nil {
		return time.Time{}, err
	}
	return p.Engine.NextTimer(st), nil
}

// State returns a conversation's current state.
func (p *Pipeline) State(ctx context.Context, conv engine.Conversation) (*engine.State, error) {
	return p.load(ctx, conv)
}

// with loads the conversation, applies fn, sends what it produced and saves the state.
func (p *Pipeline) with(ctx context.Context, ch *Channel, conv engine.Conversation, fn func(*engine.State, time.Time) (*engine.Result, error)) (*Report, error) {
	st, err := p.load(ctx, conv)
	if err != nil {
		return nil, err
	}
	now := p.now()
	res, err := fn(st, now)
	if err != nil {
		return nil, err
	}
	rep := &Report{Conversation: conv, Trace: res.Trace, Kept: res.Kept}
	p.send(ctx, ch, conv, st, res.Sends, rep)
	data, err := st.Encode()
	if err != nil {
		return rep, fmt.Errorf("conversation %s/%s: %w", conv.Channel, conv.User, err)
	}
	if err := p.Store.Save(ctx, conv, data, p.stateTTL()); err != nil {
		return rep, fmt.Errorf("save conversation %s/%s: %w", conv.Channel, conv.User, err)
	}
	return rep, nil
}

// maxRefusals bounds the fallback rounds of one event: a fallback is a template, which the
// window never refuses, so one round is the norm.
const maxRefusals = 3

// send sends messages in order. A message refused because the window closed goes back to the
// engine, which answers with the fallback template or the node's on_window_closed path.
func (p *Pipeline) send(ctx context.Context, ch *Channel, conv engine.Conversation, st *engine.State, sends []engine.Send, rep *Report) {
	for round := 0; len(sends) > 0 && round <= maxRefusals; round++ {
		var again []engine.Send
		for _, s := range sends {
			m := s.Message
			ids, err := ch.Sender.Send(ctx, &m)
			rep.Outcomes = append(rep.Outcomes, Outcome{Send: s, IDs: ids, Err: err})
			switch {
			case err == nil:
				for _, id := range ids {
					st.RecordSent(id, s)
				}
			case errors.Is(err, msg.ErrWindowClosed) && round < maxRefusals:
				p.log().Info("window closed: falling back", "channel", conv.Channel, "flow", s.Flow, "node", s.Node)
				res := p.Engine.Refused(ctx, conv, st, s, p.now())
				rep.Trace = append(rep.Trace, res.Trace...)
				again = append(again, res.Sends...)
			default:
				p.log().Warn("send failed", "channel", conv.Channel, "flow", s.Flow, "node", s.Node, "err", err)
			}
		}
		sends = again
	}
}

func (p *Pipeline) load(ctx context.Context, conv engine.Conversation) (*engine.State, error) {
	data, err := p.Store.Load(ctx, conv)
	if err != nil {
		return nil, fmt.Errorf("load conversation %s/%s: %w", conv.Channel, conv.User, err)
	}
	st, err := engine.DecodeState(data)
	if err != nil {
		return nil, fmt.Errorf("conversation %s/%s: %w", conv.Channel, conv.User, err)
	}
	return st, nil
}

func (p *Pipeline) now() time.Time {
	if p.Now == nil {
		return time.Now()
	}
	return p.Now()
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
