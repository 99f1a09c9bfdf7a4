-- wrk script for bench/load.py: each request votes on the next pre-made ready battle with the
-- session cookie of the voter who owns it. Args: FILE (lines "battle_id cookie"), THREADS, CSRF.
local next_id = 0
function setup(thread)
  thread:set("tid", next_id)
  next_id = next_id + 1
end

function init(args)
  local threads = tonumber(args[2])
  csrf = args[3]
  items = {}
  local i = 0
  for line in io.lines(args[1]) do
    if i % threads == tid then table.insert(items, line) end
    i = i + 1
  end
  index = 0
  choices = {"left", "right", "tie", "left", "right"}
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
