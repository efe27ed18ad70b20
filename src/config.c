/***
 * Configuration: the table given to `me.new`, checked field by field and
 * copied into C memory, and `me.config_from_env`.
 * @module modelarts_events
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#include "error.h"
#include "util.h"
#include "version.h"

static const char *const CONFIG_KEYS[] = {
    "endpoint", "region", "project_id", "token", "ak", "sk", "security_token",
    "language", "timeout", "connect_timeout", "retries", "concurrency", "ca_file",
    "insecure", "proxy", "user_agent", "max_body", NULL};

/* What to say when something is missing: every way to give it. */
#define WHERE_ENDPOINT "(config endpoint/region, CLI --endpoint/--region, or " \
                       "MODELARTS_ENDPOINT / HUAWEICLOUD_SDK_REGION)"
#define WHERE_PROJECT "(config project_id, CLI --project-id, or HUAWEICLOUD_SDK_PROJECT_ID)"
#define WHERE_AUTH "token (config token, CLI --token, or MODELARTS_TOKEN), or ak and sk " \
                   "(config ak/sk, or HUAWEICLOUD_SDK_AK / HUAWEICLOUD_SDK_SK)"

static char *copy_string(lua_State *L, const char *s, size_t n)
{
    char *copy = malloc(n + 1);
    if (copy) {
        memcpy(copy, s, n);
        copy[n] = '\0';
    } else {
        me_error_raise(L, "invalid_argument", "out of memory while reading the configuration");
    }
    return copy;
}

/* A copied string field, or NULL when absent. Values are never echoed:
 * some of them are secrets. */
static char *config_string(lua_State *L, int idx, const char *key, int secret)
{
    size_t n;
    const char *s;
    char *copy;
    lua_getfield(L, idx, key);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        return NULL;
    }
    if (lua_type(L, -1) != LUA_TSTRING)
        me_error_argument(L, key, "%s must be a string", key);
    s = lua_tolstring(L, -1, &n);
    if (n == 0 || me_has_control_byte(s, n))
        me_error_argument(L, key, "%s must be a non-empty string without control bytes%s", key,
                          secret ? " (value not shown)" : "");
    copy = copy_string(L, s, n);
    lua_pop(L, 1);
    return copy;
}

static double config_number(lua_State *L, int idx, const char *key, double fallback,
                            double lo, double hi, int whole)
{
    double v;
    lua_getfield(L, idx, key);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        return fallback;
    }
    v = lua_type(L, -1) == LUA_TNUMBER ? lua_tonumber(L, -1) : lo - 1;
    if (!(v >= lo && v <= hi) || (whole && v != (double)(long long)v))
        me_error_argument(L, key, "%s must be %s from %.15g to %.15g", key,
                          whole ? "an integer" : "a number", lo, hi);
    lua_pop(L, 1);
    return v;
}

void me_config_free(me_config *c)
{
    me_target *t = &c->target;
    char **fields[] = {&t->endpoint, &t->authority, &t->path_prefix, &t->region,
                       &t->project_id, &t->token, &t->ak, &t->sk, &t->security_token,
                       &t->language, &t->user_agent, &c->transport.ca_file,
                       &c->transport.proxy};
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

/* ---- the endpoint ------------------------------------------------------- */

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* host[:port]: a name or an IPv4 address of letters, digits, '-', '.', '_',
 * '~', or an [IPv6] literal; a port of 1 to 65535. */
static int valid_authority(const char *a, size_t n)
{
    size_t host_end, i;
    if (n == 0)
        return 0;
    if (a[0] == '[') {
        const char *close = memchr(a, ']', n);
        if (!close || close == a + 1)
            return 0;
        host_end = (size_t)(close - a) + 1;
        for (i = 1; i + 1 < host_end; i++)
            if (!strchr("0123456789abcdefABCDEF:.", a[i]))
                return 0;
    } else {
        for (host_end = 0; host_end < n && a[host_end] != ':'; host_end++)
            if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~",
                        a[host_end]))
                return 0;
        if (host_end == 0)
            return 0;
    }
    if (host_end == n)
        return 1;
    if (a[host_end] != ':' || host_end + 1 == n || n - host_end - 1 > 5)
        return 0;
    {
        long port = 0;
        for (i = host_end + 1; i < n; i++) {
            if (!is_digit(a[i]))
                return 0;
            port = port * 10 + (a[i] - '0');
        }
        return port >= 1 && port <= 65535;
    }
}

/* A path prefix of printable bytes, without query, fragment or dot
 * segments: the path that is signed is the path that is sent. */
