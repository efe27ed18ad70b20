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

local M = {}

local floor, max, min, log = math.floor, math.max, math.min, math.log
local concat, sort = table.concat, table.sort
local find, gsub, match, format, byte = string.find, string.gsub, string.match, string.format, string.byte

-- Geometry, in CSS pixels.
local WIDTH = 1360             -- the SVG
local PLOT_X0, PLOT_X1 = 200, WIDTH - 150 -- room on the right for "Failed at 16:03:41"
local PLOT_W = PLOT_X1 - PLOT_X0
local AXIS_H, PHASE_H, ACTIVITY_H, LANE_H = 34, 26, 17, 24
local BIN = 6                  -- px of one density bin
local MARKS_PER_BIN = 2        -- more events than this in a bin of a lane: a band
local MAX_MARKS = 8000         -- beyond, fewer per bin (down to none): the file stays small
local LIST_ERRORS, LIST_WARNINGS = 600, 400 -- the list below the picture
local TITLE_CHARS = 600        -- a hover text shows at most this much of a message

local function fail(field, message)
  error(me.error("invalid_argument", message, { field = field }), 3)
end

---------------------------------------------------------------- text ----

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

-- Text made safe for HTML and SVG, in element content and in quoted attributes.
local function esc(s)
  s = valid_utf8(tostring(s))
  if find(s, CONTROL) then s = gsub(s, CONTROL, REPLACEMENT) end
  return (gsub(s, "[&<>\"']", ENTITIES))
end

-- A message cut to n characters (not bytes) for a hover text.
local function cut(s, n)
  if #s <= n then return s end
  local i = n
  while i > 1 and (byte(s, i + 1) or 0) >= 0x80 and (byte(s, i + 1) or 0) <= 0xBF do i = i - 1 end
  return s:sub(1, i) .. " …"
end

local function thousands(n)
  local sign, digits = format("%d", n):match("^(%-?)(%d+)$")
  return sign .. digits:reverse():gsub("(%d%d%d)", "%1,"):reverse():gsub("^,", "")
end

-- "1 error", "2,940 errors"
local function count(n, noun)
  return thousands(n) .. " " .. noun .. (n == 1 and "" or "s")
end

-- 27 s, 4 min 05 s, 14 min, 2 h 03 min, 3 d 04 h.
local function duration(ms)
  local s = floor(ms / 1000 + 0.5)
  if s < 60 then return s .. " s" end
  if s < 600 then return format("%d min %02d s", floor(s / 60), s % 60) end
  if s < 3600 then return floor(s / 60 + 0.5) .. " min" end
  local m = floor(s / 60 + 0.5)
  if m < 1440 then return format("%d h %02d min", floor(m / 60), m % 60) end
  local h = floor(m / 60 + 0.5)
  return format("%d d %02d h", floor(h / 24), h % 24)
end

---------------------------------------------------------------- time ----

-- The UTC offset (ms) that time.iso prints for an instant in a zone.
local function zone_offset(ms, tz)
  local text = time.iso(ms, tz)
  if not text then return nil end
  if text:sub(-1) == "Z" then return 0 end
  local sign, h, m = text:match("([+-])(%d%d):?(%d%d)$")
  local off = (tonumber(h) * 60 + tonumber(m)) * 60000
  return sign == "-" and -off or off
