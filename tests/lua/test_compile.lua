-- core.compile: DESIGN.md §2's matmul built with core.ir_builder (at a ragged size), compiled for
-- several configs, launched on host tensors and compared with core.matmul; a softmax with a
-- looped reduction; the code stages and info; errors for config fields, launch arguments and
-- targets. Part of tests/lua.
package.path = arg[0]:match("(.*/)") .. "?.lua;" .. package.path
local T = require "testing"
local core = require "helua.core"
if not core.compile then
  print("test_compile: skipped, helua.core has no compile (the lowering is not built)")
  os.exit(77)
end
local none = require("helua.config").none

-- out = x @ y with a float32 accumulator carried through the k loop (DESIGN.md §2).
local function build_matmul(m, k, n, dtype, xstrides)
  local b = core.ir_builder("matmul")
  b:loc("matmul.lua", 4)
  local x = b:arg_tensor("x", dtype, {m, k}, xstrides)
  local y = b:arg_tensor("y", dtype, {k, n})
  local out = b:arg_tensor("out", dtype, {m, n})
  b:loc("matmul.lua", 8)
  local c0 = b:const(0, "int64")
  local tiles = b:tile({{begin = c0, ["end"] = b:const(m, "int64")}, {begin = c0, ["end"] = b:const(n, "int64")}})
  local tm, tn = tiles[1], tiles[2]
  b:name(tm, "tm")
  b:name(tn, "tn")
  b:loc("matmul.lua", 9)
  local acc = b:op("full", {}, {dtype = "float32", value = 0.0, shape = {b:value(tm).shape[1], b:value(tn).shape[1]}})
  b:name(acc, "acc")
  b:loc("matmul.lua", 10)
  local ks, carried = b:tile({{begin = c0, ["end"] = b:const(k, "int64")}}, {acc})
  b:name(ks[1], "tk")
  b:loc("matmul.lua", 11)
  local nacc = b:op("dot", {b:load(x, {tm, ks[1]}), b:load(y, {ks[1], tn}), carried[1]})
  b:name(nacc, "acc")
  local results = b:end_loop({nacc})
  b:loc("matmul.lua", 13)
  local r = results[1]
  if dtype ~= "float32" then r = b:op("cast", {r}, {dtype = dtype}) end
  b:store(out, {tm, tn}, r)
  b:end_loop()
  return b:finish()
end

local function build_softmax(m, n)
  local b = core.ir_builder("softmax")
  b:loc("softmax.lua", 3)
  local x = b:arg_tensor("x", "float32", {m, n})
  local out = b:arg_tensor("out", "float32", {m, n})
  local c0 = b:const(0, "int64")
  local t = b:tile({{begin = c0, ["end"] = b:const(m, "int64")}})[1]
  b:loc("softmax.lua", 5)
  local v = b:load(x, {t, ":"})
  b:store(out, {t, ":"}, b:op("softmax", {v}, {dim = -1}))
  b:end_loop()
  return b:finish()
end

local function close(got, want, rtol, atol, what)
  T.truthy(core.allclose(got, want, rtol, atol), what .. " (max abs err " .. core.max_abs_err(got, want) .. ")")
end

T.test("matmul (ragged, several configs) matches core.matmul", function()
  local m, k, n = 37, 45, 29
  for _, dtype in ipairs({"float32", "bfloat16"}) do
    local f = build_matmul(m, k, n, dtype)
    local x, y = core.randn({m, k}, dtype, 1), core.randn({k, n}, dtype, 2)
    local ref = core.matmul(x, y)
    for _, cfg in ipairs({
      {},
      {block_sizes = {16, 16, 16}},
      {block_sizes = {32, 8, 64}, loop_orders = {{2, 1}}, range_unroll_factors = {2}, vector_width = 4, cpu_threads = 1},
      {block_sizes = {64, 64, 64}, vector_width = 16},
      {block_sizes = {1, 4, 2}},
    }) do
      local ck = core.compile(f, cfg, "cpu")
      local out = core.zeros({m, n}, dtype)
      ck:launch({x, y, out})
      close(out, ref, dtype == "float32" and 1e-5 or 2e-2, dtype == "float32" and 1e-5 or 2e-2, dtype .. " matmul")
    end
  end
end)

T.test("non-contiguous inputs: the kernel is specialized on the strides", function()
  local xc = core.randn({45, 37}, "float32", 3)
  local x = xc:transpose() -- [37, 45], strides {1, 37}
  local y = core.randn({45, 29}, "float32", 4)
  local f = build_matmul(37, 45, 29, "float32", {1, 37})
  local ck = core.compile(f, {block_sizes = {16, 8, 16}})
  local out = core.zeros({37, 29})
  ck:launch({x, y, out})
  close(out, core.matmul(x, y), 1e-5, 1e-5, "strided matmul")
  T.raises(function() ck:launch({x:contiguous(), y, out}) end,
    "argument 1 (x) is float32[37, 45] strides [45, 1], but the kernel was specialized on float32[37, 45] strides [1, 37]")
end)

T.test("softmax: persistent and looped reductions", function()
  local f = build_softmax(37, 100)
  local x = core.randn({37, 100}, "float32", 5)
  local ref = core.softmax(x, -1)
  for _, cfg in ipairs({{block_sizes = {4}, reduction_loops = {none}}, {block_sizes = {8}, reduction_loops = {16}},
                        {block_sizes = {1}, reduction_loops = {"none"}}, {}}) do
    local out = core.zeros({37, 100})
    core.compile(f, cfg):launch({x, out})
    close(out, ref, 1e-5, 1e-6, "softmax")
  end
end)

