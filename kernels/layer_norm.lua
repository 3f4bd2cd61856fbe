-- LayerNorm over the last dim, with and without bias: out, plus the per-row mean and 1/std.
-- Part of kernels/ (share/doc/kernels.md). Run: helua run kernels/layer_norm.lua
local helua = require "helua"
local hl = require "helua.language"

-- bfloat16 in and out, float32 statistics. `bias` may be nil: the `if` tests a host value,
-- so it picks which code the kernel is made of rather than branching on the device.
local layer_norm = helua.kernel(function(x, weight, bias, eps)
  local m, n = x:size()
  local out = helua.empty({m, n}, {dtype = x.dtype, device = x.device})
  local mean = helua.empty({m}, {dtype = helua.float32, device = x.device})
  local rstd = helua.empty({m}, {dtype = helua.float32, device = x.device})
  for tm in hl.tile(m) do
    local row = x[{tm, ":"}]:to(hl.float32)
    local mean_val = row:sum(2) / n
    local centered = row - mean_val[{":", hl.newaxis}]
    local var_val = (centered * centered):sum(2) / n
    local rstd_val = (var_val + eps):rsqrt()
    local normalized = centered * rstd_val[{":", hl.newaxis}]
    local y = normalized * weight[{":"}]:to(hl.float32)
    if bias ~= nil then
      y = y + bias[{":"}]:to(hl.float32)
    end
    out[{tm, ":"}] = y
    mean[tm] = mean_val
    rstd[tm] = rstd_val
  end
  return out, mean, rstd
end)

local f64 = helua.float64

local function inputs(s, seed)
  local x = helua.randn({s.m, s.n}, {dtype = helua.bfloat16, seed = seed})
  local weight = helua.randn({s.n}, {dtype = helua.bfloat16, seed = seed + 1})
  local bias = helua.randn({s.n}, {dtype = helua.bfloat16, seed = seed + 2})
  return x, weight, bias, 1e-5
end

-- The reference returns what the kernel returns: out, mean and rstd.
local function reference(x, weight, bias, eps)
  local x64 = x:to(f64)
  local out = helua.layer_norm(x64, weight:to(f64), bias and bias:to(f64), eps)
  local mean = x64:mean(2, true)
  local centered = x64 - mean
  local rstd = ((centered * centered):mean(2, true) + eps):rsqrt()
  return out, mean:squeeze(2), rstd:squeeze(2)
end

return {
  name = "layer_norm",
  kernels = {
    {name = "layer_norm", kernel = layer_norm},
    {name = "layer_norm_no_bias", kernel = layer_norm,
     inputs = function(s, seed)
       local x, weight, _, eps = inputs(s, seed)
       return x, weight, nil, eps
     end},
  },
  sizes = {
    default = {m = 2048, n = 4096},
    small = {m = 37, n = 64},
    tiny = {m = 5, n = 9},
  },
  inputs = inputs,
  reference = reference,
  -- bfloat16 output keeps 8 bits: 2^-8 relative; outputs of size ~1-4.
  tolerance = {rtol = 2e-2, atol = 2e-2},
  bytes = function(s) return 2 * (2 * s.m * s.n + 2 * s.n) + 8 * s.m end,
}
