-- Dialect tests (eager / interpret mode): every hl op against a host reference, ragged edges,
-- carried values, multi-dim tiles, grid, newaxis, masks, atomics, tunables. Part of tests/lua.
package.path = arg[0]:match("(.*/)") .. "?.lua;" .. package.path
local T = require "testing"
local helua = require "helua"
local hl = require "helua.language"
-- These tests are about interpret mode (eager values you can look into, any block size,
-- clipped tiles): "auto" stays interpret here. Compiled kernels: test_compiled.lua.
require("helua.kernel").AUTO_COMPILES = false

local f64 = helua.float64

-- The host tensor inside an eager device value (for looking at values in tests).
local function host(v) return rawget(v, "_t") end

-- got and want (tensors) have the same shape and agree within tol (after casting to float64).
local function close(got, want, tol, what)
  tol = tol or 1e-6
  T.eq(table.concat(got:shape(), "x"), table.concat(want:shape(), "x"), (what or "value") .. " shape")
  local g = got.dtype == "bool" and got:to(helua.int64) or got
  local w = want.dtype == "bool" and want:to(helua.int64) or want
  local err = helua.max_abs_err(g:to(f64), w:to(f64))
  if not (err <= tol) then
    error(string.format("%s: max abs err %g > %g", what or "value", err, tol), 2)
  end
end

local M, N, K = 37, 53, 29
local x = helua.randn({M, N}, {seed = 1})
local y = helua.randn({M, N}, {seed = 2})
local pos = helua.rand({M, N}, {seed = 3}) + 0.5
local bs16 = {config = {block_sizes = {16, 16}}}

-- The usual form: store each tile's result into an output of dtype `dt`.
local function store2(f, dt, opts)
  return helua.kernel(function(a, b)
    local m, n = a:size()
    local out = helua.empty({m, n}, {dtype = dt or a.dtype})
    for tm, tn in hl.tile({m, n}) do
      out[{tm, tn}] = f(a[{tm, tn}], b and b[{tm, tn}])
    end
    return out
  end, opts or bs16)
end

T.test("unary ops: hl.f(v) and v:f() match the host op", function()
  for _, op in ipairs({"exp", "exp2", "log", "log2", "sqrt", "rsqrt", "abs", "sin", "cos", "tanh",
                       "sigmoid", "relu", "gelu", "silu", "floor", "ceil", "neg"}) do
    local input = (op == "log" or op == "log2" or op == "sqrt" or op == "rsqrt") and pos or x
    local want = input[op](input)
    close(store2(function(v) return hl[op](v) end)(input), want, 1e-6, "hl." .. op)
    close(store2(function(v) return v[op](v) end)(input), want, 1e-6, "v:" .. op .. "()")
  end
  close(store2(function(v) return -v end)(x), x:neg(), 0, "unary -")
end)

