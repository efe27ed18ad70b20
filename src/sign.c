/***
 * SDK-HMAC-SHA256, the request signature of Huawei Cloud's API gateway, with
 * OpenSSL's libcrypto for SHA-256 and HMAC (no hand-written hash).
 * @submodule modelarts_events
 */
#include "sign.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "compat.h"
#include "util.h"
#include "error.h"

#define ALGORITHM "SDK-HMAC-SHA256"

void me_signature_init(me_signature *s)
{
    me_buf_init(&s->authorization);
    me_buf_init(&s->canonical_request);
    me_buf_init(&s->string_to_sign);
}

void me_signature_free(me_signature *s)
{
    me_buf_free(&s->authorization);
    me_buf_free(&s->canonical_request);
    me_buf_free(&s->string_to_sign);
}

/* ---- canonical query -------------------------------------------------- */

typedef struct pair {
    char *key, *value;   /* both encoded, in one allocation */
} pair;

static int compare_pairs(const void *a, const void *b)
{
    const pair *x = (const pair *)a, *y = (const pair *)b;
    int c = strcmp(x->key, y->key);
    return c ? c : strcmp(x->value, y->value);
}

/* Decode then encode, so that "%7E", "~" and "%7e" all sign the same. */
static void add_reencoded(me_buf *out, const char *s, size_t n)
{
    me_buf raw;
    me_buf_init(&raw);
    me_buf_add_unpct(&raw, s, n);
    if (me_buf_str(&raw))
        me_buf_add_pct(out, raw.data, raw.len);
    else
        out->failed = 1;
    me_buf_free(&raw);
}

void me_canonical_query(me_buf *out, const char *query, size_t len)
{
    pair *pairs;
    size_t n = 1, count = 0, i;
    const char *p = query, *end = query + len;
    for (i = 0; i < len; i++)
        n += query[i] == '&';
    pairs = calloc(n, sizeof *pairs);
    if (!pairs) {
        out->failed = 1;
        return;
    }
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *stop = amp ? amp : end, *eq;
        me_buf k, v;
        if (stop > p) {
            eq = memchr(p, '=', (size_t)(stop - p));
            me_buf_init(&k);
            me_buf_init(&v);
            add_reencoded(&k, p, (size_t)((eq ? eq : stop) - p));
            if (eq)
                add_reencoded(&v, eq + 1, (size_t)(stop - eq - 1));
            if (me_buf_str(&k) && me_buf_str(&v)) {
                pairs[count].key = strdup(me_buf_str(&k));
                pairs[count].value = strdup(me_buf_str(&v));
                if (!pairs[count].key || !pairs[count].value)
                    out->failed = 1;
                count++;
            } else {
                out->failed = 1;
            }
            me_buf_free(&k);
            me_buf_free(&v);
        }
        p = stop + 1;
    }
    if (!out->failed) {
        qsort(pairs, count, sizeof *pairs, compare_pairs);
        for (i = 0; i < count; i++) {
            if (i)
                me_buf_addc(out, '&');
            me_buf_adds(out, pairs[i].key);
            me_buf_addc(out, '=');
            me_buf_adds(out, pairs[i].value);
        }
    }
    for (i = 0; i < count; i++) {
        free(pairs[i].key);
        free(pairs[i].value);
    }
    free(pairs);
}

/* ---- signing ------------------------------------------------------------ */

static int sha256_hex(me_buf *out, const char *data, size_t n)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    if (!EVP_Digest(data, n, md, &md_len, EVP_sha256(), NULL))
        return -1;
    me_buf_add_hex(out, md, md_len);
    return 0;
}

/* Each path segment decoded then encoded; a '/' appended if missing. */
static void canonical_uri(me_buf *out, const char *path, size_t n)
{
    const char *p = path, *end = path + n;
    if (n == 0) {
        me_buf_addc(out, '/');
        return;
    }
    while (p < end) {
        const char *slash = memchr(p, '/', (size_t)(end - p));
        const char *stop = slash ? slash : end;
        add_reencoded(out, p, (size_t)(stop - p));
        if (slash)
            me_buf_addc(out, '/');
        p = stop + 1;
    }
    if (out->len == 0 || out->data[out->len - 1] != '/')
        me_buf_addc(out, '/');
}

typedef struct signed_header {
    char *name;          /* lowercased copy */
    const char *value;
    size_t value_len;    /* trimmed */
} signed_header;

