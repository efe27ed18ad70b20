/* util.c - see util.h. */
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "compat.h"
#include "request.h"

#define SLEEP_CAP 86400.0

void me_sleep_seconds(double s)
{
    struct timespec ts;
    if (!(s > 0))
        return;
    if (s > SLEEP_CAP)
        s = SLEEP_CAP;
    ts.tv_sec = (time_t)s;
    ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

const char *me_header_find(lua_State *L, int headers, const char *name)
{
    const char *found = NULL;
    if (!lua_istable(L, headers))
        return NULL;
    headers = me_absindex(L, headers);
    lua_pushnil(L);
    while (lua_next(L, headers)) {
        if (lua_type(L, -2) == LUA_TSTRING && lua_type(L, -1) == LUA_TSTRING) {
            const char *k = lua_tostring(L, -2);
            size_t i;
            for (i = 0; name[i] && tolower((unsigned char)k[i]) == name[i]; i++)
                ;
            if (!name[i] && !k[i]) {
                found = lua_tostring(L, -1);
                lua_pop(L, 2);
                break;
            }
        }
        lua_pop(L, 1);
    }
    return found;
}

void me_table_copy(lua_State *L, int from, int to)
{
    from = me_absindex(L, from);
    to = me_absindex(L, to);
    lua_pushnil(L);
    while (lua_next(L, from)) {
        lua_pushvalue(L, -2);
        lua_insert(L, -2);
        lua_rawset(L, to);
    }
}

void me_class_register(lua_State *L, const char *name, const luaL_Reg *methods,
                       lua_CFunction close_fn, lua_CFunction tostring_fn)
{
    luaL_newmetatable(L, name);
    lua_newtable(L);
    lua_pushvalue(L, -3);
    me_setfuncs(L, methods, 1);
    lua_setfield(L, -2, "__index");
    if (close_fn) {
        lua_pushcfunction(L, close_fn);
        lua_setfield(L, -2, "__gc");
        lua_pushcfunction(L, close_fn);
        lua_setfield(L, -2, "__close");
    }
    if (tostring_fn) {
        lua_pushcfunction(L, tostring_fn);
        lua_setfield(L, -2, "__tostring");
    }
    lua_pop(L, 1);
}

void me_push_cjson(lua_State *L)
{
    lua_getglobal(L, "require");
    lua_pushliteral(L, "cjson.safe");
    lua_call(L, 1, 1);
    lua_getfield(L, -1, "new");
    lua_call(L, 0, 1);
    lua_remove(L, -2);
}

long long me_clamp_ll(double v, long long lo, long long hi)
{
    if (!(v >= (double)lo))
        return lo;
    if (!(v <= (double)hi))
        return hi;
    return (long long)v;
}

int me_has_control_byte(const char *s, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] == 0x7f)
            return 1;
    return 0;
}

void me_trim(const char **s, size_t *n)
{
    while (*n && isspace((unsigned char)**s))
        (*s)++, (*n)--;
    while (*n && isspace((unsigned char)(*s)[*n - 1]))
        (*n)--;
}

long long me_http_date_ms(const char *v)
{
    static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    char month[4], iso[32];
    const char *m;
    int day, year, hour, minute, second, end = 0;
    long long ms;
    /* "Sun, 06 Nov 1994 08:49:37 GMT": by hand, as strptime's %a and %b
     * would follow the process's locale. */
    if (!v || !(v = strchr(v, ',')))
        return -1;
    if (sscanf(v + 1, " %2d %3[A-Za-z] %4d %2d:%2d:%2d GMT%n", &day, month, &year, &hour,
               &minute, &second, &end) != 6 || end == 0 || strlen(month) != 3)
        return -1;
    m = strstr(months, month);
    if (!m || (m - months) % 3 != 0)
        return -1;
    snprintf(iso, sizeof iso, "%04d-%02d-%02dT%02d:%02d:%02dZ", year, (int)(m - months) / 3 + 1,
             day, hour, minute, second);
    return me_parse_iso8601(iso, strlen(iso), &ms) == 0 ? ms : -1;
}
