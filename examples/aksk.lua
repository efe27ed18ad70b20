-- AK/SK authentication (SDK-HMAC-SHA256), configured from the environment.
--
--   HUAWEICLOUD_SDK_AK=... HUAWEICLOUD_SDK_SK=... HUAWEICLOUD_SDK_PROJECT_ID=... \
--   HUAWEICLOUD_SDK_REGION=cn-north-4 lua5.4 examples/aksk.lua TRAINING_JOB_ID
--
-- Against the local emulator (`make emulator`), with its test credentials:
--
--   MODELARTS_ENDPOINT=http://127.0.0.1:18080 HUAWEICLOUD_SDK_PROJECT_ID=0a1b2c3d4e5f \
--   HUAWEICLOUD_SDK_AK=emulator-ak HUAWEICLOUD_SDK_SK=emulator-sk lua5.4 examples/aksk.lua reference
--
-- Temporary credentials add HUAWEICLOUD_SDK_SECURITY_TOKEN (the emulator's:
-- emulator-temp-ak / emulator-temp-sk / emulator-security-token).
package.cpath = "./?.so;" .. package.cpath   -- the module built in this checkout
local me = require "modelarts_events"

local ok, config = pcall(me.config_from_env)
if not (ok and config.ak) then
  io.stderr:write("set HUAWEICLOUD_SDK_AK and HUAWEICLOUD_SDK_SK, HUAWEICLOUD_SDK_PROJECT_ID,",
    " and MODELARTS_ENDPOINT or HUAWEICLOUD_SDK_REGION (see the comment at the top)\n")
  os.exit(2)
end
local client_ok, client = pcall(me.new, config)
if not client_ok then
  io.stderr:write(tostring(client), "\nset MODELARTS_ENDPOINT or HUAWEICLOUD_SDK_REGION and HUAWEICLOUD_SDK_PROJECT_ID\n")
  os.exit(2)
end

-- What will be sent: every request is signed afresh, Host, X-Sdk-Date and
-- X-Project-Id (and X-Security-Token) included.
local req = client:request(arg[1] or "reference", { limit = 5 })
print("GET " .. req.url)
print("Authorization: " .. req.headers.Authorization)

local page, err = client:list(arg[1] or "reference", { limit = 5 })
if not page then
  io.stderr:write(tostring(err), "\n") -- never holds the SK or the security token
  os.exit(1)
end
for _, ev in ipairs(page.events) do print(ev.time, ev.level, ev.message) end
