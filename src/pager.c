/* pager.c - see pager.h.
 *
 * Requests are queued slots, delivered in order from the head; each send
 * gets a fresh ticket (the `seq` drivers hand back), so that an answer to a
 * request the pager has since given up on is recognised and ignored.
 *
 * Consistency: offset paging over a list that grows shifts rows. The first
 * page tells the total T0 (how many events the iteration owes) and the
 * server's own "now" (its Date header): later pages are pinned to the
 * window the server reported for the first one, ending at that now, so the
 * client's clock never matters. In descending order an event that still
 * slips in at the window's edge second pushes every older event one offset
 * further; a page fetched when the job held total_k events covers the
 * original positions [offset - s, offset - s + n) with s = total_k - T0.
 * The pager tracks how far it has delivered ("covered"), drops what a page
 * repeats (checked by content against the previous page), asks again where
 * a page left a gap, and advances by what the server returned, not by what
 * it asked for (a server may cap the page size).
 *
 * Nothing ends short in silence: a page that comes back empty while the
 * total says more exist, pages that keep moving without bringing anything
 * new, or a server that counts `offset` in pages (noticed by a probe, then
 * followed) each end in an error object or are recovered. Memory stays at
 * `width` pages plus the previous one. */
#include "pager.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lauxlib.h>

#include "compat.h"
#include "error.h"
#include "iam.h"
#include "util.h"

#define BACKOFF_BASE 0.5   /* seconds before the first retry, at most */
#define BACKOFF_CAP 30.0   /* the longest wait between two attempts */
#define RETRY_AFTER_CAP 120.0
#define MAX_STALLS 8       /* deliveries in a row that bring nothing new */
#define RETRY_NOTES 16     /* retries kept for the driver to report */

enum { SLOT_PENDING, SLOT_INFLIGHT, SLOT_WAITING, SLOT_READY };

/* How the server reads `offset`: records (the reference page), or pages
 * (the newest SDK docs); REFERENCE.md "Paging: what is not settled". */
enum { OFFSET_UNKNOWN, OFFSET_RECORDS, OFFSET_PAGES };

typedef struct me_slot {
    int state;
    int attempts;
    double retry_at;
    long ticket;             /* the seq of its current send, 0 for none */
    long long offset;        /* record position it asks for */
    long long server_now;    /* from the answer's Date header, ms; -1 unknown */
    int ref;                 /* the page or error once READY */
    int is_error;
    double first_sent;       /* when its first attempt was sent (monotonic s) */
} me_slot;

struct me_pager {
    enum me_pager_kind kind;
    me_target *target;
    int client_ref, keep_ref;    /* the client, and the params copy + job id */
    const char *job_id;          /* (a login or security key: the path) */
    const char *body;            /* a login's body, kept by keep_ref */
    size_t body_len;
    me_slot iam;                 /* the project id, while the target has none */
    me_secrets secrets;          /* what requests were sent with, for redaction */
    int notes_ref;               /* retries scheduled, for the driver to report */
    me_query q;                  /* as sent: limit and window as they stand */
    int retries, desc, user_window, over;
    long next_ticket;

    long width, head, count;     /* ring of `width` slots: head .. head+count-1 */
    long concurrency;            /* requests in flight at most (width: 2x) */
    long long plan;              /* record position of the next new slot */
    long long step;              /* how far a page advances: limit, or the server's cap */

    int started;                 /* the first page was delivered */
    long long first_total;       /* T0; -1 when the server sends no total */
    long long owed;              /* events to deliver; -1: until a short page */
    long long delivered, pages;
    long long covered;           /* positions delivered, from offset 0 */
    long long shift;             /* the largest total_k - T0 seen */
    int prev_ref;                /* events of the previous delivered page */
    long long prev_start;        /* position of its first event */
    int stalls;
    int ended_short;             /* the queue ran dry before `owed`: raise next */

    int offset_mode;
    me_slot probe;               /* offset=1: records or pages? */
    int probing;                 /* 0, or 1 (ahead of time) / 2 (after an empty page) */

    uint64_t rng;
    me_pager_release_fn release;
    void *release_ctx;
    int closed;                  /* close() ran: nothing is referenced any more */
    /* Inside the userdata, so that a close (from a finalizer or a hook
     * while a response is decoded) never frees them under a feed. */
    me_slot slots[];
};

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static long long wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* xorshift64*: jitter only needs to spread clients apart, not secrecy. */
static double random_unit(me_pager *p)
{
    p->rng ^= p->rng >> 12;
    p->rng ^= p->rng << 25;
    p->rng ^= p->rng >> 27;
    return (double)((p->rng * 2685821657736338717ULL) >> 11) / 9007199254740992.0;
}

