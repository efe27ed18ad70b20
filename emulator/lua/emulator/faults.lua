-- Fault jobs: ids that make the service (or what is between it and the
-- client) misbehave, so that clients can be tested on retries, broken
-- transfers, bad JSON and limits. Counted faults keep their state per whole
-- id: a test with a fresh <tag> gets a fresh counter.
local jobs = require "emulator.jobs"
local reply = require "emulator.reply"

local M = {}

--- Whether a fault id, once its faults are spent (or before: slow), answers
-- like the reference job.
function M.like_reference(id)
  return id:match("^fault%-%d%d%d%-%d+%-.") or id:match("^fault%-reset%-%d+%-.")
    or id:match("^fault%-slow%-%d+$")
end

-- Promise a long body, send a little of it and drop the connection: the
-- client sees a transfer cut short, as when a proxy or the network fails.
local function reset()
  local sock, err = ngx.req.socket(true)
  if not sock then
    ngx.log(ngx.ERR, "fault-reset: no raw socket: ", err)
    return ngx.exit(444)
  end
  sock:send("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n" ..
    "X-Request-Id: " .. reply.request_id() .. "\r\n\r\n" ..
    '{"total": 27, "limit": 50, "offset": 0, "events": [{"time": "2022-11-26T16:03:41+08:00", "lev')
  return ngx.exit(444) -- 444: close without answering
end

local TYPED = {
  ["fault-type-total"] = '{"total": true, "limit": 50, "offset": 0, "events": []}',
  ["fault-type-events"] = '{"total": 1, "limit": 50, "offset": 0, "events": "none"}',
  ["fault-type-event"] = '{"total": 2, "limit": 50, "offset": 0, "events": [{"time": "2022-11-26T16:03:41+08:00", ' ..
    '"level": "Info", "message": "m", "source": "Job"}, 42]}',
  ["fault-type-field"] = '{"total": 1, "limit": 50, "offset": 0, "events": [{"time": "2022-11-26T16:03:41+08:00", ' ..
    '"level": "Info", "message": 42, "source": "Job"}]}',
  ["fault-null-events"] = '{"total": 0, "limit": 50, "offset": 0, "events": null}',
  ["fault-missing-events"] = '{"total": 0, "limit": 50, "offset": 0}',
}

local HTML502 = "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n" ..
  "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"

-- 64 MiB of valid JSON, streamed from one cached 1 MiB chunk.
local MiB = 1024 * 1024
local chunk
local OVERSIZED_HEAD = '{"total": 1, "limit": 50, "offset": 0, "events": [{"time": "2022-11-26T16:03:41+08:00", ' ..
  '"level": "Info", "source": "Job", "message": "'
local OVERSIZED_TAIL = '"}]}'
local function oversized()
  chunk = chunk or string.rep("x", MiB)
  reply.headers(200, "application/json", #OVERSIZED_HEAD + 64 * MiB + #OVERSIZED_TAIL)
  ngx.print(OVERSIZED_HEAD)
  for _ = 1, 64 do
    ngx.print(chunk)
    -- a client that gives up early closes the socket: stop there
    local ok = ngx.flush(true)
    if not ok then return ngx.exit(444) end
  end
  ngx.print(OVERSIZED_TAIL)
  return ngx.exit(ngx.OK)
end

local deep
local DEPTH = 100000

--- Answers the request when id is a fault that fires now; otherwise returns
-- nil (after any delay) and the caller goes on as for a normal job.
function M.handle(id)
  if id:sub(1, 6) ~= "fault-" then return nil end
  local status, times = id:match("^fault%-(%d%d%d)%-(%d+)%-.")
  if status and jobs.count(id) <= tonumber(times) then
    if status == "429" then
      ngx.header["Retry-After"] = "1"
      return reply.error(429, "APIG.0308", "The throttling threshold has been reached")
    end
    return reply.error(tonumber(status), "ModelArts.0001", "Service temporarily unavailable.")
  end
  local resets = id:match("^fault%-reset%-(%d+)%-.")
  if id == "fault-reset" or (resets and jobs.count(id) <= tonumber(resets)) then return reset() end
  if id == "fault-truncated" then
    local body = reply.encode { total = 27, limit = 10, offset = 0, order = "desc", events = {
      { time = "2022-11-26T16:03:41+08:00", level = "Error", message = "Training job failed.", source = "Job" },
      { time = "2022-11-26T16:03:16+08:00", level = "Info", message = "ExecuteAction: TerminateJob", source = "K8S" } } }
    return reply.send(200, body:sub(1, math.floor(#body / 2)))
  end
  if id == "fault-redirect" then
    -- gateways do not redirect API calls; a client must not follow this
    ngx.header["Location"] = (ngx.var.request_uri:gsub("fault%-redirect", "reference"))
    return reply.error(302, "APIG.0000", "Moved.")
  end
  if id == "fault-html502" then return reply.send(502, HTML502, "text/html") end
  if TYPED[id] then return reply.send(200, TYPED[id]) end
  if id == "fault-deep" then
    deep = deep or string.rep("[", DEPTH) .. string.rep("]", DEPTH)
    return reply.send(200, deep)
  end
  if id == "fault-oversized" then return oversized() end
  local slow = id:match("^fault%-slow%-(%d+)$")
  if slow then ngx.sleep(tonumber(slow) / 1000) end
  return nil
end

return M
