#!/bin/sh
# `helua tune FILE`: the table, the hard-code line, the progress log on stderr, the CSV
# (HELUA_AUTOTUNE_LOG), option errors and the usage line. Part of tests/cli.
# Usage: cli_tune.sh HELUA [MODULE_DIR]
set -u
helua=$1
. "$(dirname "$0")/check.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

export HELUA_CACHE_DIR="$tmp/cache"
out=$(HELUA_AUTOTUNE_LOG="$tmp/trials.csv" "$helua" tune kernels/softmax.lua --kernel softmax \
      --size small --budget 10 2>"$tmp/err"); rc=$?
err=$(cat "$tmp/err")
check table-head "default ms     tuned ms  speedup  tuning s  configs" "$out"
check table-row "softmax    " "$out"
check hardcode "softmax: helua.kernel(fn, {config = helua.Config{" "$out"
check exit "0" "$rc"
check log-start "Starting pattern search (quick effort" "$err"
check log-gen "Generation 0: ok=" "$err"
check log-end "Autotuning complete in" "$err"
case "$err" in *"configs  ok "*) check no-bar-off-tty "no bar" "bar drawn into a pipe" ;; esac
csv=$(cat "$tmp/trials.csv" 2>&1)
check csv "index,status,time_ms,samples,cut,compile_s,config,message,device" "$csv"
check csv-device '"cpu"' "$csv"
check csv-row "1,ok," "$csv"

out=$("$helua" tune kernels/softmax.lua --kernel softmax --size small 2>&1); rc=$?
check cache-hit "Found a cached config" "$out"
check cache-row "cached" "$out"
check cache-exit "0" "$rc"
out=$("$helua" tune kernels/softmax.lua --kernel softmax --size small --no-cache --budget 3 2>&1)
check no-cache "Starting pattern search" "$out"

out=$("$helua" tune kernels/matmul.lua --kernel matmul --size tiny --budget 5 2>/dev/null); rc=$?
check matmul "matmul" "$out"
check matmul-exit "0" "$rc"

# --export writes FILE.configs.lua beside a copy of the kernel file; later runs use it (the
# tuned shape exactly, another shape through the nearest tuned one)
cp kernels/softmax.lua "$tmp/softmax.lua"
out=$("$helua" tune "$tmp/softmax.lua" --kernel softmax --size small --budget 3 --export 2>/dev/null); rc=$?
check export "exported 1 config(s) to $tmp/softmax.configs.lua" "$out"
check export-exit "0" "$rc"
exported=$(cat "$tmp/softmax.configs.lua" 2>&1)
check export-file '["line 7"] = {name = "softmax",' "$exported"
check export-key 'key = "T:float16:cpu:37x53:53,1"' "$exported"
out=$("$helua" -e '
  local run = require "helua.run"
  local d = run.load(arg[1])
  local e = d.entries[1]
  for _, sz in ipairs({"small", "tiny"}) do
    local args = run.inputs(e, run.size(d, sz), 0)
    e.kernel(table.unpack(args, 1, args.n))
    print(sz .. " " .. tostring(e.kernel:bind(table.unpack(args, 1, args.n)).exported_how))
  end' "$tmp/softmax.lua" 2>&1)
check export-exact "small exact" "$out"
check export-nearest "tiny nearest" "$out"
out=$("$helua" run "$tmp/softmax.lua" --size small 2>&1); rc=$?
check export-run "PASS" "$out"
check export-run-exit "0" "$rc"

# --export-json writes Helion-format JSON (default: FILE's stem + .configs.json, or PATH);
# helua run --configs reads it; a malformed file is one clear error and is never overwritten
out=$("$helua" tune "$tmp/softmax.lua" --kernel softmax --size small --budget 3 --export-json 2>/dev/null); rc=$?
check export-json "exported 1 config(s) as JSON to $tmp/softmax.configs.json" "$out"
check export-json-exit "0" "$rc"
js=$(cat "$tmp/softmax.configs.json" 2>&1)
check export-json-format '"format": "helua-configs"' "$js"
check export-json-config '"block_sizes": [' "$js"
out=$("$helua" tune "$tmp/softmax.lua" --kernel softmax --size small --budget 3 --export-json "$tmp/x.json" 2>/dev/null)
check export-json-path "as JSON to $tmp/x.json" "$out"
out=$("$helua" run "$tmp/softmax.lua" --size small --configs "$tmp/x.json" 2>&1); rc=$?
check run-configs "PASS" "$out"
check run-configs-exit "0" "$rc"
printf '{"block_sizes": [16' > "$tmp/bad.json"
out=$("$helua" run "$tmp/softmax.lua" --size small --configs "$tmp/bad.json" 2>&1); rc=$?
check run-configs-bad "--configs: $tmp/bad.json: not valid JSON" "$out"
check run-configs-bad-exit "1" "$rc"
out=$("$helua" tune "$tmp/softmax.lua" --kernel softmax --size small --export-json "$tmp/bad.json" 2>&1); rc=$?
check export-json-bad "left untouched" "$out"
check export-json-bad-kept '{"block_sizes": [16' "$(cat "$tmp/bad.json")"

# on a terminal (script(1) gives one): the progress bar, redrawn in place, above it the log
if command -v script >/dev/null 2>&1; then
  out=$(TERM=xterm script -qec "'$helua' tune kernels/softmax.lua --kernel softmax --size tiny --budget 3 --no-cache" /dev/null 2>&1)
  check tty-bar "configs  ok " "$out"
  check tty-bar-clear "$(printf '\r\033[K')" "$out"
  check tty-log "Autotuning complete in" "$out"
else
  echo "skip tty-bar: no script(1)"
fi

out=$("$helua" tune kernels/softmax.lua --kernel softmax --size tiny --budget 3 --no-cache --algorithm de --workers 2 2>&1); rc=$?
check algorithm-de "Starting differential evolution" "$out"
check algorithm-exit "0" "$rc"
out=$(HELUA_LOGS=tune "$helua" tune kernels/softmax.lua --kernel softmax --size tiny --budget 2 --no-cache 2>&1)
check trial-log "Trial 1 on cpu: ok " "$out"
out=$("$helua" tune kernels/softmax.lua --algorithm annealing 2>&1)
check bad-algorithm "--algorithm must be pattern, de or random, got annealing" "$out"

out=$("$helua" tune kernels/softmax.lua --effort fast 2>&1); rc=$?
check bad-effort "--effort must be quick or full, got fast" "$out"
check bad-effort-exit "1" "$rc"
out=$("$helua" tune kernels/softmax.lua --efort quick 2>&1); rc=$?
check bad-flag "unknown option --efort: did you mean --effort?" "$out"
out=$("$helua" tune 2>&1); rc=$?
check no-file "missing FILE" "$out"
out=$("$helua" tune --help 2>&1); rc=$?
check help "usage: helua tune FILE" "$out"
out=$("$helua" --help 2>&1)
check usage-line "tune FILE [--effort quick|full]" "$out"

echo "cli_tune: $pass passed, $fail failed"
[ "$fail" = 0 ]
