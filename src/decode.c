/* decode.c - the one place where responses become pages or errors, shared by
 * list(), the iterators, the OpenResty driver (through me.decode) and fuzzing.
 * cjson builds the tables; this file only checks and normalises them in
 * place, so an event costs no more than cjson's own work. */
#include "decode.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#include "compat.h"
#include "error.h"

static void push_http_error(lua_State *L, int decoder, long status, const char *body,
                            size_t len, const char *request_id)
{
    me_error e;
    char message[300];
    int top = lua_gettop(L);
    memset(&e, 0, sizeof e);
    e.kind = "http";
    e.status = status;
    e.request_id = request_id;
    e.retryable = status == 429 || status >= 500;
    /* The gateway and the service answer {"error_code", "error_msg"}; a proxy
     * in between may answer HTML, which is reported without its markup. */
    lua_pushvalue(L, decoder);
    lua_pushlstring(L, body, len);
    lua_call(L, 1, 1);
    if (lua_istable(L, -1)) {
        lua_getfield(L, -1, "error_code");
        lua_getfield(L, -2, "error_msg");
        if (lua_type(L, -2) == LUA_TSTRING)
            e.code = lua_tostring(L, -2);
        if (lua_type(L, -1) == LUA_TSTRING)
            e.message = lua_tostring(L, -1);
    }
    if (!e.message) {
        snprintf(message, sizeof message, "the server answered HTTP %ld%s", status,
                 len ? " with a body that is not a JSON error" : " with an empty body");
        e.message = message;
    }
    me_error_push(L, &e);
    lua_replace(L, top + 1);
    lua_settop(L, top + 1);
}

static int push_decode_error(lua_State *L, int top, long status, const char *request_id,
                             const char *message)
{
    me_error e;
    memset(&e, 0, sizeof e);
    e.kind = "decode";
    e.status = status;
    e.request_id = request_id;
    e.message = message;
    lua_settop(L, top);
    me_error_push(L, &e);
    return 0;
}

/* Replace page[key] by a whole number from a number or a numeric string. */
static int normalise_count(lua_State *L, int page, const char *key, long long fallback)
{
    long long v = fallback;
    lua_getfield(L, page, key);
    if (lua_type(L, -1) == LUA_TNUMBER) {
        lua_Number n = lua_tonumber(L, -1);
        if (n != floor(n) || n < 0 || n > 9e15) {
            lua_pop(L, 1);
            return -1;
        }
        v = (long long)n;
    } else if (lua_type(L, -1) == LUA_TSTRING) {
        const char *s = lua_tostring(L, -1);
        char *end;
        if (!*s || strspn(s, "0123456789") != strlen(s) || strlen(s) > 15) {
            lua_pop(L, 1);
            return -1;
        }
        v = strtoll(s, &end, 10);
    } else if (!lua_isnil(L, -1) || fallback < 0) {
        lua_pop(L, 1);
        return -1;
    }
    lua_pop(L, 1);
    me_pushinteger(L, v);
    lua_setfield(L, page, key);
    return 0;
}

static const char *const EVENT_FIELDS[] = {"time", "level", "message", "source"};

/* Each event must be an object whose four fields are strings; a field the
 * server left out or sent as null becomes "" so that callers can always
 * concatenate. Returns a static message on a wrong type. */
static const char *check_events(lua_State *L, int events)
{
    size_t i, n = me_rawlen(L, events);
    int f;
    if (n == 0) {
        /* cjson gives {} for both [] and {}; only an object with members is wrong. */
        lua_pushnil(L);
        if (lua_next(L, events)) {
            lua_pop(L, 2);
            return "events is not an array";
        }
        return NULL;
    }
    for (i = 1; i <= n; i++) {
        lua_rawgeti(L, events, (int)i);
        if (!lua_istable(L, -1)) {
            lua_pop(L, 1);
            return "an event is not an object";
        }
        for (f = 0; f < 4; f++) {
            lua_getfield(L, -1, EVENT_FIELDS[f]);
            if (lua_type(L, -1) != LUA_TSTRING) {
                if (lua_type(L, -1) != LUA_TNIL && lua_type(L, -1) != LUA_TLIGHTUSERDATA) {
                    lua_pop(L, 2);
                    return "an event field is not a string";
                }
                lua_pushliteral(L, "");
                lua_setfield(L, -3, EVENT_FIELDS[f]);
            }
            lua_pop(L, 1);
        }
        lua_pop(L, 1);
    }
    return NULL;
}

