/***
 * Renewable credentials: functions to give `me.new` as `token`, or as `ak`,
 * `sk` and `security_token`, that fetch credentials when first called and
 * again some time before they expire, so that a long iteration or follow
 * outlives a 24-hour IAM token or temporary AK/SK.
 * @submodule modelarts_events
 */
#include "sources.h"

#include <string.h>
#include <time.h>

#include <lauxlib.h>

#include "compat.h"

#include "client.h"
#include "error.h"

/* Upvalues of every source function. */
#define OPTIONS lua_upvalueindex(1) /* the fetch's options (without renew_before) */
#define STATE lua_upvalueindex(2)   /* what was fetched: fields, expires_at, fetched_at */
#define FETCH lua_upvalueindex(3)   /* me.iam_token or me.metadata_security_key */

static double wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec * 1000 + ts.tv_nsec / 1e6;
}

static double number_field(lua_State *L, int t, const char *key)
{
    double v;
    lua_getfield(L, t, key);
    v = lua_isnumber(L, -1) ? lua_tonumber(L, -1) : -1;
    lua_pop(L, 1);
    return v;
}

/* Fetch again when nothing was fetched yet, or (`when_due`) when the
 * credentials are within renew_before of their expiry (at most half their
 * life: a short-lived credential is not fetched again for every request).
 * A failed renewal while the old credentials are still valid keeps them;
 * otherwise its error is raised. */
static void renew(lua_State *L, int when_due)
{
    double now = wall_ms(), expires = number_field(L, STATE, "expires_at");
    double fetched = number_field(L, STATE, "fetched_at");
    double margin = number_field(L, STATE, "renew_before") * 1000;
    if (expires >= 0) {
        if (margin > (expires - fetched) / 2)
            margin = (expires - fetched) / 2;
        if (!when_due || now < expires - margin)
            return;
    }
    lua_pushvalue(L, FETCH);
    lua_pushvalue(L, OPTIONS);
    lua_call(L, 1, 2);
    if (lua_istable(L, -2)) {
        /* copy every field: one consistent set */
        lua_pushnil(L);
        while (lua_next(L, -3)) {
            lua_pushvalue(L, -2);
            lua_insert(L, -2);
            lua_settable(L, STATE);
        }
        lua_pushnumber(L, now);
        lua_setfield(L, STATE, "fetched_at");
        lua_pop(L, 2);
        return;
    }
    if (expires >= 0 && now < expires) {
        lua_pop(L, 2);
        return;
    }
    lua_remove(L, -2);
    lua_error(L);
}

/* token(): the token, and its expires_at and project_id. */
static int token_source(lua_State *L)
{
    renew(L, 1);
    lua_getfield(L, STATE, "token");
    lua_getfield(L, STATE, "expires_at");
    lua_getfield(L, STATE, "project_id");
    return 3;
}

/* ak() renews when due; sk() and security_token() return the set that
 * ak() last returned (the client asks for ak first), fetching only when
 * there is none yet. Upvalue 4: the field; 5: whether it renews. */
static int metadata_field(lua_State *L)
{
    renew(L, lua_toboolean(L, lua_upvalueindex(5)));
    lua_getfield(L, STATE, lua_tostring(L, lua_upvalueindex(4)));
    return 1;
}

/* Push the three upvalues for the options at idx: a copy without
 * renew_before (checked by `check`, which raises for bad options), a state
 * holding renew_before, and the fetch function. */