T.test("binary ops and operators, numbers on either side", function()
  close(store2(function(a, b) return a + b end)(x, y), x + y, 0, "+")
  close(store2(function(a, b) return a - b end)(x, y), x - y, 0, "-")
  close(store2(function(a, b) return a * b end)(x, y), x * y, 0, "*")
  close(store2(function(a, b) return a / b end)(x, pos), x / pos, 1e-6, "/")
  close(store2(function(a, b) return a % b end)(x, pos), x % pos, 1e-6, "%")
  close(store2(function(a, b) return a ^ 2 end)(x), x ^ 2, 1e-6, "^")
  close(store2(function(a, b) return a // b end)(x, pos), x // pos, 0, "//")
  close(store2(function(a) return 2 - a end)(x), 2 - x, 0, "2 - v")
  close(store2(function(a) return 1 / a end)(pos), 1 / pos, 1e-6, "1 / v")
  close(store2(function(a) return 3 * a + 1 end)(x), x * 3 + 1, 1e-6, "3 * v + 1")
  close(store2(function(a, b) return hl.maximum(a, b) end)(x, y), x:maximum(y), 0, "maximum")
  close(store2(function(a, b) return a:minimum(b) end)(x, y), x:minimum(y), 0, "minimum")
  close(store2(function(a) return hl.maximum(0, a) end)(x), x:relu(), 0, "maximum(0, v)")
  close(store2(function(a, b) return hl.add(a, b) end)(x, y), x + y, 0, "hl.add")
  for _, op in ipairs({"lt", "le", "gt", "ge", "eq", "ne"}) do
    close(store2(function(a, b) return hl[op](a, b) end, helua.bool)(x, y), x[op](x, y), 0, op)
    close(store2(function(a) return a[op](a, 0) end, helua.bool)(x), x[op](x, 0), 0, op .. " 0")
  end
  close(store2(function(a) return hl.lt(0, a) end, helua.bool)(x), x:gt(0), 0, "lt(0, v)")
  close(store2(function(a, b) return hl.logical_and(a:gt(0), b:gt(0)) end, helua.bool)(x, y),
    x:gt(0):logical_and(y:gt(0)), 0, "logical_and")
  close(store2(function(a, b) return a:gt(0):logical_or(b:gt(0)) end, helua.bool)(x, y),
    x:gt(0):logical_or(y:gt(0)), 0, "logical_or")
  close(store2(function(a) return hl.logical_not(a:gt(0)) end, helua.bool)(x), x:le(0), 0, "logical_not")
end)

T.test("where, casts, and stores cast to the output dtype", function()
  close(store2(function(a) return hl.where(a:gt(0), a, 0) end)(x), x:relu(), 0, "where(c, v, 0)")
  close(store2(function(a, b) return hl.where(a:gt(b), a, b) end)(x, y), x:maximum(y), 0, "where")
  close(store2(function(a) return hl.where(a:gt(0), 1.5, -1) end)(x),
    helua.where(x:gt(0), 1.5, -1), 0, "where(c, 1.5, -1)")
  local h = store2(function(a) return a:to(hl.float16) end, helua.float16)(x)
  T.eq(h.dtype, "float16", "float16 out")
  close(h, x:to(helua.float16), 0, "to(float16)")
  local stored = store2(function(a) return a * 2 end, helua.float16)(x)
  close(stored, (x * 2):to(helua.float16), 0, "store casts to float16")
  local ints = store2(function(a) return hl.to(a * 10, hl.int32) end, helua.int32)(x)
  close(ints, (x * 10):to(helua.int32), 0, "to(int32)")
end)

T.test("reductions over a whole-row slice, with dims and keepdim", function()
  local function rows(f, dt)
    return helua.kernel(function(a)
      local m = a:size(1)
      local out = helua.empty({m}, {dtype = dt or a.dtype})
      for tm in hl.tile(m) do out[tm] = f(a[{tm, ":"}]) end
      return out
    end, {config = {block_sizes = {16}}})
  end
  close(rows(function(v) return v:sum(2) end)(x), x:sum(2, false), 1e-5, "sum(2)")
  close(rows(function(v) return hl.sum(v, -1) end)(x), x:sum(2, false), 1e-5, "sum(-1)")
  close(rows(function(v) return v:mean(2) end)(x), x:mean(2, false), 1e-6, "mean")
  close(rows(function(v) return v:amax(2) end)(x), x:amax(2, false), 0, "amax")
  close(rows(function(v) return hl.amin(v, 2) end)(x), x:amin(2, false), 0, "amin")
  local am = rows(function(v) return v:argmax(2) end, helua.int64)(x)
  close(am, x:argmax(2, false), 0, "argmax")
  T.truthy(am:to(f64):amin():item() >= 1, "argmax is 1-based")
  close(rows(function(v) return v:argmin(2) end, helua.int64)(x), x:argmin(2, false), 0, "argmin")
  close(rows(function(v) return v:sum(2, true):squeeze(2) end)(x), x:sum(2, false), 1e-5, "keepdim")
  -- column sums over row tiles: a loop-carried accumulator, ragged at 37
  local colsum = helua.kernel(function(a)
    local m, n = a:size()
    local out = helua.empty({n})
    for tn in hl.tile(n) do
      local acc = hl.zeros({tn})
      for tm in hl.tile(m) do acc = acc + a[{tm, tn}]:sum(1) end
      out[tn] = acc
    end
    return out
  end, {config = {block_sizes = {16, 16}}})
  close(colsum(x), x:sum(1, false), 1e-5, "carried column sums")
  -- a reduction over all elements of a tile gives a 0-D value
  local total = helua.kernel(function(a)
    local out = helua.zeros({1})
    for tm in hl.tile(a:size(1)) do
      local s = a[{tm, ":"}]:sum()
      T.eq(s:dim(), 0, "0-D sum")
      hl.atomic_add(out, {1}, s)
    end
    return out
  end, {config = {block_sizes = {8}}})
  T.near(total(x):item(), x:to(f64):sum():item(), 1e-4, "total")
end)

T.test("softmax and views", function()
  local sm = helua.kernel(function(a)
    local out = helua.empty_like(a)
    for tm in hl.tile(a:size(1)) do out[{tm, ":"}] = hl.softmax(a[{tm, ":"}], 2) end
    return out
  end, {config = {block_sizes = {16}}})
  close(sm(x), helua.softmax(x, 2), 1e-6, "softmax")
  close(store2(function(a) return a:softmax() end)(x), store2(function(a)
    return a:softmax(-1) end)(x), 0, "softmax default dim")
  local tr = helua.kernel(function(a)
    local m, n = a:size()
    local out = helua.empty({n, m})
    for tm, tn in hl.tile({m, n}) do
      local v = a[{tm, tn}]
      out[{tn, tm}] = v:transpose(1, 2)
      local p = hl.permute(v, {2, 1})
      T.eq(table.concat(p:shape(), "x"), table.concat(v:transpose():shape(), "x"), "permute")
      local r = v:reshape({-1}):reshape({tm, tn})
      T.eq(r:dim(), 2, "reshape back")
      local u = v:unsqueeze(1)
      T.eq(u:size(1), 1, "unsqueeze")
      T.eq(u:squeeze(1):dim(), 2, "squeeze(d)")
      T.eq(u:squeeze():dim(), v:squeeze():dim(), "squeeze()")
      local row = v:sum(1)
      local e = row[{hl.newaxis, ":"}]:expand({tm, -1})
      T.eq(table.concat(e:shape(), "x"), table.concat(v:shape(), "x"), "expand")
      T.eq(hl.view(v, {-1}):dim(), 1, "hl.view")
      T.eq(v[{":", 1}]:dim(), 1, "integer subscript drops a dim")
    end
    return out
  end, bs16)
  close(tr(x), x:transpose(1, 2), 0, "transpose")
end)

T.test("dot and addmm: ragged K, float16 inputs, result dtypes", function()
  local a = helua.randn({M, K}, {dtype = helua.float16, seed = 4})
  local b = helua.randn({K, N}, {dtype = helua.float16, seed = 5})
  local want = helua.matmul(a:to(f64), b:to(f64))
  local mm = helua.kernel(function(p, q, use_dot)
    local m, k = p:size()
    local _, n = q:size()
    local out = helua.empty({m, n})
    for tm, tn in hl.tile({m, n}) do
      local acc = hl.zeros({tm, tn}, hl.float32)
      for tk in hl.tile(k) do
        if use_dot then acc = hl.dot(p[{tm, tk}], q[{tk, tn}], acc)
        else acc = hl.addmm(acc, p[{tm, tk}], q[{tk, tn}]) end
      end
      out[{tm, tn}] = acc
    end
    return out
  end, {config = {block_sizes = {16, 16, 8}}})
  close(mm(a, b, false), want, 1e-3, "addmm")
  close(mm(a, b, true), want, 1e-3, "dot with acc")
  local dtypes = helua.kernel(function(p, q)
    local got = {}
    for tm in hl.tile(p:size(1)) do
      local pa, qa = p[{tm, ":"}], q[{":", ":"}]
      got.no_acc = hl.dot(pa, qa).dtype
      got.f64 = hl.dot(pa:to(hl.float64), qa:to(hl.float64)).dtype
      got.acc16 = hl.dot(pa, qa, hl.zeros({tm, q:size(2)}, hl.float16)).dtype
      got.bf16 = hl.dot(pa:to(hl.bfloat16), qa:to(hl.bfloat16)).dtype
    end
    return got
  end)
  local got = dtypes(a, b)
  T.eq(got.no_acc, "float32", "f16 @ f16 -> float32")
  T.eq(got.f64, "float64", "f64 @ f64 -> float64")
  T.eq(got.acc16, "float16", "result has acc's dtype")
  T.eq(got.bf16, "float32", "bf16 @ bf16 -> float32")
  -- batched 3-D dot
  local ba = helua.randn({3, 5, 6}, {seed = 6})
  local bb = helua.randn({3, 6, 4}, {seed = 7})
  local bmm = helua.kernel(function(p, q)
    local bt, m, k = p:size()
    local n = q:size(3)
    local out = helua.empty({bt, m, n})
    for tb, tm, tn in hl.tile({bt, m, n}) do
      out[{tb, tm, tn}] = hl.dot(p[{tb, tm, ":"}], q[{tb, ":", tn}])
    end
    return out
  end, {config = {block_sizes = {2, 4, 4}}})
  close(bmm(ba, bb), helua.matmul(ba, bb), 1e-5, "3-D dot")
end)

T.test("hl.zeros, hl.full, hl.arange (1-based, inclusive)", function()
  local k = helua.kernel(function(n)
    local got = {}
    for t in hl.tile(n) do
      got.a = {host(hl.arange(4)):totable(), host(hl.arange(3, 6)):totable(), host(hl.arange(1, 9, 4)):totable()}
      got.dtype = hl.arange(4).dtype
      got.zeros = hl.zeros({t, 2}).dtype
      local f = hl.full({t}, 2.5, hl.float16)
      got.full = {f.dtype, host(f):totable()[1], f:size(1)}
      got.ints = hl.zeros({3}, hl.int32).dtype
    end
    return got
  end)
  local got = k(3)
  T.eq(table.concat(got.a[1], ","), "1,2,3,4", "arange(4)")
  T.eq(table.concat(got.a[2], ","), "3,4,5,6", "arange(3, 6)")
  T.eq(table.concat(got.a[3], ","), "1,5,9", "arange(1, 9, 4)")
  T.eq(got.dtype, "int64", "arange dtype")
  T.eq(got.zeros, "float32", "zeros default dtype")
  T.eq(got.full[1], "float16", "full dtype")
  T.eq(got.full[2], 2.5, "full value")
  T.eq(got.full[3], 3, "full shape from a tile")
  T.eq(got.ints, "int32", "zeros int32")
end)

T.test("tile fields; ragged tiles are clipped", function()
  local k = helua.kernel(function(n)
    local seen = {}
    for t in hl.tile(n) do
      seen[#seen + 1] = {t.begin, t.last, t.block_size, t.id, t.count, host(t.index):totable()}
    end
    return seen
  end, {config = {block_sizes = {16}}})
  local seen = k(37)
  T.eq(#seen, 3, "tiles")
  T.eq(seen[1][1], 1, "begin is 1-based")
  T.eq(seen[1][2], 16, "last")
  T.eq(seen[3][1], 33, "third begin")
  T.eq(seen[3][2], 37, "clipped last")
  T.eq(seen[3][3], 16, "block_size stays the config's")
  T.eq(seen[3][4], 3, "id")
  T.eq(seen[3][5], 3, "count")
  T.eq(#seen[3][6], 5, "clipped index length")
  T.eq(seen[3][6][1], 33, "index values")
  -- a range a..b inclusive, and a fixed block size (takes no slot)
  local r = helua.kernel(function(a, b)
    local seen = {}
    for t in hl.tile(a, b, {block_size = 4}) do seen[#seen + 1] = {t.begin, t.last} end
    return seen
  end)
  local s = r(3, 12)
  T.eq(#s, 3, "range tiles")
  T.eq(s[1][1], 3, "range begin")
  T.eq(s[3][1], 11, "range third begin")
  T.eq(s[3][2], 12, "range inclusive end")
  T.eq(#r(5, 4), 0, "an empty range runs no tile")
  T.eq(#k(0), 0, "hl.tile(0) runs no tile")
end)

T.test("multi-dim tiles iterate row-major; begin/end lists; grid", function()
  local order = helua.kernel(function(m, n)
    local seen = {}
    for ta, tb in hl.tile({m, n}) do seen[#seen + 1] = ta.id .. "," .. tb.id end
    return table.concat(seen, " ")
  end, {config = {block_sizes = {2, 2}}})
  T.eq(order(3, 4), "1,1 1,2 2,1 2,2", "row-major order")
  local ranges = helua.kernel(function()
    local seen = {}
    for ta, tb in hl.tile({2, 5}, {3, 6}, {block_size = 2}) do
      seen[#seen + 1] = ta.begin .. "-" .. ta.last .. "/" .. tb.begin .. "-" .. tb.last
    end
    return table.concat(seen, " ")
  end)
  T.eq(ranges(), "2-3/5-6", "hl.tile({b1, b2}, {e1, e2})")
  local grid = helua.kernel(function(a)
    local m, n = a:size()
    local out = helua.empty({m, n})
    for i in hl.grid(m) do out[{i, ":"}] = a[{i, ":"}] * 2 end
    local cells = {}
    for i, j in hl.grid({2, 3}) do cells[#cells + 1] = i .. j end
    local steps = {}
    for i in hl.grid(1, 7, 3) do steps[#steps + 1] = i end
    return out, table.concat(cells, " "), table.concat(steps, " ")
  end)
  local out, cells, steps = grid(x)
  close(out, x * 2, 0, "grid rows")
  T.eq(cells, "11 12 13 21 22 23", "grid({2, 3})")
  T.eq(steps, "1 4 7", "grid(1, 7, 3)")
  -- a grid index drops a dim; x[t] indexes one dim
  local col = helua.kernel(function(a)
    local m, n = a:size()
    local out = helua.empty({n})
    for j in hl.grid(n) do
      for tm in hl.tile(m) do
        local v = a[{tm, j}]
        T.eq(v:dim(), 1, "grid index drops the dim")
      end
      out[j] = a[{":", j}]:sum()
    end
    return out
  end, {config = {block_sizes = {16}}})
  close(col(x), x:sum(1, false), 1e-5, "columns by grid")
end)

T.test("newaxis, broadcasting a row, gathers, masked out-of-range reads", function()
  local bias = helua.randn({N}, {seed = 8})
  local k = helua.kernel(function(a, b)
    local m, n = a:size()
    local out = helua.empty({m, n})
    for tm, tn in hl.tile({m, n}) do
      local rowmax = a[{tm, ":"}]:amax(2)
      out[{tm, tn}] = a[{tm, tn}] - rowmax[{":", hl.newaxis}] + b[tn]
    end
    return out
  end, bs16)
  close(k(x, bias), x - x:amax(2, true) + bias, 1e-6, "newaxis + row broadcast")
  local na = helua.kernel(function(a)
    local shapes = {}
    for tm in hl.tile(a:size(1)) do
      shapes[1] = table.concat(a[{tm, hl.newaxis, ":"}]:shape(), "x")
      shapes[2] = table.concat(hl.load(a, {hl.newaxis, tm, 1}):shape(), "x")
    end
    return shapes
  end, {config = {block_sizes = {4}}})
  local shapes = na(helua.zeros({4, 3}))
  T.eq(shapes[1], "4x1x3", "newaxis in a load")
  T.eq(shapes[2], "1x4", "newaxis first, integer drops")
  -- shifted reads: out-of-range positions read 0
  local shift = helua.kernel(function(a)
    local n = a:size(1)
    local out = helua.empty({n})
    for t in hl.tile(n) do out[t] = a[t.index + 1] end
    return out
  end, {config = {block_sizes = {4}}})
  local v = helua.arange(1.0, 10.0)
  local got = shift(v):totable()
  T.eq(got[1], 2.0, "shifted read")
  T.eq(got[10], 0.0, "out-of-range read gives 0")
  -- embedding-style gather with loaded int ids (1-based)
  local w = helua.randn({7, 5}, {seed = 9})
  local ids = helua.tensor({3, 1, 7, 7, 2})
  local emb = helua.kernel(function(idx, wt)
    local n = idx:size(1)
    local d = wt:size(2)
    local out = helua.empty({n, d})
    for tb, td in hl.tile({n, d}) do out[{tb, td}] = wt[{idx[tb], td}] end
    return out
  end, {config = {block_sizes = {2, 4}}})
  close(emb(ids, w), helua.index_select(w, 1, ids), 0, "gather rows")
  local scalar_gather = helua.kernel(function(idx, wt)
    local out = helua.empty({idx:size(1)})
    for i in hl.grid(idx:size(1)) do out[i] = wt[{idx[i], 2}] end
    return out
  end)
  close(scalar_gather(ids, w), helua.index_select(w, 1, ids)[{":", 2}], 0, "0-D gather")
end)

T.test("hl.load / hl.store with extra_mask; atomic_add", function()
  local masked = helua.kernel(function(a)
    local m, n = a:size()
    local out = helua.zeros({m, n})
    for tm, tn in hl.tile({m, n}) do
      local v = hl.load(a, {tm, tn}, {extra_mask = a[{tm, tn}]:gt(0), eviction_policy = "first"})
      hl.store(out, {tm, tn}, v * 2, {extra_mask = tn.index:le(10)[{hl.newaxis, ":"}]})
    end
    return out
  end, bs16)
  local want = x:relu() * 2
  want[{":", {11, N}}] = 0
  close(masked(x), want, 1e-6, "extra_mask on load and store")
  -- split-K with atomic_add into a zeroed output
  local a = helua.randn({M, K}, {seed = 10})
  local b = helua.randn({K, N}, {seed = 11})
  local split = helua.kernel(function(p, q)
    local m, k = p:size()
    local n = q:size(2)
    local out = helua.zeros({m, n})
    for tm, tn, tk in hl.tile({m, n, k}, {block_size = {nil, nil, 8}}) do
      local old = hl.atomic_add(out, {tm, tn}, hl.dot(p[{tm, tk}], q[{tk, tn}]))
      T.eq(old:dim(), 2, "atomic_add returns the old values")
    end
    return out
  end, bs16)
  close(split(a, b), helua.matmul(a, b), 1e-4, "split-K atomic_add")
  local hist = helua.kernel(function(ids, nbins)
    local h = helua.zeros({nbins}, {dtype = helua.int64})
    for t in hl.tile(ids:size(1)) do hl.atomic_add(h, {ids[t]}, 1) end
    return h
  end, {config = {block_sizes = {3}}})
  T.eq(table.concat(hist(helua.tensor({1, 2, 2, 4, 4, 4}), 4):totable(), ","), "1,2,0,3",
    "atomic_add with repeated indices")
end)

T.test("register_block_size, register_tunable, specialize", function()
  local k = helua.kernel(function(a)
    local m, n = a:size()
    local bm = hl.register_block_size(m)
    local bn = hl.register_block_size(4, n)
    local split = hl.register_tunable("split", hl.PowerOfTwoFragment(1, 16, 4))
    local flag = hl.register_tunable("flag", hl.BooleanFragment(true))
    local n2 = hl.specialize(n)
    local out = helua.empty({m, n})
    local blocks = {}
    for tm in hl.tile(m, {block_size = bm}) do
      for tn in hl.tile(n2, {block_size = bn}) do
        blocks[tm.block_size .. "x" .. tn.block_size] = true
        out[{tm, tn}] = a[{tm, tn}] + split
      end
    end
    return out, bm, bn, split, flag
  end)
  local out, bm, bn, split, flag = k(x)
  T.eq(bm, 64, "register_block_size default")
  T.eq(split, 4, "tunable default")
  T.eq(flag, true, "boolean tunable default")
  close(out, x + 4, 1e-6, "values")
  local bk = k:bind(x)
  local out2, bm2, bn2, split2 = bk:run({block_sizes = {8, 16}, split = 2}, x)
  T.eq(bm2, 8, "register_block_size from the config")
  T.eq(bn2, 16, "second slot from the config")
  T.eq(split2, 2, "tunable from the config")
  close(out2, x + 2, 1e-6, "values with the config")
  local _, _, bn3 = bk:run({block_sizes = {8}}, x)
  T.eq(bn3, 64, "a slot the config does not set takes the default (clamped to next_pow2(max))")
end)

T.test("the same kernel gives the same results with tiles of 1, 3, 16 and the whole dim", function()
  local a = helua.randn({7, 11}, {seed = 12})
  local b = helua.randn({11, 5}, {seed = 13})
  local bias = helua.randn({5}, {seed = 14})
  local k = helua.kernel(function(p, q, r)
    local m, kk = p:size()
    local n = q:size(2)
    local out = helua.empty({m, n})
    local rowsum = helua.zeros({m})
    for tm, tn in hl.tile({m, n}) do
      local acc = hl.zeros({tm, tn})
      for tk in hl.tile(kk) do acc = hl.addmm(acc, p[{tm, tk}], q[{tk, tn}]) end
      local v = (acc + r[tn]):relu()
      out[{tm, tn}] = v
      hl.atomic_add(rowsum, {tm}, v:sum(2))
    end
    -- a second top-level loop: online softmax over the columns of `out`, one pass
    local sm = helua.empty({m, n})
    for tm in hl.tile(m) do
      local mx = hl.full({tm}, -math.huge)
      local den = hl.zeros({tm})
      for tn in hl.tile(n) do
        local v = out[{tm, tn}]
        local mx2 = hl.maximum(mx, v:amax(2))
        den = den * (mx - mx2):exp() + (v - mx2[{":", hl.newaxis}]):exp():sum(2)
        mx = mx2
      end
      for tn in hl.tile(n) do
        sm[{tm, tn}] = (out[{tm, tn}] - mx[{":", hl.newaxis}]):exp() / den[{":", hl.newaxis}]
      end
    end
    return out, rowsum, sm
  end)
  local want = (helua.matmul(a, b) + bias):relu()
  local results = {}
  for _, bs in ipairs({1, 3, 16, "full"}) do
    local kb = helua.kernel(k.fn, {block_size = bs})
    local out, rowsum, sm = kb(a, b, bias)
    close(out, want, 1e-5, "block_size " .. bs)
    close(rowsum, want:sum(2, false), 1e-5, "row sums, block_size " .. bs)
    close(sm, helua.softmax(want, 2), 1e-6, "softmax, block_size " .. bs)
    results[#results + 1] = out
  end
  local out = k:bind(a, b, bias):run({block_sizes = {3, 16, 1, 2, 4, 1}}, a, b, bias)
  close(out, want, 1e-5, "mixed block sizes from a config")
end)

T.test("device values: fields, printing, host ifs inside loops", function()
  local k = helua.kernel(function(a, maybe)
    local info = {}
    for tm, tn in hl.tile({a:size(1), a:size(2)}) do
      local v = a[{tm, tn}]
      info.dtype, info.dim, info.n = v.dtype, v:dim(), v:numel()
      info.size = {v:size()}
      info.size2 = v:size(-1)
      info.text = tostring(v)
      if maybe ~= nil then v = v + maybe[{tm, tn}] end
      if v.dtype == "float32" and tm.id == 1 then info.host_if = true end
    end
    return info
  end, {config = {block_sizes = {4, 8}}})
  local info = k(helua.zeros({4, 8}), nil)
  T.eq(info.dtype, "float32", "v.dtype")
  T.eq(info.dim, 2, "v:dim()")
  T.eq(info.n, 32, "v:numel()")
  T.eq(info.size[2], 8, "v:size()")
  T.eq(info.size2, 8, "v:size(-1)")
  T.truthy(info.text:find("tensor", 1, true), "tostring(v) prints the values")
  T.truthy(info.host_if, "an if on host values runs")
end)

T.done()
