-- client:job(id) and client:job_pager(id): the job itself, through the same
-- paging/retry core, authentication and error objects as the events.
local emulator = require "support.emulator"

describe("client:job", function()
  local client
  before_each(function() client = emulator.client { retries = 0 } end)
  after_each(function() client:close() end)

  it("returns the reference job, which failed", function()
    local job = assert(client:job("reference"))
    assert.equal("Failed", job.phase)
    assert.is_true(job.terminal)
    assert.equal("failed", job.result)
    assert.equal("table", type(job.status))
    assert.equal("Failed", job.status.phase)
    assert.is_string(job.id)
    assert.matches("/v2/" .. emulator.project_id .. "/training%-jobs/reference$", emulator.last().uri)
  end)

  it("returns a generated job, which completed", function()
    local job = assert(client:job("gen-10"))
    assert.equal("Completed", job.phase)
    assert.is_true(job.terminal)
    assert.equal("completed", job.result)
    if job.duration_ms ~= nil then assert.is_true(emulator.is_integer(job.duration_ms)) end
  end)

  it("reports an unknown job as the service does, without retrying", function()
    local c = emulator.client { retries = 3 }
    emulator.reset()
    local job, err = c:job("no-such-job")
    assert.is_nil(job)
    assert.equal("http", err.kind)
    assert.equal(404, err.status)
    assert.equal("ModelArts.2775", err.code)
    assert.is_false(err.retryable)
    assert.equal(1, emulator.stats().requests)
    c:close()
  end)

  it("follows a running job to each terminal phase", function()
    for outcome, want in pairs { completed = { "Completed", "completed" }, failed = { "Failed", "failed" },
                                 terminated = { "Terminated", "terminated" }, abnormal = { "Abnormal", "failed" } } do
      local id = "run-" .. outcome .. "-800-" .. emulator.tag()
      local job = assert(client:job(id))
      assert.is_false(job.terminal, outcome)
      assert.is_nil(job.result)
      assert.truthy(({ Creating = true, Pending = true, Running = true })[job.phase], job.phase)
      local deadline = os.time() + 10
      repeat
        require("modelarts_events").sleep(0.2)
        job = assert(client:job(id))
      until job.terminal or os.time() > deadline
      assert.equal(want[1], job.phase)
      assert.equal(want[2], job.result)
    end
  end)

  it("reports a job detail the gateway forbids", function()
    local job, err = client:job("run-completed-800-forbidden-" .. emulator.tag())
    assert.is_nil(job)
    assert.equal(403, err.status)
    assert.is_false(err.retryable)
  end)

  it("signs the job request with AK/SK", function()
    local c = emulator.client { ak = emulator.ak, sk = emulator.sk }
    assert.equal("Failed", assert(c:job("reference")).phase)
    c:close()
  end)

  it("checks the job id before sending anything", function()
    for _, id in ipairs { "", "a/b", ".", "..", 42 } do
      local ok, err = pcall(client.job, client, id)
      assert.is_false(ok)
      assert.equal("invalid_argument", err.kind)
      assert.equal("training_job_id", err.field)
    end
  end)
end)

describe("client:job_pager", function()
  it("asks for the job and normalises what the driver feeds it", function()
    local c = emulator.client { language = "zh-cn" }
    local pager = c:job_pager("job-1")
    local what, seq, req = pager:next()
    assert.equal("send", what)
    assert.equal("GET", req.method)
    assert.equal(emulator.url .. "/v2/" .. emulator.project_id .. "/training-jobs/job-1", req.url)
    assert.equal("zh-cn", req.headers["X-Language"])
    assert.equal("idle", pager:next())
    assert.is_false(pager:take())
    pager:feed(seq, 200, '{"metadata":{"id":"job-1","name":"train"},' ..
      '"status":{"phase":"Running","secondary_phase":"Running","duration":1234}}', {})
    local job = pager:take()
    assert.same({ id = "job-1", name = "train", phase = "Running", secondary_phase = "Running",
      duration_ms = 1234, terminal = false,
      status = { phase = "Running", secondary_phase = "Running", duration = 1234 } }, job)
    assert.is_nil(pager:take())
    assert.equal("done", pager:next())
    pager:close()
    c:close()
  end)

  it("retries a 503 and raises nothing but error objects", function()
    local c = emulator.client { retries = 1 }
    local pager = c:job_pager("job-1")
    local _, seq = pager:next()
    pager:feed(seq, 503, '{"error_code":"ModelArts.0001","error_msg":"busy"}', { ["Retry-After"] = "0" })
    assert.is_false(pager:take())
    local what, seq2 = pager:next()
    assert.equal("send", what)
    pager:feed(seq, 200, "{}", {}) -- an answer to the old send: ignored
    pager:feed(seq2, 200, '{"metadata":{"id":"job-1"}}', {})
    local job, err = pager:take()
    assert.is_nil(job)
    assert.equal("decode", err.kind)
    assert.matches("status", err.message)
    c:close()
  end)
end)
