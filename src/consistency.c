/* consistency.c - what each page of an iteration means, so that every event
 * is yielded once or an error object is raised: never a silent short read,
 * never silent repeats.
 *
 * Positions: the first page tells the total T0 (how many events the
 * iteration owes) and the server's own "now" (its Date header). Later pages
 * are pinned to the window the server reported for the first one, ending
 * at the later of that now and the newest event the first page showed, so
 * the client's clock never matters. In descending order an event that
 * still slips in at the window's edge second pushes every older event one
 * offset further: a page fetched when the job held total_k events covers
 * the original positions [offset - s, offset - s + n) with s = total_k - T0.
 * The iteration tracks how far it has delivered ("covered"), drops what a
 * page repeats (confirmed by content against the previous page), asks again
 * where a page left a gap, and advances by what the server returned, not by
 * what it asked for (a server may cap the page size).
 *
 * Offsets: a server may read `offset` as a page index, clamp it, count
 * pages from 1 or ignore it. When more than one page is owed, a probe
 * (offset 1, beside the window) tells: a server that counts records
 * answers the first page moved by one (shifted by the growth in between);
 * one that answers the first page again ignores offset or counts pages
 * from 1 (an error); anything else counts pages from 0, and is followed. A
 * page equal to the one before where the totals say it is new is an error
 * too.
 *
 * Stalls: answers that bring nothing new are counted, and too many in a row
 * end the iteration with an error -- but not while the pinned window is
 * still filling on the server's clock: the pager then waits for the window's
 * end to pass (about a second) and asks again. */
#include "pager_state.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <lauxlib.h>

#include "compat.h"
#include "error.h"
#include "util.h"

#define MAX_STALLS 8       /* answers in a row that bring nothing new */
#define SETTLE_CAP 10.0    /* the longest wait for a pinned window to settle, s */

/* One page as read from its table. */
typedef struct page_view {
    int page, events;        /* stack indexes */
    long long n, total;      /* total: -1 when absent */
} page_view;

static long long wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Push a decode error: the server's pages do not add up. */
static enum me_delivery push_inconsistent(lua_State *L, const char *fmt, ...) ME_PRINTF(2, 3);
static enum me_delivery push_inconsistent(lua_State *L, const char *fmt, ...)
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
    return FAILED;
}

/* The pages ended (empty) before the total: what happened, in one place. */
static enum me_delivery push_ended_early(lua_State *L, const me_pager *p, long long offset,
                                         long long total)
{
    if (total >= 0 && total < p->first_total)
        return push_inconsistent(
            L, "the server counts %lld events in the window now where its first answer counted "
            "%lld, and %lld were delivered: events later than its clock (Date) were counted "
            "first; stopped rather than end short", total, p->first_total, p->delivered);
    return push_inconsistent(L, "a page came back empty at offset %lld while the total says "
                             "%lld events exist (%lld delivered); stopped rather than end short",
                             offset, total >= 0 ? total : p->first_total, p->delivered);
}

/* ---- comparing events (they carry no id: equal fields are "the same") --- */

static int same_event(lua_State *L, int a, int b)
{
    static const char *const fields[] = {"time", "message", "level", "source"};
    int i, same = 1;
    a = me_absindex(L, a);
    b = me_absindex(L, b);
    for (i = 0; i < 4 && same; i++) {
        lua_getfield(L, a, fields[i]);
        lua_getfield(L, b, fields[i]);
        same = lua_rawequal(L, -1, -2);
        lua_pop(L, 2);
    }
    return same;
}

/* Is events[i] the same as prev[j] (1-based)? */
static int same_at(lua_State *L, int events, long long i, int prev, long long j)
{
    int same;
    lua_rawgeti(L, events, (int)i);
    lua_rawgeti(L, prev, (int)j);
    same = lua_istable(L, -1) && lua_istable(L, -2) && same_event(L, -1, -2);
    lua_pop(L, 2);
    return same;
}

/* Does events[1..m] equal prev[from+1..from+m]? */
static int prefix_matches(lua_State *L, int events, int prev, long long from, long long m)
{
    long long i;
    for (i = 1; i <= m; i++)
        if (!same_at(L, events, i, prev, from + i))
            return 0;
    return 1;
}

/* Compare events[j] with prev[at + j] wherever both exist: 1 all equal, 0
 * not, -1 when they do not overlap at all. */
static int aligned(lua_State *L, int events, long long m, int prev, long long n0, long long at)
{
    long long j, compared = 0;
    for (j = 1; j <= m; j++) {
        if (at + j < 1 || at + j > n0)
            continue;
        if (!same_at(L, events, j, prev, at + j))
            return 0;
        compared++;
    }
    return compared ? 1 : -1;
}

