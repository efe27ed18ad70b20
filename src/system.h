/* system.h - what Lua cannot do portably: a terminal test, a monotonic
 * clock, the UTC offset of a named time zone, SIGINT's disposition. */
#ifndef ME_SYSTEM_H
#define ME_SYSTEM_H

#include <lua.h>

int me_isatty_lua(lua_State *L);
int me_monotonic_lua(lua_State *L);
int me_now_ms_lua(lua_State *L);
int me_utc_offset_lua(lua_State *L);
int me_sigint_disposition_lua(lua_State *L);
int me_ignore_interrupts_lua(lua_State *L);

#endif