static void push_upvalues(lua_State *L, int idx, int decoder, lua_CFunction fetch)
{
    double renew_before = ME_RENEW_BEFORE;
    idx = me_absindex(L, idx);
    decoder = me_absindex(L, decoder);
    lua_newtable(L);
    if (lua_istable(L, idx)) {
        lua_pushnil(L);
        while (lua_next(L, idx)) {
            lua_pushvalue(L, -2);
            lua_insert(L, -2);
            lua_rawset(L, -4);
        }
    }
    lua_getfield(L, -1, "renew_before");
    if (!lua_isnil(L, -1)) {
        renew_before = lua_isnumber(L, -1) ? lua_tonumber(L, -1) : -1;
        if (!(renew_before >= 0 && renew_before <= 86400))
            me_error_argument(L, "renew_before", "renew_before must be a number of seconds "
                              "from 0 to 86400");
    }
    lua_pop(L, 1);
    lua_pushnil(L);
    lua_setfield(L, -2, "renew_before");
    lua_newtable(L);
    lua_pushnumber(L, renew_before);
    lua_setfield(L, -2, "renew_before");
    lua_pushvalue(L, decoder);
    lua_pushcclosure(L, fetch, 1);
}

void me_push_token_source(lua_State *L, int idx, int decoder)
{
    push_upvalues(L, idx, decoder, me_iam_token_lua);
    /* the options are checked now, not at the first request */
    me_login_options_check(L, -3);
    lua_pushcclosure(L, token_source, 3);
}

void me_push_metadata_credentials(lua_State *L, int idx, int decoder)
{
    static const char *const fields[] = {"ak", "sk", "security_token"};
    int i, up;
    push_upvalues(L, idx, decoder, me_metadata_security_key_lua);
    me_securitykey_options_check(L, -3);
    up = lua_gettop(L) - 2;
    lua_createtable(L, 0, 3);
    for (i = 0; i < 3; i++) {
        lua_pushvalue(L, up);
        lua_pushvalue(L, up + 1);
        lua_pushvalue(L, up + 2);
        lua_pushstring(L, fields[i]);
        lua_pushboolean(L, i == 0);
        lua_pushcclosure(L, metadata_field, 5);
        lua_setfield(L, -2, fields[i]);
    }
    lua_replace(L, up);
    lua_settop(L, up);
}

/***
 * A token function for `new`: logs in with `iam_token` at its first call,
 * and again `renew_before` seconds before the token expires (at most half
 * the token's life before). A renewal that fails while the token is still
 * valid keeps the old one (the next call tries again).
 * @function iam_token_source
 * @tparam table options those of `iam_token`, plus `renew_before` (seconds,
 * default 300)
 * @return a function returning the token, its expires_at (epoch ms) and the
 * project_id it is scoped to; bad options raise at once
 * @usage local client = me.new { region = "cn-north-4", project_id = "...",
 *   token = me.iam_token_source { region = "cn-north-4", domain = "my-account",
 *     user = "me", password = os.getenv("HUAWEICLOUD_SDK_PASSWORD") } }
 */
int me_iam_token_source_lua(lua_State *L)
{
    if (!lua_istable(L, 1))
        me_error_argument(L, "options", "me.iam_token_source expects a table of options");
    lua_settop(L, 1);
    me_push_token_source(L, 1, lua_upvalueindex(1));
    return 1;
}

/***
 * Temporary AK/SK/security token from the metadata service, renewed: a
 * table of `ak`, `sk` and `security_token` functions to give `new` (or to
 * merge into its configuration). `ak()` fetches at its first call and again
 * `renew_before` seconds before expiry; `sk()` and `security_token()` return
 * the set `ak()` last returned, so that every request is signed with one
 * consistent set.
 * @function metadata_credentials
 * @tparam[opt] table options those of `metadata_security_key`, plus
 * `renew_before` (seconds, default 300)
 * @treturn table `{ ak = function, sk = function, security_token = function }`
 * @usage local creds = me.metadata_credentials()
 * local client = me.new { region = "cn-north-4", ak = creds.ak, sk = creds.sk,
 *   security_token = creds.security_token }
 */
int me_metadata_credentials_lua(lua_State *L)
{
    if (!lua_isnoneornil(L, 1) && !lua_istable(L, 1))
        me_error_argument(L, "options", "me.metadata_credentials expects a table of options");
    lua_settop(L, 1);
    me_push_metadata_credentials(L, 1, lua_upvalueindex(1));
    return 1;
}
