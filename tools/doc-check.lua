-- After `ldoc .`: every public function of the C module and of the Lua
-- modules has its entry in the reference, exactly once (`make doc`).
--
--   lua5.4 tools/doc-check.lua [build/doc]
--
-- Public means exported: a function field of `require "modelarts_events"`,
-- a method of its client, a function field of a pure-Lua module. The resty
-- module needs nginx to load, so its functions are read from its source.
package.path = "./lua/?.lua;" .. package.path
package.cpath = "./?.so;" .. package.cpath
local dir = arg[1] or "build/doc"
local missing = {}

local function page(module)
  local f = io.open(dir .. "/modules/" .. module .. ".html")
  if not f then
    missing[#missing + 1] = module .. ": no page"
    return ""
  end
  local html = f:read("*a")
  f:close()
  return html
end

local function expect(module, names)
  local html = page(module)
  table.sort(names)
  for _, name in ipairs(names) do
    local n = select(2, html:gsub('name = "' .. name:gsub("%p", "%%%0") .. '"', ""))
    if n ~= 1 then missing[#missing + 1] = string.format("%s: %s (%d entries)", module, name, n) end
  end
end

local function functions(t, prefix)
  local names = {}
  for name, v in pairs(t) do
    if type(v) == "function" and not name:match("^_") then names[#names + 1] = (prefix or "") .. name end
  end
  return names
end

local me = require "modelarts_events"
local client = me.new { endpoint = "http://127.0.0.1:9", project_id = "p", token = "t" }
local names = functions(me)
for _, method in ipairs(functions(getmetatable(client).__index, "client:")) do names[#names + 1] = method end
client:close()
expect("modelarts_events", names)

for _, module in ipairs { "filter", "format", "time" } do
  expect("modelarts_events." .. module, functions((require("modelarts_events." .. module))))
end
local follow = require "modelarts_events.follow"
if type(follow) == "table" then expect("modelarts_events.follow", functions(follow)) end

local f = assert(io.open("lua/modelarts_events/resty.lua"))
local source = f:read("*a")
f:close()
local resty = {}
for name in source:gmatch("\nfunction M%.([%w_]+)") do resty[#resty + 1] = name end
for name in source:gmatch("\nfunction Client:([%w_]+)") do resty[#resty + 1] = "Client:" .. name end
expect("modelarts_events.resty", resty)

if #missing > 0 then
  io.stderr:write("doc: not in the reference exactly once:\n  ", table.concat(missing, "\n  "), "\n")
  os.exit(1)
end
print("doc: every public function is in the reference once")
