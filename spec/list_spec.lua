-- client:list(): every parameter, its bounds, the encoding, the responses.
local emulator = require "support.emulator"

-- The example response of the provider's reference page, in its order.
local REFERENCE_FIRST_PAGE = {
  { "2022-11-26T16:03:41+08:00", "Error", "Job", "Training job failed." },
  { "2022-11-26T16:03:16+08:00", "Info", "K8S", "[Job: modelarts-job-5bd61eea-9de2-4864-a0f7-5fae966171b5] ExecuteAction: Start to execute action TerminateJob" },
  { "2022-11-26T16:03:12+08:00", "Info", "Task", "[worker-0][time used: 0.296s] Upload training output(parameter name: train_url) finished." },
  { "2022-11-26T16:03:12+08:00", "Info", "Task", "[worker-0] Training output(parameter name: train_url) Uploading." },
  { "2022-11-26T16:03:11+08:00", "Info", "Task", "[worker-0] Training finished. Exit code 1." },
  { "2022-11-26T16:02:10+08:00", "Info", "Task", "[worker-0] training started." },
  { "2022-11-26T16:02:09+08:00", "Info", "Job", "Training job is running." },
  { "2022-11-26T16:02:06+08:00", "Info", "K8S", "[Pod: modelarts-job-5bd61eea-9de2-4864-a0f7-5fae966171b5-worker-0] Started: Started container" },
  { "2022-11-26T16:02:06+08:00", "Info", "K8S", "[Pod: modelarts-job-5bd61eea-9de2-4864-a0f7-5fae966171b5-worker-0] SuccessfulCreate: Created container" },
  { "2022-11-26T16:02:05+08:00", "Info", "K8s", "[Pod: modelarts-job-5bd61eea-9de2-4864-a0f7-5fae966171b5-worker-0] Pulled: Successfully pulled image \"swr.cn-north-7.myhuaweicloud.com/modelarts-job-dev-image/modelarts-tool-container:1.0.0-5.3.1-b002.2\"" },
}

local function bad(client, field, job, params)
  local ok, err = pcall(client.list, client, job, params)
  assert.is_false(ok, "expected an error for " .. field)
  assert.equal("invalid_argument", err.kind)
  assert.equal(field, err.field)
  return err
end

