-- Row softmax three ways: the library call, the decomposed form, and the two-pass online form.
-- Part of kernels/ (share/doc/kernels.md). Run: helua run kernels/softmax.lua
local helua = require "helua"
local hl = require "helua.language"

-- The library op on a whole-row slice: each tile of rows is one softmax call.
local softmax = helua.kernel(function(x)
  local m, n = x:size()
  local out = helua.empty_like(x)
  for tm in hl.tile(m) do
    out[{tm, ":"}] = x[{tm, ":"}]:softmax(2)
  end
  return out
end)

-- The same math spelled out: row max, exp of the shifted row, row sum, divide (in float32).
local softmax_decomposed = helua.kernel(function(x)
  local m, n = x:size()
  local out = helua.empty_like(x)
  for tm in hl.tile(m) do
    local values = x[{tm, ":"}]:to(hl.float32)
    local amax = values:amax(2, true)
    local exp = (values - amax):exp()
    local sum_exp = exp:sum(2, true)
    out[{tm, ":"}] = exp / sum_exp
  end
  return out
end)

-- Online softmax: the first pass over column tiles keeps a running max `mi` and a running sum
-- `di` rescaled whenever the max grows; the second pass writes the normalized values. Rows never
-- need to fit in one tile. Both inner loops share one registered block size.
local softmax_two_pass = helua.kernel(function(x)
  local m, n = x:size()
  local out = helua.empty_like(x)
  local block_m = hl.register_block_size(m)
  local block_n = hl.register_block_size(n)
  for tm in hl.tile(m, {block_size = block_m}) do
    local mi = hl.full({tm}, -math.huge, hl.float32)
    local di = hl.zeros({tm}, hl.float32)
    for tn in hl.tile(n, {block_size = block_n}) do
      local values = x[{tm, tn}]:to(hl.float32)
      local mi_next = hl.maximum(mi, values:amax(2))
      di = di * (mi - mi_next):exp() + (values - mi_next[{":", hl.newaxis}]):exp():sum(2)
      mi = mi_next
    end
    for tn in hl.tile(n, {block_size = block_n}) do
      local values = x[{tm, tn}]:to(hl.float32)
      out[{tm, tn}] = (values - mi[{":", hl.newaxis}]):exp() / di[{":", hl.newaxis}]
    end
  end
  return out
end)

return {
  name = "softmax",
  kernels = {
    {name = "softmax", kernel = softmax},
    {name = "softmax_decomposed", kernel = softmax_decomposed},
    {name = "softmax_two_pass", kernel = softmax_two_pass},
  },
  sizes = {
    default = {m = 4096, n = 2048},
    small = {m = 37, n = 53},
    tiny = {m = 5, n = 7},
  },
  inputs = function(s, seed)
    return helua.randn({s.m, s.n}, {dtype = helua.float16, seed = seed})
  end,
  reference = function(x) return helua.softmax(x:to(helua.float64), 2) end,
  -- float16 output: 2^-11 relative rounding; values are at most 1.
  tolerance = {rtol = 1e-2, atol = 1e-4},
  bytes = function(s) return 2 * 2 * s.m * s.n end,
}
