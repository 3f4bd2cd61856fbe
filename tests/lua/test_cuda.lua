-- CUDA through the helua binding. Without a usable driver: "cuda: unavailable (reason)" wherever
-- the GPU is asked for, and everything else still works. With one (the GPU machine, or the fake
-- driver of tests/unit): device tensors of every dtype, views, fills, copies, the host-op guard,
-- a hand-written PTX vector add loaded, launched, checked and timed with events, and the JIT log
-- of a broken PTX. Part of tests/lua. HELUA_TEST_EXPECT=available|unavailable makes the test fail
-- when the driver's state is not the expected one (gpu-check.sh and the stub/fake runs set it).
package.path = arg[0]:match("(.*/)") .. "?.lua;" .. package.path
local T = require "testing"
local helua = require "helua"
local PTX = require "cuda_ptx"
local core = helua.core

local ok, why = helua.cuda.is_available()
local expect = os.getenv("HELUA_TEST_EXPECT")

T.test("the driver is in the expected state", function()
  if expect == "available" then T.truthy(ok, "cuda available (" .. tostring(why) .. ")") end
  if expect == "unavailable" then T.truthy(not ok, "cuda unavailable") end
  if ok then
    local info = helua.cuda.device_info()
    print(string.format("     device: %s, %s, %d SMs, %.1f GiB, driver %d", info.name, info.arch,
      info.sm_count, info.total_bytes / 2^30, info.driver_version))
  else
    T.eq(type(why), "string", "a reason")
    print("     cuda: unavailable (" .. why .. ")")
  end
end)

local function same(a, b, what)
  T.eq(a.dtype, b.dtype, what .. " dtype")
  T.eq(table.concat(a:shape(), "x"), table.concat(b:shape(), "x"), what .. " shape")
  local ta, tb = a:cpu():flatten():totable(), b:cpu():flatten():totable()
  for i = 1, #tb do
    if ta[i] ~= tb[i] and not (ta[i] ~= ta[i] and tb[i] ~= tb[i]) then
      error(string.format("%s: element %d is %s, expected %s", what, i, tostring(ta[i]), tostring(tb[i])), 2)
    end
  end
end

if not ok then
  T.test("cuda: unavailable (reason) wherever the GPU is asked for", function()
    local msg = "cuda: unavailable (" .. why .. ")"
    local x = helua.randn({4, 5})
    T.raises(function() return x:cuda() end, msg)
    T.raises(function() return x:to("cuda") end, msg)
    T.raises(function() return x:to({device = "cuda"}) end, msg)
    T.raises(function() return helua.zeros({2}, {device = "cuda"}) end, msg)
    T.raises(function() return helua.randn({2}, {device = "cuda:0"}) end, msg)
    T.raises(function() return helua.empty_like(x, {device = "cuda"}) end, msg)
    T.raises(function() return core.cuda_module(PTX.vadd) end, why)
    T.raises(function() return core.cuda_event() end, why)
    T.eq(select(2, helua.cuda.is_available()), why, "the reason is remembered")
  end)

  T.test("everything else works", function()
    local x = helua.randn({4, 5}, {seed = 3})
    T.eq(x:cpu(), x, "cpu() is the tensor itself")
    T.eq(x.device, "cpu", "device")
    T.eq(x:to({device = "cpu", dtype = helua.float64}).dtype, "float64", "to cpu + dtype")
    T.near((x + 1):sum():item(), x:sum():item() + 20, 1e-5, "host math")
  end)

  local stub = os.getenv("HELUA_LIBCUDA")
  if stub and stub:match("stubs/libcuda%.so$") and io.open(stub) then
    T.test("the stub libcuda: cuInit fails with error 34", function()
      T.truthy(why:find("cuInit failed: CUDA_ERROR_STUB_LIBRARY", 1, true), why)
      T.truthy(why:find("[error 34, ", 1, true), why)
    end)
  end
  T.done()
end

-- ---- with a driver ---------------------------------------------------------------------------

