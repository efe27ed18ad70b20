--- Text for the HTML documents the project writes: escaping that also
-- repairs what a browser could not show, numbers and durations in words.
-- @module modelarts_events.html

local M = {}

local floor = math.floor
local concat = table.concat
local find, gsub, format, byte = string.find, string.gsub, string.format, string.byte

-- U+FFFD for what cannot be shown: a byte that is not part of well-formed
-- UTF-8, and control characters other than tab and line breaks.
local REPLACEMENT = "\239\191\189"
local CONTROL = ("\0"):find("%z") and "[%z\1-\8\11\12\14-\31\127]" or "[\0-\8\11\12\14-\31\127]"

-- The length of the well-formed UTF-8 sequence at i (its first byte >= 0x80), or nil.
local function utf8_seq(s, i)
  local a, b, c, d = byte(s, i, i + 3)
  local function cont(x) return x and x >= 0x80 and x <= 0xBF end
  if a >= 0xC2 and a <= 0xDF then return cont(b) and 2 or nil end
  if a >= 0xE0 and a <= 0xEF then
    local lo, hi = 0x80, 0xBF
    if a == 0xE0 then lo = 0xA0 elseif a == 0xED then hi = 0x9F end
    return (b and b >= lo and b <= hi and cont(c)) and 3 or nil
  end
  if a >= 0xF0 and a <= 0xF4 then
    local lo, hi = 0x80, 0xBF
    if a == 0xF0 then lo = 0x90 elseif a == 0xF4 then hi = 0x8F end
    return (b and b >= lo and b <= hi and cont(c) and cont(d)) and 4 or nil
  end
  return nil
end

local function valid_utf8(s)
  if not find(s, "[\128-\255]") then return s end
  local out, i, n, from = {}, 1, #s, 1
  while i <= n do
    if byte(s, i) < 0x80 then
      i = i + 1
    else
      local len = utf8_seq(s, i)
      if len then
        i = i + len
      else
        out[#out + 1] = s:sub(from, i - 1) .. REPLACEMENT
        i = i + 1
        from = i
      end
    end
  end
  if from == 1 then return s end
  out[#out + 1] = s:sub(from)
  return concat(out)
end

local ENTITIES = { ["&"] = "&amp;", ["<"] = "&lt;", [">"] = "&gt;", ['"'] = "&quot;", ["'"] = "&#39;" }

--- Text made safe for HTML and SVG, in element content and in quoted
-- attributes: `& < > " '` as entities, each byte that is not well-formed
-- UTF-8 and each control character but tab and line breaks as U+FFFD.
-- @param s a string (or anything `tostring` takes)
-- @treturn string
function M.escape(s)
  s = valid_utf8(tostring(s))
  if find(s, CONTROL) then s = gsub(s, CONTROL, REPLACEMENT) end
  return (gsub(s, "[&<>\"']", ENTITIES))
end

--- A text cut to at most n bytes, never inside a UTF-8 sequence, marked ` …` where cut.
function M.cut(s, n)
  if #s <= n then return s end
  local i = n
  while i > 1 and (byte(s, i + 1) or 0) >= 0x80 and (byte(s, i + 1) or 0) <= 0xBF do i = i - 1 end
  return s:sub(1, i) .. " …"
end

--- A whole number with thousands separators: `2,940`.
function M.thousands(n)
  local sign, digits = format("%d", n):match("^(%-?)(%d+)$")
  return sign .. digits:reverse():gsub("(%d%d%d)", "%1,"):reverse():gsub("^,", "")
end

--- A count and its noun: `1 error`, `2,940 errors`.
function M.count(n, noun)
  return M.thousands(n) .. " " .. noun .. (n == 1 and "" or "s")
end

--- A duration as a person reads it: `27 s`, `4 min 05 s`, `14 min`, `2 h 03 min`, `3 d 04 h`.
-- @param ms milliseconds
function M.duration(ms)
  local s = floor(ms / 1000 + 0.5)
  if s < 60 then return s .. " s" end
  if s < 600 then return format("%d min %02d s", floor(s / 60), s % 60) end
  if s < 3600 then return floor(s / 60 + 0.5) .. " min" end
  local m = floor(s / 60 + 0.5)
  if m < 1440 then return format("%d h %02d min", floor(m / 60), m % 60) end
  local h = floor(m / 60 + 0.5)
  return format("%d d %02d h", floor(h / 24), h % 24)
end

return M