/* Do the events at `list` hold two neighbours that differ? Only then can
 * positions be told by content (same-N jobs have none). */
static int varied(lua_State *L, int list)
{
    long long i, n = (long long)me_rawlen(L, list);
    for (i = 1; i < n; i++)
        if (!same_at(L, list, i, list, i + 1))
            return 1;
    return 0;
}

/* ---- the first page: what is owed, the window for the rest ------------ */

/* The newest event time on the page at `events`, epoch ms, or -1. */
static long long newest_event(lua_State *L, int events, long long n)
{
    long long i, newest = -1, t;
    for (i = 1; i <= n; i++) {
        size_t len;
        const char *s;
        lua_rawgeti(L, events, (int)i);
        lua_getfield(L, -1, "time");
        s = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &len) : NULL;
        if (s && me_parse_iso8601(s, len, &t) == 0 && t > newest)
            newest = t;
        lua_pop(L, 2);
    }
    return newest;
}

/* Pin the window the server reported for the first page, ending at the
 * later of the server's now (Date, a whole second: + 999 ms) and the
 * newest event this page shows (a gateway's Date may lag its events): events
 * that arrive later are not this iteration's, and the client's clock does
 * not matter. Without a reported start the pages stay unpinned (growth is
 * then caught by the totals). */
static void pin_window(lua_State *L, me_pager *p, const page_view *v, const me_slot *s)
{
    long long begin, end, base = s->server_now >= 0 ? s->server_now : wall_ms();
    long long newest = newest_event(L, v->events, v->n);
    size_t n;
    const char *start;
    lua_getfield(L, v->page, "start_time");
    start = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &n) : NULL;
    if (start && me_parse_iso8601(start, n, &begin) == 0 && begin >= 0) {
        end = base + 999;
        if (newest >= 0 && newest - newest % 1000 + 999 > end)
            end = newest - newest % 1000 + 999;
        if (begin <= end) {
            double settle = (double)(end + 1 - base) / 1000.0;
            p->pin.on = 1;
            p->pin.start = begin;
            p->pin.end = end;
            p->settled_at = s->answered_at + (settle < SETTLE_CAP ? settle : SETTLE_CAP);
        }
    }
    lua_pop(L, 1);
}

static void first_page(lua_State *L, me_pager *p, const page_view *v, const me_slot *s)
{
    p->started = 1;
    p->first_total = v->total;
    p->owed = v->total < 0 ? -1 : (v->total > p->q.offset ? v->total - p->q.offset : 0);
    if (p->q.max_items >= 0 && (p->owed < 0 || p->q.max_items < p->owed))
        p->owed = p->q.max_items;
    if (!p->q.has_window)
        pin_window(L, p, v, s);
}

/* ---- stalls ------------------------------------------------------------- */

/* An answer (to slot s) brought nothing new. While the pinned window may
 * still be filling on the server's clock (a growing total explains it, and
 * the request went out before the window's end had passed), it is not
 * counted: nothing more is sent until then. Returns 1 when too many came in
 * a row. */
static int stalled(me_pager *p, const me_slot *s)
{
    if (p->shift > 0 && s->sent_at < p->settled_at) {
        if (p->hold_until < p->settled_at)
            p->hold_until = p->settled_at;
        return 0;
    }
    return ++p->stalls > MAX_STALLS;
}

static enum me_delivery push_kept_moving(lua_State *L, const me_pager *p)
{
    return push_inconsistent(L, "the server's pages kept moving (%d answers in a row brought "
                             "nothing new at position %lld, %lld delivered); stopped rather "
                             "than skip or repeat events", p->stalls, p->covered, p->delivered);
}

/* ---- how the server reads offset --------------------------------------- */

/* May a probe tell how the server reads offset? From the start of a job
 * (an offset of the caller's own would already have been misread), with
 * pages of more than one record, more owed than the first page held, and a
 * first page whose events differ (else every reading looks alike). */
static int can_probe(lua_State *L, const me_pager *p, const page_view *v)
{
    return p->offset_mode == OFFSET_UNKNOWN && p->q.offset == 0 && p->q.limit > 1 &&
           p->pages == 1 && p->first_total > v->n && varied(L, v->events);
}

/* Ask offset 1 (+ the growth seen so far, so that a records server's answer
 * overlaps the first page), beside the window: nothing is delivered before
 * it tells, and a page server's answers are dropped then. */
static void start_probe(me_pager *p)
{
    me_pager_init_slot(&p->probe);
    p->probe.offset = 1 + p->shift;
    p->probing = 1;
}

static void end_probe(lua_State *L, me_pager *p)
{
    me_pager_clear_slot(L, &p->probe);
    p->probing = 0;
}

