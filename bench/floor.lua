-- The decode floor: cjson.decode of the job's page bodies, already in memory,
-- and the same touch of each event as bench/client.lua.  What is left when
-- transfer, paging and validation cost nothing.
--
--   lua5.4 bench/floor.lua PAGEDIR EVENTS
--
-- Reads PAGEDIR/0.json, 100.json, ... (the pages that hold the EVENTS events)
-- before the clock starts, then prints the same line as bench/client.lua.
local cjson = require "cjson"
local socket = require "socket"

local dir, total = arg[1], tonumber(arg[2])
local bodies = {}
for offset = 0, total - 1, 100 do
  local f = assert(io.open(("%s/%d.json"):format(dir, offset), "rb"))
  bodies[#bodies + 1] = f:read("*a")
  f:close()
end
collectgarbage()

local decode = cjson.decode
local t0, c0 = socket.gettime(), os.clock()
local n, errors, bytes = 0, 0, 0
for p = 1, #bodies do
  local events = decode(bodies[p]).events
  for i = 1, #events do
    local ev = events[i]
    n = n + 1
    if ev.level == "Error" then errors = errors + 1 end
    bytes = bytes + #ev.message
  end
end
local elapsed, cpu = socket.gettime() - t0, os.clock() - c0
print(("elapsed %.6f cpu %.6f events %d errors %d bytes %d"):format(elapsed, cpu, n, errors, bytes))
