-- extend.lua: Extend a claim's lease, fenced by its token.
--
-- KEYS[1] -> B, the conversation's shard base
-- ARGV[1] -> cid
-- ARGV[2] -> token
-- ARGV[3] -> new lease expiry, ms
--
-- Returns 1 when renewed, 0 when stale.

if not fenced(ARGV[1], ARGV[2]) then
  return 0
end
redis.call("ZADD", B .. "lease", "XX", ARGV[3], ARGV[1])
return 1
