/* compat.h - the few shims needed to build one source for Lua 5.1 to 5.4
 * and LuaJIT 2.1. Everything else is written against the 5.1 subset. */
#ifndef ME_COMPAT_H
#define ME_COMPAT_H

#include <lua.h>
#include <lauxlib.h>

#if LUA_VERSION_NUM < 502
#define me_rawlen(L, i) lua_objlen((L), (i))
#define me_setfuncs(L, l, nup) luaL_setfuncs_51((L), (l), (nup))
/* luaL_setfuncs for 5.1: register l into the table below the upvalues. */
static inline void luaL_setfuncs_51(lua_State *L, const luaL_Reg *l, int nup)
{
    int i;
    luaL_checkstack(L, nup, "too many upvalues");
    for (; l->name != NULL; l++) {
        for (i = 0; i < nup; i++)
            lua_pushvalue(L, -nup);
        lua_pushcclosure(L, l->func, nup);
        lua_setfield(L, -(nup + 2), l->name);
    }
    lua_pop(L, nup);
}
#else
#define me_rawlen(L, i) lua_rawlen((L), (i))
#define me_setfuncs(L, l, nup) luaL_setfuncs((L), (l), (nup))
#endif

/* A stack index made absolute (pseudo-indices such as upvalues and the
 * registry stay as they are): Lua 5.2's lua_absindex. */
#if LUA_VERSION_NUM < 502
static inline int me_absindex(lua_State *L, int i)
{
    return i < 0 && i > LUA_REGISTRYINDEX ? lua_gettop(L) + i + 1 : i;
}
#else
#define me_absindex(L, i) lua_absindex((L), (i))
#endif

/* Whole numbers: integers on 5.3+, doubles holding whole values before. */
#if LUA_VERSION_NUM >= 503
#define me_pushinteger(L, n) lua_pushinteger((L), (lua_Integer)(n))
#else
#define me_pushinteger(L, n) lua_pushnumber((L), (lua_Number)(n))
#endif

#endif
