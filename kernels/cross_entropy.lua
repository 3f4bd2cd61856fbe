-- Cross-entropy loss: mean over rows of logsumexp(logits[i, :]) - logits[i, labels[i]].
-- Part of kernels/ (share/doc/kernels.md). Run: helua run kernels/cross_entropy.lua
local helua = require "helua"
local hl = require "helua.language"

-- labels are 1-based class ids (int64). The target logit of each row is gathered from the
-- flattened logits at (row - 1) * v + label; the row's logsumexp is a whole-row reduction.
local cross_entropy = helua.kernel(function(logits, labels)
  local n, v = logits:size()
  local losses = helua.zeros({n}, {dtype = helua.float32, device = logits.device})
  local logits_flat = logits:view({n * v})
  for tn in hl.tile(n) do
    local labels_tile = labels[tn]
    local flat_index = (tn.index - 1) * v + labels_tile
    local target = hl.load(logits_flat, {flat_index}):to(hl.float32)
    local rows = logits[{tn, ":"}]:to(hl.float32)
    local max = rows:amax(2, true)
    local sum_exp = (rows - max):exp():sum(2, true)
    local logsumexp = max:squeeze(2) + sum_exp:squeeze(2):log()
    losses[tn] = logsumexp - target
  end
  return losses:mean()
end)

return {
  name = "cross_entropy",
  kernels = {
    {name = "cross_entropy", kernel = cross_entropy},
  },
  sizes = {
    default = {n = 512, v = 32768},
    small = {n = 37, v = 1000},
    tiny = {n = 5, v = 11},
  },
  inputs = function(s, seed)
    local logits = helua.randn({s.n, s.v}, {dtype = helua.float32, seed = seed})
    local u = helua.rand({s.n}, {dtype = helua.float64, seed = seed + 1})
    local labels = (u * s.v):floor():to(helua.int64) + 1
    return logits, labels
  end,
  reference = function(logits, labels)
    return helua.cross_entropy(logits:to(helua.float64), labels)
  end,
  tolerance = {rtol = 1e-5, atol = 1e-5},
  bytes = function(s) return 4 * s.n * s.v + 8 * s.n end,
}
