-- modelarts_events.resty inside a real nginx (ngx_lua), against the emulator:
-- the test locations of spec/resty/ (nginx_conf.lua, handler.lua), and examples/nginx.conf with
-- examples/openresty_handler.lua as a user would run them.
--
-- Environment: MODELARTS_EMULATOR (default http://127.0.0.1:18080),
-- ME_RESTY_PORT (default 18181; the example server takes the next port),
-- ME_RESTY_CPATH (a folder holding a LuaJIT build of modelarts_events.so;
-- by default the spec runs `make LUA_VERSION=jit` and uses build/jit).
local cjson = require "cjson.safe"

local EMULATOR = os.getenv("MODELARTS_EMULATOR") or "http://127.0.0.1:18080"
local PORT = tonumber(os.getenv("ME_RESTY_PORT") or "18181")
local EXAMPLE_PORT = PORT + 1
local TLS_URL = os.getenv("MODELARTS_EMULATOR_TLS") or "https://127.0.0.1:18443"
local TLS_CA = os.getenv("MODELARTS_EMULATOR_CA") or "/tmp/modelarts-emulator-18080/ca.pem"
-- nginx checks a certificate against a host name only (X509_check_host),
-- never against an IP address: for https://127.0.0.1 it must be told the
-- name the emulator's certificate holds.
local TLS_NAME = os.getenv("ME_RESTY_TLS_NAME") or
  (TLS_URL:match("^https://%d+%.%d+%.%d+%.%d+[:/]") or TLS_URL:match("^https://%d+%.%d+%.%d+%.%d+$")) and "localhost" or nil
local NGINX_MODULE = "/usr/lib/nginx/modules/ngx_http_lua_module.so"

-- Run a shell command: exit status, output (stdout and stderr). The status
-- travels in the output: on Lua 5.1 and LuaJIT close() does not tell it.
-- LD_PRELOAD is dropped: the sanitizer run preloads its runtime for the
-- suite's Lua, and nginx or curl must not get it.
local function sh(cmd)
  local f = assert(io.popen("unset LD_PRELOAD; { " .. cmd .. " ; } 2>&1; echo \"::$?\""))
  local out = f:read("*a")
  f:close()
  local body, code = out:match("^(.-)::(%d+)%s*$")
  return tonumber(code), body
end

local function quote(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

local function read(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("*a")
  f:close()
  return s
end

local function write(path, s)
  local f = assert(io.open(path, "wb"))
  assert(f:write(s))
  f:close()
end

local function urlencode(s)
  return (tostring(s):gsub("[^%w%-_%.~]", function(c) return string.format("%%%02X", c:byte()) end))
end

local function query(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys)
  local parts = {}
  for _, k in ipairs(keys) do
    local v = t[k]
    if type(v) == "table" then v = cjson.encode(v) end
    parts[#parts + 1] = k .. "=" .. urlencode(v)
  end
  return table.concat(parts, "&")
end

-- GET url -> status, body
local function get(url)
  local code, out = sh("curl -s -m 60 -w '\\n%{http_code}' " .. quote(url))
  assert(code == 0, "curl failed: " .. out)
  local body, status = out:match("^(.*)\n(%d+)$")
  return tonumber(status), body
end

local counter = 0
local function tag()
  counter = counter + 1
  return string.format("%d%04d%d", os.time(), math.random(0, 9999), counter)
end

-- The C module for nginx's LuaJIT, in build/jit. Whatever the make that
-- runs the suite was told (Lua version, sanitizers) must not reach it.
local function build_jit()
  local code, out = sh("env -u MAKEFLAGS -u MFLAGS -u MAKEOVERRIDES -u MAKELEVEL " ..
    "make -s LUA_VERSION=jit SANITIZE= build/jit/modelarts_events.so")
  assert(code == 0, "cannot build the LuaJIT module: " .. out)
end

local have_nginx = sh("command -v nginx") == 0 and read(NGINX_MODULE) ~= nil

-- Start nginx on conf text (daemon on) in prefix; returns the pid file path.
local function start_nginx(prefix, conf, env, globals)
  for _, d in ipairs { "", "/conf", "/logs", "/tmp" } do assert(sh("mkdir -p " .. quote(prefix .. d)) == 0) end
  write(prefix .. "/conf/nginx.conf", conf)
  local cmd = string.format("%s nginx -p %s -c %s%s", env or "", quote(prefix), quote(prefix .. "/conf/nginx.conf"),
    globals and (" -g " .. quote(globals)) or "")
  local code, out = sh(cmd)
  assert(code == 0, "nginx did not start: " .. out .. (read(prefix .. "/logs/error.log") or ""))
end

local function stop_nginx(pidfile)
  local pid = read(pidfile)
  pid = pid and pid:match("%d+")
  if not pid then return end
  sh("kill -QUIT " .. pid)
  for _ = 1, 50 do
    if sh("kill -0 " .. pid) ~= 0 then return end
    sh("sleep 0.1")
  end
  sh("kill -KILL " .. pid)
end

local function wait_up(port)
  for _ = 1, 50 do
    if sh("curl -s -o /dev/null -m 1 http://127.0.0.1:" .. port .. "/") == 0 then return end
    sh("sleep 0.1")
  end
  error("nginx does not answer on port " .. port)
end

local describe_nginx = have_nginx and describe or function(name)
  describe(name, function()
    pending("nginx with libnginx-mod-http-lua is not installed (" .. NGINX_MODULE .. ")")
  end)
end

describe_nginx("modelarts_events.resty in nginx", function()
  local repo = (select(2, sh("pwd")):gsub("%s+$", ""))
  local prefix, cpath

  setup(function()
    cpath = os.getenv("ME_RESTY_CPATH")
    if not cpath then
      build_jit()
      cpath = repo .. "/build/jit"
    end
    prefix = os.tmpname()
    os.remove(prefix)
    local template = assert(loadfile("spec/resty/nginx_conf.lua"))()
    local tls = ""
    if read(TLS_CA) then
      tls = template.tls:gsub("%${CA}", TLS_CA)
      -- nginx checks the certificate against the host name of the URL
      -- unless told otherwise
      if TLS_NAME then
        tls = tls:gsub("%${TLS_NAME}", TLS_NAME)
      else
        tls = tls:gsub("\n[^\n]*proxy_ssl_name[^\n]*", "")
      end
    end
    local conf = template.conf:gsub("%${([%u_]+)}", { PREFIX = prefix, PORT = tostring(PORT), REPO = repo,
                                                      CPATH = cpath, TLS_LOCATIONS = tls })
    start_nginx(prefix, conf)
    wait_up(PORT)
  end)

  teardown(function()
    if prefix then
      stop_nginx(prefix .. "/nginx.pid")
      sh("rm -rf " .. quote(prefix))
    end
  end)

  -- One call through the test location: the decoded JSON answer.
  local function run(args)
    args.endpoint = args.endpoint or EMULATOR
    local status, body = get("http://127.0.0.1:" .. PORT .. "/run?" .. query(args))
    assert.equal(200, status, body)
    return assert(cjson.decode(body), body)
  end

  it("lists the reference job", function()
    local r = run { op = "list", job = "reference", params = { limit = 10 } }
    assert.is_true(r.ok, r.err and r.err.text)
    assert.equal(27, r.page.total)
    assert.equal(10, r.page.limit)
    assert.equal(0, r.page.offset)
    assert.equal(10, #r.page.events)
    assert.equal("Training job failed.", r.page.events[1].message)
    assert.equal("Error", r.page.events[1].level)
    assert.equal("Job", r.page.events[1].source)
  end)

  for _, concurrency in ipairs { 1, 4 } do
    it("yields every event of gen-1234 once, newest first, at concurrency " .. concurrency, function()
      local r = run { op = "events", job = "gen-1234", params = { limit = 100 },
                      config = { concurrency = concurrency } }
      assert.is_true(r.ok, r.raised and r.raised.text)
      assert.equal(1234, #r.events)
      for i, ev in ipairs(r.events) do
        assert.equal(1235 - i, tonumber(ev.message:match("#(%d+)")), ev.message)
      end
    end)
  end

  it("has pages in flight at once", function()
    -- every page of fault-slow-1000 takes 1 s: 6 pages of 5 one after the
    -- other take 6 s, 4 at a time 3 s (page 0 first, for the total)
    local r = run { op = "events", job = "fault-slow-1000", params = { limit = 5 }, config = { concurrency = 4 } }
    assert.is_true(r.ok, r.raised and r.raised.text)
    local pages = math.ceil(#r.events / 5)
    assert.is_true(pages >= 4, "fault-slow-1000 holds " .. #r.events .. " events")
    assert.is_true(r.seconds < pages - 1.5, pages .. " pages took " .. r.seconds .. " s")
  end)

  it("yields pages in order with max_items", function()
    local r = run { op = "pages", job = "gen-250", params = { order = "asc", limit = 33, max_items = 100 },
                    config = { concurrency = 4 } }
    assert.is_true(r.ok, r.raised and r.raised.text)
    assert.equal(100, #r.events)
    assert.equal(4, r.pages)
    for i, ev in ipairs(r.events) do assert.equal(i, tonumber(ev.message:match("#(%d+)"))) end
  end)

  it("returns the server's HTTP error as an error object", function()
    local r = run { op = "list", job = "no-such-job" }
    assert.is_false(r.ok)
    assert.equal("http", r.err.kind)
    assert.equal(404, r.err.status)
    assert.is_string(r.err.code)
    assert.is_false(r.err.retryable)
  end)

  it("keeps a 502 the server sent apart from one nginx made", function()
    local r = run { op = "list", job = "fault-html502", config = { retries = 0 } }
    assert.is_false(r.ok)
    assert.equal("http", r.err.kind)
    assert.equal(502, r.err.status)
    assert.is_true(r.err.retryable)
  end)

  it("raises the error object from the iterators", function()
    local r = run { op = "events", job = "no-such-job" }
    assert.is_false(r.ok)
    assert.equal("http", r.raised.kind)
    assert.equal(404, r.raised.status)
  end)

  it("retries 503 with backoff in the paging core, and stops when retries run out", function()
    local r = run { op = "list", job = "fault-503-2-" .. tag(), config = { retries = 3 } }
    assert.is_true(r.ok, r.err and r.err.text)
    assert.equal(27, r.page.total)

    r = run { op = "list", job = "fault-503-2-" .. tag(), config = { retries = 0 } }
    assert.is_false(r.ok)
    assert.equal("http", r.err.kind)
    assert.equal(503, r.err.status)
    assert.is_true(r.err.retryable)
  end)

  it("retries while iterating too", function()
    local r = run { op = "events", job = "fault-503-1-" .. tag(), params = { limit = 4 },
                    config = { retries = 2, concurrency = 4 } }
    assert.is_true(r.ok, r.raised and r.raised.text)
    assert.equal(27, #r.events)
  end)

  it("honours Retry-After from the response headers", function()
    -- fault-429-1-*: one 429 with Retry-After: 1, then the reference page
    local r = run { op = "list", job = "fault-429-1-" .. tag(), config = { retries = 2 } }
    assert.is_true(r.ok, r.err and r.err.text)
    assert.equal(27, r.page.total)
    assert.is_true(r.seconds >= 0.9, "retried after " .. r.seconds .. " s")
  end)

  it("sends the API request's headers, not those of the client's request", function()
    local url = "http://127.0.0.1:" .. PORT .. "/run?" .. query { op = "list", job = "reference", endpoint = EMULATOR }
    local code, out = sh("curl -s -o /dev/null -H 'Cookie: session=secret' -H 'Authorization: Basic c2VjcmV0' " ..
      "-H 'X-Forwarded-For: 10.0.0.1' -H 'Accept-Encoding: gzip' " .. quote(url))
    assert.equal(0, code, out)
    local _, body = get(EMULATOR .. "/_emulator/last")
    local last = assert(cjson.decode(body), body)
    local headers = {}
    for k, v in pairs(last.headers) do headers[k:lower()] = v end
    assert.is_nil(headers.cookie)
    assert.is_nil(headers.authorization)
    assert.is_nil(headers["x-forwarded-for"])
    assert.is_nil(headers["accept-encoding"])
    assert.equal("emulator-token", headers["x-auth-token"])
    assert.equal(EMULATOR:match("^%a+://([^/]+)"), headers.host)
  end)

  it("signs with AK/SK, the Host header included", function()
    local r = run { op = "list", job = "reference", auth = "aksk", params = { limit = 5 } }
    assert.is_true(r.ok, r.err and r.err.text)
    assert.equal(27, r.page.total)
    r = run { op = "events", job = "gen-1234", auth = "aksk", params = { limit = 100 }, config = { concurrency = 4 } }
    assert.is_true(r.ok, r.raised and r.raised.text)
    assert.equal(1234, #r.events)
  end)

  it("rejects a wrong secret key as the server does", function()
    local r = run { op = "list", job = "reference", auth = "aksk", config = { sk = "not-the-key", retries = 0 } }
    assert.is_false(r.ok)
    assert.equal("http", r.err.kind)
    assert.is_true(r.err.status == 401 or r.err.status == 403, tostring(r.err.status))
    assert.is_nil(r.err.text:find("not-the-key", 1, true))
  end)

  describe("bad arguments", function()
    it("list returns nil, err", function()
      local r = run { op = "list", job = "reference", params = { limit = 1000 } }
      assert.is_false(r.ok)
      assert.equal("invalid_argument", r.err.kind)
      assert.equal("limit", r.err.field)
      r = run { op = "list", job = "a/b" }
      assert.equal("invalid_argument", r.err.kind)
      r = run { op = "list", job = "reference", params = { start_time = 1669449696964 } }
      assert.equal("invalid_argument", r.err.kind)
    end)

    it("new returns nil, err", function()
      local r = run { op = "new", auth = "none" }
      assert.is_false(r.ok)
      assert.equal("invalid_argument", r.err.kind)
      r = run { op = "new", config = { retries = -1 } }
      assert.equal("invalid_argument", r.err.kind)
      assert.equal("retries", r.err.field)
      r = run { op = "new", config = { location = "no-slash" } }
      assert.equal("invalid_argument", r.err.kind)
      assert.equal("location", r.err.field)
      r = run { op = "new", config = { bogus = true } }
      assert.equal("invalid_argument", r.err.kind)
    end)

    it("the iterators raise the error object", function()
      local r = run { op = "events", job = "gen-10", params = { limit = 0 } }
      assert.is_false(r.ok)
      assert.equal("invalid_argument", r.raised.kind)
      r = run { op = "pages", job = "gen-10", params = { max_items = 0 } }
      assert.equal("invalid_argument", r.raised.kind)
    end)

    it("a location that does not run the hook is reported", function()
      local r = run { op = "list", job = "reference", config = { location = "/_not_set_up" } }
      assert.is_false(r.ok)
      assert.equal("invalid_argument", r.err.kind)
      assert.equal("location", r.err.field)
    end)
  end)

  it("stops an iteration whose client was closed, without crashing the worker", function()
    local r = run { op = "close_mid", job = "gen-1234", params = { limit = 10 }, config = { concurrency = 4 } }
    assert.is_true(r.first)
    assert.is_false(r.ok)
    assert.equal("invalid_argument", r.raised.kind)
    assert.is_false(r.list_ok)
    assert.equal("invalid_argument", r.err.kind)
    -- the worker is still there
    assert.equal(200, (get("http://127.0.0.1:" .. PORT .. "/fast")))
  end)

  describe("transfer failures", function()
    it("maps nginx's own timeout to a timeout error", function()
      local r = run { op = "list", job = "fault-slow-2000",
                      config = { retries = 0, location = "/_modelarts_events_short" } }
      assert.is_false(r.ok)
      assert.equal("timeout", r.err.kind)
      assert.is_true(r.err.retryable)
      assert.is_nil(r.err.status)
    end)

    it("maps a refused connection to a network error, after the retries", function()
      local r = run { op = "list", job = "reference", endpoint = "http://127.0.0.1:9", config = { retries = 1 } }
      assert.is_false(r.ok)
      assert.equal("network", r.err.kind)
      assert.is_true(r.err.retryable)
      assert.equal(2, r.err.attempts)
    end)

    it("maps a connection dropped mid-body to a network error", function()
      local r = run { op = "list", job = "fault-reset", config = { retries = 0 } }
      assert.is_false(r.ok)
      assert.equal("network", r.err.kind)
      assert.is_true(r.err.retryable)
    end)

    it("reports a broken body as a decode error", function()
      local r = run { op = "list", job = "fault-truncated", config = { retries = 0 } }
      assert.is_false(r.ok)
      assert.equal("decode", r.err.kind)
      assert.equal(200, r.err.status)
    end)

    it("cuts off a huge answer at max_body", function()
      local r = run { op = "list", job = "fault-oversized", config = { retries = 0 } }
      assert.is_false(r.ok)
      assert.equal("too_large", r.err.kind)
      assert.is_false(r.err.retryable)
    end)

    it("refuses a body larger than max_body", function()
      local r = run { op = "list", job = "gen-1234", params = { limit = 100 }, config = { max_body = 1024, retries = 0 } }
      assert.is_false(r.ok)
      assert.equal("too_large", r.err.kind)
    end)
  end)

  describe("over https", function()
    local function tls_pending()
      if not read(TLS_CA) then
        pending("no CA file of the emulator's TLS port at " .. TLS_CA .. " (MODELARTS_EMULATOR_CA)")
        return true
      end
    end

    it("verifies the server against proxy_ssl_trusted_certificate", function()
      if tls_pending() then return end
      local r = run { op = "list", job = "reference", endpoint = TLS_URL, config = { location = "/_modelarts_events_tls" } }
      assert.is_true(r.ok, r.err and r.err.text)
      assert.equal(27, r.page.total)
      r = run { op = "list", job = "reference", endpoint = TLS_URL, auth = "aksk",
                config = { location = "/_modelarts_events_tls" } }
      assert.is_true(r.ok, r.err and r.err.text)
    end)

    it("fails when the certificate is not trusted", function()
      if tls_pending() then return end
      local r = run { op = "list", job = "reference", endpoint = TLS_URL,
                      config = { location = "/_modelarts_events_untrusted", retries = 0 } }
      assert.is_false(r.ok)
      assert.equal("network", r.err.kind)
    end)
  end)

  it("does not block the worker while a page is slow", function()
    -- one worker: while /run waits 2 s for the emulator, /fast must answer
    local slow_url = "http://127.0.0.1:" .. PORT .. "/run?" ..
      query { op = "list", job = "fault-slow-2000", endpoint = EMULATOR }
    local fast_url = "http://127.0.0.1:" .. PORT .. "/fast"
    local out = prefix .. "/slow.json"
    local script = string.format(
      "curl -s -m 30 -o %s %s & pid=$!; sleep 0.3; " ..
      "curl -s -m 30 -o /dev/null -w '%%{http_code} %%{time_total}' %s; echo; wait $pid",
      quote(out), quote(slow_url), quote(fast_url))
    local code, res = sh("sh -c " .. quote(script))
    assert.equal(0, code, res)
    local status, seconds = res:match("(%d+) ([%d%.]+)")
    assert.equal("200", status, res)
    assert.is_true(tonumber(seconds) < 0.5, "the fast request took " .. seconds .. " s")
    local slow = assert(cjson.decode((assert(read(out)))))
    assert.is_true(slow.ok, slow.err and slow.err.text)
    assert.is_true(slow.seconds >= 1.9, "the slow page came after " .. slow.seconds .. " s")
  end)
end)

describe_nginx("examples/nginx.conf with examples/openresty_handler.lua", function()
  local repo = (select(2, sh("pwd")):gsub("%s+$", ""))
  local prefix

  setup(function()
    local cpath = os.getenv("ME_RESTY_CPATH")
    if not cpath then build_jit() end
    prefix = os.tmpname()
    os.remove(prefix)
    -- The example as a user runs it (nginx -p <checkout>), with the test's
    -- port, logs and temp folders.
    local conf = assert(read("examples/nginx.conf"))
    local n
    conf, n = conf:gsub("\n(%s*)listen 8080;", "\n%1listen 127.0.0.1:" .. EXAMPLE_PORT .. ";")
    assert(n == 1, "examples/nginx.conf: no 'listen 8080;'")
    conf = conf:gsub("\nhttp {\n", function()
      return "\nhttp {\n" .. table.concat({
        "access_log " .. prefix .. "/logs/access.log;",
        "client_body_temp_path " .. prefix .. "/tmp/body;",
        "proxy_temp_path " .. prefix .. "/tmp/proxy;",
        "fastcgi_temp_path " .. prefix .. "/tmp/fastcgi;",
        "uwsgi_temp_path " .. prefix .. "/tmp/uwsgi;",
        "scgi_temp_path " .. prefix .. "/tmp/scgi;",
      }, "\n") .. "\n"
    end)
    conf = conf:gsub("worker_processes auto;", "worker_processes 2;")
    if cpath then conf = conf:gsub("%$prefix/build/jit/%?%.so", cpath .. "/?.so") end
    for _, d in ipairs { "", "/logs", "/tmp" } do assert(sh("mkdir -p " .. quote(prefix .. d)) == 0) end
    write(prefix .. "/nginx.conf", conf)
    local env = "env -u HUAWEICLOUD_SDK_AK -u HUAWEICLOUD_SDK_SK -u HUAWEICLOUD_SDK_SECURITY_TOKEN " ..
      "-u HUAWEICLOUD_SDK_REGION MODELARTS_ENDPOINT=" .. quote(EMULATOR) ..
      " MODELARTS_TOKEN=emulator-token HUAWEICLOUD_SDK_PROJECT_ID=0a1b2c3d4e5f"
    local cmd = string.format("%s nginx -p %s -c %s -g %s", env, quote(repo), quote(prefix .. "/nginx.conf"),
      quote("pid " .. prefix .. "/nginx.pid; error_log " .. prefix .. "/logs/error.log info;"))
    local code, out = sh(cmd)
    assert(code == 0, "nginx did not start: " .. out .. (read(prefix .. "/logs/error.log") or ""))
    wait_up(EXAMPLE_PORT)
  end)

  teardown(function()
    if prefix then
      stop_nginx(prefix .. "/nginx.pid")
      sh("rm -rf " .. quote(prefix))
    end
  end)

  local function lines(body)
    local out = {}
    for line in body:gmatch("[^\n]+") do out[#out + 1] = assert(cjson.decode(line), line) end
    return out
  end

  local base = "http://127.0.0.1:" .. EXAMPLE_PORT .. "/events/"

  it("answers with the reference job's events as JSON lines", function()
    local status, body = get(base .. "reference")
    assert.equal(200, status, body)
    local events = lines(body)
    assert.equal(27, #events)
    assert.equal("Training job failed.", events[1].message)
    assert.equal("Error", events[1].level)
  end)

  it("passes the query on as params", function()
    local status, body = get(base .. "gen-1234?limit=100&order=asc&max_items=250")
    assert.equal(200, status, body)
    local events = lines(body)
    assert.equal(250, #events)
    for i, ev in ipairs(events) do assert.equal(i, tonumber(ev.message:match("#(%d+)"))) end
    status, body = get(base .. "gen-1234?limit=100")
    assert.equal(200, status)
    assert.equal(1234, #lines(body))
  end)

  it("answers 404 with the error for an unknown job, 400 for bad params", function()
    local status, body = get(base .. "no-such-job")
    assert.equal(404, status, body)
    local err = assert(cjson.decode(body)).error
    assert.equal("http", err.kind)
    assert.equal(404, err.status)
    status, body = get(base .. "reference?limit=1000")
    assert.equal(400, status, body)
    assert.equal("invalid_argument", assert(cjson.decode(body)).error.kind)
  end)
end)
