-- The emulator's HTTP side: routing, the gateway's authentication, the
-- service's validation, filters, order and paging, faults and the control
-- endpoints tests use (/_emulator/health, stats, reset, last).
local cjson = require "cjson"
local jobs = require "emulator.jobs"
local signer = require "emulator.signer"

-- lua-cjson 2.1.0 writes an empty table as {}; the service writes [].
local EMPTY = "\0empty-array\0"
local function encode(value)
  return (cjson.encode(value):gsub('"\\u0000empty%-array\\u0000"', "[]"))
end

local M = {}

local TOKEN = "emulator-token"
local KEYS = {
  ["emulator-ak"] = { sk = "emulator-sk" },
  ["emulator-temp-ak"] = { sk = "emulator-temp-sk", security_token = "emulator-security-token" },
}
local PARAMS = { offset = true, limit = true, order = true, start_time = true, end_time = true,
                 level = true, source = true, pattern = true }
local LEVELS = { Info = true, Error = true, Warning = true }
local SOURCES = { K8S = true, Job = true, Task = true }

local function new_stats()
  return { requests = 0, connections = {}, connection_count = 0, in_flight = 0, in_flight_max = 0 }
end
local stats = new_stats()
local last = cjson.null

local function request_id()
  return string.format("%08x%08x%08x%08x", math.random(0, 0x7fffffff), math.random(0, 0x7fffffff),
    math.random(0, 0x7fffffff), math.random(0, 0x7fffffff))
end

local function reply(status, body, content_type)
  ngx.status = status
  ngx.header["Content-Type"] = content_type or "application/json"
  ngx.header["X-Request-Id"] = request_id()
  ngx.print(body)
  return ngx.exit(status >= 200 and status < 300 and ngx.OK or status)
end

local function fail(status, code, message)
  return reply(status, cjson.encode { error_code = code, error_msg = message })
end

local function bad_request(detail)
  return fail(400, "ModelArts.50004000", "Bad request. " .. detail)
end

local function decode(s)
  return (s:gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end))
end

-- The raw query, split by hand: '+' stays '+', as the client sends %20 for space.
local function parse_args(raw)
  local args = {}
  for part in (raw or ""):gmatch("[^&]+") do
    local k, v = part:match("^([^=]*)=?(.*)$")
    args[decode(k)] = decode(v)
  end
  return args
end

local function utf8_length(s)
  local _, n = s:gsub("[^\128-\191]", "")
  return n
end

local function integer(v)
  return v and v:match("^%d+$") and tonumber(v) or nil
end

-- ---- the gateway ----------------------------------------------------------

local function authenticate(method, path, raw_args, headers)
  local token = headers["x-auth-token"]
  if token then
    if token ~= TOKEN then
      return fail(401, "APIG.1002", "Incorrect token or token resolution failed")
    end
    return true
  end
  local authorization = headers["authorization"]
  if not authorization then
    return fail(401, "APIG.1000", "Incorrect IAM authentication information: Authorization not found")
  end
  local ak, names, signature, names_text = signer.parse(authorization)
  if not ak then
    return fail(401, "APIG.0301", "Incorrect IAM authentication information: cannot parse Authorization")
  end
  local key = KEYS[ak]
  if not key then
    return fail(401, "APIG.0301", "Incorrect IAM authentication information: ak " .. ak .. " not found")
  end
  local signed = {}
  for _, n in ipairs(names) do signed[n] = true end
  if not (signed.host and signed["x-sdk-date"]) or names_text:lower() ~= names_text then
    return fail(401, "APIG.0301", "Incorrect IAM authentication information: host and x-sdk-date must be signed")
  end
  local date = headers["x-sdk-date"]
  local when = signer.date_seconds(date)
  if not when or math.abs(when - ngx.time()) > 15 * 60 then
    return fail(401, "APIG.0301", "Incorrect IAM authentication information: X-Sdk-Date " ..
      tostring(date) .. " is more than 15 minutes away from the server's time")
  end
  if key.security_token and (headers["x-security-token"] ~= key.security_token or not signed["x-security-token"]) then
    return fail(401, "APIG.0301", "Incorrect IAM authentication information: invalid or unsigned X-Security-Token")
  end
  local canonical = signer.canonical_request(method, path, raw_args, headers, names, "")
  if signer.sign(key.sk, date, canonical) ~= signature then
    return fail(401, "APIG.0301", "Incorrect IAM authentication information: verify aksk signature fail, " ..
      "canonicalRequest: " .. canonical:gsub("\n", "|"))
  end
  return true
end

-- ---- jobs and faults --------------------------------------------------------

