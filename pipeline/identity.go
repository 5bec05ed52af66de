package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/flowgate/flowgate/engine"
	"github.com/flowgate/flowgate/engine/msg"
	"github.com/flowgate/flowgate/store"
)

// A person may reach the bot under more than one id: WhatsApp keys a user by their
// business-scoped user id (BSUID) when the webhook has one, by their phone number otherwise,
// and a user who changes number gets a new number and a new BSUID. A conversation is keyed by
// the id the event names (Accept adds no look-up); the worker that processes an event which
// names both a user id and a phone leaves, in the phone number's conversation, a link to the
// user id's conversation. Events and API calls that reach a linked conversation are passed on
// to the conversation it names, and the first event of a new user id conversation takes over
// the state a phone number conversation had before (an upgrade), or the state of the
// conversation a number change left behind.
//
// A link is stored in place of the state: linkMark (a byte no state version uses) and the
// JSON of a link. Every step writes one conversation (one hash tag, one Redis Cluster slot)
// under its lease, in an order that a crash at any point leaves resumable: the state moves
// into the link first (Carry), and only then into the new conversation.

// linkMark starts a link record; engine states start with their version (1 to 3).
const linkMark = 0xff

// maxHops bounds how many links are followed from one conversation: each number change adds
// one to the chain from a person's first number; the bound stops a cycle.
const maxHops = 16

// errTooManyLinks is returned when a conversation leads to another through more than maxHops
// links.
var errTooManyLinks = fmt.Errorf("more than %d links from one conversation to the next", maxHops)

// link says that a conversation continues under another user id of the same account.
type link struct {
	To string `json:"to"`
	// Changed: written for a number change (WhatsApp user_changed_number); the number is new
	// and the person's conversation is To, to be taken over by the new user id's conversation.
	Changed bool `json:"changed,omitempty"`
	// Carry is the state being moved to To, kept until To has it; Kept the events kept for an
	// agent that move with it.
	Carry []byte   `json:"carry,omitempty"`
	Kept  [][]byte `json:"kept,omitempty"`
}

func encodeLink(l link) []byte {
	b, _ := json.Marshal(l) // strings and bytes: it cannot fail
	return append([]byte{linkMark}, b...)
}

// decodeLink reads a link record; false for anything else (a state, or nothing).
func decodeLink(b []byte) (link, bool) {
	var l link
	if len(b) == 0 || b[0] != linkMark || json.Unmarshal(b[1:], &l) != nil || l.To == "" {
		return link{}, false
	}
	return l, true
}

// samePhone compares phone numbers with and without "+".
func samePhone(a, b string) bool {
	return a != "" && strings.TrimPrefix(a, "+") == strings.TrimPrefix(b, "+")
}

// forward passes the claim of a linked conversation on to the conversation the link names: an
// event is queued there (deduplicated, so that a crash before the pop forwards it once), an API
// call is redone there by Direct (Report.Moved). The link stays, its lifetime renewed.
func (j *job) forward(ctx context.Context, l link) *store.Done {
	c := j.c
	j.rep.Moved = l.To
	j.rep.Trace = append(j.rep.Trace, engine.TraceEntry{Kind: engine.TraceLinked, Detail: "passed on to the conversation of " + l.To})
	if c.Kind != store.KindEvent {
		if c.Kind == store.KindOutbox {
			j.p.log().Warn("outbox of a linked conversation dropped", "conversation", convString(c.Conv), "messages", len(c.Outbox))
		}
		j.commit(ctx, &store.Commit{State: c.State})
		return nil
	}
	var ev msg.Event
	if err := json.Unmarshal(c.Event, &ev); err != nil {
		j.rep.Dropped = "unreadable event: " + err.Error()
		j.commit(ctx, &store.Commit{State: c.State, Pop: true})
		return nil
	}
	to := c.Conv
	to.User = l.To
	key := DedupKey(c.Conv.Channel, &ev)
	if key != "" {
		key = "moved:" + key
	}
	if _, err := j.p.Store.Enqueue(ctx, []store.Item{{Conv: to, Key: key, Data: c.Event}}, j.p.dedupTTL(), j.p.now()); err != nil {
		// Left claimed: the lease expires and the event is forwarded again.
		j.rep.Err = fmt.Errorf("forward event to %s: %w", convString(to), err)
		return nil
	}
	j.p.notify(j.p.Store.ShardOf(to))
	j.commit(ctx, &store.Commit{State: c.State, Pop: true})
	return nil
}

