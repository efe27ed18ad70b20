/***
 * What Lua cannot do portably: whether a descriptor is a terminal, a clock
 * that measures elapsed time, the wall clock to the millisecond, the UTC
 * offset of an IANA time zone at an instant (through libc's own zone
 * database), whether a Ctrl-C came, and ignoring Ctrl-C while a program
 * exits.
 * @submodule modelarts_events
 */
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <lauxlib.h>

#include "compat.h"
#include "system.h"

#define ZONE_NAME_MAX 128

/***
 * Whether a file descriptor is a terminal (isatty(3)).
 * @function isatty
 * @tparam integer fd e.g. 1 for stdout, 2 for stderr
 * @treturn boolean
 */
int me_isatty_lua(lua_State *L)
{
    lua_Number fd = luaL_checknumber(L, 1);
    lua_pushboolean(L, fd >= 0 && fd <= INT_MAX && fd == (int)fd && isatty((int)fd));
    return 1;
}

/***
 * Seconds from an arbitrary start, with sub-second resolution, never going
 * back (CLOCK_MONOTONIC): for rates and elapsed times.
 * @function monotonic
 * @treturn number
 */
int me_monotonic_lua(lua_State *L)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        return luaL_error(L, "modelarts_events: no monotonic clock");
    lua_pushnumber(L, (lua_Number)ts.tv_sec + (lua_Number)ts.tv_nsec / 1e9);
    return 1;
}

/***
 * The wall clock, epoch milliseconds (CLOCK_REALTIME): os.time() has whole
 * seconds only, too coarse to compare with events stamped to the millisecond.
 * @function now_ms
 * @treturn integer
 */
int me_now_ms_lua(lua_State *L)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
        return luaL_error(L, "modelarts_events: no wall clock");
    lua_pushinteger(L, (lua_Integer)ts.tv_sec * 1000 + (lua_Integer)(ts.tv_nsec / 1000000));
    return 1;
}

/* An IANA name: segments of letters, digits, '_', '+', '-' joined by single
 * '/'. No '.', so no path can leave the zone folder. */
static int zone_name_ok(const char *name, size_t len)
{
    size_t i;
    int segment = 0;
    if (len == 0 || len > ZONE_NAME_MAX)
        return 0;
    for (i = 0; i < len; i++) {
        char c = name[i];
        if (c == '/') {
            if (segment == 0)
                return 0;
            segment = 0;
        } else if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                   c == '_' || c == '+' || c == '-') {
            segment++;
        } else {
            return 0;
        }
    }
    return segment > 0;
}

/* Whether the zone database holds a compiled zone of that name: glibc reads
 * an unknown TZ as UTC without a word, so look first. */
static int zone_exists(const char *name)
{
    const char *dir = getenv("TZDIR");
    char path[PATH_MAX];
    char magic[4];
    FILE *f;
    int ok;
    if (dir == NULL || dir[0] == '\0')
        dir = "/usr/share/zoneinfo";
    if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path)
        return 0;
    f = fopen(path, "rb");
    if (f == NULL)
        return 0;
    ok = fread(magic, 1, sizeof magic, f) == sizeof magic && memcmp(magic, "TZif", 4) == 0;
    fclose(f);
    return ok;
}

/***
 * The UTC offset, in seconds east of UTC, of an IANA time zone at an instant,
 * as libc's zone database says (`TZ` is set for the call and restored).
 * @function utc_offset
 * @string zone e.g. `"Asia/Shanghai"`
 * @tparam number seconds epoch seconds
 * @return the offset in seconds, or nil and a message for an unknown zone
 */
int me_utc_offset_lua(lua_State *L)
{
    size_t len;
    const char *name = luaL_checklstring(L, 1, &len);
    lua_Number seconds = luaL_checknumber(L, 2);
    char tz[ZONE_NAME_MAX + 2];
    char *saved = NULL;
    const char *old;
    struct tm tm;
    time_t t;
    int found;
    /* time_t is 64-bit here; stay well inside it and inside years 0..9999 */
    if (!(seconds >= -62167219200.0 && seconds <= 253402300799.0)) {
        lua_pushnil(L);
        lua_pushliteral(L, "instant out of range (years 0 to 9999)");
        return 2;
    }
    if (!zone_name_ok(name, len) || !zone_exists(name)) {
        lua_pushnil(L);
        lua_pushfstring(L, "unknown time zone '%s' (not in the system's zone database)",
                        zone_name_ok(name, len) ? name : "?");
        return 2;
    }
    t = (time_t)seconds;
    tz[0] = ':';
    memcpy(tz + 1, name, len + 1);
    old = getenv("TZ");
    if (old != NULL && (saved = strdup(old)) == NULL)
        return luaL_error(L, "modelarts_events: out of memory");
    setenv("TZ", tz, 1);
    tzset();
    found = localtime_r(&t, &tm) != NULL;
    if (saved != NULL)
        setenv("TZ", saved, 1);
    else
        unsetenv("TZ");
    tzset();
    free(saved);
    if (!found) {
        lua_pushnil(L);
        lua_pushliteral(L, "the zone database cannot place that instant");
        return 2;
    }
    me_pushinteger(L, tm.tm_gmtoff);
    return 1;
}

/***
 * What SIGINT does now: `"default"`, `"ignore"` or `"handler"`. Under the
 * standalone interpreter (lua.c, luajit.c) a script runs with the
 * interpreter's handler in place, which puts the default back when a Ctrl-C
 * arrives: a program can tell that an error came after a Ctrl-C even where
 * something between (a protected call in C) swallowed the "interrupted!".
 * @function sigint_disposition
 * @treturn string
 */
int me_sigint_disposition_lua(lua_State *L)
{
    struct sigaction now;
    if (sigaction(SIGINT, NULL, &now) != 0)
        return luaL_error(L, "modelarts_events: cannot read the SIGINT disposition");
    if (!(now.sa_flags & SA_SIGINFO) && now.sa_handler == SIG_DFL)
        lua_pushliteral(L, "default");
    else if (!(now.sa_flags & SA_SIGINFO) && now.sa_handler == SIG_IGN)
        lua_pushliteral(L, "ignore");
    else
        lua_pushliteral(L, "handler");
    return 1;
}

/***
 * Ignore SIGINT from now on: a program that is already exiting after a
 * Ctrl-C finishes its output instead of dying half-way on a second one.
 * @function ignore_interrupts
 */
int me_ignore_interrupts_lua(lua_State *L)
{
    (void)L;
    signal(SIGINT, SIG_IGN);
    return 0;
}
