-- me.new, close, __gc, __close and the module surface.
local me = require "modelarts_events"
local emulator = require "support.emulator"

local function fails(field, config)
  local ok, err = pcall(me.new, config)
  assert.is_false(ok)
  assert.equal("table", type(err))
  assert.equal("invalid_argument", err.kind)
  assert.equal(field, err.field)
  assert.truthy(tostring(err):find(field, 1, true), tostring(err))
  return err
end

describe("modelarts_events", function()
  it("has a semantic version", function()
    assert.matches("^%d+%.%d+%.%d+$", me.VERSION)
  end)

  it("exposes the documented functions", function()
    for _, name in ipairs { "new", "decode", "sign", "sleep", "config_from_env" } do
      assert.equal("function", type(me[name]), name)
    end
  end)

  it("sleeps", function()
    local t0 = os.clock()
    me.sleep(0.01)
    assert.is_true(os.clock() - t0 < 0.5)
  end)

  it("refuses to sleep for ever or for NaN, with an error object", function()
    for _, bad in ipairs { math.huge, -math.huge, 0 / 0, "1" } do
      local ok, err = pcall(me.sleep, bad)
      assert.is_false(ok)
      assert.equal("invalid_argument", err.kind, tostring(bad))
    end
    me.sleep(-1e300) -- nothing to wait for
  end)

  it("builds error objects with me.error, the one constructor", function()
    local err = me.error("http", "the server failed", { status = 503, code = "X.1", request_id = "r1" })
    assert.equal("http", err.kind)
    assert.equal(503, err.status)
    assert.is_true(err.retryable)
    assert.equal("modelarts_events: http 503 X.1: the server failed (request id r1)", tostring(err))
    assert.is_false(me.error("http", "no", { status = 600 }).retryable)
    assert.is_true(me.error("timeout", "slow").retryable)
    assert.is_false(me.error("invalid_argument", "bad", { field = "x" }).retryable)
    assert.equal("x", me.error("invalid_argument", "bad", { field = "x" }).field)
    local ok, bad = pcall(me.error, nil, "m")
    assert.is_false(ok)
    assert.equal("invalid_argument", bad.kind)
  end)

  it("raises error objects, not strings, for methods called without ':'", function()
    local c = me.new { endpoint = "http://127.0.0.1:1", project_id = "p1", token = "tok" }
    local ok, err = pcall(c.list, "reference")
    assert.is_false(ok)
    assert.equal("table", type(err))
    assert.equal("invalid_argument", err.kind)
    local pager = c:pager("job")
    ok, err = pcall(pager.next)
    assert.is_false(ok)
    assert.equal("invalid_argument", err.kind)
    pager:close()
    c:close()
  end)
end)