T.test("round trip of every dtype: t:cuda():cpu()", function()
  local x = helua.randn({4, 5}, {seed = 1})
  local d = x:cuda()
  T.eq(d.device, "cuda", "device")
  T.eq(d:cuda(), d, "cuda() on a cuda tensor is itself")
  same(d:cpu(), x, "float32")
  for _, dt in ipairs(helua.dtypes) do
    local h = (helua.randn({3, 7}, {seed = 2, dtype = helua.float64}) * 50):to(dt)
    local back = h:cuda():cpu()
    T.eq(back.device, "cpu", dt .. " device")
    same(back, h, dt)
  end
end)

T.test("creation on the device", function()
  same(helua.zeros({2, 3}, {device = "cuda"}), helua.zeros({2, 3}), "zeros")
  same(helua.ones({5}, {device = "cuda", dtype = helua.float16}), helua.ones({5}, {dtype = helua.float16}), "ones")
  same(helua.full({2, 2}, 7, {device = "cuda", dtype = helua.int64}), helua.full({2, 2}, 7, {dtype = helua.int64}), "full int64")
  same(helua.full({3}, -1.5, {device = "cuda", dtype = helua.float64}), helua.full({3}, -1.5, {dtype = helua.float64}), "full float64")
  same(helua.full({3}, true, {device = "cuda"}), helua.full({3}, true), "full bool")
  same(helua.randn({8, 3}, {seed = 9, device = "cuda"}), helua.randn({8, 3}, {seed = 9}), "randn (host-generated)")
  same(helua.arange(10, {device = "cuda"}), helua.arange(10), "arange")
  same(helua.tensor({{1, 2}, {3, 4}}, {device = "cuda"}), helua.tensor({{1, 2}, {3, 4}}), "tensor")
  local d = helua.empty({2, 3}, {device = "cuda", dtype = helua.bfloat16})
  T.eq(d.device, "cuda", "empty device")
  T.eq(d.dtype, "bfloat16", "empty dtype")
  T.eq(helua.zeros_like(d).device, "cuda", "zeros_like keeps the device")
  T.eq(helua.empty_like(d, {device = "cpu"}).device, "cpu", "empty_like device option")
  same(helua.full_like(d, 2), helua.full({2, 3}, 2, {dtype = helua.bfloat16}), "full_like")
  T.eq(helua.zeros({0, 4}, {device = "cuda"}):cpu():numel(), 0, "empty shapes")
end)

T.test("tostring, item, totable and comparisons copy to the host", function()
  local x = helua.tensor({{1.5, 2}, {3, 4}})
  local d = x:cuda()
  local s = tostring(d)
  T.truthy(s:find("device='cuda'", 1, true), s)
  T.truthy(s:find("1.5000", 1, true), s)
  T.eq(d:totable()[2][1], 3.0, "totable")
  T.eq(d[{2, 2}], 4.0, "an element")
  T.eq(helua.tensor({5}, {device = "cuda"}):item(), 5.0, "item")
  T.truthy(helua.allclose(d, x), "allclose with a cuda tensor")
  T.eq(helua.max_abs_err(d, x), 0.0, "max_abs_err")
end)

T.test("host ops on cuda tensors run on the host and give cuda tensors; writes are refused", function()
  local x = helua.randn({3, 3}, {seed = 5})
  local d = x:cuda()
  local h = helua.randn({3, 3}, {seed = 6})
  local function on_gpu(t, want, what)
    T.eq(t.device, "cuda", what .. " stays on the device")
    same(t, want, what)
  end
  on_gpu(d + 1, x + 1, "d + 1")
  on_gpu(h * d, h * x, "h * d")
  on_gpu(-d, -x, "-d")
  on_gpu(d:sum(), x:sum(), "d:sum()")
  on_gpu(d:mean(), x:mean(), "d:mean()")
  on_gpu(d:exp(), x:exp(), "d:exp()")
  on_gpu(helua.matmul(d, d), helua.matmul(x, x), "matmul")
  on_gpu(helua.softmax(d, 2), helua.softmax(x, 2), "softmax")
  T.eq(d:amax():item(), x:amax():item(), "a reduction's item")
  same(d, x, "the inputs are unchanged")
  local hint = "move it to the CPU with t:cpu()"
  T.raises(function() d[{1, 1}] = 2 end, hint)
  T.raises(function() return core.Tensor.load_tile(h, {{1, 2}, d:to("int64"):flatten()}) end, hint)
  same((d:cpu() + 1), d:cpu() + 1, "after t:cpu() it works")
end)

