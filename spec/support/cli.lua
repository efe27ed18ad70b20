-- The command line as specs run it: a subprocess with a clean environment
-- (env -i, this checkout's modules and build, the Lua under test, the
-- sanitizer runtime where a build needs it) against the emulator.
local emulator = require "support.emulator"
local files = require "support.files"

local M = {}

local LUA = os.getenv("ME_LUA") or "lua5.4"
local CPATH = (os.getenv("ME_CPATH") or "./?.so") .. ";;"

--- The shell command that runs `modelarts-events ARGS` with the emulator's
-- endpoint and credentials (none with `opts.bare`); `opts.env` adds
-- variables ("NAME=value ...").
function M.command(args, opts)
  opts = opts or {}
  local q = files.quote
  local env = { "PATH=/usr/bin:/bin", "LUA_PATH=" .. q("./lua/?.lua;;"), "LUA_CPATH=" .. q(CPATH) }
  for _, name in ipairs { "LD_PRELOAD", "ASAN_OPTIONS", "UBSAN_OPTIONS" } do
    if os.getenv(name) then env[#env + 1] = name .. "=" .. q(os.getenv(name)) end
  end
  if opts.env then env[#env + 1] = opts.env end
  local where = opts.bare and "" or
    string.format("--endpoint %s --project-id %s --token %s ", emulator.url, emulator.project_id, emulator.token)
  return string.format("env -i %s %s bin/modelarts-events %s%s", table.concat(env, " "), LUA, where, args)
end

local function take(path)
  local s = files.read(path) or ""
  os.remove(path)
  return s
end

--- Run several command lines side by side; returns `{ out, err, code }` for each.
function M.run_all(list, opts)
  local bases, parts = {}, {}
  for i, args in ipairs(list) do
    local base = files.tmpname()
    bases[i] = base
    parts[i] = string.format("( %s >%s.out 2>%s.err; echo $? >%s.code ) &", M.command(args, opts), base, base, base)
  end
  os.execute(table.concat(parts, "\n") .. "\nwait")
  local results = {}
  for i, base in ipairs(bases) do
    results[i] = { out = take(base .. ".out"), err = take(base .. ".err"),
      code = tonumber((take(base .. ".code"):match("%d+"))) }
  end
  return results
end

--- Run one command line: stdout, stderr, exit status.
function M.run(args, opts)
  local r = M.run_all({ args }, opts)[1]
  return r.out, r.err, r.code
end

return M
