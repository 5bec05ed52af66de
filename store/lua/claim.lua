-- claim.lua: Claim one conversation of a shard, finishing the caller's previous claim first
-- when it lives in the same shard.
--
-- KEYS[1] -> B, the shard base
-- ARGV[1] -> now, ms
-- ARGV[2] -> lease, ms
-- ARGV[3] -> cid of the claim to finish ("": none); then its Done:
-- ARGV[4] -> token
-- ARGV[5] -> "1" when it has a state ("0" deletes the state)
-- ARGV[6] -> state
-- ARGV[7] -> state TTL, ms ("0": none)
--
-- Returns {done, kind, cid, token, has state, state, attempts, event, outbox entries...} (see
-- reply in lib.lua), or {done, 0} when the shard has no work. done is 0 without a Done, 1 when
-- it was applied, 2 when it was stale (and changed nothing).
--
-- Work, in order: (1) a conversation whose lease expired (a new token; kind outbox when it
-- has an outbox, else event when it has a queue, else timer); (2) the oldest ready queue
-- (kind event: the head, with its claims counted in B att); (3) a due timer of a conversation
-- not leased (kind timer; the timer is removed).

local now = tonumber(ARGV[1])
local expiry = now + tonumber(ARGV[2])
local done = 0
if ARGV[3] ~= "" then
  done = 2 - finish(ARGV[3], ARGV[4], ARGV[1], ARGV[5], ARGV[6], ARGV[7])
end

local expired = redis.call("ZRANGEBYSCORE", B .. "lease", "-inf", now, "LIMIT", 0, 1)
if expired[1] then
  local cid = expired[1]
  local t = lease(cid, expiry)
  local outbox = redis.call("LRANGE", ck(cid, "o"), 0, -1)
  if #outbox > 0 then
    return reply(done, 3, cid, t, 0, "", outbox)
  end
  local ev = redis.call("LINDEX", ck(cid, "q"), 0)
  if ev then
    return reply(done, 1, cid, t, redis.call("HINCRBY", B .. "att", cid, 1), ev)
  end
  return reply(done, 2, cid, t, 0)
end

-- A ready conversation always has a queue and no lease; one that does not is dropped.
for _ = 1, 10 do
  local cid = redis.call("ZRANGEBYSCORE", B .. "ready", "-inf", now, "LIMIT", 0, 1)[1]
  if not cid then
    break
  end
  redis.call("ZREM", B .. "ready", cid)
  local ev = redis.call("LINDEX", ck(cid, "q"), 0)
  if ev and not redis.call("ZSCORE", B .. "lease", cid) then
    local t = lease(cid, expiry)
    return reply(done, 1, cid, t, redis.call("HINCRBY", B .. "att", cid, 1), ev)
  end
end

-- A leased conversation keeps its due timer until it is released. At most ZCARD lease due
-- timers are of leased conversations, so one more candidate finds any that is not.
local n = redis.call("ZCARD", B .. "lease") + 1
local due = redis.call("ZRANGEBYSCORE", B .. "timers", "-inf", now, "LIMIT", 0, n)
for _, cid in ipairs(due) do
  if not redis.call("ZSCORE", B .. "lease", cid) then
    redis.call("ZREM", B .. "timers", cid)
    return reply(done, 2, cid, lease(cid, expiry), 0)
  end
end
return {done, 0}
