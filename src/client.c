/***
 * The client: `me.new` and its methods, and the libcurl driver that moves
 * the paging core's requests and responses (pager.c decides what to send
 * and what a response means; this file only moves bytes).
 * @submodule modelarts_events
 */
#include "client.h"

#include <string.h>

#include <lauxlib.h>

#include "compat.h"
#include "config.h"
#include "error.h"
#include "iam.h"
#include "interrupt.h"
#include "pager.h"
#include "request.h"
#include "transport.h"
#include "util.h"

typedef struct me_client {
    me_config config;
    me_transport *transport;     /* made at the first transfer */
    me_pager *owner;             /* the pager whose transfers are in flight */
    int closed;
    /* A drive is running: Lua code it runs (a decoder's finalizers, hooks,
     * credential functions) may close the client, which then only marks it
     * closed; the drive frees it when it unwinds, so that nothing is freed
     * under it. */
    int driving;
    int free_pending;
} me_client;

/* Loops of the driver in a row that moved nothing: a bug, reported as one
 * rather than spinning. */
#define MAX_IDLE_LOOPS 1000

static void requeue(void *owner, long seq)
{
    me_pager_requeue((me_pager *)owner, seq);
}

static void free_client(lua_State *L, me_client *c)
{
    if (c->transport && c->owner)
        me_transport_cancel(c->transport, NULL, requeue);
    c->owner = NULL;
    c->free_pending = 0;
    if (c->transport) {
        me_transport_free(c->transport);
        c->transport = NULL;
    }
    me_config_free(L, &c->config);
    c->closed = 1;
}

/***
 * Make a client. Exactly one way to authenticate (token, or ak and sk) is
 * required; a bad or missing setting raises an `invalid_argument` error
 * object naming the field (and, for what is missing, every way to give it).
 *
 * `token`, `ak`, `sk` and `security_token` may each be a string or a
 * function, called without arguments just before each request is built
 * (in that order), returning a string: credentials that expire can be
 * renewed during a long iteration (see `iam_token_source` and
 * `metadata_credentials`). A function that fails, or returns anything but
 * a non-empty string, ends the call with an `invalid_argument` error naming
 * the field. With no `project_id`, the client asks IAM for the project of
 * `region` at its first request (`GET {iam_endpoint}/v3/projects?name=REGION`,
 * signed like every request) and keeps it for its life.
 * @function new
 * @tparam table config endpoint and/or region, project_id, token or ak/sk
 * (+ security_token), language, timeout, connect_timeout, retries,
 * concurrency, ca_file, insecure, proxy (nil: the environment's, as curl
 * does; a URL; false: none), user_agent, max_body, iam_endpoint (default
 * https://iam.REGION.myhuaweicloud.com), on_retry (a function(err,
 * delay_seconds) called whenever a retry is scheduled)
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
    /* The userdata is on the stack with its __gc: whatever was copied
     * before an error is freed by the collector. */
    me_config_read(L, 1, &c->config);
    return 1;
}

/* ---- the libcurl driver ------------------------------------------------- */

