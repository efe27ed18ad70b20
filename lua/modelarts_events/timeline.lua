--- A job's events as a timeline: one self-contained HTML document (inline
-- SVG and CSS, nothing fetched, no script) that `format.html` returns.
--
-- Time runs across; each job has a row of its stages (queued, running, ...)
-- with their durations, then one lane per source and worker. An event is a
-- mark shaped and coloured by its level, its time, level, source and message
-- on hover; where a lane holds more events than can be told apart, they are
-- drawn as a density band whose hover text counts them. The errors and
-- warnings are listed below the picture.
-- @module modelarts_events.timeline

local me = require "modelarts_events"
local time = require "modelarts_events.time"
local stages = require "modelarts_events.stages"
local html = require "modelarts_events.html"
local svg = require "modelarts_events.svg"

local M = {}

local floor, max, min = math.floor, math.max, math.min
local concat, sort = table.concat, table.sort
local find, match, format, byte = string.find, string.match, string.format, string.byte

local MARKS_PER_BIN = 2        -- more events than this in a bin of a lane: a band
local MAX_MARKS = 8000         -- beyond, fewer per bin (down to none): the file stays small
local LIST_ERRORS, LIST_WARNINGS = 600, 400 -- the list below the picture
local MIN_MS, MAX_MS = -62167219200000, 253402300799999 -- years 0000..9999, as filter.compile takes
local esc, thousands, count, duration = html.escape, html.thousands, html.count, html.duration
local LEVEL_CLASS = svg.LEVEL_CLASS

local function fail(field, message)
  error(me.error("invalid_argument", message, { field = field }), 3)
end

---------------------------------------------------------------- time ----

-- The zone the server wrote an event time in ("+08:00"), to show times as they came.
local function zone_of(text)
  if type(text) ~= "string" then return nil end
  if find(text, "[Zz]$") then return "Z" end
  local sign, h, m = match(text, "([+-])(%d%d):?(%d%d)$")
  return sign and (sign .. h .. ":" .. m) or nil
end

---------------------------------------------------------------- lanes ---

--- The worker a message is about: `worker-0` for the training's own lines
-- (`[worker-0] ...`) and for Kubernetes' lines about its pod
-- (`[Pod: modelarts-job-...-worker-0] ...`); nil for any other message.
-- @tparam string message
-- @treturn ?string
function M.worker_of(message)
  if type(message) ~= "string" or byte(message, 1) ~= 91 then return nil end
  return match(message, "^%[(%a[%w_]*%-%d+)%]") or match(message, "^%[Pod: [^%]]-%-(%a[%w_]*%-%d+)%]")
end

local SOURCE_ORDER = { Job = 1, K8S = 2, Task = 3 }

local function source_name(source)
  if type(source) ~= "string" or source == "" then return "?" end
  local up = source:upper()
  if up == "K8S" then return "K8S" end
  if up == "JOB" then return "Job" end
  if up == "TASK" then return "Task" end
  return source
end

-- Lanes of a job in reading order: the job's own lines, the cluster's,
-- then each worker's (numerically), its pod's lines before its own.
local function lane_before(a, b)
  if (a.worker == nil) ~= (b.worker == nil) then return a.worker == nil end
  if a.worker ~= b.worker then
    local an, ai = a.worker:match("^(.-)(%d+)$")
    local bn, bi = b.worker:match("^(.-)(%d+)$")
    if an ~= bn then return an < bn end
    return tonumber(ai) < tonumber(bi)
  end
  local ao, bo = SOURCE_ORDER[a.source] or 9, SOURCE_ORDER[b.source] or 9
  if ao ~= bo then return ao < bo end
  return a.source < b.source
end

------------------------------------------------------------ the model ---