static int compare_headers(const void *a, const void *b)
{
    return strcmp(((const signed_header *)a)->name, ((const signed_header *)b)->name);
}

int me_sign(me_signature *out, const me_sign_input *in, const char *ak, const char *sk,
            size_t sk_len, const char **err)
{
    const me_header *headers = in->headers;
    size_t n_headers = in->n_headers;
    signed_header *hs = NULL;
    const char *date = NULL;
    me_buf names;
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    size_t i, j;
    int rc = -1;

    me_buf_init(&names);
    me_buf_reset(&out->authorization);
    me_buf_reset(&out->canonical_request);
    me_buf_reset(&out->string_to_sign);
    hs = calloc(n_headers ? n_headers : 1, sizeof *hs);
    if (!hs) {
        *err = "out of memory";
        return -1;
    }
    for (i = 0; i < n_headers; i++) {
        const char *v = headers[i].value;
        size_t vn = strlen(v);
        hs[i].name = strdup(headers[i].name);
        if (!hs[i].name) {
            *err = "out of memory";
            goto done;
        }
        for (j = 0; hs[i].name[j]; j++)
            hs[i].name[j] = (char)tolower((unsigned char)hs[i].name[j]);
        me_trim(&v, &vn);
        hs[i].value = v;
        hs[i].value_len = vn;
        if (strcmp(hs[i].name, "x-sdk-date") == 0)
            date = headers[i].value;
    }
    if (!date) {
        *err = "X-Sdk-Date header is required";
        goto done;
    }
    qsort(hs, n_headers, sizeof *hs, compare_headers);

    /* The canonical request: method, URI, query, headers, names, body hash. */
    me_buf_adds(&out->canonical_request, in->method);
    me_buf_addc(&out->canonical_request, '\n');
    canonical_uri(&out->canonical_request, in->path, in->path_len);
    me_buf_addc(&out->canonical_request, '\n');
    me_buf_add(&out->canonical_request, in->query, in->query_len);
    me_buf_addc(&out->canonical_request, '\n');
    for (i = 0; i < n_headers; i++) {
        me_buf_adds(&out->canonical_request, hs[i].name);
        me_buf_addc(&out->canonical_request, ':');
        me_buf_add(&out->canonical_request, hs[i].value, hs[i].value_len);
        me_buf_addc(&out->canonical_request, '\n');
        if (i)
            me_buf_addc(&names, ';');
        me_buf_adds(&names, hs[i].name);
    }
    me_buf_addc(&out->canonical_request, '\n');
    me_buf_add(&out->canonical_request, names.data, names.len);
    me_buf_addc(&out->canonical_request, '\n');
    if (sha256_hex(&out->canonical_request, in->body ? in->body : "",
                   in->body ? in->body_len : 0) != 0) {
        *err = "SHA-256 failed";
        goto done;
    }
    if (!me_buf_str(&out->canonical_request) || !me_buf_str(&names)) {
        *err = "out of memory";
        goto done;
    }

    me_buf_adds(&out->string_to_sign, ALGORITHM "\n");
    me_buf_adds(&out->string_to_sign, date);
    me_buf_addc(&out->string_to_sign, '\n');
    if (sha256_hex(&out->string_to_sign, out->canonical_request.data,
                   out->canonical_request.len) != 0) {
        *err = "SHA-256 failed";
        goto done;
    }
    if (!me_buf_str(&out->string_to_sign)) {
        *err = "out of memory";
        goto done;
    }
    if (!HMAC(EVP_sha256(), sk, (int)sk_len, (const unsigned char *)out->string_to_sign.data,
              out->string_to_sign.len, mac, &mac_len)) {
        *err = "HMAC-SHA256 failed";
        goto done;
    }
    me_buf_addf(&out->authorization, ALGORITHM " Access=%s, SignedHeaders=%s, Signature=", ak,
                names.data);
    me_buf_add_hex(&out->authorization, mac, mac_len);
    if (!me_buf_str(&out->authorization)) {
        *err = "out of memory";
        goto done;
    }
    rc = 0;
done:
    for (i = 0; i < n_headers; i++)
        free(hs[i].name);
    free(hs);
    me_buf_free(&names);
    return rc;
}

/* ---- Lua ---------------------------------------------------------------- */

