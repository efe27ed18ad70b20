-- luacheck: globals ngx
-- The test server of spec/resty_spec.lua (see nginx_conf.lua): runs one
-- call of modelarts_events.resty as the query string says, in the phase the
-- location says, and answers with JSON.
--   op       new | list | pages | events | job | follow | close_mid | break |
--            http (one exchange of modelarts_events.resty.http: url, timeout, max_body)
--   endpoint the emulator's URL
--   auth     token (default) | aksk | none | token_fn (a function that
--            yields) | token_fn_fail (a function that raises) | env (what
--            resty.config_from_env makes of the worker's environment, which
--            nginx_conf.lua sets: a password login; its proxy variables
--            point nowhere, so that a request through libcurl would fail) |
--            metadata (resty.metadata_credentials from the emulator) |
--            iam (resty.iam_token_source with `password`)
--   job      the training job id
--   params   JSON: the call's params
--   config   JSON: more client configuration (retries, concurrency, timeout, ...)
--   close    with op=break: close the iterator after the first page
--   no_project  leave project_id out (AK/SK: the client asks IAM)
--   on_retry    count the client's on_retry calls (result.retries: their
--               error kinds, statuses and delays)
local cjson = require "cjson.safe"
local resty = require "modelarts_events.resty"

local M = {}

local function plain(err)
  if type(err) ~= "table" then return { message = tostring(err), not_an_object = true } end
  return {
    kind = err.kind, message = err.message, status = err.status, code = err.code,
    request_id = err.request_id, retryable = err.retryable, attempts = err.attempts,
    field = err.field, text = tostring(err),
  }
end

local function elapsed(started)
  ngx.update_time()
  return ngx.now() - started
end

-- What kind of function each credential is: "Lua" for the driver's own
-- (over cosockets), "C" for the C module's (over libcurl, blocking).
local function credential_kinds(config)
  local kinds = {}
  for _, field in ipairs { "token", "ak", "sk", "security_token" } do
    if type(config[field]) == "function" then kinds[field] = debug.getinfo(config[field], "S").what end
  end
  return kinds
end

