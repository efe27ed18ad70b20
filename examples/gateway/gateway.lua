-- luacheck: globals ngx
--- The live events gateway (examples/gateway/nginx.conf): serves a team the
-- events of their training jobs from one nginx, at the API cost of one
-- follower per job.
--
--   GET /jobs/<id>/events  the job's events as JSON lines (query: offset,
--                          limit, max_items, order, level, source, pattern,
--                          language, start_time + end_time)
--   GET /jobs/<id>/stream  Server-Sent Events: every event of the job, then
--                          the new ones as they come, until the job ends
--                          (query: level, source, pattern, worker: filters
--                          applied per viewer)
--   GET /jobs/<id>/        a page that shows the stream live (index.html)
--
-- A stream is fed by a follower (`modelarts_events.follow` over a
-- `modelarts_events.resty` client) that runs in a timer, one per job for
-- the whole node: the first viewer of a job takes a lease on it in the
-- `lua_shared_dict` and starts the follower; the follower writes each event
-- into the dict, and every viewer, in any worker, reads them from there. So
-- 200 viewers of a job cost the API what one does: one poll per interval.
-- The follower renews its lease while it runs; when its worker goes away,
-- the lease runs out and the next viewer to look starts another, resuming
-- where the first stood.
--
-- Keys of the dict, per job J: `n:J` (events stored), `e:J:i` (event i as
-- JSON), `end:J` (how the follow ended, JSON), `lease:J`, `at:J` (where the
-- follower stands). A finished job's keys expire `keep` seconds after its
-- end; the next viewer after that follows it anew.
-- @module gateway

local cjson = require "cjson.safe"
local me = require "modelarts_events"
local resty = require "modelarts_events.resty"
local follow = require "modelarts_events.follow"
local filter = require "modelarts_events.filter"

local M = {}

--- What `configure` may change.
M.settings = {
  dict = "modelarts_events_gateway", -- the lua_shared_dict
  interval = 5,       -- seconds between the follower's polls
  keep = 3600,        -- seconds a finished job's events stay for late viewers
  lease = 30,         -- seconds a follower's lease lasts without renewal
  tick = 0.25,        -- seconds between a viewer's looks into the dict
  heartbeat = 15,     -- seconds between SSE comments on a quiet stream
  client = nil,       -- the client configuration (default: from the environment)
}

--- Change settings (from `init_by_lua*`).
function M.configure(settings)
  for k, v in pairs(settings) do
    if M.settings[k] == nil and k ~= "client" then error("unknown gateway setting " .. tostring(k)) end
    M.settings[k] = v
  end
end

local function dict() return ngx.shared[M.settings.dict] end

-- One client per worker, made at its first use.
local client
local function get_client()
  if not client then
    local err
    client, err = resty.new(M.settings.client or resty.config_from_env { concurrency = 4 })
    if not client then error(err) end
  end
  return client
end

local function plain_error(err)
  if type(err) ~= "table" then return { kind = "error", message = tostring(err) } end
  return { kind = err.kind, message = err.message, status = err.status, code = err.code,
           request_id = err.request_id }
end

local function event_json(ev)
  return cjson.encode { time = ev.time, level = ev.level, source = ev.source, message = ev.message }
end

-- Job ids as the service makes them; anything else is refused before a
-- follower or a key is made for it.
local function valid_job(job)
  return type(job) == "string" and #job <= 128 and job:find("^[%w][%w%-_.]*$") ~= nil
end

local function bad_request(message)
  ngx.status = ngx.HTTP_BAD_REQUEST
  ngx.header.content_type = "application/json"
  ngx.say(cjson.encode { error = { kind = "invalid_argument", message = message } })
  return ngx.exit(ngx.HTTP_BAD_REQUEST)
end

-- ---- the follower ----------------------------------------------------------

-- Store the end of a job's follow, and let its keys expire `keep` seconds
-- from now.
local function finish(d, job, record)
  local keep = M.settings.keep
  local n = d:get("n:" .. job) or 0
  for i = 1, n do d:expire("e:" .. job .. ":" .. i, keep) end
  d:set("n:" .. job, n, keep)
  d:delete("at:" .. job)
  d:set("end:" .. job, cjson.encode(record), keep)
end

local function run_follower(premature, job)
  local d = dict()
  local lease_key = "lease:" .. job
  if premature then
    d:delete(lease_key)
    return
  end
  local running = true
  -- renew the lease while the follow runs
  local renewer = ngx.thread.spawn(function()
    while running and not ngx.worker.exiting() do
      d:set(lease_key, ngx.worker.pid(), M.settings.lease)
      ngx.sleep(M.settings.lease / 3)
    end
  end)
  local ok, err = pcall(function()
    local opts = { interval = M.settings.interval }
    -- a follower that takes over resumes where the last one stood
    local at = d:get("at:" .. job)
    if at then opts.after = at end
    local it = follow(get_client(), job, opts)
    for ev in it do
      -- the event first, then the count that shows it to viewers (in any worker)
      local n = (d:get("n:" .. job) or 0) + 1
      local stored, why = d:safe_set("e:" .. job .. ":" .. n, event_json(ev))
      if not stored then error("cannot keep event " .. n .. " of " .. job .. ": " .. tostring(why)) end
      d:set("n:" .. job, n)
      if it.cursor then d:set("at:" .. job, it.cursor) end
    end
    finish(d, job, { result = it.result, phase = it.phase })
  end)
  if not ok then
    ngx.log(ngx.ERR, "gateway: following ", job, " failed: ", tostring(err))
    finish(d, job, { error = plain_error(err) })
  end
  running = false
  ngx.thread.kill(renewer)
  d:delete(lease_key)
end

