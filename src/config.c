/***
 * Configuration: the table given to `me.new`, checked field by field and
 * copied into C memory, and `me.config_from_env`.
 * @submodule modelarts_events
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#include "compat.h"

#include "error.h"
#include "sources.h"
#include "util.h"
#include "version.h"

static const char *const CONFIG_KEYS[] = {
    "endpoint", "region", "project_id", "token", "ak", "sk", "security_token",
    "language", "timeout", "connect_timeout", "retries", "concurrency", "ca_file",
    "insecure", "proxy", "user_agent", "max_body", "iam_endpoint", "on_retry", NULL};

/* What to say when something is missing: every way to give it. */
#define WHERE_ENDPOINT "(config endpoint/region, CLI --endpoint/--region, or " \
                       "MODELARTS_ENDPOINT / HUAWEICLOUD_SDK_REGION)"
#define WHERE_PROJECT "(config project_id, CLI --project-id, or HUAWEICLOUD_SDK_PROJECT_ID; " \
                      "or a region, to find it through IAM)"
#define WHERE_AUTH "token (config token, CLI --token, or MODELARTS_TOKEN), or ak and sk " \
                   "(config ak/sk, or HUAWEICLOUD_SDK_AK / HUAWEICLOUD_SDK_SK); from the " \
                   "environment also a password login (HUAWEICLOUD_SDK_DOMAIN, _USER, " \
                   "_PASSWORD) or the metadata service (HUAWEICLOUD_SDK_METADATA=1)"

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

/* Free a copy, wiped first: secrets do not outlive the client in freed
 * memory. */
static void wipe(char **field)
{
    if (*field) {
        memset(*field, 0, strlen(*field));
        free(*field);
        *field = NULL;
    }
}

