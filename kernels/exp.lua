-- Elementwise exp over a 1-D tensor: the simplest memory-bound kernel.
-- Part of kernels/ (share/doc/kernels.md). Run: helua run kernels/exp.lua
local helua = require "helua"
local hl = require "helua.language"

local exp = helua.kernel(function(x)
  local n = x:size(1)
  local out = helua.empty_like(x)
  for t in hl.tile(n) do
    out[t] = x[t]:exp()
  end
  return out
end)

return {
  name = "exp",
  kernels = {
    {name = "exp", kernel = exp},
  },
  sizes = {
    default = {n = 4194304},
    small = {n = 1000},
    tiny = {n = 37},
  },
  inputs = function(s, seed) return helua.randn({s.n}, {dtype = helua.float32, seed = seed}) end,
  reference = function(x) return x:to(helua.float64):exp() end,
  tolerance = {rtol = 1e-6, atol = 1e-6},
  bytes = function(s) return 4 * 2 * s.n end,
}
