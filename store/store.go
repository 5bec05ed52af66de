// Package store keeps conversation state and the inbox of accepted events with the keys of those
// already seen. Mem keeps them in memory for flowctl and local runs; the Redis store (milestone
// 2) keeps them for gtc serve. Both implement pipeline.Store and pipeline.Inbox.
package store

import (
	"context"
	"sort"
	"sync"
	"time"

	"github.com/flowgate/flowgate/engine"
	"github.com/flowgate/flowgate/pipeline"
)

// Mem is an in-memory store. It is safe for concurrent use. Expiry follows the clock passed
// to New, so that virtual time in flowctl test expires entries as real time would.
type Mem struct {
	now   func() time.Time
	mu    sync.Mutex
	state map[engine.Conversation]entry
	seen  map[string]time.Time // event key → expiry
	inbox []pipeline.Item
}

var (
	_ pipeline.Store = (*Mem)(nil)
	_ pipeline.Inbox = (*Mem)(nil)
)

type entry struct {
	data    []byte
	expires time.Time
}

// NewMem returns an empty store whose expiry follows now.
func NewMem(now func() time.Time) *Mem {
	return &Mem{now: now, state: map[engine.Conversation]entry{}, seen: map[string]time.Time{}}
}

// Add queues the items whose keys were not recorded within ttl and records their keys.
func (m *Mem) Add(_ context.Context, items []pipeline.Item, ttl time.Duration) (dups int, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	for _, it := range items {
		if it.Key != "" {
			if exp, ok := m.seen[it.Key]; ok && now.Before(exp) {
				dups++
				continue
			}
			m.seen[it.Key] = now.Add(ttl)
		}
		m.inbox = append(m.inbox, it)
	}
	return dups, nil
}

// Take removes and returns the queued items, oldest first.
func (m *Mem) Take() []pipeline.Item {
	m.mu.Lock()
	defer m.mu.Unlock()
	items := m.inbox
	m.inbox = nil
	return items
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
