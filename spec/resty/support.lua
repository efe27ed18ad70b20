-- What the nginx specs (spec/resty_spec.lua, spec/resty/*_spec.lua) share:
-- shell commands, curl, starting and stopping a real nginx with the Lua
-- module, the LuaJIT build of the C module.
--
-- Environment: MODELARTS_EMULATOR (default http://127.0.0.1:18080),
-- MODELARTS_EMULATOR_TLS and MODELARTS_EMULATOR_CA (the emulator's https
-- port and its throwaway CA), ME_RESTY_PORT (default 18181: the test
-- nginx; the example servers take ME_RESTY_PORT+8 and up), ME_RESTY_CPATH (a
-- folder holding a LuaJIT build of modelarts_events.so; by default the specs
-- run `make LUA_VERSION=jit` and use build/jit).
local cjson = require "cjson.safe"

local M = {}

M.EMULATOR = os.getenv("MODELARTS_EMULATOR") or "http://127.0.0.1:18080"
M.TLS_URL = os.getenv("MODELARTS_EMULATOR_TLS") or "https://127.0.0.1:18443"
M.TLS_CA = os.getenv("MODELARTS_EMULATOR_CA") or "/tmp/modelarts-emulator-18080/ca.pem"
M.PORT = tonumber(os.getenv("ME_RESTY_PORT") or "18181")
--- Ports for the example servers: PORT+8 and up (PORT+1 is the emulator's
-- proxy when the ports follow the brief's PORT, PORT+1, PORT+2, PORT+3).
function M.extra_port(i) return M.PORT + 7 + i end
M.NGINX_MODULE = "/usr/lib/nginx/modules/ngx_http_lua_module.so"
M.CHROMIUM = "/usr/bin/chromium"

--- Run a shell command: exit status, output (stdout and stderr). The status
-- travels in the output: on Lua 5.1 and LuaJIT close() does not tell it.
-- LD_PRELOAD is dropped: the sanitizer run preloads its runtime for the
-- suite's Lua, and nginx, curl or chromium must not get it.
function M.sh(cmd)
  local f = assert(io.popen("unset LD_PRELOAD; { " .. cmd .. " ; } 2>&1; echo \"::$?\""))
  local out = f:read("*a")
  f:close()
  local body, code = out:match("^(.-)::(%d+)%s*$")
  return tonumber(code), body
end
local sh = M.sh

function M.quote(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end
local quote = M.quote

function M.read(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("*a")
  f:close()
  return s
end
local read = M.read

function M.write(path, s)
  local f = assert(io.open(path, "wb"))
  assert(f:write(s))
  f:close()
end

function M.urlencode(s)
  return (tostring(s):gsub("[^%w%-_%.~]", function(c) return string.format("%%%02X", c:byte()) end))
end

--- A query string; table values are sent as JSON.
function M.query(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys)
  local parts = {}
  for _, k in ipairs(keys) do
    local v = t[k]
    if type(v) == "table" then v = cjson.encode(v) end
    parts[#parts + 1] = k .. "=" .. M.urlencode(v)
  end
  return table.concat(parts, "&")
end

--- GET url -> status, body, seconds (curl's time_total)
function M.get(url, max_time)
  local code, out = sh("curl -s -m " .. (max_time or 60) .. " -w '\\n%{http_code} %{time_total}' " .. quote(url))
  assert(code == 0 or code == 28, "curl failed: " .. out)
  local body, status, seconds = out:match("^(.*)\n(%d+) ([%d.]+)$")
  return tonumber(status), body, tonumber(seconds)
end

--- GET url, JSON answer -> decoded table (asserting status 200)
function M.get_json(url)
  local status, body = M.get(url)
  assert(status == 200, "status " .. tostring(status) .. ": " .. tostring(body))
  return assert(cjson.decode(body), body)
end

--- The emulator's counters, and a reset of them (and of its job state).
function M.stats() return M.get_json(M.EMULATOR .. "/_emulator/stats") end
function M.reset() assert(sh("curl -s -X POST -o /dev/null " .. quote(M.EMULATOR .. "/_emulator/reset")) == 0) end

local counter = 0
--- A tag no other run has used, so that stateful emulator jobs start fresh.
function M.tag()
  counter = counter + 1
  return string.format("%d%04d%d", os.time(), math.random(0, 9999), counter)
end

--- The folder holding the LuaJIT build of the C module. Whatever the make
-- that runs the suite was told (Lua version, sanitizers) must not reach it.
function M.cpath()
  local cpath = os.getenv("ME_RESTY_CPATH")
  if cpath then return cpath end
  local code, out = sh("env -u MAKEFLAGS -u MFLAGS -u MAKEOVERRIDES -u MAKELEVEL " ..
    "make -s LUA_VERSION=jit SANITIZE= build/jit/modelarts_events.so")
  assert(code == 0, "cannot build the LuaJIT module: " .. out)
  return M.repo() .. "/build/jit"
end

function M.repo() return (select(2, sh("pwd")):gsub("%s+$", "")) end

M.have_nginx = sh("command -v nginx") == 0 and read(M.NGINX_MODULE) ~= nil

--- busted's describe, or a pending block when nginx with the Lua module is
-- missing (busted's functions live in the spec file's environment).
function M.describe_nginx(describe, pending, name, body)
  if M.have_nginx then return describe(name, body) end
  describe(name, function()
    pending("nginx with libnginx-mod-http-lua is not installed (" .. M.NGINX_MODULE .. ")")
  end)
end

--- A fresh temporary folder.
function M.tmpdir()
  local path = os.tmpname()
  os.remove(path)
  assert(sh("mkdir -p " .. quote(path)) == 0)
  return path
end

--- Start nginx (it daemonizes) on conf file `conf`, with `prefix` as -p,
-- pid and error log in `dir`; `env` is prepended to the command.
-- Returns the error log's path.
function M.start_nginx(opts)
  local dir = opts.dir
  local cmd = string.format("%s nginx -p %s -c %s -g %s", opts.env or "", quote(opts.prefix or dir), quote(opts.conf),
    quote("pid " .. dir .. "/nginx.pid; error_log " .. dir .. "/error.log info;" .. (opts.globals or "")))
  local code, out = sh(cmd)
  assert(code == 0, "nginx did not start: " .. out .. (read(dir .. "/error.log") or ""))
  M.wait_up(opts.port)
  return dir .. "/error.log"
end

--- The clean environment the examples run in (env -i): only what the
-- README has a user export, pointing at the emulator.
M.USER_ENV = "env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin MODELARTS_ENDPOINT=" .. quote(M.EMULATOR) ..
  " MODELARTS_TOKEN=emulator-token HUAWEICLOUD_SDK_PROJECT_ID=0a1b2c3d4e5f"

--- An example's nginx.conf text made to run in a test: listening on the
-- test's port instead of 8080, and the C module taken from cpath.
function M.for_test(conf, port, cpath)
  local n
  conf, n = conf:gsub("\n(%s*)listen 8080;", "\n%1listen 127.0.0.1:" .. port .. ";")
  assert(n == 1, "the nginx.conf does not listen on 8080")
  if cpath ~= M.repo() .. "/build/jit" then
    conf, n = conf:gsub("%$prefix/build/jit/%?%.so", cpath .. "/?.so")
    assert(n == 1, "the nginx.conf does not take the C module from $prefix/build/jit")
  end
  return conf
end

--- Stop the nginx of dir and remove dir.
function M.remove_nginx(dir)
  if not dir then return end
  M.stop_nginx(dir)
  sh("rm -rf " .. quote(dir))
end

function M.stop_nginx(dir)
  local pid = read(dir .. "/nginx.pid")
  pid = pid and pid:match("%d+")
  if not pid then return end
  sh("kill -QUIT " .. pid)
  for _ = 1, 50 do
    if sh("kill -0 " .. pid) ~= 0 then return end
    sh("sleep 0.1")
  end
  sh("kill -KILL " .. pid)
end

function M.wait_up(port)
  for _ = 1, 50 do
    if sh("curl -s -o /dev/null -m 1 http://127.0.0.1:" .. port .. "/") == 0 then return end
    sh("sleep 0.1")
  end
  error("nginx does not answer on port " .. port)
end

--- Lines of the error log that say a worker died, or Lua code failed
-- where nothing caught it.
function M.crashes(log)
  local found = {}
  for line in (read(log) or ""):gmatch("[^\n]+") do
    if line:find("exited on signal", 1, true) or line:find("runtime error", 1, true)
      or line:find("[alert]", 1, true) or line:find("[crit]", 1, true) then
      found[#found + 1] = line
    end
  end
  return found
end

--- The directives that keep a test nginx's files in `dir` (Debian's
-- compiled-in paths are under /var).
function M.private_paths(dir)
  return table.concat({
    "access_log " .. dir .. "/access.log;",
    "client_body_temp_path " .. dir .. "/body;",
    "proxy_temp_path " .. dir .. "/proxy;",
    "fastcgi_temp_path " .. dir .. "/fastcgi;",
    "uwsgi_temp_path " .. dir .. "/uwsgi;",
    "scgi_temp_path " .. dir .. "/scgi;",
  }, "\n")
end

return M
