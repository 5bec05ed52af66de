package store

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/flowgate/flowgate/engine"
)

// The store's reads: none of them changes anything, and none is on a worker's hot path but
// Due, which an idle process polls.

// Load returns conv's state, nil when it has none.
func (r *Redis) Load(ctx context.Context, conv engine.Conversation) ([]byte, error) {
	cid, err := convID(conv)
	if err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	s := shardOf(cid, r.shards)
	b, err := r.c.Get(ctx, r.k.state(s, cid)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load (shard %d): %w", s, err)
	}
	return b, nil
}

// Kept reads the events conv keeps for a human agent.
func (r *Redis) Kept(ctx context.Context, conv engine.Conversation) ([][]byte, error) {
	cid, err := convID(conv)
	if err != nil {
		return nil, fmt.Errorf("kept: %w", err)
	}
	s := shardOf(cid, r.shards)
	vals, err := r.c.LRange(ctx, r.k.kept(s, cid), 0, -1).Result()
	if err != nil {
		return nil, fmt.Errorf("kept (shard %d): %w", s, err)
	}
	out := make([][]byte, len(vals))
	for i, v := range vals {
		out[i] = []byte(v)
	}
	return out, nil
}

// Handoffs reads every shard's handoff set in one pipeline and the kept events of the
// conversations of tenant and team in a second one, in the order they went to an agent.
func (r *Redis) Handoffs(ctx context.Context, tenant, team string) ([]Handoff, error) {
	sets := make([]*redis.ZSliceCmd, r.shards)
	if err := r.eachShard(ctx, func(p redis.Pipeliner, s int) { sets[s] = p.ZRangeWithScores(ctx, r.k.handoff(s), 0, -1) }); err != nil {
		return nil, fmt.Errorf("handoffs of %s/%s: %w", tenant, team, err)
	}
	type found struct {
		cid   string
		s     int
		since float64
		kept  *redis.StringSliceCmd
	}
	var hs []*found
	for s, cmd := range sets {
		for _, z := range cmd.Val() {
			if cid, _ := z.Member.(string); strings.HasPrefix(cid, tenant+"|"+team+"|") {
				hs = append(hs, &found{cid: cid, s: s, since: z.Score})
			}
		}
	}
	if len(hs) == 0 {
		return nil, nil
	}
	slices.SortFunc(hs, func(a, b *found) int { return cmp.Or(cmp.Compare(a.since, b.since), strings.Compare(a.cid, b.cid)) })
	if _, err := r.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, h := range hs {
			h.kept = p.LRange(ctx, r.k.kept(h.s, h.cid), 0, -1)
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("handoffs of %s/%s: kept events: %w", tenant, team, err)
	}
	out := make([]Handoff, len(hs))
	for i, h := range hs {
		out[i].Conv = parseConv(h.cid)
		for _, e := range h.kept.Val() {
			out[i].Kept = append(out[i].Kept, []byte(e))
		}
	}
	return out, nil
}

// NextTimer reads the earliest timer of every shard in one pipeline.
func (r *Redis) NextTimer(ctx context.Context) (time.Time, error) {
	first := make([]*redis.ZSliceCmd, r.shards)
	if err := r.eachShard(ctx, func(p redis.Pipeliner, s int) { first[s] = p.ZRangeWithScores(ctx, r.k.timers(s), 0, 0) }); err != nil {
		return time.Time{}, fmt.Errorf("next timer: %w", err)
	}
	var next int64 // timers are stored at 1 ms or later
	for _, cmd := range first {
		for _, z := range cmd.Val() {
			if ms := int64(z.Score); next == 0 || ms < next {
				next = ms
			}
		}
	}
	if next == 0 {
		return time.Time{}, nil
	}
	return time.UnixMilli(next), nil
}

// Stats counts, in one pipeline over every shard: Queued, the events in all queues (a
// per-shard counter kept by Enqueue and the pops of Commit; the head of a leased conversation
// counts until popped); Ready, Leased, Timers and Handoffs, the sizes of the shards' sets.
func (r *Redis) Stats(ctx context.Context) (Stats, error) {
	queued := make([]*redis.StringCmd, r.shards)
	sets := make([][4]*redis.IntCmd, r.shards)
	if err := r.eachShard(ctx, func(p redis.Pipeliner, s int) {
		queued[s] = p.Get(ctx, r.k.queued(s))
		for i, k := range []string{r.k.ready(s), r.k.lease(s), r.k.timers(s), r.k.handoff(s)} {
			sets[s][i] = p.ZCard(ctx, k)
		}
	}); err != nil {
		return Stats{}, fmt.Errorf("stats: %w", err)
	}
	var st Stats
	for s := range sets {
		n, _ := queued[s].Int64()
		st.Queued += n
		st.Ready += sets[s][0].Val()
		st.Leased += sets[s][1].Val()
		st.Timers += sets[s][2].Val()
		st.Handoffs += sets[s][3].Val()
	}
	return st, nil
}

// eachShard sends the commands queue adds for every shard in one pipeline. A missing key
// (redis.Nil) is no error.
func (r *Redis) eachShard(ctx context.Context, queue func(p redis.Pipeliner, s int)) error {
	_, err := r.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for s := range r.shards {
			queue(p, s)
		}
		return nil
	})
	if errors.Is(err, redis.Nil) {
		return nil
	}
	return err
}

// Ping checks that Redis answers: on a cluster, every master.
func (r *Redis) Ping(ctx context.Context) error {
	var err error
	if cc, ok := r.c.(*redis.ClusterClient); ok {
		err = cc.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
			if err := m.Ping(ctx).Err(); err != nil {
				return fmt.Errorf("master %s: %w", m.Options().Addr, err)
			}
			return nil
		})
	} else {
		err = r.c.Ping(ctx).Err()
	}
	if err != nil {
		return fmt.Errorf("store: ping: %w", err)
	}
	return nil
}

// Due reads, for every shard in one pipeline, whether a ready queue, an expired lease or a
// due timer waits at now. A due timer of a leased conversation counts too (its release may
// come any moment), so a shard listed may still answer a Claim with nothing.
func (r *Redis) Due(ctx context.Context, now time.Time) ([]int, error) {
	ms := fmt.Sprint(now.UnixMilli())
	var cmds [][3]*redis.StringSliceCmd
	err := r.eachShard(ctx, func(p redis.Pipeliner, s int) {
		var c [3]*redis.StringSliceCmd
		for i, set := range []string{r.k.ready(s), r.k.lease(s), r.k.timers(s)} {
			c[i] = p.ZRangeByScore(ctx, set, &redis.ZRangeBy{Min: "-inf", Max: ms, Count: 1})
		}
		cmds = append(cmds, c)
	})
	if err != nil {
		return nil, fmt.Errorf("due: %w", err)
	}
	var due []int
	for s, c := range cmds {
		for _, cmd := range c {
			if len(cmd.Val()) > 0 {
				due = append(due, s)
				break
			}
		}
	}
	return due, nil
}
