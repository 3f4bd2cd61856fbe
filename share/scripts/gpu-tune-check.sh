#!/bin/sh
# The GPU autotuner's smoke test on the GPU machine: add, softmax and matmul tuned quick on the
# cuda target (one worker per GPU) through the statically linked helua, each printing its table
# (default and tuned ms, speed-up, tuning seconds, configs); then the GPU tuning test. Part of
# share/scripts; see share/doc/tuning.md "The GPU path".
#   Build here:  make static              (build-static/helua)
#   Run there:   sh share/scripts/gpu-tune-check.sh [path/to/helua] [budget seconds, default 15]
# Exit status: 0 when every step passed; 1 when one failed or crashed (a signal, a timeout).
set -u
cd "$(dirname "$0")/../.."
helua=${1:-build-static/helua}
budget=${2:-15}
status=0
export HELUA_CACHE_DIR="${TMPDIR:-/tmp}/helua-gpu-tune-cache.$$"

step() { # name, command...: runs it under a time limit, remembers a failure
  name=$1
  shift
  printf '\n== %s\n' "$name"
  start=$(date +%s)
  timeout 240 "$@"
  rc=$?
  printf -- '-- %s: exit %d after %ds\n' "$name" "$rc" "$(( $(date +%s) - start ))"
  [ "$rc" -eq 0 ] || status=1
}

if [ ! -x "$helua" ]; then
  echo "gpu-tune-check: $helua is missing; build it with 'make static' and carry it here" >&2
  exit 1
fi
command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi --query-gpu=index,name,driver_version --format=csv
"$helua" --version

for k in add softmax matmul; do
  step "helua tune kernels/$k.lua --backend cuda --effort quick --budget $budget" \
    "$helua" tune "kernels/$k.lua" --backend cuda --effort quick --budget "$budget" --no-cache
done
step "tests/lua/test_tune_cuda.lua" "$helua" tests/lua/test_tune_cuda.lua
rm -rf "$HELUA_CACHE_DIR"
echo
[ "$status" -eq 0 ] && echo "gpu-tune-check: all passed" || echo "gpu-tune-check: FAILED"
exit "$status"
