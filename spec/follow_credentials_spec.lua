-- follow() over credentials that expire during the follow: IAM tokens of the
-- emulator's `short-user` live 3 s, the run job below 5 s.
local me = require "modelarts_events"
local follow = require "modelarts_events.follow"
local emulator = require "support.emulator"

local clock = me.monotonic or os.time

-- A fresh IAM token of short-user (password auth, scoped to the project),
-- asked with curl so that this spec does not depend on the client's own IAM
-- support.
local function short_token()
  local body = string.format('{"auth":{"identity":{"methods":["password"],"password":{"user":{"name":"short-user",' ..
    '"password":"emulator-password","domain":{"name":"emulator-domain"}}}},"scope":{"project":{"id":"%s"}}}}',
    emulator.project_id)
  local p = assert(io.popen(string.format("env -u LD_PRELOAD curl -s -D - -o /dev/null -X POST " ..
    "-H 'Content-Type: application/json' -d '%s' %s/v3/auth/tokens", body, emulator.url)))
  local headers = p:read("*a")
  p:close()
  return assert(headers:match("[Xx]%-[Ss]ubject%-[Tt]oken: *([^\r\n]+)"), headers)
end

local function collect(it)
  local events = {}
  for ev in it do events[#events + 1] = ev end
  return events
end

local function takes_functions()
  local ok, client = pcall(me.new, { endpoint = emulator.url, project_id = emulator.project_id,
    token = function() return emulator.token end })
  if ok then client:close() end
  return ok
end

describe("follow with a token that expires", function()
  it("fails with the gateway's 401 when the token stays the same", function()
    local token = short_token()
    local client = emulator.client { token = token, retries = 0 }
    local ok, err = pcall(collect, follow(client, "run-completed-5000-" .. emulator.tag(), { interval = 0.2 }))
    assert.is_false(ok)
    assert.equal(401, err.status)
    assert.equal("APIG.0301", err.code)
    assert.matches("token expires", err.message, 1, true)
    assert.is_nil(tostring(err):find(token, 1, true))
    client:close()
  end)

  it("goes on to the job's end when the token is a function that renews it", function()
    if not takes_functions() then return pending("the C module does not take credential functions yet") end
    local issued, token, at = {}, nil, nil
    local client = emulator.client { token = function()
      if not token or clock() - at >= 1.5 then
        token, at = short_token(), clock()
        issued[#issued + 1] = token
      end
      return token
    end }
    local it = follow(client, "run-completed-5000-" .. emulator.tag(), { interval = 0.2, grace = 1.2 })
    local events = collect(it)
    assert.equal("completed", it.result)
    assert.equal("Completed", it.phase)
    assert.equal("Training job is created.", events[1].message)
    assert.equal("[worker-0] Log upload finished.", events[#events].message)
    assert.is_true(#issued >= 3, #issued .. " tokens")
    client:close()
  end)
end)
