/* error.c - the structured error objects every failure is reported as. */
#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <lauxlib.h>

#include "buf.h"
#include "compat.h"

static int error_tostring(lua_State *L)
{
    me_buf b;
    const char *kind, *message, *code, *request_id;
    lua_Integer status = 0;
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_getfield(L, 1, "kind");
    lua_getfield(L, 1, "message");
    lua_getfield(L, 1, "code");
    lua_getfield(L, 1, "request_id");
    lua_getfield(L, 1, "status");
    kind = lua_isstring(L, -5) ? lua_tostring(L, -5) : "error";
    message = lua_isstring(L, -4) ? lua_tostring(L, -4) : "";
    code = lua_isstring(L, -3) ? lua_tostring(L, -3) : NULL;
    request_id = lua_isstring(L, -2) ? lua_tostring(L, -2) : NULL;
    if (lua_isnumber(L, -1))
        status = (lua_Integer)lua_tonumber(L, -1);

    me_buf_init(&b);
    me_buf_addf(&b, "modelarts_events: %s", kind);
    if (status)
        me_buf_addf(&b, " %lld", (long long)status);
    if (code)
        me_buf_addf(&b, " %s", code);
    me_buf_addf(&b, ": %s", message);
    if (request_id)
        me_buf_addf(&b, " (request id %s)", request_id);
    if (me_buf_str(&b))
        lua_pushlstring(L, b.data, b.len);
    else
        lua_pushstring(L, message);
    me_buf_free(&b);
    return 1;
}

void me_error_init(lua_State *L)
{
    if (luaL_newmetatable(L, ME_ERROR_MT)) {
        lua_pushcfunction(L, error_tostring);
        lua_setfield(L, -2, "__tostring");
    }
    lua_pop(L, 1);
}

static void set_string(lua_State *L, const char *key, const char *value)
{
    if (value) {
        lua_pushstring(L, value);
        lua_setfield(L, -2, key);
    }
}

void me_error_push(lua_State *L, const me_error *e)
{
    lua_createtable(L, 0, 7);
    set_string(L, "kind", e->kind);
    set_string(L, "message", e->message ? e->message : "");
    if (e->status) {
        me_pushinteger(L, e->status);
        lua_setfield(L, -2, "status");
    }
    set_string(L, "code", e->code);
    set_string(L, "request_id", e->request_id);
    lua_pushboolean(L, e->retryable);
    lua_setfield(L, -2, "retryable");
    if (e->attempts) {
        me_pushinteger(L, e->attempts);
        lua_setfield(L, -2, "attempts");
    }
    luaL_getmetatable(L, ME_ERROR_MT);
    lua_setmetatable(L, -2);
}

static void push_vf(lua_State *L, const char *kind, const char *fmt, va_list ap)
{
    char message[512];
    me_error e;
    vsnprintf(message, sizeof message, fmt, ap);
    memset(&e, 0, sizeof e);
    e.kind = kind;
    e.message = message;
    e.retryable = strcmp(kind, "network") == 0 || strcmp(kind, "timeout") == 0;
    me_error_push(L, &e);
}

void me_error_pushf(lua_State *L, const char *kind, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    push_vf(L, kind, fmt, ap);
    va_end(ap);
}

int me_error_argument(lua_State *L, const char *field, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    push_vf(L, "invalid_argument", fmt, ap);
    va_end(ap);
    lua_pushstring(L, field);
    lua_setfield(L, -2, "field");
    return lua_error(L);
}

/* me.error(kind, message [, fields]): lets the pure-Lua companions (the
 * OpenResty driver, follow) report failures in exactly the same shape. */
int me_error_new_lua(lua_State *L)
{
    me_error e;
    memset(&e, 0, sizeof e);
    e.kind = luaL_checkstring(L, 1);
    e.message = luaL_checkstring(L, 2);
    e.retryable = strcmp(e.kind, "network") == 0 || strcmp(e.kind, "timeout") == 0;
    me_error_push(L, &e);
    if (lua_istable(L, 3)) {
        lua_pushnil(L);
        while (lua_next(L, 3)) {
            lua_pushvalue(L, -2);
            lua_insert(L, -2);
            lua_settable(L, -4);
        }
    }
    return 1;
}
