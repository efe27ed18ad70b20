-- The credentials the gateway knows: the fixed ones every test uses, IAM
-- tokens issued by POST /v3/auth/tokens and temporary AK/SK issued by the
-- metadata service, each with the time it expires. Issued ones outlive
-- /_emulator/reset (a test may reset between getting and using one); the
-- oldest are forgotten once there are many.
local M = {}

M.TOKEN = "emulator-token"
local KEYS = {
  ["emulator-ak"] = { sk = "emulator-sk" },
  -- temporary credentials: only valid with their (signed) security token
  ["emulator-temp-ak"] = { sk = "emulator-temp-sk", security_token = "emulator-security-token" },
}
local MAX_ISSUED = 10000

local tokens, keys = {}, {}   -- issued: value -> { expires_ms, project_id }
local token_order, key_order = {}, {}

local function remember(store, order, name, entry)
  store[name] = entry
  order[#order + 1] = name
  if #order > MAX_ISSUED then store[table.remove(order, 1)] = nil end
end

function M.issue_token(token, expires_ms, project_id)
  remember(tokens, token_order, token, { expires_ms = expires_ms, project_id = project_id })
end

function M.issue_key(ak, sk, security_token, expires_ms)
  remember(keys, key_order, ak, { sk = sk, security_token = security_token, expires_ms = expires_ms })
end

--- The token's entry: { expires_ms? } (fixed tokens never expire), or nil.
function M.token(value)
  if value == M.TOKEN then return {} end
  return tokens[value]
end

--- The key of an AK: { sk, security_token?, expires_ms? }, or nil.
function M.key(ak)
  return KEYS[ak] or keys[ak]
end

return M
