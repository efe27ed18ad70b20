-- The API gateway's authentication: it answers failures itself, 401
-- APIG.0301 "Incorrect IAM authentication information: ..." (the messages
-- are those of Huawei's APIG FAQ), before the service sees the request.
-- Credentials are those of credentials.lua: fixed, IAM-issued and
-- metadata-issued, the issued ones until they expire.
local signer = require "emulator.apig_signer"
local credentials = require "emulator.credentials"
local jobs = require "emulator.jobs"

local M = {}

local SKEW = 15 * 60 -- seconds a signature's date may be off the gateway's clock
local IAM = "Incorrect IAM authentication information: "

local function deny(message) return nil, "APIG.0301", IAM .. message end

local iso_utc = jobs.iso_utc

local function expired(entry)
  return entry.expires_ms and entry.expires_ms <= jobs.now_ms()
end

local function token(value)
  local entry = credentials.token(value)
  if not entry then return deny("decrypt token fail") end
  if expired(entry) then return deny("token expires, expires_at: " .. iso_utc(entry.expires_ms)) end
  return true
end

local function aksk(method, path, raw_args, headers, authorization, body)
  local ak, names, signature = signer.parse(authorization)
  if not ak then return deny("unsupported or malformed Authorization header") end
  local key = credentials.key(ak)
  if not key then return deny("Get secretKey failed,ak:" .. ak .. ",err:ak not exist") end
  local signed = {}
  for _, n in ipairs(names) do
    if n ~= n:lower() then return deny("SignedHeaders must be lowercase") end
    signed[n] = true
  end
  -- the gateway needs only the date signed; host, the security token and
  -- the rest as the client chose (the SDKs sign them; the Go SDK skips host)
  if not signed["x-sdk-date"] then return deny("SignedHeaders must include x-sdk-date") end
  local date = headers["x-sdk-date"]
  if type(date) ~= "string" then return deny("X-Sdk-Date not found or repeated") end
  local when = signer.date_seconds(date)
  if not when then return deny("X-Sdk-Date " .. date .. " is not in the form 20060102T150405Z") end
  if math.abs(when - ngx.time()) > SKEW then
    -- REFERENCE.md: the gateway's code for a clock more than 15 minutes off
    return nil, "APIGW.0303", "signature expired, signature time:" .. date .. ",server time:" ..
      os.date("!%Y%m%dT%H%M%SZ", ngx.time()) .. " (more than 15 minutes apart)"
  end
  if key.security_token then
    -- never echo the token itself
    if headers["x-security-token"] ~= key.security_token then
      return deny("invalid or missing X-Security-Token for a temporary ak")
    end
    if expired(key) then return deny("security token expires, expires_at: " .. iso_utc(key.expires_ms)) end
  end
  local canonical = signer.canonical_request(method, path, raw_args, headers, names, body or "")
  if signer.sign(key.sk, date, canonical) ~= signature:lower() then
    return deny("verify aksk signature fail, canonicalRequest: " .. (canonical:gsub("\n", "|")))
  end
  return true
end

--- true when the request may pass; otherwise nil, the error code and the
-- message to answer 401 with. headers: lowercase names (ngx.req.get_headers()).
function M.check(method, path, raw_args, headers, body)
  local value = headers["x-auth-token"]
  if value then
    if type(value) ~= "string" then return deny("x-auth-token repeated") end
    return token(value)
  end
  local authorization = headers["authorization"]
  if authorization == nil then return deny("x-auth-token not found") end
  if type(authorization) ~= "string" then return deny("Authorization repeated") end
  return aksk(method, path, raw_args, headers, authorization, body)
end

return M
