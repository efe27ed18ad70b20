/* client.h - the client object: me.new, list(), job(), the iterators, and
 * the libcurl driver under them. */
#ifndef ME_CLIENT_H
#define ME_CLIENT_H

#include <lua.h>

#define ME_CLIENT_MT "modelarts_events.client"

/* me.new(config) -> client */
int me_client_new(lua_State *L);
/* Register the client metatable; the cjson decode function is on the stack
 * top and becomes upvalue 1 of every method. */
void me_client_register(lua_State *L);

#endif
