-- IAM against the emulator: the project id found from the region (signed
-- GET /v3/projects?name=REGION, once for the client's life) and the
-- password login (me.iam_token, POST /v3/auth/tokens).
local me = require "modelarts_events"
local emulator = require "support.emulator"

local PASSWORD = "emulator-password"

-- defaults with overrides; false removes a default
local function merge(defaults, overrides)
  for k, v in pairs(overrides or {}) do
    if v == false then defaults[k] = nil else defaults[k] = v end
  end
  return defaults
end

-- A client with AK/SK, a region and no project id.
local function discovering(overrides)
  return me.new(merge({ endpoint = emulator.url, region = "cn-north-4", iam_endpoint = emulator.url,
    ak = emulator.ak, sk = emulator.sk }, overrides))
end

local function login(overrides)
  return me.iam_token(merge({ iam_endpoint = emulator.url, domain = "emulator-domain", user = "emulator-user",
    password = PASSWORD, project = "cn-north-4" }, overrides))
end

local texts = emulator.error_texts

describe("project id from IAM", function()
  before_each(emulator.reset)

  it("asks IAM once for many API calls, signed like every request", function()
    local c = discovering()
    assert.matches("to be found through IAM", tostring(c))
    for _ = 1, 3 do assert.equal(27, assert(c:list("reference", { limit = 5 })).total) end
    local n = 0
    for _ in c:events("gen-250", { limit = 50 }) do n = n + 1 end
    assert.equal(250, n)
    assert.equal("Failed", assert(c:job("reference")).phase)
    local stats = emulator.stats()
    assert.equal(1, stats.iam_requests)
    assert.is_true(stats.events_requests >= 8)
    assert.matches("project 0a1b2c3d4e5f", tostring(c))
    -- the request the emulator saw last names the project found
    assert.matches("^/v2/0a1b2c3d4e5f/", emulator.last().uri)
  end)

  it("sends IAM the region, signed with the AK/SK and the security token", function()
    local c = discovering { ak = "emulator-temp-ak", sk = "emulator-temp-sk",
      security_token = "emulator-security-token" }
    local req = c:request("reference")
    assert.matches("^" .. emulator.url .. "/v2/0a1b2c3d4e5f/training%-jobs/reference/events", req.url)
    assert.equal(1, emulator.stats().iam_requests)
    assert.truthy(c:list("reference", { limit = 1 }))
    assert.equal(1, emulator.stats().iam_requests)
  end)

  it("works with a token too", function()
    local c = discovering { ak = false, sk = false, token = emulator.token }
    assert.truthy(c:list("reference", { limit = 1 }))
    assert.equal(1, emulator.stats().iam_requests)
  end)

  it("names the region when IAM knows no project of that name, or several", function()
    for region, says in pairs { ["none-1"] = "knows no project named 'none%-1'",
      ["multi-1"] = "lists 2 projects named 'multi%-1'" } do
      local c = discovering { region = region }
      local page, err = c:list("reference")
      assert.is_nil(page)
      assert.equal("invalid_argument", err.kind)
      assert.equal("region", err.field)
      assert.matches(says, err.message)
      assert.matches("project_id", err.message)
      -- an iteration raises the same
      local ok, raised = pcall(function() for _ in c:events("reference") do end end)
      assert.is_false(ok)
      assert.equal("region", raised.field)
    end
  end)

  it("reports IAM's refusal as the usual error object, without the SK", function()
    local c = discovering { sk = "not-the-right-secret-key" }
    local page, err = c:list("reference")
    assert.is_nil(page)
    assert.equal("http", err.kind)
    assert.equal(401, err.status)
    assert.matches("^IAM %(finding the project id of the region%): ", err.message)
    assert.is_nil(texts(err):find("not-the-right-secret-key", 1, true))
  end)

  it("needs a region (or a project id) to ask IAM", function()
    local ok, err = pcall(me.new, { endpoint = emulator.url, ak = emulator.ak, sk = emulator.sk })
    assert.is_false(ok)
    assert.equal("project_id", err.field)
    assert.matches("or a region, to find it through IAM", err.message)
  end)

  it("emits the IAM request before any API request, for drivers in Lua (a negative seq)", function()
    -- no iam_endpoint: IAM's address is the region's
    local c = me.new { region = "cn-north-4", ak = emulator.ak, sk = emulator.sk }
    local pager = c:pager("reference", { limit = 5 })
    local what, seq, req = pager:next()
    assert.equal("send", what)
    assert.is_true(seq < 0)
    assert.equal("GET", req.method)
    assert.equal("https://iam.cn-north-4.myhuaweicloud.com/v3/projects?name=cn-north-4", req.url)
    assert.equal("iam.cn-north-4.myhuaweicloud.com", req.headers.Host)
    assert.matches("^SDK%-HMAC%-SHA256 Access=emulator%-ak, SignedHeaders=host;x%-sdk%-date, Signature=%x+$",
      req.headers.Authorization)
    assert.is_nil(req.headers["X-Project-Id"])
    -- nothing else until IAM has answered
    assert.equal("idle", (pager:next()))
    pager:feed(seq, 200, '{"projects": [{"id": "0a1b2c3d4e5f", "name": "cn-north-4"}]}', {})
    assert.is_false(pager:take())
    what, seq, req = pager:next()
    assert.equal("send", what)
    assert.is_true(seq > 0)
    assert.equal("https://modelarts.cn-north-4.myhuaweicloud.com/v2/0a1b2c3d4e5f/training-jobs/reference/events?limit=5&offset=0&order=desc", req.url)
    pager:close()
    -- kept: another pager of the client asks IAM no more
    what, seq = c:pager("reference"):next()
    assert.is_true(what == "send" and seq > 0)
  end)

  it("refuses an iam_endpoint that is not a URL", function()
    local ok, err = pcall(discovering, { iam_endpoint = "iam.example.com" })
    assert.is_false(ok)
    assert.equal("iam_endpoint", err.field)
  end)
end)

describe("me.iam_token", function()
  before_each(emulator.reset)

  it("logs in with a password and returns the token, its expiry and the project", function()
    local before = os.time() * 1000
    local tok = assert(login())
    assert.matches("^MII", tok.token)
    assert.equal("0a1b2c3d4e5f", tok.project_id)
    assert.is_true(emulator.is_integer(tok.expires_at))
    assert.is_true(tok.expires_at > before + 23 * 3600 * 1000 and tok.expires_at < before + 25 * 3600 * 1000)
    -- the token opens the events API
    local c = emulator.client { token = tok.token }
    assert.equal(27, assert(c:list("reference")).total)
  end)

  it("scopes by project id, by name, or by the region's project", function()
    assert.equal("0a1b2c3d4e5f", assert(login { project = false, project_id = "0a1b2c3d4e5f" }).project_id)
    assert.equal("5f4e3d2c1b0a", assert(login { project = false, project_id = "5f4e3d2c1b0a" }).project_id)
    assert.equal("0a1b2c3d4e5f", assert(login { project = false, region = "cn-north-4" }).project_id)
    local domain_scoped = assert(login { project = false })
    assert.is_nil(domain_scoped.project_id)
  end)

  it("posts the password in a JSON body only, never in the URL", function()
    assert(login())
    local last = emulator.last()
    assert.equal("POST", last.method)
    assert.equal("/v3/auth/tokens", last.uri)
    assert.is_nil((last.args or ""):find(PASSWORD, 1, true))
    assert.matches("^application/json", last.headers["content-type"])
  end)

  it("turns IAM's error body into the error object, without the password", function()
    local secret = "a-wrong-password-1234"
    local tok, err = login { password = secret }
    assert.is_nil(tok)
    assert.equal("http", err.kind)
    assert.equal(401, err.status)
    assert.equal("Unauthorized", err.code) -- IAM's title: its numeric code is the status
    assert.matches("The username or password is wrong%.", err.message)
    assert.is_string(err.request_id)
    assert.is_false(err.retryable)
    assert.is_nil(texts(err):find(secret, 1, true))
    local _, unknown = login { project = "no-such-project" }
    assert.equal(400, unknown.status)
  end)

  it("checks its options before sending anything, never showing the password", function()
    local cases = {
      domain = function(o) o.domain = nil end,
      password = function(o) o.password = "bad\nsecret" end,
      iam_endpoint = function(o) o.iam_endpoint = nil end,
      project = function(o) o.project_id = "0a1b2c3d4e5f" end,
      colour = function(o) o.colour = "red" end,
      timeout = function(o) o.timeout = -1 end,
    }
    for field, change in pairs(cases) do
      local options = { iam_endpoint = emulator.url, domain = "emulator-domain", user = "emulator-user",
        password = "bad\nsecret", project = "cn-north-4" }
      if field ~= "password" then options.password = PASSWORD end
      change(options)
      local ok, err = pcall(me.iam_token, options)
      assert.is_false(ok, field)
      assert.equal("invalid_argument", err.kind)
      assert.equal(field, err.field)
      assert.is_nil(texts(err):find("secret", 1, true), field)
      assert.is_nil(texts(err):find(PASSWORD, 1, true), field)
    end
    assert.equal(0, emulator.stats().iam_requests)
  end)

  it("retries what is worth retrying, as every request", function()
    -- a closed port: a network error, retried, then reported with the attempts
    local tok, err = me.iam_token { iam_endpoint = "http://127.0.0.1:1", domain = "d", user = "u",
      password = PASSWORD, retries = 2, connect_timeout = 1 }
    assert.is_nil(tok)
    assert.equal("network", err.kind)
    assert.equal(3, err.attempts)
    assert.matches("%(after 3 attempts over %d+%.%d s%)", err.message)
  end)
end)
