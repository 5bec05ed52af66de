-- claimconv.lua: ClaimConversation, lease one given conversation for an API call.
--
-- KEYS[1] -> B, the conversation's shard base
-- ARGV[1] -> cid
-- ARGV[2] -> now, ms
-- ARGV[3] -> lease, ms
--
-- Returns {0, 0} when a live lease holds the conversation (busy); else the claim as reply in
-- lib.lua builds it: kind direct (4), or kind outbox (3) with the outbox when it takes over the
-- expired lease of a worker that died after committing replies. The queue stays (the
-- conversation leaves ready and is ready again on release).

local cid = ARGV[1]
local now = tonumber(ARGV[2])
local held = redis.call("HGET", B .. "tok", cid)
local until_ = redis.call("ZSCORE", B .. "lease", cid)
if held and until_ and tonumber(until_) > now then
  return {0, 0}
end
redis.call("ZREM", B .. "ready", cid)
local t = lease(cid, now + tonumber(ARGV[3]))
local outbox = redis.call("LRANGE", ck(cid, "o"), 0, -1)
if #outbox > 0 then
  return reply(0, 3, cid, t, 0, "", outbox)
end
return reply(0, 4, cid, t, 0)
