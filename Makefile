# modelarts-events - build, test, run.
#
#   make              build modelarts_events.so for Lua 5.4
#   make check        install what is missing (Debian), build, run the specs
#                     against the local emulator
#   make demo         the same set-up, then print the reference job's events
#   make emulator     run the emulator in the foreground (PORT=18080)
#
# check, spec and demo start an emulator of their own (tools/with-emulator):
# on four free ports unless PORT is given (then PORT..PORT+3: TLS_PORT,
# ME_RESTY_PORT, PROXY_PORT), with its own state folder, so a `make emulator`
# in another terminal keeps running.
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
BUILD ?= build/$(LUA_VERSION)$(if $(SANITIZE),-san)
OBJS = $(SRCS:src/%.c=$(BUILD)/%.o)
SO = modelarts_events.so

VERSION = $(shell sed -n 's/^\#define ME_VERSION "\(.*\)"/\1/p' src/version.h)
BUSTED ?= $(LUA) /usr/bin/busted

# The user's emulator (`make emulator`) listens on PORT, 18080 by default;
# the specs' and the demo's own emulator on PORT only when it is given.
ifeq ($(origin PORT),undefined)
WITH_EMULATOR = PORT=auto tools/with-emulator
PORT = 18080
else
WITH_EMULATOR = PORT=$(PORT) $(if $(TLS_PORT),TLS_PORT=$(TLS_PORT)) \
  $(if $(PROXY_PORT),PROXY_PORT=$(PROXY_PORT)) $(if $(EMULATOR_DIR),EMULATOR_DIR=$(EMULATOR_DIR)) \
  tools/with-emulator
endif

.PHONY: all clean check test demo emulator deps spec version readme-samples readme-check

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
# `make check` needs all of them: the resty spec builds the module for
# LuaJIT, the browser specs drive chromium, the first-contact spec listens
# with LuaSocket, the CLI's memory specs measure with GNU time.
DEBS = build-essential pkg-config libcurl4-openssl-dev libssl-dev openssl \
       lua5.4 liblua5.4-dev lua-cjson lua-busted lua-argparse lua-socket \
       luajit2 libluajit2-5.1-dev nginx libnginx-mod-http-lua curl chromium time
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
	@$(WITH_EMULATOR) env ME_LUA=$(LUA) ME_CPATH='./$(BUILD)/?.so' \
	  $(BUSTED) --cpath='./$(BUILD)/?.so' $(BUSTED_ARGS)

check: deps
	$(MAKE) spec

test: check

demo: deps
	$(MAKE) all
	@$(WITH_EMULATOR) sh -c 'MODELARTS_ENDPOINT=$$MODELARTS_EMULATOR HUAWEICLOUD_SDK_PROJECT_ID=0a1b2c3d4e5f \
	  MODELARTS_TOKEN=emulator-token exec $(LUA) examples/list_events.lua reference'

# The README's sample outputs, from real runs against the emulator.
readme-samples: all
	@$(WITH_EMULATOR) $(LUA) tools/readme-samples.lua README.md
readme-check: all
	@$(WITH_EMULATOR) $(LUA) tools/readme-samples.lua --check README.md

clean:
	rm -rf build $(SO)

# ---- install ---------------------------------------------------------------
# Every Lua module under lua/ (subfolders too), installed at the same path.
LUA_FILES = $(shell find lua/modelarts_events -name '*.lua' | sort)
INSTALL ?= install
# The command line runs on the Lua the module was built for.
LUA_SHEBANG = $(if $(findstring /,$(LUA)),$(LUA),/usr/bin/env $(LUA))

# $(1): the module to install.
define install_files
	$(INSTALL) -d $(DESTDIR)$(LUA_CMODULE_DIR) $(DESTDIR)$(LUA_BIN_DIR)
	$(INSTALL) -m 755 $(1) $(DESTDIR)$(LUA_CMODULE_DIR)/$(SO)
	for f in $(LUA_FILES:lua/%=%); do \
	  $(INSTALL) -d $(DESTDIR)$(LUA_MODULE_DIR)/$$(dirname $$f) && \
	  $(INSTALL) -m 644 lua/$$f $(DESTDIR)$(LUA_MODULE_DIR)/$$f || exit 1; \
	done
	sed '1s|^#!.*|#!$(LUA_SHEBANG)|' bin/modelarts-events > $(DESTDIR)$(LUA_BIN_DIR)/modelarts-events
	chmod 755 $(DESTDIR)$(LUA_BIN_DIR)/modelarts-events
