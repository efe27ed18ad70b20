/***
 * The client: `me.new` and its methods, and the libcurl driver that moves
 * the paging core's requests and responses (pager.c decides what to send
 * and what a response means; this file only moves bytes).
 * @module modelarts_events
 */
#include "client.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lauxlib.h>

#include "compat.h"
#include "error.h"
#include "pager.h"
#include "request.h"
#include "transport.h"
#include "version.h"

typedef struct me_client {
    me_target target;
    me_transport_options transport_options;
    me_transport *transport;     /* made at the first transfer */
    me_pager *owner;             /* the pager whose transfers are in flight */
    int retries, concurrency;
    int closed;
} me_client;

/* ---- configuration ------------------------------------------------------ */

static const char *const CONFIG_KEYS[] = {
    "endpoint", "region", "project_id", "token", "ak", "sk", "security_token",
    "language", "timeout", "connect_timeout", "retries", "concurrency", "ca_file",
    "insecure", "proxy", "user_agent", "max_body", NULL};

/* A copied string field, or NULL when absent. Values are never echoed:
 * some of them are secrets. */
static char *config_string(lua_State *L, const char *key, int secret)
{
    size_t n;
    const char *s;
    char *copy;
    lua_getfield(L, 1, key);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        return NULL;
    }
    if (lua_type(L, -1) != LUA_TSTRING)
        me_error_argument(L, key, "%s must be a string", key);
    s = lua_tolstring(L, -1, &n);
    if (n == 0 || strlen(s) != n || strcspn(s, "\r\n") != n)
        me_error_argument(L, key, "%s must be a non-empty string without line breaks%s", key,
                          secret ? " (value not shown)" : "");
    copy = malloc(n + 1);
    if (!copy)
        luaL_error(L, "out of memory");
    memcpy(copy, s, n + 1);
    lua_pop(L, 1);
    return copy;
}

static double config_number(lua_State *L, const char *key, double fallback, double lo,
                            double hi, int whole)
{
    double v;
    lua_getfield(L, 1, key);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        return fallback;
    }
    v = lua_type(L, -1) == LUA_TNUMBER ? lua_tonumber(L, -1) : lo - 1;
    if (!(v >= lo && v <= hi) || (whole && v != (double)(long long)v))
        me_error_argument(L, key, "%s must be %s from %g to %g", key,
                          whole ? "an integer" : "a number", lo, hi);
    lua_pop(L, 1);
    return v;
}

static void free_target(me_target *t)
{
    char **fields[] = {&t->endpoint, &t->authority, &t->path_prefix, &t->project_id,
                       &t->token, &t->ak, &t->sk, &t->security_token, &t->language,
                       &t->user_agent};
    size_t i;
    for (i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        if (*fields[i]) {
            /* secrets do not outlive the client in freed memory */
            memset(*fields[i], 0, strlen(*fields[i]));
            free(*fields[i]);
            *fields[i] = NULL;
        }
    }
}

static void free_client(me_client *c)
{
    if (c->transport) {
        me_transport_free(c->transport);
        c->transport = NULL;
    }
    free_target(&c->target);
    free((char *)c->transport_options.ca_file);
    free((char *)c->transport_options.proxy);
    c->transport_options.ca_file = c->transport_options.proxy = NULL;
    c->closed = 1;
}

