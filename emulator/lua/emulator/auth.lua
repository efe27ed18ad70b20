-- The API gateway in front of the service: it answers authentication
-- failures itself (APIG.* codes, 401) before the service sees the request.
local signer = require "emulator.apig_signer"
local reply = require "emulator.reply"

local M = {}

M.TOKEN = "emulator-token"
M.KEYS = {
  ["emulator-ak"] = { sk = "emulator-sk" },
  -- temporary credentials: only valid with their (signed) security token
  ["emulator-temp-ak"] = { sk = "emulator-temp-sk", security_token = "emulator-security-token" },
}
local SKEW = 15 * 60 -- seconds a signature's date may be off the gateway's clock

local function deny(message, code)
  return nil, reply.error(401, code or "APIG.0301", message)
end

local IAM = "Incorrect IAM authentication information: "

local function aksk(method, path, raw_args, headers, authorization)
  local ak, names, signature = signer.parse(authorization)
  if not ak then return deny(IAM .. "unsupported or malformed Authorization header") end
  local key = M.KEYS[ak]
  if not key then return deny(IAM .. "ak " .. ak .. " not found") end
  local signed = {}
  for _, n in ipairs(names) do
    if n ~= n:lower() then return deny(IAM .. "SignedHeaders must be lowercase") end
    signed[n] = true
  end
  if not (signed.host and signed["x-sdk-date"]) then
    return deny(IAM .. "SignedHeaders must include host and x-sdk-date")
  end
  local date = headers["x-sdk-date"]
  if type(date) ~= "string" then return deny(IAM .. "X-Sdk-Date not found or repeated") end
  local when = signer.date_seconds(date)
  if not when then return deny(IAM .. "X-Sdk-Date " .. date .. " is not in the form 20060102T150405Z") end
  if math.abs(when - ngx.time()) > SKEW then
    return deny(IAM .. "X-Sdk-Date " .. date .. " is off the server's time by more than 15 minutes")
  end
  if key.security_token then
    -- never echo the token itself
    if headers["x-security-token"] ~= key.security_token then
      return deny(IAM .. "invalid or missing X-Security-Token for a temporary ak")
    end
    if not signed["x-security-token"] then return deny(IAM .. "X-Security-Token must be signed") end
  end
  local canonical = signer.canonical_request(method, path, raw_args, headers, names, "")
  if signer.sign(key.sk, date, canonical) ~= signature:lower() then
    return deny(IAM .. "verify aksk signature fail, canonicalRequest: " .. (canonical:gsub("\n", "|")))
  end
  return true
end

--- true when the request may pass; otherwise the 401 has been sent.
-- headers: lowercase names (ngx.req.get_headers()).
function M.check(method, path, raw_args, headers)
  local token = headers["x-auth-token"]
  if token then
    if token ~= M.TOKEN then
      return deny("Incorrect token or token resolution failed", "APIG.1002")
    end
    return true
  end
  local authorization = headers["authorization"]
  if type(authorization) ~= "string" then
    return deny(IAM .. "Authorization not found", "APIG.1000")
  end
  return aksk(method, path, raw_args, headers, authorization)
end

return M
