-- follow(): several jobs merged by time, resuming from a cursor, failures
-- that end a follow, and Ctrl-C.
local follow = require "modelarts_events.follow"
local time = require "modelarts_events.time"
local emulator = require "support.emulator"

local LUA = os.getenv("ME_LUA") or "lua5.4"

local function collect(it, n)
  local events = {}
  for ev in it do
    events[#events + 1] = ev
    if n and #events == n then break end
  end
  return events
end

local function signature(ev)
  return table.concat({ ev.time, ev.level, ev.source, ev.message }, "|")
end

local function signatures(events)
  local t = {}
  for i, ev in ipairs(events) do t[i] = signature(ev) end
  return t
end

local function all_events(client, job)
  return collect(client:events(job, { order = "asc" }))
end

describe("follow of several jobs", function()
  local client
  before_each(function() client = emulator.client() end)
  after_each(function() client:close() end)

  it("merges their events by time, each carrying its job, until every job has ended", function()
    local tag = emulator.tag()
    local jobs = { "run-completed-300-" .. tag, "run-failed-900-" .. tag, "run-terminated-600-" .. tag }
    local it = follow(client, jobs, { interval = 0.1, grace = 1.2 })
    local events = collect(it)
    assert.equal("failed", it.result) -- the worst of completed, failed, terminated
    assert.same({ [jobs[1]] = "completed", [jobs[2]] = "failed", [jobs[3]] = "terminated" }, it.results)
    assert.same({ [jobs[1]] = "Completed", [jobs[2]] = "Failed", [jobs[3]] = "Terminated" }, it.phases)
    assert.equal("Failed", it.phase)
    local by_job, last = {}, 0
    for _, ev in ipairs(events) do
      assert.is_string(ev.job)
      by_job[ev.job] = by_job[ev.job] or {}
      table.insert(by_job[ev.job], ev)
      local ms = assert(time.parse(ev.time))
      assert.is_true(ms >= last, "out of time order: " .. ev.time)
      last = ms
    end
    for _, job in ipairs(jobs) do
      assert.same(signatures(all_events(client, job)), signatures(by_job[job]), job)
    end
  end)

  it("takes one client per job, so that each keeps its read-ahead while the merge moves between jobs", function()
    local clients = { emulator.client(), emulator.client() }
    emulator.reset()
    local it = follow(clients, { "gen-3000", "strings-3000" }, { interval = 0.1, grace = 0 })
    local events = collect(it)
    assert.equal(6000, #events)
    assert.equal("completed", it.result)
    local stats = emulator.stats()
    -- per job: its history (30 pages of 100, and a look at how the server
    -- counts offsets), then the last read of its newest second
    assert.is_true(stats.events_requests <= 2 * (30 + 1 + 1) + 2, stats.events_requests .. " requests")
    for _, c in ipairs(clients) do c:close() end
    local ok, err = pcall(follow, { client }, { "gen-1", "gen-2" })
    assert.is_false(ok)
    assert.equal("client", err.field)
  end)

  it("says terminated over completed, and timeout for a job that did not end", function()
    local tag = emulator.tag()
    local it = follow(client, { "run-completed-300-" .. tag, "run-terminated-300-" .. tag },
      { interval = 0.1, grace = 0.2, level = "Warning" })
    collect(it)
    assert.equal("terminated", it.result)
    local short, long = "run-completed-300-" .. emulator.tag(), "run-completed-60000-" .. tag
    it = follow(client, { short, long }, { interval = 0.1, grace = 0.2, timeout = 1.5 })
    collect(it)
    assert.equal("timeout", it.result)
    assert.equal("completed", it.results[short])
    assert.equal("timeout", it.results[long])
  end)
end)

describe("follow's cursor", function()
  local client
  before_each(function() client = emulator.client() end)
  after_each(function() client:close() end)

  it("resumes exactly after the last event yielded: no repeat, no gap", function()
    local job = "run-failed-1200-" .. emulator.tag()
    local it = follow(client, job, { interval = 0.1, grace = 1.2 })
    local first = collect(it, 8)
    local cursor = it.cursor
    assert.is_string(cursor)
    assert.is_nil(cursor:find("\n", 1, true))
    it:close()
    assert.equal("stopped", it.result)
    local rest = collect(follow(client, job, { interval = 0.1, grace = 1.2, after = cursor }))
    local seen = signatures(first)
    for _, s in ipairs(signatures(rest)) do seen[#seen + 1] = s end
    assert.same(signatures(all_events(client, job)), seen)
  end)

  it("counts the edge second's repeats: a cut among identical events", function()
    for _, cut in ipairs { 1, 5, 11 } do
      local it = follow(client, "same-12", { interval = 0.1, grace = 0 })
      assert.equal(cut, #collect(it, cut))
      local cursor = it.cursor
      it:close()
      local rest = collect(follow(client, "same-12", { interval = 0.1, grace = 0, after = cursor }))
      assert.equal(12 - cut, #rest, "cut after " .. cut)
    end
  end)

  it("resumes several jobs, each where it stood", function()
    local tag = emulator.tag()
    local jobs = { "run-completed-600-" .. tag, "run-failed-900-" .. tag }
    local it = follow(client, jobs, { interval = 0.1, grace = 1.2 })
    local first = collect(it, 12)
    local cursor = it.cursor
    it:close()
    local rest = collect(follow(client, jobs, { interval = 0.1, grace = 1.2, after = cursor }))
    for _, job in ipairs(jobs) do
      local seen = {}
      for _, ev in ipairs(first) do if ev.job == job then seen[#seen + 1] = signature(ev) end end
      for _, ev in ipairs(rest) do if ev.job == job then seen[#seen + 1] = signature(ev) end end
      assert.same(signatures(all_events(client, job)), seen, job)
    end
  end)
end)

describe("follow's failures", function()
  it("raise the error object from the loop when a poll keeps failing past the client's retries", function()
    local client = emulator.client { retries = 1 }
    local ok, err = pcall(collect, follow(client, "fault-503-5-" .. emulator.tag(), { interval = 0.1 }))
    assert.is_false(ok)
    assert.equal("http", err.kind)
    assert.equal(503, err.status)
    client:close()
  end)

  it("ride on the client's retries, with no wait of their own", function()
    local client = emulator.client { retries = 3 }
    local it = follow(client, "fault-429-2-" .. emulator.tag(), { interval = 0.1, grace = 0 })
    assert.equal(27, #collect(it))
    assert.equal("failed", it.result)
    client:close()
  end)

  it("raise an unknown job's 404", function()
    local client = emulator.client()
    local ok, err = pcall(collect, follow(client, "no-such-job", { interval = 0.1 }))
    assert.is_false(ok)
    assert.equal(404, err.status)
    assert.equal("ModelArts.2775", err.code)
    client:close()
  end)

  it("end at once on Ctrl-C, also while waiting between polls", function()
    local script = os.tmpname()
    local f = assert(io.open(script, "w"))
    f:write(string.format([[
      local follow = require "modelarts_events.follow"
      local client = require("modelarts_events").new { endpoint = %q, project_id = %q, token = %q }
      for ev in follow(client, %q, { interval = 30 }) do io.stdout:write(ev.message, "\n"); io.stdout:flush() end
    ]], emulator.url, emulator.project_id, emulator.token, "run-completed-600000-" .. emulator.tag()))
    f:close()
    -- under `make asan` the sanitizer runtime goes along, as
    -- support.emulator.run_script passes it
    local sanitizer = {}
    for _, name in ipairs { "LD_PRELOAD", "ASAN_OPTIONS" } do
      if os.getenv(name) then sanitizer[#sanitizer + 1] = name .. "='" .. os.getenv(name) .. "'" end
    end
    local cmd = string.format([[
      env -i %s LUA_PATH='./lua/?.lua;;' LUA_CPATH='%s;;' %s %s >%s.out 2>%s.err &
      pid=$!
      sleep 1.5
      start=$(date +%%s%%N)
      kill -INT $pid
      wait $pid
      rc=$?
      echo "$rc $(( ($(date +%%s%%N) - start) / 1000000 ))"
    ]], table.concat(sanitizer, " "), os.getenv("ME_CPATH") or "./?.so", LUA, script, script, script)
    local p = assert(io.popen(cmd))
    local rc, ms = p:read("*a"):match("(%d+) (%d+)")
    p:close()
    local out = assert(io.open(script .. ".out")):read("*a")
    local err = assert(io.open(script .. ".err")):read("*a")
    os.remove(script); os.remove(script .. ".out"); os.remove(script .. ".err")
    assert.matches("Training job is created.", out, 1, true)
    assert.matches("interrupted", err, 1, true)
    assert.is_true(tonumber(rc) ~= 0, "exit status " .. rc)
    assert.is_true(tonumber(ms) < 2000, "ended " .. ms .. " ms after SIGINT")
  end)
end)
