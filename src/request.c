/* request.c - validation, encoding and signing of ListTrainingJobEvents
 * requests. Everything a user can get wrong is caught here, before a byte is
 * sent, and reported as an invalid_argument error naming the parameter. */
#include "request.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lauxlib.h>

#include "compat.h"
#include "error.h"
#include "sign.h"

void me_request_init(me_request *r)
{
    me_buf_init(&r->url);
    me_buf_init(&r->headers);
    r->n_headers = 0;
}

void me_request_free(me_request *r)
{
    me_buf_free(&r->url);
    me_buf_free(&r->headers);
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

static int digits(const char *s, int n, int *out)
{
    int i, v = 0;
    for (i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

int me_parse_iso8601(const char *s, long long *ms)
{
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int y, mo, d, h, mi, sec, frac = 0, oh = 0, om = 0, sign = 0;
    const char *p;
    if (strlen(s) < 19 || digits(s, 4, &y) || s[4] != '-' || digits(s + 5, 2, &mo) ||
        s[7] != '-' || digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != ' ') ||
        digits(s + 11, 2, &h) || s[13] != ':' || digits(s + 14, 2, &mi) ||
        s[16] != ':' || digits(s + 17, 2, &sec))
        return -1;
    p = s + 19;
    if (*p == '.') {
        int n = 0;
        for (p++; isdigit((unsigned char)*p); p++, n++)
            if (n < 3)
                frac = frac * 10 + (*p - '0');
        if (n == 0)
            return -1;
        for (; n < 3; n++)
            frac *= 10;
    }
    if (*p == 'Z' && p[1] == '\0') {
        sign = 0;
    } else if ((*p == '+' || *p == '-') && isdigit((unsigned char)p[1])) {
        sign = *p == '-' ? -1 : 1;
        if (digits(p + 1, 2, &oh))
            return -1;
        p += 3;
        if (*p == ':')
            p++;
        if (digits(p, 2, &om) || p[2] != '\0')
            return -1;
    } else {
        return -1;
    }
    if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59 ||
        sec > 60 || oh > 23 || om > 59)
        return -1;
    if (mo == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return -1;
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
    if (lua_type(L, idx) == LUA_TSTRING) {
        if (me_parse_iso8601(lua_tostring(L, idx), &v) == 0 && v >= 0)
            return v;
    } else if (whole_number(L, idx, &v) == 0 && v >= 0) {
        return v;
    }
    me_error_argument(L, name, "%s must be epoch milliseconds (a non-negative integer) "
                      "or an ISO-8601 date-time with an offset, like 2022-11-26T16:01:36+08:00", name);
    return 0;
}

/* UTF-8 characters in s (bytes that do not start a sequence don't count). */
static size_t utf8_length(const char *s, size_t n)
{
    size_t i, chars = 0;
    for (i = 0; i < n; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80)
            chars++;
    return chars;
}

static const char *const ORDERS[] = {"asc", "desc", NULL};
static const char *const LEVELS[] = {"Info", "Error", "Warning", NULL};
static const char *const SOURCES[] = {"K8S", "Job", "Task", NULL};
static const char *const LIST_KEYS[] = {
    "offset", "limit", "order", "start_time", "end_time", "level", "source",
    "pattern", "language", "max_items", NULL};

void me_query_check(lua_State *L, int idx, me_query *q, int iterating)
{
    int i, has_start, has_end;
    memset(q, 0, sizeof *q);
    q->max_items = -1;
    if (lua_isnoneornil(L, idx))
        return;
    if (!lua_istable(L, idx))
        me_error_argument(L, "params", "params must be a table");
    idx = idx < 0 ? lua_gettop(L) + idx + 1 : idx;

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

    lua_getfield(L, idx, "offset");
    if (!lua_isnil(L, -1))
        q->offset = check_range(L, -1, "offset", 0, 1000000000000LL);
    lua_getfield(L, idx, "limit");
    if (!lua_isnil(L, -1))
        q->limit = check_range(L, -1, "limit", 1, 100);
    lua_getfield(L, idx, "order");
    if (!lua_isnil(L, -1))
        q->order = check_enum(L, -1, "order", ORDERS, "asc, desc");
    lua_getfield(L, idx, "level");
    if (!lua_isnil(L, -1))
        q->level = check_enum(L, -1, "level", LEVELS, "Info, Error, Warning");
    lua_getfield(L, idx, "source");
    if (!lua_isnil(L, -1))
        q->source = check_enum(L, -1, "source", SOURCES, "K8S, Job, Task");
    lua_getfield(L, idx, "pattern");
    if (!lua_isnil(L, -1)) {
        size_t n;
        const char *p;
        if (lua_type(L, -1) != LUA_TSTRING)
            me_error_argument(L, "pattern", "pattern must be a string");
        p = lua_tolstring(L, -1, &n);
        if (n == 0 || utf8_length(p, n) > 256)
            me_error_argument(L, "pattern", "pattern must hold 1 to 256 characters");
        q->pattern = p;
        q->pattern_len = n;
    }
    lua_getfield(L, idx, "language");
    if (!lua_isnil(L, -1)) {
        size_t n;
        const char *s = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &n) : NULL;
        if (!s || n == 0 || n > 35 || strcspn(s, "\r\n") != n)
            me_error_argument(L, "language", "language must be a language tag like en-us or zh-cn");
        q->language = s;
    }
    lua_getfield(L, idx, "start_time");
    lua_getfield(L, idx, "end_time");
    has_start = !lua_isnil(L, -2);
    has_end = !lua_isnil(L, -1);
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
    lua_getfield(L, idx, "max_items");
    if (!lua_isnil(L, -1))
        q->max_items = check_range(L, -1, "max_items", 1, 1000000000000LL);
    lua_pop(L, 10);
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

int me_request_build(me_request *out, const me_target *t, const char *job_id,
                     const me_query *q, long long offset, long long limit,
                     int window, long long start_time, long long end_time,
                     const char **err)
{
    me_buf path, query;
    const char *language = q->language ? q->language : t->language;
    int rc = 0;

    me_buf_init(&path);
    me_buf_init(&query);
    me_buf_reset(&out->url);
    me_buf_reset(&out->headers);
    out->n_headers = 0;

    me_buf_adds(&path, t->path_prefix);
    me_buf_adds(&path, "/v2/");
    me_buf_add_pct(&path, t->project_id, strlen(t->project_id));
    me_buf_adds(&path, "/training-jobs/");
    me_buf_add_pct(&path, job_id, strlen(job_id));
    me_buf_adds(&path, "/events");

    /* Keys in byte order, so this already is the canonical query that
     * SDK-HMAC-SHA256 signs: end_time level limit offset order pattern
     * source start_time. */
    if (window)
        add_number(&query, "end_time", end_time);
    if (q->level)
        add_param(&query, "level", q->level, strlen(q->level));
    if (limit)
        add_number(&query, "limit", limit);
    add_number(&query, "offset", offset);
    if (q->order)
        add_param(&query, "order", q->order, strlen(q->order));
    if (q->pattern)
        add_param(&query, "pattern", q->pattern, q->pattern_len);
    if (q->source)
        add_param(&query, "source", q->source, strlen(q->source));
    if (window)
        add_number(&query, "start_time", start_time);

    me_buf_adds(&out->url, t->endpoint);
    me_buf_adds(&out->url, path.data + strlen(t->path_prefix));
    me_buf_addc(&out->url, '?');
    me_buf_add(&out->url, query.data, query.len);

    add_header(out, "Accept", "application/json");
    if (t->user_agent)
        add_header(out, "User-Agent", t->user_agent);
    if (t->token) {
        add_header(out, "X-Auth-Token", t->token);
        if (language)
            add_header(out, "X-Language", language);
    } else {
        /* AK/SK: everything sent below is signed, as the official SDKs do. */
        me_header signed_headers[5];
        size_t n = 0;
        char date[32];
        time_t now = time(NULL);
        struct tm tm;
        me_signature sig;
        gmtime_r(&now, &tm);
        strftime(date, sizeof date, "%Y%m%dT%H%M%SZ", &tm);
        signed_headers[n].name = "Host", signed_headers[n++].value = t->authority;
        signed_headers[n].name = "X-Sdk-Date", signed_headers[n++].value = date;
        signed_headers[n].name = "X-Project-Id", signed_headers[n++].value = t->project_id;
        if (t->security_token)
            signed_headers[n].name = "X-Security-Token", signed_headers[n++].value = t->security_token;
        if (language)
            signed_headers[n].name = "X-Language", signed_headers[n++].value = language;
        me_signature_init(&sig);
        if (me_buf_str(&path) == NULL || me_buf_str(&query) == NULL) {
            *err = "out of memory";
            rc = -1;
        } else if (me_sign(&sig, "GET", path.data, path.len, query.data, query.len,
                           signed_headers, n, "", 0, t->ak, t->sk, strlen(t->sk), err) != 0) {
            rc = -1;
        } else {
            size_t i;
            for (i = 0; i < n; i++)
                add_header(out, signed_headers[i].name, signed_headers[i].value);
            add_header(out, "Authorization", me_buf_str(&sig.authorization));
        }
        me_signature_free(&sig);
    }
    me_buf_free(&path);
    me_buf_free(&query);
    if (rc == 0 && (me_buf_str(&out->url) == NULL || me_buf_str(&out->headers) == NULL)) {
        *err = "out of memory";
        rc = -1;
    }
    return rc;
}

void me_request_push(lua_State *L, const me_request *r)
{
    const char *p = r->headers.data;
    int i;
    lua_createtable(L, 0, 3);
    lua_pushliteral(L, "GET");
    lua_setfield(L, -2, "method");
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
