/* creds.c - see creds.h. */
#include "creds.h"

#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#include "error.h"
#include "util.h"

static const char *const FIELDS[] = {"token", "ak", "sk", "security_token"};

void me_secrets_init(me_secrets *s)
{
    memset(s, 0, sizeof *s);
}

static void wipe(char **v)
{
    if (*v) {
        memset(*v, 0, strlen(*v));
        free(*v);
        *v = NULL;
    }
}

void me_secrets_free(me_secrets *s)
{
    int i;
    for (i = 0; i < ME_SECRETS_KEPT; i++)
        wipe(&s->values[i]);
    wipe(&s->ak);
    s->next = 0;
}

const char *me_secrets_keep(me_secrets *s, const char *v, size_t n)
{
    int i;
    char *copy;
    for (i = 0; i < ME_SECRETS_KEPT; i++)
        if (s->values[i] && strlen(s->values[i]) == n && memcmp(s->values[i], v, n) == 0)
            return s->values[i];
    copy = malloc(n + 1);
    if (!copy)
        return NULL;
    memcpy(copy, v, n);
    copy[n] = '\0';
    wipe(&s->values[s->next]);
    s->values[s->next] = copy;
    s->next = (s->next + 1) % ME_SECRETS_KEPT;
    return copy;
}

int me_secrets_list(const me_target *t, const me_secrets *s, const char **out)
{
    int n = 0, i;
    if (t) {
        out[n++] = t->token;
        out[n++] = t->sk;
        out[n++] = t->security_token;
        for (i = 0; i < ME_PROXY_SECRETS; i++)
            out[n++] = t->proxy_secrets[i];
    }
    for (i = 0; s && i < ME_SECRETS_KEPT; i++)
        out[n++] = s->values[i];
    return n;
}

/* Is the value at the top of the stack lua.c's "interrupted!" (raised by its
 * SIGINT hook, or by our driver)? It passes through unchanged. */
static int is_interrupt(lua_State *L)
{
    const char *s = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
    return s && strstr(s, "interrupted!") != NULL;
}

/* The function at the top failed with the value above it: push the error
 * object naming `field` (or leave an interrupt as it is). */
static void push_failure(lua_State *L, const char *field, const me_target *t,
                         const me_secrets *keep)
{
    const char *secrets[ME_SECRETS_MAX];
    const char *message;
    int n, i, shown = 1;
    if (is_interrupt(L))
        return;
    /* An error object's own __tostring, or a plain message. */
    if (luaL_callmeta(L, -1, "__tostring")) {
        lua_replace(L, -2);
    } else if (lua_type(L, -1) != LUA_TSTRING && lua_type(L, -1) != LUA_TNUMBER) {
        lua_pushstring(L, luaL_typename(L, -1));
        lua_replace(L, -2);
    }
    message = lua_tostring(L, -1);
    n = me_secrets_list(t, keep, secrets);
    for (i = 0; i < n && shown; i++)
        if (secrets[i] && *secrets[i] && strstr(message, secrets[i]))
            shown = 0;
    me_error_pushf(L, "invalid_argument", "the %s function failed%s%s", field,
                   shown ? ": " : " (its message is not shown: it holds a credential)",
                   shown ? message : "");
    lua_pushstring(L, field);
    lua_setfield(L, -2, "field");
    lua_replace(L, -2);
}

/* Keep v[0..n): among the secrets, or (the AK) as the one plain value. */
static const char *keep_value(me_secrets *keep, int field, const char *v, size_t n)
{
    char *copy;
    if (field != 1)
        return me_secrets_keep(keep, v, n);
    copy = malloc(n + 1);
    if (copy) {
        memcpy(copy, v, n);
        copy[n] = '\0';
        wipe(&keep->ak);
        keep->ak = copy;
    }
    return copy;
}

/* The credential `field`: given, configured, or from its function. 0, or -1
 * with the error pushed. */
static int resolve_one(lua_State *L, const me_target *t, int given, int field, me_secrets *keep,
                       const char *configured, const char **out)
{
    const char *name = FIELDS[field], *s;
    size_t n;
    *out = configured;
    if (given) {
        lua_getfield(L, given, name);
        if (lua_type(L, -1) == LUA_TSTRING) {
            s = lua_tolstring(L, -1, &n);
            if (n > 0 && !me_has_control_byte(s, n)) {
                *out = keep_value(keep, field, s, n);
                lua_pop(L, 1);
                return *out ? 0 : (me_error_pushf(L, "invalid_argument", "out of memory"), -1);
            }
        }
        lua_pop(L, 1);
    }
    if (configured || t->functions == LUA_NOREF)
        return 0;
    lua_rawgeti(L, LUA_REGISTRYINDEX, t->functions);
    lua_getfield(L, -1, name);
    lua_remove(L, -2);
    if (!lua_isfunction(L, -1)) {
        lua_pop(L, 1);
        return 0;
    }
    if (lua_pcall(L, 0, 1, 0) != 0) {
        push_failure(L, name, t, keep);
        return -1;
    }
    s = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &n) : NULL;
    if (!s || n == 0 || me_has_control_byte(s, n)) {
        lua_pop(L, 1);
        me_error_pushf(L, "invalid_argument", "the %s function must return a non-empty string "
                       "without control bytes (value not shown)", name);
        lua_pushstring(L, name);
        lua_setfield(L, -2, "field");
        return -1;
    }
    *out = keep_value(keep, field, s, n);
    lua_pop(L, 1);
    if (!*out) {
        me_error_pushf(L, "invalid_argument", "out of memory while reading the %s", name);
        return -1;
    }
    return 0;
}

int me_creds_resolve(lua_State *L, const me_target *t, int given, me_secrets *keep,
                     me_creds *out)
{
    memset(out, 0, sizeof *out);
    if (given && !lua_istable(L, given))
        given = 0;
    luaL_checkstack(L, 8, "modelarts_events: resolving credentials");
    if (t->use_token)
        return resolve_one(L, t, given, 0, keep, t->token, &out->token);
    if (resolve_one(L, t, given, 1, keep, t->ak, &out->ak) != 0 ||
        resolve_one(L, t, given, 2, keep, t->sk, &out->sk) != 0)
        return -1;
    if (t->temporary)
        return resolve_one(L, t, given, 3, keep, t->security_token, &out->security_token);
    return 0;
}
