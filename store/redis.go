package store

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/flowgate/flowgate/engine"
)

// Options configure a Redis store.
type Options struct {
	// Prefix starts every key (default "fg:"). It may not contain '{' or '}': the shard's hash
	// tag must be the first one in each key.
	Prefix string
	// Shards is how many shards conversations are spread over (default 16). Every process
	// sharing a Redis must use the same Prefix and Shards.
	Shards int
}

// roundTripsInFlight bounds the pipelines one store has in flight at once: enough to keep a
// single-threaded Redis busy, few enough that concurrent operations share round trips.
const roundTripsInFlight = 4

// DefaultPrefix and DefaultShards are the Options defaults.
const (
	DefaultPrefix = "fg:"
	DefaultShards = 16
)

// Redis is the Store kept in Redis (a server, a cluster, or the embedded miniredis of
// NewEmbedded). Every operation is one Lua script per shard, each touching the keys of one
// hash slot; keys.go documents the layout. A conversation's Tenant, Team, Channel and Account
// may not contain '|' (its id joins them with it; operations refuse such a conversation). A
// Redis is safe for concurrent use.
type Redis struct {
	c      redis.UniversalClient
	k      keys
	shards int
	co     *coalescer // the workers' operations
	accept *coalescer // Enqueue's, apart, so that acknowledging a webhook never queues behind them
}

var _ Store = (*Redis)(nil)

// The scripts; each but gcra starts with lua/lib.lua.
var (
	//go:embed lua/lib.lua
	luaLib string
	//go:embed lua/enqueue.lua
	luaEnqueue string
	//go:embed lua/claim.lua
	luaClaim string
	//go:embed lua/claimconv.lua
	luaClaimConv string
	//go:embed lua/commit.lua
	luaCommit string
	//go:embed lua/finish.lua
	luaFinish string
	//go:embed lua/extend.lua
	luaExtend string
	//go:embed lua/ack.lua
	luaAck string

	enqueueScript   = redis.NewScript(luaLib + luaEnqueue)
	claimScript     = redis.NewScript(luaLib + luaClaim)
	claimConvScript = redis.NewScript(luaLib + luaClaimConv)
	commitScript    = redis.NewScript(luaLib + luaCommit)
	finishScript    = redis.NewScript(luaLib + luaFinish)
	extendScript    = redis.NewScript(luaLib + luaExtend)
	ackScript       = redis.NewScript(luaLib + luaAck)
)

// NewRedis returns the store kept in c under opts (defaults applied to zero fields). It panics
// when opts.Prefix contains a brace.
func NewRedis(c redis.UniversalClient, opts Options) *Redis {
	if opts.Prefix == "" {
		opts.Prefix = DefaultPrefix
	}
	if strings.ContainsAny(opts.Prefix, "{}") {
		panic(fmt.Sprintf("store: prefix %q contains a brace", opts.Prefix))
	}
	if opts.Shards <= 0 {
		opts.Shards = DefaultShards
	}
	r := &Redis{c: c, k: keys{opts.Prefix}, shards: opts.Shards}
	r.co = &coalescer{send: r.send, max: roundTripsInFlight}
	r.accept = &coalescer{send: r.send, max: roundTripsInFlight}
	return r
}

// LoadScripts loads the store's and the limiter's scripts on every server the client reaches
// (each master and replica of a cluster), so that the first call of each runs at once instead
// of costing a second round trip; gtc serve calls it at start, which also tells a Redis that
// refuses scripts.
func (r *Redis) LoadScripts(ctx context.Context) error {
	for _, sc := range []*redis.Script{enqueueScript, claimScript, claimConvScript, commitScript, finishScript, extendScript, ackScript, gcraScript} {
		if err := sc.Load(ctx, r.c).Err(); err != nil {
			return fmt.Errorf("store: load scripts: %w", err)
		}
	}
	return nil
}

// Client returns the Redis client the store uses (for a Limiter on the same server).
func (r *Redis) Client() redis.UniversalClient { return r.c }

// Shards is how many shards conversations are spread over.
func (r *Redis) Shards() int { return r.shards }

// ShardOf returns the shard a conversation lives in: FNV-32a of its id modulo Shards.
func (r *Redis) ShardOf(conv engine.Conversation) int { return shardOf(rawID(conv), r.shards) }

