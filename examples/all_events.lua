-- Every event of a (large) training job, counted by level.
--
--   lua5.4 examples/all_events.lua TRAINING_JOB_ID
--
-- Configured as examples/list_events.lua is. The iterator fetches pages of
-- 100, four at a time, and yields events in the server's order; a failure
-- raises the error object, so the loop runs under pcall. Against the local
-- emulator (`make emulator`):
--
--   MODELARTS_ENDPOINT=http://127.0.0.1:18080 HUAWEICLOUD_SDK_PROJECT_ID=0a1b2c3d4e5f \
--   MODELARTS_TOKEN=emulator-token lua5.4 examples/all_events.lua gen-100000
package.cpath = "./?.so;" .. package.cpath   -- the module built in this checkout
local me = require "modelarts_events"

local job_id = arg[1] or "gen-100000"
local ok, client = pcall(function() return me.new(me.config_from_env()) end)
if not ok then   -- a configuration error: say what to set
  io.stderr:write(tostring(client), "\nset MODELARTS_ENDPOINT or HUAWEICLOUD_SDK_REGION, HUAWEICLOUD_SDK_PROJECT_ID",
    " and MODELARTS_TOKEN (or HUAWEICLOUD_SDK_AK and HUAWEICLOUD_SDK_SK)\n")
  os.exit(2)
end

local by_level, total = {}, 0
local done, err = pcall(function()
  for event in client:events(job_id, { limit = 100 }) do
    total = total + 1
    by_level[event.level] = (by_level[event.level] or 0) + 1
  end
end)
client:close()
if not done then
  io.stderr:write(tostring(err), "\n")
  os.exit(1)
end
local levels = {}
for level, n in pairs(by_level) do levels[#levels + 1] = level .. "=" .. n end
table.sort(levels)
print(string.format("job %s: %d events (%s)", job_id, total, table.concat(levels, ", ")))
