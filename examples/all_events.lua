-- Every event of a (large) training job, counted by level.
--
--   lua5.4 examples/all_events.lua [TRAINING_JOB_ID]     (default: gen-100000)
--
-- Same configuration as list_events.lua. The iterator fetches pages of 100,
-- four at a time, and yields events in the server's order.
package.cpath = "./?.so;" .. package.cpath
local me = require "modelarts_events"

local job_id = arg[1] or "gen-100000"
local config = me.config_from_env()
config.endpoint = config.endpoint or (not config.region and "http://127.0.0.1:18080") or nil
config.project_id = config.project_id or "0a1b2c3d4e5f"
if not (config.token or config.ak) then config.token = "emulator-token" end
local client = me.new(config)

local by_level, total = {}, 0
local ok, err = pcall(function()
  for event in client:events(job_id, { limit = 100 }) do
    total = total + 1
    by_level[event.level] = (by_level[event.level] or 0) + 1
  end
end)
if not ok then
  io.stderr:write(tostring(err), "\n")
  os.exit(1)
end
local levels = {}
for level, n in pairs(by_level) do levels[#levels + 1] = level .. "=" .. n end
table.sort(levels)
print(string.format("job %s: %d events (%s)", job_id, total, table.concat(levels, ", ")))
client:close()
