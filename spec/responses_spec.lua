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
    assert.equal("ModelArts.2762", err.code)
    assert.matches("does not exist", err.message)
    assert.matches("^%x+$", err.request_id)
    assert.is_false(err.retryable)
    assert.matches("http 404 ModelArts%.2762", tostring(err))
    assert.matches("request id %x+", tostring(err))
  end)

  it("reports a rejected token without showing it", function()
    local c = emulator.client { token = "wrong-token-value" }
    local page, err = c:list("reference")
    assert.is_nil(page)
    assert.equal(401, err.status)
    assert.equal("APIG.1002", err.code)
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

  it("marks 429 and 5xx as retryable", function()
    assert.is_true(select(2, me.decode(429, "")).retryable)
    assert.is_true(select(2, me.decode(503, "{}")).retryable)
    assert.is_false(select(2, me.decode(403, "{}")).retryable)
    assert.is_false(select(2, me.decode(302, "")).retryable)
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

  it("accepts an empty object for events", function()
    local page = assert(me.decode(200, '{"total":0,"events":{}}'))
    assert.same({}, page.events)
  end)
end)
