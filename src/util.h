/* util.h - the small helpers several files share: sleeping, reading a
 * header from a Lua table whatever its case, copying a table, registering a
 * class (a metatable whose methods share one upvalue). */
#ifndef ME_UTIL_H
#define ME_UTIL_H

#include <lua.h>
#include <lauxlib.h>
#include <stddef.h>

/* Sleep, blocking, for s seconds; nothing for s <= 0 or NaN, and at most a
 * day per call (no undefined float-to-int conversion for huge values). */
void me_sleep_seconds(double s);

/* The value of header `name` (lowercase) in the table at index `headers`,
 * compared without case, or NULL. The string stays referenced by the table. */
const char *me_header_find(lua_State *L, int headers, const char *name);

/* t[k] = v for every pair of the table at `from`, into the table at `to`
 * (raw, shallow). */
void me_table_copy(lua_State *L, int from, int to);

/* Create metatable `name` with __index = methods (each gets the value on
 * the stack top as upvalue 1), plus __gc/__close = close_fn and
 * __tostring = tostring_fn when given. Pops nothing: the upvalue stays. */
void me_class_register(lua_State *L, const char *name, const luaL_Reg *methods,
                       lua_CFunction close_fn, lua_CFunction tostring_fn);

/* Push a fresh instance of lua-cjson's cjson.safe (required, never
 * copied): its settings are ours alone, neither changing nor relying on
 * those of other users of cjson. */
void me_push_cjson(lua_State *L);

/* Does s[0..n) hold a byte below 0x20 or DEL? Such bytes never reach a
 * header or a URL. */
int me_has_control_byte(const char *s, size_t n);

/* A double in [lo, hi] as a long long, without undefined conversions:
 * NaN gives lo, values outside are clamped. lo and hi must be exact as
 * doubles (|x| <= 2^53). */
long long me_clamp_ll(double v, long long lo, long long hi);

/* Trim whitespace (isspace in the C locale) from both ends of s[0..n). */
void me_trim(const char **s, size_t *n);

/* An HTTP date ("Sun, 06 Nov 1994 08:49:37 GMT", RFC 9110's IMF-fixdate)
 * as epoch ms, or -1; locale-independent. */
long long me_http_date_ms(const char *v);

#endif
