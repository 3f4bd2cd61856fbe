-- Kernels that exercise the ops and forms kernels/ does not use, for the "triton" stage's tests and
-- its GPU cross-check (share/scripts/triton-check.sh): transcendental math, floored % and //,
-- arg-reductions, a transposing store, where, and two top-level loop nests in one kernel.
-- Part of tests/triton (a kernel file: share/doc/kernels.md). Run: helua run tests/triton/ops.lua
local helua = require "helua"
local hl = require "helua.language"

-- Elementwise math on positive x: every unary op and pow.
local math_ops = helua.kernel(function(x)
  local m, n = x:size()
  local out = helua.empty({m, n}, {dtype = x.dtype, device = x.device})
  for tm, tn in hl.tile({m, n}) do
    local v = x[{tm, tn}]
    local a = v:tanh() + v:gelu() * v:silu() - v:sigmoid()
    local b = v:log() + v:sqrt() * v:rsqrt() + v:exp2() - v:log2() + v:sin() * v:cos()
    out[{tm, tn}] = a + b + v ^ 1.5 + v:floor() - v:ceil() + (-v):abs() + (v - 1):relu()
  end
  return out
end)

-- Floored modulo and division on floats and on int64, negative values included.
local mod_div = helua.kernel(function(x, k)
  local n = x:size(1)
  local out = helua.empty({n}, {dtype = x.dtype, device = x.device})
  local iout = helua.empty({n}, {dtype = k.dtype, device = k.device})
  for t in hl.tile(n) do
    local v = x[t]
    out[t] = v % 0.7 + v // 0.5
    local i = k[t]
    iout[t] = (i % 3) * 100 + i // 3
  end
  return out, iout
end)

-- Row statistics over a ":" slice: argmax, argmin (1-based), amin and mean; where.
local row_stats = helua.kernel(function(x)
  local m, n = x:size()
  local imax = helua.empty({m}, {dtype = helua.int64, device = x.device})
  local imin = helua.empty({m}, {dtype = helua.int64, device = x.device})
  local lo = helua.empty({m}, {dtype = x.dtype, device = x.device})
  local avg = helua.empty({m}, {dtype = x.dtype, device = x.device})
  for tm in hl.tile(m) do
    local row = x[{tm, ":"}]
    imax[tm] = row:argmax(2)
    imin[tm] = row:argmin(2)
    lo[tm] = row:amin(2)
    avg[tm] = hl.where(row:gt(0), row, row * 0.5):mean(2)
  end
  return imax, imin, lo, avg
end)

-- Two top-level nests in one kernel (one program range), and a store through a transpose.
local two_nests = helua.kernel(function(x, y)
  local m, n = x:size()
  local xt = helua.empty({n, m}, {dtype = x.dtype, device = x.device})
  local ysq = helua.empty({y:size(1)}, {dtype = y.dtype, device = y.device})
  for tm, tn in hl.tile({m, n}) do
    xt[{tn, tm}] = x[{tm, tn}]:transpose(1, 2)
  end
  for t in hl.tile(y:size(1)) do
    ysq[t] = y[t] * y[t]
  end
  return xt, ysq
end)

local f64 = helua.float64

return {
  name = "triton_ops",
  kernels = {
    {name = "math_ops", kernel = math_ops,
     reference = function(x)
       local v = x:to(f64)
       local a = v:tanh() + v:gelu() * v:silu() - v:sigmoid()
       local b = v:log() + v:sqrt() * v:rsqrt() + v:exp2() - v:log2() + v:sin() * v:cos()
       return a + b + v ^ 1.5 + v:floor() - v:ceil() + (-v):abs() + (v - 1):relu()
     end},
    {name = "mod_div", kernel = mod_div,
     inputs = function(s, seed)
       local x = helua.randn({s.n}, {dtype = helua.float32, seed = seed}) * 3
       local k = (helua.rand({s.n}, {dtype = f64, seed = seed + 1}) * 40 - 20):floor()
       return x, k:to(helua.int64)
     end,
     reference = function(x, k)
       local v = x:to(f64)
       return v % 0.7 + v // 0.5, (k % 3) * 100 + k // 3
     end,
     tolerance = {rtol = 1e-5, atol = 1e-5}},
    {name = "row_stats", kernel = row_stats,
     reference = function(x)
       local v = x:to(f64)
       local w = v * ((v:gt(0)):to(f64) * 0.5 + 0.5)
       return x:argmax(2), x:argmin(2), v:amin(2), w:mean(2)
     end},
    {name = "two_nests", kernel = two_nests,
     inputs = function(s, seed)
       return helua.randn({s.m, s.n}, {dtype = helua.float32, seed = seed}),
              helua.randn({s.n + 5}, {dtype = helua.float32, seed = seed + 1})
     end,
     reference = function(x, y)
       local v = y:to(f64)
       return x:to(f64):transpose(1, 2):contiguous(), v * v
     end},
  },
  sizes = {
    default = {m = 256, n = 512},
    small = {m = 37, n = 53},
    tiny = {m = 5, n = 7},
  },
  inputs = function(s, seed)
    return helua.rand({s.m, s.n}, {dtype = helua.float32, seed = seed}) * 2 + 0.1
  end,
  tolerance = {rtol = 1e-4, atol = 1e-4},
}
