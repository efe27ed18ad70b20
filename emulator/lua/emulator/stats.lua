-- What the emulator counts for tests: API requests by kind, distinct client
-- connections, the most requests in flight at once, what went through the
-- forward proxy, and the last API request (method, uri, raw query, headers).
local cjson = require "cjson"

local M = {}

local KINDS = { events = "events_requests", job = "job_requests", iam = "iam_requests",
                metadata = "metadata_requests" }

local function fresh()
  return { requests = 0, events_requests = 0, job_requests = 0, iam_requests = 0, metadata_requests = 0,
           proxied = 0, connections = {}, connection_count = 0, in_flight = 0, in_flight_max = 0 }
end
local stats = fresh()
local last = cjson.null

--- Counts one API request; kind: events, job, iam, metadata or nil (other).
function M.begin(kind, path, raw_args, headers)
  stats.requests = stats.requests + 1
  if KINDS[kind] then stats[KINDS[kind]] = stats[KINDS[kind]] + 1 end
  stats.in_flight = stats.in_flight + 1
  stats.in_flight_max = math.max(stats.in_flight_max, stats.in_flight)
  ngx.ctx.counted = stats -- requests still running at a reset keep their own table
  local conn = ngx.var.connection
  if not stats.connections[conn] then
    stats.connections[conn] = true
    stats.connection_count = stats.connection_count + 1
  end
  last = { method = ngx.req.get_method(), uri = path, args = raw_args, headers = headers }
end

--- The log phase: the request is over, whichever way it ended.
function M.done()
  local counted = ngx.ctx.counted
  if counted then counted.in_flight = counted.in_flight - 1 end
end

function M.proxied() stats.proxied = stats.proxied + 1 end

function M.snapshot()
  return { requests = stats.requests, connections = stats.connection_count, in_flight_max = stats.in_flight_max,
           events_requests = stats.events_requests, job_requests = stats.job_requests,
           iam_requests = stats.iam_requests, metadata_requests = stats.metadata_requests,
           proxied = stats.proxied }
end

function M.last() return last end

function M.reset()
  stats = fresh()
  last = cjson.null
end

return M
