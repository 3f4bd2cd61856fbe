-- The cached call's fast path (issue 4, host overhead): bound kernels found by the tensors'
-- identity, arguments read from the kernel's frame in C (ck:launch_frame), helua.empty's C fast
-- path, and that every way off the fast path still gives the right results and errors. Part of
-- tests/lua. Runs on the CPU compiler; with a CUDA driver (the fake one of tests/unit, or a GPU)
-- the same on device tensors.
package.path = arg[0]:match("(.*/)") .. "?.lua;" .. package.path
local T = require "testing"
local helua = require "helua"
local hl = require "helua.language"
local kernel = require "helua.kernel"
local core = helua.core

if not core.compile then
  print("test_fast_call: no compiler in this build (core.compile): skipped")
  os.exit(77)
end

local function add_fn(x, y)
  local m, n = x:size()
  local out = helua.empty({m, n}, {dtype = x.dtype, device = x.device})
  for tm, tn in hl.tile({m, n}) do
    out[{tm, tn}] = x[{tm, tn}] + y[{tm, tn}]
  end
  return out
end

-- The fake driver (tests/unit) launches compiled kernels as no-ops: values are checked on the
-- CPU and on a real GPU only.
local fake = os.getenv("HELUA_TEST_EXPECT") == "fake"

local function close(got, want, what)
  if fake and got.device == "cuda" then return end
  T.truthy(helua.allclose(got:cpu(), want:cpu()), what .. ": matches x + y")
end

local function counts()
  local s = kernel.stats
  return {traces = s.traces, launches = s.launches, fast = s.fast_launches, compiles = s.compiles}
end

local function delta(c0, what, want)
  local c1 = counts()
  for name, n in pairs(want) do T.eq(c1[name] - c0[name], n, what .. ": " .. name) end
end

-- The tests of one device ("cpu" or "cuda").
local function suite(device)
  local backend = device == "cuda" and "cuda" or "cpu"
  local function randn(shape, seed) return helua.randn(shape, {seed = seed, device = device}) end

  T.test(device .. ": cached calls take the fast path, with this call's tensors", function()
    local k = helua.kernel(add_fn, {backend = backend})
    local x, y = randn({5, 7}, 1), randn({5, 7}, 2)
    local c0 = counts()
    close(k(x, y), x:cpu() + y:cpu(), "first call")
    delta(c0, "the first call", {traces = 1, launches = 1, fast = 0})
    c0 = counts()
    for _ = 1, 3 do close(k(x, y), x:cpu() + y:cpu(), "cached call") end
    delta(c0, "three cached calls", {traces = 0, launches = 3, fast = 3, compiles = 0})
    local x2, y2 = randn({5, 7}, 3), randn({5, 7}, 4) -- new tensors, same layout
    c0 = counts()
    close(k(x2, y2), x2:cpu() + y2:cpu(), "new tensors")
    close(k(x, y2), x:cpu() + y2:cpu(), "mixed")
    delta(c0, "new tensors of the same layout", {traces = 0, fast = 2})
    T.eq(k:bind(x2, y2), k:bind(x, y), "one bound kernel for the layout")
  end)

  T.test(device .. ": another layout retraces; reset forgets the identity cache", function()
    local k = helua.kernel(add_fn, {backend = backend})
    local x, y = randn({5, 7}, 1), randn({5, 7}, 2)
    k(x, y)
    local w, z = randn({3, 9}, 5), randn({3, 9}, 6)
    local c0 = counts()
    close(k(w, z), w:cpu() + z:cpu(), "another shape")
    delta(c0, "another shape", {traces = 1})
    k:reset()
    c0 = counts()
    close(k(x, y), x:cpu() + y:cpu(), "after reset")
    delta(c0, "after reset", {traces = 1})
  end)

  T.test(device .. ": tensors the frame does not hold take the general path", function()
    -- the output in an upvalue, and the same tensor at two places (aliases)
    local out = helua.empty({4, 6}, {device = device})
    local k = helua.kernel(function(x, y)
      local m, n = x:size()
      for tm, tn in hl.tile({m, n}) do
        out[{tm, tn}] = x[{tm, tn}] + y[{tm, tn}]
      end
      return out
    end, {backend = backend})
    local x, y = randn({4, 6}, 7), randn({4, 6}, 8)
    k(x, y)
    local c0 = counts()
    close(k(x, y), x:cpu() + y:cpu(), "output in an upvalue")
    delta(c0, "output in an upvalue", {traces = 0, launches = 1, fast = 0})
    local a = helua.kernel(add_fn, {backend = backend})
    a(x, x)
    c0 = counts()
    close(a(x, x), x:cpu() + x:cpu(), "one tensor twice")
    delta(c0, "one tensor twice", {traces = 0, launches = 1})
  end)

  T.test(device .. ": set_config and bk:run after cached calls use their config", function()
    local k = helua.kernel(add_fn, {backend = backend})
    local x, y = randn({6, 10}, 9), randn({6, 10}, 10)
    k(x, y)
    k(x, y)
    local bk = k:bind(x, y)
    local c0 = counts()
    bk:set_config({block_sizes = {2, 4}})
    close(k(x, y), x:cpu() + y:cpu(), "after set_config")
    delta(c0, "set_config", {compiles = 1, traces = 0})
    c0 = counts()
    close(bk:run({block_sizes = {1, 2}}, x, y), x:cpu() + y:cpu(), "bk:run")
    close(k(x, y), x:cpu() + y:cpu(), "a plain call after bk:run")
    delta(c0, "bk:run then a plain call", {compiles = 1, traces = 0, fast = 2})
  end)

  T.test(device .. ": kernels called from host code, the same one included", function()
    local inner = helua.kernel(add_fn, {backend = backend})
    local state = {nest = false}
    local outer
    outer = helua.kernel(function(x, y)
      local m, n = x:size()
      local twice = inner(x, x) -- another kernel
      if state.nest then -- the same bound kernel while it runs (its settled caller is busy)
        state.nest = false
        local got, want = outer(x, y), x:cpu() + x:cpu() + y:cpu()
        T.truthy(fake and got.device == "cuda" or helua.allclose(got:cpu(), want),
          "nested call of the same kernel")
      end
      local out = helua.empty({m, n}, {dtype = x.dtype, device = x.device})
      for tm, tn in hl.tile({m, n}) do
        out[{tm, tn}] = twice[{tm, tn}] + y[{tm, tn}]
      end
      return out
    end, {backend = backend})
    local x, y = randn({4, 5}, 11), randn({4, 5}, 12)
    local want = x:cpu() + x:cpu() + y:cpu()
    for _ = 1, 3 do close(outer(x, y), want, "outer") end
    local c0 = counts()
    state.nest = true
    close(outer(x, y), want, "outer with a nested call")
    delta(c0, "outer + inner + nested outer (+ its inner)", {traces = 0, launches = 4})
    close(outer(x, y), want, "outer after")
  end)

  T.test(device .. ": ck:launch_frame refuses what it cannot find", function()
    local k = helua.kernel(add_fn, {backend = backend})
    local x, y = randn({5, 7}, 1), randn({5, 7}, 2)
    k(x, y)
    local bk = k:bind(x, y)
    local v = bk.variants[1]
    local ck = bk:_compiled(v, nil)
    T.eq(ck:launch_frame(k.fn, {1, "x", 2, "y", 3, "out"}), false, "the kernel is not running")
    T.eq(ck:launch_frame(k.fn, {1, "x"}), false, "a plan of the wrong length")
    T.raises(function() ck:launch_frame(k.fn) end, "table expected")
  end)
