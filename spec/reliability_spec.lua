-- Faults: every one gives the documented error kind, retries do what they
-- say, and the same client then works normally.
local emulator = require "support.emulator"
local cjson = require "cjson"

local function still_works(client)
  local page = assert(client:list("reference", { limit = 3 }))
  assert.equal(27, page.total)
end


describe("retries", function()
  it("waits out a 429 with Retry-After, then succeeds", function()
    local c = emulator.client { retries = 3 }
    local job = "fault-429-1-" .. emulator.tag()
    emulator.reset()
    local page = assert(c:list(job, { limit = 5 }))
    assert.equal(27, page.total)
    assert.equal(2, emulator.stats().requests)
    c:close()
  end)

  it("waits 2-5 s before retrying a 429 without Retry-After, as Huawei advises", function()
    -- REFERENCE.md: APIG.0308 "Huawei's advice is to wait 2-5 s and retry;
    -- whether Retry-After is sent is not documented"
    local c = emulator.client { retries = 3 }
    local shortest, longest = math.huge, 0
    for _ = 1, 20 do
      local p = c:pager("reference", nil, true)
      local _, seq = p:next()
      p:feed(seq, 429, cjson.encode { error_code = "APIG.0308",
        error_msg = "The throttling threshold has been reached: policy user over ratelimit,limit:20,time:1 second" }, {})
      local what, wait = p:next()
      assert.equal("wait", what)
      shortest, longest = math.min(shortest, wait), math.max(longest, wait)
      p:close()
    end
    c:close()
    assert.is_true(shortest >= 1.9, "retried after " .. shortest .. " s")
    assert.is_true(longest <= 5, "retried after " .. longest .. " s")
  end)

  it("retries 503 twice, then succeeds", function()
    local c = emulator.client { retries = 3 }
    emulator.reset()
    local page = assert(c:list("fault-503-2-" .. emulator.tag()))
    assert.equal(27, page.total)
    assert.equal(3, emulator.stats().requests)
    c:close()
  end)

  it("surfaces a retryable error at once with retries = 0", function()
    local c = emulator.client { retries = 0 }
    emulator.reset()
    local page, err = c:list("fault-503-2-" .. emulator.tag())
    assert.is_nil(page)
    assert.equal("http", err.kind)
    assert.equal(503, err.status)
    assert.is_true(err.retryable)
    assert.is_nil(err.attempts)
    assert.equal(1, emulator.stats().requests)
    still_works(c)
  end)

  it("says how many attempts were made", function()
    local c = emulator.client { retries = 1 }
    local page, err = c:list("fault-500-5-" .. emulator.tag())
    assert.is_nil(page)
    assert.equal(500, err.status)
    assert.equal(2, err.attempts)
    assert.matches("after 2 attempts", err.message)
    still_works(c)
  end)

  it("never retries other 4xx", function()
    local c = emulator.client { retries = 3 }
    emulator.reset()
    local _, err = c:list("no-such-job")
    assert.equal(404, err.status)
    assert.equal(1, emulator.stats().requests)
  end)

  it("re-signs every attempt with AK/SK", function()
    local c = emulator.client { ak = emulator.ak, sk = emulator.sk, retries = 3 }
    local page = assert(c:list("fault-503-2-" .. emulator.tag()))
    assert.equal(27, page.total)
  end)

  it("yields no page twice because of a retry", function()
    local c = emulator.client { retries = 3, concurrency = 4 }
    local seen, n = {}, 0
    for ev in c:events("fault-503-1-" .. emulator.tag(), { limit = 4 }) do
      local key = ev.time .. ev.message
      assert.is_nil(seen[key], key)
      seen[key] = true
      n = n + 1
    end
    assert.equal(27, n)
  end)
end)

describe("kept-alive connections", function()
  it("resends once on a fresh connection a request that died on a reused one, whatever retries says", function()
    local c = emulator.client { retries = 0 }
    local job = "dropreused-" .. emulator.tag()
    for i = 1, 30 do
      local page, err = c:list(job, { limit = 2 })
      assert.truthy(page, "call " .. i .. ": " .. tostring(err))
      assert.equal(27, page.total)
    end
    c:close()
  end)
end)

