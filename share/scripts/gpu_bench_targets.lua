-- GPU kernel benchmark (issue 4): helua's compiled kernels on the card at the sizes the targets name,
-- against the roofline measured in the same run. Part of share/scripts; run on the GPU machine by
-- gpu-check.sh (or alone) from the repo root:
--   helua share/scripts/gpu_bench_targets.lua [--repeat N] [--only NAME[,NAME]] [--peers FILE]
--   helua share/scripts/gpu_bench_targets.lua --emit-triton DIR [--only ...]
-- --emit-triton writes each bench's "triton" stage (the same kernel, shapes and default config)
-- as DIR/<name>.py for share/scripts/triton_bench.py, which times them under real Triton and
-- writes the peers file; --peers reads it (a Lua file returning {[name] = {triton_ms =}}) and
-- adds the column. gpu-check.sh runs the three steps in one go.
-- Times are CUDA-event medians after warm-up; inputs are seeded random data, never zeros.
package.path = "tests/lua/?.lua;share/scripts/?.lua;" .. package.path
local helua = require "helua"
local run = require "helua.run"
local core = helua.core
local bench = require "bench_util"

local repeats, only, peers_file, emit_dir = 30, nil, nil, nil
for i = 1, #arg do
  if arg[i] == "--repeat" then repeats = math.tointeger(tonumber(arg[i + 1])) or repeats end
  if arg[i] == "--only" then
    only = {}
    for w in tostring(arg[i + 1]):gmatch("[^,]+") do only[w] = true end
  end
  if arg[i] == "--peers" then peers_file = arg[i + 1] end
  if arg[i] == "--emit-triton" then emit_dir = arg[i + 1] end
end

local ok, why = helua.cuda.is_available()
if not ok then
  print("gpu_bench_targets: cuda: unavailable (" .. tostring(why) .. ")")
  os.exit(77)
end
local peers = {}
if peers_file then
  local chunk = loadfile(peers_file)
  if chunk then peers = chunk() or {} end
end

local info = helua.cuda.device_info()
print(string.format("helua GPU kernel bench — %s (%d SMs), driver %d, %s UTC", info.name,
  info.sm_count, info.driver_version, os.date("!%Y-%m-%d %H:%M")))

-- Median milliseconds of fn() between two events, after warm-up runs (bench_util.lua).
local function time_ms(fn, n) return bench.time_ms(fn, n or repeats) end

local bf16, f16, f32 = helua.bfloat16, helua.float16, helua.float32
local function randn(shape, dtype, seed)
  return helua.randn(shape, {dtype = dtype, seed = seed, device = "cuda"})
end

local kernel_of = bench.entry

-- The kernel on the GPU with its default cuda config (no autotuning: the tuner searches CPU
-- configs).
local function on_gpu(entry)
  return run.with_settings(entry.kernel, {backend = "cuda", autotune_effort = "none"})
end

local function empty(shape, dtype) return helua.empty(shape, {dtype = dtype, device = "cuda"}) end

-- Each bench: a kernel of a file, inputs on the GPU, bytes or flops, the target.
local M, N, K = 4096, 4096, 4096
local benches = {
  {name = "add", file = "kernels/add.lua", kernel = "add", what = "add f32 [8192, 8192] (2^26)",
   inputs = function() return randn({8192, 8192}, f32, 1), randn({8192, 8192}, f32, 2) end,
   named = function(x, y) return {x = x, y = y, out = empty({8192, 8192}, f32)} end,
   bytes = 3 * 4 * 8192 * 8192, target_gbs = 2900},
  {name = "softmax", file = "kernels/softmax.lua", kernel = "softmax",
   what = "softmax bf16 [4096, 16384]", inputs = function() return randn({4096, 16384}, bf16, 3) end,
   named = function(x) return {x = x, out = empty({4096, 16384}, bf16)} end,
   bytes = 2 * 2 * 4096 * 16384, target_gbs = 2500},
  {name = "rms_norm", file = "kernels/rms_norm.lua", kernel = "rms_norm",
   what = "rms_norm bf16 [4096, 16384]",
   inputs = function() return randn({4096, 16384}, bf16, 4), randn({16384}, bf16, 5), 1e-5 end,
   named = function(x, w, eps) return {x = x, weight = w, eps = eps, out = empty({4096, 16384}, bf16)} end,
   bytes = 2 * (2 * 4096 * 16384 + 16384), target_gbs = 2400},
  {name = "layer_norm", file = "kernels/layer_norm.lua", kernel = "layer_norm",
   what = "layer_norm bf16 [4096, 16384]",
   inputs = function()
     return randn({4096, 16384}, bf16, 6), randn({16384}, bf16, 7), randn({16384}, bf16, 8), 1e-5
   end,
   named = function(x, w, b, eps)
     return {x = x, weight = w, bias = b, eps = eps, out = empty({4096, 16384}, bf16),
             mean = empty({4096}, f32), rstd = empty({4096}, f32)}
   end,
   bytes = 2 * (2 * 4096 * 16384 + 2 * 16384) + 8 * 4096, target_gbs = 2400},
  {name = "matmul", file = "kernels/matmul.lua", kernel = "matmul", what = "matmul bf16 4096^3",
   inputs = function() return randn({M, K}, bf16, 9), randn({K, N}, bf16, 10) end,
   named = function(x, y) return {x = x, y = y, out = empty({M, N}, bf16)} end,
   flops = 2 * M * N * K, target_tflops = 450},
  {name = "attention", file = "kernels/attention.lua", kernel = "attention",
   what = "attention f16 [2, 32, 1024, 64]",
   inputs = function()
     local s = {2, 32, 1024, 64}
     return randn(s, f16, 11), randn(s, f16, 12), randn(s, f16, 13), false
   end,
   flops = 4 * 2 * 32 * 1024 * 1024 * 64},
}

