/* iam.c - see iam.h. IAM's errors come as {"error": {"code", "message"}},
 * which me_decode already reads; this file reads what IAM and the metadata
 * service answer when they succeed. */
#include "iam.h"

#include <stdio.h>
#include <string.h>

#include <lauxlib.h>

#include "compat.h"
#include "decode.h"
#include "error.h"
#include "request.h"
#include "util.h"

/* Push an error of `kind` about a response, and return 0. */
static int push_problem(lua_State *L, int top, const char *kind, const me_iam_response *r,
                        const char *message)
{
    me_error e;
    memset(&e, 0, sizeof e);
    e.kind = kind;
    e.status = r->status;
    e.request_id = r->request_id;
    e.message = message;
    lua_settop(L, top);
    me_error_push(L, &e);
    return 0;
}

/* Decode a 2xx body into a table at the top (return its index), or push
 * the error (IAM's own for any other status) and return 0. `what` names
 * the service in the messages. */
static int decode_body(lua_State *L, int decoder, const me_iam_response *r, const char *what)
{
    int top = lua_gettop(L);
    if (r->status < 200 || r->status > 299) {
        me_decode(L, decoder, ME_SHAPE_PAGE, r->status, r->body, r->len, r->request_id);
        lua_getfield(L, -1, "message");
        lua_pushfstring(L, "%s: %s", what, lua_tostring(L, -1));
        lua_setfield(L, -3, "message");
        lua_pop(L, 1);
        return 0;
    }
    lua_pushvalue(L, decoder);
    lua_pushlstring(L, r->body, r->len);
    lua_call(L, 1, 1);
    if (!lua_istable(L, -1)) {
        char message[160];
        snprintf(message, sizeof message, "%s answered with a body that is not a JSON object",
                 what);
        return push_problem(L, top, "decode", r, message);
    }
    return lua_gettop(L);
}

/* t[key] as a non-empty string (left pushed), or NULL (nothing pushed). */
static const char *string_at(lua_State *L, int t, const char *key)
{
    lua_getfield(L, t, key);
    if (lua_type(L, -1) == LUA_TSTRING && me_rawlen(L, -1) > 0)
        return lua_tostring(L, -1);
    lua_pop(L, 1);
    return NULL;
}

/* t[key] as a table (left pushed; returns its index), or 0 (nothing pushed). */
static int table_at(lua_State *L, int t, const char *key)
{
    lua_getfield(L, t, key);
    if (lua_istable(L, -1))
        return lua_gettop(L);
    lua_pop(L, 1);
    return 0;
}

int me_iam_decode_projects(lua_State *L, int decoder, const me_iam_response *r,
                           const char *region)
{
    int top = lua_gettop(L), body, list, matches = 0;
    size_t i, n;
    char message[300];
    body = decode_body(L, decoder, r, "IAM (finding the project id of the region)");
    if (!body)
        return 0;
    list = table_at(L, body, "projects");
    n = list ? me_rawlen(L, list) : 0;
    lua_pushnil(L); /* the match */
    for (i = 1; i <= n; i++) {
        lua_rawgeti(L, list, (int)i);
        if (lua_istable(L, -1)) {
            const char *name = string_at(L, lua_gettop(L), "name");
            int same = name && strcmp(name, region) == 0;
            if (name)
                lua_pop(L, 1);
            if (same && ++matches == 1) {
                lua_replace(L, -2);
                continue;
            }
        }
        lua_pop(L, 1);
    }
    if (!list)
        return push_problem(L, top, "decode", r, "IAM's project list has no projects array");
    if (matches != 1) {
        if (matches == 0)
            snprintf(message, sizeof message, "IAM knows no project named '%s' (the region): "
                     "check the region, or give project_id", region);
        else
            snprintf(message, sizeof message, "IAM lists %d projects named '%s' (the region): "
                     "give project_id to choose one", matches, region);
        push_problem(L, top, "invalid_argument", r, message);
        lua_pushnil(L); /* a configuration error, not the server's */
        lua_setfield(L, -2, "status");
        lua_pushliteral(L, "region");
        lua_setfield(L, -2, "field");
        return 0;
    }
    if (!string_at(L, lua_gettop(L), "id"))
        return push_problem(L, top, "decode", r, "IAM's project has no id");
    lua_replace(L, top + 1);
    lua_settop(L, top + 1);
    return 1;
}

/* table[to] = epoch ms of the ISO-8601 string src[key]; 0, or -1 when it
 * is missing or not a date-time. */
static int copy_time(lua_State *L, int src, const char *key, int table, const char *to)
{
    const char *s = string_at(L, src, key);
    long long ms;
    if (!s || me_parse_iso8601(s, strlen(s), &ms) != 0) {
        if (s)
            lua_pop(L, 1);
        return -1;
    }
    lua_pop(L, 1);
    me_pushinteger(L, ms);
    lua_setfield(L, table, to);
    return 0;
}

