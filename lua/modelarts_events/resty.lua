--- The ModelArts events client for OpenResty / ngx_lua, never blocking the worker.
--
-- The C module `modelarts_events` validates, builds and signs requests,
-- decodes responses, and runs the paging and retry core (`client:pager`).
-- This module only moves bytes: every request goes out as a subrequest
-- (`ngx.location.capture`) to an internal location that `proxy_pass`es it,
-- several at once in light threads (`ngx.thread.spawn`), and retries back off
-- with `ngx.sleep`. libcurl is never used inside nginx.
--
-- The C module must be built for LuaJIT (`make LUA_VERSION=jit`) and be on
-- `lua_package_cpath`, with lua-cjson for 5.1. The internal location must be
-- configured as in `examples/nginx.conf`:
--
--     location = /_modelarts_events {
--         internal;
--         set $modelarts_events_url '';
--         set $modelarts_events_host '';
--         rewrite_by_lua_block { require("modelarts_events.resty").proxy() }
--         body_filter_by_lua_block { require("modelarts_events.resty").body_filter() }
--         proxy_pass $modelarts_events_url;
--         proxy_set_header Host $modelarts_events_host;
--         proxy_http_version 1.1;
--         proxy_set_header Connection "";
--         proxy_pass_request_body off;
--         proxy_intercept_errors off;
--         proxy_connect_timeout 10s;
--         proxy_read_timeout 30s;
--     }
--
-- plus `resolver` for host names and `proxy_ssl_verify on`,
-- `proxy_ssl_trusted_certificate`, `proxy_ssl_server_name on` for https.
-- The `timeout`, `connect_timeout`, `ca_file`, `insecure` and `proxy` fields
-- of the configuration are accepted (and validated) but belong to nginx
-- there: `proxy_read_timeout`, `proxy_connect_timeout`,
-- `proxy_ssl_trusted_certificate`, `proxy_ssl_verify`.
--
--     local resty = require "modelarts_events.resty"
--     local client, err = resty.new { endpoint = ..., project_id = ..., token = ... }
--     local page, err = client:list("job-id", { limit = 50 })
--     for event in client:events("job-id", { order = "asc" }) do ngx.say(event.message) end
--
-- Calls are allowed where subrequests are: the rewrite, access and content
-- phases (not in timers, `init_by_lua` or filters). A client may be made
-- anywhere (also at module level) and shared by the requests of a worker.
-- Drive one iteration from one coroutine: the light threads that carry its
-- subrequests belong to the coroutine that started them. Subrequests cannot
-- be aborted: when an iteration ends early (an error, a `break`), those in
-- flight still finish, and the request ends after them.
-- @module modelarts_events.resty

