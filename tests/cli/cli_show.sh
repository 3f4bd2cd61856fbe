#!/bin/sh
# `helua show FILE`: the traced IR of kernel files (and the compiler's stages when there is a
# compiler), --kernel/--size/--config selection, and the errors for a bad stage, kernel or config.
# Part of tests/cli. Usage: cli_show.sh HELUA [MODULE_DIR]
set -u
helua=$1
. "$(dirname "$0")/check.sh"
absent() { # name, unexpected-substring, actual
  case "$3" in
    *"$2"*) fail=$((fail + 1)); printf 'FAIL %s: did not expect %s in:\n%s\n' "$1" "$2" "$3" ;;
    *) pass=$((pass + 1)); echo "ok   $1" ;;
  esac
}

# the IR of the first kernel of a file, at a named size: stdout only, exit 0
out=$("$helua" show kernels/add.lua --size tiny 2>/dev/null); rc=$?
check ir-kernel "kernel add" "$out"
check ir-arg "arg %x : tensor float32[5, 7] strides [7, 1]  # add.lua:11" "$out"
check ir-tile "tile %tm = [%0, %1) block B0, %tn = [%0, %2) block B1 {" "$out"
check ir-store "store %out[%tm, %tn]" "$out"
check ir-exit "0" "$rc"
out=$("$helua" show kernels/matmul.lua --kernel matmul_bias_relu --size m=16,k=8,n=4 --stage ir 2>&1); rc=$?
check kernel-select "kernel matmul_bias_relu" "$out"
check size-override "tensor float16[16, 8]" "$out"
check relu "relu" "$out"
check kernel-select-exit "0" "$rc"
out=$("$helua" show kernels/softmax.lua --size small --kernel softmax_two_pass --config 'helua.Config{block_sizes = {16, 32}}' 2>&1); rc=$?
check config-lua "block B1 : registered extent 53" "$out"
check config-lua-exit "0" "$rc"
out=$("$helua" show kernels/softmax.lua --size small --config 'Config{block_sizes = {16}}' 2>&1); rc=$?
check config-short "rdim R0 : extent 53" "$out"
out=$("$helua" show kernels/softmax.lua --size small --config '{"block_sizes": [16]}' 2>&1); rc=$?
check config-json "kernel softmax" "$out"
check config-json-exit "0" "$rc"

# the compiler's stages, when this build has one
if "$helua" -e 'os.exit(require("helua.core").compile and 0 or 1)'; then
  out=$("$helua" show kernels/add.lua --size tiny --stage lowered 2>&1); rc=$?
  check stage-lowered "lowered" "$out"
  check stage-lowered-exit "0" "$rc"
  out=$("$helua" show kernels/add.lua --size tiny --stage llvm 2>&1); rc=$?
  check stage-llvm "define " "$out"
  absent stage-llvm-not-ir "kernel add" "$out"
  check stage-llvm-exit "0" "$rc"
  out=$("$helua" show kernels/add.lua --size tiny --stage asm --config '{block_sizes = {4, 4}}' 2>&1); rc=$?
  check stage-asm "ret" "$out"
  absent stage-asm-not-llvm "define " "$out"
  check stage-asm-exit "0" "$rc"
else
  out=$("$helua" show kernels/add.lua --size tiny --stage llvm 2>&1); rc=$?
  check no-compiler "needs the compiler" "$out"
  check no-compiler-exit "1" "$rc"
fi

# errors
out=$("$helua" show kernels/add.lua --size tiny --stage llvn 2>&1); rc=$?
check bad-stage "unknown stage llvn (did you mean llvm?); stages: ir, lowered, llvm, asm" "$out"
check bad-stage-exit "1" "$rc"
out=$("$helua" show kernels/add.lua --size tiny --config 'helua.Config{blok_sizes = {4}}' 2>&1); rc=$?
check bad-config-field "unknown field blok_sizes" "$out"
check bad-config-dym "did you mean block_sizes?" "$out"
check bad-config-exit "1" "$rc"
out=$("$helua" show kernels/add.lua --size tiny --config '{block_sizes = {4, 4, 4}}' 2>&1); rc=$?
check config-too-long "3 block_sizes but the kernel has 2 block-size slots" "$out"
out=$("$helua" show kernels/add.lua --size tiny --config 'helua.Config{' 2>&1); rc=$?
check config-syntax "cannot read the config literal" "$out"
out=$("$helua" show kernels/add.lua --kernel addd 2>&1); rc=$?
check bad-kernel "has no kernel named addd (did you mean add?)" "$out"
out=$("$helua" show kernels/add.lua --stgae ir 2>&1); rc=$?
check bad-flag "unknown option --stgae: did you mean --stage?" "$out"
out=$("$helua" show kernels/nope.lua 2>&1); rc=$?
check no-such-file "cannot open kernels/nope.lua" "$out"
check no-such-file-exit "1" "$rc"
out=$("$helua" show 2>&1); rc=$?
check no-file "missing FILE" "$out"
out=$("$helua" show --help 2>&1); rc=$?
check help "usage: helua show FILE" "$out"
check help-exit "0" "$rc"
out=$("$helua" --help 2>&1)
check usage-line "show FILE [--stage ir|lowered|llvm|asm]" "$out"

echo "cli_show: $pass passed, $fail failed"
[ "$fail" = 0 ]
