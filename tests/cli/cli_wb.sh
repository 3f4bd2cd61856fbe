#!/bin/sh
# `helua wb FILE`: the workbench driven in a real terminal (a detached tmux session at 100x30):
# source and every code tab (ptx and triton too, triton's lines linked to the source), run (PASS),
# quick tuning on the CPU with its table, sort, pick and time a trial, export, stop a full tuning
# with x and a run with Ctrl-C, step mode (three lines, a breakpoint, continue), the notebook
# (refreshed by a reload and by another kernel, its cells kept), a kernel on the cuda backend (its
# run, tuning refused with the reason), a kernel error and a dying worker shown in the UI, reload
# on change, help, resize, q, and the terminal restored (tty modes and the main screen), also on
# SIGTERM. Skipped (77) without tmux. Part of tests/cli. Usage: cli_wb.sh HELUA [MODULE_DIR]
set -u
helua=$1
command -v tmux >/dev/null 2>&1 || { echo "SKIP tmux is not installed"; exit 77; }
case "$helua" in /*) ;; *) helua=$(pwd)/$helua ;; esac
pass=0; fail=0
tmp=$(mktemp -d)
sock="helua-wb-test-$$"
t() { tmux -L "$sock" -f /dev/null "$@"; }
cleanup() { t kill-server >/dev/null 2>&1; rm -rf "$tmp"; }
trap cleanup EXIT INT TERM
sess=wb
screen() { t capture-pane -p -t "$sess" 2>/dev/null; }
# waits (up to 10 s, or $2 tenths) for the screen to contain $1; the screen is left in $out
wait_for() {
  limit=${2:-100}; i=0
  while [ $i -lt "$limit" ]; do
    out=$(screen)
    case "$out" in *"$1"*) return 0 ;; esac
    sleep 0.1; i=$((i + 1))
  done
  return 1
}
check() { # name, expected-substring (waited for), [limit in tenths of a second]
  if wait_for "$2" "${3:-100}"; then
    pass=$((pass + 1)); echo "ok   $1"
  else
    fail=$((fail + 1))
    printf 'FAIL %s: expected to find %s on the screen:\n%s\n' "$1" "$2" "$out"
  fi
}
absent() { # name, unexpected-substring (now)
  out=$(screen)
  case "$out" in
    *"$2"*) fail=$((fail + 1))
      printf 'FAIL %s: did not expect %s on the screen:\n%s\n' "$1" "$2" "$out" ;;
    *) pass=$((pass + 1)); echo "ok   $1" ;;
  esac
}
keys() { t send-keys -t "$sess" "$@"; }

# the kernel files live in $tmp: export writes beside them, reload watches them
cp kernels/add.lua "$tmp/add.lua"
# a kernel that raises while it is traced, and one whose reference kills its process
sed 's/^  return out$/  error("kaboom in the kernel")/' kernels/add.lua >"$tmp/bad.lua"
sed 's/^  reference = function(x, y) return/  reference = function(x, y) os.exit(3) return/' \
  kernels/add.lua >"$tmp/dies.lua"
# add on the cuda backend (add_broadcast stays on auto: the CPU with the file's host tensors)
sed '0,/^end)$/s//end, {backend = "cuda"})/' kernels/add.lua >"$tmp/cuda.lua"

# an "editor" for E: appends a line to the file it is given
printf '#!/bin/sh\necho "-- edited in the editor" >>"$1"\n' >"$tmp/ed.sh"
chmod +x "$tmp/ed.sh"

# the pane's shell records the tty modes before and after, and the workbench's exit code
cat >"$tmp/pane1.sh" <<EOF2
export TERM=screen EDITOR='$tmp/ed.sh'
cd '$tmp'
stty -g >'$tmp/before'
'$helua' wb add.lua --size small
echo "wb-exit=\$?"
stty -g >'$tmp/after'
sleep 60
EOF2
t new-session -d -s wb -x 100 -y 30 "sh '$tmp/pane1.sh'"
check source-pane "local add = helua.kernel(function(x"
check line-numbers "  11     out[{tm, tn}]"
check ir-tab "[1 ir] 2 low 3 llv 4 asm 5 ptx 6 tri 7 run 8 tun 9 ste 0 nb"
check ir-text "kernel add" 300
check status-bar " | llvm | add"
check device "cpu (no CUDA: "
keys 2
check lowered-tab "[2 low]"
check lowered-text "# lowered for the CPU" 300
keys 3
check llvm-tab "1 ir 2 low [3 llv] 4 asm"
check llvm-text "define" 300
keys 4
check asm-tab "[4 asm]"
check asm-text ".text" 300
keys 1
check ir-again "[1 ir]"
# the ir line of source line 11 is highlighted from the source cursor: move it there (s, Down)
keys s Down Down Down Down Down Down Down Down Down Down
check source-cursor "add.lua : add"
# source -> code: the ir lines from source line 11 are bold (and coloured), the others are not
esc=$(printf '\033')
attr_line() { t capture-pane -e -p -t "$sess" | grep -a -F -- "$1" | head -n 1; }
linked() { # name, line text, 1 if it must be highlighted after the separator
  i=0
  while [ $i -lt 50 ]; do
    l=$(attr_line "$2"); code=${l#*│}
    case "$code" in *"$esc[1m"*) got=1 ;; *) got=0 ;; esac
    [ "$got" = "$3" ] && break
    sleep 0.1; i=$((i + 1))
  done
  if [ "$got" = "$3" ]; then pass=$((pass + 1)); echo "ok   $1"
  else fail=$((fail + 1)); echo "FAIL $1: highlighted=$got, wanted $3: $l"; fi
}
linked link-src-to-code "%9 = add %6, %8" 1
linked link-src-to-code-other "%2 = const 53" 0
# the triton tab: Triton Python for the cuda config, its "# add.lua:N" tags linked the same way
keys 6
check triton-tab "5 ptx [6 tri] 7 run"
check triton-text "@triton.jit" 300
linked link-src-to-triton "v_9 = v_6 + v_8" 1
linked link-src-to-triton-other "mask_0 = indices_0 < 37" 0
# the ptx tab: the cuda target's PTX, made without a GPU
keys 5
check ptx-tab "[5 ptx]"
check ptx-target ".target sm_90a" 300
check ptx-entry ".entry helua_add(" 300
# its lines carry "// add.lua:N" from the lowering's line locations: linked the same way
linked link-src-to-ptx "@%p1 bra" 1
linked link-src-to-ptx-other "mov.u32" 0
keys 1
check ir-back "[1 ir]"
# code -> source: the code cursor on a line of source line 10 highlights that source line
keys s Home Down Down Down Down
src_linked() {
  i=0
  while [ $i -lt 50 ]; do
    l=$(attr_line "for tm, tn in hl.tile"); src=${l%%│*}
    case "$src" in *"$esc[1m"*) break ;; esac
    sleep 0.1; i=$((i + 1))
  done
  if [ $i -lt 50 ]; then pass=$((pass + 1)); echo "ok   link-code-to-src"
  else fail=$((fail + 1)); echo "FAIL link-code-to-src: $l"; fi
}
src_linked
keys r
check run-report "check against the float64 reference" 300
check run-pass "run PASS" 300
check run-verdict "│PASS  add"
check run-tab "[7 run]"
keys 3
check tab-back "[3 llv]"

# tuning: t, then q (quick); the pane fills in live and ends with the re-timed best
keys t
check tune-prompt "tune effort: q quick  f full"
keys q
check tune-pane "add (quick)  generation" 100
check tune-done "done: best" 600
check tune-bar "█] 100%"
check tune-table " rank trial gen    time ms       GB/s  status   device"
check tune-rows "    1 "
check tune-plot " ms█"
keys o
check tune-sort "sort: trial (o)"
keys o o o
check tune-sort-back "sort: rank (o)"
keys Enter
check pick-label "| trial "
check pick-timed "with the picked config" 300
keys e
check export "exported add to add.configs.lua" 300
[ -s "$tmp/add.configs.lua" ] && grep -q "config = " "$tmp/add.configs.lua" &&
  { pass=$((pass + 1)); echo "ok   export-file"; } ||
  { fail=$((fail + 1)); echo "FAIL export-file: no $tmp/add.configs.lua"; }
keys d
check default-config "default config"

# a full tuning runs while the UI stays responsive (help opens and closes); x stops it and the
# trials found are kept
keys t f
check tune-full "tuning add (full)" 100
keys '?'
check help-while-busy "helua workbench - keys"
keys Space
check tune-full-trials "  ok       cpu     {" 300
keys x
check tune-stopped "stopped tuning add (full)" 100
check tune-kept "stopped: kept"
# Ctrl-C stops a run and not the program
keys r C-c
check ctrl-c-stops "stopped running add" 100
absent ctrl-c-alive "wb-exit="
keys C-c
check ctrl-c-idle "nothing to stop"

# reload when the file changes on disk
sleep 1
printf '%s\n' '-- appended by the test' >>"$tmp/add.lua"
check reload "reloaded add.lua" 100

# step mode: a breakpoint on line 11 (the source cursor is there), p, three lines with n, the
# tiles and locals of each, then c to the breakpoint and c to the end
keys s Home Down Down Down Down Down Down Down Down Down Down b s
check breakpoint "breakpoint on line 11"
keys p
check step-start "step add  line 8" 300
check step-locals "x          tensor float32[37, 53]  min "
keys n
check step-line-9 "step add  line 9"
keys n
check step-line-10 "step add  line 10"
check step-local-m "m          37"
keys n
check step-line-11 "step add  line 11"
check step-tiles "tm         tile [1, 37]"
check step-marker "  11>    out[{tm, tn}]"
keys c
check step-end "finished: PASS against the reference" 300
keys p
check step-again "step add  line 8" 300
keys c
check step-to-break "step add  line 11" 300
keys x
check step-stopped "stopped stepping add"

# the notebook: cells in the file's environment, a multi-line cell, a tensor summary, an error
# kept with its cell, Ctrl-C stops a cell that runs forever, history with Up
# types a cell and waits for it to finish (a cell typed while one runs is refused)
idle() {
  i=0
  while [ $i -lt 300 ]; do
    case "$(screen)" in *"(running)"*) ;; *) return 0 ;; esac
    sleep 0.1; i=$((i + 1))
  done
}
cell() {
  t send-keys -t "$sess" -l "$1"; wait_for "> $1_" 100
  keys Enter; wait_for "│lua> _" 300; idle
}
keys i
check nb-open "Lua cells: helua, hl, the file's kernels"
cell 'x = inputs[1]'
check nb-cell-1 "[1]> x = inputs[1]" 300
cell 'x:shape()'
check nb-value "{[1] = 37, [2] = 53}" 300
t send-keys -t "$sess" -l 'for i = 1, 2 do'
keys Enter
check nb-more "...> " 100
cell 'print(i * 10) end'
check nb-print "  20" 100
cell 'add(x, inputs[2])'
check nb-tensor "  tensor float32[37, 53]  min " 300
cell 'error("nope")'
check nb-error "error: cell 5:1: nope" 100
cell 'kept = 41'
t send-keys -t "$sess" -l 'while true do end'
keys Enter
check nb-running "(running)" 100
keys C-c
check nb-interrupted "  error: interrupted (Ctrl-C)" 100
check nb-interrupted-msg "cell 7 interrupted" 100
cell 'kept + 1'
check nb-state-kept "  42" 100
# a cell in C (no Lua instruction to interrupt at): a second Ctrl-C ends the notebook
t send-keys -t "$sess" -l 'os.execute("sleep 30")'
keys Enter
check nb-running-2 "(running)" 100
keys C-c
check nb-interrupting "interrupting the cell" 100
keys C-c
check nb-stopped "stopped notebook" 100
cell '1 + 1'
check nb-fresh "[10]> 1 + 1" 300
check nb-fresh-value "  2" 100
keys Up Up
check nb-history "lua> os.execute(\"sleep 30\")" 100
keys C-u Escape
check nb-leave "notebook: i or Enter to type again" 100
keys i
cell 'old_file, mine = file, 7'
keys Escape
sleep 0.2

# E runs $EDITOR on the file (the terminal handed over and back), then reloads it
keys E
check editor-reload "reloaded add.lua" 100
grep -q "edited in the editor" "$tmp/add.lua" && { pass=$((pass + 1)); echo "ok   editor-ran"; } ||
  { fail=$((fail + 1)); echo "FAIL editor-ran: the editor did not edit $tmp/add.lua"; }
check editor-screen "9 ste [0 nb]" 300
# the reload refreshed the notebook's names (a new `file`) and kept the user's (old_file, mine)
check nb-refreshed "-- environment refreshed: add.lua, kernel add (" 300
keys i
cell 'tostring(file ~= old_file) .. "/" .. mine'
check nb-refreshed-env '"true/7"' 100
# another kernel (k): the notebook's inputs are its inputs now
keys Escape
sleep 0.2
keys k
check nb-kernel-switch "| llvm | add_broadcast" 100
keys 0
check nb-refreshed-kernel "kernel add_broadcast (" 300
keys i
cell 'inputs[2]:shape()'
check nb-new-inputs "{[1] = 53}" 100
keys Escape
sleep 0.2

keys '?'
check help "helua workbench - keys"
check help-views "1-6  code: ir, lowered, llvm, asm, ptx, triton"
keys z # any key closes the help
# resize to 80x24: the panes re-layout, the status bar on the new last row
t resize-window -t wb -x 80 -y 24
i=0; last=""
while [ $i -lt 100 ]; do
  out=$(screen); last=$(printf '%s\n' "$out" | tail -n 1)
  rows=$(printf '%s\n' "$out" | wc -l)
  [ "$rows" -eq 24 ] && case "$last" in " cpu"*"| llvm | add"*) break ;; esac
  sleep 0.1; i=$((i + 1))
done
if [ $i -lt 100 ]; then pass=$((pass + 1)); echo "ok   resize"
else fail=$((fail + 1)); printf 'FAIL resize: last row %s of:\n%s\n' "$last" "$out"; fi
# at 80 columns the ten tabs still fit: keys only, the active one named
check resize-tabs "│1 2 3 4 5 6 7 8 9 [0 nb]"
keys q
check quit "wb-exit=0"
for f in before after; do [ -s "$tmp/$f" ] || sleep 0.5; done
if [ -s "$tmp/before" ] && cmp -s "$tmp/before" "$tmp/after"; then
  pass=$((pass + 1)); echo "ok   tty-restored"
else
  fail=$((fail + 1)); echo "FAIL tty-restored: stty -g differs after the workbench exited"
fi
alt=$(t display-message -p -t wb '#{alternate_on}')
if [ "$alt" = 0 ]; then pass=$((pass + 1)); echo "ok   main-screen"
else fail=$((fail + 1)); echo "FAIL main-screen: alternate_on=$alt after exit"; fi

# errors are shown, never fatal: a kernel that raises (its ir tab says why), a worker that dies
sess=wb3
t new-session -d -s wb3 -x 100 -y 30 \
  "cd '$tmp' && TERM=screen '$helua' wb bad.lua --size small; echo wb-exit=\$?; sleep 60"
check kernel-error "kaboom in the kernel" 300
check kernel-error-status "ir: error"
t send-keys -t wb3 q
check kernel-error-quit "wb-exit=0"
sess=wb4
t new-session -d -s wb4 -x 100 -y 30 \
  "cd '$tmp' && TERM=screen '$helua' wb dies.lua --size small; echo wb-exit=\$?; sleep 60"
check dies-open "kernel add" 300
t send-keys -t wb4 r
check worker-died "the worker exited 3" 300
absent worker-died-alive "wb-exit="
t send-keys -t wb4 q
check worker-died-quit "wb-exit=0"

# a kernel on the cuda backend: its code tabs, a run that moves the inputs to the GPU (here: the
# report says why it cannot), tuning refused with the reason, the next kernel on the CPU
sess=wb5
t new-session -d -s wb5 -x 100 -y 30 \
  "cd '$tmp' && TERM=screen '$helua' wb cuda.lua --size small; echo wb-exit=\$?; sleep 60"
check cuda-status "| cuda | add" 300
check cuda-ir "kernel add" 300
t send-keys -t wb5 5
check cuda-ptx ".target sm_90a" 300
t send-keys -t wb5 r
check cuda-run "FAIL  add" 300
if command -v nvidia-smi >/dev/null 2>&1; then check cuda-run-why "run " 10
else check cuda-run-why "cuda: unavailable" 100; fi
t send-keys -t wb5 t
check cuda-tune-prompt "tune effort:" 100
t send-keys -t wb5 q
if command -v nvidia-smi >/dev/null 2>&1; then check cuda-tune-runs "Generation" 600
else check cuda-tune-why "cannot tune add on the GPU: cuda: unavailable" 100; fi
t send-keys -t wb5 k
check cuda-next-kernel "| llvm | add_broadcast" 100
t send-keys -t wb5 q
check cuda-quit "wb-exit=0"

# workers that stay after their result (a cuda worker destroying its context; here
# HELUA_TEST_WB_LINGER=4): p right after a run's result starts step mode at once (the finished
# worker is reaped), and e right after a tuning's result is queued until that worker exits
sess=wb6
mkdir -p "$tmp/q" && cp kernels/add.lua "$tmp/q/add.lua"
t new-session -d -s wb6 -x 100 -y 30 \
  "cd '$tmp/q' && HELUA_TEST_WB_LINGER=4 TERM=screen '$helua' wb add.lua --size small; echo wb-exit=\$?; sleep 60"
check queue-open "| llvm | add" 300
t send-keys -t wb6 r
check linger-run "run PASS" 300
t send-keys -t wb6 p
check linger-step "paused at line 8" 30
t send-keys -t wb6 x
check linger-step-stopped "stopped stepping add" 100
t send-keys -t wb6 t
check queue-tune-prompt "tune effort:" 100
t send-keys -t wb6 q
check queue-tune-done "done: best" 600
t send-keys -t wb6 e
check export-queued "export queued" 20
check export-after-exit "exported add to add.configs.lua" 200
[ -s "$tmp/q/add.configs.lua" ] && { pass=$((pass + 1)); echo "ok   export-queued-file"; } ||
  { fail=$((fail + 1)); echo "FAIL export-queued-file: no $tmp/q/add.configs.lua"; }
t send-keys -t wb6 q
check queue-quit "wb-exit=0"

# SIGTERM: the handler restores the terminal first, then the process dies of the signal
# (a second session: killing the first one could stop the server under the new one)
sess=wb2
cat >"$tmp/pane2.sh" <<EOF2
export TERM=screen
stty -g >'$tmp/before2'
'$helua' wb kernels/add.lua --size small </dev/tty &
echo \$! >'$tmp/pid'
wait \$!
echo "wb-exit=\$?"
stty -g >'$tmp/after2'
sleep 60
EOF2
t new-session -d -s wb2 -x 100 -y 30 "sh '$tmp/pane2.sh'"
check sigterm-open "| llvm | add"
kill -TERM "$(cat "$tmp/pid")"
check sigterm-exit "wb-exit=143"
for f in before2 after2; do [ -s "$tmp/$f" ] || sleep 0.5; done
alt=$(t display-message -p -t wb2 '#{alternate_on}')
if [ -s "$tmp/before2" ] && cmp -s "$tmp/before2" "$tmp/after2" && [ "$alt" = 0 ]; then
  pass=$((pass + 1)); echo "ok   sigterm-restored"
else
  fail=$((fail + 1))
  echo "FAIL sigterm-restored: tty modes or screen not restored (alternate_on=$alt)"
fi

# without a terminal: a message pointing at helua run, exit 1
msg=$("$helua" wb kernels/add.lua </dev/null 2>&1 >/dev/null); rc=$?
case "$msg$rc" in *"needs a terminal"*1) pass=$((pass + 1)); echo "ok   no-tty" ;;
  *) fail=$((fail + 1)); echo "FAIL no-tty: $rc $msg" ;; esac

echo "cli_wb: $pass passed, $fail failed"
[ $fail = 0 ]
