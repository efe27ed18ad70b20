/* buf.h - a growable byte buffer owned by C, so that nothing allocated by
 * Lua is left half-built when an error unwinds, and nothing leaks when one
 * does: callers free buffers before raising. */
#ifndef ME_BUF_H
#define ME_BUF_H

#include <stddef.h>

/* `data` is never NULL and always NUL-terminated: an empty buffer points at
 * a shared "" (cap 0) until something is added, so readers need no special
 * case for "nothing received". Out of memory is only ever told by `failed`
 * (me_buf_failed), never by a NULL pointer. */
typedef struct me_buf {
    char *data;
    size_t len;
    size_t cap;     /* 0: data is the shared empty string, not allocated */
    int failed;     /* set when an allocation failed; later adds are no-ops */
} me_buf;

void me_buf_init(me_buf *b);
void me_buf_free(me_buf *b);
void me_buf_reset(me_buf *b);             /* length 0, memory kept */
/* Length 0, and memory above `keep` bytes given back (a receive buffer that
 * once held a huge page must not keep it for the client's lifetime). */
void me_buf_shrink(me_buf *b, size_t keep);
/* Did an allocation fail since the last reset? */
int me_buf_failed(const me_buf *b);
int me_buf_reserve(me_buf *b, size_t extra);
void me_buf_add(me_buf *b, const char *s, size_t n);
void me_buf_adds(me_buf *b, const char *s);
void me_buf_addc(me_buf *b, char c);
void me_buf_addf(me_buf *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* Percent-encode as SDK-HMAC-SHA256 wants it: A-Z a-z 0-9 - _ . ~ stay,
 * every other byte becomes %XX (uppercase hex). */
void me_buf_add_pct(me_buf *b, const char *s, size_t n);
/* Decode %XX escapes (a malformed escape is kept as it is). */
void me_buf_add_unpct(me_buf *b, const char *s, size_t n);
/* Lowercase hex of n bytes. */
void me_buf_add_hex(me_buf *b, const unsigned char *s, size_t n);
/* The contents, "" for an empty buffer; NULL after an allocation failure. */
const char *me_buf_str(const me_buf *b);

#endif
