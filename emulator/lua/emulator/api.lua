-- The emulator's HTTP side: routing. The gateway (auth.lua, faults.lua)
-- stands in front of the service's endpoints: the events of a job
-- (events.lua) and the job itself (detail.lua); IAM (iam.lua) and the
-- metadata service (metadata.lua) share the port; /_emulator/* is for tests
-- (control.lua).
local auth = require "emulator.auth"
local catalog = require "emulator.catalog"
local control = require "emulator.control"
local detail = require "emulator.detail"
local events = require "emulator.events"
local faults = require "emulator.faults"
local i18n = require "emulator.i18n"
local iam = require "emulator.iam"
local metadata = require "emulator.metadata"
local reply = require "emulator.reply"
local stats = require "emulator.stats"

local M = {}

local function unknown_job(id)
  return reply.error(404, "ModelArts.2775", "Training job " .. id .. " does not exist.")
end

-- The events of a job, after the gateway let the request through.
local function job_events(id, raw_args, headers)
  local q = events.validate(raw_args)
  if not q then return end
  faults.handle(id, "events")
  local job, traits = catalog.find(id, true)
  if not job then return unknown_job(id) end
  if traits.skew then reply.skew_clock(traits.skew) end
  if traits.delay_ms then ngx.sleep(traits.delay_ms / 1000) end -- yields: others are served meanwhile
  return events.answer(job, q, i18n.language(headers["x-language"]), traits)
end

-- The job itself (run jobs with the forbidden flag: 403, as for a user
-- whose policy allows reading events but not jobs).
local function job_detail(id)
  faults.handle(id, "job")
  local job, traits = catalog.find(id, false)
  if not job then return unknown_job(id) end
  if traits.skew then reply.skew_clock(traits.skew) end
  if traits.delay_ms then ngx.sleep(traits.delay_ms / 1000) end
  if job.forbidden then
    return reply.error(403, "ModelArts.0203", "Policy doesn't allow modelarts:trainJob:get to be performed.")
  end
  local body = reply.encode(detail.body(id, job))
  if traits.chunked then return reply.send_chunked(200, body) end
  return reply.send(200, body)
end

-- A ModelArts endpoint behind the gateway: fault-echo-token, then the
-- credentials, then the project id, then the endpoint itself.
local function modelarts(handler)
  return function(method, path, raw_args, headers, project_id, id)
    if method ~= "GET" then return reply.gateway_error(405, "APIG.0102", "Method not allowed.") end
    id = events.decode(id)
    faults.before_auth(id, headers)
    local ok, code, message = auth.check(method, path, raw_args, headers)
    if not ok then return reply.gateway_error(401, code, message) end
    project_id = events.decode(project_id)
    if #project_id < 1 or #project_id > 64 or project_id:find("[^%w%-]") then
      return reply.error(400, "ModelArts.50004000", "Bad request. project_id must hold 1 to 64 letters, digits or hyphens.")
    end
    return handler(id, raw_args, headers)
  end
end

-- path pattern, kind (for the stats), handler(method, path, raw_args, headers, captures...)
local ROUTES = {
  { "^/v2/([^/]*)/training%-jobs/([^/]+)/events$", "events", modelarts(job_events) },
  { "^/v2/([^/]*)/training%-jobs/([^/]+)$", "job", modelarts(job_detail) },
  { "^/v3/projects$", "iam", iam.projects },
  { "^/v3/auth/tokens$", "iam", iam.tokens },
  { "^/openstack/latest/securitykey$", "metadata", metadata.securitykey },
}

local function route(path)
  for _, r in ipairs(ROUTES) do
    local a, b = path:match(r[1])
    if a then
      if a == path then a = nil end -- a pattern without captures
      return r[2], r[3], a, b
    end
  end
  return nil
end

function M.handle()
  local path, raw_args = ngx.var.request_uri:match("^([^?]*)%??(.*)$")
  if path:sub(1, 11) == "/_emulator/" then return control.handle(path) end

  local headers = ngx.req.get_headers(100) -- lowercase names
  local kind, handler, a, b = route(path)
  stats.begin(kind, path, raw_args, headers)
  if not kind then return reply.gateway_error(404, "APIG.0101", control.NO_API) end
  return handler(ngx.req.get_method(), path, raw_args, headers, a, b)
end

--- The log phase: the request is over, whichever way it ended.
function M.done() stats.done() end

return M
