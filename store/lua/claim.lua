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
-- Returns {done, kind, cid, token, has state, state, attempts, event, more, outbox entries...}
-- (see reply in lib.lua), or {done, 0} when the shard has no work. done is 0 without a Done, 1
-- when it was applied, 2 when it was stale (and changed nothing). more is 1 when the shard has
-- more work due once this claim is made (what Due would say of it), or the claimed
-- conversation has events queued after the one it carries (ready again on its release): the
-- caller claims from the shard again instead of reading Due or claiming it empty.
--
-- Work, in order: (1) a conversation whose lease expired (a new token; kind outbox when it
-- has an outbox, timer when its own timer is due, else event when it has a queue, else
-- timer); then (2) the oldest of a ready conversation (kind outbox when a parked outbox waits,
-- timer when its own timer is due, else event: the head of its queue, with its claims counted
-- in B att) and a due timer of a conversation not leased (kind timer). A timer stays in B
-- timers until a commit replaces or clears it, so that a worker dying on it leaves it due.

local now = tonumber(ARGV[1])
local expiry = now + tonumber(ARGV[2])
local done = 0
if ARGV[3] ~= "" then
  done = 2 - finish(ARGV[3], ARGV[4], ARGV[1], ARGV[5], ARGV[6], ARGV[7])
end

-- claimed is reply with more set.
local function claimed(done, kind, cid, token, attempts, event, outbox)
  local r = reply(done, kind, cid, token, attempts, event, outbox)
  local head = kind == 1 and 1 or 0
  if redis.call("LLEN", ck(cid, "q")) > head then
    r[9] = 1
    return r
  end
  for _, set in ipairs({"ready", "lease", "timers"}) do
    if redis.call("ZRANGEBYSCORE", B .. set, "-inf", now, "LIMIT", 0, 1)[1] then
      r[9] = 1
      return r
    end
  end
  return r
end

local function due(cid)
  local at = redis.call("ZSCORE", B .. "timers", cid)
  return at and tonumber(at) <= now
end

local expired = redis.call("ZRANGEBYSCORE", B .. "lease", "-inf", now, "LIMIT", 0, 1)
if expired[1] then
  local cid = expired[1]
  local t = lease(cid, expiry)
  local outbox = redis.call("LRANGE", ck(cid, "o"), 0, -1)
  if #outbox > 0 then
    return claimed(done, 3, cid, t, 0, "", outbox)
  end
  local ev = redis.call("LINDEX", ck(cid, "q"), 0)
  if ev and not due(cid) then
    return claimed(done, 1, cid, t, redis.call("HINCRBY", B .. "att", cid, 1), ev)
  end
  return claimed(done, 2, cid, t, 0)
end

-- The first due timer of a conversation not leased. At most ZCARD lease due timers are of
-- leased conversations, so one more candidate finds any that is not.
local tcid, tdue
local n = redis.call("ZCARD", B .. "lease") + 1
local timers = redis.call("ZRANGEBYSCORE", B .. "timers", "-inf", now, "WITHSCORES", "LIMIT", 0, n)
for i = 1, #timers, 2 do
  if not redis.call("ZSCORE", B .. "lease", timers[i]) then
    tcid, tdue = timers[i], tonumber(timers[i + 1])
    break
  end
end

-- A ready conversation that is leased, or has nothing left, is dropped from the set.
for _ = 1, 10 do
  local r = redis.call("ZRANGEBYSCORE", B .. "ready", "-inf", now, "WITHSCORES", "LIMIT", 0, 1)
  local cid = r[1]
  if not cid or (tcid and tdue < tonumber(r[2])) then
    break
  end
  redis.call("ZREM", B .. "ready", cid)
  if not redis.call("ZSCORE", B .. "lease", cid) then
    if due(cid) then
      return claimed(done, 2, cid, lease(cid, expiry), 0) -- its queue is ready again on release
    end
    local outbox = redis.call("LRANGE", ck(cid, "o"), 0, -1)
    if #outbox > 0 then
      return claimed(done, 3, cid, lease(cid, expiry), 0, "", outbox)
    end
    local ev = redis.call("LINDEX", ck(cid, "q"), 0)
    if ev then
      local t = lease(cid, expiry)
      return claimed(done, 1, cid, t, redis.call("HINCRBY", B .. "att", cid, 1), ev)
    end
  end
end

if tcid then
  redis.call("ZREM", B .. "ready", tcid) -- its queue, if any, is ready again on release
  return claimed(done, 2, tcid, lease(tcid, expiry), 0)
end
return {done, 0}
