-- RMSNorm: out = x / sqrt(mean(x^2) + eps) * weight, one tile of whole rows at a time.
-- Part of kernels/ (share/doc/kernels.md). Run: helua run kernels/rms_norm.lua
local helua = require "helua"
local hl = require "helua.language"

-- float16 in and out; the row statistics and the scaling are computed in float32.
local rms_norm = helua.kernel(function(x, weight, eps)
  local m, n = x:size()
  local out = helua.empty_like(x)
  for tm in hl.tile(m) do
    local row = x[{tm, ":"}]:to(hl.float32)
    local mean_sq = (row * row):mean(2)
    local inv_rms = (mean_sq + eps):rsqrt()
    local normalized = row * inv_rms[{":", hl.newaxis}]
    out[{tm, ":"}] = normalized * weight[{":"}]:to(hl.float32)
  end
  return out
end)

local f64 = helua.float64

return {
  name = "rms_norm",
  kernels = {
    {name = "rms_norm", kernel = rms_norm},
  },
  sizes = {
    default = {m = 2048, n = 4096},
    small = {m = 37, n = 256},
    tiny = {m = 5, n = 9},
  },
  inputs = function(s, seed)
    local x = helua.randn({s.m, s.n}, {dtype = helua.float16, seed = seed})
    local weight = helua.randn({s.n}, {dtype = helua.float16, seed = seed + 1})
    return x, weight, 1e-5
  end,
  reference = function(x, weight, eps) return helua.rms_norm(x:to(f64), weight:to(f64), eps) end,
  -- float16 output of values of size ~1-4: the last-bit rounding is ~2e-3 absolute.
  tolerance = {rtol = 1e-2, atol = 1e-2},
  bytes = function(s) return 2 * (2 * s.m * s.n + s.n) end,
}
