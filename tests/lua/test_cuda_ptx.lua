-- The cuda target without a GPU: every kernel in kernels/ (its small size) compiles to PTX for the
-- default cuda config and for random configs of its cuda config space, and `ptxas -arch=sm_90a`
-- accepts each module; failures name the kernel, the config and ptxas's message. Skipped (77)
-- when ptxas is not installed (HELUA_PTXAS overrides /usr/local/cuda/bin/ptxas). Part of tests/lua.
package.path = arg[0]:match("(.*/)") .. "?.lua;" .. package.path
local T = require "testing"
local helua = require "helua"
local run = require "helua.run"

local RANDOM_CONFIGS = tonumber(os.getenv("HELUA_TEST_RANDOM_CONFIGS") or "") or 5
local ptxas = os.getenv("HELUA_PTXAS") or "/usr/local/cuda/bin/ptxas"
if not io.open(ptxas, "r") then
  print("test_cuda_ptx: skipped, no ptxas at " .. ptxas)
  os.exit(77)
end

local tmp = os.tmpname()

-- ptxas's verdict on one PTX text: nil when it assembles, else its message.
local function assemble(ptx)
  local f = assert(io.open(tmp .. ".ptx", "w"))
  f:write(ptx)
  f:close()
  local p = io.popen(ptxas .. " -arch=sm_90a " .. tmp .. ".ptx -o " .. tmp .. ".cubin 2>&1")
  local out = p:read("a")
  local ok = p:close()
  return not ok and (out ~= "" and out or "ptxas failed") or nil
end

