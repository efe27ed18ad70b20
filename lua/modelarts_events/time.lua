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
  if #s == 25 then
    local ms = parse_fast(s)
    if ms then return tointeger(ms) end
    if ms == false then return nil, "no such date or time: " .. s end
  end
  local y, mo, d, h, mi, sec, rest
  local frac = 0
  do
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