end

T.test("helua.empty: the fast path and the checked path agree", function()
  local t = helua.empty({2, 3})
  T.eq(t.dtype, "float32", "default dtype")
  T.eq(table.concat(t:shape(), "x"), "2x3", "shape")
  T.eq(helua.empty({4}, {dtype = helua.int32}).dtype, "int32", "dtype option")
  T.eq(helua.empty({4}, {device = "cpu"}).device, "cpu", "device option")
  T.eq(table.concat(helua.empty(2, 5):shape(), "x"), "2x5", "sizes as arguments")
  T.eq(helua.empty({0}):numel(), 0, "empty")
  T.raises(function() helua.empty({-1}) end, "helua.empty")
  T.raises(function() helua.empty({2.5}) end, "helua.empty")
  T.raises(function() helua.empty({2}, {dtyp = "float32"}) end, "unknown option 'dtyp'", "dtype")
  T.raises(function() helua.empty({2}, {dtype = "float33"}) end, "unknown dtype 'float33'")
  T.raises(function() helua.empty({2}, {device = "gpu"}) end, "unknown device 'gpu'")
  T.raises(function() helua.empty({2}, "float32") end, "options must be a table")
  local k = helua.kernel(function(x)
    local out = helua.empty_like(x)
    for tm in hl.tile(x:size(1)) do
      local _ = helua.empty({2})
      out[tm] = x[tm]
    end
    return out
  end, {backend = "interpret"})
  T.raises(function() k(helua.randn({4})) end, "host code")
end)

T.test("tensor fields and methods through core.tensor_index", function()
  local t = helua.tensor({{1, 2}, {3, 4}}, {dtype = helua.int32})
  T.eq(t.dtype, "int32", "dtype")
  T.eq(t.device, "cpu", "device")
  T.eq(select(2, t:size()), 2, "a C method")
  T.eq(t:cpu(), t, "a Lua method")
  T.eq(t[{2, 1}], 3, "element indexing")
  T.raises(function() return t.dtyp end, "no field or method 'dtyp'", "dtype")
  if helua.cuda.is_available() then
    local d = t:cuda()
    T.eq(d.device, "cuda", "device of a device tensor")
    T.eq(d.dtype, "int32", "its dtype")
  end
end)

suite("cpu")
if helua.cuda.is_available() then
  suite("cuda")
  T.test("cuda: cached calls reuse freed outputs (next to no driver allocation)", function()
    local k = helua.kernel(add_fn, {backend = "cuda"})
    local x, y = helua.randn({16, 16}, {device = "cuda"}), helua.randn({16, 16}, {device = "cuda"})
    for _ = 1, 5000 do k(x, y) end -- a few collector cycles: the steady state
    local s0 = core.cuda_mem_stats()
    for _ = 1, 2000 do k(x, y) end
    local s1 = core.cuda_mem_stats()
    local allocs = s1.driver_allocs - s0.driver_allocs
    T.truthy(allocs <= 100, "next to no cuMemAlloc in the steady state (" .. allocs .. ")")
    T.truthy(s1.hits - s0.hits >= 1900, "outputs from the cache (" .. (s1.hits - s0.hits) .. ")")
  end)
else
  print("     cuda: unavailable: the device half is skipped")
end

T.done()
