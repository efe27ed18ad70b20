-- follow(): a job's events in time order, each once, until the job's phase
-- says it has ended, whatever the filters and the language.
local follow = require "modelarts_events.follow"
local emulator = require "support.emulator"

local OUTCOMES = {
  { outcome = "completed", phase = "Completed", result = "completed",
    en = "Training job executed.", zh = "训练作业运行成功。" },
  { outcome = "failed", phase = "Failed", result = "failed",
    en = "Training job failed.", zh = "训练作业运行失败。" },
  { outcome = "terminated", phase = "Terminated", result = "terminated",
    en = "The training job has been manually stopped.", zh = "训练作业已被手动停止。" },
  { outcome = "abnormal", phase = "Abnormal", result = "failed",
    en = "Training job is abnormal.", zh = "训练作业运行异常。" },
}
local LATE = "[worker-0] Log upload finished."

local function collect(it)
  local events = {}
  for ev in it do events[#events + 1] = ev end
  return events
end

local function messages(events)
  local t = {}
  for i, ev in ipairs(events) do t[i] = ev.message end
  return t
end

-- "time message" of each event: what a failure shows
local function times_and_messages(events)
  local t = {}
  for i, ev in ipairs(events) do t[i] = ev.time .. " " .. ev.message end
  return t
end

-- What the job holds once it is over, read in one go, oldest first.
local function all_events(client, job, params)
  local t = { order = "asc" }
  for k, v in pairs(params or {}) do t[k] = v end
  return collect(client:events(job, t))
end

describe("follow", function()
  local client
  before_each(function() client = emulator.client() end)
  after_each(function() client:close() end)

  for _, case in ipairs(OUTCOMES) do
    for _, language in ipairs { "en-us", "zh-cn" } do
      it("ends a " .. case.outcome .. " job by its phase, in " .. language .. ", every event once", function()
        local job = "run-" .. case.outcome .. "-300-" .. emulator.tag()
        local it = follow(client, job, { interval = 0.1, language = language, grace = 1.2 })
        local events = collect(it)
        assert.equal(case.result, it.result)
        assert.equal(case.phase, it.phase)
        local text = messages(events)
        assert.equal(language == "zh-cn" and "训练作业已创建。" or "Training job is created.", text[1])
        local seen = table.concat(times_and_messages(events), "\n")
        assert.equal(language == "zh-cn" and case.zh or case.en, text[#text - 1], seen)
        assert.equal(LATE, text[#text], seen) -- the late event, a second after the end
        assert.same(messages(all_events(client, job, { language = language })), text)
      end)

      it("ends a " .. case.outcome .. " job in " .. language .. " when a level filter hides every event", function()
        local job = "run-" .. case.outcome .. "-300-" .. emulator.tag()
        local it = follow(client, job, { interval = 0.1, level = "Warning", language = language, grace = 0.2 })
        assert.same({}, collect(it))
        assert.equal(case.result, it.result)
        assert.equal(case.phase, it.phase)
        assert.matches("level=Warning", emulator.last().args)
      end)
    end

    it("ends a quiet " .. case.outcome .. " job, whose events never say how it ended", function()
      local job = "run-" .. case.outcome .. "-300-quiet-" .. emulator.tag()
      local it = follow(client, job, { interval = 0.1, grace = 0.2 })
      local text = messages(collect(it))
      assert.equal(case.result, it.result)
      assert.equal(case.phase, it.phase)
      for _, message in ipairs(text) do assert.is_nil(follow.is_terminal { message = message }, message) end
    end)
  end

  it("asks the job's phase every few polls, not every poll", function()
    emulator.reset()
    local it = follow(client, "run-completed-1500-" .. emulator.tag(), { interval = 0.1, grace = 0.2 })
    collect(it)
    assert.equal("completed", it.result)
    local stats = emulator.stats()
    assert.is_true(stats.events_requests >= 10, stats.events_requests .. " polls")
    assert.is_true(stats.job_requests >= 2, stats.job_requests .. " looks at the job")
    -- every third poll (the first one included), plus the last read
    assert.is_true(stats.job_requests <= math.ceil(stats.events_requests / 3) + 1,
      stats.job_requests .. " looks at the job for " .. stats.events_requests .. " polls")
  end)

  it("waits long enough by default for the events that come after the end", function()
    local it = follow(client, "run-failed-300-" .. emulator.tag(), { interval = 0.1 })
    local text = messages(collect(it))
    assert.equal("failed", it.result)
    assert.equal("Training job failed.", text[#text - 1])
    assert.equal(LATE, text[#text])
  end)

  it("ends at once, after one more read, when the job ended long ago", function()
    local started = os.time()
    local it = follow(client, "reference", { interval = 0.1 })
    local events = collect(it)
    assert.equal(27, #events)
    assert.equal("failed", it.result)
    assert.equal("Failed", it.phase)
    assert.is_true(os.time() - started <= 2, "took " .. os.time() - started .. " s")
  end)

  describe("where the job itself may not be read (403)", function()
    for _, case in ipairs(OUTCOMES) do
      for _, language in ipairs { "en-us", "zh-cn" } do
        it("ends a " .. case.outcome .. " job by its terminal event in " .. language, function()
          local job = "run-" .. case.outcome .. "-300-forbidden-" .. emulator.tag()
          local it = follow(client, job, { interval = 0.1, language = language, grace = 1.2, timeout = 20 })
          local text = messages(collect(it))
          assert.equal(case.result, it.result)
          assert.is_nil(it.phase)
          assert.equal(language == "zh-cn" and case.zh or case.en, text[#text - 1])
          assert.equal(LATE, text[#text])
        end)
      end
    end

    it("cannot tell a quiet job's end, and ends at its timeout", function()
      local it = follow(client, "run-failed-300-quiet-forbidden-" .. emulator.tag(), { interval = 0.1, timeout = 2 })
      collect(it)
      assert.equal("timeout", it.result)
    end)

    it("takes a rule of the caller's", function()
      local it = follow(client, "run-failed-3000-forbidden-" .. emulator.tag(), { interval = 0.1, grace = 0,
        is_terminal = function(ev) return ev.message == "Training job is running." end })
      local text = messages(collect(it))
      assert.equal("completed", it.result)
      local running, failed = false, false
      for _, m in ipairs(text) do
        running = running or m == "Training job is running."
        failed = failed or m == "Training job failed."
      end
      assert.is_true(running)
      assert.is_false(failed) -- ended by the rule, long before the job did
    end)

    it("knows the terminal messages REFERENCE.md lists", function()
      for message, result in pairs {
        ["Training job executed."] = "completed", ["Failed to run the training job."] = "failed",
        ["The training job has been manually stopped."] = "terminated",
        ["The training job has been stopped. (Maximum running duration: 2h)"] = "terminated",
        ["Failed to be queued."] = "failed", ["Preparations timed out after 30 minutes."] = "failed",
        ["  training job failed.  "] = "failed", ["训练作业运行失败。"] = "failed",
        ["Training job is running."] = false, ["[worker-0] step 3 failed."] = false } do
        assert.equal(result or nil, follow.is_terminal { message = message }, message)
      end
    end)
  end)

  it("keeps real repeats within a second", function()
    local it = follow(client, "same-12", { interval = 0.1, grace = 0 })
    assert.equal(12, #collect(it))
    assert.equal("completed", it.result)
  end)

  it("starts at since", function()
    local it = follow(client, "reference", { since = "2022-11-26T16:03:12+08:00", interval = 0.1 })
    assert.equal(4, #collect(it)) -- 16:03:12 twice, 16:03:16 and the end at 16:03:41
    assert.equal("failed", it.result)
  end)

  it("ends at its timeout while the job runs", function()
    local started = os.time()
    local it = follow(client, "run-completed-60000-" .. emulator.tag(), { interval = 0.2, timeout = 1.5 })
    local events = collect(it)
    assert.equal("timeout", it.result)
    assert.truthy(({ Creating = true, Pending = true, Running = true })[it.phase], it.phase)
    assert.equal("Training job is created.", events[1].message)
    assert.is_true(os.time() - started <= 4, "took " .. os.time() - started .. " s")
  end)

  it("stops when the caller's predicate says so", function()
    local it = follow(client, "reference", { stop = function(ev) return ev.level == "Warning" end })
    local events = collect(it)
    assert.equal("stopped", it.result)
    assert.equal("Warning", events[#events].level)
  end)

  it("follows a job whose server's clock runs ahead of ours", function()
    local it = follow(client, "clock-ahead-900-30-" .. emulator.tag(), { interval = 0.1, grace = 0 })
    local events = collect(it)
    assert.equal("completed", it.result)
    assert.equal(30, #events)
  end)
end)

describe("follow's options", function()
  local client
  before_each(function() client = emulator.client() end)
  after_each(function() client:close() end)

  it("are checked before anything is sent", function()
    for _, opts in ipairs { { intervl = 1 }, { interval = 0 }, { interval = -1 }, { interval = "5" },
      { since = "soon" }, { timeout = -1 }, { phase_every = 0 }, { after = "nonsense" },
      { after = 'me-follow-1:{"j":{"t":12,"n":{}}}' } } do
      local ok, err = pcall(follow, client, "reference", opts)
      assert.is_false(ok)
      assert.equal("invalid_argument", err.kind)
    end
    for _, jobs in ipairs { {}, { "a", "a" }, { "" }, 42 } do
      local ok, err = pcall(follow, client, jobs)
      assert.is_false(ok)
      assert.equal("invalid_argument", err.kind)
      assert.equal("training_job_id", err.field)
    end
  end)
end)
