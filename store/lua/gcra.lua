-- gcra.lua: one step of a GCRA schedule (limiter.go), the same arithmetic as
-- providers/whatsapp's Limiter. Standalone: it does not use lib.lua.
--
-- KEYS[1] -> the schedule: its theoretical arrival time (TAT), µs since the epoch
-- ARGV[1] -> now, µs
-- ARGV[2] -> interval, µs
-- ARGV[3] -> tolerance = (burst-1)·interval, µs
-- ARGV[4] -> "" to reserve; else Defer: hold every further event for this many µs
--
-- Reserve returns 0 when the event is booked (TAT advanced by interval), else how many µs to
-- wait before trying again, booking nothing. Defer pushes TAT to now+hold+tolerance when that
-- is later, and returns 0. The key expires when the schedule is fully repaid (plus a second
-- of slack, for callers whose clocks run a little behind Redis's).

local now = tonumber(ARGV[1])
local interval = tonumber(ARGV[2])
local tolerance = tonumber(ARGV[3])
local tat = tonumber(redis.call("GET", KEYS[1]) or "0")

local function book(t)
  redis.call("SET", KEYS[1], string.format("%.0f", t), "PX", math.ceil((t - now) / 1000) + 1000)
end

if ARGV[4] ~= "" then
  local hold = now + tonumber(ARGV[4]) + tolerance
  if hold > tat then
    book(hold)
  end
  return 0
end

if tat < now then
  tat = now
end
local wait = tat - now - tolerance
if wait > 0 then
  return math.ceil(wait)
end
book(tat + interval)
return 0
