-- Kernel objects: calling, binding and its cache, configs, settings, interpret-only backends.
-- Part of tests/lua.
package.path = arg[0]:match("(.*/)") .. "?.lua;" .. package.path
local T = require "testing"
local helua = require "helua"
local hl = require "helua.language"
-- These tests are about interpret mode (eager values you can look into, any block size,
-- clipped tiles): "auto" stays interpret here. Compiled kernels: test_compiled.lua.
require("helua.kernel").AUTO_COMPILES = false

local x = helua.randn({10, 6}, {seed = 1})

-- Records the block sizes its tiles used; returns x + 1 and the record.
local function tiles_fn(a)
  local m, n = a:size()
  local out = helua.empty({m, n})
  local seen = {}
  for tm, tn in hl.tile({m, n}) do
    seen.m, seen.n = tm.block_size, tn.block_size
    out[{tm, tn}] = a[{tm, tn}] + 1
  end
  return out, seen
end

local function allclose(a, b) return helua.allclose(a, b, {rtol = 1e-6, atol = 1e-6}) end

T.test("a kernel call runs the function and returns all its results", function()
  local k = helua.kernel(tiles_fn)
  local out, seen = k(x)
  T.truthy(allclose(out, x + 1), "values")
  T.eq(seen.m, 16, "default block size: next_pow2(10) = 16")
  T.eq(seen.n, 8, "default block size: next_pow2(6) = 8")
  T.truthy(helua.is_kernel(k), "is_kernel")
  T.truthy(tostring(k):find("test_kernel.lua", 1, true), "tostring names the function's file")
end)

T.test("bind caches one bound kernel per specialization key", function()
  local k = helua.kernel(tiles_fn)
  local b1 = k:bind(x)
  T.eq(k:bind(x), b1, "same arguments, same bound kernel")
  T.eq(k:bind(helua.randn({10, 6}, {seed = 9})), b1, "same shape/dtype/strides, same bound kernel")
  T.truthy(k:bind(helua.randn({10, 7})) ~= b1, "another shape")
  T.truthy(k:bind(x:to(helua.float16)) ~= b1, "another dtype")
  T.truthy(k:bind(x:transpose(1, 2):contiguous():transpose(1, 2)) ~= b1, "other strides")
  local ks = helua.kernel(function(a, s) return s end)
  T.truthy(ks:bind(x, 1) ~= ks:bind(x, 2), "scalar values are part of the key")
  T.truthy(ks:bind(x, 1) ~= ks:bind(x, 1.0), "integer and float scalars differ")
  local kd = helua.kernel(tiles_fn, {static_shapes = false})
  T.eq(kd:bind(helua.randn({10, 6})), kd:bind(helua.randn({12, 9})), "static_shapes=false shares sizes")
  T.truthy(kd:bind(helua.randn({1, 6})) ~= kd:bind(helua.randn({12, 9})), "size-1 dims still specialize")
  local out = b1(x)
  T.truthy(allclose(out, x + 1), "a bound kernel is callable")
  T.raises(function() b1(helua.randn({3, 3})) end, "specialized for other arguments")
  k:reset()
  T.truthy(k:bind(x) ~= b1, "reset forgets bound kernels")
end)

