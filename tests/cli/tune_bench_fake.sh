#!/bin/sh
# share/scripts/gpu_tune_bench.lua on the fake libcuda's two GPUs (HELUA_LIBCUDA,
# FAKE_CUDA_DEVICES=2, set by tests/unit/meson.build): small sizes, tiny budgets; the table has
# a row per run (and one with two worker processes on a GPU), 2-GPU rows show a speed-up, both
# GPUs ran trials, the JIT probe ran, and an unknown kernel is a
# FAILED row (exit 1) without stopping the others. Part of tests/cli. Usage: tune_bench_fake.sh HELUA
set -u
helua=$1
. "$(dirname "$0")/check.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export HELUA_CACHE_DIR="$tmp/cache"

out=$("$helua" share/scripts/gpu_tune_bench.lua --size small --kernels add --full-kernels add \
  --efforts quick,full --gpus 1,2 --budget-quick 2 --budget-full 2 --repeat 3 --procs-kernels add \
  --log "$tmp/log" --out "$tmp/table.md" 2>&1); rc=$?
check exit "0" "$rc"
check header "| kernel | effort | GPUs | budget s | tuning wall s | search s |" "$out"
check quick-row "| add f32 [512, 512] | quick | 1 | 2 |" "$out"
check full-1 "| add f32 [512, 512] | full | 1 | 2 |" "$out"
check full-2 "| add f32 [512, 512] | full | 2 | 2 |" "$out"
check speedup "trials/s (" "$out"
check procs-row "| add f32 [512, 512] | quick | 1 (2 procs) | 2 |" "$out"
check procs-speedup "trials/s vs 1 process" "$out"
check jit-probe "JIT probe (8 random matmul configs" "$out"
check quick-vs-full "% | - |" "$(printf '%s\n' "$out" | grep '| quick | 1 |')"
check phases "trials by device: cuda:0 " "$out"
check both-gpus "cuda:1 " "$out"
check out-file "| add f32 [512, 512] | full | 2 |" "$(cat "$tmp/table.md")"
check log "Autotuning complete in" "$(cat "$tmp/log")"
check log-gpus "on cuda:0, cuda:1" "$(cat "$tmp/log")"

out=$("$helua" share/scripts/gpu_tune_bench.lua --size small --kernels nosuch,add --efforts quick \
  --budget-quick 1 --repeat 3 --log "$tmp/log2" --no-jit-probe 2>&1); rc=$?
check failed-exit "1" "$rc"
check failed-row "FAILED: unknown kernel" "$out"
check other-row "| add f32 [512, 512] | quick | 1 |" "$out"

echo "tune_bench_fake: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