static me_client *check_client(lua_State *L)
{
    me_client *c = (me_client *)me_check_object(L, 1, ME_CLIENT_MT, "client");
    if (c->closed)
        me_error_raise(L, "invalid_argument", "the client is closed");
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

typedef struct drive_state {
    lua_State *L;
    me_pager *pager;
    int decoder;
    int failed;                  /* an error was raised inside a feed: pushed */
} drive_state;

/* A header value as a Lua string (pushed), or NULL (nothing pushed). */
static const char *push_header(lua_State *L, const char *value)
{
    if (!value)
        return NULL;
    lua_pushstring(L, value);
    return lua_tostring(L, -1);
}

/* One finished transfer: its bytes become Lua strings first (pushed, kept
 * on the stack while it is fed), so that no Lua code that runs later (the
 * decoder's allocations may run finalizers) reads C memory. An error raised
 * inside the feed (lua.c's "interrupted!" from a hook) is left pushed, to
 * be raised once the transport is done reporting; answers after it are
 * asked again later. */
static void on_result(void *ctx, const me_result *r)
{
    drive_state *d = (drive_state *)ctx;
    lua_State *L = d->L;
    me_response response;
    int top = lua_gettop(L), rc;
    if (r->owner != d->pager)
        return;
    if (d->failed) {
        me_pager_requeue(d->pager, r->seq);
        return;
    }
    if (r->fail_kind) {
        lua_pushstring(L, r->fail_message);
        rc = me_pager_fail(L, d->pager, r->seq, r->fail_kind, lua_tostring(L, -1));
    } else {
        memset(&response, 0, sizeof response);
        response.status = r->status;
        lua_pushlstring(L, r->body ? r->body : "", r->body_len);
        response.body = lua_tolstring(L, -1, &response.len);
        response.request_id = push_header(L, r->request_id);
        response.retry_after = push_header(L, r->retry_after);
        response.date = push_header(L, r->date);
        response.subject_token = push_header(L, r->subject_token);
        rc = me_pager_feed(L, d->pager, d->decoder, r->seq, &response);
    }
    if (rc != 0) {
        lua_replace(L, top + 1);
        d->failed = 1;
    }
    lua_settop(L, top + d->failed);
}

/* Run the transport for what is ready now; raises what a feed raised. */
static void run_transport(lua_State *L, me_client *c, drive_state *d)
{
    me_transport_run(c->transport, 0, on_result, d);
    if (d->failed)
        lua_error(L);
}

/* Start what the pager wants sent, as far as handles allow; returns what
 * the pager said last (*wait set for ME_WAIT). ME_FAIL: the error is pushed
 * (an error object; lua.c's "interrupted!" from a credential function is
 * raised as it came). Credential functions run here, in next(), just
 * before each request is built: never inside libcurl. */
static enum me_next fill(lua_State *L, me_client *c, me_pager *p, double *wait)
{
    me_request req;
    enum me_next what = ME_IDLE;
    me_request_init(&req);
    while (me_transport_free_handles(c->transport) > 0) {
        long seq;
        what = me_pager_next(L, p, 0, &req, &seq, wait);
        if (what == ME_FAIL) {
            me_request_free(&req);
            if (!lua_istable(L, -1))
                lua_error(L);
            return ME_FAIL;
        }
        if (what != ME_SEND)
            break;
        /* A transfer that cannot even start is a failed attempt like any
         * other: retried with backoff, then reported. */
        if (me_transport_start(c->transport, &req, p, seq) != 0)
            me_pager_fail(L, p, seq, "network", "libcurl could not start the transfer");
    }
    me_request_free(&req);
    return what;
}

/* Call the client's on_retry(err, delay) for each retry the core has
 * scheduled since the last look (errors in it are raised, as anything a
 * caller's function raises). */
static void report_retries(lua_State *L, me_client *c, me_pager *p)
{
    int n = me_pager_push_retries(L, p), i;
    if (n == 0)
        return;
    if (c->config.target.functions == LUA_NOREF) {
        lua_pop(L, 1);
        return;
    }
    lua_rawgeti(L, LUA_REGISTRYINDEX, c->config.target.functions);
    lua_getfield(L, -1, "on_retry");
    if (lua_isfunction(L, -1)) {
        for (i = 1; i <= n; i++) {
            lua_pushvalue(L, -1);
            lua_rawgeti(L, -4, i);
            lua_rawgeti(L, -1, 1);
            lua_rawgeti(L, -2, 2);
            lua_remove(L, -3);
            lua_call(L, 2, 0);
        }
    }
    lua_pop(L, 3);
}

/* A Ctrl-C came while waiting: the transfers are dropped (sent again if
 * the iteration is resumed, so the client stays usable) and the call ends
 * as lua.c's own handler would end it. */
static void interrupted(lua_State *L, me_client *c)
{
    me_transport_cancel(c->transport, NULL, requeue);
    lua_pushliteral(L, "interrupted!");
    lua_error(L);
}

/* Wait for transfers (transfers) or sleep (seconds), at most a slice at a
 * time, with Ctrl-C taking effect at once. */
static void wait_a_while(lua_State *L, me_client *c, int transfers, double seconds)
{
    me_sigint g;
    int got;
    me_sigint_hold(&g);
    if (transfers) {
        me_transport_wait(c->transport, g.held ? ME_INTERRUPT_SLICE : 1.0);
        got = me_sigint_wait(&g, 0);
    } else if (g.held) {
        got = me_sigint_wait(&g, seconds);
    } else {
        me_sleep_seconds(seconds);
        got = 0;
    }
    me_sigint_release(&g);
    if (got)
        interrupted(L, c);
}

/* Slots the pager counts in flight with no transfer behind them (one whose
 * answer was lost to an error raised while it was reported) are sent
 * again: never a wait for an answer that cannot come. */
static int requeue_orphans(me_client *c, me_pager *p)
{
    if (me_pager_inflight(p) <= me_transport_busy(c->transport))
        return 0;
    me_pager_requeue_all(p);
    return 1;
}

/* Push the next page and return 1, push an error and return -1, or return 0
 * when the pager is done. */
static int drive_loop(lua_State *L, me_client *c, me_pager *p, int decoder)
{
    drive_state d;
    int idle = 0;
    d.L = L;
    d.pager = p;
    d.decoder = decoder;
    d.failed = 0;
    if (!c->transport) {
        c->transport = me_transport_new(&c->config.transport, c->config.concurrency);
        if (!c->transport)
            me_error_raise(L, "network", "cannot set up libcurl (out of memory?)");
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
        double wait = -1;
        enum me_next what;
        int r;
        if (c->closed) {
            me_error_pushf(L, "invalid_argument",
                           "the client was closed during the call; it did not finish");
            return -1;
        }
        report_retries(L, c, p);
        r = me_pager_take(L, p);
        if (r != 0) {
            if (r > 0 && !me_pager_done(p)) {
                /* Get the next pages going before the caller works on this one. */
                if (fill(L, c, p, &wait) == ME_FAIL)
                    lua_pop(L, 1); /* raised again at the next step */
                run_transport(L, c, &d);
            }
            return r;
        }
        if (me_pager_done(p))
            return 0;
        what = fill(L, c, p, &wait);
        if (what == ME_FAIL) {
            me_pager_stop(L, p);
            return -1;
        }
        if (me_transport_busy(c->transport) > 0) {
            /* answers to come (or abandoned transfers still holding handles) */
            wait_a_while(L, c, 1, 0);
            run_transport(L, c, &d);
            idle = 0;
        } else if (what == ME_WAIT) {
            wait_a_while(L, c, 0, wait);
            idle = 0;
        } else if (++idle > MAX_IDLE_LOOPS || what == ME_DONE) {
            me_error_raise(L, "network", "the paging core stopped without an answer or an "
                           "error (a bug: please report it)");
        } else {
            requeue_orphans(c, p);
        }
    }
}

typedef struct drive_call {
    me_client *c;
    me_pager *p;
    int result;
} drive_call;

/* drive_loop under lua_pcall: arguments the call, the decoder. */
static int drive_protected(lua_State *L)
{
    drive_call *a = (drive_call *)lua_touserdata(L, 1);
    a->result = drive_loop(L, a->c, a->p, 2);
    return a->result != 0;
}

/* Push the next page and return 1, push an error and return -1, or return 0
 * when the pager is done. One drive at a time per client; the client's
 * memory is freed only once no drive runs (a close meanwhile marks it). */
static int drive(lua_State *L, me_client *c, me_pager *p, int decoder)
{
    drive_call a;
    int status;
    if (c->driving)
        me_error_raise(L, "invalid_argument", "the client is busy: a function it called "
                       "(a credential function, on_retry, a finalizer) called it again");
    a.c = c;
    a.p = p;
    a.result = 0;
    decoder = me_absindex(L, decoder);
    lua_pushcfunction(L, drive_protected);
    lua_pushlightuserdata(L, &a);
    lua_pushvalue(L, decoder);
    c->driving = 1;
    status = lua_pcall(L, 2, 1, 0);
    c->driving = 0;
    if (c->free_pending)
        free_client(L, c);
    if (status != 0)
        lua_error(L); /* as it was raised: an error object, or "interrupted!" */
    if (a.result == 0)
        lua_pop(L, 1);
    return a.result;
}

/* ---- methods ------------------------------------------------------------ */

/* Drive a pager for one answer (a page, the job): it, or nil and the error. */
static int one_answer(lua_State *L, me_client *c, me_pager *p)
{
    int r = drive(L, c, p, lua_upvalueindex(1));
    if (r > 0)
        return 1;
    if (r == 0)
        me_error_pushf(L, "network", "no response was received");
    lua_pushnil(L);
    lua_insert(L, -2);
    return 2;
}

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
    lua_settop(L, 3);
    me_pager_push(L, 1, &c->config.target, 2, 3, ME_PAGER_LIST, 1, c->config.retries);
    return one_answer(L, c, (me_pager *)lua_touserdata(L, -1));
}

