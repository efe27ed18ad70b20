--- Parsing and printing event times.
--
-- Event times are ISO-8601 strings with an offset (`2022-11-26T16:03:41+08:00`);
-- the API takes epoch milliseconds. The arithmetic here is done by hand
-- (days from the civil date), so that no result depends on the machine's
-- time zone.
-- @module modelarts_events.time

local M = {}

local floor = math.floor
local tointeger = math.tointeger or function(x) return x end

-- Days since 1970-01-01 of a proleptic Gregorian date.
local function days_from_civil(y, m, d)
  if m <= 2 then y = y - 1 end
  local era = floor(y / 400)
  local yoe = y - era * 400
  local mp = (m + 9) % 12
  local doy = floor((153 * mp + 2) / 5) + d - 1
  local doe = yoe * 365 + floor(yoe / 4) - floor(yoe / 100) + doy
  return era * 146097 + doe - 719468
end

-- The civil date of a day number (the inverse of days_from_civil).
local function civil_from_days(z)
  z = z + 719468
  local era = floor(z / 146097)
  local doe = z - era * 146097
  local yoe = floor((doe - floor(doe / 1460) + floor(doe / 36524) - floor(doe / 146096)) / 365)
  local y = yoe + era * 400
  local doy = doe - (365 * yoe + floor(yoe / 4) - floor(yoe / 100))
  local mp = floor((5 * doy + 2) / 153)
  local d = doy - floor((153 * mp + 2) / 5) + 1
  local m = mp < 10 and mp + 3 or mp - 9
  if m <= 2 then y = y + 1 end
  return y, m, d
end

local DAYS_IN_MONTH = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 }

local function leap(y)
  return (y % 4 == 0 and y % 100 ~= 0) or y % 400 == 0
end

local byte = string.byte

-- The value of a digit's byte; nil for any other byte.
local DIGIT = {}
for b = 48, 57 do DIGIT[b] = b - 48 end

-- The day number of the last date seen: events of a page share their day.
local last_y, last_m, last_d, last_days

-- The service's own shape, "YYYY-MM-DDTHH:MM:SS+HH:MM", read byte by byte:
-- epoch ms, or nil when s has another shape or a byte out of place.
local function parse_fast(s)
  local y1, y2, y3, y4, c1, m1, m2, c2, d1, d2, t, h1, h2, c3, i1, i2, c4, s1, s2, sign, o1, o2, c5, o3, o4 =
    byte(s, 1, 25)
  if c1 ~= 45 or c2 ~= 45 or c3 ~= 58 or c4 ~= 58 or c5 ~= 58 or (t ~= 84 and t ~= 32)
    or (sign ~= 43 and sign ~= 45) then
    return nil
  end
  y1, y2, y3, y4, m1, m2, d1, d2 = DIGIT[y1], DIGIT[y2], DIGIT[y3], DIGIT[y4], DIGIT[m1], DIGIT[m2], DIGIT[d1], DIGIT[d2]
  h1, h2, i1, i2, s1, s2 = DIGIT[h1], DIGIT[h2], DIGIT[i1], DIGIT[i2], DIGIT[s1], DIGIT[s2]
  o1, o2, o3, o4 = DIGIT[o1], DIGIT[o2], DIGIT[o3], DIGIT[o4]
  if not (y1 and y2 and y3 and y4 and m1 and m2 and d1 and d2 and h1 and h2 and i1 and i2 and s1 and s2
    and o1 and o2 and o3 and o4) then
    return nil
  end
  local y, mo, d = y1 * 1000 + y2 * 100 + y3 * 10 + y4, m1 * 10 + m2, d1 * 10 + d2
  local h, mi, sec, oh, om = h1 * 10 + h2, i1 * 10 + i2, s1 * 10 + s2, o1 * 10 + o2, o3 * 10 + o4
  if mo < 1 or mo > 12 or d < 1 or d > DAYS_IN_MONTH[mo] or (mo == 2 and d == 29 and not leap(y))
    or h > 23 or mi > 59 or sec > 60 or oh > 23 or om > 59 then
    return false
  end
  local days
  if y == last_y and mo == last_m and d == last_d then
    days = last_days
  else
    days = days_from_civil(y, mo, d)
    last_y, last_m, last_d, last_days = y, mo, d, days
  end
  local offset = oh * 3600 + om * 60
  if sign == 45 then offset = -offset end
  return (days * 86400 + h * 3600 + mi * 60 + sec - offset) * 1000
end


-- Every time here lies in years 0000 to 9999 (the printable range of ISO-8601).
local MIN_MS, MAX_MS = -62167219200000, 253402300799999

