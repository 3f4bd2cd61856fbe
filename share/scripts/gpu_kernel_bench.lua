-- Bandwidth of compiled helua kernels on the GPU: add float32 2^26 and softmax bfloat16
-- [4096, 16384] for a few configs, each launched through its compiled kernel object (no host
-- code, no allocation in the timed loop), timed with CUDA events, median of repeats; GB/s =
-- bytes read + written / time. Part of share/scripts; run by gpu-check.sh from the repo root.
local helua = require "helua"
local core = require "helua.core"
local run = require "helua.run"

local repeats = tonumber(os.getenv("HELUA_BENCH_REPEATS") or "") or 20
local function time_ms(fn)
  local e0, e1 = core.cuda_event(), core.cuda_event()
  for _ = 1, 3 do fn() end
  local t = {}
  for i = 1, repeats do
    e0:record()
    fn()
    e1:record()
    t[i] = e0:elapsed_ms(e1)
  end
  table.sort(t)
  return t[(#t + 1) // 2]
end

local function entry(file, name)
  for _, e in ipairs(run.load(file).entries) do if e.name == name then return e end end
  error("no kernel " .. name .. " in " .. file)
end

-- The compiled kernel of entry e for cfg (a table or nil) on args (device tensors), launched
-- with tensors by argument name.
local function bench(label, e, args, named, bytes, cfg)
  local k = run.with_settings(e.kernel, {backend = "cuda"})
  local bk = k:bind(table.unpack(args))
  local c = cfg and helua.Config(cfg) or nil
  local ok, err = pcall(function()
    local ck = bk:_compiled(bk:_variant(c), c)
    local info = ck:info()
    local list = {}
    for i, n in ipairs(info.args) do list[i] = named[n] end
    local ms = time_ms(function() ck:launch(list) end)
    print(string.format("| %-24s | %-58s | %8.3f | %7.0f |", label, c and c:to_lua() or "default",
      ms, bytes / ms / 1e6))
  end)
  if not ok then print(string.format("| %-24s | %-58s | error: %s", label, c and c:to_lua() or "default", tostring(err))) end
end

print(string.format("helua kernel bench, %s, median of %d (CUDA events)", os.date("%Y-%m-%d"), repeats))
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
