-- luacheck configuration: the code runs on Lua 5.1 to 5.4 and LuaJIT.
std = "max"
max_line_length = 160
include_files = { "lua/**/*.lua", "bin/*", "spec/**/*.lua", "examples/*.lua", "bench/*.lua", "tools/*.lua", "emulator/**/*.lua",
  "*.rockspec", ".luacheckrc", ".busted" }
exclude_files = { "build", "fuzz/out" }

files["spec"] = { std = "+busted", max_line_length = false }  -- fixtures quote long messages
-- OpenResty code sees nginx's global.
files["lua/modelarts_events/resty.lua"] = { std = "+ngx_lua" }
files["lua/modelarts_events/resty"] = { std = "+ngx_lua" }
files["lua/modelarts_events/follow.lua"] = { read_globals = { "ngx" } }
files["emulator"] = { std = "+ngx_lua", max_line_length = false } -- fixtures quote long messages
files["spec/resty"] = { std = "+ngx_lua" }
files["*.rockspec"] = { std = "+rockspec" }
