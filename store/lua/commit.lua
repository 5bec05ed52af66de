-- commit.lua: Commit, fenced by the claim's token. Applying it twice has the effect of once:
-- a claim pops at most once (its claim counted the head in B att, the pop deletes that count),
-- a commit whose pop was already done is a repeat and neither clears nor keeps events again,
-- and the rest sets values.
--
-- KEYS[1] -> B, the conversation's shard base
-- ARGV[1]  -> cid
-- ARGV[2]  -> token
-- ARGV[3]  -> now, ms
-- ARGV[4]  -> lease, ms
-- ARGV[5]  -> "1" when there is a state ("0" deletes it)
-- ARGV[6]  -> state
-- ARGV[7]  -> state TTL, ms ("0": none)
-- ARGV[8]  -> "1" to pop the head event (only when this claim counted it and did not pop yet)
-- ARGV[9]  -> the claimed event (the head to pop: anything else is not popped)
-- ARGV[10] -> next timer due, ms ("0": none)
-- ARGV[11] -> "1" when in handoff
-- ARGV[12] -> "1" to clear the kept events (before keeping any)
-- ARGV[13] -> n, how many events to keep
-- ARGV[14] -> kept TTL, ms (also how long a handoff with no activity stays listed)
-- ARGV[15] -> delay, ms ("0": none): park the conversation instead of releasing it: the lease
--             ends, its outbox stays, its attempts are forgotten, and it is ready again only
--             after the delay (for work that cannot be done now, such as a channel that a
--             reload removed)
-- ARGV[16...15+n] -> the events to keep, in order
-- ARGV[16+n...] -> the outbox entries; none releases the conversation, some keep the lease
--
-- Returns 1 when applied, 0 when the token no longer holds the lease (nothing changed).

local cid, now = ARGV[1], ARGV[3]
if not fenced(cid, ARGV[2]) then
  return 0
end
save(cid, ARGV[5], ARGV[6], ARGV[7])

local delay = tonumber(ARGV[15])
local nkept = tonumber(ARGV[13])
local again = false
if ARGV[8] == "1" and delay == 0 then
  local q = ck(cid, "q")
  if redis.call("HEXISTS", B .. "att", cid) == 1 and redis.call("LINDEX", q, 0) == ARGV[9] then
    redis.call("LPOP", q)
    redis.call("DECR", B .. "n")
    redis.call("HDEL", B .. "att", cid)
  else
    again = true
  end
end

if tonumber(ARGV[10]) > 0 then
  redis.call("ZADD", B .. "timers", ARGV[10], cid)
else
  redis.call("ZREM", B .. "timers", cid)
end

-- The handoff set's score is the conversation's last activity; a handoff idle as long as its
-- kept events live is forgotten with them.
redis.call("ZREMRANGEBYSCORE", B .. "handoff", "-inf", "(" .. (tonumber(now) - tonumber(ARGV[14])))
if ARGV[11] == "1" then
  redis.call("ZADD", B .. "handoff", now, cid)
else
  redis.call("ZREM", B .. "handoff", cid)
end

local kept = ck(cid, "k")
if ARGV[12] == "1" and not again then
  redis.call("DEL", kept)
end
if nkept > 0 and not again then
  for i = 16, 15 + nkept do
    redis.call("RPUSH", kept, ARGV[i])
  end
  redis.call("PEXPIRE", kept, ARGV[14])
end

if delay > 0 then
  redis.call("ZREM", B .. "lease", cid)
  redis.call("HDEL", B .. "tok", cid)
  redis.call("HDEL", B .. "att", cid)
  redis.call("ZADD", B .. "ready", tonumber(now) + delay, cid)
  return 1
end

local outbox = ck(cid, "o")
redis.call("DEL", outbox)
if #ARGV > 15 + nkept then
  for i = 16 + nkept, #ARGV do
    redis.call("RPUSH", outbox, ARGV[i])
  end
  redis.call("ZADD", B .. "lease", tonumber(now) + tonumber(ARGV[4]), cid)
else
  release(cid, now)
end
return 1
