-- Embedding lookup: out[i, :] = weight[ids[i], :] for 1-based int64 ids of any shape.
-- Part of kernels/ (share/doc/kernels.md). Run: helua run kernels/embedding.lua
local helua = require "helua"
local hl = require "helua.language"

-- A tile of ids indexes the rows of `weight` directly: indexing with a tensor is a gather.
local embedding = helua.kernel(function(ids, weight)
  local ids_flat = ids:reshape({-1})
  local n = ids_flat:size(1)
  local _, d = weight:size()
  local out = helua.empty({n, d}, {dtype = weight.dtype, device = weight.device})
  for tb, td in hl.tile({n, d}) do
    out[{tb, td}] = weight[{ids_flat[tb], td}]
  end
  local shape = ids:shape()
  shape[#shape + 1] = d
  return out:view(shape)
end)

-- The same lookup one id at a time: hl.grid yields scalar row numbers, `ids_flat[i]` loads one id
-- (a 0-D value), and indexing `weight` with it gathers one row, tiled along the embedding dim.
local embedding_grid = helua.kernel(function(ids, weight)
  local ids_flat = ids:reshape({-1})
  local n = ids_flat:size(1)
  local _, d = weight:size()
  local out = helua.empty({n, d}, {dtype = weight.dtype, device = weight.device})
  for i in hl.grid(n) do
    local id = ids_flat[i]
    for td in hl.tile(d) do
      out[{i, td}] = weight[{id, td}]
    end
  end
  local shape = ids:shape()
  shape[#shape + 1] = d
  return out:view(shape)
end)

return {
  name = "embedding",
  kernels = {
    {name = "embedding", kernel = embedding},
    {name = "embedding_grid", kernel = embedding_grid},
  },
  sizes = {
    default = {batch = 32, seq = 256, vocab = 32000, d = 1024},
    small = {batch = 3, seq = 7, vocab = 50, d = 24},
    tiny = {batch = 2, seq = 3, vocab = 7, d = 5},
  },
  inputs = function(s, seed)
    local u = helua.rand({s.batch, s.seq}, {dtype = helua.float64, seed = seed})
    local ids = (u * s.vocab):floor():to(helua.int64) + 1
    local weight = helua.randn({s.vocab, s.d}, {dtype = helua.float16, seed = seed + 1})
    return ids, weight
  end,
  reference = function(ids, weight)
    local rows = helua.index_select(weight, 1, ids:reshape({-1})):to(helua.float64)
    local shape = ids:shape()
    shape[#shape + 1] = weight:size(2)
    return rows:view(shape)
  end,
  -- A gather copies values: exact.
  tolerance = {rtol = 0, atol = 0},
  -- Reads one weight row per id and writes it once (float16), plus the ids.
  bytes = function(s) return 2 * 2 * s.batch * s.seq * s.d + 8 * s.batch * s.seq end,
}
