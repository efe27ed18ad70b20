/* request.c - validation, encoding and signing of ListTrainingJobEvents
 * requests. Everything a user can get wrong is caught here, before a byte is
 * sent, and reported as an invalid_argument error naming the parameter. */
#include "request.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lauxlib.h>

#include "compat.h"
#include "error.h"
#include "sign.h"
#include "util.h"

void me_request_init(me_request *r)
{
    r->method = "GET";
    me_buf_init(&r->url);
    me_buf_init(&r->headers);
    me_buf_init(&r->body);
    r->n_headers = 0;
}

void me_request_free(me_request *r)
{
    me_buf_free(&r->url);
    me_buf_free(&r->headers);
    /* a login's body holds a password */
    if (r->body.cap)
        memset(r->body.data, 0, r->body.len);
    me_buf_free(&r->body);
    r->n_headers = 0;
}

/* ---- ISO-8601 ---------------------------------------------------------- */

/* Days since 1970-01-01 of a civil date (proleptic Gregorian). */
static long long days_from_civil(long long y, int m, int d)
{
    long long era, yoe, doy, doe;
    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* Exactly n digits at s (the caller checked that n bytes exist). */
static int digits(const char *s, int n, int *out)
{
    int i, v = 0;
    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

static int leap_year(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int me_parse_iso8601(const char *s, size_t n, long long *ms)
{
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int y, mo, d, h, mi, sec, frac = 0, oh = 0, om = 0, sign = 0;
    size_t i = 19, fdigits = 0;
    /* YYYY-MM-DD, 'T' or ' ', HH:MM:SS: fixed positions */
    if (n < 20 || digits(s, 4, &y) || s[4] != '-' || digits(s + 5, 2, &mo) ||
        s[7] != '-' || digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != ' ') ||
        digits(s + 11, 2, &h) || s[13] != ':' || digits(s + 14, 2, &mi) ||
        s[16] != ':' || digits(s + 17, 2, &sec))
        return -1;
    if (s[i] == '.') {
        /* 1 to 9 digits, truncated to milliseconds (never rounded) */
        for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++, fdigits++)
            if (fdigits < 3)
                frac = frac * 10 + (s[i] - '0');
        if (fdigits == 0 || fdigits > 9)
            return -1;
        for (; fdigits < 3; fdigits++)
            frac *= 10;
    }
    if (i < n && (s[i] == 'Z' || s[i] == 'z') && i + 1 == n) {
        sign = 0;
    } else if (i < n && (s[i] == '+' || s[i] == '-')) {
        /* +HH:MM or +HHMM */
        sign = s[i] == '-' ? -1 : 1;
        if (n - i == 6 && s[i + 3] == ':') {
            if (digits(s + i + 1, 2, &oh) || digits(s + i + 4, 2, &om))
                return -1;
        } else if (n - i == 5) {
            if (digits(s + i + 1, 2, &oh) || digits(s + i + 3, 2, &om))
                return -1;
        } else {
            return -1;
        }
    } else {
        return -1;
    }
    if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59 ||
        sec > 60 || oh > 23 || om > 59 || (mo == 2 && d == 29 && !leap_year(y)))
        return -1;
    /* second 60 (a leap second) is the next minute's 0 */
    *ms = ((days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec) -
           (long long)sign * (oh * 3600 + om * 60)) * 1000 + frac;
    return 0;
}

/* ---- parameter checks -------------------------------------------------- */

/* A whole number from a Lua number or a string of digits. */
static int whole_number(lua_State *L, int idx, long long *out)
{
    if (lua_type(L, idx) == LUA_TNUMBER) {
        lua_Number n = lua_tonumber(L, idx);
#if LUA_VERSION_NUM >= 503
        if (lua_isinteger(L, idx)) {
            *out = (long long)lua_tointeger(L, idx);
            return 0;
        }
#endif
        if (n != floor(n) || n < -9e15 || n > 9e15)
            return -1;
        *out = (long long)n;
        return 0;
    }
    return -1;
}

static long long check_range(lua_State *L, int idx, const char *name,
                             long long lo, long long hi)
{
    long long v;
    if (whole_number(L, idx, &v) != 0 || v < lo || v > hi)
        me_error_argument(L, name, "%s must be an integer from %lld to %lld", name, lo, hi);
    return v;
}