/***
 * The job itself: `GET /v2/{project_id}/training-jobs/{id}`, with the same
 * authentication, retries and error objects as `list`.
 * @function client:job
 * @string training_job_id
 * @return `{ id, name, phase, secondary_phase, duration_ms, terminal, result, status }`
 * (`terminal` is true for Completed, Failed, Terminated and Abnormal; `result` is
 * "completed", "failed" (Failed or Abnormal), "terminated", or nil while it runs;
 * `status` is the server's whole status object), or nil and an error object
 */
static int client_job(lua_State *L)
{
    me_client *c = check_client(L);
    lua_settop(L, 2);
    me_pager_push(L, 1, &c->config.target, 2, 2, ME_PAGER_JOB, 1, c->config.retries);
    return one_answer(L, c, (me_pager *)lua_touserdata(L, -1));
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
    me_creds creds;
    me_secrets used;
    const char *err = NULL, *job = me_job_id_check(L, 2);
    int rc;
    me_query_check(L, 3, &q, 0);
    lua_settop(L, 3);
    if (!c->config.target.project_id) {
        /* the request names the project: ask IAM first, as list() would */
        me_pager_push(L, 1, &c->config.target, 2, 2, ME_PAGER_PROJECT, 1, c->config.retries);
        int r = drive(L, c, (me_pager *)lua_touserdata(L, -1), lua_upvalueindex(1));
        if (r == 0)
            me_error_raise(L, "network", "no response was received");
        if (r < 0)
            return lua_error(L);
        lua_settop(L, 3);
    }
    me_secrets_init(&used);
    if (me_creds_resolve(L, &c->config.target, 0, &used, &creds) != 0) {
        me_secrets_free(&used);
        return lua_error(L);
    }
    me_request_init(&req);
    rc = me_request_build(&req, &c->config.target, &creds, job, &q, q.offset, &err);
    me_secrets_free(&used);
    if (rc != 0) {
        me_request_free(&req);
        me_error_raise(L, "invalid_argument", "cannot build a request: %s", err);
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
    int single = lua_toboolean(L, 4);
    lua_settop(L, 4);
    me_pager_push(L, 1, &c->config.target, 2, 3, single ? ME_PAGER_LIST : ME_PAGER_EVENTS,
                  single ? 1 : c->config.concurrency, c->config.retries);
    return 1;
}

/***
 * The core for `job` (one request of another kind, same retries and
 * errors), for drivers written in Lua: its `take()` yields the job table.
 * @function client:job_pager
 * @string training_job_id
 */
static int client_job_pager(lua_State *L)
{
    me_client *c = check_client(L);
    lua_settop(L, 2);
    me_pager_push(L, 1, &c->config.target, 2, 2, ME_PAGER_JOB, 1, c->config.retries);
    return 1;
}

/* Upvalues of both iterators: 1 decoder, 2 client, 3 pager. */
static int pages_iter(lua_State *L)
{
    me_client *c = (me_client *)lua_touserdata(L, lua_upvalueindex(2));
    me_pager *p = (me_pager *)lua_touserdata(L, lua_upvalueindex(3));
    int r;
    if (me_pager_done(p))
        return 0;
    if (c->closed)
        me_error_raise(L, "invalid_argument",
                       "the client was closed during the iteration; it did not finish");
    r = drive(L, c, p, lua_upvalueindex(1));
    if (r < 0)
        return lua_error(L);
    return r;
}

/* Where events() stands: kept in C, as it changes for every event. */
typedef struct events_state {
    lua_Integer index, n;        /* in the current page's events */
    lua_Integer count;           /* events yielded so far */
} events_state;

/* Upvalue 4: the current page's events (nil between pages); 5: its state. */
static int events_iter(lua_State *L)
{
    events_state *st = (events_state *)lua_touserdata(L, lua_upvalueindex(5));
    const me_client *c = (const me_client *)lua_touserdata(L, lua_upvalueindex(2));
    if (st->index < st->n && !c->closed) {
        /* the common case, once per event: as little as the Lua API allows */
        lua_rawgeti(L, lua_upvalueindex(4), ++st->index);
        me_pushinteger(L, ++st->count);
        return 2;
    }
    if (c->closed && (lua_istable(L, lua_upvalueindex(4)) ||
                      !me_pager_done((me_pager *)lua_touserdata(L, lua_upvalueindex(3)))))
        me_error_raise(L, "invalid_argument",
                       "the client was closed during the iteration; it did not finish");
    for (;;) {
        if (pages_iter(L) == 0) {
            lua_pushnil(L);
            lua_replace(L, lua_upvalueindex(4));
            st->index = st->n = 0;
            return 0;
        }
        lua_getfield(L, -1, "events");
        st->index = 0;
        st->n = (lua_Integer)me_rawlen(L, -1);
        lua_replace(L, lua_upvalueindex(4));
        lua_pop(L, 1);
        if (st->n > 0) {
            lua_rawgeti(L, lua_upvalueindex(4), ++st->index);
            me_pushinteger(L, ++st->count);
            return 2;
        }
    }
}

/* for ... in client:pages(id, params): the iterator, and the pager as the
 * closing value, so that a break on Lua 5.4 releases the transfers at once
 * (elsewhere the collector does). */
static int make_iterator(lua_State *L, int events)
{
    me_client *c = check_client(L);
    lua_settop(L, 3);
    me_pager_push(L, 1, &c->config.target, 2, 3, ME_PAGER_EVENTS, c->config.concurrency,
                  c->config.retries);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_pushvalue(L, 1);
    lua_pushvalue(L, 4);
    if (events) {
        events_state *st;
        lua_pushnil(L);
        st = (events_state *)lua_newuserdata(L, sizeof *st);
        memset(st, 0, sizeof *st);
        lua_pushcclosure(L, events_iter, 5);
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
 * An iteration still running then raises an error object at its next step.
 * @function client:close
 */
static int client_close(lua_State *L)
{
    me_client *c = (me_client *)me_check_object(L, 1, ME_CLIENT_MT, "client");
    if (!c->closed && c->driving) {
        /* from Lua code a drive runs: freed when the drive unwinds */
        c->closed = 1;
        c->free_pending = 1;
    } else if (!c->closed) {
        free_client(L, c);
    }
    return 0;
}

static int client_tostring(lua_State *L)
{
    me_client *c = (me_client *)me_check_object(L, 1, ME_CLIENT_MT, "client");
    if (c->closed)
        lua_pushliteral(L, "modelarts_events client (closed)");
    else
        lua_pushfstring(L, "modelarts_events client (%s, project %s, %s)",
                        c->config.target.endpoint,
                        c->config.target.project_id ? c->config.target.project_id
                                                    : "(to be found through IAM)",
                        c->config.target.use_token ? "token" : "AK/SK");
    return 1;
}

/* ---- one-off calls: IAM's password login, the metadata service --------- */

/* Make a client of its own for one call (pushed), configured by `read`
 * from the options at idx, run one request of `kind` to `path` with the
 * body at stack index body (0: none), free the client, and return what
 * one_answer returns. */
/* A client of its own for the options at idx, and its pager for one
 * request of `kind` on top (the pager holds the client). */
static me_pager *push_one_pager(lua_State *L, int idx,
                                void (*read)(lua_State *, int, me_config *),
                                enum me_pager_kind kind, const char *path, int body,
                                const char *secret, me_client **client_out)
{
    me_client *c;
    me_pager *p;
    int client;
    c = (me_client *)lua_newuserdata(L, sizeof *c);
    memset(c, 0, sizeof *c);
    luaL_getmetatable(L, ME_CLIENT_MT);
    lua_setmetatable(L, -2);
    client = lua_gettop(L);
    read(L, idx, &c->config);
    lua_pushstring(L, path);
    p = me_pager_push(L, client, &c->config.target, -1, body ? body : -1, kind, 1,
                      c->config.retries);
    me_pager_add_secret(p, secret);
    *client_out = c;
    return p;
}

/* One request of `kind` for the options at idx: its answer (value, or nil
 * and the error); with `plan`, its pager undriven, for a driver in Lua. */
static int one_call(lua_State *L, int idx, void (*read)(lua_State *, int, me_config *),
                    enum me_pager_kind kind, const char *path, int body, const char *secret,
                    int plan)
{
    me_client *c;
    me_pager *p = push_one_pager(L, idx, read, kind, path, body, secret, &c);
    int n;
    if (plan)
        return 1; /* the pager holds its client */
    n = one_answer(L, c, p);
    /* done with it: the connection goes now, not at the next collection */
    me_pager_stop(L, p);
    free_client(L, c);
    return n;
}

/* Check options by reading them as one_call would, sending nothing. */
static void check_options(lua_State *L, int idx, void (*read)(lua_State *, int, me_config *))
{
    me_client *c;
    idx = me_absindex(L, idx);
    c = (me_client *)lua_newuserdata(L, sizeof *c);
    memset(c, 0, sizeof *c);
    luaL_getmetatable(L, ME_CLIENT_MT);
    lua_setmetatable(L, -2);
    read(L, idx, &c->config);
    free_client(L, c);
    lua_pop(L, 1);
}

void me_login_options_check(lua_State *L, int idx)
{
    idx = me_absindex(L, idx);
    me_iam_push_login_body(L, idx);
    lua_pop(L, 1);
    check_options(L, idx, me_config_read_login);
}

void me_securitykey_options_check(lua_State *L, int idx)
{
    check_options(L, idx, me_config_read_securitykey);
}

/* iam_token (plan: 0) or iam_token_pager (plan: 1). */
static int iam_login(lua_State *L, int plan)
{
    static const char *const path = "/v3/auth/tokens?nocatalog=true";
    const char *password;
    if (!lua_istable(L, 1))
        me_error_argument(L, "options", "me.iam_token expects a table of options");
    lua_settop(L, 1);
    me_iam_push_login_body(L, 1);
    lua_getfield(L, 1, "password");
    password = lua_tostring(L, -1);
    return one_call(L, 1, me_config_read_login, ME_PAGER_LOGIN, path, 2, password, plan);
}

/***
 * Log in to IAM with a password (`POST /v3/auth/tokens`), through the same
 * retries, error objects and transport as every request. The password goes
 * only in the request body (JSON built by lua-cjson), never in a URL, a
 * message or an error.
 * @function iam_token
 * @tparam table options `domain` (the account name), `user`, `password`;
 * the scope: `project_id`, or `project` (a name), else the `region`'s
 * project; where: `iam_endpoint`, else `region`
 * (https://iam.REGION.myhuaweicloud.com); and timeout, connect_timeout,
 * retries, ca_file, insecure, proxy, user_agent, max_body as in `new`
 * @return `{ token, expires_at (epoch ms), project_id }`, or nil and an
 * error object (IAM's own code and message for a refused login)
 */
int me_iam_token_lua(lua_State *L)
{
    return iam_login(L, 0);
}

/***
 * The core of `iam_token`, for drivers written in Lua (the OpenResty
 * driver logs in over cosockets with it): a pager whose `take()` yields
 * what `iam_token` returns.
 * @function iam_token_pager
 * @tparam table options those of `iam_token`
 */
int me_iam_token_pager_lua(lua_State *L)
{
    return iam_login(L, 1);
}

/* metadata_security_key (plan: 0) or metadata_security_key_pager (plan: 1). */
static int securitykey(lua_State *L, int plan)
{
    static const char *const path = "/openstack/latest/securitykey";
    if (!lua_isnoneornil(L, 1) && !lua_istable(L, 1))
        me_error_argument(L, "options", "me.metadata_security_key expects a table of options");
    lua_settop(L, 1);
    if (lua_isnil(L, 1)) {
        lua_newtable(L);
        lua_replace(L, 1);
    }
    return one_call(L, 1, me_config_read_securitykey, ME_PAGER_SECURITYKEY, path, 0, NULL, plan);
}

/***
 * Temporary AK/SK from the metadata service of an ECS or a ModelArts
 * notebook (agency credentials): `GET {endpoint}/openstack/latest/securitykey`,
 * as the official SDKs read it, once. `metadata_credentials` renews them.
 * @function metadata_security_key
 * @tparam[opt] table options `endpoint` (default http://169.254.169.254),
 * timeout, connect_timeout, retries, ca_file, insecure, proxy (default:
 * none, whatever the environment says), user_agent, max_body
 * @return `{ ak, sk, security_token, expires_at (epoch ms) }`, or nil and an
 * error object
 */
int me_metadata_security_key_lua(lua_State *L)
{
    return securitykey(L, 0);
}

/***
 * The core of `metadata_security_key`, for drivers written in Lua: a pager
 * whose `take()` yields what `metadata_security_key` returns.
 * @function metadata_security_key_pager
 * @tparam[opt] table options those of `metadata_security_key`
 */
int me_metadata_security_key_pager_lua(lua_State *L)
{
    return securitykey(L, 1);
}

void me_client_register(lua_State *L)
{
    static const luaL_Reg methods[] = {
        {"list", client_list}, {"pages", client_pages}, {"events", client_events},
        {"job", client_job}, {"request", client_request}, {"pager", client_pager},
        {"job_pager", client_job_pager}, {"close", client_close}, {NULL, NULL}};
    me_class_register(L, ME_CLIENT_MT, methods, client_close, client_tostring);
}