-- A number of milliseconds as an integer, or nil and a message.
local function whole_ms(n)
  if n ~= n or n == math.huge or n == -math.huge then return nil, "not a finite number of milliseconds" end
  if n ~= floor(n) then return nil, "not a whole number of milliseconds: " .. n end
  if n < MIN_MS or n > MAX_MS then return nil, "out of range (years 0000 to 9999): " .. n end
  return tointeger(n)
end

-- A string as an error message may quote it: control bytes hidden, cut short.
local function shown(s)
  s = s:gsub("%c", "?")
  if #s > 64 then s = s:sub(1, 64) .. "..." end
  return "'" .. s .. "'"
end

-- The date and time of day at the start of s, read as if in UTC.
-- Strict: "YYYY-MM-DD", 'T' or a space, "HH:MM:SS", an optional fraction of
-- 1 to 9 digits (truncated to ms). Loose (for local times people type): the
-- time of day may be missing or lack its seconds.
-- @return seconds, ms fraction, the rest of s; false for a well-formed date
-- or time that does not exist; nil for another shape
local function wall_clock(s, loose)
  local ys, mos, ds, rest = s:match("^(%d%d%d%d)%-(%d%d)%-(%d%d)(.*)$")
  if not ys then return nil end
  local y, mo, d = tonumber(ys), tonumber(mos), tonumber(ds)
  local h, mi, sec, frac = 0, 0, 0, 0
  local hs, mis, after_minutes = rest:match("^[T ](%d%d):(%d%d)(.*)$")
  if hs then
    h, mi, rest = tonumber(hs), tonumber(mis), after_minutes
    local ss, after_seconds = rest:match("^:(%d%d)(.*)$")
    if ss then
      sec, rest = tonumber(ss), after_seconds
      local fs, after_fraction = rest:match("^%.(%d*)(.*)$")
      if fs then
        if #fs < 1 or #fs > 9 then return nil end
        frac, rest = tonumber((fs .. "00"):sub(1, 3)), after_fraction
      end
    elseif not loose then
      return nil
    end
  elseif not loose then
    return nil
  end
  if mo < 1 or mo > 12 or d < 1 or d > DAYS_IN_MONTH[mo] or (mo == 2 and d == 29 and not leap(y))
    or h > 23 or mi > 59 or sec > 60 then
    return false
  end
  return days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec, frac, rest
end

-- "Z", "z", "+HH:MM", "-HH:MM", "+HHMM", "-HHMM" as seconds east of UTC.
local function read_offset(s)
  if s == "Z" or s == "z" then return 0 end
  local sign, oh, om = s:match("^([+-])(%d%d):?(%d%d)$")
  if not sign then return nil end
  oh, om = tonumber(oh), tonumber(om)
  if oh > 23 or om > 59 then return nil end
  return (oh * 3600 + om * 60) * (sign == "-" and -1 or 1)
end

--- Parse an ISO-8601 date-time with an offset or `Z` into epoch milliseconds.
-- One semantics, shared with the C parser (`spec/fixtures/iso8601.lua`):
-- `YYYY-MM-DD`, `T` or one space, `HH:MM:SS`, an optional fraction of 1 to 9
-- digits truncated to milliseconds, then `Z`, `z`, `+HH:MM` or `+HHMM`
-- (or `-`); nothing before or after; real dates only; second 60 is the next
-- minute's 0. A number (already ms) is returned as an integer.
-- @param s `"2022-11-26T16:03:41+08:00"`, `"2022-11-26T08:03:41.250Z"`, `"2022-11-26 16:03:41+0800"`
-- @return epoch milliseconds, or nil and a message
function M.parse(s)
  if type(s) == "number" then return whole_ms(s) end
  if type(s) ~= "string" then return nil, "expected a string or a number, got " .. type(s) end
  if #s == 25 then
    local ms = parse_fast(s)
    if ms then return tointeger(ms) end
    if ms == false then return nil, "no such date or time: " .. shown(s) end
  end
  local wall, frac, rest = wall_clock(s, false)
  if wall == false then return nil, "no such date or time: " .. shown(s) end
  if not wall then return nil, "not an ISO-8601 date-time with an offset (2022-11-26T16:03:41+08:00): " .. shown(s) end
  local offset = read_offset(rest)
  if not offset then return nil, "missing or bad offset (Z, +HH:MM or +HHMM) in " .. shown(s) end
  return tointeger((wall - offset) * 1000 + frac)
end

-- The wall clock to the millisecond: nginx's clock in OpenResty, the C
-- module's elsewhere. os.time() is the last resort only: its whole seconds,
-- compared with events stamped to the millisecond, would read as a server
-- clock up to a second ahead (and a follow would cut its last wait short).
local function wall_ms()
  local ngx = rawget(_G, "ngx")
  if type(ngx) == "table" and ngx.now and ngx.update_time then
    return function()
      ngx.update_time()
      return tointeger(floor(ngx.now() * 1000))
    end
  end
  local ok, me = pcall(require, "modelarts_events")
  if ok and type(me) == "table" and me.now_ms then return me.now_ms end
  return function() return tointeger(os.time() * 1000) end
