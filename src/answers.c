/* answers.c - what comes back to a pager: each answer (a response, or a
 * transfer that failed) is matched to its slot by ticket and settled, under
 * lua_pcall since the decoder runs Lua code; an error is redacted and either
 * retried (Retry-After, Huawei's 2-5 s for a 429, else backoff with full
 * jitter) or kept as the slot's result. See pager.h. */
#include "pager_state.h"

#include <math.h>
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
/* A 429 without Retry-After: the gateway's window is a second, and
 * Huawei's advice (REFERENCE.md, APIG.0308) is to wait 2 to 5 s. */
#define THROTTLED_MIN 2.0
#define THROTTLED_MAX 5.0
#define RETRY_NOTES 16     /* retries kept for the driver to report */
/* A request id longer than this is cut, after redaction, for display. */
#define REQUEST_ID_SHOWN 200

/* xorshift64*: jitter only needs to spread clients apart, not secrecy. */
static double random_unit(me_pager *p)
{
    p->rng ^= p->rng >> 12;
    p->rng ^= p->rng << 25;
    p->rng ^= p->rng >> 27;
    return (double)((p->rng * 2685821657736338717ULL) >> 11) / 9007199254740992.0;
}

static me_slot *slot_of_ticket(me_pager *p, long ticket)
{
    long i;
    if (p->run == FINISHED || ticket == 0)
        return NULL;
    if (ticket < 0)
        return p->iam.ticket == ticket && p->iam.state == SLOT_INFLIGHT ? &p->iam : NULL;
    if (p->probing && p->probe.ticket == ticket && p->probe.state == SLOT_INFLIGHT)
        return &p->probe;
    for (i = 0; i < p->count; i++) {
        me_slot *s = me_pager_queued(p, i);
        if (s->ticket == ticket && s->state == SLOT_INFLIGHT)
            return s;
    }
    return NULL;
}

/* Retry-After: seconds, or an HTTP date; -1 when absent or unreadable. */
static double retry_after_seconds(const char *v)
{
    char *end;
    double d;
    long long at;
    if (!v)
        return -1;
    d = strtod(v, &end);
    if (end != v && (*end == '\0' || *end == ' ') && d >= 0)
        return d;
    at = me_http_date_ms(v);
    if (at < 0)
        return -1;
    d = (double)(at / 1000) - (double)time(NULL);
    return d > 0 ? d : 0;
}

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
    const char *secrets[ME_SECRETS_MAX];
    int n = me_secrets_list(p->target, &p->secrets, secrets);
    me_error_redact(L, -1, secrets, n);
}

/* A request id too long to show is cut, once redacted (a server may echo
 * anything there, a secret included: it must be blanked whole first). */
static void shorten_request_id(lua_State *L)
{
    size_t n;
    const char *id;
    lua_getfield(L, -1, "request_id");
    id = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &n) : NULL;
    if (id && n > REQUEST_ID_SHOWN) {
        lua_pushlstring(L, id, REQUEST_ID_SHOWN);
        lua_setfield(L, -3, "request_id");
    }
    lua_pop(L, 1);
}

/* How long before the next attempt: the server's Retry-After (capped),
 * else for a 429 Huawei's advice (2-5 s, jittered), else full jitter up to
 * the exponential bound. */
static double retry_delay(lua_State *L, me_pager *p, const me_slot *s, double retry_after)
{
    double bound;
    long status;
    if (retry_after >= 0)
        return retry_after < RETRY_AFTER_CAP ? retry_after : RETRY_AFTER_CAP;
    lua_getfield(L, -1, "status");
    status = lua_type(L, -1) == LUA_TNUMBER ? (long)lua_tonumber(L, -1) : 0;
    lua_pop(L, 1);
    if (status == 429)
        return THROTTLED_MIN + random_unit(p) * (THROTTLED_MAX - THROTTLED_MIN);
    bound = BACKOFF_BASE * pow(2.0, s->attempts - 1);
    return random_unit(p) * (bound < BACKOFF_CAP ? bound : BACKOFF_CAP);
}

static void settle_error(lua_State *L, me_pager *p, me_slot *s, const char *retry_after)
{
    double delay = retry_after_seconds(retry_after);
    int retryable;
    redact(L, p);
    shorten_request_id(L);
    if (delay >= 0) {
        /* for callers that pace themselves, as follow mode does */
        lua_pushnumber(L, delay < RETRY_AFTER_CAP ? delay : RETRY_AFTER_CAP);
        lua_setfield(L, -2, "retry_after");
    }
    lua_getfield(L, -1, "retryable");
    retryable = lua_toboolean(L, -1);
    lua_pop(L, 1);
    if (retryable && s->attempts <= p->retries) {
        delay = retry_delay(L, p, s, delay);
        s->state = SLOT_WAITING;
        s->retry_at = me_pager_clock() + delay;
        note_retry(L, p, delay);
        lua_pop(L, 1);
        return;
    }
    if (s->attempts > 1) {
        /* how long it tried: from the first attempt's send to this answer */
        double elapsed = me_pager_clock() - s->first_sent;
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
        s->server_now = me_http_date_ms(r->date);
        s->answered_at = me_pager_clock();
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
        if (me_pager_queued(p, i)->state == SLOT_INFLIGHT)
            me_pager_requeue(p, me_pager_queued(p, i)->ticket);
}

void me_pager_requeue(me_pager *p, long seq)
{
    me_slot *s = slot_of_ticket(p, seq);
    if (s) {
        s->state = SLOT_PENDING;
        s->attempts--;
    }
}

