-- The README's sample outputs, from real runs (`make readme-samples`).
--
--   tools/with-emulator lua5.4 tools/readme-samples.lua [--check] [README.md]
--
-- A sample block is a fenced block right after a `<!-- samples -->` line.
-- Each of its `$ COMMAND` lines is run from the checkout against the
-- emulator (MODELARTS_EMULATOR), in a clean environment holding what the
-- README's walk-through exports (the emulator's endpoint, project and token)
-- and bin/ on PATH; its output (stdout and stderr, then `exit N` when N is
-- not 0) replaces what followed the line. The README says 18080, the port of
-- `make emulator`: commands and outputs are translated to and from this
-- run's port.
--
-- --check writes nothing and exits 1 when a sample differs from a fresh run
-- in more than its times and request ids.
local check = arg[1] == "--check"
local path = arg[check and 2 or 1] or "README.md"
local emulator = assert(os.getenv("MODELARTS_EMULATOR"), "run under tools/with-emulator")
local README_URL = "http://127.0.0.1:18080"

local function quote(s) return "'" .. s:gsub("'", [['\'']]) .. "'" end
local function plain(s) return (s:gsub("%p", "%%%0")) end

local cwd = assert(io.popen("pwd")):read("*l")
local ENV = table.concat({
  "env -i", "PATH=" .. cwd .. "/bin:/usr/local/bin:/usr/bin:/bin", "LANG=C.UTF-8",
  "MODELARTS_ENDPOINT=" .. emulator, "HUAWEICLOUD_SDK_PROJECT_ID=0a1b2c3d4e5f", "MODELARTS_TOKEN=emulator-token",
}, " ")

local function run(command)
  local real = command:gsub(plain(README_URL), emulator)
  local f = assert(io.popen(ENV .. " /bin/sh -c " .. quote(real .. " 2>&1; echo \"::$?\"")))
  local out = f:read("*a")
  f:close()
  local text, code = out:match("^(.-)::(%d+)\n$")
  text = text:gsub(plain(emulator), README_URL)
  if code ~= "0" then text = text .. "exit " .. code .. "\n" end
  return text
end

-- What changes from run to run: event times of live jobs, request ids.
local function normal(s)
  return (s:gsub("%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%d[%d.]*[Z+-]?[%d:]*", "TIME"):gsub("request id %x+", "request id ID"))
end

-- Each sample ("$ command" and its output) of a block, in order; a blank
-- line separates samples.
local function samples(block)
  local list = {}
  for line in block:gmatch("([^\n]*)\n") do
    local command = line:match("^%$ (.+)")
    if command then
      list[#list + 1] = { command = command, lines = {} }
    elseif #list > 0 then
      table.insert(list[#list].lines, line)
    end
  end
  for _, sample in ipairs(list) do
    if sample.lines[#sample.lines] == "" then table.remove(sample.lines) end
    sample.output = #sample.lines > 0 and table.concat(sample.lines, "\n") .. "\n" or ""
  end
  return list
end

-- A sample whose fresh output differs only in what changes from run to run
-- keeps its old text, so that regenerating does not churn the README.
local function regenerate(block)
  local out = {}
  for _, sample in ipairs(samples(block)) do
    io.stderr:write("readme-samples: $ ", sample.command, "\n")
    local fresh = run(sample.command)
    if normal(fresh) == normal(sample.output) then fresh = sample.output end
    out[#out + 1] = "$ " .. sample.command .. "\n" .. fresh
  end
  return table.concat(out, "\n")
end

local f = assert(io.open(path))
local readme = f:read("*a")
f:close()

local new = readme:gsub("(<!%-%- samples %-%->\n```[%w]*\n)(.-\n)(```\n)", function(open, block, close)
  return open .. regenerate(block) .. close
end)

if check then
  if normal(new) ~= normal(readme) then
    io.stderr:write("readme-samples: ", path, "'s samples differ from a fresh run: `make readme-samples` rewrites them\n")
    local a, b = io.open("/tmp/readme-samples.old", "w"), io.open("/tmp/readme-samples.new", "w")
    a:write(normal(readme)) a:close()
    b:write(normal(new)) b:close()
    os.execute("diff /tmp/readme-samples.old /tmp/readme-samples.new >&2")
    os.exit(1)
  end
  print("readme-samples: " .. path .. "'s samples match a fresh run")
else
  f = assert(io.open(path, "w"))
  f:write(new)
  f:close()
end