end
local clock_ms

--- Now, in epoch milliseconds.
function M.now_ms()
  clock_ms = clock_ms or wall_ms()
  return clock_ms()
end

local UNITS = { w = 604800000, d = 86400000, h = 3600000, m = 60000, s = 1000 }

--- A duration such as `90s`, `15m`, `1h30m`, `2d` or `1w`: whole numbers,
-- each followed by a unit (w, d, h, m, s), one or more of them added up.
-- @string s the duration
-- @return milliseconds, or nil and a message
function M.duration(s)
  s = tostring(s)
  local total, pos = 0, 1
  while pos <= #s do
    local n, unit, next_pos = s:match("^(%d+)([wdhms])()", pos)
    if not n then return nil, "not a duration like 90s, 15m, 1h30m, 2d or 1w: " .. shown(s) end
    total, pos = total + tonumber(n) * UNITS[unit], next_pos
  end
  if pos == 1 then return nil, "not a duration like 90s, 15m, 1h30m, 2d or 1w: " .. shown(s) end
  return whole_ms(total)
end

--- A time counted back from now by a duration (`30s`, `1h30m`, `2d`, `1w`).
-- @param s the duration, as for `duration`
-- @param now_ms the instant to count back from (default now)
-- @return epoch milliseconds, or nil and a message
function M.relative(s, now_ms)
  local ms, err = M.duration(s)
  if not ms then return nil, err end
  return whole_ms((now_ms or M.now_ms()) - ms)
end

-- The machine's UTC offset in seconds at a given instant.
local function local_offset(seconds)
  local here, utc = os.date("*t", seconds), os.date("!*t", seconds)
  local d = days_from_civil(here.year, here.month, here.day) - days_from_civil(utc.year, utc.month, utc.day)
  return d * 86400 + (here.hour - utc.hour) * 3600 + (here.min - utc.min) * 60 + (here.sec - utc.sec)
end

-- An IANA zone's offset through the C module (libc's zone database), with
-- the span around the last answer remembered: libc answers one instant at a
-- time and events come in runs of nearby times. Around each instant asked,
-- the offset six hours before and after is asked too; where it differs, the
-- change is found to the second by bisection. (No zone in the database
-- changes its offset twice within six hours.)
local PROBE = 6 * 3600
local function iana_zone(name, utc_offset)
  -- The second nearest `outside` that still has offset o, where `inside`
  -- has it and `outside` does not: bisection, either direction.
  local function last_with(o, inside, outside)
    while inside - outside > 1 or outside - inside > 1 do
      local mid = floor((inside + outside) / 2)
      if utc_offset(name, mid) == o then inside = mid else outside = mid end
    end
    return inside
  end
  local lo, hi, off
  return function(t)
    if lo and t >= lo and t <= hi then return off end
    local o = utc_offset(name, t)
    if not o then return nil end
    local a, b = t - PROBE, t + PROBE
    if utc_offset(name, a) ~= o then a = last_with(o, t, a) end
    if utc_offset(name, b) ~= o then b = last_with(o, t, b) end
    lo, hi, off = a, b, o
    return o
  end
end

local ZONE_FORMS = "local, UTC (or Z), +HH:MM / -HH:MM, or an IANA name such as Asia/Shanghai"
local zones = {} -- tz text -> function(epoch seconds) -> offset seconds

-- The offset function of a zone: "local", "UTC"/"Z", "+HH:MM", "+HHMM" or an
-- IANA name; nil and a message for anything else.
local function zone(tz)
  local at = zones[tz]
  if at then return at end
  if type(tz) ~= "string" then return nil, "a time zone must be a string: " .. ZONE_FORMS end
  if tz == "local" then
    at = local_offset
  elseif tz == "Z" or tz == "z" or tz:lower() == "utc" then
    at = function() return 0 end
  elseif tz:match("^[+-]") then
    local offset = read_offset(tz)
    if not offset then return nil, "bad offset " .. shown(tz) .. ": expected " .. ZONE_FORMS end
    at = function() return offset end
  else
    local ok, me = pcall(require, "modelarts_events")
    if not ok or type(me) ~= "table" or not me.utc_offset then
      return nil, "time zone names such as " .. shown(tz) .. " need the modelarts_events C module"
    end
    if not me.utc_offset(tz, 0) then
      return nil, "unknown time zone " .. shown(tz) .. ": expected " .. ZONE_FORMS
    end
    at = iana_zone(tz, me.utc_offset)
  end
  zones[tz] = at
  return at
end

