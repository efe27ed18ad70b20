-- Writing answers. Every one carries an X-Request-Id (the same id for the
-- whole request, so a body that quotes it matches the header) and, unless
-- sent chunked on purpose, an exact Content-Length (clients see real
-- lengths and keep-alive works for every answer).
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

--- n random lowercase hex digits (n a multiple of 4).
function M.hex(n)
  if not seeded then seed() end
  local parts = {}
  for i = 1, n / 4 do parts[i] = string.format("%04x", math.random(0, 0xffff)) end
  return table.concat(parts)
end

--- This request's id: made once, then the same for header and body.
function M.request_id()
  local ctx = ngx.ctx
  ctx.request_id = ctx.request_id or M.hex(32)
  return ctx.request_id
end

--- Answers for this request carry a Date this many seconds off the real
-- clock (a server whose clock is ahead).
function M.skew_clock(seconds) ngx.ctx.clock_skew = seconds end

--- The headers every answer carries; for answers written piecewise.
-- length nil: none (nginx sends HTTP/1.1 bodies chunked then).
function M.headers(status, content_type, length)
  ngx.status = status
  ngx.header["Content-Type"] = content_type or "application/json"
  ngx.header["X-Request-Id"] = M.request_id()
  if ngx.ctx.clock_skew then ngx.header["Date"] = ngx.http_time(ngx.time() + ngx.ctx.clock_skew) end
  if length then ngx.header["Content-Length"] = length end
end

function M.send(status, body, content_type)
  M.headers(status, content_type, #body)
  ngx.print(body)
  return ngx.exit(ngx.OK)
end

--- The same body with Transfer-Encoding: chunked, in pieces of `size`.
function M.send_chunked(status, body, content_type, size)
  M.headers(status, content_type, nil)
  size = size or 4096
  for i = 1, #body, size do
    ngx.print(body:sub(i, i + size - 1))
    if not ngx.flush(true) then return ngx.exit(444) end
  end
  return ngx.exit(ngx.OK)
end

function M.json(status, value)
  return M.send(status, M.encode(value))
end

--- An answer with no body at all (Content-Length: 0).
function M.empty(status)
  return M.send(status, "", "application/json")
end

--- The service's own errors: {"error_code", "error_msg"}.
function M.error(status, code, message)
  return M.send(status, cjson.encode { error_code = code, error_msg = message })
end

--- The API gateway's errors also quote the request id in the body.
function M.gateway_error(status, code, message)
  return M.send(status, cjson.encode { error_code = code, error_msg = message, request_id = M.request_id() })
end

--- IAM's (Keystone's) error form: {"error": {"code", "message", "title"}}.
local TITLES = { [400] = "Bad Request", [401] = "Unauthorized", [403] = "Forbidden", [404] = "Not Found",
                 [405] = "Method Not Allowed" }
function M.iam_error(status, message)
  return M.send(status, cjson.encode { error = { code = status, message = message, title = TITLES[status] } })
end

return M
