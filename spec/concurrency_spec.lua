-- Concurrent prefetch: pages overlap on the wire, still come out in order,
-- memory stays bounded by about `concurrency` pages, and a break cancels.
local emulator = require "support.emulator"

describe("concurrency", function()
  for _, n in ipairs { 1, 2, 3, 8 } do
    it("yields in order at concurrency " .. n, function()
      local c = emulator.client { concurrency = n }
      local i = 0
      for ev in c:events("gen-2000", { limit = 37, order = "asc" }) do
        i = i + 1
        assert.equal(i, emulator.index(ev))
      end
      assert.equal(2000, i)
      c:close()
    end)
  end

  it("keeps several pages in flight at once, and only one at concurrency 1", function()
    for _, case in ipairs { { 1, 1, 1 }, { 4, 3, 4 } } do
      local c = emulator.client { concurrency = case[1] }
      emulator.reset()
      local n = 0
      for _ in c:events("delay50-1000", { limit = 100 }) do n = n + 1 end
      assert.equal(1000, n)
      local max = emulator.stats().in_flight_max
      assert.is_true(max >= case[2] and max <= case[3], "in flight at once: " .. max)
      c:close()
    end
  end)

  it("uses one connection per page in flight, reused across pages", function()
    local c = emulator.client { concurrency = 4 }
    emulator.reset()
    for _ in c:events("gen-3000", { limit = 100 }) do end
    local stats = emulator.stats()
    -- thirty pages, and the probe that tells how the server reads offset
    assert.equal(31, stats.requests)
    assert.is_true(stats.connections <= 4, "connections: " .. stats.connections)
    c:close()
  end)

  for _, n in ipairs { 1, 4, 8 } do
    it("holds about concurrency pages in memory, whatever the job's size, at concurrency " .. n, function()
      local function peak(job)
        local c = emulator.client { concurrency = n }
        collectgarbage()
        collectgarbage()
        local base, top, i = collectgarbage("count"), 0, 0
        for _ in c:events(job, { limit = 100 }) do
          i = i + 1
          if i % 500 == 0 then top = math.max(top, collectgarbage("count") - base) end
        end
        c:close()
        return top
      end
      local small, large = peak("gen-10000"), peak("gen-100000")
      assert.is_true(large < 16 * 1024, ("peak %.0f KiB"):format(large))
      assert.is_true(large < small * 3 + 2048, ("small %.0f KiB, large %.0f KiB"):format(small, large))
    end)
  end

  for _, n in ipairs { 1, 4, 8 } do
    it("lets go of what is in flight when the loop breaks, at concurrency " .. n, function()
      local c = emulator.client { concurrency = n }
      local iter, state, control, closing = c:events("delay100-2000", { limit = 50 })
      for _ in iter, state, control, closing do break end -- luacheck: ignore 512
      if _VERSION == "Lua 5.4" then
        assert.is_true(closing:done()) -- the for loop closed it
      else
        closing:close()                -- what __gc does on older Luas
        assert.is_true(closing:done())
      end
      -- the client is free for the next call at once
      assert.equal(27, assert(c:list("reference")).total)
      c:close()
    end)
  end

  -- Requests are what a throttling gateway counts: before the first page
  -- tells the total, nothing is sent beside it.
  it("asks once for a job that fits one page, at every concurrency", function()
    for _, n in ipairs { 1, 2, 4, 8 } do
      local c = emulator.client { concurrency = n }
      emulator.reset()
      local i = 0
      for _ in c:events("reference") do i = i + 1 end
      assert.equal(27, i)
      assert.equal(1, emulator.stats().events_requests, "requests at concurrency " .. n)
      c:close()
    end
  end)

  it("asks no page past the end of a larger job, at every concurrency", function()
    for _, n in ipairs { 1, 2, 4, 8 } do
      local c = emulator.client { concurrency = n }
      emulator.reset()
      local i = 0
      for _ in c:events("gen-350", { limit = 100 }) do i = i + 1 end
      assert.equal(350, i)
      -- four pages, and the probe that tells how the server reads offset
      assert.equal(5, emulator.stats().events_requests, "requests at concurrency " .. n)
      c:close()
    end
  end)

  it("keeps every request slot busy after the first page, and never more than concurrency", function()
    for _, n in ipairs { 2, 8 } do
      local c = emulator.client { concurrency = n }
      emulator.reset()
      local i = 0
      for _ in c:events("delay50-2000", { limit = 100 }) do i = i + 1 end
      assert.equal(2000, i)
      assert.equal(n, emulator.stats().in_flight_max, "in flight at concurrency " .. n)
      c:close()
    end
  end)
end)