static const char *field_string(lua_State *L, const char *key, int required, size_t *len)
{
    const char *s;
    lua_getfield(L, 1, key);
    if (lua_isnil(L, -1) && !required) {
        lua_pop(L, 1);
        if (len)
            *len = 0;
        return NULL;
    }
    if (lua_type(L, -1) != LUA_TSTRING)
        me_error_argument(L, key, "sign: %s must be a string", key);
    s = lua_tolstring(L, -1, len);
    lua_pop(L, 1); /* the table keeps it alive */
    return s;
}

/***
 * Sign a request with SDK-HMAC-SHA256. It signs exactly the headers given
 * (it adds none); X-Sdk-Date must be among them.
 * @function sign
 * @tparam table request `{ method, url, headers = { name = value }, body, ak, sk }`
 * @treturn string the Authorization header's value
 * @treturn string the canonical request
 * @treturn string the string to sign
 */
int me_sign_lua(lua_State *L)
{
    size_t url_len, body_len, sk_len, n = 0, i;
    const char *method, *url, *body, *ak, *sk, *auth, *path, *path_end, *q, *frag;
    me_header *headers;
    me_signature sig;
    me_buf query;
    const char *err = NULL;
    int rc;

    if (!lua_istable(L, 1))
        me_error_argument(L, "request", "sign: expects a table { method, url, headers, ak, sk }");
    lua_settop(L, 1);
    method = field_string(L, "method", 1, NULL);
    url = field_string(L, "url", 1, &url_len);
    body = field_string(L, "body", 0, &body_len);
    ak = field_string(L, "ak", 1, NULL);
    sk = field_string(L, "sk", 1, &sk_len);
    lua_getfield(L, 1, "headers");
    if (!lua_istable(L, 2))
        me_error_argument(L, "headers", "sign: headers must be a table of name = value");
    lua_pushnil(L);
    while (lua_next(L, 2)) {
        if (lua_type(L, -2) != LUA_TSTRING || lua_type(L, -1) != LUA_TSTRING)
            me_error_argument(L, "headers", "sign: every header name and value must be a string");
        n++;
        lua_pop(L, 1);
    }

    /* scheme://authority/path?query#fragment: only path and query sign. A
     * "://" counts only as the scheme's, before any '/', '?' or '#': a
     * relative URL may hold one in its query. */
    {
        size_t scheme = strspn(url, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                    "0123456789+-.");
        if (scheme > 0 && strncmp(url + scheme, "://", 3) == 0)
            auth = url + scheme + 3;
        else
            auth = NULL;
    }
    frag = strchr(url, '#');
    if (auth) {
        path = strchr(auth, '/');
        q = strchr(auth, '?');
    } else {
        path = url; /* relative: it starts with the path */
        q = strchr(url, '?');
    }
    if (frag && q && q > frag)
        q = NULL;
    if (!path || (q && path > q) || (frag && path > frag))
        path = q ? q : (frag ? frag : url + url_len);
    path_end = q ? q : (frag ? frag : url + url_len);

    headers = (me_header *)lua_newuserdata(L, (n ? n : 1) * sizeof *headers);
    i = 0;
    lua_pushnil(L);
    while (lua_next(L, 2)) {
        headers[i].name = lua_tostring(L, -2);
        headers[i].value = lua_tostring(L, -1);
        i++;
        lua_pop(L, 1);
    }
    me_buf_init(&query);
    if (q)
        me_canonical_query(&query, q + 1, (size_t)((frag ? frag : url + url_len) - q - 1));
    me_signature_init(&sig);
    if (me_buf_failed(&query)) {
        err = "out of memory";
        rc = -1;
    } else {
        me_sign_input in;
        in.method = method;
        in.path = path;
        in.path_len = (size_t)(path_end - path);
        in.query = query.data;
        in.query_len = query.len;
        in.headers = headers;
        in.n_headers = n;
        in.body = body ? body : "";
        in.body_len = body_len;
        rc = me_sign(&sig, &in, ak, sk, sk_len, &err);
    }
    me_buf_free(&query);
    if (rc != 0) {
        me_signature_free(&sig);
        return me_error_argument(L, "headers", "sign: %s", err);
    }
    lua_pushlstring(L, sig.authorization.data, sig.authorization.len);
    lua_pushlstring(L, sig.canonical_request.data, sig.canonical_request.len);
    lua_pushlstring(L, sig.string_to_sign.data, sig.string_to_sign.len);
    me_signature_free(&sig);
    return 3;
}
