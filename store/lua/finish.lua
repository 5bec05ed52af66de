-- finish.lua: Finish (a Done without a claim): fenced, save the state, drop the outbox and
-- release (ready again when the queue is not empty).
--
-- KEYS[1] -> B, the conversation's shard base
-- ARGV[1] -> cid
-- ARGV[2] -> token
-- ARGV[3] -> "1" when there is a state ("0" deletes it)
-- ARGV[4] -> state
-- ARGV[5] -> state TTL, ms ("0": none)
-- ARGV[6] -> now, ms
-- (ARGV[1..5] are also claim.lua's ARGV[3..7], which finishes a claim of its own shard.)
--
-- Returns 1 when applied, 0 when stale (nothing changed).

return finish(ARGV[1], ARGV[2], ARGV[6], ARGV[3], ARGV[4], ARGV[5])
