--- Rendering events: a line of text, JSON lines, CSV rows, an aligned table
-- and a summary.
-- @module modelarts_events.format

local cjson = require "cjson"
local time = require "modelarts_events.time"

local M = {}

local COLORS = { Error = "\27[31m", Warning = "\27[33m", Info = "" }
local DIM, RESET = "\27[2m", "\27[0m"
local ESCAPES = { ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t" }
local LEVEL_PAD = { Info = "Info   ", Error = "Error  ", Warning = "Warning" }
local SOURCE_PAD = { Job = "Job ", K8S = "K8S ", K8s = "K8s ", Task = "Task" }

local function pad(s, width)
  local n = #s
  if n >= width then return s end
  return s .. string.rep(" ", width - n)
end

-- Times re-printed in another zone, cached: a page shares a few seconds.
local function shown_time(t, tz)
  if not tz then return t end
  local ms = time.parse(t)
  return ms and time.iso(ms, tz) or t
end

--- One line of text, without a trailing newline: time, level, source, message
-- (line breaks and tabs in the message shown as `\n`, `\r`, `\t`).
-- @tparam table event `{ time, level, message, source }`
-- @tparam[opt] table opts `color` (ANSI colours by level), `tz` (print times in
-- that zone: `"+08:00"`, `"Z"`, `"local"`; default: as the server sent them)
function M.text(event, opts)
  local level, source, message = event.level or "", event.source or "", event.message or ""
  if message:find("[\n\r\t]") then message = message:gsub("[\n\r\t]", ESCAPES) end
  local t = event.time or ""
  if opts and opts.tz then t = shown_time(t, opts.tz) end
  local lv = LEVEL_PAD[level] or pad(level, 7)
  local src = SOURCE_PAD[source] or pad(source, 4)
  if opts and opts.color then
    local c = COLORS[level] or ""
    return DIM .. t .. RESET .. "  " .. c .. lv .. (c ~= "" and RESET or "") .. "  " .. src .. "  " .. message
  end
  return t .. "  " .. lv .. "  " .. src .. "  " .. message
end

local encode = cjson.encode

--- One line of JSON with the keys in a stable order: time, level, source, message.
function M.json(event)
  return '{"time":' .. encode(event.time or "") .. ',"level":' .. encode(event.level or "") ..
    ',"source":' .. encode(event.source or "") .. ',"message":' .. encode(event.message or "") .. "}"
end

--- The CSV header row (RFC 4180), without a line break.
function M.csv_header()
  return "time,level,source,message"
end

local function csv_field(s)
  if s:find('[,"\r\n]') then return '"' .. s:gsub('"', '""') .. '"' end
  return s
end

--- One CSV row (RFC 4180: fields with a comma, quote or line break are quoted,
-- quotes doubled), without a line break.
function M.csv(event)
  return csv_field(event.time or "") .. "," .. csv_field(event.level or "") .. "," ..
    csv_field(event.source or "") .. "," .. csv_field(event.message or "")
end

-- Width in characters of a UTF-8 string.
local function width(s)
  local _, n = s:gsub("[^\128-\191]", "")
  return n
end

--- An aligned table of events, one string with a header row and a trailing
-- newline. A message holding a line break is cut there, marked with ` …`.
-- @tparam table events a list of events
-- @tparam[opt] table opts `tz` as for `text`
function M.table(events, opts)
  local rows = { { "TIME", "LEVEL", "SOURCE", "MESSAGE" } }
  local w = { 4, 5, 6 }
  for _, ev in ipairs(events) do
    local message = ev.message or ""
    local cut = message:find("[\r\n]")
    if cut then message = message:sub(1, cut - 1) .. " …" end
    local row = { shown_time(ev.time or "", opts and opts.tz), ev.level or "", ev.source or "", message }
    for i = 1, 3 do w[i] = math.max(w[i], width(row[i])) end
    rows[#rows + 1] = row
  end
  local out = {}
  for i, row in ipairs(rows) do
    local cells = {}
    for c = 1, 3 do cells[c] = row[c] .. string.rep(" ", w[c] - width(row[c])) end
    cells[4] = row[4]
    out[i] = table.concat(cells, "  ")
  end
  return table.concat(out, "\n") .. "\n"
end

--- Counts and span of a list of events.
-- @return `{ total, by_level = { Info = n, ... }, by_source = { K8S = n, ... },
-- first, last (time strings, earliest and latest), errors = { the Error events } }`
function M.summary(events)
  local s = { total = 0, by_level = {}, by_source = {}, errors = {} }
  local first_ms, last_ms
  for _, ev in ipairs(events) do
    s.total = s.total + 1
    local level = ev.level or ""
    s.by_level[level] = (s.by_level[level] or 0) + 1
    local source = ev.source or ""
    if source:upper() == "K8S" then source = "K8S" end
    s.by_source[source] = (s.by_source[source] or 0) + 1
    if level == "Error" then s.errors[#s.errors + 1] = ev end
    local ms = ev.time and time.parse(ev.time)
    if ms then
      if not first_ms or ms < first_ms then first_ms, s.first = ms, ev.time end
      if not last_ms or ms > last_ms then last_ms, s.last = ms, ev.time end
    end
  end
  return s
end

local function counts(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys)
  for i, k in ipairs(keys) do keys[i] = k .. " " .. t[k] end
  return table.concat(keys, ", ")
end

--- A short human text of a summary, several lines, with a trailing newline.
function M.summary_text(s)
  local lines = {
    string.format("events: %d", s.total),
    "by level: " .. (next(s.by_level) and counts(s.by_level) or "-"),
    "by source: " .. (next(s.by_source) and counts(s.by_source) or "-"),
    string.format("span: %s .. %s", s.first or "-", s.last or "-"),
    string.format("errors: %d", #s.errors),
  }
  for _, ev in ipairs(s.errors) do lines[#lines + 1] = "  " .. M.text(ev) end
  return table.concat(lines, "\n") .. "\n"
end

--- The events as a timeline: one self-contained HTML document (see `modelarts_events.timeline`).
function M.html(events, opts) return require("modelarts_events.timeline").render(events, opts) end

return M
