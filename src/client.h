/* client.h - the client object: me.new, list(), job(), the iterators, and
 * the libcurl driver under them. */
#ifndef ME_CLIENT_H
#define ME_CLIENT_H

#include <lua.h>

#define ME_CLIENT_MT "modelarts_events.client"

/* me.new(config) -> client */
int me_client_new(lua_State *L);
/* me.iam_token(options) -> { token, expires_at, project_id } | nil, err */
int me_iam_token_lua(lua_State *L);
int me_iam_token_pager_lua(lua_State *L);
/* me.metadata_security_key([options]) -> { ak, sk, security_token, expires_at } | nil, err */
int me_metadata_security_key_lua(lua_State *L);
int me_metadata_security_key_pager_lua(lua_State *L);
/* Raise invalid_argument for bad options of me.iam_token or
 * me.metadata_security_key (at stack index idx), sending nothing. */
void me_login_options_check(lua_State *L, int idx);
void me_securitykey_options_check(lua_State *L, int idx);
/* Register the client metatable; the cjson decode function is on the stack
 * top and becomes upvalue 1 of every method. */
void me_client_register(lua_State *L);

#endif
