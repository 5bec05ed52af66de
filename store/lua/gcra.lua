-- gcra.lua: one step of one or more GCRA schedules (limiter.go), the same arithmetic as
-- providers/whatsapp's Limiter. Standalone: it does not use lib.lua.
--
-- KEYS[i]   -> a schedule: its theoretical arrival time (TAT), µs since the epoch. All keys
--              share the phone number's hash tag.
-- ARGV[1]   -> now, µs
-- ARGV[2]   -> "" to reserve; else Defer (one key): hold every further event this many µs
-- ARGV[2+2i-1], ARGV[2+2i] -> interval and tolerance = (burst-1)·interval of KEYS[i], µs
--
-- Reserve books an event on every schedule at once and returns 0 (each TAT advanced by its
-- interval), or, when any schedule must wait, books nothing and returns the longest wait in
-- µs. Defer pushes TAT to now+hold+tolerance when that is later, and returns 0. Each key
-- expires when its schedule is fully repaid (plus a second of slack, for callers whose clocks
-- run a little behind Redis's).

local now = tonumber(ARGV[1])

local function book(key, t)
  redis.call("SET", key, string.format("%.0f", t), "PX", math.ceil((t - now) / 1000) + 1000)
end

local tats = {}
for i, key in ipairs(KEYS) do
  tats[i] = tonumber(redis.call("GET", key) or "0")
end

if ARGV[2] ~= "" then
  local hold = now + tonumber(ARGV[2]) + tonumber(ARGV[4])
  if hold > tats[1] then
    book(KEYS[1], hold)
  end
  return 0
end

local wait = 0
for i = 1, #KEYS do
  local tat = math.max(tats[i], now)
  tats[i] = tat
  local w = tat - now - tonumber(ARGV[2 + 2 * i])
  if w > wait then
    wait = w
  end
end
if wait > 0 then
  return math.ceil(wait)
end
for i, key in ipairs(KEYS) do
  book(key, tats[i] + tonumber(ARGV[1 + 2 * i]))
end
return 0
