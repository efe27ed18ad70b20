/***
 * Decoding: the one place where responses become pages or errors, shared by
 * list(), the iterators, the OpenResty driver (through `decode`) and
 * fuzzing. cjson builds the tables; this file only checks and normalises
 * them in place, so an event costs no more than cjson's own work.
 * @submodule modelarts_events
 */
#include "decode.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#include "compat.h"
#include "error.h"
#include "util.h"

/* A string field of the table at `t`, or NULL; a number is turned into its
 * string (IAM's nested errors carry a numeric code). The value is left on
 * the stack (it keeps the string alive) until push_http_error ends. */
static const char *string_field(lua_State *L, int t, const char *key)
{
    lua_getfield(L, t, key);
    if (lua_type(L, -1) == LUA_TNUMBER) {
        /* cjson decodes numbers as floats: 401, not "401.0" */
        char num[64];
        snprintf(num, sizeof num, "%.15g", lua_tonumber(L, -1));
        lua_pop(L, 1);
        lua_pushstring(L, num);
    }
    if (lua_type(L, -1) == LUA_TSTRING)
        return lua_tostring(L, -1);
    lua_pop(L, 1);
    return NULL;
}

/* The code, message and request id of an error body in any of the shapes
 * the SDKs read: error_code/error_msg, errorCode/errorMsg, code/message,
 * or any of them inside {"error": {...}}; plus request_id. */
static void read_error_body(lua_State *L, int body, me_error *e)
{
    static const char *const pairs[][2] = {
        {"error_code", "error_msg"}, {"errorCode", "errorMsg"}, {"code", "message"}};
    int nested, i, t = body;
    for (nested = 0; nested < 2; nested++) {
        if (nested) {
            lua_getfield(L, body, "error");
            if (!lua_istable(L, -1))
                return;
            t = lua_gettop(L);
        }
        if (nested && !e->code) {
            /* IAM's {"error": {"code": 401, "title": "Unauthorized", ...}}:
             * its numeric code is the status again; the title names it */
            int numeric;
            lua_getfield(L, t, "code");
            numeric = lua_type(L, -1) == LUA_TNUMBER;
            lua_pop(L, 1);
            if (numeric)
                e->code = string_field(L, t, "title");
        }
        for (i = 0; i < 3; i++) {
            if (!e->code)
                e->code = string_field(L, t, pairs[i][0]);
            if (!e->message)
                e->message = string_field(L, t, pairs[i][1]);
        }
        if (!e->request_id)
            e->request_id = string_field(L, t, "request_id");
        if (!e->request_id)
            e->request_id = string_field(L, t, "requestId");
    }
}

static void push_http_error(lua_State *L, int decoder, long status, const char *body,
                            size_t len, const char *request_id)
{
    me_error e;
    char message[300];
    int top = lua_gettop(L);
    memset(&e, 0, sizeof e);
    e.kind = "http";
    e.status = status;
    e.request_id = request_id;
    e.retryable = me_status_retryable(status);
    luaL_checkstack(L, 16, "modelarts_events: reading an error body");
    /* A proxy in between may answer HTML: reported without its markup. */
    lua_pushvalue(L, decoder);
    lua_pushlstring(L, body, len);
    lua_call(L, 1, 1);
    if (lua_istable(L, -1))
        read_error_body(L, lua_gettop(L), &e);
    if (!e.message) {
        snprintf(message, sizeof message, "the server answered HTTP %ld%s", status,
                 len ? " with a body that is not a JSON error" : " with an empty body");
        e.message = message;
    }
    me_error_push(L, &e);
    lua_replace(L, top + 1);
    lua_settop(L, top + 1);
}

static int push_decode_error(lua_State *L, int top, long status, const char *request_id,
                             const char *message)
{
    me_error e;
    memset(&e, 0, sizeof e);
    e.kind = "decode";
    e.status = status;
    e.request_id = request_id;
    e.message = message;
    lua_settop(L, top);
    me_error_push(L, &e);
    return 0;
}

/* A success status whose body holds no events and no total but an error's
 * fields (a gateway or proxy that answers errors with 200) is not a page of
 * 0 events. */
static int is_error_shape(lua_State *L, int body)
{
    static const char *const keys[] = {"events", "total", "error_code", "errorCode", "code",
                                       "error"};
    int i, present[6];
    for (i = 0; i < 6; i++) {
        lua_getfield(L, body, keys[i]);
        present[i] = !lua_isnil(L, -1) && lua_type(L, -1) != LUA_TLIGHTUSERDATA;
        lua_pop(L, 1);
    }
    return !present[0] && !present[1] && (present[2] || present[3] || present[4] || present[5]);
}

static int push_error_shape(lua_State *L, int top, int body, long status, const char *request_id)
{
    me_error e;
    memset(&e, 0, sizeof e);
    e.kind = "decode";
    e.status = status;
    e.request_id = request_id;
    luaL_checkstack(L, 16, "modelarts_events: reading an error body");
    read_error_body(L, body, &e);
    /* whole, not cut: redaction looks for whole secrets */
    lua_pushfstring(L, "the server answered HTTP %d with an error instead of a page: %s",
                    (int)status, e.message ? e.message : "(no message)");
    e.message = lua_tostring(L, -1);
    me_error_push(L, &e);
    lua_replace(L, top + 1);
    lua_settop(L, top + 1);
    return 0;
}

