#!/bin/sh
# The one entry point on the GPU machine: the card, the GPU tests and the GPU bandwidth table, all
# through the statically linked helua (that machine has the NVIDIA driver but no meson, cmocka,
# LLVM or Lua). Part of share/scripts; see share/doc/gpu.md.
#   Build here:  make static              (build-static/helua, about 44 MB)
#   Run there:   sh share/scripts/gpu-check.sh [path/to/helua]   (from the repo root)
# Exit status: 0 when every check passed, 1 otherwise. Sections print "== name  [seconds so far]"
# headers. GPU_CHECK_SKIP=name,name skips checks by their "-- name" (e.g. triton_check,gpu_bench).
set -u
cd "$(dirname "$0")/../.."
helua=${1:-build-static/helua}
status=0

start=$(date +%s)
section() { printf '\n== %s  [%ds]\n' "$1" "$(( $(date +%s) - start ))"; }
run() { # name, command...: runs it, remembers a failure; names in GPU_CHECK_SKIP are skipped
  name=$1
  shift
  case ",${GPU_CHECK_SKIP:-}," in *",$name,"*) echo "-- $name: skipped (GPU_CHECK_SKIP)"; return ;; esac
  if "$@"; then echo "-- $name: ok"; else echo "-- $name: FAILED (exit $?)"; status=1; fi
}

section "machine"
if command -v nvidia-smi >/dev/null 2>&1; then
  nvidia-smi --query-gpu=index,name,driver_version,memory.total,clocks.max.sm,clocks.max.mem,power.limit \
    --format=csv
  nvidia-smi --query-gpu=temperature.gpu,utilization.gpu,memory.used --format=csv,noheader
else
  echo "nvidia-smi: not found"
fi
uname -srm
ldd --version 2>/dev/null | head -n 1
if [ ! -x "$helua" ]; then
  echo "gpu-check: $helua is missing; build it with 'make static' and carry it here" >&2
  exit 1
fi
"$helua" --version

section "GPU tests (tests/lua/test_cuda.lua)"
run test_cuda env HELUA_TEST_EXPECT=available "$helua" tests/lua/test_cuda.lua

section "every kernel on the GPU (tests/lua/test_cuda_kernels.lua)"
run test_cuda_kernels "$helua" tests/lua/test_cuda_kernels.lua

section "Triton cross-check (share/scripts/triton-check.sh)"
run triton_check sh share/scripts/triton-check.sh "$helua"

section "GPU bench (share/scripts/gpu_bench.lua)"
run gpu_bench "$helua" share/scripts/gpu_bench.lua

section "compiled kernels' bandwidth (share/scripts/gpu_kernel_bench.lua)"
run gpu_kernel_bench "$helua" share/scripts/gpu_kernel_bench.lua

section "row kernels per config (share/scripts/gpu_rows_bench.lua)"
run gpu_rows_bench "$helua" share/scripts/gpu_rows_bench.lua

section "tensor-core module (tests/unit/test_nvptx_mma_gpu.lua)"
run nvmma_gpu "$helua" tests/unit/test_nvptx_mma_gpu.lua

section "benchmark against the targets (share/scripts/gpu_bench_targets.lua)"
# the Triton column: the same kernels, shapes and configs as Triton text, timed by triton_bench.py
tb=$(mktemp -d)
if "$helua" share/scripts/gpu_bench_targets.lua --emit-triton "$tb" &&
  python3 share/scripts/triton_bench.py "$tb" >"$tb/peers.lua"; then
  run gpu_bench_targets "$helua" share/scripts/gpu_bench_targets.lua --peers "$tb/peers.lua"
else
  echo "-- Triton column: unavailable (see above)"
  run gpu_bench_targets "$helua" share/scripts/gpu_bench_targets.lua
fi

section "workbench session (share/scripts/wb-session.py)"
if command -v python3 >/dev/null 2>&1; then
  run wb_session env WB_EXPECT_DEVICE=cuda python3 share/scripts/wb-session.py "$helua" kernels/add.lua
  # the same file with add on the cuda backend: run, tune and export on the GPU (add_broadcast
  # stays on auto); its timing row must say the kernel ran in cuda mode
  wbdir=$(mktemp -d)
  sed '0,/^end)$/s//end, {backend = "cuda"})/' kernels/add.lua >"$wbdir/add.lua"
  run wb_session_cuda env WB_EXPECT_DEVICE=cuda WB_EXPECT_RUN_DEVICE='add +cuda' \
    python3 share/scripts/wb-session.py "$helua" "$wbdir/add.lua"
else
  echo "-- wb_session: skipped (no python3)"
fi

section "summary"
if [ $status = 0 ]; then echo "gpu-check: all passed"; else echo "gpu-check: FAILED"; fi
exit $status
