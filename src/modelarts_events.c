/***
 * modelarts_events: read the events of a Huawei Cloud ModelArts training job.
 *
 * The client validates and encodes requests, signs them (token or AK/SK,
 * SDK-HMAC-SHA256), talks HTTP through libcurl, decodes JSON through
 * lua-cjson (its `cjson.safe`, required at load time) and returns events as
 * plain Lua tables, a page at a time or through iterators over all pages.
 *
 * State lives in upvalues (cjson's decode function) and userdata, never in C
 * globals, so several Lua states may load the module.
 * @module modelarts_events
 */
#include <curl/curl.h>
#include <lauxlib.h>

#include "client.h"
#include "compat.h"
#include "config.h"
#include "decode.h"
#include "error.h"
#include "interrupt.h"
#include "pager.h"
#include "sign.h"
#include "sources.h"
#include "system.h"
#include "util.h"
#include "version.h"

/***
 * Sleep, blocking the whole process: for scripts, never inside nginx. A
 * Ctrl-C ends it at once under an interpreter that handles SIGINT (lua.c,
 * luajit.c): it raises "interrupted!" as the interpreter would.
 * @function sleep
 * @tparam number seconds finite; nothing happens for 0 or less
 */
static int me_sleep(lua_State *L)
{
    double s = lua_type(L, 1) == LUA_TNUMBER ? lua_tonumber(L, 1) : 0.0 / 0.0;
    if (s != s || s - s != 0) /* NaN or infinite */
        me_error_argument(L, "seconds", "me.sleep: seconds must be a finite number");
    for (; s > 0; s -= 86400) {
        if (me_sleep_interruptible(s > 86400 ? 86400 : s)) {
            lua_pushliteral(L, "interrupted!");
            return lua_error(L);
        }
    }
    return 0;
}

/* Push cjson.safe's own decoder instance, with our depth limit, so that the
 * settings of other users of cjson are neither changed nor relied on. */
static void push_decoder(lua_State *L)
{
    me_push_cjson(L);
    lua_getfield(L, -1, "decode_max_depth");
    lua_pushinteger(L, ME_DECODE_MAX_DEPTH);
    lua_call(L, 1, 0);
    lua_getfield(L, -1, "decode");
    lua_remove(L, -2);
}

int luaopen_modelarts_events(lua_State *L)
{
    static const luaL_Reg functions[] = {
        {"new", me_client_new},
        {"decode", me_decode_lua},
        {"sign", me_sign_lua},
        {"sleep", me_sleep},
        {"config_from_env", me_config_from_env},
        {"iam_token", me_iam_token_lua},
        {"iam_token_pager", me_iam_token_pager_lua},
        {"iam_token_source", me_iam_token_source_lua},
        {"metadata_security_key", me_metadata_security_key_lua},
        {"metadata_security_key_pager", me_metadata_security_key_pager_lua},
        {"metadata_credentials", me_metadata_credentials_lua},
        {"error", me_error_new_lua},
        {"isatty", me_isatty_lua},
        {"monotonic", me_monotonic_lua},
        {"now_ms", me_now_ms_lua},
        {"utc_offset", me_utc_offset_lua},
        {"sigint_disposition", me_sigint_disposition_lua},
        {"ignore_interrupts", me_ignore_interrupts_lua},
        {NULL, NULL}};
    /* Idempotent and reference counted inside libcurl. */
    me_error_init(L);
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        me_error_raise(L, "network", "libcurl failed to initialise");
    push_decoder(L);
    me_pager_register(L);
    me_client_register(L);
    lua_newtable(L);
    lua_pushvalue(L, -2);
    me_setfuncs(L, functions, 1);
    lua_pushliteral(L, ME_VERSION);
    lua_setfield(L, -2, "VERSION");
    return 1;
}
