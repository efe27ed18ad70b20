-- Writing answers: every one gets a fresh X-Request-Id and an exact
-- Content-Length (no chunked encoding, so clients see real lengths and
-- keep-alive works for every answer).
local cjson = require "cjson"

local M = {}

-- lua-cjson 2.1.0 (Debian's) writes an empty table as {} and has no
-- empty-array switch; the service writes []. This sentinel string is
-- swapped for [] after encoding.
M.EMPTY_ARRAY = "\0empty-array\0"
function M.encode(value)
  return (cjson.encode(value):gsub('"\\u0000empty%-array\\u0000"', "[]"))
end

-- math.random is seeded once per worker from /dev/urandom: unseeded, every
-- start would hand out the same ids.
local seeded = false
local function seed()
  local f = io.open("/dev/urandom", "rb")
  local bytes = f and f:read(4) or ""
  if f then f:close() end
  local n = ngx.now() * 1000 + ngx.worker.pid()
  for i = 1, #bytes do n = n * 256 % 2147483647 + bytes:byte(i) end
  math.randomseed(n)
  seeded = true
end

function M.request_id()
  if not seeded then seed() end
  local parts = {}
  for i = 1, 8 do parts[i] = string.format("%04x", math.random(0, 0xffff)) end
  return table.concat(parts)
end

--- The headers every answer carries; for answers written piecewise.
function M.headers(status, content_type, length)
  ngx.status = status
  ngx.header["Content-Type"] = content_type or "application/json"
  ngx.header["X-Request-Id"] = M.request_id()
  if length then ngx.header["Content-Length"] = length end
end

function M.send(status, body, content_type)
  M.headers(status, content_type, #body)
  ngx.print(body)
  return ngx.exit(ngx.OK)
end

function M.json(status, value)
  return M.send(status, M.encode(value))
end

function M.error(status, code, message)
  return M.send(status, cjson.encode { error_code = code, error_msg = message })
end

return M