T.test("views, reshape, contiguous, clone, to and copies on the device", function()
  local x = helua.arange(1, 12, {dtype = helua.float32}):reshape({3, 4})
  local d = x:cuda()
  same(d:transpose(), x:transpose(), "transpose")
  same(d:transpose():contiguous(), x:transpose():contiguous(), "contiguous")
  same(d:transpose():reshape({12}), x:transpose():reshape({12}), "reshape of a view")
  same(d:reshape(2, 6), x:reshape(2, 6), "reshape")
  same(d:flatten(), x:flatten(), "flatten")
  same(d[{2}], x[{2}], "a row")
  same(d[{":", {2, 3}}], x[{":", {2, 3}}], "a column range")
  local c = d:clone()
  T.eq(c.device, "cuda", "clone stays on the device")
  c:fill_(0)
  same(d, x, "clone is a copy")
  same(c, helua.zeros({3, 4}), "fill_")
  local f64 = d:to(helua.float64)
  T.eq(f64.device, "cuda", "to(dtype) stays on the device")
  same(f64, x:to(helua.float64), "to(dtype)")
  same(d:to({device = "cpu", dtype = helua.int32}), x:to(helua.int32), "to({device=, dtype=})")
  same(x:to({device = "cuda", dtype = helua.float16}), x:to(helua.float16), "to cuda + dtype")
  local h = helua.zeros({3, 4})
  h:copy_(d)
  same(h, x, "copy_ device -> host")
  c:copy_(x + 1)
  same(c, x + 1, "copy_ host -> device")
  c:copy_(d)
  same(c, x, "copy_ device -> device")
  c:copy_(helua.arange(4))
  same(c, helua.arange(4):to(helua.float32):expand(3, 4), "copy_ broadcasts and casts")
  T.raises(function() d:transpose():fill_(1) end, "contiguous")
  local p = core.cuda_pin(x)
  T.eq(p.device, "cpu", "pinned memory is host memory")
  same(p:cuda(), x, "pinned round trip")
end)

