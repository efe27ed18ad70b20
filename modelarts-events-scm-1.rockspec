-- The development rockspec: builds whatever the checkout holds.
rockspec_format = "3.0"
package = "modelarts-events"
version = "scm-1"
source = {
  url = "git+https://github.com/modelarts-events/modelarts-events.git",
  branch = "main",
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
external_dependencies = {
  CURL = { header = "curl/curl.h", library = "curl" },
  OPENSSL = { header = "openssl/hmac.h", library = "crypto" },
}
build = {
  type = "builtin",
  modules = {
    modelarts_events = {
      sources = {
        "src/buf.c", "src/client.c", "src/decode.c", "src/error.c",
        "src/modelarts_events.c", "src/pager.c", "src/request.c", "src/sign.c",
        "src/transport.c",
      },
      defines = { "_DEFAULT_SOURCE", "_XOPEN_SOURCE=700" },
      libraries = { "curl", "crypto" },
      incdirs = { "$(CURL_INCDIR)", "$(OPENSSL_INCDIR)" },
      libdirs = { "$(CURL_LIBDIR)", "$(OPENSSL_LIBDIR)" },
    },
    ["modelarts_events.filter"] = "lua/modelarts_events/filter.lua",
    ["modelarts_events.follow"] = "lua/modelarts_events/follow.lua",
    ["modelarts_events.format"] = "lua/modelarts_events/format.lua",
    ["modelarts_events.resty"] = "lua/modelarts_events/resty.lua",
    ["modelarts_events.time"] = "lua/modelarts_events/time.lua",
  },
  install = {
    bin = { ["modelarts-events"] = "bin/modelarts-events" },
  },
}