/* Replace page[key] by a whole number from a number or a numeric string;
 * when absent: the fallback, or (fallback < 0) left absent. */
static int normalise_count(lua_State *L, int page, const char *key, long long fallback)
{
    long long v = fallback;
    int type, ok = 1;
    lua_getfield(L, page, key);
    type = lua_type(L, -1);
    if (type == LUA_TNUMBER) {
        lua_Number n = lua_tonumber(L, -1);
        ok = n == floor(n) && n >= 0 && n <= 9e15;
        v = ok ? (long long)n : 0;
    } else if (type == LUA_TSTRING) {
        const char *s = lua_tostring(L, -1);
        ok = *s && strspn(s, "0123456789") == strlen(s) && strlen(s) <= 15;
        v = ok ? strtoll(s, NULL, 10) : 0;
    } else if (type != LUA_TNIL && type != LUA_TLIGHTUSERDATA) { /* cjson's null */
        ok = 0;
    }
    lua_pop(L, 1);
    if (!ok)
        return -1;
    if (v < 0)
        lua_pushnil(L); /* every field of the service is optional: no total is no total */
    else
        me_pushinteger(L, v);
    lua_setfield(L, page, key);
    return 0;
}

static const char *const EVENT_FIELDS[] = {"time", "level", "message", "source"};

/* Each event must be an object whose four fields are strings; a field the
 * server left out or sent as null becomes "" so that callers can always
 * concatenate. Returns a static message on a wrong type. The four keys are
 * pushed once per page and looked up raw: this runs for every event, and
 * lua_getfield would intern its C string again each time. */
static const char *check_events(lua_State *L, int events)
{
    size_t i, n = me_rawlen(L, events);
    int f, keys, event;
    const char *problem = NULL;
    if (n == 0) {
        /* cjson gives {} for both [] and {}; only an object with members is wrong. */
        lua_pushnil(L);
        if (lua_next(L, events)) {
            lua_pop(L, 2);
            return "events is not an array";
        }
        return NULL;
    }
    if (!lua_checkstack(L, 8)) /* the keys, an event, a key and a value */
        return "out of memory while checking the events";
    keys = lua_gettop(L) + 1;
    for (f = 0; f < 4; f++)
        lua_pushstring(L, EVENT_FIELDS[f]);
    event = keys + 4;
    for (i = 1; i <= n && !problem; i++) {
        lua_rawgeti(L, events, (int)i);
        if (!lua_istable(L, event)) {
            problem = "an event is not an object";
            break;
        }
        for (f = 0; f < 4; f++) {
            int type;
            lua_pushvalue(L, keys + f);
            lua_rawget(L, event);
            type = lua_type(L, -1);
            lua_pop(L, 1);
            if (type == LUA_TSTRING)
                continue;
            if (type != LUA_TNIL && type != LUA_TLIGHTUSERDATA) {
                problem = "an event field is not a string";
                break;
            }
            lua_pushvalue(L, keys + f);
            lua_pushliteral(L, "");
            lua_rawset(L, event);
        }
        lua_settop(L, event - 1);
    }
    lua_settop(L, keys - 1);
    return problem;
}

/* The page at `page`: events checked, counts made integers. Returns NULL
 * or the static reason it is not a page. */
static const char *normalise_page(lua_State *L, int page)
{
    static const char *const texts[] = {"order", "start_time", "end_time"};
    const char *problem;
    int i;
    lua_getfield(L, page, "events");
    if (lua_isnil(L, -1) || lua_type(L, -1) == LUA_TLIGHTUSERDATA) {
        lua_pop(L, 1);
        lua_newtable(L);
        lua_pushvalue(L, -1);
        lua_setfield(L, page, "events");
    } else if (!lua_istable(L, -1)) {
        return "events is not an array";
    }
    problem = check_events(L, lua_gettop(L));
    if (problem)
        return problem;
    if (normalise_count(L, page, "total", -1) != 0)
        return "total is not a whole number or numeric string";
    if (normalise_count(L, page, "limit", (long long)me_rawlen(L, -1)) != 0 ||
        normalise_count(L, page, "offset", 0) != 0)
        return "limit or offset is not a whole number or numeric string";
    lua_pop(L, 1); /* events */
    for (i = 0; i < 3; i++) {
        lua_getfield(L, page, texts[i]);
        if (!lua_isnil(L, -1) && lua_type(L, -1) != LUA_TSTRING) {
            lua_pushnil(L);
            lua_setfield(L, page, texts[i]);
        }
        lua_pop(L, 1);
    }
    return NULL;
}

/* job[to] = a string field `key` of the table at `from`, when it is one. */
static void copy_string_field(lua_State *L, int from, const char *key, int job, const char *to)
{
    lua_getfield(L, from, key);
    if (lua_type(L, -1) == LUA_TSTRING)
        lua_setfield(L, job, to);
    else
        lua_pop(L, 1);
}

