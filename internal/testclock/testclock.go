// Package testclock is a fake clock for tests of code that waits through a channel.Clock:
// Sleep advances the time at once and records what it was asked, so that backoff and pacing
// cost no real time and their delays can be asserted.
package testclock

import (
	"context"
	"sync"
	"time"
)

// Clock is a fake channel.Clock. It is safe for concurrent use.
type Clock struct {
	// OnSleep, when set, runs at the start of each Sleep (to cancel a context mid-wait).
	OnSleep func(d time.Duration)

	mu     sync.Mutex
	now    time.Time
	sleeps []time.Duration
}

// New returns a Clock at a fixed, arbitrary time (2025-06-01 12:00 UTC).
func New() *Clock {
	return &Clock{now: time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)}
}

// At returns a Clock at t.
func At(t time.Time) *Clock { return &Clock{now: t} }

// Now returns the fake time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Sleep records d and moves the time forward by it, unless ctx is done.
func (c *Clock) Sleep(ctx context.Context, d time.Duration) error {
	if c.OnSleep != nil {
		c.OnSleep(d)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sleeps = append(c.sleeps, d)
	c.now = c.now.Add(d)
	return nil
}

// Advance moves the time forward by d without recording a sleep, and returns the new time.
func (c *Clock) Advance(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	return c.now
}

// Sleeps returns the durations Sleep was asked for, in order.
func (c *Clock) Sleeps() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.sleeps...)
}
