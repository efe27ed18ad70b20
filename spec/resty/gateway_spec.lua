-- The live events gateway (examples/gateway/) in a real nginx with two
-- workers, as a user runs it from the checkout (nginx -p <checkout>), with
-- the test's port, files and a short poll interval; against the emulator.
-- Environment: see spec/resty/support.lua.
local cjson = require "cjson.safe"
local t = dofile("spec/resty/support.lua")

local sh, quote, read = t.sh, t.quote, t.read
local PORT = t.extra_port(2)
local BASE = "http://127.0.0.1:" .. PORT
local INTERVAL = 0.5

-- Server-Sent Events text -> list of { event, data (decoded), id }
local function sse(text)
  local out = {}
  for block in (text .. "\n\n"):gmatch("(.-)\n\n") do
    local m = {}
    for line in block:gmatch("[^\n]+") do
      local field, value = line:match("^(%a+): ?(.*)$")
      if field == "data" then
        m.data = assert(cjson.decode(value), value)
      elseif field then
        m[field] = value
      end
    end
    if m.event then out[#out + 1] = m end
  end
  return out
end

local function stream_events(messages)
  local events, last = {}, nil
  for _, m in ipairs(messages) do
    if m.event == "event" then events[#events + 1] = m.data else last = m end
  end
  return events, last
end

local function lines(body)
  local out = {}
  for line in body:gmatch("[^\n]+") do out[#out + 1] = assert(cjson.decode(line), line) end
  return out
end

t.describe_nginx(describe, pending, "examples/gateway: the live events gateway", function()
  local dir, log

  setup(function()
    local cpath = t.cpath()
    dir = t.tmpdir()
    local conf = t.for_test(assert(read("examples/gateway/nginx.conf")), PORT, cpath)
    local function sub(pattern, replacement)
      local n
      conf, n = conf:gsub(pattern, replacement)
      assert(n == 1, "examples/gateway/nginx.conf: no " .. pattern)
    end
    sub("worker_processes auto;", "worker_processes 2;")
    sub("interval = 5 ", "interval = " .. INTERVAL .. " ")
    sub("\nhttp {\n", function() return "\nhttp {\n" .. t.private_paths(dir) .. "\n" end)
    t.write(dir .. "/nginx.conf", conf)
    log = t.start_nginx { dir = dir, prefix = t.repo(), conf = dir .. "/nginx.conf", port = PORT, env = t.USER_ENV }
  end)

  teardown(function() t.remove_nginx(dir) end)

  after_each(function()
    if log then assert.same({}, t.crashes(log)) end
  end)

  describe("GET /jobs/<id>/events", function()
    it("answers with the job's events as JSON lines", function()
      local status, body = t.get(BASE .. "/jobs/reference/events")
      assert.equal(200, status, body)
      local events = lines(body)
      assert.equal(27, #events)
      assert.equal("Training job failed.", events[1].message)
      assert.equal("Error", events[1].level)
    end)

    it("takes its filters and paging from the query", function()
      local status, body = t.get(BASE .. "/jobs/gen-1234/events?limit=100&order=asc&max_items=250")
      assert.equal(200, status, body)
      local events = lines(body)
      assert.equal(250, #events)
      for i, ev in ipairs(events) do assert.equal(i, tonumber(ev.message:match("#(%d+)"))) end
      status, body = t.get(BASE .. "/jobs/reference/events?level=Error")
      assert.equal(200, status, body)
      events = lines(body)
      assert.is_true(#events > 0 and #events < 27, #events .. " events")
      for _, ev in ipairs(events) do assert.equal("Error", ev.level) end
    end)

    it("answers 404 for an unknown job, 400 for bad params or a bad id", function()
      local status, body = t.get(BASE .. "/jobs/no-such-job/events")
      assert.equal(404, status, body)
      local err = assert(cjson.decode(body)).error
      assert.equal("http", err.kind)
      assert.equal(404, err.status)
      status, body = t.get(BASE .. "/jobs/reference/events?limit=1000")
      assert.equal(400, status, body)
      assert.equal("invalid_argument", assert(cjson.decode(body)).error.kind)
      status = t.get(BASE .. "/jobs/%00x/events")
      assert.equal(400, status)
    end)
  end)

  it("answers every request of a storm of 200 mixing healthy and failing jobs", function()
    -- the example as configured (concurrency 4, 3 retries with backoff):
    -- failures land while read-ahead pages are in flight
    local kinds = {
      { job = "gen-1234", status = 200, n = 1234 },
      { job = "delay200-300", status = 200, n = 300 },
      { job = "no-such-job", status = 404 },
      { job = "fault-truncated", status = 502 },
      { job = "fault-reset", status = 502 },
      { job = "fault-html502", status = 502 },
      { job = "fault-503-1-%s", status = 200, n = 27 },
    }
    local storm, entries = t.tag(), {}
    for i = 1, 200 do
      local k = kinds[(i - 1) % #kinds + 1]
      entries[i] = string.format('url = "%s/jobs/%s/events?limit=50"\noutput = "%s/storm-%d.txt"',
        BASE, k.job:format(storm .. i), dir, i)
    end
    t.write(dir .. "/storm.curl", table.concat(entries, "\n") .. "\n")
    local code, out = sh("curl -s -m 120 --parallel --parallel-max 200 -w '%{filename_effective} %{http_code}\\n' " ..
      "--config " .. quote(dir .. "/storm.curl") .. " 2>/dev/null")
    assert.equal(0, code, out)
    local statuses = {}
    for i, status in out:gmatch("storm%-(%d+)%.txt (%d+)") do statuses[tonumber(i)] = tonumber(status) end
    for i = 1, 200 do
      local k = kinds[(i - 1) % #kinds + 1]
      assert.equal(k.status, statuses[i], "request " .. i .. " (" .. k.job .. ")")
      local body = assert(read(dir .. "/storm-" .. i .. ".txt"))
      if k.n then
        local seen = 0
        for _ in body:gmatch('"time":') do seen = seen + 1 end
        assert.equal(k.n, seen, k.job)
      else
        assert.is_table(assert(cjson.decode(body), body).error)
      end
    end
    assert.same({}, t.crashes(log))
  end)

  describe("GET /jobs/<id>/stream", function()
    -- run-failed-MS-TAG: a job that runs MS ms from its first request, then
    -- fails ("Training job failed.", an Error), and logs once more a second later
    it("streams a running job's events until it ends", function()
      local job = "run-failed-2000-" .. t.tag()
      local status, body = t.get(BASE .. "/jobs/" .. job .. "/stream", 60)
      assert.equal(200, status, body)
      local events, last = stream_events(sse(body))
      assert.equal("end", last.event, body)
      assert.equal("failed", last.data.result)
      assert.equal("Training job is created.", events[1].message)
      local terminal
      for _, ev in ipairs(events) do terminal = terminal or ev.message == "Training job failed." end
      assert.is_true(terminal, body)
      assert.is_true(#events >= 10, #events .. " events")
    end)

    it("filters per viewer", function()
      local job = "run-failed-1500-" .. t.tag()
      local status, body = t.get(BASE .. "/jobs/" .. job .. "/stream?level=Error", 60)
      assert.equal(200, status, body)
      local events, last = stream_events(sse(body))
      assert.equal("failed", last.data.result)
      assert.is_true(#events >= 1)
      for _, ev in ipairs(events) do assert.equal("Error", ev.level) end
    end)

    it("ends with the error when the job cannot be followed", function()
      local status, body = t.get(BASE .. "/jobs/no-such-job-" .. t.tag() .. "/stream", 60)
      assert.equal(200, status, body)
      local events, last = stream_events(sse(body))
      assert.equal(0, #events)
      assert.equal("end", last.event)
      assert.equal(404, last.data.error.status)
    end)

    it("serves 200 viewers of a job from one follower", function()
      local job = "run-failed-3000-" .. t.tag()
      t.reset()
      local entries = {}
      for i = 1, 200 do
        entries[i] = string.format('url = "%s/jobs/%s/stream"\noutput = "%s/viewer-%d.txt"', BASE, job, dir, i)
      end
      t.write(dir .. "/viewers.curl", table.concat(entries, "\n") .. "\n")
      local started = os.time()
      local code, out = sh("curl -s -N -m 60 --parallel --parallel-max 200 --config " .. quote(dir .. "/viewers.curl"))
      local seconds = os.time() - started
      assert.equal(0, code, out)
      local stats = t.stats()
      local first
      for i = 1, 200 do
        local events, last = stream_events(sse(assert(read(dir .. "/viewer-" .. i .. ".txt"))))
        assert.equal("end", last and last.event, "viewer " .. i)
        assert.equal("failed", last.data.result, "viewer " .. i)
        local messages = {}
        for j, ev in ipairs(events) do messages[j] = ev.message end
        first = first or messages
        assert.same(first, messages, "viewer " .. i)
      end
      assert.is_true(#first >= 10, #first .. " events")
      -- one follower for the node: one poll per interval (a poll may ask
      -- for the job as well as its events), where a follower per viewer
      -- would have made 200 times as many
      local requests = stats.requests
      local polls = math.ceil(seconds / INTERVAL) + 2
      print(string.format("\n200 viewers of %s: %d events each; the API saw %d requests (%d events, %d job) in %d s",
        job, #first, requests, stats.events_requests or -1, stats.job_requests or -1, seconds))
      assert.is_true(requests <= 2 * polls, requests .. " API requests in " .. seconds .. " s")
    end)
  end)

  describe("GET /jobs/<id>/", function()
    it("shows the stream live in a browser", function()
      if sh("test -x " .. t.CHROMIUM) ~= 0 then return pending("no " .. t.CHROMIUM) end
      local job = "run-failed-2000-" .. t.tag()
      local profile = t.tmpdir()
      local code, dom = sh("timeout 90 " .. t.CHROMIUM .. " --headless --no-sandbox --disable-gpu --disable-quic " ..
        "--no-first-run --disable-background-networking --disable-component-update --disable-sync " ..
        "--user-data-dir=" .. quote(profile) .. " --virtual-time-budget=20000 --dump-dom " ..
        quote(BASE .. "/jobs/" .. job .. "/") .. " 2>/dev/null")
      sh("rm -rf " .. quote(profile))
      assert.equal(0, code, dom)
      assert.truthy(dom:find('data-state="ended"', 1, true), dom)
      assert.truthy(dom:find('data-result="failed"', 1, true), dom)
      local items = 0
      for _ in dom:gmatch("<li ") do items = items + 1 end
      assert.is_true(items >= 10, items .. " events on the page")
      assert.truthy(dom:find('<li class="Error">.-Training job failed.</li>'), dom)
    end)
  end)
end)
