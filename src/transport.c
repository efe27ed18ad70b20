/* transport.c - see transport.h.
 *
 * Speed, measured by `make bench`: one TLS session cache shared by every
 * handle (libcurl's share interface), so that connections after the first
 * resume instead of a full handshake; until a first HTTPS answer has come,
 * one HTTPS transfer at a time, so that the others find its session (and,
 * over HTTP/2, its connection to multiplex on); no CURLOPT_PIPEWAIT, which
 * over plain HTTP/1.1 holds every transfer but the first until the first
 * answers; and no wait in curl_multi_poll when the curl_multi_perform
 * before it finished transfers (their replacements go out at once). */
#include "transport.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "util.h"

/* A receive buffer larger than this is given back after its transfer. */
#define KEEP_BUFFER (256 * 1024)
/* The longest header value kept (IAM tokens, echoed secrets: several KB);
 * a longer one is dropped, never cut. */
#define HEADER_VALUE_MAX (64 * 1024)

typedef struct me_transfer {
    CURL *easy;                  /* made per transfer from the template */
    struct curl_slist *headers;
    me_buf body;
    me_buf request_id, retry_after, date;
    me_buf subject_token;
    size_t max_body;
    int too_large;
    int busy;
    int https;
    void *owner;
    long seq;
    char errbuf[CURL_ERROR_SIZE];
    char message[CURL_ERROR_SIZE + 128];   /* a failure, as reported */
} me_transfer;

struct me_transport {
    CURLM *multi;
    CURLSH *share;               /* TLS sessions and DNS, for every handle */
    CURL *template;              /* every option but the per-transfer ones */
    int tls_warm;                /* an HTTPS answer came: a session is cached */
    me_transfer *transfers;
    int n;
    char *ca_file, *proxy;
    char why[160];               /* the multi handle's own failure */
};

static size_t on_body(char *data, size_t size, size_t nmemb, void *ud)
{
    me_transfer *x = (me_transfer *)ud;
    size_t n = size * nmemb;
    /* Abort as soon as the limit is passed: never buffer a huge body first. */
    if (x->body.len + n > x->max_body) {
        x->too_large = 1;
        return 0;
    }
    me_buf_add(&x->body, data, n);
    return me_buf_failed(&x->body) ? 0 : n;
}

/* The value of a header line, trimmed and kept whole, or (longer than
 * `max`) not at all: a cut value could hold the start of a secret the
 * server echoed, which redaction (of whole secrets) would then miss. */
static void header_value(me_buf *out, const char *v, size_t n, size_t max)
{
    me_trim(&v, &n);
    me_buf_reset(out);
    if (n <= max)
        me_buf_add(out, v, n);
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *ud)
{
    me_transfer *x = (me_transfer *)ud;
    size_t n = size * nmemb;
    if (n >= 5 && memcmp(data, "HTTP/", 5) == 0) {
        /* A new response (after a 100 Continue, say): forget the old one. */
        me_buf_reset(&x->request_id);
        me_buf_reset(&x->retry_after);
        me_buf_reset(&x->date);
        me_buf_reset(&x->subject_token);
    } else if (n > 16 && strncasecmp(data, "X-Subject-Token:", 16) == 0) {
        header_value(&x->subject_token, data + 16, n - 16, HEADER_VALUE_MAX);
    } else if (n > 13 && strncasecmp(data, "X-Request-Id:", 13) == 0) {
        header_value(&x->request_id, data + 13, n - 13, HEADER_VALUE_MAX);
    } else if (n > 12 && strncasecmp(data, "Retry-After:", 12) == 0) {
        header_value(&x->retry_after, data + 12, n - 12, HEADER_VALUE_MAX);
    } else if (n > 5 && strncasecmp(data, "Date:", 5) == 0) {
        header_value(&x->date, data + 5, n - 5, HEADER_VALUE_MAX);
    }
    return n;
}

