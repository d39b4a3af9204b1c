#!/bin/sh
# The checks CI runs after `make test` (make check), each with a time limit:
#   make lint        cppcheck, clang-format's check of the C, luacheck
#   make test-clang  the whole suite, both modules built by clang -Werror
#   make asan        the whole suite, both modules under ASan + UBSan (gcc)
#   make asan-core   tests/stress_core.c and tests/cancel_expire.c under ASan
#   make tsan        the same programs under ThreadSanitizer
#   make valgrind    the suite on Lua 5.4 under memcheck
#   make fuzz        each libFuzzer target for FUZZ_SECONDS (here 15) seconds
# Every step runs even when one fails. Ends with "check: N passed, N failed"
# and exits non-zero when a step failed or ran out of time.
cd "$(dirname "$0")/.." || exit 1
FUZZ_SECONDS=${FUZZ_SECONDS:-15}
STRESS_ROUNDS=${STRESS_ROUNDS:-1}
passed=0
failed=0
results=""
begin=$(date +%s)

step() { # step NAME SECONDS COMMAND...
  name=$1
  limit=$2
  shift 2
  echo "== check $name: $*"
  start=$(date +%s)
  timeout "$limit" "$@"
  rc=$?
  took=$(( $(date +%s) - start ))
  if [ $rc -eq 0 ]; then
    passed=$((passed + 1))
    results="$results\n  $name: ok (${took} s)"
  else
    failed=$((failed + 1))
    if [ $rc -eq 124 ]; then why="timed out after ${limit} s"; else why="exit $rc"; fi
    results="$results\n  $name: FAILED, $why (${took} s)"
  fi
}

step lint 300 make lint
step test-clang 900 make test-clang
step asan 1500 make asan
step asan-core 700 make asan-core STRESS_ROUNDS="$STRESS_ROUNDS"
step tsan 700 make tsan STRESS_ROUNDS="$STRESS_ROUNDS"
step valgrind 1200 make valgrind
step fuzz 600 make fuzz FUZZ_SECONDS="$FUZZ_SECONDS"

printf "check:%b\n" "$results"
echo "check: $passed passed, $failed failed ($(( $(date +%s) - begin )) s)"
[ $failed -eq 0 ]
