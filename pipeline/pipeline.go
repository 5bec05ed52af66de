// Package pipeline is the path every inbound event takes, shared by gtc serve and flowctl test:
// parse the webhook, drop events already seen, load the conversation, route and run it through
// the engine, send the replies (answering a closed window with the fallback template), record
// what went out and save the conversation. The server adds HTTP and durable queues around it;
// flowctl test drives it with recorded webhooks, a virtual clock and a fake Graph API.
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

// Store keeps conversation state and remembers which events were already handled.
type Store interface {
	// Seen records key for ttl and reports whether it was recorded before.
	Seen(ctx context.Context, key string, ttl time.Duration) (bool, error)
	// Load returns the encoded state of a conversation, nil when it has none.
	Load(ctx context.Context, c engine.Conversation) ([]byte, error)
	// Save stores the encoded state of a conversation for ttl.
	Save(ctx context.Context, c engine.Conversation, data []byte, ttl time.Duration) error
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

// Accept parses a webhook body from ch and drops the events already seen. What it returns is
// what the server enqueues and flowctl test processes. Duplicates are counted in dups.
func (p *Pipeline) Accept(ctx context.Context, ch *Channel, body []byte) (events []msg.Event, dups int, err error) {
	all, err := ch.Parse(body)
	if err != nil {
		return nil, 0, fmt.Errorf("parse %s webhook: %w", ch.Name, err)
	}
	for _, ev := range all {
		if ev.ID != "" {
			seen, err := p.Store.Seen(ctx, "seen:"+ch.Name+":"+ev.Account+":"+ev.ID, p.dedupTTL())
			if err != nil {
				return nil, 0, fmt.Errorf("deduplicate %s: %w", ev.ID, err)
			}
			if seen {
				dups++
				p.log().Debug("duplicate event dropped", "channel", ch.Name, "id", ev.ID)
				continue
			}
		}
		events = append(events, ev)
	}
	return events, dups, nil
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
