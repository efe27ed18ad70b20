-- Fault jobs: ids that make the service (or what is between it and the
-- client) misbehave, so that clients can be tested on retries, broken
-- transfers, bad JSON and limits. They fire on the events endpoint and on
-- the job-detail endpoint alike (a body fault sends that endpoint's body
-- broken); where a fault does not fire, the job is `reference`. Counted
-- faults keep their state per whole id: a fresh TAG, a fresh counter.
local cjson = require "cjson"
local jobs = require "emulator.jobs"
local reply = require "emulator.reply"
local detail = require "emulator.detail"
local transfers = require "emulator.transfers"

local M = {}

local THROTTLED = "The throttling threshold has been reached: policy user over ratelimit,limit:20,time:1 second"

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

local FIXED = { ["fault-reset"] = true, ["fault-truncated"] = true, ["fault-redirect"] = true,
                ["fault-html502"] = true, ["fault-deep"] = true, ["fault-oversized"] = true,
                ["fault-endless"] = true, ["fault-trickle"] = true, ["fault-echo-token"] = true,
                ["fault-empty-401"] = true, ["fault-empty-404"] = true }

--- Whether id is a fault job (any of them; the catalog serves `reference`
-- for it where the fault does not fire).
function M.known(id)
  if id:sub(1, 6) ~= "fault-" then return false end
  return FIXED[id] or TYPED[id] or id:match("^fault%-%d%d%d%-%d+%-.") or id:match("^fault%-reset%-%d+%-.")
    or id:match("^fault%-empty%-%d%d%d%-%d+%-.") or id:match("^fault%-slow%-%d+$") or false
end

local HTML502 = "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n" ..
  "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
local REFERENCE_NEWEST = { time = "2022-11-26T16:03:41+08:00", level = "Error", message = "Training job failed.",
                          source = "Job" }
-- what the endpoint answers when all is well: the reference job's
local function normal_body(id, kind)
  if kind == "job" then return reply.encode(detail.body(id, jobs.reference())) end
  return reply.encode { total = 1, limit = 50, offset = 0, order = "desc", events = { REFERENCE_NEWEST } }
end
-- the opening of an endpoint's body, up to a string value left open
local function open_body(kind)
  if kind == "job" then return '{"kind": "job", "metadata": {"id": "fault", "name": "' end
  return '{"total": 1, "limit": 50, "offset": 0, "events": [{"time": "2022-11-26T16:03:41+08:00", ' ..
    '"level": "Info", "source": "Job", "message": "'
end

local deep
local DEPTH = 100000

--- fault-echo-token, answered before any authentication: a gateway that
-- quotes the credentials it was sent (the token and security token as
-- they came on the wire, spaces and all, and trimmed) in every field of its
-- 401, X-Request-Id included.
function M.before_auth(id, headers)
  if id ~= "fault-echo-token" then return nil end
  local raw = "\n" .. (ngx.req.raw_header(true) or "")
  local sent, trimmed = {}, {}
  for _, name in ipairs { "x-auth-token", "x-security-token" } do
    local value = headers[name]
    if type(value) == "table" then value = value[1] end
    if value then
      local on_wire = raw:lower():find("\n" .. name .. ":", 1, true)
      local line = on_wire and raw:sub(on_wire + #name + 2):match("^([^\r\n]*)") or value
      sent[#sent + 1], trimmed[#trimmed + 1] = line, value:match("^%s*(.-)%s*$")
    end
  end
  local joined = table.concat(trimmed, "-")
  ngx.ctx.request_id = joined ~= "" and joined or reply.request_id()
  return reply.send(401, cjson.encode {
    error_code = "APIG.0301:" .. table.concat(sent, ","),
    error_msg = "Incorrect IAM authentication information: decrypt token fail, token [" ..
      table.concat(trimmed, "] [") .. "] as sent [" .. table.concat(sent, "] [") .. "]",
    request_id = ngx.ctx.request_id,
  })
end

-- Faults that answer with a status and no body, or an error body.
local function status_fault(id)
  local status, times = id:match("^fault%-empty%-(%d%d%d)%-(%d+)%-.")
  if not status then status = id:match("^fault%-empty%-(40[14])$") end
  if status and (not times or jobs.count(id) <= tonumber(times)) then
    if status == "429" then ngx.header["Retry-After"] = "1" end
    return reply.empty(tonumber(status))
  end
  status, times = id:match("^fault%-(%d%d%d)%-(%d+)%-.")
  if status and jobs.count(id) <= tonumber(times) then
    if status == "429" then
      ngx.header["Retry-After"] = "1"
      return reply.gateway_error(429, "APIG.0308", THROTTLED)
    end
    return reply.error(tonumber(status), "ModelArts.0001", "Service temporarily unavailable.")
  end
  if id == "fault-redirect" then
    -- gateways do not redirect API calls; a client must not follow this
    ngx.header["Location"] = (ngx.var.request_uri:gsub("fault%-redirect", "reference"))
    return reply.gateway_error(302, "APIG.0000", "Moved.")
  end
  if id == "fault-html502" then return reply.send(502, HTML502, "text/html") end
  return nil
end

--- Answers the request when id is a fault that fires now (kind: "events"
-- or "job", the endpoint); otherwise returns nil, after any delay, and the
-- caller goes on as for a normal job.
function M.handle(id, kind)
  if id:match("^dropreused%-.") then
    if tonumber(ngx.var.connection_requests) > 1 then return transfers.drop() end
    return nil
  end
  if id:sub(1, 6) ~= "fault-" then return nil end
  if status_fault(id) ~= nil then return true end
  local resets = id:match("^fault%-reset%-(%d+)%-.")
  if id == "fault-reset" or (resets and jobs.count(id) <= tonumber(resets)) then
    return transfers.reset(open_body(kind))
  end
  if id == "fault-truncated" then
    local body = normal_body(id, kind)
    return reply.send(200, body:sub(1, math.floor(#body / 2)))
  end
  if TYPED[id] and kind == "events" then return reply.send(200, TYPED[id]) end
  if id == "fault-deep" then
    deep = deep or string.rep("[", DEPTH) .. string.rep("]", DEPTH)
    return reply.send(200, deep)
  end
  if id == "fault-oversized" then return transfers.oversized(open_body(kind), kind == "job" and '"}}' or '"}]}') end
  if id == "fault-endless" then return transfers.endless(open_body(kind)) end
  if id == "fault-trickle" then return transfers.trickle(normal_body(id, kind)) end
  local slow = id:match("^fault%-slow%-(%d+)$")
  if slow then ngx.sleep(tonumber(slow) / 1000) end
  return nil
end

return M
