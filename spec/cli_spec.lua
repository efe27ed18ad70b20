-- The command line, run as a subprocess against the emulator.
local cjson = require "cjson"
local emulator = require "support.emulator"

local LUA = os.getenv("ME_LUA") or "lua5.4"
-- the build for the Lua under test, and this checkout's Lua modules
local PATHS = string.format("LUA_CPATH='%s;;' LUA_PATH='./lua/?.lua;;'", os.getenv("ME_CPATH") or "./?.so")

-- Run the CLI; returns stdout, stderr, exit code.
local function run(args, env)
  local out, err = os.tmpname(), os.tmpname()
  local cmd = string.format("%s %s %s bin/modelarts-events --endpoint %s --project-id %s --token %s %s >%s 2>%s",
    PATHS, env or "", LUA, emulator.url, emulator.project_id, emulator.token, args, out, err)
  local ok, _, code = os.execute(cmd)
  if type(ok) == "number" then code = ok / 256 end -- Lua 5.1
  local function slurp(path)
    local f = io.open(path)
    local s = f:read("*a")
    f:close()
    os.remove(path)
    return s
  end
  return slurp(out), slurp(err), code
end

local function lines(s)
  local t = {}
  for l in s:gmatch("([^\n]*)\n") do t[#t + 1] = l end
  return t
end

describe("modelarts-events", function()
  it("prints a job's events as text", function()
    local out, err, code = run("reference")
    assert.equal(0, code, err)
    local l = lines(out)
    assert.equal(27, #l)
    assert.equal("2022-11-26T16:03:41+08:00  Error    Job   Training job failed.", l[1])
    assert.equal("", err)
  end)

  it("writes JSON lines, CSV and a table", function()
    local out = run("reference --format json --order asc")
    local l = lines(out)
    assert.equal(27, #l)
    assert.equal("Training job is created.", cjson.decode(l[1]).message)
    assert.equal("Training job failed.", cjson.decode(l[27]).message)
    out = run("gen-50 --format csv")
    l = lines(out:gsub("\r\n", "\n"))
    assert.equal("time,level,source,message", l[1])
    assert.truthy(out:find('"', 1, true)) -- quoted fields with quotes, commas or line breaks
    out = run("reference --format table --max-items 3")
    l = lines(out)
    assert.equal(4, #l)
    assert.matches("^TIME%s+LEVEL%s+SOURCE%s+MESSAGE$", l[1])
  end)

  it("summarises", function()
    local out, _, code = run("reference --summary")
    assert.equal(0, code)
    assert.matches("events: 27", out)
    assert.matches("errors: 1", out)
    assert.matches("Training job failed%.", out)
  end)

  it("pushes one level down to the server and filters several locally", function()
    local out = run("reference --level Error")
    assert.equal(1, #lines(out))
    assert.matches("level=Error", emulator.last().args)
    out = run("reference --level error --level WARNING")
    assert.equal(2, #lines(out))
    assert.is_nil(emulator.last().args:find("level=", 1, true))
    out = run("reference --source K8S --source Job --format json")
    for _, l in ipairs(lines(out)) do
      local source = cjson.decode(l).source:upper()
      assert.is_true(source == "K8S" or source == "JOB")
    end
  end)

  it("takes --since, --until, --pattern, --page-size and --max-items", function()
    local out = run("reference --since 2022-11-26T16:03:00+08:00 --until 2022-11-26T16:03:20+08:00")
    assert.equal(4, #lines(out))
    out = run("gen-500 --page-size 7 --max-items 20")
    assert.equal(20, #lines(out))
    assert.matches("limit=7", emulator.last().args)
    out = run("reference --pattern 'parameter name: train_url'")
    assert.equal(2, #lines(out))
  end)

  it("colours only when asked or on a terminal, never with NO_COLOR", function()
    assert.is_nil((run("reference --max-items 2")):find("\27[", 1, true))
    assert.truthy((run("reference --max-items 2 --color always")):find("\27[31mError", 1, true))
    assert.is_nil((run("reference --max-items 2", "NO_COLOR=1")):find("\27[", 1, true))
  end)

  it("exits 1 with one line for an API failure", function()
    local out, err, code = run("no-such-job")
    assert.equal(1, code)
    assert.equal("", out)
    assert.equal(1, #lines(err))
    assert.matches("^modelarts%-events: http 404 ModelArts%.2762", err)
  end)

  it("exits 2 for bad usage, without a traceback", function()
    for _, args in ipairs { "", "--bogus reference", "reference --level Debug", "reference --page-size 500",
      "reference --since soon", "reference --format xml" } do
      local _, err, code = run(args)
      assert.equal(2, code, args .. ": " .. err)
      assert.is_nil(err:find("traceback", 1, true), args)
    end
  end)

  it("follows a job until it ends: exit 3 when it failed, 0 when it completed", function()
    local out, _, code = run("--follow --interval 0.2 life-failed-3-" .. emulator.tag())
    assert.equal(3, code)
    local l = lines(out)
    assert.matches("Training job failed%.$", l[#l])
    local seen = {}
    for _, line in ipairs(l) do
      assert.is_nil(seen[line], "printed twice: " .. line)
      seen[line] = true
    end
    out, _, code = run("--follow --interval 0.2 life-completed-2-" .. emulator.tag())
    assert.equal(0, code)
    assert.matches("Training job completed%.\n$", out)
  end)

  it("reads like a manual with --help", function()
    local out, _, code = run("--help")
    assert.equal(0, code)
    for _, option in ipairs { "--endpoint", "--region", "--project-id", "--token", "--level", "--source",
      "--pattern", "--since", "--until", "--order", "--page-size", "--max-items", "--format", "--summary",
      "--follow", "--interval", "--color", "--language", "HUAWEICLOUD_SDK_AK", "Exit status", "Examples" } do
      assert.truthy(out:find(option, 1, true), option)
    end
  end)
end)
