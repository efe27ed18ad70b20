/* sign.h - SDK-HMAC-SHA256, the request signature of Huawei Cloud's API
 * gateway, over OpenSSL's libcrypto. */
#ifndef ME_SIGN_H
#define ME_SIGN_H

#include <lua.h>
#include <stddef.h>
#include "buf.h"

typedef struct me_header {
    const char *name;    /* as given; lowercased for signing */
    const char *value;   /* trimmed for signing */
} me_header;

typedef struct me_signature {
    me_buf authorization;      /* "SDK-HMAC-SHA256 Access=..., SignedHeaders=..., Signature=..." */
    me_buf canonical_request;
    me_buf string_to_sign;
} me_signature;

void me_signature_init(me_signature *s);
void me_signature_free(me_signature *s);

/* Canonical query of a raw query string (without '?', may be empty):
 * pairs split on '&' and the first '=', each part percent-decoded then
 * re-encoded, sorted by key then value, joined by '&'. */
void me_canonical_query(me_buf *out, const char *query, size_t len);

/* What a signature covers. */
typedef struct me_sign_input {
    const char *method;
    const char *path;          /* raw, as sent (no query) */
    size_t path_len;
    const char *query;         /* canonical (sorted and encoded), as sent; may be empty */
    size_t query_len;
    const me_header *headers;  /* every one is signed; X-Sdk-Date must be among them */
    size_t n_headers;
    const char *body;
    size_t body_len;
} me_sign_input;

/* Sign one request with the AK and SK. Returns 0, or -1 with a static
 * message in *err (missing X-Sdk-Date, out of memory, crypto failure). */
int me_sign(me_signature *out, const me_sign_input *in, const char *ak, const char *sk,
            size_t sk_len, const char **err);

/* Lua: me.sign{ method, url, headers, body, ak, sk } -> authorization,
 * canonical request, string to sign. */
int me_sign_lua(lua_State *L);

#endif
