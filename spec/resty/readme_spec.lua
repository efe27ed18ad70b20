-- The README's OpenResty section, followed as written: its nginx.conf block
-- is run with its own command line (nginx -p <checkout>), the environment
-- holding only what the section exports; only the port it listens on is the
-- test's. Environment: see spec/resty/support.lua.
local t = dofile("spec/resty/support.lua")

local sh, quote, read = t.sh, t.quote, t.read
local PORT = t.extra_port(3)
local BASE = "http://127.0.0.1:" .. PORT

-- The OpenResty section of README.md: its nginx block and its sh block.
local function readme_section()
  local readme = assert(read("README.md"))
  local section = assert(readme:match("\n## OpenResty\n(.-)\n## "), "README.md has no OpenResty section")
  local conf = assert(section:match("```nginx\n(.-)```"), "no nginx block in the OpenResty section")
  local shell = assert(section:match("```sh\n(.-)```"), "no sh block in the OpenResty section")
  return conf, shell
end

t.describe_nginx(describe, pending, "README.md's OpenResty section", function()
  local dir, log

  setup(function()
    local cpath = t.cpath()
    dir = t.tmpdir()
    local conf, shell = readme_section()
    t.write(dir .. "/modelarts-events.conf", t.for_test(conf, PORT, cpath))
    -- the command line as the README gives it, with the test's folder
    local command = assert(shell:match("\n(nginx %-p [^\n]+)"), "no nginx command in the README")
    local globals = assert(command:match("%-g '([^']+)'"))
    assert.equal('nginx -p "$PWD" -c "$PWD/modelarts-events.conf" -g \'' .. globals .. "'", command)
    local code, out = sh(string.format("cd %s && %s nginx -p %s -c %s -g %s", quote(t.repo()), t.USER_ENV,
      quote(t.repo()), quote(dir .. "/modelarts-events.conf"),
      quote(globals:gsub("/tmp/me%-nginx", dir .. "/nginx"))))
    assert(code == 0, "nginx did not start: " .. out .. (read(dir .. "/nginx.log") or ""))
    log = dir .. "/nginx.log"
    t.wait_up(PORT)
  end)

  teardown(function() t.remove_nginx(dir) end)

  it("answers with a job's events, oldest first", function()
    local status, body = t.get(BASE .. "/events/reference")
    assert.equal(200, status, body)
    local lines = {}
    for line in body:gmatch("[^\n]+") do lines[#lines + 1] = line end
    assert.equal(27, #lines)
    assert.truthy(lines[27]:find(" Error Training job failed.", 1, true), lines[27])
    status, body = t.get(BASE .. "/events/gen-250")
    assert.equal(200, status, body)
    -- (generated messages hold line breaks; each holds its "#i" once)
    local seen, n = {}, 0
    for i in body:gmatch("#(%d+)") do
      assert.is_nil(seen[i], "event #" .. i .. " twice")
      seen[i], n = true, n + 1
    end
    assert.equal(250, n)
    assert.same({}, t.crashes(log))
  end)
end)
