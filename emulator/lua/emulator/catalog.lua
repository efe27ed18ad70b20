-- Job ids and what they name: find(id) -> job, traits (nil for an unknown
-- id). The job holds the events (jobs.lua); traits say how the service
-- answers for it:
--   strings   total/limit/offset as JSON strings
--   chunked   bodies sent with Transfer-Encoding: chunked
--   paging    pageoffset | nototal | cap50 | shortpage (events.lua)
--   skew      seconds the server's clock is ahead of the real one
--   delay_ms  every answer this late
local jobs = require "emulator.jobs"
local runs = require "emulator.runs"
local faults = require "emulator.faults"

local M = {}

-- NAME-N: gen-N's events, answered in some way of their own
local GENERATED = {
  gen = {}, strings = { strings = true }, chunked = { chunked = true },
  pageoffset = { paging = "pageoffset" }, nototal = { paging = "nototal" },
  cap50 = { paging = "cap50" }, shortpage = { paging = "shortpage" },
}
local NONE = {}
local MAX_EVENTS = 1000000
local MAX_SHIFTED = 100000 -- a clock job is a copy: kept smaller

local function count(text, max)
  local n = #text <= 7 and tonumber(text)
  if n and n >= 1 and n <= max then return n end
  return nil
end

local function generated(id)
  local name, digits = id:match("^(%w-)%-(%d+)$")
  if not name then return nil end
  local n = count(digits, MAX_EVENTS)
  if not n then return nil end
  local traits = GENERATED[name]
  if not traits then
    local delay = name:match("^delay(%d+)$")
    if not delay or #delay > 6 then return nil end
    traits = { delay_ms = tonumber(delay) }
  end
  return jobs.generated(n), traits
end

-- clock-ahead-S-N[-TAG]: gen-N's events moved so that the newest is at
-- the server's "now" when the job is first asked for.
local function clock_ahead(id)
  local s, digits = id:match("^clock%-ahead%-(%d+)%-(%d+)$")
  if not s then s, digits = id:match("^clock%-ahead%-(%d+)%-(%d+)%-.") end
  local n = digits and count(digits, MAX_SHIFTED)
  if not n or #s > 8 then return nil end
  local skew = tonumber(s)
  local job = jobs.state(id, function() return jobs.shifted(n, jobs.now_ms() + skew * 1000) end)
  return job, { skew = skew }
end

-- life-OUTCOME-P-TAG: a job that moves on with every events request (a
-- poll), not with a look at its status.
local function life(id, poll)
  local outcome, polls = id:match("^life%-(%a+)%-(%d+)%-.")
  if outcome ~= "failed" and outcome ~= "completed" or #polls > 6 then return nil end
  if poll then return jobs.life(id, outcome, tonumber(polls)) end
  return jobs.life_peek(id, outcome)
end

--- The job of id and its traits, or nil. poll: the request is for events
-- (grow and life jobs move on with those only).
function M.find(id, poll)
  local job, traits = generated(id)
  if job then return job, traits end
  if id == "reference" or faults.known(id) or id:match("^dropreused%-.") then return jobs.reference(), NONE end
  job, traits = clock_ahead(id)
  if job then return job, traits end
  local n = id:match("^same%-(%d+)$")
  n = n and count(n, 10000)
  if n then return jobs.same(n), NONE end
  local g_n, g_k = id:match("^grow%-(%d+)%-(%d+)%-.")
  if g_n and #g_n <= 7 and tonumber(g_n) <= MAX_EVENTS and #g_k <= 4 then
    return jobs.grow(id, tonumber(g_n), poll and tonumber(g_k) or 0), NONE
  end
  job = runs.find(id) or life(id, poll)
  if job then return job, NONE end
  return nil
end

return M
