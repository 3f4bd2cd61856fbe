-- The tensor-core proof GEMM (core.nvmma_gemm, src/lower/lower_nvptx_mma_gemm.c) on the GPU:
-- ragged and full sizes for several tiles / warps / stages / transposes / dtypes, checked against
-- a float64 host reference with the output poisoned first. Part of tests/unit; exits 77 (skipped)
-- without a GPU. With the argument "bench" it times bf16 4096³ for a sweep of tile shapes ×
-- num_warps × num_stages instead (CUDA events, median of 30 runs after warm-up, random data) and
-- prints a table (also written to $OUT/nvmma-bench.txt when OUT is set):
--   helua tests/unit/test_nvptx_mma_gpu.lua [bench [N [mma|wg]]]
-- (mma: no wgmma rows; wg: only wgmma rows, B as [N,K] and [K,N], with and without wg_overlap)
local helua = require "helua"
local core = helua.core

local ok, why = helua.cuda.is_available()
if not ok then
  print("nvmma gpu: skipped (cuda: " .. tostring(why) .. ")")
  os.exit(77)
end

local bf16, f16, f32, f64 = helua.bfloat16, helua.float16, helua.float32, helua.float64

-- Operands in their stored layout (transposed ones as [K,M] / [N,K]), on the device.
local function operands(cfg, m, n, k, seed)
  local dt = cfg.dtype == "float16" and f16 or bf16
  local a = helua.randn(cfg.a_trans and {k, m} or {m, k}, {seed = seed, dtype = dt})
  local b = helua.randn(cfg.b_trans and {n, k} or {k, n}, {seed = seed + 1, dtype = dt})
  return a, b
end

local function reference(cfg, a, b)
  local a64, b64 = a:to(f64), b:to(f64)
  if cfg.a_trans then a64 = a64:transpose() end
  if cfg.b_trans then b64 = b64:transpose() end
  return helua.matmul(a64, b64)
end

local function compile(cfg)
  local ptx, info = core.nvmma_gemm(cfg)
  local mod = core.cuda_module(ptx)
  return mod:func("nvmma_gemm", "pppiiiiii"), info, mod
end

