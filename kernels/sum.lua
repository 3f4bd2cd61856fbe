-- Row sum out[i] = sum_j x[i, j]: a reduction over a full-row slice `x[{tm, ":"}]`.
-- Part of kernels/ (share/doc/kernels.md). Run: helua run kernels/sum.lua
local helua = require "helua"
local hl = require "helua.language"

-- The ":" slice makes the row a reduction dimension: whether it is reduced in one piece
-- (persistent) or in a loop is the config's choice, not the kernel's.
local sum = helua.kernel(function(x)
  local m, n = x:size()
  local out = helua.empty({m}, {dtype = x.dtype, device = x.device})
  for tm in hl.tile(m) do
    out[tm] = x[{tm, ":"}]:sum(2)
  end
  return out
end)

return {
  name = "sum",
  kernels = {
    {name = "sum", kernel = sum},
  },
  sizes = {
    default = {m = 5120, n = 2560},
    small = {m = 37, n = 300},
    tiny = {m = 5, n = 11},
  },
  inputs = function(s, seed)
    return helua.randn({s.m, s.n}, {dtype = helua.float32, seed = seed})
  end,
  reference = function(x) return x:to(helua.float64):sum(2) end,
  -- The sum of n standard normals is about sqrt(n) in size; float32 keeps ~7 digits of it.
  tolerance = {rtol = 1e-4, atol = 1e-4},
  bytes = function(s) return 4 * (s.m * s.n + s.m) end,
}
