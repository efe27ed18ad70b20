-- The nginx.conf of spec/resty_spec.lua's test server, as a template (a Lua
-- string so that luacheck, which checks every file under spec/, reads it as
-- Lua). The spec fills in ${DIR} (its temporary folder), ${PATHS} (the
-- directives that keep nginx's files there), ${PORT}, ${REPO}, ${CPATH} (a
-- folder holding the LuaJIT build of the C module), ${CA} (the emulator's
-- CA) and ${EMULATOR} (its URL).
--
-- Nothing here is for modelarts_events.resty itself but the trusted CA: it
-- needs no location of its own.
return [==[
# One worker, so that a blocked worker would show.
worker_processes 1;
daemon on;

load_module /usr/lib/nginx/modules/ndk_http_module.so;
load_module /usr/lib/nginx/modules/ngx_http_lua_module.so;

# storms: 200 requests, each with up to 4 connections to the emulator
events { worker_connections 2048; }

http {
    ${PATHS}
    lua_package_path "${REPO}/lua/?.lua;${REPO}/spec/resty/?.lua;;";
    lua_package_cpath "${CPATH}/?.so;/usr/lib/x86_64-linux-gnu/lua/5.1/?.so;;";

    # what https cosockets trust
    lua_ssl_trusted_certificate ${CA};
    lua_ssl_verify_depth 2;

    # results of the calls run in timers
    lua_shared_dict results 4m;

    init_worker_by_lua_block { require("harness").init_worker("${EMULATOR}") }

    server {
        listen 127.0.0.1:${PORT};

        location = /fast { return 200 "fast\n"; }
        # misbehaving HTTP servers, for the HTTP client
        location ~ ^/raw/(\w+)$ { content_by_lua_block { require("harness").raw(ngx.var[1]) } }
        location = /run { content_by_lua_block { require("harness").handle() } }
        location = /run_rewrite { rewrite_by_lua_block { require("harness").handle() } }
        location = /run_access { access_by_lua_block { require("harness").handle() } }
        location = /run_timer { content_by_lua_block { require("harness").handle_in_timer() } }
        # set_by_lua has no cosockets: the driver must say so
        location = /run_set {
            set_by_lua_block $answer { return require("harness").in_set(ngx.var.arg_endpoint) }
            return 200 $answer;
        }
        location = /init_worker { content_by_lua_block { require("harness").init_worker_result() } }

    }
}
]==]