endef

.PHONY: install uninstall luarocks-build luarocks-install
install: all
	$(call install_files,$(BUILD)/$(SO))

uninstall:
	rm -f $(DESTDIR)$(LUA_CMODULE_DIR)/$(SO) $(DESTDIR)$(LUA_BIN_DIR)/modelarts-events
	rm -f $(addprefix $(DESTDIR)$(LUA_MODULE_DIR)/,$(LUA_FILES:lua/%=%))
	-cd $(DESTDIR)$(LUA_MODULE_DIR) 2>/dev/null && find modelarts_events -depth -type d -empty -delete

# LuaRocks (build.type = "make" in the rockspecs) builds for the Lua it
# drives, in a folder of its own and from scratch each time: never into
# ./modelarts_events.so, where the checkout's scripts would load it.
ROCK_BUILD = build/luarocks
luarocks-build:
	@$(PKG_CONFIG) --exists libcurl libcrypto || { echo "modelarts-events: libcurl's and OpenSSL's \
	development files are missing (Debian: apt-get install libcurl4-openssl-dev libssl-dev)" >&2; exit 1; }
	rm -rf $(ROCK_BUILD)
	$(MAKE) $(ROCK_BUILD)/$(SO) BUILD=$(ROCK_BUILD)
luarocks-install:
	$(call install_files,$(ROCK_BUILD)/$(SO))

# ---- more checks (CI runs them through `make ci`) --------------------------
MATRIX ?= 5.1 5.3 5.4 jit
MATRIX_DEBS = lua5.1 liblua5.1-0-dev lua5.3 liblua5.3-dev luajit2 libluajit2-5.1-dev
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

