/* transport.c - see transport.h. */
#include "transport.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

typedef struct me_transfer {
    CURL *easy;
    struct curl_slist *headers;
    me_buf body;
    me_buf request_id, retry_after;
    size_t max_body;
    int too_large;
    int busy;
    void *owner;
    long seq;
    char errbuf[CURL_ERROR_SIZE];
} me_transfer;

struct me_transport {
    CURLM *multi;
    me_transfer *transfers;
    int n;
    me_transport_options options;
    char *ca_file, *proxy;
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
    return x->body.failed ? 0 : n;
}

static void header_value(me_buf *out, const char *v, size_t n)
{
    while (n && (*v == ' ' || *v == '\t'))
        v++, n--;
    while (n && (v[n - 1] == '\r' || v[n - 1] == '\n' || v[n - 1] == ' '))
        n--;
    me_buf_reset(out);
    me_buf_add(out, v, n > 200 ? 200 : n);
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *ud)
{
    me_transfer *x = (me_transfer *)ud;
    size_t n = size * nmemb;
    if (n >= 5 && memcmp(data, "HTTP/", 5) == 0) {
        /* A new response (after a 100 Continue, say): forget the old one. */
        me_buf_reset(&x->request_id);
        me_buf_reset(&x->retry_after);
    } else if (n > 13 && strncasecmp(data, "X-Request-Id:", 13) == 0) {
        header_value(&x->request_id, data + 13, n - 13);
    } else if (n > 12 && strncasecmp(data, "Retry-After:", 12) == 0) {
        header_value(&x->retry_after, data + 12, n - 12);
    }
    return n;
}

static int setup_easy(me_transport *t, me_transfer *x)
{
    const me_transport_options *o = &t->options;
    CURL *e = curl_easy_init();
    if (!e)
        return -1;
    x->easy = e;
    curl_easy_setopt(e, CURLOPT_PRIVATE, (void *)x);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, (void *)x);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, (void *)x);
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
#endif
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
    curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
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
    curl_easy_setopt(e, CURLOPT_PROXY, t->proxy ? t->proxy : "");
    return 0;
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
    t->options = *o;
    t->ca_file = dup_or_null(o->ca_file);
    t->proxy = dup_or_null(o->proxy);
    t->multi = curl_multi_init();
    t->transfers = calloc((size_t)handles, sizeof *t->transfers);
    t->n = handles;
    if (!t->multi || !t->transfers || (o->ca_file && !t->ca_file) || (o->proxy && !t->proxy)) {
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
        x->max_body = o->max_body;
        if (setup_easy(t, x) != 0) {
            me_transport_free(t);
            return NULL;
        }
    }
    return t;
}

static void release(me_transport *t, me_transfer *x)
{
    if (x->busy)
        curl_multi_remove_handle(t->multi, x->easy);
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
        if (x->easy) {
            release(t, x);
            curl_easy_cleanup(x->easy);
        }
        me_buf_free(&x->body);
        me_buf_free(&x->request_id);
        me_buf_free(&x->retry_after);
    }
    if (t->multi)
        curl_multi_cleanup(t->multi);
    free(t->transfers);
    free(t->ca_file);
    free(t->proxy);
    free(t);
}

int me_transport_free_handles(const me_transport *t)
{
    int i, n = 0;
    for (i = 0; i < t->n; i++)
        n += !t->transfers[i].busy;
    return n;
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
    for (i = 0, h = req->headers.data; i < req->n_headers; i++, h += strlen(h) + 1) {
        struct curl_slist *next = curl_slist_append(x->headers, h);
        if (!next) {
            curl_slist_free_all(x->headers);
            x->headers = NULL;
            return -1;
        }
        x->headers = next;
    }
    me_buf_reset(&x->body);
    me_buf_reset(&x->request_id);
    me_buf_reset(&x->retry_after);
    x->too_large = 0;
    x->errbuf[0] = '\0';
    curl_easy_setopt(x->easy, CURLOPT_URL, req->url.data);
    curl_easy_setopt(x->easy, CURLOPT_HTTPHEADER, x->headers);
    if (curl_multi_add_handle(t->multi, x->easy) != CURLM_OK) {
        curl_slist_free_all(x->headers);
        x->headers = NULL;
        return -1;
    }
    x->busy = 1;
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
        return too_large ? "too_large" : "network";
    case CURLE_OUT_OF_MEMORY:
        return too_large ? "too_large" : "network";
    default:
        return "network";
    }
}

static void finish_transfer(me_transport *t, CURL *easy, CURLcode rc, me_on_result done,
                            void *ctx)
{
    me_transfer *x = NULL;
    me_result r;
    char message[CURL_ERROR_SIZE + 128];
    curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&x);
    memset(&r, 0, sizeof r);
    r.owner = x->owner;
    r.seq = x->seq;
    if (rc == CURLE_OK) {
        curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &r.status);
        r.body = me_buf_str(&x->body) ? x->body.data : NULL;
        r.body_len = x->body.len;
        if (!r.body) {
            r.fail_kind = "network";
            r.fail_message = "out of memory while receiving the response";
            r.body = "";
            r.body_len = 0;
        }
        if (!r.body_len)
            r.body = "";
        r.request_id = x->request_id.len ? x->request_id.data : NULL;
        r.retry_after = x->retry_after.len ? x->retry_after.data : NULL;
    } else {
        r.fail_kind = fail_kind(rc, x->too_large);
        if (strcmp(r.fail_kind, "too_large") == 0)
            snprintf(message, sizeof message,
                     "the response is larger than max_body (%lu bytes); transfer aborted",
                     (unsigned long)x->max_body);
        else
            snprintf(message, sizeof message, "%s%s%s", curl_easy_strerror(rc),
                     x->errbuf[0] ? ": " : "", x->errbuf);
        r.fail_message = message;
    }
    /* The handle is free before the result is looked at, so that an error
     * raised while decoding cannot leave it busy. done() must not start a
     * transfer: r.body still lives in this handle's buffer. */
    release(t, x);
    done(ctx, &r);
}

int me_transport_run(me_transport *t, double wait, me_on_result done, void *ctx)
{
    int running = 0, queued;
    CURLMsg *msg;
    curl_multi_perform(t->multi, &running);
    if (wait > 0 && running) {
        int numfds;
        curl_multi_poll(t->multi, NULL, 0, (int)(wait * 1000 + 0.5), &numfds);
        curl_multi_perform(t->multi, &running);
    }
    while ((msg = curl_multi_info_read(t->multi, &queued)) != NULL) {
        if (msg->msg == CURLMSG_DONE)
            finish_transfer(t, msg->easy_handle, msg->data.result, done, ctx);
    }
    return running;
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
