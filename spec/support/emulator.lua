-- What every spec shares: where the emulator runs (started by `make spec`),
-- clients for it, fresh job ids, and a look at what the emulator saw.
local me = require "modelarts_events"
local cjson = require "cjson.safe"

local M = {}

M.url = os.getenv("MODELARTS_EMULATOR") or "http://127.0.0.1:18080"
M.tls_url = os.getenv("MODELARTS_EMULATOR_TLS") or "https://127.0.0.1:18443"
M.ca_file = os.getenv("MODELARTS_EMULATOR_CA") or "/tmp/modelarts-emulator-18080/ca.pem"
--- The emulator's forward proxy (`emulator/ctl start --proxy-port`), if any.
M.proxy_url = os.getenv("MODELARTS_EMULATOR_PROXY")
M.project_id = "0a1b2c3d4e5f"
M.token = "emulator-token"
M.ak, M.sk = "emulator-ak", "emulator-sk"

--- A client for the emulator; fields of `overrides` win.
function M.client(overrides)
  local config = { endpoint = M.url, project_id = M.project_id, token = M.token }
  for k, v in pairs(overrides or {}) do config[k] = v end
  if config.ak then config.token = nil end
  if config.token == false then config.token = nil end
  return me.new(config)
end

local counter = 0
--- A tag no other run has used, so that stateful emulator jobs start fresh.
function M.tag()
  counter = counter + 1
  return string.format("%d%04d%d", os.time(), math.random(0, 9999), counter)
end

local function get(path, method)
  -- env -u: the sanitizer runs preload their runtime, which curl must not get
  local cmd = string.format("env -u LD_PRELOAD curl -s -X %s %q", method or "GET", M.url .. path)
  local f = assert(io.popen(cmd))
  local body = f:read("*a")
  f:close()
  return body
end

--- {requests, connections} the emulator counted since the last reset.
function M.stats() return assert(cjson.decode(get("/_emulator/stats"))) end
function M.reset() get("/_emulator/reset", "POST") end
--- The last API request the emulator received: method, uri, args, headers.
function M.last() return assert(cjson.decode(get("/_emulator/last"))) end

--- The number in "#<n>" inside a generated event's message.
function M.index(event) return tonumber(event.message:match("#(%d+)")) end

--- True when `v` is a whole number the way the running Lua represents one.
function M.is_integer(v)
  if math.type then return math.type(v) == "integer" end
  return type(v) == "number" and v == math.floor(v)
end

--- Run Lua `code` as a user's script runs: a fresh process with only `env`
-- set (env -i), the module under test on its cpath (and, under `make asan`,
-- the sanitizer runtime it needs). Returns its first line of output.
function M.run_script(env, code)
  local script = os.tmpname()
  local f = assert(io.open(script, "w"))
  f:write(string.format("package.cpath = %q .. ';' .. package.cpath\n",
    os.getenv("ME_CPATH") or "./?.so"), code)
  f:close()
  local vars = {}
  for _, name in ipairs { "LD_PRELOAD", "ASAN_OPTIONS" } do
    if os.getenv(name) and env[name] == nil then vars[#vars + 1] = name .. "='" .. os.getenv(name) .. "'" end
  end
  for k, v in pairs(env) do vars[#vars + 1] = k .. "='" .. v .. "'" end
  local p = assert(io.popen(string.format("env -i %s %s %s 2>&1", table.concat(vars, " "),
    os.getenv("ME_LUA") or "lua5.4", script)))
  local out = p:read("*l")
  p:close()
  os.remove(script)
  return out
end

return M
