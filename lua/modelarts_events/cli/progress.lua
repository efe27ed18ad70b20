-- The progress line of long reads, on stderr: events read, pages, the rate,
-- and what the client waits for (a retry, a 429's Retry-After). Drawn at
-- most five times a second, on one line rewritten in place, and cleared
-- before anything else is printed to the terminal. Internal to
-- `bin/modelarts-events`.

local M = {}

local function noop() end

-- 1234567 -> "1,234,567"
local function grouped(n)
  local s = string.format("%d", math.floor(n + 0.5))
  local head, digits = s:match("^(-?)(%d+)$")
  digits = digits:reverse():gsub("(%d%d%d)", "%1,"):reverse():gsub("^,", "")
  return head .. digits
end
M.grouped = grouped

-- A progress line.
-- @tparam table stats `events`, `pages` (read), `printed`, updated by the caller
-- @tparam boolean enabled false: every method does nothing
-- @tparam function clock seconds, monotonic
-- @tparam function write writes to the terminal (stderr)
-- @return `{ update(), retry(err, delay_seconds), clear() }`
function M.new(stats, enabled, clock, write)
  if not enabled then return { update = noop, retry = noop, clear = noop } end
  local started, drawn_at = clock(), -math.huge
  local shown, note, note_pages = false, nil, nil
  local p = {}

  local function draw()
    local elapsed = clock() - started
    local line = string.format("%s events read, %s pages, %s events/s", grouped(stats.events), grouped(stats.pages),
      grouped(elapsed > 0 and stats.events / elapsed or 0))
    if stats.printed ~= stats.events then line = line .. ", " .. grouped(stats.printed) .. " kept" end
    if note and stats.pages == note_pages then line = line .. "; " .. note end
    write("\r" .. line .. "\27[K")
    shown = true
  end

  -- Redraw if a fifth of a second has passed since the last time.
  function p.update()
    local now = clock()
    if now - drawn_at < 0.2 then return end
    drawn_at = now
    draw()
  end

  -- The client's `on_retry` hook: say what it waits for until the next page.
  function p.retry(err, delay)
    local why
    if type(err) == "table" and err.status == 429 then
      why = "throttled (429)"
    elseif type(err) == "table" then
      why = (err.kind or "error") .. (err.status and " " .. err.status or "")
    else
      why = tostring(err)
    end
    note = string.format("waiting %.1f s to retry after %s", tonumber(delay) or 0, why)
    note_pages = stats.pages
    drawn_at = clock()
    draw()
  end

  -- Wipe the line (before printing, and at the end).
  function p.clear()
    if shown then write("\r\27[K") end
    shown = false
  end

  return p
end

return M