/* Split the endpoint into what requests and signatures need. */
static int split_endpoint(me_target *t)
{
    const char *e = t->endpoint, *auth, *slash;
    size_t n;
    if (strncmp(e, "http://", 7) == 0)
        auth = e + 7;
    else if (strncmp(e, "https://", 8) == 0)
        auth = e + 8;
    else
        return -1;
    if (strpbrk(e, "?# \t") || !*auth || *auth == '/')
        return -1;
    slash = strchr(auth, '/');
    n = slash ? (size_t)(slash - auth) : strlen(auth);
    if (strchr(auth, '@') && (!slash || strchr(auth, '@') < slash))
        return -1; /* credentials in the URL would leak into messages */
    t->authority = malloc(n + 1);
    t->path_prefix = malloc(strlen(auth + n) + 1);
    if (!t->authority || !t->path_prefix)
        return -1;
    memcpy(t->authority, auth, n);
    t->authority[n] = '\0';
    strcpy(t->path_prefix, auth + n);
    n = strlen(t->path_prefix);
    while (n && t->path_prefix[n - 1] == '/')
        t->path_prefix[--n] = '\0';
    n = strlen(t->endpoint);
    while (n && t->endpoint[n - 1] == '/')
        t->endpoint[--n] = '\0';
    return 0;
}

static int valid_project_id(const char *s)
{
    size_t n = strlen(s);
    return n >= 1 && n <= 64 &&
           strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-") == n;
}

/* Fill c from the config table at index 1; raises invalid_argument. The
 * userdata is already on the stack with its __gc, so whatever was copied
 * before an error is freed by the collector. */
static void configure(lua_State *L, me_client *c)
{
    me_target *t = &c->target;
    char *region;
    int i;

    lua_pushnil(L);
    while (lua_next(L, 1)) {
        const char *key = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
        int known = 0;
        for (i = 0; key && CONFIG_KEYS[i]; i++)
            known |= strcmp(key, CONFIG_KEYS[i]) == 0;
        lua_pop(L, 1);
        if (!known)
            me_error_argument(L, key ? key : "config", "unknown configuration field '%.64s'",
                              key ? key : "(not a string)");
    }

    t->endpoint = config_string(L, "endpoint", 0);
    region = config_string(L, "region", 0);
    if (t->endpoint && region) {
        free(region);
        me_error_argument(L, "endpoint", "give endpoint or region, not both");
    }
    if (region) {
        size_t n = strlen(region);
        int ok = n <= 32 && strspn(region, "abcdefghijklmnopqrstuvwxyz0123456789-") == n;
        /* The SDKs' region table puts this one on the .cn domain. */
        const char *domain = strcmp(region, "ap-southeast-1") == 0 ? "myhuaweicloud.cn"
                                                                   : "myhuaweicloud.com";
        if (ok) {
            t->endpoint = malloc(n + 48);
            if (t->endpoint)
                sprintf(t->endpoint, "https://modelarts.%s.%s", region, domain);
        }
        free(region);
        if (!ok)
            me_error_argument(L, "region", "region must be a region name like cn-north-4");
        if (!t->endpoint)
            luaL_error(L, "out of memory");
    }
    if (!t->endpoint)
        me_error_argument(L, "endpoint", "endpoint (or region) is required");
    if (split_endpoint(t) != 0)
        me_error_argument(L, "endpoint", "endpoint must be an http:// or https:// URL "
                          "without query, fragment or credentials");

    t->project_id = config_string(L, "project_id", 0);
    if (!t->project_id || !valid_project_id(t->project_id))
        me_error_argument(L, "project_id", "project_id is required: 1 to 64 of A-Z a-z 0-9 -");

    t->token = config_string(L, "token", 1);
    t->ak = config_string(L, "ak", 0);
    t->sk = config_string(L, "sk", 1);
    t->security_token = config_string(L, "security_token", 1);
    if (t->token && (t->ak || t->sk))
        me_error_argument(L, "token", "give token, or ak and sk, not both");
    if (!t->token && (!t->ak || !t->sk))
        me_error_argument(L, t->ak ? "sk" : (t->sk ? "ak" : "token"),
                          "authentication is required: token, or ak and sk");
    if (t->security_token && !t->ak)
        me_error_argument(L, "security_token", "security_token goes with ak and sk");

    t->language = config_string(L, "language", 0);
    t->user_agent = config_string(L, "user_agent", 0);
    if (!t->user_agent) {
        t->user_agent = malloc(64);
        if (!t->user_agent)
            luaL_error(L, "out of memory");
        snprintf(t->user_agent, 64, "modelarts-events-lua/%s", ME_VERSION);
    }
    c->transport_options.ca_file = config_string(L, "ca_file", 0);
    c->transport_options.proxy = config_string(L, "proxy", 0);
    c->transport_options.timeout_ms = (long)(config_number(L, "timeout", 30, 0.001, 86400, 0) * 1000);
    c->transport_options.connect_timeout_ms =
        (long)(config_number(L, "connect_timeout", 10, 0.001, 86400, 0) * 1000);
    c->transport_options.max_body =
        (size_t)config_number(L, "max_body", 8 * 1024 * 1024, 1024, 1024.0 * 1024 * 1024 * 1024, 1);
    c->retries = (int)config_number(L, "retries", 3, 0, 100, 1);
    c->concurrency = (int)config_number(L, "concurrency", 4, 1, 32, 1);
    lua_getfield(L, 1, "insecure");
    if (!lua_isnil(L, -1) && !lua_isboolean(L, -1))
        me_error_argument(L, "insecure", "insecure must be a boolean");
    c->transport_options.insecure = lua_toboolean(L, -1);
    lua_pop(L, 1);
}