-- --emit-triton: the Triton text of each bench for its default config, nothing timed.
if emit_dir then
  for _, b in ipairs(benches) do
    if not only or only[b.name] then
      local args = table.pack(b.inputs())
      local bk = on_gpu(kernel_of(b.file, b.kernel)):bind(table.unpack(args, 1, args.n))
      local text = bk:code(nil, "triton")
      local f = assert(io.open(emit_dir .. "/" .. b.name .. ".py", "w"))
      f:write(text)
      f:close()
    end
  end
  os.exit(0)
end

-- The roofline for memory-bound kernels: a device-to-device copy of 1 GiB, read + write.
local copy_gbs
do
  local n = (1 << 30) // 4
  local a, b = randn({n}, f32, 1), helua.empty({n}, {device = "cuda"})
  copy_gbs = 2 * 4 * n / (time_ms(function() b:copy_(a) end, 10) * 1e6)
  a, b = nil, nil
  collectgarbage()
end

local FMT = "| %-32s | %9s | %12s | %12s | %7s | %11s | %22s | %s"
print(string.format("roofline: D2D copy %.0f GB/s (measured now); median of %d runs", copy_gbs, repeats))
print(string.format(FMT, "kernel", "ms", "ours", "roofline", "ratio", "target", "Triton, same config (ours/its)", "config"))
local failed = false
for _, b in ipairs(benches) do
  if not only or only[b.name] then
    local okb, err = pcall(function()
      local entry = kernel_of(b.file, b.kernel)
      local args = table.pack(b.inputs())
      local k = on_gpu(entry)
      local function call() return k(table.unpack(args, 1, args.n)) end
      call() -- traces and compiles; a kernel that cannot run fails here
      local ms
      if b.named then
        -- the compiled kernel alone (as gpu_kernel_bench.lua): a full call also allocates its
        -- outputs (cuMemAlloc / cuMemFree, which synchronizes) every time
        local bk = k:bind(table.unpack(args, 1, args.n))
        local cfg = bk:config()
        local ck = bk:_compiled(bk:_variant(cfg), cfg)
        local named, list = b.named(table.unpack(args, 1, args.n)), {}
        for i, n in ipairs(ck:info().args) do
          if named[n] == nil then error("no launch value for argument " .. n) end
          list[i] = named[n]
        end
        ms = time_ms(function() ck:launch(list) end)
      else
        ms = time_ms(call)
      end
      local ours, roof, ratio, target
      if b.bytes then
        ours = b.bytes / (ms * 1e6)
        roof, ratio = copy_gbs, ours / copy_gbs
        ours, roof, target = string.format("%.0f GB/s", ours), string.format("%.0f GB/s", copy_gbs),
          string.format("%d", b.target_gbs)
      else
        ours = b.flops / (ms * 1e9)
        ratio = nil
        ours, roof, target = string.format("%.1f TF/s", ours), "-",
          b.target_tflops and string.format("%d", b.target_tflops) or "1.5x Triton"
      end
      local p = peers[b.name] or {}
      local peer = p.triton_ms and string.format("%.3f ms (%.2fx)", p.triton_ms, ms / p.triton_ms)
        or (p.error and "error" or "-")
      local cfg = k:bind(table.unpack(args, 1, args.n)):config()
      print(string.format(FMT, b.what, string.format("%.4f", ms), ours, roof,
        ratio and string.format("%.0f%%", 100 * ratio) or "-", target, peer,
        cfg and tostring(cfg) or "default"))
    end)
    if not okb then
      failed = true
      print(string.format("| %-32s | FAILED: %s", b.what, tostring(err):gsub("\n", " ")))
    end
  end
end

-- First call of matmul (trace, compile, PTX JIT, run) in a fresh kernel object, and the host
-- overhead of a cached call (a tiny add, launches back to back, wall clock).
local okl, errl = pcall(function()
  local mm = on_gpu(kernel_of("kernels/matmul.lua", "matmul"))
  local x, y = randn({1024, 1024}, bf16, 20), randn({1024, 1024}, bf16, 21)
  core.cuda_synchronize()
  local t0 = core.clock()
  mm(x, y)
  core.cuda_synchronize()
  print(string.format("first call of matmul bf16 1024^3 (trace + compile + JIT + run): %.1f ms (target <= 200)",
    (core.clock() - t0) * 1e3))
  local add = on_gpu(kernel_of("kernels/add.lua", "add"))
  local a, b2 = randn({16, 16}, f32, 22), randn({16, 16}, f32, 23)
  for _ = 1, 100 do add(a, b2) end
  core.cuda_synchronize()
  local n = 2000
  local s0 = core.cuda_mem_stats()
  t0 = core.clock()
  for _ = 1, n do add(a, b2) end
  local per = (core.clock() - t0) / n * 1e6
  core.cuda_synchronize()
  local s1 = core.cuda_mem_stats()
  print(string.format("host overhead of a cached call (add 16x16, %d calls): %.1f us per call (target <= 10)", n, per))
  print(string.format("  device allocator over those calls: %d hits, %d misses, %d cuMemAlloc, %d cuMemFree "
    .. "(rt_cuda_cache.c; HELUA_CUDA_CACHE_MB=0 turns it off)", s1.hits - s0.hits, s1.misses - s0.misses,
    s1.driver_allocs - s0.driver_allocs, s1.releases - s0.releases))
end)
if not okl then
  failed = true
  print("latency checks FAILED: " .. tostring(errl):gsub("\n", " "))
end
os.exit(failed and 1 or 0)
