-- book.lua: book n events ahead on one or more GCRA schedules (limiter.go), whatever the wait:
-- a commit books its replies in its own round trip, and each reply then sleeps until its slot
-- instead of asking again. Standalone: it does not use lib.lua.
--
-- KEYS[i]   -> a schedule: its theoretical arrival time (TAT), µs since the epoch. All keys
--              share the phone number's hash tag.
-- ARGV[1]   -> now, µs
-- ARGV[2]   -> n, how many events to book, in order
-- ARGV[2+2i-1], ARGV[2+2i] -> interval and tolerance = (burst-1)·interval of KEYS[i], µs
--
-- Event j goes at t_j, the first time every schedule allows it (as gcra.lua would once its
-- wait had passed), and is booked on every schedule at t_j. Returns the n waits t_j - now, µs
-- (0: at once). Each key expires when its schedule is fully repaid, plus a second of slack.

local now = tonumber(ARGV[1])
local n = tonumber(ARGV[2])

local tats = {}
for i, key in ipairs(KEYS) do
  tats[i] = tonumber(redis.call("GET", key) or "0")
end

local waits = {}
for j = 1, n do
  local t = now
  for i = 1, #KEYS do
    t = math.max(t, tats[i] - tonumber(ARGV[2 + 2 * i]))
  end
  for i = 1, #KEYS do
    tats[i] = math.max(tats[i], t) + tonumber(ARGV[1 + 2 * i])
  end
  waits[j] = math.ceil(t - now)
end

for i, key in ipairs(KEYS) do
  redis.call("SET", key, string.format("%.0f", tats[i]), "PX", math.ceil((tats[i] - now) / 1000) + 1000)
end
return waits
