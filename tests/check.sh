#!/bin/sh
# tests/check.sh -- README command two: install what is missing, build,
# and run the whole test suite.  Exits non-zero if any test fails.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
sh "$top/tests/setup.sh" test
cd "$top/_build"
status=0
make -j"$(nproc)" check || status=$?
# One closing line for people and CI: "N passed, N failed".
pass=$(sed -n 's/^# PASS: *//p' test-suite.log 2>/dev/null | head -1)
fail=$(sed -n 's/^# FAIL: *//p' test-suite.log 2>/dev/null | head -1)
err=$(sed -n 's/^# ERROR: *//p' test-suite.log 2>/dev/null | head -1)
skip=$(sed -n 's/^# SKIP: *//p' test-suite.log 2>/dev/null | head -1)
[ "$status" -eq 0 ] || sh "$top/tests/show_failures.sh" .
echo "${pass:-0} passed, $(( ${fail:-0} + ${err:-0} )) failed, ${skip:-0} skipped"
exit "$status"
