#!/bin/sh
# lua5.4 under valgrind memcheck, for busted --lua=tools/valgrind-lua.sh
# (busted re-runs itself with this command). Each process writes its report
# to $VALGRIND_LOG_DIR/vg.<pid>.log (build/valgrind by default); a report
# that is not empty is a memory error or a definite/indirect leak.
here=$(cd "$(dirname "$0")" && pwd)
dir=${VALGRIND_LOG_DIR:-$here/../build/valgrind}
mkdir -p "$dir"
exec valgrind -q --tool=memcheck --leak-check=full --show-leak-kinds=definite,indirect \
  --errors-for-leak-kinds=definite,indirect --error-exitcode=99 --num-callers=40 \
  --keep-debuginfo=yes --track-origins=no \
  --suppressions="$here/valgrind.supp" --log-file="$dir/vg.%p.log" \
  ${VALGRIND_EXTRA:-} lua5.4 "$@"