/* The job at `raw` (the server's training job) as { id, name, phase,
 * secondary_phase, duration_ms, terminal, result, status }, pushed.
 * Returns NULL or the static reason it is not a job. */
static const char *normalise_job(lua_State *L, int raw)
{
    static const char *const terminal[][2] = {
        {"Completed", "completed"}, {"Failed", "failed"}, {"Abnormal", "failed"},
        {"Terminated", "terminated"}};
    int job, status, i;
    const char *phase;
    lua_getfield(L, raw, "status");
    if (!lua_istable(L, -1))
        return "the job has no status object";
    status = lua_gettop(L);
    lua_getfield(L, status, "phase");
    if (lua_type(L, -1) != LUA_TSTRING)
        return "the job's status.phase is not a string";
    phase = lua_tostring(L, -1);
    lua_createtable(L, 0, 8);
    job = lua_gettop(L);
    lua_pushvalue(L, -2);
    lua_setfield(L, job, "phase");
    lua_pushvalue(L, status);
    lua_setfield(L, job, "status");
    copy_string_field(L, status, "secondary_phase", job, "secondary_phase");
    lua_getfield(L, raw, "metadata");
    if (lua_istable(L, -1)) {
        copy_string_field(L, lua_gettop(L), "id", job, "id");
        copy_string_field(L, lua_gettop(L), "name", job, "name");
    }
    lua_pop(L, 1);
    lua_getfield(L, status, "duration");
    if (lua_type(L, -1) == LUA_TNUMBER || lua_type(L, -1) == LUA_TSTRING) {
        lua_setfield(L, job, "duration_ms");
        if (normalise_count(L, job, "duration_ms", -1) != 0)
            return "the job's status.duration is not a whole number";
    } else {
        lua_pop(L, 1);
    }
    lua_pushboolean(L, 0);
    for (i = 0; i < 4; i++) {
        if (strcmp(phase, terminal[i][0]) == 0) {
            lua_pop(L, 1);
            lua_pushboolean(L, 1);
            lua_pushstring(L, terminal[i][1]);
            lua_setfield(L, job, "result");
        }
    }
    lua_setfield(L, job, "terminal");
    return NULL;
}

int me_decode(lua_State *L, int decoder, enum me_shape shape, long status, const char *body,
              size_t len, const char *request_id)
{
    int top = lua_gettop(L), value;
    const char *problem;
    decoder = me_absindex(L, decoder);

    if (status < 200 || status > 299) {
        push_http_error(L, decoder, status, body, len, request_id);
        return 0;
    }
    lua_pushvalue(L, decoder);
    lua_pushlstring(L, body, len);
    lua_call(L, 1, 2);
    /* cjson gives a table for [] as for {}: only an object is a page */
    while (len && (*body == ' ' || *body == '\t' || *body == '\r' || *body == '\n'))
        body++, len--;
    if (lua_istable(L, -2) && *body != '{') {
        lua_pushboolean(L, 0);
        lua_replace(L, -3);
    }
    if (!lua_istable(L, -2)) {
        return push_decode_error(L, top, status, request_id,
                                 lua_isnil(L, -2) ? "the response body is not valid JSON"
                                                  : "the response body is not a JSON object");
    }
    lua_pop(L, 1);
    value = lua_gettop(L);
    if (shape == ME_SHAPE_PAGE && is_error_shape(L, value))
        return push_error_shape(L, top, value, status, request_id);
    problem = shape == ME_SHAPE_JOB ? normalise_job(L, value) : normalise_page(L, value);
    if (problem)
        return push_decode_error(L, top, status, request_id, problem);
    if (shape == ME_SHAPE_JOB)
        lua_replace(L, value);
    lua_settop(L, value);
    return 1;
}

/***
 * Decode a response the way `list` does: the page, or nil and the error
 * object (an HTTP error's code, message and request id read from any of the
 * body shapes the gateway and the service use).
 * @function decode
 * @int status the HTTP status
 * @string[opt] body
 * @tparam[opt] table headers any case; X-Request-Id is read
 * @return page, or nil and an error object
 */
int me_decode_lua(lua_State *L)
{
    size_t len = 0;
    long status;
    const char *body = "", *request_id;
    if (lua_type(L, 1) != LUA_TNUMBER || !(lua_tonumber(L, 1) >= 100) ||
        !(lua_tonumber(L, 1) <= 999) || lua_tonumber(L, 1) != (long)lua_tonumber(L, 1))
        me_error_argument(L, "status", "me.decode: status must be an HTTP status, 100 to 999");
    status = (long)lua_tonumber(L, 1);
    if (!lua_isnoneornil(L, 2)) {
        if (lua_type(L, 2) != LUA_TSTRING)
            me_error_argument(L, "body", "me.decode: body must be a string");
        body = lua_tolstring(L, 2, &len);
    }
    request_id = me_header_find(L, 3, "x-request-id");
    if (me_decode(L, lua_upvalueindex(1), ME_SHAPE_PAGE, status, body, len, request_id))
        return 1;
    lua_pushnil(L);
    lua_insert(L, -2);
    return 2;
}