void me_config_free(lua_State *L, me_config *c)
{
    me_target *t = &c->target;
    char **fields[] = {&t->endpoint, &t->authority, &t->path_prefix, &t->iam.url,
                       &t->iam.authority, &t->iam.path_prefix, &t->region,
                       &t->project_id, &t->token, &t->ak, &t->sk, &t->security_token,
                       &t->language, &t->user_agent, &c->transport.ca_file,
                       &c->transport.proxy};
    size_t i;
    for (i = 0; i < sizeof fields / sizeof fields[0]; i++)
        wipe(fields[i]);
    for (i = 0; i < ME_PROXY_SECRETS; i++)
        wipe(&t->proxy_secrets[i]);
    luaL_unref(L, LUA_REGISTRYINDEX, t->functions);
    t->functions = LUA_NOREF;
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

/* Split the URL in e->url into what requests and signatures need; 0 or -1. */
static int split_endpoint(lua_State *L, me_endpoint *t)
{
    const char *e = t->url, *auth, *slash;
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
    n = strlen(t->url);
    while (n && t->url[n - 1] == '/')
        t->url[--n] = '\0';
    return 0;
}

#define URL_RULES "must be an http:// or https:// URL with a host, an optional port from 1 " \
                  "to 65535 and an optional path, without query, fragment, credentials, dot " \
                  "segments or control bytes"

static int valid_project_id(const char *s)
{
    size_t n = strlen(s);
    return n >= 1 && n <= 64 &&
           strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-") == n;
}

static void read_region(lua_State *L, int idx, me_target *t)
{
    t->region = config_string(L, idx, "region", 0);
    if (t->region) {
        size_t n = strlen(t->region);
        if (n > 32 || strspn(t->region, "abcdefghijklmnopqrstuvwxyz0123456789-") != n)
            me_error_argument(L, "region", "region must be a region name like cn-north-4");
    }
}

static void read_endpoint(lua_State *L, int idx, me_target *t)
{
    int rc;
    t->endpoint = config_string(L, idx, "endpoint", 0);
    read_region(L, idx, t);
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
    {
        me_endpoint e;
        e.url = t->endpoint;
        e.authority = e.path_prefix = NULL;
        rc = split_endpoint(L, &e);
        t->authority = e.authority;
        t->path_prefix = e.path_prefix;
    }
    if (rc != 0)
        me_error_argument(L, "endpoint", "endpoint " URL_RULES);
    /* IAM, for the project id: as given, else the region's. */
    t->iam.url = config_string(L, idx, "iam_endpoint", 0);
    if (!t->iam.url && t->region) {
        char url[128];
        snprintf(url, sizeof url, "https://iam.%s.myhuaweicloud.com", t->region);
        t->iam.url = copy_string(L, url, strlen(url));
    }
    if (t->iam.url && split_endpoint(L, &t->iam) != 0)
        me_error_argument(L, "iam_endpoint", "iam_endpoint " URL_RULES);
}

/* A credential: a string (copied), or a function (kept in the functions
 * table at index `fns`, called for each request). Returns whether it is
 * given at all. */
static int credential(lua_State *L, int idx, const char *key, int secret, int fns, char **out)
{
    lua_getfield(L, idx, key);
    if (lua_isfunction(L, -1)) {
        lua_setfield(L, fns, key);
        return 1;
    }
    lua_pop(L, 1);
    *out = config_string(L, idx, key, secret);
    return *out != NULL;
}

static void read_credentials(lua_State *L, int idx, me_target *t)
{
    int token, ak, sk, fns;
    lua_newtable(L);
    fns = lua_gettop(L);
    lua_getfield(L, idx, "on_retry");
    if (!lua_isnil(L, -1) && !lua_isfunction(L, -1))
        me_error_argument(L, "on_retry", "on_retry must be a function (err, delay_seconds)");
    lua_setfield(L, fns, "on_retry");
    token = credential(L, idx, "token", 1, fns, &t->token);
    ak = credential(L, idx, "ak", 0, fns, &t->ak);
    sk = credential(L, idx, "sk", 1, fns, &t->sk);
    t->temporary = credential(L, idx, "security_token", 1, fns, &t->security_token);
    t->use_token = token;
    t->functions = luaL_ref(L, LUA_REGISTRYINDEX);
    if (token && (ak || sk))
        me_error_argument(L, "token", "give token, or ak and sk, not both");
    if (!token && (!ak || !sk))
        me_error_argument(L, ak ? "sk" : (sk ? "ak" : "token"),
                          "authentication is required: " WHERE_AUTH);
    if (t->temporary && !ak)
        me_error_argument(L, "security_token", "security_token goes with ak and sk");
    t->project_id = config_string(L, idx, "project_id", 0);
    if (t->project_id && !valid_project_id(t->project_id))
        me_error_argument(L, "project_id", "project_id must hold 1 to 64 of A-Z a-z 0-9 -");
    if (!t->project_id && !(t->region && t->iam.url))
        me_error_argument(L, "project_id", "project_id is required " WHERE_PROJECT);
}

/* ---- the proxy ---------------------------------------------------------- */

static const char *const PROXY_SCHEMES[] = {"http://", "https://", "socks4://", "socks4a://",
                                            "socks5://", "socks5h://", NULL};

/* Where the user-info of a proxy URL is: *info (its length *n, 0 for none)
 * and the authority after it. -1 when the scheme is not one libcurl uses
 * for a proxy. */
static int split_proxy(const char *url, const char **info, size_t *n, const char **authority)
{
    const char *rest = url, *end, *at;
    int i;
    if (strstr(url, "://")) {
        for (i = 0; PROXY_SCHEMES[i]; i++)
            if (strncmp(url, PROXY_SCHEMES[i], strlen(PROXY_SCHEMES[i])) == 0)
                break;
        if (!PROXY_SCHEMES[i])
            return -1;
        rest = url + strlen(PROXY_SCHEMES[i]);
    }
    end = rest + strcspn(rest, "/");
    at = NULL;
    for (i = 0; rest + i < end; i++)
        if (rest[i] == '@')
            at = rest + i;
    *info = rest;
    *n = at ? (size_t)(at - rest) : 0;
    *authority = at ? at + 1 : rest;
    return 0;
}

/* [scheme://][user[:password]@]host[:port][/]: what libcurl takes as a
 * proxy, refused at new() rather than at every call, without showing the
 * value (it may hold a password). */
static int valid_proxy(const char *url)
{
    const char *info, *authority;
    size_t n, len;
    if (split_proxy(url, &info, &n, &authority) != 0)
        return 0;
    len = strcspn(authority, "/");
    return valid_authority(authority, len) && (authority[len] == '\0' ||
                                               strcmp(authority + len, "/") == 0);
}

/* Keep the user-info of the proxy URL (and its password) for redaction. */
static void keep_proxy_secrets(lua_State *L, me_target *t, const char *url)
{
    const char *info, *authority, *colon;
    size_t n, i, m;
    const char *parts[2];
    size_t lens[2];
    if (!url || split_proxy(url, &info, &n, &authority) != 0 || n == 0)
        return;
    colon = memchr(info, ':', n);
    parts[0] = info;
    lens[0] = n;
    parts[1] = colon ? colon + 1 : NULL;
    lens[1] = colon ? n - (size_t)(colon + 1 - info) : 0;
    for (m = 0; m < 2; m++) {
        if (!parts[m] || lens[m] == 0)
            continue;
        for (i = 0; i < ME_PROXY_SECRETS && t->proxy_secrets[i]; i++)
            if (strlen(t->proxy_secrets[i]) == lens[m] &&
                memcmp(t->proxy_secrets[i], parts[m], lens[m]) == 0)
                break;
        if (i < ME_PROXY_SECRETS && !t->proxy_secrets[i])
            t->proxy_secrets[i] = copy_string(L, parts[m], lens[m]);
    }
}

/* proxy: nil leaves libcurl to the environment (whose proxies' passwords
 * are kept for redaction), a URL sets one, false turns every proxy off. */
static void read_proxy(lua_State *L, int idx, me_config *c)
{
    static const char *const vars[] = {"http_proxy", "HTTP_PROXY", "https_proxy",
                                       "HTTPS_PROXY", "all_proxy", "ALL_PROXY", NULL};
    me_transport_options *o = &c->transport;
    int i;
    lua_getfield(L, idx, "proxy");
    if (lua_isboolean(L, -1) && !lua_toboolean(L, -1)) {
        lua_pop(L, 1);
        o->proxy_mode = ME_PROXY_NONE;
        return;
    }
    lua_pop(L, 1);
    o->proxy = config_string(L, idx, "proxy", 1);
    o->proxy_mode = o->proxy ? ME_PROXY_URL : ME_PROXY_ENV;
    if (o->proxy && !valid_proxy(o->proxy))
        me_error_argument(L, "proxy", "proxy must be [scheme://][user:password@]host[:port] "
                          "with a scheme of http, https, socks4, socks4a, socks5 or socks5h "
                          "(value not shown)");
    keep_proxy_secrets(L, &c->target, o->proxy);
    for (i = 0; vars[i] && !o->proxy; i++)
        keep_proxy_secrets(L, &c->target, getenv(vars[i]));
}

/* Refuse a field that is not in `keys`. */
static void check_keys(lua_State *L, int idx, const char *const *keys, const char *what)
{
    int i;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        const char *key = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
        int known = 0;
        for (i = 0; key && keys[i]; i++)
            known |= strcmp(key, keys[i]) == 0;
        lua_pop(L, 1);
        if (!known)
            me_error_argument(L, key ? key : "config", "unknown %s field '%.64s'", what,
                              key ? key : "(not a string)");
    }
}