static const char *check_enum(lua_State *L, int idx, const char *name,
                              const char *const *allowed, const char *list)
{
    const char *s;
    int i;
    if (lua_type(L, idx) == LUA_TSTRING) {
        s = lua_tostring(L, idx);
        for (i = 0; allowed[i]; i++)
            if (strcmp(s, allowed[i]) == 0)
                return allowed[i];
    }
    me_error_argument(L, name, "%s must be one of %s", name, list);
    return NULL;
}

/* Epoch ms from an integer or an ISO-8601 string. */
static long long check_time(lua_State *L, int idx, const char *name)
{
    long long v;
    int parsed;
    if (lua_type(L, idx) == LUA_TSTRING) {
        size_t n;
        const char *s = lua_tolstring(L, idx, &n);
        parsed = me_parse_iso8601(s, n, &v) == 0;
    } else {
        parsed = whole_number(L, idx, &v) == 0;
    }
    if (parsed && v < 0)
        me_error_argument(L, name, "%s is before 1970-01-01 (%lld ms): the service counts "
                          "from the epoch", name, v);
    if (!parsed)
        me_error_argument(L, name, "%s must be epoch milliseconds (a non-negative integer) "
                          "or an ISO-8601 date-time with an offset, like "
                          "2022-11-26T16:01:36+08:00", name);
    return v;
}

/* Characters in s if it is valid UTF-8 (no overlong forms, no surrogates,
 * nothing above U+10FFFF), else -1. */
