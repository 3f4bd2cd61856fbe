-- Elementwise add: two same-shape tensors, and an [m, n] + [n] add that broadcasts inside the tile.
-- Part of kernels/ (share/doc/kernels.md). Run: helua run kernels/add.lua
local helua = require "helua"
local hl = require "helua.language"

-- out = x + y for x, y of the same [m, n] shape: one 2-D tile loop, nothing carried.
local add = helua.kernel(function(x, y)
  local m, n = x:size()
  local out = helua.empty({m, n}, {dtype = x.dtype, device = x.device})
  for tm, tn in hl.tile({m, n}) do
    out[{tm, tn}] = x[{tm, tn}] + y[{tm, tn}]
  end
  return out
end)

-- out = x + b with b of shape [n]: the [tn] tile of b broadcasts against the [tm, tn] tile of x
-- (NumPy rules), and the float16 row is promoted to x's float32 by the add.
local add_broadcast = helua.kernel(function(x, b)
  local m, n = x:size()
  local out = helua.empty({m, n}, {dtype = x.dtype, device = x.device})
  for tm, tn in hl.tile({m, n}) do
    out[{tm, tn}] = x[{tm, tn}] + b[tn]
  end
  return out
end)

local f64 = helua.float64

return {
  name = "add",
  kernels = {
    {name = "add", kernel = add},
    {name = "add_broadcast", kernel = add_broadcast,
     inputs = function(s, seed)
       return helua.randn({s.m, s.n}, {dtype = helua.float32, seed = seed}),
              helua.randn({s.n}, {dtype = helua.float16, seed = seed + 1})
     end,
     bytes = function(s) return 4 * 2 * s.m * s.n + 2 * s.n end},
  },
  sizes = {
    default = {m = 2048, n = 4096},
    small = {m = 37, n = 53},
    tiny = {m = 5, n = 7},
  },
  inputs = function(s, seed)
    return helua.randn({s.m, s.n}, {dtype = helua.float32, seed = seed}),
           helua.randn({s.m, s.n}, {dtype = helua.float32, seed = seed + 1})
  end,
  reference = function(x, y) return x:to(f64) + y:to(f64) end,
  tolerance = {rtol = 1e-6, atol = 1e-6},
  bytes = function(s) return 4 * 3 * s.m * s.n end,
}
