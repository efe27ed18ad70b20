--- Drawing a timeline in SVG: the time axis, lanes of marks and density
-- bands, and a job's stages. `modelarts_events.timeline` lays the document
-- out and calls these with a view: `{ t0, t1, tz, tz_label, scale, x(ms),
-- max_bin, marks_per_bin }`.
-- @module modelarts_events.svg

local time = require "modelarts_events.time"
local html = require "modelarts_events.html"
local stages = require "modelarts_events.stages"

local M = {}

local floor, max, min, log = math.floor, math.max, math.min, math.log
local concat = table.concat
local gsub, format = string.gsub, string.format
local esc, thousands, count, duration = html.escape, html.thousands, html.count, html.duration

-- Geometry, in CSS pixels.
M.WIDTH = 1360             -- an SVG
M.PLOT_X0, M.PLOT_X1 = 200, M.WIDTH - 150 -- room on the right for "Failed at 16:03:41"
M.AXIS_H, M.PHASE_H, M.ACTIVITY_H, M.LANE_H = 34, 26, 17, 24
M.BIN = 6                  -- px of one density bin
M.LEVEL_CLASS = { Error = "e", Warning = "w", Info = "i" }
local WIDTH, PLOT_X0, PLOT_X1 = M.WIDTH, M.PLOT_X0, M.PLOT_X1
local PHASE_H, ACTIVITY_H, LANE_H, BIN = M.PHASE_H, M.ACTIVITY_H, M.LANE_H, M.BIN
local LEVEL_CLASS = M.LEVEL_CLASS
local TITLE_CHARS = 600    -- a hover text shows at most this much of a message

-- The UTC offset (ms) that time.iso prints for an instant in a zone.
local function zone_offset(ms, tz)
  local text = time.iso(ms, tz)
  if not text then return nil end
  if text:sub(-1) == "Z" then return 0 end
  local sign, h, m = text:match("([+-])(%d%d):?(%d%d)$")
  local off = (tonumber(h) * 60 + tonumber(m)) * 60000
  return sign == "-" and -off or off
end

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

--- The key to the marks and bands, as HTML with small SVGs.
function M.legend()
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

--- The time axis at y: ticks in the view's zone (a date where the day
-- changes), grid lines down `height` px; appended to `out`.
function M.axis(out, view, y, height)
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

--- Hover text of one event, escaped: time, level, source, then the message.
function M.event_title(ev, ms, view)
  local message = type(ev.message) == "string" and ev.message or ""
  return esc((time.iso(ms, view.tz) or tostring(ev.time)) .. " · " .. tostring(ev.level or "?") .. " · " ..
    tostring(ev.source or "?") .. "\n" .. html.cut(message, TITLE_CHARS))
end

