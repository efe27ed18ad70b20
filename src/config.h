/* config.h - a client's configuration: the table given to me.new, checked
 * and copied into C memory, and me.config_from_env. */
#ifndef ME_CONFIG_H
#define ME_CONFIG_H

#include <lua.h>

#include "request.h"
#include "transport.h"

typedef struct me_config {
    me_target target;
    me_transport_options transport;
    int retries, concurrency;
} me_config;

/* Fill c from the config table at idx; raises invalid_argument naming the
 * field. What was copied before an error stays in c: the caller frees it
 * with me_config_free (the client's __gc does). */
void me_config_read(lua_State *L, int idx, me_config *c);
/* Free every copy, wiping secrets; c is then empty (endpoint NULL). */
void me_config_free(me_config *c);

/* me.config_from_env([overrides]) -> config table */
int me_config_from_env(lua_State *L);

#endif
