-- wrk script for the ingest bench: POST /v1/events with N events per request, each with a
-- unique id. Arguments: N, the API key, and a prefix that keeps ids unique across phases.
local counter = 0
local thread_id = 0
local n = 1
local key = ""
local prefix = "w"

setup = function(thread)
  thread:set("tid", thread_id)
  thread_id = thread_id + 1
end

init = function(args)
  n = tonumber(args[1] or "1")
  key = args[2] or ""
  prefix = args[3] or "w"
end

request = function()
  local parts = {}
  local ts = os.date("!%Y-%m-%dT%H:%M:%S")
  for i = 1, n do
    counter = counter + 1
    parts[i] = '{"id":"' .. prefix .. tid .. "_" .. counter .. '","timestamp":"' .. ts .. '.000Z","project":"p' .. (counter % 7)
      .. '","environment":"prod","provider":"openai","model":"gpt-4o-2024-08-06","api":"openai.chat","raw_usage":{"prompt_tokens":'
      .. (1000 + counter % 500) .. ',"completion_tokens":' .. (200 + counter % 90) .. ',"prompt_tokens_details":{"cached_tokens":'
      .. ((counter % 2) * 512) .. '}},"user_id":"u' .. (counter % 300) .. '","customer_id":"c' .. (counter % 40) .. '","feature":"f'
      .. (counter % 6) .. '","agent_run_id":"r' .. (counter % 5000) .. '","tags":{"queue":"q' .. (counter % 3) .. '"},"latency_ms":'
      .. (300 + counter % 700) .. '}'
  end
  return wrk.format("POST", "/v1/events", { ["authorization"] = "Bearer " .. key, ["content-type"] = "application/json" }, "[" .. table.concat(parts, ",") .. "]")
end
