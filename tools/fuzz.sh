#!/bin/sh
# Runs each libFuzzer target (build/fuzz/<target>, built by `make fuzz`) for
# SECONDS seconds, from its seed corpus (fuzz/corpus/<target>, read only)
# and its working corpus (build/fuzz/corpus/<target>, kept between runs).
# A crash leaves its input in build/fuzz/artifacts/ and is printed (hex and
# base64) with the sanitizer's report. Ends with "fuzz: N passed, N failed".
#
#   sh tools/fuzz.sh SECONDS [TARGET...]
cd "$(dirname "$0")/.." || exit 1
seconds=${1:-20}
[ $# -gt 0 ] && shift
targets=${*:-classify render plan json redact text}
passed=0
failed=0
mkdir -p build/fuzz/artifacts
for t in $targets; do
  bin=build/fuzz/$t
  if [ ! -x "$bin" ]; then
    echo "fuzz $t: $bin is missing (make fuzz builds it)"
    failed=$((failed + 1))
    continue
  fi
  mkdir -p "build/fuzz/corpus/$t"
  log=build/fuzz/$t.log
  before=$(ls build/fuzz/artifacts 2>/dev/null | wc -l)
  ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1} \
  UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
  LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/fuzz/lsan.supp:print_suppressions=0} \
    "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=8192 \
      -print_final_stats=1 -artifact_prefix="build/fuzz/artifacts/$t-" \
      "build/fuzz/corpus/$t" "fuzz/corpus/$t" >"$log" 2>&1
  rc=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -n 1)
  if [ $rc -eq 0 ]; then
    echo "fuzz $t: ok, ${runs:-?} runs in ${seconds}s, $cov"
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    echo "fuzz $t: FAILED (exit $rc) after ${runs:-?} runs; log: $log"
    grep -E 'fuzz check failed|^  |ERROR: (Address|Leak|Undefined)|runtime error|^redact: |SUMMARY' "$log" \
      | grep -v '^    #' | head -n 12 | sed 's/^/  | /'
    for a in $(ls -t build/fuzz/artifacts | head -n $(( $(ls build/fuzz/artifacts | wc -l) - before ))); do
      echo "  input: build/fuzz/artifacts/$a (reproduce: $bin build/fuzz/artifacts/$a)"
      echo "  hex:    $(head -c 256 "build/fuzz/artifacts/$a" | od -An -tx1 | tr -d '\n' | sed 's/  */ /g')"
      echo "  base64: $(head -c 256 "build/fuzz/artifacts/$a" | base64 -w0)"
    done
  fi
done
echo "fuzz: $passed passed, $failed failed"
[ $failed -eq 0 ]