static enum me_delivery push_first_again(lua_State *L, const me_pager *p, long long offset)
{
    return push_inconsistent(L, "the server answered offset %lld with its first page again "
                             "while the total says %lld events exist: it ignores offset or "
                             "counts pages from 1; stopped rather than repeat events",
                             offset, p->first_total);
}

/* The probe's page: a records server answers positions from offset - s
 * (s: its total - T0), lined up with the first page; one that answers the
 * first page again (from -s) ignores offset or counts pages from 1;
 * anything else counts pages from 0, and is followed: the rest is asked
 * again from the end of the first page, by page. */
enum me_delivery me_consistency_probe_decide(lua_State *L, me_pager *p)
{
    int events, prev, records, again;
    long long m, n0, total, s, asked = p->probe.offset;
    lua_rawgeti(L, LUA_REGISTRYINDEX, p->probe.ref);
    if (p->probe.is_error) {
        end_probe(L, p);
        return FAILED;
    }
    lua_getfield(L, -1, "total");
    total = lua_isnumber(L, -1) ? (long long)lua_tonumber(L, -1) : -1;
    lua_pop(L, 1);
    lua_getfield(L, -1, "events");
    events = lua_gettop(L);
    lua_rawgeti(L, LUA_REGISTRYINDEX, p->prev_ref);
    prev = lua_gettop(L);
    m = (long long)me_rawlen(L, events);
    n0 = (long long)me_rawlen(L, prev);
    s = p->desc && total >= 0 && p->first_total >= 0 ? total - p->first_total : 0;
    records = aligned(L, events, m, prev, n0, asked - s);
    again = aligned(L, events, m, prev, n0, -s);
    lua_pop(L, 3);
    if (m == 0) {
        end_probe(L, p);
        return push_ended_early(L, p, asked, total);
    }
    if (again == 1 && records != 1) {
        end_probe(L, p);
        return push_first_again(L, p, asked);
    }
    if (records < 0) {
        /* The list grew past the first page in between: ask again, lined up
         * with the growth seen (after the window has settled). */
        if (s > p->shift)
            p->shift = s;
        if (stalled(p, &p->probe)) {
            end_probe(L, p);
            return push_kept_moving(L, p);
        }
        start_probe(p);
        return NOT_YET;
    }
    if (records == 1) {
        p->offset_mode = OFFSET_RECORDS;
    } else {
        /* pages: follow them, from the end of the first page, by page */
        p->offset_mode = OFFSET_PAGES;
        me_pager_drop_queue(L, p);
        p->plan = p->covered;
        p->step = p->q.limit;
    }
    end_probe(L, p);
    return NOT_YET;
}

long long me_consistency_wire_offset(const me_pager *p, long long position)
{
    return p->offset_mode == OFFSET_PAGES ? position / p->q.limit : position;
}

/* ---- one page ----------------------------------------------------------- */

/* The original position of the page's first event: in descending order a
 * total that changed since the first page moved every event by as much. */
static long long position_of(me_pager *p, const me_slot *s, const page_view *v)
{
    long long moved;
    if (!p->desc || p->first_total < 0 || v->total < 0)
        return s->offset;
    moved = v->total - p->first_total;
    if (moved > p->shift)
        p->shift = moved;
    return s->offset - moved;
}

/* The page begins after what is covered (the list moved between two
 * requests): ask again where the gap starts, as the list stands now. */
static enum me_delivery refetch_gap(lua_State *L, me_pager *p, me_slot *s, long long begin)
{
    if (p->offset_mode == OFFSET_PAGES || stalled(p, s))
        return push_kept_moving(L, p);
    s->offset = p->covered + (s->offset - begin);
    s->state = SLOT_PENDING;
    s->attempts = 0;
    return NOT_YET;
}

/* How many leading events repeat what was delivered: as the totals say,
 * confirmed by content against the previous page (only the part that
 * matches is dropped, so that real repeats survive). */
static long long repeated(lua_State *L, const me_pager *p, const page_view *v, long long begin)
{
    long long skip = p->covered - begin, prev_n, from;
    if (skip > v->n)
        skip = v->n;
    if (skip <= 0 || p->prev_ref == LUA_NOREF)
        return skip < 0 ? 0 : skip;
    lua_rawgeti(L, LUA_REGISTRYINDEX, p->prev_ref);
    prev_n = (long long)me_rawlen(L, -1);
    from = begin - p->prev_start;
    if (from >= 0 && from + skip <= prev_n) {
        while (skip > 0 && !prefix_matches(L, v->events, lua_gettop(L), from, skip))
            skip--, from++;
    }
    lua_pop(L, 1);
    return skip;
}

/* Is a page the totals call new the previous page over again (a server
 * that ignores offset, or clamps it)? Only where the previous page's events
 * differ among themselves: a job of identical events repeats by nature. */
