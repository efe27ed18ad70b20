--- Predicates over events: compile a specification once, then call the
-- result for each event.
--
--     local keep = filter.compile { level = { "Error", "Warning" }, source = "K8S", since = "15m" }
--     for event in client:events(job_id) do if keep(event) then ... end end
--
-- @module modelarts_events.filter

local me = require "modelarts_events"
local time = require "modelarts_events.time"

local M = {}

local byte, find = string.byte, string.find

local function fail(field, message)
  error(me.error("invalid_argument", message, { field = field }), 3)
end

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
-- lowercasing happens once per distinct value, not once per event. An event
-- whose field is missing or not a string is not kept.
local function member_check(field, set)
  local verdicts = {}
  return function(event)
    local raw = event[field]
    if type(raw) ~= "string" then return false end
    local verdict = verdicts[raw]
    if verdict == nil then
      verdict = set[raw:lower()] == true
      verdicts[raw] = verdict
    end
    return verdict
  end
end

-- Epoch ms beyond year 0000..9999 are no time an event can have; so are
-- NaN, infinities and fractions, which would otherwise fail later.
local MIN_MS, MAX_MS = -62167219200000, 253402300799999

local function when(field, v, now_ms)
  local ok, ms, err = pcall(time.parse_when, v, now_ms)
  if not ok then ms, err = nil, ms end
  if type(ms) ~= "number" or ms ~= ms or ms < MIN_MS or ms > MAX_MS then
    local shown = type(v) == "string" and string.format("%q", v) or tostring(v)
    fail(field, string.format("%s must be epoch ms, ISO-8601 or a duration like 15m, within years 0-9999; got %s%s",
      field, shown, err and (" (" .. tostring(err) .. ")") or ""))
  end
  return ms
end

-- The event's time in ms, with a one-entry cache: events of a page often
-- share their second. A missing or unreadable time gives nil; a number is
-- taken as epoch ms, as time.parse takes it.
local function time_reader()
  local last_text, last_ms
  return function(event)
    local text = event.time
    if text ~= last_text then
      local kind = type(text)
      last_text, last_ms = text, (kind == "string" or kind == "number") and time.parse(text) or nil
    end
    return last_ms
  end
end

-- Lua patterns, checked once so that a bad one fails at compile time. A
-- trial `string.find` cannot do it: the matcher reads an item only when the
-- subject gets that far, so `a%` passes on "" and fails on "a". This walks
-- the pattern the way lstrlib.c's do_match does (the same in 5.1 to 5.4 and
-- LuaJIT) and rejects every item that can raise on some subject.
local MAX_CAPTURES = 32 -- LUA_MAXCAPTURES
-- MAXCCALLS: the matcher's nested calls per match. Each capture bracket and
-- each repeated item (* + - ?) nests one: always on LuaJIT, on 5.4 when the
-- message lets it repeat, never on 5.1 (which has no bound); refused alike.
local MAX_CALLS = 200

