/***
 * Errors: the structured error objects every failure is reported as
 * (`kind`, `message`, `status`, `code`, `request_id`, `retryable`), and
 * the redaction of secrets from them.
 * @submodule modelarts_events
 */
#include "error.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <lauxlib.h>

#include "buf.h"
#include "compat.h"
#include "util.h"

/* A secret this long is blanked wherever it appears: no real text holds
 * 8 random bytes by chance, and a secret glued to other text must not leak. */
#define LONG_SECRET 8

static int error_tostring(lua_State *L)
{
    me_buf b;
    const char *kind, *message, *code, *request_id;
    long long status = 0;
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
    if (lua_type(L, -1) == LUA_TNUMBER)
        status = me_clamp_ll(lua_tonumber(L, -1), 0, 999999);

    me_buf_init(&b);
    me_buf_addf(&b, "modelarts_events: %s", kind);
    if (status)
        me_buf_addf(&b, " %lld", status);
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

void *me_check_object(lua_State *L, int idx, const char *mt, const char *what)
{
    void *p = lua_touserdata(L, idx);
    int same = 0;
    if (p && lua_getmetatable(L, idx)) {
        luaL_getmetatable(L, mt);
        same = lua_rawequal(L, -1, -2);
        lua_pop(L, 2);
    }
    if (!same)
        me_error_argument(L, "self", "expected %s: call methods with ':' (%s:method(...))",
                          what, what);
    return p;
}

int me_status_retryable(long status)
{
    return status == 429 || (status >= 500 && status <= 599);
}

static int kind_retryable(const char *kind)
{
    return strcmp(kind, "network") == 0 || strcmp(kind, "timeout") == 0;
}

/* The message is never cut: a secret quoted near its end would be cut too,
 * and redaction (which looks for whole secrets) would miss its start. A
 * long one is formatted into a userdata, which the collector frees
 * whatever is raised meanwhile. */
static void push_vf(lua_State *L, const char *kind, const char *fmt, va_list ap)
{
    char small[512], *big = NULL;
    me_error e;
    va_list again;
    int n;
    va_copy(again, ap);
    n = vsnprintf(small, sizeof small, fmt, ap);
    if (n >= (int)sizeof small) {
        big = (char *)lua_newuserdata(L, (size_t)n + 1);
        vsnprintf(big, (size_t)n + 1, fmt, again);
    }
    va_end(again);
    memset(&e, 0, sizeof e);
    e.kind = kind;
    e.message = big ? big : small;
    e.retryable = kind_retryable(kind);
    me_error_push(L, &e);
    if (big)
        lua_remove(L, -2);
}

void me_error_pushf(lua_State *L, const char *kind, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    push_vf(L, kind, fmt, ap);
    va_end(ap);
}

void me_error_raise(lua_State *L, const char *kind, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    push_vf(L, kind, fmt, ap);
    va_end(ap);
    lua_error(L);
    for (;;) /* lua_error does not return; tell compilers that lack noreturn */
        ;
}

int me_error_argument(lua_State *L, const char *field, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    push_vf(L, "invalid_argument", fmt, ap);
    va_end(ap);
    lua_pushstring(L, field);
    lua_setfield(L, -2, "field");
    lua_error(L);
    for (;;)
        ;
}

/* ---- redaction ------------------------------------------------------------ */

static int word_byte(unsigned char c)
{
    return isalnum(c) || c >= 0x80;
}

/* Is s[at, at+m) a place where the secret stands alone? */
static int standalone(const char *s, size_t n, size_t at, const char *secret, size_t m)
{
    if (m >= LONG_SECRET)
        return 1;
    if (word_byte((unsigned char)secret[0]) && at > 0 && word_byte((unsigned char)s[at - 1]))
        return 0;
    if (word_byte((unsigned char)secret[m - 1]) && at + m < n &&
        word_byte((unsigned char)s[at + m]))
        return 0;
    return 1;
}

/* Replace the string at the top of the stack by its redacted form. */
static void redact_top(lua_State *L, const char *secret, size_t m)
{
    size_t n, i, from = 0;
    const char *s = lua_tolstring(L, -1, &n);
    luaL_Buffer b;
    int found = 0;
    if (m == 0 || m > n)
        return;
    for (i = 0; i + m <= n; i++)
        if (memcmp(s + i, secret, m) == 0 && standalone(s, n, i, secret, m)) {
            found = 1;
            break;
        }
    if (!found)
        return;
    luaL_buffinit(L, &b);
    for (i = 0; i + m <= n;) {
        if (memcmp(s + i, secret, m) == 0 && standalone(s, n, i, secret, m)) {
            luaL_addlstring(&b, s + from, i - from);
            luaL_addstring(&b, "[REDACTED]");
            i += m;
            from = i;
        } else {
            i++;
        }
    }
    luaL_addlstring(&b, s + from, n - from);
    luaL_pushresult(&b);
    lua_remove(L, -2);
}

void me_error_redact(lua_State *L, int idx, const char *const *secrets, int n)
{
    static const char *const fields[] = {"message", "code", "request_id"};
    int f, i;
    idx = me_absindex(L, idx);
    for (f = 0; f < 3; f++) {
        lua_getfield(L, idx, fields[f]);
        if (lua_type(L, -1) == LUA_TSTRING) {
            for (i = 0; i < n; i++) {
                const char *s = secrets[i];
                size_t m;
                if (!s)
                    continue;
                m = strlen(s);
                redact_top(L, s, m);
                /* the same secret as a server that trims its input quotes it */
                me_trim(&s, &m);
                if (m != strlen(secrets[i]))
                    redact_top(L, s, m);
            }
            lua_setfield(L, idx, fields[f]);
        } else {
            lua_pop(L, 1);
        }
    }
}

/***
 * Make an error object, the one constructor every module uses: `kind`,
 * `message`, and any further fields (status, code, request_id, field,
 * retryable...). `retryable` defaults to what kind and status say.
 * @function error
 * @string kind invalid_argument, network, timeout, tls, http, decode or too_large
 * @string message one sentence
 * @tparam[opt] table fields
 * @return the error object
 */
int me_error_new_lua(lua_State *L)
{
    me_error e;
    memset(&e, 0, sizeof e);
    if (lua_type(L, 1) != LUA_TSTRING)
        me_error_argument(L, "kind", "me.error: kind must be a string");
    if (lua_type(L, 2) != LUA_TSTRING)
        me_error_argument(L, "message", "me.error: message must be a string");
    if (!lua_isnoneornil(L, 3) && !lua_istable(L, 3))
        me_error_argument(L, "fields", "me.error: fields must be a table");
    e.kind = lua_tostring(L, 1);
    e.message = lua_tostring(L, 2);
    e.retryable = kind_retryable(e.kind);
    if (lua_istable(L, 3)) {
        lua_getfield(L, 3, "status");
        if (lua_type(L, -1) == LUA_TNUMBER && strcmp(e.kind, "http") == 0)
            e.retryable = me_status_retryable((long)me_clamp_ll(lua_tonumber(L, -1), 0, 999999));
        lua_pop(L, 1);
    }
    me_error_push(L, &e);
    if (lua_istable(L, 3))
        me_table_copy(L, 3, -1);
    return 1;
}
