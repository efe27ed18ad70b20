-- (a) this client: every event of a job through client:events().
--
--   lua5.4 bench/client.lua ENDPOINT JOB CONCURRENCY EXPECTED
--
-- Prints "elapsed <seconds> events <n>" (the loop only, after the module is
-- loaded), or "client: not built" with status 3 when modelarts_events.so is
-- missing.  Keeps a count only, so peak RSS measures the client itself.
local endpoint, job, conc, expected = arg[1], arg[2], tonumber(arg[3]), tonumber(arg[4])

local ok, me = pcall(require, "modelarts_events")
if not ok then
  io.stderr:write(tostring(me), "\n")
  print("client: not built")
  os.exit(3)
end
local socket = require "socket"     -- gettime(): a wall clock with sub-ms resolution

local c = me.new { endpoint = endpoint, project_id = "bench", token = "x", concurrency = conc }
local t0 = socket.gettime()
local n = 0
for _ in c:events(job, { limit = 100 }) do n = n + 1 end
local elapsed = socket.gettime() - t0
c:close()
assert(n == expected, ("expected %d events, got %d"):format(expected, n))
print(("elapsed %.6f events %d"):format(elapsed, n))
