#!/bin/sh
# `helua wb FILE`: the workbench driven in a real terminal (a detached tmux session at 100x30):
# source and ir tab on screen, switch to the llvm tab, run (PASS), help, Ctrl-C does not quit,
# q quits and the terminal is restored (tty modes and the main screen). Skipped (77) without tmux.
# Part of tests/cli. Usage: cli_wb.sh HELUA [MODULE_DIR]
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
# waits (up to 10 s, or $2) for the screen to contain $1; the screen is left in $out
wait_for() {
  limit=${2:-100}; i=0
  while [ $i -lt "$limit" ]; do
    out=$(screen)
    case "$out" in *"$1"*) return 0 ;; esac
    sleep 0.1; i=$((i + 1))
  done
  return 1
}
check() { # name, expected-substring (waited for)
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

# the pane's shell records the tty modes before and after, and the workbench's exit code
cat >"$tmp/pane1.sh" <<EOF
export TERM=screen
stty -g >'$tmp/before'
'$helua' wb kernels/add.lua --size small
echo "wb-exit=\$?"
stty -g >'$tmp/after'
sleep 60
EOF
t new-session -d -s wb -x 100 -y 30 "sh '$tmp/pane1.sh'"
check source-pane "local add = helua.kernel(function(x"
check line-numbers "  11     out[{tm, tn}]"
check ir-tab "[1 ir]  2 lowered"
check ir-text "kernel add"
check status-bar "cpu | llvm | add"
t send-keys -t wb 3
check llvm-tab " 1 ir   2 lowered  [3 llvm]  4 asm"
check llvm-text "define"
t send-keys -t wb r
check run-report "check against the float64 reference" 300
check run-pass "run PASS" 300
check run-verdict "│PASS  add"
t send-keys -t wb Tab
check tab-back "[3 llvm]"
t send-keys -t wb '?'
check help "helua workbench - keys"
t send-keys -t wb x # any key closes the help
# resize to 80x24: the panes re-layout, the status bar on the new last row
t resize-window -t wb -x 80 -y 24
i=0; last=""
while [ $i -lt 100 ]; do
  out=$(screen); last=$(printf '%s\n' "$out" | tail -n 1)
  rows=$(printf '%s\n' "$out" | wc -l)
  [ "$rows" -eq 24 ] && case "$last" in " cpu | llvm | add"*"k kernel"*) break ;; esac
  sleep 0.1; i=$((i + 1))
done
if [ $i -lt 100 ]; then pass=$((pass + 1)); echo "ok   resize"
else fail=$((fail + 1)); printf 'FAIL resize: last row %s of:\n%s\n' "$last" "$out"; fi
t send-keys -t wb C-c
check ctrl-c "nothing to cancel"
absent ctrl-c-alive "wb-exit="
t send-keys -t wb q
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

# SIGTERM: the handler restores the terminal first, then the process dies of the signal
# (a second session: killing the first one could stop the server under the new one)
sess=wb2
cat >"$tmp/pane2.sh" <<EOF
export TERM=screen
stty -g >'$tmp/before2'
'$helua' wb kernels/add.lua --size small </dev/tty &
echo \$! >'$tmp/pid'
wait \$!
echo "wb-exit=\$?"
stty -g >'$tmp/after2'
sleep 60
EOF
t new-session -d -s wb2 -x 100 -y 30 "sh '$tmp/pane2.sh'"
check sigterm-open "cpu | llvm | add | stage ir"
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