static me_slot *queued(me_pager *p, long i)
{
    return &p->slots[(p->head + i) % p->width];
}

static void init_slot(me_slot *s)
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

static void clear_slot(lua_State *L, me_slot *s)
{
    luaL_unref(L, LUA_REGISTRYINDEX, s->ref);
    init_slot(s);
}

/* Forget every queued slot (answers still on the way are then ignored). */
static void drop_queue(lua_State *L, me_pager *p)
{
    long i;
    for (i = 0; i < p->count; i++)
        clear_slot(L, queued(p, i));
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
        init_slot(&p->slots[i]);
    init_slot(&p->probe);
    init_slot(&p->iam);
    me_secrets_init(&p->secrets);
    p->client_ref = p->keep_ref = p->prev_ref = p->notes_ref = LUA_NOREF;
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
    p->desc = !(p->q.order && strcmp(p->q.order, "asc") == 0);
    p->user_window = p->q.has_window;
    if (iterating) {
        if (!p->q.limit)
            p->q.limit = 100;
        if (p->q.max_items > 0 && p->q.max_items < p->q.limit)
            p->q.limit = p->q.max_items;
    }
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
 * events this iteration owes -- beside a probe sent ahead of time too
 * (nothing is delivered before the probe decides, and a page server's
 * answers are dropped then), but not beside one sent after an empty page. */
static int wanted(const me_pager *p, long inflight)
{
    if (p->over || p->probing == 2 || p->count >= p->width || inflight >= p->concurrency)
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
        *now = now_seconds();
    if (s->retry_at <= *now)
        s->state = SLOT_PENDING;
    else if (*soonest < 0 || s->retry_at - *now < *soonest)
        *soonest = s->retry_at - *now;
}

/* The offset on the wire for a record position. */
static long long wire_offset(const me_pager *p, long long position)
{
    return p->offset_mode == OFFSET_PAGES ? position / p->q.limit : position;
}

/* Build the request of slot s: the credentials resolved now (functions
 * called), then the request its kind sends. 0, or -1 with the error pushed. */
static int build(lua_State *L, me_pager *p, int given, me_slot *s, long long wire,
                 me_request *req)
{
    me_creds creds;
    me_endpoint base;
    const char *err = NULL;
    int rc;
    memset(&creds, 0, sizeof creds);
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
                              p->kind == ME_PAGER_JOB ? NULL : &p->q, wire, &err);
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
    if (s->attempts++ == 0)
        s->first_sent = now_seconds();
    /* internal requests (IAM) count down, the pages' up */
    s->ticket = s == &p->iam ? -(++p->next_ticket) : ++p->next_ticket;
    *seq = s->ticket;
    return ME_SEND;
}

enum me_next me_pager_next(lua_State *L, me_pager *p, int creds, me_request *req, long *seq,
                           double *wait)
{
    long i;
    double now = 0, soonest = -1;
    long inflight = 0;
    int ready = p->ended_short;
    if (p->over)
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
        me_slot *s = queued(p, i);
        wake(s, &now, &soonest);
        inflight += s->state == SLOT_INFLIGHT;
        ready |= s->state == SLOT_READY;
    }
    /* Never more than `concurrency` requests out, retries included (the
     * OpenResty driver sends whatever this says). */
    if (inflight >= p->concurrency)
        return ME_IDLE;
    if (p->probing && p->probe.state == SLOT_PENDING)
        return send(L, p, creds, &p->probe, 1, req, seq);
    /* Retries and refetches of queued pages first: they block delivery. */
    for (i = 0; i < p->count; i++) {
        me_slot *s = queued(p, i);
        if (s->state == SLOT_PENDING)
            return send(L, p, creds, s, wire_offset(p, s->offset), req, seq);
    }
    if (wanted(p, inflight)) {
        me_slot *s = queued(p, p->count++);
        init_slot(s);
        s->offset = p->plan;
        p->plan += p->step;
        return send(L, p, creds, s, wire_offset(p, s->offset), req, seq);
    }
    if (inflight)
        return ME_IDLE;
    if (soonest >= 0) {
        *wait = soonest;
        return ME_WAIT;
    }
    return ready ? ME_IDLE : ME_DONE; /* IDLE: results wait to be taken */
}

