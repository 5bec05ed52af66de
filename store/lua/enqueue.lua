-- enqueue.lua: Enqueue for one conversation (redis.go pipelines one call per conversation).
--
-- KEYS[1] -> B, the conversation's shard base
-- ARGV[1] -> cid
-- ARGV[2] -> now, ms
-- ARGV[3] -> dedup TTL, ms ("0": keys are neither checked nor recorded)
-- ARGV[4], ARGV[5] -> key, data of the first item ("" key: never a duplicate); then the next
--            item's key and data, and so on, in arrival order
--
-- Returns one integer per item: 1 when it was a duplicate and dropped, 0 when it was queued.
-- Queued items are RPUSHed to C q; when any was and the conversation is not leased, it
-- becomes ready (ZADD NX keeps an earlier readiness).

local cid, now, ttl = ARGV[1], ARGV[2], tonumber(ARGV[3])
local q = ck(cid, "q")
local dup = {}
local pushed = 0
for i = 4, #ARGV, 2 do
  local key = ARGV[i]
  local fresh = true
  if key ~= "" and ttl > 0 then
    fresh = redis.call("SET", B .. "d:" .. key, "1", "NX", "PX", ttl)
  end
  if fresh then
    redis.call("RPUSH", q, ARGV[i + 1])
    pushed = pushed + 1
    dup[#dup + 1] = 0
  else
    dup[#dup + 1] = 1
  end
end
if pushed > 0 then
  redis.call("INCRBY", B .. "n", pushed)
  if not redis.call("ZSCORE", B .. "lease", cid) then
    redis.call("ZADD", B .. "ready", "NX", now, cid)
  end
end
return dup
