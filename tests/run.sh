#!/bin/sh
# Runs every test suite through meson and ends with one summary line ("N passed, N failed").
# Part of tests/. Usage: tests/run.sh BUILD_DIR
set -u
build=${1:-build}
meson test -C "$build" --print-errorlogs --num-processes 2 > "$build/test-output.txt" 2>&1
rc=$?
cat "$build/test-output.txt"
count() { sed -n "s/^$1: *\([0-9][0-9]*\).*/\1/p" "$build/test-output.txt" | tail -n 1; }
ok=$(count Ok); fail=$(count Fail); skip=$(count Skipped); tout=$(count Timeout)
echo "helua tests: ${ok:-0} passed, $(( ${fail:-0} + ${tout:-0} )) failed, ${skip:-0} skipped"
exit $rc
