-- The tensor-core paths of compiled kernels on the GPU: matmul bfloat16 4096^3 on mma.sync (the
-- default config and others) against the `wgmma` knob (B as [K,N]) at several tiles, bmm float16
-- with and without wgmma, and float32 matmul with dot_precision "ieee" vs "tf32". Each row is
-- the compiled kernel object launched alone (CUDA events, median of repeats) and its result's
-- first rows checked against a float64 host GEMM (rel_err; WRONG above the dtype's tolerance).
-- Part of share/scripts; run from the repo root: helua share/scripts/gpu_mma_bench.lua
package.path = "share/scripts/?.lua;" .. package.path
local helua = require "helua"
local run = require "helua.run"
local util = require "bench_util"

local ok_gpu, why = helua.cuda.is_available()
if not ok_gpu then
  print("gpu_mma_bench: skipped, CUDA unavailable: " .. tostring(why))
  os.exit(77)
end
local repeats = tonumber(os.getenv("HELUA_BENCH_REPEATS") or "") or 20
local ROWS = 32 -- rows of each result checked against the float64 host reference

-- Times the compiled kernel of e for cfg on the device tensors, checks out's first ROWS rows
-- against ref (float64) and prints a row. settings: kernel settings (dot_precision).
local function measure(label, e, args, named, out, ref, flops, cfg, settings, tol)
  local opts = {backend = "cuda"}
  for k, v in pairs(settings or {}) do opts[k] = v end
  local bk = run.with_settings(e.kernel, opts):bind(table.unpack(args))
  local c = cfg and helua.Config(cfg) or nil
  local ok, err = pcall(function()
    local ck = bk:_compiled(bk:_variant(c), c)
    local info = ck:info()
    local list = {}
    for i, n in ipairs(info.args) do list[i] = named[n] end
    out:fill_(0 / 0)
    local ms = util.time_ms(function() ck:launch(list) end, repeats)
    local got = out:narrow(1, 1, ROWS):cpu():to(helua.float64)
    local rel = helua.rel_err(got, ref)
    local ptx = ck:code("ptx")
    local path = ptx:find("wgmma.mma_async", 1, true) and "wgmma"
      or ptx:find("tf32.tf32", 1, true) and "mma.tf32"
      or ptx:find("mma.sync", 1, true) and "mma.sync" or "fma"
    print(string.format("| %-20s | %-8s | %-62s | %8.3f | %7.1f | %8.2e%s |", label, path,
      c and c:to_lua():gsub("^helua%.Config", "") or "default", ms, flops / ms / 1e9, rel,
      (rel < tol and rel == rel) and "" or " WRONG"))
  end)
  if not ok then
    print(string.format("| %-20s | error | %s | %s", label, c and c:to_lua() or "default", tostring(err)))
  end
end

print(string.format("gpu_mma_bench %s, %s, median of %d (CUDA events)", os.date("!%Y-%m-%d %H:%M UTC"),
  helua.cuda.device_info().name, repeats))
print(string.format("| %-20s | %-8s | %-62s | %8s | %7s | %8s |", "kernel", "path", "config", "ms",
  "TFLOP/s", "rel_err"))

-- matmul bfloat16 4096^3 (B as [K,N])
local N = 4096
local bf = helua.bfloat16
local hx = helua.randn({N, N}, {dtype = bf, seed = 11})
local hy = helua.randn({N, N}, {dtype = bf, seed = 12})
local ref = helua.matmul(hx:narrow(1, 1, ROWS):to(helua.float64), hy:to(helua.float64))
local mx, my = hx:cuda(), hy:cuda()
local mout = helua.empty({N, N}, {dtype = bf, device = "cuda"})
local mm = util.entry("kernels/matmul.lua", "matmul")
local nm = {x = mx, y = my, out = mout}
local flops = 2 * N * N * N
local function row(cfg, settings)
  measure("matmul bf16 4096^3", mm, {mx, my}, nm, mout, ref, flops, cfg, settings, 1e-2)
end
row(nil)
local tiles = {
  {{128, 256, 64}, 8, 3}, {{128, 256, 64}, 8, 4}, {{128, 128, 64}, 4, 4}, {{128, 128, 64}, 4, 3},
  {{128, 128, 64}, 8, 3}, {{128, 128, 64}, 8, 4}, {{256, 128, 64}, 8, 3}, {{256, 128, 64}, 16, 3},
  {{128, 256, 64}, 8, 3, 8},
}
for _, t in ipairs(tiles) do
  local cfg = {block_sizes = t[1], num_warps = t[2], num_stages = t[3], l2_groupings = t[4] and {t[4]}}
  row(cfg)
  cfg.wgmma = true
  row(cfg)
end
mx, my, mout, hx, hy = nil, nil, nil, nil, nil
collectgarbage("collect")

-- bmm float16 [32, 1024, 1024] x [32, 1024, 1024]
local B, S = 32, 1024
local ha = helua.randn({B, S, S}, {dtype = helua.float16, seed = 13})
local hc = helua.randn({B, S, S}, {dtype = helua.float16, seed = 14})
local bref = helua.matmul(ha:narrow(1, 1, 1):narrow(2, 1, ROWS):to(helua.float64),
  hc:narrow(1, 1, 1):to(helua.float64))
local ba, bc = ha:cuda(), hc:cuda()
local bo = helua.empty({B, S, S}, {dtype = helua.float16, device = "cuda"})
local bmm = util.entry("kernels/bmm.lua", "bmm")
local bo1 = bo:narrow(1, 1, 1):narrow(2, 1, ROWS) -- the checked rows: a [1, ROWS, S] view
local function brow(cfg)
  local view = {fill_ = function(_, v) bo:fill_(v) end,
                narrow = function() return bo1 end}
  measure("bmm f16 32x1024^3", bmm, {ba, bc}, {a = ba, c = bc, out = bo}, view, bref,
    2 * B * S * S * S, cfg, nil, 1e-2)
end
brow(nil)
for _, c in ipairs({{block_sizes = {1, 128, 128, 64}, num_warps = 4, num_stages = 4},
                    {block_sizes = {1, 128, 256, 64}, num_warps = 8, num_stages = 3}}) do
  brow(c)
  c.wgmma = true
  brow(c)
end
ba, bc, bo, ha, hc = nil, nil, nil, nil, nil
collectgarbage("collect")

-- float32 matmul 2048^3: ieee (FMA) vs tf32 (tensor cores)
local F = 2048
local fx = helua.randn({F, F}, {dtype = helua.float32, seed = 15})
local fy = helua.randn({F, F}, {dtype = helua.float32, seed = 16})
local fref = helua.matmul(fx:narrow(1, 1, ROWS):to(helua.float64), fy:to(helua.float64))
local dfx, dfy = fx:cuda(), fy:cuda()
local fout = helua.empty({F, F}, {dtype = helua.float32, device = "cuda"})
for _, prec in ipairs({"ieee", "tf32"}) do
  for _, cfg in ipairs({false, {block_sizes = {128, 128, 32}, num_warps = 8, num_stages = 1},
                        {block_sizes = {64, 128, 32}, num_warps = 4, num_stages = 1}}) do
    measure("matmul f32 2048^3", mm, {dfx, dfy}, {x = dfx, y = dfy, out = fout}, fout, fref,
      2 * F * F * F, cfg or nil, {dot_precision = prec}, prec == "tf32" and 4e-3 or 1e-5)
  end
end
