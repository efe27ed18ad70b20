-- Answers that go wrong on the wire rather than in what they say: a body
-- cut short, one that never ends, one trickled, a kept-alive connection
-- dropped, a huge body. None of them blocks the worker: writes wait with
-- ngx.flush(true) and the pauses are ngx.sleep.
local reply = require "emulator.reply"

local M = {}

local MiB = 1024 * 1024

--- Promise a long body, send a little of it and drop the connection: the
-- client sees a transfer cut short, as when a proxy or the network fails.
function M.reset(head)
  local sock, err = ngx.req.socket(true)
  if not sock then
    ngx.log(ngx.ERR, "fault-reset: no raw socket: ", err)
    return ngx.exit(444)
  end
  sock:send("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n" ..
    "X-Request-Id: " .. reply.request_id() .. "\r\n\r\n" .. head)
  return ngx.exit(444) -- 444: close without answering
end

--- Close the connection without any answer (a server that drops kept-alive
-- connections when the next request comes).
function M.drop() return ngx.exit(444) end

-- Sends piece `count` times after head and before tail; gives up quietly
-- when the client goes away. ngx.sleep(0) lets other requests run between
-- pieces even when the client reads as fast as the worker writes.
local function stream(head, piece, count, tail)
  ngx.print(head)
  for _ = 1, count do
    ngx.print(piece)
    if not ngx.flush(true) then return ngx.exit(444) end
    ngx.sleep(0)
  end
  if tail then
    ngx.print(tail)
    return ngx.exit(ngx.OK)
  end
  return ngx.exit(444) -- cut: the body never ends properly
end

local chunk
local function mib()
  chunk = chunk or string.rep("x", MiB)
  return chunk
end

--- 200, 64 MiB of valid JSON (a one-event page whose message is huge).
function M.oversized(head, tail)
  reply.headers(200, "application/json", #head + 64 * MiB + #tail)
  return stream(head, mib(), 64, tail)
end

--- 200, chunked, a JSON value that never ends (cut after 4 GiB, in case a
-- client reads forever).
function M.endless(head)
  reply.headers(200, "application/json", nil)
  return stream(head, mib(), 4096, nil)
end

--- 200, a valid body sent 2 bytes a second (Content-Length exact).
function M.trickle(body)
  reply.headers(200, "application/json", #body)
  for i = 1, #body, 2 do
    ngx.print(body:sub(i, i + 1))
    if not ngx.flush(true) then return ngx.exit(444) end
    if i + 2 <= #body then ngx.sleep(1) end
  end
  return ngx.exit(ngx.OK)
end

return M
