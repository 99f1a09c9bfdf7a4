-- wrk script for bench/load.py: each request votes on the next pre-made ready battle with the
-- session cookie of the voter who owns it. Args: FILE (lines "battle_id cookie"), THREADS,
-- CSRF, and optionally RATE: votes a second per wrk thread, sent on a fixed schedule (an
-- open loop) instead of each connection's next vote as soon as its last is answered.
local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } arena_timespec;
int clock_gettime(int clock_id, arena_timespec *tp);
]]
local clock = ffi.new("arena_timespec")

local function now_ms()
  ffi.C.clock_gettime(1, clock) -- CLOCK_MONOTONIC
  return tonumber(clock.tv_sec) * 1000 + tonumber(clock.tv_nsec) / 1e6
end

local next_id = 0
local threads = {}
function setup(thread)
  thread:set("tid", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

function init(args)
  local count = tonumber(args[2])
  csrf = args[3]
  local rate = tonumber(args[4] or "0")
  interval = rate > 0 and 1000 / rate or nil
  late, lag_max = 0, 0
  items = {}
  local i = 0
  for line in io.lines(args[1]) do
    if i % count == tid then table.insert(items, line) end
    i = i + 1
  end
  index = 0
  choices = {"left", "right", "tie", "left", "right"}
end

-- With RATE, each request takes the thread's next slot on the schedule. A request sent after
-- its slot (every connection was still waiting for an answer) is counted: wrk times a request
-- from when it is sent, so such a wait would be left out of the latencies.
function delay()
  if not interval then return 0 end
  local now = now_ms()
  slot = slot or now
  local due = slot
  slot = slot + interval
  local wait = due - now
  if wait >= 0 then return math.floor(wait) end
  if -wait > 5 then late = late + 1 end
  if -wait > lag_max then lag_max = -wait end
  return 0
end

function request()
  index = index + 1
  local line = items[((index - 1) % #items) + 1]  -- past the end: repeats answer 409
  local battle, cookie = line:match("(%S+) (%S+)")
  local body = '{"choice": "' .. choices[(index % #choices) + 1] .. '"}'
  return wrk.format("POST", "/api/battles/" .. battle .. "/vote", {
    ["Content-Type"] = "application/json",
    ["Cookie"] = "sessionid=" .. cookie .. "; csrftoken=" .. csrf,
    ["X-CSRFToken"] = csrf,
  }, body)
end

function done(summary, latency, requests)
  local total_late, worst = 0, 0
  for _, thread in ipairs(threads) do
    total_late = total_late + (thread:get("late") or 0)
    worst = math.max(worst, thread:get("lag_max") or 0)
  end
  io.write(string.format("late_sends %d lag_max_ms %.1f\n", total_late, worst))
end
