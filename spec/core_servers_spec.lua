-- Servers that read `offset` another way than the reference page says
-- (REFERENCE.md "Paging: what is not settled"), drop `total`, cap the page
-- size or answer an error shape with 200: every event once, or an error
-- object; never silent repeats or a silent stop. The servers are played in
-- Lua through the paging core's own driver surface.
local emulator = require "support.emulator"
local paging = require "support.paging"
local cjson = require "cjson"

local BASE = 1669449600

describe("servers whose offset is not a record offset", function()
  local modes = {
    -- every offset answers the first page (the parameter is ignored)
    ignored = function(list, q) return paging.page_of(list, q, 1, q.limit) end,
    -- a page index, 1-based: 0 and 1 both give the first page
    one_based = function(list, q) return paging.page_of(list, q, math.max(0, q.offset - 1) * q.limit + 1, q.limit) end,
    -- a page index; one past the end gives the last page
    clamped = function(list, q)
      local last = math.max(0, math.floor((#list - 1) / q.limit))
      return paging.page_of(list, q, math.min(q.offset, last) * q.limit + 1, q.limit)
    end,
  }
  for _, name in ipairs { "ignored", "one_based", "clamped" } do
    for _, n in ipairs { 120, 3000 } do
      it(name .. " (" .. n .. " events): each event once, or an error object", function()
        local list = paging.events(n, BASE)
        local c = emulator.client {}
        local got, err = paging.play(c:pager("odd", { limit = 50 }), function(q) return modes[name](list, q) end)
        c:close()
        local dup, seen = paging.repeats(got)
        if err == nil then
          assert.equal(0, dup, "events yielded twice, iteration ended normally")
          assert.is_true(paging.has_all(seen, n))
        else
          assert.equal("decode", err.kind)
          assert.equal(0, dup)
        end
        -- a clamped page index is followed as pages; the others cannot be
        if name == "clamped" then assert.is_nil(err, err and tostring(err)) end
      end)
    end
  end

  it("a server that ignores offset, read from an offset of the caller's own (no probe): an error", function()
    local list = paging.events(300, BASE)
    local c = emulator.client {}
    local got, err = paging.play(c:pager("odd", { limit = 50, offset = 50 }), function(q)
      return paging.page_of(list, q, 51, q.limit)
    end)
    c:close()
    assert.equal(50, #got)
    assert.equal("decode", err.kind)
    assert.matches("same events as the page before", err.message)
  end)

  it("a job of identical events is read whole (its pages are alike by nature)", function()
    local c = emulator.client {}
    local n = 0
    for _ in c:events("same-250", { limit = 50 }) do n = n + 1 end
    c:close()
    assert.equal(250, n)
  end)
end)

describe("odd answers", function()
  it("no total and a page size capped at 50 (limit echoed as asked): every event", function()
    local list = paging.events(120, BASE)
    local c = emulator.client {}
    local got, err, asked = paging.play(c:pager("nototalcap", { limit = 100 }), function(q)
      return paging.page_of(list, q, q.offset + 1, math.min(q.limit, 50), { total = cjson.null })
    end)
    c:close()
    assert.is_nil(err, err and tostring(err))
    local dup, seen = paging.repeats(got)
    assert.equal(0, dup)
    assert.is_true(paging.has_all(seen, 120), "ended after " .. #got .. " events without an error")
    -- no page was as long as asked: it ends on the empty page after the short one
    assert.equal(120, asked[#asked].offset)
  end)

  it("no total: a short page after a full one is the end", function()
    local list = paging.events(120, BASE)
    local c = emulator.client {}
    local got, err, asked = paging.play(c:pager("nototal", { limit = 50 }), function(q)
      return paging.page_of(list, q, q.offset + 1, q.limit, { total = cjson.null })
    end)
    c:close()
    assert.is_nil(err, err and tostring(err))
    assert.equal(120, #got)
    assert.equal(3, #asked)
  end)

  it("an iteration asks for newest first explicitly; list sends the order it was given", function()
    local c = emulator.client {}
    local p = c:pager("reference", { limit = 10 })
    local _, _, req = p:next()
    assert.matches("order=desc", req.url)
    p:close()
    p = c:pager("reference", { limit = 10 }, true)
    _, _, req = p:next()
    assert.is_nil(req.url:find("order=", 1, true))
    p:close()
    p = c:pager("reference", { limit = 10, order = "asc" })
    _, _, req = p:next()
    assert.matches("order=asc", req.url)
    p:close()
    c:close()
  end)

  for _, body in ipairs {
    { error_code = "ModelArts.0001", error_msg = "internal error" },
    { errorCode = "APIG.0101", errorMsg = "route not found" },
    { error = { code = "X.1", message = "nested" } },
  } do
    it("a 200 whose body is an error shape is an error, not 0 events (" .. next(body) .. ")", function()
      local c = emulator.client {}
      local p = c:pager("reference", nil, true)
      local _, seq = p:next()
      p:feed(seq, 200, cjson.encode(body), { ["X-Request-Id"] = "rid-1" })
      local page, err = p:take()
      c:close()
      assert.is_nil(page)
      assert.equal("decode", err.kind)
      assert.equal(200, err.status)
      assert.is_string(err.code)
      assert.equal("rid-1", err.request_id)
    end)
  end
end)