// Enqueue runs one enqueue script per conversation, all in one pipeline. A key is
// deduplicated within the shard of its item's conversation (a key names one event of one
// conversation, such as a channel's message id). dedupTTL <= 0 records no key.
func (r *Redis) Enqueue(ctx context.Context, items []Item, dedupTTL time.Duration, now time.Time) ([]bool, error) {
	dup := make([]bool, len(items))
	if len(items) == 0 {
		return dup, nil
	}
	type group struct {
		s    int
		args []any
		idx  []int
	}
	var groups []*group
	byCID := map[string]*group{}
	for i, it := range items {
		cid, err := convID(it.Conv)
		if err != nil {
			return nil, fmt.Errorf("enqueue: %w", err)
		}
		g := byCID[cid]
		if g == nil {
			g = &group{s: shardOf(cid, r.shards), args: []any{cid, now.UnixMilli(), ttlMS(dedupTTL)}}
			byCID[cid] = g
			groups = append(groups, g)
		}
		g.args = append(g.args, it.Key, it.Data)
		g.idx = append(g.idx, i)
	}
	calls := make([]*call, len(groups))
	for i, g := range groups {
		calls[i] = &call{shard: g.s, script: enqueueScript, keys: []string{r.k.shard(g.s)}, args: g.args}
	}
	if err := r.accept.do(ctx, calls, 0); err != nil {
		return nil, fmt.Errorf("enqueue %d items: %w", len(items), err)
	}
	for i, g := range groups {
		v, err := calls[i].cmd.Slice()
		if err == nil && len(v) != len(g.idx) {
			err = fmt.Errorf("%d flags for %d items", len(v), len(g.idx))
		}
		if err != nil {
			return nil, fmt.Errorf("enqueue shard %d: %w", g.s, err)
		}
		for j, f := range v {
			dup[g.idx[j]] = toInt(f) == 1
		}
	}
	return dup, nil
}

// Claim finishes done (in the same script when it lives in shard, else in a second script of
// the same pipeline) and leases one conversation of shard with work due at now.
func (r *Redis) Claim(ctx context.Context, shard int, now time.Time, lease time.Duration, done *Done) (*Claim, error) {
	if shard < 0 || shard >= r.shards {
		return nil, fmt.Errorf("claim shard %d: out of 0..%d", shard, r.shards-1)
	}
	cl := &call{shard: shard, script: claimScript, keys: []string{r.k.shard(shard)},
		args: []any{now.UnixMilli(), lease.Milliseconds(), "", "", "", "", 0}}
	calls := []*call{cl}
	var fin *call
	if done != nil && done.Claim != nil {
		var err error
		if fin, err = r.fencedCall(finishScript, done.Claim, append(stateArgs(done.State, done.StateTTL), now.UnixMilli())...); err != nil {
			return nil, fmt.Errorf("claim shard %d: done: %w", shard, err)
		}
		if fin.shard == shard {
			cl.args = append(cl.args[:2], fin.args[:5]...) // finish.lua's ARGV but now
			fin = nil
		} else {
			calls = []*call{fin, cl}
		}
	}
	var linger time.Duration
	if done != nil {
		linger = done.Linger
	}
	if err := r.co.do(ctx, calls, linger); err != nil {
		return nil, fmt.Errorf("claim shard %d: %w", shard, err)
	}
	var errs []error
	if fin != nil {
		errs = append(errs, fenced(fin, "claim: finish", done.Claim))
	}
	v, err := cl.cmd.Slice()
	if err != nil {
		return nil, errors.Join(append(errs, fmt.Errorf("claim shard %d: %w", shard, err))...)
	}
	c, doneFlag, err := parseClaim(v, shard)
	if err != nil {
		errs = append(errs, fmt.Errorf("claim shard %d: %w", shard, err))
	}
	if doneFlag == 2 {
		errs = append(errs, fmt.Errorf("claim: finish token %d (shard %d): %w", done.Claim.Token, shard, ErrStale))
	}
	return c, errors.Join(errs...)
}

// ClaimConversation leases conv for an API call; ErrBusy while a live lease holds it. When it
// takes over the expired lease of a worker that died after committing replies, the claim
// carries the work the recovery would have: kind KindOutbox with the outbox to send again
// (the caller sends it and calls Finish, then claims again for its API call).
func (r *Redis) ClaimConversation(ctx context.Context, conv engine.Conversation, now time.Time, lease time.Duration) (*Claim, error) {
	cid, err := convID(conv)
	if err != nil {
		return nil, fmt.Errorf("claim conversation: %w", err)
	}
	s := shardOf(cid, r.shards)
	v, err := claimConvScript.Run(ctx, r.c, []string{r.k.shard(s)}, cid, now.UnixMilli(), lease.Milliseconds()).Slice()
	if err != nil {
		return nil, fmt.Errorf("claim conversation (shard %d): %w", s, err)
	}
	c, _, err := parseClaim(v, s)
	if err != nil {
		return nil, fmt.Errorf("claim conversation (shard %d): %w", s, err)
	}
	if c == nil {
		return nil, fmt.Errorf("claim conversation (shard %d): %w", s, ErrBusy)
	}
	return c, nil
}