# The LDoc reference into build/doc, Markdown through lua-discount (ldoc runs
# on Lua 5.1 or 5.2, and lua-ldoc brings neither); then
# every public function must be in it exactly once (tools/doc-check.lua).
doc:
	$(MAKE) deps EXTRA_DEBS="lua-ldoc lua-discount lua5.1"
	$(MAKE) all
	@for f in $$(grep -l '^/\*\*\*' src/*.c); do grep -q "\"$$f\"" config.ld || \
	  { echo "doc: $$f has LDoc comments but is not in config.ld's file list" >&2; exit 1; }; done
	rm -rf build/doc
	ldoc -q .
	$(LUA) tools/doc-check.lua build/doc

# The README's LuaRocks block, run as written (for another Lua, with its
# --lua-version) in a clean environment whose HOME is a scratch folder; the
# checkout's own ./modelarts_events.so must come out untouched.
ROCK_HOME ?= /tmp/modelarts-events-rock-home-$(LUA_ABI)
rock:
	$(MAKE) deps EXTRA_DEBS="luarocks $(if $(filter 5.4,$(LUA_ABI)),,lua$(LUA_ABI) liblua$(LUA_ABI)$(if $(filter 5.1,$(LUA_ABI)),-0)-dev)"
	rm -rf $(ROCK_HOME) && mkdir -p $(ROCK_HOME)
	lua5.4 tools/readme-block.lua luarocks | sed 's/--lua-version=5\.4/--lua-version=$(LUA_ABI)/g' > $(ROCK_HOME)/install.sh
	@before=$$(md5sum modelarts_events.so 2>&1); \
	env -i HOME=$(ROCK_HOME) PATH=/usr/local/bin:/usr/bin:/bin sh -ex $(ROCK_HOME)/install.sh && \
	if [ "$$before" != "$$(md5sum modelarts_events.so 2>&1)" ]; then \
	  echo "rock: luarocks make changed ./modelarts_events.so" >&2; exit 1; fi
	@echo "rock: ok (Lua $(LUA_ABI)); ./modelarts_events.so untouched"

# make install for every Lua into a scratch DESTDIR; each installed command
# line, started through its own shebang, reads the emulator with the module
# installed beside it; then make uninstall leaves nothing behind.
INSTALL_CHECK_DIR ?= /tmp/modelarts-events-destdir
install-check:
	$(MAKE) deps EXTRA_DEBS="$(MATRIX_DEBS)"
	@set -e; for v in $(MATRIX); do \
	  d=$(INSTALL_CHECK_DIR)-$$v; rm -rf $$d; \
	  $(MAKE) --no-print-directory -s install LUA_VERSION=$$v DESTDIR=$$d PREFIX=/usr >/dev/null; \
	done
	@$(WITH_EMULATOR) sh -ec 'for v in $(MATRIX); do \
	  d=$(INSTALL_CHECK_DIR)-$$v; abi=$$v; lua=lua$$v; \
	  if [ $$v = jit ]; then abi=5.1; lua=luajit; fi; \
	  test "$$(head -n 1 $$d/usr/bin/modelarts-events)" = "#!/usr/bin/env $$lua"; \
	  out=$$(env -i PATH=/usr/bin:/bin LUA_PATH="$$d/usr/share/lua/$$abi/?.lua;;" \
	    LUA_CPATH="$$d/usr/lib/lua/$$abi/?.so;;" $$d/usr/bin/modelarts-events \
	    --endpoint $$MODELARTS_EMULATOR --project-id 0a1b2c3d4e5f --token emulator-token \
	    --max-items 1 --format json reference); \
	  case $$out in *"Training job failed."*) ;; *) echo "install-check: $$v: $$out" >&2; exit 1;; esac; \
	  echo "install-check: Lua $$v: #!/usr/bin/env $$lua, the installed CLI works"; \
	done'
	@set -e; for v in $(MATRIX); do \
	  d=$(INSTALL_CHECK_DIR)-$$v; \
	  $(MAKE) --no-print-directory -s uninstall LUA_VERSION=$$v DESTDIR=$$d PREFIX=/usr >/dev/null; \
	  left=$$(find $$d -type f); test -z "$$left" || { echo "install-check: left behind: $$left" >&2; exit 1; }; \
	  rm -rf $$d; \
	done

# The suite under valgrind: no invalid access, no definite leak.
memcheck:
	$(MAKE) deps EXTRA_DEBS="$(MEM_DEBS)"
	$(MAKE) spec BUSTED="valgrind -q --error-exitcode=99 --leak-check=full \
	  --errors-for-leak-kinds=definite --show-leak-kinds=definite $(LUA) /usr/bin/busted"

# The suite with the module built with AddressSanitizer and UBSan.
ASAN_LIBS = $(shell $(CC) -print-file-name=libasan.so) $(shell $(CC) -print-file-name=libubsan.so)
asan: deps
	$(MAKE) spec SANITIZE="-fsanitize=address,undefined,float-cast-overflow -fno-sanitize-recover=undefined,float-cast-overflow -fno-omit-frame-pointer" \
	  BUSTED="env LD_PRELOAD='$(ASAN_LIBS)' ASAN_OPTIONS=detect_leaks=0 $(LUA) /usr/bin/busted"

# $(shell) turns the package lists' newlines into spaces.
fuzz:
	$(MAKE) deps EXTRA_DEBS="$(shell cat fuzz/packages.txt)"
	fuzz/run

bench:
	$(MAKE) deps EXTRA_DEBS="$(shell cat bench/packages.txt)"
	$(MAKE) all
	bench/run

# The timeline pictures the README shows, from a real run against the
# emulator (needs Debian's chromium). images/shoot starts the emulator
# itself, on PORT with its own state folder.
.PHONY: screenshots
screenshots: all
	$(MAKE) deps EXTRA_DEBS="chromium"
	images/shoot $(PORT) $(or $(EMULATOR_DIR),$${TMPDIR:-/tmp}/modelarts-events-screenshots-$(PORT)) $(LUA)

# What .ci/run runs on the machine itself, after the README's two commands
# on a brand-new Debian root.
ci: matrix lint install-check memcheck asan rock doc readme-check fuzz
