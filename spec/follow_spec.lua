-- follow(): each event once, in time order, until the job ends.
local follow = require "modelarts_events.follow"
local emulator = require "support.emulator"

local function fast_sleep(s) require("modelarts_events").sleep(math.min(s, 0.05)) end

describe("follow", function()
  local client
  before_each(function() client = emulator.client() end)
  after_each(function() client:close() end)

  it("yields a growing job's events once each, in order, and says how it ended", function()
    local it = follow(client, "life-failed-4-" .. emulator.tag(), { interval = 0.05 })
    local messages, seen = {}, {}
    for ev in it do
      local key = ev.time .. ev.message
      assert.is_nil(seen[key], key)
      seen[key] = true
      messages[#messages + 1] = ev.message
    end
    assert.equal("failed", it.result)
    assert.equal("Training job is created.", messages[1])
    assert.equal("Training job failed.", messages[#messages])
    assert.equal(5 + 4 * 2 + 1, #messages)
  end)

  it("ends with completed, and run() reports it", function()
    local n = 0
    local result = follow.run(client, "life-completed-2-" .. emulator.tag(), { interval = 0.05 },
      function() n = n + 1 end)
    assert.equal("completed", result)
    assert.equal(5 + 2 * 2 + 1, n)
  end)

  it("keeps real repeats within a second", function()
    local it = follow(client, "same-12", { interval = 0.05, timeout = 1, sleep = fast_sleep })
    local n = 0
    for _ in it do n = n + 1 end
    assert.equal(12, n)
    assert.equal("timeout", it.result)
  end)

  it("starts at since", function()
    local it = follow(client, "reference", { since = "2022-11-26T16:03:12+08:00", interval = 0.05 })
    local n = 0
    for _ in it do n = n + 1 end
    assert.equal(4, n) -- 16:03:12 twice, 16:03:16 and the end at 16:03:41
    assert.equal("failed", it.result)
  end)

  it("stops when the caller's predicate says so, or at a custom end", function()
    local it = follow(client, "reference", { stop = function(ev) return ev.level == "Warning" end })
    local last
    for ev in it do last = ev end
    assert.equal("stopped", it.result)
    assert.equal("Warning", last.level)
    it = follow(client, "reference", { is_terminal = function(ev)
      return ev.message:find("training started", 1, true) and "custom" end })
    for ev in it do last = ev end
    assert.equal("custom", it.result)
    assert.equal("[worker-0] training started.", last.message)
  end)

  it("backs off on 429 and goes on", function()
    local waits = {}
    client = emulator.client { retries = 0 } -- the client's own retries would hide the 429s
    local it = follow(client, "fault-429-2-" .. emulator.tag(), { interval = 0.05,
      on_wait = function(s) waits[#waits + 1] = s end })
    local n = 0
    for _ in it do n = n + 1 end
    assert.equal(27, n)
    assert.equal("failed", it.result)
    assert.equal(1, waits[1]) -- Retry-After: 1
  end)

  it("raises a non-retryable error", function()
    local ok, err = pcall(function() for _ in follow(client, "no-such-job", { interval = 0.05 }) do end end)
    assert.is_false(ok)
    assert.equal(404, err.status)
  end)

  it("checks its options", function()
    local ok, err = pcall(follow, client, "reference", { intervl = 1 })
    assert.is_false(ok)
    assert.equal("invalid_argument", err.kind)
    assert.is_false((pcall(follow, client, "reference", { since = "soon" })))
  end)
end)
