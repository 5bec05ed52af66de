package pipeline

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/flowgate/flowgate/engine"
	"github.com/flowgate/flowgate/engine/msg"
)

// ErrBusy is returned, wrapped, when an API call could not get hold of its conversation in
// time because workers kept it busy.
var ErrBusy = errors.New("conversation busy")

// Start runs a flow for a user, as the API's start call does.
func (p *Pipeline) Start(ctx context.Context, ch *Channel, user, flow, node string, vars map[string]any) (*Report, error) {
	return p.Direct(ctx, ch, user, func(e *engine.Engine, conv engine.Conversation, st *engine.State, now time.Time) (*engine.Result, error) {
		return e.Start(ctx, conv, st, flow, node, vars, now)
	})
}

// Reply sends a human agent's message to a user as the business, under the window rules.
func (p *Pipeline) Reply(ctx context.Context, ch *Channel, user string, m msg.Message) (*Report, error) {
	return p.Direct(ctx, ch, user, func(e *engine.Engine, conv engine.Conversation, st *engine.State, now time.Time) (*engine.Result, error) {
		return e.Agent(ctx, conv, st, m, now), nil
	})
}

// Release ends a user's handoff: the bot answers again, and the kept events are dropped.
func (p *Pipeline) Release(ctx context.Context, ch *Channel, user string) (*Report, error) {
	return p.Direct(ctx, ch, user, func(e *engine.Engine, conv engine.Conversation, st *engine.State, now time.Time) (*engine.Result, error) {
		return e.Release(ctx, conv, st, now), nil
	})
}

// SetVars merges vars into a user's conversation variables. A value a variable cannot keep
// (engine.Engine.KeepVar: a type it cannot store, or beyond the bundle's variable limits) is
// refused, and nothing is set.
func (p *Pipeline) SetVars(ctx context.Context, ch *Channel, user string, vars map[string]any) error {
	e := p.Bundle().Engine
	keep := make(map[string]any, len(vars))
	for k, v := range vars {
		s, err := e.KeepVar(v)
		if err != nil {
			return fmt.Errorf("vars.%s: %w", k, err)
		}
		keep[k] = s
	}
	_, err := p.Direct(ctx, ch, user, func(_ *engine.Engine, _ engine.Conversation, st *engine.State, _ time.Time) (*engine.Result, error) {
		if st.Vars == nil {
			st.Vars = map[string]any{}
		}
		for k, v := range keep {
			st.Vars[k] = v
		}
		return &engine.Result{}, nil
	})
	return err
}

func (p *Pipeline) conv(ch *Channel, user string) engine.Conversation {
	return engine.Conversation{Tenant: ch.Tenant, Team: ch.Team, Channel: ch.Name, Account: ch.Account, User: user}
}

// Direct applies fn to a user's conversation as one unit of work, in turn with the events
// of that conversation: it waits while a worker holds it, then runs fn, commits, sends and
// records as a worker would.
func (p *Pipeline) Direct(ctx context.Context, ch *Channel, user string, fn runFunc) (*Report, error) {
	conv := p.conv(ch, user)
	for hop := 0; ; hop++ {
		c, err := p.claimWait(ctx, conv)
		if err != nil {
			return nil, err
		}
		rep, done := p.process(ctx, c, fn)
		if done != nil {
			err = p.Store.Finish(ctx, done, p.now())
		}
		if rep.Moved != "" {
			if hop == maxHops {
				return rep, fmt.Errorf("%s: %w", convString(p.conv(ch, user)), errTooManyLinks)
			}
			conv.User = rep.Moved // the user's phone number leads to their user id's conversation
			continue
		}
		if err != nil {
			return rep, fmt.Errorf("record replies to %s: %w", convString(conv), err)
		}
		if rep.Err != nil {
			return rep, rep.Err
		}
		return rep, nil
	}
}
