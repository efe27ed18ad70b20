/* pager.h - the paging and retry core. It computes which requests to send
 * and consumes their responses; drivers only move bytes. The libcurl driver
 * (client.c) calls it from C, the OpenResty driver through the Lua methods
 * registered by me_pager_register. */
#ifndef ME_PAGER_H
#define ME_PAGER_H

#include <lua.h>

#include "decode.h"
#include "request.h"

#define ME_PAGER_MT "modelarts_events.pager"

typedef struct me_pager me_pager;

enum me_next { ME_SEND, ME_WAIT, ME_IDLE, ME_DONE, ME_FAIL };

/* What a pager is for. */
enum me_pager_kind {
    ME_PAGER_LIST,     /* one page, as list() returns it */
    ME_PAGER_EVENTS,   /* every page of an iteration */
    ME_PAGER_JOB       /* the job itself (one request, no params) */
};

/* One response as a driver received it. */
typedef struct me_response {
    long status;
    const char *body;
    size_t len;
    const char *request_id, *retry_after, *date;   /* headers, NULL when absent */
} me_response;

/* Build a pager for the job id and params at the given stack indexes (both
 * checked; raises invalid_argument; params is ignored for a job pager) and
 * push it. `client` is the stack index of the client userdata, kept alive
 * by the pager. */
me_pager *me_pager_push(lua_State *L, int client, const me_target *target, int job,
                        int params, enum me_pager_kind kind, int concurrency, int retries);

/* What to do next. ME_SEND: *seq names the request (an opaque number the
 * driver hands back) and req holds it, signed now. ME_WAIT: nothing can be
 * sent for *wait seconds (a retry is backing off) and nothing is in flight.
 * ME_IDLE: wait for a response. ME_DONE: nothing more to send or receive.
 * ME_FAIL: it cannot go on (*err says why: the client was closed, a request
 * could not be built). */
enum me_next me_pager_next(me_pager *p, me_request *req, long *seq, double *wait,
                           const char **err);

/* A response to request seq, decoded with the cjson decode function at
 * stack index `decoder`. Responses to requests the pager no longer waits
 * for are ignored. */
void me_pager_feed(lua_State *L, me_pager *p, int decoder, long seq, const me_response *r);
/* A transfer that failed without a response (kind: network, timeout, tls,
 * too_large). */
void me_pager_fail(lua_State *L, me_pager *p, long seq, const char *kind,
                   const char *message);
/* A transfer that was dropped (cancelled) must be sent again. */
void me_pager_requeue(me_pager *p, long seq);

/* Push the next page (or the job) in order and return 1; push an error,
 * mark the pager finished and return -1; return 0 (nothing pushed) when the
 * next page is not there yet, or when the pager is done (me_pager_done
 * tells which). */
int me_pager_take(lua_State *L, me_pager *p);
int me_pager_done(const me_pager *p);
int me_pager_inflight(const me_pager *p);

/* The metatable and the methods next/feed/take/done/close for Lua drivers;
 * expects the cjson decode function on the stack top (left there). */
void me_pager_register(lua_State *L);

/* Called when the pager is finished, closed or collected, so that the
 * driver that holds transfers for it can drop them. */
typedef void (*me_pager_release_fn)(void *ctx, me_pager *p);
void me_pager_set_release(me_pager *p, me_pager_release_fn fn, void *ctx);

#endif