T.test("configs: opts.config, configs, run(cfg), set_config, plain tables and Config objects", function()
  local k = helua.kernel(tiles_fn, {config = helua.Config{block_sizes = {4, 2}}})
  local _, seen = k(x)
  T.eq(seen.m, 4, "opts.config block_sizes[1]")
  T.eq(seen.n, 2, "opts.config block_sizes[2]")
  local kp = helua.kernel(tiles_fn, {config = {block_sizes = {2, 4}}})
  _, seen = kp(x)
  T.eq(seen.m, 2, "a plain table config")
  local kc = helua.kernel(tiles_fn, {configs = {{block_sizes = {8, 8}}, {block_sizes = {1, 1}}}})
  _, seen = kc(x)
  T.eq(seen.m, 8, "configs: interpret mode runs the first")
  local b = k:bind(x)
  local out
  out, seen = b:run({block_sizes = {3, 5}}, x)
  T.eq(seen.m, 3, "run(cfg) uses cfg")
  T.truthy(allclose(out, x + 1), "run(cfg) values")
  _, seen = b:run(nil, x)
  T.eq(seen.m, 4, "run(nil) uses the config a call would use (here opts.config)")
  _, seen = b:run({}, x)
  T.eq(seen.m, 16, "run({}) uses the defaults")
  b:set_config(helua.Config{block_sizes = {5, 3}})
  _, seen = k(x)
  T.eq(seen.m, 5, "set_config applies to later calls with these arguments")
  _, seen = k(helua.randn({10, 7}))
  T.eq(seen.m, 4, "other arguments keep opts.config")
  T.truthy(allclose(k(x), x + 1), "values with set_config")
end)

T.test("default_config, and what needs the compiler", function()
  local k = helua.kernel(tiles_fn)
  local b = k:bind(x)
  T.truthy(helua.is_config(b:default_config()), "a Config")
  T.eq(b:default_config():to_lua(), "helua.Config{}", "empty before the first run")
  b(x)
  T.eq(b:default_config():to_lua(), "helua.Config{block_sizes = {16, 8}}", "the block sizes the run chose")
  if not require("helua.core").config_space then
    T.raises(function() b:config_spec() end, "config_spec() needs the compiler")
  end
  T.truthy(b:code():find("^kernel tiles_fn\n"), "code() is the traced IR (tests/lua/test_trace.lua)")
  T.raises(function() b:autotune() end, "autotune() needs a compiled kernel")
end)

T.test("settings: block_size option, backends, unknown options", function()
  local _, seen = helua.kernel(tiles_fn, {block_size = 3})(x)
  T.eq(seen.m, 3, "block_size = 3")
  _, seen = helua.kernel(tiles_fn, {block_size = "full"})(x)
  T.eq(seen.m, 10, "block_size = full (the whole dim)")
  T.eq(seen.n, 6, "block_size = full (second dim)")
  _, seen = helua.kernel(tiles_fn, {block_size = 3, config = {block_sizes = {4}}})(x)
  T.eq(seen.m, 4, "the config wins over the setting")
  T.eq(seen.n, 3, "the setting fills slots the config leaves out")
  if not require("helua.core").compile then
    T.raises(function() helua.kernel(tiles_fn, {backend = "cpu"}) end, "the cpu backend is not built yet")
  end
  local ki = helua.kernel(tiles_fn, {backend = "interpret"})
  T.truthy(allclose(ki(x), x + 1), "backend = interpret runs")
  local kb = helua.kernel(tiles_fn, {interpret = true, autotune_effort = "none", print_output_code = false})
  T.truthy(allclose(kb(x), x + 1), "interpret = true runs")
  T.raises(function() helua.kernel(tiles_fn, {blok_size = 4}) end, "unknown kernel option blok_size",
    "did you mean block_size?")
  T.raises(function() helua.kernel("not a function") end, "helua.kernel needs a function")
end)