/* ---- what comes back ---------------------------------------------------- */

static me_slot *slot_of_ticket(me_pager *p, long ticket)
{
    long i;
    if (p->over || ticket == 0)
        return NULL;
    if (ticket < 0)
        return p->iam.ticket == ticket && p->iam.state == SLOT_INFLIGHT ? &p->iam : NULL;
    if (p->probing && p->probe.ticket == ticket && p->probe.state == SLOT_INFLIGHT)
        return &p->probe;
    for (i = 0; i < p->count; i++) {
        me_slot *s = queued(p, i);
        if (s->ticket == ticket && s->state == SLOT_INFLIGHT)
            return s;
    }
    return NULL;
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

/* The server's clock from its Date header, in ms, or -1. */
static long long http_date_ms(const char *v)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    if (!v || !strptime(v, "%a, %d %b %Y %H:%M:%S GMT", &tm))
        return -1;
    return (long long)timegm(&tm) * 1000;
}

/* The error is at the top of the stack: retry, or keep it as the result. */
/* Keep note of a retry (the error at the top of the stack, and the delay)
 * for the driver to report. */
static void note_retry(lua_State *L, me_pager *p, double delay)
{
    size_t n;
    if (p->notes_ref == LUA_NOREF) {
        lua_newtable(L);
        p->notes_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    }
    lua_rawgeti(L, LUA_REGISTRYINDEX, p->notes_ref);
    n = me_rawlen(L, -1);
    if (n >= RETRY_NOTES) {
        /* the oldest goes */
        size_t i;
        for (i = 1; i < n; i++) {
            lua_rawgeti(L, -1, (int)i + 1);
            lua_rawseti(L, -2, (int)i);
        }
        n--;
    }
    lua_createtable(L, 2, 0);
    lua_pushvalue(L, -3);
    lua_rawseti(L, -2, 1);
    lua_pushnumber(L, delay);
    lua_rawseti(L, -2, 2);
    lua_rawseti(L, -2, (int)n + 1);
    lua_pop(L, 1);
}

int me_pager_push_retries(lua_State *L, me_pager *p)
{
    int n;
    if (p->notes_ref == LUA_NOREF)
        return 0;
    lua_rawgeti(L, LUA_REGISTRYINDEX, p->notes_ref);
    n = (int)me_rawlen(L, -1);
    luaL_unref(L, LUA_REGISTRYINDEX, p->notes_ref);
    p->notes_ref = LUA_NOREF;
    if (n == 0)
        lua_pop(L, 1);
    return n;
}

/* Blank out, from the error at the top of the stack, every secret this
 * pager's requests carried: servers echo what they were sent (the
 * gateway's signature errors quote the canonical request, security token
 * included). */
static void redact(lua_State *L, me_pager *p)
{
    const char *secrets[4 + ME_SECRETS_KEPT];
    int n = me_secrets_list(p->target, &p->secrets, secrets);
    me_error_redact(L, -1, secrets, n);
}

static void settle_error(lua_State *L, me_pager *p, me_slot *s, const char *retry_after)
{
    double delay = retry_after_seconds(retry_after);
    int retryable;
    redact(L, p);
    if (delay >= 0) {
        /* for callers that pace themselves, as follow mode does */
        lua_pushnumber(L, delay < RETRY_AFTER_CAP ? delay : RETRY_AFTER_CAP);
        lua_setfield(L, -2, "retry_after");
    }
    lua_getfield(L, -1, "retryable");
    retryable = lua_toboolean(L, -1);
    lua_pop(L, 1);
    if (retryable && s->attempts <= p->retries) {
        if (delay < 0) {
            /* Full jitter: anywhere up to the exponential bound. */
            double bound = BACKOFF_BASE * pow(2.0, s->attempts - 1);
            delay = random_unit(p) * (bound < BACKOFF_CAP ? bound : BACKOFF_CAP);
        } else if (delay > RETRY_AFTER_CAP) {
            delay = RETRY_AFTER_CAP;
        }
        s->state = SLOT_WAITING;
        s->retry_at = now_seconds() + delay;
        note_retry(L, p, delay);
        lua_pop(L, 1);
        return;
    }
    if (s->attempts > 1) {
        /* how long it tried: from the first attempt's send to this answer */
        double elapsed = now_seconds() - s->first_sent;
        char took[64];
        snprintf(took, sizeof took, "%.1f", elapsed);
        lua_getfield(L, -1, "message");
        lua_pushfstring(L, "%s (after %d attempts over %s s)", lua_tostring(L, -1), s->attempts,
                        took);
        lua_setfield(L, -3, "message");
        lua_pop(L, 1);
        me_pushinteger(L, s->attempts);
        lua_setfield(L, -2, "attempts");
        lua_pushnumber(L, elapsed);
        lua_setfield(L, -2, "elapsed");
    }
    s->ref = luaL_ref(L, LUA_REGISTRYINDEX);
    s->is_error = 1;
    s->state = SLOT_READY;
}

