-- filter.compile: odd events are simply not kept, bad specifications fail
-- when compiled (issue 10, item 14). The basics are in helpers_spec.lua.
local filter = require "modelarts_events.filter"
local time = require "modelarts_events.time"

local EVENT = { time = "2022-11-26T16:03:41+08:00", level = "Error", message = "[worker-0] Training failed.", source = "Job" }

-- Every condition, each one on its own and all together.
local CONDITIONS = {
  { level = "Error" }, { source = "job" }, { pattern = "failed" }, { match = "fail" },
  { worker = "worker-0" }, { since = 0 }, { till = "2100-01-01T00:00:00Z" },
}
local ALL = {}
for _, c in ipairs(CONDITIONS) do for k, v in pairs(c) do ALL[k] = v end end
CONDITIONS[#CONDITIONS + 1] = ALL

local function without(field, value)
  local ev = {}
  for k, v in pairs(EVENT) do ev[k] = v end
  ev[field] = value
  return ev
end

local function compile_error(spec)
  local ok, err = pcall(filter.compile, spec)
  assert.is_false(ok, "compiled: " .. tostring(next(spec)))
  assert.is_table(err)
  return err
end

describe("filter.compile with odd events", function()
  it("keeps the complete event under every condition", function()
    for _, spec in ipairs(CONDITIONS) do assert.is_true(filter.compile(spec)(EVENT)) end
  end)

  it("does not keep an event that lacks the field a condition reads, and never raises", function()
    local READS = { level = { "level" }, source = { "source" }, message = { "pattern", "match", "worker" },
                    time = { "since", "till" } }
    -- (a number is a time in ms: see below)
    local ODD = { level = { nil, 42, true, {}, 0 / 0 }, time = { nil, true, {}, 0 / 0, 1.5, "" } }
    ODD.source, ODD.message = ODD.level, ODD.level
    for field, keys in pairs(READS) do
      for i = 1, 6 do
        local ev = without(field, ODD[field][i])
        for _, spec in ipairs(CONDITIONS) do
          local reads = false
          for _, k in ipairs(keys) do reads = reads or spec[k] ~= nil end
          local ok, kept = pcall(filter.compile(spec), ev)
          assert.is_true(ok, field .. ": " .. tostring(kept))
          assert.equal(not reads, kept, field .. " = " .. tostring(ODD[field][i]))
        end
      end
    end
  end)

  it("keeps a time given as epoch ms in the event, as time.parse reads it", function()
    local ev = without("time", 1669449821000)
    assert.is_true(filter.compile { since = 1669449821000 } (ev))
    assert.is_false(filter.compile { since = 1669449821001 } (ev))
  end)

  it("does not keep an event with an unreadable time, and keeps reading the next ones", function()
    local keep = filter.compile { since = 0 }
    assert.is_false(keep(without("time", "yesterday")))
    assert.is_true(keep(EVENT))
    assert.is_false(keep(without("time", nil)))
    assert.is_true(keep(EVENT))
  end)

  it("does not keep an empty table", function()
    for _, spec in ipairs(CONDITIONS) do assert.is_false(filter.compile(spec)({})) end
  end)
end)

describe("filter.compile with bad bounds", function()
  local BAD = { 1e300, -1e300, math.huge, -math.huge, 0 / 0, 1.5, 2 ^ 63, "1e300", "soon", "", "15x",
                "2022-13-01T00:00:00Z", "99999999999999999999", true, {}, function() end }

  it("fails at compile time with invalid_argument naming since or till", function()
    for _, field in ipairs { "since", "till" } do
      for _, v in ipairs(BAD) do
        local err = compile_error { [field] = v }
        assert.equal("invalid_argument", err.kind)
        assert.equal(field, err.field)
        assert.is_false(err.retryable)
        assert.matches("^modelarts_events: invalid_argument: " .. field, tostring(err))
      end
    end
  end)

  it("builds the error with the one constructor of the C module", function()
    local me = require "modelarts_events"
    local err = compile_error { since = 1e300 }
    assert.equal(getmetatable(me.error("invalid_argument", "x")), getmetatable(err))
  end)

  it("accepts the edges of years 0 and 9999", function()
    assert.has_no.errors(function() filter.compile { since = "0000-01-01T00:00:00Z", till = "9999-12-31T23:59:59Z" } end)
    assert.equal("till", compile_error({ till = time.parse("9999-12-31T23:59:59Z") + 1000 }).field)
  end)

  it("refuses since after till, which could keep nothing", function()
    local err = compile_error { since = "2022-11-26T16:04:00+08:00", till = "2022-11-26T16:03:00+08:00" }
    assert.equal("since", err.field)
    assert.matches("after till", err.message)
    assert.is_true(filter.compile { since = 5, till = 5 } (without("time", 5)))
  end)
end)

describe("filter.compile with Lua patterns", function()
  -- Each can raise on some message but not on another, which is why a trial
  -- run of string.find at compile time cannot tell.
  local BAD = {
    ["a%"] = { ok = "", raises = "a" },
    ["x[a"] = { ok = "", raises = "x" },
    ["x%b"] = { ok = "", raises = "x" },
    ["x%bq"] = { ok = "", raises = "x" },
    ["x%f"] = { ok = "", raises = "x" },
    ["x%fa"] = { ok = "", raises = "x" },
    ["x%0"] = { ok = "", raises = "x" },
    ["x%1"] = { ok = "", raises = "x" },
    ["x(a%1)"] = { ok = "", raises = "xa" },
    ["x(a"] = { ok = "", raises = "xa" },
    ["x.)"] = { ok = "", raises = "xa" },
  }

  it("rejects at compile time what Lua's matcher can raise on", function()
    for p, subjects in pairs(BAD) do
      assert.is_true(pcall(string.find, subjects.ok, p), p)     -- the trial run passes...
      assert.is_false(pcall(string.find, subjects.raises, p), p) -- ...the real message raises
      local err = compile_error { match = p }
      assert.equal("invalid_argument", err.kind)
      assert.equal("match", err.field)
      assert.matches("not a valid Lua pattern", err.message)
    end
  end)

  -- 200 captures and repetitions raise "pattern too complex" on LuaJIT
  -- whatever the message, on 5.4 where the message lets each repeat (5.1
  -- recurses on the C stack without a bound); a NUL ends a pattern on 5.1
  -- and LuaJIT but not on 5.4: both are refused everywhere alike.
  it("rejects what fails on every message, too many captures, too deep a pattern and a NUL byte", function()
    for _, p in ipairs { "[", "[^", "[%", "%", "(", ".)", "%f", string.rep("()", 33), string.rep("a*", 200),
                         "x" .. string.rep("a?", 200), "(" .. string.rep("a-", 198) .. ")", "a\0b" } do
      assert.equal("match", compile_error({ match = p }).field, p)
    end
  end)

  it("accepts the valid corners of the grammar", function()
    local GOOD = { "", "^", "$", "^$", "a$b", "%%", "[]]", "[^]]", "[%]]", "[a-]", "[%a-z]", "%bxy", "%b()*",
                   "%f[%w]%w+", "(a)%1", "()%1", "((a)(b))%3%2%1", "(a)%1*", "-", "a-", "*", "+?", "^^", "%z", ".-",
                   string.rep("()", 32), string.rep("a*", 199), "%" .. "]",
                   ")", "x)", "a]" } -- no special character: string.find searches plainly
    for _, p in ipairs(GOOD) do
      assert.is_nil(filter.pattern_problem(p), p)
      assert.has_no.errors(function() filter.compile { match = p } ({ message = "a(b)]xy%" }) end, p)
    end
  end)

  -- The check and the matcher agree: over thousands of random patterns and
  -- messages, no pattern the check accepts ever raises.
  it("agrees with the matcher on random patterns", function()
    local state = 20240
    local function r(n) state = state * 48271 % 2147483647 return state % n end
    local PA = { "a", "b", "%", "(", ")", "[", "]", "^", "$", "*", "+", "-", "?", ".", "1", "2", "0", "f" }
    local SA = { "a", "b", "(", ")", "%", "[", "]", "f", "x", "" }
    local subjects = {}
    for i = 1, 40 do
      local t = {}
      for _ = 1, r(8) do t[#t + 1] = SA[r(#SA) + 1] end
      subjects[i] = table.concat(t)
    end
    local accepted, raised = 0, 0
    for _ = 1, 5000 do
      local t = {}
      for _ = 1, 1 + r(7) do t[#t + 1] = PA[r(#PA) + 1] end
      local p = table.concat(t)
      local problem = filter.pattern_problem(p)
      if not problem then accepted = accepted + 1 end
      for _, s in ipairs(subjects) do
        if not pcall(string.find, s, p) then
          raised = raised + 1
          assert(problem, "accepted a pattern that raises: " .. p .. " on " .. s)
          break
        end
      end
    end
    -- both kinds were met, so the loop above tested something
    assert.is_true(accepted > 1000 and raised > 500, accepted .. " accepted, " .. raised .. " raised")
  end)
end)
