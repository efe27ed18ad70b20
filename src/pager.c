/* pager.c - see pager.h.
 *
 * Consistency: offset paging over a list that grows shifts rows. The first
 * page pins the window (end_time = now unless the caller gave one) and its
 * total T0 fixes how many events the iteration owes. In descending order an
 * event that slips in at the window's edge second pushes every older event
 * one offset further; page k, fetched when the job held total_k events,
 * therefore covers the original positions [offset - s, offset - s + n) with
 * s = total_k - T0. The pager tracks how far it has delivered ("covered"),
 * drops what a page repeats, checks those drops against the previous page's
 * events by content, and fetches a page again if it came from before its
 * predecessor (a gap). Memory stays at one previous page. */
#include "pager.h"

#include <strings.h>

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lauxlib.h>

#include "compat.h"
#include "decode.h"
#include "error.h"

#define BACKOFF_BASE 0.5   /* seconds before the first retry, at most */
#define BACKOFF_CAP 30.0   /* the longest wait between two attempts */
#define RETRY_AFTER_CAP 120.0

enum { SLOT_PENDING, SLOT_INFLIGHT, SLOT_WAITING, SLOT_READY };

typedef struct me_slot {
    int state;
    int attempts;
    double retry_at;
    int ref;                 /* the page or error once READY */
    int is_error;
    int refetches;           /* times fetched again to close a gap */
} me_slot;

struct me_pager {
    const me_target *target;
    int client_ref, keep_ref;    /* the client, and the params copy + job id */
    const char *job_id;
    me_query q;
    int single, retries, desc, finished, failed;
    long long limit;             /* page size asked for */
    int window;
    long long start_time, end_time;

    me_slot *slots;              /* ring of `width` slots, by sequence number */
    long width;
    long next_seq;               /* the next page to send for the first time */
    long take_seq;               /* the next page to deliver */

    int have_total;
    long long first_total;       /* T0 */
    long long owed;              /* events this iteration delivers at most */
    long long delivered;
    long long covered;           /* original positions delivered, from offset 0 */
    long long shift;             /* the largest total_k - T0 seen */
    int prev_ref;                /* events of the previous delivered page */
    long long prev_start;        /* original position of its first event */

    uint64_t rng;
    me_pager_release_fn release;
    void *release_ctx;
    lua_State *L;                /* for unref on collection only */
};

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* xorshift64*: jitter only needs to spread clients apart, not secrecy. */
static double random_unit(me_pager *p)
{
    p->rng ^= p->rng >> 12;
    p->rng ^= p->rng << 25;
    p->rng ^= p->rng >> 27;
    return (double)((p->rng * 2685821657736338717ULL) >> 11) / 9007199254740992.0;
}

static me_slot *slot_of(me_pager *p, long seq)
{
    return &p->slots[seq % p->width];
}

static long long offset_of(const me_pager *p, long seq)
{
    return p->q.offset + (long long)seq * p->limit;
}

