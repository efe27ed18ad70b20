--- Rendering events: a line of text, JSON lines, CSV rows, an aligned table
-- and a summary. The table and the summary also come as streaming objects
-- (`table_writer`, `summarizer`) whose memory stays bounded however many
-- events pass through them.
--
-- Events of several jobs carry a `job` field (the job id); every format
-- then shows it (text and table through the labels of `job_labels`).
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

-- A time re-printed in another zone; the last one is remembered, since the
-- events of a page share a few seconds. A time that does not parse is shown
-- as the server sent it.
local last_time, last_tz, last_shown
local function shown_time(t, tz)
  if not tz then return t end
  if t == last_time and tz == last_tz then return last_shown end
  local ms = time.parse(t)
  local s = ms and time.iso(ms, tz) or t
  last_time, last_tz, last_shown = t, tz, s
  return s
end

--- Short labels for job ids, for a job column: an id longer than 12
-- characters is cut to its shortest prefix of at least 8 that no other id
-- shares (UUIDs become their first 8 characters); where every such prefix
-- is shared, and for shorter ids, the whole id. All padded to one width.
-- @tparam table ids a list of job ids
-- @treturn table id -> label
function M.job_labels(ids)
  local labels, widest = {}, 0
  for _, id in ipairs(ids) do
    local n = #id > 12 and 8 or #id
    local function shared()
      local prefix = id:sub(1, n)
      for _, other in ipairs(ids) do
        if other ~= id and other:sub(1, n) == prefix then return true end
      end
      return false
    end
    while n < #id and shared() do n = n + 1 end
    labels[id] = id:sub(1, n)
    widest = math.max(widest, #labels[id])
  end
  for id, label in pairs(labels) do labels[id] = pad(label, widest) end
  return labels
end

--- One line of text, without a trailing newline: time, the job (for events
-- that carry one), level, source, message (line breaks and tabs in the
-- message shown as `\n`, `\r`, `\t`).
-- @tparam table event `{ time, level, message, source, job? }`
-- @tparam[opt] table opts `color` (ANSI colours by level), `tz` (print times in
-- that zone: `"+08:00"`, `"Z"`, `"local"`, `"Asia/Shanghai"`; default: as the
-- server sent them), `jobs` (job id -> label, from `job_labels`)
function M.text(event, opts)
  local level, source, message = event.level or "", event.source or "", event.message or ""
  if message:find("[\n\r\t]") then message = message:gsub("[\n\r\t]", ESCAPES) end
  local t = event.time or ""
  if opts and opts.tz then t = shown_time(t, opts.tz) end
  local lv = LEVEL_PAD[level] or pad(level, 7)
  local src = SOURCE_PAD[source] or pad(source, 4)
  if event.job then
    t = t .. "  " .. (opts and opts.jobs and opts.jobs[event.job] or event.job)
  end
  if opts and opts.color then
    local c = COLORS[level] or ""
    return DIM .. t .. RESET .. "  " .. c .. lv .. (c ~= "" and RESET or "") .. "  " .. src .. "  " .. message
  end
  return t .. "  " .. lv .. "  " .. src .. "  " .. message
end

local encode = cjson.encode

--- One line of JSON with the keys in a stable order: time, job (where the
-- event has one), level, source, message.
-- @tparam table event
-- @tparam[opt] table opts `tz` as for `text`
function M.json(event, opts)
  local job = event.job and ',"job":' .. encode(event.job) or ""
  return '{"time":' .. encode(shown_time(event.time or "", opts and opts.tz)) .. job ..
    ',"level":' .. encode(event.level or "") .. ',"source":' .. encode(event.source or "") ..
    ',"message":' .. encode(event.message or "") .. "}"
end

--- The CSV header row (RFC 4180), without a line break.
-- @tparam[opt] table opts `job = true`: with a job column
function M.csv_header(opts)
  if opts and opts.job then return "time,job,level,source,message" end
  return "time,level,source,message"
end

local function csv_field(s)
  if s:find('[,"\r\n]') then return '"' .. s:gsub('"', '""') .. '"' end
  return s
end

--- One CSV row (RFC 4180: fields with a comma, quote or line break are quoted,
-- quotes doubled), without a line break.
-- @tparam table event
-- @tparam[opt] table opts `tz` as for `text`; `job = true`: with a job column
function M.csv(event, opts)
  local job = opts and opts.job and csv_field(event.job or "") .. "," or ""
  return csv_field(shown_time(event.time or "", opts and opts.tz)) .. "," .. job .. csv_field(event.level or "") ..
    "," .. csv_field(event.source or "") .. "," .. csv_field(event.message or "")
end

-- Width in characters of a UTF-8 string.
local function width(s)
  local _, n = s:gsub("[^\128-\191]", "")
  return n
end

--- Rows printed as soon as the first ones have fixed the column widths.
M.TABLE_LOOKAHEAD = 1000

--- An aligned table written as the events come: the first `lookahead` rows
-- are held to measure the columns, then written with everything after them.
-- A later cell wider than its column pushes the rest of its row right
-- (levels, sources, times and job labels have fixed widths in practice;
-- the message is last and never padded). Memory: at most `lookahead` rows.
-- @tparam function write called with each piece of text
-- @tparam[opt] table opts `tz`, `jobs` as for `text` (a JOB column when events
-- carry a job), `lookahead` (rows, default `TABLE_LOOKAHEAD`; `math.huge`
-- holds every row)
-- @return an object with `add(event)` and `finish()` (writes what is held;
-- an empty table is still a header)
function M.table_writer(write, opts)
  opts = opts or {}
  local lookahead = opts.lookahead or M.TABLE_LOOKAHEAD
  local held, widths = {}, nil
  local with_job = opts.jobs ~= nil
  local writer = {}

  local function row_of(ev)
    local message = ev.message or ""
    local cut = message:find("[\r\n]")
    if cut then message = message:sub(1, cut - 1) .. " …" end
    local job = ev.job and (opts.jobs and opts.jobs[ev.job] or ev.job) or ""
    return { shown_time(ev.time or "", opts.tz), job, ev.level or "", ev.source or "", message }
  end

  local function line(row)
    local cells = { row[1] .. string.rep(" ", widths[1] - width(row[1])) }
    if with_job then cells[#cells + 1] = row[2] .. string.rep(" ", widths[2] - width(row[2])) end
    for c = 3, 4 do cells[#cells + 1] = row[c] .. string.rep(" ", widths[c] - width(row[c])) end
    cells[#cells + 1] = row[5]
    return table.concat(cells, "  ") .. "\n"
  end

  local function flush()
    widths = { 4, 3, 5, 6 }
    for _, row in ipairs(held) do
      if row[2] ~= "" then with_job = true end
      for c = 1, 4 do widths[c] = math.max(widths[c], width(row[c])) end
    end
    local out = { line { "TIME", "JOB", "LEVEL", "SOURCE", "MESSAGE" } }
    for i, row in ipairs(held) do out[i + 1] = line(row) end
    held = nil
    write(table.concat(out))
  end

  function writer.add(ev)
    if widths then return write(line(row_of(ev))) end
    held[#held + 1] = row_of(ev)
    if #held >= lookahead then flush() end
  end

  function writer.finish()
    if not widths then flush() end
  end

  return writer
end

--- An aligned table of events, one string with a header row and a trailing
-- newline. A message holding a line break is cut there, marked with ` …`.
-- @tparam table events a list of events
-- @tparam[opt] table opts `tz`, `jobs` as for `text`
function M.table(events, opts)
  local out = {}
  local o = { tz = opts and opts.tz, jobs = opts and opts.jobs, lookahead = math.huge }
  local writer = M.table_writer(function(s) out[#out + 1] = s end, o)
  for _, ev in ipairs(events) do writer.add(ev) end
  writer.finish()
  return table.concat(out)
end

--- A summary built one event at a time, in bounded memory: counts, the time
-- span and the errors, of which the first and the last `keep_errors` are
-- kept (all of them when `keep_errors` is nil).
-- @tparam[opt] table opts `keep_errors`
-- @return an object with `add(event)` and `result()`; `result()` gives
-- `{ total, by_level, by_source, by_job (events with a job), first, last,
-- errors (kept Error events, in order), error_count, errors_omitted,
-- errors_before_gap }`: the `errors_omitted` errors not kept come after the
-- first `errors_before_gap` kept ones
function M.summarizer(opts)
  local keep = opts and opts.keep_errors
  local s = { total = 0, by_level = {}, by_source = {}, errors = {}, error_count = 0 }
  local first_ms, last_ms
  local ring, ring_next = {}, 1 -- the last `keep` errors past the first `keep`
  local self = {}

  function self.add(ev)
    s.total = s.total + 1
    local level = ev.level or ""
    s.by_level[level] = (s.by_level[level] or 0) + 1
    local source = ev.source or ""
    if source:upper() == "K8S" then source = "K8S" end
    s.by_source[source] = (s.by_source[source] or 0) + 1
    if ev.job then
      s.by_job = s.by_job or {}
      s.by_job[ev.job] = (s.by_job[ev.job] or 0) + 1
    end
    if level == "Error" then
      s.error_count = s.error_count + 1
      if not keep or #s.errors < keep then
        s.errors[#s.errors + 1] = ev
      elseif keep > 0 then
        ring[ring_next] = ev
        ring_next = ring_next % keep + 1
      end
    end
    local ms = ev.time and time.parse(ev.time)
    if ms then
      if not first_ms or ms < first_ms then first_ms, s.first = ms, ev.time end
      if not last_ms or ms > last_ms then last_ms, s.last = ms, ev.time end
    end
  end

  function self.result()
    local r = {}
    for k, v in pairs(s) do r[k] = v end
    local errors = {}
    for i, ev in ipairs(s.errors) do errors[i] = ev end
    local tail = {}
    for i = 0, #ring - 1 do tail[#tail + 1] = ring[(ring_next - 1 + i) % #ring + 1] end
    r.errors_omitted = s.error_count - #errors - #tail
    r.errors_before_gap = #errors
    for _, ev in ipairs(tail) do errors[#errors + 1] = ev end
    r.errors = errors
    return r
  end

  return self
end

--- Counts and span of a list of events.
-- @return `{ total, by_level = { Info = n, ... }, by_source = { K8S = n, ... },
-- first, last (time strings, earliest and latest), errors = { the Error events } }`
-- (and the fields of `summarizer`'s result)
function M.summary(events)
  local summarizer = M.summarizer()
  for _, ev in ipairs(events) do summarizer.add(ev) end
  return summarizer.result()
end

local function counts(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys)
  for i, k in ipairs(keys) do keys[i] = k .. " " .. t[k] end
  return table.concat(keys, ", ")
end

--- A short human text of a summary, several lines, with a trailing newline.
-- @tparam table s from `summary` or a `summarizer`
-- @tparam[opt] table opts `tz`, `jobs` as for `text`
function M.summary_text(s, opts)
  local tz = opts and opts.tz
  local error_count = s.error_count or #s.errors
  local lines = {
    string.format("events: %d", s.total),
    "by level: " .. (next(s.by_level) and counts(s.by_level) or "-"),
    "by source: " .. (next(s.by_source) and counts(s.by_source) or "-"),
  }
  if s.by_job then lines[#lines + 1] = "by job: " .. counts(s.by_job) end
  lines[#lines + 1] = string.format("span: %s .. %s", s.first and shown_time(s.first, tz) or "-",
    s.last and shown_time(s.last, tz) or "-")
  lines[#lines + 1] = string.format("errors: %d", error_count)
  local omitted = s.errors_omitted or 0
  for i, ev in ipairs(s.errors) do
    lines[#lines + 1] = "  " .. M.text(ev, opts)
    if omitted > 0 and i == s.errors_before_gap then
      lines[#lines + 1] = string.format("  … and %d more", omitted)
    end
  end
  return table.concat(lines, "\n") .. "\n"
end

--- The events as a timeline: one self-contained HTML document (see `modelarts_events.timeline`).
function M.html(events, opts) return require("modelarts_events.timeline").render(events, opts) end

return M
