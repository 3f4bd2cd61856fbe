-- Bandwidth of compiled helua kernels on the GPU: add float32 2^26 and softmax bfloat16
-- [4096, 16384] for a few configs, each launched through its compiled kernel object (no host
-- code, no allocation in the timed loop), timed with CUDA events, median of repeats; GB/s =
-- bytes read + written / time. Then the tensor-core rows: matmul bfloat16 4096^3 (default config
-- and a few others), bmm and attention, in TFLOP/s. Part of share/scripts; run by gpu-check.sh
-- from the repo root. `helua share/scripts/gpu_kernel_bench.lua dot` runs the dot rows only.
package.path = "share/scripts/?.lua;" .. package.path
local helua = require "helua"
local run = require "helua.run"
local util = require "bench_util"

local repeats = tonumber(os.getenv("HELUA_BENCH_REPEATS") or "") or 20
local function time_ms(fn) return util.time_ms(fn, repeats) end
local entry = util.entry

-- Times the compiled kernel of entry e for cfg (a table or nil) on args (device tensors),
-- launched with tensors by argument name, and prints a row: amount / ms / scale in the last
-- column (bytes and 1e6: GB/s; flops and 1e9: TFLOP/s), with `decimals` digits.
local function measure(label, e, args, named, amount, scale, decimals, cfg)
  local k = run.with_settings(e.kernel, {backend = "cuda"})
  local bk = k:bind(table.unpack(args))
  local c = cfg and helua.Config(cfg) or nil
  local ok, err = pcall(function()
    local ck = bk:_compiled(bk:_variant(c), c)
    local info = ck:info()
    local list = {}
    for i, n in ipairs(info.args) do list[i] = named[n] end
    local ms = time_ms(function() ck:launch(list) end)
    print(string.format("| %-24s | %-58s | %8.3f | %7." .. decimals .. "f |", label,
      c and c:to_lua() or "default", ms, amount / ms / scale))
  end)
  if not ok then print(string.format("| %-24s | %-58s | error: %s", label, c and c:to_lua() or "default", tostring(err))) end
end

-- GB/s of the compiled kernel (bytes read + written).
local function bench(label, e, args, named, bytes, cfg)
  measure(label, e, args, named, bytes, 1e6, 0, cfg)
end

local dot_only = arg[1] == "dot"

print(string.format("helua kernel bench, %s, median of %d (CUDA events)", os.date("%Y-%m-%d"), repeats))
if not dot_only then
print(string.format("| %-24s | %-58s | %8s | %7s |", "kernel", "config", "ms", "GB/s"))

local n = 8192
local x = helua.randn({n, n}, {dtype = helua.float32, seed = 1}):cuda()
local y = helua.randn({n, n}, {dtype = helua.float32, seed = 2}):cuda()
local out = helua.empty({n, n}, {dtype = helua.float32, device = "cuda"})
local add = entry("kernels/add.lua", "add")
local nm = {x = x, y = y, out = out}
local bytes = 3 * n * n * 4
bench("add f32 2^26", add, {x, y}, nm, bytes, nil)
for _, c in ipairs({{block_sizes = {1, 1024}, num_warps = 4}, {block_sizes = {1, 2048}, num_warps = 8},
                    {block_sizes = {4, 1024}, num_warps = 8}, {block_sizes = {8, 1024}, num_warps = 16},
                    {block_sizes = {1, 4096}, num_warps = 16, pid_type = "persistent_interleaved", num_sm_multiplier = 8}}) do
  bench("add f32 2^26", add, {x, y}, nm, bytes, c)
end
x, y, out = nil, nil, nil
collectgarbage("collect")

local sx = helua.randn({4096, 16384}, {dtype = helua.bfloat16, seed = 3}):cuda()
local sout = helua.empty({4096, 16384}, {dtype = helua.bfloat16, device = "cuda"})
local sm = entry("kernels/softmax.lua", "softmax")
local snm = {x = sx, out = sout}
local sbytes = 2 * 4096 * 16384 * 2
bench("softmax bf16 4096x16384", sm, {sx}, snm, sbytes, nil)
for _, c in ipairs({{block_sizes = {1}, num_warps = 8}, {block_sizes = {1}, num_warps = 16},
                    {block_sizes = {1}, num_warps = 32}, {block_sizes = {1}, reduction_loops = {2048}, num_warps = 8}}) do
  bench("softmax bf16 4096x16384", sm, {sx}, snm, sbytes, c)
end
-- the result is right (one row checked on the host)
local okr, rs = pcall(function()
  local row = sout:cpu():to(helua.float64)
  local sum = 0
  for j = 1, 16384 do sum = sum + row:get(1, j) end
  return sum
end)
print("softmax row 1 sums to (want 1):", okr and rs or tostring(rs))
end

