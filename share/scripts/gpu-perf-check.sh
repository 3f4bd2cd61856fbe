#!/bin/sh
# The memory-bound check in one call on the GPU machine: every kernel of kernels/ on the GPU
# against its float64 reference, then the bandwidth of add, softmax, rms_norm and layer_norm at
# the target sizes, then softmax at a few configs (warps, chunk size). Part of share/scripts;
# see share/doc/lowering.md ("Memory-bound kernels").
#   Build here:  make static                 (build-static/helua)
#   Run there:   sh share/scripts/gpu-perf-check.sh [path/to/helua]   (from the repo root)
# Exit status: 0 when all three passed, 1 otherwise.
set -u
cd "$(dirname "$0")/../.."
helua=${1:-build-static/helua}
if [ ! -x "$helua" ]; then
  echo "gpu-perf-check: $helua is missing; build it with 'make static' and carry it here" >&2
  exit 1
fi
status=0
if command -v nvidia-smi >/dev/null 2>&1; then
  nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,clocks.max.mem --format=csv,noheader
fi
"$helua" --version

printf '\n== every kernel on the GPU (tests/lua/test_cuda_kernels.lua)\n'
if "$helua" tests/lua/test_cuda_kernels.lua; then echo "-- test_cuda_kernels: ok"; else
  echo "-- test_cuda_kernels: FAILED"; status=1; fi

printf '\n== bandwidth (share/scripts/gpu_bench_targets.lua --only add,softmax,rms_norm,layer_norm)\n'
if "$helua" share/scripts/gpu_bench_targets.lua --only add,softmax,rms_norm,layer_norm; then
  echo "-- gpu_bench_targets: ok"; else echo "-- gpu_bench_targets: FAILED"; status=1; fi

printf '\n== softmax across configs (share/scripts/gpu_kernel_bench.lua)\n'
if "$helua" share/scripts/gpu_kernel_bench.lua; then echo "-- gpu_kernel_bench: ok"; else
  echo "-- gpu_kernel_bench: FAILED"; status=1; fi

if [ $status = 0 ]; then echo "gpu-perf-check: all passed"; else echo "gpu-perf-check: FAILED"; fi
exit $status
