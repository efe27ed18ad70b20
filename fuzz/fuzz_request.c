/* fuzz_request.c - libFuzzer over request building: random parameters ->
 * validation, encoding, signing (client:request with AK/SK) and me.sign.
 *
 * Input format: fields separated by a 0xFF byte, in this order: job id,
 * pattern, level, source, order, offset, limit, start_time, end_time,
 * language, and a URL for me.sign. A field that is absent stays nil; the
 * numeric ones are passed as numbers when they parse as one, else as the
 * raw string (which must be refused). */
#include <stdint.h>
#include <string.h>

#include "harness.h"

static const char *CHECK =
    "local me, f = ...\n"
    "local c = me.new { endpoint = 'http://127.0.0.1:1', project_id = 'p', ak = 'AK',\n"
    "                   sk = 'SK-secret-value', security_token = 'ST-secret-value' }\n"
    "local function num(s) return s and (math.tointeger(tonumber(s)) or tonumber(s) or s) end\n"
    "local params = { pattern = f[2], level = f[3], source = f[4], order = f[5], offset = num(f[6]),\n"
    "  limit = num(f[7]), start_time = num(f[8]), end_time = num(f[9]), language = f[10] }\n"
    "local function clean(err)\n"
    "  assert(type(err) == 'table' and err.kind == 'invalid_argument', tostring(err))\n"
    "  local text = tostring(err) .. tostring(err.message)\n"
    "  assert(not text:find('SK-secret-value', 1, true) and not text:find('ST-secret-value', 1, true))\n"
    "end\n"
    "local ok, req = pcall(c.request, c, f[1] or '', params)\n"
    "if ok then\n"
    "  assert(req.url:find('^http://127%.0%.0%.1:1/v2/p/training%-jobs/[^/?]+/events%?'))\n"
    "  assert(not req.url:find('[%s%c]'))\n"
    "  for k, v in pairs(req.headers) do assert(not (k .. v):find('[\\r\\n%z]')) end\n"
    "  assert(req.headers.Authorization:find('^SDK%-HMAC%-SHA256 Access=AK, SignedHeaders=[%l%-;]+, Signature=%x+$'))\n"
    "else clean(req) end\n"
    "local ok2, auth = pcall(me.sign, { method = 'GET', url = f[11] or 'http://h/', body = f[2],\n"
    "  headers = { ['X-Sdk-Date'] = f[3] or '20200608T023900Z', Host = f[4] }, ak = 'AK', sk = 'SK-secret-value' })\n"
    "if ok2 then assert(auth:find('Signature=%x+$')) else clean(auth) end\n"
    "c:close()\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t start = 0, i;
    int field = 1;
    harness_setup(CHECK);
    harness_push();
    lua_newtable(L);
    for (i = 0; i <= size && field <= 11; i++) {
        if (i == size || data[i] == 0xFF) {
            lua_pushlstring(L, (const char *)data + start, i - start);
            lua_rawseti(L, -2, field++);
            start = i + 1;
        }
    }
    harness_call(1);
    return 0;
}