T.test("code stages and info", function()
  local ck = core.compile(build_matmul(64, 64, 64, "float32"), {block_sizes = {16, 32, 16}})
  local ir, lowered, llvm, asm = ck:code("ir"), ck:code("lowered"), ck:code("llvm"), ck:code("asm")
  T.truthy(ir:find("kernel matmul", 1, true) and ir:find("dot", 1, true), "ir:\n" .. ir)
  T.truthy(lowered:find("# block B0 = 16", 1, true) and lowered:find("lowered kernel matmul", 1, true), "lowered:\n" .. lowered)
  T.truthy(llvm:find("define void @helua", 1, true) and llvm:find("_program(", 1, true), "llvm")
  T.truthy(llvm:find("fmuladd", 1, true) or llvm:find("llvm.fma", 1, true), "llvm has multiply-adds")
  T.truthy(asm:find("vfmadd", 1, true) or asm:find("mulps", 1, true), "asm has vector multiply-adds")
  T.eq(ck:code("asm"), asm, "asm is made once")
  local info = ck:info()
  for _, p in ipairs({"decompose", "bind_config", "plan", "emit_llvm", "optimize", "codegen", "jit"}) do
    T.truthy(type(info.compile_ms[p]) == "number", "compile_ms." .. p)
  end
  T.eq(info.grid, 4 * 2, "programs")
  T.eq(info.block_sizes[1], 16, "block_sizes")
  T.eq(info.block_sizes[3], 16, "block_sizes")
  T.eq(info.target, "cpu", "target")
  T.eq(info.launches, 0, "launches")
  ck:launch({core.randn({64, 64}), core.randn({64, 64}), core.zeros({64, 64})})
  info = ck:info()
  T.eq(info.launches, 1, "launches")
  T.eq(info.programs, 8, "programs launched")
  T.truthy(info.launch_threads >= 1, "threads")
  T.raises(function() ck:code("ptx") end, 'stage "ptx" belongs to the cuda target')
end)

T.test("config errors name the field", function()
  local f = build_matmul(64, 64, 64, "float32")
  T.raises(function() core.compile(f, {block_sizes = {48, 16, 16}}) end, "block_sizes[1] = 48 must be a power of two")
  T.raises(function() core.compile(f, {block_sizes = {16, 16, 16, 16}}) end, "block_sizes has 4 entries")
  T.raises(function() core.compile(f, {loop_orders = {{1, 1}}}) end, "loop_orders[1] = {1, 1} is not a permutation of 1..2")
  T.raises(function() core.compile(f, {range_unroll_factors = {100}}) end, "range_unroll_factors[1] = 100")
  T.raises(function() core.compile(f, {vector_width = 3}) end, "vector_width = 3 must be a power of two")
  T.raises(function() core.compile(f, {block_sizes = {"x"}}) end, "block_sizes[1] must be an integer")
  T.raises(function() core.compile(f, {blok_sizes = {16}}) end, "blok_sizes is neither a CPU knob nor a user tunable")
  T.raises(function() core.compile(build_softmax(8, 32), {reduction_loops = {12}}) end, "reduction_loops[1] = 12")
  T.raises(function() core.compile(f, {split = 2}) end, "split is neither a CPU knob nor a tunable the kernel registers")
  local ck = core.compile(f, {num_warps = 4})
  T.eq(ck:info().ignored, "num_warps", "another backend's knobs are ignored")
end)

T.test("launch errors", function()
  local ck = core.compile(build_matmul(16, 16, 16, "float32"))
  local x, y, out = core.randn({16, 16}), core.randn({16, 16}), core.zeros({16, 16})
  T.raises(function() ck:launch({x, y}) end, "matmul takes 3 arguments (in IR argument order), got 2")
  T.raises(function() ck:launch({x, y, 3}) end, "argument 3 (out) must be a tensor float32[16, 16]")
  T.raises(function() ck:launch({x, core.randn({16, 16}, "float16"), out}) end,
    "argument 2 (y) is float16[16, 16] strides [16, 1], but the kernel was specialized on float32[16, 16]")
  T.raises(function() ck:launch({core.randn({16, 8}), y, out}) end, "argument 1 (x) is float32[16, 8]")
  ck:close()
  T.raises(function() ck:launch({x, y, out}) end, "closed")
end)

T.test("targets", function()
  local f = build_softmax(8, 32)
  local ck = core.compile(f, {num_warps = 2}, "cuda") -- PTX needs no GPU
  T.truthy(ck:code("ptx"):find(".visible .entry", 1, true), "a PTX entry")
  T.truthy(ck:code("ptx"):find(".maxntid 64, 1, 1", 1, true), "num_warps = 2: 64 threads")
  T.eq(ck:info().target, "cuda", "target")
  T.raises(function() core.compile(f, {num_warps = 3}, "cuda") end,
    "num_warps = 3 must be a power of two")
  T.raises(function() core.compile(f, {pid_type = "xyzz"}, "cuda") end,
    'pid_type = "xyzz" is not one of')
  T.raises(function() ck:launch({core.randn({8, 32}), core.zeros({8, 32})}) end,
    "the cuda kernel needs device tensors")
  T.raises(function() core.compile(f, {}, "tpu") end, 'unknown target "tpu"')
  T.raises(function() core.compile({}, {}) end, "IrFunc")
end)

T.done()