int me_decode(lua_State *L, int decoder, long status, const char *body, size_t len,
              const char *request_id)
{
    int top = lua_gettop(L), page;
    const char *problem;
    if (decoder < 0 && decoder > LUA_REGISTRYINDEX) /* relative, not a pseudo-index */
        decoder = top + decoder + 1;

    if (status < 200 || status > 299) {
        push_http_error(L, decoder, status, body, len, request_id);
        return 0;
    }
    lua_pushvalue(L, decoder);
    lua_pushlstring(L, body, len);
    lua_call(L, 1, 2);
    if (!lua_istable(L, -2)) {
        return push_decode_error(L, top, status, request_id,
                                 lua_isnil(L, -2) ? "the response body is not valid JSON"
                                                  : "the response body is not a JSON object");
    }
    lua_pop(L, 1);
    page = lua_gettop(L);

    lua_getfield(L, page, "events");
    if (lua_isnil(L, -1) || lua_type(L, -1) == LUA_TLIGHTUSERDATA) {
        lua_pop(L, 1);
        lua_newtable(L);
        lua_pushvalue(L, -1);
        lua_setfield(L, page, "events");
    } else if (!lua_istable(L, -1)) {
        return push_decode_error(L, top, status, request_id, "events is not an array");
    }
    problem = check_events(L, lua_gettop(L));
    if (problem)
        return push_decode_error(L, top, status, request_id, problem);
    if (normalise_count(L, page, "total", -1) != 0)
        return push_decode_error(L, top, status, request_id,
                                 "total is not a whole number or numeric string");
    if (normalise_count(L, page, "limit", (long long)me_rawlen(L, -1)) != 0 ||
        normalise_count(L, page, "offset", 0) != 0)
        return push_decode_error(L, top, status, request_id,
                                 "limit or offset is not a whole number or numeric string");
    lua_pop(L, 1); /* events */
    {
        static const char *const texts[] = {"order", "start_time", "end_time"};
        int i;
        for (i = 0; i < 3; i++) {
            lua_getfield(L, page, texts[i]);
            if (!lua_isnil(L, -1) && lua_type(L, -1) != LUA_TSTRING) {
                lua_pushnil(L);
                lua_setfield(L, page, texts[i]);
            }
            lua_pop(L, 1);
        }
    }
    return 1;
}

/* Find a header value in a table case-insensitively (OpenResty and other
 * transports do not agree on the case of header names). */
static const char *header_value(lua_State *L, int headers, const char *name)
{
    const char *found = NULL;
    if (!lua_istable(L, headers))
        return NULL;
    lua_pushnil(L);
    while (lua_next(L, headers)) {
        if (lua_type(L, -2) == LUA_TSTRING && lua_type(L, -1) == LUA_TSTRING) {
            const char *k = lua_tostring(L, -2);
            size_t i;
            for (i = 0; name[i] && tolower((unsigned char)k[i]) == name[i]; i++)
                ;
            if (!name[i] && !k[i]) {
                found = lua_tostring(L, -1); /* stays referenced by the table */
                lua_pop(L, 2);
                break;
            }
        }
        lua_pop(L, 1);
    }
    return found;
}

int me_decode_lua(lua_State *L)
{
    size_t len;
    long status = (long)luaL_checknumber(L, 1);
    const char *body = luaL_optlstring(L, 2, "", &len);
    const char *request_id = header_value(L, 3, "x-request-id");
    if (me_decode(L, lua_upvalueindex(1), status, body, len, request_id))
        return 1;
    lua_pushnil(L);
    lua_insert(L, -2);
    return 2;
}
