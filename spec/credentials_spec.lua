-- Credentials as functions: called just before each request is built, a
-- token renewed mid-iteration and mid-follow, temporary AK/SK from the
-- metadata service renewed mid-follow, failures named by field, and no
-- secret in any error; me.config_from_env's order.
local me = require "modelarts_events"
local follow = require "modelarts_events.follow"
local emulator = require "support.emulator"

local PASSWORD = "emulator-password"

local function login_options(user, extra)
  local options = { iam_endpoint = emulator.url, domain = "emulator-domain", user = user,
    password = PASSWORD, project = "cn-north-4" }
  for k, v in pairs(extra or {}) do options[k] = v end
  return options
end

local texts = emulator.error_texts

-- fn, wrapped to count the distinct values it returns: wrapped, count()
local function distinct(fn)
  local seen, n = {}, 0
  return function()
    local v = fn()
    if not seen[v] then seen[v], n = true, n + 1 end
    return v
  end, function() return n end
end

local function count(it)
  local n = 0
  for _ in it do n = n + 1 end
  return n
end

describe("credential functions", function()
  before_each(emulator.reset)

  it("are called before each request is built, in the order token / ak, sk, security_token", function()
    local calls = {}
    local function fn(name, value) return function() calls[#calls + 1] = name; return value end end
    local c = emulator.client { ak = fn("ak", "emulator-temp-ak"), sk = fn("sk", "emulator-temp-sk"),
      security_token = fn("st", "emulator-security-token"), concurrency = 3 }
    assert.equal(500, count(c:events("gen-500", { limit = 50 })))
    local requests = emulator.stats().events_requests
    assert.equal(requests * 3, #calls)
    for i = 1, #calls, 3 do assert.same({ "ak", "sk", "st" }, { calls[i], calls[i + 1], calls[i + 2] }) end
    -- a token function: once per request, list and job alike
    local n = 0
    c = emulator.client { token = function() n = n + 1; return emulator.token end }
    assert.truthy(c:list("reference"))
    assert.truthy(c:job("reference"))
    assert.equal(2, n)
    -- and for the request that client:request builds
    assert.equal(emulator.token, c:request("reference").headers["X-Auth-Token"])
    assert.equal(3, n)
  end)

  it("end the call with an invalid_argument error naming the field", function()
    local c = emulator.client { token = function() error("the vault is sealed") end }
    local page, err = c:list("reference")
    assert.is_nil(page)
    assert.equal("invalid_argument", err.kind)
    assert.equal("token", err.field)
    assert.matches("the token function failed: .*the vault is sealed", err.message)
    -- an iteration raises it
    local ok, raised = pcall(count, c:events("reference"))
    assert.is_false(ok)
    assert.equal("token", raised.field)
    for _, bad in ipairs { 42, "", "two\nlines", false } do
      c = emulator.client { ak = emulator.ak, sk = function() return bad end }
      page, err = c:list("reference")
      assert.is_nil(page)
      assert.equal("sk", err.field)
      assert.matches("must return a non%-empty string", err.message)
    end
    assert.equal(0, emulator.stats().requests)
  end)

  it("hide a failing function's message when it holds a credential", function()
    local sk = "the-secret-key-of-this-test"
    local c = emulator.client { ak = emulator.ak, sk = sk,
      security_token = function() error("no token for sk " .. sk) end }
    local _, err = c:list("reference")
    assert.equal("security_token", err.field)
    assert.matches("its message is not shown", err.message)
    assert.is_nil(texts(err):find(sk, 1, true))
  end)

  it("keep every secret they returned out of every error", function()
    -- the gateway's fault-echo-token quotes X-Auth-Token and X-Security-Token back
    local used = {}
    local i = 0
    local c = emulator.client { token = function()
      i = i + 1
      used[i] = "  a-token-from-a-function-" .. i .. "  "
      return used[i]
    end, retries = 0 }
    for _ = 1, 2 do
      local _, err = c:list("fault-echo-token")
      assert.equal(401, err.status)
      for _, secret in ipairs(used) do
        local trimmed = secret:match("^%s*(.-)%s*$")
        assert.is_nil(texts(err):find(trimmed, 1, true))
      end
      assert.matches("REDACTED", texts(err))
    end
    local meta = me.metadata_credentials { endpoint = emulator.url }
    c = emulator.client { ak = meta.ak, sk = meta.sk, security_token = meta.security_token, retries = 0 }
    local _, err = c:list("fault-echo-token")
    local st = meta.security_token()
    assert.truthy(#st > 20)
    assert.is_nil(texts(err):find(st, 1, true))
    assert.is_nil(texts(err):find(meta.sk(), 1, true))
  end)

  it("take strings from a Lua driver's pager:next(creds) instead", function()
    local c = emulator.client { token = function() error("not to be called") end }
    local what, _, req = c:pager("reference"):next { token = "a-driver-token" }
    assert.equal("send", what)
    assert.equal("a-driver-token", req.headers["X-Auth-Token"])
    local ok, err = pcall(c:pager("reference").next, c:pager("reference"), "not a table")
    assert.is_false(ok)
    assert.equal("creds", err.field)
  end)
end)

describe("renewable credentials", function()
  before_each(emulator.reset)

  it("a token that expires mid-iteration is renewed (short-user's live 3 s)", function()
    -- the control: one token of short-user, used past its 3 s, is refused
    local once = assert(me.iam_token(login_options("short-user")))
    local c = emulator.client { token = once.token, concurrency = 1, retries = 0 }
    local ok, err = pcall(count, c:events("delay400-1500", { limit = 100 }))
    assert.is_false(ok)
    assert.equal(401, err.status)
    assert.matches("token expires", err.message)
    assert.is_nil(texts(err):find(once.token, 1, true))

    -- renewed a second before it expires: every event, several tokens
    local token, tokens = distinct(me.iam_token_source(login_options("short-user", { renew_before = 1 })))
    c = emulator.client { concurrency = 1, token = token }
    emulator.reset()
    assert.equal(1500, count(c:events("delay400-1500", { limit = 100 })))
    assert.is_true(tokens() >= 2, tokens() .. " tokens")
    assert.equal(tokens(), emulator.stats().iam_requests)
  end)

  it("a token that changes mid-follow", function()
    local token, tokens = distinct(me.iam_token_source(login_options("short-user", { renew_before = 1 })))
    local it = follow(emulator.client { token = token }, "life-completed-16-" .. emulator.tag(), { interval = 0.3 })
    local n = 0
    for _ in it do n = n + 1 end
    assert.equal("completed", it.result)
    assert.is_true(n >= 30, n .. " events")
    assert.is_true(tokens() >= 2, tokens() .. " tokens")
  end)

  it("metadata credentials renewed mid-follow, one consistent set each request", function()
    emulator.configure { metadata_ttl = 3 }
    local meta = me.metadata_credentials { endpoint = emulator.url, renew_before = 1 }
    local ak, sets = distinct(meta.ak)
    local c = emulator.client { ak = ak, sk = meta.sk, security_token = meta.security_token }
    local it = follow(c, "life-failed-16-" .. emulator.tag(), { interval = 0.3 })
    local n = 0
    for _ in it do n = n + 1 end
    assert.equal("failed", it.result)
    assert.is_true(n >= 30, n .. " events")
    assert.is_true(sets() >= 2, sets() .. " sets")
    assert.equal(sets(), emulator.stats().metadata_requests)
  end)

  it("a renewal that fails keeps a token that is still valid, then reports", function()
    local source = me.iam_token_source(login_options("emulator-user"))
    local token, expires_at, project_id = source()
    assert.matches("^MII", token)
    assert.equal("0a1b2c3d4e5f", project_id)
    assert.is_true(expires_at > os.time() * 1000)
    assert.equal(token, source())
    assert.equal(1, emulator.stats().iam_requests)
    local wrong = me.iam_token_source(login_options("emulator-user", { password = "not-it-at-all" }))
    local ok, err = pcall(wrong)
    assert.is_false(ok)
    assert.equal(401, err.status)
    assert.is_nil(texts(err):find("not-it-at-all", 1, true))
    -- bad options are refused at once, before anything is sent
    ok, err = pcall(me.iam_token_source, login_options("emulator-user", { renew_before = -5 }))
    assert.is_false(ok)
    assert.equal("renew_before", err.field)
    ok, err = pcall(me.metadata_credentials, { endpoint = "nowhere" })
    assert.is_false(ok)
    assert.equal("endpoint", err.field)
  end)

  it("metadata: the SDKs' answer read once, with its expiry", function()
    local key = assert(me.metadata_security_key { endpoint = emulator.url })
    assert.matches("^EMUTMP", key.ak)
    assert.is_true(#key.sk > 20 and #key.security_token > 20)
    assert.is_true(emulator.is_integer(key.expires_at))
    local c = emulator.client { ak = key.ak, sk = key.sk, security_token = key.security_token }
    assert.equal(27, assert(c:list("reference")).total)
    local _, err = me.metadata_security_key { endpoint = emulator.url .. "/nothing-here", retries = 0 }
    assert.equal(404, err.status)
  end)
end)

describe("me.config_from_env", function()
  local PRINT = [[
local me = require "modelarts_events"
local ok, config = pcall(me.config_from_env, OVERRIDES)
if not ok then print("error " .. tostring(config.field) .. " " .. tostring(config)) return end
local fields = {}
for k, v in pairs(config) do fields[#fields + 1] = k .. "=" .. (type(v) == "function" and "function" or tostring(v)) end
table.sort(fields)
local made, c = pcall(me.new, config)
if not made then print("error " .. tostring(c.field) .. " " .. tostring(c)) return end
local page, err = c:list("reference", { limit = 1 })
print(table.concat(fields, " ") .. " -> " .. (page and page.total or tostring(err)))
]]
  local function run(env, overrides)
    env.HUAWEICLOUD_SDK_IAM_ENDPOINT = env.HUAWEICLOUD_SDK_IAM_ENDPOINT or emulator.url
    env.MODELARTS_ENDPOINT = emulator.url
    return emulator.run_script(env, (PRINT:gsub("OVERRIDES", overrides or "nil")))
  end
  local LOGIN = { HUAWEICLOUD_SDK_REGION = "cn-north-4", HUAWEICLOUD_SDK_DOMAIN = "emulator-domain",
    HUAWEICLOUD_SDK_USER = "emulator-user", HUAWEICLOUD_SDK_PASSWORD = PASSWORD }

  before_each(emulator.reset)

  it("logs in with a password from the environment, learning the project id", function()
    local out = run(LOGIN)
    assert.matches("project_id=0a1b2c3d4e5f", out)
    assert.matches("token=function", out)
    assert.matches("%-> 27$", out)
    assert.equal(1, emulator.stats().iam_requests)
  end)

  it("reports a wrong password without it", function()
    local env = {}
    for k, v in pairs(LOGIN) do env[k] = v end
    env.HUAWEICLOUD_SDK_PASSWORD = "wrong-password-here"
    local out = run(env)
    assert.matches("^error nil modelarts_events: http 401", out)
    assert.is_nil(out:find("wrong-password-here", 1, true))
  end)

  it("takes AK/SK and a token before a password login, and overrides before all", function()
    local env = { HUAWEICLOUD_SDK_AK = emulator.ak, HUAWEICLOUD_SDK_SK = emulator.sk,
      HUAWEICLOUD_SDK_PROJECT_ID = "0a1b2c3d4e5f" }
    for k, v in pairs(LOGIN) do env[k] = v end
    assert.matches("ak=emulator%-ak .* %-> 27$", run(env))
    assert.equal(0, emulator.stats().iam_requests)
    env.HUAWEICLOUD_SDK_AK, env.MODELARTS_TOKEN = nil, emulator.token
    assert.matches("token=emulator%-token %-> 27$", run(env))
    assert.matches("token=emulator%-token %-> 27$", run(LOGIN, "{ token = 'emulator-token', project_id = '0a1b2c3d4e5f' }"))
    assert.equal(0, emulator.stats().iam_requests)
  end)

  it("takes a driver's own makers of renewing functions, and fetches nothing with them at once", function()
    -- (what modelarts_events.resty does, to log in over cosockets; the makers
    -- write on the line the script prints)
    local maker = "{ sources = { iam_token_source = function(o) io.write('login maker: ' .. o.domain .. ' ' .. " ..
      "o.user .. ' ' .. o.iam_endpoint .. '; '); return me.iam_token_source(o) end } }"
    local out = run(LOGIN, maker)
    assert.matches("^login maker: emulator%-domain emulator%-user http://", out)
    assert.is_nil(out:find("project_id=", 1, true)) -- not learned while reading the configuration
    assert.matches("token=function %-> 27", out) -- the client finds it at its first request
    maker = "{ sources = { metadata_credentials = function(o) io.write('metadata maker: ' .. o.endpoint .. '; '); " ..
      "return me.metadata_credentials(o) end } }"
    out = run({ HUAWEICLOUD_SDK_PROJECT_ID = "0a1b2c3d4e5f", HUAWEICLOUD_SDK_METADATA = emulator.url }, maker)
    assert.matches("^metadata maker: http://", out)
    assert.matches("ak=function .*security_token=function sk=function %-> 27", out)
    assert.matches("^error sources ", run(LOGIN, "{ sources = 'mine' }"))
  end)

  it("reads the metadata service only when asked, and last", function()
    local env = { HUAWEICLOUD_SDK_PROJECT_ID = "0a1b2c3d4e5f" }
    assert.matches("^error token .*authentication is required", run(env))
    env.HUAWEICLOUD_SDK_METADATA = emulator.url
    local out = run(env)
    assert.matches("ak=function .*security_token=function sk=function %-> 27$", out)
    assert.equal(1, emulator.stats().metadata_requests)
    env.HUAWEICLOUD_SDK_METADATA = nil
    out = run(env, "{ metadata = '" .. emulator.url .. "' }")
    assert.matches("%-> 27$", out)
    assert.is_nil(out:find("metadata=", 1, true))
    -- the environment's token wins over the metadata service
    env.HUAWEICLOUD_SDK_METADATA, env.MODELARTS_TOKEN = emulator.url, emulator.token
    assert.matches("token=emulator%-token %-> 27$", run(env))
    assert.equal(2, emulator.stats().metadata_requests)
  end)
end)

describe("the CLI's credentials", function()
  local LUA = os.getenv("ME_LUA") or "lua5.4"
  local CPATH = (os.getenv("ME_CPATH") or "./?.so") .. ";;"

  -- Run the CLI with env -i plus `env`; returns stdout and stderr together, and the exit status.
  local function cli(env, args)
    local vars = { "PATH=/usr/bin:/bin", "LUA_PATH='./lua/?.lua;;'", "LUA_CPATH='" .. CPATH .. "'",
      "HUAWEICLOUD_SDK_IAM_ENDPOINT=" .. emulator.url }
    for _, name in ipairs { "LD_PRELOAD", "ASAN_OPTIONS", "UBSAN_OPTIONS" } do
      if os.getenv(name) then vars[#vars + 1] = name .. "='" .. os.getenv(name) .. "'" end
    end
    for k, v in pairs(env) do vars[#vars + 1] = k .. "='" .. v .. "'" end
    local out = os.tmpname()
    local ok, _, code = os.execute(string.format("env -i %s %s bin/modelarts-events --endpoint %s %s >%s 2>&1",
      table.concat(vars, " "), LUA, emulator.url, args, out))
    if type(ok) == "number" then code = ok >= 256 and ok / 256 or ok end -- Lua 5.1
    local f = assert(io.open(out))
    local text = f:read("*a")
    f:close()
    os.remove(out)
    return text, code
  end

  before_each(emulator.reset)

  it("needs no --project-id with AK/SK and a region: IAM is asked once", function()
    local out, code = cli({ HUAWEICLOUD_SDK_AK = emulator.ak, HUAWEICLOUD_SDK_SK = emulator.sk },
      "--region cn-north-4 -n 2 reference")
    assert.equal(0, code, out)
    assert.matches("Training job failed%.\n$", out)
    assert.equal(1, emulator.stats().iam_requests)
    out, code = cli({ HUAWEICLOUD_SDK_AK = emulator.ak, HUAWEICLOUD_SDK_SK = emulator.sk }, "-n 2 reference")
    assert.equal(2, code)
    assert.matches("or a region, to find it through IAM", out)
    out, code = cli({ HUAWEICLOUD_SDK_AK = emulator.ak, HUAWEICLOUD_SDK_SK = emulator.sk }, "--region multi-1 reference")
    assert.equal(2, code)
    assert.matches("^modelarts%-events: %-%-region: IAM lists 2 projects named 'multi%-1'", out)
  end)

  it("logs in with a password from the environment, never from a flag", function()
    local env = { HUAWEICLOUD_SDK_DOMAIN = "emulator-domain", HUAWEICLOUD_SDK_USER = "emulator-user",
      HUAWEICLOUD_SDK_PASSWORD = PASSWORD }
    local out, code = cli(env, "--region cn-north-4 -n 1 reference")
    assert.equal(0, code, out)
    assert.matches("Training job failed%.\n$", out)
    env.HUAWEICLOUD_SDK_PASSWORD = "the-wrong-password"
    out, code = cli(env, "--region cn-north-4 reference")
    assert.equal(1, code)
    assert.matches("The username or password is wrong", out)
    assert.is_nil(out:find("the-wrong-password", 1, true))
    out, code = cli({}, "--password x reference")
    assert.equal(2, code)
    assert.matches("unknown option '%-%-password'", out)
    local help = cli({}, "--help")
    for _, name in ipairs { "HUAWEICLOUD_SDK_DOMAIN", "HUAWEICLOUD_SDK_USER", "HUAWEICLOUD_SDK_PASSWORD",
      "HUAWEICLOUD_SDK_METADATA", "HUAWEICLOUD_SDK_IAM_ENDPOINT" } do
      assert.truthy(help:find(name, 1, true), name)
    end
  end)

  it("takes temporary AK/SK from the metadata service when asked", function()
    local out, code = cli({ HUAWEICLOUD_SDK_METADATA = emulator.url }, "--region cn-north-4 -n 1 reference")
    assert.equal(0, code, out)
    assert.matches("Training job failed%.\n$", out)
    local stats = emulator.stats()
    assert.equal(1, stats.metadata_requests)
    assert.equal(1, stats.iam_requests)
  end)
end)
