/* pager_lua.c - the paging core's methods for drivers written in Lua (the
 * OpenResty one): next, feed, take, done, retries, close; see pager.h. */
#include "pager.h"

#include <string.h>

#include <lauxlib.h>

#include "compat.h"
#include "error.h"
#include "util.h"

static me_pager *check_pager(lua_State *L)
{
    return (me_pager *)me_check_object(L, 1, ME_PAGER_MT, "pager");
}

/* pager:next([creds]) -> "send", seq, request | "wait", seconds | "idle" |
 * "done"; raises an error object when it cannot go on. `creds`: strings
 * { token, ak, sk, security_token } for this request instead of the
 * client's own. */
static int pager_next(lua_State *L)
{
    me_pager *p = check_pager(L);
    me_request req;
    long seq = 0;
    double wait = 0;
    enum me_next what;
    if (me_pager_closed(p))
        me_error_raise(L, "invalid_argument", "the pager is closed");
    if (!lua_isnoneornil(L, 2) && !lua_istable(L, 2))
        me_error_argument(L, "creds", "pager:next: creds must be a table of strings");
    lua_settop(L, 2);
    me_request_init(&req);
    what = me_pager_next(L, p, lua_istable(L, 2) ? 2 : 0, &req, &seq, &wait);
    switch (what) {
    case ME_SEND:
        lua_pushliteral(L, "send");
        me_pushinteger(L, seq);
        me_request_push(L, &req);
        me_request_free(&req);
        return 3;
    case ME_WAIT:
        lua_pushliteral(L, "wait");
        lua_pushnumber(L, wait);
        return 2;
    case ME_IDLE:
        lua_pushliteral(L, "idle");
        return 1;
    case ME_FAIL:
        me_request_free(&req);
        return lua_error(L);
    default:
        me_request_free(&req);
        lua_pushliteral(L, "done");
        return 1;
    }
}

/* A number argument as a long, whatever its size. */
static long check_long(lua_State *L, int idx, const char *name)
{
    if (lua_type(L, idx) != LUA_TNUMBER)
        me_error_argument(L, name, "pager:feed: %s must be a number", name);
    return (long)me_clamp_ll(lua_tonumber(L, idx), -2000000000LL, 2000000000LL);
}

/* pager:feed(seq, status, body, headers) for a response;
 * pager:feed(seq, nil, kind, message) for a transfer that failed. */
static int pager_feed(lua_State *L)
{
    me_pager *p = check_pager(L);
    long seq = check_long(L, 2, "seq");
    int rc;
    if (me_pager_closed(p))
        return 0;
    if (lua_isnil(L, 3)) {
        if (lua_type(L, 4) != LUA_TSTRING)
            me_error_argument(L, "kind", "pager:feed: a failed transfer needs its kind");
        rc = me_pager_fail(L, p, seq, lua_tostring(L, 4),
                           lua_type(L, 5) == LUA_TSTRING ? lua_tostring(L, 5)
                                                         : "transfer failed");
    } else {
        me_response r;
        memset(&r, 0, sizeof r);
        r.status = check_long(L, 3, "status");
        r.body = "";
        if (lua_type(L, 4) == LUA_TSTRING)
            r.body = lua_tolstring(L, 4, &r.len);
        r.request_id = me_header_find(L, 5, "x-request-id");
        r.retry_after = me_header_find(L, 5, "retry-after");
        r.date = me_header_find(L, 5, "date");
        r.subject_token = me_header_find(L, 5, "x-subject-token");
        rc = me_pager_feed(L, p, lua_upvalueindex(1), seq, &r);
    }
    return rc == 0 ? 0 : lua_error(L);
}

/* pager:take() -> page | nil, err | false (not yet) | nil (done) */
static int pager_take(lua_State *L)
{
    me_pager *p = check_pager(L);
    int r = me_pager_closed(p) ? 0 : me_pager_take(L, p);
    if (r == 1)
        return 1;
    if (r < 0) {
        lua_pushnil(L);
        lua_insert(L, -2);
        return 2;
    }
    if (me_pager_done(p))
        lua_pushnil(L);
    else
        lua_pushboolean(L, 0);
    return 1;
}

static int pager_done(lua_State *L)
{
    lua_pushboolean(L, me_pager_done(check_pager(L)));
    return 1;
}

/* pager:retries() -> { {err, delay}, ... } scheduled since the last call,
 * or nil: for drivers that report them (the client's on_retry). */
static int pager_retries(lua_State *L)
{
    if (me_pager_push_retries(L, check_pager(L)) == 0)
        lua_pushnil(L);
    return 1;
}

/* __gc, __close and close(): drop everything, idempotently. */
static int pager_close(lua_State *L)
{
    me_pager_close(L, check_pager(L));
    return 0;
}

void me_pager_register(lua_State *L)
{
    static const luaL_Reg methods[] = {
        {"next", pager_next}, {"feed", pager_feed}, {"take", pager_take},
        {"done", pager_done}, {"retries", pager_retries}, {"close", pager_close},
        {NULL, NULL}};
    me_class_register(L, ME_PAGER_MT, methods, pager_close, NULL);
}
