-- A training job's events as a timeline: one HTML file that opens offline.
--
--   lua5.4 examples/timeline.lua TRAINING_JOB_ID [TZ] > timeline.html
--
-- Configured from the environment (me.config_from_env), as list_events.lua
-- is. TZ is any zone format.html takes: +08:00, Z, local, Asia/Shanghai.
-- Against the local emulator (`make emulator`):
--
--   MODELARTS_ENDPOINT=http://127.0.0.1:18080 HUAWEICLOUD_SDK_PROJECT_ID=0a1b2c3d4e5f \
--   MODELARTS_TOKEN=emulator-token lua5.4 examples/timeline.lua reference > timeline.html
package.path = "./lua/?.lua;" .. package.path   -- the checkout's Lua modules
package.cpath = "./?.so;" .. package.cpath      -- the module built in this checkout
local me = require "modelarts_events"
local format = require "modelarts_events.format"

local job_id, tz = arg[1] or "reference", arg[2]
local ok, client = pcall(function() return me.new(me.config_from_env()) end)
if not ok then   -- a configuration error: say what to set
  io.stderr:write(tostring(client), "\nset MODELARTS_ENDPOINT or HUAWEICLOUD_SDK_REGION, HUAWEICLOUD_SDK_PROJECT_ID",
    " and MODELARTS_TOKEN (or HUAWEICLOUD_SDK_AK and HUAWEICLOUD_SDK_SK)\n")
  os.exit(2)
end

local events = {}
local read, err = pcall(function()
  for event in client:events(job_id, { order = "asc" }) do events[#events + 1] = event end
end)
client:close()
if not read then
  io.stderr:write(tostring(err), "\n")   -- never holds the token
  os.exit(1)
end
local started = os.clock()
local html = format.html(events, { title = "Events of " .. job_id, tz = tz })
io.stderr:write(string.format("%s: %d events, %d bytes of HTML in %.2f s of CPU\n", job_id, #events, #html,
  os.clock() - started))
io.write(html)