static long long utf8_length(const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    long long chars = 0;
    while (i < n) {
        unsigned char c = s[i];
        size_t len, k;
        unsigned long cp;
        if (c < 0x80) {
            i++, chars++;
            continue;
        }
        if (c >= 0xC2 && c <= 0xDF)
            len = 2, cp = c & 0x1F;
        else if (c >= 0xE0 && c <= 0xEF)
            len = 3, cp = c & 0x0F;
        else if (c >= 0xF0 && c <= 0xF4)
            len = 4, cp = c & 0x07;
        else
            return -1;
        if (i + len > n)
            return -1;
        for (k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return -1;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if ((len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
            (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
            return -1;
        i += len, chars++;
    }
    return chars;
}

static const char *const ORDERS[] = {"asc", "desc", NULL};
static const char *const LEVELS[] = {"Info", "Error", "Warning", NULL};
static const char *const SOURCES[] = {"K8S", "Job", "Task", NULL};
static const char *const LIST_KEYS[] = {
    "offset", "limit", "order", "start_time", "end_time", "level", "source",
    "pattern", "language", "max_items", NULL};

/* Push params[key] and tell whether it is there; the caller pops it. */
static int get_param(lua_State *L, int idx, const char *key)
{
    lua_getfield(L, idx, key);
    return !lua_isnil(L, -1);
}

void me_query_check(lua_State *L, int idx, me_query *q, int iterating)
{
    int i, has_start, has_end;
    memset(q, 0, sizeof *q);
    q->max_items = -1;
    if (lua_isnoneornil(L, idx))
        return;
    if (!lua_istable(L, idx))
        me_error_argument(L, "params", "params must be a table");
    idx = me_absindex(L, idx);
    luaL_checkstack(L, 8, "modelarts_events: checking params");

    /* Unknown names are mistakes (a typo would silently widen the query). */
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        const char *key = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
        int known = 0;
        for (i = 0; key && LIST_KEYS[i]; i++)
            if (strcmp(key, LIST_KEYS[i]) == 0)
                known = !(strcmp(key, "max_items") == 0 && !iterating);
        lua_pop(L, 1);
        if (!known) {
            const char *shown = key ? key : luaL_typename(L, -1);
            me_error_argument(L, shown, "unknown parameter '%.64s' (known: offset, limit, order, "
                              "start_time, end_time, level, source, pattern, language%s)",
                              shown, iterating ? ", max_items" : "");
        }
    }

    if (get_param(L, idx, "offset"))
        q->offset = check_range(L, -1, "offset", 0, 1000000000000LL);
    if (get_param(L, idx, "limit"))
        q->limit = check_range(L, -1, "limit", 1, 100);
    if (get_param(L, idx, "max_items"))
        q->max_items = check_range(L, -1, "max_items", 1, 1000000000000LL);
    lua_pop(L, 3);
    /* Strings from here on stay referenced by the params table. */
    if (get_param(L, idx, "order"))
        q->order = check_enum(L, -1, "order", ORDERS, "asc, desc");
    if (get_param(L, idx, "level"))
        q->level = check_enum(L, -1, "level", LEVELS, "Info, Error, Warning");
    if (get_param(L, idx, "source"))
        q->source = check_enum(L, -1, "source", SOURCES, "K8S, Job, Task");
    lua_pop(L, 3);
    if (get_param(L, idx, "pattern")) {
        size_t n;
        const char *p;
        long long chars;
        if (lua_type(L, -1) != LUA_TSTRING)
            me_error_argument(L, "pattern", "pattern must be a string");
        p = lua_tolstring(L, -1, &n);
        chars = utf8_length(p, n);
        if (chars < 0)
            me_error_argument(L, "pattern", "pattern must be valid UTF-8");
        if (chars == 0 || chars > 256)
            me_error_argument(L, "pattern", "pattern must hold 1 to 256 characters");
        q->pattern = p;
        q->pattern_len = n;
    }
    lua_pop(L, 1);
    if (get_param(L, idx, "language")) {
        size_t n = 0;
        const char *s = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &n) : NULL;
        if (!s || n == 0 || n > 35 || me_has_control_byte(s, n))
            me_error_argument(L, "language", "language must be a language tag like en-us or zh-cn");
        q->language = s;
    }
    lua_pop(L, 1);
    has_start = get_param(L, idx, "start_time");
    has_end = get_param(L, idx, "end_time");
    if (has_start != has_end)
        me_error_argument(L, has_start ? "end_time" : "start_time",
                          "start_time and end_time must be given together");
    if (has_start) {
        q->has_window = 1;
        q->start_time = check_time(L, -2, "start_time");
        q->end_time = check_time(L, -1, "end_time");
        if (q->start_time > q->end_time)
            me_error_argument(L, "start_time", "start_time must not be after end_time");
    }
    lua_pop(L, 2);
}

const char *me_job_id_check(lua_State *L, int idx)
{
    size_t n, i;
    const char *s;
    if (lua_type(L, idx) != LUA_TSTRING)
        me_error_argument(L, "training_job_id", "training_job_id must be a string");
    s = lua_tolstring(L, idx, &n);
    if (n == 0 || n > 256)
        me_error_argument(L, "training_job_id", "training_job_id must hold 1 to 256 bytes");
    /* "." and ".." are path segments of their own: a URL library removes
     * them, and the request would go elsewhere than the job's. */
    if (strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
        me_error_argument(L, "training_job_id", "training_job_id must not be '.' or '..'");
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f || c == '/' || c == '?' || c == '#')
            me_error_argument(L, "training_job_id",
                              "training_job_id must not hold '/', '?', '#' or control bytes");
    }
    return s;
}

/* ---- building ---------------------------------------------------------- */

static void add_header(me_request *r, const char *name, const char *value)
{
    me_buf_adds(&r->headers, name);
    me_buf_add(&r->headers, ": ", 2);
    me_buf_adds(&r->headers, value);
    me_buf_add(&r->headers, "", 1); /* keep the NUL as a separator */
    r->n_headers++;
}

static void add_param(me_buf *b, const char *key, const char *value, size_t n)
{
    if (b->len)
        me_buf_addc(b, '&');
    me_buf_adds(b, key);
    me_buf_addc(b, '=');
    me_buf_add_pct(b, value, n);
}

static void add_number(me_buf *b, const char *key, long long v)
{
    char num[32];
    int n = snprintf(num, sizeof num, "%lld", v);
    add_param(b, key, num, (size_t)n);
}

/* The canonical query of one events page: keys in byte order (end_time
 * level limit offset order pattern source start_time), so that what is
 * sent is what SDK-HMAC-SHA256 signs. */
static void events_query(me_buf *query, const me_query *q, long long offset)
{
    if (q->has_window)
        add_number(query, "end_time", q->end_time);
    if (q->level)
        add_param(query, "level", q->level, strlen(q->level));
    if (q->limit)
        add_number(query, "limit", q->limit);
    add_number(query, "offset", offset);
    if (q->order)
        add_param(query, "order", q->order, strlen(q->order));
    if (q->pattern)
        add_param(query, "pattern", q->pattern, q->pattern_len);
    if (q->source)
        add_param(query, "source", q->source, strlen(q->source));
    if (q->has_window)
        add_number(query, "start_time", q->start_time);
}

/* What one request signs and sends. */
typedef struct signing {
    const char *method;
    const me_buf *path, *query;       /* path as signed (with the prefix); canonical query */
    const char *authority;
    const char *project_id;           /* X-Project-Id, or NULL */
    const char *language;             /* X-Language, or NULL */
} signing;

/* The credentials' headers: the token, or (AK/SK) everything sent below
 * Accept and User-Agent, signed as the official SDKs do. Returns 0 or -1
 * with *err. */
static int add_auth(me_request *out, const me_creds *c, const signing *g, const char **err)
{
    me_header signed_headers[5];
    size_t n = 0, i;
    char date[32];
    time_t now = time(NULL);
    struct tm tm;
    me_signature sig;
    me_sign_input in;
    int rc;
    if (c->token) {
        add_header(out, "X-Auth-Token", c->token);
        if (g->language)
            add_header(out, "X-Language", g->language);
        return 0;
    }
    if (!c->ak || !c->sk) {
        *err = "no credentials to send";
        return -1;
    }
    gmtime_r(&now, &tm);
    strftime(date, sizeof date, "%Y%m%dT%H%M%SZ", &tm);
    signed_headers[n].name = "Host", signed_headers[n++].value = g->authority;
    signed_headers[n].name = "X-Sdk-Date", signed_headers[n++].value = date;
    if (g->project_id)
        signed_headers[n].name = "X-Project-Id", signed_headers[n++].value = g->project_id;
    if (c->security_token)
        signed_headers[n].name = "X-Security-Token", signed_headers[n++].value = c->security_token;
    if (g->language)
        signed_headers[n].name = "X-Language", signed_headers[n++].value = g->language;
    in.method = g->method;
    in.path = g->path->data;
    in.path_len = g->path->len;
    in.query = g->query->data;
    in.query_len = g->query->len;
    in.headers = signed_headers;
    in.n_headers = n;
    in.body = "";
    in.body_len = 0;
    me_signature_init(&sig);
    rc = me_sign(&sig, &in, c->ak, c->sk, strlen(c->sk), err);
    if (rc == 0) {
        for (i = 0; i < n; i++)
            add_header(out, signed_headers[i].name, signed_headers[i].value);
        add_header(out, "Authorization", sig.authorization.data);
    }
    me_signature_free(&sig);
    return rc;
}

/* Start a request: method, URL (base + rest + ?query), Accept, User-Agent. */
static void begin(me_request *out, const char *method, const char *base, const me_buf *rest,
                  const me_buf *query, const char *user_agent)
{
    out->method = method;
    me_buf_reset(&out->url);
    me_buf_reset(&out->headers);
    if (out->body.cap)
        memset(out->body.data, 0, out->body.len);
    me_buf_reset(&out->body);
    out->n_headers = 0;
    me_buf_adds(&out->url, base);
    me_buf_add(&out->url, rest->data, rest->len);
    if (query->len) {
        me_buf_addc(&out->url, '?');
        me_buf_add(&out->url, query->data, query->len);
    }
    add_header(out, "Accept", "application/json");
    add_header(out, "User-Agent", user_agent);
}

static int out_of_memory(const me_request *out, const char **err)
{
    if (me_buf_failed(&out->url) || me_buf_failed(&out->headers) || me_buf_failed(&out->body)) {
        *err = "out of memory";
        return -1;
    }
    return 0;
}

/* Build a signed (or token) request to rest?query under the base whose
 * prefix is given; `headers` says the authority, project and language. */
static int build_authenticated(me_request *out, const me_creds *c, const char *base,
                               const char *prefix, const me_buf *rest, const me_buf *query,
                               const signing *headers, const char *user_agent, const char **err)
{
    me_buf path;
    signing g = *headers;
    int rc;
    me_buf_init(&path);
    me_buf_adds(&path, prefix);
    me_buf_add(&path, rest->data, rest->len);
    begin(out, "GET", base, rest, query, user_agent);
    g.method = "GET";
    g.path = &path;
    g.query = query;
    if (me_buf_failed(rest) || me_buf_failed(&path) || me_buf_failed(query)) {
        *err = "out of memory";
        rc = -1;
    } else {
        rc = add_auth(out, c, &g, err);
    }
    me_buf_free(&path);
    return rc == 0 ? out_of_memory(out, err) : rc;
}

int me_request_build(me_request *out, const me_target *t, const me_creds *c,
                     const char *job_id, const me_query *q, long long offset,
                     const char **err)
{
    me_buf rest, query;
    signing g;
    int rc;
    if (!t->project_id) {
        *err = "the project id is not known yet";
        return -1;
    }
    me_buf_init(&rest);
    me_buf_init(&query);
    /* The path below the endpoint's own prefix. */
    me_buf_adds(&rest, "/v2/");
    me_buf_add_pct(&rest, t->project_id, strlen(t->project_id));
    me_buf_adds(&rest, "/training-jobs/");
    me_buf_add_pct(&rest, job_id, strlen(job_id));
    if (q) {
        me_buf_adds(&rest, "/events");
        events_query(&query, q, offset);
    }
    memset(&g, 0, sizeof g);
    g.authority = t->authority;
    g.project_id = t->project_id;
    g.language = q && q->language ? q->language : t->language;
    rc = build_authenticated(out, c, t->endpoint, t->path_prefix, &rest, &query, &g,
                             t->user_agent, err);
    me_buf_free(&rest);
    me_buf_free(&query);
    return rc;
}

int me_request_build_projects(me_request *out, const me_target *t, const me_creds *c,
                              const char **err)
{
    me_buf rest, query;
    signing g;
    int rc;
    if (!t->iam.url || !t->region) {
        *err = "no IAM endpoint or region to find the project id with";
        return -1;
    }
    me_buf_init(&rest);
    me_buf_init(&query);
    me_buf_adds(&rest, "/v3/projects");
    add_param(&query, "name", t->region, strlen(t->region));
    memset(&g, 0, sizeof g);
    g.authority = t->iam.authority;
    rc = build_authenticated(out, c, t->iam.url, t->iam.path_prefix, &rest, &query, &g,
                             t->user_agent, err);
    me_buf_free(&rest);
    me_buf_free(&query);
    return rc;
}

int me_request_build_plain(me_request *out, const me_endpoint *base, const char *path,
                           const char *user_agent, const char *body, size_t body_len,
                           const char **err)
{
    me_buf rest, query;
    me_buf_init(&rest);
    me_buf_init(&query);
    me_buf_adds(&rest, path);
    begin(out, body ? "POST" : "GET", base->url, &rest, &query, user_agent);
    if (body) {
        add_header(out, "Content-Type", "application/json;charset=UTF-8");
        me_buf_add(&out->body, body, body_len);
    }
    me_buf_free(&rest);
    me_buf_free(&query);
    return out_of_memory(out, err);
}

void me_request_push(lua_State *L, const me_request *r)
{
    const char *p = r->headers.data;
    int i;
    lua_createtable(L, 0, 4);
    lua_pushstring(L, r->method);
    lua_setfield(L, -2, "method");
    if (strcmp(r->method, "POST") == 0) {
        lua_pushlstring(L, r->body.data, r->body.len);
        lua_setfield(L, -2, "body");
    }
    lua_pushlstring(L, r->url.data, r->url.len);
    lua_setfield(L, -2, "url");
    lua_createtable(L, 0, r->n_headers);
    for (i = 0; i < r->n_headers; i++) {
        const char *colon = strchr(p, ':');
        lua_pushlstring(L, p, (size_t)(colon - p));
        lua_pushstring(L, colon + 2);
        lua_settable(L, -3);
        p += strlen(p) + 1;
    }
    lua_setfield(L, -2, "headers");
}
