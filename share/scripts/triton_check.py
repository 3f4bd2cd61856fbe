#!/usr/bin/env python3
# The Triton cross-check's runner: for each case directory that share/scripts/triton_check.lua
# wrote (kernel.py, manifest.json, raw little-endian float64 files), builds the CUDA tensors, runs
# the "triton" stage text under the installed Triton and compares every written tensor with its
# expected values (the kernel's float64 reference, or helua's own CPU result where no returned
# value is that tensor) at the kernel's tolerance. Prints a table; exits 1 on any mismatch or
# error (a config that needs more registers or shared memory than the card has is a "skip").
# Part of share/scripts (share/doc/triton.md). Usage: triton_check.py CASEDIR...
import importlib.util
import json
import os
import signal
import sys
import traceback

import torch

DTYPES = {"float64": torch.float64, "float32": torch.float32, "float16": torch.float16,
          "bfloat16": torch.bfloat16, "int64": torch.int64, "int32": torch.int32,
          "int16": torch.int16, "int8": torch.int8, "uint8": torch.uint8, "bool": torch.bool}


def read_f64(path, shape):
    data = torch.frombuffer(bytearray(open(path, "rb").read()), dtype=torch.float64)
    return data.reshape(shape) if shape else data.reshape(())


def make_tensor(case, a, device):
    shape = tuple(a["shape"])
    values = read_f64(os.path.join(case, a["file"]), shape)
    t = torch.empty_strided(shape, tuple(a["strides"]), dtype=DTYPES[a["dtype"]], device=device)
    t.copy_(values.to(DTYPES[a["dtype"]]).to(device))
    return t


def rel_err(got, want):
    # helua's relative error: max |got - want| / max(max |want|, tiny), in float64
    diff = (got - want).abs()
    if diff.numel() == 0:
        return 0.0
    scale = want.abs().max().item()
    return diff.max().item() / (scale if scale > 0 else 1.0)


def run_case(case, device):
    m = json.load(open(os.path.join(case, "manifest.json")))
    case = os.path.normpath(case)
    spec = importlib.util.spec_from_file_location("helua_triton_" + os.path.basename(case),
                                                  os.path.join(case, "kernel.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    args = []
    for a in m["args"]:
        args.append(make_tensor(case, a, device) if a["kind"] == "tensor" else a["value"])
    getattr(mod, m["entry"])(*args)
    if device == "cuda":
        torch.cuda.synchronize()
    ok, worst, notes = True, 0.0, []
    for a, t in zip(m["args"], args):
        if "ref" not in a:
            continue
        want = read_f64(os.path.join(case, a["ref"]), tuple(a["shape"]))
        got = t.detach().to("cpu", torch.float64)
        close = torch.allclose(got, want, rtol=m["rtol"], atol=m["atol"], equal_nan=False)
        err = rel_err(got, want)
        if err != err or err > worst:
            worst = err
        if not close:
            ok = False
            bad = (~torch.isclose(got, want, rtol=m["rtol"], atol=m["atol"])).nonzero()
            notes.append("%s: %d of %d elements off, first at %s (got %g, want %g)" % (
                a["name"], bad.shape[0], got.numel(), tuple(bad[0].tolist()),
                got[tuple(bad[0].tolist())].item(), want[tuple(bad[0].tolist())].item()))
        if a.get("ref_source") == "cpu":
            notes.append("%s vs helua's cpu result" % a["name"])
    return m, ok, worst, notes


CASE_SECONDS = 90  # one case (compile + run) longer than this is a failure, not a hang


def on_alarm(signum, frame):
    raise TimeoutError("the case took more than %d s (compile + run)" % CASE_SECONDS)


def main(argv):
    # TRITON_INTERPRET=1 runs the text on the CPU (Triton's interpreter): a check without a GPU.
    interpret = os.environ.get("TRITON_INTERPRET") == "1"
    if not interpret and not torch.cuda.is_available():
        print("triton_check.py: no CUDA device")
        return 77
    import triton
    device = "cpu" if interpret else "cuda"
    if interpret:
        class Props:
            multi_processor_count = 4
        torch.cuda.get_device_properties = lambda *a: Props()
    where = "interpreter" if interpret else torch.cuda.get_device_name(0)
    print("torch %s, triton %s, %s" % (torch.__version__, triton.__version__, where))
    from triton.runtime.errors import OutOfResources
    rows, failed, skipped = [], 0, 0
    signal.signal(signal.SIGALRM, on_alarm)
    fmt = "%-36s %-8s %-4s %-10.3g %s"
    print("%-36s %-8s %-4s %-10s %s" % ("kernel", "config", "ok", "max-rel", "notes"), flush=True)
    for case in argv:
        try:
            m = json.load(open(os.path.join(case, "manifest.json")))
            kernel, cfg = m["kernel"], m["config"]
        except Exception:
            kernel, cfg = os.path.basename(os.path.normpath(case)), "?"
        signal.alarm(CASE_SECONDS)
        try:
            m, ok, err, notes = run_case(case, device)
            signal.alarm(0)
        except OutOfResources as e:
            # the config asks for more than the card has: a property of the config, not of the
            # text (the tuner skips such configs); reported, not counted as a mismatch
            signal.alarm(0)
            skipped += 1
            rows.append((kernel, cfg, "skip", float("nan"), str(e)[:200]))
            print(fmt % rows[-1], flush=True)
            continue
        except Exception as e:  # a case that does not compile or run is a failure, not a crash
            signal.alarm(0)
            ok, err = False, float("nan")
            msg = traceback.format_exception_only(type(e), e)[-1].strip()
            notes = [msg[:400]]
            traceback.print_exc(limit=3, file=sys.stderr)
        failed += not ok
        rows.append((kernel, cfg, "ok" if ok else "FAIL", err, "; ".join(notes)))
        print(fmt % rows[-1], flush=True)  # as it goes: a run cut short keeps its rows
    print("triton_check.py: %d cases, %d failed, %d skipped (out of resources)"
          % (len(rows), failed, skipped))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
