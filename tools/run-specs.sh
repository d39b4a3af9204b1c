#!/bin/sh
# Runs the busted suite on each interpreter given (default: lua5.4 and
# luajit) and ends with one line "specs: N passed, N failed"; exits non-zero
# when anything failed or errored.
cd "$(dirname "$0")/.." || exit 1
interpreters=${*:-lua5.4 luajit}
passed=0
failed=0
status=0
for lua in $interpreters; do
  echo "== busted --lua=$lua"
  out=$(mktemp)
  busted --lua="$lua" -o utfTerminal 2>&1 | tee "$out"
  summary=$(grep -E '^[0-9]+ success' "$out" | tail -n 1)
  rm -f "$out"
  if [ -z "$summary" ]; then
    echo "no busted summary for $lua: the run crashed"
    failed=$((failed + 1))
    status=1
    continue
  fi
  ok=$(echo "$summary" | sed -E 's/^([0-9]+) success.*/\1/')
  bad=$(echo "$summary" | sed -E 's/.* ([0-9]+) failures? \/ ([0-9]+) errors?.*/\1 \2/' | awk '{print $1 + $2}')
  passed=$((passed + ok))
  failed=$((failed + bad))
  [ "$bad" -eq 0 ] || status=1
done
echo "specs: $passed passed, $failed failed"
exit $status