local function make_client(args, retries)
  if args.auth == "env" then
    local config = resty.config_from_env { endpoint = args.endpoint }
    local client, err = resty.new(config)
    return client, err, credential_kinds(config)
  end
  local config = { endpoint = args.endpoint, project_id = "0a1b2c3d4e5f" }
  if args.auth == "iam" then
    config.token = resty.iam_token_source { domain = "emulator-domain", user = "emulator-user",
      password = args.password, iam_endpoint = args.endpoint, region = "cn-north-4" }
    local client, err = resty.new(config)
    return client, err, credential_kinds(config)
  end
  if args.auth == "metadata" then
    local creds = resty.metadata_credentials { endpoint = args.endpoint }
    config.ak, config.sk, config.security_token = creds.ak, creds.sk, creds.security_token
    local client, err = resty.new(config)
    return client, err, credential_kinds(config)
  end
  if args.on_retry then
    config.on_retry = function(err, delay)
      retries[#retries + 1] = { kind = err.kind, status = err.status, delay = delay }
    end
  end
  if args.auth == "aksk" then
    config.ak, config.sk = "emulator-ak", "emulator-sk"
  elseif args.auth == "token_fn" then
    config.token = function()
      ngx.sleep(0.001) -- a credential source may yield (a cosocket, a lock)
      return "emulator-token"
    end
  elseif args.auth == "token_fn_fail" then
    config.token = function() error("the vault is unreachable") end
  elseif args.auth ~= "none" then
    config.token = "emulator-token"
  end
  for k, v in pairs(args.config and assert(cjson.decode(args.config)) or {}) do config[k] = v end
  if args.no_project then config.project_id = nil end
  return resty.new(config)
end

-- Collect every page or event of an iteration; a raise is reported as such.
local function collect(client, args, params, started)
  local out, pages = {}, 0
  local ok, raised = pcall(function()
    if args.op == "pages" then
      for page in client:pages(args.job, params) do
        pages = pages + 1
        for _, ev in ipairs(page.events) do out[#out + 1] = ev end
      end
    else
      for ev, i in client:events(args.job, params) do
        assert(i == #out + 1, "the index counts from 1")
        out[#out + 1] = ev
      end
    end
  end)
  return { ok = ok, events = out, pages = pages, raised = not ok and plain(raised) or nil,
           seconds = elapsed(started) }
end

local OPS = {}

function OPS.list(client, args, params, started)
  local page, err = client:list(args.job, params)
  return { ok = page ~= nil, page = page, err = err and plain(err), seconds = elapsed(started) }
end

function OPS.job(client, args, _, started)
  local job, err = client:job(args.job)
  if job then job.status = nil end -- (the server's whole object: not compared)
  return { ok = job ~= nil, job = job, err = err and plain(err), seconds = elapsed(started) }
end

OPS.pages, OPS.events = collect, collect

function OPS.follow(client, args, _, started)
  local follow = require "modelarts_events.follow"
  local out = {}
  local it
  local ok, raised = pcall(function()
    it = follow(client, args.job, { interval = tonumber(args.interval) or 0.2, timeout = 30 })
    for ev in it do out[#out + 1] = ev end
  end)
  return { ok = ok, events = out, result = it and it.result, raised = not ok and plain(raised) or nil,
           seconds = elapsed(started) }
end

-- close the client between two pages: the iterator raises, nothing crashes
function OPS.close_mid(client, args, params)
  local next_page = client:pages(args.job, params)
  local first = next_page()
  client:close()
  local ok, raised = pcall(next_page)
  local page, err = client:list(args.job, params)
  return { ok = ok, first = first ~= nil, raised = not ok and plain(raised) or nil,
           list_ok = page ~= nil, err = err and plain(err) }
end

-- take the first page, then stop (closing the iterator when asked)
OPS["break"] = function(client, args, params, started)
  local it = client:pages(args.job, params)
  local first = it()
  if args.close then it.close() end
  return { ok = first ~= nil, seconds = elapsed(started) }
end

-- one exchange of the HTTP client itself, with the given url and limits
function OPS.http(_, args)
  local http = require "modelarts_events.resty.http"
  local res, kind, message = http.request({ method = args.method or "GET", url = args.url, headers = {} },
    { timeout = tonumber(args.timeout) or 3, connect_timeout = 1, max_body = tonumber(args.max_body) or 4096 })
  if not res then return { ok = false, kind = kind, message = message } end
  return { ok = true, status = res.status, body = res.body, headers = res.headers, reused = res.reused,
           kept = res.kept }
end

--- Run the call the arguments describe: the result table.
function M.run(args)
  ngx.update_time()
  local started = ngx.now()
  if args.op == "http" then return OPS.http(nil, args) end
  local retries = {}
  local client, err, kinds = make_client(args, retries)
  if args.op == "new" or not client then
    return { ok = client ~= nil, err = err and plain(err), phase = ngx.get_phase(), kinds = kinds }
  end
  local params = args.params and assert(cjson.decode(args.params)) or nil
  local op = OPS[args.op] or error("unknown op " .. tostring(args.op))
  local result = op(client, args, params, started)
  client:close()
  if args.on_retry then result.retries = retries end
  result.kinds = kinds
  result.phase = ngx.get_phase()
  return result
end

local function reply(result)
  ngx.header.content_type = "application/json"
  ngx.say(cjson.encode(result))
  return ngx.exit(ngx.HTTP_OK)
end

--- The handler of the rewrite, access and content locations.
function M.handle()
  return reply(M.run(ngx.req.get_uri_args()))
end

local TIMER_LIMIT = 120 -- seconds a timer's run may take before the handler gives up

--- The handler of /run_timer: the call runs in a timer (no request of its
-- own), the result comes back through the shared dict.
function M.handle_in_timer()
  local dict = ngx.shared.results
  local key = "timer:" .. ngx.var.request_id
  local args = ngx.req.get_uri_args()
  local ok, err = ngx.timer.at(0, function(premature)
    if premature then return end
    local done, result = pcall(M.run, args)
    if not done then result = { ok = false, crashed = tostring(result) } end
    dict:set(key, cjson.encode(result), TIMER_LIMIT)
  end)
  if not ok then return reply { ok = false, crashed = "cannot start a timer: " .. tostring(err) } end
  for _ = 1, TIMER_LIMIT * 20 do
    local s = dict:get(key)
    if s then
      dict:delete(key)
      return reply(assert(cjson.decode(s)))
    end
    ngx.sleep(0.05)
  end
  return reply { ok = false, crashed = "the timer did not finish" }
end

-- Responses as a misbehaving server sends them, byte for byte (GET /raw/<name>).
local RAW = {
  ok = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
  ok_no_reason = "HTTP/1.1 200\r\nContent-Length: 5\r\n\r\nhello",
  interim = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
  no_content = "HTTP/1.1 204 No Content\r\n\r\n",
  until_close = "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nall of it",
  close_with_length = "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok",
  http10 = "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok",
  http10_keepalive = "HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 2\r\n\r\nok",
  extra_bytes = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\n",
  chunked = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" ..
    "5;name=value\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\nX-Trailer: 1\r\n\r\n",
  status_4_digits = "HTTP/1.1 2000 OK\r\nContent-Length: 0\r\n\r\n",
  http2 = "HTTP/2 200\r\nContent-Length: 0\r\n\r\n",
  not_http = "SSH-2.0-OpenSSH_9.2\r\n",
  no_colon = "HTTP/1.1 200 OK\r\nContent-Length 0\r\n\r\n",
  space_before_colon = "HTTP/1.1 200 OK\r\nContent-Length : 0\r\n\r\n",
  folded = "HTTP/1.1 200 OK\r\nX-A: 1\r\n  2\r\nContent-Length: 0\r\n\r\n",
  long_header = "HTTP/1.1 200 OK\r\nX-Long: " .. string.rep("a", 9000) .. "\r\nContent-Length: 0\r\n\r\n",
  many_headers = "HTTP/1.1 200 OK\r\n" .. string.rep("X-A: 1\r\n", 101) .. "Content-Length: 0\r\n\r\n",
  switching = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n",
  bad_chunk_size = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
  huge_chunk_size = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1000000000000000\r\nhello",
  chunk_overrun = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhello\r\n0\r\n\r\n",
  conflicting_length = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
  length_and_chunked = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n" ..
    "5\r\nhello\r\n0\r\n\r\n",
  gzip = "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
  bad_length = "HTTP/1.1 200 OK\r\nContent-Length: -5\r\n\r\n",
  large_length = "HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n",
  short_body = "HTTP/1.1 200 OK\r\nContent-Length: 50\r\nConnection: close\r\n\r\nhello",
  nothing = "",
}

--- GET /raw/<name>: the bytes of RAW[name] on the raw connection, which
-- closes 0.3 s later.
function M.raw(name)
  local bytes = RAW[name]
  if not bytes then return ngx.exit(ngx.HTTP_NOT_FOUND) end
  local sock = assert(ngx.req.socket(true))
  if #bytes > 0 then assert(sock:send(bytes)) end
  -- hold the connection open a moment, as a server that keeps it alive
  -- does (a connection closed at once cannot go back to the client's pool)
  ngx.sleep(0.3)
  return ngx.exit(ngx.OK)
end

--- set_by_lua: list, which cannot work there; the JSON result.
function M.in_set(endpoint)
  return cjson.encode(M.run { op = "list", job = "reference", endpoint = ngx.unescape_uri(endpoint) })
end

--- init_worker_by_lua: a timer lists the events of gen-250 as soon as the
-- worker starts (cosockets do not exist in init_worker itself).
function M.init_worker(endpoint)
  assert(ngx.timer.at(0, function(premature)
    if premature then return end
    local done, result = pcall(M.run, { op = "events", job = "gen-250", endpoint = endpoint,
                                        params = '{"limit":100}' })
    if not done then result = { ok = false, crashed = tostring(result) } end
    ngx.shared.results:set("init_worker", cjson.encode(result))
  end))
end

--- GET /init_worker: what the init_worker timer got (404 until it is done).
function M.init_worker_result()
  local s = ngx.shared.results:get("init_worker")
  if not s then return ngx.exit(ngx.HTTP_NOT_FOUND) end
  return reply(assert(cjson.decode(s)))
end

return M
