// Package store keeps conversation state and the set of webhook events already seen. Mem keeps
// them in memory for flowctl and local runs; the Redis store (milestone 2) keeps them for
// gtc serve. Both implement pipeline.Store.
package store

import (
	"context"
	"sort"
	"sync"
	"time"

	"github.com/flowgate/flowgate/engine"
)

// Mem is an in-memory store. It is safe for concurrent use. Expiry follows the clock passed
// to New, so that virtual time in flowctl test expires entries as real time would.
type Mem struct {
	now   func() time.Time
	mu    sync.Mutex
	state map[engine.Conversation]entry
	seen  map[string]time.Time // event key → expiry
}

type entry struct {
	data    []byte
	expires time.Time
}

// NewMem returns an empty store whose expiry follows now.
func NewMem(now func() time.Time) *Mem {
	return &Mem{now: now, state: map[engine.Conversation]entry{}, seen: map[string]time.Time{}}
}

// Seen records an event key for ttl and reports whether it was already recorded.
func (m *Mem) Seen(_ context.Context, key string, ttl time.Duration) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	if exp, ok := m.seen[key]; ok && now.Before(exp) {
		return true, nil
	}
	m.seen[key] = now.Add(ttl)
	return false, nil
}

// Load returns a conversation's encoded state, or nil for a new conversation.
func (m *Mem) Load(_ context.Context, c engine.Conversation) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.state[c]
	if !ok || !m.now().Before(e.expires) {
		return nil, nil
	}
	return e.data, nil
}

// Save stores a conversation's encoded state for ttl.
func (m *Mem) Save(_ context.Context, c engine.Conversation, data []byte, ttl time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.state[c] = entry{data: data, expires: m.now().Add(ttl)}
	return nil
}

// Conversations lists the conversations with live state, in a stable order.
func (m *Mem) Conversations(context.Context) ([]engine.Conversation, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	var out []engine.Conversation
	for c, e := range m.state {
		if now.Before(e.expires) {
			out = append(out, c)
		}
	}
	sort.Slice(out, func(i, j int) bool { return convKey(out[i]) < convKey(out[j]) })
	return out, nil
}

func convKey(c engine.Conversation) string {
	return c.Tenant + "\x00" + c.Team + "\x00" + c.Channel + "\x00" + c.Account + "\x00" + c.User
}