/***
 * Make a client. Exactly one way to authenticate (token, or ak and sk) is
 * required; a bad configuration raises an `invalid_argument` error object
 * naming the field.
 * @function new
 * @tparam table config endpoint or region, project_id, token or ak/sk
 * (+ security_token), language, timeout, connect_timeout, retries,
 * concurrency, ca_file, insecure, proxy, user_agent, max_body
 */
int me_client_new(lua_State *L)
{
    me_client *c;
    if (!lua_istable(L, 1))
        me_error_argument(L, "config", "me.new expects a configuration table");
    lua_settop(L, 1);
    c = (me_client *)lua_newuserdata(L, sizeof *c);
    memset(c, 0, sizeof *c);
    luaL_getmetatable(L, ME_CLIENT_MT);
    lua_setmetatable(L, -2);
    configure(L, c);
    return 1;
}

/* ---- the libcurl driver ------------------------------------------------- */

static me_client *check_client(lua_State *L)
{
    me_client *c = (me_client *)luaL_checkudata(L, 1, ME_CLIENT_MT);
    if (c->closed) {
        me_error_pushf(L, "invalid_argument", "the client is closed");
        lua_error(L);
    }
    return c;
}

static void release_pager(void *ctx, me_pager *p)
{
    me_client *c = (me_client *)ctx;
    if (c->transport)
        me_transport_cancel(c->transport, p, NULL);
    if (c->owner == p)
        c->owner = NULL;
}

static void requeue(void *owner, long seq)
{
    me_pager_requeue((me_pager *)owner, seq);
}

typedef struct drive_state {
    lua_State *L;
    me_pager *pager;
    int decoder;
} drive_state;

static void on_result(void *ctx, const me_result *r)
{
    drive_state *d = (drive_state *)ctx;
    if (r->owner != d->pager)
        return;
    if (r->fail_kind)
        me_pager_fail(d->L, d->pager, r->seq, r->fail_kind, r->fail_message);
    else
        me_pager_feed(d->L, d->pager, d->decoder, r->seq, r->status, r->body, r->body_len,
                      r->request_id, r->retry_after);
}

