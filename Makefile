# modelarts-events - build, test, run.
#
#   make              build modelarts_events.so for Lua 5.4
#   make check        install what is missing (Debian), build, run the specs
#                     against the local emulator
#   make demo         the same set-up, then print the reference job's events
#   make emulator     run the emulator in the foreground (PORT=18080)
#
# Override the Lua the way lua-cjson's Makefile does:
#   make LUA_VERSION=5.1
#   make LUA_VERSION=jit            (LuaJIT 2.1, OpenResty's luajit2)
#   make LUA_INCLUDE_DIR=/opt/lua/include

LUA_VERSION ?= 5.4
PREFIX ?= /usr/local
DESTDIR ?=

ifeq ($(LUA_VERSION),jit)
LUA ?= luajit
LUA_INCLUDE_DIR ?= /usr/include/luajit-2.1
LUA_ABI = 5.1
else
LUA ?= lua$(LUA_VERSION)
LUA_INCLUDE_DIR ?= /usr/include/lua$(LUA_VERSION)
LUA_ABI = $(LUA_VERSION)
endif
LUA_CMODULE_DIR ?= $(PREFIX)/lib/lua/$(LUA_ABI)
LUA_MODULE_DIR ?= $(PREFIX)/share/lua/$(LUA_ABI)
LUA_BIN_DIR ?= $(PREFIX)/bin

PKG_CONFIG ?= pkg-config
CURL_CFLAGS ?= $(shell $(PKG_CONFIG) --cflags libcurl 2>/dev/null)
CURL_LIBS ?= $(shell $(PKG_CONFIG) --libs libcurl 2>/dev/null || echo -lcurl)
CRYPTO_CFLAGS ?= $(shell $(PKG_CONFIG) --cflags libcrypto 2>/dev/null)
CRYPTO_LIBS ?= $(shell $(PKG_CONFIG) --libs libcrypto 2>/dev/null || echo -lcrypto)

CC ?= cc
CFLAGS ?= -O2 -g
WARNINGS = -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wformat=2
ALL_CFLAGS = -std=gnu99 -D_DEFAULT_SOURCE -D_XOPEN_SOURCE=700 -fPIC $(WARNINGS) $(CFLAGS) \
             -I$(LUA_INCLUDE_DIR) $(CURL_CFLAGS) $(CRYPTO_CFLAGS) $(SANITIZE)
LDFLAGS ?=
SHARED = -shared

SRCS = $(wildcard src/*.c)
BUILD = build/$(LUA_VERSION)$(if $(SANITIZE),-san)
OBJS = $(SRCS:src/%.c=$(BUILD)/%.o)
SO = modelarts_events.so

VERSION = $(shell sed -n 's/^\#define ME_VERSION "\(.*\)"/\1/p' src/version.h)
PORT ?= 18080
TLS_PORT ?= 18443
EMULATOR_DIR ?= /tmp/modelarts-emulator-$(PORT)
BUSTED ?= $(LUA) /usr/bin/busted

.PHONY: all clean check test demo emulator deps spec version

all: $(SO)

$(SO): $(BUILD)/$(SO)
	cp $< $@

$(BUILD)/$(SO): $(OBJS)
	$(CC) $(SHARED) -o $@ $(OBJS) $(LDFLAGS) $(SANITIZE) $(CURL_LIBS) $(CRYPTO_LIBS)

$(BUILD)/%.o: src/%.c $(wildcard src/*.h) Makefile
	@mkdir -p $(BUILD)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

version:
	@echo $(VERSION)

# Debian packages the build, the specs, the emulator and the demo need;
# installed only when missing, so a second run costs nothing.
DEBS = build-essential pkg-config libcurl4-openssl-dev libssl-dev openssl \
       lua5.4 liblua5.4-dev lua-cjson lua-busted lua-argparse \
       nginx libnginx-mod-http-lua curl
deps:
	@missing=""; for p in $(DEBS) $(EXTRA_DEBS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

emulator:
	emulator/ctl run --port $(PORT)

# The specs, against an emulator started for them and stopped after them.
spec: all
	@emulator/ctl start --port $(PORT) --tls-port $(TLS_PORT) --dir $(EMULATOR_DIR) >/dev/null
	@ME_LUA=$(LUA) MODELARTS_EMULATOR=http://127.0.0.1:$(PORT) \
	 MODELARTS_EMULATOR_TLS=https://127.0.0.1:$(TLS_PORT) \
	 MODELARTS_EMULATOR_CA=$(EMULATOR_DIR)/ca.pem \
	 $(BUSTED) $(BUSTED_ARGS); rc=$$?; \
	 emulator/ctl stop --dir $(EMULATOR_DIR) >/dev/null; exit $$rc

check: deps
	$(MAKE) spec

test: check

demo: deps
	$(MAKE) all
	@emulator/ctl start --port $(PORT) --dir $(EMULATOR_DIR) >/dev/null
	@MODELARTS_ENDPOINT=http://127.0.0.1:$(PORT) $(LUA) examples/list_events.lua reference; rc=$$?; \
	 emulator/ctl stop --dir $(EMULATOR_DIR) >/dev/null; exit $$rc

clean:
	rm -rf build $(SO)
