-- The versioned rockspec; `make rockspec-check` verifies that its version is
-- src/version.h's.
rockspec_format = "3.0"
package = "modelarts-events"
version = "0.1.0-1"
source = {
  url = "git+https://github.com/modelarts-events/modelarts-events.git",
  tag = "v0.1.0",
}
description = {
  summary = "Read the events of a Huawei Cloud ModelArts training job from Lua",
  detailed = [[
A C client (libcurl, lua-cjson, OpenSSL) for ModelArts' ListTrainingJobEvents
API: token or AK/SK (SDK-HMAC-SHA256) authentication, validation before
sending, pages and iterators with concurrent prefetch, retries; plus filters,
formats, follow mode, a non-blocking OpenResty driver and a command line.
]],
  license = "MIT",
  labels = { "huaweicloud", "modelarts", "openresty", "curl" },
}
dependencies = {
  "lua >= 5.1",
  "lua-cjson",
  "argparse",
}
-- The build is the Makefile's (`make luarocks-build`, `make luarocks-install`):
-- it finds libcurl and libcrypto with pkg-config (Debian's multiarch headers
-- included), builds for the Lua LuaRocks drives in a folder of its own, and
-- installs every module under lua/ and the command line.
external_dependencies = {
  OPENSSL = { header = "openssl/hmac.h", library = "crypto" },
}
build = {
  type = "make",
  build_target = "luarocks-build",
  build_variables = {
    CFLAGS = "$(CFLAGS)",
    LUA = "$(LUA)",
    LUA_INCLUDE_DIR = "$(LUA_INCDIR)",
  },
  install_target = "luarocks-install",
  install_variables = {
    LUA = "$(LUA)",
    LUA_CMODULE_DIR = "$(LIBDIR)",
    LUA_MODULE_DIR = "$(LUADIR)",
    LUA_BIN_DIR = "$(BINDIR)",
  },
}