/* Decode what IAM or the metadata service answered: 1 with the value
 * pushed, or 0 with the error. */
static int decode_service(lua_State *L, me_pager *p, me_slot *s, int decoder,
                          const me_response *r)
{
    me_iam_response ir;
    ir.status = r->status;
    ir.body = r->body;
    ir.len = r->len;
    ir.request_id = r->request_id;
    ir.subject_token = r->subject_token;
    if (s == &p->iam)
        return me_iam_decode_projects(L, decoder, &ir, p->target->region);
    if (p->kind == ME_PAGER_LOGIN)
        return me_iam_decode_token(L, decoder, &ir);
    return me_iam_decode_securitykey(L, decoder, &ir);
}

/* One answer to settle: a response (r), or a failed transfer (kind). */
typedef struct me_answer {
    me_pager *p;
    me_slot *s;
    long ticket;
    const me_response *r;
    const char *kind, *message;
} me_answer;

/* Settle an answer, under lua_pcall (arguments: the answer, the decoder). */
static int settle_protected(lua_State *L)
{
    me_answer *a = (me_answer *)lua_touserdata(L, 1);
    me_pager *p = a->p;
    me_slot *s = a->s;
    const me_response *r = a->r;
    int decoded = 0;
    if (!r) {
        me_error_pushf(L, a->kind, "%s", a->message);
    } else if (s == &p->iam || p->kind >= ME_PAGER_LOGIN) {
        decoded = decode_service(L, p, s, 2, r);
    } else {
        decoded = me_decode(L, 2, p->kind == ME_PAGER_JOB ? ME_SHAPE_JOB : ME_SHAPE_PAGE,
                            r->status, r->body, r->len, r->request_id);
    }
    /* Lua code may have run meanwhile (finalizers, hooks): if it closed the
     * pager or its client, or the slot was given up, the answer goes. */
    if (slot_of_ticket(p, a->ticket) != s || !p->target->endpoint)
        return 0;
    if (decoded) {
        s->ref = luaL_ref(L, LUA_REGISTRYINDEX);
        s->is_error = 0;
        s->state = SLOT_READY;
        s->server_now = http_date_ms(r->date);
    } else {
        settle_error(L, p, s, r ? r->retry_after : NULL);
    }
    return 0;
}

/* Settle an answer protected: an error raised inside (lua.c's
 * "interrupted!" from a hook at the decoder's call, out of memory) leaves
 * the slot to be asked again, and is pushed for the caller to raise. */
static int settle(lua_State *L, me_pager *p, int decoder, long seq, const me_response *r,
                  const char *kind, const char *message)
{
    me_answer a;
    a.p = p;
    a.s = slot_of_ticket(p, seq);
    /* An answer for a client closed since is ignored: its settings, and
     * the secrets redaction needs, are gone. */
    if (!a.s || !p->target->endpoint)
        return 0;
    a.ticket = seq;
    a.r = r;
    a.kind = kind;
    a.message = message;
    decoder = me_absindex(L, decoder);
    lua_pushcfunction(L, settle_protected);
    lua_pushlightuserdata(L, &a);
    if (r)
        lua_pushvalue(L, decoder);
    else
        lua_pushnil(L);
    if (lua_pcall(L, 2, 0, 0) == 0)
        return 0;
    me_pager_requeue(p, seq);
    return -1;
}

int me_pager_feed(lua_State *L, me_pager *p, int decoder, long seq, const me_response *r)
{
    return settle(L, p, decoder, seq, r, NULL, NULL);
}

int me_pager_fail(lua_State *L, me_pager *p, long seq, const char *kind, const char *message)
{
    return settle(L, p, 0, seq, NULL, kind, message);
}

