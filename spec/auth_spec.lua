-- AK/SK signing against the emulator's independent verifier, temporary
-- credentials, and TLS.
local me = require "modelarts_events"
local emulator = require "support.emulator"

local function aksk(extra)
  local config = { ak = emulator.ak, sk = emulator.sk }
  for k, v in pairs(extra or {}) do config[k] = v end
  return emulator.client(config)
end

describe("AK/SK", function()
  it("signs what it sends, as the SDKs do", function()
    local c = aksk { language = "zh-cn" }
    local req = c:request("reference", { limit = 5 })
    assert.matches("^SDK%-HMAC%-SHA256 Access=emulator%-ak, SignedHeaders=host;x%-language;x%-project%-id;x%-sdk%-date, Signature=%x+$",
      req.headers.Authorization)
    assert.equal("127.0.0.1:" .. emulator.url:match(":(%d+)$"), req.headers.Host)
    assert.equal(emulator.project_id, req.headers["X-Project-Id"])
    assert.matches("^%d%d%d%d%d%d%d%dT%d%d%d%d%d%dZ$", req.headers["X-Sdk-Date"])
    assert.is_nil(req.headers["X-Auth-Token"])
    assert.truthy(c:list("reference", { limit = 5 }))
  end)

  it("produces the signature me.sign computes from the same parts", function()
    local c = aksk()
    local req = c:request("reference", { limit = 5, pattern = "a b" })
    local headers = {}
    for k, v in pairs(req.headers) do
      if k == "Host" or k:match("^X%-") then headers[k] = v end
    end
    local authorization = me.sign { method = "GET", url = req.url, headers = headers, ak = emulator.ak, sk = emulator.sk }
    assert.equal(req.headers.Authorization, authorization)
  end)

  it("verifies with reserved and UTF-8 characters in the pattern", function()
    local c = aksk()
    for _, pattern in ipairs { "+ = & ; / ? # % ~ * ' ( ) !", "训练 é ✓", "a+b", "100%", "x=y&z" } do
      local page, err = c:list("gen-300", { pattern = pattern, limit = 3 })
      assert.truthy(page, pattern .. ": " .. tostring(err))
    end
  end)

  it("verifies time windows and every page of a concurrent iteration", function()
    local c = aksk { concurrency = 4 }
    local n = 0
    for _ in c:events("gen-1000", { limit = 50, start_time = "2022-11-26T16:00:00+08:00",
      end_time = 1700000000000, level = "Info" }) do n = n + 1 end
    assert.is_true(n > 500)
  end)

  it("sends and signs X-Security-Token with temporary credentials", function()
    local c = emulator.client { ak = "emulator-temp-ak", sk = "emulator-temp-sk",
      security_token = "emulator-security-token" }
    local req = c:request("reference")
    assert.matches("x%-security%-token", req.headers.Authorization)
    assert.equal("emulator-security-token", req.headers["X-Security-Token"])
    assert.equal(27, assert(c:list("reference")).total)
  end)

  it("gets the gateway's APIG.0301 with its canonical request for a wrong SK", function()
    local c = aksk { sk = "not-the-sk" }
    local page, err = c:list("reference", { limit = 2 })
    assert.is_nil(page)
    assert.equal("http", err.kind)
    assert.equal(401, err.status)
    assert.equal("APIG.0301", err.code)
    assert.matches("canonicalRequest: GET|/v2/" .. emulator.project_id .. "/training%-jobs/reference/events/|", err.message)
    assert.is_nil(err.message:find("not-the-sk", 1, true))
    assert.is_false(err.retryable)
  end)

  it("is refused for an unknown AK", function()
    local _, err = emulator.client { ak = "who", sk = "x" }:list("reference")
    assert.equal(401, err.status)
    assert.equal("APIG.0301", err.code)
  end)

  it("is refused when the date is more than 15 minutes off", function()
    local req = aksk():request("reference")
    local headers = { Host = req.headers.Host, ["X-Sdk-Date"] = "20200608T023900Z",
      ["X-Project-Id"] = req.headers["X-Project-Id"] }
    local authorization = me.sign { method = "GET", url = req.url, headers = headers, ak = emulator.ak, sk = emulator.sk }
    local cmd = string.format("env -u LD_PRELOAD curl -s -H 'X-Sdk-Date: 20200608T023900Z' -H 'X-Project-Id: %s' -H %q %q",
      headers["X-Project-Id"], "Authorization: " .. authorization, req.url)
    local f = assert(io.popen(cmd))
    local body = f:read("*a")
    f:close()
    assert.truthy(body:find('"error_code":"APIGW.0303"', 1, true), body)
    assert.matches("15 minutes", body)
  end)
end)

describe("TLS", function()
  it("verifies the server by default and fails with kind tls", function()
    local c = emulator.client { endpoint = emulator.tls_url, retries = 0 }
    local page, err = c:list("reference")
    assert.is_nil(page)
    assert.equal("tls", err.kind)
    assert.is_false(err.retryable)
  end)

  it("trusts a CA given as ca_file", function()
    local c = emulator.client { endpoint = emulator.tls_url, ca_file = emulator.ca_file }
    assert.equal(27, assert(c:list("reference")).total)
    local n = 0
    for _ in c:events("gen-300", { limit = 100 }) do n = n + 1 end
    assert.equal(300, n)
  end)

  it("skips verification only when insecure is set", function()
    local c = emulator.client { endpoint = emulator.tls_url, insecure = true }
    assert.equal(27, assert(c:list("reference")).total)
  end)

  it("signs AK/SK requests over TLS too", function()
    local c = emulator.client { endpoint = emulator.tls_url, ca_file = emulator.ca_file,
      ak = emulator.ak, sk = emulator.sk }
    assert.equal(27, assert(c:list("reference")).total)
  end)

  it("goes through a proxy when one is configured", function()
    -- nothing listens on port 9: the failure proves the proxy was used
    local c = emulator.client { proxy = "http://127.0.0.1:9", retries = 0 }
    local page, err = c:list("reference")
    assert.is_nil(page)
    assert.equal("network", err.kind)
  end)

  it("does not follow redirects", function()
    local page, err = emulator.client { retries = 0 }:list("fault-redirect")
    assert.is_nil(page)
    assert.equal("http", err.kind)
    assert.equal(302, err.status)
  end)
end)
