package store

import (
	"errors"
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
	"time"

	"github.com/flowgate/flowgate/engine"
)

// Key layout. This file is the one place where Redis keys are named; the Lua scripts build the
// same names from the shard base they get as KEYS[1] (see lua/lib.lua, which mirrors the
// helpers below), and redis_test.go checks that both agree.
//
// A conversation's id (cid) is tenant|team|channel|account|user: the first four fields may not
// contain '|', the user (last) may contain anything. Its shard is FNV-32a(cid) mod Shards. Every
// key of a shard carries the hash tag {<shard>} right after the prefix P (Options.Prefix,
// default "fg:"), so that every script touches one cluster slot.
//
// Per shard s (base B = P{s}:):
//
//	B ready    ZSET   cid → ms it became ready (queue not empty, not leased), or ms it is
//	                  ready again after a park (Commit with Delay: queue or outbox left). Enqueue
//	                  adds (NX), Claim removes, Commit/Finish re-add on release when the queue is
//	                  not empty, ClaimConversation removes. No TTL.
//	B lease    ZSET   cid → lease expiry ms. Claim/ClaimConversation add, Commit (with an
//	                  outbox) and Extend renew, Commit (no outbox) and Finish remove. No TTL.
//	B tok      HASH   cid → the lease's fencing token. Written with lease, deleted on release.
//	B seq      STRING counter the tokens come from (INCR, never reset: a token is never
//	                  reused). No TTL; one per shard.
//	B att      HASH   cid → how many times the head event was claimed. Claim increments,
//	                  Commit deletes when it pops (its presence lets a claim pop only once),
//	                  release deletes when the queue is empty.
//	B timers   ZSET   cid → due ms. Commit adds or removes; a claim leaves it, so that a worker
//	                  dying on a timer leaves it due.
//	B handoff  ZSET   cid → ms of the conversation's last activity while with a human agent.
//	                  Commit adds or removes it, and drops entries idle for keptTTL.
//	B n        STRING events in all queues of the shard (Stats.Queued): Enqueue adds what it
//	                  pushed, Commit subtracts what it popped. No TTL; one per shard.
//	B d:<key>  STRING dedup marker of an item key, PX dedupTTL, written by Enqueue (SET NX).
//	                  Keys are deduplicated within the shard of the item's conversation.
//
// Per conversation (C = B c:<cid>:):
//
//	C q  LIST   queued event bytes, oldest first. Enqueue RPUSHes, Commit LPOPs. No TTL (it
//	            empties, and an empty list is no key).
//	C s  STRING the encoded state, PX StateTTL on every write (Commit, Finish).
//	C o  LIST   the outbox: replies committed and not confirmed sent. Commit writes, Ack pops
//	            its head, Finish and a releasing Commit delete it.
//	C k  LIST   events kept for a human agent, PX keptTTL refreshed on every push (Commit).
//
// An idle conversation (no queue, no lease, no timer, no handoff) leaves only C s behind.
//
// The limiter (limiter.go) keeps its GCRA schedules, each with a PX until fully repaid, under
// the phone number's hash tag:
//
//	P{rl:<phone>}:n            STRING theoretical arrival time (µs) of the number's next request
//	P{rl:<phone>}:p:<recipient> STRING theoretical arrival time (µs) of the pair's next message

// keptTTL is how long the events kept for an agent live after the last one was kept.
const keptTTL = 30 * 24 * time.Hour

// errBadConv reports a conversation whose id could not be split back.
var errBadConv = errors.New("conversation field contains '|'")

// convID returns the conversation's id, refusing '|' in any field but the user.
func convID(c engine.Conversation) (string, error) {
	for _, f := range []string{c.Tenant, c.Team, c.Channel, c.Account} {
		if strings.Contains(f, "|") {
			return "", fmt.Errorf("conversation %q/%q/%q/%q: %w", c.Tenant, c.Team, c.Channel, c.Account, errBadConv)
		}
	}
	return c.Tenant + "|" + c.Team + "|" + c.Channel + "|" + c.Account + "|" + c.User, nil
}

// rawID is convID without the check, for hashing.
func rawID(c engine.Conversation) string {
	return c.Tenant + "|" + c.Team + "|" + c.Channel + "|" + c.Account + "|" + c.User
}

// parseConv splits a conversation id back into its fields.
func parseConv(cid string) engine.Conversation {
	f := strings.SplitN(cid, "|", 5)
	for len(f) < 5 {
		f = append(f, "")
	}
	return engine.Conversation{Tenant: f[0], Team: f[1], Channel: f[2], Account: f[3], User: f[4]}
}

// shardOf is FNV-32a of the conversation id modulo shards.
func shardOf(cid string, shards int) int {
	h := fnv.New32a()
	h.Write([]byte(cid))
	return int(h.Sum32() % uint32(shards))
}

// keys builds the key names of one prefix.
type keys struct{ prefix string }

// shard returns the base B = P{s}: every key of shard s starts with (the scripts' KEYS[1]).
func (k keys) shard(s int) string { return k.prefix + "{" + strconv.Itoa(s) + "}:" }

// ready, lease, tok, seq, att, timers, handoff and queued name the shard's keys.
func (k keys) ready(s int) string   { return k.shard(s) + "ready" }
func (k keys) lease(s int) string   { return k.shard(s) + "lease" }
func (k keys) tok(s int) string     { return k.shard(s) + "tok" }
func (k keys) seq(s int) string     { return k.shard(s) + "seq" }
func (k keys) att(s int) string     { return k.shard(s) + "att" }
func (k keys) timers(s int) string  { return k.shard(s) + "timers" }
func (k keys) handoff(s int) string { return k.shard(s) + "handoff" }
func (k keys) queued(s int) string  { return k.shard(s) + "n" }

// dedup names the dedup marker of an item key in shard s.
func (k keys) dedup(s int, key string) string { return k.shard(s) + "d:" + key }

// conv returns C, the start of every key of conversation cid in shard s.
func (k keys) conv(s int, cid string) string { return k.shard(s) + "c:" + cid + ":" }

// queue, state, outbox and kept name a conversation's keys.
func (k keys) queue(s int, cid string) string  { return k.conv(s, cid) + "q" }
func (k keys) state(s int, cid string) string  { return k.conv(s, cid) + "s" }
func (k keys) outbox(s int, cid string) string { return k.conv(s, cid) + "o" }
func (k keys) kept(s int, cid string) string   { return k.conv(s, cid) + "k" }

// rateNumber and ratePair name the limiter's schedules of a phone number.
func (k keys) rateNumber(phone string) string { return k.prefix + "{rl:" + phone + "}:n" }
func (k keys) ratePair(phone, recipient string) string {
	return k.prefix + "{rl:" + phone + "}:p:" + recipient
}