describe("me.new", function()
  local base = { endpoint = "http://127.0.0.1:1", project_id = "p1", token = "tok" }
  local function with(changes)
    local c = {}
    for k, v in pairs(base) do c[k] = v end
    for k, v in pairs(changes) do
      if v == false then c[k] = nil else c[k] = v end -- false: leave the field out
    end
    return c
  end

  it("accepts a valid configuration", function()
    local c = me.new(base)
    assert.truthy(tostring(c):find("127.0.0.1", 1, true))
    c:close()
  end)

  it("derives the endpoint from a region", function()
    local c = me.new { region = "cn-north-4", project_id = "p1", token = "t" }
    assert.matches("^https://modelarts%.cn%-north%-4%.myhuaweicloud%.com/v2/p1/",
      c:request("job").url)
    local hk = me.new { region = "ap-southeast-1", project_id = "p1", token = "t" }
    assert.matches("^https://modelarts%.ap%-southeast%-1%.myhuaweicloud%.cn/", hk:request("job").url)
  end)

  it("keeps a path prefix of the endpoint and drops a trailing slash", function()
    local c = me.new(with { endpoint = "http://127.0.0.1:1/gw/" })
    assert.equal("http://127.0.0.1:1/gw/v2/p1/training-jobs/job/events?offset=0",
      c:request("job").url)
  end)

  it("names the field of every bad configuration", function()
    fails("config", nil)
    fails("endpoint", with { endpoint = "ftp://x" })
    fails("endpoint", with { endpoint = "http://u:secret@host" })
    fails("endpoint", { project_id = "p1", token = "t" })
    fails("region", { region = "Not A Region", project_id = "p", token = "t" })
    fails("project_id", with { project_id = "bad/id" })
    fails("project_id", with { project_id = string.rep("a", 65) })
    fails("project_id", with { project_id = false })
    fails("token", with { token = false })
    fails("token", with { token = "", })
    fails("token", with { ak = "a", sk = "s" })
    fails("sk", with { token = false, ak = "a" })
    fails("ak", with { token = false, sk = "s" })
    fails("security_token", with { security_token = "x" })
    fails("timeout", with { timeout = 0 })
    fails("timeout", with { timeout = "10" })
    fails("connect_timeout", with { connect_timeout = -1 })
    fails("retries", with { retries = 1.5 })
    fails("retries", with { retries = -1 })
    fails("concurrency", with { concurrency = 0 })
    fails("max_body", with { max_body = 10 })
    fails("insecure", with { insecure = "yes" })
    fails("tokn", with { tokn = "x" })
  end)

  it("refuses every control byte in what becomes a header", function()
    for _, byte in ipairs { "\1", "\11", "\27", "\127", "\0", "\r", "\n", "\t" } do
      fails("token", with { token = "tok" .. byte .. "en" })
      fails("ak", with { token = false, ak = "a" .. byte, sk = "s" })
      fails("security_token", with { token = false, ak = "a", sk = "s", security_token = byte .. "st" })
      fails("language", with { language = "en" .. byte .. "us" })
      fails("user_agent", with { user_agent = "agent" .. byte })
    end
  end)

  it("refuses malformed endpoints at once, not at every call", function()
    for _, endpoint in ipairs {
      "http://127.0.0.1:99999", "http://127.0.0.1:0", "http://127.0.0.1:abc", "http://127.0.0.1:",
      "http://[::1", "http://[]:80", "http://:8080", "http://", "https:///path", "http://h/p\1ath",
      "http://h/a b", "http://h/./v", "http://h/a/..", "http://h?x", "http://h#f", "http://h\\x",
    } do
      fails("endpoint", with { endpoint = endpoint })
    end
    for _, endpoint in ipairs { "http://[::1]:8080", "https://h.example:443/gw", "http://h_1.local" } do
      me.new(with { endpoint = endpoint }):close()
    end
  end)

  it("takes a region beside an endpoint, where it only names the region", function()
    local c = me.new(with { region = "cn-north-4" })
    assert.matches("^http://127%.0%.0%.1:1/v2/", c:request("job").url)
    c:close()
  end)

  it("says every way to give what is missing", function()
    local err = fails("endpoint", { project_id = "p", token = "t" })
    for _, way in ipairs { "config endpoint/region", "--endpoint/--region", "MODELARTS_ENDPOINT",
                           "HUAWEICLOUD_SDK_REGION" } do
      assert.truthy(err.message:find(way, 1, true), err.message)
    end
    err = fails("project_id", { endpoint = "http://h", token = "t" })
    for _, way in ipairs { "config project_id", "--project-id", "HUAWEICLOUD_SDK_PROJECT_ID" } do
      assert.truthy(err.message:find(way, 1, true), err.message)
    end
    err = fails("token", { endpoint = "http://h", project_id = "p" })
    for _, way in ipairs { "config token", "--token", "MODELARTS_TOKEN", "HUAWEICLOUD_SDK_AK",
                           "HUAWEICLOUD_SDK_SK" } do
      assert.truthy(err.message:find(way, 1, true), err.message)
    end
  end)

  it("prints its bounds as whole numbers", function()
    local err = fails("max_body", with { max_body = 1e13 })
    assert.truthy(err.message:find("1099511627776", 1, true), err.message)
  end)

  it("never shows a secret in a configuration error", function()
    local secret = "SECRET-VALUE-123"
    for _, config in ipairs {
      with { token = secret .. "\n" },
      with { token = false, ak = "a", sk = secret .. "\r" },
      with { token = false, ak = "a", sk = secret, security_token = secret .. "\n" },
      with { token = secret, ak = "a", sk = secret },
    } do
      local ok, err = pcall(me.new, config)
      assert.is_false(ok)
      assert.is_nil(tostring(err):find(secret, 1, true), tostring(err))
      assert.is_nil(tostring(err.message):find(secret, 1, true))
    end
  end)

  it("can be closed twice and then fails clearly", function()
    local c = me.new(base)
    c:close()
    c:close()
    local ok, err = pcall(c.list, c, "job")
    assert.is_false(ok)
    assert.equal("invalid_argument", err.kind)
    assert.matches("closed", err.message)
    assert.equal("modelarts_events client (closed)", tostring(c))
  end)

  it("refuses to drive a pager once its client is closed, with an error object", function()
    local c = me.new(base)
    local pager = c:pager("job", { limit = 5 })
    c:close()
    local ok, err = pcall(pager.next, pager)
    assert.is_false(ok)
    assert.equal("table", type(err))
    assert.equal("invalid_argument", err.kind)
    assert.matches("closed", tostring(err))
    pager:close()
  end)

  it("takes absurd numbers from a driver without undefined behaviour", function()
    -- make asan builds with -fsanitize=float-cast-overflow: a cast of 1e300
    -- to an integer would abort the run
    local c = me.new(base)
    local pager = c:pager("job", { limit = 5 })
    local _, seq = pager:next()
    pager:feed(1e300, 200, "{}", {})
    pager:feed(-1e300, nil, "network", "x")
    pager:feed(0 / 0, 200, "{}", {})
    assert.is_false(pager:take()) -- none of those was an answer to seq
    pager:feed(seq, 1e300, "{}", { ["Retry-After"] = "1e300" })
    local page, err = pager:take()
    assert.is_nil(page)
    assert.equal("http", err.kind)
    assert.is_false(err.retryable)
    pager:close()
    local e = me.error("http", "m", { status = 1e300 })
    assert.is_string(tostring(e))
    c:close()
  end)

  it("raises an error object when closed in the middle of an iteration", function()
    local c = emulator.client { concurrency = 4 }
    local n = 0
    local ok, err = pcall(function()
      for _ in c:events("gen-500", { limit = 50 }) do
        n = n + 1
        if n == 60 then c:close() end
      end
    end)
    assert.is_false(ok, "the loop ended normally after " .. n .. " events")
    assert.equal("table", type(err))
    assert.matches("closed", err.message)
    assert.equal(60, n)
  end)

  it("frees clients that are dropped without close", function()
    for _ = 1, 200 do
      local c = emulator.client()
      assert.truthy(c:list("reference", { limit = 1 }))
    end
    collectgarbage()
    collectgarbage()
  end)

  if _VERSION == "Lua 5.4" then
    it("closes a <close> variable at the end of its scope", function()
      local chunk = assert(load [[
        local me, config = ...
        local kept
        do
          local c <close> = me.new(config)
          kept = c
        end
        return tostring(kept)
      ]])
      assert.equal("modelarts_events client (closed)", chunk(me, base))
    end)
  end
end)

