-- ack.lua: Ack, fenced by the claim's token: the head of the outbox went out. It is dropped
-- from the outbox and the state (holding the ids the channel gave what went out so far) is
-- saved, so that a worker dying later resends only what did not go out yet. The lease is
-- renewed.
--
-- KEYS[1] -> B, the conversation's shard base
-- ARGV[1] -> cid
-- ARGV[2] -> token
-- ARGV[3] -> "1" when there is a state ("0" deletes it)
-- ARGV[4] -> state
-- ARGV[5] -> state TTL, ms ("0": none)
-- ARGV[6] -> the outbox entry that went out (the head; anything else is not dropped)
-- ARGV[7] -> lease expiry, ms
--
-- Returns 1 when applied, 0 when stale (nothing changed).

local cid = ARGV[1]
if not fenced(cid, ARGV[2]) then
  return 0
end
save(cid, ARGV[3], ARGV[4], ARGV[5])
local o = ck(cid, "o")
if redis.call("LINDEX", o, 0) == ARGV[6] then
  redis.call("LPOP", o)
end
redis.call("ZADD", B .. "lease", ARGV[7], cid)
return 1