--- One lane at y, appended to `out`: a mark per event where they can be told apart, density bands
-- where they cannot. A band is a histogram of its bins (log height, one
-- scale for the whole picture), each bar split into its errors (dark red,
-- at the foot), warnings (amber) and the rest.
function M.lane(out, job, lane, y, view, counts)
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
      title = title .. "\nfirst error: " .. M.event_title(band.first_error, band.first_error_ms, view)
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
      layer[#layer + 1] = open .. "<title>" .. M.event_title(ev, t, view) .. "</title>" .. close
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

-- Where each activity goes: its span and label, in the first row where
-- neither overlaps what is already there.
local function activity_layout(info, view)
  local placed, right = {}, {}
  for _, a in ipairs(info.activities) do
    local x0 = view.x(a.from)
    local x1 = max(view.x(a.to), x0 + 2)
    local label = a.label .. " " .. duration(a.to - a.from)
    local row = 1
    while right[row] and right[row] > x0 - 4 do row = row + 1 end
    right[row] = max(x1, x0 + text_width(label, 11) + 6)
    placed[#placed + 1] = { activity = a, x0 = x0, x1 = x1, label = label, row = row }
  end
  return placed
end

--- A job's stages: the phases as labelled spans with durations, the
-- activities beneath, the end as a line through every lane.
function M.stages(out, job, info, y, view, lanes_bottom)
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
  local ay = (#spans > 0 or info.ending) and y + PHASE_H or y
  for _, p in ipairs(activity_layout(info, view)) do
    local a, ry = p.activity, ay + (p.row - 1) * ACTIVITY_H
    out[#out + 1] = format('<g><title>%s: %s – %s, %s</title><rect class="act" x="%.1f" y="%d" width="%.1f" height="5"/>' ..
      '<text class="actl" x="%.1f" y="%d">%s</text></g>', a.label, time.iso(a.from, view.tz), time.iso(a.to, view.tz),
      duration(a.to - a.from), p.x0, ry + 1, p.x1 - p.x0, p.x0, ry + 15, esc(p.label))
  end
  if info.ending then
    local e = info.ending
    local x = view.x(e.ms)
    local label = e.label .. " at " .. (time.iso(e.ms, view.tz) or ""):sub(12, 19)
    local anchor = x + text_width(label, 12.5) + 6 > WIDTH and "end" or "start"
    out[#out + 1] = format('<g><title>%s</title><line class="end %s" x1="%.1f" x2="%.1f" y1="%d" y2="%d"/>' ..
      '<text class="endl %s" x="%.1f" y="%d" text-anchor="%s">%s</text></g>', M.event_title(e.event, e.ms, view),
      e.key, x, x, y - 2, lanes_bottom, e.key, anchor == "end" and x - 5 or x + 5, y + 15, anchor, esc(label))
  end
end

--- How many rows the activities take.
function M.activity_rows(info, view)
  local rows = 0
  for _, p in ipairs(activity_layout(info, view)) do rows = max(rows, p.row) end
  return rows
end

--- The drawing's scale: times t0..t1 (ms) across the plot, padded a little.
-- @return a view: `x(ms)` the abscissa, `bin(ms)` its density bin
function M.view(t0, t1, tz)
  local pad = max((t1 - t0) * 0.015, 1000)
  local view = { t0 = t0 - pad, t1 = t1 + pad, tz = tz, tz_label = "times in " .. (tz == "Z" and "UTC" or tz) }
  view.scale = (PLOT_X1 - PLOT_X0) / (view.t1 - view.t0)
  function view.x(ms) return PLOT_X0 + (ms - view.t0) * view.scale end
  function view.bin(ms) return floor(view.x(ms) / BIN) end
  return view
end

--- One job's SVG: axis, stages, lanes.
-- @param job `{ events, ms, lanes = { { source, worker, idx, bins } ... } }`
-- @param info its stages (`stages.read`)
-- @param view from `M.view`, with `max_bin` and `marks_per_bin` set
-- @param counts `{ marked, banded }`, added to
function M.job(job, info, view, counts)
  local phases = #info.phases > 0 or info.ending ~= nil
  local rows = M.activity_rows(info, view)
  local lanes_y = M.AXIS_H + (phases and PHASE_H or 0) + rows * ACTIVITY_H + ((phases or rows > 0) and 6 or 0)
  local height = lanes_y + #job.lanes * LANE_H + 6
  local out = { format('<svg width="%d" height="%d" viewBox="0 0 %d %d" role="img">',
    WIDTH, height, WIDTH, height) }
  M.axis(out, view, 8, height - 6)
  for k, lane in ipairs(job.lanes) do
    local y = lanes_y + (k - 1) * LANE_H
    lane.label = lane.worker and (lane.worker .. " · " .. lane.source) or lane.source
    if k % 2 == 1 then
      out[#out + 1] = format('<rect class="lanebg" x="0" y="%d" width="%d" height="%d"/>', y, WIDTH, LANE_H)
    end
    out[#out + 1] = format('<text class="lane" x="%d" y="%d" text-anchor="end">%s <tspan class="k">(%s)</tspan></text>',
      PLOT_X0 - 12, y + 15, esc(lane.label), thousands(#lane.idx))
  end
  for k, lane in ipairs(job.lanes) do M.lane(out, job, lane, lanes_y + (k - 1) * LANE_H, view, counts) end
  M.stages(out, job, info, M.AXIS_H, view, height - 6)
  out[#out + 1] = "</svg>"
  return concat(out)
end

return M
