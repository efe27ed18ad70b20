--- Where a follow stands in one job's events, and the cursor that carries it.
--
-- Events carry no id. A follow polls with a window that starts at the second
-- of the newest event it has yielded (the edge second) and tells that
-- second's events apart by a count per `time|level|source|message`: the
-- first n re-read copies of a key are the n already yielded, a further one is
-- new (a real repeat). Only the edge second's counts are kept, so a cursor
-- stays small however long the job runs.
-- @module modelarts_events.follow.edge

local cjson = require("cjson.safe").new()
local me = require "modelarts_events"

local M = {}

local CURSOR_PREFIX = "me-follow-1:"

local Edge = {}
Edge.__index = Edge

--- A job's edge: `ms` (the edge second, epoch ms, or nil before any event)
-- and `counts` (key -> events of that second yielded so far).
function M.new(ms, counts)
  return setmetatable({ ms = ms, counts = counts or {} }, Edge)
end

local function key_of(event)
  return tostring(event.time) .. "|" .. tostring(event.level) .. "|" .. tostring(event.source) .. "|" ..
    tostring(event.message)
end

local function second_of(ms)
  return ms - ms % 1000
end

--- Count a yielded event (`ms`: its time, nil where it could not be read,
-- which counts it in the edge second).
function Edge:add(event, ms)
  local second = ms and second_of(ms) or self.ms
  if not second then return end
  if not self.ms or second > self.ms then
    self.ms, self.counts = second, {}
  end
  if second == self.ms then
    local key = key_of(event)
    self.counts[key] = (self.counts[key] or 0) + 1
  end
end

--- A predicate for one poll from the edge: true for an event that poll
-- re-reads (already yielded), false for a new one. It works on a copy of the
-- counts, so yielding while the poll runs does not disturb it.
function Edge:rereads()
  local edge_ms, left = self.ms, {}
  for key, n in pairs(self.counts) do left[key] = n end
  return function(event, ms)
    if not edge_ms then return false end
    local second = ms and second_of(ms) or edge_ms
    if second < edge_ms then return true end -- before the window: yielded earlier
    if second > edge_ms then return false end
    local key = key_of(event)
    local n = left[key]
    if n and n > 0 then
      left[key] = n - 1
      return true
    end
    return false
  end
end

--- The cursor: an opaque one-line string holding every job's edge.
-- @tparam table edges job id -> edge
function M.encode(edges)
  local jobs = {}
  for id, edge in pairs(edges) do
    jobs[id] = { t = edge.ms or false, n = edge.counts }
  end
  return CURSOR_PREFIX .. assert(cjson.encode(jobs))
end

local function bad_cursor(why)
  return me.error("invalid_argument", "after: not a cursor of a follow (" .. why .. ")", { field = "after" })
end

--- Read a cursor back: job id -> edge; or nil and an `invalid_argument` error.
function M.decode(cursor)
  if type(cursor) ~= "string" or cursor:sub(1, #CURSOR_PREFIX) ~= CURSOR_PREFIX then
    return nil, bad_cursor("it does not start with " .. CURSOR_PREFIX)
  end
  local jobs = cjson.decode(cursor:sub(#CURSOR_PREFIX + 1))
  if type(jobs) ~= "table" then return nil, bad_cursor("not JSON") end
  local edges = {}
  for id, state in pairs(jobs) do
    if type(id) ~= "string" or type(state) ~= "table" then return nil, bad_cursor("a job's entry") end
    local ms, counts = state.t, state.n
    if ms == false then ms = nil end
    if ms ~= nil and (type(ms) ~= "number" or ms ~= math.floor(ms) or ms % 1000 ~= 0) then
      return nil, bad_cursor("an edge time")
    end
    if ms and math.tointeger then ms = math.tointeger(ms) end -- (cjson may give a float)
    if type(counts) ~= "table" then return nil, bad_cursor("edge counts") end
    for key, n in pairs(counts) do
      if type(key) ~= "string" or type(n) ~= "number" or n < 1 or n ~= math.floor(n) then
        return nil, bad_cursor("edge counts")
      end
    end
    edges[id] = M.new(ms, counts)
  end
  return edges
end

return M
