-- Paging against servers that do not behave like the reference page says:
-- offsets counted in pages, capped page sizes, no total, pages that come
-- back empty too early, a clock ahead of ours (a list that grows faster
-- than it is read: iterators_spec). Every iteration yields every event exactly once or
-- raises an error object; none ends short in silence, none runs for ever.
local emulator = require "support.emulator"
local paging = require "support.paging"

-- Every event of the iteration: indexes in order, or the error raised.
local collect = paging.collect

local function assert_all(indexes, n, order)
  assert.equal(n, #indexes)
  for i, index in ipairs(indexes) do
    assert.equal(order == "asc" and i or n + 1 - i, index)
  end
end

describe("paging", function()
  for _, concurrency in ipairs { 1, 4 } do
    describe("at concurrency " .. concurrency, function()
      local client
      before_each(function() client = emulator.client { concurrency = concurrency } end)
      after_each(function() client:close() end)

      for _, order in ipairs { "desc", "asc" } do
        it("notices a server that counts offset in pages, and follows it (" .. order .. ")", function()
          -- fewer events than limit^2: the second page asked by records is empty
          local events, err = collect(client, "pageoffset-250", { limit = 50, order = order })
          assert.is_nil(err, err and tostring(err))
          assert_all(events, 250, order)
          -- more than limit^2: every page asked by records would hold wrong events
          events, err = collect(client, "pageoffset-330", { limit = 10, order = order })
          assert.is_nil(err, err and tostring(err))
          assert_all(events, 330, order)
        end)

        it("advances by what a server that caps the page size returns (" .. order .. ")", function()
          local events, err = collect(client, "cap50-250", { limit = 100, order = order })
          assert.is_nil(err, err and tostring(err))
          assert_all(events, 250, order)
        end)

        it("pages without total until an empty or short page (" .. order .. ")", function()
          local events, err = collect(client, "nototal-230", { limit = 50, order = order })
          assert.is_nil(err, err and tostring(err))
          assert_all(events, 230, order)
          events, err = collect(client, "nototal-200", { limit = 50, order = order })
          assert.is_nil(err, err and tostring(err))
          assert_all(events, 200, order)
        end)
      end

      it("raises an error object when a page comes back empty before the total", function()
        local events, err = collect(client, "shortpage-250", { limit = 50 })
        assert.equal("table", type(err), "ended after " .. #events .. " events without an error")
        assert.equal("decode", err.kind)
        assert.matches("empty", err.message)
        assert.equal(100, #events) -- pages 0 and 1, then the empty one
      end)

      it("reads every event of a server whose clock is ahead of ours", function()
        emulator.reset()
        local events, err = collect(client, "clock-ahead-3600-250", { limit = 50, order = "asc" })
        assert.is_nil(err, err and tostring(err))
        assert_all(events, 250, "asc")
        -- the window never rests on start_time=0 being accepted
        assert.is_nil(emulator.last().args:find("start_time=0&", 1, true))
        assert.is_nil(emulator.last().args:find("start_time=0$"))
      end)
    end)
  end

end)
