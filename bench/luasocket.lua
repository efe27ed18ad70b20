-- (b) the loop a Lua user writes by hand: LuaSocket's socket.http, one
-- request per page (socket.http opens a new connection for each and sends no
-- Accept-Encoding, so the pages come uncompressed), lua-cjson to decode.
--
--   lua5.4 bench/luasocket.lua ENDPOINT JOB EXPECTED
local http = require "socket.http"
local ltn12 = require "ltn12"
local cjson = require "cjson"
local socket = require "socket"

local endpoint, job, expected = arg[1], arg[2], tonumber(arg[3])
local base = endpoint .. "/v2/bench/training-jobs/" .. job .. "/events?limit=100&offset="

local t0 = socket.gettime()
local n, offset = 0, 0
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
  for _ = 1, #events do n = n + 1 end
  offset = offset + #events
  if #events == 0 or offset >= page.total then break end
end
local elapsed = socket.gettime() - t0
assert(n == expected, ("expected %d events, got %d"):format(expected, n))
print(("elapsed %.6f events %d"):format(elapsed, n))
