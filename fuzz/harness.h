/* harness.h - what both fuzz targets share: one Lua 5.4 state for the whole
 * run with the real module loaded, and a checker chunk called per input. */
#ifndef FUZZ_HARNESS_H
#define FUZZ_HARNESS_H

#include <stdio.h>
#include <stdlib.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

int luaopen_modelarts_events(lua_State *L);

static lua_State *L;
static int check_ref;

/* Make the state once and compile the checker `check`. */
static void harness_setup(const char *check)
{
    if (L)
        return;
    L = luaL_newstate();
    luaL_openlibs(L);
    luaL_requiref(L, "modelarts_events", luaopen_modelarts_events, 0);
    lua_pop(L, 1);
    if (luaL_loadstring(L, check) != LUA_OK) {
        fprintf(stderr, "%s\n", lua_tostring(L, -1));
        abort();
    }
    check_ref = luaL_ref(L, LUA_REGISTRYINDEX);
}

/* Push the checker and the module, its first argument. */
static void harness_push(void)
{
    lua_rawgeti(L, LUA_REGISTRYINDEX, check_ref);
    lua_getglobal(L, "package");
    lua_getfield(L, -1, "loaded");
    lua_getfield(L, -1, "modelarts_events");
    lua_replace(L, -3);
    lua_pop(L, 1);
}

/* Call the checker with nargs arguments after the module; abort on a broken
 * invariant, and collect now and then so that leaks surface. */
static void harness_call(int nargs)
{
    static unsigned runs;
    if (lua_pcall(L, nargs + 1, 0, 0) != LUA_OK) {
        fprintf(stderr, "invariant broken: %s\n", lua_tostring(L, -1));
        abort();
    }
    lua_settop(L, 0);
    if (++runs % 1000 == 0)
        lua_gc(L, LUA_GCCOLLECT, 0);
}

#endif
