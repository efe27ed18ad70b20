-- One page of a training job's events, printed.
--
--   lua5.4 examples/list_events.lua TRAINING_JOB_ID
--
-- Configuration comes from the environment (me.config_from_env):
-- MODELARTS_ENDPOINT or HUAWEICLOUD_SDK_REGION, HUAWEICLOUD_SDK_PROJECT_ID,
-- and MODELARTS_TOKEN or HUAWEICLOUD_SDK_AK / HUAWEICLOUD_SDK_SK. Against the
-- local emulator (`make emulator`) the defaults below just work.
package.cpath = "./?.so;" .. package.cpath
local me = require "modelarts_events"

local job_id = arg[1] or "reference"
local config = me.config_from_env()
config.endpoint = config.endpoint or (not config.region and "http://127.0.0.1:18080") or nil
config.project_id = config.project_id or "0a1b2c3d4e5f"
if not (config.token or config.ak) then config.token = "emulator-token" end

local client = me.new(config)
local page, err = client:list(job_id, { order = "desc", limit = 10 })
if not page then
  io.stderr:write(tostring(err), "\n")
  os.exit(1)
end
print(string.format("job %s: %d events, showing %d from offset %d (%s)",
  job_id, page.total, #page.events, page.offset, page.order or "?"))
for _, ev in ipairs(page.events) do
  print(string.format("%s  %-7s  %-4s  %s", ev.time, ev.level, ev.source, ev.message))
end
client:close()