end

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
local LEVEL_CLASS = { Error = "e", Warning = "w", Info = "i" }

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
        if ms and ms ~= ms then ms = nil end
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
    -- nearly always in time order already (a merge or a descending read
    -- are not): sort only when needed, stably
    local sorted = true
    for k = 2, #ms do if ms[k] < ms[k - 1] then sorted = false break end end
    if not sorted then
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
.lane{font-size:12.5px;fill:#2a303b}.lane.k{fill:#6b7280}
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

-- The mark of one event: a circle for Info, a triangle for Warning, a
-- diamond with a dark outline for Error, a square for anything else; so
-- the level reads also without colour.
local function mark_path(cls, x, y, extra)
  local class = "m " .. cls .. (extra or "")
  if cls == "i" then return format('<circle class="%s" cx="%.1f" cy="%.1f" r="4">', class, x, y), "</circle>" end
  if cls == "w" then
    return format('<path class="%s" d="M%.1f %.1fl5.5 9.5h-11z">', class, x, y - 6), "</path>"
  end
  if cls == "e" then
    return format('<path class="%s" d="M%.1f %.1fl6.5 6.5l-6.5 6.5l-6.5-6.5z">', class, x, y - 6.5), "</path>"
  end
  return format('<rect class="%s" x="%.1f" y="%.1f" width="8" height="8">', class, x - 4, y - 4), "</rect>"
end

local function legend()
  local out = { '<div class="legend">' }
  for _, l in ipairs { { "i", "Info" }, { "w", "Warning" }, { "e", "Error" } } do
    local open, close = mark_path(l[1], 9, 9, " key") -- "m i key": no event's mark
    out[#out + 1] = '<span><svg width="18" height="18" aria-hidden="true">' .. open .. close .. "</svg> " .. l[2] .. "</span>"
  end
  out[#out + 1] = '<span><svg width="34" height="18" aria-hidden="true"><g class="band"><rect class="bg" x="0" y="2" width="34" height="14"/>' ..
    '<path class="h" d="M0 16V10H6V6H12V3H18V8H24V12H34V16z"/><path class="bw" d="M12 11h6v3h-6z"/>' ..
    '<path class="be" d="M12 14h6v2h-6zM24 13h6v3h-6z"/></g></svg> many events: a density band, errors at its foot (hover: counts)</span>'
  out[#out + 1] = "</div>"
  return concat(out)
end

-- Picks tick spacing so that labels stand at least ~95 px apart.
local STEPS = { 1e3, 2e3, 5e3, 1e4, 15e3, 3e4, 6e4, 12e4, 3e5, 6e5, 9e5, 18e5, 36e5, 72e5, 108e5, 216e5, 432e5,
                864e5, 1728e5, 6048e5, 12096e5, 2592e6 }

local function axis(out, view, y, height)
  local step = STEPS[#STEPS]
  for _, s in ipairs(STEPS) do
    if s * view.scale >= 95 then step = s break end
  end
  local off = zone_offset(view.t0, view.tz) or 0
  local first = (floor((view.t0 + off) / step) + 1) * step - off
  local last_day
  out[#out + 1] = '<g class="ax">'
  for t = first, view.t1, step do
    local x = view.x(t)
    local iso = time.iso(t, view.tz) or time.iso(t)
    local day = iso:sub(1, 10)
    local label = step < 6e4 and iso:sub(12, 19) or iso:sub(12, 16)
    if step >= 864e5 then label = iso:sub(6, 10) end
    out[#out + 1] = format('<line class="grid" x1="%.1f" x2="%.1f" y1="%d" y2="%d"/>', x, x, y + 20, y + height)
    out[#out + 1] = format('<text x="%.1f" y="%d" text-anchor="middle">%s</text>', x, y + 14, label)
    if day ~= last_day and step < 864e5 then
      out[#out + 1] = format('<text class="d" x="%.1f" y="%d" text-anchor="middle">%s</text>', x, y + 2, day)
      last_day = day
    end
  end
  out[#out + 1] = format('<text x="%d" y="%d" text-anchor="end">%s</text>', PLOT_X0 - 12, y + 14, esc(view.tz_label))
  out[#out + 1] = "</g>"
end

-- Hover text of one event: time, level, source, then the message.
local function event_title(ev, ms, view)
  local message = type(ev.message) == "string" and ev.message or ""
  return esc((time.iso(ms, view.tz) or tostring(ev.time)) .. " · " .. tostring(ev.level or "?") .. " · " ..
    tostring(ev.source or "?") .. "\n" .. cut(message, TITLE_CHARS))
end

-- One lane: a mark per event where they can be told apart, density bands
-- where they cannot. A band is a histogram of its bins (log height, one
-- scale for the whole picture), each bar split into its errors (dark red,
-- at the foot), warnings (amber) and the rest.
local function draw_lane(out, job, lane, y, view, counts)
  local idx, ms, events = lane.idx, job.ms, job.events
  local per_bin = lane.bins
  local cy = y + LANE_H / 2
  local marks = { {}, {}, {}, {} } -- drawn Info first, errors last: on top
  local top, bottom = y + 3, y + LANE_H - 3
  local full = bottom - top
  local band -- the band being built
  local function close_band()
    if not band then return end
    local h, e, w = { format("M%d %.1f", band.b0 * BIN, bottom) }, {}, {}
    for b = band.b0, band.b1 do
      local c = per_bin[b] or 0
      local hh = c > 0 and max(2, full * log(1 + c) / log(1 + view.max_bin)) or 0
      h[#h + 1] = format("V%.1fH%d", bottom - hh, (b + 1) * BIN)
      local ne, nw = band.e[b] or 0, band.w[b] or 0
      local he = ne > 0 and min(hh, max(2.5, hh * ne / c)) or 0
      local hw = nw > 0 and min(hh - he, max(1.5, hh * nw / c)) or 0
      if he > 0 then e[#e + 1] = format("M%d %.1fh%dv%.1fh-%dz", b * BIN, bottom - he, BIN, he, BIN) end
      if hw > 0 then w[#w + 1] = format("M%d %.1fh%dv%.1fh-%dz", b * BIN, bottom - he - hw, BIN, hw, BIN) end
    end
    h[#h + 1] = format("V%.1fz", bottom)
    local levels = {}
    for _, l in ipairs { "Error", "Warning", "Info" } do
      if band.levels[l] then levels[#levels + 1] = thousands(band.levels[l]) .. " " .. l end
    end
    for l, c in pairs(band.levels) do
      if l ~= "Error" and l ~= "Warning" and l ~= "Info" then levels[#levels + 1] = thousands(c) .. " " .. esc(l) end
    end
    local title = format("%s of %s, %s – %s (%s): %s", count(band.count, "event"), esc(lane.label),
      time.iso(band.from, view.tz), time.iso(band.to, view.tz), duration(band.to - band.from), concat(levels, ", "))
    if band.first_error then
      title = title .. "\nfirst error: " .. event_title(band.first_error, band.first_error_ms, view)
    end
    out[#out + 1] = format('<g class="band" data-count="%d" data-errors="%d"><title>%s</title>', band.count,
      band.levels.Error or 0, title)
    out[#out + 1] = format('<rect class="bg" x="%d" y="%d" width="%d" height="%d"/>', band.b0 * BIN, top,
      (band.b1 - band.b0 + 1) * BIN, full)
    out[#out + 1] = '<path class="h" d="' .. concat(h) .. '"/>'
    if #w > 0 then out[#out + 1] = '<path class="bw" d="' .. concat(w) .. '"/>' end
    if #e > 0 then out[#out + 1] = '<path class="be" d="' .. concat(e) .. '"/>' end
    out[#out + 1] = "</g>"
    counts.banded = counts.banded + band.count
    band = nil
  end
  for k = 1, #idx do
    local i = idx[k]
    local ev, t = events[i], ms[i]
    local x = view.x(t)
    local b = floor(x / BIN)
    local level = ev.level
    if per_bin[b] > view.marks_per_bin then
      if band and b > band.b1 + 1 then close_band() end
      if not band then
        band = { b0 = b, b1 = b, count = 0, levels = {}, e = {}, w = {}, from = t, to = t }
      end
      band.b1, band.to, band.count = b, t, band.count + 1
      local lv = type(level) == "string" and level or "?"
      band.levels[lv] = (band.levels[lv] or 0) + 1
      if level == "Error" then
        band.e[b] = (band.e[b] or 0) + 1
        if not band.first_error then band.first_error, band.first_error_ms = ev, t end
      elseif level == "Warning" then
        band.w[b] = (band.w[b] or 0) + 1
      end
    else
      if band and b > band.b1 then close_band() end
      local cls = LEVEL_CLASS[level] or "o"
      local open, close = mark_path(cls, x, cy)
      local layer = marks[cls == "i" and 1 or cls == "o" and 2 or cls == "w" and 3 or 4]
      layer[#layer + 1] = open .. "<title>" .. event_title(ev, t, view) .. "</title>" .. close
      counts.marked = counts.marked + 1
    end
  end
  close_band()
  for _, layer in ipairs(marks) do out[#out + 1] = concat(layer) end
end

local function text_width(s, px)
  local _, chars = gsub(s, "[^\128-\191]", "")
  return chars * px * 0.58
end

-- A job's stages: the phases as labelled spans with durations, the
-- activities beneath, the end as a line through every lane.
local function draw_stages(out, job, info, y, view, lanes_bottom)
  local spans = stages.spans(info, job.last)
  for _, s in ipairs(spans) do
    local x0, x1 = view.x(s.from), view.x(s.to)
    local w = max(x1 - x0, 2)
    local long = s.label .. " " .. duration(s.to - s.from) .. (s.open and " …" or "")
    out[#out + 1] = format('<g><title>%s: %s – %s, %s%s</title><rect class="ph %s%s" x="%.1f" y="%d" width="%.1f" height="%d"/>',
      s.label, time.iso(s.from, view.tz), time.iso(s.to, view.tz), duration(s.to - s.from),
      s.open and " (no later stage seen)" or "", s.key, s.open and " open" or "", x0, y, w, PHASE_H - 4)
    local short = duration(s.to - s.from)
    if text_width(long, 12) + 8 <= w then
      out[#out + 1] = format('<text class="phl" x="%.1f" y="%d">%s</text>', x0 + 4, y + 15, esc(long))
    elseif text_width(short, 12) + 6 <= w then
      out[#out + 1] = format('<text class="phl s" x="%.1f" y="%d" text-anchor="middle">%s</text>', (x0 + x1) / 2, y + 15, short)
    end
    out[#out + 1] = "</g>"
  end
  local rows = {} -- greedy packing: an activity goes in the first row it fits
  local ay = (#spans > 0 or info.ending) and y + PHASE_H or y
  for _, a in ipairs(info.activities) do
    local x0, x1 = view.x(a.from), max(view.x(a.to), view.x(a.from) + 2)
    local label = a.label .. " " .. duration(a.to - a.from)
    local right = max(x1, x0 + text_width(label, 11) + 6)
    local row = 1
    while rows[row] and rows[row] > x0 - 4 do row = row + 1 end
    rows[row] = right
    local ry = ay + (row - 1) * ACTIVITY_H
    out[#out + 1] = format('<g><title>%s: %s – %s, %s</title><rect class="act" x="%.1f" y="%d" width="%.1f" height="5"/>' ..
      '<text class="actl" x="%.1f" y="%d">%s</text></g>', a.label, time.iso(a.from, view.tz), time.iso(a.to, view.tz),
      duration(a.to - a.from), x0, ry + 1, x1 - x0, x0, ry + 15, esc(label))
  end
  if info.ending then
    local e = info.ending
    local x = view.x(e.ms)
    local label = e.label .. " at " .. (time.iso(e.ms, view.tz) or ""):sub(12, 19)
    local anchor = x + text_width(label, 12.5) + 6 > WIDTH and "end" or "start"
    out[#out + 1] = format('<g><title>%s</title><line class="end %s" x1="%.1f" x2="%.1f" y1="%d" y2="%d"/>' ..
      '<text class="endl %s" x="%.1f" y="%d" text-anchor="%s">%s</text></g>', event_title(e.event, e.ms, view),
      e.key, x, x, y - 2, lanes_bottom, e.key, anchor == "end" and x - 5 or x + 5, y + 15, anchor, esc(label))
  end
end

local function rows_of(info)
  local rows, right = 0, {}
  for _, a in ipairs(info.activities) do
    local row = 1
    while right[row] and right[row] > a.from do row = row + 1 end
    right[row] = a.to
    rows = max(rows, row)
  end
  return rows
end

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
  out[#out + 1] = format(". %s, %s, %s.", count(#job.events, "event"), count(job.errors, "error"),
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
  for _, job in ipairs(jobs) do
    local taken = { Error = 0, Warning = 0 }
    for i, ev in ipairs(job.events) do
      local l = ev.level
      if (l == "Error" or l == "Warning") and shown[l] < cap[l] then
        shown[l], taken[l] = shown[l] + 1, taken[l] + 1
        picked[#picked + 1] = { ev = ev, ms = job.ms[i], job = job.id }
      end
    end
  end
  sort(picked, function(a, b) return a.ms < b.ms end)
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
  local pad = max((t1 - t0) * 0.015, 1000)
  local view = { t0 = t0 - pad, t1 = t1 + pad, tz = tz }
  view.scale = PLOT_W / (view.t1 - view.t0)
  view.x = function(ms) return PLOT_X0 + (ms - view.t0) * view.scale end
  view.tz_label = "times in " .. (tz == "Z" and "UTC" or tz)
  -- events per bin of each lane; the busiest bin sets the height scale of
  -- every band, and the marks a threshold would draw decide the threshold
  view.max_bin = 1
  local marks_at = {} -- marks_at[n]: events in bins holding n of them
  for _, job in ipairs(jobs) do
    for _, lane in ipairs(job.lanes) do
      local bins = {}
      for _, i in ipairs(lane.idx) do
        local b = floor(view.x(job.ms[i]) / BIN)
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
  head[#head + 1] = legend()
  local body = {}
  local counts = { marked = 0, banded = 0 }
  for _, job in ipairs(jobs) do
    local info = stages.read(job.events, job.ms)
    if #jobs > 1 or job.id ~= "" then body[#body + 1] = "<h2>" .. esc(job.id ~= "" and job.id or "(no job)") .. "</h2>" end
    body[#body + 1] = '<p class="verdict">' .. verdict(job, info, view) .. "</p>"
    local stage_h = (#info.phases > 0 or info.ending) and (PHASE_H + rows_of(info) * ACTIVITY_H + 6) or
      (#info.activities > 0 and rows_of(info) * ACTIVITY_H + 6 or 0)
    local lanes_y = AXIS_H + stage_h
    local height = lanes_y + #job.lanes * LANE_H + 6
    local svg = { format('<svg width="%d" height="%d" viewBox="0 0 %d %d" role="img">',
      WIDTH, height, WIDTH, height) }
    axis(svg, view, 8, height - 6)
    for k, lane in ipairs(job.lanes) do
      local y = lanes_y + (k - 1) * LANE_H
      lane.label = lane.worker and (lane.worker .. " · " .. lane.source) or lane.source
      if k % 2 == 1 then
        svg[#svg + 1] = format('<rect class="lanebg" x="0" y="%d" width="%d" height="%d"/>', y, WIDTH, LANE_H)
      end
      svg[#svg + 1] = format('<text class="lane%s" x="%d" y="%d" text-anchor="end">%s <tspan class="k">(%s)</tspan></text>',
        lane.worker and "" or "", PLOT_X0 - 12, y + 15, esc(lane.label), thousands(#lane.idx))
    end
    for k, lane in ipairs(job.lanes) do draw_lane(svg, job, lane, lanes_y + (k - 1) * LANE_H, view, counts) end
    draw_stages(svg, job, info, AXIS_H, view, height - 6)
    svg[#svg + 1] = "</svg>"
    body[#body + 1] = concat(svg)
  end
  -- every drawn event is a mark or counted by a band: say so where a test can read it
  head[#head + 1] = format('<div class="drawn" data-events="%d" data-marks="%d" data-banded="%d" data-untimed="%d"></div>',
    total, counts.marked, counts.banded, #untimed)
  return concat(head) .. concat(body) .. issue_list(jobs, view) .. untimed_list(untimed) ..
    "<p class=\"more\">Made by modelarts-events. Hover a mark for its event, a band for its counts.</p></body></html>\n"
end

return M