/* What every connection needs: user agent, TLS, proxy, timeouts, retries. */
static void read_transport(lua_State *L, int idx, me_config *c)
{
    me_target *t = &c->target;
    t->user_agent = config_string(L, idx, "user_agent", 0);
    if (!t->user_agent) {
        const char *ua = "modelarts-events-lua/" ME_VERSION;
        t->user_agent = copy_string(L, ua, strlen(ua));
    }
    c->transport.ca_file = config_string(L, idx, "ca_file", 0);
    read_proxy(L, idx, c);
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

void me_config_read(lua_State *L, int idx, me_config *c)
{
    me_target *t = &c->target;
    idx = me_absindex(L, idx);
    t->functions = LUA_NOREF;
    check_keys(L, idx, CONFIG_KEYS, "configuration");
    read_endpoint(L, idx, t);
    read_credentials(L, idx, t);
    t->language = config_string(L, idx, "language", 0);
    read_transport(L, idx, c);
}

/* Transport settings every one-off call takes. */
#define TRANSPORT_KEYS "timeout", "connect_timeout", "retries", "ca_file", "insecure", "proxy", \
                       "user_agent", "max_body"

/* Set the target's endpoint to url (copied), split; raises naming field. */
static void service_endpoint(lua_State *L, me_target *t, const char *url, const char *field)
{
    me_endpoint e;
    t->endpoint = copy_string(L, url, strlen(url));
    e.url = t->endpoint;
    e.authority = e.path_prefix = NULL;
    if (split_endpoint(L, &e) != 0)
        me_error_argument(L, field, "%s " URL_RULES, field);
    t->authority = e.authority;
    t->path_prefix = e.path_prefix;
}

void me_config_read_login(lua_State *L, int idx, me_config *c)
{
    static const char *const keys[] = {"iam_endpoint", "region", "domain", "user", "password",
                                       "project_id", "project", TRANSPORT_KEYS, NULL};
    me_target *t = &c->target;
    char *url;
    idx = me_absindex(L, idx);
    t->functions = LUA_NOREF;
    check_keys(L, idx, keys, "me.iam_token");
    read_region(L, idx, t);
    url = config_string(L, idx, "iam_endpoint", 0);
    if (!url && !t->region)
        me_error_argument(L, "iam_endpoint", "iam_endpoint or region is required (IAM's URL, "
                          "or the region whose IAM to ask)");
    if (!url) {
        char fallback[128];
        snprintf(fallback, sizeof fallback, "https://iam.%s.myhuaweicloud.com", t->region);
        service_endpoint(L, t, fallback, "region");
    } else {
        /* (kept in iam.url, where me_config_free frees it) */
        t->iam.url = url;
        service_endpoint(L, t, url, "iam_endpoint");
    }
    read_transport(L, idx, c);
}

void me_config_read_securitykey(lua_State *L, int idx, me_config *c)
{
    static const char *const keys[] = {"endpoint", TRANSPORT_KEYS, NULL};
    me_target *t = &c->target;
    char *url;
    idx = me_absindex(L, idx);
    t->functions = LUA_NOREF;
    check_keys(L, idx, keys, "metadata");
    url = config_string(L, idx, "endpoint", 0);
    t->iam.url = url; /* (kept where me_config_free frees it) */
    service_endpoint(L, t, url ? url : ME_METADATA_ENDPOINT, "endpoint");
    read_transport(L, idx, c);
    /* The metadata service is link-local: never through a proxy, unless
     * one is asked for by name. */
    if (c->transport.proxy_mode == ME_PROXY_ENV)
        c->transport.proxy_mode = ME_PROXY_NONE;
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

/* Copy the connection settings of config into the options table at the top
 * (a login or the metadata service connects the same way). */
static void copy_connection(lua_State *L, int config, int proxy)
{
    static const char *const keys[] = {"timeout", "connect_timeout", "retries", "ca_file",
                                       "insecure", "user_agent", NULL};
    int i;
    for (i = 0; keys[i]; i++) {
        lua_getfield(L, config, keys[i]);
        lua_setfield(L, -2, keys[i]);
    }
    if (proxy) {
        lua_getfield(L, config, "proxy");
        lua_setfield(L, -2, "proxy");
    }
}

/* A password login from HUAWEICLOUD_SDK_DOMAIN, _USER and _PASSWORD, if all
 * are set: config.token becomes a renewing token function (and, without a
 * project id, the login happens now, to learn it). Returns whether. */
/* sources[name] pushed when it is a function (a driver's own maker of
 * credential functions: the OpenResty driver's fetch over cosockets);
 * else nothing is pushed and 0 returned. */
static int push_source_maker(lua_State *L, int sources, const char *name)
{
    if (!sources)
        return 0;
    lua_getfield(L, sources, name);
    if (lua_isfunction(L, -1))
        return 1;
    lua_pop(L, 1);
    return 0;
}

static int env_login(lua_State *L, int config, int decoder, int sources)
{
    static const char *const fields[][2] = {{"domain", "HUAWEICLOUD_SDK_DOMAIN"},
                                            {"user", "HUAWEICLOUD_SDK_USER"},
                                            {"password", "HUAWEICLOUD_SDK_PASSWORD"}};
    static const char *const copied[] = {"iam_endpoint", "region", "project_id", NULL};
    int i;
    for (i = 0; i < 3; i++) {
        const char *v = getenv(fields[i][1]);
        if (!v || !*v)
            return 0;
    }
    lua_newtable(L);
    for (i = 0; i < 3; i++) {
        lua_pushstring(L, getenv(fields[i][1]));
        lua_setfield(L, -2, fields[i][0]);
    }
    for (i = 0; copied[i]; i++) {
        lua_getfield(L, config, copied[i]);
        lua_setfield(L, -2, copied[i]);
    }
    copy_connection(L, config, 1);
    if (push_source_maker(L, sources, "iam_token_source")) {
        /* the driver's own source: nothing is fetched now (the client
         * finds the project through IAM at its first request) */
        lua_insert(L, -2);
        lua_call(L, 1, 1);
        lua_setfield(L, config, "token");
        return 1;
    }
    me_push_token_source(L, -1, decoder);
    if (!has_field(L, config, "project_id")) {
        /* the token's scope tells the project */
        lua_pushvalue(L, -1);
        lua_call(L, 0, 3);
        lua_setfield(L, config, "project_id");
        lua_pop(L, 2);
    }
    lua_setfield(L, config, "token");
    lua_pop(L, 1);
    return 1;
}

/* The metadata service, if asked for (overrides.metadata: true, its URL or
 * the options of me.metadata_credentials; else HUAWEICLOUD_SDK_METADATA: 1,
 * true or its URL): config.ak, sk and security_token become functions. */
static void metadata(lua_State *L, int config, int decoder, int have_auth, int sources)
{
    const char *env = getenv("HUAWEICLOUD_SDK_METADATA");
    int asked;
    lua_getfield(L, config, "metadata");
    lua_pushnil(L);
    lua_setfield(L, config, "metadata"); /* not a field of me.new */
    if (lua_isnil(L, -1) && env && *env) {
        lua_pop(L, 1);
        if (strcmp(env, "1") == 0 || strcmp(env, "true") == 0)
            lua_pushboolean(L, 1);
        else
            lua_pushstring(L, env);
    }
    asked = lua_toboolean(L, -1);
    if (!asked || have_auth) {
        lua_pop(L, 1);
        return;
    }
    if (lua_istable(L, -1)) {
        lua_newtable(L);
        me_table_copy(L, -2, -1);
    } else {
        lua_newtable(L);
        if (lua_type(L, -2) == LUA_TSTRING) {
            lua_pushvalue(L, -2);
            lua_setfield(L, -2, "endpoint");
        } else if (!lua_isboolean(L, -2)) {
            me_error_argument(L, "metadata", "metadata must be true, the metadata service's "
                              "URL or a table of options");
        }
        copy_connection(L, config, 0);
    }
    if (push_source_maker(L, sources, "metadata_credentials")) {
        lua_insert(L, -2);
        lua_call(L, 1, 1);
        lua_pushnil(L); /* where the options were: the same stack either way */
        lua_insert(L, -2);
        if (!lua_istable(L, -1))
            me_error_argument(L, "sources", "sources.metadata_credentials must return a table "
                              "of ak, sk and security_token functions");
    } else {
        me_push_metadata_credentials(L, -1, decoder);
    }
    lua_getfield(L, -1, "ak");
    lua_setfield(L, config, "ak");
    lua_getfield(L, -1, "sk");
    lua_setfield(L, config, "sk");
    lua_getfield(L, -1, "security_token");
    lua_setfield(L, config, "security_token");
    lua_pop(L, 3);
}

/***
 * A configuration for `new` from the environment. For each field: what
 * `overrides` sets, else the environment, else (only when asked for) the
 * metadata service.
 *
 * Where: MODELARTS_ENDPOINT (unless `overrides` gives an endpoint or a
 * region), HUAWEICLOUD_SDK_REGION (taken even beside an endpoint, to name
 * the region), HUAWEICLOUD_SDK_PROJECT_ID, HUAWEICLOUD_SDK_IAM_ENDPOINT.
 *
 * Who, the first way that is complete: a token or AK/SK in `overrides`;
 * HUAWEICLOUD_SDK_AK and HUAWEICLOUD_SDK_SK (with
 * HUAWEICLOUD_SDK_SECURITY_TOKEN); MODELARTS_TOKEN; a password login from
 * HUAWEICLOUD_SDK_DOMAIN (the account), HUAWEICLOUD_SDK_USER and
 * HUAWEICLOUD_SDK_PASSWORD (`token` becomes an `iam_token_source` scoped to
 * the project id, else to the region's project; without a project id it
 * logs in now, to learn it); then, when `overrides.metadata` is true (or
 * the service's URL, or a table of `metadata_credentials` options) or
 * HUAWEICLOUD_SDK_METADATA is 1, true or the service's URL, temporary AK/SK
 * from the metadata service (`ak`, `sk`, `security_token` become
 * `metadata_credentials` functions). Other values pass through unchanged;
 * `new` checks them and says what is missing. Proxies need nothing here:
 * with `proxy` unset the client honours `https_proxy`, `http_proxy` and
 * `no_proxy` as curl does.
 * `overrides.sources` (for drivers of their own) replaces the makers of
 * the renewing functions: `{ iam_token_source = f, metadata_credentials = g }`,
 * each called with the options the C one would get; with a source of its
 * own nothing is fetched at once (a missing project id is then found
 * through IAM at the first request).
 * @function config_from_env
 * @tparam[opt] table overrides fields of `new`, plus `metadata` and `sources`
 * @treturn table
 */
int me_config_from_env(lua_State *L)
{
    int config, have_auth, sources = 0;
    if (!lua_isnoneornil(L, 1) && !lua_istable(L, 1))
        me_error_argument(L, "overrides", "overrides must be a table");
    lua_settop(L, 1);
    lua_newtable(L);
    config = lua_gettop(L);
    if (lua_istable(L, 1))
        me_table_copy(L, 1, config);
    lua_getfield(L, config, "sources");
    lua_pushnil(L);
    lua_setfield(L, config, "sources"); /* not a field of me.new */
    if (lua_istable(L, -1))
        sources = lua_gettop(L);
    else if (!lua_isnil(L, -1))
        me_error_argument(L, "sources", "sources must be a table of functions");
    env_field(L, config, "project_id", "HUAWEICLOUD_SDK_PROJECT_ID");
    if (!has_field(L, config, "endpoint") && !has_field(L, config, "region"))
        env_field(L, config, "endpoint", "MODELARTS_ENDPOINT");
    env_field(L, config, "region", "HUAWEICLOUD_SDK_REGION");
    env_field(L, config, "iam_endpoint", "HUAWEICLOUD_SDK_IAM_ENDPOINT");
    /* One way to authenticate: what overrides chose, else the environment's. */
    have_auth = has_field(L, config, "token") || has_field(L, config, "ak") ||
                has_field(L, config, "sk");
    if (!have_auth) {
        const char *ak = getenv("HUAWEICLOUD_SDK_AK"), *sk = getenv("HUAWEICLOUD_SDK_SK");
        const char *token = getenv("MODELARTS_TOKEN");
        have_auth = 1;
        if (ak && *ak && sk && *sk) {
            env_field(L, config, "ak", "HUAWEICLOUD_SDK_AK");
            env_field(L, config, "sk", "HUAWEICLOUD_SDK_SK");
            env_field(L, config, "security_token", "HUAWEICLOUD_SDK_SECURITY_TOKEN");
        } else if (token && *token) {
            env_field(L, config, "token", "MODELARTS_TOKEN");
        } else {
            have_auth = env_login(L, config, lua_upvalueindex(1), sources);
        }
    }
    metadata(L, config, lua_upvalueindex(1), have_auth, sources);
    lua_settop(L, config);
    return 1;
}