static int valid_prefix(const char *p)
{
    const char *seg;
    for (seg = p; *seg; seg++)
        if ((unsigned char)*seg <= 0x20 || (unsigned char)*seg >= 0x7f || *seg == '?' ||
            *seg == '#' || *seg == '\\')
            return 0;
    for (seg = p; (seg = strchr(seg, '/')) != NULL; seg++) {
        size_t len = strcspn(seg + 1, "/");
        if ((len == 1 && seg[1] == '.') || (len == 2 && seg[1] == '.' && seg[2] == '.'))
            return 0;
    }
    return 1;
}

/* Split the endpoint into what requests and signatures need; 0 or -1. */
static int split_endpoint(lua_State *L, me_target *t)
{
    const char *e = t->endpoint, *auth, *slash;
    size_t n;
    if (strncmp(e, "http://", 7) == 0)
        auth = e + 7;
    else if (strncmp(e, "https://", 8) == 0)
        auth = e + 8;
    else
        return -1;
    slash = strchr(auth, '/');
    n = slash ? (size_t)(slash - auth) : strlen(auth);
    if (!valid_authority(auth, n) || !valid_prefix(auth + n))
        return -1;
    t->authority = copy_string(L, auth, n);
    t->path_prefix = copy_string(L, auth + n, strlen(auth + n));
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

static void read_endpoint(lua_State *L, int idx, me_target *t)
{
    t->endpoint = config_string(L, idx, "endpoint", 0);
    t->region = config_string(L, idx, "region", 0);
    if (t->region) {
        size_t n = strlen(t->region);
        if (n > 32 || strspn(t->region, "abcdefghijklmnopqrstuvwxyz0123456789-") != n)
            me_error_argument(L, "region", "region must be a region name like cn-north-4");
    }
    if (!t->endpoint && t->region) {
        /* The SDKs' region table puts this one on the .cn domain. */
        const char *domain = strcmp(t->region, "ap-southeast-1") == 0 ? "myhuaweicloud.cn"
                                                                      : "myhuaweicloud.com";
        char url[128];
        snprintf(url, sizeof url, "https://modelarts.%s.%s", t->region, domain);
        t->endpoint = copy_string(L, url, strlen(url));
    }
    if (!t->endpoint)
        me_error_argument(L, "endpoint", "endpoint or region is required " WHERE_ENDPOINT);
    if (split_endpoint(L, t) != 0)
        me_error_argument(L, "endpoint", "endpoint must be an http:// or https:// URL with a "
                          "host, an optional port from 1 to 65535 and an optional path, "
                          "without query, fragment, credentials, dot segments or control bytes");
}

static void read_credentials(lua_State *L, int idx, me_target *t)
{
    t->project_id = config_string(L, idx, "project_id", 0);
    if (!t->project_id)
        me_error_argument(L, "project_id", "project_id is required " WHERE_PROJECT);
    if (!valid_project_id(t->project_id))
        me_error_argument(L, "project_id", "project_id must hold 1 to 64 of A-Z a-z 0-9 -");
    t->token = config_string(L, idx, "token", 1);
    t->ak = config_string(L, idx, "ak", 0);
    t->sk = config_string(L, idx, "sk", 1);
    t->security_token = config_string(L, idx, "security_token", 1);
    if (t->token && (t->ak || t->sk))
        me_error_argument(L, "token", "give token, or ak and sk, not both");
    if (!t->token && (!t->ak || !t->sk))
        me_error_argument(L, t->ak ? "sk" : (t->sk ? "ak" : "token"),
                          "authentication is required: " WHERE_AUTH);
    if (t->security_token && !t->ak)
        me_error_argument(L, "security_token", "security_token goes with ak and sk");
}

/* proxy: nil leaves libcurl to the environment, a URL sets one, false
 * turns every proxy off. */
static void read_proxy(lua_State *L, int idx, me_transport_options *o)
{
    lua_getfield(L, idx, "proxy");
    if (lua_isboolean(L, -1) && !lua_toboolean(L, -1)) {
        lua_pop(L, 1);
        o->proxy_mode = ME_PROXY_NONE;
        return;
    }
    lua_pop(L, 1);
    o->proxy = config_string(L, idx, "proxy", 0);
    o->proxy_mode = o->proxy ? ME_PROXY_URL : ME_PROXY_ENV;
}

void me_config_read(lua_State *L, int idx, me_config *c)
{
    me_target *t = &c->target;
    int i;
    idx = idx < 0 ? lua_gettop(L) + idx + 1 : idx;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        const char *key = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
        int known = 0;
        for (i = 0; key && CONFIG_KEYS[i]; i++)
            known |= strcmp(key, CONFIG_KEYS[i]) == 0;
        lua_pop(L, 1);
        if (!known)
            me_error_argument(L, key ? key : "config", "unknown configuration field '%.64s'",
                              key ? key : "(not a string)");
    }
    read_endpoint(L, idx, t);
    read_credentials(L, idx, t);
    t->language = config_string(L, idx, "language", 0);
    t->user_agent = config_string(L, idx, "user_agent", 0);
    if (!t->user_agent) {
        const char *ua = "modelarts-events-lua/" ME_VERSION;
        t->user_agent = copy_string(L, ua, strlen(ua));
    }
    c->transport.ca_file = config_string(L, idx, "ca_file", 0);
    read_proxy(L, idx, &c->transport);
    c->transport.timeout_ms =
        (long)(config_number(L, idx, "timeout", 30, 0.001, 86400, 0) * 1000);
    c->transport.connect_timeout_ms =
        (long)(config_number(L, idx, "connect_timeout", 10, 0.001, 86400, 0) * 1000);
    c->transport.max_body = (size_t)config_number(L, idx, "max_body", 8 * 1024 * 1024, 1024,
                                                  1024.0 * 1024 * 1024 * 1024, 1);
    c->retries = (int)config_number(L, idx, "retries", 3, 0, 100, 1);
    c->concurrency = (int)config_number(L, idx, "concurrency", 4, 1, 32, 1);
    lua_getfield(L, idx, "insecure");
    if (!lua_isnil(L, -1) && !lua_isboolean(L, -1))
        me_error_argument(L, "insecure", "insecure must be a boolean");
    c->transport.insecure = lua_toboolean(L, -1);
    lua_pop(L, 1);
}

