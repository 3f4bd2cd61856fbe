-- Row sums of a few very long rows: the row does not fit in one tile, so it is reduced in a loop.
-- Part of kernels/ (share/doc/kernels.md). Run: helua run kernels/long_sum.lua
local helua = require "helua"
local hl = require "helua.language"

-- Naive: a ":" slice of the whole row; a config may turn it into a reduction loop for you.
local long_sum = helua.kernel(function(x)
  local m, n = x:size()
  local out = helua.empty({m}, {dtype = x.dtype, device = x.device})
  for tm in hl.tile(m) do
    out[tm] = x[{tm, ":"}]:sum(2)
  end
  return out
end)

-- Manual: an inner hl.tile loop over the row carries a float32 partial sum per row.
-- `acc` is declared before the loop and reassigned inside it, so it is loop-carried.
local long_sum_manual = helua.kernel(function(x)
  local m, n = x:size()
  local out = helua.empty({m}, {dtype = x.dtype, device = x.device})
  for tm in hl.tile(m) do
    local acc = hl.zeros({tm}, hl.float32)
    for tn in hl.tile(n) do
      acc = acc + x[{tm, tn}]:to(hl.float32):sum(2)
    end
    out[tm] = acc
  end
  return out
end)

return {
  name = "long_sum",
  kernels = {
    {name = "long_sum", kernel = long_sum},
    {name = "long_sum_manual", kernel = long_sum_manual},
  },
  sizes = {
    default = {m = 8, n = 1000000},
    small = {m = 3, n = 5000},
    tiny = {m = 2, n = 50},
  },
  inputs = function(s, seed)
    return helua.randn({s.m, s.n}, {dtype = helua.float32, seed = seed})
  end,
  reference = function(x) return x:to(helua.float64):sum(2) end,
  -- Row sums of ~1e6 normals are ~1e3 in size and float32 partial sums round at each step.
  tolerance = {rtol = 1e-4, atol = 1e-3},
  bytes = function(s) return 4 * (s.m * s.n + s.m) end,
}
