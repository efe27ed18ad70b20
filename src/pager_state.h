/* pager_state.h - the paging core's state, shared by its three files and
 * nothing else: pager.c (what to send, what comes back, retries),
 * consistency.c (what a page means for the iteration: positions, repeats,
 * gaps, the offset probe, stalls) and pager_lua.c (the methods Lua drivers
 * call). */
#ifndef ME_PAGER_STATE_H
#define ME_PAGER_STATE_H

#include <stdint.h>

#include "pager.h"

enum me_slot_state { SLOT_PENDING, SLOT_INFLIGHT, SLOT_WAITING, SLOT_READY };

/* How the server reads `offset`: records (the reference page), or pages
 * (the newest SDK docs); REFERENCE.md "Paging: what is not settled". */
enum me_offset_mode { OFFSET_UNKNOWN, OFFSET_RECORDS, OFFSET_PAGES };

/* Where a pager stands. */
enum me_run {
    RUNNING,
    LAST_PAGE,      /* the page being taken is the last: finish after it */
    FINISHED
};

/* What delivering an answer came to. */
enum me_delivery {
    DELIVERED,      /* the page stays pushed */
    NOT_YET,        /* nothing pushed: asked again, or a probe decides first */
    FAILED          /* the error object is pushed */
};

/* One request and, once READY, its answer. */
typedef struct me_slot {
    int state;
    int attempts;
    double retry_at;         /* WAITING until then (monotonic s) */
    long ticket;             /* the seq of its current send, 0 for none */
    long long offset;        /* record position it asks for (the probe: its wire offset) */
    long long server_now;    /* from the answer's Date header, ms; -1 unknown */
    int ref;                 /* the page or error once READY */
    int is_error;
    double first_sent;       /* when its first attempt was sent (monotonic s) */
    double sent_at;          /* when its current attempt was sent */
    double answered_at;      /* when its answer came */
} me_slot;

/* The window the first page pinned (the caller's own window is in q). */
typedef struct me_pin {
    int on;
    long long start, end;    /* epoch ms */
} me_pin;

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
    me_query q;                  /* as the caller gave it (limit: as asked) */
    me_pin pin;
    int retries, desc;
    enum me_run run;
    long next_ticket;

    long width, head, count;     /* ring of `width` slots: head .. head+count-1 */
    long concurrency;            /* requests in flight at most (width: 2x) */
    long long plan;              /* record position of the next new slot */
    long long step;              /* how far a page advances: limit, or the server's cap */

    /* consistency.c's: what has been delivered and what the server said */
    int started;                 /* the first page was delivered */
    long long first_total;       /* T0; -1 when the server sends no total */
    long long owed;              /* events to deliver; -1: until the pages end */
    long long delivered, pages;
    long long covered;           /* positions delivered, from offset 0 */
    long long shift;             /* the largest total_k - T0 seen (desc) */
    int prev_ref;                /* events of the previous delivered page */
    long long prev_start;        /* position of its first event */
    int full_page_seen;          /* a page as long as the limit asked came */
    int stalls;                  /* answers in a row that brought nothing new */
    double settled_at;           /* when the pinned window's end has passed on the
                                  * server's clock (monotonic s); 0: never pinned */
    double hold_until;           /* nothing is sent before then (monotonic s) */
    int failure_ref;             /* an error to raise after the page taken now */
    enum me_offset_mode offset_mode;
    me_slot probe;               /* offset 1: how does the server read offset? */
    int probing;

    uint64_t rng;
    me_pager_release_fn release;
    void *release_ctx;
    int closed;                  /* close() ran: nothing is referenced any more */
    /* Inside the userdata, so that a close (from a finalizer or a hook
     * while a response is decoded) never frees them under a feed. */
    me_slot slots[];
};

/* pager.c */
double me_pager_clock(void);
me_slot *me_pager_queued(me_pager *p, long i);
void me_pager_clear_slot(lua_State *L, me_slot *s);
void me_pager_init_slot(me_slot *s);
void me_pager_drop_queue(lua_State *L, me_pager *p);

/* consistency.c */
/* Deliver the page at the top of the stack, the answer of the head slot s
 * of an iteration. */
enum me_delivery me_consistency_deliver(lua_State *L, me_pager *p, me_slot *s);
/* The probe has answered: decide how the server reads offset. */
enum me_delivery me_consistency_probe_decide(lua_State *L, me_pager *p);
/* The offset on the wire for a record position. */
long long me_consistency_wire_offset(const me_pager *p, long long position);

#endif