-- The rows of a job, or a fault answered on the spot (then nil).
local function rows_of(id)
  local n = id:match("^gen%-(%d+)$") or id:match("^strings%-(%d+)$") or id:match("^delay%d+%-(%d+)$")
  if n then
    n = tonumber(n)
    if n < 1 or n > 1000000 then return nil end
    local delay = id:match("^delay(%d+)%-")
    if delay then ngx.sleep(tonumber(delay) / 1000) end
    return jobs.generated(n)
  end
  -- a fault job whose faults are spent answers like the reference job
  if id == "reference" or id:match("^fault%-%d%d%d%-") or id:match("^fault%-reset%-%d")
    or id:match("^fault%-slow%-") then
    return jobs.reference()
  end
  n = id:match("^same%-(%d+)$")
  if n then return jobs.same(math.min(tonumber(n), 10000)) end
  local g_n, g_k = id:match("^grow%-(%d+)%-(%d+)%-.+$")
  if g_n then return jobs.grow(id, tonumber(g_n), tonumber(g_k)) end
  local outcome, polls = id:match("^life%-(%a+)%-(%d+)%-.+$")
  if outcome == "failed" or outcome == "completed" then return jobs.life(id, outcome, tonumber(polls)) end
  return nil
end

local function fault(id)
  local kind, times = id:match("^fault%-(%d%d%d)%-(%d+)%-.+$")
  if kind and jobs.count(id) <= tonumber(times) then
    if kind == "429" then
      ngx.header["Retry-After"] = "1"
      return fail(429, "APIG.0308", "The throttling threshold has been reached")
    end
    return fail(tonumber(kind), "ModelArts.0001", "Service temporarily unavailable.")
  end
  local resets = id:match("^fault%-reset%-(%d+)%-.+$")
  if id == "fault-reset" or (resets and jobs.count(id) <= tonumber(resets)) then
    -- Promise a long body, send a little of it, and drop the connection.
    local sock = ngx.req.socket(true)
    sock:send("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n" ..
      '{"total": 27, "events": [')
    return ngx.exit(444)
  end
  if id == "fault-truncated" then
    local body = cjson.encode { total = 27, limit = 10, offset = 0, events = {
      { time = "2022-11-26T16:03:41+08:00", level = "Error", message = "Training job failed.", source = "Job" } } }
    return reply(200, body:sub(1, math.floor(#body / 2)))
  end
  if id == "fault-redirect" then
    ngx.header["Location"] = ngx.var.request_uri:gsub("fault%-redirect", "reference")
    return fail(302, "APIG.0000", "Moved.")
  end
  if id == "fault-html502" then
    return reply(502, "<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway" ..
      "</h1></center><hr><center>nginx</center></body></html>", "text/html")
  end
  local typed = {
    ["fault-type-total"] = '{"total": true, "events": []}',
    ["fault-type-events"] = '{"total": 1, "events": "none"}',
    ["fault-type-event"] = '{"total": 2, "events": [{"time": "t", "level": "Info", "message": "m", "source": "Job"}, 42]}',
    ["fault-type-field"] = '{"total": 1, "events": [{"time": "t", "level": "Info", "message": 42, "source": "Job"}]}',
    ["fault-null-events"] = '{"total": 0, "limit": 50, "offset": 0, "events": null}',
    ["fault-missing-events"] = '{"total": 0, "limit": 50, "offset": 0}',
  }
  if typed[id] then return reply(200, typed[id]) end
  if id == "fault-deep" then return reply(200, string.rep("[", 100000) .. string.rep("]", 100000)) end
  if id == "fault-oversized" then
    ngx.header["Content-Type"] = "application/json"
    ngx.header["X-Request-Id"] = request_id()
    local chunk = string.rep("x", 1024 * 1024)
    ngx.print('{"total": 1, "events": [{"time": "t", "level": "Info", "source": "Job", "message": "')
    for _ = 1, 64 do
      local ok = ngx.print(chunk)
      if not ok or not ngx.flush(true) then return ngx.exit(444) end
    end
    ngx.print('"}]}')
    return ngx.exit(ngx.OK)
  end
  local slow = id:match("^fault%-slow%-(%d+)$")
  if slow then ngx.sleep(tonumber(slow) / 1000) end
  return nil
end

-- ---- the API ----------------------------------------------------------------

local function lower_bound(rows, sec) -- first index with rows[i].sec >= sec
  local lo, hi = 1, #rows + 1
  while lo < hi do
    local mid = math.floor((lo + hi) / 2)
    if rows[mid].sec < sec then lo = mid + 1 else hi = mid end
  end
  return lo
end

-- Filters by level, source and pattern, cached per job and filter while the
-- job does not change: paging re-asks the same question a thousand times.
local filter_cache = setmetatable({}, { __mode = "k" })
local function filtered(rows, level, source, pattern)
  if not (level or source or pattern) then return rows end
  local key = table.concat({ level or "", source or "", pattern or "" }, "\0")
  local per_job = filter_cache[rows] or {}
  filter_cache[rows] = per_job
  local hit = per_job[key]
  if hit and hit.n == #rows then return hit.rows end
  local out, src = {}, source and source:lower()
  for _, r in ipairs(rows) do
    local e = r.event
    if (not level or e.level == level) and (not src or e.source:lower() == src)
      and (not pattern or e.message:find(pattern, 1, true)) then
      out[#out + 1] = r
    end
  end
  per_job[key] = { n = #rows, rows = out }
  return out
end

local function events(project_id, id, raw_args, headers)
  if #project_id < 1 or #project_id > 64 or project_id:find("[^%w%-]") then
    return bad_request("project_id must hold 1 to 64 letters, digits or hyphens.")
  end
  local args = parse_args(raw_args)
  for k in pairs(args) do
    if not PARAMS[k] then return bad_request("unknown parameter " .. k .. ".") end
  end
  local offset = args.offset and integer(args.offset) or (args.offset == nil and 0)
  if not offset then return bad_request("offset must be an integer of 0 or more.") end
  local limit = args.limit and integer(args.limit) or (args.limit == nil and 50)
  if not limit or limit < 1 or limit > 100 then
    return bad_request("limit must be an integer between 1 and 100.")
  end
  local order = args.order or "desc"
  if order ~= "asc" and order ~= "desc" then return bad_request("order must be asc or desc.") end
  if (args.start_time == nil) ~= (args.end_time == nil) then
    return bad_request("start_time and end_time must be given together.")
  end
  local start_ms, end_ms = integer(args.start_time), integer(args.end_time)
  if args.start_time and not (start_ms and end_ms and start_ms <= end_ms) then
    return bad_request("start_time and end_time must be epoch milliseconds, start_time first.")
  end
  if args.level and not LEVELS[args.level] then return bad_request("level must be Info, Error or Warning.") end
  if args.source and not SOURCES[args.source] then return bad_request("source must be K8S, Job or Task.") end
  if args.pattern and utf8_length(args.pattern) > 256 then
    return bad_request("pattern must hold at most 256 characters.")
  end

  local answered = fault(id)
  if answered ~= nil then return answered end
  local rows = rows_of(id)
  if not rows then
    return fail(404, "ModelArts.2762", "Training job " .. id .. " does not exist.")
  end
  rows = filtered(rows, args.level, args.source, args.pattern)
  local lo, hi = 1, #rows
  if start_ms then
    lo = lower_bound(rows, math.floor(start_ms / 1000))
    hi = lower_bound(rows, math.floor(end_ms / 1000) + 1) - 1
  end
  local total = math.max(0, hi - lo + 1)
  local page = {}
  for i = offset + 1, math.min(offset + limit, total) do
    local index = order == "asc" and (lo + i - 1) or (hi - i + 1)
    page[#page + 1] = rows[index].event
  end
  local body = {
    total = total, limit = limit, offset = offset, order = order, events = #page > 0 and page or EMPTY,
    start_time = start_ms and jobs.iso(start_ms) or (total > 0 and rows[lo].event.time) or nil,
    end_time = end_ms and jobs.iso(end_ms) or (total > 0 and rows[hi].event.time) or nil,
  }
  if id:match("^strings%-") then
    body.total, body.limit, body.offset = tostring(total), tostring(limit), tostring(offset)
  end
  if headers["x-language"] == "zh-cn" and id == "reference" then
    for i, e in ipairs(page) do
      if e.message == "Training job failed." then
        page[i] = { time = e.time, level = e.level, source = e.source, message = "训练作业运行失败。" }
      end
    end
  end
  return reply(200, encode(body))
end

local function control(uri)
  if uri == "/_emulator/health" then return reply(200, "ok", "text/plain") end
  if uri == "/_emulator/stats" then
    return reply(200, cjson.encode { requests = stats.requests, connections = stats.connection_count,
      in_flight_max = stats.in_flight_max })
  end
  if uri == "/_emulator/last" then return reply(200, cjson.encode(last)) end
  if uri == "/_emulator/reset" then
    stats = new_stats()
    last = cjson.null
    jobs.reset()
    return reply(200, "{}")
  end
  return fail(404, "APIG.0101", "The API does not exist or has not been published in the environment.")
end

function M.handle()
  local request_uri = ngx.var.request_uri
  local path, raw_args = request_uri:match("^([^?]*)%??(.*)$")
  if path:sub(1, 10) == "/_emulator" then return control(path) end

  local headers = ngx.req.get_headers(100)
  local copy = {}
  for k, v in pairs(headers) do copy[k:lower()] = v end
  stats.requests = stats.requests + 1
  stats.in_flight = stats.in_flight + 1
  stats.in_flight_max = math.max(stats.in_flight_max, stats.in_flight)
  ngx.ctx.counted = stats
  local conn = ngx.var.connection
  if not stats.connections[conn] then
    stats.connections[conn] = true
    stats.connection_count = stats.connection_count + 1
  end
  last = { method = ngx.req.get_method(), uri = path, args = raw_args, headers = copy }

  local project_id, id = path:match("^/v2/([^/]*)/training%-jobs/([^/]+)/events$")
  if not project_id then
    return fail(404, "APIG.0101", "The API does not exist or has not been published in the environment.")
  end
  if ngx.req.get_method() ~= "GET" then return fail(405, "APIG.0102", "Method not allowed.") end
  if authenticate("GET", path, raw_args, copy) ~= true then return end
  return events(decode(project_id), decode(id), raw_args, copy)
end

--- The log phase: the request is over, whichever way it ended.
function M.done()
  local counted = ngx.ctx.counted
  if counted then counted.in_flight = counted.in_flight - 1 end
end

return M
