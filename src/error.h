/* error.h - structured error objects: tables with kind, message, status,
 * code, request_id, retryable (and attempts after retries), sharing one
 * metatable whose __tostring prints them on one line. */
#ifndef ME_ERROR_H
#define ME_ERROR_H

#include <lua.h>

#define ME_ERROR_MT "modelarts_events.error"

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
void me_error_pushf(lua_State *L, const char *kind, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
/* Raise an invalid_argument error naming a field; never returns. */
int me_error_argument(lua_State *L, const char *field, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
/* Lua: me.error(kind, message [, fields]) for pure-Lua companions. */
int me_error_new_lua(lua_State *L);

#endif
