-- The forward proxy (emulator/ctl --proxy-port): nginx's proxy_pass sends
-- absolute-URI requests on to the emulator; this access-phase check
-- refuses anything else and counts what goes through (stats "proxied").
-- Plain HTTP only: CONNECT (HTTPS through the proxy) is not supported.
local stats = require "emulator.stats"

local M = {}

local function refuse(status, message)
  ngx.status = status
  ngx.header["Content-Type"] = "text/plain"
  ngx.header["Content-Length"] = #message + 1
  ngx.say(message)
  return ngx.exit(ngx.HTTP_OK)
end

--- port: the emulator's, the one place this proxy reaches.
function M.access(port)
  local target = (ngx.var.request or ""):match("^%u+ (%a+://[^/%s?#]+)")
  if not target then
    return refuse(400, "emulator proxy: not a proxy request (the request line needs an absolute URI)")
  end
  target = target:lower()
  if target ~= "http://127.0.0.1:" .. port and target ~= "http://localhost:" .. port then
    return refuse(502, "emulator proxy: it only reaches the emulator at http://127.0.0.1:" .. port)
  end
  stats.proxied()
end

return M
