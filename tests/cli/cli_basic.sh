#!/bin/sh
# The helua command end to end: --version, --help, -e, scripts with args, the REPL, errors,
# the embedded-source list, and helua.so under a stock lua5.4. Part of tests/cli.
set -u
helua=$1
module=$2
. "$(dirname "$0")/check.sh"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

out=$("$helua" --version); check version-helua "helua 0." "$out"
check version-lua "Lua 5.4" "$out"
check version-llvm "LLVM 19." "$out"
out=$("$helua" --help); check help-flags "HELUA_INTERPRET" "$out"
check help-run "run FILE" "$out"
out=$("$helua" -e 'print(1 + 2)'); check dash-e "3" "$out"
out=$("$helua" -e 'print(type(helua), type(hl))'); check preload "table	table" "$out"
printf 'print(select("#", ...), arg[0], arg[1], ...)\n' > "$tmp/s.lua"
out=$("$helua" "$tmp/s.lua" a b); check script-args "2	$tmp/s.lua	a	a	b" "$out"
out=$(printf '1 + 41\nlocal x = 5\nfor i = 1, 2 do\nprint("loop", i)\nend\nerror("boom")\nprint("after")\n' | "$helua" -i 2>&1)
check repl-expr "42" "$out"
check repl-multiline "loop	2" "$out"
check repl-error "boom" "$out"
check repl-continues "after" "$out"
out=$("$helua" -e 'error("bad thing")' 2>&1); rc=$?
check error-message "bad thing" "$out"
check error-exit "1" "$rc"
out=$("$helua" --no-such-option 2>&1); rc=$?
check bad-option "unknown option" "$out"
check bad-option-exit "2" "$rc"
out=$("$helua" "$tmp/missing.lua" 2>&1); rc=$?
check missing-script "cannot open" "$out"

# every Lua source is embedded
for f in lua/helua/*.lua; do
  name=$(basename "$f")
  grep -q "'helua/$name'" lua/meson.build && pass=$((pass + 1)) || { fail=$((fail + 1)); echo "FAIL lua/meson.build does not list $f"; }
done

# HELUA_LUA_DIR prefers a source folder
mkdir -p "$tmp/lua/helua"; cp lua/helua/*.lua "$tmp/lua/helua/"
echo 'return {marker = "from-dir"}' > "$tmp/lua/helua/probe.lua"
out=$(HELUA_LUA_DIR="$tmp/lua" "$helua" -e 'print(require("helua.probe").marker)' 2>&1)
check lua-dir "from-dir" "$out"

# helua.so under a stock lua5.4
if command -v lua5.4 >/dev/null; then
  out=$(cd "$(dirname "$module")" && lua5.4 -e 'local h = require "helua"; local hl = require "helua.language"; print(type(h), type(hl), type(require("helua.core").versions))' 2>&1)
  check stock-lua "table	table	function" "$out"
fi

echo "cli_basic: $pass passed, $fail failed"
[ "$fail" = 0 ]
