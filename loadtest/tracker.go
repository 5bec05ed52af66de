package loadtest

import (
	"slices"
	"sync"
	"time"
)

// Tracker follows every message the generator sends and every reply the fake Graph API
// accepts, per conversation, and counts what went wrong: replies never received for an accepted
// webhook (lost), received more than once (duplicated), or received after a reply to a later
// message of the same conversation (reordered).
type Tracker struct {
	mu     sync.Mutex
	convs  []convTrack
	e2e    []time.Duration // webhook intended send → first reply, per message
	stray  int             // replies to messages this tracker did not send
	inWin  int             // first replies received before the window closed
	window time.Time       // end of the sending window (zero: still open)
}

type convTrack struct {
	intended []time.Time // by seq-1
	accepted []bool
	replies  []uint16
	highest  int // highest seq replied to so far
	reorder  int
}

// NewTracker tracks n conversations.
func NewTracker(n int) *Tracker {
	return &Tracker{convs: make([]convTrack, n)}
}

// Sent records that message seq (1-based, consecutive per conversation) of conversation conv
// was scheduled at intended.
func (t *Tracker) Sent(conv, seq int, intended time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	c := &t.convs[conv]
	for len(c.intended) < seq {
		c.intended = append(c.intended, time.Time{})
		c.accepted = append(c.accepted, false)
		c.replies = append(c.replies, 0)
	}
	c.intended[seq-1] = intended
}

// Accepted records that the webhook carrying message seq of conv was answered 200.
func (t *Tracker) Accepted(conv, seq int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if c := &t.convs[conv]; seq >= 1 && seq <= len(c.accepted) {
		c.accepted[seq-1] = true
	}
}

// Reply records a reply to message seq of conv that the Graph API accepted at at.
func (t *Tracker) Reply(conv, seq int, at time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if conv < 0 || conv >= len(t.convs) || seq < 1 || seq > len(t.convs[conv].replies) {
		t.stray++
		return
	}
	c := &t.convs[conv]
	c.replies[seq-1]++
	if c.replies[seq-1] > 1 {
		return
	}
	if seq < c.highest {
		c.reorder++
	}
	c.highest = max(c.highest, seq)
	t.e2e = append(t.e2e, at.Sub(c.intended[seq-1]))
	if t.window.IsZero() || !at.After(t.window) {
		t.inWin++
	}
}

// CloseWindow marks the end of sending: replies after it are counted, but not in the window's
// rate.
func (t *Tracker) CloseWindow(at time.Time) {
	t.mu.Lock()
	t.window = at
	t.mu.Unlock()
}

// Counts is what a tracker found.
type Counts struct {
	Sent      int `json:"sent"`       // messages scheduled
	Accepted  int `json:"accepted"`   // messages whose webhook was answered 200
	Replied   int `json:"replied"`    // accepted or not, with at least one reply
	Lost      int `json:"lost"`       // accepted, no reply
	Pending   int `json:"pending"`    // not accepted (given up, or the run ended first), no reply
	Dup       int `json:"duplicated"` // replies beyond the first to one message
	Reordered int `json:"reordered"`  // first replies that came after a reply to a later message of their conversation
	Stray     int `json:"stray"`      // replies to messages never sent
	InWindow  int `json:"in_window"`  // first replies received before sending stopped
}

// Counts tallies the conversations.
func (t *Tracker) Counts() Counts {
	t.mu.Lock()
	defer t.mu.Unlock()
	r := Counts{Stray: t.stray, InWindow: t.inWin}
	for i := range t.convs {
		c := &t.convs[i]
		r.Reordered += c.reorder
		for s := range c.replies {
			r.Sent++
			if c.accepted[s] {
				r.Accepted++
			}
			switch n := int(c.replies[s]); {
			case n > 0:
				r.Replied++
				r.Dup += n - 1
			case c.accepted[s]:
				r.Lost++
			default:
				r.Pending++
			}
		}
	}
	return r
}

// Outstanding is how many accepted messages still have no reply.
func (t *Tracker) Outstanding() int { return t.Counts().Lost }

// E2E returns the end-to-end latencies, sorted.
func (t *Tracker) E2E() []time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	d := slices.Clone(t.e2e)
	slices.Sort(d)
	return d
}

// percentile returns the p-th percentile (0..1) of sorted durations.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p*float64(len(sorted))+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// unansweredBefore counts the messages scheduled before at that have no reply.
func (t *Tracker) unansweredBefore(at time.Time) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for i := range t.convs {
		c := &t.convs[i]
		for s := range c.intended {
			if c.intended[s].Before(at) && c.replies[s] == 0 {
				n++
			}
		}
	}
	return n
}
