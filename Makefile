# notifyhub: build, test, demo and bench.
#
#   make demo    install what is missing, build, run examples/worker_pool.lua
#                against a loopback Feishu stand-in (or FEISHU_WEBHOOK_URL)
#   make test    install what is missing, build, run the specs on Lua 5.4 and LuaJIT
#   make bench   print the benchmark figures (not a test)
#   make build   the two modules: build/lua5.4/notifyhub/core.so, build/luajit/...
#   make lint    cppcheck, clang-format's check of the C, luacheck over lua/ and spec/
#   make format  rewrites the C in the style of .clang-format

CC       ?= cc
CFLAGS   ?= -O2 -g
WARN      = -Wall -Wextra -Wshadow -Wno-unused-parameter
BASEFLAGS = -std=c11 -D_GNU_SOURCE -fPIC -fvisibility=hidden -pthread $(WARN)
CJSON_INC = -I/usr/include/cjson
# hiredis: the Redis spool (csrc/nh_redis*.c); Debian's libhiredis-dev has a .pc file.
HIREDIS_LIBS := $(shell pkg-config --libs hiredis 2>/dev/null || echo -lhiredis)
LIBS      = -lcurl -lcjson -lcmark -lcrypto -lsqlite3 $(HIREDIS_LIBS) -lm -pthread

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
        asan-core asan-spool fuzz fuzz-build valgrind check test-clang format lint-cppcheck lint-format lint-lua FORCE

all: build

# Flavours. A flavour is one compile line (compiler and flags, CC_<name>)
# and one folder DIR. The core (csrc/nh_*.c) is compiled once per flavour,
# into DIR/core/libnhcore.a, which the flavour's two Lua modules, the C
# driver, the test programs (tests/*.c) and the fuzz targets link. Only the
# binding (csrc/lnh_*.c) is compiled once per interpreter, into
# DIR/<lua>/obj/, because lua.h differs.
#
#   build        CC_build  $(CC) $(CFLAGS)         build, test, demo, bench, valgrind
#   build/asan   CC_asan   $(CC), ASan + UBSan     asan (the modules), asan-core (tests/*.c)
#   build/tsan   CC_tsan   clang, TSan             tsan (tests/*.c)
#   build/clang  CC_clang  clang $(CFLAGS) -Werror test-clang
#   build/fuzz   CC_fuzz   clang, libFuzzer + ASan fuzz-build, fuzz
#   build/rock   CC_rock   $(CC), LuaRocks' CFLAGS rock (the rockspec)
#
# Every object and program has a -MMD -MP dependency file beside it, so a
# changed header rebuilds what includes it; a .flags file beside the
# objects holds their compile line, so changed flags (CFLAGS=...) rebuild them too.
DEPFLAGS = -MMD -MP
CORE_OBJS = $(patsubst csrc/%.c,$(1)/core/%.o,$(CORE_SRC))

CC_build = $(CC) $(CFLAGS) $(BASEFLAGS) $(CJSON_INC)

# $(call flags_file,FILE,COMPILE...): FILE holds the compile line, and is
# rewritten (and so newer than the objects) only when that line changes.
define flags_file
$(1): FORCE
	@mkdir -p $$(@D)
	@echo '$(2)' | cmp -s - $$@ || echo '$(2)' > $$@
endef

# $(call core_flavour,DIR,CC_VAR): DIR/core/libnhcore.a.
define core_flavour
$(1)/core/%.o: csrc/%.c $(1)/core/.flags
	@mkdir -p $$(@D)
	$$($(2)) $$(DEPFLAGS) -c -o $$@ $$<

$(1)/core/libnhcore.a: $(call CORE_OBJS,$(1))
	@rm -f $$@
	$$(AR) rcs $$@ $$^

$(call flags_file,$(1)/core/.flags,$$($(2)))
endef

# $(call lua_module,DIR,LUA,CC_VAR,INC_VAR): DIR/LUA/notifyhub/core.so, the
# binding compiled against the headers of LUA, linked with DIR's core.
define lua_module
$(1)/$(2)/obj/%.o: csrc/%.c $(1)/$(2)/obj/.flags
	@mkdir -p $$(@D)
	$$($(3)) $$($(4)) $$(DEPFLAGS) -c -o $$@ $$<

$(1)/$(2)/notifyhub/core.so: $(patsubst csrc/%.c,$(1)/$(2)/obj/%.o,$(BINDING_SRC)) $(1)/core/libnhcore.a
	@mkdir -p $$(@D)
	$$($(3)) -shared -o $$@ $$^ $$(LIBS)

