#!/bin/sh
# The Triton cross-check on the GPU machine: the static helua writes every kernel's "triton" stage
# (default cuda config and 2 random ones, small sizes) with its inputs and expected outputs, then
# python3 runs the text under real Triton and compares. Part of share/scripts (share/doc/triton.md).
#   Run there:  sh share/scripts/triton-check.sh [helua] [outdir] [nrandom]   (from the repo root;
#               nrandom: random configs per kernel besides the default, 2 unless given)
# Exit status: 0 when every case matched, 1 otherwise (77 without a GPU or torch/triton).
set -u
cd "$(dirname "$0")/../.."
helua=${1:-build-static/helua}
out=${2:-${TMPDIR:-/tmp}/helua-triton-check}
if ! python3 -c 'import torch, triton' >/dev/null 2>&1; then
  echo "triton-check: python3 with torch and triton is not available; skipped"
  exit 77
fi
rm -rf "$out"
mkdir -p "$out"
"$helua" share/scripts/triton_check.lua "$out" small "${3:-2}" || status=1
python3 share/scripts/triton_check.py "$out"/*/
rc=$?
[ "${status:-0}" = 0 ] || rc=1
exit $rc