static CURL *make_template(const me_transport_options *o, const me_transport *t)
{
    CURL *e = curl_easy_init();
    if (!e)
        return NULL;
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    /* The path sent is the path signed: no dot-segment removal. */
    curl_easy_setopt(e, CURLOPT_PATH_AS_IS, 1L);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
#endif
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, o->timeout_ms);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, o->connect_timeout_ms);
    if (o->max_body < (size_t)0x7fffffff)
        curl_easy_setopt(e, CURLOPT_MAXFILESIZE, (long)o->max_body);
    if (t->ca_file)
        curl_easy_setopt(e, CURLOPT_CAINFO, t->ca_file);
    if (o->insecure) {
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    /* Left unset, libcurl reads http_proxy, https_proxy, no_proxy (and the
     * upper-case forms it accepts) itself; "" turns every proxy off. */
    if (o->proxy_mode == ME_PROXY_URL)
        curl_easy_setopt(e, CURLOPT_PROXY, t->proxy);
    else if (o->proxy_mode == ME_PROXY_NONE)
        curl_easy_setopt(e, CURLOPT_PROXY, "");
    return e;
}

static char *dup_or_null(const char *s)
{
    char *d;
    if (!s)
        return NULL;
    d = malloc(strlen(s) + 1);
    if (d)
        strcpy(d, s);
    return d;
}

