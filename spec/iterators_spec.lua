-- client:pages() and client:events(): every event once, in order.
local emulator = require "support.emulator"

local function collect(client, job, params)
  local out = {}
  for ev, i in client:events(job, params) do
    assert.equal(#out + 1, i)
    out[#out + 1] = ev
  end
  return out
end

describe("iterators", function()
  local client
  before_each(function() client = emulator.client() end)
  after_each(function() client:close() end)

  for _, concurrency in ipairs { 1, 4 } do
    describe("at concurrency " .. concurrency, function()
      local c
      before_each(function() c = emulator.client { concurrency = concurrency } end)
      after_each(function() c:close() end)

      it("yields every event of a job once, in the server's order", function()
        local events = collect(c, "gen-1234", { limit = 100 })
        assert.equal(1234, #events)
        for i, ev in ipairs(events) do
          assert.equal(1235 - i, emulator.index(ev)) -- desc: newest first
        end
      end)

      it("yields ascending order too", function()
        local events = collect(c, "gen-250", { order = "asc", limit = 33 })
        assert.equal(250, #events)
        for i, ev in ipairs(events) do assert.equal(i, emulator.index(ev)) end
      end)

      it("yields pages of the requested size", function()
        local sizes = {}
        for page in c:pages("gen-250", { limit = 100 }) do
          sizes[#sizes + 1] = #page.events
          assert.equal(250, page.total)
        end
        assert.same({ 100, 100, 50 }, sizes)
      end)
    end)
  end

  it("starts at offset and stops after max_items", function()
    local events = collect(client, "gen-500", { offset = 10, max_items = 123, limit = 50, order = "asc" })
    assert.equal(123, #events)
    assert.equal(11, emulator.index(events[1]))
    assert.equal(133, emulator.index(events[123]))
  end)

  it("asks for no more than max_items when it is below the page size", function()
    emulator.reset()
    local events = collect(client, "gen-500", { max_items = 3 })
    assert.equal(3, #events)
    assert.equal(1, emulator.stats().requests)
    assert.matches("limit=3", emulator.last().args)
  end)

  it("uses a page size of 100 by default and pins the window with the server's clock", function()
    local c = emulator.client { concurrency = 1 }
    emulator.reset()
    local n = 0
    for _ in c:events("gen-350") do n = n + 1 end
    assert.equal(350, n)
    -- four pages, and the probe that tells how the server reads offset
    assert.equal(5, emulator.stats().requests)
    local args = emulator.last().args
    assert.matches("limit=100", args)
    -- the window the server reported for the first page (gen-N starts at
    -- 2022-11-26T16:00:00+08:00), ending at the server's Date: not 0, and
    -- not the client's clock
    assert.matches("start_time=1669449600000", args)
    local end_ms = tonumber(args:match("end_time=(%d+)"))
    assert.is_true(math.abs(end_ms - os.time() * 1000) < 120000, args)
    assert.equal(999, end_ms % 1000) -- the whole of the server's current second
    c:close()
  end)

  it("yields nothing for an empty job or an offset past the end", function()
    assert.same({}, collect(client, "fault-null-events"))
    assert.same({}, collect(client, "gen-10", { offset = 10 }))
  end)

  it("keeps the filters on every page", function()
    local events = collect(client, "gen-3000", { level = "Error", limit = 10 })
    assert.is_true(#events > 10)
    for _, ev in ipairs(events) do assert.equal("Error", ev.level) end
  end)

  -- Read a growing job: which indexes came (none twice), and the error
  -- raised if the iteration did not finish.
  local function read_growing(c, job, params)
    local seen, count = {}, 0
    local ok, err = pcall(function()
      for ev in c:events(job, params) do
        local i = emulator.index(ev)
        assert.is_nil(seen[i], "event #" .. i .. " came twice")
        seen[i] = true
        count = count + 1
      end
    end)
    return seen, count, (not ok) and err or nil
  end

  for _, order in ipairs { "desc", "asc" } do
    it("yields each event of a growing job once (" .. order .. ")", function()
      local job = "grow-450-3-" .. emulator.tag()
      assert.truthy(client:list(job, { limit = 1 })) -- create it: 450 + 3 events
      local seen, count, err = read_growing(client, job, { limit = 40, order = order })
      assert.is_nil(err, err and tostring(err))
      for i = 1, 453 do assert.is_true(seen[i], "event #" .. i .. " is missing") end
      assert.is_true(count >= 453)
    end)

    it("ends, with every event or an error, when the job grows faster than it is read (" ..
       order .. ")", function()
      local c = emulator.client { concurrency = 4 }
      local job = "grow-450-60-" .. emulator.tag()
      assert.truthy(c:list(job, { limit = 1 })) -- create it: 450 + 60 events
      emulator.reset()
      local seen, _, err = read_growing(c, job, { limit = 40, order = order })
      if err then
        assert.equal("decode", err.kind, tostring(err))
      else
        for i = 1, 510 do assert.is_true(seen[i], "event #" .. i .. " is missing") end
      end
      -- a bound on requests: about one per page owed, plus a few
      assert.is_true(emulator.stats().requests <= 2 * 510 / 40 + 12,
        "requests: " .. emulator.stats().requests)
      c:close()
    end)
  end

  it("keeps real repeats: equal events are still two events", function()
    -- same-N holds N identical events: nothing may be taken for a duplicate
    assert.equal(25, #collect(client, "same-25", { limit = 7 }))
    assert.equal(25, #collect(client, "same-25", { limit = 7, order = "asc" }))
  end)

  it("raises the error object once and then stops", function()
    local c = emulator.client { retries = 0 }
    local iter = c:events("fault-html502")
    local ok, err = pcall(iter)
    assert.is_false(ok)
    assert.equal("http", err.kind)
    assert.equal(502, err.status)
    assert.is_nil(iter())
    -- the client is still usable
    assert.equal(27, #collect(c, "reference", { limit = 10 }))
    c:close()
  end)

  it("is stopped by pcall around the loop", function()
    local ok, err = pcall(function()
      for _ in client:events("no-such-job") do end
    end)
    assert.is_false(ok)
    assert.equal(404, err.status)
  end)

  it("checks its parameters before the first request", function()
    assert.has_error(function() client:events("gen-10", { limit = 0 }) end)
    assert.has_error(function() client:pages("gen-10", { max_items = 0 }) end)
    assert.has_error(function() client:pages("a/b") end)
  end)

  it("survives a break and leaves the client usable", function()
    for _ = 1, 5 do
      for ev in client:events("gen-5000", { limit = 100 }) do
        if emulator.index(ev) < 4990 then break end
      end
    end
    collectgarbage()
    assert.equal(250, #collect(client, "gen-250"))
  end)

  it("survives an error thrown inside the loop body", function()
    local ok = pcall(function()
      for _ in client:events("gen-1000", { limit = 10 }) do error("user code failed") end
    end)
    assert.is_false(ok)
    assert.equal(1000, #collect(client, "gen-1000"))
  end)

  it("lets two iterations over one client interleave", function()
    local a = client:events("gen-300", { limit = 50, order = "asc" })
    local b = client:events("gen-300", { limit = 50, order = "desc" })
    local n = 0
    while true do
      local x, y = a(), b()
      if not x then assert.is_nil(y) break end
      n = n + 1
      assert.equal(n, emulator.index(x))
      assert.equal(301 - n, emulator.index(y))
    end
    assert.equal(300, n)
  end)
end)
