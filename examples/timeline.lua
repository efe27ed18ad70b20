-- A training job's events as a timeline: one HTML file that opens offline.
--
--   lua5.4 examples/timeline.lua TRAINING_JOB_ID [TZ] > timeline.html
--
-- Configuration as in list_events.lua (the environment; the emulator's
-- defaults otherwise). TZ is any zone time.iso takes: +08:00, Z, local.
package.path = "./lua/?.lua;" .. package.path
package.cpath = "./?.so;" .. package.cpath
local me = require "modelarts_events"
local format = require "modelarts_events.format"

local job_id, tz = arg[1] or "reference", arg[2]
local config = me.config_from_env()
config.endpoint = config.endpoint or (not config.region and "http://127.0.0.1:18080") or nil
config.project_id = config.project_id or "0a1b2c3d4e5f"
if not (config.token or config.ak) then config.token = "emulator-token" end

local client = me.new(config)
local events = {}
local ok, err = pcall(function()
  for event in client:events(job_id, { order = "asc" }) do events[#events + 1] = event end
end)
client:close()
if not ok then
  io.stderr:write(tostring(err), "\n")
  os.exit(1)
end
local started = os.clock()
local html = format.html(events, { title = "Events of " .. job_id, tz = tz })
io.stderr:write(string.format("%s: %d events, %d bytes of HTML in %.2f s of CPU\n", job_id, #events, #html,
  os.clock() - started))
io.write(html)