-- Events grouped by job (in time order), then by lane, with their times in ms.
local function group(events)
  local jobs, by_id, untimed = {}, {}, {}
  local t0, t1, zone
  local parse = time.parse
  local last_text, last_ms
  for i = 1, #events do
    local ev = events[i]
    if type(ev) == "table" then
      local text, ms = ev.time, nil
      if text == last_text then
        ms = last_ms
      elseif type(text) == "string" or type(text) == "number" then
        ms = parse(text)
        if ms and not (ms >= MIN_MS and ms <= MAX_MS) then ms = nil end -- NaN, 1e300: no time to draw
        last_text, last_ms = text, ms
      end
      if ms then
        zone = zone or zone_of(text)
        if not t0 or ms < t0 then t0 = ms end
        if not t1 or ms > t1 then t1 = ms end
        local id = ev.job ~= nil and tostring(ev.job) or ""
        local job = by_id[id]
        if not job then
          job = { id = id, events = {}, ms = {}, errors = 0, warnings = 0, first = ms, last = ms }
          by_id[id] = job
          jobs[#jobs + 1] = job
        end
        local n = #job.events + 1
        job.events[n], job.ms[n] = ev, ms
        if ms < job.first then job.first = ms end
        if ms > job.last then job.last = ms end
        if ev.level == "Error" then
          job.errors = job.errors + 1
        elseif ev.level == "Warning" then
          job.warnings = job.warnings + 1
        end
      else
        untimed[#untimed + 1] = ev
      end
    end
  end
  for _, job in ipairs(jobs) do
    local ms, evs = job.ms, job.events
    -- nearly always in time order already, or in the reverse order of a
    -- descending read, whose events of one second are then newest first
    -- too: reversed, they read in the order they happened. Anything else is
    -- sorted, stably.
    local ascending, descending = true, true
    for k = 2, #ms do
      if ms[k] < ms[k - 1] then ascending = false elseif ms[k] > ms[k - 1] then descending = false end
    end
    if descending and not ascending then
      local n = #ms
      for k = 1, floor(n / 2) do
        evs[k], evs[n + 1 - k], ms[k], ms[n + 1 - k] = evs[n + 1 - k], evs[k], ms[n + 1 - k], ms[k]
      end
    elseif not ascending then
      local order = {}
      for k = 1, #ms do order[k] = k end
      sort(order, function(a, b) if ms[a] ~= ms[b] then return ms[a] < ms[b] end return a < b end)
      local e2, m2 = {}, {}
      for k, o in ipairs(order) do e2[k], m2[k] = evs[o], ms[o] end
      job.events, job.ms, evs = e2, m2, e2
    end
    local lanes, by_key = {}, {}
    for k = 1, #evs do
      local ev = evs[k]
      local source, worker = source_name(ev.source), M.worker_of(ev.message)
      local key = worker and (source .. "\0" .. worker) or source
      local lane = by_key[key]
      if not lane then
        lane = { source = source, worker = worker, idx = {} }
        by_key[key] = lane
        lanes[#lanes + 1] = lane
      end
      lane.idx[#lane.idx + 1] = k
    end
    sort(lanes, lane_before)
    job.lanes = lanes
  end
  return jobs, untimed, t0, t1, zone
end

---------------------------------------------------------- the drawing ---

local CSS = [[
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans","Noto Sans CJK SC",sans-serif;
color:#1d2330;background:#fff;margin:16px 20px;min-width:1380px}
h1{font-size:20px;margin:0 0 2px}h2{font-size:16px;margin:18px 0 2px}
.meta{color:#5a6270;margin:0 0 6px}
.verdict{font-size:15px;margin:2px 0 6px}.verdict b.e{color:#b3001b}.verdict b.ok{color:#1b6e2b}
.legend{display:flex;gap:18px;align-items:center;color:#5a6270;font-size:13px;margin:6px 0}
.legend svg{vertical-align:middle}
svg text{font-family:inherit}
.ax{font-size:12px;fill:#3c4350}.ax .d{font-weight:600}.grid{stroke:#e3e6eb;stroke-width:1}
.lane{font-size:12.5px;fill:#2a303b}.lane .k{fill:#6b7280}
.lanebg{fill:#f6f7f9}
.m.i{fill:#4e79a7;stroke:#fff;stroke-width:.8}
.m.w{fill:#f2b21b;stroke:#5c4100;stroke-width:1.2}
.m.e{fill:#d62728;stroke:#2b0005;stroke-width:1.5}
.m.o{fill:#8c8c8c;stroke:#333;stroke-width:1}
.m:hover{stroke:#000;stroke-width:2.5}
.band .bg{fill:#e6ebf2}.band .h{fill:#8fa9cc}.band .be{fill:#a50f15}.band .bw{fill:#f0a818}
.band:hover .bg{fill:#cdd8e8}
.ph{stroke:#fff;stroke-width:1}.ph.created{fill:#c6d4e3}.ph.queued{fill:#f5d9a8}.ph.initializing{fill:#d8cfe9}
.ph.running{fill:#a8d5a2}.ph.finishing{fill:#cfe3d3}.ph.open{fill-opacity:.55}
.phl{font-size:12px;fill:#1d2330;font-weight:600}.phl.s{font-weight:400}
.act{fill:#b9c4d3}.actl{font-size:11px;fill:#3c4350}
.end{stroke-width:2}.end.failed,.end.abnormal{stroke:#b3001b}.end.completed{stroke:#1b6e2b}.end.terminated{stroke:#6b4e00}
.endl{font-size:12.5px;font-weight:700}.endl.failed,.endl.abnormal{fill:#b3001b}.endl.completed{fill:#1b6e2b}
.endl.terminated{fill:#6b4e00}
table{border-collapse:collapse;margin-top:4px;font-size:13px}
td,th{border-bottom:1px solid #e3e6eb;padding:3px 10px 3px 0;text-align:left;vertical-align:top}
td.msg{white-space:pre-wrap;word-break:break-word;max-width:900px}
tr.e td.lv{color:#b3001b;font-weight:700}tr.w td.lv{color:#8a5a00;font-weight:700}
.more{color:#5a6270}
]]

-- "Failed at 16:03:41 after 2 min 05 s: queued 27 s, ran 1 min 02 s."
local function verdict(job, info, view)
  local parts, spans = {}, stages.spans(info, job.last)
  local d = {}
  for _, s in ipairs(spans) do d[s.key] = s.to - s.from end
  local out = {}
  if info.ending then
    local e = info.ending
    local cls = (e.key == "completed") and "ok" or "e"
    out[#out + 1] = format('<b class="%s">%s at %s</b>', cls, e.label, time.iso(e.ms, view.tz):sub(12, 19))
    local start = spans[1] and spans[1].from or job.first
    out[#out + 1] = " after " .. duration(e.ms - start)
  elseif #spans > 0 then
    out[#out + 1] = "<b>" .. spans[#spans].label .. "</b> (no end seen) after " .. duration(job.last - spans[1].from)
  else
    out[#out + 1] = "No stage events; events span " .. duration(job.last - job.first)
  end
  if d.queued then parts[#parts + 1] = "queued " .. duration(d.queued) end
  if d.initializing then parts[#parts + 1] = "initializing " .. duration(d.initializing) end
  if d.running then parts[#parts + 1] = "ran " .. duration(d.running) end
  if info.exit_code then parts[#parts + 1] = "exit code " .. esc(info.exit_code) end
  if d.finishing then parts[#parts + 1] = "wrapping up " .. duration(d.finishing) end
  if #parts > 0 then out[#out + 1] = ": " .. concat(parts, ", ") end
  local first_error = ""
  for i, ev in ipairs(job.events) do
    if ev.level == "Error" then
      first_error = " (the first at " .. time.iso(job.ms[i], view.tz):sub(12, 19) .. ")"
      break
    end
  end
  out[#out + 1] = format(". %s, %s%s, %s.", count(#job.events, "event"), count(job.errors, "error"), first_error,
    count(job.warnings, "warning"))
  return concat(out)
end

-- The errors and warnings of every job, in time order, the first few
-- hundred of each; the rest counted.
local function issue_list(jobs, view)
  local picked, shown = {}, { Error = 0, Warning = 0 }
  local total = { Error = 0, Warning = 0 }
  local cap = { Error = LIST_ERRORS, Warning = LIST_WARNINGS }
  for _, job in ipairs(jobs) do
    total.Error, total.Warning = total.Error + job.errors, total.Warning + job.warnings
  end
  -- what one kind leaves unused, the other may take
  if total.Error < cap.Error then cap.Warning = cap.Warning + cap.Error - total.Error end
  if total.Warning < cap.Warning then cap.Error = cap.Error + max(0, cap.Warning - total.Warning) end
  local all = {}
  for _, job in ipairs(jobs) do
    for i, ev in ipairs(job.events) do
      if ev.level == "Error" or ev.level == "Warning" then
        all[#all + 1] = { ev = ev, ms = job.ms[i], job = job.id, n = #all + 1 }
      end
    end
  end
  -- the earliest of every job together (each job's own are in time order)
  sort(all, function(a, b) if a.ms ~= b.ms then return a.ms < b.ms end return a.n < b.n end)
  for _, p in ipairs(all) do
    local l = p.ev.level
    if shown[l] < cap[l] then
      shown[l] = shown[l] + 1
      picked[#picked + 1] = p
    end
  end
  local several = #jobs > 1
  local out = { format('<section class="issues"><h2>Errors and warnings (%s, %s)</h2>',
    count(total.Error, "error"), count(total.Warning, "warning")) }
  if #picked == 0 then
    out[#out + 1] = '<p class="more">None.</p></section>'
    return concat(out)
  end
  out[#out + 1] = "<table><tr><th>time</th><th>level</th><th>source</th>" .. (several and "<th>job</th>" or "") ..
    "<th>message</th></tr>"
  for _, p in ipairs(picked) do
    local ev = p.ev
    out[#out + 1] = format('<tr class="%s"><td>%s</td><td class="lv">%s</td><td>%s</td>%s<td class="msg">%s</td></tr>',
      LEVEL_CLASS[ev.level], time.iso(p.ms, view.tz), ev.level, esc(ev.source or "?"),
      several and ("<td>" .. esc(p.job) .. "</td>") or "", esc(type(ev.message) == "string" and ev.message or ""))
  end
  out[#out + 1] = "</table>"
  local more_e, more_w = total.Error - shown.Error, total.Warning - shown.Warning
  if more_e + more_w > 0 then
    out[#out + 1] = format('<p class="more">Not listed: %s more %s and %s more %s (the timeline counts them).</p>',
      thousands(more_e), more_e == 1 and "error" or "errors", thousands(more_w), more_w == 1 and "warning" or "warnings")
  end
  out[#out + 1] = "</section>"
  return concat(out)
end

local function untimed_list(untimed)
  if #untimed == 0 then return "" end
  local out = { format('<section class="untimed"><h2>%s without a readable time (not drawn)</h2><table>',
    count(#untimed, "event")) }
  for i = 1, min(#untimed, 100) do
    local ev = untimed[i]
    out[#out + 1] = format("<tr><td>%s</td><td>%s</td><td>%s</td><td class=\"msg\">%s</td></tr>", esc(ev.time or ""),
      esc(ev.level or ""), esc(ev.source or ""), esc(type(ev.message) == "string" and ev.message or ""))
  end
  out[#out + 1] = "</table></section>"
  return concat(out)
end

--- Render events as one self-contained HTML document.
-- @tparam table events a list of events (`{ time, level, source, message }`,
-- optionally `job`: one lane group per job); any order
-- @tparam[opt] table opts `title` (the document's title), `tz` (times shown
-- in that zone, as `time.iso` takes it; default: the zone of the events' own
-- times)
-- @treturn string the document
-- @raise an `invalid_argument` error object for a bad `events` or `opts`
function M.render(events, opts)
  if type(events) ~= "table" then fail("events", "format.html expects a list of events") end
  if opts ~= nil and type(opts) ~= "table" then fail("opts", "format.html options must be a table") end
  opts = opts or {}
  if opts.title ~= nil and type(opts.title) ~= "string" then fail("title", "title must be a string") end
  if opts.tz ~= nil and (type(opts.tz) ~= "string" or not time.iso(0, opts.tz)) then
    fail("tz", "tz must be a zone time.iso knows, like +08:00, Z, utc or local")
  end
  local jobs, untimed, t0, t1, zone = group(events)
  local tz = opts.tz or zone or "Z"
  local title = opts.title or (#jobs == 1 and jobs[1].id ~= "" and ("Events of " .. jobs[1].id)) or
    "Training job events"
  local total = #untimed -- the events: every table in the list
  for _, job in ipairs(jobs) do total = total + #job.events end
  local head = {
    "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">",
    -- nothing may be fetched: no script, font, image, style sheet or frame
    "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; " ..
      "base-uri 'none'; form-action 'none'\">",
    "<meta name=\"generator\" content=\"modelarts-events\">",
    "<title>" .. esc(title) .. "</title><style>" .. CSS .. "</style></head><body>",
    "<h1>" .. esc(title) .. "</h1>",
  }
  if not t0 then
    head[#head + 1] = format('<p class="meta">%s, none with a readable time: nothing to draw.</p>', count(total, "event"))
    head[#head + 1] = untimed_list(untimed)
    head[#head + 1] = "</body></html>\n"
    return concat(head)
  end
  local view = svg.view(t0, t1, tz)
  -- events per bin of each lane; the busiest bin sets the height scale of
  -- every band, and the marks a threshold would draw decide the threshold
  view.max_bin = 1
  local marks_at = {} -- marks_at[n]: events in bins holding n of them
  for _, job in ipairs(jobs) do
    for _, lane in ipairs(job.lanes) do
      local bins = {}
      for _, i in ipairs(lane.idx) do
        local b = view.bin(job.ms[i])
        bins[b] = (bins[b] or 0) + 1
      end
      for _, n in pairs(bins) do
        if n > view.max_bin then view.max_bin = n end
        if n <= MARKS_PER_BIN then marks_at[n] = (marks_at[n] or 0) + n end
      end
      lane.bins = bins
    end
  end
  view.marks_per_bin = MARKS_PER_BIN
  local function marks_with(limit)
    local n = 0
    for k = 1, limit do n = n + (marks_at[k] or 0) end
    return n
  end
  while view.marks_per_bin > 0 and marks_with(view.marks_per_bin) > MAX_MARKS do
    view.marks_per_bin = view.marks_per_bin - 1
  end
  head[#head + 1] = format('<p class="meta">%s, %s – %s (%s), %s.</p>', count(total, "event"),
    time.iso(t0, tz), time.iso(t1, tz), duration(t1 - t0), esc(view.tz_label))
  head[#head + 1] = svg.legend()
  local body = {}
  local counts = { marked = 0, banded = 0 }
  for _, job in ipairs(jobs) do
    local info = stages.read(job.events, job.ms)
    if #jobs > 1 or job.id ~= "" then body[#body + 1] = "<h2>" .. esc(job.id ~= "" and job.id or "(no job)") .. "</h2>" end
    body[#body + 1] = '<p class="verdict">' .. verdict(job, info, view) .. "</p>"
    body[#body + 1] = svg.job(job, info, view, counts)
  end
  -- every drawn event is a mark or counted by a band: say so where a test can read it
  head[#head + 1] = format('<div class="drawn" data-events="%d" data-marks="%d" data-banded="%d" data-untimed="%d"></div>',
    total, counts.marked, counts.banded, #untimed)
  return concat(head) .. concat(body) .. issue_list(jobs, view) .. untimed_list(untimed) ..
    "<p class=\"more\">Made by modelarts-events. Hover a mark for its event, a band for its counts.</p></body></html>\n"
end

return M
