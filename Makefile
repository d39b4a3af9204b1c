# notifyhub: build, test, demo and bench.
#
#   make demo    install what is missing, build, run examples/worker_pool.lua
#                against a loopback Feishu stand-in (or FEISHU_WEBHOOK_URL)
#   make test    install what is missing, build, run the specs on Lua 5.4 and LuaJIT
#   make bench   print the benchmark figures (not a test)
#   make build   the two modules: build/lua5.4/notifyhub/core.so, build/luajit/...

CC       ?= cc
CFLAGS   ?= -O2 -g
WARN      = -Wall -Wextra -Wshadow -Wno-unused-parameter
BASEFLAGS = -std=c11 -D_GNU_SOURCE -fPIC -fvisibility=hidden -pthread $(WARN)
CJSON_INC = -I/usr/include/cjson
LIBS      = -lcurl -lcjson -lcrypto -lm -pthread

LUA54_INC  ?= -I/usr/include/lua5.4
LUAJIT_INC ?= -I/usr/include/luajit-2.1

CORE_SRC    = $(wildcard csrc/nh_*.c)
BINDING_SRC = $(wildcard csrc/lnh_*.c)
HEADERS     = $(wildcard csrc/*.h)

BUILD = build
MOD54  = $(BUILD)/lua5.4/notifyhub/core.so
MODJIT = $(BUILD)/luajit/notifyhub/core.so
DRIVER = $(BUILD)/core_driver

.PHONY: all build deps test test-lua5.4 test-luajit demo bench clean rock rock-install asan lint tsan

all: build

build: $(MOD54) $(MODJIT) $(DRIVER)

$(MOD54): $(CORE_SRC) $(BINDING_SRC) $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(BASEFLAGS) $(CJSON_INC) $(LUA54_INC) -shared -o $@ $(CORE_SRC) $(BINDING_SRC) $(LIBS)

$(MODJIT): $(CORE_SRC) $(BINDING_SRC) $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(BASEFLAGS) $(CJSON_INC) $(LUAJIT_INC) -shared -o $@ $(CORE_SRC) $(BINDING_SRC) $(LIBS)

# The core alone, with no Lua header or library: a C program that drives it
# (spec/core_spec.lua runs it and checks that the core needs no Lua symbol).
$(DRIVER): spec/support/core_driver.c $(CORE_SRC) $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(BASEFLAGS) $(CJSON_INC) -Icsrc -o $@ spec/support/core_driver.c $(CORE_SRC) $(LIBS)

# The LuaRocks build (notifyhub-scm-1.rockspec): LuaRocks passes LUA_INCDIR
# for the Lua it builds for, then INST_LIBDIR / INST_LUADIR to install.
ROCK_MOD = $(BUILD)/rock/notifyhub/core.so

# A Lua 5.1 tree without Lua 5.1 headers builds against LuaJIT's; with
# them, the module uses the 5.1 API only and loads in LuaJIT all the same.
rock:
	@mkdir -p $(dir $(ROCK_MOD))
	inc="$(LUA_INCDIR)"; [ -f "$$inc/lua.h" ] || inc=/usr/include/luajit-2.1; \
	$(CC) $(CFLAGS) $(BASEFLAGS) $(CJSON_INC) -I"$$inc" -shared -o $(ROCK_MOD) $(CORE_SRC) $(BINDING_SRC) $(LIBS)

rock-install:
	install -d $(INST_LIBDIR)/notifyhub $(INST_LUADIR)/notifyhub
	install -m 755 $(ROCK_MOD) $(INST_LIBDIR)/notifyhub/core.so
	install -m 644 lua/notifyhub/*.lua $(INST_LUADIR)/notifyhub/

# The whole suite with both modules built under AddressSanitizer and
# UndefinedBehaviorSanitizer (the interpreters are not instrumented: the
# runtime is preloaded). nginx in spec/ngx_spec.lua loads the normal build.
ASAN_DIR   = $(BUILD)/asan
ASAN_FLAGS = -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
ASAN_RT    = $(shell $(CC) -print-file-name=libasan.so)

asan: deps build
	@mkdir -p $(ASAN_DIR)/lua5.4/notifyhub $(ASAN_DIR)/luajit/notifyhub
	$(CC) $(ASAN_FLAGS) $(BASEFLAGS) $(CJSON_INC) $(LUA54_INC) -shared -o $(ASAN_DIR)/lua5.4/notifyhub/core.so $(CORE_SRC) $(BINDING_SRC) $(LIBS)
	$(CC) $(ASAN_FLAGS) $(BASEFLAGS) $(CJSON_INC) $(LUAJIT_INC) -shared -o $(ASAN_DIR)/luajit/notifyhub/core.so $(CORE_SRC) $(BINDING_SRC) $(LIBS)
	NOTIFYHUB_BUILD=$(ASAN_DIR) LD_PRELOAD=$(ASAN_RT) \
	ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:detect_odr_violation=0 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	sh tools/run-specs.sh

# The core from C (no Lua) under ThreadSanitizer: owners submitting and
# taking, cancels from another thread, detached jobs, retries, rate limits,
# deadlines, the elastic pool, direct and inline modes, close.
$(BUILD)/tsan_core: tests/tsan_core.c $(CORE_SRC) $(HEADERS)
	@mkdir -p $(dir $@)
	clang -g -O1 -fsanitize=thread -std=c11 -D_GNU_SOURCE -pthread $(CJSON_INC) -Icsrc -o $@ tests/tsan_core.c $(CORE_SRC) $(LIBS)

tsan: deps $(BUILD)/tsan_core
	lua5.4 tools/tsan.lua

lint:
	cppcheck --quiet --error-exitcode=1 --enable=warning,portability,performance --std=c11 \
	  -I csrc -I /usr/include/cjson --suppress=missingIncludeSystem csrc/

# Installs the Debian packages the build, the specs and the demo need, when
# one is missing (needs root, or sudo).
deps:
	@sh tools/deps.sh

test: deps build
	@sh tools/run-specs.sh

test-lua5.4: build
	@sh tools/run-specs.sh lua5.4

test-luajit: build
	@sh tools/run-specs.sh luajit

demo: deps build
	@sh tools/demo.sh

bench: deps build $(BUILD)/curl_multi
	@lua5.4 bench/run.lua
	@lua5.4 bench/ngx.lua

# libcurl alone, the benchmark's reference for what libcurl reaches here.
$(BUILD)/curl_multi: bench/curl_multi.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -std=c11 -D_GNU_SOURCE -pthread $(WARN) -o $@ $< -lcurl

clean:
	rm -rf $(BUILD)
