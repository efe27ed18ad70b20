-- The nginx.conf of spec/resty_spec.lua, as a template (a Lua string so that
-- luacheck, which checks every file under spec/, reads it as Lua).
local M = {}

-- nginx for spec/resty_spec.lua: the spec fills in ${PREFIX}, ${PORT},
-- ${REPO}, ${CPATH} (a folder holding the LuaJIT build of the C module) and
-- ${TLS_LOCATIONS} (M.tls with ${CA}, or nothing when there is no CA file).
M.conf = [==[
# One worker, so that a blocked worker would show.
worker_processes 1;
daemon on;
pid ${PREFIX}/nginx.pid;
error_log ${PREFIX}/logs/error.log info;

load_module /usr/lib/nginx/modules/ndk_http_module.so;
load_module /usr/lib/nginx/modules/ngx_http_lua_module.so;

events { worker_connections 256; }

http {
    access_log ${PREFIX}/logs/access.log;
    client_body_temp_path ${PREFIX}/tmp/body;
    proxy_temp_path ${PREFIX}/tmp/proxy;
    fastcgi_temp_path ${PREFIX}/tmp/fastcgi;
    uwsgi_temp_path ${PREFIX}/tmp/uwsgi;
    scgi_temp_path ${PREFIX}/tmp/scgi;

    lua_package_path "${REPO}/lua/?.lua;${REPO}/spec/resty/?.lua;;";
    lua_package_cpath "${CPATH}/?.so;/usr/lib/x86_64-linux-gnu/lua/5.1/?.so;;";

    server {
        listen 127.0.0.1:${PORT};

        # The internal location modelarts_events.resty sends its requests to.
        location = /_modelarts_events {
            internal;
            set $modelarts_events_url '';
            set $modelarts_events_host '';
            rewrite_by_lua_block { require("modelarts_events.resty").proxy() }
            body_filter_by_lua_block { require("modelarts_events.resty").body_filter() }
            proxy_pass $modelarts_events_url;
            proxy_set_header Host $modelarts_events_host;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_pass_request_body off;
            proxy_intercept_errors off;
            proxy_connect_timeout 5s;
            proxy_read_timeout 10s;
        }

        # The same with a read timeout shorter than the emulator's slow pages.
        location = /_modelarts_events_short {
            internal;
            set $modelarts_events_url '';
            set $modelarts_events_host '';
            rewrite_by_lua_block { require("modelarts_events.resty").proxy() }
            body_filter_by_lua_block { require("modelarts_events.resty").body_filter() }
            proxy_pass $modelarts_events_url;
            proxy_set_header Host $modelarts_events_host;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_pass_request_body off;
            proxy_intercept_errors off;
            proxy_read_timeout 1s;
        }

${TLS_LOCATIONS}
        # A location that forgot the hook.
        location = /_not_set_up {
            internal;
            return 200 "{}";
        }

        location = /fast { return 200 "fast\n"; }
        location = /run { content_by_lua_file ${REPO}/spec/resty/handler.lua; }
    }
}
]==]

-- The internal locations for https: one that trusts the emulator's CA, one
-- that trusts only the system's CAs (so verification must fail).
M.tls = [==[
        location = /_modelarts_events_tls {
            internal;
            set $modelarts_events_url '';
            set $modelarts_events_host '';
            rewrite_by_lua_block { require("modelarts_events.resty").proxy() }
            body_filter_by_lua_block { require("modelarts_events.resty").body_filter() }
            proxy_pass $modelarts_events_url;
            proxy_set_header Host $modelarts_events_host;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_pass_request_body off;
            proxy_intercept_errors off;
            proxy_ssl_server_name on;
            proxy_ssl_verify on;
            proxy_ssl_trusted_certificate ${CA};
            proxy_ssl_name ${TLS_NAME};
        }

        location = /_modelarts_events_untrusted {
            internal;
            set $modelarts_events_url '';
            set $modelarts_events_host '';
            rewrite_by_lua_block { require("modelarts_events.resty").proxy() }
            body_filter_by_lua_block { require("modelarts_events.resty").body_filter() }
            proxy_pass $modelarts_events_url;
            proxy_set_header Host $modelarts_events_host;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_pass_request_body off;
            proxy_intercept_errors off;
            proxy_ssl_server_name on;
            proxy_ssl_verify on;
            proxy_ssl_trusted_certificate /etc/ssl/certs/ca-certificates.crt;
        }
]==]

return M
