-- Host overhead of a cached GPU call (DESIGN.md §3.2, issue 4: target <= 10 us), by phase. Part
-- of share/scripts (benchmarks print tables; tests never time). Runs on the GPU and, with
-- HELUA_LIBCUDA pointing at tests/unit's fake driver (no-op launches), on any machine.
--   helua share/scripts/host_overhead.lua [--calls N] [--blocks B] [--size S]
--
-- add (kernels/add.lua's kernel, backend cuda) on two S x S float32 device tensors (default 16),
-- called back to back, wall clock. Each row is the median over B blocks of N calls of the mean
-- time per call in one block (a noisy machine only ever adds time; the median ignores the
-- blocks a neighbour disturbed). Rows, cheapest first:
--   Lua speed      100 table stores (to compare machines)
--   key            k:key(...) and the bound-kernel lookup (calls with tensors not seen before;
--                  others find their bound kernel by the tensors' identity)
--   raw launch     a CudaFunc of the same PTX launched directly (the driver's share)
--   launch         the compiled kernel's ck:launch(list) alone (argument checks, cuLaunchKernel)
--   alloc          helua.empty of the output on the device (through the caching allocator)
--   host code      the kernel's host code as plain Lua (x:size(), helua.empty)
--   whole call     add(x, y): all of the above, the device loop skipped, the launch
-- and below them the device allocator's hits and misses over the whole-call blocks.
local helua = require "helua"
local core = helua.core
local run = require "helua.run"

local calls, blocks, size = 500, 41, 16
for i = 1, #arg do
  local v = math.tointeger(tonumber(arg[i + 1] or ""))
  if arg[i] == "--calls" and v then calls = v end
  if arg[i] == "--blocks" and v then blocks = v end
  if arg[i] == "--size" and v then size = v end
end

local ok, why = helua.cuda.is_available()
if not ok then
  print("host_overhead: cuda: unavailable (" .. tostring(why) .. ")")
  os.exit(0)
end

-- The median over `blocks` blocks of the microseconds per call of fn.
local function median_us(fn)
  for _ = 1, math.max(calls // 10, 10) do fn() end -- warm-up
  local t = {}
  for b = 1, blocks do
    local t0 = core.clock()
    for _ = 1, calls do fn() end
    t[b] = (core.clock() - t0) / calls * 1e6
  end
  table.sort(t)
  return t[(#t + 1) // 2], t[1]
end

local entry
for _, e in ipairs(run.load("kernels/add.lua").entries) do
  if e.name == "add" then entry = e end
end
local add = run.with_settings(entry.kernel, {backend = "cuda", autotune_effort = "none"})
local f32 = helua.float32
local x = helua.randn({size, size}, {dtype = f32, seed = 1, device = "cuda"})
local y = helua.randn({size, size}, {dtype = f32, seed = 2, device = "cuda"})
local out = add(x, y) -- traces, compiles, loads the module
core.cuda_synchronize()
if not helua.allclose(out, x:cpu() + y:cpu()) and not os.getenv("HELUA_LIBCUDA") then
  print("host_overhead: the compiled add is wrong")
  os.exit(1)
end

local bk = add:bind(x, y)
local cfg = bk:config()
local ck = bk:_compiled(bk:_variant(cfg), cfg)
local list = {x, y, out}
local opts = {dtype = f32, device = "cuda"}
local bound = add.bound

local rows = {}
local function row(name, fn, note)
  local med, best = median_us(fn)
  rows[#rows + 1] = {name, med, best, note or ""}
  return med
end

row("Lua speed: 100 table stores", function()
  local t = {}
  for i = 1, 100 do t[i] = i end
end, "calibration: compare machines")
row("key k:key(x, y) + lookup", function() return bound[add:key(x, y)] end,
  "calls with new tensors only")
local info = ck:info()
local sig = string.rep("p", #info.args)
local raw = core.cuda_module(ck:code("ptx")):func(info.entry, sig)
row("raw launch (CudaFunc:launch)", function()
  raw:launch(info.grid_dims, info.block_dims, list, info.shared_bytes)
end, "cuLaunchKernel and little else")
local launch = row("launch (ck:launch alone)", function() ck:launch(list) end,
  "argument checks + cuLaunchKernel")
row("alloc (helua.empty on cuda)", function() return helua.empty({size, size}, opts) end)
row("host code (x:size, helua.empty)", function()
  local m, n = x:size()
  return helua.empty({m, n}, {dtype = x.dtype, device = x.device})
end)
core.cuda_synchronize()
local s0 = core.cuda_mem_stats()
local whole = row("whole cached call add(x, y)", function() return add(x, y) end)
core.cuda_synchronize()
local s1 = core.cuda_mem_stats()

-- Lua VM instructions per cached call (a count hook): the same on every machine, unlike time.
local count = 0
debug.sethook(function() count = count + 1 end, "", 1)
for _ = 1, 100 do add(x, y) end
debug.sethook()

local info = helua.cuda.device_info()
print(string.format("host overhead of a cached cuda call: add %dx%d float32, %d blocks of %d "
  .. "calls, median (min) us per call; %s; %s; HELUA_CUDA_CACHE_MB=%s; HELUA_GC=%s", size, size,
  blocks, calls, tostring(info.name), os.date("!%Y-%m-%d %H:%M UTC"),
  os.getenv("HELUA_CUDA_CACHE_MB") or "default", os.getenv("HELUA_GC") or "default"))
print(string.format("  %-34s %9s %9s  %s", "what", "median", "min", "note"))
for _, r in ipairs(rows) do
  print(string.format("  %-34s %9.2f %9.2f  %s", r[1], r[2], r[3], r[4]))
end
print(string.format("  %-34s %9.2f %9s  %s", "helua's share (whole - launch)", whole - launch, "",
  "everything but the kernel object's launch"))
print(string.format("  Lua VM instructions per cached call: %d", count // 100))
print(string.format("host overhead of a cached call: %.2f us (target <= 10 us: %s)", whole,
  whole <= 10 and "met" or string.format("missed by %.1f us", whole - 10)))
print(string.format("  device allocator over the whole-call blocks: %d hits, %d misses, "
  .. "%d cuMemAlloc, %d cuMemFree; %d bytes in use, %d cached at the end", s1.hits - s0.hits,
  s1.misses - s0.misses, s1.driver_allocs - s0.driver_allocs, s1.releases - s0.releases,
  s1.allocated, s1.cached))
