-- luacheck: globals ngx
-- GET /events/<training job id>: the job's events as JSON lines, one event
-- a line, fetched with modelarts_events.resty (never blocking the worker).
-- Used by examples/nginx.conf:
--
--   location ~ ^/events/(?<job>[^/]+)$ { content_by_lua_file examples/openresty_handler.lua; }
--
-- The client is configured from the environment (MODELARTS_ENDPOINT or
-- HUAWEICLOUD_SDK_REGION, HUAWEICLOUD_SDK_PROJECT_ID, MODELARTS_TOKEN or
-- HUAWEICLOUD_SDK_AK / _SK), which nginx.conf passes on with `env`.
--
-- Query: offset, limit, max_items (numbers), order, level, source, pattern,
-- language, start_time + end_time (epoch ms or ISO-8601).
-- Errors before the first event: a status (400 bad arguments, 404 no such
-- job, 504 timeout, 502 anything else) and {"error": {...}}. Errors after
-- it: a last line {"error": {...}} (the status is already sent).
local cjson = require "cjson.safe"
local me = require "modelarts_events"
local resty = require "modelarts_events.resty"

local NUMBERS = { offset = true, limit = true, max_items = true }
local STRINGS = { order = true, level = true, source = true, pattern = true, language = true }
local TIMES = { start_time = true, end_time = true }

local function error_line(err)
  if type(err) ~= "table" then err = { kind = "error", message = tostring(err) } end
  return cjson.encode { error = {
    kind = err.kind, message = err.message, status = err.status,
    code = err.code, request_id = err.request_id,
  } }
end

local function fail(err)
  local status = 502
  if type(err) == "table" then
    if err.kind == "invalid_argument" then
      status = 400
    elseif err.kind == "timeout" then
      status = 504
    elseif err.kind == "http" and err.status == 404 then
      status = 404
    end
  end
  ngx.status = status
  ngx.header.content_type = "application/json"
  ngx.say(error_line(err))
  return ngx.exit(status)
end

-- The query string as the client's params: unknown names are left out,
-- bad values are reported by the client (400).
local params = {}
for name, value in pairs(ngx.req.get_uri_args()) do
  if type(value) == "table" then value = value[1] end
  if type(value) == "string" then
    if NUMBERS[name] then
      params[name] = tonumber(value) or value
    elseif TIMES[name] then
      params[name] = value:match("^%d+$") and tonumber(value) or value
    elseif STRINGS[name] then
      params[name] = value
    end
  end
end

-- me.new is cheap (no connection is made), so a client per request is fine;
-- a module could keep one per worker instead.
local client, err = resty.new(me.config_from_env { concurrency = 4 })
if not client then
  ngx.log(ngx.ERR, "modelarts_events: ", tostring(err))
  return fail(err)
end

-- The iterators raise their error object: step them under pcall.
local ok, next_page = pcall(client.pages, client, ngx.var.job, params)
if not ok then return fail(next_page) end

local sent = false
while true do
  local got, page = pcall(next_page)
  if not got then
    client:close()
    ngx.log(ngx.ERR, "modelarts_events: ", tostring(page))
    if not sent then return fail(page) end
    ngx.say(error_line(page))
    return ngx.exit(ngx.HTTP_OK)
  end
  if not page then break end
  local lines = {}
  for i, event in ipairs(page.events) do
    lines[i] = cjson.encode { time = event.time, level = event.level, source = event.source,
                              message = event.message }
  end
  if #lines > 0 then
    lines[#lines + 1] = ""
    ngx.print(table.concat(lines, "\n"))
    ngx.flush()   -- stream each page out as it comes
  end
  sent = true
end
client:close()