-- A compile that the lowering refuses with a reason (a tile too big for shared memory) is not a
-- ptxas failure: counted, not failed. So is a random config whose tunable (matmul_split_k's
-- split_k) retraces the kernel into a space the other fields do not fit (the tracer's business).
local function expected_refusal(msg)
  msg = tostring(msg)
  return msg:find("of shared memory", 1, true) ~= nil
    or msg:find("does not fit the kernel", 1, true) ~= nil
end

local refused = 0
for _, file in ipairs(T.kernel_files()) do
  local d = run.load(file)
  for _, e in ipairs(d.entries) do
    T.test(file .. " " .. e.name .. ": PTX for the default and " .. RANDOM_CONFIGS
      .. " random cuda configs assembles", function()
      local k = run.with_settings(e.kernel, {backend = "cuda"})
      local args = run.inputs(e, run.size(d, "small"), 0)
      local bk = k:bind(table.unpack(args, 1, args.n))
      local cfgs = {{name = "default", cfg = nil}}
      local space = bk:config_spec()
      for seed = 1, RANDOM_CONFIGS do
        local c = helua.Config(space:random(seed))
        cfgs[#cfgs + 1] = {name = "random " .. seed .. " " .. c:to_lua(), cfg = c}
      end
      for _, c in ipairs(cfgs) do
        local ok, ptx = pcall(bk.code, bk, c.cfg, "ptx")
        if not ok and c.cfg and expected_refusal(ptx) then
          refused = refused + 1
        else
          if not ok then error(string.format("%s: %s config: %s", e.name, c.name, tostring(ptx)), 0) end
          local msg = assemble(ptx)
          if msg then
            error(string.format("%s: %s config: ptxas -arch=sm_90a: %s", e.name, c.name, msg), 0)
          end
        end
      end
    end)
    collectgarbage("collect")
  end
end

-- Tensor cores: every float16 / bfloat16 dot kernel's PTX at its default config uses mma.sync,
-- or wgmma where the default says so (the big K-loop tile: 128x128x64, 4 warps; a silent fall
-- back to the portable FMA path fails here), keeps the accumulator out of local
-- memory, and ptxas -v reports no spills. The K loops of matmul / bmm also use cp.async.
-- attention (unpipelined dots, its online softmax recomputed per consumer) may spill a few bytes:
-- at most 16 (t[5]); a bigger spill fails.
local TC = {
  {"kernels/matmul.lua", "matmul", true, "m=4096,n=4096,k=4096"}, -- 128x128x64, 4 warps, wgmma
  {"kernels/matmul.lua", "matmul_bias", true},
  {"kernels/matmul.lua", "matmul_bias_relu", true}, {"kernels/bmm.lua", "bmm", true},
  {"kernels/matmul_split_k.lua", "matmul_split_k", false}, {"kernels/attention.lua", "attention", false, nil, 16},
}
for _, t in ipairs(TC) do
  T.test(t[1] .. " " .. t[2] .. ": tensor cores (mma.sync) at the default config, no local memory",
    function()
      local d = run.load(t[1])
      local e
      for _, x in ipairs(d.entries) do if x.name == t[2] then e = x end end
      local k = run.with_settings(e.kernel, {backend = "cuda"})
      for _, size in ipairs({"small", "default", t[4]}) do
        local args = run.inputs(e, run.size(d, size), 0)
        local bk = k:bind(table.unpack(args, 1, args.n))
        local ptx = bk:code(nil, "ptx")
        local what = t[2] .. " (" .. size .. ")"
        local def = bk:config_spec():default()
        if size == t[4] then -- the big-matmul default on wgmma (config-space.md; gpu.md: 615 TFLOP/s)
          local txt = helua.Config(def):to_lua()
          T.truthy(txt:find("block_sizes = {128, 128, 64}", 1, true) and def.num_warps == 4
            and def.num_stages == 3 and def.wgmma == true, what .. ": default " .. txt)
        end
        if def.wgmma then
          T.truthy(ptx:find("wgmma.mma_async.sync.aligned.m64n", 1, true), what .. ": no wgmma")
        else
          T.truthy(ptx:find("mma.sync.aligned.m16n8k16.row.col.f32", 1, true), what .. ": no mma.sync")
          T.truthy(ptx:find("ldmatrix", 1, true), what .. ": no ldmatrix")
        end
        if t[3] then T.truthy(ptx:find("cp.async", 1, true), what .. ": no cp.async") end
        T.truthy(not ptx:find(".local", 1, true), what .. ": local memory in the PTX")
        local f = assert(io.open(tmp .. ".ptx", "w"))
        f:write(ptx)
        f:close()
        local p = io.popen(ptxas .. " -v -arch=sm_90a " .. tmp .. ".ptx -o " .. tmp .. ".cubin 2>&1")
        local out = p:read("a")
        T.truthy(p:close(), what .. ": ptxas: " .. out)
        local spilled = 0
        for n in out:gmatch("(%d+) bytes spill stores") do spilled = math.max(spilled, tonumber(n)) end
        T.truthy(spilled <= (t[5] or 0), what .. ": spills: " .. out)
      end
    end)
end

T.test("cuda errors: a host tensor, a bad knob", function()
  local d = run.load("kernels/add.lua")
  local e = d.entries[1]
  local k = run.with_settings(e.kernel, {backend = "cuda"})
  local args = run.inputs(e, run.size(d, "tiny"), 0)
  T.raises(function() k(table.unpack(args, 1, args.n)) end, "needs device tensors")
  local bk = k:bind(table.unpack(args, 1, args.n))
  T.raises(function() bk:code(helua.Config{num_warps = 3}, "ptx") end, "num_warps")
  T.raises(function() bk:code(helua.Config{pid_type = "diagonal"}, "ptx") end, "pid_type")
end)

-- DESIGN §3.4: every knob of the cuda space changes the generated code (num_sm_multiplier and
-- num_stages change the launch / the tensor-core path instead; see config-space.md).
T.test("each cuda knob changes the PTX of matmul", function()
  local d = run.load("kernels/matmul.lua")
  local e = d.entries[1]
  local k = run.with_settings(e.kernel, {backend = "cuda"})
  local args = run.inputs(e, run.size(d, "small"), 0)
  local bk = k:bind(table.unpack(args, 1, args.n))
  local base = {block_sizes = {16, 16, 16}, num_warps = 4, pid_type = "flat"}
  local function ptx(changes)
    local c = {}
    for n, v in pairs(base) do c[n] = v end
    for n, v in pairs(changes) do c[n] = v end
    return bk:code(helua.Config(c), "ptx")
  end
  local ref = ptx({})
  local knobs = {
    {num_warps = 8}, {pid_type = "xyz"}, {pid_type = "persistent_interleaved"},
    {pid_type = "persistent_blocked"}, {l2_groupings = {4}}, {maxnreg = 64},
    {load_eviction_policies = {"first", "last"}}, {loop_orders = {{2, 1}}},
    {range_unroll_factors = {2}}, {block_sizes = {32, 16, 16}},
  }
  for _, ch in ipairs(knobs) do
    local name = next(ch)
    T.truthy(ptx(ch) ~= ref, name .. " changes the PTX")
  end
  T.truthy(ptx({load_eviction_policies = {"first", ""}}):find("L1::evict_first", 1, true), "evict_first")
  T.truthy(ptx({maxnreg = 64}):find(".maxnreg 64", 1, true), ".maxnreg")
  T.truthy(ptx({pid_type = "xyz"}):find("%ctaid.y", 1, true), "xyz reads ctaid.y")
end)

-- The memory-bound path (share/doc/lowering.md, "The CUDA target"): softmax over bfloat16 rows
-- combines its partials by warp shuffles, keeps no shared buffer of a row (the exp is evaluated
-- again by its second consumer), takes exp from ex2.approx, converts bfloat16 by cvt, puts
-- barriers only where shared memory is shared, and ptxas gives it no stack frame. A regression to the shared-memory tree or a row buffer fails.
T.test("softmax bf16: shuffles, no shared row buffer, fast exp, no stack frame", function()
  local d = run.load("kernels/softmax.lua")
  local k = run.with_settings(d.entries[1].kernel, {backend = "cuda"})
  local n = 4096
  local bk = k:bind(helua.randn({8, n}, {dtype = helua.bfloat16, seed = 1}))
  local cfgs = {
    {name = "default", bars = 12},
    {name = "persistent row, 8 warps", bars = 12,
     cfg = {block_sizes = {1}, num_warps = 8, reduction_loops = {helua.none}}},
    {name = "chunks of 1024", cfg = {block_sizes = {1}, num_warps = 4, reduction_loops = {1024}}},
    {name = "2 rows per program", cfg = {block_sizes = {2}, num_warps = 4}},
  }
  for _, c in ipairs(cfgs) do
    local cfg = c.cfg and helua.Config(c.cfg) or nil
    local ck = bk:_compiled(bk:_variant(cfg), cfg, "cuda")
    local ptx = ck:code("ptx")
    local function has(s) return ptx:find(s, 1, true) ~= nil end
    T.truthy(has("shfl.sync.bfly.b32"), c.name .. ": warp shuffles")
    T.truthy(has("ex2.approx.f32"), c.name .. ": exp by ex2.approx")
    T.truthy(has("cvt.rn.bf16.f32") and has("cvt.f32.bf16"), c.name .. ": bfloat16 by cvt")
    T.truthy(has("max.NaN.f32"), c.name .. ": amax by max.NaN")
    if c.bars then
      -- 10 today: one per chunk of each reduction, two per combine, none in the last loop
      local _, bars = ptx:gsub("bar%.sync", "")
      T.truthy(bars <= c.bars, c.name .. ": " .. bars .. " barriers")
    end
    T.truthy(not has(".local"), c.name .. ": no local memory")
    -- partials and per-row results only: less than one bfloat16 row
    local shared = ck:info().shared_bytes
    T.truthy(shared < 2 * n, c.name .. ": " .. shared .. " bytes of shared memory")
    local f = assert(io.open(tmp .. ".ptx", "w"))
    f:write(ptx)
    f:close()
    local p = io.popen(ptxas .. " -arch=sm_90a -v " .. tmp .. ".ptx -o " .. tmp .. ".cubin 2>&1")
    local out = p:read("a")
    p:close()
    T.truthy(out:find("0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads", 1, true),
      c.name .. ": ptxas -v: " .. out)
  end
end)

-- Register rows (share/doc/lowering.md, "Memory-bound kernels"): at the benchmark shape, bfloat16
-- [4096, 16384], the default config keeps the row whole (no reduction loop, 16 warps) and the
-- row kernels read each input element once: one 16-byte ld.global per 8 elements per thread
-- (16384 / 512 threads = 32 elements: 4 loads per input row), none in a loop, no second pass;
-- the reductions by shfl.sync with a few bytes of shared memory (no buffer of the row); softmax
-- computes exp once per element; 16-byte stores; ptxas: no stack frame, no spills, at most 128
-- registers. A regression to the chunked or shared-memory path fails here.
local function ptxas_v(ptx)
  local f = assert(io.open(tmp .. ".ptx", "w"))
  f:write(ptx)
  f:close()
  local p = io.popen(ptxas .. " -arch=sm_90a -v " .. tmp .. ".ptx -o " .. tmp .. ".cubin 2>&1")
  local out = p:read("a")
  p:close()
  return out
end
local function count(s, pat) local _, n = s:gsub(pat, "") return n end
local ROWS = {
  -- kernel, file, inputs: 16-byte loads per thread (4 per input row), exp per thread
  {"kernels/softmax.lua", "softmax", 4, 32},
  {"kernels/softmax.lua", "softmax_decomposed", 4, 32},
  {"kernels/rms_norm.lua", "rms_norm", 8, 0},   -- x and weight
  {"kernels/layer_norm.lua", "layer_norm", 12, 0}, -- x, weight, bias
}
for _, r in ipairs(ROWS) do
  T.test(r[2] .. " bf16 [4096, 16384]: register row at the default config (one read, shuffles)",
    function()
      local e
      for _, x in ipairs(run.load(r[1]).entries) do if x.name == r[2] then e = x end end
      local k = run.with_settings(e.kernel, {backend = "cuda"})
      -- the inputs' structure at m = 2, n = 3, then empty bfloat16 tensors of the benchmark's
      -- shape (the values do not matter for the code; no 64 M random numbers)
      local args = table.pack(e.inputs({m = 2, n = 3}, 0))
      for i = 1, args.n do
        if helua.is_tensor(args[i]) then
          local shape = {}
          for j, s in ipairs(args[i]:shape()) do shape[j] = s == 2 and 4096 or 16384 end
          args[i] = helua.empty(shape, {dtype = helua.bfloat16})
        end
      end
      local bk = k:bind(table.unpack(args, 1, args.n))
      local def = helua.Config(bk:config_spec():default()):to_lua()
      T.truthy(def:find("reduction_loops = {helua.none}", 1, true) and def:find("num_warps = 16", 1, true),
        r[2] .. ": default " .. def)
      local ck = bk:_compiled(bk:_variant(nil), nil, "cuda")
      local ptx = ck:code("ptx")
      T.eq(count(ptx, "ld%.global[%.%w]*%.v4%."), r[3], r[2] .. ": 16-byte loads")
      T.eq(count(ptx, "ld%.global"), r[3], r[2] .. ": every global load a 16-byte one, each once")
      T.eq(count(ptx, "st%.global[%.%w]*%.v4%."), 4, r[2] .. ": 16-byte stores of the row")
      T.truthy(count(ptx, "shfl%.sync%.bfly") >= 5, r[2] .. ": warp shuffles")
      if r[4] > 0 then T.eq(count(ptx, "ex2%.approx"), r[4], r[2] .. ": one exp per element") end
      -- straight-line rows: the only branches are the warp leaders' stores of their partials
      T.truthy(count(ptx, "bar%.sync") <= 4, r[2] .. ": " .. count(ptx, "bar%.sync") .. " barriers")
      T.truthy(ck:info().shared_bytes <= 256, r[2] .. ": " .. ck:info().shared_bytes .. " bytes of shared memory")
      T.truthy(not ptx:find(".local", 1, true), r[2] .. ": local memory")
      local out = ptxas_v(ptx)
      T.truthy(out:find("0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads", 1, true),
        r[2] .. ": ptxas -v: " .. out)
      local regs = tonumber(out:match("Used (%d+) registers"))
      T.truthy(regs and regs <= 128, r[2] .. ": registers " .. tostring(regs))
    end)
end

os.remove(tmp)
os.remove(tmp .. ".ptx")
os.remove(tmp .. ".cubin")
if refused > 0 then print(string.format("test_cuda_ptx: %d random configs refused (shared memory, config fit)", refused)) end
T.done()
