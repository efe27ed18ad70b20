-- doc/API.md says everything the modules offer and nothing they do not:
-- every function a module exports is named there, and every `me.NAME`,
-- `client:NAME`, `pager:NAME`, `time.NAME`, `format.NAME`, `filter.NAME`
-- and `follow.NAME` it names exists.
local me = require "modelarts_events"
local files = require "support.files"
local emulator = require "support.emulator"

local API = assert(files.read("doc/API.md"))

local MODULES = {
  me = me,
  time = require "modelarts_events.time",
  format = require "modelarts_events.format",
  filter = require "modelarts_events.filter",
  follow = require "modelarts_events.follow",
}

describe("doc/API.md", function()
  it("names every function the modules export", function()
    for prefix, module in pairs(MODULES) do
      for name, value in pairs(module) do
        if type(value) == "function" or name:match("^%u") then
          assert.truthy(API:find(prefix .. "." .. name, 1, true), prefix .. "." .. name .. " is not in doc/API.md")
        end
      end
    end
    local client = emulator.client()
    for name in pairs(getmetatable(client).__index) do
      assert.truthy(API:find("client:" .. name, 1, true), "client:" .. name .. " is not in doc/API.md")
    end
    local pager = client:pager("reference")
    for name in pairs(getmetatable(pager).__index) do
      assert.truthy(API:find("pager:" .. name, 1, true), "pager:" .. name .. " is not in doc/API.md")
    end
    pager:close()
    client:close()
  end)

  it("names nothing the modules do not have", function()
    local client = emulator.client()
    local owners = { client = getmetatable(client).__index, pager = getmetatable(client:pager("reference")).__index }
    for prefix, module in pairs(MODULES) do owners[prefix] = module end
    for code in API:gmatch("```lua\n(.-)```") do
      for prefix, sep, name in code:gmatch("%f[%w_]([%a_]+)([.:])([%a_][%w_]*)") do
        local owner = owners[prefix]
        if owner and not (prefix == "me" and sep == ":") then
          assert.is_not_nil(owner[name], prefix .. sep .. name .. " in doc/API.md does not exist")
        end
      end
    end
    client:close()
  end)
end)