void me_pager_requeue_all(me_pager *p)
{
    long i;
    if (p->iam.state == SLOT_INFLIGHT)
        me_pager_requeue(p, p->iam.ticket);
    if (p->probing && p->probe.state == SLOT_INFLIGHT)
        me_pager_requeue(p, p->probe.ticket);
    for (i = 0; i < p->count; i++)
        if (queued(p, i)->state == SLOT_INFLIGHT)
            me_pager_requeue(p, queued(p, i)->ticket);
}

void me_pager_requeue(me_pager *p, long seq)
{
    me_slot *s = slot_of_ticket(p, seq);
    if (s) {
        s->state = SLOT_PENDING;
        s->attempts--;
    }
}

/* ---- delivering --------------------------------------------------------- */

static void finish(lua_State *L, me_pager *p)
{
    p->over = 1;
    drop_queue(L, p);
    clear_slot(L, &p->iam);
    clear_slot(L, &p->probe);
    p->probing = 0;
    luaL_unref(L, LUA_REGISTRYINDEX, p->prev_ref);
    p->prev_ref = LUA_NOREF;
    if (p->release)
        p->release(p->release_ctx, p);
}

/* Push a decode error: the server's pages do not add up. */
static void push_inconsistent(lua_State *L, const char *fmt, ...) ME_PRINTF(2, 3);
static void push_inconsistent(lua_State *L, const char *fmt, ...)
{
    char message[400];
    me_error e;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    memset(&e, 0, sizeof e);
    e.kind = "decode";
    e.message = message;
    e.status = 200;
    me_error_push(L, &e);
}

/* Same content: events carry no id, so equal fields mean "the same row". */
static int same_event(lua_State *L, int a, int b)
{
    static const char *const fields[] = {"time", "message", "level", "source"};
    int i, same = 1;
    a = me_absindex(L, a); /* the pushes below move relative indexes */
    b = me_absindex(L, b);
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
        same = lua_istable(L, -1) && lua_istable(L, -2) && same_event(L, -1, -2);
        lua_pop(L, 2);
        if (!same)
            return 0;
    }
    return 1;
}

/* The first page: the total, what is owed, and the window for the rest. */
static void start(lua_State *L, me_pager *p, int page, long long total, long long server_now)
{
    p->started = 1;
    p->first_total = total;
    p->owed = total < 0 ? -1 : (total > p->q.offset ? total - p->q.offset : 0);
    if (p->q.max_items >= 0 && (p->owed < 0 || p->q.max_items < p->owed))
        p->owed = p->q.max_items;
    if (!p->user_window) {
        /* Pin the window the server reported for this page, ending at the
         * server's now: events that arrive later are not this iteration's,
         * and the client's clock does not matter. Without a reported start
         * the pages stay unpinned (growth is then caught by the totals). */
        long long begin;
        size_t n;
        const char *s;
        lua_getfield(L, page, "start_time");
        s = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &n) : NULL;
        if (s && me_parse_iso8601(s, n, &begin) == 0 && begin >= 0) {
            long long end = server_now >= 0 ? server_now + 999 : wall_ms();
            if (begin <= end) {
                p->q.has_window = 1;
                p->q.start_time = begin;
                p->q.end_time = end;
            }
        }
        lua_pop(L, 1);
    }
}

/* Begin asking how the server reads offset (see probe_decide). */
static void start_probe(me_pager *p, int why)
{
    init_slot(&p->probe);
    p->probing = why;
}

/* May a probe tell records from pages here? Only from the start of a job
 * (an offset of the caller's own would already have been misread) and
 * with pages of more than one record (else both readings agree). */
static int can_probe(const me_pager *p)
{
    return p->offset_mode == OFFSET_UNKNOWN && p->q.offset == 0 && p->q.limit > 1 &&
           p->pages == 1 && p->first_total > p->q.limit;
}

enum { DELIVERED, NOT_YET, FAILED };

/* The probe asked offset=1 with the same limit. A server that counts
 * records answers the first page moved by one (events 2.. of the first
 * page); one that counts pages answers the second page. Returns FAILED
 * with an error pushed, or NOT_YET. */