T.test("a hand-written PTX vector add: load, launch, check, time", function()
  local m = core.cuda_module(PTX.vadd)
  T.eq(type(m:info_log()), "string", "JIT info log")
  T.truthy(m:jit_ms() >= 0, "JIT wall time")
  local f = m:func("vadd", PTX.sig)
  T.truthy(f:attributes().num_regs > 0, "registers")
  local n = 1000 -- not a multiple of the block: the kernel masks the tail
  local a, b = helua.randn({n}, {seed = 1, device = "cuda"}), helua.randn({n}, {seed = 2, device = "cuda"})
  local c = helua.zeros({n}, {device = "cuda"})
  local e0, e1 = core.cuda_event(), core.cuda_event()
  e0:record()
  f:launch((n + 255) // 256, 256, {a, b, c, n})
  e1:record()
  local ms = e0:elapsed_ms(e1)
  T.truthy(ms >= 0, "event time")
  same(c, a:cpu() + b:cpu(), "c = a + b")
  local f4 = m:func("vadd4", PTX.sig)
  local c4 = helua.zeros({1024}, {device = "cuda"})
  local a4, b4 = helua.randn({1024}, {device = "cuda"}), helua.randn({1024}, {device = "cuda"})
  f4:launch({2, 1, 1}, {128, 1, 1}, {a4, b4, c4, 256})
  core.cuda_synchronize()
  same(c4, a4:cpu() + b4:cpu(), "float4 version")
  T.raises(function() f:launch(1, 32, {a, b, c}) end, "takes 4 arguments", "got 3")
  T.raises(function() f:launch(1, 32, {a, b:cpu(), c, n}) end, "argument 2 must be a cuda tensor")
  T.raises(function() f:launch(0, 32, {a, b, c, n}) end, "out of range")
  T.raises(function() m:func("nope", "p") end, "cuModuleGetFunction failed", "nope")
  T.raises(function() m:func("vadd", "px") end, "signature letter 'x'")
  m:unload()
  T.raises(function() f:launch(1, 32, {a, b, c, n}) end, "unloaded")
end)

T.test("the caching allocator: a freed output is reused, empty_cache gives it back", function()
  collectgarbage()
  collectgarbage()
  core.cuda_empty_cache()
  local s0 = core.cuda_mem_stats()
  T.eq(s0.cached, 0, "nothing cached after empty_cache")
  for _, k in ipairs({"allocated", "hits", "misses", "driver_allocs", "releases", "oom_retries"}) do
    T.eq(math.type(s0[k]), "integer", k)
  end
  local x = helua.empty({1000, 3}, {device = "cuda"}) -- 12000 bytes: the 12288-byte class
  local s1 = core.cuda_mem_stats()
  T.eq(s1.allocated - s0.allocated, 12288, "rounded to 512 bytes")
  T.eq(s1.driver_allocs - s0.driver_allocs, 1, "one driver allocation")
  x = nil
  collectgarbage()
  collectgarbage()
  local s2 = core.cuda_mem_stats()
  T.eq(s2.cached, 12288, "the freed block is cached")
  for _ = 1, 10 do
    local y = helua.empty({3000}, {device = "cuda"}) -- 12000 bytes again
    y = nil
    collectgarbage()
  end
  local s3 = core.cuda_mem_stats()
  T.eq(s3.driver_allocs, s2.driver_allocs, "reused: no driver allocation")
  T.eq(s3.hits - s2.hits, 10, "ten hits")
  core.cuda_empty_cache()
  T.eq(core.cuda_mem_stats().cached, 0, "empty_cache")
end)

T.test("device bytes drive the collector: 10k dead 1 MB outputs stay bounded", function()
  collectgarbage()
  collectgarbage()
  local s0 = core.cuda_mem_stats()
  local peak, n = 0, 10000
  for _ = 1, n do
    local out = helua.empty({262144}, {device = "cuda"}) -- 1 MiB (the 2 MiB class)
    local live = core.cuda_mem_stats().allocated - s0.allocated
    if live > peak then peak = live end
    out = nil
  end
  print(string.format("     peak device bytes in use over %d allocations of 1 MiB: %.0f MiB", n,
    peak / 2^20))
  -- without the accounting a userdata of ~100 bytes would let thousands pile up (GiBs)
  T.truthy(peak <= 256 * 2^20, "bounded by the collector (peak " .. peak .. " bytes)")
  local s1 = core.cuda_mem_stats()
  T.truthy(s1.hits - s0.hits >= n - 200, "freed outputs are reused (" .. (s1.hits - s0.hits) .. " hits)")
  -- a stopped collector stays stopped
  collectgarbage()
  collectgarbage("stop")
  local a0 = core.cuda_mem_stats().allocated
  for _ = 1, 20 do local _ = helua.empty({262144}, {device = "cuda"}) end
  local grown = core.cuda_mem_stats().allocated - a0
  collectgarbage("restart")
  T.eq(grown, 20 * 2 * 2^20, "nothing collected while stopped")
  collectgarbage()
  collectgarbage()
  core.cuda_empty_cache()
end)

T.test("a broken PTX: the error names the call and shows ptxas' log", function()
  local err = T.raises(function() return core.cuda_module(PTX.broken) end,
    "cuModuleLoadDataEx failed: CUDA_ERROR_INVALID_PTX", "the PTX JIT (ptxas) said:", "error")
  print("     " .. err:gsub("\n", "\n     "))
  T.raises(function() return core.cuda_module("") end, "the PTX text is empty")
end)

T.done()