// Commit applies cm in one script, fenced by c.Token, and runs cm.Book's booking in the same
// round trip (the booking is made even when the commit turns out stale: its slots go unused). A commit whose lease expired without
// anyone claiming the conversation since still holds the token and is applied. Pop removes
// the head only when it is c.Event and this claim has not popped yet; a commit whose pop was
// already done is a repeat, which neither clears nor keeps events again. So repeating a commit
// that kept the lease (an outbox) changes nothing more, and repeating one that released it
// finds the lease gone and returns ErrStale, having changed nothing. (A repeat of a commit
// with Kept and without Pop would keep the event twice.)
func (r *Redis) Commit(ctx context.Context, c *Claim, cm *Commit, now time.Time, lease time.Duration) error {
	var timer int64
	if !cm.Timer.IsZero() {
		timer = max(cm.Timer.UnixMilli(), 1)
	}
	args := append([]any{now.UnixMilli(), lease.Milliseconds()}, stateArgs(cm.State, cm.StateTTL)...)
	kept := cm.Carried
	if cm.Kept != nil {
		kept = append(kept[:len(kept):len(kept)], cm.Kept)
	}
	args = append(args, flag(cm.Pop), c.Event, timer, flag(cm.Handoff), flag(cm.ClearKept),
		len(kept), keptTTL.Milliseconds(), cm.Delay.Milliseconds())
	for _, k := range kept {
		args = append(args, k)
	}
	for _, o := range cm.Outbox {
		args = append(args, o)
	}
	if cm.Book == nil || cm.Book.N <= 0 || len(cm.Outbox) == 0 || cm.Delay > 0 {
		return r.fenced(ctx, "commit", commitScript, c, args...)
	}
	fc, err := r.fencedCall(commitScript, c, args...)
	if err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	at := cm.Book.Limiter.clock.Now()
	bc := cm.Book.call(at)
	if err := r.pipeline(ctx, []*call{fc, bc}); err != nil {
		return fmt.Errorf("commit token %d: %w", c.Token, err)
	}
	cm.Book.read(bc, at)
	return fenced(fc, "commit", c)
}

// Finish applies d: fenced, it saves d.State (nil deletes it, as in Commit), drops the outbox
// and releases the conversation.
func (r *Redis) Finish(ctx context.Context, d *Done, now time.Time) error {
	return r.fencedLinger(ctx, "finish", finishScript, d.Claim, d.Linger, append(stateArgs(d.State, d.StateTTL), now.UnixMilli())...)
}

// Ack drops entry from the head of c's outbox and saves state, fenced by its token.
func (r *Redis) Ack(ctx context.Context, c *Claim, entry, state []byte, stateTTL time.Duration, now time.Time, lease time.Duration) error {
	args := append(stateArgs(state, stateTTL), entry, now.Add(lease).UnixMilli())
	return r.fenced(ctx, "ack", ackScript, c, args...)
}

// Extend renews c's lease until now+lease, fenced by its token.
func (r *Redis) Extend(ctx context.Context, c *Claim, now time.Time, lease time.Duration) error {
	return r.fenced(ctx, "extend", extendScript, c, now.Add(lease).UnixMilli())
}

// fenced runs a script of fencedCall in one round trip.
func (r *Redis) fenced(ctx context.Context, op string, sc *redis.Script, c *Claim, rest ...any) error {
	return r.fencedLinger(ctx, op, sc, c, 0, rest...)
}

// fencedLinger is fenced, its round trip lingering (see Done.Linger).
func (r *Redis) fencedLinger(ctx context.Context, op string, sc *redis.Script, c *Claim, linger time.Duration, rest ...any) error {
	fc, err := r.fencedCall(sc, c, rest...)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if err := r.co.do(ctx, []*call{fc}, linger); err != nil {
		return fmt.Errorf("%s token %d: %w", op, c.Token, err)
	}
	return fenced(fc, op, c)
}

