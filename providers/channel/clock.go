package channel

import (
	"context"
	"time"
)

// Clock tells the time and sleeps. Sleep returns ctx.Err() as soon as ctx is done. Senders
// wait through it (backoff, pacing), so that flowctl test drives them with a virtual clock.
type Clock interface {
	Now() time.Time
	Sleep(ctx context.Context, d time.Duration) error
}

// RealClock is the wall clock.
type RealClock struct{}

// Now returns time.Now().
func (RealClock) Now() time.Time { return time.Now() }

// Sleep waits for d or until ctx is done, whichever comes first.
func (RealClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Pacer is what a sender waits on before each request: the business account's throughput and,
// where the channel limits it, the pace of messages to one recipient. An in-process pacer
// serves one process; one kept in Redis (store.Limiter) shares the budgets between processes.
type Pacer interface {
	// Wait blocks until a message from account to recipient may go on both schedules (an
	// empty recipient skips the recipient's pace).
	Wait(ctx context.Context, account, recipient string) error
	// WaitPair blocks until recipient may get another message from account.
	WaitPair(ctx context.Context, account, recipient string) error
	// WaitNumber blocks until account may send another request.
	WaitNumber(ctx context.Context, account string) error
	// Defer holds every further message from account to recipient for at least d.
	Defer(account, recipient string, d time.Duration)
}
