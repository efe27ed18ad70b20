-- One page of a training job's events, newest first.
--
--   lua5.4 examples/list_events.lua TRAINING_JOB_ID
--
-- Configured from the environment (me.config_from_env), as on a real
-- account: MODELARTS_ENDPOINT or HUAWEICLOUD_SDK_REGION,
-- HUAWEICLOUD_SDK_PROJECT_ID, and MODELARTS_TOKEN or HUAWEICLOUD_SDK_AK /
-- HUAWEICLOUD_SDK_SK. Against the local emulator (`make emulator`):
--
--   MODELARTS_ENDPOINT=http://127.0.0.1:18080 HUAWEICLOUD_SDK_PROJECT_ID=0a1b2c3d4e5f \
--   MODELARTS_TOKEN=emulator-token lua5.4 examples/list_events.lua reference
package.cpath = "./?.so;" .. package.cpath   -- the module built in this checkout
local me = require "modelarts_events"

local job_id = arg[1] or "reference"
local ok, client = pcall(function() return me.new(me.config_from_env()) end)
if not ok then   -- a configuration error: say what to set
  io.stderr:write(tostring(client), "\nset MODELARTS_ENDPOINT or HUAWEICLOUD_SDK_REGION, HUAWEICLOUD_SDK_PROJECT_ID",
    " and MODELARTS_TOKEN (or HUAWEICLOUD_SDK_AK and HUAWEICLOUD_SDK_SK)\n")
  os.exit(2)
end

local page, err = client:list(job_id, { order = "desc", limit = 10 })
if not page then
  io.stderr:write(tostring(err), "\n")   -- never holds the token
  os.exit(1)
end
print(string.format("job %s: %d events, showing %d from offset %d (%s)",
  job_id, page.total, #page.events, page.offset, page.order or "?"))
for _, ev in ipairs(page.events) do
  print(string.format("%s  %-7s  %-4s  %s", ev.time, ev.level, ev.source, ev.message))
end
client:close()
