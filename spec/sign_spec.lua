-- me.sign: SDK-HMAC-SHA256 against the official SDKs' test vectors.
local me = require "modelarts_events"

local HOST = "service.endpoint.myhuaweicloud.com"
local function sign(t)
  t.ak, t.sk = t.ak or "AccessKey", t.sk or "SecretKey"
  return me.sign(t)
end
local function signature(auth) return auth:match("Signature=(%x+)$") end

describe("me.sign", function()
  it("passes python-v3's GET vector, canonical request and string to sign included", function()
    local auth, canonical, to_sign = sign { method = "GET", url = "https://" .. HOST .. "/resources?size=1",
      headers = { Host = HOST, ["X-Sdk-Date"] = "20200608T023900Z" } }
    assert.equal("SDK-HMAC-SHA256 Access=AccessKey, SignedHeaders=host;x-sdk-date, " ..
      "Signature=cfb4171acec81de07d50e53d57eb77edd537414d66ddb1d7d780f128e12cd842", auth)
    assert.equal("GET\n/resources/\nsize=1\nhost:" .. HOST .. "\nx-sdk-date:20200608T023900Z\n\n" ..
      "host;x-sdk-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", canonical)
    assert.matches("^SDK%-HMAC%-SHA256\n20200608T023900Z\n%x+$", to_sign)
  end)

  it("passes python-v3's POST vector", function()
    local auth = sign { method = "POST", url = "https://" .. HOST .. "/resources?size=1",
      body = '{"name":"test","id":1}', headers = { Host = HOST, ["X-Sdk-Date"] = "20200608T023900Z" } }
    assert.equal("436b1ac0a1ae03705934bb70ef2f2e09f7bfed2117d731a38235053199323a1f", signature(auth))
  end)

  it("passes go-v3's vectors, which sign X-Sdk-Date alone", function()
    local auth = sign { method = "GET", url = "https://host/path?limit=1",
      headers = { ["X-Sdk-Date"] = "20060102T150405Z" } }
    assert.matches("SignedHeaders=x%-sdk%-date,", auth)
    assert.equal("5a2ce64c865e0e6046321c6f3d5a77ba8413eeaf355c3166c03d58d02ac79624", signature(auth))
    auth = sign { method = "POST", url = "https://host/path?key=value", body = '{"Name":"test","Id":1}\n',
      headers = { ["X-Sdk-Date"] = "20060102T150405Z" } }
    assert.equal("cecc2af119b18ab70b4d094c0750f3b42c02f254903179a0fc2cc72fc9db4f59", signature(auth))
  end)

  it("builds the SDKs' canonical query for the hard case", function()
    local _, canonical = sign { method = "GET",
      url = "http://h/p?test=%E4%B8%80%20%28%26%3D%3F%21%23%25.%2A%29&path=%2Ftmp%2F123&multi=3&multi=1&multi=2&limit=1&enable=true",
      headers = { ["X-Sdk-Date"] = "20200608T023900Z" } }
    assert.equal("enable=true&limit=1&multi=1&multi=2&multi=3&path=%2Ftmp%2F123&test=%E4%B8%80%20%28%26%3D%3F%21%23%25.%2A%29",
      canonical:match("^[^\n]*\n[^\n]*\n([^\n]*)"))
  end)

  it("signs exactly the headers given, names lowercased and values trimmed", function()
    local _, canonical = sign { method = "GET", url = "http://h:8080/a",
      headers = { ["X-SDK-Date"] = "20200608T023900Z", HOST = "  h:8080 ", ["X-Custom"] = " v " } }
    assert.matches("\nhost:h:8080\nx%-custom:v\nx%-sdk%-date:20200608T023900Z\n\nhost;x%-custom;x%-sdk%-date\n", canonical)
    local _, without_host = sign { method = "GET", url = "http://h:8080/a", headers = { ["X-Sdk-Date"] = "x" } }
    assert.is_nil(without_host:find("host", 1, true))
  end)

  it("encodes path segments, spaces as %20", function()
    local _, canonical = sign { method = "GET", url = "http://h/a%20b/%C3%BC?x=a+b c",
      headers = { ["X-Sdk-Date"] = "x" } }
    assert.equal("/a%20b/%C3%BC/", canonical:match("^GET\n([^\n]*)"))
    assert.equal("x=a%2Bb%20c", canonical:match("^[^\n]*\n[^\n]*\n([^\n]*)"))
    local _, root = sign { method = "GET", url = "http://h", headers = { ["X-Sdk-Date"] = "x" } }
    assert.equal("/", root:match("^GET\n([^\n]*)"))
  end)

  it("refuses bad input without showing the SK", function()
    local secret = "SK-do-not-show"
    for field, t in pairs {
      sk = { method = "GET", url = "http://h/", headers = { ["X-Sdk-Date"] = "x" }, ak = "a", sk = 5 },
      headers = { method = "GET", url = "http://h/", headers = "x", ak = "a", sk = secret },
      method = { url = "http://h/", headers = {}, ak = "a", sk = secret },
    } do
      local ok, err = pcall(me.sign, t)
      assert.is_false(ok, field)
      assert.equal("invalid_argument", err.kind)
      assert.equal(field, err.field)
      assert.is_nil(tostring(err):find(secret, 1, true))
    end
    local ok, err = pcall(me.sign, { method = "GET", url = "http://h/", headers = { Host = "h" }, ak = "a", sk = secret })
    assert.is_false(ok)
    assert.matches("X%-Sdk%-Date", err.message)
    ok, err = pcall(me.sign, { method = "GET", url = "http://h/", headers = { Host = 1 }, ak = "a", sk = secret })
    assert.is_false(ok)
    assert.equal("headers", err.field)
  end)

  it("signs the path of a relative URL whose query holds '://'", function()
    local _, canonical = sign { method = "GET", url = "/path?u=http://x",
      headers = { ["X-Sdk-Date"] = "20200608T023900Z" } }
    assert.equal("GET\n/path/\nu=http%3A%2F%2Fx\n", canonical:sub(1, #"GET\n/path/\nu=http%3A%2F%2Fx\n"))
    local _, absolute = sign { method = "GET", url = "https://h/path?u=http://x",
      headers = { ["X-Sdk-Date"] = "20200608T023900Z" } }
    assert.equal(canonical, absolute)
  end)
end)
