/***
 * The client: `me.new` and its methods, and the libcurl driver that moves
 * the paging core's requests and responses (pager.c decides what to send
 * and what a response means; this file only moves bytes).
 * @module modelarts_events
 */
#include "client.h"

#include <string.h>

#include <lauxlib.h>

#include "compat.h"
#include "config.h"
#include "error.h"
#include "pager.h"
#include "request.h"
#include "transport.h"
#include "util.h"

typedef struct me_client {
    me_config config;
    me_transport *transport;     /* made at the first transfer */
    me_pager *owner;             /* the pager whose transfers are in flight */
    int closed;
} me_client;

/* Loops of the driver in a row that moved nothing: a bug, reported as one
 * rather than spinning. */
#define MAX_IDLE_LOOPS 1000

static void free_client(me_client *c)
{
    if (c->transport) {
        me_transport_free(c->transport);
        c->transport = NULL;
    }
    me_config_free(&c->config);
    c->closed = 1;
}

/***
 * Make a client. Exactly one way to authenticate (token, or ak and sk) is
 * required; a bad or missing setting raises an `invalid_argument` error
 * object naming the field (and, for what is missing, every way to give it).
 * @function new
 * @tparam table config endpoint and/or region, project_id, token or ak/sk
 * (+ security_token), language, timeout, connect_timeout, retries,
 * concurrency, ca_file, insecure, proxy (nil: the environment's, as curl
 * does; a URL; false: none), user_agent, max_body
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
    me_response response;
    if (r->owner != d->pager)
        return;
    if (r->fail_kind) {
        me_pager_fail(d->L, d->pager, r->seq, r->fail_kind, r->fail_message);
        return;
    }
    response.status = r->status;
    response.body = r->body;
    response.len = r->body_len;
    response.request_id = r->request_id;
    response.retry_after = r->retry_after;
    response.date = r->date;
    me_pager_feed(d->L, d->pager, d->decoder, r->seq, &response);
}

/* Start what the pager wants sent, as far as handles allow; returns what
 * the pager said last (*wait set for ME_WAIT). Raises the error object when
 * the pager cannot go on. */
static enum me_next fill(lua_State *L, me_client *c, me_pager *p, double *wait)
{
    me_request req;
    enum me_next what = ME_IDLE;
    me_request_init(&req);
    while (me_transport_free_handles(c->transport) > 0) {
        long seq;
        const char *err = NULL;
        what = me_pager_next(p, &req, &seq, wait, &err);
        if (what == ME_FAIL) {
            me_request_free(&req);
            me_error_raise(L, "invalid_argument", "cannot go on: %s", err);
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

/* Push the next page and return 1, push an error and return -1, or return 0
 * when the pager is done. */
static int drive(lua_State *L, me_client *c, me_pager *p, int decoder)
{
    drive_state d;
    int idle = 0;
    d.L = L;
    d.pager = p;
    d.decoder = decoder;
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
        int r = me_pager_take(L, p);
        if (r != 0) {
            if (r > 0 && !me_pager_done(p)) {
                /* Get the next pages going before the caller works on this one. */
                fill(L, c, p, &wait);
                me_transport_run(c->transport, 0, on_result, &d);
            }
            return r;
        }
        if (me_pager_done(p))
            return 0;
        what = fill(L, c, p, &wait);
        if (me_pager_inflight(p) > 0 || me_transport_busy(c->transport) > 0) {
            /* answers to come (or abandoned transfers still holding handles) */
            me_transport_run(c->transport, 1.0, on_result, &d);
            idle = 0;
        } else if (what == ME_WAIT) {
            me_sleep_seconds(wait);
            idle = 0;
        } else if (++idle > MAX_IDLE_LOOPS || what == ME_DONE) {
            me_error_raise(L, "network", "the paging core stopped without an answer or an "
                           "error (a bug: please report it)");
        }
    }
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
    const char *err = NULL, *job = me_job_id_check(L, 2);
    me_query_check(L, 3, &q, 0);
    me_request_init(&req);
    if (me_request_build(&req, &c->config.target, job, &q, q.offset, &err) != 0) {
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
    me_client *c = (me_client *)me_check_object(L, 1, ME_CLIENT_MT, "client");
    if (c->closed)
        lua_pushliteral(L, "modelarts_events client (closed)");
    else
        lua_pushfstring(L, "modelarts_events client (%s, project %s, %s)",
                        c->config.target.endpoint, c->config.target.project_id,
                        c->config.target.token ? "token" : "AK/SK");
    return 1;
}

void me_client_register(lua_State *L)
{
    static const luaL_Reg methods[] = {
        {"list", client_list}, {"pages", client_pages}, {"events", client_events},
        {"job", client_job}, {"request", client_request}, {"pager", client_pager},
        {"job_pager", client_job_pager}, {"close", client_close}, {NULL, NULL}};
    me_class_register(L, ME_CLIENT_MT, methods, client_close, client_tostring);
}