static void sleep_seconds(double s)
{
    struct timespec ts;
    if (s <= 0)
        return;
    ts.tv_sec = (time_t)s;
    ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* Start what the pager wants sent, as far as handles allow. Returns how
 * long nothing can be sent when it is waiting on a retry, else -1. */
static double fill(lua_State *L, me_client *c, me_pager *p)
{
    me_request req;
    double wait = -1;
    me_request_init(&req);
    while (me_transport_free_handles(c->transport) > 0) {
        long seq;
        double w = 0;
        const char *err = NULL;
        enum me_next what = me_pager_next(p, &req, &seq, &w, &err);
        if (what == ME_SEND) {
            if (me_transport_start(c->transport, &req, p, seq) != 0) {
                me_pager_requeue(p, seq);
                break;
            }
            continue;
        }
        if (what == ME_WAIT)
            wait = w;
        if (err) {
            me_request_free(&req);
            luaL_error(L, "modelarts_events: cannot build a request: %s", err);
        }
        break;
    }
    me_request_free(&req);
    return wait;
}

/* Push the next page and return 1, push an error and return -1, or return 0
 * when the pager is done. */
static int drive(lua_State *L, me_client *c, me_pager *p, int decoder)
{
    drive_state d;
    d.L = L;
    d.pager = p;
    d.decoder = decoder;
    if (!c->transport) {
        c->transport = me_transport_new(&c->transport_options, c->concurrency);
        if (!c->transport)
            return luaL_error(L, "modelarts_events: cannot set up libcurl");
    }
    if (c->owner != p) {
        /* Another iteration was left half-way: its transfers give way and
         * are sent again if it is resumed. */
        if (c->owner)
            me_transport_cancel(c->transport, c->owner, requeue);
        c->owner = p;
        me_pager_set_release(p, release_pager, c);
    }
    for (;;) {
        double wait;
        int r = me_pager_take(L, p);
        if (r != 0) {
            if (r > 0 && !me_pager_done(p)) {
                /* Get the next pages going before the caller works on this one. */
                fill(L, c, p);
                me_transport_run(c->transport, 0, on_result, &d);
            }
            return r;
        }
        if (me_pager_done(p))
            return 0;
        wait = fill(L, c, p);
        if (me_pager_inflight(p) == 0) {
            if (wait < 0)
                return 0; /* nothing to send, nothing to wait for */
            sleep_seconds(wait);
            continue;
        }
        me_transport_run(c->transport, 1.0, on_result, &d);
    }
}

/* ---- methods ------------------------------------------------------------ */

/***
 * One page of a job's events.
 * @function client:list
 * @string training_job_id
 * @tparam[opt] table params offset, limit, order, start_time, end_time, level, source, pattern, language
 * @return page `{ total, limit, offset, order, start_time, end_time, events }`, or nil and an error object
 */
static int client_list(lua_State *L)
{
    me_client *c = check_client(L);
    me_pager *p;
    int r;
    lua_settop(L, 3);
    p = me_pager_push(L, 1, &c->target, 2, 3, 1, 1, c->retries);
    r = drive(L, c, p, lua_upvalueindex(1));
    /* stack: ..., pager, result */
    if (r > 0)
        return 1;
    if (r == 0)
        me_error_pushf(L, "network", "no response was received");
    lua_pushnil(L);
    lua_insert(L, -2);
    return 2;
}

/***
 * The request `list` would send: validated, encoded and, with AK/SK, signed now.
 * @function client:request
 * @string training_job_id
 * @tparam[opt] table params as for `list`
 * @return `{ method = "GET", url = ..., headers = { ... } }`
 */
static int client_request(lua_State *L)
{
    me_client *c = check_client(L);
    me_query q;
    me_request req;
    const char *err = NULL, *job = me_job_id_check(L, 2);
    me_query_check(L, 3, &q, 0);
    me_request_init(&req);
    if (me_request_build(&req, &c->target, job, &q, q.offset, q.limit, q.has_window,
                         q.start_time, q.end_time, &err) != 0) {
        me_request_free(&req);
        return luaL_error(L, "modelarts_events: cannot build a request: %s", err);
    }
    me_request_push(L, &req);
    me_request_free(&req);
    return 1;
}

/***
 * The paging and retry core itself, for drivers written in Lua (the
 * OpenResty one): `pager:next()`, `pager:feed(...)`, `pager:take()`.
 * @function client:pager
 * @string training_job_id
 * @tparam[opt] table params
 * @bool[opt] single one page, as `list` returns it
 */
static int client_pager(lua_State *L)
{
    me_client *c = check_client(L);
    lua_settop(L, 4);
    me_pager_push(L, 1, &c->target, 2, 3, lua_toboolean(L, 4),
                  lua_toboolean(L, 4) ? 1 : c->concurrency, c->retries);
    return 1;
}

/* Upvalues of both iterators: 1 decoder, 2 client, 3 pager. */
static int pages_iter(lua_State *L)
{
    me_client *c = (me_client *)lua_touserdata(L, lua_upvalueindex(2));
    me_pager *p = (me_pager *)lua_touserdata(L, lua_upvalueindex(3));
    int r;
    if (c->closed || me_pager_done(p))
        return 0;
    r = drive(L, c, p, lua_upvalueindex(1));
    if (r < 0)
        return lua_error(L);
    return r;
}

/* Upvalues 4, 5, 6: the current page's events, the index in it, the count. */
static int events_iter(lua_State *L)
{
    for (;;) {
        lua_Number i = lua_tonumber(L, lua_upvalueindex(5));
        if (lua_istable(L, lua_upvalueindex(4)) &&
            i < (lua_Number)me_rawlen(L, lua_upvalueindex(4))) {
            lua_Number count = lua_tonumber(L, lua_upvalueindex(6)) + 1;
            lua_pushnumber(L, i + 1);
            lua_replace(L, lua_upvalueindex(5));
            me_pushinteger(L, count);
            lua_replace(L, lua_upvalueindex(6));
            lua_rawgeti(L, lua_upvalueindex(4), (int)i + 1);
            me_pushinteger(L, count);
            return 2;
        }
        if (pages_iter(L) == 0) {
            lua_pushnil(L);
            lua_replace(L, lua_upvalueindex(4));
            return 0;
        }
        lua_getfield(L, -1, "events");
        lua_replace(L, lua_upvalueindex(4));
        lua_pushnumber(L, 0);
        lua_replace(L, lua_upvalueindex(5));
        lua_pop(L, 1);
    }
}

/* for ... in client:pages(id, params): the iterator, and the pager as the
 * closing value, so that a break on Lua 5.4 releases the transfers at once
 * (elsewhere the collector does). */
static int make_iterator(lua_State *L, int events)
{
    me_client *c = check_client(L);
    lua_settop(L, 3);
    me_pager_push(L, 1, &c->target, 2, 3, 0, c->concurrency, c->retries);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_pushvalue(L, 1);
    lua_pushvalue(L, 4);
    if (events) {
        lua_pushnil(L);
        lua_pushnumber(L, 0);
        me_pushinteger(L, 0);
        lua_pushcclosure(L, events_iter, 6);
    } else {
        lua_pushcclosure(L, pages_iter, 3);
    }
    lua_pushnil(L);
    lua_pushnil(L);
    lua_pushvalue(L, 4);
    return 4;
}

/***
 * Iterate over every page; a failure raises the error object.
 * @function client:pages
 * @string training_job_id
 * @tparam[opt] table params as for `list`, plus `max_items`
 */
static int client_pages(lua_State *L)
{
    return make_iterator(L, 0);
}

/***
 * Iterate over every event, yielding `event, i`; a failure raises the error object.
 * @function client:events
 * @string training_job_id
 * @tparam[opt] table params as for `pages`
 */
static int client_events(lua_State *L)
{
    return make_iterator(L, 1);
}

/***
 * Free the connection; safe to call twice (`__gc` and `__close` do the same).
 * @function client:close
 */
static int client_close(lua_State *L)
{
    me_client *c = (me_client *)luaL_checkudata(L, 1, ME_CLIENT_MT);
    if (!c->closed) {
        if (c->transport && c->owner)
            me_transport_cancel(c->transport, NULL, requeue);
        c->owner = NULL;
        free_client(c);
    }
    return 0;
}

static int client_tostring(lua_State *L)
{
    me_client *c = (me_client *)luaL_checkudata(L, 1, ME_CLIENT_MT);
    if (c->closed)
        lua_pushliteral(L, "modelarts_events client (closed)");
    else
        lua_pushfstring(L, "modelarts_events client (%s, project %s, %s)", c->target.endpoint,
                        c->target.project_id, c->target.token ? "token" : "AK/SK");
    return 1;
}

void me_client_register(lua_State *L)
{
    static const luaL_Reg methods[] = {
        {"list", client_list}, {"pages", client_pages}, {"events", client_events},
        {"request", client_request}, {"pager", client_pager}, {"close", client_close},
        {NULL, NULL}};
    luaL_newmetatable(L, ME_CLIENT_MT);
    lua_newtable(L);
    lua_pushvalue(L, -3);
    me_setfuncs(L, methods, 1);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, client_close);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, client_close);
    lua_setfield(L, -2, "__close");
    lua_pushcfunction(L, client_tostring);
    lua_setfield(L, -2, "__tostring");
    lua_pop(L, 1);
}