-- ---- tensor cores: TFLOP/s ----------------------------------------------------------------

-- TFLOP/s of the compiled kernel.
local function bench_flops(label, e, args, named, flops, cfg)
  measure(label, e, args, named, flops, 1e9, 1, cfg)
end

print(string.format("| %-24s | %-58s | %8s | %7s |", "kernel", "config", "ms", "TFLOP/s"))
local N = 4096
local bf = helua.bfloat16
local hx = helua.randn({N, N}, {dtype = bf, seed = 11})
local hy = helua.randn({N, N}, {dtype = bf, seed = 12})
local mx, my = hx:cuda(), hy:cuda()
local mout = helua.empty({N, N}, {dtype = bf, device = "cuda"})
local mm = entry("kernels/matmul.lua", "matmul")
local mnm = {x = mx, y = my, out = mout}
local mflops = 2 * N * N * N
bench_flops("matmul bf16 4096^3", mm, {mx, my}, mnm, mflops, nil)
-- the default config's result, a few elements against float64 sums on the host
local okc, msg = pcall(function()
  local o = mout:cpu()
  local worst = 0
  for _, ij in ipairs({{1, 1}, {17, 4000}, {2048, 77}, {4096, 4096}, {1000, 2500}}) do
    local i, j = ij[1], ij[2]
    local want = 0
    for kk = 1, N do want = want + hx:get(i, kk) * hy:get(kk, j) end
    local err = math.abs(o:get(i, j) - want) / (math.abs(want) + 1)
    if err > worst then worst = err end
  end
  return string.format("matmul 4096^3 default: 5 elements vs float64 host sums, worst rel err %.2e", worst)
end)
print(okc and msg or ("matmul check failed: " .. tostring(msg)))
for _, c in ipairs({
  {block_sizes = {128, 128, 32}, num_warps = 4, num_stages = 4},
  {block_sizes = {128, 128, 64}, num_warps = 4, num_stages = 3},
  {block_sizes = {256, 128, 32}, num_warps = 8, num_stages = 3},
  {block_sizes = {128, 256, 32}, num_warps = 8, num_stages = 3},
  {block_sizes = {128, 128, 32}, num_warps = 4, num_stages = 3, l2_groupings = {8}},
  {block_sizes = {128, 128, 32}, num_warps = 8, num_stages = 3}}) do
  bench_flops("matmul bf16 4096^3", mm, {mx, my}, mnm, mflops, c)
end
mx, my, mout, hx, hy = nil, nil, nil, nil, nil
collectgarbage("collect")

-- bmm float16 [32, 1024, 1024] x [32, 1024, 1024]
local B, S = 32, 1024
local ba = helua.randn({B, S, S}, {dtype = helua.float16, seed = 13}):cuda()
local bc = helua.randn({B, S, S}, {dtype = helua.float16, seed = 14}):cuda()
local bo = helua.empty({B, S, S}, {dtype = helua.float16, device = "cuda"})
local bmm = entry("kernels/bmm.lua", "bmm")
local bflops = 2 * B * S * S * S
bench_flops("bmm f16 32x1024^3", bmm, {ba, bc}, {a = ba, c = bc, out = bo}, bflops, nil)
bench_flops("bmm f16 32x1024^3", bmm, {ba, bc}, {a = ba, c = bc, out = bo}, bflops,
  {block_sizes = {1, 128, 128, 32}, num_warps = 4, num_stages = 3})
ba, bc, bo = nil, nil, nil
collectgarbage("collect")

-- attention float16 [4, 16, 2048, 64]: the whole call (host code: views, the output allocation)
local att = entry("kernels/attention.lua", "attention")
local shape = {4, 16, 2048, 64}
local q = helua.randn(shape, {dtype = helua.float16, seed = 15}):cuda()
local kk = helua.randn(shape, {dtype = helua.float16, seed = 16}):cuda()
local v = helua.randn(shape, {dtype = helua.float16, seed = 17}):cuda()
local aflops = 4 * 4 * 16 * 2048 * 2048 * 64
local ka = run.with_settings(att.kernel, {backend = "cuda", autotune_effort = "none"})
local oka, erra = pcall(function()
  local ms = time_ms(function() ka(q, kk, v, false) end)
  print(string.format("| %-24s | %-58s | %8.3f | %7.1f |", "attention f16 4x16x2048x64",
    "default (whole call)", ms, aflops / ms / 1e9))
end)
if not oka then print("attention: error: " .. tostring(erra)) end
