-- modelarts_events.resty inside a real nginx (ngx_lua), against the emulator:
-- the test server of spec/resty/ (nginx_conf.lua, harness.lua) runs calls in
-- the content, rewrite and access phases, in timers, and from init_worker.
-- The gateway example and the README's setup have their own specs in
-- spec/resty/. Environment: see spec/resty/support.lua.
local cjson = require "cjson.safe"
local t = dofile("spec/resty/support.lua")

local sh, quote, read, get = t.sh, t.quote, t.read, t.get
local EMULATOR, TLS_URL, PORT = t.EMULATOR, t.TLS_URL, t.PORT
local have_ca = read(t.TLS_CA) ~= nil
local BASE = "http://127.0.0.1:" .. PORT
local SYSTEM_CAS = "/etc/ssl/certs/ca-certificates.crt"

-- One call through the test server: the decoded JSON answer.
local function run(args, location)
  args.endpoint = args.endpoint or EMULATOR
  local status, body = get(BASE .. (location or "/run") .. "?" .. t.query(args))
  assert.equal(200, status, body)
  return assert(cjson.decode(body), body)
end

-- The emulator's jobs this round added, which older emulators answer 404.
local function emulator_has(job)
  local r = run { op = "list", job = job, config = { retries = 0, timeout = 3, max_body = 1024 } }
  return not (r.err and r.err.status == 404)
end

