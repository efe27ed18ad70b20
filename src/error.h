/* error.h - structured error objects: tables with kind, message, status,
 * code, request_id, retryable (and attempts after retries), sharing one
 * metatable whose __tostring prints them on one line. Every failure a user
 * can meet is one of these; nothing raises a plain string. */
#ifndef ME_ERROR_H
#define ME_ERROR_H

#include <lua.h>

#define ME_ERROR_MT "modelarts_events.error"

#if defined(__GNUC__)
#define ME_NORETURN __attribute__((noreturn))
#define ME_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define ME_NORETURN
#define ME_PRINTF(f, a)
#endif

typedef struct me_error {
    const char *kind;        /* invalid_argument network timeout tls http decode too_large */
    const char *message;     /* one sentence, never holding a secret */
    long status;             /* HTTP status, 0 for none */
    const char *code;        /* server error_code or NULL */
    const char *request_id;  /* X-Request-Id or NULL */
    int retryable;
    int attempts;            /* 0: not reported */
} me_error;

/* Register the metatable (once per state). */
void me_error_init(lua_State *L);
/* Push an error table built from e. */
void me_error_push(lua_State *L, const me_error *e);
/* Push an error of the given kind with a printf-style message. */
void me_error_pushf(lua_State *L, const char *kind, const char *fmt, ...) ME_PRINTF(3, 4);
/* Raise an error of the given kind with a printf-style message. */
ME_NORETURN void me_error_raise(lua_State *L, const char *kind, const char *fmt, ...)
    ME_PRINTF(3, 4);
/* Raise an invalid_argument error naming a field. */
ME_NORETURN int me_error_argument(lua_State *L, const char *field, const char *fmt, ...)
    ME_PRINTF(3, 4);
/* The userdata at idx if its metatable is `mt`; else raise invalid_argument
 * saying how to call it ("client:list(...)", say). */
void *me_check_object(lua_State *L, int idx, const char *mt, const char *what);
/* Is an HTTP status worth another attempt? 429 and 500-599 only. */
int me_status_retryable(long status);
/* Blank out every secret (and its whitespace-trimmed form) from the string
 * fields that reach __tostring (message, code, request_id) of the error
 * table at idx. A secret of 8 bytes or more is blanked wherever it
 * appears; a shorter one only where it stands alone (not inside a word), so
 * that a short secret never mangles other text. */
void me_error_redact(lua_State *L, int idx, const char *const *secrets, int n);
/* Lua: me.error(kind, message [, fields]), the one constructor every module
 * uses. */
int me_error_new_lua(lua_State *L);

#endif
