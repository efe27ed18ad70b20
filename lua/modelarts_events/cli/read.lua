-- Reading events for the command line: one job's events as a pull stream,
-- several jobs merged by time as they come, the newest N of them. Memory
-- stays bounded: a stream holds the pages its client has in flight, a merge
-- one event per job, a tail N events. Internal to `bin/modelarts-events`.

local time = require "modelarts_events.time"

local M = {}

-- One job's events in the order the server sends them.
-- @param client a client of `modelarts_events`
-- @string job the job id
-- @tparam table params as for `client:pages`
-- @tparam table stats `events` (taken from the stream) and `pages` (received)
-- so far, counted here (shared
-- by every stream of a run, read by the progress line)
-- @tparam[opt] boolean tag set `event.job` (several jobs); a failure then
-- names the job (`err.job`)
-- @return `{ next = function() -> event or nil, close = function() }`
function M.job_events(client, job, params, stats, tag)
  local next_page, _, _, pager = client:pages(job, params)
  local events, i, done = nil, 0, false
  local stream = {}

  local function fetch()
    if not tag then return next_page() end
    local ok, page = pcall(next_page)
    if ok then return page end
    if type(page) == "table" and page.kind and page.job == nil then pcall(function() page.job = job end) end
    error(page, 0)
  end

  function stream.next()
    while true do
      if events and i < #events then
        i = i + 1
        local ev = events[i]
        if tag then ev.job = job end
        stats.events = stats.events + 1
        return ev
      end
      if done then return nil end
      local page = fetch()
      if not page then
        done = true
        return nil
      end
      stats.pages = stats.pages + 1
      events, i = page.events, 0
    end
  end

  -- Stop early: the transfers in flight are cancelled at once.
  function stream.close()
    done, events = true, nil
    if type(pager) == "userdata" or type(pager) == "table" then pager:close() end
  end

  return stream
end

-- The order key of an event: its instant; one that does not parse sorts first.
local function key(ev)
  return ev and (time.parse(ev.time) or -math.huge)
end

-- Several streams merged by event time as they come: each stream must be in
-- time order (ascending, or descending with `descending`); events of the
-- same instant come in the order of the streams.
-- @tparam table streams from `job_events`
-- @tparam[opt] boolean descending newest first
-- @return a stream
function M.merge(streams, descending)
  if #streams == 1 then return streams[1] end
  local heads, keys, started = {}, {}, false
  local merged = {}
  function merged.next()
    if not started then
      started = true
      for i, s in ipairs(streams) do
        heads[i] = s.next()
        keys[i] = key(heads[i])
      end
    end
    local best
    for i = 1, #streams do
      if heads[i] ~= nil then
        if not best or (descending and keys[i] > keys[best]) or (not descending and keys[i] < keys[best]) then
          best = i
        end
      end
    end
    if not best then return nil end
    local ev = heads[best]
    heads[best] = streams[best].next()
    keys[best] = key(heads[best])
    return ev
  end
  function merged.close()
    for _, s in ipairs(streams) do s.close() end
  end
  return merged
end

-- The first `n` events of a stream that `keep` accepts (for a tail: the
-- stream newest first, the result then reversed by the caller).
-- @return a list of at most n events, in the stream's order
function M.take(stream, keep, n, on_event)
  local held = {}
  while #held < n do
    local ev = stream.next()
    if ev == nil then break end
    if keep(ev) then held[#held + 1] = ev end
    if on_event then on_event() end
  end
  stream.close()
  return held
end

return M
