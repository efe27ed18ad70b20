-- The control endpoints tests use (no authentication):
--   GET  /_emulator/health   ok
--   GET  /_emulator/stats    counters since the last reset (stats.lua)
--   GET  /_emulator/last     the last API request
--   POST /_emulator/reset    counters, job state and settings back to the start
--   GET  /_emulator/config   the settings; POST ?name=value changes one
local reply = require "emulator.reply"
local stats = require "emulator.stats"
local jobs = require "emulator.jobs"
local config = require "emulator.config"

local M = {}

local NO_API = "The API does not exist or has not been published in the environment."

local function configure()
  if ngx.req.get_method() == "POST" then
    for name, value in pairs(ngx.req.get_uri_args(20)) do
      local ok, err = config.set(name, type(value) == "string" and value or "")
      if not ok then return reply.gateway_error(400, "APIG.0100", err) end
    end
  end
  return reply.json(200, config.all())
end

function M.handle(path)
  if path == "/_emulator/health" then return reply.send(200, "ok", "text/plain") end
  if path == "/_emulator/stats" then return reply.json(200, stats.snapshot()) end
  if path == "/_emulator/last" then return reply.json(200, stats.last()) end
  if path == "/_emulator/reset" then
    stats.reset()
    jobs.reset()
    config.reset()
    return reply.send(200, "{}")
  end
  if path == "/_emulator/config" then return configure() end
  return reply.gateway_error(404, "APIG.0101", NO_API)
end

M.NO_API = NO_API

return M
