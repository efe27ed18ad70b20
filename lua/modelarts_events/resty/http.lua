--- A small, strict HTTP/1.1 client over ngx_lua cosockets, for
-- `modelarts_events.resty` (lua-resty-http is not in Debian).
--
-- One exchange per call: connect (or take a kept-alive connection from the
-- cosocket pool), TLS with SNI and verification, send, read the response
-- with Content-Length, chunked, or until close. Every read is bounded: in
-- bytes (line and header limits, `max_body`) and in time (one deadline for
-- the whole exchange, `timeout`, so a server that trickles its answer is
-- cut off too). A connection goes back to the pool only after a complete
-- response that lets it; anything else closes it.
--
-- Errors are returned, never raised: `nil, kind, message` with kind one of
-- `network`, `timeout`, `tls`, `too_large` (the C client's).
-- @module modelarts_events.resty.http
-- @local

-- luacheck: globals ngx

local M = {}

local LINE_MAX = 8192           -- bytes in a status, header or chunk-size line
local HEADER_BYTES_MAX = 65536  -- bytes in the whole header section
local HEADERS_MAX = 100         -- header fields
local CHUNK_DIGITS_MAX = 15     -- hex digits of a chunk size (below 2^60)
local READ_SIZE = 65536         -- bytes asked of the socket at once
local INTERIM_MAX = 10          -- 1xx responses skipped before the real one
local STALE_RETRIES = 32        -- kept-alive connections tried before a fresh one

local TOKEN = "^[!#$%%&'*+%-.^_`|~%w]+$"

local function now()
  ngx.update_time()
  return ngx.now()
end

--- Split an http(s) URL.
-- @string url
-- @return `{ scheme, host, port, authority, target }` (host without the
-- brackets of an IPv6 literal), or nil and a message
function M.parse_url(url)
  local scheme, authority, target = url:match("^(%a[%w+.-]*)://([^/?#]*)([^#]*)$")
  if not scheme then return nil, "not an absolute URL" end
  scheme = scheme:lower()
  if scheme ~= "http" and scheme ~= "https" then return nil, "not an http or https URL" end
  if authority:find("@", 1, true) then return nil, "credentials in the URL" end
  local host, port = authority:match("^%[([%x:.]+)%]:?(%d*)$")
  if not host then host, port = authority:match("^([^:]+):?(%d*)$") end
  if not host or host == "" then return nil, "no host in the URL" end
  if port == "" then port = scheme == "https" and 443 or 80 else port = tonumber(port) end
  if port < 1 or port > 65535 then return nil, "port out of range" end
  if target == "" then target = "/" elseif target:sub(1, 1) == "?" then target = "/" .. target end
  return { scheme = scheme, host = host, port = port, authority = authority, target = target }
end

local function is_ip(host)
  return host:find("^%d+%.%d+%.%d+%.%d+$") ~= nil or host:find(":", 1, true) ~= nil
end

-- ---- reading --------------------------------------------------------------

-- A buffered reader over one cosocket, with the exchange's deadline.
local Reader = {}
Reader.__index = Reader

local function reader(sock, deadline)
  return setmetatable({ sock = sock, buf = "", pos = 1, deadline = deadline, received = 0 }, Reader)
end

-- Read more bytes into the buffer: true, or nil, kind, message.
function Reader:fill()
  local left = self.deadline - now()
  if left <= 0 then return nil, "timeout", "the response did not arrive in time" end
  self.sock:settimeout(math.max(1, math.ceil(left * 1000)))
  local data, err = self.sock:receiveany(READ_SIZE)
  if not data then
    if err == "timeout" then return nil, "timeout", "the response did not arrive in time" end
    if err == "closed" then
      return nil, "network", self.received == 0 and "the server closed the connection without a response"
        or "the server closed the connection before the response was complete", "closed"
    end
    return nil, "network", "cannot read the response: " .. tostring(err)
  end
  self.received = self.received + #data
  if self.pos > #self.buf then
    self.buf, self.pos = data, 1
  else
    self.buf, self.pos = self.buf:sub(self.pos) .. data, 1
  end
  return true
end

function Reader:buffered()
  return #self.buf - self.pos + 1
end

-- One CRLF-terminated line (without it), at most `limit` bytes.
function Reader:line(limit, what)
  while true do
    local e = self.buf:find("\r\n", self.pos, true)
    if e then
      if e - self.pos > limit then break end
      local line = self.buf:sub(self.pos, e - 1)
      self.pos = e + 2
      if line:find("[\r\n%z]") then
        return nil, "network", "the server sent a malformed " .. what .. " (a stray CR, LF or NUL)"
      end
      return line
    end
    if self:buffered() > limit then break end
    local ok, kind, message = self:fill()
    if not ok then return nil, kind, message end
  end
  return nil, "network", "the server sent a " .. what .. " longer than " .. limit .. " bytes"
end

-- Exactly n bytes, appended to parts.
function Reader:take(n, parts)
  while n > 0 do
    if self:buffered() == 0 then
      local ok, kind, message = self:fill()
      if not ok then return nil, kind, message end
    end
    local have = math.min(n, self:buffered())
    parts[#parts + 1] = self.buf:sub(self.pos, self.pos + have - 1)
    self.pos = self.pos + have
    n = n - have
  end
  return true
end

-- Everything until the server closes, at most max bytes.
function Reader:rest(max, parts)
  local size = 0
  while true do
    local have = self:buffered()
    if have > 0 then
      size = size + have
      if size > max then return nil, "too_large" end
      parts[#parts + 1] = self.buf:sub(self.pos)
      self.buf, self.pos = "", 1
    end
    local ok, kind, message, closed = self:fill()
    if not ok then
      if closed then return true end
      return nil, kind, message
    end
  end
end

local function too_large(max)
  return nil, "too_large", "the response is larger than max_body (" .. max .. " bytes); transfer aborted"
end

-- The status line and header fields: status, headers (lower-case names,
-- repeated fields joined with ", "), version; or nil, kind, message.
local function read_head(r)
  local interim = 0
  while true do
    local line, kind, message = r:line(LINE_MAX, "status line")
    if not line then return nil, kind, message end
    local minor, status = line:match("^HTTP/1%.([01]) (%d%d%d)")
    if not minor or not (line:len() == 12 or line:sub(13, 13) == " ") then
      return nil, "network", "the server did not send an HTTP/1.x status line"
    end
    status = tonumber(status)
    if status < 100 or status > 599 then
      return nil, "network", "the server sent status " .. status .. ", which HTTP does not have"
    end
    local headers, count, bytes = {}, 0, #line
    while true do
      line, kind, message = r:line(LINE_MAX, "header line")
      if not line then return nil, kind, message end
      bytes = bytes + #line + 2
      if bytes > HEADER_BYTES_MAX then
        return nil, "network", "the server sent more than " .. HEADER_BYTES_MAX .. " bytes of headers"
      end
      if line == "" then break end
      count = count + 1
      if count > HEADERS_MAX then
        return nil, "network", "the server sent more than " .. HEADERS_MAX .. " header fields"
      end
      local name, value = line:match("^([^:]*):[ \t]*(.-)[ \t]*$")
      if not name or not name:find(TOKEN) then
        return nil, "network", "the server sent a malformed header line"
      end
      name = name:lower()
      headers[name] = headers[name] and (headers[name] .. ", " .. value) or value
    end
    if status >= 200 then return status, headers, tonumber(minor) end
    if status == 101 then return nil, "network", "the server switched protocols, which was not asked for" end
    interim = interim + 1
    if interim > INTERIM_MAX then return nil, "network", "the server sent too many 1xx responses" end
  end
end

-- Content-Length: a number, false when absent, or nil, message.
local function content_length(value)
  if value == nil then return false end
  local n
  for part in (value .. ","):gmatch("[ \t]*([^,]-)[ \t]*,") do
    if not part:find("^%d+$") or #part > 15 then return nil, "a malformed Content-Length" end
    local v = tonumber(part)
    if n and v ~= n then return nil, "conflicting Content-Length values" end
    n = v
  end
  if not n then return nil, "a malformed Content-Length" end
  return n
end

local function read_chunked(r, max, parts)
  local size = 0
  while true do
    local line, kind, message = r:line(LINE_MAX, "chunk-size line")
    if not line then return nil, kind, message end
    local hex, ext = line:match("^(%x+)[ \t]*(.-)$")
    if not hex or (ext ~= "" and ext:sub(1, 1) ~= ";") then
      return nil, "network", "the server sent a malformed chunk size"
    end
    if #hex:match("^0*(.-)$") > CHUNK_DIGITS_MAX then
      return nil, "network", "the server sent a chunk size out of range"
    end
    local n = tonumber(hex, 16)
    if n == 0 then break end
    size = size + n
    if size > max then return too_large(max) end
    local ok
    ok, kind, message = r:take(n, parts)
    if not ok then return nil, kind, message end
    local crlf = {}
    ok, kind, message = r:take(2, crlf)
    if not ok then return nil, kind, message end
    if crlf[1] .. (crlf[2] or "") ~= "\r\n" then
      return nil, "network", "the server sent a chunk longer than its size"
    end
  end
  -- the trailer section: read and dropped
  local bytes = 0
  while true do
    local line, kind, message = r:line(LINE_MAX, "trailer line")
    if not line then return nil, kind, message end
    if line == "" then return true end
    bytes = bytes + #line + 2
    if bytes > HEADER_BYTES_MAX then return nil, "network", "the server sent too long a trailer" end
  end
end

-- The body by the rules of RFC 9112 section 6.3: body, reusable; or nil, kind, message.
local function read_body(r, method, status, headers, max)
  if method == "HEAD" or status == 204 or status == 304 then return "", true end
  local parts = {}
  local te = headers["transfer-encoding"]
  if te then
    if headers["content-length"] then
      return nil, "network", "the server sent both Transfer-Encoding and Content-Length"
    end
    if te:lower() ~= "chunked" then
      return nil, "network", "the server sent a Transfer-Encoding other than chunked: " .. te
    end
    local ok, kind, message = read_chunked(r, max, parts)
    if not ok then return nil, kind, message end
    return table.concat(parts), true
  end
  local n, bad = content_length(headers["content-length"])
  if n == nil then return nil, "network", "the server sent " .. bad end
  if n then
    if n > max then return too_large(max) end
    local ok, kind, message = r:take(n, parts)
    if not ok then return nil, kind, message end
    return table.concat(parts), true
  end
  -- neither: the body lasts until the server closes the connection
  local ok, kind, message = r:rest(max, parts)
  if not ok then
    if kind == "too_large" then return too_large(max) end
    return nil, kind, message
  end
  return table.concat(parts), false
end

-- Whether the connection may carry another request after this response.
local function keeps_alive(headers, minor)
  local connection = (headers.connection or ""):lower()
  for token in connection:gmatch("[^,%s]+") do
    if token == "close" then return false end
    if token == "keep-alive" and minor == 0 then return true end
  end
  return minor == 1
end

-- ---- writing --------------------------------------------------------------

local function request_bytes(method, url, headers, body)
  local lines = { method .. " " .. url.target .. " HTTP/1.1" }
  local has_host = false
  for name, value in pairs(headers or {}) do
    name, value = tostring(name), tostring(value)
    if not name:find(TOKEN) or value:find("[\r\n%z]") then
      return nil, "a request header holds a line break or an invalid name"
    end
    local lower = name:lower()
    if lower == "host" then has_host = true end
    if lower ~= "content-length" and lower ~= "connection" and lower ~= "transfer-encoding" then
      lines[#lines + 1] = name .. ": " .. value
    end
  end
  if not has_host then lines[#lines + 1] = "Host: " .. url.authority end
  if body or method == "POST" or method == "PUT" then
    lines[#lines + 1] = "Content-Length: " .. #(body or "")
  end
  lines[#lines + 1] = ""
  lines[#lines + 1] = body or ""
  return table.concat(lines, "\r\n")
end

-- ---- one exchange ---------------------------------------------------------

-- Connect (or reuse a pooled connection) and do TLS: sock, or nil, kind, message.
local function open(url, opts, deadline)
  local verify = opts.verify ~= false
  local server_name = opts.server_name or (not is_ip(url.host) and url.host or nil)
  if url.scheme == "https" and verify and not server_name then
    -- without a name nginx would check the chain only: any trusted
    -- certificate would do
    return nil, "tls", "nginx checks a certificate against a host name, not an IP address such as " ..
      url.host .. ": set tls_server_name to the name the certificate holds"
  end
  local sock, err = ngx.socket.tcp()
  if not sock then return nil, "network", "cannot make a socket: " .. tostring(err) end
  local connect_deadline = math.min(deadline, now() + opts.connect_timeout)
  local left = connect_deadline - now()
  if left <= 0 then return nil, "timeout", "no time left to connect" end
  sock:settimeout(math.max(1, math.ceil(left * 1000)))
  local pool = table.concat({ url.scheme, url.host, url.port, server_name or "", verify and "v" or "i" }, "|")
  local ok
  ok, err = sock:connect(url.host, url.port, { pool = pool, pool_size = opts.pool_size })
  if not ok then
    local where = url.authority
    if err == "timeout" then return nil, "timeout", "cannot connect to " .. where .. " in time" end
    return nil, "network", "cannot connect to " .. where .. ": " .. tostring(err)
  end
  if url.scheme == "https" and sock:getreusedtimes() == 0 then
    left = connect_deadline - now()
    if left <= 0 then
      sock:close()
      return nil, "timeout", "no time left for the TLS handshake with " .. url.authority
    end
    sock:settimeout(math.max(1, math.ceil(left * 1000)))
    ok, err = sock:sslhandshake(false, server_name, verify)
    -- Debian's ngx_lua 0.10.23 with lua-resty-core 0.1.25 may report a
    -- handshake that failed verification after yielding as a success, with
    -- the connection already closed: a closed socket tells.
    if ok and not sock:getreusedtimes() then
      ok, err = nil, "the certificate was refused (the error log says why)"
    end
    if not ok then
      sock:close()
      if err == "timeout" then
        return nil, "timeout", "the TLS handshake with " .. url.authority .. " did not finish in time"
      end
      return nil, "tls", "TLS with " .. url.authority .. " failed: " .. tostring(err) ..
        (verify and " (the certificate must be trusted by lua_ssl_trusted_certificate)" or "")
    end
  end
  return sock
end

--- Send one request and read its response.
-- @tparam table req `{ method, url, headers, body? }` as the paging core builds it
-- @tparam table opts `timeout`, `connect_timeout` (seconds), `max_body`
-- (bytes), `verify` (false: no certificate check), `server_name` (SNI and
-- the name the certificate must hold; default: the URL's host unless it is
-- an IP address), `keepalive_timeout` (ms), `pool_size`
-- @return `{ status, headers, body, reused, kept }` (`reused`: how many
-- exchanges the connection had carried before; `kept`: whether it went back
-- to the pool), or nil, kind, message
function M.request(req, opts)
  local url, bad = M.parse_url(req.url)
  if not url then return nil, "network", "cannot send to " .. tostring(req.url) .. ": " .. bad end
  local method = req.method or "GET"
  local bytes
  bytes, bad = request_bytes(method, url, req.headers, req.body)
  if not bytes then return nil, "network", "cannot send the request: " .. bad end
  local deadline = now() + opts.timeout

  for _ = 1, STALE_RETRIES do
    local sock, kind, message = open(url, opts, deadline)
    if not sock then return nil, kind, message end
    local reused = sock:getreusedtimes() > 0
    local left = deadline - now()
    if left <= 0 then
      sock:close()
      return nil, "timeout", "no time left to send the request"
    end
    sock:settimeout(math.max(1, math.ceil(left * 1000)))
    local sent, err = sock:send(bytes)
    local r = reader(sock, deadline)
    local status, headers, minor
    if sent then
      status, kind, message = read_head(r)
      if status then headers, minor = kind, message end
    else
      kind, message = err == "timeout" and "timeout" or "network",
        "cannot send the request: " .. tostring(err)
    end
    -- A kept-alive connection the server had already closed: try again on
    -- another (the request never reached it, or it was not answered).
    if not status and reused and r.received == 0 and kind == "network" then
      sock:close()
    else
      if not status then
        sock:close()
        return nil, kind, message
      end
      local body, reusable
      body, reusable, message = read_body(r, method, status, headers, opts.max_body)
      if not body then
        sock:close()
        return nil, reusable, message
      end
      local reused_times = sock:getreusedtimes()
      local kept = reusable and r:buffered() == 0 and keeps_alive(headers, minor)
      if kept then
        kept = sock:setkeepalive(opts.keepalive_timeout, opts.pool_size) and true or false
      else
        sock:close()
      end
      return { status = status, headers = headers, body = body, reused = reused_times, kept = kept }
    end
  end
  return nil, "network", "every kept-alive connection to " .. url.authority .. " was closed by the server"
end

return M
