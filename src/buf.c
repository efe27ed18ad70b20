/* buf.c - see buf.h */
#include "buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What every empty buffer points at; never written (cap 0 means "not ours"). */
static char empty[1];

void me_buf_init(me_buf *b)
{
    b->data = empty;
    b->len = b->cap = 0;
    b->failed = 0;
}

void me_buf_free(me_buf *b)
{
    if (b->cap)
        free(b->data);
    me_buf_init(b);
}

void me_buf_reset(me_buf *b)
{
    b->len = 0;
    b->failed = 0;
    if (b->cap)
        b->data[0] = '\0';
}

void me_buf_shrink(me_buf *b, size_t keep)
{
    if (b->cap > keep)
        me_buf_free(b);
    else
        me_buf_reset(b);
}

int me_buf_failed(const me_buf *b)
{
    return b->failed;
}

int me_buf_reserve(me_buf *b, size_t extra)
{
    size_t need, cap;
    char *p;
    if (b->failed)
        return -1;
    if (extra > (size_t)-1 - b->len - 1)
        goto fail;
    need = b->len + extra + 1;
    if (need <= b->cap)
        return 0;
    cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap = cap > ((size_t)-1) / 2 ? need : cap * 2;
    p = realloc(b->cap ? b->data : NULL, cap);
    if (!p)
        goto fail;
    b->data = p;
    b->cap = cap;
    return 0;
fail:
    b->failed = 1;
    return -1;
}

void me_buf_add(me_buf *b, const char *s, size_t n)
{
    if (me_buf_reserve(b, n) != 0)
        return;
    if (n)
        memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void me_buf_adds(me_buf *b, const char *s)
{
    me_buf_add(b, s, strlen(s));
}

void me_buf_addc(me_buf *b, char c)
{
    me_buf_add(b, &c, 1);
}

void me_buf_addf(me_buf *b, const char *fmt, ...)
{
    va_list ap;
    int n;
    char small[256];
    va_start(ap, fmt);
    n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof small) {
        me_buf_add(b, small, (size_t)n);
        return;
    }
    if (me_buf_reserve(b, (size_t)n) != 0)
        return;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

static int unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
           (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' || c == '~';
}

void me_buf_add_pct(me_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t i;
    if (me_buf_reserve(b, n * 3) != 0)
        return;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (unreserved(c)) {
            b->data[b->len++] = (char)c;
        } else {
            b->data[b->len++] = '%';
            b->data[b->len++] = hex[c >> 4];
            b->data[b->len++] = hex[c & 15];
        }
    }
    b->data[b->len] = '\0';
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

void me_buf_add_unpct(me_buf *b, const char *s, size_t n)
{
    size_t i;
    if (me_buf_reserve(b, n) != 0)
        return;
    for (i = 0; i < n; i++) {
        int hi, lo;
        if (s[i] == '%' && i + 2 < n &&
            (hi = hexval(s[i + 1])) >= 0 && (lo = hexval(s[i + 2])) >= 0) {
            b->data[b->len++] = (char)(hi * 16 + lo);
            i += 2;
        } else {
            b->data[b->len++] = s[i];
        }
    }
    b->data[b->len] = '\0';
}

void me_buf_add_hex(me_buf *b, const unsigned char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t i;
    if (me_buf_reserve(b, n * 2) != 0)
        return;
    for (i = 0; i < n; i++) {
        b->data[b->len++] = hex[s[i] >> 4];
        b->data[b->len++] = hex[s[i] & 15];
    }
    b->data[b->len] = '\0';
}

const char *me_buf_str(const me_buf *b)
{
    return b->failed ? NULL : b->data;
}
