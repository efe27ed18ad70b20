-- While the C driver waits (a transfer, a backoff, me.sleep), Ctrl-C takes
-- effect at once: the CLI exits 130 without a traceback, a script gets
-- "interrupted!" and, if it catches it, can use its client again. And the
-- client's on_retry hook, called whenever the core schedules a retry.
local me = require "modelarts_events"
local emulator = require "support.emulator"
local files = require "support.files"

local LUA = os.getenv("ME_LUA") or "lua5.4"
local CPATH = (os.getenv("ME_CPATH") or "./?.so") .. ";;"
local q = files.quote

local function slurp(path)
  local s = assert(files.read(path))
  os.remove(path)
  return s
end

-- env -i plus what a run needs (and a sanitizer build's runtime).
local function clean_env()
  local env = { "PATH=/usr/bin:/bin", "LUA_PATH=" .. q("./lua/?.lua;;"), "LUA_CPATH=" .. q(CPATH) }
  for _, name in ipairs { "LD_PRELOAD", "ASAN_OPTIONS", "UBSAN_OPTIONS" } do
    if os.getenv(name) then env[#env + 1] = name .. "=" .. q(os.getenv(name)) end
  end
  return "env -i " .. table.concat(env, " ")
end

-- Start `command` in the background, send it SIGINT `after` seconds later
-- (then every `again` seconds, if given, while it runs); returns its exit
-- status, its output (stdout and stderr) and the milliseconds from the
-- first SIGINT to its exit.
local function interrupt(command, after, again)
  local out, times = os.tmpname(), os.tmpname()
  local repeat_kill = again and string.format(
    "(while kill -0 $pid 2>/dev/null; do sleep %s; kill -INT $pid 2>/dev/null; done) &", again) or ""
  os.execute(string.format(
    "%s >%s 2>&1 & pid=$!; sleep %s; t0=$(date +%%s%%N); kill -INT $pid; %s wait $pid; rc=$?; " ..
    "echo $rc $t0 $(date +%%s%%N) >%s", command, out, after, repeat_kill, times))
  local rc, t0, t1 = slurp(times):match("(%d+) (%d+) (%d+)")
  return tonumber(rc), slurp(out), (tonumber(t1) - tonumber(t0)) / 1e6
end

-- A Lua script run as a user runs one, with the client for the emulator as `c`.
local function script(code)
  local path = files.tmpname()
  files.write(path, string.format([[
local me = require "modelarts_events"
local c = me.new { endpoint = %q, project_id = %q, token = %q }
io.stdout:setvbuf("no")
]], emulator.url, emulator.project_id, emulator.token) .. code)
  return clean_env() .. " " .. LUA .. " " .. path
end

describe("Ctrl-C", function()
  it("ends the CLI at once while a request is in flight: exit 130, no traceback", function()
    local command = string.format("%s %s bin/modelarts-events --endpoint %s --project-id %s --token %s fault-slow-12000",
      clean_env(), LUA, emulator.url, emulator.project_id, emulator.token)
    local rc, out, ms = interrupt(command, 1)
    assert.equal(130, rc, out)
    assert.is_nil(out:find("traceback", 1, true), out)
    assert.is_true(ms < 2000, "ended " .. ms .. " ms after the Ctrl-C")
  end)

  it("ends a script's request at once with lua.c's 'interrupted!'", function()
    local rc, out, ms = interrupt(script [[print(c:list("fault-slow-12000"))]], 1)
    assert.equal(1, rc)
    assert.matches("interrupted!", out)
    assert.is_true(ms < 2000, "ended " .. ms .. " ms after the Ctrl-C")
  end)

  it("ends me.sleep and the retries' waits at once", function()
    local rc, out, ms = interrupt(script [[me.sleep(60)]], 1)
    assert.equal(1, rc)
    assert.matches("interrupted!", out)
    assert.is_true(ms < 2000, "ended " .. ms .. " ms after the Ctrl-C")
    -- 50 failures in a row, retried with growing waits
    rc, out, ms = interrupt(script(string.format([[
c = me.new { endpoint = %q, project_id = %q, token = %q, retries = 50 }
for _ in c:events("fault-503-50-%s") do end]], emulator.url, emulator.project_id, emulator.token, emulator.tag())), 4)
    assert.equal(1, rc)
    assert.matches("interrupted!", out)
    assert.is_true(ms < 2000, "ended " .. ms .. " ms after the Ctrl-C")
  end)

  it("leaves the client usable for a script that catches it", function()
    local _, out = interrupt(script [[
local ok, err = pcall(c.list, c, "fault-slow-12000")
print("caught", ok, err)
local n = 0
for _ in c:events("gen-300", { limit = 50 }) do n = n + 1 end
print("then read", n)
local slept = pcall(me.sleep, 30)
print("sleep caught", slept)
print("again", c:list("reference").total)
]], 1, 1)
    assert.matches("caught\tfalse\tinterrupted!\n", out)
    assert.matches("then read\t300\n", out)
    assert.matches("sleep caught\tfalse\n", out)
    assert.matches("again\t27\n", out)
  end)

  it("changes nothing where SIGINT is ignored", function()
    local rc, out = interrupt(script [[
me.ignore_interrupts()
print("page", c:list("fault-slow-2500").total)]], 1)
    assert.equal(0, rc, out)
    assert.matches("page\t27", out)
  end)
end)

describe("on_retry", function()
  it("is called for every retry the core schedules, with the error and the delay", function()
    local calls = {}
    local c = emulator.client { retries = 3, on_retry = function(err, delay)
      calls[#calls + 1] = { err = err, delay = delay }
    end }
    assert.equal(27, assert(c:list("fault-503-2-" .. emulator.tag())).total)
    assert.equal(2, #calls)
    for _, call in ipairs(calls) do
      assert.equal("http", call.err.kind)
      assert.equal(503, call.err.status)
      assert.is_true(call.delay >= 0 and call.delay <= 30)
    end
    -- throttled: the delay the server asked for
    calls = {}
    assert.truthy(c:list("fault-429-1-" .. emulator.tag()))
    assert.equal(1, #calls)
    assert.equal(429, calls[1].err.status)
    assert.equal(1, calls[1].delay)
  end)

  it("sees the retries of an iteration; the final error says the attempts and the time", function()
    local calls = 0
    local c = emulator.client { retries = 2, concurrency = 1, on_retry = function() calls = calls + 1 end }
    local ok, err = pcall(function() for _ in c:events("fault-503-9-" .. emulator.tag()) do end end)
    assert.is_false(ok)
    assert.equal(2, calls)
    assert.equal(3, err.attempts)
    assert.is_number(err.elapsed)
    assert.matches("%(after 3 attempts over %d+%.%d s%)", err.message)
    assert.matches("%(after 3 attempts over %d+%.%d s%)", tostring(err))
  end)

  it("raises what the hook raises", function()
    local c = emulator.client { retries = 3, on_retry = function() error("stop retrying") end }
    local ok, err = pcall(c.list, c, "fault-503-2-" .. emulator.tag())
    assert.is_false(ok)
    assert.matches("stop retrying", tostring(err))
    local bad, refused = pcall(emulator.client, { on_retry = "print" })
    assert.is_false(bad)
    assert.equal("on_retry", refused.field)
    assert.is_function(me.new) -- (the module is intact)
  end)
end)