// fencedCall is the call of a script whose ARGV are the claim's cid and token, then rest, and
// that returns 1 when applied, 0 when the token no longer holds the lease.
func (r *Redis) fencedCall(sc *redis.Script, c *Claim, rest ...any) (*call, error) {
	cid, err := convID(c.Conv)
	if err != nil {
		return nil, err
	}
	args := append([]any{cid, strconv.FormatInt(c.Token, 10)}, rest...)
	s := shardOf(cid, r.shards)
	return &call{shard: s, script: sc, keys: []string{r.k.shard(s)}, args: args}, nil
}

// fenced reads the result of a fencedCall: nil, ErrStale or the script's error.
func fenced(fc *call, op string, c *Claim) error {
	n, err := fc.cmd.Int64()
	if err == nil && n == 0 {
		err = ErrStale
	}
	if err != nil {
		return fmt.Errorf("%s token %d (shard %d): %w", op, c.Token, fc.shard, err)
	}
	return nil
}

// call is one script call of a pipeline.
type call struct {
	shard  int
	script *redis.Script
	keys   []string
	args   []any
	cmd    *redis.Cmd
}

// pipeline sends calls (EVALSHA) in one round trip, shared with those of operations running
// at the same time (see coalescer); the calls whose script the server did not have are sent
// again with EVAL, in a second one. It returns an error only when a round trip failed: each
// call's own result, error included, is in its cmd.
func (r *Redis) pipeline(ctx context.Context, calls []*call) error {
	return r.co.do(ctx, calls, 0)
}

// send is pipeline's round trip, for the calls of one or more operations.
func (r *Redis) send(ctx context.Context, calls []*call) error {
	for _, eval := range []bool{false, true} {
		_, err := r.c.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, c := range calls {
				if eval {
					c.cmd = c.script.Eval(ctx, p, c.keys, c.args...)
				} else {
					c.cmd = c.script.EvalSha(ctx, p, c.keys, c.args...)
				}
			}
			return nil
		})
		if err != nil && !isReplyError(err) {
			return err
		}
		calls = slices.DeleteFunc(slices.Clone(calls), func(c *call) bool { return !redis.HasErrorPrefix(c.cmd.Err(), "NOSCRIPT") })
		if len(calls) == 0 {
			break
		}
	}
	return nil
}

// isReplyError reports whether err is an error reply of Redis (one command failed) rather
// than a failed round trip.
func isReplyError(err error) bool {
	var re redis.Error
	return errors.As(err, &re) && !errors.Is(err, redis.Nil)
}

// stateArgs are the scripts' three state arguments: has, state, TTL ms.
func stateArgs(state []byte, ttl time.Duration) []any {
	return []any{flag(state != nil), state, ttlMS(ttl)}
}

// ttlMS is a TTL in whole ms, rounded up (0 for none).
func ttlMS(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return int64((d + time.Millisecond - 1) / time.Millisecond)
}

func flag(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// parseClaim reads reply in lib.lua: {done, kind, cid, token, has state, state, attempts,
// event, more, outbox...}. It returns a nil claim for kind 0, and the done flag.
func parseClaim(v []any, shard int) (*Claim, int64, error) {
	if len(v) < 2 {
		return nil, 0, fmt.Errorf("claim reply of %d values", len(v))
	}
	done, kind := toInt(v[0]), toInt(v[1])
	if kind == 0 {
		return nil, done, nil
	}
	if len(v) < 9 {
		return nil, done, fmt.Errorf("claim reply of %d values", len(v))
	}
	cid, _ := v[2].(string)
	c := &Claim{
		Conv:     parseConv(cid),
		Kind:     Kind(kind),
		Token:    toInt(v[3]),
		Attempts: int(toInt(v[6])),
		Shard:    shard,
		More:     toInt(v[8]) == 1,
	}
	if toInt(v[4]) == 1 {
		c.State = toBytes(v[5])
	}
	if c.Kind == KindEvent {
		c.Event = toBytes(v[7])
	}
	for _, o := range v[9:] {
		c.Outbox = append(c.Outbox, toBytes(o))
	}
	return c, done, nil
}

func toInt(v any) int64 {
	switch n := v.(type) {
	case int64:
		return n
	case string:
		i, _ := strconv.ParseInt(n, 10, 64)
		return i
	}
	return 0
}

// toBytes copies a bulk string reply; an empty one is a non-nil empty slice.
func toBytes(v any) []byte {
	s, _ := v.(string)
	return []byte(s)
}
