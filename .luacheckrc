-- luacheck: the code runs on Lua 5.1 to 5.4 and LuaJIT.
std = "max"
max_line_length = 160
include_files = { "lua", "bin", "spec", "examples", "bench/*.lua", "emulator/**/*.lua", "*.rockspec", ".luacheckrc" }
exclude_files = { "build", "fuzz/out" }

files["spec"] = { std = "+busted", max_line_length = false }  -- fixtures quote long messages
-- OpenResty code sees nginx's global.
files["lua/modelarts_events/resty.lua"] = { read_globals = { "ngx" } }
files["lua/modelarts_events/follow.lua"] = { read_globals = { "ngx" } }
files["examples/openresty_handler.lua"] = { read_globals = { "ngx" } }
files["emulator"] = { read_globals = { "ngx" } }
files["spec/resty"] = { read_globals = { "ngx" } }
files["*.rockspec"] = { std = "+rockspec" }