T.test("HELUA_* environment variables reach interpret runs", function()
  local exe = arg[-1]
  if not exe or not io.open(exe, "rb") then
    print("skip: no interpreter path in arg[-1]")
    return
  end
  local script = os.tmpname()
  local f = assert(io.open(script, "w"))
  f:write([[
local helua = require "helua"
local hl = require "helua.language"
local k = helua.kernel(function(n)
  local sizes = {}
  for t in hl.tile(n) do sizes[#sizes + 1] = t.block_size end
  return sizes[1]
end)
local ok, r = pcall(k, 10)
print(ok and ("bs=" .. tostring(r)) or tostring(r))
]])
  f:close()
  local function run(env)
    local p = io.popen(env .. " " .. exe .. " " .. script .. " 2>&1")
    local out = p:read("a")
    p:close()
    return out
  end
  T.truthy(run("HELUA_BLOCK_SIZE=3"):find("bs=3", 1, true), "HELUA_BLOCK_SIZE=3")
  T.truthy(run("HELUA_BLOCK_SIZE=full"):find("bs=10", 1, true), "HELUA_BLOCK_SIZE=full")
  -- compiled for the GPU: runs there, or says why the driver is missing
  local cuda_out = run("HELUA_BACKEND=cuda")
  T.truthy(cuda_out:find("libcuda", 1, true) or cuda_out:find("CUDA", 1, true)
    or cuda_out:find("bs=", 1, true), "HELUA_BACKEND=cuda: " .. cuda_out)
  T.truthy(run("HELUA_BACKEND=cuda HELUA_INTERPRET=1"):find("bs=16", 1, true), "HELUA_INTERPRET=1 wins")
  os.remove(script)
end)

T.test("kernels calling kernels, errors leave no state behind", function()
  local inner = helua.kernel(function(a)
    local out = helua.empty_like(a)
    for t in hl.tile(a:size(1)) do out[t] = a[t] * 2 end
    return out
  end)
  local outer = helua.kernel(function(a)
    local doubled = inner(a)
    local out = helua.empty_like(a)
    for t in hl.tile(a:size(1)) do out[t] = doubled[t] + 1 end
    return out
  end)
  local v = helua.arange(1.0, 5.0)
  T.truthy(allclose(outer(v), v * 2 + 1), "nested kernel call in host code")
  local bad = helua.kernel(function(a)
    for t in hl.tile(a:size(1)) do error("boom") end
  end)
  T.raises(function() bad(v) end, "boom")
  T.eq(require("helua.active").current(), nil, "no run left active")
  T.eq(debug.getmetatable(0), nil, "number metatable removed")
  T.truthy(allclose(outer(v), v * 2 + 1), "kernels still run after an error")
end)

T.test("the DESIGN.md matmul runs as written", function()
  local matmul = helua.kernel(function(x, y)
    local m, k = x:size()
    local _, n = y:size()
    local out = helua.empty({m, n}, {dtype = x.dtype, device = x.device})
    for tm, tn in hl.tile({m, n}) do
      local acc = hl.zeros({tm, tn}, hl.float32)
      for tk in hl.tile(k) do
        acc = hl.addmm(acc, x[{tm, tk}], y[{tk, tn}])
      end
      out[{tm, tn}] = acc
    end
    return out
  end)
  local a = helua.randn({37, 70}, {dtype = helua.float16, seed = 2})
  local b = helua.randn({70, 21}, {dtype = helua.float16, seed = 3})
  local out = matmul(a, b)
  T.eq(out.dtype, "float16", "output dtype")
  T.truthy(helua.allclose(out:to(helua.float64), helua.matmul(a:to(helua.float64), b:to(helua.float64)),
    {rtol = 1e-2, atol = 1e-2}), "values")
  T.eq(matmul:bind(a, b):default_config():to_lua(), "helua.Config{block_sizes = {64, 32, 128}}",
    "three block-size slots: m, n, then k")
end)

T.test("block_size is interpret mode's: auto runs interpret, backend cpu refuses it", function()
  if not require("helua.core").compile then return end
  local K = require "helua.kernel"
  K.AUTO_COMPILES = true
  local ok, err = pcall(function()
    local settings = require("helua.settings")
    T.eq(K.mode((settings.resolve({block_size = 3}))), "interpret", "auto + block_size")
    T.eq(K.mode((settings.resolve({}))), "cpu", "auto compiles")
    T.raises(function() helua.kernel(tiles_fn, {backend = "cpu", block_size = 4}) end,
      "block_size is interpret mode's block size", "block_sizes")
  end)
  K.AUTO_COMPILES = false
  if not ok then error(err, 0) end
end)

T.done()