me_pager *me_pager_push(lua_State *L, int client, const me_target *target, int job,
                        int params, int single, int concurrency, int retries)
{
    me_pager *p;
    me_query probe;
    long i;
    client = client < 0 ? lua_gettop(L) + client + 1 : client;
    job = job < 0 ? lua_gettop(L) + job + 1 : job;
    params = params < 0 ? lua_gettop(L) + params + 1 : params;

    me_job_id_check(L, job);
    me_query_check(L, params, &probe, !single);

    /* A private copy of the params keeps the strings q points to alive and
     * immune to the caller changing the table while iterating. */
    lua_createtable(L, 2, 0);
    lua_pushvalue(L, job);
    lua_rawseti(L, -2, 1);
    lua_newtable(L);
    if (lua_istable(L, params)) {
        lua_pushnil(L);
        while (lua_next(L, params)) {
            lua_pushvalue(L, -2);
            lua_insert(L, -2);
            lua_rawset(L, -4);
        }
    }
    lua_pushvalue(L, -1);
    lua_rawseti(L, -3, 2);

    p = (me_pager *)lua_newuserdata(L, sizeof *p);
    memset(p, 0, sizeof *p);
    p->client_ref = p->keep_ref = p->prev_ref = LUA_NOREF;
    p->L = L;
    luaL_getmetatable(L, ME_PAGER_MT);
    lua_setmetatable(L, -2);
    /* stack: keep, params copy, pager */
    me_query_check(L, -2, &p->q, !single);
    lua_pushvalue(L, -3);
    p->keep_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_pushvalue(L, client);
    p->client_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_rawgeti(L, -3, 1);
    p->job_id = lua_tostring(L, -1);
    lua_pop(L, 1);
    lua_replace(L, -3);
    lua_pop(L, 1);

    p->target = target;
    p->single = single;
    p->retries = retries < 0 ? 0 : retries;
    p->desc = !(p->q.order && strcmp(p->q.order, "asc") == 0);
    p->limit = p->q.limit ? p->q.limit : (single ? 0 : 100);
    if (!single && p->q.max_items > 0 && p->q.max_items < p->limit)
        p->limit = p->q.max_items;
    p->window = p->q.has_window;
    p->start_time = p->q.start_time;
    p->end_time = p->q.end_time;
    if (!single && !p->window) {
        /* Pin the window: events that arrive later are not this iteration's. */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        p->window = 1;
        p->start_time = 0;
        p->end_time = (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    }
    p->width = single ? 1 : (concurrency < 1 ? 1 : concurrency);
    p->slots = (me_slot *)calloc((size_t)p->width, sizeof *p->slots);
    if (!p->slots)
        luaL_error(L, "out of memory");
    for (i = 0; i < p->width; i++)
        p->slots[i].ref = LUA_NOREF;
    p->rng = (uint64_t)(uintptr_t)p ^ ((uint64_t)time(NULL) << 20) ^ 0x9E3779B97F4A7C15ULL;
    if (!p->rng)
        p->rng = 1;
    p->covered = p->q.offset;
    p->owed = -1;
    return p;
}

void me_pager_set_release(me_pager *p, me_pager_release_fn fn, void *ctx)
{
    p->release = fn;
    p->release_ctx = ctx;
}

/* May page seq be sent at all? Page 0 always; page 1 beside it, reading
 * ahead while page 0 tells the total (latency-bound paging would otherwise
 * spend a whole round trip on page 0 alone); the others once the total is
 * known, while they can still hold events this iteration owes. */
static int wanted(const me_pager *p, long seq)
{
    if (seq == 0)
        return 1;
    if (p->single || p->finished)
        return 0;
    if (!p->have_total)
        return seq == 1 && (p->q.max_items < 0 || p->q.max_items > p->limit);
    return (long long)seq * p->limit < (p->owed + p->shift);
}

enum me_next me_pager_next(me_pager *p, me_request *req, long *seq, double *wait,
                           const char **err)
{
    long s;
    double now = 0, soonest = -1;
    int inflight = 0;
    if (p->finished)
        return ME_DONE;
    if (!p->target->endpoint) {
        /* The client was closed: its settings (and secrets) are gone. */
        *err = "the client is closed";
        return ME_DONE;
    }
    /* Retries and refetches of earlier pages first: they block delivery. */
    for (s = p->take_seq; s < p->next_seq; s++) {
        me_slot *slot = slot_of(p, s);
        if (slot->state == SLOT_WAITING) {
            if (!now)
                now = now_seconds();
            if (slot->retry_at <= now) {
                slot->state = SLOT_PENDING;
            } else if (soonest < 0 || slot->retry_at - now < soonest) {
                soonest = slot->retry_at - now;
            }
        }
        if (slot->state == SLOT_PENDING)
            goto send;
        if (slot->state == SLOT_INFLIGHT)
            inflight++;
    }
    if (s < p->take_seq + p->width && wanted(p, s)) {
        slot_of(p, s)->state = SLOT_PENDING;
        slot_of(p, s)->attempts = 0;
        slot_of(p, s)->refetches = 0;
        p->next_seq = s + 1;
        goto send;
    }
    if (inflight)
        return ME_IDLE;
    if (soonest >= 0) {
        *wait = soonest;
        return ME_WAIT;
    }
    if (p->take_seq < p->next_seq)
        return ME_IDLE; /* results are waiting to be taken */
    return ME_DONE;

send:
    {
        me_slot *slot = slot_of(p, s);
        if (me_request_build(req, p->target, p->job_id, &p->q, offset_of(p, s), p->limit,
                             p->window, p->start_time, p->end_time, err) != 0)
            return ME_DONE;
        slot->state = SLOT_INFLIGHT;
        slot->attempts++;
        *seq = s;
        return ME_SEND;
    }
}

static double retry_after_seconds(const char *v)
{
    char *end;
    double d;
    struct tm tm;
    if (!v)
        return -1;
    d = strtod(v, &end);
    if (end != v && (*end == '\0' || *end == ' ') && d >= 0)
        return d;
    /* An HTTP date: "Sun, 06 Nov 1994 08:49:37 GMT". */
    memset(&tm, 0, sizeof tm);
    if (strptime(v, "%a, %d %b %Y %H:%M:%S GMT", &tm)) {
        double diff = difftime(timegm(&tm), time(NULL));
        return diff > 0 ? diff : 0;
    }
    return -1;
}

/* Servers echo what they were sent (the gateway's signature errors quote
 * the canonical request, security token included): no secret of ours may
 * reach an error message, so blank each one out. */
static void redact_message(lua_State *L, const me_target *t)
{
    const char *secrets[3];
    int i;
    secrets[0] = t->token;
    secrets[1] = t->sk;
    secrets[2] = t->security_token;
    lua_getfield(L, -1, "message");
    for (i = 0; i < 3 && lua_isstring(L, -1); i++) {
        if (secrets[i] && *secrets[i] && strstr(lua_tostring(L, -1), secrets[i])) {
            luaL_gsub(L, lua_tostring(L, -1), secrets[i], "[REDACTED]");
            lua_remove(L, -2);
        }
    }
    lua_setfield(L, -2, "message");
}

/* The error is at the top of the stack: retry, or keep it as the result. */
static void settle_error(lua_State *L, me_pager *p, long seq, const char *retry_after)
{
    me_slot *slot = slot_of(p, seq);
    int retryable;
    redact_message(L, p->target);
    if (retry_after_seconds(retry_after) >= 0) {
        /* for callers that pace themselves, as follow mode does */
        lua_pushnumber(L, retry_after_seconds(retry_after));
        lua_setfield(L, -2, "retry_after");
    }
    lua_getfield(L, -1, "retryable");
    retryable = lua_toboolean(L, -1);
    lua_pop(L, 1);
    if (retryable && slot->attempts <= p->retries) {
        double delay = retry_after_seconds(retry_after);
        if (delay < 0) {
            /* Full jitter: anywhere up to the exponential bound. */
            double bound = BACKOFF_BASE * pow(2.0, slot->attempts - 1);
            delay = random_unit(p) * (bound < BACKOFF_CAP ? bound : BACKOFF_CAP);
        } else if (delay > RETRY_AFTER_CAP) {
            delay = RETRY_AFTER_CAP;
        }
        slot->state = SLOT_WAITING;
        slot->retry_at = now_seconds() + delay;
        lua_pop(L, 1);
        return;
    }
    if (slot->attempts > 1) {
        lua_getfield(L, -1, "message");
        lua_pushfstring(L, "%s (after %d attempts)", lua_tostring(L, -1), slot->attempts);
        lua_setfield(L, -3, "message");
        lua_pop(L, 1);
        me_pushinteger(L, slot->attempts);
        lua_setfield(L, -2, "attempts");
    }
    slot->ref = luaL_ref(L, LUA_REGISTRYINDEX);
    slot->is_error = 1;
    slot->state = SLOT_READY;
}

static int live(const me_pager *p, long seq)
{
    return !p->finished && seq >= p->take_seq && seq < p->next_seq &&
           p->slots[seq % p->width].state == SLOT_INFLIGHT;
}

void me_pager_feed(lua_State *L, me_pager *p, int decoder, long seq, long status,
                   const char *body, size_t len, const char *request_id,
                   const char *retry_after)
{
    me_slot *slot;
    if (!live(p, seq))
        return;
    slot = slot_of(p, seq);
    if (me_decode(L, decoder, status, body, len, request_id)) {
        slot->ref = luaL_ref(L, LUA_REGISTRYINDEX);
        slot->is_error = 0;
        slot->state = SLOT_READY;
    } else {
        settle_error(L, p, seq, retry_after);
    }
}

void me_pager_fail(lua_State *L, me_pager *p, long seq, const char *kind,
                   const char *message)
{
    if (!live(p, seq))
        return;
    me_error_pushf(L, kind, "%s", message);
    settle_error(L, p, seq, NULL);
}

void me_pager_requeue(me_pager *p, long seq)
{
    if (live(p, seq)) {
        slot_of(p, seq)->state = SLOT_PENDING;
        slot_of(p, seq)->attempts--;
    }
}

static void clear_slot(lua_State *L, me_slot *slot)
{
    luaL_unref(L, LUA_REGISTRYINDEX, slot->ref);
    slot->ref = LUA_NOREF;
    slot->is_error = 0;
    slot->state = SLOT_PENDING;
}

static void finish(lua_State *L, me_pager *p)
{
    long i;
    p->finished = 1;
    for (i = 0; i < p->width; i++)
        clear_slot(L, &p->slots[i]);
    luaL_unref(L, LUA_REGISTRYINDEX, p->prev_ref);
    p->prev_ref = LUA_NOREF;
    if (p->release)
        p->release(p->release_ctx, p);
}

/* Same content: events carry no id, so equal fields mean "the same row". */
static int same_event(lua_State *L, int a, int b)
{
    static const char *const fields[] = {"time", "message", "level", "source"};
    int i, same = 1;
    for (i = 0; i < 4 && same; i++) {
        lua_getfield(L, a, fields[i]);
        lua_getfield(L, b, fields[i]);
        same = lua_rawequal(L, -1, -2);
        lua_pop(L, 2);
    }
    return same;
}

/* Does events[1..m] equal prev[from+1..from+m]? */
static int prefix_matches(lua_State *L, int events, int prev, long long from, long long m)
{
    long long i;
    for (i = 1; i <= m; i++) {
        int same;
        lua_rawgeti(L, events, (int)i);
        lua_rawgeti(L, prev, (int)(from + i));
        same = lua_istable(L, -1) && same_event(L, -1, -2);
        lua_pop(L, 2);
        if (!same)
            return 0;
    }
    return 1;
}

/* Deliver the page at the top of the stack; returns 0 when it must be
 * fetched again instead (it predates its predecessor: a gap). */
static int deliver(lua_State *L, me_pager *p, long seq)
{
    int page = lua_gettop(L), events;
    long long total, n, start, skip = 0, keep, i;
    lua_getfield(L, page, "total");
    total = (long long)lua_tonumber(L, -1);
    lua_pop(L, 1);
    lua_getfield(L, page, "events");
    events = lua_gettop(L);
    n = (long long)me_rawlen(L, events);

    if (p->single) {
        lua_pop(L, 1);
        return 1;
    }
    if (!p->have_total) {
        p->have_total = 1;
        p->first_total = total;
        p->owed = total > p->q.offset ? total - p->q.offset : 0;
        if (p->q.max_items >= 0 && p->q.max_items < p->owed)
            p->owed = p->q.max_items;
    }
    start = offset_of(p, seq);
    if (p->desc && total > p->first_total) {
        start -= total - p->first_total;
        if (total - p->first_total > p->shift)
            p->shift = total - p->first_total;
    }
    if (start > p->covered && slot_of(p, seq)->refetches < 3) {
        slot_of(p, seq)->refetches++;
        lua_settop(L, page - 1);
        return 0;
    }
    if (start > p->covered)
        start = p->covered; /* a server that keeps leaving a gap: go on */
    skip = p->covered - start;
    if (skip > n)
        skip = n;
    if (skip > 0 && p->prev_ref != LUA_NOREF) {
        /* Confirm by content what the totals say is repeated; trust only the
         * part that matches, so that real repeats survive. */
        long long prev_n, from;
        lua_rawgeti(L, LUA_REGISTRYINDEX, p->prev_ref);
        prev_n = (long long)me_rawlen(L, -1);
        from = start - p->prev_start;
        if (from >= 0 && from + skip <= prev_n) {
            while (skip > 0 && !prefix_matches(L, events, lua_gettop(L), from, skip))
                skip--, from++;
        }
        lua_pop(L, 1);
    }
    keep = n - skip;
    if (keep > p->owed - p->delivered)
        keep = p->owed - p->delivered;
    if (keep < 0)
        keep = 0;
    if (skip > 0 || keep < n) {
        lua_createtable(L, (int)keep, 0);
        for (i = 1; i <= keep; i++) {
            lua_rawgeti(L, events, (int)(skip + i));
            lua_rawseti(L, -2, (int)i);
        }
        lua_pushvalue(L, -1);
        lua_setfield(L, page, "events");
        lua_replace(L, events);
    }
    p->covered = start + n > p->covered ? start + n : p->covered;
    p->delivered += keep;
    luaL_unref(L, LUA_REGISTRYINDEX, p->prev_ref);
    lua_pushvalue(L, events);
    p->prev_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    p->prev_start = start + skip;
    if (n == 0 || p->delivered >= p->owed)
        p->finished = 2; /* deliver this page, then stop */
    lua_pop(L, 1);
    return 1;
}

int me_pager_take(lua_State *L, me_pager *p)
{
    me_slot *slot;
    long seq = p->take_seq;
    if (p->finished || seq >= p->next_seq)
        return 0;
    slot = slot_of(p, seq);
    if (slot->state != SLOT_READY)
        return 0;
    lua_rawgeti(L, LUA_REGISTRYINDEX, slot->ref);
    if (slot->is_error) {
        clear_slot(L, slot);
        p->failed = 1;
        finish(L, p);
        return -1;
    }
    if (!deliver(L, p, seq)) {
        clear_slot(L, slot); /* sent again by the next me_pager_next */
        return 0;
    }
    clear_slot(L, slot);
    p->take_seq++;
    if (p->single || p->finished == 2)
        finish(L, p);
    return 1;
}

int me_pager_done(const me_pager *p)
{
    return p->finished != 0;
}

int me_pager_inflight(const me_pager *p)
{
    long s;
    int n = 0;
    for (s = p->take_seq; s < p->next_seq; s++)
        n += p->slots[s % p->width].state == SLOT_INFLIGHT;
    return n;
}

void me_pager_cancel(me_pager *p)
{
    long s;
    for (s = p->take_seq; s < p->next_seq; s++)
        me_pager_requeue(p, s);
}

/* ---- Lua methods, for drivers written in Lua ---------------------------- */

static me_pager *check_pager(lua_State *L)
{
    return (me_pager *)luaL_checkudata(L, 1, ME_PAGER_MT);
}

/* pager:next() -> "send", seq, request | "wait", seconds | "idle" | "done" */
static int pager_next(lua_State *L)
{
    me_pager *p = check_pager(L);
    me_request req;
    long seq = 0;
    double wait = 0;
    const char *err = NULL;
    enum me_next what;
    me_request_init(&req);
    what = me_pager_next(p, &req, &seq, &wait, &err);
    switch (what) {
    case ME_SEND:
        lua_pushliteral(L, "send");
        me_pushinteger(L, seq);
        me_request_push(L, &req);
        me_request_free(&req);
        return 3;
    case ME_WAIT:
        lua_pushliteral(L, "wait");
        lua_pushnumber(L, wait);
        return 2;
    case ME_IDLE:
        lua_pushliteral(L, "idle");
        return 1;
    default:
        me_request_free(&req);
        if (err)
            return luaL_error(L, "modelarts_events: cannot build a request: %s", err);
        lua_pushliteral(L, "done");
        return 1;
    }
}

/* pager:feed(seq, status, body, headers) for a response;
 * pager:feed(seq, nil, kind, message) for a transfer that failed. */
static int pager_feed(lua_State *L)
{
    me_pager *p = check_pager(L);
    long seq = (long)luaL_checknumber(L, 2);
    if (lua_isnil(L, 3)) {
        me_pager_fail(L, p, seq, luaL_checkstring(L, 4), luaL_optstring(L, 5, "transfer failed"));
    } else {
        size_t len;
        const char *body = luaL_optlstring(L, 4, "", &len);
        const char *request_id = NULL, *retry_after = NULL;
        if (lua_istable(L, 5)) {
            lua_pushnil(L);
            while (lua_next(L, 5)) {
                if (lua_type(L, -2) == LUA_TSTRING && lua_type(L, -1) == LUA_TSTRING) {
                    const char *k = lua_tostring(L, -2);
                    if (strcasecmp(k, "x-request-id") == 0)
                        request_id = lua_tostring(L, -1);
                    else if (strcasecmp(k, "retry-after") == 0)
                        retry_after = lua_tostring(L, -1);
                }
                lua_pop(L, 1);
            }
        }
        me_pager_feed(L, p, lua_upvalueindex(1), seq, (long)luaL_checknumber(L, 3), body, len,
                      request_id, retry_after);
    }
    return 0;
}

/* pager:take() -> page | nil, err | false (not yet) | nil (done) */
static int pager_take(lua_State *L)
{
    me_pager *p = check_pager(L);
    int r = me_pager_take(L, p);
    if (r == 1)
        return 1;
    if (r < 0) {
        lua_pushnil(L);
        lua_insert(L, -2);
        return 2;
    }
    if (me_pager_done(p))
        lua_pushnil(L);
    else
        lua_pushboolean(L, 0);
    return 1;
}

static int pager_done(lua_State *L)
{
    lua_pushboolean(L, me_pager_done(check_pager(L)));
    return 1;
}

/* __gc, __close and close(): drop everything, idempotently. */
static int pager_close(lua_State *L)
{
    me_pager *p = check_pager(L);
    if (p->slots) {
        if (!p->finished)
            finish(L, p);
        free(p->slots);
        p->slots = NULL;
        p->next_seq = p->take_seq;
        p->width = 1;
        p->finished = 1;
        luaL_unref(L, LUA_REGISTRYINDEX, p->keep_ref);
        luaL_unref(L, LUA_REGISTRYINDEX, p->client_ref);
        p->keep_ref = p->client_ref = LUA_NOREF;
    }
    return 0;
}

void me_pager_register(lua_State *L)
{
    static const luaL_Reg methods[] = {
        {"next", pager_next}, {"feed", pager_feed}, {"take", pager_take},
        {"done", pager_done}, {"close", pager_close}, {NULL, NULL}};
    /* expects the cjson decode function on the stack top: every method gets
     * it as upvalue 1 */
    luaL_newmetatable(L, ME_PAGER_MT);
    lua_newtable(L);
    lua_pushvalue(L, -3);
    me_setfuncs(L, methods, 1);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, pager_close);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, pager_close);
    lua_setfield(L, -2, "__close");
    lua_pop(L, 1);
}
