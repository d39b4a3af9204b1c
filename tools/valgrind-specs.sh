#!/bin/sh
# The busted suite on Lua 5.4 under valgrind memcheck (make valgrind).
#
#   sh tools/valgrind-specs.sh [SPEC_FILE...]     (default: every spec)
#
# Fails when valgrind reports anything (a memory error, or a definite or
# indirect leak outside tools/valgrind.supp: the reports are printed), or
# when the interpreter crashed. Spec failures are printed too; they count
# only with VALGRIND_STRICT=1, since some specs time things (a DNS failure
# that must come within 1 s, a deadline) that valgrind's 10-50x slowdown
# can miss. NOTIFYHUB_STRESS_N (default here 20000) sizes the stress spec.
# Ends with "valgrind: N reports, specs: N passed, N failed".
cd "$(dirname "$0")/.." || exit 1
logs=build/valgrind
rm -rf "$logs"
mkdir -p "$logs"
export VALGRIND_LOG_DIR="$PWD/$logs"
export NOTIFYHUB_STRESS_N=${NOTIFYHUB_STRESS_N:-20000}
out=$logs/busted.out
start=$(date +%s)
busted --lua="$PWD/tools/valgrind-lua.sh" -o utfTerminal "$@" 2>&1 | tee "$out"
end=$(date +%s)
summary=$(grep -E '^[0-9]+ success' "$out" | tail -n 1)
reports=0
for f in "$logs"/vg.*.log; do
  [ -s "$f" ] || { rm -f "$f"; continue; }
  reports=$((reports + 1))
  echo "== valgrind report $f"
  cat "$f"
done
status=0
if [ -z "$summary" ]; then
  echo "valgrind: no busted summary: the interpreter crashed"
  status=1
  ok=0
  bad=1
else
  ok=$(echo "$summary" | sed -E 's/^([0-9]+) success.*/\1/')
  bad=$(echo "$summary" | sed -E 's/.* ([0-9]+) failures? \/ ([0-9]+) errors?.*/\1 \2/' | awk '{print $1 + $2}')
  [ "$bad" -ne 0 ] && [ -n "$VALGRIND_STRICT" ] && status=1
fi
[ $reports -eq 0 ] || status=1
echo "valgrind: $reports reports, specs: $ok passed, $bad failed ($((end - start)) s)"
exit $status
