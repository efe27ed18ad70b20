-- First contact: every documented way to configure, run the way a user runs
-- it. Scripts, the examples, the README's own code blocks and the CLI run as
-- subprocesses under `env -i` with only the variables under test; proxies
-- are real (the emulator's forward proxy, and a listener here that records
-- the CONNECT lines a client sends it).
local socket = require "socket"
local emulator = require "support.emulator"

local LUA = os.getenv("ME_LUA") or "lua5.4"
local CPATH = os.getenv("ME_CPATH") or "./?.so"
local PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
-- The module under test and the checkout's Lua modules, for every Lua
-- process run here but the README's and the examples' own commands (and,
-- under `make asan`, the sanitizer runtime the module needs).
local PATHS = { "LUA_CPATH=" .. CPATH .. ";;", "LUA_PATH=./lua/?.lua;;" }
for _, name in ipairs { "LD_PRELOAD", "ASAN_OPTIONS" } do
  if os.getenv(name) then PATHS[#PATHS + 1] = name .. "=" .. os.getenv(name) end
end
local TOKEN = "PROJECT_TOKEN_e3b0c442"   -- not the emulator's: shows where a token came from
local PROJECT = "HUAWEICLOUD_SDK_PROJECT_ID=" .. emulator.project_id
local ENDPOINT = "MODELARTS_ENDPOINT=" .. emulator.url
local EMULATOR_TOKEN = "MODELARTS_TOKEN=" .. emulator.token

local function quote(s) return "'" .. s:gsub("'", [['\'']]) .. "'" end

local function slurp(path)
  local f = io.open(path)
  if not f then return nil end
  local s = f:read("*a")
  f:close()
  return s
end

local function concat(...)
  local t = {}
  for _, list in ipairs { ... } do
    for _, v in ipairs(list) do t[#t + 1] = v end
  end
  return t
end

-- The shell command that runs `command` (a shell string) from the checkout
-- with nothing in its environment but PATH and `env`.
local function clean(env, command)
  local parts = { "env", "-i", PATH }
  for _, kv in ipairs(env) do parts[#parts + 1] = quote(kv) end
  parts[#parts + 1] = "/bin/sh -c " .. quote(command)
  return table.concat(parts, " ")
end

-- Run it; returns stdout, stderr, exit code.
local function run(env, command)
  local out, err = os.tmpname(), os.tmpname()
  local ok, _, code = os.execute(clean(env, command) .. " >" .. out .. " 2>" .. err)
  if type(ok) == "number" then code = ok >= 256 and ok / 256 or ok end -- Lua 5.1, LuaJIT
  local o, e = slurp(out), slurp(err)
  os.remove(out)
  os.remove(err)
  return o, e, code
end

-- A script of ours, written to a file and run with the Lua under test.
local function script(source)
  local path = os.tmpname()
  local f = assert(io.open(path, "w"))
  f:write(source)
  f:close()
  return path
end

-- Loads the module, configures from the environment only, and prints what
-- was asked: the URL it would request, or a page's total.
-- (A configuration error is printed with tostring: Lua 5.1's interpreter
-- does not print an error object itself.)
local FROM_ENV = script [[
local me = require "modelarts_events"
local ok, client = pcall(function() return me.new(me.config_from_env()) end)
if not ok then io.stderr:write(tostring(client), "\n") os.exit(1) end
if arg[1] == "url" then print(client:request(arg[2]).url) os.exit(0) end
local page, err = client:list(arg[2], { limit = 5 })
if not page then io.stderr:write(tostring(err), "\n") os.exit(1) end
print(page.total)
]]

-- A loopback listener that plays a proxy refusing every tunnel: it records
-- the request line of every connection (CONNECT host:port, or an
-- absolute-URI request), answers 403 and hangs up.
local function refusing_proxy()
  local server = assert(socket.bind("127.0.0.1", 0))
  local _, port = server:getsockname()
  server:settimeout(0.1)
  local p = { url = "http://127.0.0.1:" .. port, seen = {} }
  -- Run `command` in the background, serve until it exits; returns stdout,
  -- stderr and its exit code.
  function p.serve(env, command)
    local out, err, rc = os.tmpname(), os.tmpname(), os.tmpname()
    os.remove(rc)
    os.execute("(" .. clean(env, command) .. " >" .. out .. " 2>" .. err .. "; echo $? >" .. rc .. ".tmp; mv " ..
      rc .. ".tmp " .. rc .. ") &")
    local deadline = os.time() + 60
    while not slurp(rc) and os.time() < deadline do
      local conn = server:accept()
      if conn then
        conn:settimeout(5)
        local line = conn:receive("*l")
        if line then p.seen[#p.seen + 1] = line end
        repeat local h = conn:receive("*l") until not h or h == ""
        conn:send("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        conn:close()
      end
    end
    local code = tonumber(slurp(rc))
    local o, e = slurp(out), slurp(err)
    for _, path in ipairs { out, err, rc } do os.remove(path) end
    return o, e, code
  end
  function p.close() server:close() end
  return p
end

-- The fenced code block that follows `<!-- run: NAME -->` in README.md.
local function readme_block(name)
  local readme = assert(slurp("README.md"))
  local block = readme:match("<!%-%- run: " .. name:gsub("%-", "%%-") .. " %-%->\n```%w*\n(.-)\n```")
  return assert(block, "README.md has no block marked <!-- run: " .. name .. " -->")
end

-- The README's shell blocks talk to `make emulator` on 18080: here they talk
-- to this run's emulator, the one thing changed.
local function for_this_emulator(text)
  return (text:gsub("http://127%.0%.0%.1:18080", emulator.url))
end

-- The README and the examples say `lua5.4` and load ./modelarts_events.so,
-- the default build: run them as written when that is the build under test.
local AS_WRITTEN = LUA == "lua5.4" and CPATH == "./build/5.4/?.so" and io.open("modelarts_events.so") ~= nil
local function as_written(name, fn)
  if AS_WRITTEN then it(name, fn) else pending(name .. " (runs on the default build, lua5.4)") end
end

local function proxied()
  return emulator.stats().proxied or 0
end

describe("configured from the environment only", function()
  it("MODELARTS_ENDPOINT, MODELARTS_TOKEN and HUAWEICLOUD_SDK_PROJECT_ID", function()
    local out, err, code = run(concat(PATHS, { ENDPOINT, PROJECT, EMULATOR_TOKEN }),
      LUA .. " " .. FROM_ENV .. " list reference")
    assert.equal(0, code, err)
    assert.equal("27\n", out)
    assert.equal(emulator.token, emulator.last().headers["x-auth-token"])
  end)

  it("the token really comes from MODELARTS_TOKEN: a wrong one is refused, and never printed", function()
    local out, err, code = run(concat(PATHS, { ENDPOINT, PROJECT, "MODELARTS_TOKEN=" .. TOKEN }),
      LUA .. " " .. FROM_ENV .. " list reference")
    assert.equal(1, code, out)
    assert.matches("http 401", err)
    assert.not_matches(TOKEN, err, 1, true)
  end)

  it("HUAWEICLOUD_SDK_AK and HUAWEICLOUD_SDK_SK: every request signed", function()
    local out, err, code = run(concat(PATHS, { ENDPOINT, PROJECT, "HUAWEICLOUD_SDK_AK=" .. emulator.ak,
      "HUAWEICLOUD_SDK_SK=" .. emulator.sk }), LUA .. " " .. FROM_ENV .. " list reference")
    assert.equal(0, code, err)
    assert.equal("27\n", out)
    local headers = emulator.last().headers
    assert.matches("^SDK%-HMAC%-SHA256 Access=emulator%-ak,", headers.authorization)
    assert.is_nil(headers["x-auth-token"])
  end)

  it("temporary AK/SK with HUAWEICLOUD_SDK_SECURITY_TOKEN", function()
    local temp = { ENDPOINT, PROJECT, "HUAWEICLOUD_SDK_AK=emulator-temp-ak", "HUAWEICLOUD_SDK_SK=emulator-temp-sk" }
    local out, err, code = run(concat(PATHS, temp, { "HUAWEICLOUD_SDK_SECURITY_TOKEN=emulator-security-token" }),
      LUA .. " " .. FROM_ENV .. " list reference")
    assert.equal(0, code, err)
    assert.equal("27\n", out)
    assert.equal("emulator-security-token", emulator.last().headers["x-security-token"])
    -- without it, the same temporary keys are refused: the variable is what made it work
    out, err, code = run(concat(PATHS, temp), LUA .. " " .. FROM_ENV .. " list reference")
    assert.equal(1, code, out)
    assert.matches("http 401", err)
  end)

  it("HUAWEICLOUD_SDK_REGION alone: the region's endpoint, https://modelarts.REGION.myhuaweicloud.com", function()
    local out, err, code = run(concat(PATHS, { "HUAWEICLOUD_SDK_REGION=cn-north-4", PROJECT, EMULATOR_TOKEN }),
      LUA .. " " .. FROM_ENV .. " url reference")
    assert.equal(0, code, err)
    assert.matches("^https://modelarts%.cn%-north%-4%.myhuaweicloud%.com/v2/0a1b2c3d4e5f/training%-jobs/reference/events",
      out)
  end)

  it("HUAWEICLOUD_SDK_REGION alone: the request really goes there (its proxy sees the CONNECT)", function()
    local proxy = refusing_proxy()
    local out, err, code = proxy.serve(concat(PATHS, { "HUAWEICLOUD_SDK_REGION=cn-east-3", PROJECT,
      EMULATOR_TOKEN, "https_proxy=" .. proxy.url }), LUA .. " " .. FROM_ENV .. " list reference")
    proxy.close()
    assert.equal(1, code, out)
    assert.equal("CONNECT modelarts.cn-east-3.myhuaweicloud.com:443 HTTP/1.1", proxy.seen[1])
    assert.matches("^modelarts_events: ", err)
  end)

  it("MODELARTS_ENDPOINT wins over HUAWEICLOUD_SDK_REGION, which then only names the region", function()
    local out, err, code = run(concat(PATHS, { ENDPOINT, "HUAWEICLOUD_SDK_REGION=cn-north-4", PROJECT,
      EMULATOR_TOKEN }), LUA .. " " .. FROM_ENV .. " url reference")
    assert.equal(0, code, err)
    assert.equal(emulator.url .. "/v2/", out:sub(1, #emulator.url + 4))
  end)
end)

describe("missing configuration names what to set", function()
  -- One of `names` is in `text`.
  local function names_one(text, names)
    for _, name in ipairs(names) do
      if text:find(name, 1, true) then return true end
    end
    error("names none of " .. table.concat(names, ", ") .. ": " .. text, 2)
  end

  -- A script configured from the environment names the config field and the
  -- variable; the command line names its flag and the variable.
  local function expect(env, fields, variables, flags)
    local out, err, code = run(concat(PATHS, env), LUA .. " " .. FROM_ENV .. " list reference")
    assert.equal(1, code, out)
    assert.not_matches("attempt to", err)
    names_one(err, fields)
    names_one(err, variables)
    out, err, code = run(concat(PATHS, env), LUA .. " bin/modelarts-events reference")
    assert.equal(2, code, out)
    assert.not_matches("traceback", err)
    assert.matches("^modelarts%-events: ", err)
    names_one(err, flags)
    names_one(err, variables)
  end

  it("no endpoint or region", function()
    expect({ PROJECT, EMULATOR_TOKEN }, { "endpoint", "region" }, { "MODELARTS_ENDPOINT", "HUAWEICLOUD_SDK_REGION" },
      { "--endpoint", "--region" })
  end)

  it("no project id, with a token", function()
    expect({ ENDPOINT, EMULATOR_TOKEN }, { "project_id" }, { "HUAWEICLOUD_SDK_PROJECT_ID" }, { "--project-id" })
  end)

  it("no credentials", function()
    expect({ ENDPOINT, PROJECT }, { "token", "ak" }, { "MODELARTS_TOKEN", "HUAWEICLOUD_SDK_AK" }, { "--token" })
  end)
end)

describe("the command line, configured as the README says", function()
  it("from the environment only", function()
    local out, err, code = run(concat(PATHS, { ENDPOINT, PROJECT, EMULATOR_TOKEN }), LUA .. " bin/modelarts-events reference")
    assert.equal(0, code, err)
    local n = select(2, out:gsub("\n", ""))
    assert.equal(27, n)
  end)

  it("from AK/SK in the environment", function()
    local out, err, code = run(concat(PATHS, { ENDPOINT, PROJECT, "HUAWEICLOUD_SDK_AK=" .. emulator.ak,
      "HUAWEICLOUD_SDK_SK=" .. emulator.sk }), LUA .. " bin/modelarts-events --max-items 2 --format json reference")
    assert.equal(0, code, err)
    assert.equal(2, select(2, out:gsub("\n", "")))
    assert.matches("^SDK%-HMAC%-SHA256 ", emulator.last().headers.authorization)
  end)

  it("from flags only", function()
    local out, err, code = run(PATHS, LUA .. " bin/modelarts-events --endpoint " .. emulator.url .. " --project-id " ..
      emulator.project_id .. " --token " .. emulator.token .. " --summary reference")
    assert.equal(0, code, err)
    assert.matches("events: 27", out, 1, true)
  end)

  it("--region alone goes to the region's endpoint", function()
    local proxy = refusing_proxy()
    local out, _, code = proxy.serve(concat(PATHS, { PROJECT, EMULATOR_TOKEN, "https_proxy=" .. proxy.url }),
      LUA .. " bin/modelarts-events --region cn-south-1 --retries 0 reference")
    proxy.close()
    assert.equal(1, code, out)
    assert.equal("CONNECT modelarts.cn-south-1.myhuaweicloud.com:443 HTTP/1.1", proxy.seen[1])
  end)
end)

describe("the README's code, as written", function()
  it("the quick start goes to the region it names, with the token and project from the environment", function()
    local path = script(readme_block("quick-start"))
    local proxy = refusing_proxy()
    local _, err, code = proxy.serve(concat(PATHS, { PROJECT, "MODELARTS_TOKEN=" .. TOKEN,
      "https_proxy=" .. proxy.url }), LUA .. " " .. path)
    proxy.close()
    os.remove(path)
    assert.equal(1, code)
    assert.equal("CONNECT modelarts.cn-north-4.myhuaweicloud.com:443 HTTP/1.1", proxy.seen[1])
    assert.matches("modelarts_events: ", err, 1, true)    -- the error object, raised by error(err)
    assert.not_matches(TOKEN, err, 1, true)
  end)

  as_written("the emulator walk-through: examples and the command line", function()
    local out, err, code = run({}, "set -e\n" .. for_this_emulator(readme_block("emulator")))
    assert.equal(0, code, err)
    assert.matches("job reference: 27 events, showing 10 from offset 0 (desc)", out, 1, true)
    assert.matches("job gen-100000: 100000 events (", out, 1, true)
    assert.matches("2022-11-26T16:03:41+08:00  Error    Job   Training job failed.", out, 1, true)
  end)

  as_written("the AK/SK example", function()
    local out, err, code = run({}, for_this_emulator(readme_block("aksk")))
    assert.equal(0, code, err)
    assert.matches("Authorization: SDK-HMAC-SHA256 Access=emulator-ak,", out, 1, true)
    assert.matches("Training job failed.", out, 1, true)
    assert.not_matches("emulator-sk", out, 1, true)
  end)
end)

describe("every example, as its header says", function()
  -- The command in an example's header comment that runs it against the
  -- emulator (`--   VAR=... \` lines up to `lua5.4 examples/...`).
  local function header_command(path)
    local lines, command = {}, nil
    for line in io.lines(path) do
      if not line:match("^%-%-") then break end
      lines[#lines + 1] = line:gsub("^%-%-%s*", "")
    end
    for i, line in ipairs(lines) do
      if line:find("http://127.0.0.1:18080", 1, true) and not command then
        command = {}
        for j = i, #lines do
          command[#command + 1] = lines[j]:gsub("%s*\\$", "")
          if not lines[j]:match("\\$") then break end
        end
      end
    end
    return assert(command, path .. ": no command for the emulator in its header"), table.concat(command, " ")
  end

  local function run_header(path)
    local _, command = header_command(path)
    return run({}, for_this_emulator(command))
  end

  as_written("examples/list_events.lua", function()
    local out, err, code = run_header("examples/list_events.lua")
    assert.equal(0, code, err)
    assert.matches("^job reference: 27 events, showing 10 from offset 0 %(desc%)\n", out)
  end)

  as_written("examples/all_events.lua", function()
    local out, err, code = run_header("examples/all_events.lua")
    assert.equal(0, code, err)
    assert.matches("^job gen%-100000: 100000 events %(Error=%d+, Info=%d+, Warning=%d+%)\n$", out)
  end)

  as_written("examples/aksk.lua", function()
    local out, err, code = run_header("examples/aksk.lua")
    assert.equal(0, code, err)
    assert.matches("Authorization: SDK-HMAC-SHA256 Access=emulator-ak,", out, 1, true)
    assert.matches("Training job failed.", out, 1, true)
  end)

  as_written("examples/aksk.lua, with the temporary credentials its header names", function()
    local out, err, code = run({ ENDPOINT, PROJECT, "HUAWEICLOUD_SDK_AK=emulator-temp-ak",
      "HUAWEICLOUD_SDK_SK=emulator-temp-sk", "HUAWEICLOUD_SDK_SECURITY_TOKEN=emulator-security-token" },
      "lua5.4 examples/aksk.lua reference")
    assert.equal(0, code, err)
    assert.matches("Authorization: SDK-HMAC-SHA256 Access=emulator-temp-ak,", out, 1, true)
    assert.not_matches("emulator-security-token", out .. err, 1, true)
  end)

  as_written("examples/timeline.lua, configured from the environment", function()
    local out, err, code = run({ ENDPOINT, PROJECT, EMULATOR_TOKEN }, "lua5.4 examples/timeline.lua reference")
    assert.equal(0, code, err)
    assert.matches("^<!DOCTYPE html>", out)
    assert.matches("Training job failed.", out, 1, true)
    assert.equal(emulator.token, emulator.last().headers["x-auth-token"])
  end)

  as_written("an example without configuration says what to set", function()
    for _, example in ipairs { "list_events", "all_events", "aksk" } do
      local out, err, code = run({}, "lua5.4 examples/" .. example .. ".lua reference")
      assert.equal(2, code, example .. ": " .. out)
      assert.not_matches("traceback", err)
      assert.matches("MODELARTS_ENDPOINT", err, 1, true)
    end
  end)
end)

describe("proxies, as curl does them", function()
  local cli = LUA .. " bin/modelarts-events --max-items 1 reference"
  local env = concat(PATHS, { ENDPOINT, PROJECT, EMULATOR_TOKEN })

  it("http_proxy: the requests go through the proxy", function()
    assert.is_string(emulator.proxy_url, "make spec exports MODELARTS_EMULATOR_PROXY")
    local before = proxied()
    local out, err, code = run(concat(env, { "http_proxy=" .. emulator.proxy_url }), cli)
    assert.equal(0, code, err)
    assert.equal(1, select(2, out:gsub("\n", "")))
    assert.is_true(proxied() > before, "the proxy saw no request")
  end)

  it("no_proxy and NO_PROXY bypass it", function()
    for _, var in ipairs { "no_proxy", "NO_PROXY" } do
      local before = proxied()
      local _, err, code = run(concat(env, { "http_proxy=" .. emulator.proxy_url, var .. "=127.0.0.1" }), cli)
      assert.equal(0, code, err)
      assert.equal(before, proxied(), var)
    end
  end)

  it("upper-case HTTP_PROXY is not read for http:// (as curl: CGI sets HTTP_PROXY from a request header)", function()
    local before = proxied()
    local _, err, code = run(concat(env, { "HTTP_PROXY=" .. emulator.proxy_url }), cli)
    assert.equal(0, code, err)
    assert.equal(before, proxied())
  end)

  it("https_proxy and HTTPS_PROXY tunnel https:// requests (CONNECT)", function()
    for _, var in ipairs { "https_proxy", "HTTPS_PROXY" } do
      local proxy = refusing_proxy()
      local _, _, code = proxy.serve(concat(PATHS, { "MODELARTS_ENDPOINT=" .. emulator.tls_url, PROJECT,
        EMULATOR_TOKEN, var .. "=" .. proxy.url }), cli .. " --retries 0 --ca-file " .. emulator.ca_file)
      proxy.close()
      assert.equal(1, code, var)
      assert.equal("CONNECT " .. emulator.tls_url:gsub("^https://", "") .. " HTTP/1.1", proxy.seen[1], var)
    end
  end)

  it("proxy = URL in the config, without any variable", function()
    local path = script(string.format([[
local me = require "modelarts_events"
local client = me.new { endpoint = %q, project_id = %q, token = %q, proxy = %q }
print(assert(client:list("reference")).total)
]], emulator.url, emulator.project_id, emulator.token, emulator.proxy_url))
    local before = proxied()
    local out, err, code = run(PATHS, LUA .. " " .. path)
    os.remove(path)
    assert.equal(0, code, err)
    assert.equal("27\n", out)
    assert.is_true(proxied() > before)
  end)

  it("proxy = false ignores the environment's proxies", function()
    local path = script(string.format([[
local me = require "modelarts_events"
local client = me.new { endpoint = %q, project_id = %q, token = %q, proxy = false }
print(assert(client:list("reference")).total)
]], emulator.url, emulator.project_id, emulator.token))
    local before = proxied()
    local out, err, code = run(concat(PATHS, { "http_proxy=" .. emulator.proxy_url,
      "all_proxy=" .. emulator.proxy_url }), LUA .. " " .. path)
    os.remove(path)
    assert.equal(0, code, err)
    assert.equal("27\n", out)
    assert.equal(before, proxied())
  end)

  it("--proxy URL on the command line", function()
    local before = proxied()
    local _, err, code = run(concat(PATHS, { ENDPOINT, PROJECT, EMULATOR_TOKEN }),
      cli .. " --proxy " .. emulator.proxy_url)
    assert.equal(0, code, err)
    assert.is_true(proxied() > before)
  end)
end)

describe("make check and make demo leave the user's emulator alone", function()
  -- The user's `make emulator`, here on a port of its own.
  local function free_port()
    local s = assert(socket.bind("127.0.0.1", 0))
    local _, port = s:getsockname()
    s:close()
    return port
  end

  it("run beside it on other ports, and name the variable when its port is taken", function()
    local port = free_port()
    local dir = os.tmpname()
    os.remove(dir)
    -- (through run: a clean environment, so no sanitizer preload reaches nginx or curl)
    local _, out, err, code
    out, err, code = run({}, "emulator/ctl start --port " .. port .. " --dir " .. dir)
    assert.equal(0, code, out .. err)
    local health = "curl -sf -m 5 --noproxy '*' http://127.0.0.1:" .. port .. "/_emulator/health"
    finally(function() run({}, "emulator/ctl stop --port " .. port .. " --dir " .. dir .. "; rm -rf " .. dir) end)

    -- what make check and make demo run, with PORT unset and with it given
    out, err, code = run({}, "tools/with-emulator sh -c 'curl -sf \"$MODELARTS_EMULATOR/_emulator/health\"'")
    assert.equal(0, code, err)
    assert.equal("ok", out)
    _, err, code = run({}, health)
    assert.equal(0, code, "the user's emulator is gone: " .. err)

    out, err, code = run({ "PORT=" .. port }, "tools/with-emulator true")
    assert.equal(1, code, out)
    assert.matches("PORT (" .. port .. ")", err, 1, true)
    assert.matches("make check PORT=", err, 1, true)
    _, err, code = run({}, health)
    assert.equal(0, code, "the user's emulator is gone: " .. err)
  end)
end)