// identify links the phone number of an event that names both a user id and a phone to the
// user id's conversation, and gives a new conversation the state the phone number's (or a
// changed number's) conversation had. It reports false when that could not be done now: the
// event is then left for later. The common case, an event whose phone is already linked,
// costs nothing.
func (j *job) identify(ctx context.Context, ev *msg.Event) bool {
	p, conv := j.p, j.c.Conv
	if s := ev.System; s != nil && s.Type == msg.SystemNumberChanged && s.NewID != "" && !samePhone(s.NewID, conv.User) {
		// The new number leads here until the person writes from it with their new user id.
		to := conv
		to.User = strings.TrimPrefix(s.NewID, "+")
		if _, _, err := p.relink(ctx, to, link{To: conv.User, Changed: true}, false); err != nil {
			p.log().Warn("number change not linked yet", "conversation", convString(conv), "err", err)
			return false
		}
	}
	phone := strings.TrimPrefix(ev.Contact.Phone, "+")
	if phone == "" || samePhone(phone, conv.User) {
		return true // keyed by the phone: nothing to link
	}
	now := p.now()
	fresh := len(j.c.State) == 0
	if !fresh && samePhone(phone, j.st.Phone) && now.Sub(time.Unix(j.st.Linked, 0)) < p.stateTTL()/2 {
		return true
	}
	from := conv
	from.User = phone
	old, kept, err := p.relink(ctx, from, link{To: conv.User}, fresh)
	if err != nil {
		p.log().Warn("phone number not linked yet", "conversation", convString(conv), "err", err)
		return !fresh // a conversation with a state goes on; a new one waits for what it takes over
	}
	if len(old) > 0 {
		prev, err := engine.DecodeState(old)
		switch {
		case err != nil:
			p.log().Warn("state taken over unreadable: dropped", "conversation", convString(conv), "from", convString(from), "err", err)
		case fresh:
			*j.st = *prev
			j.carried = kept // kept for the agent, if the handoff goes on
			j.rep.Trace = append(j.rep.Trace, engine.TraceEntry{Kind: engine.TraceLinked, Detail: "continues the conversation found under " + from.User})
		case prev.OptedOut:
			j.st.OptedOut = true // an opt-out is never lost in a merge
		}
	}
	j.st.Linked = now.Unix()
	return true
}

// relink leaves l in conversation from and returns the state from held (the state of the
// conversation a number-change link leads to when take is set), and the events it kept for an
// agent, for the caller to take over. With take, the state and the kept events move into the
// link (Carry, Kept) before the caller's conversation has them, so that a crash in between
// leaves them where the next attempt finds them.
func (p *Pipeline) relink(ctx context.Context, from engine.Conversation, l link, take bool) ([]byte, [][]byte, error) {
	c, err := p.claimWait(ctx, from)
	if err != nil {
		return nil, nil, err
	}
	var old []byte
	var kept [][]byte
	prev, isLink := decodeLink(c.State)
	switch {
	case len(c.State) == 0:
	case !isLink:
		old = c.State // a conversation from before the upgrade, or the number's previous owner
		if take {
			if kept, err = p.Store.Kept(ctx, from); err != nil {
				p.releaseClaim(ctx, c)
				return nil, nil, fmt.Errorf("link %s to %s: %w", convString(from), l.To, err)
			}
		}
	case prev.To == l.To:
		old, kept = prev.Carry, prev.Kept // a move a crash interrupted
	case prev.Changed && take && !l.Changed:
		moved := from
		moved.User = prev.To
		if old, kept, err = p.moveState(ctx, moved, l.To); err != nil {
			p.releaseClaim(ctx, c)
			return nil, nil, err
		}
	}
	if take {
		l.Carry, l.Kept = old, kept
	}
	err = p.Store.Commit(ctx, c, &store.Commit{State: encodeLink(l), StateTTL: p.stateTTL(), ClearKept: take}, p.now(), p.lease())
	if err != nil {
		return nil, nil, fmt.Errorf("link %s to %s: %w", convString(from), l.To, err)
	}
	if l.Changed {
		return nil, nil, nil
	}
	return old, kept, nil
}