static int probe_decide(lua_State *L, me_pager *p)
{
    int events, prev, why = p->probing;
    long long m, n0, k;
    lua_rawgeti(L, LUA_REGISTRYINDEX, p->probe.ref);
    if (p->probe.is_error) {
        clear_slot(L, &p->probe);
        p->probing = 0;
        return FAILED;
    }
    lua_getfield(L, -1, "events");
    events = lua_gettop(L);
    lua_rawgeti(L, LUA_REGISTRYINDEX, p->prev_ref);
    prev = lua_gettop(L);
    m = (long long)me_rawlen(L, events);
    n0 = (long long)me_rawlen(L, prev);
    k = m < n0 - 1 ? m : n0 - 1;
    p->offset_mode = m > 0 && k > 0 && prefix_matches(L, events, prev, 1, k) ? OFFSET_RECORDS
                                                                              : OFFSET_PAGES;
    lua_pop(L, 3);
    clear_slot(L, &p->probe);
    p->probing = 0;
    if (m == 0 || (p->offset_mode == OFFSET_RECORDS && why == 2)) {
        push_inconsistent(L, "a page came back empty at offset %lld while the total says %lld "
                          "events exist; stopped rather than end short",
                          p->covered, p->first_total);
        return FAILED;
    }
    if (p->offset_mode == OFFSET_PAGES) {
        /* Follow it: ask again from the end of the first page, by page. */
        drop_queue(L, p);
        p->plan = p->covered;
        p->step = p->q.limit;
    }
    return NOT_YET;
}

/* Deliver the page at the top of the stack from the head slot s: returns
 * DELIVERED (the page stays pushed), NOT_YET (popped; the slot is asked
 * again or a probe runs first) or FAILED (replaced by an error). */
static int deliver(lua_State *L, me_pager *p, me_slot *s)
{
    int page = lua_gettop(L), events;
    long long total, n, begin, skip, keep, i, end;
    int last = 0;
    if (p->kind != ME_PAGER_EVENTS) {
        p->started = 1;
        return DELIVERED;
    }
    lua_getfield(L, page, "total");
    total = lua_isnil(L, -1) ? -1 : (long long)lua_tonumber(L, -1);
    lua_pop(L, 1);
    lua_getfield(L, page, "events");
    events = lua_gettop(L);
    n = (long long)me_rawlen(L, events);
    if (!p->started)
        start(L, p, page, total, s->server_now);
    end = end_position(p);

    begin = s->offset;
    if (p->desc && p->first_total >= 0 && total > p->first_total) {
        begin -= total - p->first_total;
        if (total - p->first_total > p->shift)
            p->shift = total - p->first_total;
    }
    if (begin > p->covered) {
        /* It came from before its predecessor (the list grew between the
         * two): ask again where the gap starts, as the list stands now. */
        if (p->offset_mode == OFFSET_PAGES || ++p->stalls > MAX_STALLS) {
            lua_settop(L, page - 1);
            push_inconsistent(L, "the server's pages kept moving (%lld requests in a row "
                              "left a gap at position %lld); stopped rather than skip events",
                              (long long)p->stalls, p->covered);
            return FAILED;
        }
        s->offset = p->covered + (s->offset - begin);
        s->state = SLOT_PENDING;
        s->attempts = 0;
        lua_settop(L, page - 1);
        return NOT_YET;
    }
    if (n == 0 && (end < 0 || p->delivered < p->owed) && p->first_total >= 0) {
        lua_settop(L, page - 1);
        if (can_probe(p)) {
            drop_queue(L, p);
            start_probe(p, 2);
            return NOT_YET;
        }
        push_inconsistent(L, "a page came back empty at offset %lld while the total says %lld "
                          "events exist; stopped rather than end short",
                          s->offset, total);
        return FAILED;
    }

    skip = p->covered - begin;
    if (skip > n)
        skip = n;
    if (skip > 0 && p->prev_ref != LUA_NOREF) {
        /* Confirm by content what the totals say is repeated; trust only the
         * part that matches, so that real repeats survive. */
        long long prev_n, from;
        lua_rawgeti(L, LUA_REGISTRYINDEX, p->prev_ref);
        prev_n = (long long)me_rawlen(L, -1);
        from = begin - p->prev_start;
        if (from >= 0 && from + skip <= prev_n) {
            while (skip > 0 && !prefix_matches(L, events, lua_gettop(L), from, skip))
                skip--, from++;
        }
        lua_pop(L, 1);
    }
    keep = n - skip;
    if (end >= 0 && keep > p->owed - p->delivered)
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
    if (begin + n > p->covered)
        p->covered = begin + n;
    p->delivered += keep;
    p->pages++;
    luaL_unref(L, LUA_REGISTRYINDEX, p->prev_ref);
    lua_pushvalue(L, events);
    p->prev_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    p->prev_start = begin + skip;
    lua_pop(L, 1);

    if (end >= 0 && p->delivered >= p->owed) {
        last = 1;
    } else if (n == 0) {
        last = 1; /* no total: an empty page is the end */
    } else if (n < p->q.limit) {
        long long echoed;
        lua_getfield(L, page, "limit");
        echoed = (long long)lua_tonumber(L, -1);
        lua_pop(L, 1);
        if (p->first_total < 0 && n < echoed) {
            last = 1; /* no total: a short page is the end */
        } else if (p->offset_mode != OFFSET_PAGES) {
            /* More are owed: the server caps the page size. Advance by what
             * it returns; what was queued on the old step is asked again. */
            p->plan = s->offset + n;
            p->step = n;
            drop_queue(L, p);
        }
    }
    p->stalls = keep > 0 ? 0 : p->stalls + 1;
    if (!last && p->stalls > MAX_STALLS) {
        lua_settop(L, page - 1);
        push_inconsistent(L, "the server's pages kept moving (%lld requests in a row brought "
                          "no new event, %lld delivered); stopped rather than loop forever",
                          (long long)p->stalls, p->delivered);
        return FAILED;
    }
    if (last)
        p->over = 2; /* deliver this page, then finish */
    else if (p->pages == 1 && can_probe(p) && p->first_total > p->q.limit * p->q.limit)
        start_probe(p, 1); /* a page server would answer every later page, wrongly */
    return DELIVERED;
}

