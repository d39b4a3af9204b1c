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
LIBS      = -lcurl -lcjson -lcmark -lcrypto -lm -pthread

LUA54_INC  ?= -I/usr/include/lua5.4
LUAJIT_INC ?= -I/usr/include/luajit-2.1

CORE_SRC    = $(wildcard csrc/nh_*.c)
BINDING_SRC = $(wildcard csrc/lnh_*.c)
HEADERS     = $(wildcard csrc/*.h)

BUILD = build
MOD54  = $(BUILD)/lua5.4/notifyhub/core.so
MODJIT = $(BUILD)/luajit/notifyhub/core.so
DRIVER = $(BUILD)/core_driver

.PHONY: all build deps test test-lua5.4 test-luajit demo bench clean rock rock-install asan lint tsan \
        asan-core fuzz fuzz-build valgrind check test-clang

all: build

EXIT_TEST = $(BUILD)/hardening_exit
FAIL_TEST = $(BUILD)/fail_job

build: $(MOD54) $(MODJIT) $(DRIVER) $(EXIT_TEST) $(FAIL_TEST)

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

# tests/hardening_exit.c: cancels racing deliveries, hostile delays, exit()
# with a client open, from C (spec/hardening_exit_spec.lua runs it).
$(EXIT_TEST): tests/hardening_exit.c $(CORE_SRC) $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(BASEFLAGS) $(CJSON_INC) -Icsrc -o $@ tests/hardening_exit.c $(CORE_SRC) $(LIBS)

# tests/fail_job.c: jobs failing before any request (a thread or the queue
# cannot get memory) end in one record each (spec/core_fail_spec.lua).
$(FAIL_TEST): tests/fail_job.c $(CORE_SRC) $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(BASEFLAGS) $(CJSON_INC) -Icsrc -o $@ tests/fail_job.c $(CORE_SRC) $(LIBS)

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
# float-cast-overflow: a NaN or 1e300 turned into an int is undefined behaviour that
# gcc's -fsanitize=undefined does not catch by itself.
ASAN_FLAGS = -O1 -g -fsanitize=address,undefined,float-cast-overflow -fno-omit-frame-pointer \
             -fno-sanitize-recover=undefined,float-cast-overflow
ASAN_RT    = $(shell $(CC) -print-file-name=libasan.so)

asan: deps build
	@mkdir -p $(ASAN_DIR)/lua5.4/notifyhub $(ASAN_DIR)/luajit/notifyhub
	$(CC) $(ASAN_FLAGS) $(BASEFLAGS) $(CJSON_INC) $(LUA54_INC) -shared -o $(ASAN_DIR)/lua5.4/notifyhub/core.so $(CORE_SRC) $(BINDING_SRC) $(LIBS)
	$(CC) $(ASAN_FLAGS) $(BASEFLAGS) $(CJSON_INC) $(LUAJIT_INC) -shared -o $(ASAN_DIR)/luajit/notifyhub/core.so $(CORE_SRC) $(BINDING_SRC) $(LIBS)
	NOTIFYHUB_BUILD=$(ASAN_DIR) LD_PRELOAD=$(ASAN_RT) \
	ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:detect_odr_violation=0 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	sh tools/run-specs.sh

# The suite with both modules built by clang (warnings are errors), beside
# the gcc build that make test uses.
CLANG_DIR = $(BUILD)/clang
test-clang: deps
	@mkdir -p $(CLANG_DIR)/lua5.4/notifyhub $(CLANG_DIR)/luajit/notifyhub
	clang $(CFLAGS) -Werror $(BASEFLAGS) $(CJSON_INC) $(LUA54_INC) -shared -o $(CLANG_DIR)/lua5.4/notifyhub/core.so $(CORE_SRC) $(BINDING_SRC) $(LIBS)
	clang $(CFLAGS) -Werror $(BASEFLAGS) $(CJSON_INC) $(LUAJIT_INC) -shared -o $(CLANG_DIR)/luajit/notifyhub/core.so $(CORE_SRC) $(BINDING_SRC) $(LIBS)
	NOTIFYHUB_BUILD=$(CLANG_DIR) sh tools/run-specs.sh

# The core from C (no Lua): tests/stress_core.c (producer threads sharing a
# client or each with its own, foreign cancels, a taker thread, detached
# jobs, closes racing submits, retries, deadlines, rate limits, the elastic
# pool; pool, direct and inline modes) and tests/cancel_expire.c (a cancel
# racing the queued-deadline sweep) and tests/hardening_exit.c (cancels
# racing deliveries, NaN/inf/negative retry policies), against the
# loopback server.
# STRESS_ROUNDS rounds of every run; STRESS_FLAGS e.g. --seed 7.
STRESS_ROUNDS ?= 2
STRESS_FLAGS  ?=
CORE_TESTS     = stress_core cancel_expire hardening_exit
CORE_TEST_FLAGS = -g -O1 -fno-omit-frame-pointer -std=c11 -D_GNU_SOURCE -pthread $(WARN) $(CJSON_INC) -Icsrc

$(addprefix $(BUILD)/tsan/,$(CORE_TESTS)): $(BUILD)/tsan/%: tests/%.c $(CORE_SRC) $(HEADERS)
	@mkdir -p $(dir $@)
	clang -fsanitize=thread $(CORE_TEST_FLAGS) -o $@ $< $(CORE_SRC) $(LIBS)

$(addprefix $(BUILD)/asan/,$(CORE_TESTS)): $(BUILD)/asan/%: tests/%.c $(CORE_SRC) $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) -fsanitize=address,undefined,float-cast-overflow \
	  -fno-sanitize-recover=undefined,float-cast-overflow $(CORE_TEST_FLAGS) -o $@ $< $(CORE_SRC) $(LIBS)

# make tsan: under ThreadSanitizer; any report fails (halt_on_error).
tsan: deps $(addprefix $(BUILD)/tsan/,$(CORE_TESTS))
	TSAN_OPTIONS='halt_on_error=1 second_deadlock_stack=1' \
	  timeout 600 lua5.4 tools/with-server.lua sh -c \
	  '$(BUILD)/tsan/cancel_expire {base} 10 && $(BUILD)/tsan/stress_core {base} $(STRESS_ROUNDS) $(STRESS_FLAGS) \
	   && $(BUILD)/tsan/hardening_exit cancel {base}/sink 2000 \
	   && $(BUILD)/tsan/hardening_exit delays {base}/sink http://127.0.0.1:1/x'

# make asan-core: the same programs under AddressSanitizer and UBSan (a job
# ended twice shows as a use after free), leaks included.
asan-core: deps $(addprefix $(BUILD)/asan/,$(CORE_TESTS))
	ASAN_OPTIONS=abort_on_error=1:detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  timeout 600 lua5.4 tools/with-server.lua sh -c \
	  '$(BUILD)/asan/cancel_expire {base} 20 && $(BUILD)/asan/stress_core {base} $(STRESS_ROUNDS) $(STRESS_FLAGS) \
	   && $(BUILD)/asan/hardening_exit cancel {base}/sink 2000 \
	   && $(BUILD)/asan/hardening_exit delays {base}/sink http://127.0.0.1:1/x'

# libFuzzer targets (fuzz/*.c; seeds and past findings in fuzz/corpus/<target>/),
# each run for FUZZ_SECONDS; a crash's input lands in build/fuzz/artifacts/.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS  = classify render plan json redact text
FUZZ_DIR      = $(BUILD)/fuzz
FUZZ_FLAGS    = -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
                -fno-omit-frame-pointer -std=c11 -D_GNU_SOURCE -pthread $(CJSON_INC) -Icsrc
FUZZ_DEPS     = fuzz/fuzz_input.h $(HEADERS)

fuzz-build: $(addprefix $(FUZZ_DIR)/,$(FUZZ_TARGETS))

$(FUZZ_DIR)/classify $(FUZZ_DIR)/render $(FUZZ_DIR)/text: $(FUZZ_DIR)/%: fuzz/%.c $(FUZZ_DEPS) $(CORE_SRC)
	@mkdir -p $(dir $@)
	clang $(FUZZ_FLAGS) -o $@ $< $(CORE_SRC) $(LIBS)

# nh_text.c is compiled inside fuzz/plan.c (its platform lookup redirected).
$(FUZZ_DIR)/plan: fuzz/plan.c $(FUZZ_DEPS) $(CORE_SRC)
	@mkdir -p $(dir $@)
	clang $(FUZZ_FLAGS) -o $@ $< $(filter-out csrc/nh_text.c,$(CORE_SRC)) $(LIBS)

$(FUZZ_DIR)/json: fuzz/json.c csrc/lnh_json.c $(FUZZ_DEPS)
	@mkdir -p $(dir $@)
	clang $(FUZZ_FLAGS) $(LUA54_INC) -o $@ $< csrc/lnh_json.c $(LIBS) -llua5.4

$(FUZZ_DIR)/redact: fuzz/redact.c $(FUZZ_DEPS)
	@mkdir -p $(dir $@)
	clang $(FUZZ_FLAGS) $(LUA54_INC) -DNH_LUA_DIR='"$(CURDIR)/lua"' -o $@ $< -llua5.4 -lm

fuzz: deps fuzz-build
	sh tools/fuzz.sh $(FUZZ_SECONDS) $(FUZZ_TARGETS)

# The suite on Lua 5.4 under valgrind memcheck (tools/valgrind-lua.sh, with
# tools/valgrind.supp): any memory error or definite/indirect leak fails the
# run. VALGRIND_SPECS narrows it (default: every spec).
VALGRIND_SPECS ?=
valgrind: deps build
	sh tools/valgrind-specs.sh $(VALGRIND_SPECS)

# What CI runs after make test (tools/check.sh): asan, asan-core, tsan and a
# short fuzz pass, each with a time limit.
check: deps
	sh tools/check.sh

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
	@lua5.4 bench/split.lua

# libcurl alone, the benchmark's reference for what libcurl reaches here.
$(BUILD)/curl_multi: bench/curl_multi.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -std=c11 -D_GNU_SOURCE -pthread $(WARN) -o $@ $< -lcurl

clean:
	rm -rf $(BUILD)
