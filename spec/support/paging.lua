--- Helpers for paging specs: iterations collected by event index, servers
-- played in Lua through the paging core's own driver surface
-- (client:pager() with next/feed/take, which both drivers use), and scripts
-- run as their own process.
local emulator = require "support.emulator"
local cjson = require "cjson"

local M = {}

--- Indexes ("#i") of every event of an iteration through the C driver, and
-- the error it raised (nil when it ended normally).
function M.collect(client, job, params)
  local out = {}
  local ok, err = pcall(function()
    for ev in client:events(job, params) do out[#out + 1] = emulator.index(ev) end
  end)
  return out, (not ok) and err or nil
end

--- How many of `indexes` repeat one seen before, and the set of those seen.
function M.repeats(indexes)
  local seen, dup = {}, 0
  for _, i in ipairs(indexes) do
    if seen[i] then dup = dup + 1 end
    seen[i] = true
  end
  return dup, seen
end

--- Are 1..n all in `seen`? (false and the first missing one if not)
function M.has_all(seen, n)
  for i = 1, n do
    if not seen[i] then return false, i end
  end
  return true
end

--- Run Lua `code` as its own process (clean environment, the module under
-- test on its cpath, URL set to the emulator's), killed after `seconds`;
-- returns its whole output and exit status (124: killed).
function M.run_process(code, seconds)
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

--- A server played in Lua: `answer(q)` gets the query the core asked for
-- ({offset, limit, order, start_time, end_time}) and returns the body table
-- and the headers (and optionally a status). Drives the pager to its end;
-- returns the event indexes, the error object it ended with (nil when it
-- ended normally) and the queries asked. `on_wait(seconds)` is called for
-- a "wait" (default: an error, no play here expects one).
function M.play(pager, answer, on_wait)
  local out, asked = {}, {}
  for _ = 1, 10000 do
    local what, seq, req = pager:next()
    if what == "send" then
      local q = {}
      for k, v in req.url:gmatch("[?&]([%w_]+)=([^&]*)") do q[k] = tonumber(v) or v end
      asked[#asked + 1] = q
      local body, headers, status = answer(q)
      pager:feed(seq, status or 200, cjson.encode(body), headers or {})
    elseif what == "wait" then
      if not on_wait then error("unexpected wait") end
      on_wait(seq)
    end
    local page, err = pager:take()
    if page then
      for _, ev in ipairs(page.events) do out[#out + 1] = tonumber(ev.message:match("#(%d+)")) end
    elseif page == nil then
      return out, err, asked
    end
  end
  error("the play did not end")
end

function M.http_date(t) return os.date("!%a, %d %b %Y %H:%M:%S GMT", t) end
function M.iso(t) return os.date("!%Y-%m-%dT%H:%M:%S+00:00", t) end

--- n events one second apart from `base` (epoch s), ascending; ev.t is its
-- second.
function M.events(n, base)
  local list = {}
  for i = 1, n do
    list[i] = { time = M.iso(base + i - 1), level = "Info", source = "Task",
      message = "[worker-0] line #" .. i, t = base + i - 1 }
  end
  return list
end

--- The page [first, first+count) (1-based) of `list` in the order the core
-- asked, as a body; `extra` fields override the body's.
function M.page_of(list, q, first, count, extra)
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

return M