// moveState turns conversation from into a link to user id to, carrying its state and the
// events it kept for an agent, and returns them.
func (p *Pipeline) moveState(ctx context.Context, from engine.Conversation, to string) ([]byte, [][]byte, error) {
	c, err := p.claimWait(ctx, from)
	if err != nil {
		return nil, nil, err
	}
	st := c.State
	var kept [][]byte
	if l, ok := decodeLink(st); ok {
		st = nil
		if l.To == to {
			st, kept = l.Carry, l.Kept
		}
	} else if len(st) > 0 {
		if kept, err = p.Store.Kept(ctx, from); err != nil {
			p.releaseClaim(ctx, c)
			return nil, nil, fmt.Errorf("move %s to %s: %w", convString(from), to, err)
		}
	}
	err = p.Store.Commit(ctx, c, &store.Commit{State: encodeLink(link{To: to, Carry: st, Kept: kept}), StateTTL: p.stateTTL(), ClearKept: true}, p.now(), p.lease())
	if err != nil {
		return nil, nil, fmt.Errorf("move %s to %s: %w", convString(from), to, err)
	}
	return st, kept, nil
}

// claimWait leases a conversation for a unit of work of its own, waiting up to BusyWait while
// a worker holds it; a dead worker's replies are sent first.
func (p *Pipeline) claimWait(ctx context.Context, conv engine.Conversation) (*store.Claim, error) {
	wait := p.BusyWait
	if wait <= 0 {
		wait = 10 * time.Second
	}
	deadline := time.Now().Add(wait)
	for {
		c, err := p.Store.ClaimConversation(ctx, conv, p.now(), p.lease())
		switch {
		case errors.Is(err, store.ErrBusy):
			if time.Now().After(deadline) {
				return nil, fmt.Errorf("%s: %w", convString(conv), ErrBusy)
			}
			p.sleep(ctx, 20*time.Millisecond)
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			continue
		case err != nil:
			return nil, fmt.Errorf("claim %s: %w", convString(conv), err)
		}
		if c.Kind != store.KindOutbox {
			return c, nil
		}
		rep, done := p.process(ctx, c, nil)
		if done != nil {
			err = p.Store.Finish(ctx, done, p.now())
		}
		if err != nil || rep.Err != nil {
			return nil, fmt.Errorf("resending a dead worker's replies to %s: %w", convString(conv), errors.Join(err, rep.Err))
		}
	}
}

// releaseClaim gives back a conversation claimed with claimWait, unchanged.
func (p *Pipeline) releaseClaim(ctx context.Context, c *store.Claim) {
	cm := &store.Commit{State: c.State, StateTTL: p.stateTTL()}
	if _, isLink := decodeLink(c.State); !isLink && len(c.State) > 0 {
		if st, err := engine.DecodeState(c.State); err == nil {
			cm.Handoff = st.Handoff != ""
			cm.Timer = p.Bundle().Engine.NextTimer(st)
		}
	}
	if err := p.Store.Commit(ctx, c, cm, p.now(), p.lease()); err != nil {
		p.log().Warn("release failed: the lease expires", "conversation", convString(c.Conv), "err", err)
	}
}
