-- Secrets in what a server or libcurl sends back: a long token echoed in a
-- header, a proxy's password in libcurl's messages, an answer fed after the
-- client was closed. Whole secrets are blanked before anything is cut, and
-- a malformed proxy is refused when the client is made.
local emulator = require "support.emulator"
local cjson = require "cjson"
local me = require "modelarts_events"

describe("secrets", function()
  it("a long token echoed in X-Request-Id does not leak its first bytes", function()
    -- IAM tokens are kilobytes long: header values are kept whole until the
    -- error has been redacted
    local token = "MIIT" .. string.rep("SECRETtokenBYTES", 40)
    local c = emulator.client { token = token, retries = 0 }
    local _, err = c:list("fault-echo-token")
    c:close()
    assert.equal(401, err.status)
    local text = tostring(err) .. " " .. tostring(err.request_id) .. " " .. tostring(err.message)
    assert.is_nil(text:find(token:sub(1, 40), 1, true), text)
    assert.matches("%[REDACTED%]", err.request_id)
  end)

  it("a long message from a failed transfer is never cut before redaction", function()
    local token = "tok-" .. string.rep("x", 700)
    local c = emulator.client { token = token, retries = 0 }
    local p = c:pager("reference", nil, true)
    local _, seq = p:next()
    p:feed(seq, nil, "network", string.rep("m", 300) .. " quoting " .. token .. " at the end")
    local _, err = p:take()
    c:close()
    assert.is_nil(tostring(err):find(token:sub(1, 20), 1, true), tostring(err))
    assert.matches("at the end$", err.message)
  end)

  it("a malformed proxy is refused at new(), its value not shown", function()
    for _, proxy in ipairs { "http://user:hunter2pass@[::1", "ftp://user:hunter2pass@127.0.0.1:1",
      "http://user:hunter2pass@host:99999", "http://user:hunter2pass@host/a/path" } do
      local ok, err = pcall(emulator.client, { proxy = proxy, retries = 0 })
      assert.is_false(ok, proxy)
      assert.equal("invalid_argument", err.kind)
      assert.equal("proxy", err.field)
      assert.is_nil(tostring(err):find("hunter2pass", 1, true), tostring(err))
    end
    -- what libcurl takes as a proxy is accepted
    for _, proxy in ipairs { "http://127.0.0.1:3128", "socks5h://u:p@proxy.example:1080/", "proxy.example:3128" } do
      emulator.client({ proxy = proxy }):close()
    end
  end)

  it("a proxy password never reaches an error message", function()
    -- a proxy that refuses the connection: libcurl's message names the proxy
    local c = emulator.client { proxy = "http://user:hunter2pass@127.0.0.1:1", retries = 0 }
    local _, err = c:list("reference")
    c:close()
    assert.equal("network", err.kind)
    assert.is_nil(tostring(err):find("hunter2pass", 1, true), tostring(err))
  end)

  it("a proxy password from http_proxy never reaches an error message", function()
    local out = emulator.run_script({ http_proxy = "http://user:hunter2pass@[::1" }, string.format([[
      local me = require "modelarts_events"
      local c = me.new { endpoint = %q, project_id = "0a1b2c3d4e5f", token = "emulator-token", retries = 0 }
      local _, err = c:list("reference")
      print(err and tostring(err) or "no error")
    ]], emulator.url))
    assert.is_nil(out:find("hunter2pass", 1, true), out)
    assert.matches("network", out)
  end)

  it("an answer fed to a pager after its client was closed is ignored", function()
    local token = "tok-SECRET-0004-abcdef"
    local c = emulator.client { token = token, retries = 0 }
    local p = c:pager("reference", { limit = 10 })
    local _, seq = p:next()
    c:close()
    p:feed(seq, 401, cjson.encode { error_code = "APIG.0301", error_msg = "bad token " .. token },
      { ["X-Request-Id"] = token })
    assert.is_false(p:take())
    local ok, err = pcall(p.next, p)
    assert.is_false(ok)
    assert.equal("invalid_argument", err.kind)
    assert.is_nil(tostring(err):find(token, 1, true), tostring(err))
  end)

  it("me.error's messages are kept whole", function()
    assert.equal(3000, #me.error("network", string.rep("a", 3000)).message)
  end)
end)
