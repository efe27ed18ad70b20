-- Jobs whose list changes while it is read, newest first: events that
-- arrive inside the pinned window move every older event, the offset probe
-- must not take that for a server that counts pages, a window that still
-- fills on the server's clock is waited for, and a gateway whose Date lags
-- its events loses none of them. Each event once, or an error object.
local emulator = require "support.emulator"
local paging = require "support.paging"

describe("a job that grows while it is read", function()
  for _, concurrency in ipairs { 1, 4 } do
    it("desc with small pages yields each event once (concurrency " .. concurrency .. ")", function()
      -- more events than one page: the core probes offset=1 ahead; one new
      -- event shifts the probe's answer by one, which is not a page server
      local c = emulator.client { concurrency = concurrency }
      local got, err = paging.collect(c, "grow-250-1-" .. emulator.tag(), { limit = 10 })
      c:close()
      assert.is_nil(err, err and tostring(err))
      local dup, seen = paging.repeats(got)
      assert.equal(0, dup, "events yielded twice")
      assert.is_true(paging.has_all(seen, 250))
    end)
  end

  it("with every default, a job of more than 10,000 events yields each once", function()
    local c = emulator.client {}
    local got, err = paging.collect(c, "grow-12000-1-" .. emulator.tag())
    c:close()
    assert.is_nil(err, err and tostring(err))
    local dup, seen = paging.repeats(got)
    assert.equal(0, dup, "events yielded twice")
    assert.is_true(paging.has_all(seen, 12000))
  end)

  for _, concurrency in ipairs { 1, 4 } do
    it("desc, gaining more than a page per request inside the window's edge second, completes (concurrency "
      .. concurrency .. ")", function()
      -- the pinned window ends with the server's second of the first
      -- answer: the core waits for that second to pass instead of counting
      -- the pages that keep moving until then
      local c = emulator.client { concurrency = concurrency }
      local got, err = paging.collect(c, "grow-250-60-" .. emulator.tag(), { limit = 50 })
      c:close()
      assert.is_nil(err, err and tostring(err))
      local dup, seen = paging.repeats(got)
      assert.equal(0, dup)
      assert.is_true(paging.has_all(seen, 310))
    end)
  end

  it("a gateway whose Date is 5 s behind its newest events: every event once", function()
    -- the window is pinned at the newest event the first page showed, not
    -- only at the server's Date + 999 ms
    local now = os.time()
    local list = paging.events(200, now - 200)
    local c = emulator.client {}
    local got, err = paging.play(c:pager("skew", { limit = 100 }), function(q)
      local shown = list
      if q.start_time then
        shown = {}
        for _, e in ipairs(list) do
          if e.t >= math.floor(q.start_time / 1000) and e.t <= math.floor(q.end_time / 1000) then shown[#shown + 1] = e end
        end
      end
      return paging.page_of(shown, q, q.offset + 1, q.limit, { start_time = list[1].time }),
        { Date = paging.http_date(now - 1 - 5) }
    end)
    c:close()
    assert.is_nil(err, err and tostring(err))
    local dup, seen = paging.repeats(got)
    assert.equal(0, dup)
    assert.is_true(paging.has_all(seen, 200))
  end)

  for _, order in ipairs { "desc", "asc" } do
    it("a window that holds fewer events than the first answer counted: read whole, or said so (" .. order .. ")", function()
      -- a server that counted 10 events later than the window it then serves
      local now = os.time()
      local list = paging.events(150, now - 150)
      local c = emulator.client {}
      local got, err = paging.play(c:pager("shrunk", { limit = 100, order = order }), function(q)
        local shown = list
        if q.start_time then
          shown = {}
          for i = 1, 140 do shown[i] = list[i] end
        end
        return paging.page_of(shown, q, q.offset + 1, q.limit, { start_time = list[1].time }),
          { Date = paging.http_date(now) }
      end)
      c:close()
      local dup, seen = paging.repeats(got)
      assert.equal(0, dup)
      if order == "desc" then
        -- the newest ten were on the first page already
        assert.is_nil(err, err and tostring(err))
        assert.is_true(paging.has_all(seen, 150))
      else
        assert.equal(140, #got)
        assert.equal("decode", err.kind)
        assert.matches("counts 140 events in the window now where its first answer counted 150, and 140 were delivered",
          err.message)
      end
    end)
  end
end)