int me_iam_decode_token(lua_State *L, int decoder, const me_iam_response *r)
{
    int top = lua_gettop(L), body, token, project, result;
    body = decode_body(L, decoder, r, "IAM (password login)");
    if (!body)
        return 0;
    if (!r->subject_token || !*r->subject_token)
        return push_problem(L, top, "decode", r,
                            "IAM answered the login without an X-Subject-Token header");
    token = table_at(L, body, "token");
    if (!token)
        return push_problem(L, top, "decode", r, "IAM's login answer has no token object");
    lua_createtable(L, 0, 3);
    result = lua_gettop(L);
    lua_pushstring(L, r->subject_token);
    lua_setfield(L, result, "token");
    if (copy_time(L, token, "expires_at", result, "expires_at") != 0)
        return push_problem(L, top, "decode", r,
                            "IAM's login answer has no token.expires_at date-time");
    project = table_at(L, token, "project");
    if (project && string_at(L, project, "id"))
        lua_setfield(L, result, "project_id");
    lua_pushvalue(L, result);
    lua_replace(L, top + 1);
    lua_settop(L, top + 1);
    return 1;
}

int me_iam_decode_securitykey(lua_State *L, int decoder, const me_iam_response *r)
{
    static const char *const fields[][2] = {
        {"access", "ak"}, {"secret", "sk"}, {"securitytoken", "security_token"}};
    int top = lua_gettop(L), body, credential, result, i;
    body = decode_body(L, decoder, r, "the metadata service (temporary credentials)");
    if (!body)
        return 0;
    credential = table_at(L, body, "credential");
    lua_createtable(L, 0, 4);
    result = lua_gettop(L);
    for (i = 0; i < 3 && credential; i++) {
        if (!string_at(L, credential, fields[i][0]))
            break;
        lua_setfield(L, result, fields[i][1]);
    }
    if (!credential || i < 3 ||
        copy_time(L, credential, "expires_at", result, "expires_at") != 0)
        return push_problem(L, top, "decode", r, "the metadata service's answer has no "
                            "credential with access, secret, securitytoken and expires_at");
    lua_replace(L, top + 1);
    lua_settop(L, top + 1);
    return 1;
}

/* opts[key] as a non-empty string without control bytes, or NULL; raises
 * naming the field when it is something else. */
static const char *option(lua_State *L, int idx, const char *key, int secret)
{
    size_t n, i;
    const char *s;
    lua_getfield(L, idx, key);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        return NULL;
    }
    s = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &n) : NULL;
    for (i = 0; s && i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            s = NULL;
    if (!s || n == 0)
        me_error_argument(L, key, "%s must be a non-empty string without control bytes%s", key,
                          secret ? " (value not shown)" : "");
    lua_pop(L, 1); /* still referenced by the options table */
    return s;
}

/* t[key] = value, a string; t stays at the top. */
static void set_string(lua_State *L, const char *key, const char *value)
{
    lua_pushstring(L, value);
    lua_setfield(L, -2, key);
}

void me_iam_push_login_body(lua_State *L, int idx)
{
    const char *domain = option(L, idx, "domain", 0), *user = option(L, idx, "user", 0);
    const char *password = option(L, idx, "password", 1);
    const char *project_id = option(L, idx, "project_id", 0);
    const char *project = option(L, idx, "project", 0), *region = option(L, idx, "region", 0);
    int body;
    if (!domain || !user || !password)
        me_error_argument(L, !domain ? "domain" : (!user ? "user" : "password"),
                          "a password login needs domain (the account name), user and password");
    if (project_id && project)
        me_error_argument(L, "project", "give project_id or project (a name), not both");
    /* { auth = { identity = { methods = { "password" }, password = { user = {
     *   name, password, domain = { name } } } }, scope = { project = {...} } } } */
    me_push_cjson(L);
    lua_getfield(L, -1, "encode");
    lua_remove(L, -2);
    lua_newtable(L);
    body = lua_gettop(L);
    lua_newtable(L);                       /* auth */
    lua_newtable(L);                       /* identity */
    lua_createtable(L, 1, 0);
    lua_pushliteral(L, "password");
    lua_rawseti(L, -2, 1);
    lua_setfield(L, -2, "methods");
    lua_newtable(L);                       /* password */
    lua_newtable(L);                       /* user */
    set_string(L, "name", user);
    set_string(L, "password", password);
    lua_newtable(L);
    set_string(L, "name", domain);
    lua_setfield(L, -2, "domain");
    lua_setfield(L, -2, "user");
    lua_setfield(L, -2, "password");
    lua_setfield(L, -2, "identity");
    if (project_id || project || region) {
        lua_newtable(L);                   /* scope */
        lua_newtable(L);
        if (project_id)
            set_string(L, "id", project_id);
        else
            set_string(L, "name", project ? project : region);
        lua_setfield(L, -2, "project");
        lua_setfield(L, -2, "scope");
    }
    lua_setfield(L, body, "auth");
    lua_call(L, 1, 2);
    if (lua_type(L, -2) != LUA_TSTRING)
        me_error_raise(L, "invalid_argument", "the login body could not be encoded as JSON");
    lua_pop(L, 1);
}
