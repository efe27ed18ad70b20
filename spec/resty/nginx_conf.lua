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

# For resty.config_from_env (harness auth=env): a password login against
# the emulator's IAM; and proxies that lead nowhere, which only libcurl
# would follow.
env HUAWEICLOUD_SDK_DOMAIN=emulator-domain;
env HUAWEICLOUD_SDK_USER=emulator-user;
env HUAWEICLOUD_SDK_PASSWORD=emulator-password;
env HUAWEICLOUD_SDK_REGION=cn-north-4;
env HUAWEICLOUD_SDK_IAM_ENDPOINT=${EMULATOR};
env http_proxy=http://127.0.0.1:9;
env https_proxy=http://127.0.0.1:9;

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
