-- SDK-HMAC-SHA256 verification, written apart from the client's C code (it
-- shares none of it) and run through LuaJIT's FFI to libcrypto, so that a
-- bug in one cannot hide the same bug in the other.
local ffi = require "ffi"

ffi.cdef [[
typedef struct evp_md_st EVP_MD;
const EVP_MD *EVP_sha256(void);
int EVP_Digest(const void *data, size_t count, unsigned char *md, unsigned int *size,
               const EVP_MD *type, void *impl);
unsigned char *HMAC(const EVP_MD *evp_md, const void *key, int key_len,
                    const unsigned char *d, size_t n, unsigned char *md, unsigned int *md_len);
]]
local crypto = ffi.load("libcrypto.so.3")

local M = {}

local function hex(buf, n)
  local out = {}
  for i = 0, n - 1 do out[#out + 1] = string.format("%02x", buf[i]) end
  return table.concat(out)
end

function M.sha256_hex(s)
  local md, len = ffi.new("unsigned char[64]"), ffi.new("unsigned int[1]")
  assert(crypto.EVP_Digest(s, #s, md, len, crypto.EVP_sha256(), nil) == 1)
  return hex(md, len[0])
end

function M.hmac_hex(key, s)
  local md, len = ffi.new("unsigned char[64]"), ffi.new("unsigned int[1]")
  assert(crypto.HMAC(crypto.EVP_sha256(), key, #key, s, #s, md, len) ~= nil)
  return hex(md, len[0])
end

local function decode(s)
  return (s:gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end))
end

local function encode(s)
  return (s:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", c:byte()) end))
end

function M.canonical_uri(path)
  local parts = {}
  for segment in (path .. "/"):gmatch("([^/]*)/") do parts[#parts + 1] = encode(decode(segment)) end
  local uri = table.concat(parts, "/")
  if uri:sub(-1) ~= "/" then uri = uri .. "/" end
  return uri
end

function M.canonical_query(query)
  local pairs_ = {}
  for part in (query or ""):gmatch("[^&]+") do
    local k, v = part:match("^([^=]*)=?(.*)$")
    pairs_[#pairs_ + 1] = { encode(decode(k)), encode(decode(v)) }
  end
  table.sort(pairs_, function(a, b)
    if a[1] ~= b[1] then return a[1] < b[1] end
    return a[2] < b[2]
  end)
  for i, p in ipairs(pairs_) do pairs_[i] = p[1] .. "=" .. p[2] end
  return table.concat(pairs_, "&")
end

--- The canonical request of a request given as plain values; headers maps
-- lowercase names to values; names lists the signed ones.
function M.canonical_request(method, path, query, headers, names, body)
  -- the names are taken sorted, whatever order the Authorization listed them in
  local sorted = {}
  for i, name in ipairs(names) do sorted[i] = name end
  table.sort(sorted)
  names = sorted
  local lines = {}
  for _, name in ipairs(names) do
    local v = headers[name]
    if type(v) == "table" then v = table.concat(v, ",") end
    lines[#lines + 1] = name .. ":" .. ((v or ""):match("^%s*(.-)%s*$")) .. "\n"
  end
  return table.concat({ method, M.canonical_uri(path), M.canonical_query(query),
    table.concat(lines), table.concat(names, ";"), M.sha256_hex(body or "") }, "\n")
end

--- Parse "SDK-HMAC-SHA256 Access=AK, SignedHeaders=a;b, Signature=hex".
function M.parse(authorization)
  local ak, names, signature = authorization:match(
    "^SDK%-HMAC%-SHA256%s+Access=([^,%s]+),%s*SignedHeaders=([^,%s]+),%s*Signature=(%x+)%s*$")
  if not ak then return nil end
  local list = {}
  for name in names:gmatch("[^;]+") do list[#list + 1] = name end
  return ak, list, signature, names
end

-- "20200608T023900Z" -> epoch seconds
function M.date_seconds(s)
  local y, mo, d, h, mi, se = (s or ""):match("^(%d%d%d%d)(%d%d)(%d%d)T(%d%d)(%d%d)(%d%d)Z$")
  if not y then return nil end
  local t = os.time { year = tonumber(y), month = tonumber(mo), day = tonumber(d),
                      hour = tonumber(h), min = tonumber(mi), sec = tonumber(se), isdst = false }
  -- os.time reads the fields as local time; the date is UTC, so add the
  -- local zone's offset back (isdst = false above keeps DST out of it)
  local now = os.time()
  local utc_offset = os.difftime(now, os.time(os.date("!*t", now)))
  return t + utc_offset
end

--- The string to sign and the expected signature.
function M.sign(sk, date, canonical)
  local string_to_sign = "SDK-HMAC-SHA256\n" .. date .. "\n" .. M.sha256_hex(canonical)
  return M.hmac_hex(sk, string_to_sign), string_to_sign
end

return M
