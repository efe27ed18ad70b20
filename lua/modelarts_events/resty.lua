--- The ModelArts events client for OpenResty / ngx_lua, never blocking the worker.
--
-- The C module `modelarts_events` validates, builds and signs requests,
-- decodes responses, and runs the paging and retry core (`client:pager`).
-- This module only moves bytes, over nginx's cosockets (`ngx.socket.tcp`,
-- through the small HTTP/1.1 client in `modelarts_events.resty.http`):
-- several requests at once in light threads (`ngx.thread.spawn`),
-- connections kept alive in the cosocket pool, retries backing off with
-- `ngx.sleep`. libcurl is never used inside nginx, and nginx.conf needs no
-- block of its own: only what any cosocket client needs, `resolver` for host
-- names and `lua_ssl_trusted_certificate` for https.
--
--     local resty = require "modelarts_events.resty"
--     local client, err = resty.new { endpoint = ..., project_id = ..., token = ... }
--     local page, err = client:list("job-id", { limit = 50 })
--     for event in client:events("job-id", { order = "asc" }) do ngx.say(event.message) end
--
-- Calls work wherever cosockets do: the rewrite, access and content phases
-- and `ngx.timer.at` (so from `init_worker_by_lua*` through a timer). A client
-- may be made anywhere (also at module level) and shared by the requests of
-- a worker. Drive one iteration from one coroutine: the light threads that
-- carry its requests belong to the coroutine that started them.
--
-- The configuration is that of `modelarts_events.new`, where `timeout` (one
-- whole exchange), `connect_timeout` (connecting and the TLS handshake) and
-- `max_body` bound every transfer, and `insecure = true` turns certificate
-- checks off. Trust comes from nginx (`lua_ssl_trusted_certificate`), so
-- `ca_file` is refused; so is `proxy` (cosockets connect directly). One more
-- field: `tls_server_name`, the name sent as SNI and checked in the
-- certificate (default: the URL's host name; needed for an endpoint given as
-- an IP address, which nginx cannot check a certificate against).
--
-- The C module must be built for LuaJIT (`make LUA_VERSION=jit`) and be on
-- `lua_package_cpath`, with lua-cjson for 5.1.
-- @module modelarts_events.resty

local me = require "modelarts_events"
local http = require "modelarts_events.resty.http"
local renewing = require "modelarts_events.resty.renewing"

local M = {
  --- The same version string as the C module's.
  VERSION = me.VERSION,
}