/* ---- configuration from the environment --------------------------------- */

/* config[key] = $var, unless config already has it or var is unset/empty. */
static void env_field(lua_State *L, int config, const char *key, const char *var)
{
    const char *v = getenv(var);
    lua_getfield(L, config, key);
    if (lua_isnil(L, -1) && v && *v) {
        lua_pushstring(L, v);
        lua_setfield(L, config, key);
    }
    lua_pop(L, 1);
}

static int has_field(lua_State *L, int config, const char *key)
{
    int has;
    lua_getfield(L, config, key);
    has = !lua_isnil(L, -1);
    lua_pop(L, 1);
    return has;
}

/***
 * A configuration for `new` from the environment: MODELARTS_ENDPOINT,
 * HUAWEICLOUD_SDK_REGION, HUAWEICLOUD_SDK_PROJECT_ID, HUAWEICLOUD_SDK_AK,
 * _SK, _SECURITY_TOKEN and MODELARTS_TOKEN, each unless `overrides` sets
 * the field (an endpoint or region in `overrides` wins over
 * MODELARTS_ENDPOINT; the region is still taken, to name it). Values pass
 * through unchanged; `new` checks them and says what is missing. Proxies
 * need nothing here: with `proxy` unset the client honours `https_proxy`,
 * `http_proxy` and `no_proxy` as curl does.
 * @function config_from_env
 * @tparam[opt] table overrides
 * @treturn table
 */
int me_config_from_env(lua_State *L)
{
    int config;
    if (!lua_isnoneornil(L, 1) && !lua_istable(L, 1))
        me_error_argument(L, "overrides", "overrides must be a table");
    lua_settop(L, 1);
    lua_newtable(L);
    config = lua_gettop(L);
    if (lua_istable(L, 1))
        me_table_copy(L, 1, config);
    env_field(L, config, "project_id", "HUAWEICLOUD_SDK_PROJECT_ID");
    if (!has_field(L, config, "endpoint") && !has_field(L, config, "region"))
        env_field(L, config, "endpoint", "MODELARTS_ENDPOINT");
    env_field(L, config, "region", "HUAWEICLOUD_SDK_REGION");
    /* One way to authenticate: what overrides chose, else AK/SK, else token. */
    if (!has_field(L, config, "token") && !has_field(L, config, "ak") &&
        !has_field(L, config, "sk")) {
        const char *ak = getenv("HUAWEICLOUD_SDK_AK"), *sk = getenv("HUAWEICLOUD_SDK_SK");
        if (ak && *ak && sk && *sk) {
            env_field(L, config, "ak", "HUAWEICLOUD_SDK_AK");
            env_field(L, config, "sk", "HUAWEICLOUD_SDK_SK");
            env_field(L, config, "security_token", "HUAWEICLOUD_SDK_SECURITY_TOKEN");
        } else {
            env_field(L, config, "token", "MODELARTS_TOKEN");
        }
    }
    return 1;
}
