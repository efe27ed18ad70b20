--- Predicates over events: compile a specification once, then call the
-- result for each event.
--
--     local keep = filter.compile { level = { "Error", "Warning" }, source = "K8S", since = "15m" }
--     for event in client:events(job_id) do if keep(event) then ... end end
--
-- @module modelarts_events.filter

local time = require "modelarts_events.time"

local M = {}

local function argument_error(field, message)
  local err = { kind = "invalid_argument", field = field, message = message, retryable = false }
  return setmetatable(err, { __tostring = function(e) return "modelarts_events: invalid_argument: " .. e.message end })
end

local function fail(field, message) error(argument_error(field, message), 3) end

-- A set of lowercase names from a string or a list of strings.
local function name_set(field, v)
  if type(v) == "string" then v = { v } end
  if type(v) ~= "table" or #v == 0 then fail(field, field .. " must be a string or a non-empty list of strings") end
  local set = {}
  for _, name in ipairs(v) do
    if type(name) ~= "string" then fail(field, field .. " must hold strings only") end
    set[name:lower()] = true
  end
  return set
end

-- A check of one field against a set, remembering the verdict for each raw
-- value seen: events repeat a handful of levels and sources, so the
-- lowercasing happens once per distinct value, not once per event.
local function member_check(field, set)
  local verdicts = {}
  return function(event)
    local raw = event[field]
    local verdict = verdicts[raw]
    if verdict == nil then
      verdict = raw ~= nil and set[tostring(raw):lower()] == true
      verdicts[raw] = verdict
    end
    return verdict
  end
end

local function when(field, v, now_ms)
  local ms, err = time.parse_when(v, now_ms)
  if not ms then fail(field, field .. ": " .. err) end
  return ms
end

-- The event's time in ms, with a one-entry cache: events of a page often
-- share their second.
local function time_reader()
  local last_text, last_ms
  return function(event)
    local text = event.time
    if text ~= last_text then
      last_text, last_ms = text, time.parse(text)
    end
    return last_ms
  end
end

local KEYS = { level = true, source = true, pattern = true, match = true, since = true, till = true,
               worker = true, where = true }

--- Compile a filter.
-- @tparam table spec `level`, `source` (a string or a list, case-insensitive),
-- `pattern` (plain substring of the message), `match` (Lua pattern),
-- `since`, `till` (inclusive; ms, ISO-8601 or relative like `15m`, resolved now),
-- `worker` (`"worker-0"` keeps messages starting `[worker-0]`), `where` (a function)
-- @param[opt] now_ms the instant relative times count from (default now)
-- @treturn function `keep(event) -> boolean`; all given conditions must hold
function M.compile(spec, now_ms)
  if spec == nil then spec = {} end
  if type(spec) ~= "table" then fail("spec", "filter.compile expects a table") end
  for k in pairs(spec) do
    if not KEYS[k] then
      fail(tostring(k), "unknown filter key '" .. tostring(k) ..
        "' (known: level, source, pattern, match, since, till, worker, where)")
    end
  end
  local checks = {}
  if spec.level ~= nil then checks[#checks + 1] = member_check("level", name_set("level", spec.level)) end
  if spec.source ~= nil then checks[#checks + 1] = member_check("source", name_set("source", spec.source)) end
  if spec.pattern ~= nil then
    local p = spec.pattern
    if type(p) ~= "string" then fail("pattern", "pattern must be a string") end
    local find = string.find
    checks[#checks + 1] = function(event) return find(event.message or "", p, 1, true) ~= nil end
  end
  if spec.match ~= nil then
    local p = spec.match
    if type(p) ~= "string" or not pcall(string.find, "", p) then
      fail("match", "match must be a valid Lua pattern")
    end
    checks[#checks + 1] = function(event) return (event.message or ""):find(p) ~= nil end
  end
  if spec.worker ~= nil then
    if type(spec.worker) ~= "string" then fail("worker", "worker must be a string like worker-0") end
    local prefix = "[" .. spec.worker .. "]"
    local n = #prefix
    checks[#checks + 1] = function(event) return (event.message or ""):sub(1, n) == prefix end
  end
  if spec.since ~= nil or spec.till ~= nil then
    local since = spec.since ~= nil and when("since", spec.since, now_ms) or nil
    local till = spec.till ~= nil and when("till", spec.till, now_ms) or nil
    local ms_of = time_reader()
    checks[#checks + 1] = function(event)
      local ms = ms_of(event)
      return ms ~= nil and (not since or ms >= since) and (not till or ms <= till)
    end
  end
  if spec.where ~= nil then
    if type(spec.where) ~= "function" then fail("where", "where must be a function") end
    local where = spec.where
    checks[#checks + 1] = function(event) return where(event) and true or false end
  end

  -- Specialise the common shapes so that one call does only the needed work.
  local n = #checks
  if n == 0 then return function() return true end end
  if n == 1 then return checks[1] end
  if n == 2 then
    local a, b = checks[1], checks[2]
    return function(event) return a(event) and b(event) end
  end
  return function(event)
    for i = 1, n do
      if not checks[i](event) then return false end
    end
    return true
  end
end

return M
