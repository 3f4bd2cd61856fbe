-- Split-K matmul for a small output and a long K: slices of K summed into the output atomically.
-- Part of kernels/ (share/doc/kernels.md). Run: helua run kernels/matmul_split_k.lua
local helua = require "helua"
local hl = require "helua.language"

-- `split_k` is a user tunable: how many slices K is cut into. The grid is 3-D: output tiles times
-- K slices of a fixed block of about k / split_k. Each program walks its slice with an inner loop
-- (outer_k.begin .. outer_k.last, inclusive) and adds its partial product into `out` atomically.
-- The output is float32 so that the partial sums are added without float16 rounding.
local matmul_split_k = helua.kernel(function(x, y)
  local m, k = x:size()
  local _, n = y:size()
  local out = helua.zeros({m, n}, {dtype = helua.float32, device = x.device})
  local split_k = hl.register_tunable("split_k", hl.PowerOfTwoFragment(1, 256, 8))
  local k_block = helua.next_power_of_2(helua.cdiv(k, split_k))
  for tm, tn, outer_k in hl.tile({m, n, k}, {block_size = {nil, nil, k_block}}) do
    local acc = hl.zeros({tm, tn}, hl.float32)
    for inner_k in hl.tile(outer_k.begin, outer_k.last) do
      acc = hl.addmm(acc, x[{tm, inner_k}], y[{inner_k, tn}])
    end
    hl.atomic_add(out, {tm, tn}, acc)
  end
  return out
end)

local f64 = helua.float64

return {
  name = "matmul_split_k",
  kernels = {
    {name = "matmul_split_k", kernel = matmul_split_k},
  },
  sizes = {
    default = {m = 64, k = 32768, n = 64},
    small = {m = 19, k = 300, n = 13},
    tiny = {m = 3, k = 40, n = 2},
  },
  inputs = function(s, seed)
    return helua.randn({s.m, s.k}, {dtype = helua.float16, seed = seed}),
           helua.randn({s.k, s.n}, {dtype = helua.float16, seed = seed + 1})
  end,
  reference = function(x, y) return helua.matmul(x:to(f64), y:to(f64)) end,
  -- float16 inputs, float32 partial sums and output.
  tolerance = {rtol = 1e-3, atol = 1e-3},
  flops = function(s) return 2 * s.m * s.n * s.k end,
  bytes = function(s) return 2 * (s.m * s.k + s.k * s.n) + 4 * s.m * s.n end,
}
