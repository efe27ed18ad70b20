/* sources.h - renewable credentials: functions for `token`, or `ak`, `sk`
 * and `security_token`, that fetch credentials (a password login, the
 * metadata service) and fetch them again some time before they expire. */
#ifndef ME_SOURCES_H
#define ME_SOURCES_H

#include <lua.h>

/* Seconds before expiry that credentials are renewed, unless told. */
#define ME_RENEW_BEFORE 300

/* Push a token function for the login options at idx (those of
 * me.iam_token, plus renew_before); `decoder` is the stack index (or
 * upvalue index) of cjson.safe's decode function. Raises invalid_argument
 * for bad options, before anything is sent. */
void me_push_token_source(lua_State *L, int idx, int decoder);
/* Push { ak, sk, security_token } functions for the metadata options at
 * idx (those of me.metadata_security_key, plus renew_before). */
void me_push_metadata_credentials(lua_State *L, int idx, int decoder);

/* Lua: me.iam_token_source(options) -> function */
int me_iam_token_source_lua(lua_State *L);
/* Lua: me.metadata_credentials([options]) -> { ak, sk, security_token } */
int me_metadata_credentials_lua(lua_State *L);

#endif