-- Start a follower for the job unless one runs (anywhere on the node) or
-- its follow has ended.
local function ensure_follower(job)
  local d = dict()
  if d:get("end:" .. job) then return end
  if not d:add("lease:" .. job, ngx.worker.pid(), M.settings.lease) then return end
  local ok, err = ngx.timer.at(0, run_follower, job)
  if not ok then
    d:delete("lease:" .. job)
    ngx.log(ngx.ERR, "gateway: cannot start a follower for ", job, ": ", err)
  end
end

-- ---- GET /jobs/<id>/stream --------------------------------------------------

local function viewer_filter(args)
  local spec = {}
  for _, name in ipairs { "level", "source", "pattern", "worker" } do
    local v = args[name]
    if type(v) == "table" then v = v[1] end
    if type(v) == "string" and v ~= "" then spec[name] = v end
  end
  if next(spec) == nil then return function() return true end end
  return filter.compile(spec)
end

--- Server-Sent Events of the job: `event` messages (data: one event as
-- JSON, id: its number, so that a reconnecting EventSource resumes after
-- it), then one `end` message (data: `{result, phase}` or `{error}`).
function M.stream(job)
  if not valid_job(job) then return bad_request("not a training job id") end
  local ok, keep = pcall(viewer_filter, ngx.req.get_uri_args())
  if not ok then return bad_request(tostring(type(keep) == "table" and keep.message or keep)) end
  ngx.header.content_type = "text/event-stream"
  ngx.header.cache_control = "no-cache"
  ngx.header["X-Accel-Buffering"] = "no"
  -- a viewer that leaves ends its handler at once
  ngx.on_abort(function() ngx.exit(499) end)

  local d = dict()
  local settings = M.settings
  ensure_follower(job)
  local sent = tonumber(ngx.var.http_last_event_id) or 0
  ngx.print("retry: 2000\n: following ", job, "\n\n")
  ngx.flush(true)
  local quiet_since = ngx.now()
  while true do
    local n = d:get("n:" .. job) or 0
    local out = {}
    while sent < n do
      sent = sent + 1
      local s = d:get("e:" .. job .. ":" .. sent)
      if not s then
        out[#out + 1] = "event: end\ndata: " .. cjson.encode { error = {
          kind = "gateway", message = "event " .. sent .. " is no longer kept (lua_shared_dict too small)" } } .. "\n\n"
        ngx.print(out)
        return ngx.exit(ngx.HTTP_OK)
      end
      if keep(cjson.decode(s)) then out[#out + 1] = "id: " .. sent .. "\nevent: event\ndata: " .. s .. "\n\n" end
    end
    local ended = d:get("end:" .. job)
    if ended and sent >= (d:get("n:" .. job) or 0) then
      out[#out + 1] = "event: end\ndata: " .. ended .. "\n\n"
      ngx.print(out)
      return ngx.exit(ngx.HTTP_OK)
    end
    if #out == 0 and ngx.now() - quiet_since >= settings.heartbeat then out[1] = ": quiet\n\n" end
    if #out > 0 then
      ngx.print(out)
      local flushed = ngx.flush(true)
      if not flushed then return ngx.exit(499) end
      quiet_since = ngx.now()
    end
    if not ended then ensure_follower(job) end -- (a lease that ran out is taken over)
    ngx.sleep(settings.tick)
  end
end

-- ---- GET /jobs/<id>/events --------------------------------------------------

local NUMBERS = { offset = true, limit = true, max_items = true }
local STRINGS = { order = true, level = true, source = true, pattern = true, language = true }
local TIMES = { start_time = true, end_time = true }

-- The query string as the client's params: unknown names are left out,
-- bad values are reported by the client (400).
local function list_params(args)
  local params = {}
  for name, value in pairs(args) do
    if type(value) == "table" then value = value[1] end
    if type(value) == "string" then
      if NUMBERS[name] then
        params[name] = tonumber(value) or value
      elseif TIMES[name] then
        params[name] = value:match("^%d+$") and tonumber(value) or value
      elseif STRINGS[name] then
        params[name] = value
      end
    end
  end
  return params
end

local function error_line(err)
  return cjson.encode { error = plain_error(err) }
end

-- An error before the first event: a status (400 bad arguments, 404 no such
-- job, 504 timeout, 502 anything else) and {"error": {...}}.
local function fail(err)
  local status = 502
  if type(err) == "table" then
    if err.kind == "invalid_argument" then
      status = 400
    elseif err.kind == "timeout" then
      status = 504
    elseif err.kind == "http" and err.status == 404 then
      status = 404
    end
  end
  ngx.status = status
  ngx.header.content_type = "application/json"
  ngx.say(error_line(err))
  return ngx.exit(status)
end

--- The job's events as JSON lines, streamed page by page. An error after
-- the first event is a last line `{"error": {...}}` (the status is sent).
function M.events(job)
  if not valid_job(job) then return bad_request("not a training job id") end
  local ok, c = pcall(get_client)
  if not ok then return fail(c) end
  local started, pages = pcall(c.pages, c, job, list_params(ngx.req.get_uri_args()))
  if not started then return fail(pages) end
  ngx.header.content_type = "application/x-ndjson"
  local sent = false
  while true do
    local got, page = pcall(pages)
    if not got then
      ngx.log(ngx.ERR, "gateway: events of ", job, ": ", tostring(page))
      if not sent then return fail(page) end
      ngx.say(error_line(page))
      return ngx.exit(ngx.HTTP_OK)
    end
    if not page then break end
    local lines = {}
    for i, ev in ipairs(page.events) do lines[i] = event_json(ev) end
    if #lines > 0 then
      lines[#lines + 1] = ""
      ngx.print(table.concat(lines, "\n"))
      ngx.flush()
      sent = true
    end
  end
end

return M
