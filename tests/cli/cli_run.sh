#!/bin/sh
# `helua run FILE`: checks and timing tables for kernel files, exit codes, and the error texts
# for a missing file, a file that returns no description, a wrong reference, bad flags.
# Part of tests/cli. Usage: cli_run.sh HELUA [MODULE_DIR]
set -u
helua=$1
. "$(dirname "$0")/check.sh"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

# kernel files at their small size: a PASS per kernel, the table, exit 0
out=$("$helua" run kernels/matmul.lua --size small --repeat 1 2>&1); rc=$?
check matmul-pass "matmul_bias_relu" "$out"
check matmul-check "PASS" "$out"
check matmul-table "kernel" "$out"
check matmul-table-cols "reference ms" "$out"
check matmul-gflops "GFLOP/s" "$out"
check matmul-exit "0" "$rc"
out=$("$helua" run kernels/softmax.lua --size small --block-size 3 --repeat 1 2>&1); rc=$?
check softmax-two-pass "softmax_two_pass" "$out"
check softmax-block-size "block size 3" "$out"
check softmax-gbs "GB/s" "$out"
check softmax-exit "0" "$rc"
out=$("$helua" run kernels/add.lua --size m=9,n=11 --kernel add_broadcast --repeat 1 2>&1); rc=$?
check size-override "m=9 n=11" "$out"
check kernel-filter "add_broadcast" "$out"
case "$out" in
  *"  add  "*) fail=$((fail + 1)); echo "FAIL kernel-filter ran add too" ;;
  *) pass=$((pass + 1)) ;;
esac
check kernel-filter-exit "0" "$rc"

# a planted wrong reference: FAIL and exit 1
cat > "$tmp/wrong.lua" <<'LUA'
local helua = require "helua"
local hl = require "helua.language"
local double = helua.kernel(function(x)
  local out = helua.empty_like(x)
  for t in hl.tile(x:size(1)) do out[t] = x[t] * 2 end
  return out
end)
return {
  name = "wrong",
  kernels = {{name = "double", kernel = double}},
  sizes = {default = {n = 10}},
  inputs = function(s, seed) return helua.randn({s.n}, {dtype = helua.float32, seed = seed}) end,
  reference = function(x) return x:to(helua.float64) * 3 end,
  tolerance = {rtol = 1e-5, atol = 1e-5},
}
LUA
out=$("$helua" run "$tmp/wrong.lua" --repeat 1 2>&1); rc=$?
check wrong-fail "FAIL" "$out"
check wrong-summary "1 of 1 kernel(s) FAILED" "$out"
check wrong-exit "1" "$rc"

# errors
out=$("$helua" run "$tmp/missing.lua" 2>&1); rc=$?
check missing-file "cannot open $tmp/missing.lua" "$out"
check missing-file-exit "1" "$rc"
echo 'return 42' > "$tmp/number.lua"
out=$("$helua" run "$tmp/number.lua" 2>&1); rc=$?
check not-a-description "returned a number, not a kernel description" "$out"
check not-a-description-shape "kernels = {{name =" "$out"
check not-a-description-exit "1" "$rc"
echo 'local x = ' > "$tmp/syntax.lua"
out=$("$helua" run "$tmp/syntax.lua" 2>&1); rc=$?
check syntax-error "syntax.lua:" "$out"
check syntax-error-exit "1" "$rc"
out=$("$helua" run kernels/softmax.lua --kernel softmax_twopass 2>&1); rc=$?
check unknown-kernel "no kernel named softmax_twopass" "$out"
check unknown-kernel-hint "did you mean softmax_two_pass?" "$out"
check unknown-kernel-exit "1" "$rc"
out=$("$helua" run kernels/softmax.lua --size huge 2>&1); rc=$?
check unknown-size "no size named huge" "$out"
out=$("$helua" run kernels/softmax.lua --sise small 2>&1); rc=$?
check bad-flag "unknown option --sise" "$out"
check bad-flag-hint "did you mean --size?" "$out"
check bad-flag-exit "1" "$rc"
out=$("$helua" run kernels/softmax.lua --block-size zero 2>&1); rc=$?
check bad-block-size "--block-size must be a positive integer or full" "$out"
out=$("$helua" run kernels/softmax.lua --repeat 2>&1); rc=$?
check missing-value "--repeat needs a value" "$out"
out=$("$helua" run 2>&1); rc=$?
check no-file "missing FILE" "$out"
check no-file-exit "1" "$rc"
out=$("$helua" run --help 2>&1); rc=$?
check help "usage: helua run FILE" "$out"
check help-flags "--block-size N|full" "$out"
check help-exit "0" "$rc"

# the mode: compiled on the CPU by default; --interpret and --block-size run interpret mode
out=$("$helua" run kernels/add.lua --size small 2>&1)
check mode-default "cpu mode" "$out"
out=$("$helua" run kernels/add.lua --size small --interpret 2>&1)
check mode-interpret-header "interpret mode" "$out"
check mode-interpret-table "add            interpret" "$out"
out=$("$helua" run kernels/add.lua --size small --block-size 3 2>&1)
check mode-block-size "interpret mode, block size 3" "$out"

echo "cli_run: $pass passed, $fail failed"
[ "$fail" = 0 ]
