/* request.h - from a Lua params table to one signed HTTP request: validation
 * before anything is sent, the canonical query, the headers, the signature. */
#ifndef ME_REQUEST_H
#define ME_REQUEST_H

#include <lua.h>
#include "buf.h"

/* Proxy secrets a target keeps for redaction, at most. */
#define ME_PROXY_SECRETS 8

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

/* A base URL split for requests and signatures. */
typedef struct me_endpoint {
    char *url;                 /* scheme://authority[/prefix], no trailing '/' */
    char *authority;           /* host[:port] as in the URL, for the signed Host */
    char *path_prefix;         /* "" or "/prefix" */
} me_endpoint;

/* Where requests go and how they are authenticated (owned by the client). */
typedef struct me_target {
    char *endpoint;            /* scheme://authority[/prefix], no trailing '/' */
    char *authority;           /* host[:port] as in the URL, for the signed Host */
    char *path_prefix;         /* "" or "/prefix" */
    me_endpoint iam;           /* IAM, for project-id discovery (url NULL: none) */
    char *region;              /* NULL, or the region name (for IAM) */
    char *project_id;          /* NULL until IAM has told it */
    /* Credentials given as strings; NULL for absent or given as a function. */
    char *token, *ak, *sk, *security_token;
    int functions;             /* registry ref of { field = function } (credentials and
                                * on_retry), or LUA_NOREF */
    int use_token;             /* a token (string or function), else AK/SK */
    int temporary;             /* with AK/SK: a security token (string or function) */
    char *language;
    char *user_agent;
    /* The user-info of proxy URLs (configured, or from *_proxy variables),
     * and their passwords: libcurl quotes a proxy URL in its messages. */
    char *proxy_secrets[ME_PROXY_SECRETS];
} me_target;

/* The credentials of one request (see creds.h); NULL where not used. */
typedef struct me_creds {
    const char *token, *ak, *sk, *security_token;
} me_creds;

/* One request, ready for any transport. */
typedef struct me_request {
    const char *method;        /* "GET" or "POST" (static) */
    me_buf url;
    me_buf headers;            /* "Name: value" lines, each ended by '\0' */
    int n_headers;
    me_buf body;               /* sent with POST */
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

/* Build (and with AK/SK sign, dated now) one request with the credentials
 * c: with a query, the events page at `offset` under it (its limit and
 * window as they stand); with q NULL, the job itself. Returns 0, or -1 with
 * a static message in *err. */
int me_request_build(me_request *out, const me_target *t, const me_creds *c,
                     const char *job_id, const me_query *q, long long offset,
                     const char **err);

/* IAM's `GET {iam}/v3/projects?name={region}`, authenticated like every
 * other request (signed with AK/SK, or the token). 0, or -1 with *err. */
int me_request_build_projects(me_request *out, const me_target *t, const me_creds *c,
                              const char **err);

/* An unauthenticated request to base + path (the path starts with '/'):
 * a password login's POST with its JSON body (body NULL: a GET, the
 * metadata service's). 0, or -1 with *err. */
int me_request_build_plain(me_request *out, const me_endpoint *base, const char *path,
                           const char *user_agent, const char *body, size_t body_len,
                           const char **err);

/* Push { method, url, headers = { ... }, body? }. */
void me_request_push(lua_State *L, const me_request *r);

#endif