local function launch(f, info, cfg, da, db, dc, m, n, k)
  local tiles = ((m + cfg.bm - 1) // cfg.bm) * ((n + cfg.bn - 1) // cfg.bn)
  local lda, ldb = cfg.a_trans and m or k, cfg.b_trans and k or n
  f:launch(tiles, info.threads, {da, db, dc, m, n, k, lda, ldb, n}, info.smem_bytes)
end

local function name(cfg)
  return string.format("%dx%dx%d w%d s%d%s%s%s%s%s%s", cfg.bm, cfg.bn, cfg.bk, cfg.num_warps,
    cfg.num_stages, cfg.a_trans and " aT" or "", cfg.b_trans and " bT" or "",
    cfg.vec16 == false and " scalar" or "", cfg.out == "bfloat16" and " ->bf16" or "",
    cfg.dtype == "float16" and " f16" or "", cfg.wgmma and " wgmma" or "") .. (cfg.wg_overlap and " ovl" or "")
end

if arg[1] ~= "bench" then
  local configs = {
    {bm = 128, bn = 256, bk = 32, num_warps = 8, num_stages = 3},
    {bm = 128, bn = 128, bk = 32, num_warps = 4, num_stages = 4},
    {bm = 64, bn = 128, bk = 64, num_warps = 4, num_stages = 2, out = "bfloat16"},
    {bm = 128, bn = 128, bk = 64, num_warps = 8, num_stages = 1},
    {bm = 64, bn = 64, bk = 32, num_warps = 4, num_stages = 3, b_trans = true},
    {bm = 64, bn = 64, bk = 32, num_warps = 4, num_stages = 2, a_trans = true, dtype = "float16"},
    {bm = 32, bn = 64, bk = 16, num_warps = 2, num_stages = 2, a_trans = true, b_trans = true,
     out = "bfloat16"},
    {bm = 64, bn = 64, bk = 32, num_warps = 4, num_stages = 2, vec16 = false},
    {bm = 16, bn = 32, bk = 32, num_warps = 1, num_stages = 2, vec16 = false, b_trans = true,
     dtype = "float16", out = "bfloat16"},
    {bm = 128, bn = 256, bk = 64, num_warps = 8, num_stages = 3, b_trans = true, wgmma = true},
    {bm = 64, bn = 128, bk = 64, num_warps = 4, num_stages = 4, b_trans = true, wgmma = true,
     dtype = "float16", out = "bfloat16"},
    {bm = 128, bn = 64, bk = 64, num_warps = 8, num_stages = 1, b_trans = true, wgmma = true},
    -- B as [K,N] (MN-major descriptors), and two 64-row blocks per warpgroup
    {bm = 128, bn = 256, bk = 64, num_warps = 8, num_stages = 3, wgmma = true},
    {bm = 128, bn = 128, bk = 64, num_warps = 4, num_stages = 4, wgmma = true},
    {bm = 64, bn = 64, bk = 64, num_warps = 4, num_stages = 2, wgmma = true, dtype = "float16",
     out = "bfloat16"},
    {bm = 256, bn = 128, bk = 64, num_warps = 8, num_stages = 3, b_trans = true, wgmma = true},
    {bm = 64, bn = 128, bk = 64, num_warps = 4, num_stages = 2, wgmma = true, vec16 = false},
    -- the slice's copies issued while its wgmma run (wg_overlap)
    {bm = 128, bn = 256, bk = 64, num_warps = 8, num_stages = 3, wgmma = true, wg_overlap = true},
    {bm = 128, bn = 128, bk = 64, num_warps = 4, num_stages = 4, b_trans = true, wgmma = true,
     wg_overlap = true, dtype = "float16", out = "bfloat16"},
    {bm = 64, bn = 128, bk = 64, num_warps = 4, num_stages = 2, wgmma = true, vec16 = false,
     wg_overlap = true},
  }
  -- vec16 needs rows 16-byte aligned (every dim a multiple of 8); the scalar mode takes any
  local shapes16 = {{328, 200, 136}, {512, 512, 512}, {8, 16, 8}}
  local shapes1 = {{77, 45, 53}, {128, 64, 96}, {1, 1, 1}}
  local failed, seed = 0, 1
  for _, cfg in ipairs(configs) do
    local f, info = compile(cfg)
    for _, s in ipairs(cfg.vec16 == false and shapes1 or shapes16) do
      local m, n, k = s[1], s[2], s[3]
      seed = seed + 2
      local a, b = operands(cfg, m, n, k, seed)
      local ref = reference(cfg, a, b)
      local out_dt = cfg.out == "bfloat16" and bf16 or f32
      local dc = helua.full({m, n}, 0 / 0, {dtype = out_dt, device = "cuda"}) -- poisoned
      launch(f, info, cfg, a:cuda(), b:cuda(), dc, m, n, k)
      core.cuda_synchronize()
      local c = dc:cpu():to(f64)
      local err = helua.rel_err(c, ref)
      local nan = err ~= err -- a NaN left in C (poison never overwritten) makes the norm NaN
      local tol = cfg.out == "bfloat16" and 1e-2 or 1e-3
      local good = not nan and err < tol
      if not good then failed = failed + 1 end
      print(string.format("%-4s %-32s %4dx%-4dx%-4d rel_err %.2e%s", good and "ok" or "FAIL",
        name(cfg), m, n, k, err, nan and " (unwritten / NaN elements)" or ""))
    end
  end
  -- A layout probe for wgmma, B as [N,K] and as [K,N]: A = I, so C = B (as [M=K, N]); with
  -- B's elements set to their n index, then to their k index, each C element names the B
  -- element it got. Checked here; written to $OUT/wgmma-probe*.txt when OUT is set.
  local dir = os.getenv("OUT")
  for _, bt in ipairs({true, false}) do
    local cfg = {bm = 64, bn = 128, bk = 64, num_warps = 4, num_stages = 2, b_trans = bt, wgmma = true}
    local f, info = compile(cfg)
    local eye, bn_, bk_ = {}, {}, {}
    for i = 1, 64 do
      eye[i] = {}
      for j = 1, 64 do eye[i][j] = i == j and 1 or 0 end
    end
    -- B stored [N=128][K=64] (bT) or [K=64][N=128]; value = its n or its k index
    local rows, cols = bt and 128 or 64, bt and 64 or 128
    for i = 1, rows do
      bn_[i], bk_[i] = {}, {}
      for j = 1, cols do
        local nn, kk = bt and i - 1 or j - 1, bt and j - 1 or i - 1
        bn_[i][j], bk_[i][j] = nn, kk
      end
    end
    local da = helua.tensor(eye, {dtype = bf16}):cuda()
    local fh = dir and io.open(dir .. "/wgmma-probe" .. (bt and "" or "-kn") .. ".txt", "w")
    local bad, sample = 0, {}
    for _, src in ipairs({{"n", bn_}, {"k", bk_}}) do
      local dc = helua.full({64, 128}, -1, {dtype = f32, device = "cuda"})
      launch(f, info, cfg, da, helua.tensor(src[2], {dtype = bf16}):cuda(), dc, 64, 128, 64)
      core.cuda_synchronize()
      local t = dc:cpu():totable()
      if fh then fh:write("C[m][n] with B = its ", src[1], " index (want ", src[1] == "n" and "n" or "m", ")\n") end
      for m = 1, 64 do
        local row = {}
        for n = 1, 128 do
          local v = math.floor(t[m][n])
          local want = src[1] == "n" and n - 1 or m - 1
          if v ~= want then bad = bad + 1 end
          row[n] = string.format("%d", v)
        end
        if fh then fh:write(table.concat(row, " "), "\n") end
        if m == 1 or m == 2 or m == 9 or m == 17 or m == 64 then -- shown when the probe fails
          sample[#sample + 1] = string.format("  B=%s m=%d: %s", src[1], m - 1,
            table.concat(row, " ", 1, 12) .. " .. " .. table.concat(row, " ", 63, 68))
        end
      end
    end
    if fh then fh:close() end
    if bad > 0 then failed = failed + 1 end
    print(string.format("%-4s wgmma layout probe, B as %s: %d wrong elements", bad == 0 and "ok" or "FAIL",
      bt and "[N,K]" or "[K,N]", bad))
    if bad > 0 then print(table.concat(sample, "\n")) end
  end
  if failed > 0 then
    print(failed .. " nvmma GEMM checks failed")
    os.exit(1)
  end
  print("nvmma gpu: all checks passed")
  os.exit(0)
end

-- ---- bench: bf16 4096³ ------------------------------------------------------------------------
local N = tonumber(arg[2]) or 4096
local runs = 30
local a, b = operands({}, N, N, N, 11)
local da, db = a:cuda(), b:cuda()
local rows = 64 -- the reference is checked on the first `rows` rows (a float64 host GEMM)
local ref = helua.matmul(a:narrow(1, 1, rows):to(f64), b:to(f64))
-- B as [N,K] for b_trans configs: the same flops
local bT = helua.randn({N, N}, {seed = 12, dtype = bf16})
local dbT = bT:cuda()
local refT = helua.matmul(a:narrow(1, 1, rows):to(f64), bT:to(f64):transpose())
local dc = helua.empty({N, N}, {dtype = f32, device = "cuda"})
local start, stop = core.cuda_event(), core.cuda_event()
local lines = {}
local function out(s)
  print(s)
  lines[#lines + 1] = s
end
out(string.format("nvmma GEMM bf16 %dx%dx%d, fp32 out; median of %d runs; %s", N, N, N, runs,
  helua.cuda.device_info().name))
out(string.format("%-26s %5s %5s %8s %9s %9s", "config", "regs", "local", "ms", "TFLOP/s", "rel_err"))
local tiles = {{128, 128, 32}, {128, 128, 64}, {128, 256, 32}, {128, 256, 64}, {256, 128, 32},
  {256, 128, 64}, {64, 256, 32}, {64, 128, 64}, {128, 64, 64}}
local best = {tf = 0}
local function bench(cfg)
  local okc, f, info = pcall(compile, cfg)
  if not okc then
    out(string.format("%-26s %s", name(cfg), tostring(f):sub(1, 80)))
    return
  end
  if info.smem_bytes > 227 * 1024 then return end
  local attrs = f:attributes()
  dc:fill_(0 / 0)
  local B, R = db, ref
  if cfg.b_trans then B, R = dbT, refT end
  for _ = 1, 3 do launch(f, info, cfg, da, B, dc, N, N, N) end
  core.cuda_synchronize()
  local c = dc:narrow(1, 1, rows):cpu():to(f64)
  local err = helua.rel_err(c, R)
  local ms = {}
  for i = 1, runs do
    start:record()
    launch(f, info, cfg, da, B, dc, N, N, N)
    stop:record()
    ms[i] = start:elapsed_ms(stop)
  end
  table.sort(ms)
  local med = ms[(runs + 1) // 2]
  local tf = 2 * N * N * N / (med * 1e-3) / 1e12
  local label = name(cfg) .. (cfg.group_m and (" g" .. cfg.group_m) or "")
  if err < 1e-3 and tf > best.tf then best = {tf = tf, name = label, cfg = cfg} end
  out(string.format("%-26s %5d %5d %8.3f %9.1f %9.2e%s", label, attrs.num_regs, attrs.local_bytes,
    med, tf, err, err < 1e-3 and "" or " WRONG"))
end
local wg_only = arg[3] == "wg"
for _, t in ipairs(wg_only and {} or tiles) do
  for _, w in ipairs({4, 8}) do
    for _, st in ipairs({3, 4, 5}) do -- 2 stages never won (2026-11-25, H100)
      -- 4 warps cannot hold a 256-wide tile's 256 accumulators per thread without spilling
      if not (w == 4 and t[1] * t[2] > 128 * 128) then
        bench({bm = t[1], bn = t[2], bk = t[3], num_warps = w, num_stages = st})
      end
    end
  end
end
local wgmma_tiles = arg[3] == "mma" and {} or wg_only
  and {{128, 256, 8}, {128, 128, 8}, {128, 128, 4}, {256, 128, 8}, {256, 128, 16}}
  or {{128, 256, 8}, {128, 128, 8}, {64, 256, 4}, {256, 128, 16}, {64, 128, 4}, {128, 128, 4},
      {256, 128, 8}}
for _, t in ipairs(wgmma_tiles) do
  for _, st in ipairs(wg_only and {3} or {3, 4, 5}) do
    for _, bt in ipairs({true, false}) do -- B as [N,K] and as [K,N]
      for _, ov in ipairs({false, true}) do
        bench({bm = t[1], bn = t[2], bk = 64, num_warps = t[3], num_stages = st, b_trans = bt,
          wgmma = true, wg_overlap = ov})
      end
    end
  end
end
for _, st in ipairs(wg_only and {} or {3, 4}) do -- mma.sync on the same [N,K] B, for comparison
  bench({bm = 128, bn = 256, bk = 64, num_warps = 8, num_stages = st, b_trans = true})
end
local top = not wg_only and best.cfg
if top then -- the program order: L2 reuse of the operand tiles
  for _, gm in ipairs({1, 4, 16}) do
    local cfg = {group_m = gm}
    for k, v in pairs(top) do if k ~= "group_m" then cfg[k] = v end end
    bench(cfg)
  end
end
out(string.format("best: %s %.1f TFLOP/s", best.name or "-", best.tf))
local dir = os.getenv("OUT")
if dir then
  local fh = io.open(dir .. "/nvmma-bench.txt", "w")
  if fh then fh:write(table.concat(lines, "\n"), "\n") fh:close() end
end