describe("client:list", function()
  local client
  before_each(function() client = emulator.client() end)
  after_each(function() client:close() end)

  it("returns the reference page's example", function()
    local page = assert(client:list("reference", { order = "desc", offset = 0, limit = 10 }))
    assert.equal(27, page.total)
    assert.equal(10, page.limit)
    assert.equal(0, page.offset)
    assert.equal("desc", page.order)
    assert.equal(#REFERENCE_FIRST_PAGE, #page.events)
    for i, want in ipairs(REFERENCE_FIRST_PAGE) do
      local ev = page.events[i]
      assert.same({ want[1], want[2], want[3], want[4] }, { ev.time, ev.level, ev.source, ev.message })
    end
  end)

  it("returns total, limit and offset as integers", function()
    local page = assert(client:list("reference", { limit = 5, offset = 3 }))
    assert.is_true(emulator.is_integer(page.total))
    assert.is_true(emulator.is_integer(page.limit))
    assert.is_true(emulator.is_integer(page.offset))
    assert.equal(3, page.offset)
  end)

  it("turns numeric strings into integers", function()
    local page = assert(client:list("strings-30", { limit = 7, offset = 2 }))
    assert.equal(30, page.total)
    assert.equal(7, page.limit)
    assert.equal(2, page.offset)
    assert.is_true(emulator.is_integer(page.total))
    assert.is_true(emulator.is_integer(page.offset))
  end)

  it("gives an empty array for null or missing events", function()
    for _, job in ipairs { "fault-null-events", "fault-missing-events" } do
      local page = assert(client:list(job))
      assert.same({}, page.events)
      assert.equal(0, page.total)
    end
  end)

  it("applies order, offset and limit", function()
    local asc = assert(client:list("reference", { order = "asc", limit = 100 }))
    local desc = assert(client:list("reference", { order = "desc", limit = 100 }))
    assert.equal(27, #asc.events)
    for i = 1, 27 do
      assert.same(asc.events[i], desc.events[28 - i])
    end
    local tail = assert(client:list("reference", { order = "asc", offset = 25, limit = 10 }))
    assert.equal(2, #tail.events)
    assert.same(asc.events[26], tail.events[1])
    local past = assert(client:list("reference", { offset = 500 }))
    assert.same({}, past.events)
  end)

  it("uses the server's default page size when no limit is given", function()
    local page = assert(client:list("gen-120"))
    assert.equal(50, #page.events)
    assert.is_nil(emulator.last().args:find("limit=", 1, true))
  end)

  it("filters by level and source (the server matches K8s for K8S)", function()
    local errors = assert(client:list("reference", { level = "Error", limit = 100 }))
    assert.equal(1, #errors.events)
    assert.equal("Training job failed.", errors.events[1].message)
    local k8s = assert(client:list("reference", { source = "K8S", limit = 100 }))
    local spellings = {}
    for _, ev in ipairs(k8s.events) do spellings[ev.source] = true end
    assert.is_true(spellings.K8s)
    assert.is_true(spellings.K8S)
  end)

  it("filters by a pattern holding spaces, colons and brackets", function()
    local page = assert(client:list("reference", { pattern = "(parameter name: train_url)", limit = 100 }))
    assert.equal(2, page.total)
    assert.matches("pattern=%%28parameter%%20name%%3A%%20train_url%%29", emulator.last().args)
  end)

  it("encodes reserved and UTF-8 characters in the pattern", function()
    local pattern = "+ = & ; / ? # % ~ * ' ( ) ! 训练"
    local page = assert(client:list("gen-200", { pattern = pattern }))
    assert.equal(0, page.total)
    local args = emulator.last().args
    assert.truthy(args:find("pattern=%2B%20%3D%20%26%20%3B%20%2F%20%3F%20%23%20%25%20~%20%2A%20%27%20%28%20%29%20%21%20%E8%AE%AD%E7%BB%83", 1, true), args)
  end)

  it("takes a window in epoch ms or ISO-8601", function()
    local by_ms = assert(client:list("reference", {
      start_time = 1669449730000, end_time = 1669449791000, limit = 100 }))
    local by_iso = assert(client:list("reference", {
      start_time = "2022-11-26T16:02:10+08:00", end_time = "2022-11-26T08:03:11Z", limit = 100 }))
    assert.equal(2, by_ms.total) -- 16:02:10 and 16:03:11, nothing between
    assert.same(by_ms.events, by_iso.events)
    assert.matches("end_time=1669449791000", emulator.last().args)
    assert.matches("start_time=1669449730000", emulator.last().args)
  end)

  it("sends X-Language from the client and from the call", function()
    local c = emulator.client { language = "zh-cn" }
    assert.truthy(c:list("reference", { limit = 1 }))
    assert.equal("zh-cn", emulator.last().headers["x-language"])
    assert.truthy(c:list("reference", { limit = 1, language = "en-us" }))
    assert.equal("en-us", emulator.last().headers["x-language"])
    assert.truthy(client:list("reference", { limit = 1 }))
    assert.is_nil(emulator.last().headers["x-language"])
    c:close()
  end)

  it("checks every parameter before sending anything", function()
    emulator.reset()
    bad(client, "offset", "reference", { offset = -1 })
    bad(client, "offset", "reference", { offset = 1.5 })
    bad(client, "offset", "reference", { offset = "0" })
    bad(client, "limit", "reference", { limit = 0 })
    bad(client, "limit", "reference", { limit = 101 })
    bad(client, "limit", "reference", { limit = 2.5 })
    bad(client, "order", "reference", { order = "up" })
    bad(client, "order", "reference", { order = "DESC" })
    bad(client, "level", "reference", { level = "Debug" })
    bad(client, "source", "reference", { source = "Pod" })
    bad(client, "pattern", "reference", { pattern = string.rep("x", 257) })
    bad(client, "pattern", "reference", { pattern = 5 })
    bad(client, "pattern", "reference", { pattern = "" })
    bad(client, "end_time", "reference", { start_time = 1 })
    bad(client, "start_time", "reference", { end_time = 1 })
    bad(client, "start_time", "reference", { start_time = 5, end_time = 1 })
    bad(client, "start_time", "reference", { start_time = "yesterday", end_time = 1 })
    bad(client, "end_time", "reference", { start_time = 1, end_time = "2022-02-30T00:00:00Z" })
    bad(client, "start_time", "reference", { start_time = -1, end_time = 1 })
    bad(client, "language", "reference", { language = "en\r\nX-Evil: 1" })
    bad(client, "max_items", "reference", { max_items = 5 })
    bad(client, "colour", "reference", { colour = "red" })
    bad(client, "params", "reference", "limit=5")
    for _, id in ipairs { "", "a/b", "a?b", "a#b", "a\nb", "a\0b", 42, ".", ".." } do
      bad(client, "training_job_id", id)
    end
    assert.equal(0, emulator.stats().requests)
    -- and the client still works
    assert.truthy(client:list("reference", { limit = 1 }))
  end)

  it("refuses invalid UTF-8 in the pattern instead of miscounting it", function()
    emulator.reset()
    for _, pattern in ipairs {
      "a" .. string.rep("\128", 3000), -- continuation bytes only
      "\192\175",                      -- an overlong '/'
      "\237\160\128",                  -- a surrogate
      "\244\144\128\128",              -- above U+10FFFF
      "abc\226\130",                    -- cut short
    } do
      bad(client, "pattern", "reference", { pattern = pattern })
    end
    bad(client, "language", "reference", { language = "en\1us" })
    bad(client, "language", "reference", { language = "en\127" })
    assert.equal(0, emulator.stats().requests)
  end)

  it("accepts the bounds themselves", function()
    assert.truthy(client:list("reference", { limit = 1, offset = 0 }))
    assert.truthy(client:list("reference", { limit = 100 }))
    local p = assert(client:list("reference", { pattern = string.rep("训", 256) }))
    assert.equal(0, p.total)
    for _, level in ipairs { "Info", "Error", "Warning" } do
      assert.truthy(client:list("reference", { level = level }))
    end
    for _, source in ipairs { "K8S", "Job", "Task" } do
      assert.truthy(client:list("reference", { source = source }))
    end
  end)

  it("keeps dots inside a job id where they are no path segment", function()
    local page, err = client:list("...")
    assert.is_nil(page)
    assert.equal(404, err.status)
    assert.matches("/training%-jobs/%.%.%./events", emulator.last().uri)
  end)

  it("percent-encodes an unusual job id into one path segment", function()
    local page, err = client:list("no such job ü")
    assert.is_nil(page)
    assert.equal(404, err.status)
    assert.matches("/training%-jobs/no%%20such%%20job%%20%%C3%%BC/events", emulator.last().uri)
  end)

  it("reuses one connection for many calls", function()
    local c = emulator.client()
    emulator.reset()
    for _ = 1, 20 do assert.truthy(c:list("reference", { limit = 2 })) end
    local stats = emulator.stats()
    assert.equal(20, stats.requests)
    assert.equal(1, stats.connections)
    c:close()
  end)
end)
