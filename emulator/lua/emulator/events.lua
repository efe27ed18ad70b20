-- GET /v2/{project_id}/training-jobs/{id}/events as the service answers
-- it: its validation (400 ModelArts.50004000), filters, windows, order and
-- paging, plus the paging variants some jobs ask for (catalog.lua traits).
local reply = require "emulator.reply"
local jobs = require "emulator.jobs"
local i18n = require "emulator.i18n"

local M = {}

local PARAMS = { offset = true, limit = true, order = true, start_time = true, end_time = true,
                 level = true, source = true, pattern = true }
local LEVELS = { Info = true, Error = true, Warning = true }
local SOURCES = { K8S = true, Job = true, Task = true }
local CAP = 50 -- what a cap50 server returns at most

local function bad_request(detail)
  return reply.error(400, "ModelArts.50004000", "Bad request. " .. detail)
end

local function decode(s)
  return (s:gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end))
end
M.decode = decode

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

--- The parsed query, or nil after answering 400.
function M.validate(raw_args)
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

-- ---- paging ------------------------------------------------------------------------

-- The records [first, last] (1-based, in the order asked) a page holds.
local function page_span(q, paging, total)
  local first, count = q.offset + 1, q.limit
  if paging == "pageoffset" then first = q.offset * q.limit + 1 end -- offset counts pages
  if paging == "cap50" then count = math.min(count, CAP) end
  if paging == "shortpage" and q.offset >= 2 * q.limit then count = 0 end -- a page lost on the way
  return first, math.min(first + count - 1, total)
end

--- Answers one page of job for the query q (from validate), the request's
-- X-Language and the job's traits.
function M.answer(job, q, language, traits)
  job = filtered(job, q.level, q.source, q.pattern)
  local lo, hi = 1, #job.ms
  if q.start_ms then
    lo = lower_bound(job.ms, math.floor(q.start_ms / 1000))
    hi = lower_bound(job.ms, math.floor(q.end_ms / 1000) + 1) - 1
  end
  local total = math.max(0, hi - lo + 1)
  local page = {}
  local first, last = page_span(q, traits.paging, total)
  for i = first, last do
    -- desc is the exact reverse of asc, ties included
    page[#page + 1] = i18n.translate(job.events[q.order == "asc" and (lo + i - 1) or (hi - i + 1)], language)
  end
  local body = {
    total = total, limit = q.limit, offset = q.offset, order = q.order,
    events = #page > 0 and page or reply.EMPTY_ARRAY,
    -- the window as asked, or else the span of what matched
    start_time = q.start_ms and jobs.iso(q.start_ms) or (total > 0 and job.events[lo].time) or nil,
    end_time = q.end_ms and jobs.iso(q.end_ms) or (total > 0 and job.events[hi].time) or nil,
  }
  if traits.paging == "nototal" then body.total = nil end
  if traits.strings then -- as the reference table types them
    body.total, body.limit, body.offset = tostring(total), tostring(q.limit), tostring(q.offset)
  end
  if traits.chunked then return reply.send_chunked(200, reply.encode(body)) end
  return reply.json(200, body)
end

return M
