/* creds.h - the credentials of one request: strings from the client's
 * configuration, strings a Lua driver passes to pager:next(creds), or what
 * credential functions return, called (lua_pcall) just before a request is
 * built; and the secrets a pager has used, kept for redaction. */
#ifndef ME_CREDS_H
#define ME_CREDS_H

#include <lua.h>

#include "request.h"

/* Distinct secret values a pager remembers (the newest ones): enough for
 * the sets of several renewals while requests made with older ones are
 * still in flight. */
#define ME_SECRETS_KEPT 16

typedef struct me_secrets {
    char *values[ME_SECRETS_KEPT];   /* copies, wiped when dropped */
    int next;                        /* ring position of the next new one */
    char *ak;                        /* the AK last resolved: needed, not secret */
} me_secrets;

void me_secrets_init(me_secrets *s);
/* Wipe and free every copy. */
void me_secrets_free(me_secrets *s);
/* The kept copy of v[0..n) (a new one, or the same value kept before), or
 * NULL when out of memory. */
const char *me_secrets_keep(me_secrets *s, const char *v, size_t n);
/* Room for every secret me_secrets_list gives. */
#define ME_SECRETS_MAX (3 + ME_PROXY_SECRETS + ME_SECRETS_KEPT)

/* Every secret of the target and of s, for me_error_redact: fills out
 * (room for ME_SECRETS_MAX) and returns how many. */
int me_secrets_list(const me_target *t, const me_secrets *s, const char **out);

/* Fill out with the credentials of the next request: for each of token,
 * ak, sk and security_token in that order, the string in the table at
 * stack index `given` (0: none), else the configured string, else the
 * configured function's result (lua_pcall). Values from functions and from
 * `given` are copied into `keep`. Returns 0, or pushes an invalid_argument
 * error object naming the field and returns -1 (a function that failed or
 * returned something else than a non-empty string without control bytes;
 * its own message is kept only when it holds no secret). */
int me_creds_resolve(lua_State *L, const me_target *t, int given, me_secrets *keep,
                     me_creds *out);

#endif
