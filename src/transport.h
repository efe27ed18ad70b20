/* transport.h - HTTP over one libcurl multi handle per client: a fresh easy
 * handle per transfer (copied from one configured template, so that no
 * state of libcurl's carries over from one request to the next) on
 * connections the multi handle keeps alive and reuses, receive buffers
 * reused across transfers, and no Lua anywhere inside libcurl's callbacks
 * (they only fill C buffers). */
#ifndef ME_TRANSPORT_H
#define ME_TRANSPORT_H

#include <stddef.h>
#include "buf.h"
#include "request.h"

typedef struct me_transport me_transport;

/* Transfers at once, at most (a client's concurrency is at most 32). */
#define ME_TRANSPORT_MAX_HANDLES 32

enum me_proxy_mode {
    ME_PROXY_ENV,    /* libcurl reads http_proxy, https_proxy, no_proxy... */
    ME_PROXY_URL,    /* `proxy` names the one proxy */
    ME_PROXY_NONE    /* no proxy at all, whatever the environment says */
};

typedef struct me_transport_options {
    long timeout_ms, connect_timeout_ms;
    size_t max_body;
    char *ca_file, *proxy;       /* owned by whoever filled them in */
    enum me_proxy_mode proxy_mode;
    int insecure;
} me_transport_options;

/* What one finished transfer left behind. */
typedef struct me_result {
    void *owner;
    long seq;
    long status;                 /* 0 when no response came */
    const char *fail_kind;       /* NULL, or network/timeout/tls/too_large */
    const char *fail_message;
    const char *body;
    size_t body_len;
    const char *request_id;      /* NULL when absent */
    const char *retry_after;     /* NULL when absent */
    const char *date;            /* the Date header, NULL when absent */
    const char *subject_token;   /* X-Subject-Token (an IAM login), NULL when absent */
} me_result;

typedef void (*me_on_result)(void *ctx, const me_result *r);

/* handles: 1 to ME_TRANSPORT_MAX_HANDLES; NULL when out of memory. */
me_transport *me_transport_new(const me_transport_options *o, int handles);
void me_transport_free(me_transport *t);

/* Start a transfer; returns 0, or -1 (no free handle or out of memory). */
int me_transport_start(me_transport *t, const me_request *req, void *owner, long seq);
/* Drive transfers for at most `wait` seconds (0: only what is ready now);
 * then calls done() for each finished transfer, its handle released (if
 * libcurl's multi handle itself fails, every transfer finishes as a
 * network failure). The result points into the transfer's buffers, valid
 * until the next me_transport_start or me_transport_run: done() copies
 * what it keeps. Nothing here touches t after a done() call. Returns the
 * number of transfers still running. */
int me_transport_run(me_transport *t, double wait, me_on_result done, void *ctx);
/* Wait at most `wait` seconds for activity on the transfers, without
 * processing any (me_transport_run does): for a driver that checks
 * something (a Ctrl-C) between short waits. */
void me_transport_wait(me_transport *t, double wait);
/* Drop the transfers of one owner (NULL: all), calling dropped() for each. */
void me_transport_cancel(me_transport *t, void *owner,
                         void (*dropped)(void *owner, long seq));
int me_transport_free_handles(const me_transport *t);
/* Transfers running, for any owner (a pager's abandoned ones included). */
int me_transport_busy(const me_transport *t);

#endif