describe("me.config_from_env", function()
  it("reads nothing that overrides already give", function()
    local config = me.config_from_env { endpoint = "http://x", project_id = "p", token = "t" }
    assert.equal("http://x", config.endpoint)
    assert.equal("p", config.project_id)
    assert.equal("t", config.token)
    assert.is_nil(config.ak)
  end)

  local run = emulator.run_script

  it("takes the SDK's variables from the environment", function()
    local out = run({ HUAWEICLOUD_SDK_AK = "env-ak", HUAWEICLOUD_SDK_SK = "env-sk",
      HUAWEICLOUD_SDK_SECURITY_TOKEN = "env-st", HUAWEICLOUD_SDK_PROJECT_ID = "env-p",
      MODELARTS_TOKEN = "ignored" },
      [[local c = require("modelarts_events").config_from_env{ region = "cn-north-4" } ]] ..
      [[print(c.ak, c.sk, c.security_token, c.project_id, c.region, c.token)]])
    assert.equal("env-ak\tenv-sk\tenv-st\tenv-p\tcn-north-4\tnil", out)
  end)

  local SHOW = [[local me = require "modelarts_events"
    local ok, c = pcall(me.config_from_env)
    if not ok then print("raised " .. tostring(c)) return end
    local ok2, client = pcall(me.new, c)
    print(tostring(c.endpoint) .. " " .. tostring(c.region) .. " " ..
      (ok2 and client:request("job").url or ("new: " .. tostring(client))))]]

  it("never crashes: region only, endpoint only, both, neither", function()
    local base = { HUAWEICLOUD_SDK_PROJECT_ID = "p1", MODELARTS_TOKEN = "tok" }
    local function with(extra)
      local env = {}
      for k, v in pairs(base) do env[k] = v end
      for k, v in pairs(extra) do env[k] = v end
      return env
    end
    assert.equal("nil cn-north-4 https://modelarts.cn-north-4.myhuaweicloud.com/v2/p1/training-jobs/job/events?offset=0",
      run(with { HUAWEICLOUD_SDK_REGION = "cn-north-4" }, SHOW))
    assert.equal("http://e:1 nil http://e:1/v2/p1/training-jobs/job/events?offset=0",
      run(with { MODELARTS_ENDPOINT = "http://e:1" }, SHOW))
    assert.equal("http://e:1 cn-north-4 http://e:1/v2/p1/training-jobs/job/events?offset=0",
      run(with { MODELARTS_ENDPOINT = "http://e:1", HUAWEICLOUD_SDK_REGION = "cn-north-4" }, SHOW))
    local out = run(base, SHOW)
    assert.matches("^nil nil new: modelarts_events: invalid_argument: endpoint or region is required", out)
    assert.truthy(out:find("MODELARTS_ENDPOINT / HUAWEICLOUD_SDK_REGION", 1, true), out)
  end)

  it("lets an endpoint or region given in code win over MODELARTS_ENDPOINT", function()
    local out = run({ MODELARTS_ENDPOINT = "http://env:1", HUAWEICLOUD_SDK_PROJECT_ID = "p1",
      MODELARTS_TOKEN = "tok" },
      [[local c = require("modelarts_events").config_from_env{ region = "cn-south-1" } ]] ..
      [[print(c.endpoint, c.region)]])
    assert.equal("nil\tcn-south-1", out)
  end)

  it("passes values through unchanged", function()
    local out = run({ MODELARTS_TOKEN = " spaced token " },
      [[print("[" .. require("modelarts_events").config_from_env().token .. "]")]])
    assert.equal("[ spaced token ]", out)
  end)
end)
