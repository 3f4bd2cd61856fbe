-- Tensor-core choices of the cuda target without a GPU: float32 dots on TF32 tensor cores only
-- with dot_precision = "tf32" (the default "ieee" stays exact), and bfloat16 / float16 K loops on
-- wgmma with the config knob `wgmma` (B as [K,N]: MN-major descriptors, imm-trans-b 1), repaired
-- by the space into tiles wgmma takes; every PTX assembles with `ptxas -arch=sm_90a` without
-- spills (skipped (77) without ptxas). Part of tests/lua.
package.path = arg[0]:match("(.*/)") .. "?.lua;" .. package.path
local T = require "testing"
local helua = require "helua"
local run = require "helua.run"

local ptxas = os.getenv("HELUA_PTXAS") or "/usr/local/cuda/bin/ptxas"
if not io.open(ptxas, "r") then
  print("test_cuda_mma: skipped, no ptxas at " .. ptxas)
  os.exit(77)
end
local tmp = os.tmpname()

-- ptxas -v's output for ptx; fails the test when ptxas refuses it or spills.
local function assemble(ptx, what)
  local f = assert(io.open(tmp .. ".ptx", "w"))
  f:write(ptx)
  f:close()
  local p = io.popen(ptxas .. " -v -arch=sm_90a " .. tmp .. ".ptx -o " .. tmp .. ".cubin 2>&1")
  local out = p:read("a")
  T.truthy(p:close(), what .. ": ptxas: " .. out)
  T.truthy(not out:find("[1-9]%d* bytes spill stores"), what .. ": spills: " .. out)
  return out
end

local function entry(file, name)
  local d = run.load(file)
  for _, e in ipairs(d.entries) do
    if e.name == name then return d, e end
  end
  error("no entry " .. name .. " in " .. file)
end

local TF32 = "mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32"

T.test("float32 matmul: mma.sync .tf32 with dot_precision = \"tf32\" only", function()
  local _, e = entry("kernels/matmul.lua", "matmul")
  local x = helua.randn({256, 96}, {dtype = helua.float32, seed = 1})
  local y = helua.randn({96, 192}, {dtype = helua.float32, seed = 2})
  local cfgs = {nil, helua.Config{block_sizes = {32, 64, 16}, num_warps = 2},
                helua.Config{block_sizes = {128, 128, 32}, num_warps = 8}}
  for _, prec in ipairs({"default", "ieee", "tf32"}) do
    local opts = {backend = "cuda"}
    if prec ~= "default" then opts.dot_precision = prec end
    local bk = run.with_settings(e.kernel, opts):bind(x, y)
    for i = 1, 3 do
      local what = prec .. " config " .. i
      local ptx = bk:code(cfgs[i], "ptx")
      local has = ptx:find(TF32, 1, true) ~= nil
      T.eq(has, prec == "tf32", what .. ": mma.sync .tf32 in the PTX")
      T.eq(ptx:find("cvt.rna.tf32.f32", 1, true) ~= nil, prec == "tf32", what .. ": cvt.rna.tf32")
      T.truthy(not ptx:find(".local", 1, true), what .. ": no local memory")
      assemble(ptx, what)
    end
  end
end)

T.test("dot_precision: bf16 dots and the CPU do not change; bad values are errors", function()
  local _, e = entry("kernels/matmul.lua", "matmul")
  local x = helua.randn({64, 64}, {dtype = helua.bfloat16, seed = 1})
  local y = helua.randn({64, 64}, {dtype = helua.bfloat16, seed = 2})
  local a = run.with_settings(e.kernel, {backend = "cuda"}):bind(x, y):code(nil, "ptx")
  local b = run.with_settings(e.kernel, {backend = "cuda", dot_precision = "tf32"}):bind(x, y)
    :code(nil, "ptx")
  T.eq(a, b, "bf16 matmul PTX is the same with tf32")
  local xf, yf = x:to("float32"), y:to("float32")
  local cpu = run.with_settings(e.kernel, {backend = "cpu", dot_precision = "tf32"})
  T.truthy(helua.rel_err(cpu(xf, yf):to("float64"), helua.matmul(xf:to("float64"), yf:to("float64")))
    < 1e-6, "the CPU stays exact")
  T.raises(function() run.with_settings(e.kernel, {dot_precision = "tf64"}) end, "dot_precision")
end)

T.test("the triton stage follows dot_precision for float32 dots", function()
  local _, e = entry("kernels/matmul.lua", "matmul")
  local x = helua.randn({64, 64}, {dtype = helua.float32, seed = 1})
  local y = helua.randn({64, 64}, {dtype = helua.float32, seed = 2})
  local ieee = run.with_settings(e.kernel, {backend = "cuda"}):bind(x, y):code(nil, "triton")
  local tf32 = run.with_settings(e.kernel, {backend = "cuda", dot_precision = "tf32"}):bind(x, y)
    :code(nil, "triton")
  T.truthy(ieee:find('input_precision="ieee"', 1, true), "ieee by default")
  T.truthy(tf32:find('input_precision="tf32"', 1, true) and not tf32:find('input_precision="ieee"', 1, true),
    "tf32 with the setting")
end)

