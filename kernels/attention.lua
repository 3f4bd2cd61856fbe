-- Flash-style attention softmax(q k^T * scale) v: online softmax over key tiles, optionally causal.
-- Part of kernels/ (share/doc/kernels.md). Run: helua run kernels/attention.lua
local helua = require "helua"
local hl = require "helua.language"

-- q, k, v: [batch, heads, seq, head_dim]. Batch and heads fold into one leading dim; the grid
-- covers (batch*heads) x query tiles; each program streams over key/value tiles keeping, per
-- query row, the running max `m_i`, the running sum `l_i` and the unnormalized output `acc`.
-- `causal` is a host value: it selects the masked variant when the kernel is specialized.
local attention = helua.kernel(function(q_in, k_in, v_in, causal)
  local m = q_in:size(-2)
  local n = k_in:size(-2)
  local head_dim = hl.specialize(q_in:size(-1))
  assert(not causal or m == n, "causal attention needs as many queries as keys")
  local q_view = q_in:reshape({-1, m, head_dim})
  local k_view = k_in:reshape({-1, n, head_dim}):transpose(2, 3)
  local v_view = v_in:reshape({-1, n, head_dim})
  local out = helua.empty_like(q_view)
  local scale = 1.0 / math.sqrt(head_dim)
  for tb, tm in hl.tile({q_view:size(1), m}) do
    local m_i = hl.full({tb, tm}, -math.huge, hl.float32)
    local l_i = hl.zeros({tb, tm}, hl.float32)
    local acc = hl.zeros({tb, tm, head_dim}, hl.float32)
    local q = q_view[{tb, tm, ":"}]
    -- With a causal mask, keys after the tile's last query row are all masked: stop there.
    local n_last = n
    if causal then n_last = tm.last end
    for tn in hl.tile(1, n_last) do
      local qk = hl.dot(q, k_view[{tb, ":", tn}]) * scale
      if causal then
        local visible = tn.index[{hl.newaxis, ":"}]:le(tm.index[{":", hl.newaxis}])
        qk = hl.where(visible, qk, -math.huge)
      end
      local m_ij = hl.maximum(m_i, qk:amax(3))
      local p = (qk - m_ij[{":", ":", hl.newaxis}]):exp()
      local alpha = (m_i - m_ij):exp()
      l_i = l_i * alpha + p:sum(3)
      acc = acc * alpha[{":", ":", hl.newaxis}]
      acc = hl.dot(p:to(v_view.dtype), v_view[{tb, tn, ":"}], acc)
      m_i = m_ij
    end
    out[{tb, tm, ":"}] = acc / l_i[{":", ":", hl.newaxis}]
  end
  return out:view(q_in:shape())
end)

local f64 = helua.float64

local function qkv(s, seed)
  local shape = {s.batch, s.heads, s.seq, s.head_dim}
  return helua.randn(shape, {dtype = helua.float16, seed = seed}),
         helua.randn(shape, {dtype = helua.float16, seed = seed + 1}),
         helua.randn(shape, {dtype = helua.float16, seed = seed + 2})
end

local function reference(q, k, v, causal)
  return helua.attention(q:to(f64), k:to(f64), v:to(f64), {causal = causal})
end

-- Two matmuls of seq x seq x head_dim per (batch, head); causal does about half the work.
local function flops(s)
  return 4 * s.batch * s.heads * s.seq * s.seq * s.head_dim
end

return {
  name = "attention",
  kernels = {
    {name = "attention", kernel = attention,
     inputs = function(s, seed)
       local q, k, v = qkv(s, seed)
       return q, k, v, false
     end},
    {name = "attention_causal", kernel = attention,
     inputs = function(s, seed)
       local q, k, v = qkv(s, seed)
       return q, k, v, true
     end,
     flops = function(s) return flops(s) / 2 end},
  },
  sizes = {
    default = {batch = 2, heads = 8, seq = 512, head_dim = 64},
    small = {batch = 1, heads = 2, seq = 37, head_dim = 16},
    tiny = {batch = 1, heads = 2, seq = 6, head_dim = 4},
  },
  reference = reference,
  -- float16 q/k/v and output, float32 softmax statistics and accumulator.
  tolerance = {rtol = 1e-2, atol = 1e-2},
  flops = flops,
  bytes = function(s) return 2 * 4 * s.batch * s.heads * s.seq * s.head_dim end,
}
