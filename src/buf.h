/* buf.h - a growable byte buffer owned by C, so that nothing allocated by
 * Lua is left half-built when an error unwinds, and nothing leaks when one
 * does: callers free buffers before raising. */
#ifndef ME_BUF_H
#define ME_BUF_H

#include <stddef.h>

typedef struct me_buf {
    char *data;     /* always NUL-terminated once anything was added */
    size_t len;
    size_t cap;
    int failed;     /* set when an allocation failed; later adds are no-ops */
} me_buf;

void me_buf_init(me_buf *b);
void me_buf_free(me_buf *b);
void me_buf_reset(me_buf *b);             /* length 0, memory kept */
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
const char *me_buf_str(me_buf *b);

#endif
