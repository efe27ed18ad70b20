-- Lua code that runs while the C driver reports a response (a finalizer the
-- decoder's allocations run, a debug hook, lua.c's Ctrl-C handler) may close
-- the client or the pager, or raise: nothing is freed under the driver, no
-- secret leaks, and the iteration goes on or ends with an error object,
-- never a crash or a spin. Each case runs as its own process.
local paging = require "support.paging"

describe("Lua code run during a decode (finalizers, hooks)", function()
  it("a finalizer that closes the client while a response is decoded breaks nothing", function()
    -- The decode calls cjson, cjson allocates, the collector runs finalizers:
    -- one that closes the client must not free the transport (and the
    -- buffers the response points into) under the driver.
    local out, rc = paging.run_process([[
      local me = require "modelarts_events"
      -- a collector step at nearly every allocation
      if _VERSION == "Lua 5.4" then collectgarbage("incremental", 1, 100)
      else collectgarbage("setpause", 1) collectgarbage("setstepmul", 100) end
      for round = 1, 1500 do
        local c = me.new { endpoint = URL, project_id = "0a1b2c3d4e5f", token = "emulator-token", retries = 0 }
        do local owner = setmetatable({}, { __gc = function() c:close() end }) end -- luacheck: ignore 311
        local ok, page, err = pcall(c.list, c, round % 2 == 0 and "fault-echo-token" or "reference")
        local e; if ok then e = err else e = page end
        if e ~= nil and (type(e) ~= "table" or not ({ invalid_argument = 1, network = 1, http = 1, decode = 1 })[e.kind]) then
          print("not an error object: " .. tostring(e) .. " kind " .. tostring(type(e) == "table" and e.kind)) os.exit(3)
        end
        if e ~= nil and tostring(e):find("emulator-token", 1, true) then
          print("token in an error: " .. tostring(e)) os.exit(4)
        end
      end
      print("no crash")
    ]], 240)
    assert.equal(0, rc, out)
    assert.matches("no crash", out)
  end)

  it("a client closed by a hook while a response is decoded gives an error object", function()
    local out, rc = paging.run_process([[
      local me = require "modelarts_events"
      local c = me.new { endpoint = URL, project_id = "0a1b2c3d4e5f", token = "emulator-token", retries = 0 }
      local list, armed = c.list, true
      debug.sethook(function()
        local info = debug.getinfo(2, "fS")
        if armed and info.what == "C" and info.func ~= list and info.func ~= pcall then
          armed = false
          c:close()
        end
      end, "c")
      local ok, page, err = pcall(list, c, "fault-echo-token")
      debug.sethook()
      local e; if ok then e = err else e = page end
      print(type(e) == "table" and e.kind or "?", tostring(e):find("emulator-token", 1, true) and "LEAK" or "clean")
    ]], 60)
    assert.equal(0, rc, out)
    assert.matches("^[%a_]+%s+clean", out)
  end)

  it("an iteration's pager closed by a hook while a response is decoded breaks nothing", function()
    -- the closing value of the for loop, closed (say by a finalizer) while
    -- its response is inside the decode
    local out, rc = paging.run_process([[
      local me = require "modelarts_events"
      local c = me.new { endpoint = URL, project_id = "0a1b2c3d4e5f", token = "emulator-token",
                         retries = 0, concurrency = 1 }
      for _ = 1, 5 do
        local f, _, _, pager = c:events("gen-300", { limit = 50 })
        for _ = 1, 50 do f() end
        local armed = true
        debug.sethook(function()
          local info = debug.getinfo(2, "fS")
          if armed and info.what == "C" and info.func ~= f and info.func ~= pcall then
            armed = false
            pager:close()
          end
        end, "c")
        pcall(f) pcall(f)
        debug.sethook()
      end
      print("no crash")
    ]], 60)
    assert.equal(0, rc, out)
    assert.matches("no crash", out)
  end)

  it("an iterator called again after an error raised inside its decode goes on, without a spin", function()
    -- lua.c's Ctrl-C handler raises "interrupted!" from a hook at the next
    -- call, which inside the C driver is cjson's decode: the request is
    -- sent again, not left "in flight" with no transfer behind it
    local out, rc = paging.run_process([[
      local me = require "modelarts_events"
      local c = me.new { endpoint = URL, project_id = "0a1b2c3d4e5f", token = "emulator-token",
                         retries = 0, concurrency = 1 }
      local f = c:events("gen-300", { limit = 50 })
      local armed = false
      debug.sethook(function()
        if not armed then return end
        local info = debug.getinfo(2, "fS")
        if info.func ~= f and info.func ~= pcall and info.what == "C" then armed = false error("interrupted!") end
      end, "c")
      for _ = 1, 50 do f() end
      armed = true
      local ok, err = pcall(f)
      debug.sethook()
      print("interrupted:", ok, tostring(err):match("interrupted!"))
      local n = 50
      while true do
        local ev = f()
        if not ev then break end
        n = n + 1
      end
      print("then", n)
    ]], 30)
    assert.are_not.equal(124, rc, "the iterator spun in C until the timeout\n" .. out)
    assert.equal(0, rc, out)
    assert.matches("interrupted:%s+false%s+interrupted!", out)
    -- the interrupted step took no event: the rest of the job follows
    assert.matches("then%s+300", out)
  end)

  it("a client called again from a function it runs is refused with an error object", function()
    local c
    c = require("support.emulator").client { retries = 1, on_retry = function() c:list("reference") end }
    local ok, err = pcall(c.list, c, "fault-503-1-" .. require("support.emulator").tag())
    c:close()
    assert.is_false(ok)
    assert.equal("invalid_argument", err.kind)
    assert.matches("busy", err.message)
  end)
end)