static int equals_previous(lua_State *L, const me_pager *p, const page_view *v)
{
    int prev, same;
    long long i;
    if (p->prev_ref == LUA_NOREF || v->n < 2)
        return 0;
    lua_rawgeti(L, LUA_REGISTRYINDEX, p->prev_ref);
    prev = lua_gettop(L);
    same = (long long)me_rawlen(L, prev) == v->n;
    for (i = 1; i <= v->n && same; i++)
        same = same_at(L, v->events, i, prev, i);
    same = same && varied(L, prev);
    lua_pop(L, 1);
    return same;
}

/* Keep events[skip+1 .. skip+keep] as the page's events (replaced in place
 * when that is not all of them). */
static void trim(lua_State *L, page_view *v, long long skip, long long keep)
{
    long long i;
    if (skip == 0 && keep == v->n)
        return;
    lua_createtable(L, (int)keep, 0);
    for (i = 1; i <= keep; i++) {
        lua_rawgeti(L, v->events, (int)(skip + i));
        lua_rawseti(L, -2, (int)i);
    }
    lua_pushvalue(L, -1);
    lua_setfield(L, v->page, "events");
    lua_replace(L, v->events);
}

/* Remember the page as delivered. */
static void advance(lua_State *L, me_pager *p, const page_view *v, long long begin,
                    long long skip, long long keep)
{
    if (begin + v->n > p->covered)
        p->covered = begin + v->n;
    p->delivered += keep;
    p->pages++;
    luaL_unref(L, LUA_REGISTRYINDEX, p->prev_ref);
    lua_pushvalue(L, v->events);
    p->prev_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    p->prev_start = begin + skip;
}

/* Is this the last page? A short page also tells a capped page size: the
 * pages then advance by what the server returns (what was queued on the old
 * step is asked again). */
static int ends_here(lua_State *L, me_pager *p, me_slot *s, const page_view *v)
{
    int full = v->n >= p->q.limit;
    if (p->owed >= 0 && p->delivered >= p->owed)
        return 1;
    if (v->n == 0)
        return 1; /* no total: an empty page is the end */
    if (p->first_total < 0 && !full && p->full_page_seen)
        return 1; /* no total: a short page after a full one is the end */
    p->full_page_seen |= full;
    if (!full && p->offset_mode != OFFSET_PAGES && v->n != p->step) {
        p->plan = s->offset + v->n;
        p->step = v->n;
        me_pager_drop_queue(L, p);
    }
    return 0;
}

enum me_delivery me_consistency_deliver(lua_State *L, me_pager *p, me_slot *s)
{
    page_view v;
    long long begin, skip, keep;
    int last;
    v.page = lua_gettop(L);
    lua_getfield(L, v.page, "total");
    v.total = lua_isnumber(L, -1) ? (long long)lua_tonumber(L, -1) : -1;
    lua_pop(L, 1);
    lua_getfield(L, v.page, "events");
    v.events = lua_gettop(L);
    v.n = (long long)me_rawlen(L, v.events);
    if (!p->started)
        first_page(L, p, &v, s);

    begin = position_of(p, s, &v);
    if (begin > p->covered) {
        enum me_delivery d = refetch_gap(L, p, s, begin);
        if (d == FAILED)
            lua_replace(L, v.page);
        lua_settop(L, d == FAILED ? v.page : v.page - 1);
        return d;
    }
    if (v.n == 0 && p->first_total >= 0 && (p->owed < 0 || p->delivered < p->owed)) {
        lua_settop(L, v.page - 1);
        return push_ended_early(L, p, s->offset, v.total);
    }
    skip = repeated(L, p, &v, begin);
    if (skip == 0 && equals_previous(L, p, &v)) {
        lua_settop(L, v.page - 1);
        return push_inconsistent(L, "the server answered offset %lld with the same events as "
                                 "the page before while the total says %lld events exist: it "
                                 "does not page by offset; stopped rather than repeat events",
                                 s->offset, v.total);
    }
    keep = v.n - skip;
    if (p->owed >= 0 && keep > p->owed - p->delivered)
        keep = p->owed - p->delivered;
    if (keep < 0)
        keep = 0;
    trim(L, &v, skip, keep);
    advance(L, p, &v, begin, skip, keep);

    last = ends_here(L, p, s, &v);
    if (keep > 0) {
        p->stalls = 0;
    } else if (!last && stalled(p, s)) {
        lua_settop(L, v.page - 1);
        return push_kept_moving(L, p);
    }
    if (last)
        p->run = LAST_PAGE;
    else if (p->pages == 1 && can_probe(L, p, &v))
        start_probe(p);
    lua_settop(L, v.page);
    return DELIVERED;
}
