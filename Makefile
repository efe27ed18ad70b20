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

# Each Lua ABI builds into its own folder; the default one is also copied to
# the top, where examples and scripts run from the checkout find it.
ifeq ($(LUA_VERSION)$(SANITIZE),5.4)
all: $(SO)
else
all: $(BUILD)/$(SO)
endif

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
	@ME_LUA=$(LUA) ME_CPATH='./$(BUILD)/?.so' MODELARTS_EMULATOR=http://127.0.0.1:$(PORT) \
	 MODELARTS_EMULATOR_TLS=https://127.0.0.1:$(TLS_PORT) \
	 MODELARTS_EMULATOR_CA=$(EMULATOR_DIR)/ca.pem \
	 $(BUSTED) --cpath='./$(BUILD)/?.so' $(BUSTED_ARGS); rc=$$?; \
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

# ---- install ---------------------------------------------------------------
LUA_FILES = $(wildcard lua/modelarts_events/*.lua)
INSTALL ?= install

.PHONY: install uninstall
install: all
	$(INSTALL) -d $(DESTDIR)$(LUA_CMODULE_DIR) $(DESTDIR)$(LUA_MODULE_DIR)/modelarts_events $(DESTDIR)$(LUA_BIN_DIR)
	$(INSTALL) -m 755 $(BUILD)/$(SO) $(DESTDIR)$(LUA_CMODULE_DIR)/$(SO)
	$(INSTALL) -m 644 $(LUA_FILES) $(DESTDIR)$(LUA_MODULE_DIR)/modelarts_events/
	$(INSTALL) -m 755 bin/modelarts-events $(DESTDIR)$(LUA_BIN_DIR)/modelarts-events

uninstall:
	rm -f $(DESTDIR)$(LUA_CMODULE_DIR)/$(SO) $(DESTDIR)$(LUA_BIN_DIR)/modelarts-events
	rm -f $(addprefix $(DESTDIR)$(LUA_MODULE_DIR)/modelarts_events/,$(notdir $(LUA_FILES)))
	-rmdir $(DESTDIR)$(LUA_MODULE_DIR)/modelarts_events 2>/dev/null

# ---- more checks (CI runs them through `make ci`) --------------------------
MATRIX ?= 5.1 5.3 5.4 jit
MATRIX_DEBS = lua5.1 liblua5.1-dev lua5.3 liblua5.3-dev luajit2 libluajit2-5.1-dev
LINT_DEBS = lua-check cppcheck lua-ldoc luarocks
MEM_DEBS = valgrind
.PHONY: matrix lint doc rock memcheck asan fuzz bench ci install-check

# The whole suite on every Lua: one build per ABI, one emulator.
matrix:
	$(MAKE) deps EXTRA_DEBS="$(MATRIX_DEBS)"
	@set -e; for v in $(MATRIX); do \
	  echo "== Lua $$v"; $(MAKE) --no-print-directory spec LUA_VERSION=$$v; \
	done

lint:
	$(MAKE) deps EXTRA_DEBS="$(LINT_DEBS)"
	luacheck .
	cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability \
	  --std=c99 --inline-suppr -I src -I $(LUA_INCLUDE_DIR) src

doc:
	$(MAKE) deps EXTRA_DEBS="lua-ldoc"
	ldoc -q .

# Install with LuaRocks into a temporary tree, offline, and run a script from
# it: Debian's lua-cjson and argparse satisfy the dependencies.
ROCK_TREE ?= /tmp/modelarts-events-rocktree-$(LUA_ABI)
rock:
	$(MAKE) deps EXTRA_DEBS="luarocks $(if $(filter 5.1,$(LUA_VERSION)),lua5.1 liblua5.1-dev)"
	rm -rf $(ROCK_TREE) $(ROCK_TREE)-src && mkdir -p $(ROCK_TREE)-src
	@# luarocks builds in place: build a copy, so the checkout's own build stays
	cp -r src lua bin *.rockspec $(ROCK_TREE)-src/
	cd $(ROCK_TREE)-src && luarocks --lua-version=$(LUA_ABI) --tree=$(ROCK_TREE) make --deps-mode=none \
	  modelarts-events-scm-1.rockspec CURL_INCDIR=/usr/include/x86_64-linux-gnu \
	  OPENSSL_INCDIR=/usr/include OPENSSL_LIBDIR=/usr/lib/x86_64-linux-gnu \
	  CURL_LIBDIR=/usr/lib/x86_64-linux-gnu
	cd /tmp && eval "$$(luarocks --lua-version=$(LUA_ABI) --tree=$(ROCK_TREE) path)" && \
	  $(LUA) -e 'local me = require "modelarts_events"; require "modelarts_events.filter"; require "modelarts_events.follow"; print("installed " .. me.VERSION .. " from " .. (package.searchpath and package.searchpath("modelarts_events", package.cpath) or package.cpath))' && \
	  $(ROCK_TREE)/bin/modelarts-events --help >/dev/null && echo "rock: ok ($(LUA_VERSION))"

install-check:
	rm -rf /tmp/modelarts-events-destdir
	$(MAKE) install DESTDIR=/tmp/modelarts-events-destdir PREFIX=/usr
	test -f /tmp/modelarts-events-destdir/usr/lib/lua/$(LUA_ABI)/$(SO)
	test -f /tmp/modelarts-events-destdir/usr/share/lua/$(LUA_ABI)/modelarts_events/time.lua
	$(MAKE) uninstall DESTDIR=/tmp/modelarts-events-destdir PREFIX=/usr
	test ! -e /tmp/modelarts-events-destdir/usr/lib/lua/$(LUA_ABI)/$(SO)

# The suite under valgrind: no invalid access, no definite leak.
memcheck: all
	$(MAKE) deps EXTRA_DEBS="$(MEM_DEBS)"
	$(MAKE) spec BUSTED="valgrind -q --error-exitcode=99 --leak-check=full \
	  --errors-for-leak-kinds=definite --show-leak-kinds=definite $(LUA) /usr/bin/busted"

# The suite with the module built with AddressSanitizer and UBSan.
ASAN_LIBS = $(shell $(CC) -print-file-name=libasan.so) $(shell $(CC) -print-file-name=libubsan.so)
asan:
	$(MAKE) spec SANITIZE="-fsanitize=address,undefined,float-cast-overflow -fno-sanitize-recover=undefined,float-cast-overflow -fno-omit-frame-pointer" \
	  BUSTED="env LD_PRELOAD='$(ASAN_LIBS)' ASAN_OPTIONS=detect_leaks=0 $(LUA) /usr/bin/busted"

fuzz:
	$(MAKE) deps EXTRA_DEBS="$$(cat fuzz/packages.txt)"
	fuzz/run

bench:
	$(MAKE) deps EXTRA_DEBS="$$(cat bench/packages.txt)"
	$(MAKE) all
	bench/run

# The timeline pictures the README shows, from a real run against the
# emulator (needs Debian's chromium).
.PHONY: screenshots
screenshots: all
	$(MAKE) deps EXTRA_DEBS="chromium"
	images/shoot $(PORT) $(EMULATOR_DIR) $(LUA)

# Everything CI runs after `make check`.
ci: check matrix lint rock install-check memcheck asan fuzz
