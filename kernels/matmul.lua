-- Matrix multiplication out = x @ y, and the same kernel with a bias and a ReLU epilogue.
-- Part of kernels/ (share/doc/kernels.md). Run: helua run kernels/matmul.lua
local helua = require "helua"
local hl = require "helua.language"

-- The kernel from the README: a 2-D grid of output tiles, a loop over K, a float32 accumulator.
local matmul = helua.kernel(function(x, y)
  local m, k = x:size()
  local k2, n = y:size()
  assert(k == k2, "matmul: inner dimensions differ")
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

-- out = x @ y + bias, the bias ([n]) broadcast over rows in the epilogue.
local matmul_bias = helua.kernel(function(x, y, bias)
  local m, k = x:size()
  local _, n = y:size()
  local out = helua.empty({m, n}, {dtype = x.dtype, device = x.device})
  for tm, tn in hl.tile({m, n}) do
    local acc = hl.zeros({tm, tn}, hl.float32)
    for tk in hl.tile(k) do
      acc = hl.addmm(acc, x[{tm, tk}], y[{tk, tn}])
    end
    out[{tm, tn}] = acc + bias[tn]
  end
  return out
end)

-- out = relu(x @ y + bias): the fused epilogue runs on the float32 accumulator before the store.
local matmul_bias_relu = helua.kernel(function(x, y, bias)
  local m, k = x:size()
  local _, n = y:size()
  local out = helua.empty({m, n}, {dtype = x.dtype, device = x.device})
  for tm, tn in hl.tile({m, n}) do
    local acc = hl.zeros({tm, tn}, hl.float32)
    for tk in hl.tile(k) do
      acc = hl.addmm(acc, x[{tm, tk}], y[{tk, tn}])
    end
    out[{tm, tn}] = (acc + bias[tn]):relu()
  end
  return out
end)

local dtype = helua.float16

local function xy(s, seed)
  local x = helua.randn({s.m, s.k}, {dtype = dtype, seed = seed})
  local y = helua.randn({s.k, s.n}, {dtype = dtype, seed = seed + 1})
  return x, y
end

local function xy_bias(s, seed)
  local x, y = xy(s, seed)
  return x, y, helua.randn({s.n}, {dtype = dtype, seed = seed + 2})
end

local f64 = helua.float64

return {
  name = "matmul",
  kernels = {
    {name = "matmul", kernel = matmul},
    {name = "matmul_bias", kernel = matmul_bias, inputs = xy_bias,
     reference = function(x, y, bias) return helua.matmul(x:to(f64), y:to(f64)) + bias:to(f64) end},
    {name = "matmul_bias_relu", kernel = matmul_bias_relu, inputs = xy_bias,
     reference = function(x, y, bias)
       return (helua.matmul(x:to(f64), y:to(f64)) + bias:to(f64)):relu()
     end},
  },
  sizes = {
    default = {m = 1024, k = 1024, n = 1024},
    small = {m = 64, k = 48, n = 40},
    tiny = {m = 7, k = 9, n = 5},
  },
  inputs = xy,
  reference = function(x, y) return helua.matmul(x:to(f64), y:to(f64)) end,
  -- float16 in and out, float32 accumulation: the output rounding (2^-11 relative) dominates.
  tolerance = {rtol = 1e-2, atol = 1e-2},
  flops = function(s) return 2 * s.m * s.n * s.k end,
  bytes = function(s) return 2 * (s.m * s.k + s.k * s.n + s.m * s.n) end,
}
