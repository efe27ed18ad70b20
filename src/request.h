/* request.h - from a Lua params table to one signed HTTP request: validation
 * before anything is sent, the canonical query, the headers, the signature. */
#ifndef ME_REQUEST_H
#define ME_REQUEST_H

#include <lua.h>
#include "buf.h"

/* Validated parameters of one call. Strings point into Lua strings that the
 * caller keeps referenced (the params table, or the pager's copy of it). */
typedef struct me_query {
    long long offset;          /* where list() or an iteration starts */
    long long limit;           /* 0: the server's default */
    const char *order;         /* "asc", "desc" or NULL */
    int has_window;
    long long start_time, end_time;
    const char *level, *source, *language;
    const char *pattern;
    size_t pattern_len;
    long long max_items;       /* -1: no limit */
} me_query;

/* Where requests go and how they are authenticated (owned by the client). */
typedef struct me_target {
    char *endpoint;            /* scheme://authority[/prefix], no trailing '/' */
    char *authority;           /* host[:port] as in the URL, for the signed Host */
    char *path_prefix;         /* "" or "/prefix" */
    char *region;              /* NULL, or the region name (for IAM) */
    char *project_id;
    char *token, *ak, *sk, *security_token;
    char *language;
    char *user_agent;
} me_target;

/* One request, ready for any transport. */
typedef struct me_request {
    me_buf url;
    me_buf headers;            /* "Name: value" lines, each ended by '\0' */
    int n_headers;
} me_request;

void me_request_init(me_request *r);
void me_request_free(me_request *r);

/* Check the params table at idx (nil allowed) into q; raises an
 * invalid_argument error naming the parameter. `iterating` admits max_items. */
void me_query_check(lua_State *L, int idx, me_query *q, int iterating);

/* Check a training job id (raises invalid_argument). */
const char *me_job_id_check(lua_State *L, int idx);

/* Parse an ISO-8601 date-time of s[0..n) into epoch ms; 0 on success, -1
 * when it is not one. The semantics (and the vectors both parsers pass)
 * are in spec/fixtures/iso8601.lua. */
int me_parse_iso8601(const char *s, size_t n, long long *ms);

/* Build (and with AK/SK sign, dated now) one request: with a query, the
 * events page at `offset` under it (its limit and window as they stand);
 * with q NULL, the job itself. Returns 0, or -1 with a static message in
 * *err. */
int me_request_build(me_request *out, const me_target *t, const char *job_id,
                     const me_query *q, long long offset, const char **err);

/* Push { method = "GET", url = ..., headers = { ... } }. */
void me_request_push(lua_State *L, const me_request *r);

#endif
