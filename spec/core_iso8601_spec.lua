-- The C parser against the ISO-8601 vectors both parsers share
-- (spec/fixtures/iso8601.lua), through what users give it: the start_time
-- and end_time of a request.
local me = require "modelarts_events"
local vectors = dofile("spec/fixtures/iso8601.lua")

describe("ISO-8601 in the C client", function()
  local client
  setup(function()
    client = me.new { endpoint = "http://127.0.0.1:1", project_id = "p1", token = "tok" }
  end)
  teardown(function() client:close() end)

  for _, vector in ipairs(vectors) do
    local input, want = vector[1], vector[2]
    it(string.format("reads %q as %s", input, tostring(want)), function()
      local ok, req = pcall(client.request, client, "job", { start_time = input, end_time = input })
      if want == false then
        assert.is_false(ok, "accepted: " .. tostring(ok and req.url))
        assert.equal("invalid_argument", req.kind)
        assert.matches("ISO%-8601", req.message)
      elseif want < 0 then
        -- parsed, and refused only because the service counts from 1970
        assert.is_false(ok)
        assert.equal("invalid_argument", req.kind)
        assert.truthy(req.message:find("(" .. want .. " ms)", 1, true), req.message)
      else
        assert.is_true(ok, tostring(req))
        assert.truthy(req.url:find("start_time=" .. want .. "$"), req.url)
        assert.truthy(req.url:find("end_time=" .. want .. "&", 1, true), req.url)
      end
    end)
  end
end)
