-- Proxies as curl does them: with `proxy` unset the environment's
-- http_proxy/no_proxy decide, `proxy = URL` sets one, `proxy = false` turns
-- every proxy off. A real forward proxy (the emulator's --proxy-port)
-- counts what went through it. Scripts run as users run them: env -i plus
-- only the variables under test.
local emulator = require "support.emulator"

local function proxied()
  return emulator.stats().proxied
end

-- Run a script that lists the reference job with `config_lua` merged into
-- the emulator's settings; returns its output line.
local function run(env, config_lua)
  return emulator.run_script(env, string.format([[
local me = require "modelarts_events"
local config = { endpoint = %q, project_id = %q, token = %q, retries = 0 }
for k, v in pairs(%s) do config[k] = v end
local c = me.new(config)
local page, err = c:list("reference", { limit = 1 })
print(page and ("total " .. page.total) or tostring(err))
]], emulator.url, emulator.project_id, emulator.token, config_lua))
end

if not emulator.proxy_url then
  -- make spec starts the emulator with --proxy-port and exports it
  pending("proxies: needs MODELARTS_EMULATOR_PROXY (the emulator's --proxy-port, set by make spec)")
  return
end

describe("proxies", function()
  it("go through http_proxy from the environment when proxy is unset", function()
    emulator.reset()
    assert.equal("total 27", run({ http_proxy = emulator.proxy_url }, "{}"))
    assert.equal(1, proxied())
  end)

  it("bypass the proxy for hosts in no_proxy (either case)", function()
    emulator.reset()
    assert.equal("total 27", run({ http_proxy = emulator.proxy_url, no_proxy = "127.0.0.1" }, "{}"))
    assert.equal("total 27", run({ http_proxy = emulator.proxy_url, NO_PROXY = "127.0.0.1" }, "{}"))
    assert.equal(0, proxied())
  end)

  it("are all off with proxy = false, whatever the environment says", function()
    emulator.reset()
    assert.equal("total 27", run({ http_proxy = emulator.proxy_url, HTTPS_PROXY = emulator.proxy_url,
      ALL_PROXY = emulator.proxy_url }, "{ proxy = false }"))
    assert.equal(0, proxied())
  end)

  it("use the one proxy a configuration names", function()
    emulator.reset()
    assert.equal("total 27", run({}, string.format("{ proxy = %q }", emulator.proxy_url)))
    assert.equal(1, proxied())
  end)

  it("refuse a proxy that is neither a string nor false", function()
    local ok, err = pcall(emulator.client, { proxy = true })
    assert.is_false(ok)
    assert.equal("proxy", err.field)
  end)
end)
