-- luacheck: globals ngx
-- The test location of spec/resty_spec.lua: runs one call of
-- modelarts_events.resty as the query string says and answers with JSON.
--   op       list | pages | events | new | close_mid
--   endpoint the emulator's URL
--   auth     token (default) | aksk | none
--   job      the training job id
--   params   JSON: the call's params
--   config   JSON: more client configuration (retries, concurrency, location, ...)
local cjson = require "cjson.safe"
local resty = require "modelarts_events.resty"

local args = ngx.req.get_uri_args()

local function reply(t)
  ngx.header.content_type = "application/json"
  ngx.say(cjson.encode(t))
  return ngx.exit(ngx.HTTP_OK)
end

local function plain(err)
  if type(err) ~= "table" then return { message = tostring(err), not_an_object = true } end
  return {
    kind = err.kind, message = err.message, status = err.status, code = err.code,
    request_id = err.request_id, retryable = err.retryable, attempts = err.attempts,
    field = err.field, text = tostring(err),
  }
end

local config = { endpoint = args.endpoint, project_id = "0a1b2c3d4e5f" }
if args.auth == "aksk" then
  config.ak, config.sk = "emulator-ak", "emulator-sk"
elseif args.auth ~= "none" then
  config.token = "emulator-token"
end
for k, v in pairs(args.config and assert(cjson.decode(args.config)) or {}) do config[k] = v end
local params = args.params and assert(cjson.decode(args.params)) or nil

local client, err = resty.new(config)
if args.op == "new" or not client then
  return reply { ok = client ~= nil, err = err and plain(err) }
end

local started = ngx.now()
if args.op == "list" then
  local page
  page, err = client:list(args.job, params)
  client:close()
  return reply { ok = page ~= nil, page = page, err = err and plain(err), seconds = ngx.now() - started }
end

if args.op == "close_mid" then
  -- close the client between two pages: the iterator raises, nothing crashes
  local next_page = client:pages(args.job, params)
  local first = next_page()
  client:close()
  local ok, raised = pcall(next_page)
  local page
  page, err = client:list(args.job, params)
  return reply { ok = ok, first = first ~= nil, raised = not ok and plain(raised) or nil,
                 list_ok = page ~= nil, err = err and plain(err) }
end

-- pages / events: collect everything; a raise is reported as such.
local out, pages = {}, 0
local ok, raised = pcall(function()
  if args.op == "pages" then
    for page in client:pages(args.job, params) do
      pages = pages + 1
      for _, ev in ipairs(page.events) do out[#out + 1] = ev end
    end
  else
    for ev, i in client:events(args.job, params) do
      assert(i == #out + 1, "the index counts from 1")
      out[#out + 1] = ev
    end
  end
end)
client:close()
return reply { ok = ok, events = out, pages = pages, raised = not ok and plain(raised) or nil,
               seconds = ngx.now() - started }