$(call flags_file,$(1)/$(2)/obj/.flags,$$($(3)) $$($(4)))
endef

# $(call program,CC_VAR): the recipe of a C program made of its first
# prerequisite (one C file) and the core library or objects among the others
# (what its dependency file adds, headers or an included .c, is left out).
define program
@mkdir -p $(@D)
$($(1)) -Icsrc $(DEPFLAGS) -MF $@.d -MT $@ -o $@ $< $(filter %.o %.a,$^) $(LIBS)
endef

$(eval $(call core_flavour,$(BUILD),CC_build))
$(eval $(call lua_module,$(BUILD),lua5.4,CC_build,LUA54_INC))
$(eval $(call lua_module,$(BUILD),luajit,CC_build,LUAJIT_INC))

EXIT_TEST = $(BUILD)/hardening_exit
FAIL_TEST = $(BUILD)/fail_job
SPOOL_TEST = $(BUILD)/spool_store
RECORD_TEST = $(BUILD)/spool_record
REDIS_TEST = $(BUILD)/redis_store

build: $(MOD54) $(MODJIT) $(DRIVER) $(EXIT_TEST) $(FAIL_TEST) $(SPOOL_TEST) $(RECORD_TEST) $(REDIS_TEST)

# tests/redis_store.c: the Redis spool (csrc/nh_redis*.c) against a real
# redis-server (spec/redis_store_spec.lua starts one and runs it).
$(REDIS_TEST): tests/redis_store.c $(BUILD)/core/libnhcore.a
	$(call program,CC_build)

# tests/spool_store.c: the spool (csrc/nh_spool*.c) against real files and
# processes: open errors, takeover, SPOOL_BUSY, SPOOL_FULL, shared rate
# windows (spec/spool_spec.lua runs it; asan-core runs it too).
$(SPOOL_TEST): tests/spool_store.c $(BUILD)/core/libnhcore.a
	$(call program,CC_build)

# tests/spool_record.c: a spool record against the earlier cJSON writer's
# (spec/spool_record_spec.lua runs it).
$(RECORD_TEST): tests/spool_record.c $(BUILD)/core/libnhcore.a
	$(call program,CC_build)

# The core alone, with no Lua header or library: a C program that drives it
# (spec/core_spec.lua runs it, and checks that the core library neither
# needs nor defines a Lua symbol).
$(DRIVER): spec/support/core_driver.c $(BUILD)/core/libnhcore.a
	$(call program,CC_build)

# tests/hardening_exit.c: cancels racing deliveries, hostile delays, exit()
# with a client open, from C (spec/hardening_exit_spec.lua runs it).
$(EXIT_TEST): tests/hardening_exit.c $(BUILD)/core/libnhcore.a
	$(call program,CC_build)

# tests/fail_job.c: jobs failing before any request (a thread or the queue
# cannot get memory) end in one record each (spec/core_fail_spec.lua). Its
# calloc/realloc stand in for glibc's, so it is not a sanitizer program.
$(FAIL_TEST): tests/fail_job.c $(BUILD)/core/libnhcore.a
	$(call program,CC_build)

# The LuaRocks build (notifyhub-*.rockspec): LuaRocks passes CFLAGS and the
# LUA_INCDIR of the Lua it builds for, then INST_LIBDIR / INST_LUADIR to
# install. The core is compiled once (build/rock/core); the binding, for the
# headers in LUA_INCDIR, on every run.
ROCK_MOD = $(BUILD)/rock/notifyhub/core.so
CC_rock  = $(CC) $(CFLAGS) $(BASEFLAGS) $(CJSON_INC)
$(eval $(call core_flavour,$(BUILD)/rock,CC_rock))

# A Lua 5.1 tree without Lua 5.1 headers builds against LuaJIT's; with
# them, the module uses the 5.1 API only and loads in LuaJIT all the same.
rock: $(BUILD)/rock/core/libnhcore.a
	@mkdir -p $(dir $(ROCK_MOD))
	inc="$(LUA_INCDIR)"; [ -f "$$inc/lua.h" ] || inc=/usr/include/luajit-2.1; \
	$(CC_rock) -I"$$inc" -shared -o $(ROCK_MOD) $(BINDING_SRC) $< $(LIBS)

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
CC_asan    = $(CC) $(ASAN_FLAGS) $(BASEFLAGS) $(CJSON_INC)
$(eval $(call core_flavour,$(ASAN_DIR),CC_asan))
$(eval $(call lua_module,$(ASAN_DIR),lua5.4,CC_asan,LUA54_INC))
$(eval $(call lua_module,$(ASAN_DIR),luajit,CC_asan,LUAJIT_INC))

