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

  it("refuses to drive a pager once its client is closed", function()
    local c = me.new(base)
    local pager = c:pager("job", { limit = 5 })
    c:close()
    local ok, err = pcall(pager.next, pager)
    assert.is_false(ok)
    assert.matches("closed", tostring(err))
    pager:close()
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

  it("takes the SDK's variables from the environment", function()
    local cmd = [[HUAWEICLOUD_SDK_AK=env-ak HUAWEICLOUD_SDK_SK=env-sk ]] ..
      [[HUAWEICLOUD_SDK_SECURITY_TOKEN=env-st HUAWEICLOUD_SDK_PROJECT_ID=env-p ]] ..
      [[MODELARTS_TOKEN=ignored %s -e 'package.cpath="%s;"..package.cpath ]] ..
      [[local c = require("modelarts_events").config_from_env{ region = "cn-north-4" } ]] ..
      [[print(c.ak, c.sk, c.security_token, c.project_id, c.region, c.token)']]
    local lua = os.getenv("ME_LUA") or "lua5.4"
    local f = assert(io.popen(cmd:format(lua, os.getenv("ME_CPATH") or "./?.so")))
    local out = f:read("*l")
    f:close()
    assert.equal("env-ak\tenv-sk\tenv-st\tenv-p\tcn-north-4\tnil", out)
  end)
end)