me_transport *me_transport_new(const me_transport_options *o, int handles)
{
    me_transport *t = calloc(1, sizeof *t);
    int i;
    if (!t)
        return NULL;
    t->ca_file = dup_or_null(o->ca_file);
    t->proxy = dup_or_null(o->proxy);
    t->multi = curl_multi_init();
    t->share = curl_share_init();
    if (handles < 1 || handles > ME_TRANSPORT_MAX_HANDLES) {
        free(t);
        return NULL;
    }
    t->transfers = calloc((size_t)handles, sizeof *t->transfers);
    t->n = handles;
    if (!t->multi || !t->share || !t->transfers || (o->ca_file && !t->ca_file) ||
        (o->proxy && !t->proxy)) {
        me_transport_free(t);
        return NULL;
    }
    /* One thread drives every handle: the share needs no lock functions. */
    curl_share_setopt(t->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
    curl_share_setopt(t->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    t->template = make_template(o, t);
    if (!t->template) {
        me_transport_free(t);
        return NULL;
    }
    curl_multi_setopt(t->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
    curl_multi_setopt(t->multi, CURLMOPT_MAXCONNECTS, (long)(handles + 1));
    for (i = 0; i < handles; i++) {
        me_transfer *x = &t->transfers[i];
        me_buf_init(&x->body);
        me_buf_init(&x->request_id);
        me_buf_init(&x->retry_after);
        me_buf_init(&x->date);
        me_buf_init(&x->subject_token);
        x->max_body = o->max_body;
    }
    return t;
}

static void release(me_transport *t, me_transfer *x)
{
    if (x->easy) {
        if (x->busy)
            curl_multi_remove_handle(t->multi, x->easy);
        curl_easy_cleanup(x->easy);
        x->easy = NULL;
    }
    curl_slist_free_all(x->headers);
    x->headers = NULL;
    x->busy = 0;
    x->owner = NULL;
}

void me_transport_free(me_transport *t)
{
    int i;
    if (!t)
        return;
    for (i = 0; t->transfers && i < t->n; i++) {
        me_transfer *x = &t->transfers[i];
        release(t, x);
        me_buf_free(&x->body);
        me_buf_free(&x->request_id);
        me_buf_free(&x->retry_after);
        me_buf_free(&x->date);
        me_buf_free(&x->subject_token);
    }
    if (t->template)
        curl_easy_cleanup(t->template);
    if (t->multi)
        curl_multi_cleanup(t->multi);
    if (t->share)
        curl_share_cleanup(t->share);
    free(t->transfers);
    free(t->ca_file);
    free(t->proxy);
    free(t);
}

static int count_busy(const me_transport *t, int *https)
{
    int i, n = 0;
    *https = 0;
    for (i = 0; i < t->n; i++) {
        n += t->transfers[i].busy;
        *https += t->transfers[i].busy && t->transfers[i].https;
    }
    return n;
}

int me_transport_free_handles(const me_transport *t)
{
    int https, busy = count_busy(t, &https);
    /* Until a first HTTPS answer has come, one HTTPS transfer at a time:
     * the connections opened after it resume its TLS session (one full
     * handshake per client) and, over HTTP/2, multiplex on it. */
    if (!t->tls_warm && https > 0)
        return 0;
    return t->n - busy;
}

int me_transport_busy(const me_transport *t)
{
    int https;
    return count_busy(t, &https);
}

int me_transport_start(me_transport *t, const me_request *req, void *owner, long seq)
{
    me_transfer *x = NULL;
    const char *h;
    int i;
    for (i = 0; i < t->n && !x; i++)
        if (!t->transfers[i].busy)
            x = &t->transfers[i];
    if (!x)
        return -1;
    /* A fresh handle: libcurl's own per-handle state (its count of
     * connections that died under a request, among others) starts anew. */
    x->easy = curl_easy_duphandle(t->template);
    if (!x->easy)
        return -1;
    for (i = 0, h = req->headers.data; i < req->n_headers; i++, h += strlen(h) + 1) {
        struct curl_slist *next = curl_slist_append(x->headers, h);
        if (!next) {
            release(t, x);
            return -1;
        }
        x->headers = next;
    }
    me_buf_shrink(&x->body, KEEP_BUFFER);
    me_buf_reset(&x->request_id);
    me_buf_reset(&x->retry_after);
    me_buf_reset(&x->date);
    me_buf_reset(&x->subject_token);
    x->too_large = 0;
    x->errbuf[0] = '\0';
    /* curl_easy_duphandle() leaves the share out: set it on each copy. */
    curl_easy_setopt(x->easy, CURLOPT_SHARE, t->share);
    curl_easy_setopt(x->easy, CURLOPT_PRIVATE, (void *)x);
    curl_easy_setopt(x->easy, CURLOPT_ERRORBUFFER, x->errbuf);
    curl_easy_setopt(x->easy, CURLOPT_WRITEDATA, (void *)x);
    curl_easy_setopt(x->easy, CURLOPT_HEADERDATA, (void *)x);
    curl_easy_setopt(x->easy, CURLOPT_URL, req->url.data);
    curl_easy_setopt(x->easy, CURLOPT_HTTPHEADER, x->headers);
    if (strcmp(req->method, "POST") == 0) {
        /* libcurl copies the body: the request may be freed (and wiped) */
        curl_easy_setopt(x->easy, CURLOPT_POSTFIELDSIZE, (long)req->body.len);
        curl_easy_setopt(x->easy, CURLOPT_COPYPOSTFIELDS, req->body.data);
    }
    if (curl_multi_add_handle(t->multi, x->easy) != CURLM_OK) {
        release(t, x);
        return -1;
    }
    x->busy = 1;
    x->https = strncmp(req->url.data, "https:", 6) == 0;
    x->owner = owner;
    x->seq = seq;
    return 0;
}

static const char *fail_kind(CURLcode rc, int too_large)
{
    switch (rc) {
    case CURLE_OPERATION_TIMEDOUT:
        return "timeout";
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_USE_SSL_FAILED:
        return "tls";
    case CURLE_FILESIZE_EXCEEDED:
        return "too_large";
    case CURLE_WRITE_ERROR:
    case CURLE_OUT_OF_MEMORY:
        return too_large ? "too_large" : "network";
    default:
        return "network";
    }
}

static const char *nonempty(const me_buf *b)
{
    return b->len ? b->data : NULL;
}

/* Fill r from the finished transfer x and give its handle back. The
 * handle is free before the result is looked at, so that an error raised
 * while decoding cannot leave it busy; r points into x's buffers, which
 * stay as they are until x is started again (a client drives one call at a
 * time: nothing starts a transfer while results are being reported). */
static void settle_transfer(me_transport *t, me_transfer *x, CURLcode rc, const char *why,
                            me_result *r)
{
    memset(r, 0, sizeof *r);
    r->owner = x->owner;
    r->seq = x->seq;
    if (why) {
        r->fail_kind = "network";
        r->fail_message = why;
    } else if (rc == CURLE_OK && me_buf_failed(&x->body)) {
        r->fail_kind = "network";
        r->fail_message = "out of memory while receiving the response";
    } else if (rc == CURLE_OK) {
        curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &r->status);
        r->body = x->body.data;
        r->body_len = x->body.len;
        r->request_id = nonempty(&x->request_id);
        r->retry_after = nonempty(&x->retry_after);
        r->date = nonempty(&x->date);
        r->subject_token = nonempty(&x->subject_token);
        if (x->https)
            t->tls_warm = 1;
    } else {
        r->fail_kind = fail_kind(rc, x->too_large);
        if (strcmp(r->fail_kind, "too_large") == 0)
            snprintf(x->message, sizeof x->message,
                     "the response is larger than max_body (%lu bytes); transfer aborted",
                     (unsigned long)x->max_body);
        else
            snprintf(x->message, sizeof x->message, "%s%s%s", curl_easy_strerror(rc),
                     x->errbuf[0] ? ": " : "", x->errbuf);
        r->fail_message = x->message;
    }
    release(t, x);
}

/* The multi handle failed as a whole: every transfer ends as a failure
 * rather than spinning on a handle that makes no progress. */
static int fail_all(me_transport *t, CURLMcode rc, me_result *out)
{
    int i, n = 0;
    snprintf(t->why, sizeof t->why, "libcurl failed: %s", curl_multi_strerror(rc));
    for (i = 0; i < t->n; i++)
        if (t->transfers[i].busy)
            settle_transfer(t, &t->transfers[i], CURLE_OK, t->why, &out[n++]);
    return n;
}

/* Settle every transfer the last perform finished into out; returns how
 * many. */
static int collect_finished(me_transport *t, me_result *out)
{
    CURLMsg *msg;
    int queued, n = 0;
    while (n < t->n && (msg = curl_multi_info_read(t->multi, &queued)) != NULL) {
        if (msg->msg == CURLMSG_DONE) {
            me_transfer *x = NULL;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&x);
            settle_transfer(t, x, msg->data.result, NULL, &out[n++]);
        }
    }
    return n;
}

/* Receive buffers of idle transfers that once held a large page are given
 * back (not at once after the page: the result pointed into them). */
static void shrink_idle(me_transport *t)
{
    int i;
    for (i = 0; i < t->n; i++) {
        if (!t->transfers[i].busy) {
            me_buf_shrink(&t->transfers[i].body, KEEP_BUFFER);
            me_buf_shrink(&t->transfers[i].subject_token, 0);
        }
    }
}

int me_transport_run(me_transport *t, double wait, me_on_result done, void *ctx)
{
    me_result finished[ME_TRANSPORT_MAX_HANDLES];
    int running = 0, n = 0, i;
    CURLMcode rc;
    shrink_idle(t);
    rc = curl_multi_perform(t->multi, &running);
    if (rc == CURLM_OK)
        n = collect_finished(t, finished);
    /* Transfers that just finished are reported at once, without a wait in
     * poll first: that would hold their replacements back for up to a
     * round trip. */
    if (rc == CURLM_OK && n == 0 && wait > 0 && running) {
        int numfds, ms = wait > 3600 ? 3600000 : (int)(wait * 1000 + 0.5);
        rc = curl_multi_poll(t->multi, NULL, 0, ms, &numfds);
        if (rc == CURLM_OK)
            rc = curl_multi_perform(t->multi, &running);
        if (rc == CURLM_OK)
            n = collect_finished(t, finished);
    }
    if (rc != CURLM_OK) {
        n += fail_all(t, rc, finished + n);
        running = 0;
    }
    /* Reported last: done() may run Lua code (a decoder, finalizers), and
     * nothing here touches t or a transfer after it. */
    for (i = 0; i < n; i++)
        done(ctx, &finished[i]);
    return running;
}

void me_transport_wait(me_transport *t, double wait)
{
    int numfds, ms = wait > 3600 ? 3600000 : (int)(wait * 1000 + 0.5);
    if (ms > 0)
        curl_multi_poll(t->multi, NULL, 0, ms, &numfds);
}

void me_transport_cancel(me_transport *t, void *owner, void (*dropped)(void *owner, long seq))
{
    int i;
    for (i = 0; i < t->n; i++) {
        me_transfer *x = &t->transfers[i];
        if (x->busy && (!owner || x->owner == owner)) {
            void *who = x->owner;
            long seq = x->seq;
            release(t, x);
            if (dropped)
                dropped(who, seq);
        }
    }
}
