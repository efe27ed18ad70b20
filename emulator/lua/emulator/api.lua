-- The emulator's HTTP side: routing, the service's validation, filters,
-- windows, order and paging, and the control endpoints tests use
-- (/_emulator/health, stats, reset, last). Authentication is in auth.lua,
-- faults in faults.lua, the data in jobs.lua.
local cjson = require "cjson"
local jobs = require "emulator.jobs"
local auth = require "emulator.auth"
local faults = require "emulator.faults"
local reply = require "emulator.reply"

local M = {}

local PARAMS = { offset = true, limit = true, order = true, start_time = true, end_time = true,
                 level = true, source = true, pattern = true }
local LEVELS = { Info = true, Error = true, Warning = true }
local SOURCES = { K8S = true, Job = true, Task = true }
local NO_API = "The API does not exist or has not been published in the environment."

local function new_stats()
  return { requests = 0, connections = {}, connection_count = 0, in_flight = 0, in_flight_max = 0 }
end
local stats = new_stats()
local last = cjson.null

local function bad_request(detail)
  return reply.error(400, "ModelArts.50004000", "Bad request. " .. detail)
end

local function decode(s)
  return (s:gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end))
end

-- The raw query split by hand rather than with ngx.req.get_uri_args, which
-- reads '+' as a space: clients send %20 for a space, and '+' is itself.
local function parse_args(raw)
  local args = {}
  for part in (raw or ""):gmatch("[^&]+") do
    local k, v = part:match("^([^=]*)=?(.*)$")
    args[decode(k)] = decode(v)
  end
  return args
end

local function utf8_length(s)
  local _, n = s:gsub("[^\128-\191]", "") -- count every byte that starts a character
  return n
end

local function integer(v)
  return v and v:match("^%d+$") and #v <= 15 and tonumber(v) or nil
end

-- ---- filtering ----------------------------------------------------------------

local function lower_bound(ms, sec) -- first index whose second is >= sec
  local lo, hi = 1, #ms + 1
  while lo < hi do
    local mid = math.floor((lo + hi) / 2)
    if math.floor(ms[mid] / 1000) < sec then lo = mid + 1 else hi = mid end
  end
  return lo
end