asan: deps build $(ASAN_DIR)/lua5.4/notifyhub/core.so $(ASAN_DIR)/luajit/notifyhub/core.so
	NOTIFYHUB_BUILD=$(ASAN_DIR) LD_PRELOAD=$(ASAN_RT) \
	ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:detect_odr_violation=0 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	sh tools/run-specs.sh

# The suite with both modules built by clang (warnings are errors), beside
# the gcc build that make test uses.
CLANG_DIR = $(BUILD)/clang
CC_clang  = clang $(CFLAGS) -Werror $(BASEFLAGS) $(CJSON_INC)
$(eval $(call core_flavour,$(CLANG_DIR),CC_clang))
$(eval $(call lua_module,$(CLANG_DIR),lua5.4,CC_clang,LUA54_INC))
$(eval $(call lua_module,$(CLANG_DIR),luajit,CC_clang,LUAJIT_INC))

test-clang: deps $(CLANG_DIR)/lua5.4/notifyhub/core.so $(CLANG_DIR)/luajit/notifyhub/core.so
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
CC_tsan        = clang -g -O1 -fno-omit-frame-pointer -fsanitize=thread $(BASEFLAGS) $(CJSON_INC)
$(eval $(call core_flavour,$(BUILD)/tsan,CC_tsan))

$(addprefix $(BUILD)/tsan/,$(CORE_TESTS)): $(BUILD)/tsan/%: tests/%.c $(BUILD)/tsan/core/libnhcore.a
	$(call program,CC_tsan)

$(addprefix $(ASAN_DIR)/,$(CORE_TESTS)): $(ASAN_DIR)/%: tests/%.c $(ASAN_DIR)/core/libnhcore.a
	$(call program,CC_asan)

# make tsan: under ThreadSanitizer; any report fails (halt_on_error).
tsan: deps $(addprefix $(BUILD)/tsan/,$(CORE_TESTS))
	TSAN_OPTIONS='halt_on_error=1 second_deadlock_stack=1' \
	  timeout 600 lua5.4 tools/with-server.lua sh -c \
	  '$(BUILD)/tsan/cancel_expire {base} 10 && $(BUILD)/tsan/stress_core {base} $(STRESS_ROUNDS) $(STRESS_FLAGS) \
	   && $(BUILD)/tsan/hardening_exit cancel {base}/sink 2000 \
	   && $(BUILD)/tsan/hardening_exit delays {base}/sink http://127.0.0.1:1/x'

# make asan-core: the same programs under AddressSanitizer and UBSan (a job
# ended twice shows as a use after free), leaks included; then
# tests/spool_store.c (no server: files and processes) in a fresh folder.
asan-core: deps $(addprefix $(ASAN_DIR)/,$(CORE_TESTS)) $(ASAN_DIR)/spool_store
	ASAN_OPTIONS=abort_on_error=1:detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  timeout 600 lua5.4 tools/with-server.lua sh -c \
	  '$(BUILD)/asan/cancel_expire {base} 20 && $(BUILD)/asan/stress_core {base} $(STRESS_ROUNDS) $(STRESS_FLAGS) \
	   && $(BUILD)/asan/hardening_exit cancel {base}/sink 2000 \
	   && $(BUILD)/asan/hardening_exit delays {base}/sink http://127.0.0.1:1/x'
	$(MAKE) --no-print-directory asan-spool

asan-spool: $(ASAN_DIR)/spool_store
	d=$$(mktemp -d) && ASAN_OPTIONS=abort_on_error=1:detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  timeout 300 $(ASAN_DIR)/spool_store all $$d; s=$$?; rm -rf $$d; exit $$s

$(ASAN_DIR)/spool_store: tests/spool_store.c $(ASAN_DIR)/core/libnhcore.a
	$(call program,CC_asan)

# libFuzzer targets (fuzz/*.c; seeds and past findings in fuzz/corpus/<target>/),
# each run for FUZZ_SECONDS; a crash's input lands in build/fuzz/artifacts/.
# The core's objects get libFuzzer's coverage (fuzzer-no-link); the targets
# link libFuzzer's main.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS  = classify render plan json redact text
FUZZ_DIR      = $(BUILD)/fuzz
FUZZ_COMMON   = -g -O1 -fno-sanitize-recover=undefined -fno-omit-frame-pointer \
                -std=c11 -D_GNU_SOURCE -pthread $(CJSON_INC)
