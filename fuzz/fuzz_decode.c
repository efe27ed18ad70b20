/* fuzz_decode.c - libFuzzer over the response path: bytes -> me.decode ->
 * normalised page or error object, through a real Lua 5.4 state and the real
 * cjson.safe. The first byte picks the HTTP status, the rest is the body. */
#include <stdint.h>
#include <string.h>

#include "harness.h"

/* The invariants, in Lua: a page has integer counts (total may be absent:
 * every field of the service is optional) and string fields; an error
 * object has a known kind and prints. */
static const char *CHECK =
    "local me, status, body = ...\n"
    "local page, err = me.decode(status, body, { ['X-Request-Id'] = 'r' })\n"
    "if page then\n"
    "  assert(page.total == nil or (math.type(page.total) == 'integer' and page.total >= 0))\n"
    "  assert(math.type(page.limit) == 'integer' and math.type(page.offset) == 'integer')\n"
    "  assert(type(page.events) == 'table')\n"
    "  for i = 1, #page.events do local e = page.events[i]\n"
    "    assert(type(e) == 'table')\n"
    "    for _, f in ipairs { 'time', 'level', 'message', 'source' } do assert(type(e[f]) == 'string') end\n"
    "  end\n"
    "else\n"
    "  assert(err.kind == 'decode' or err.kind == 'http', tostring(err.kind))\n"
    "  assert(type(tostring(err)) == 'string' and err.status == status)\n"
    "end\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const int statuses[] = {200, 200, 200, 400, 404, 429, 500, 502};
    harness_setup(CHECK);
    if (size == 0)
        return 0;
    harness_push();
    lua_pushinteger(L, statuses[data[0] % 8]);
    lua_pushlstring(L, (const char *)data + 1, size - 1);
    harness_call(2);
    return 0;
}
