-- The concurrent loop a Lua user writes with lua-http and cqueues (Debian's
-- lua-http runs on Lua 5.1): page 0 first, for the total, then CONCURRENCY
-- coroutines, each over its own kept-alive HTTP/1.1 connection, take the
-- next page until none is left.  Pages are decoded (lua-cjson) in the order
-- they arrive, which the touch does not mind: no reordering cost, unlike
-- this client, which yields events in order.  lua-http asks for no
-- compression, so the pages come uncompressed.
--
--   lua5.1 bench/luahttp.lua ENDPOINT JOB CONCURRENCY
--
-- Prints the same line as bench/client.lua.
local cqueues = require "cqueues"
local http_client = require "http.client"
local http_headers = require "http.headers"
local cjson = require "cjson"

local endpoint, job, conc = arg[1], arg[2], tonumber(arg[3])
local host, port = endpoint:match("^http://([^:/]+):(%d+)$")
assert(host, "bench/luahttp.lua: http://HOST:PORT endpoints only")
local path = "/v2/bench/training-jobs/" .. job .. "/events?limit=100&offset="
local TIMEOUT = 30

local function connect()
  return assert(http_client.connect({ host = host, port = tonumber(port), tls = false, version = 1.1 }, TIMEOUT))
end

local function fetch(conn, offset)
  local h = http_headers.new()
  h:append(":method", "GET")
  h:append(":scheme", "http")
  h:append(":authority", host .. ":" .. port)
  h:append(":path", path .. offset)
  h:append("x-auth-token", "x")
  local stream = assert(conn:new_stream())
  assert(stream:write_headers(h, true, TIMEOUT))
  local got = assert(stream:get_headers(TIMEOUT))
  local status = got:get(":status")
  local body = assert(stream:get_body_as_string(TIMEOUT))
  assert(status == "200", "HTTP " .. tostring(status))
  return body
end

local t0, c0 = cqueues.monotime(), os.clock()
local n, errors, bytes = 0, 0, 0
local function touch(page)
  local events = page.events
  for i = 1, #events do
    local ev = events[i]
    n = n + 1
    if ev.level == "Error" then errors = errors + 1 end
    bytes = bytes + #ev.message
  end
  return page
end

local cq = cqueues.new()
local first_conn
cq:wrap(function()
  first_conn = connect()
  local total = tonumber(touch(cjson.decode(fetch(first_conn, 0))).total)
  local next_offset = 100
  for w = 1, conc do
    cq:wrap(function()
      local conn = w == 1 and first_conn or connect()
      while next_offset < total do
        local offset = next_offset
        next_offset = next_offset + 100
        touch(cjson.decode(fetch(conn, offset)))
      end
      conn:close()
    end)
  end
end)
assert(cq:loop())
local elapsed, cpu = cqueues.monotime() - t0, os.clock() - c0
print(("elapsed %.6f cpu %.6f events %d errors %d bytes %d"):format(elapsed, cpu, n, errors, bytes))