CC_fuzz       = clang -fsanitize=fuzzer-no-link,address,undefined $(FUZZ_COMMON)
CC_fuzzer     = clang -fsanitize=fuzzer,address,undefined $(FUZZ_COMMON)
FUZZ_DEPS     = fuzz/fuzz_input.h $(HEADERS)
$(eval $(call core_flavour,$(FUZZ_DIR),CC_fuzz))

fuzz-build: $(addprefix $(FUZZ_DIR)/,$(FUZZ_TARGETS))

$(FUZZ_DIR)/classify $(FUZZ_DIR)/render $(FUZZ_DIR)/text: $(FUZZ_DIR)/%: fuzz/%.c $(FUZZ_DIR)/core/libnhcore.a
	$(call program,CC_fuzzer)

# nh_text.c is compiled inside fuzz/plan.c (its platform lookup redirected):
# plan links the core's other objects.
$(FUZZ_DIR)/plan: fuzz/plan.c $(filter-out %/nh_text.o,$(call CORE_OBJS,$(FUZZ_DIR)))
	$(call program,CC_fuzzer)

$(FUZZ_DIR)/json: fuzz/json.c csrc/lnh_json.c $(FUZZ_DEPS)
	@mkdir -p $(dir $@)
	$(CC_fuzzer) -Icsrc $(LUA54_INC) -o $@ $< csrc/lnh_json.c $(LIBS) -llua5.4

$(FUZZ_DIR)/redact: fuzz/redact.c $(FUZZ_DEPS)
	@mkdir -p $(dir $@)
	$(CC_fuzzer) -Icsrc $(LUA54_INC) -DNH_LUA_DIR='"$(CURDIR)/lua"' -o $@ $< -llua5.4 -lm

fuzz: deps fuzz-build
	sh tools/fuzz.sh $(FUZZ_SECONDS) $(FUZZ_TARGETS)

# The suite on Lua 5.4 under valgrind memcheck (tools/valgrind-lua.sh, with
# tools/valgrind.supp): any memory error or definite/indirect leak fails the
# run. VALGRIND_SPECS narrows it (default: every spec).
VALGRIND_SPECS ?=
valgrind: deps build
	sh tools/valgrind-specs.sh $(VALGRIND_SPECS)

# What CI runs after make test (tools/check.sh): lint, test-clang, asan,
# asan-core, tsan, valgrind and a short fuzz pass, each with a time limit.
check: deps
	sh tools/check.sh

# make lint: cppcheck over csrc/, clang-format's check of the C against the
# checked-in .clang-format, and luacheck over lua/, spec/ and bin/ (.luacheckrc);
# all three run, and any finding fails. make format rewrites the C in the
# style of .clang-format.
LINT_C = $(wildcard csrc/*.c csrc/*.h tests/*.c fuzz/*.c bench/*.c spec/support/*.c)

lint: deps
	@$(MAKE) --no-print-directory -k lint-cppcheck lint-format lint-lua

lint-cppcheck:
	cppcheck --quiet --error-exitcode=1 --enable=warning,portability,performance --std=c11 \
	  -I csrc -I /usr/include/cjson --suppress=missingIncludeSystem csrc/

lint-format:
	clang-format --dry-run --Werror $(LINT_C)

lint-lua:
	luacheck -q --no-color lua spec bin/notifyhub

format:
	clang-format -i $(LINT_C)

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

bench: deps build $(BUILD)/curl_multi $(BUILD)/spool_bench
	@lua5.4 bench/run.lua
	@lua5.4 bench/ngx.lua
	@lua5.4 bench/split.lua
	@mkdir -p $(BUILD)/bench-spool && $(BUILD)/spool_bench $(BUILD)/bench-spool && rm -rf $(BUILD)/bench-spool

# bench/spool.c: the spool's cost per record on this disk (about 15 s).
$(BUILD)/spool_bench: bench/spool.c $(BUILD)/core/libnhcore.a
	$(call program,CC_build)

# libcurl alone, the benchmark's reference for what libcurl reaches here.
$(BUILD)/curl_multi: bench/curl_multi.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -std=c11 -D_GNU_SOURCE -pthread $(WARN) -o $@ $< -lcurl

clean:
	rm -rf $(BUILD)

# The dependency files of every flavour (none before the first build).
-include $(wildcard $(BUILD)/*.d $(BUILD)/*/*.d $(BUILD)/*/*/*.d $(BUILD)/*/*/*/*.d)
