-- lib.lua: helpers every store script starts with (redis.go prepends this file to each one).
-- It is not a script of its own and returns nothing.
--
-- KEYS[1] -> B, the shard base P{s}: of every key the script touches (keys.go). The key names
--            below mirror keys.go: B .. "ready", "lease", "tok", "seq", "att", "timers",
--            "handoff", "n", "d:" .. key, and C = B .. "c:" .. cid .. ":" followed by q, s, o, k.
--
-- Times are ms since the epoch, passed in by the caller (never TIME: tests use a virtual clock).
-- Replies hold only strings and integers (no booleans, no nils), so that RESP2 and RESP3
-- clients read them the same way.

local B = KEYS[1]

-- ck names key suffix ("q", "s", "o" or "k") of conversation cid.
local function ck(cid, suffix)
  return B .. "c:" .. cid .. ":" .. suffix
end

-- lease gives cid a new fencing token, leased until expiry; returns the token.
local function lease(cid, expiry)
  local t = redis.call("INCR", B .. "seq")
  redis.call("HSET", B .. "tok", cid, t)
  redis.call("ZADD", B .. "lease", expiry, cid)
  return t
end

-- fenced reports whether token (a decimal string) still holds cid's lease.
local function fenced(cid, token)
  return redis.call("HGET", B .. "tok", cid) == token
end

-- save writes cid's state with its TTL ("0": none), or deletes it when has is not "1".
local function save(cid, has, state, ttl)
  local k = ck(cid, "s")
  if has ~= "1" then
    redis.call("DEL", k)
  elseif tonumber(ttl) > 0 then
    redis.call("SET", k, state, "PX", ttl)
  else
    redis.call("SET", k, state)
  end
end

-- release ends cid's lease and drops its outbox; a conversation with queued events is ready
-- again (from now), one without forgets its attempts so that nothing of it lingers.
local function release(cid, now)
  redis.call("DEL", ck(cid, "o"))
  redis.call("ZREM", B .. "lease", cid)
  redis.call("HDEL", B .. "tok", cid)
  if redis.call("LLEN", ck(cid, "q")) > 0 then
    redis.call("ZADD", B .. "ready", "NX", now, cid)
  else
    redis.call("HDEL", B .. "att", cid)
  end
end

-- finish applies a Done: fenced, it saves the state and releases. Returns 1, or 0 when stale
-- (nothing changed).
local function finish(cid, token, now, has, state, ttl)
  if not fenced(cid, token) then
    return 0
  end
  save(cid, has, state, ttl)
  release(cid, now)
  return 1
end

-- reply is the answer of a claim: {done, kind, cid, token, has state, state, attempts, event,
-- more, outbox entries...}. kind is the Go Kind (1 event, 2 timer, 3 outbox, 4 direct); more is
-- 0 here (claim.lua sets it).
local function reply(done, kind, cid, token, attempts, event, outbox)
  local st = redis.call("GET", ck(cid, "s"))
  local r = {done, kind, cid, token, 0, "", attempts, event or "", 0}
  if st then
    r[5] = 1
    r[6] = st
  end
  for _, e in ipairs(outbox or {}) do
    r[#r + 1] = e
  end
  return r
end
