-- Regression specs from a review of the C core (src/). Each case failed on
-- main when it was written; the report that came with them says where each
-- defect sits and how it could be fixed. Servers that the emulator does not
-- emulate (offsets read another way, a gateway clock behind its events, no
-- total and a capped page) are played through the paging core's own driver
-- surface, client:pager() with next/feed/take, which both drivers use.
local emulator = require "support.emulator"
local cjson = require "cjson"

-- ---- helpers ---------------------------------------------------------------

-- Indexes ("#i") of every event of an iteration through the C driver, and
-- the error it raised.
local function collect(client, job, params)
  local out = {}
  local ok, err = pcall(function()
    for ev in client:events(job, params) do out[#out + 1] = emulator.index(ev) end
  end)
  return out, (not ok) and err or nil
end

-- How many of `indexes` repeat one seen before, and whether 1..n are all there.
local function repeats(indexes)
  local seen, dup = {}, 0
  for _, i in ipairs(indexes) do
    if seen[i] then dup = dup + 1 end
    seen[i] = true
  end
  return dup, seen
end

local function has_all(seen, n)
  for i = 1, n do
    if not seen[i] then return false, i end
  end
  return true
end

-- Run a Lua script as its own process (clean environment, the module under
-- test on its cpath); returns its whole output and exit status.
local function run_process(code, seconds) -- luacheck: ignore 211
  local script = os.tmpname()
  local f = assert(io.open(script, "w"))
  f:write(string.format("package.cpath = %q .. ';' .. package.cpath\n", os.getenv("ME_CPATH") or "./?.so"),
    string.format("URL = %q\n", emulator.url), code)
  f:close()
  local vars = {}
  for _, name in ipairs { "LD_PRELOAD", "ASAN_OPTIONS" } do
    if os.getenv(name) then vars[#vars + 1] = name .. "='" .. os.getenv(name) .. "'" end
  end
  local p = assert(io.popen(string.format("env -i %s timeout %d %s %s 2>&1; echo \"rc=$?\"",
    table.concat(vars, " "), seconds, os.getenv("ME_LUA") or "lua5.4", script)))
  local out = p:read("*a")
  p:close()
  os.remove(script)
  return out, tonumber(out:match("rc=(%d+)%s*$"))
end

-- A server played in Lua: `answer(q)` gets the query the core asked for
-- ({offset, limit, order, start_time, end_time}) and returns body table and
-- headers. Drives the pager to its end; returns the event indexes and the
-- error object it ended with (nil when it ended normally).
local function play(pager, answer)
  local out = {}
  for _ = 1, 10000 do
    local what, seq, req = pager:next()
    if what == "send" then
      local q = {}
      for k, v in req.url:gmatch("[?&]([%w_]+)=([^&]*)") do q[k] = tonumber(v) or v end
      local body, headers = answer(q)
      pager:feed(seq, 200, cjson.encode(body), headers or {})
    elseif what == "wait" then
      -- a retry backing off: not expected in these plays
      error("unexpected wait")
    end
    local page, err = pager:take()
    if page then
      for _, ev in ipairs(page.events) do out[#out + 1] = tonumber(ev.message:match("#(%d+)")) end
    elseif page == nil then
      return out, err
    end
  end
  error("the play did not end")
end

local function http_date(t) return os.date("!%a, %d %b %Y %H:%M:%S GMT", t) end
local function iso(t) return os.date("!%Y-%m-%dT%H:%M:%S+00:00", t) end

-- n events one second apart from `base` (epoch s), asc; ev.t is its second.
local function events(n, base)
  local list = {}
  for i = 1, n do
    list[i] = { time = iso(base + i - 1), level = "Info", source = "Task",
      message = "[worker-0] line #" .. i, t = base + i - 1 }
  end
  return list
end

-- The page [first, first+count) (1-based) of `list` as the core asked it.
local function page_of(list, q, first, count, extra)
  local ordered = {}
  for i = 1, #list do ordered[i] = q.order == "asc" and list[i] or list[#list + 1 - i] end
  local evs = {}
  for i = first, math.min(first + count - 1, #ordered) do
    local e = ordered[i]
    evs[#evs + 1] = { time = e.time, level = e.level, source = e.source, message = e.message }
  end
  local body = { total = #list, limit = q.limit, offset = q.offset, order = q.order or "desc",
    start_time = list[1] and list[1].time, events = evs }
  for k, v in pairs(extra or {}) do body[k] = v end
  return body
end

-- ---- paging: jobs that grow while they are read ----------------------------

describe("review: a job that grows while it is read", function()
  for _, concurrency in ipairs { 1, 4 } do
    it("desc with small pages yields each event once (concurrency " .. concurrency .. ")", function()
      -- more events than limit^2: the core probes offset=1 ahead; one new
      -- event shifts the probe's answer and it takes the server for one
      -- that counts offset in pages
      local c = emulator.client { concurrency = concurrency }
      local got, err = collect(c, "grow-250-1-" .. emulator.tag(), { limit = 10 })
      c:close()
      assert.is_nil(err, err and tostring(err))
      local dup, seen = repeats(got)
      assert.equal(0, dup, "events yielded twice")
      assert.is_true(has_all(seen, 250))
    end)
  end

  it("with every default, a job of more than 10,000 events yields each once", function()
    local c = emulator.client {}
    local got, err = collect(c, "grow-12000-1-" .. emulator.tag())
    c:close()
    assert.is_nil(err, err and tostring(err))
    local dup, seen = repeats(got)
    assert.equal(0, dup, "events yielded twice")
    assert.is_true(has_all(seen, 12000))
  end)

  it("desc, gaining more than a page per request inside the window's edge second, completes", function()
    -- the pinned window ends with the server's second of the first answer:
    -- growth stops a second later, but the core gives up after 9 requests
    -- (0.2 s here) instead of waiting for that second to pass
    local c = emulator.client { concurrency = 1 }
    local got, err = collect(c, "grow-250-60-" .. emulator.tag(), { limit = 50 })
    c:close()
    assert.is_nil(err, err and tostring(err))
    local dup, seen = repeats(got)
    assert.equal(0, dup)
    assert.is_true(has_all(seen, 310))
  end)
end)

-- ---- paging: servers that read offset another way --------------------------

describe("review: servers whose offset is not a record offset", function()
  local base = 1669449600
  local modes = {
    -- every offset answers the first page (the parameter is ignored)
    ignored = function(list, q) return page_of(list, q, 1, q.limit) end,
    -- a page index, 1-based: 0 and 1 both give the first page
    one_based = function(list, q) return page_of(list, q, math.max(0, q.offset - 1) * q.limit + 1, q.limit) end,
    -- a page index; one past the end gives the last page
    clamped = function(list, q)
      local last = math.max(0, math.floor((#list - 1) / q.limit))
      return page_of(list, q, math.min(q.offset, last) * q.limit + 1, q.limit)
    end,
  }
  for name, answer in pairs(modes) do
    for _, n in ipairs { 120, 3000 } do
      it(name .. " (" .. n .. " events): each event once, or an error object", function()
        local list = events(n, base)
        local c = emulator.client {}
        local got, err = play(c:pager("odd", { limit = 50 }), function(q) return answer(list, q) end)
        c:close()
        local dup, seen = repeats(got)
        if err == nil then
          assert.equal(0, dup, "events yielded twice, iteration ended normally")
          assert.is_true(has_all(seen, n))
        else
          assert.is_table(err)
          assert.is_string(err.kind)
        end
      end)
    end
  end
end)

-- ---- paging: other odd servers ----------------------------------------------

describe("review: odd servers", function()
  it("a gateway whose Date is 5 s behind its newest events: every event once", function()
    -- the newest events are stamped after the pinned end (server's Date + 999 ms)
    local now = os.time()
    local list = events(200, now - 200)
    local c = emulator.client {}
    local got, err = play(c:pager("skew", { limit = 100 }), function(q)
      local shown = list
      if q.start_time then
        shown = {}
        for _, e in ipairs(list) do
          if e.t >= math.floor(q.start_time / 1000) and e.t <= math.floor(q.end_time / 1000) then shown[#shown + 1] = e end
        end
      end
      return page_of(shown, q, q.offset + 1, q.limit, { start_time = list[1].time }),
        { Date = http_date(now - 1 - 5) }
    end)
    c:close()
    assert.is_nil(err, err and tostring(err))
    local dup, seen = repeats(got)
    assert.equal(0, dup)
    assert.is_true(has_all(seen, 200))
  end)

  it("no total and a page size capped at 50 (limit echoed as asked): every event", function()
    local list = events(120, 1669449600)
    local c = emulator.client {}
    local got, err = play(c:pager("nototalcap", { limit = 100 }), function(q)
      return page_of(list, q, q.offset + 1, math.min(q.limit, 50), { total = cjson.null })
    end)
    c:close()
    assert.is_nil(err, err and tostring(err))
    local _, seen = repeats(got)
    assert.is_true(has_all(seen, 120), "ended after " .. #got .. " events without an error")
  end)
end)

-- ---- secrets -------------------------------------------------------------------

describe("review: secrets", function()
  it("a long token echoed in X-Request-Id does not leak its first bytes", function()
    -- IAM tokens are kilobytes long; the transport keeps only 200 bytes of a
    -- header, and redaction looks for the whole token
    local token = "MIIT" .. string.rep("SECRETtokenBYTES", 40)
    local c = emulator.client { token = token, retries = 0 }
    local _, err = c:list("fault-echo-token")
    c:close()
    assert.equal(401, err.status)
    local text = tostring(err) .. " " .. tostring(err.request_id) .. " " .. tostring(err.message)
    assert.is_nil(text:find(token:sub(1, 40), 1, true), text)
  end)

  it("a proxy password never reaches an error message", function()
    for _, proxy in ipairs { "http://user:hunter2pass@[::1", "ftp://user:hunter2pass@127.0.0.1:1" } do
      local ok, c = pcall(emulator.client, { proxy = proxy, retries = 0 })
      local err = ok and select(2, c:list("reference")) or c
      assert.is_nil(tostring(err):find("hunter2pass", 1, true), tostring(err))
      if ok then c:close() end
    end
  end)

  it("an answer fed to a pager after its client was closed is still redacted", function()
    local token = "tok-SECRET-0004-abcdef"
    local c = emulator.client { token = token, retries = 0 }
    local p = c:pager("reference", { limit = 10 })
    local _, seq = p:next()
    c:close()
    p:feed(seq, 401, cjson.encode { error_code = "APIG.0301", error_msg = "bad token " .. token },
      { ["X-Request-Id"] = token })
    local page, err = p:take()
    assert.is_falsy(page)
    assert.is_nil(tostring(err):find(token, 1, true), tostring(err))
  end)
end)

-- ---- throttling -------------------------------------------------------------

describe("review: throttling", function()
  it("a 429 without Retry-After waits as Huawei advises (2-5 s) before trying again", function()
    -- REFERENCE.md: APIG.0308 "Huawei's advice is to wait 2-5 s and retry;
    -- whether Retry-After is sent is not documented"
    local c = emulator.client { retries = 3 }
    local shortest = math.huge
    for _ = 1, 20 do
      local p = c:pager("reference", nil, true)
      local _, seq = p:next()
      p:feed(seq, 429, cjson.encode { error_code = "APIG.0308",
        error_msg = "The throttling threshold has been reached: policy user over ratelimit,limit:20,time:1 second" }, {})
      local what, wait = p:next()
      assert.equal("wait", what)
      shortest = math.min(shortest, wait)
      p:close()
    end
    c:close()
    assert.is_true(shortest >= 2, "retried after " .. shortest .. " s")
  end)
end)
