-- Batched matmul out[b] = a[b] @ c[b]: a 3-D grid of tiles, a 3-D dot into a float32 accumulator.
-- Part of kernels/ (share/doc/kernels.md). Run: helua run kernels/bmm.lua
local helua = require "helua"
local hl = require "helua.language"

local bmm = helua.kernel(function(a, c)
  local b, m, k = a:size()
  local _, _, n = c:size()
  local out = helua.empty({b, m, n}, {dtype = a.dtype, device = a.device})
  for tb, tm, tn in hl.tile({b, m, n}) do
    local acc = hl.zeros({tb, tm, tn}, hl.float32)
    for tk in hl.tile(k) do
      acc = hl.dot(a[{tb, tm, tk}], c[{tb, tk, tn}], acc)
    end
    out[{tb, tm, tn}] = acc
  end
  return out
end)

local f64 = helua.float64

return {
  name = "bmm",
  kernels = {
    {name = "bmm", kernel = bmm},
  },
  sizes = {
    default = {b = 16, m = 256, k = 384, n = 512},
    small = {b = 3, m = 19, k = 24, n = 17},
    tiny = {b = 2, m = 5, k = 6, n = 3},
  },
  inputs = function(s, seed)
    return helua.randn({s.b, s.m, s.k}, {dtype = helua.float16, seed = seed}),
           helua.randn({s.b, s.k, s.n}, {dtype = helua.float16, seed = seed + 1})
  end,
  reference = function(a, c) return helua.matmul(a:to(f64), c:to(f64)) end,
  tolerance = {rtol = 1e-2, atol = 1e-2},
  flops = function(s) return 2 * s.b * s.m * s.n * s.k end,
  bytes = function(s) return 2 * s.b * (s.m * s.k + s.k * s.n + s.m * s.n) end,
}
