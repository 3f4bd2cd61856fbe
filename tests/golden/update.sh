#!/bin/sh
# Regenerates the golden files in tests/golden from the current tracer and compiler: one command,
# run from anywhere; review the diff before committing. Part of tests/golden.
# Usage: tests/golden/update.sh [HELUA]   (default: build/helua of this checkout)
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
helua=${1:-$root/build/helua}
cd "$root"
HELUA_TARGET_CPU=x86-64-v3 HELUA_LUA_DIR="$root/lua" "$helua" tests/lua/test_golden.lua --update
