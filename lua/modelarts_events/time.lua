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
local function two(s, i)
  local a, b = byte(s, i, i + 1)
  if not b or a < 48 or a > 57 or b < 48 or b > 57 then return nil end
  return (a - 48) * 10 + (b - 48)
end

--- Parse an ISO-8601 date-time with an offset or `Z` into epoch milliseconds.
-- A number (already ms) is returned as an integer.
-- @param s `"2022-11-26T16:03:41+08:00"`, `"...Z"`, `"...+0800"`, fractions of a second allowed
-- @return epoch milliseconds, or nil and a message
function M.parse(s)
  if type(s) == "number" then
    if s ~= floor(s) then return nil, "not a whole number of milliseconds: " .. s end
    return tointeger(s)
  end
  if type(s) ~= "string" then return nil, "expected a string or a number, got " .. type(s) end
  -- The fast path: the service's own shape, read byte by byte.
  local y, mo, d, h, mi, sec, rest
  if #s == 25 and byte(s, 5) == 45 and byte(s, 8) == 45 and byte(s, 14) == 58 and byte(s, 17) == 58 then
    local c, hi = two(s, 1), two(s, 3)
    if c and hi then y = c * 100 + hi end
    mo, d, h, mi, sec = two(s, 6), two(s, 9), two(s, 12), two(s, 15), two(s, 18)
    rest = s:sub(20)
    if not (y and mo and d and h and mi and sec) or (byte(s, 11) ~= 84 and byte(s, 11) ~= 32) then y = nil end
  end
  local frac = 0
  if not y then
    local ys, mos, ds, hs, mis, secs, fs, r = s:match(
      "^(%d%d%d%d)%-(%d%d)%-(%d%d)[T ](%d%d):(%d%d):(%d%d)(%.?%d*)(.*)$")
    if not ys or fs == "." then return nil, "not an ISO-8601 date-time with an offset: " .. s end
    y, mo, d, h, mi, sec, rest = tonumber(ys), tonumber(mos), tonumber(ds), tonumber(hs),
      tonumber(mis), tonumber(secs), r
    if #fs > 1 then frac = floor(tonumber("0" .. fs) * 1000 + 0.5) end
  end
  local offset
  if rest == "Z" or rest == "z" then
    offset = 0
  else
    local sign, oh, om = rest:match("^([+-])(%d%d):?(%d%d)$")
    if not sign then return nil, "missing or bad offset (Z or +HH:MM) in " .. s end
    oh, om = tonumber(oh), tonumber(om)
    if oh > 23 or om > 59 then return nil, "bad offset in " .. s end
    offset = (oh * 3600 + om * 60) * (sign == "-" and -1 or 1)
  end
  if mo < 1 or mo > 12 or d < 1 or d > DAYS_IN_MONTH[mo] or (mo == 2 and d == 29 and not leap(y))
    or h > 23 or mi > 59 or sec > 60 then
    return nil, "no such date or time: " .. s
  end
  local seconds = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - offset
  return tointeger(seconds * 1000 + frac)
end

--- Now, in epoch milliseconds (second resolution: os.time).
function M.now_ms()
  return tointeger(os.time() * 1000)
end

local UNITS = { s = 1000, m = 60000, h = 3600000, d = 86400000 }

--- A relative time like `30s`, `15m`, `2h` or `1d`, counted back from now.
-- @param s the duration
-- @param now_ms the instant to count back from (default now)
-- @return epoch milliseconds, or nil and a message
function M.relative(s, now_ms)
  local n, unit = tostring(s):match("^(%d+)([smhd])$")
  if not n then return nil, "not a duration like 30s, 15m, 2h or 1d: " .. tostring(s) end
  return tointeger((now_ms or M.now_ms()) - tonumber(n) * UNITS[unit])
end

--- A point in time given as ms, ISO-8601 or a relative duration.
-- @return epoch milliseconds, or nil and a message
function M.parse_when(v, now_ms)
  if type(v) == "number" then return M.parse(v) end
  if type(v) ~= "string" then return nil, "expected a time, got " .. type(v) end
  if v:match("^%d+$") then return tointeger(tonumber(v)) end
  if v:match("^%d+[smhd]$") then return M.relative(v, now_ms) end
  return M.parse(v)
end

-- The machine's UTC offset in seconds at a given instant.
local function local_offset(seconds)
  local here, utc = os.date("*t", seconds), os.date("!*t", seconds)
  local d = days_from_civil(here.year, here.month, here.day) - days_from_civil(utc.year, utc.month, utc.day)
  return d * 86400 + (here.hour - utc.hour) * 3600 + (here.min - utc.min) * 60 + (here.sec - utc.sec)
end

--- Print epoch milliseconds as ISO-8601, in whole seconds.
-- @param ms epoch milliseconds
-- @param tz `"+08:00"`-style offset, `"Z"`/`"utc"` (the default) or `"local"`
-- @return the string, or nil and a message for a bad tz
function M.iso(ms, tz)
  local seconds = floor(ms / 1000)
  local offset
  if tz == nil or tz == "Z" or tz == "z" or tz == "utc" or tz == "UTC" then
    offset = nil
  elseif tz == "local" then
    offset = local_offset(seconds)
  else
    local sign, oh, om = tostring(tz):match("^([+-])(%d%d):?(%d%d)$")
    if not sign then return nil, "tz must be like +08:00, Z, utc or local" end
    offset = (tonumber(oh) * 3600 + tonumber(om) * 60) * (sign == "-" and -1 or 1)
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