void me_pager_stop(lua_State *L, me_pager *p)
{
    if (!p->over)
        finish(L, p);
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
    clear_slot(L, &p->iam);
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
            me_error_pushf(L, "invalid_argument", "out of memory");
            finish(L, p);
            return -1;
        }
        strcpy(copy, id);
        p->target->project_id = copy;
    }
    lua_pop(L, 1);
    return 1;
}

int me_pager_take(lua_State *L, me_pager *p)
{
    me_slot *s;
    int r;
    if (p->over)
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
    if (p->ended_short) {
        finish(L, p);
        push_inconsistent(L, "the pages ended at position %lld while %lld events were owed; "
                          "stopped rather than end short", p->covered, p->owed);
        return -1;
    }
    if (p->probing) {
        if (p->probe.state != SLOT_READY)
            return 0;
        if (probe_decide(L, p) == FAILED) {
            finish(L, p);
            return -1;
        }
        return 0;
    }
    if (p->count == 0)
        return 0;
    s = queued(p, 0);
    if (s->state != SLOT_READY)
        return 0;
    lua_rawgeti(L, LUA_REGISTRYINDEX, s->ref);
    if (s->is_error) {
        finish(L, p);
        return -1;
    }
    luaL_unref(L, LUA_REGISTRYINDEX, s->ref);
    s->ref = LUA_NOREF;
    r = deliver(L, p, s);
    if (r == FAILED) {
        finish(L, p);
        return -1;
    }
    if (r == NOT_YET)
        return 0;
    if (p->count > 0 && queued(p, 0) == s) {
        init_slot(s);
        p->head = (p->head + 1) % p->width;
        p->count--;
    }
    if (p->kind != ME_PAGER_EVENTS || p->over == 2) {
        finish(L, p);
    } else if (p->count == 0 && !p->probing) {
        /* Pages that came back shifted covered less than planned: go on
         * from the first position not delivered yet, as the list stands. */
        if (p->plan > p->covered + p->shift && p->offset_mode != OFFSET_PAGES)
            p->plan = p->covered + p->shift;
        if (!wanted(p, 0))
            p->ended_short = 1; /* raised by the next take: never a silent end */
    }
    return 1;
}

int me_pager_done(const me_pager *p)
{
    return p->over != 0;
}

int me_pager_inflight(const me_pager *p)
{
    long i;
    int n = (p->probing && p->probe.state == SLOT_INFLIGHT) + (p->iam.state == SLOT_INFLIGHT);
    for (i = 0; i < p->count; i++)
        n += p->slots[(p->head + i) % p->width].state == SLOT_INFLIGHT;
    return n;
}

/* ---- Lua methods, for drivers written in Lua ---------------------------- */

static me_pager *check_pager(lua_State *L)
{
    return (me_pager *)me_check_object(L, 1, ME_PAGER_MT, "pager");
}