-- luacheck: globals ngx
-- (the hook writes ngx.var and the subrequest's ngx.ctx)

local me = require "modelarts_events"

local M = {
  --- The same version string as the C module's.
  VERSION = me.VERSION,
  --- The internal location used for subrequests unless `config.location` says otherwise.
  DEFAULT_LOCATION = "/_modelarts_events",
}

local DEFAULT_MAX_BODY = 8 * 1024 * 1024
-- The key in the subrequest's ngx.ctx that carries the request to proxy.
local CTX_KEY = "modelarts_events_request"
local URL_VAR, HOST_VAR = "modelarts_events_url", "modelarts_events_host"

local CAPTURE_PHASES = { rewrite = true, access = true, content = true }

local Client = {}
Client.__index = Client

local function argument_error(field, message)
  return me.error("invalid_argument", message, { field = field })
end

-- An error raised by the C module is an error object already; anything
-- else (a plain string) is wrapped so that callers always get one.
local function as_error(e, kind)
  if type(e) == "table" and e.kind then return e end
  return me.error(kind or "invalid_argument", tostring(e))
end

-- nil when ngx.location.capture may be used now, else an error object.
local function context_error()
  if type(ngx) ~= "table" or not ngx.location then
    return argument_error(nil, "modelarts_events.resty runs inside nginx (ngx_lua); elsewhere use modelarts_events")
  end
  local phase = ngx.get_phase()
  if not CAPTURE_PHASES[phase] then
    return argument_error(nil, "modelarts_events.resty needs subrequests, which the '" .. phase ..
      "' phase does not allow (use rewrite, access or content)")
  end
  return nil
end

local function check_location(location)
  if type(location) ~= "string" or location:sub(1, 1) ~= "/" or location:find("[%s%?#%c]") then
    return argument_error("location", "location must be a path such as \"/_modelarts_events\"")
  end
  return nil
end

--- Make a client.
-- @tparam table config the configuration of `modelarts_events.new` (endpoint
-- or region, project_id, token or ak and sk, language, retries, concurrency,
-- max_body, ...), plus `location`: the internal location for subrequests
-- (default "/_modelarts_events").
-- @return the client, or nil and an `invalid_argument` error object
function M.new(config)
  if type(config) ~= "table" then
    return nil, argument_error("config", "config must be a table")
  end
  local location = config.location
  if location == nil then location = M.DEFAULT_LOCATION end
  local err = check_location(location)
  if err then return nil, err end
  local copy = {}
  for k, v in pairs(config) do
    if k ~= "location" then copy[k] = v end
  end
  local ok, core = pcall(me.new, copy)
  if not ok then return nil, as_error(core) end
  return setmetatable({
    core = core,
    location = location,
    max_body = config.max_body or DEFAULT_MAX_BODY,
  }, Client)
end

-- ---- the internal location's side ----------------------------------------

--- The `rewrite_by_lua` hook of the internal location: replaces the headers
-- the subrequest inherited from the client's request with the API request's
-- (the signed Host included) and points `$modelarts_events_url` and
-- `$modelarts_events_host` at it. Needs `set $modelarts_events_url '';` and
-- `set $modelarts_events_host '';` in the location.
function M.proxy()
  local ctx = ngx.ctx
  local req = ctx[CTX_KEY]
  if type(req) ~= "table" then
    ngx.log(ngx.ERR, "modelarts_events.resty: ", ngx.var.uri, " is for its subrequests only")
    return ngx.exit(ngx.HTTP_NOT_FOUND)
  end
  req.hooked = true
  local ok, err = pcall(function()
    for name in pairs(ngx.req.get_headers(0, true)) do
      ngx.req.clear_header(name)
    end
    local host
    for name, value in pairs(req.headers) do
      if name:lower() == "host" then
        host = value
      else
        ngx.req.set_header(name, value)
      end
    end
    ngx.var[URL_VAR] = req.url
    ngx.var[HOST_VAR] = host or req.url:match("^%a+://([^/?#]+)")
  end)
  if not ok then
    req.config_error = tostring(err)
    ngx.log(ngx.ERR, "modelarts_events.resty: the internal location is not set up: ", err)
    return ngx.exit(ngx.HTTP_INTERNAL_SERVER_ERROR)
  end
end

--- The `body_filter_by_lua` hook of the internal location (optional but
-- recommended): stops keeping a response once it is larger than the
-- client's `max_body`, so that a huge answer does not fill the worker's
-- memory before it is refused as `too_large`.
function M.body_filter()
  local req = ngx.ctx[CTX_KEY]
  if type(req) ~= "table" or not req.max_body then return end
  if req.too_large then
    ngx.arg[1] = ""
    return
  end
  req.received = (req.received or 0) + #ngx.arg[1]
  if req.received > req.max_body then
    req.too_large = true
    ngx.arg[1] = ""
    ngx.arg[2] = true
  end
end

-- ---- the driver ----------------------------------------------------------

local function first_string(v)
  if type(v) == "table" then v = v[1] end
  if type(v) == "string" then return v end
  return nil
end

-- Runs in a light thread: one subrequest. Never raises.
local function fetch(location, max_body, seq, req)
  local sub = { url = req.url, headers = req.headers, max_body = max_body }
  local ok, res = pcall(ngx.location.capture, location, {
    method = ngx.HTTP_GET,
    ctx = { [CTX_KEY] = sub },
  })
  return seq, ok, res, sub
end

local function authority(url)
  return url:match("^%a+://([^/?#]+)") or url
end

-- Hand one subrequest's outcome to the pager. Returns an error object when
-- the outcome says nginx is not set up for this module (nothing to retry).
local function settle(self, pager, seq, ok, res, sub)
  if not ok then
    return as_error("the subrequest to " .. self.location .. " failed: " .. tostring(res))
  end
  if sub.config_error then
    return argument_error("location", "the internal location " .. self.location ..
      " is not set up for modelarts_events.resty (see examples/nginx.conf): " .. sub.config_error)
  end
  if not sub.hooked then
    return argument_error("location", "the location " .. self.location .. " did not run " ..
      "require(\"modelarts_events.resty\").proxy() (see examples/nginx.conf)")
  end
  local where = authority(sub.url)
  local body = res.body or ""
  if sub.too_large or #body > self.max_body then
    -- (body_filter() cut it off: that marks the subrequest truncated too)
    pager:feed(seq, nil, "too_large", "the response from " .. where .. " is larger than max_body (" ..
      tostring(self.max_body) .. " bytes)")
    return nil
  end
  if res.truncated then
    -- nginx ended the subrequest itself: no (complete) response came. An
    -- error status the upstream sent arrives untruncated with its body.
    if res.status == 504 then
      pager:feed(seq, nil, "timeout", "no response from " .. where .. " in time (nginx: upstream timed out)")
    elseif res.status and res.status >= 300 then
      pager:feed(seq, nil, "network", "could not get a response from " .. where .. " (nginx answered " ..
        tostring(res.status) .. "; its error log says why: connection, TLS or resolver)")
    else
      pager:feed(seq, nil, "network", "the response from " .. where .. " was cut short")
    end
    return nil
  end
  local headers = {}
  for name, value in pairs(res.header or {}) do
    headers[name] = first_string(value)
  end
  pager:feed(seq, res.status, body, headers)
  return nil
end

-- One run of a pager: { pager, threads = { [seq] = thread }, n = in flight }.
local function finish(run)
  run.finished = true
  run.pager:close()
  -- Subrequests cannot be aborted; threads still in flight end on their own
  -- and what they bring is dropped.
  run.threads = {}
  run.n = 0
end

local function wait_any(run)
  local list = {}
  for _, th in pairs(run.threads) do list[#list + 1] = th end
  return ngx.thread.wait((table.unpack or unpack)(list))
end

local function closed_error()
  return argument_error(nil, "the client is closed")
end

-- Drive the pager to its next page: page | nil, err | nil (done).
local function step(self, run)
  if run.finished then return nil end
  local stalls = 0
  while true do
    if self.closed then
      -- the C client's memory is gone: its pager must not be driven on
      finish(run)
      return nil, closed_error()
    end
    local ok, what, a, b
    repeat
      ok, what, a, b = pcall(run.pager.next, run.pager)
      if not ok then
        finish(run)
        return nil, as_error(what)
      end
      if what == "send" then
        local th, err = ngx.thread.spawn(fetch, self.location, self.max_body, a, b)
        if not th then
          finish(run)
          return nil, me.error("network", "cannot start a light thread: " .. tostring(err))
        end
        run.threads[a] = th
        run.n = run.n + 1
      end
    until what ~= "send"

    local page, err = run.pager:take()
    if page then return page end
    if page == nil then
      finish(run)
      return nil, err
    end
    -- page == false: the next page is not here yet.
    if what == "wait" then
      ngx.sleep(a)
    elseif run.n > 0 then
      stalls = 0
      local done, seq, cap_ok, res, sub = wait_any(run)
      if not done then
        finish(run)
        return nil, as_error(seq, "network")
      end
      run.threads[seq] = nil
      run.n = run.n - 1
      if self.closed then
        finish(run)
        return nil, closed_error()
      end
      local fatal = settle(self, run.pager, seq, cap_ok, res, sub)
      if fatal then
        finish(run)
        return nil, fatal
      end
    elseif what == "done" then
      finish(run)
      return nil
    else
      -- idle with nothing in flight: a page is to be fetched again, which
      -- the next round of next() sends.
      stalls = stalls + 1
      if stalls > 3 then
        finish(run)
        return nil, me.error("network", "no response was received")
      end
    end
  end
end

-- A pager for this call, or nil and an error object.
local function start(self, job_id, params, single)
  if self.closed then return nil, closed_error() end
  local err = context_error()
  if err then return nil, err end
  local ok, pager = pcall(self.core.pager, self.core, job_id, params, single)
  if not ok then return nil, as_error(pager) end
  return { pager = pager, threads = {}, n = 0 }
end

--- One page of a job's events, as `modelarts_events` client:list returns it.
-- @tparam string job_id the training job id
-- @tparam[opt] table params offset, limit, order, start_time, end_time, level,
-- source, pattern, language
-- @return the page `{ total, limit, offset, order, start_time, end_time, events }`,
-- or nil and an error object (bad arguments included: kind `invalid_argument`)
function Client:list(job_id, params)
  local run, err = start(self, job_id, params, true)
  if not run then return nil, err end
  local page
  page, err = step(self, run)
  if not run.finished then finish(run) end
  if page then return page end
  return nil, err or me.error("network", "no response was received")
end

--- Iterate over the pages of a job's events, fetching up to `concurrency`
-- pages at once and yielding them in order.
-- Unlike `list`, the iterator raises: bad arguments raise the
-- `invalid_argument` error object when `pages` is called, and a failure while
-- iterating raises the error object from the loop (`pcall` around the loop
-- catches both), as the C client's iterators do.
-- @tparam string job_id the training job id
-- @tparam[opt] table params those of `list`, plus `max_items`
-- @return an iterator over pages
function Client:pages(job_id, params)
  local run, err = start(self, job_id, params, false)
  if not run then error(err) end
  return function()
    local page, e = step(self, run)
    if page then return page end
    if e then error(e) end
    return nil
  end
end

--- Iterate over the events of a job: `for event, i in client:events(id, params)`,
-- `i` counting from 1. Raises like `pages`.
-- @tparam string job_id the training job id
-- @tparam[opt] table params those of `pages`
-- @return an iterator over (event, index)
function Client:events(job_id, params)
  local next_page = self:pages(job_id, params)
  local events, i, count = nil, 0, 0
  return function()
    while true do
      if events and i < #events then
        i = i + 1
        count = count + 1
        return events[i], count
      end
      local page = next_page()
      if not page then
        events = nil
        return nil
      end
      events, i = page.events, 0
    end
  end
end

--- Release the client; safe to call twice. Later calls return an error.
function Client:close()
  if not self.closed then
    self.closed = true
    self.core:close()
  end
end

Client.__tostring = function(self)
  return "modelarts_events.resty " .. tostring(self.core)
end

return M
