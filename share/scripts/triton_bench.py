#!/usr/bin/env python3
# Times the "triton" stage text of each benchmark under real Triton, for the peer column of
# share/scripts/gpu_bench_targets.lua (same kernel, shapes and config). Part of share/scripts.
#   python3 share/scripts/triton_bench.py DIR > DIR/peers.lua
# DIR/<name>.py is one module as helua writes it: a @triton.jit kernel and a host function that
# checks its tensor arguments with _helua_check(name, t, shape, strides, dtype) lines, then
# launches. The arguments are made from those lines (seeded random values, never zeros) and the
# host function is timed with triton.testing.do_bench (CUDA events, median). Prints a Lua table
# {[name] = {triton_ms = ...}} (or {error = "..."}) on stdout; progress on stderr.
import ast
import importlib.util
import os
import re
import sys

import torch
import triton.testing

CHECK = re.compile(r'_helua_check\("(\w+)", \w+, \(([^)]*)\), \(([^)]*)\), torch\.(\w+)\)')


def ints(text):
    return tuple(int(v) for v in text.replace(" ", "").split(",") if v != "")


def host_function(tree):
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and not node.name.startswith("_helua"):
            return node.name, [a.arg for a in node.args.args]
    raise ValueError("no host function")


def make_args(text, names):
    specs = {m.group(1): (ints(m.group(2)), ints(m.group(3)), getattr(torch, m.group(4)))
             for m in CHECK.finditer(text)}
    gen = torch.Generator(device="cuda").manual_seed(0)
    args = []
    for n in names:
        if n not in specs:
            raise ValueError(f"argument {n} has no _helua_check line")
        shape, strides, dtype = specs[n]
        t = torch.empty_strided(shape, strides, dtype=dtype, device="cuda")
        if dtype.is_floating_point:
            t.copy_(torch.randn(shape, generator=gen, device="cuda", dtype=torch.float32))
        else:
            t.copy_(torch.randint(0, 2, shape, generator=gen, device="cuda"))
        args.append(t)
    return args


def main():
    root = sys.argv[1]
    print("return {")
    for file in sorted(os.listdir(root)):
        if not file.endswith(".py"):
            continue
        name = file[:-3]
        path = os.path.join(root, file)
        try:
            text = open(path).read()
            fn_name, arg_names = host_function(ast.parse(text))
            spec = importlib.util.spec_from_file_location("helua_bench_" + name, path)
            mod = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(mod)
            fn = getattr(mod, fn_name)
            args = make_args(text, arg_names)
            fn(*args)
            torch.cuda.synchronize()
            ms = triton.testing.do_bench(lambda: fn(*args), warmup=25, rep=200, return_mode="median")
            print(f'  ["{name}"] = {{triton_ms = {ms:.6f}}},')
            print(f"triton_bench: {name} {ms:.4f} ms", file=sys.stderr)
        except Exception as e:  # report and go on: one kernel's failure is that row's
            msg = str(e).replace("\\", "/").replace('"', "'").splitlines()
            print(f'  ["{name}"] = {{error = "{(msg[0] if msg else type(e).__name__)[:200]}"}},')
            print(f"triton_bench: {name} failed: {e}", file=sys.stderr)
    print("}")


if __name__ == "__main__":
    main()
