/* pager.c - see pager.h. What to send and what to deliver: requests are
 * queued slots, delivered in order from the head; each send gets a fresh
 * ticket (the `seq` drivers hand back), so that an answer to a request the
 * pager has since given up on is recognised and ignored. What comes back
 * (decoding, retries with backoff, redaction) is answers.c's; what a page
 * means for the iteration (positions, repeats, the offset probe, stalls)
 * is consistency.c's. Memory stays at `width` pages plus the previous one. */
#include "pager_state.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lauxlib.h>

#include "compat.h"
#include "error.h"
#include "iam.h"
#include "transport.h"
#include "util.h"


double me_pager_clock(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

me_slot *me_pager_queued(me_pager *p, long i)
{
    return &p->slots[(p->head + i) % p->width];
}

void me_pager_init_slot(me_slot *s)
{
    memset(s, 0, sizeof *s);
    s->ref = LUA_NOREF;
    s->server_now = -1;
}

/* Kinds whose requests go to the API, with the project id in the path. */
static int needs_project(const me_pager *p)
{
    return p->kind <= ME_PAGER_PROJECT && !p->target->project_id;
}

void me_pager_clear_slot(lua_State *L, me_slot *s)
{
    luaL_unref(L, LUA_REGISTRYINDEX, s->ref);
    me_pager_init_slot(s);
}

/* Forget every queued slot (answers still on the way are then ignored). */
void me_pager_drop_queue(lua_State *L, me_pager *p)
{
    long i;
    for (i = 0; i < p->count; i++)
        me_pager_clear_slot(L, me_pager_queued(p, i));
    p->count = 0;
}

me_pager *me_pager_push(lua_State *L, int client, me_target *target, int job,
                        int params, enum me_pager_kind kind, int concurrency, int retries)
{
    me_pager *p;
    /* Twice as many slots as requests in flight: pages are delivered in
     * order, and a slow page would otherwise hold every slot behind it,
     * answered or not, and leave the transfers idle. */
    long i, conc = kind == ME_PAGER_EVENTS ? (concurrency < 1 ? 1 : concurrency) : 1;
    long width = kind == ME_PAGER_EVENTS ? 2 * conc : 1;
    int iterating = kind == ME_PAGER_EVENTS;
    int query = kind == ME_PAGER_LIST || kind == ME_PAGER_EVENTS;
    if (conc > ME_TRANSPORT_MAX_HANDLES)
        conc = ME_TRANSPORT_MAX_HANDLES;
    width = kind == ME_PAGER_EVENTS ? 2 * conc : 1;
    client = me_absindex(L, client);
    job = me_absindex(L, job);
    params = me_absindex(L, params);

    if (kind <= ME_PAGER_JOB)
        me_job_id_check(L, job);
    if (query) {
        me_query probe;
        me_query_check(L, params, &probe, iterating);
    }

    /* A private copy of the params keeps the strings q points to alive and
     * immune to the caller changing the table while iterating. */
    lua_createtable(L, 2, 0);
    lua_pushvalue(L, job);
    lua_rawseti(L, -2, 1);
    lua_newtable(L);
    if (query && lua_istable(L, params))
        me_table_copy(L, params, -1);
    lua_pushvalue(L, -1);
    lua_rawseti(L, -3, 2);
    if (kind == ME_PAGER_LOGIN && lua_type(L, params) == LUA_TSTRING) {
        lua_pushvalue(L, params);
        lua_rawseti(L, -3, 3);
    }

    /* Made before any reference is taken, so that a failure leaks none. */
    p = (me_pager *)lua_newuserdata(L, sizeof *p + (size_t)width * sizeof(me_slot));
    memset(p, 0, sizeof *p);
    p->width = width;
    p->concurrency = conc;
    for (i = 0; i < width; i++)
        me_pager_init_slot(&p->slots[i]);
    me_pager_init_slot(&p->probe);
    me_pager_init_slot(&p->iam);
    me_secrets_init(&p->secrets);
    p->client_ref = p->keep_ref = p->prev_ref = p->notes_ref = p->failure_ref = LUA_NOREF;
    luaL_getmetatable(L, ME_PAGER_MT);
    lua_setmetatable(L, -2);
    /* stack: keep, params copy, pager */
    if (query)
        me_query_check(L, -2, &p->q, iterating);
    lua_rawgeti(L, -3, 3);
    if (lua_type(L, -1) == LUA_TSTRING)
        p->body = lua_tolstring(L, -1, &p->body_len);
    lua_pop(L, 1);
    lua_pushvalue(L, -3);
    p->keep_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_pushvalue(L, client);
    p->client_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_rawgeti(L, -3, 1);
    p->job_id = lua_tostring(L, -1);
    lua_pop(L, 1);
    lua_replace(L, -3);
    lua_pop(L, 1);

    p->kind = kind;
    p->target = target;
    p->retries = retries < 0 ? 0 : retries;
    if (iterating) {
        /* The default order is not documented (REFERENCE.md): an iteration
         * that reads positions as newest-first asks for it. */
        if (!p->q.order)
            p->q.order = "desc";
        if (!p->q.limit)
            p->q.limit = 100;
        if (p->q.max_items > 0 && p->q.max_items < p->q.limit)
            p->q.limit = p->q.max_items;
    }
    p->desc = !(p->q.order && strcmp(p->q.order, "asc") == 0);
    p->step = p->q.limit ? p->q.limit : 1;
    p->plan = p->covered = p->q.offset;
    p->first_total = -1;
    p->owed = -1;
    p->rng = (uint64_t)(uintptr_t)p ^ ((uint64_t)time(NULL) << 20) ^ 0x9E3779B97F4A7C15ULL;
    if (!p->rng)
        p->rng = 1;
    return p;
}

void me_pager_add_secret(me_pager *p, const char *secret)
{
    if (secret && *secret)
        me_secrets_keep(&p->secrets, secret, strlen(secret));
}

void me_pager_set_release(me_pager *p, me_pager_release_fn fn, void *ctx)
{
    p->release = fn;
    p->release_ctx = ctx;
}

/* ---- what to send ------------------------------------------------------- */

/* The position where the owed events end, or -1 while unknown/unbounded. */
static long long end_position(const me_pager *p)
{
    return p->owed < 0 ? -1 : p->q.offset + p->owed;
}

/* May a new slot be queued, with `inflight` requests out? Before the first
 * page: that page alone, so that a job that fits one page costs one
 * request (a read-ahead would double the rate against a throttling
 * gateway). After it: the whole window at once, while it can still hold
 * events this iteration owes -- beside the offset probe too (nothing is
 * delivered before the probe decides, and a page server's answers are
 * dropped then). */
static int wanted(const me_pager *p, long inflight)
{
    if (p->run != RUNNING || p->count >= p->width || inflight >= p->concurrency)
        return 0;
    if (p->kind == ME_PAGER_PROJECT)
        return 0;
    if (p->kind != ME_PAGER_EVENTS)
        return p->count == 0 && !p->started;
    if (!p->started)
        return p->count == 0;
    if (end_position(p) < 0)
        return 1;
    return p->plan < end_position(p) + p->shift;
}

/* Is a waiting slot due? Else note how long until it is. */
static void wake(me_slot *s, double *now, double *soonest)
{
    if (s->state != SLOT_WAITING)
        return;
    if (!*now)
        *now = me_pager_clock();
    if (s->retry_at <= *now)
        s->state = SLOT_PENDING;
    else if (*soonest < 0 || s->retry_at - *now < *soonest)
        *soonest = s->retry_at - *now;
}

/* Build the request of slot s: the credentials resolved now (functions
 * called), then the request its kind sends. 0, or -1 with the error pushed. */
static int build(lua_State *L, me_pager *p, int given, me_slot *s, long long wire,
                 me_request *req)
{
    me_creds creds;
    me_endpoint base;
    me_query q = p->q;
    const char *err = NULL;
    int rc;
    memset(&creds, 0, sizeof creds);
    if (p->pin.on) {
        q.has_window = 1;
        q.start_time = p->pin.start;
        q.end_time = p->pin.end;
    }
    if (p->kind <= ME_PAGER_PROJECT &&
        me_creds_resolve(L, p->target, given, &p->secrets, &creds) != 0)
        return -1;
    base.url = p->target->endpoint;
    base.authority = p->target->authority;
    base.path_prefix = p->target->path_prefix;
    if (s == &p->iam)
        rc = me_request_build_projects(req, p->target, &creds, &err);
    else if (p->kind == ME_PAGER_LOGIN || p->kind == ME_PAGER_SECURITYKEY)
        rc = me_request_build_plain(req, &base, p->job_id, p->target->user_agent, p->body,
                                    p->body_len, &err);
    else
        rc = me_request_build(req, p->target, &creds, p->job_id,
                              p->kind == ME_PAGER_JOB ? NULL : &q, wire, &err);
    if (rc != 0)
        me_error_pushf(L, "invalid_argument", "cannot build a request: %s", err);
    return rc;
}

static enum me_next send(lua_State *L, me_pager *p, int given, me_slot *s, long long wire,
                         me_request *req, long *seq)
{
    if (build(L, p, given, s, wire, req) != 0)
        return ME_FAIL;
    s->state = SLOT_INFLIGHT;
    s->sent_at = me_pager_clock();
    if (s->attempts++ == 0)
        s->first_sent = s->sent_at;
    /* internal requests (IAM) count down, the pages' up */
    s->ticket = s == &p->iam ? -(++p->next_ticket) : ++p->next_ticket;
    *seq = s->ticket;
    return ME_SEND;
}

/* Nothing to send now: wait for answers, for a retry's time, or for the
 * caller to take what is ready; else the pager is done. */
static enum me_next send_nothing(long inflight, double soonest, int ready, double *wait)
{
    if (inflight)
        return ME_IDLE;
    if (soonest >= 0) {
        *wait = soonest;
        return ME_WAIT;
    }
    return ready ? ME_IDLE : ME_DONE; /* IDLE: results wait to be taken */
}

enum me_next me_pager_next(lua_State *L, me_pager *p, int creds, me_request *req, long *seq,
                           double *wait)
{
    long i;
    double now = 0, soonest = -1;
    long inflight = 0;
    int ready = p->failure_ref != LUA_NOREF;
    if (p->run == FINISHED)
        return ME_DONE;
    if (!p->target->endpoint) {
        /* The client was closed: its settings (and secrets) are gone. */
        me_error_pushf(L, "invalid_argument", "cannot go on: the client was closed");
        return ME_FAIL;
    }
    creds = me_absindex(L, creds);
    if (needs_project(p)) {
        /* Nothing goes to the API before IAM has told the project id. */
        wake(&p->iam, &now, &soonest);
        if (p->iam.state == SLOT_PENDING)
            return send(L, p, creds, &p->iam, 0, req, seq);
        if (p->iam.state == SLOT_WAITING) {
            *wait = soonest;
            return ME_WAIT;
        }
        return ME_IDLE;
    }
    if (p->probing) {
        wake(&p->probe, &now, &soonest);
        inflight += p->probe.state == SLOT_INFLIGHT;
        ready |= p->probe.state == SLOT_READY;
    }
    for (i = 0; i < p->count; i++) {
        me_slot *s = me_pager_queued(p, i);
        wake(s, &now, &soonest);
        inflight += s->state == SLOT_INFLIGHT;
        ready |= s->state == SLOT_READY;
    }
    /* Never more than `concurrency` requests out, retries included (the
     * OpenResty driver sends whatever this says); nothing while the pinned
     * window settles (consistency.c). */
    if (inflight >= p->concurrency)
        return ME_IDLE;
    if (p->hold_until > 0) {
        if (!now)
            now = me_pager_clock();
        if (p->hold_until > now) {
            if (soonest < 0 || p->hold_until - now < soonest)
                soonest = p->hold_until - now;
            return send_nothing(inflight, soonest, ready, wait);
        }
        p->hold_until = 0;
    }
    if (p->probing && p->probe.state == SLOT_PENDING)
        return send(L, p, creds, &p->probe, p->probe.offset, req, seq);
    /* Retries and refetches of queued pages first: they block delivery. */
    for (i = 0; i < p->count; i++) {
        me_slot *s = me_pager_queued(p, i);
        if (s->state == SLOT_PENDING)
            return send(L, p, creds, s, me_consistency_wire_offset(p, s->offset), req, seq);
    }
    if (wanted(p, inflight)) {
        me_slot *s = me_pager_queued(p, p->count++);
        me_pager_init_slot(s);
        s->offset = p->plan;
        p->plan += p->step;
        return send(L, p, creds, s, me_consistency_wire_offset(p, s->offset), req, seq);
    }
    return send_nothing(inflight, soonest, ready, wait);
}

/* ---- delivering --------------------------------------------------------- */

static void finish(lua_State *L, me_pager *p)
{
    p->run = FINISHED;
    me_pager_drop_queue(L, p);
    me_pager_clear_slot(L, &p->iam);
    me_pager_clear_slot(L, &p->probe);
    p->probing = 0;
    luaL_unref(L, LUA_REGISTRYINDEX, p->prev_ref);
    luaL_unref(L, LUA_REGISTRYINDEX, p->failure_ref);
    p->prev_ref = p->failure_ref = LUA_NOREF;
    if (p->release)
        p->release(p->release_ctx, p);
}

void me_pager_stop(lua_State *L, me_pager *p)
{
    if (p->run != FINISHED)
        finish(L, p);
}

void me_pager_close(lua_State *L, me_pager *p)
{
    if (p->closed)
        return;
    me_pager_stop(L, p);
    p->closed = 1;
    p->count = 0;
    me_secrets_free(&p->secrets);
    luaL_unref(L, LUA_REGISTRYINDEX, p->keep_ref);
    luaL_unref(L, LUA_REGISTRYINDEX, p->client_ref);
    luaL_unref(L, LUA_REGISTRYINDEX, p->notes_ref);
    p->keep_ref = p->client_ref = p->notes_ref = LUA_NOREF;
}

int me_pager_closed(const me_pager *p)
{
    return p->closed;
}

/* The project id IAM answered: kept for the client's life. Returns 1
 * (settled: go on), 0 (not yet) or -1 (the error pushed, the pager
 * finished). */
static int take_project(lua_State *L, me_pager *p)
{
    const char *id;
    char *copy;
    if (p->iam.state != SLOT_READY)
        return 0;
    lua_rawgeti(L, LUA_REGISTRYINDEX, p->iam.ref);
    me_pager_clear_slot(L, &p->iam);
    if (!lua_isstring(L, -1) && !p->target->project_id) {
        finish(L, p);
        return -1;
    }
    if (!lua_isstring(L, -1) && p->target->project_id) {
        lua_pop(L, 1); /* another pager of the client was told already */
        return 1;
    }
    id = lua_tostring(L, -1);
    if (!p->target->project_id) {
        /* (another pager of the client may have been told first) */
        copy = malloc(strlen(id) + 1);
        if (!copy) {
            lua_pop(L, 1);
            me_error_pushf(L, "network", "out of memory while keeping the project id");
            finish(L, p);
            return -1;
        }
        strcpy(copy, id);
        p->target->project_id = copy;
    }
    lua_pop(L, 1);
    return 1;
}

/* The queue ran dry after a delivered page. Pages that came back shifted
 * covered less than planned: go on from the first position not delivered
 * yet, as the list stands. If nothing more may be asked although events
 * are owed, the next take raises it: never a silent end. */
static void plan_rest(lua_State *L, me_pager *p)
{
    if (p->plan > p->covered + p->shift && p->offset_mode != OFFSET_PAGES)
        p->plan = p->covered + p->shift;
    if (wanted(p, 0))
        return;
    me_error_pushf(L, "decode", "the pages ended at position %lld while %lld events were owed; "
                   "stopped rather than end short", p->covered, p->owed);
    p->failure_ref = luaL_ref(L, LUA_REGISTRYINDEX);
}

/* The head slot is answered: deliver it (1, the page pushed), not yet (0),
 * or fail (-1, the error pushed, the pager finished). */
static int take_head(lua_State *L, me_pager *p, me_slot *s)
{
    enum me_delivery d;
    lua_rawgeti(L, LUA_REGISTRYINDEX, s->ref);
    if (s->is_error) {
        finish(L, p);
        return -1;
    }
    luaL_unref(L, LUA_REGISTRYINDEX, s->ref);
    s->ref = LUA_NOREF;
    d = p->kind == ME_PAGER_EVENTS ? me_consistency_deliver(L, p, s) : DELIVERED;
    p->started = 1;
    if (d == FAILED) {
        finish(L, p);
        return -1;
    }
    if (d == NOT_YET)
        return 0;
    if (p->count > 0 && me_pager_queued(p, 0) == s) {
        me_pager_init_slot(s);
        p->head = (p->head + 1) % p->width;
        p->count--;
    }
    if (p->kind != ME_PAGER_EVENTS || p->run == LAST_PAGE)
        finish(L, p);
    else if (p->count == 0 && !p->probing)
        plan_rest(L, p);
    return 1;
}

int me_pager_take(lua_State *L, me_pager *p)
{
    me_slot *s;
    int r;
    if (p->run == FINISHED)
        return 0;
    if (needs_project(p) || p->iam.state == SLOT_READY) {
        r = take_project(L, p);
        if (r <= 0)
            return r;
    }
    if (p->kind == ME_PAGER_PROJECT) {
        lua_pushstring(L, p->target->project_id);
        finish(L, p);
        return 1;
    }
    if (p->failure_ref != LUA_NOREF) {
        lua_rawgeti(L, LUA_REGISTRYINDEX, p->failure_ref);
        finish(L, p);
        return -1;
    }
    if (p->probing) {
        if (p->probe.state != SLOT_READY)
            return 0;
        if (me_consistency_probe_decide(L, p) == FAILED) {
            finish(L, p);
            return -1;
        }
        return 0;
    }
    if (p->count == 0)
        return 0;
    s = me_pager_queued(p, 0);
    return s->state == SLOT_READY ? take_head(L, p, s) : 0;
}

int me_pager_done(const me_pager *p)
{
    return p->run == FINISHED;
}

int me_pager_inflight(const me_pager *p)
{
    long i;
    int n = (p->probing && p->probe.state == SLOT_INFLIGHT) + (p->iam.state == SLOT_INFLIGHT);
    for (i = 0; i < p->count; i++)
        n += p->slots[(p->head + i) % p->width].state == SLOT_INFLIGHT;
    return n;
}
