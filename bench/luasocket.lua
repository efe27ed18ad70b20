-- The loop a Lua user writes by hand: LuaSocket's socket.http, one request
-- per page (socket.http opens a new connection for each and sends no
-- Accept-Encoding, so the pages come uncompressed), lua-cjson to decode.
--
--   lua5.4 bench/luasocket.lua ENDPOINT JOB
--
-- Prints the same line as bench/client.lua.
local http = require "socket.http"
local ltn12 = require "ltn12"
local cjson = require "cjson"
local socket = require "socket"

local endpoint, job = arg[1], arg[2]
local base = endpoint .. "/v2/bench/training-jobs/" .. job .. "/events?limit=100&offset="

local t0, c0 = socket.gettime(), os.clock()
local n, errors, bytes, offset = 0, 0, 0, 0
while true do
  local chunks = {}
  local _, code = http.request {
    url = base .. offset,
    headers = { ["X-Auth-Token"] = "x" },
    sink = ltn12.sink.table(chunks),
  }
  assert(code == 200, "HTTP " .. tostring(code))
  local page = cjson.decode(table.concat(chunks))
  local events = page.events
  for i = 1, #events do
    local ev = events[i]
    n = n + 1
    if ev.level == "Error" then errors = errors + 1 end
    bytes = bytes + #ev.message
  end
  offset = offset + #events
  if #events == 0 or offset >= page.total then break end
end
local elapsed, cpu = socket.gettime() - t0, os.clock() - c0
print(("elapsed %.6f cpu %.6f events %d errors %d bytes %d"):format(elapsed, cpu, n, errors, bytes))