t.describe_nginx(describe, pending, "modelarts_events.resty in nginx", function()
  local dir, log

  -- The test server on port, trusting ca: its folder and error log.
  local function start_server(port, ca)
    local folder = t.tmpdir()
    local conf = assert(loadfile("spec/resty/nginx_conf.lua"))():gsub("%${([%u_]+)}", {
      DIR = folder, PATHS = t.private_paths(folder), PORT = tostring(port), REPO = t.repo(), CPATH = t.cpath(),
      CA = ca, EMULATOR = EMULATOR,
    })
    t.write(folder .. "/nginx.conf", conf)
    return folder, t.start_nginx { dir = folder, conf = folder .. "/nginx.conf", port = port }
  end

  setup(function()
    dir, log = start_server(PORT, have_ca and t.TLS_CA or SYSTEM_CAS)
  end)

  teardown(function() t.remove_nginx(dir) end)

  after_each(function()
    -- no test may take a worker down
    if log then assert.same({}, t.crashes(log)) end
  end)

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

  it("calls the config's on_retry for every retry the core schedules", function()
    local r = run { op = "list", job = "fault-503-2-" .. t.tag(), on_retry = "1", config = { retries = 3 } }
    assert.is_true(r.ok, r.err and r.err.text)
    assert.equal(2, #r.retries)
    for _, retry in ipairs(r.retries) do
      assert.equal("http", retry.kind)
      assert.equal(503, retry.status)
      assert.is_true(retry.delay >= 0)
    end
  end)

  describe("runs in every phase with cosockets", function()
    for _, location in ipairs { "/run_rewrite", "/run_access", "/run_timer" } do
      it(location, function()
        local r = run({ op = "events", job = "gen-250", params = { limit = 100 }, config = { concurrency = 4 } },
          location)
        assert.is_nil(r.crashed)
        assert.is_true(r.ok, r.raised and r.raised.text)
        assert.equal(250, #r.events)
        assert.equal(location:match("_(%a+)$"), r.phase)
        r = run({ op = "list", job = "fault-503-1-" .. t.tag(), config = { retries = 1 } }, location)
        assert.is_true(r.ok, r.err and r.err.text)
      end)
    end

    it("from init_worker_by_lua, through a timer", function()
      local status, body
      for _ = 1, 100 do
        status, body = get(BASE .. "/init_worker")
        if status == 200 then break end
        sh("sleep 0.1")
      end
      assert.equal(200, status, body)
      local r = assert(cjson.decode(body))
      assert.is_nil(r.crashed)
      assert.is_true(r.ok, r.raised and r.raised.text)
      assert.equal("timer", r.phase)
      assert.equal(250, #r.events)
    end)

    it("refuses a phase without cosockets with a clear error", function()
      local r = run({}, "/run_set")
      assert.is_false(r.ok)
      assert.equal("invalid_argument", r.err.kind)
      assert.truthy(r.err.message:find("'set'", 1, true), r.err.message)
      assert.truthy(r.err.message:find("ngx.timer.at", 1, true), r.err.message)
    end)

    it("refuses the location of the subrequest driver that was", function()
      local r = run { op = "new", config = { location = "/_modelarts_events" } }
      assert.is_false(r.ok)
      assert.equal("location", r.err.field)
      assert.truthy(r.err.message:find("cosockets", 1, true))
    end)
  end)

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

  describe("keep-alive", function()
    it("sends every page of an iteration over one kept-alive connection", function()
      t.reset()
      local r = run { op = "events", job = "gen-1234", params = { limit = 100 }, config = { concurrency = 1 } }
      assert.is_true(r.ok, r.raised and r.raised.text)
      local stats = t.stats()
      -- thirteen pages, and the core's probe of how the server reads offset
      assert.equal(14, stats.requests)
      assert.equal(1, stats.connections)
    end)

    it("keeps at most `concurrency` connections, and reuses them across requests", function()
      t.reset()
      for _ = 1, 3 do
        local r = run { op = "events", job = "gen-1234", params = { limit = 100 }, config = { concurrency = 4 } }
        assert.is_true(r.ok, r.raised and r.raised.text)
      end
      local stats = t.stats()
      -- three iterations of thirteen pages and a probe each
      assert.equal(42, stats.requests)
      assert.is_true(stats.connections <= 4, stats.connections .. " connections")
    end)

    it("sends again on a fresh connection when the server dropped a kept-alive one", function()
      if not emulator_has("dropreused-" .. t.tag()) then
        return pending("the emulator has no dropreused-TAG job yet")
      end
      local r = run { op = "events", job = "dropreused-" .. t.tag(), params = { limit = 5 },
                      config = { concurrency = 1, retries = 0 } }
      assert.is_true(r.ok, r.raised and r.raised.text)
      assert.equal(27, #r.events)
    end)
  end)

  it("reads a chunked response", function()
    if not emulator_has("chunked-10") then return pending("the emulator has no chunked-N job yet") end
    local r = run { op = "events", job = "chunked-1234", params = { limit = 100 }, config = { concurrency = 4 } }
    assert.is_true(r.ok, r.raised and r.raised.text)
    assert.equal(1234, #r.events)
    for i, ev in ipairs(r.events) do assert.equal(1235 - i, tonumber(ev.message:match("#(%d+)"))) end
  end)

  it("returns the server's HTTP error as an error object", function()
    local r = run { op = "list", job = "no-such-job" }
    assert.is_false(r.ok)
    assert.equal("http", r.err.kind)
    assert.equal(404, r.err.status)
    assert.is_string(r.err.code)
    assert.is_string(r.err.request_id)
    assert.is_false(r.err.retryable)
  end)

  it("keeps a 502 the server sent as http", function()
    local r = run { op = "list", job = "fault-html502", config = { retries = 0 } }
    assert.is_false(r.ok)
    assert.equal("http", r.err.kind)
    assert.equal(502, r.err.status)
    assert.is_true(r.err.retryable)
  end)

  it("does not follow a redirect", function()
    local r = run { op = "list", job = "fault-redirect", config = { retries = 0 } }
    assert.is_false(r.ok)
    assert.equal(302, r.err.status)
  end)

  it("raises the error object from the iterators", function()
    local r = run { op = "events", job = "no-such-job" }
    assert.is_false(r.ok)
    assert.equal("http", r.raised.kind)
    assert.equal(404, r.raised.status)
  end)

  it("retries 503 with backoff in the paging core, and stops when retries run out", function()
    local r = run { op = "list", job = "fault-503-2-" .. t.tag(), config = { retries = 3 } }
    assert.is_true(r.ok, r.err and r.err.text)
    assert.equal(27, r.page.total)

    r = run { op = "list", job = "fault-503-2-" .. t.tag(), config = { retries = 0 } }
    assert.is_false(r.ok)
    assert.equal("http", r.err.kind)
    assert.equal(503, r.err.status)
    assert.is_true(r.err.retryable)
  end)

  it("retries while iterating too", function()
    local r = run { op = "events", job = "fault-503-1-" .. t.tag(), params = { limit = 4 },
                    config = { retries = 2, concurrency = 4 } }
    assert.is_true(r.ok, r.raised and r.raised.text)
    assert.equal(27, #r.events)
  end)

  it("honours Retry-After from the response headers", function()
    -- fault-429-1-*: one 429 with Retry-After: 1, then the reference page
    local r = run { op = "list", job = "fault-429-1-" .. t.tag(), config = { retries = 2 } }
    assert.is_true(r.ok, r.err and r.err.text)
    assert.equal(27, r.page.total)
    assert.is_true(r.seconds >= 0.9, "retried after " .. r.seconds .. " s")
  end)

  it("sends the API request's headers only", function()
    local url = BASE .. "/run?" .. t.query { op = "list", job = "reference", endpoint = EMULATOR }
    local code, out = sh("curl -s -o /dev/null -H 'Cookie: session=secret' -H 'Authorization: Basic c2VjcmV0' " ..
      "-H 'X-Forwarded-For: 10.0.0.1' " .. quote(url))
    assert.equal(0, code, out)
    local last = t.get_json(EMULATOR .. "/_emulator/last")
    local headers = {}
    for k, v in pairs(last.headers) do headers[k:lower()] = v end
    assert.is_nil(headers.cookie)
    assert.is_nil(headers.authorization)
    assert.is_nil(headers["x-forwarded-for"])
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

  it("asks IAM for the project id with AK/SK, through the same driver", function()
    local r = run { op = "new", auth = "aksk", no_project = "1",
                    config = { region = "cn-north-4", iam_endpoint = EMULATOR } }
    if not r.ok and (r.err.field == "project_id" or r.err.field == "iam_endpoint") then
      return pending("the C module does not discover the project id yet")
    end
    t.reset()
    r = run { op = "events", job = "gen-250", auth = "aksk", no_project = "1", params = { limit = 100 },
              config = { region = "cn-north-4", iam_endpoint = EMULATOR } }
    assert.is_true(r.ok, r.raised and r.raised.text)
    assert.equal(250, #r.events)
    assert.equal(1, t.stats().iam_requests)
  end)

  it("rejects a wrong secret key as the server does", function()
    local r = run { op = "list", job = "reference", auth = "aksk", config = { sk = "not-the-key", retries = 0 } }
    assert.is_false(r.ok)
    assert.equal("http", r.err.kind)
    assert.is_true(r.err.status == 401 or r.err.status == 403, tostring(r.err.status))
    assert.is_nil(r.err.text:find("not-the-key", 1, true))
  end)

  describe("credentials given as functions", function()
    local function core_takes_functions()
      local r = run { op = "new", auth = "token_fn" }
      if not r.ok and r.err.message:find("must be a string", 1, true) then
        pending("the C module does not take credential functions yet")
        return false
      end
      return true
    end

    it("are called in Lua, where they may yield", function()
      if not core_takes_functions() then return end
      local r = run { op = "events", job = "gen-250", auth = "token_fn", params = { limit = 100 } }
      assert.is_true(r.ok, r.raised and r.raised.text)
      assert.equal(250, #r.events)
    end)

    it("that fail give an invalid_argument error naming the field", function()
      if not core_takes_functions() then return end
      local r = run { op = "list", job = "reference", auth = "token_fn_fail" }
      assert.is_false(r.ok)
      assert.equal("invalid_argument", r.err.kind)
      assert.equal("token", r.err.field)
      assert.truthy(r.err.message:find("the vault is unreachable", 1, true))
    end)
  end)

  describe("renewing credentials over cosockets", function()
    it("logs in with the password config_from_env finds, at the first request, not before", function()
      t.reset()
      local r = run { op = "new", auth = "env" }
      assert.is_true(r.ok, r.err and r.err.text)
      assert.equal("Lua", r.kinds.token) -- the driver's own function, not libcurl's
      assert.equal(0, t.stats().iam_requests)
      for _, location in ipairs { "/run", "/run_timer" } do
        t.reset()
        r = run({ op = "events", job = "gen-250", auth = "env", params = { limit = 100 } }, location)
        -- the worker's http_proxy leads nowhere: only cosockets get through
        assert.is_true(r.ok, r.raised and r.raised.text)
        assert.equal(250, #r.events)
        local stats = t.stats()
        assert.is_true(stats.iam_requests >= 1, location) -- the login (and the project's id)
        assert.is_true(stats.iam_requests <= 2, location)
      end
    end)

    it("says a refused login as IAM does, without the password", function()
      local r = run { op = "list", job = "reference", auth = "iam", password = "not-the-password" }
      assert.is_false(r.ok)
      assert.equal("token", r.err.field)
      assert.truthy(r.err.message:find("The username or password is wrong.", 1, true), r.err.text)
      assert.is_nil(r.err.text:find("not-the-password", 1, true))
      r = run { op = "list", job = "reference", auth = "iam", password = "emulator-password" }
      assert.is_true(r.ok, r.err and r.err.text)
      assert.equal(27, r.page.total)
    end)

    it("fetches temporary AK/SK from the metadata service", function()
      t.reset()
      local r = run { op = "events", job = "gen-250", auth = "metadata", params = { limit = 100 } }
      assert.is_true(r.ok, r.raised and r.raised.text)
      assert.equal(250, #r.events)
      assert.equal("Lua", r.kinds.ak)
      assert.equal("Lua", r.kinds.security_token)
      assert.equal(1, t.stats().metadata_requests)
    end)
  end)

  it("reads the job itself", function()
    local r = run { op = "job", job = "reference" }
    if not r.ok and r.err.message:find("job_pager", 1, true) then
      return pending("the C module has no client:job_pager yet")
    end
    assert.is_true(r.ok, r.err and r.err.text)
    assert.equal("Failed", r.job.phase)
    assert.is_true(r.job.terminal)
    assert.equal("failed", r.job.result)
    r = run { op = "job", job = "no-such-job" }
    assert.is_false(r.ok)
    assert.equal(404, r.err.status)
  end)

  it("follows a running job with modelarts_events.follow, sleeping with ngx.sleep", function()
    -- run-failed-1500-TAG: runs 1.5 s from the first request, then fails
    local r = run { op = "follow", job = "run-failed-1500-" .. t.tag(), interval = "0.2" }
    assert.is_true(r.ok, r.raised and r.raised.text)
    assert.equal("failed", r.result)
    assert.equal("Training job is created.", r.events[1].message)
    local terminal
    for _, ev in ipairs(r.events) do terminal = terminal or ev.message == "Training job failed." end
    assert.is_true(terminal)
    assert.is_true(r.seconds >= 1.3, "ended after " .. r.seconds .. " s")
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
      r = run { op = "new", config = { bogus = true } }
      assert.equal("invalid_argument", r.err.kind)
    end)

    it("a proxy is refused, with a clear message", function()
      local r = run { op = "new", config = { proxy = "http://127.0.0.1:3128" } }
      assert.is_false(r.ok)
      assert.equal("invalid_argument", r.err.kind)
      assert.equal("proxy", r.err.field)
      assert.truthy(r.err.message:find("proxy", 1, true))
    end)

    it("ca_file is refused: nginx's lua_ssl_trusted_certificate says what is trusted", function()
      local r = run { op = "new", config = { ca_file = "/etc/ssl/certs/ca-certificates.crt" } }
      assert.is_false(r.ok)
      assert.equal("ca_file", r.err.field)
      assert.truthy(r.err.message:find("lua_ssl_trusted_certificate", 1, true))
    end)

    it("the iterators raise the error object", function()
      local r = run { op = "events", job = "gen-10", params = { limit = 0 } }
      assert.is_false(r.ok)
      assert.equal("invalid_argument", r.raised.kind)
      r = run { op = "pages", job = "gen-10", params = { max_items = 0 } }
      assert.equal("invalid_argument", r.raised.kind)
    end)
  end)

  it("stops an iteration whose client was closed", function()
    local r = run { op = "close_mid", job = "gen-1234", params = { limit = 10 }, config = { concurrency = 4 } }
    assert.is_true(r.first)
    assert.is_false(r.ok)
    assert.equal("invalid_argument", r.raised.kind)
    assert.is_false(r.list_ok)
    assert.equal("invalid_argument", r.err.kind)
    assert.equal(200, (get(BASE .. "/fast")))
  end)

  describe("an iteration that ends early", function()
    -- delay1000-40: every page 1 s late; page 0 first, then pages 1..3 at once
    it("stops its requests in flight when closed", function()
      local status, body, seconds = get(BASE .. "/run?" .. t.query {
        op = "break", job = "delay1000-40", endpoint = EMULATOR, close = "1",
        params = { limit = 10 }, config = { concurrency = 4 } })
      assert.equal(200, status, body)
      assert.is_true(assert(cjson.decode(body)).ok, body)
      -- page 0 takes 1 s; the read-ahead pages would take another second
      assert.is_true(seconds < 1.8, "the request took " .. seconds .. " s")
    end)

    it("lets them finish (and pools their connections) within the request otherwise", function()
      local status, body, seconds = get(BASE .. "/run?" .. t.query {
        op = "break", job = "delay1000-40", endpoint = EMULATOR,
        params = { limit = 10 }, config = { concurrency = 4 } })
      assert.equal(200, status, body)
      assert.is_true(seconds < 10, "the request took " .. seconds .. " s")
      assert.equal(200, (get(BASE .. "/fast")))
    end)
  end)

  describe("the HTTP client, strict about what it reads", function()
    local function exchange(name, extra)
      local args = { op = "http", url = BASE .. "/raw/" .. name }
      for k, v in pairs(extra or {}) do args[k] = v end
      return run(args)
    end

    it("reads well-formed responses", function()
      local r = exchange("ok")
      assert.is_true(r.ok, r.message)
      assert.equal(200, r.status)
      assert.equal("hello", r.body)
      assert.equal("5", r.headers["content-length"])
      assert.equal("hello", exchange("ok_no_reason").body)
      r = exchange("interim")
      assert.equal(200, r.status)
      assert.equal("ok", r.body)
      r = exchange("no_content")
      assert.equal(204, r.status)
      assert.equal("", r.body)
      assert.equal("all of it", exchange("until_close").body)
      r = exchange("chunked")
      assert.is_true(r.ok, r.message)
      assert.equal("hello world", r.body)
    end)

    local malformed = {
      "status_4_digits", "http2", "not_http", "no_colon", "space_before_colon", "folded", "long_header",
      "many_headers", "switching", "bad_chunk_size", "huge_chunk_size", "chunk_overrun", "conflicting_length",
      "length_and_chunked", "gzip", "bad_length", "short_body", "nothing",
    }
    for _, name in ipairs(malformed) do
      it("refuses " .. name:gsub("_", " ") .. " as a network error", function()
        local r = exchange(name)
        assert.is_false(r.ok, name .. " was accepted")
        assert.equal("network", r.kind, r.message)
        assert.is_string(r.message)
      end)
    end

    it("refuses a Content-Length over max_body before reading the body", function()
      local r = exchange("large_length", { max_body = 1024 })
      assert.is_false(r.ok)
      assert.equal("too_large", r.kind)
    end)

    it("keeps a connection alive only after a complete response that allows it", function()
      local url = BASE .. "/fast"
      run { op = "http", url = url }
      local r = run { op = "http", url = url }
      assert.is_true(r.ok, r.message)
      assert.is_true(r.reused > 0, "not reused")
      assert.is_true(r.kept)
      for name, kept in pairs { ok = true, http10_keepalive = true, until_close = false, close_with_length = false,
                                http10 = false, extra_bytes = false } do
        r = exchange(name)
        assert.is_true(r.ok, r.message)
        assert.equal(kept, r.kept, name)
      end
    end)
  end)

  describe("transfer failures", function()
    it("times out a slow response at `timeout`", function()
      local r = run { op = "list", job = "fault-slow-2000", config = { retries = 0, timeout = 0.5 } }
      assert.is_false(r.ok)
      assert.equal("timeout", r.err.kind)
      assert.is_true(r.err.retryable)
      assert.is_nil(r.err.status)
      assert.is_true(r.seconds < 1.9, "gave up after " .. r.seconds .. " s")
    end)

    it("maps a refused connection to a network error, after the retries", function()
      local r = run { op = "list", job = "reference", endpoint = "http://127.0.0.1:9", config = { retries = 1 } }
      assert.is_false(r.ok)
      assert.equal("network", r.err.kind)
      assert.is_true(r.err.retryable)
      assert.equal(2, r.err.attempts)
    end)

    it("maps a host name without a resolver to a network error", function()
      local r = run { op = "list", job = "reference", endpoint = "http://emulator.invalid:18080",
                      config = { retries = 0 } }
      assert.is_false(r.ok)
      assert.equal("network", r.err.kind)
      assert.truthy(r.err.message:find("resolve", 1, true), r.err.message)
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

    it("ends an endless body at max_body, or at timeout", function()
      if not emulator_has("fault-endless") then return pending("the emulator has no fault-endless job yet") end
      local r = run { op = "list", job = "fault-endless", config = { retries = 0, max_body = 1024 * 1024 } }
      assert.is_false(r.ok)
      assert.equal("too_large", r.err.kind)
      r = run { op = "list", job = "fault-endless", config = { retries = 0, timeout = 1, max_body = 2 ^ 30 } }
      assert.is_false(r.ok)
      assert.equal("timeout", r.err.kind)
      assert.is_true(r.seconds < 5, "gave up after " .. r.seconds .. " s")
    end)

    it("ends a trickled body at timeout", function()
      if not emulator_has("fault-trickle") then return pending("the emulator has no fault-trickle job yet") end
      local r = run { op = "list", job = "fault-trickle", config = { retries = 0, timeout = 1.5 } }
      assert.is_false(r.ok)
      assert.equal("timeout", r.err.kind)
      assert.is_true(r.seconds >= 1.4 and r.seconds < 4, "gave up after " .. r.seconds .. " s")
    end)
  end)

  describe("over https", function()
    local function tls_pending()
      if not have_ca then
        pending("no CA file of the emulator's TLS port at " .. t.TLS_CA .. " (MODELARTS_EMULATOR_CA)")
        return true
      end
    end
    -- nginx checks a certificate against a host name only, never an IP
    -- address: https://127.0.0.1 needs the name the certificate holds.
    local name = "localhost"
    -- A second server that trusts only the system's CAs (kept-alive
    -- connections are pooled per worker, whatever the location's trust).
    local untrusted_dir, untrusted_log
    local UNTRUSTED = "http://127.0.0.1:" .. t.extra_port(5)
    setup(function()
      if have_ca then untrusted_dir, untrusted_log = start_server(t.extra_port(5), SYSTEM_CAS) end
    end)
    teardown(function() t.remove_nginx(untrusted_dir) end)
    local function run_untrusted(args)
      args.endpoint = TLS_URL
      local r = t.get_json(UNTRUSTED .. "/run?" .. t.query(args))
      assert.same({}, t.crashes(untrusted_log))
      return r
    end

    it("verifies the server against lua_ssl_trusted_certificate", function()
      if tls_pending() then return end
      local r = run { op = "events", job = "gen-250", endpoint = TLS_URL, params = { limit = 100 },
                      config = { tls_server_name = name, concurrency = 4 } }
      assert.is_true(r.ok, r.raised and r.raised.text)
      assert.equal(250, #r.events)
      r = run { op = "list", job = "reference", endpoint = TLS_URL, auth = "aksk", config = { tls_server_name = name } }
      assert.is_true(r.ok, r.err and r.err.text)
      assert.equal(27, r.page.total)
    end)

    it("fails with a tls error when the certificate is not trusted", function()
      if tls_pending() then return end
      for _ = 1, 2 do -- (the first handshake of a worker takes another path in ngx_lua)
        local r = run_untrusted { op = "list", job = "reference", config = { tls_server_name = name, retries = 0 } }
        assert.is_false(r.ok)
        assert.equal("tls", r.err.kind)
      end
    end)

    it("fails with a tls error when the certificate is for another name", function()
      if tls_pending() then return end
      local r = run { op = "list", job = "reference", endpoint = TLS_URL,
                      config = { tls_server_name = "modelarts.example.com", retries = 0 } }
      assert.is_false(r.ok)
      assert.equal("tls", r.err.kind)
    end)

    it("refuses to check a certificate against an IP address", function()
      if tls_pending() then return end
      local r = run { op = "list", job = "reference", endpoint = TLS_URL, config = { retries = 0 } }
      assert.is_false(r.ok)
      assert.equal("tls", r.err.kind)
      assert.truthy(r.err.message:find("tls_server_name", 1, true), r.err.message)
    end)

    it("skips the checks with insecure = true", function()
      if tls_pending() then return end
      local r = run_untrusted { op = "list", job = "reference", config = { insecure = true } }
      assert.is_true(r.ok, r.err and r.err.text)
    end)
  end)

  it("does not block the worker while a page is slow", function()
    -- one worker: while /run waits 2 s for the emulator, /fast must answer
    local slow_url = BASE .. "/run?" .. t.query { op = "list", job = "fault-slow-2000", endpoint = EMULATOR }
    local out = dir .. "/slow.json"
    local script = string.format(
      "curl -s -m 30 -o %s %s & pid=$!; sleep 0.3; " ..
      "curl -s -m 30 -o /dev/null -w '%%{http_code} %%{time_total}' %s; echo; wait $pid",
      quote(out), quote(slow_url), quote(BASE .. "/fast"))
    local code, res = sh("sh -c " .. quote(script))
    assert.equal(0, code, res)
    local status, seconds = res:match("(%d+) ([%d%.]+)")
    assert.equal("200", status, res)
    assert.is_true(tonumber(seconds) < 0.5, "the fast request took " .. seconds .. " s")
    local slow = assert(cjson.decode((assert(read(out)))))
    assert.is_true(slow.ok, slow.err and slow.err.text)
    assert.is_true(slow.seconds >= 1.9, "the slow page came after " .. slow.seconds .. " s")
  end)

  it("answers every request of a storm of 200 mixing healthy and failing jobs", function()
    -- concurrency 4: page 0 and a read-ahead page are in flight together,
    -- so every failure lands while another page is still on its way
    local kinds = {
      { job = "gen-1234", ok = true, n = 1234 },
      { job = "delay200-300", ok = true, n = 300 },
      { job = "no-such-job", kind = "http" },
      { job = "fault-503-1-%s", kind = "http" },
      { job = "fault-reset", kind = "network" },
      { job = "fault-truncated", kind = "decode" },
      { job = "fault-slow-3000", kind = "timeout", config = { timeout = 1 } },
      { job = "fault-oversized", kind = "too_large", config = { max_body = 256 * 1024 } },
    }
    if emulator_has("fault-endless") then
      kinds[#kinds + 1] = { job = "fault-endless", kind = "too_large", config = { max_body = 256 * 1024 } }
      kinds[#kinds + 1] = { job = "fault-trickle", kind = "timeout", config = { timeout = 1 } }
    end
    local storm = t.tag()
    local lines = {}
    for i = 1, 200 do
      local k = kinds[(i - 1) % #kinds + 1]
      local config = { concurrency = 4, retries = 0 }
      for key, v in pairs(k.config or {}) do config[key] = v end
      local url = BASE .. "/run?" .. t.query { op = "events", job = k.job:format(storm .. i), endpoint = EMULATOR,
                                               params = { limit = 50 }, config = config }
      lines[#lines + 1] = string.format('url = "%s"\noutput = "%s/storm-%d.json"', url, dir, i)
    end
    t.write(dir .. "/storm.curl", table.concat(lines, "\n") .. "\n")
    t.reset()
    local started = os.time()
    local code, out = sh("curl -s -m 120 --parallel --parallel-max 200 --config " .. quote(dir .. "/storm.curl"))
    assert.equal(0, code, out)
    local stats = t.stats()
    print(string.format("\nstorm: 200 requests over %d kinds of job in %d s; the emulator saw %d requests, " ..
      "%d connections, at most %d at once", #kinds, os.time() - started, stats.requests, stats.connections,
      stats.in_flight_max))
    local answered = 0
    for i = 1, 200 do
      local k = kinds[(i - 1) % #kinds + 1]
      local body = read(dir .. "/storm-" .. i .. ".json")
      local r = body and cjson.decode(body)
      assert.is_table(r, "request " .. i .. " (" .. k.job .. ") got no answer: " .. tostring(body))
      answered = answered + 1
      if k.ok then
        assert.is_true(r.ok, k.job .. ": " .. tostring(r.raised and r.raised.text))
        assert.equal(k.n, #r.events)
      else
        assert.is_false(r.ok, k.job)
        assert.equal(k.kind, r.raised.kind, k.job .. ": " .. tostring(r.raised.text))
      end
    end
    assert.equal(200, answered)
    assert.same({}, t.crashes(log))
    assert.equal(200, (get(BASE .. "/fast")))
  end)
end)
