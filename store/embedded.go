package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// EmbeddedOptions configure NewEmbedded.
type EmbeddedOptions struct {
	// Options are the store's prefix and shards.
	Options
	// Now, when set, is the clock keys expire by (flowctl test's virtual clock): before every
	// command and pipeline the client sets the embedded server's time to Now(). Nil: keys
	// expire by the wall clock.
	Now func() time.Time
}

// NewEmbedded starts an in-process Redis (miniredis, listening on 127.0.0.1 on a free port)
// and returns the Redis store over a client of it, so that gtc serve without --redis and
// flowctl test run the same Lua scripts as a real server. close stops the client and the
// server; the data is gone with them. Redis.Client gives the client, for a Limiter.
func NewEmbedded(opts EmbeddedOptions) (st *Redis, closeFn func() error, err error) {
	mr := miniredis.NewMiniRedis()
	// The port is on loopback, but any local user could reach it: it takes a password that
	// only this process knows.
	pw := make([]byte, 16)
	if _, err := rand.Read(pw); err != nil {
		return nil, nil, fmt.Errorf("store: embedded redis password: %w", err)
	}
	password := hex.EncodeToString(pw)
	mr.RequireAuth(password)
	if opts.Now != nil {
		mr.SetTime(opts.Now())
	}
	if err := mr.StartAddr("127.0.0.1:0"); err != nil {
		return nil, nil, fmt.Errorf("store: start embedded redis: %w", err)
	}
	// Scripts are not idempotent: the store retries where it knows what a retry means, never
	// the client (MaxRetries -1).
	c := redis.NewClient(&redis.Options{Addr: mr.Addr(), Password: password, DisableIdentity: true, MaxRetries: -1})
	stop := make(chan struct{})
	var ticked sync.WaitGroup
	if opts.Now != nil {
		// A virtual clock: expiry follows it at every command (few keys live in a test).
		mr.ClockTTL(true)
		c.AddHook(clockHook{mr: mr, now: opts.Now})
	} else {
		// The wall clock: expiring on every command would walk every key each time, so a
		// ticker moves the TTLs once a second instead.
		ticked.Add(1)
		go func() {
			defer ticked.Done()
			t := time.NewTicker(time.Second)
			defer t.Stop()
			last := time.Now()
			for {
				select {
				case <-stop:
					return
				case now := <-t.C:
					mr.FastForward(now.Sub(last))
					last = now
				}
			}
		}()
	}
	closeFn = func() error {
		close(stop)
		ticked.Wait()
		err := c.Close()
		mr.Close()
		if err != nil {
			return fmt.Errorf("store: close embedded redis: %w", err)
		}
		return nil
	}
	return NewRedis(c, opts.Options), closeFn, nil
}

// clockHook sets the embedded server's time to now() before each command and pipeline, so
// that key expiry follows a virtual clock.
type clockHook struct {
	mr  *miniredis.Miniredis
	now func() time.Time
}

func (h clockHook) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		return next(ctx, network, addr)
	}
}

func (h clockHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.mr.SetTime(h.now())
		return next(ctx, cmd)
	}
}

func (h clockHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.mr.SetTime(h.now())
		return next(ctx, cmds)
	}
}
