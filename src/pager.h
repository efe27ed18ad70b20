/* pager.h - the paging and retry core. It computes which requests to send
 * and consumes their responses; drivers only move bytes. The libcurl driver
 * (client.c) calls it from C, the OpenResty driver through the Lua methods
 * registered by me_pager_register. */
#ifndef ME_PAGER_H
#define ME_PAGER_H

#include <lua.h>

#include "creds.h"
#include "decode.h"
#include "request.h"

#define ME_PAGER_MT "modelarts_events.pager"

typedef struct me_pager me_pager;

enum me_next { ME_SEND, ME_WAIT, ME_IDLE, ME_DONE, ME_FAIL };

/* What a pager is for. */
enum me_pager_kind {
    ME_PAGER_LIST,     /* one page, as list() returns it */
    ME_PAGER_EVENTS,   /* every page of an iteration */
    ME_PAGER_JOB,      /* the job itself (one request, no params) */
    ME_PAGER_PROJECT,  /* only the project id, found through IAM (none needed when known) */
    ME_PAGER_LOGIN,    /* IAM's password login: POST {path} with {body}, no credentials */
    ME_PAGER_SECURITYKEY /* the metadata service's temporary AK/SK: GET {path} */
};

/* One response as a driver received it. */
typedef struct me_response {
    long status;
    const char *body;
    size_t len;
    const char *request_id, *retry_after, *date;   /* headers, NULL when absent */
    const char *subject_token;                     /* X-Subject-Token, NULL when absent */
} me_response;

/* Build a pager for the job id and params at the given stack indexes (both
 * checked; raises invalid_argument; params is ignored for a job pager) and
 * push it. `client` is the stack index of the client userdata, kept alive
 * by the pager. For a login or a security key, `job` is the path under the
 * target's endpoint and `params` the body (a string, or nil); for a
 * project, both are ignored. A target without a project id gets it from
 * IAM first (an internal request with a negative seq), once for the
 * client's life. */
me_pager *me_pager_push(lua_State *L, int client, me_target *target, int job,
                        int params, enum me_pager_kind kind, int concurrency, int retries);

/* A secret that errors must never show (a login's password), beyond the
 * credentials the pager sends. */
void me_pager_add_secret(me_pager *p, const char *secret);

/* What to do next. ME_SEND: *seq names the request (an opaque number the
 * driver hands back) and req holds it, signed now, with the credentials of
 * the table at stack index `creds` (strings; 0 for none: the client's own,
 * its functions called now). ME_WAIT: nothing can be sent for *wait seconds
 * (a retry is backing off) and nothing is in flight. ME_IDLE: wait for a
 * response. ME_DONE: nothing more to send or receive. ME_FAIL: it cannot
 * go on; the error object is pushed (the client was closed, a credential
 * function failed, a request could not be built), or, when a credential
 * function was interrupted, lua.c's "interrupted!" as it came. */
enum me_next me_pager_next(lua_State *L, me_pager *p, int creds, me_request *req, long *seq,
                           double *wait);

/* A response to request seq, decoded with the cjson decode function at
 * stack index `decoder`; r's strings must be Lua-owned (kept on the stack
 * or referenced by the caller), as Lua code may run during the decode.
 * Responses to requests the pager no longer waits for, or that come after
 * the client was closed, are ignored. Returns 0; or -1 with what an error
 * raised inside the decode raised pushed (lua.c's "interrupted!" from a
 * hook, say): the request is then sent again later, and the caller raises
 * it. */
int me_pager_feed(lua_State *L, me_pager *p, int decoder, long seq, const me_response *r);
/* A transfer that failed without a response (kind: network, timeout, tls,
 * too_large); returns as me_pager_feed does. */
int me_pager_fail(lua_State *L, me_pager *p, long seq, const char *kind, const char *message);
/* A transfer that was dropped (cancelled) must be sent again. */
void me_pager_requeue(me_pager *p, long seq);
/* Every request counted in flight is to be sent again (their transfers
 * were lost). */
void me_pager_requeue_all(me_pager *p);

/* Push the next page (or the job) in order and return 1; push an error,
 * mark the pager finished and return -1; return 0 (nothing pushed) when the
 * next page is not there yet, or when the pager is done (me_pager_done
 * tells which). */
int me_pager_take(lua_State *L, me_pager *p);
int me_pager_done(const me_pager *p);
int me_pager_inflight(const me_pager *p);
/* End the pager now (its queue dropped, the driver's release called). */
void me_pager_stop(lua_State *L, me_pager *p);
/* Stop it and let go of everything it references (its memory stays: the
 * userdata's, freed by the collector); idempotent. */
void me_pager_close(lua_State *L, me_pager *p);
int me_pager_closed(const me_pager *p);

/* The retries the core scheduled since the last call: pushes a list of
 * { err, delay } (seconds) and returns how many (0: nothing pushed). Kept
 * for drivers that report them (the client's on_retry); at most the last
 * 16 are kept. */
int me_pager_push_retries(lua_State *L, me_pager *p);

/* The metatable and the methods next/feed/take/done/close for Lua drivers;
 * expects the cjson decode function on the stack top (left there). */
void me_pager_register(lua_State *L);

/* Called when the pager is finished, closed or collected, so that the
 * driver that holds transfers for it can drop them. */
typedef void (*me_pager_release_fn)(void *ctx, me_pager *p);
void me_pager_set_release(me_pager *p, me_pager_release_fn fn, void *ctx);

#endif
