/* fuzz_time_diff.c - libFuzzer, differential: the C ISO-8601 parser and the
 * Lua one (modelarts_events.time.parse, in an embedded Lua 5.4 state) read
 * the same bytes; they must agree on whether it is a time and on its epoch
 * milliseconds. One semantics: spec/fixtures/iso8601.lua. */
#include <stdint.h>
#include <string.h>

#include "harness.h"
#include "request.h"

#ifndef ME_LUA_DIR
#error "build with -DME_LUA_DIR=\"<checkout>/lua\""
#endif

static const char *CHECK =
    "local me, s, c_ok, c_ms = ...\n"
    "if not TIME then\n"
    "  package.path = '" ME_LUA_DIR "/?.lua;' .. package.path\n"
    "  TIME = require 'modelarts_events.time'\n"
    "end\n"
    "local ok, lua_ms = pcall(TIME.parse, s)\n"
    "assert(ok, 'time.parse raised: ' .. tostring(lua_ms))\n"
    "if c_ok then\n"
    "  assert(lua_ms == c_ms, string.format('%q: C reads %d, Lua %s', s, c_ms, tostring(lua_ms)))\n"
    "else\n"
    "  assert(lua_ms == nil, string.format('%q: C refuses it, Lua reads %s', s, tostring(lua_ms)))\n"
    "end\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    long long ms = 0;
    int ok = me_parse_iso8601((const char *)data, size, &ms) == 0;
    harness_setup(CHECK);
    harness_push();
    lua_pushlstring(L, (const char *)data, size);
    lua_pushboolean(L, ok);
    lua_pushinteger(L, (lua_Integer)ms);
    harness_call(3);
    return 0;
}
