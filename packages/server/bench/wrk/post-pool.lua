-- wrk script for the realistic bench: POST /v1/events with N events per request, taken in turn
-- from a pool file of pre-generated events, each sent under a fresh id.
-- Arguments: N, the API key, an id prefix unique to the phase, the pool file. Each line of the
-- pool is one event's JSON without its opening '{': the script writes '{"id":"…",' before it.
local n = 1
local key = ""
local prefix = "w"
local pool = {}
local next_line = 1
local counter = 0
local thread_id = 0

setup = function(thread)
  thread:set("tid", thread_id)
  thread_id = thread_id + 1
end

init = function(args)
  n = tonumber(args[1] or "1")
  key = args[2] or ""
  prefix = args[3] or "w"
  for line in io.lines(args[4]) do
    pool[#pool + 1] = line
  end
end

request = function()
  local parts = {}
  for i = 1, n do
    counter = counter + 1
    parts[i] = '{"id":"' .. prefix .. tid .. "_" .. counter .. '",' .. pool[next_line]
    next_line = next_line % #pool + 1
  end
  return wrk.format("POST", "/v1/events", { ["authorization"] = "Bearer " .. key, ["content-type"] = "application/json" },
    "[" .. table.concat(parts, ",") .. "]")
end
