/* decode.h - from an HTTP response to a normalised page (or job) or an
 * error object. */
#ifndef ME_DECODE_H
#define ME_DECODE_H

#include <lua.h>
#include <stddef.h>

/* The maximum nesting a response may have; deeper is a decode error. */
#define ME_DECODE_MAX_DEPTH 32

/* What a response is expected to hold. */
enum me_shape { ME_SHAPE_PAGE, ME_SHAPE_JOB };

/* Push the page (or job) and return 1, or push an error object and return
 * 0. `decoder` is the stack index of cjson.safe's decode function;
 * `request_id` the X-Request-Id header or NULL (the body's is used then). */
int me_decode(lua_State *L, int decoder, enum me_shape shape, long status, const char *body,
              size_t len, const char *request_id);

/* Lua: me.decode(status, body [, headers]) -> page | nil, err */
int me_decode_lua(lua_State *L);

#endif
