#!/usr/bin/env python3
# A scripted workbench session for machines without tmux (the GPU machine): runs `helua wb` in a
# pseudo-terminal, types keys, and checks what the program drew. Part of share/scripts.
#   [WB_EXPECT_DEVICE=cuda] python3 share/scripts/wb-session.py [HELUA] [KERNEL_FILE]
# Checks: the workbench starts and names the device in its status bar ("cuda: ..." on a GPU
# machine, "cpu" elsewhere), `r` runs the kernel and reports PASS, `p` steps three lines, `t` `q`
# tunes with quick effort to the end, `e` exports the best config, `i` evaluates a Lua cell, `q`
# quits with status 0. Prints one line per check; exits 1 on the first failure.
# WB_TUNE=0 skips the tuning and export steps (they take a minute or so).
import os
import pty
import re
import select
import struct
import sys
import time
import fcntl
import termios

helua = sys.argv[1] if len(sys.argv) > 1 else "build/helua"
kernel = sys.argv[2] if len(sys.argv) > 2 else "kernels/add.lua"
COLS, ROWS = 120, 40

# a copy of the kernel file in a temporary folder: the export writes beside it
import shutil
import tempfile
work = tempfile.mkdtemp(prefix="helua-wb-session-")
shutil.copy(kernel, work)
kernel = os.path.join(work, os.path.basename(kernel))
helua = os.path.abspath(helua)

pid, fd = pty.fork()
if pid == 0:
    os.environ["TERM"] = "xterm-256color"
    os.environ["NO_COLOR"] = "1"
    os.execv(helua, [helua, "wb", kernel, "--size", "small"])

fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLS, 0, 0))
seen = b""


def pump(seconds):
    """Reads what the workbench draws for up to `seconds`."""
    global seen
    end = time.time() + seconds
    while time.time() < end:
        r, _, _ = select.select([fd], [], [], 0.05)
        if r:
            try:
                data = os.read(fd, 65536)
            except OSError:
                return False
            if not data:
                return False
            seen += data
    return True


def text():
    # drop escape sequences: what is left is the characters drawn, in order
    return re.sub(rb"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Za-z0-9]|\x1b[=>]", b"", seen).decode(
        "utf-8", "replace")


def expect(what, pattern, seconds):
    end = time.time() + seconds
    while time.time() < end:
        if re.search(pattern, text()):
            print(f"ok   {what}")
            return True
        if not pump(0.2):
            break
    print(f"FAIL {what}: /{pattern}/ not drawn within {seconds} s")
    tail = text()[-1500:]
    print("---- last output ----\n" + tail + "\n---------------------")
    os.kill(pid, 9)
    sys.exit(1)


def key(k, settle=0.3):
    global seen
    seen = b""  # check only what this key makes the workbench draw
    os.write(fd, k.encode())
    pump(settle)


pump(1.0)
expect("the workbench starts on " + kernel, r"add", 15)
# WB_EXPECT_DEVICE=cuda (the GPU machine): the status bar must name the GPU, not fall back to cpu
# (curses redraws only what changed: "cpu" becoming "cuda: NAME" may arrive as "uda: NAME")
want = r"c?uda: [A-Za-z]" if os.environ.get("WB_EXPECT_DEVICE") == "cuda" else r"c?uda: |cpu"
expect("the status bar names the device", want, 20)
shown = re.findall(r"c?uda: [^|\r\n]{0,40}", text()) or re.findall(r"cpu[^|\r\n]{0,60}", text())
print("     device: " + (shown[0].strip() if shown else "?"))
key("r")
expect("r runs the kernel: check + timing", r"PASS|max abs err", 120)
if os.environ.get("WB_EXPECT_RUN_DEVICE"):
    # the run report names where it ran ("cuda" for a kernel on the cuda backend)
    expect("the run was on " + os.environ["WB_EXPECT_RUN_DEVICE"], os.environ["WB_EXPECT_RUN_DEVICE"], 5)
key("p")
# (curses redraws only what changed, so the status message is what is matched)
expect("p starts step mode", r"paused at line \d+", 30)
first = int(re.findall(r"paused at line (\d+)", text())[-1])
for i in range(3):
    key("n", 0.3)
    # each n moves the step pane's line on (the add kernels' lines 8, 9, 10, 11 are one apart)
    expect(f"n (step {i + 1}) reaches line {first + i + 1}", rf"paused at line {first + i + 1}\b", 30)
key("x", 0.5)
if os.environ.get("WB_TUNE", "1") != "0":
    key("t", 0.5)
    key("q", 0.5)
    expect("t q tunes with quick effort to the end", r"done: best", 300)
    key("e", 0.5)
    expect("e exports the best config", r"exported|to \S*\.configs\.lua", 90)
key("i", 0.5)
expect("i opens the notebook", r"Lua cells", 30)
for ch in "6 * 7":
    key(ch, 0.05)
key("\r", 0.5)
expect("a cell evaluates (6 * 7)", r"42", 30)
key("\x1b", 0.5)  # Esc gives the keys back
key("q", 0.5)
_, status = os.waitpid(pid, 0)
code = os.waitstatus_to_exitcode(status)
if code != 0:
    print(f"FAIL q quits with status 0 (got {code})")
    sys.exit(1)
print("ok   q quits with status 0")