-- Where the single-character class starting at i ends (lstrlib's classEnd).
local function class_end(p, i, n)
  local c = byte(p, i)
  i = i + 1
  if c == 37 then -- %x
    if i > n then return nil, "ends with '%'" end
    return i + 1
  elseif c == 91 then -- [set]: the first byte is taken as is, so "[]]" holds "]"
    if byte(p, i) == 94 then i = i + 1 end
    repeat
      if i > n then return nil, "misses the ']' of a set" end
      local d = byte(p, i)
      i = i + 1
      if d == 37 and i <= n then i = i + 1 end
    until byte(p, i) == 93
    return i + 1
  end
  return i
end

--- Why a Lua pattern can fail, or nil when `string.find(s, pattern)` never
-- raises whatever the subject.
-- @tparam string p the pattern
-- @treturn ?string what is wrong with it
function M.pattern_problem(p)
  if find(p, "\0", 1, true) then return "holds a NUL byte (Lua 5.1 and LuaJIT end a pattern there)" end
  -- without any of lstrlib's SPECIALS, string.find searches plainly
  if not find(p, "[%^%$%*%+%?%.%(%[%%%-]") then return nil end
  local n = #p
  local i = byte(p, 1) == 94 and 2 or 1 -- a leading ^ anchors
  local open, closed, captures, calls = {}, {}, 0, 0
  while i <= n do
    local c, nx = byte(p, i), byte(p, i + 1)
    if c == 40 then -- ( or () for a position
      captures, calls = captures + 1, calls + 1
      if captures > MAX_CAPTURES then return "has more than " .. MAX_CAPTURES .. " captures" end
      if nx == 41 then
        closed[captures], i = true, i + 2
      else
        open[#open + 1], i = captures, i + 1
      end
    elseif c == 41 then
      if #open == 0 then return "closes a capture that is not open (at byte " .. i .. ")" end
      closed[table.remove(open)], calls, i = true, calls + 1, i + 1
    elseif c == 36 and i == n then -- $ anchors at the end only
      i = i + 1
    elseif c == 37 and nx == 98 then -- %bxy
      if i + 3 > n then return "has %b without its two characters" end
      i = i + 4
    elseif c == 37 and nx == 102 then -- %f[set]
      if byte(p, i + 2) ~= 91 then return "has %f without a [set] after it" end
      local e, why = class_end(p, i + 2, n)
      if not e then return why end
      i = e
    elseif c == 37 and nx and nx >= 48 and nx <= 57 then -- %1 .. %9
      if not closed[nx - 48] then
        return "refers with %" .. (nx - 48) .. " to a capture that is not closed before it"
      end
      i = i + 2
    else
      local e, why = class_end(p, i, n)
      if not e then return why end
      local q = byte(p, e)
      if q == 42 or q == 43 or q == 45 or q == 63 then -- * + - ? each nest a call
        calls, e = calls + 1, e + 1
      end
      i = e
    end
  end
  if #open > 0 then return "leaves a capture open" end
  if calls >= MAX_CALLS then return "is too complex (" .. calls .. " captures and repetitions; at most " ..
    (MAX_CALLS - 1) .. ")" end
  return nil
end

local KEYS = { level = true, source = true, pattern = true, match = true, since = true, till = true,
               worker = true, where = true }

--- Compile a filter.
-- @tparam table spec `level`, `source` (a string or a list, case-insensitive),
-- `pattern` (plain substring of the message), `match` (Lua pattern),
-- `since`, `till` (inclusive; ms, ISO-8601 or relative like `15m`, resolved now),
-- `worker` (`"worker-0"` keeps messages starting `[worker-0]`), `where` (a function)
-- @param[opt] now_ms the instant relative times count from (default now)
-- @treturn function `keep(event) -> boolean`; all given conditions must hold.
-- An event that lacks a field a condition reads (or holds a non-string
-- there) is not kept; it is never an error.
-- @raise an `invalid_argument` error object naming the key (`field`) for
-- a bad specification: an unknown key, a wrong type, a bound that is no
-- time (or `since` after `till`), a Lua pattern that could fail on some message
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
    checks[#checks + 1] = function(event)
      local message = event.message
      return type(message) == "string" and find(message, p, 1, true) ~= nil
    end
  end
  if spec.match ~= nil then
    local p = spec.match
    if type(p) ~= "string" then fail("match", "match must be a string (a Lua pattern)") end
    local problem = M.pattern_problem(p)
    if problem then fail("match", "match is not a valid Lua pattern: it " .. problem) end
    checks[#checks + 1] = function(event)
      local message = event.message
      return type(message) == "string" and find(message, p) ~= nil
    end
  end
  if spec.worker ~= nil then
    if type(spec.worker) ~= "string" then fail("worker", "worker must be a string like worker-0") end
    local prefix = "[" .. spec.worker .. "]"
    local n = #prefix
    checks[#checks + 1] = function(event)
      local message = event.message
      return type(message) == "string" and message:sub(1, n) == prefix
    end
  end
  if spec.since ~= nil or spec.till ~= nil then
    local since = spec.since ~= nil and when("since", spec.since, now_ms) or nil
    local till = spec.till ~= nil and when("till", spec.till, now_ms) or nil
    if since and till and since > till then
      fail("since", "since (" .. time.iso(since) .. ") is after till (" .. time.iso(till) .. "): nothing could be kept")
    end
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
