-- luajit emulator/lua/emulator/test_signer.lua: the official vectors.
package.path = (arg[0]:match("^(.-)[^/]*$") or "") .. "../?.lua;" .. package.path
local s = require "emulator.apig_signer"
local host = "service.endpoint.myhuaweicloud.com"
local function check(method, body, names, headers, path, query, want)
  local canonical = s.canonical_request(method, path, query, headers, names, body)
  local got = s.sign("SecretKey", headers["x-sdk-date"], canonical)
  assert(got == want, method .. " " .. path .. ": " .. got)
end
check("GET", "", { "host", "x-sdk-date" }, { host = host, ["x-sdk-date"] = "20200608T023900Z" },
  "/resources", "size=1", "cfb4171acec81de07d50e53d57eb77edd537414d66ddb1d7d780f128e12cd842")
check("POST", '{"name":"test","id":1}', { "host", "x-sdk-date" }, { host = host, ["x-sdk-date"] = "20200608T023900Z" },
  "/resources", "size=1", "436b1ac0a1ae03705934bb70ef2f2e09f7bfed2117d731a38235053199323a1f")
check("GET", "", { "x-sdk-date" }, { ["x-sdk-date"] = "20060102T150405Z" },
  "/path", "limit=1", "5a2ce64c865e0e6046321c6f3d5a77ba8413eeaf355c3166c03d58d02ac79624")
check("POST", '{"Name":"test","Id":1}\n', { "x-sdk-date" }, { ["x-sdk-date"] = "20060102T150405Z" },
  "/path", "key=value", "cecc2af119b18ab70b4d094c0750f3b42c02f254903179a0fc2cc72fc9db4f59")
-- the canonical request of the first vector, as REFERENCE.md writes it
local canonical = s.canonical_request("GET", "/resources", "size=1",
  { host = host, ["x-sdk-date"] = "20200608T023900Z" }, { "x-sdk-date", "host" }, "")
assert(canonical == "GET\n/resources/\nsize=1\nhost:" .. host .. "\nx-sdk-date:20200608T023900Z\n\n" ..
  "host;x-sdk-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", canonical)
-- the SDKs' hard case for the canonical query: sorted by key then value, re-encoded
local query = s.canonical_query("test=%E4%B8%80%20%28%26%3D%3F%21%23%25.%2A%29&path=/tmp/123" ..
  "&multi=3&multi=1&limit=1&enable=true&multi=2")
assert(query == "enable=true&limit=1&multi=1&multi=2&multi=3&path=%2Ftmp%2F123" ..
  "&test=%E4%B8%80%20%28%26%3D%3F%21%23%25.%2A%29", query)
assert(s.canonical_uri("/v2/p/training-jobs/a%20b~c/events") == "/v2/p/training-jobs/a%20b~c/events/")
assert(s.canonical_uri("/") == "/")
print("signer: 4 vectors, canonical request, query and uri ok")
