-- What comes back: HTTP errors, undecodable bodies, me.decode, and that a
-- client keeps working after each of them.
local me = require "modelarts_events"
local emulator = require "support.emulator"

local function failure(client, job, params)
  local page, err = client:list(job, params)
  assert.is_nil(page)
  assert.equal("table", type(err))
  assert.is_string(err.message)
  assert.is_string(tostring(err))
  -- the same client still works
  assert.truthy(client:list("reference", { limit = 1 }))
  return err
end

describe("responses", function()
  local client
  before_each(function() client = emulator.client { retries = 0 } end)
  after_each(function() client:close() end)

  it("reports an unknown job as an http error with the server's code and message", function()
    local err = failure(client, "no-such-job")
    assert.equal("http", err.kind)
    assert.equal(404, err.status)
    assert.equal("ModelArts.2775", err.code)
    assert.matches("does not exist", err.message)
    assert.matches("^%x+$", err.request_id)
    assert.is_false(err.retryable)
    assert.matches("http 404 ModelArts%.2775", tostring(err))
    assert.matches("request id %x+", tostring(err))
  end)

  it("reports a rejected token without showing it", function()
    local c = emulator.client { token = "wrong-token-value" }
    local page, err = c:list("reference")
    assert.is_nil(page)
    assert.equal(401, err.status)
    assert.equal("APIG.0301", err.code)
    assert.matches("Incorrect IAM authentication information", err.message)
    assert.is_nil(tostring(err):find("wrong-token-value", 1, true))
    c:close()
  end)

  it("reports the server's validation error", function()
    -- a raw request with a limit the client would refuse: through me.decode
    local err = select(2, me.decode(400,
      '{"error_code":"ModelArts.50004000","error_msg":"Bad request."}',
      { ["X-Request-Id"] = "abc123" }))
    assert.equal("http", err.kind)
    assert.equal(400, err.status)
    assert.equal("ModelArts.50004000", err.code)
    assert.equal("Bad request.", err.message)
    assert.equal("abc123", err.request_id)
    assert.is_false(err.retryable)
  end)

  it("marks 429 and 5xx as retryable, and nothing else", function()
    assert.is_true(select(2, me.decode(429, "")).retryable)
    assert.is_true(select(2, me.decode(503, "{}")).retryable)
    assert.is_true(select(2, me.decode(599, "{}")).retryable)
    assert.is_false(select(2, me.decode(403, "{}")).retryable)
    assert.is_false(select(2, me.decode(302, "")).retryable)
    assert.is_false(select(2, me.decode(600, "")).retryable)
    assert.is_false(select(2, me.decode(999, "")).retryable)
  end)

  it("refuses a status that is no HTTP status, with an error object", function()
    for _, status in ipairs { 1e300, -1, 0 / 0, 99, 1000, 200.5, "200" } do
      local ok, err = pcall(me.decode, status, "{}")
      assert.is_false(ok, tostring(status))
      assert.equal("invalid_argument", err.kind)
    end
  end)

  it("reads error bodies in every shape the SDKs read, request id included", function()
    for _, case in ipairs {
      { '{"error_code":"APIG.0301","error_msg":"Incorrect IAM authentication information","request_id":"b1"}',
        "APIG.0301", "Incorrect IAM authentication information", "b1" },
      { '{"errorCode":"ModelArts.0102","errorMsg":"camel","requestId":"b2"}', "ModelArts.0102", "camel", "b2" },
      { '{"code":"X.1","message":"plain"}', "X.1", "plain", nil },
      { '{"error":{"code":"ModelArts.2775","message":"nested","request_id":"b3"}}', "ModelArts.2775", "nested", "b3" },
      { '{"error":{"code":401,"message":"The username or password is wrong.","title":"Unauthorized"}}',
        "Unauthorized", "The username or password is wrong.", nil },
    } do
      local _, err = me.decode(401, case[1])
      assert.equal("http", err.kind)
      assert.equal(case[2], err.code, case[1])
      assert.equal(case[3], err.message, case[1])
      assert.equal(case[4], err.request_id, case[1])
    end
    -- the header wins over the body
    local _, err = me.decode(401, '{"error_code":"A","error_msg":"m","request_id":"body"}',
      { ["x-request-id"] = "header" })
    assert.equal("header", err.request_id)
  end)

  it("says an error body was empty, keeping status and retryability", function()
    local _, err = me.decode(429, "", { ["Retry-After"] = "1" })
    assert.equal(429, err.status)
    assert.is_true(err.retryable)
    assert.matches("empty body", err.message)
  end)

  it("reports an HTML 502 page as http without its markup", function()
    local err = failure(client, "fault-html502")
    assert.equal("http", err.kind)
    assert.equal(502, err.status)
    assert.is_true(err.retryable)
    assert.is_nil(err.message:find("<", 1, true))
  end)

  it("reports truncated JSON as a decode error", function()
    local err = failure(client, "fault-truncated")
    assert.equal("decode", err.kind)
    assert.equal(200, err.status)
    assert.matches("not valid JSON", err.message)
  end)

  it("reports wrongly typed fields as decode errors", function()
    for job, what in pairs {
      ["fault-type-total"] = "total",
      ["fault-type-events"] = "events is not an array",
      ["fault-type-event"] = "an event is not an object",
      ["fault-type-field"] = "not a string",
    } do
      local err = failure(client, job)
      assert.equal("decode", err.kind, job)
      assert.truthy(err.message:find(what, 1, true), job .. ": " .. err.message)
    end
  end)

  it("reports empty error bodies as http errors, not as out of memory", function()
    for _, case in ipairs { { "fault-empty-401", 401 }, { "fault-empty-404", 404 } } do
      emulator.reset()
      local err = failure(client, case[1])
      assert.equal("http", err.kind, tostring(err))
      assert.equal(case[2], err.status)
      assert.is_false(err.retryable)
      assert.matches("empty body", err.message)
      assert.equal(2, emulator.stats().requests) -- no retry; the second is failure()'s check
    end
  end)

  it("keeps a 429's status and Retry-After when its body is empty", function()
    local c = emulator.client { retries = 0 }
    local _, err = c:list("fault-empty-429-1-" .. emulator.tag())
    assert.equal("http", err.kind, tostring(err))
    assert.equal(429, err.status)
    assert.is_true(err.retryable)
    assert.equal(1, err.retry_after)
    c:close()
    c = emulator.client { retries = 2 }
    local started = os.time()
    assert.equal(27, assert(c:list("fault-empty-429-1-" .. emulator.tag())).total)
    assert.is_true(os.time() - started >= 1, "Retry-After: 1 was not waited for")
    c:close()
  end)

  it("takes the request id from the gateway's body too", function()
    local c = emulator.client { token = "wrong-token-value", retries = 0 }
    local _, err = c:list("reference")
    assert.equal(401, err.status)
    assert.equal("APIG.0301", err.code)
    assert.matches("^%x+$", err.request_id)
    c:close()
  end)

  it("reports a page without total by paging on, not as a decode error", function()
    local page = assert(client:list("nototal-30", { limit = 10 }))
    assert.is_nil(page.total)
    assert.equal(10, #page.events)
  end)

  it("reports a body nested too deep as a decode error, not a crash", function()
    local err = failure(client, "fault-deep")
    assert.equal("decode", err.kind)
  end)
end)

describe("me.decode", function()
  it("normalises a page the way list() does", function()
    local page = assert(me.decode(200,
      '{"total":"3","limit":"2","offset":"1","order":"asc","events":[{"time":"t","level":"Info","message":"m","source":"Job"}]}'))
    assert.equal(3, page.total)
    assert.equal(2, page.limit)
    assert.equal(1, page.offset)
    assert.is_true(emulator.is_integer(page.total))
    assert.same({ time = "t", level = "Info", message = "m", source = "Job" }, page.events[1])
  end)

  it("fills fields an event lacks with empty strings", function()
    local page = assert(me.decode(200, '{"total":1,"events":[{"time":"t","message":null}]}'))
    assert.same({ time = "t", level = "", message = "", source = "" }, page.events[1])
  end)

  it("rejects what is not a page", function()
    for _, body in ipairs {
      "", "[]", "42", '"x"', "{", '{"total":-1}', '{"total":1.5}', '{"total":"1e3"}',
      '{"total":1,"events":{"a":1}}', '{"total":1,"events":[7]}',
      '{"total":1,"events":[{"time":1}]}', string.rep("[", 100) .. string.rep("]", 100),
    } do
      local page, err = me.decode(200, body)
      assert.is_nil(page, body)
      assert.equal("decode", err.kind, body)
    end
  end)

  it("keeps a page without total: every field of the service is optional", function()
    local page = assert(me.decode(200, '{"events":[{"time":"t","level":"Info","message":"m","source":"Job"}]}'))
    assert.is_nil(page.total)
    assert.equal(1, #page.events)
    assert.is_nil(me.decode(200, "[]"))
  end)

  it("accepts an empty object for events", function()
    local page = assert(me.decode(200, '{"total":0,"events":{}}'))
    assert.same({}, page.events)
  end)
end)