T.test("float32 bmm and attention-like dots take tf32 too", function()
  local _, e = entry("kernels/bmm.lua", "bmm")
  local a = helua.randn({2, 64, 32}, {dtype = helua.float32, seed = 1})
  local b = helua.randn({2, 32, 64}, {dtype = helua.float32, seed = 2})
  local ptx = run.with_settings(e.kernel, {backend = "cuda", dot_precision = "tf32"}):bind(a, b)
    :code(nil, "ptx")
  T.truthy(ptx:find(TF32, 1, true), "bmm: mma.sync .tf32")
  assemble(ptx, "bmm tf32")
end)

local function count(s, pat)
  local _, n = s:gsub(pat, "")
  return n
end

T.test("matmul bf16: wgmma = true runs the K loop on wgmma (B as [K,N]), false on mma.sync", function()
  local _, e = entry("kernels/matmul.lua", "matmul")
  local x = helua.randn({512, 384}, {dtype = helua.bfloat16, seed = 1})
  local y = helua.randn({384, 512}, {dtype = helua.bfloat16, seed = 2})
  local bk = run.with_settings(e.kernel, {backend = "cuda"}):bind(x, y)
  local space = bk:config_spec()
  T.eq(space:default().wgmma, false, "mma.sync is the default of this size (not the big tile)")
  local cases = {
    {{128, 256, 64}, 8, 3, 256, 4}, -- one 64-row block per warpgroup
    {{128, 128, 64}, 4, 4, 128, 8}, -- two per warpgroup
    {{64, 64, 64}, 4, 2, 64, 4},
  }
  for _, c in ipairs(cases) do
    local base = {block_sizes = c[1], num_warps = c[2], num_stages = c[3]}
    local what = table.concat(c[1], "x") .. " w" .. c[2] .. " s" .. c[3]
    local on = {wgmma = true}
    for kk, v in pairs(base) do on[kk] = v end
    local ptx = bk:code(helua.Config(on), "ptx")
    local mma = bk:code(helua.Config(base), "ptx")
    local want = "wgmma%.mma_async%.sync%.aligned%.m64n" .. c[4] .. "k16%.f32%.bf16%.bf16 [^\n]*p, 1, 1, 0, 1;"
    T.eq(count(ptx, want), c[5], what .. ": wgmma m64n" .. c[4] .. " with imm-trans-b 1 per slice")
    T.eq(count(ptx, "mma%.sync%.aligned%.m16n8k16"), 0, what .. ": no mma.sync")
    T.truthy(ptx:find("fence.proxy.async.shared::cta", 1, true), what .. ": proxy fence")
    T.truthy(ptx:find(".align 1024", 1, true), what .. ": 1024-byte aligned shared memory")
    -- 128x256 and larger: the next slice's copies issued while the wgmma run (wg_overlap)
    -- (lines may end in a "// matmul.lua:N" source note)
    local joined = ptx:find("wgmma%.commit_group%.sync%.aligned;[^\n]*\nwgmma%.wait_group%.sync%.aligned 0;")
    T.eq(not joined, c[1][1] * c[1][2] >= 128 * 256, what .. ": wg_overlap")
    T.truthy(not ptx:find(".local", 1, true), what .. ": no local memory")
    T.truthy(mma:find("mma.sync.aligned.m16n8k16", 1, true) and not mma:find("wgmma", 1, true),
      what .. ": wgmma = false is mma.sync")
    assemble(ptx, what .. " wgmma")
  end
  -- a tile wgmma does not take (block_k 32) as given: mma.sync, the same PTX as without
  local given = {block_sizes = {128, 256, 32}, num_warps = 8, num_stages = 3}
  local a = bk:code(helua.Config(given), "ptx")
  given.wgmma = true
  T.eq(bk:code(helua.Config(given), "ptx"), a, "wgmma on an unfit tile falls back to mma.sync")
end)

T.test("the wgmma knob: in the space of bf16 / f16 K loops only; fixed configs are wgmma tiles", function()
  local _, e = entry("kernels/matmul.lua", "matmul")
  local x = helua.randn({512, 512}, {dtype = helua.bfloat16, seed = 1})
  local y = helua.randn({512, 512}, {dtype = helua.bfloat16, seed = 2})
  local space = run.with_settings(e.kernel, {backend = "cuda"}):bind(x, y):config_spec()
  local n = 0
  for seed = 1, 300 do
    local c = space:random(seed)
    if c.wgmma then
      n = n + 1
      local bm, bn, bkk = c.block_sizes[1], c.block_sizes[2], c.block_sizes[3]
      local r = bm // (16 * c.num_warps)
      T.truthy(bkk == 64 and c.num_warps % 4 == 0 and bm % (16 * c.num_warps) == 0 and bn % 64 == 0
        and r * bn / 2 <= 128, "a wgmma tile: " .. helua.Config(c):to_lua())
    end
  end
  T.truthy(n > 0, "random configs reach wgmma (" .. n .. " of 300)")
  local xf = helua.randn({64, 64}, {dtype = helua.float32, seed = 1})
  local f32space = run.with_settings(e.kernel, {backend = "cuda"}):bind(xf, xf):config_spec()
  T.eq(f32space:default().wgmma, nil, "no wgmma knob for a float32 dot")
  local _, sm = entry("kernels/softmax.lua", "softmax")
  local sspace = run.with_settings(sm.kernel, {backend = "cuda"})
    :bind(helua.randn({4, 256}, {dtype = helua.bfloat16, seed = 1})):config_spec()
  T.eq(sspace:default().wgmma, nil, "no wgmma knob without a dot")
end)

os.remove(tmp)
os.remove(tmp .. ".ptx")
os.remove(tmp .. ".cubin")
T.done()
