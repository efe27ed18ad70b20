-- The ECS / notebook metadata service's security key, as the Huawei Cloud
-- SDKs read it (MetadataAccessor: GET /openstack/latest/securitykey):
-- {"credential": {"access", "secret", "securitytoken", "expires_at"}}.
-- Every call issues a fresh temporary AK/SK/security token that the
-- gateway accepts until it expires (config metadata_ttl, 10 s by default).
local config = require "emulator.config"
local credentials = require "emulator.credentials"
local jobs = require "emulator.jobs"
local reply = require "emulator.reply"

local M = {}

function M.securitykey(method)
  if method ~= "GET" then return reply.send(405, "Method Not Allowed", "text/plain") end
  local now = jobs.now_ms()
  local expires = now + math.floor(config.get("metadata_ttl") * 1000)
  local ak = "EMUTMP" .. reply.hex(16):upper()
  local sk, token = reply.hex(40), "emulator-sts-" .. reply.hex(128)
  credentials.issue_key(ak, sk, token, expires)
  return reply.json(200, { credential = {
    access = ak, secret = sk, securitytoken = token,
    expires_at = jobs.iso_utc(expires), -- the SDKs parse "%Y-%m-%dT%H:%M:%S.%fZ"
  } })
end

return M