/* pager:next([creds]) -> "send", seq, request | "wait", seconds | "idle" |
 * "done"; raises an error object when it cannot go on. `creds`: strings
 * { token, ak, sk, security_token } for this request instead of the
 * client's own. */
static int pager_next(lua_State *L)
{
    me_pager *p = check_pager(L);
    me_request req;
    long seq = 0;
    double wait = 0;
    enum me_next what;
    if (p->closed)
        me_error_raise(L, "invalid_argument", "the pager is closed");
    if (!lua_isnoneornil(L, 2) && !lua_istable(L, 2))
        me_error_argument(L, "creds", "pager:next: creds must be a table of strings");
    lua_settop(L, 2);
    me_request_init(&req);
    what = me_pager_next(L, p, lua_istable(L, 2) ? 2 : 0, &req, &seq, &wait);
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
    case ME_FAIL:
        me_request_free(&req);
        return lua_error(L);
    default:
        me_request_free(&req);
        lua_pushliteral(L, "done");
        return 1;
    }
}

/* A number argument as a long, whatever its size. */
static long check_long(lua_State *L, int idx, const char *name)
{
    if (lua_type(L, idx) != LUA_TNUMBER)
        me_error_argument(L, name, "pager:feed: %s must be a number", name);
    return (long)me_clamp_ll(lua_tonumber(L, idx), -2000000000LL, 2000000000LL);
}

/* pager:feed(seq, status, body, headers) for a response;
 * pager:feed(seq, nil, kind, message) for a transfer that failed. */
static int pager_feed(lua_State *L)
{
    me_pager *p = check_pager(L);
    long seq = check_long(L, 2, "seq");
    int rc;
    if (p->closed)
        return 0;
    if (lua_isnil(L, 3)) {
        if (lua_type(L, 4) != LUA_TSTRING)
            me_error_argument(L, "kind", "pager:feed: a failed transfer needs its kind");
        rc = me_pager_fail(L, p, seq, lua_tostring(L, 4),
                           lua_type(L, 5) == LUA_TSTRING ? lua_tostring(L, 5)
                                                         : "transfer failed");
    } else {
        me_response r;
        memset(&r, 0, sizeof r);
        r.status = check_long(L, 3, "status");
        r.body = "";
        if (lua_type(L, 4) == LUA_TSTRING)
            r.body = lua_tolstring(L, 4, &r.len);
        r.request_id = me_header_find(L, 5, "x-request-id");
        r.retry_after = me_header_find(L, 5, "retry-after");
        r.date = me_header_find(L, 5, "date");
        r.subject_token = me_header_find(L, 5, "x-subject-token");
        rc = me_pager_feed(L, p, lua_upvalueindex(1), seq, &r);
    }
    return rc == 0 ? 0 : lua_error(L);
}

/* pager:take() -> page | nil, err | false (not yet) | nil (done) */
static int pager_take(lua_State *L)
{
    me_pager *p = check_pager(L);
    int r = p->closed ? 0 : me_pager_take(L, p);
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

/* pager:retries() -> { {err, delay}, ... } scheduled since the last call,
 * or nil: for drivers that report them (the client's on_retry). */
static int pager_retries(lua_State *L)
{
    if (me_pager_push_retries(L, check_pager(L)) == 0)
        lua_pushnil(L);
    return 1;
}

/* __gc, __close and close(): drop everything, idempotently. */
static int pager_close(lua_State *L)
{
    me_pager *p = check_pager(L);
    if (!p->closed) {
        if (!p->over)
            finish(L, p);
        p->closed = 1;
        p->count = 0;
        p->over = 1;
        me_secrets_free(&p->secrets);
        luaL_unref(L, LUA_REGISTRYINDEX, p->keep_ref);
        luaL_unref(L, LUA_REGISTRYINDEX, p->client_ref);
        luaL_unref(L, LUA_REGISTRYINDEX, p->notes_ref);
        p->keep_ref = p->client_ref = p->notes_ref = LUA_NOREF;
    }
    return 0;
}

void me_pager_register(lua_State *L)
{
    static const luaL_Reg methods[] = {
        {"next", pager_next}, {"feed", pager_feed}, {"take", pager_take},
        {"done", pager_done}, {"retries", pager_retries}, {"close", pager_close},
        {NULL, NULL}};
    me_class_register(L, ME_PAGER_MT, methods, pager_close, NULL);
}