local DEFAULT_TIMEOUT, DEFAULT_CONNECT_TIMEOUT = 30, 10
local DEFAULT_MAX_BODY = 8 * 1024 * 1024
-- Credentials in the order the C driver resolves them.
local CREDENTIALS = { "token", "ak", "sk", "security_token" }
-- Where ngx.socket.tcp works (ngx_lua's documentation of the API).
local COSOCKET_PHASES = {
  rewrite = true, access = true, content = true, timer = true,
  ssl_cert = true, ssl_session_fetch = true, ssl_client_hello = true,
}

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

local function closed_error()
  return argument_error(nil, "the client is closed")
end

-- nil when cosockets may be used now, else an error object.
local function context_error()
  if type(ngx) ~= "table" or not ngx.socket or not ngx.get_phase then
    return argument_error(nil, "modelarts_events.resty runs inside nginx (ngx_lua); elsewhere use modelarts_events")
  end
  local phase = ngx.get_phase()
  if not COSOCKET_PHASES[phase] then
    return argument_error(nil, "modelarts_events.resty needs cosockets, which the '" .. phase ..
      "' phase does not have: call it from rewrite, access or content, or from a timer (ngx.timer.at)")
  end
  return nil
end

--- Make a client.
-- @tparam table config the configuration of `modelarts_events.new`
-- (endpoint or region, project_id, token or ak and sk, language, timeout,
-- connect_timeout, retries, concurrency, insecure, max_body, ...; not
-- `ca_file` nor `proxy`), plus `tls_server_name`
-- @return the client, or nil and an `invalid_argument` error object
function M.new(config)
  if type(config) ~= "table" then
    return nil, argument_error("config", "config must be a table")
  end
  if config.proxy ~= nil and config.proxy ~= false then
    return nil, argument_error("proxy", "modelarts_events.resty does not support a proxy: nginx's " ..
      "cosockets connect to the endpoint directly (leave proxy out)")
  end
  if config.ca_file ~= nil then
    return nil, argument_error("ca_file", "modelarts_events.resty trusts what nginx trusts: set " ..
      "lua_ssl_trusted_certificate in nginx.conf instead of ca_file")
  end
  if config.location ~= nil then
    return nil, argument_error("location", "modelarts_events.resty no longer uses an internal location " ..
      "(it talks over cosockets): leave location out, and drop the location block from nginx.conf")
  end
  local server_name = config.tls_server_name
  if server_name ~= nil and (type(server_name) ~= "string" or not server_name:find("^[%w%-%.]+$")) then
    return nil, argument_error("tls_server_name", "tls_server_name must be a host name")
  end
  local copy, functions = {}, nil
  for k, v in pairs(config) do
    if k ~= "tls_server_name" and k ~= "proxy" then copy[k] = v end
  end
  for _, field in ipairs(CREDENTIALS) do
    if type(config[field]) == "function" then
      functions = functions or {}
      functions[field] = config[field]
    end
  end
  local ok, core = pcall(me.new, copy)
  if not ok then return nil, as_error(core) end
  return setmetatable({
    core = core,
    functions = functions,
    config = config,
    transfer = {
      timeout = config.timeout or DEFAULT_TIMEOUT,
      connect_timeout = config.connect_timeout or DEFAULT_CONNECT_TIMEOUT,
      max_body = config.max_body or DEFAULT_MAX_BODY,
      verify = not config.insecure,
      server_name = server_name,
    },
  }, Client)
end

-- ---- credentials ----------------------------------------------------------

-- The credentials for the next requests as strings, for pager:next(creds):
-- nil when every credential is a string (the core has them), else the table
-- or nil, err. Functions are called here, in Lua, where they may yield.
local function credentials(self)
  if not self.functions then return nil end
  local creds, known = {}, {}
  for _, field in ipairs(CREDENTIALS) do
    local v = self.config[field]
    if type(v) == "string" then
      creds[field] = v
      known[#known + 1] = v
    end
  end
  for _, field in ipairs(CREDENTIALS) do
    local fn = self.functions[field]
    if fn then
      local ok, v = pcall(fn)
      if not ok then
        local message = type(v) == "table" and v.message or tostring(v)
        for _, secret in ipairs(known) do
          if message:find(secret, 1, true) then message = nil break end
        end
        return nil, argument_error(field, "the " .. field .. " function failed" ..
          (message and (": " .. message) or " (its message is not shown: it holds a credential)"))
      end
      if type(v) ~= "string" or v == "" or v:find("[\r\n]") then
        return nil, argument_error(field, "the " .. field .. " function must return a non-empty string " ..
          "without line breaks (value not shown)")
      end
      creds[field] = v
      known[#known + 1] = v
    end
  end
  return creds
end

-- ---- the driver ----------------------------------------------------------

-- Runs in a light thread: one exchange. Never raises.
local function fetch(transfer, seq, req)
  local ok, res, kind, message = pcall(http.request, req, transfer)
  if not ok then return seq, nil, "network", "the HTTP client failed: " .. tostring(res) end
  return seq, res, kind, message
end

-- Hand one exchange's outcome to the pager.
local function settle(pager, seq, res, kind, message)
  if res then
    pager:feed(seq, res.status, res.body, res.headers)
  else
    pager:feed(seq, nil, kind or "network", message or "no response was received")
  end
end

-- One run of a pager: { pager, threads = { [seq] = thread }, n = in flight }.
-- Finishing kills the light threads still in flight (their sockets close)
-- and closes the pager.
local function finish(run)
  run.finished = true
  for _, th in pairs(run.threads) do
    pcall(ngx.thread.kill, th)
  end
  run.threads = {}
  run.n = 0
  run.pager:close()
end

local function wait_any(run)
  local list = {}
  for _, th in pairs(run.threads) do list[#list + 1] = th end
  return ngx.thread.wait((table.unpack or unpack)(list))
end

-- Threads that ended without telling their seq (killed elsewhere): their
-- pages failed.
local function reap(run)
  for seq, th in pairs(run.threads) do
    if coroutine.status(th) == "dead" then
      run.threads[seq] = nil
      run.n = run.n - 1
      run.pager:feed(seq, nil, "network", "the request's light thread ended without a response")
    end
  end
end

-- Send what the pager wants sent: what, a (the last answer of next()), or
-- nil, err.
local function send_all(self, run)
  local creds, err = credentials(self)
  if err then return nil, err end
  while true do
    local ok, what, a, b = pcall(run.pager.next, run.pager, creds)
    if not ok then return nil, as_error(what) end
    if what ~= "send" then return what, a end
    local spawned, th = pcall(ngx.thread.spawn, fetch, self.transfer, a, b)
    if not spawned or not th then
      return nil, me.error("network", "cannot start a light thread: " .. tostring(th))
    end
    run.threads[a] = th
    run.n = run.n + 1
  end
end

-- Call the config's on_retry(err, delay_seconds) for each retry the core
-- has scheduled since the last look, as the C driver does (what it raises
-- is raised, as anything a caller's function raises).
local function report_retries(self, run)
  local on_retry = self.config.on_retry
  local notes = run.pager:retries()
  if notes and type(on_retry) == "function" then
    for _, note in ipairs(notes) do on_retry(note[1], note[2]) end
  end
end

-- Drive the pager to its next result: page | nil, err | nil (done).
local function step(self, run)
  if run.finished then return nil end
  local stalls = 0
  while true do
    if self.closed then
      -- the C client's memory is gone: its pager must not be driven on
      finish(run)
      return nil, closed_error()
    end
    local what, a = send_all(self, run)
    if not what then
      finish(run)
      return nil, a
    end

    local page, err = run.pager:take()
    if page then return page end
    if page == nil then
      finish(run)
      return nil, err
    end
    -- page == false: the next page is not here yet.
    if what == "wait" then
      report_retries(self, run)
      ngx.sleep(a)
      report_retries(self, run)
    elseif run.n > 0 then
      stalls = 0
      local called, ok, seq, res, kind, message = pcall(wait_any, run)
      if not called then
        -- (ngx.thread.wait works only in the coroutine that spawned them)
        finish(run)
        return nil, argument_error(nil, "drive an iteration from one coroutine: " .. tostring(ok))
      end
      if ok and run.threads[seq] then
        run.threads[seq] = nil
        run.n = run.n - 1
        if self.closed then
          finish(run)
          return nil, closed_error()
        end
        settle(run.pager, seq, res, kind, message)
        report_retries(self, run)
      else
        reap(run)
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

-- A run for a pager that make(core) returns, or nil and an error object.
local function start(self, make)
  if self.closed then return nil, closed_error() end
  local err = context_error()
  if err then return nil, err end
  local ok, pager = pcall(make, self.core)
  if not ok then return nil, as_error(pager) end
  return { pager = pager, threads = {}, n = 0 }
end

-- The one result of a single-request run: value | nil, err.
local function single(self, run)
  local value, err = step(self, run)
  if not run.finished then finish(run) end
  if value then return value end
  return nil, err or me.error("network", "no response was received")
end

--- One page of a job's events, as `modelarts_events` client:list returns it.
-- @tparam string job_id the training job id
-- @tparam[opt] table params offset, limit, order, start_time, end_time, level,
-- source, pattern, language
-- @return the page `{ total, limit, offset, order, start_time, end_time, events }`,
-- or nil and an error object (bad arguments included: kind `invalid_argument`)
function Client:list(job_id, params)
  local run, err = start(self, function(core) return core:pager(job_id, params, true) end)
  if not run then return nil, err end
  return single(self, run)
end

--- The job itself, as `modelarts_events` client:job returns it.
-- @tparam string job_id the training job id
-- @return `{ id, name, phase, secondary_phase, duration_ms, terminal, result, status }`,
-- or nil and an error object
function Client:job(job_id)
  if not self.closed and not self.core.job_pager then
    return nil, argument_error(nil, "client:job needs a modelarts_events C module with client:job_pager")
  end
  local run, err = start(self, function(core) return core:job_pager(job_id) end)
  if not run then return nil, err end
  return single(self, run)
end

-- An iterator object: call it for the next value; close() ends it early
-- (the requests in flight are dropped, their connections closed).
local function iterator(next_value, run)
  return setmetatable({
    close = function()
      if not run.finished then finish(run) end
    end,
  }, { __call = function() return next_value() end })
end

--- Iterate over the pages of a job's events, fetching up to `concurrency`
-- pages at once and yielding them in order.
-- Unlike `list`, the iterator raises: bad arguments raise the
-- `invalid_argument` error object when `pages` is called, and a failure while
-- iterating raises the error object from the loop (`pcall` around the loop
-- catches both), as the C client's iterators do. An iteration that ends
-- (done, failed, or `it:close()` after a `break`) stops the requests it
-- still has in flight; without `close()`, those finish within `timeout`
-- and their connections are kept alive.
-- @tparam string job_id the training job id
-- @tparam[opt] table params those of `list`, plus `max_items`
-- @return an iterator over pages (callable, with a `close` method)
function Client:pages(job_id, params)
  local run, err = start(self, function(core) return core:pager(job_id, params, false) end)
  if not run then error(err) end
  return iterator(function()
    local page, e = step(self, run)
    if page then return page end
    if e then error(e) end
    return nil
  end, run)
end

--- Iterate over the events of a job: `for event, i in client:events(id, params)`,
-- `i` counting from 1. Raises like `pages`.
-- @tparam string job_id the training job id
-- @tparam[opt] table params those of `pages`
-- @return an iterator over (event, index) (callable, with a `close` method)
function Client:events(job_id, params)
  local pages = self:pages(job_id, params)
  local events, i, count = nil, 0, 0
  local it = iterator(function()
    while true do
      if events and i < #events then
        i = i + 1
        count = count + 1
        return events[i], count
      end
      local page = pages()
      if not page then
        events = nil
        return nil
      end
      events, i = page.events, 0
    end
  end, {})
  it.close = pages.close
  return it
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

-- ---- credentials over cosockets --------------------------------------------
-- The C module plans IAM's login and the metadata service's request and
-- reads their answers (the pagers behind me.iam_token and
-- me.metadata_security_key: same retries, errors and redaction); these
-- functions move the bytes, as for events. The renewing functions keep
-- their rule in `modelarts_events.resty.renewing`.

-- The one answer of the pager make() returns: value | nil, err.
local function fetch_one(options, make)
  local driver = {
    config = {},
    transfer = {
      timeout = options.timeout or DEFAULT_TIMEOUT,
      connect_timeout = options.connect_timeout or DEFAULT_CONNECT_TIMEOUT,
      max_body = options.max_body or DEFAULT_MAX_BODY,
      verify = not options.insecure,
    },
  }
  local run, err = start(driver, make)
  if not run then return nil, err end
  return single(driver, run)
end

--- Log in to IAM with a password, over cosockets: what `me.iam_token` does.
-- @tparam table options those of `me.iam_token` (not `ca_file` nor `proxy`)
-- @return `{ token, expires_at, project_id }`, or nil and an error object
function M.iam_token(options)
  return fetch_one(options or {}, function() return me.iam_token_pager(options) end)
end

--- Temporary AK/SK from the metadata service, over cosockets: what
-- `me.metadata_security_key` does.
-- @tparam[opt] table options those of `me.metadata_security_key`
-- @return `{ ak, sk, security_token, expires_at }`, or nil and an error object
function M.metadata_security_key(options)
  return fetch_one(options or {}, function() return me.metadata_security_key_pager(options) end)
end

--- A renewing token function for `new`, as `me.iam_token_source`, logging
-- in over cosockets. Bad options raise at once; nothing is fetched before
-- the first call.
-- @tparam table options those of `iam_token`, plus `renew_before`
-- @return a function returning the token, its expires_at and project_id
function M.iam_token_source(options)
  local login, renew_before = renewing.split(options)
  me.iam_token_pager(login):close() -- checks the options, sends nothing
  local renew = renewing.state(function() return M.iam_token(login) end, renew_before)
  return function()
    local t = renew(true)
    return t.token, t.expires_at, t.project_id
  end
end

--- Renewing temporary AK/SK for `new`, as `me.metadata_credentials`,
-- fetched over cosockets: `ak()` renews when due, `sk()` and
-- `security_token()` return the set `ak()` last returned.
-- @tparam[opt] table options those of `metadata_security_key`, plus `renew_before`
-- @treturn table `{ ak = function, sk = function, security_token = function }`
function M.metadata_credentials(options)
  local ask, renew_before = renewing.split(options)
  me.metadata_security_key_pager(ask):close()
  local renew = renewing.state(function() return M.metadata_security_key(ask) end, renew_before)
  return {
    ak = function() return renew(true).ak end,
    sk = function() return renew(false).sk end,
    security_token = function() return renew(false).security_token end,
  }
end

--- A configuration from the environment, as `me.config_from_env`, but a
-- password login and the metadata service go over cosockets, at the first
-- request (never while the configuration is read).
-- @tparam[opt] table overrides as for `me.config_from_env`
-- @treturn table
function M.config_from_env(overrides)
  local t = {}
  for k, v in pairs(overrides or {}) do t[k] = v end
  t.sources = { iam_token_source = M.iam_token_source, metadata_credentials = M.metadata_credentials }
  return me.config_from_env(t)
end

return M