/* ---- configuration from the environment --------------------------------- */

static void env_field(lua_State *L, const char *key, const char *var)
{
    const char *v = getenv(var);
    lua_getfield(L, -1, key);
    if (lua_isnil(L, -1) && v && *v) {
        lua_pushstring(L, v);
        lua_setfield(L, -3, key);
    }
    lua_pop(L, 1);
}

/***
 * A configuration for `new` from the environment: HUAWEICLOUD_SDK_AK, _SK,
 * _SECURITY_TOKEN, _PROJECT_ID, _REGION, MODELARTS_TOKEN and
 * MODELARTS_ENDPOINT, each unless `overrides` sets the field. `new` itself
 * reads only what it is given.
 * @function config_from_env
 * @tparam[opt] table overrides
 * @treturn table
 */
int me_config_from_env(lua_State *L)
{
    int has_auth;
    lua_newtable(L);
    if (lua_istable(L, 1)) {
        lua_pushnil(L);
        while (lua_next(L, 1)) {
            lua_pushvalue(L, -2);
            lua_insert(L, -2);
            lua_settable(L, -4);
        }
    } else if (!lua_isnoneornil(L, 1)) {
        me_error_argument(L, "overrides", "overrides must be a table");
    }
    env_field(L, "project_id", "HUAWEICLOUD_SDK_PROJECT_ID");
    lua_getfield(L, -1, "endpoint");
    lua_getfield(L, -2, "region");
    if (lua_isnil(L, -1) && lua_isnil(L, -2)) {
        lua_pop(L, 2);
        env_field(L, "endpoint", "MODELARTS_ENDPOINT");
        lua_getfield(L, -1, "endpoint");
        lua_pushnil(L);
    }
    if (lua_isnil(L, -2))
        env_field(L, "region", "HUAWEICLOUD_SDK_REGION");
    lua_pop(L, 2);
    /* One way to authenticate: what overrides chose, else AK/SK, else token. */
    lua_getfield(L, -1, "token");
    lua_getfield(L, -2, "ak");
    has_auth = !lua_isnil(L, -1) || !lua_isnil(L, -2);
    lua_pop(L, 2);
    if (!has_auth) {
        const char *ak = getenv("HUAWEICLOUD_SDK_AK"), *sk = getenv("HUAWEICLOUD_SDK_SK");
        if (ak && *ak && sk && *sk) {
            env_field(L, "ak", "HUAWEICLOUD_SDK_AK");
            env_field(L, "sk", "HUAWEICLOUD_SDK_SK");
            env_field(L, "security_token", "HUAWEICLOUD_SDK_SECURITY_TOKEN");
        } else {
            env_field(L, "token", "MODELARTS_TOKEN");
        }
    }
    return 1;
}
