-- This client: every event of a job through client:events(), touching each
-- event the way the bench's other programs do (bench/floor.lua).
--
--   lua5.4 bench/client.lua ENDPOINT JOB CONCURRENCY [CA_FILE]
--
-- Prints "elapsed S cpu S events N errors E bytes B" for the loop alone
-- (after the module is loaded): wall time, this process's CPU time (user +
-- sys, os.clock), and what it saw, which bench/run checks against the job's
-- expected.txt.  Prints "client: not built" with status 3 when
-- modelarts_events.so is missing.  Keeps counts only, so peak RSS measures
-- the client itself.
local endpoint, job, conc, ca_file = arg[1], arg[2], tonumber(arg[3]), arg[4]

local ok, me = pcall(require, "modelarts_events")
if not ok then
  io.stderr:write(tostring(me), "\n")
  print("client: not built")
  os.exit(3)
end
local socket = require "socket"     -- gettime(): a wall clock with sub-ms resolution

local c = me.new { endpoint = endpoint, project_id = "bench", token = "x", concurrency = conc, ca_file = ca_file }
local t0, c0 = socket.gettime(), os.clock()
local n, errors, bytes = 0, 0, 0
for ev in c:events(job, { limit = 100 }) do
  -- the touch: the same three lines in every Lua program of the bench
  n = n + 1
  if ev.level == "Error" then errors = errors + 1 end
  bytes = bytes + #ev.message
end
local elapsed, cpu = socket.gettime() - t0, os.clock() - c0
c:close()
print(("elapsed %.6f cpu %.6f events %d errors %d bytes %d"):format(elapsed, cpu, n, errors, bytes))
