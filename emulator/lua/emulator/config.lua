-- Settings tests may change at run time (POST /_emulator/config?name=value);
-- /_emulator/reset puts them back.
local M = {}

local DEFAULTS = {
  metadata_ttl = 10, -- seconds a metadata security key lives
}

local current = {}
for k, v in pairs(DEFAULTS) do current[k] = v end

function M.get(name) return current[name] end

--- Sets name to the number in text; nil and a reason when it cannot.
function M.set(name, text)
  if DEFAULTS[name] == nil then return nil, "unknown setting " .. name end
  local n = tonumber(text)
  if not n or n <= 0 or n > 86400 then return nil, name .. " must be a number of seconds in (0, 86400]" end
  current[name] = n
  return true
end

function M.all()
  local out = {}
  for k, v in pairs(current) do out[k] = v end
  return out
end

function M.reset()
  for k, v in pairs(DEFAULTS) do current[k] = v end
end

return M