describe("transport faults", function()
  it("times out a slow server", function()
    local c = emulator.client { timeout = 0.5, retries = 0 }
    local page, err = c:list("fault-slow-3000")
    assert.is_nil(page)
    assert.equal("timeout", err.kind)
    assert.is_true(err.retryable)
    still_works(c)
  end)

  it("reports a connection reset mid-response", function()
    local c = emulator.client { retries = 0 }
    local page, err = c:list("fault-reset")
    assert.is_nil(page)
    assert.equal("network", err.kind)
    assert.is_true(err.retryable)
    still_works(c)
  end)

  it("retries a reset connection", function()
    local c = emulator.client { retries = 2 }
    assert.equal(27, assert(c:list("fault-reset-1-" .. emulator.tag())).total)
  end)

  it("reports a refused connection", function()
    local c = emulator.client { endpoint = "http://127.0.0.1:9", retries = 0, connect_timeout = 2 }
    local page, err = c:list("reference")
    assert.is_nil(page)
    assert.equal("network", err.kind)
    assert.is_true(err.retryable)
  end)

  it("aborts an oversized body while receiving it", function()
    local c = emulator.client { max_body = 1024 * 1024, retries = 0 }
    local page, err = c:list("fault-oversized")
    assert.is_nil(page)
    assert.equal("too_large", err.kind)
    assert.is_false(err.retryable)
    assert.matches("max_body", err.message)
    still_works(c)
  end)
end)

describe("secrets", function()
  local TOKEN = "tok-SECRET-0001"
  local SK = "sk-SECRET-0002"
  local ST = "st-SECRET-0003"

  local function clean(err, where)
    local text = tostring(err) .. " " .. tostring(err.message) .. " " .. tostring(err.code)
    for _, secret in ipairs { TOKEN, SK, ST } do
      assert.is_nil(text:find(secret, 1, true), where .. ": " .. text)
    end
  end

  it("never appear in an error, whatever fails", function()
    local clients = {
      emulator.client { token = TOKEN, retries = 0, timeout = 0.5 },
      emulator.client { ak = "emulator-temp-ak", sk = SK, security_token = ST, retries = 0, timeout = 0.5 },
      emulator.client { ak = "unknown-ak", sk = SK, security_token = ST, retries = 0, timeout = 0.5 },
      emulator.client { ak = emulator.ak, sk = SK, retries = 0, timeout = 0.5 },
    }
    local jobs = { "reference", "no-such-job", "fault-html502", "fault-truncated", "fault-type-event",
      "fault-slow-2000", "fault-reset", "fault-503-1-" .. emulator.tag() }
    for ci, c in ipairs(clients) do
      for _, job in ipairs(jobs) do
        local _, err = c:list(job)
        if err then clean(err, "client " .. ci .. " " .. job) end
        local ok, raised = pcall(function() for _ in c:events(job) do end end)
        if not ok then clean(raised, "events " .. ci .. " " .. job) end
      end
      local ok, bad = pcall(c.list, c, "reference", { limit = 0 })
      assert.is_false(ok)
      clean(bad, "invalid")
      assert.is_nil(tostring(c):find("SECRET", 1, true))
      c:close()
    end
    local c = emulator.client { endpoint = "http://127.0.0.1:9", token = TOKEN, retries = 0 }
    clean(select(2, c:list("reference")), "refused")
  end)

  it("are blanked out of every field a server echoes them in, trimmed forms too", function()
    local padded = "  tok-SECRET-0004  "
    for _, c in ipairs {
      emulator.client { token = TOKEN, retries = 0 },
      emulator.client { token = padded, retries = 0 },
      emulator.client { ak = "emulator-temp-ak", sk = "emulator-temp-sk", security_token = ST, retries = 0 },
    } do
      local _, err = c:list("fault-echo-token")
      assert.equal(401, err.status, tostring(err))
      local text = tostring(err) .. " " .. tostring(err.message) .. " " .. tostring(err.code) ..
        " " .. tostring(err.request_id)
      for _, secret in ipairs { TOKEN, ST, "tok-SECRET-0004" } do
        assert.is_nil(text:find(secret, 1, true), text)
      end
      assert.matches("REDACTED", text)
      c:close()
    end
  end)

  it("blank out a short secret only where it stands alone, never inside words", function()
    -- a wrong token: the gateway's message is "Incorrect IAM authentication
    -- information: ..."; a token "ation" must not turn it into "authentic[REDACTED]"
    local c = emulator.client { token = "ation", retries = 0 }
    local _, err = c:list("reference")
    assert.equal(401, err.status)
    assert.matches("authentication", err.message)
    assert.is_nil(err.message:find("%w%[REDACTED%]"), err.message)
    assert.is_nil(err.message:find("%[REDACTED%]%w"), err.message)
    c:close()
  end)

  it("are blanked out of a server message that quotes them", function()
    -- a wrong SK with temporary credentials: the gateway quotes the canonical
    -- request, security token included
    local c = emulator.client { ak = "emulator-temp-ak", sk = SK, security_token = "emulator-security-token", retries = 0 }
    local _, err = c:list("reference")
    assert.equal(401, err.status)
    assert.equal("APIG.0301", err.code)
    assert.is_nil(err.message:find("emulator-security-token", 1, true), err.message)
    assert.matches("REDACTED", err.message)
  end)
end)