-- Filters by level, source and pattern, cached per job and question while
-- the job does not change: paging asks the same question page after page.
local filter_cache = setmetatable({}, { __mode = "k" })
local function filtered(job, level, source, pattern)
  if not (level or source or pattern) then return job end -- no scan at all
  local key = table.concat({ level or "", source or "", pattern or "" }, "\0")
  local per_job = filter_cache[job] or {}
  filter_cache[job] = per_job
  local hit = per_job[key]
  if hit and hit.n == #job.ms then return hit.job end
  local out, n, src = { ms = {}, events = {} }, 0, source and source:lower()
  for i, e in ipairs(job.events) do
    if (not level or e.level == level) and (not src or e.source:lower() == src)
      and (not pattern or e.message:find(pattern, 1, true)) then
      n = n + 1
      out.ms[n], out.events[n] = job.ms[i], e
    end
  end
  per_job[key] = { n = #job.ms, job = out }
  return out
end

-- ---- the API ------------------------------------------------------------------

local function job_of(id)
  local n = id:match("^gen%-(%d+)$") or id:match("^strings%-(%d+)$")
  local delay, dn = id:match("^delay(%d+)%-(%d+)$")
  n = tonumber(n or dn)
  if n then
    if n < 1 or n > 1000000 then return nil end
    if delay then ngx.sleep(tonumber(delay) / 1000) end -- yields: others are served meanwhile
    return jobs.generated(n)
  end
  if id == "reference" or faults.like_reference(id) then return jobs.reference() end
  n = tonumber(id:match("^same%-(%d+)$"))
  if n and n >= 1 and n <= 10000 then return jobs.same(n) end
  local g_n, g_k = id:match("^grow%-(%d+)%-(%d+)%-.")
  if g_n and tonumber(g_n) <= 1000000 then return jobs.grow(id, tonumber(g_n), tonumber(g_k)) end
  local outcome, polls = id:match("^life%-(%a+)%-(%d+)%-.")
  if outcome == "failed" or outcome == "completed" then return jobs.life(id, outcome, tonumber(polls)) end
  return nil
end

-- Returns the parsed query, or nil after answering 400.
local function validate(raw_args)
  local args = parse_args(raw_args)
  for k in pairs(args) do
    if not PARAMS[k] then return bad_request("unknown parameter " .. k .. ".") end
  end
  local offset = args.offset == nil and 0 or integer(args.offset)
  if not offset then return bad_request("offset must be an integer of 0 or more.") end
  local limit = args.limit == nil and 50 or integer(args.limit)
  if not limit or limit < 1 or limit > 100 then
    return bad_request("limit must be an integer between 1 and 100.")
  end
  local order = args.order or "desc"
  if order ~= "asc" and order ~= "desc" then return bad_request("order must be asc or desc.") end
  if (args.start_time == nil) ~= (args.end_time == nil) then
    return bad_request("start_time and end_time must be given together.")
  end
  local start_ms, end_ms = integer(args.start_time), integer(args.end_time)
  if args.start_time and not start_ms then return bad_request("start_time must be epoch milliseconds.") end
  if args.end_time and not end_ms then return bad_request("end_time must be epoch milliseconds.") end
  if start_ms and start_ms > end_ms then return bad_request("start_time must not be after end_time.") end
  if args.level and not LEVELS[args.level] then return bad_request("level must be Info, Error or Warning.") end
  if args.source and not SOURCES[args.source] then return bad_request("source must be K8S, Job or Task.") end
  if args.pattern and utf8_length(args.pattern) > 256 then
    return bad_request("pattern must hold at most 256 characters.")
  end
  return { offset = offset, limit = limit, order = order, start_ms = start_ms, end_ms = end_ms,
           level = args.level, source = args.source, pattern = args.pattern }
end

local function events(project_id, id, raw_args, headers)
  if #project_id < 1 or #project_id > 64 or project_id:find("[^%w%-]") then
    return bad_request("project_id must hold 1 to 64 letters, digits or hyphens.")
  end
  local q = validate(raw_args)
  if not q then return end
  if faults.handle(id) ~= nil then return end
  local job = job_of(id)
  if not job then
    return reply.error(404, "ModelArts.2762", "Training job " .. id .. " does not exist.")
  end
  job = filtered(job, q.level, q.source, q.pattern)
  local lo, hi = 1, #job.ms
  if q.start_ms then
    lo = lower_bound(job.ms, math.floor(q.start_ms / 1000))
    hi = lower_bound(job.ms, math.floor(q.end_ms / 1000) + 1) - 1
  end
  local total = math.max(0, hi - lo + 1)
  local zh = headers["x-language"] == "zh-cn" and id == "reference"
  local page = {}
  for i = q.offset + 1, math.min(q.offset + q.limit, total) do
    -- desc is the exact reverse of asc, ties included
    local e = job.events[q.order == "asc" and (lo + i - 1) or (hi - i + 1)]
    if zh and jobs.ZH[e.message] then
      e = { time = e.time, level = e.level, source = e.source, message = jobs.ZH[e.message] }
    end
    page[#page + 1] = e
  end
  local body = {
    total = total, limit = q.limit, offset = q.offset, order = q.order,
    events = #page > 0 and page or reply.EMPTY_ARRAY,
    -- the window as asked, or else the span of what matched
    start_time = q.start_ms and jobs.iso(q.start_ms) or (total > 0 and job.events[lo].time) or nil,
    end_time = q.end_ms and jobs.iso(q.end_ms) or (total > 0 and job.events[hi].time) or nil,
  }
  if id:match("^strings%-") then -- as the reference table types them
    body.total, body.limit, body.offset = tostring(total), tostring(q.limit), tostring(q.offset)
  end
  return reply.json(200, body)
end

local function control(uri)
  if uri == "/_emulator/health" then return reply.send(200, "ok", "text/plain") end
  if uri == "/_emulator/stats" then
    return reply.json(200, { requests = stats.requests, connections = stats.connection_count,
      in_flight_max = stats.in_flight_max })
  end
  if uri == "/_emulator/last" then return reply.json(200, last) end
  if uri == "/_emulator/reset" then
    -- requests still running keep their own stats table (see M.done)
    stats = new_stats()
    last = cjson.null
    jobs.reset()
    return reply.send(200, "{}")
  end
  return reply.error(404, "APIG.0101", NO_API)
end

local function count(path, raw_args, headers)
  stats.requests = stats.requests + 1
  stats.in_flight = stats.in_flight + 1
  stats.in_flight_max = math.max(stats.in_flight_max, stats.in_flight)
  ngx.ctx.counted = stats
  local conn = ngx.var.connection
  if not stats.connections[conn] then
    stats.connections[conn] = true
    stats.connection_count = stats.connection_count + 1
  end
  last = { method = ngx.req.get_method(), uri = path, args = raw_args, headers = headers }
end

function M.handle()
  local path, raw_args = ngx.var.request_uri:match("^([^?]*)%??(.*)$")
  if path:sub(1, 11) == "/_emulator/" then return control(path) end

  local headers = ngx.req.get_headers(100) -- lowercase names
  count(path, raw_args, headers)

  local project_id, id = path:match("^/v2/([^/]*)/training%-jobs/([^/]+)/events$")
  if not project_id then return reply.error(404, "APIG.0101", NO_API) end
  local method = ngx.req.get_method()
  if method ~= "GET" then return reply.error(405, "APIG.0102", "Method not allowed.") end
  if not auth.check(method, path, raw_args, headers) then return end
  return events(decode(project_id), decode(id), raw_args, headers)
end

--- The log phase: the request is over, whichever way it ended.
function M.done()
  local counted = ngx.ctx.counted
  if counted then counted.in_flight = counted.in_flight - 1 end
end

return M