--- The UTC offset of a zone at an instant.
-- @param tz `"local"`, `"UTC"`/`"Z"`, `"+08:00"`/`"-0530"`, or an IANA name
-- (`"Asia/Shanghai"`, read from the system's zone database through libc)
-- @param[opt] ms the instant, epoch milliseconds (default now)
-- @return seconds east of UTC, or nil and a message for a zone not understood
function M.offset(tz, ms)
  local at, err = zone(tz)
  if not at then return nil, err end
  local o = at(floor((ms or M.now_ms()) / 1000))
  if not o then return nil, "no offset known for that instant in " .. shown(tz) end
  return o
end

local WHEN_FORMS = "ISO-8601 (2022-11-26T16:03:41+08:00, 2022-11-26T16:03, 2022-11-26), " ..
  "epoch seconds (1669449821) or milliseconds (1669449821000), " ..
  "a duration back from now (90s, 15m, 1h30m, 2d, 1w) or now"

-- Epoch numbers below this are seconds, from it on milliseconds: 10^11 s is
-- the year 5138, 10^11 ms is 1973-03-03.
local SECONDS_BELOW = 1e11

--- A point in time in any of the forms people type.
--
-- - a Lua number: epoch milliseconds;
-- - digits only: epoch seconds below 10^11 (up to the year 5138), epoch
--   milliseconds from 10^11 on (1973-03-03 on): `1669449821` and
--   `1669449821000` are the same instant;
-- - a duration back from `now_ms`: `90s`, `15m`, `1h30m`, `2d`, `1w`; or `now`;
-- - ISO-8601 with an offset (as `parse`), or without one: a date
--   (`2022-11-26`, its midnight), or a date and time (`2022-11-26T16:03`,
--   `2022-11-26 16:03:41`), read in the zone `tz`.
-- @param v the time
-- @param[opt] now_ms the instant relative forms count back from (default now)
-- @param[opt] tz the zone of times without an offset, as for `offset` (default `"local"`)
-- @return epoch milliseconds, or nil and a message that lists the forms
function M.parse_when(v, now_ms, tz)
  if type(v) == "number" then return M.parse(v) end
  if type(v) ~= "string" then return nil, "expected a time, got " .. type(v) .. "; use " .. WHEN_FORMS end
  if v == "now" then return whole_ms(now_ms or M.now_ms()) end
  if v:match("^%d+$") then
    if #v > 16 then return nil, "out of range: " .. shown(v) end
    local n = tonumber(v)
    return whole_ms(n < SECONDS_BELOW and n * 1000 or n)
  end
  if v:match("^%d+[wdhms]") then
    local ms, err = M.relative(v, now_ms)
    if not ms then return nil, err .. "; use " .. WHEN_FORMS end
    return ms
  end
  local wall, frac, rest = wall_clock(v, true)
  if wall == false then return nil, "no such date or time: " .. shown(v) end
  if wall and rest == "" then
    local at, err = zone(tz or "local")
    if not at then return nil, err end
    -- the offset at the wall time, then at the instant it gives (a change
    -- of offset between the two moves it)
    local o1 = at(wall)
    local o2 = o1 and at(wall - o1)
    if not o2 then return nil, "no offset known for " .. shown(v) end
    return whole_ms((wall - o2) * 1000 + frac)
  end
  if wall then
    local ms = M.parse(v)
    if ms then return ms end
  end
  return nil, "not a time: " .. shown(v) .. "; use " .. WHEN_FORMS
end

--- Print epoch milliseconds as ISO-8601, in whole seconds.
-- @param ms epoch milliseconds
-- @param[opt] tz `"Z"`/`"UTC"` (the default, printed with `Z`), `"local"`,
-- an offset `"+08:00"`, or an IANA name such as `"Asia/Shanghai"`
-- @return the string, or nil and a message for a bad tz or time
function M.iso(ms, tz)
  if type(ms) ~= "number" or ms ~= ms or ms < MIN_MS or ms > MAX_MS then
    return nil, "not a time in years 0000 to 9999: " .. tostring(ms)
  end
  local seconds = floor(ms / 1000)
  local offset
  if tz ~= nil and tz ~= "Z" and tz ~= "z" and not (type(tz) == "string" and tz:lower() == "utc") then
    local at, err = zone(tz)
    if not at then return nil, err end
    offset = at(seconds)
    if not offset then return nil, "no offset known for that instant in " .. shown(tz) end
  end
  local t = seconds + (offset or 0)
  local days = floor(t / 86400)
  local rem = t - days * 86400
  local y, m, d = civil_from_days(days)
  local text = string.format("%04d-%02d-%02dT%02d:%02d:%02d", y, m, d,
    floor(rem / 3600), floor(rem % 3600 / 60), rem % 60)
  if not offset then return text .. "Z" end
  local a = offset < 0 and -offset or offset
  return string.format("%s%s%02d:%02d", text, offset < 0 and "-" or "+", floor(a / 3600), floor(a % 3600 / 60))
end

return M
