-- The tile IR through its Lua binding: DESIGN.md §2's matmul built as the tracer will build it,
-- its text, fingerprint, verifier, config-space records and errors. Part of tests/lua.
package.path = arg[0]:match("(.*/)") .. "?.lua;" .. package.path
local T = require "testing"
local core = require "helua.core"
if not core.ir_builder then -- until src/bind/bind.c registers the IR binding
  print("test_ir_builder: skipped, helua.core has no ir_builder (bind_ir_register not called)")
  os.exit(77)
end

-- DESIGN.md §2's matmul (bfloat16 [1024, 512] x [512, 256]), traced by hand.
local function build_matmul(opts)
  opts = opts or {}
  local b = core.ir_builder("matmul")
  local shift = opts.shift or 0
  b:loc("matmul.lua", 4 + shift)
  local x = b:arg_tensor("x", "bfloat16", {1024, 512})
  local y = b:arg_tensor("y", "bfloat16", {512, opts.n or 256})
  local out = b:arg_tensor("out", "bfloat16", {1024, opts.n or 256})
  b:loc("matmul.lua", 8 + shift)
  local c0 = b:const(0, "int64")
  local m, n = b:const(1024, "int64"), b:const(opts.n or 256, "int64")
  local tiles = b:tile({{begin = c0, ["end"] = m}, {begin = c0, ["end"] = n}})
  local tm, tn = tiles[1], tiles[2]
  b:name(tm, "tm")
  b:name(tn, "tn")
  b:loc("matmul.lua", 9 + shift)
  local shape = {b:value(tm).shape[1], b:value(tn).shape[1]}
  local acc = b:op("full", {}, {dtype = "float32", value = 0.0, shape = shape})
  b:name(acc, "acc")
  b:loc("matmul.lua", 10 + shift)
  local k = b:const(512, "int64")
  local ks, carried = b:tile({{begin = c0, ["end"] = k}}, {acc})
  local tk = ks[1]
  b:name(tk, "tk")
  b:name(carried[1], "acc")
  b:loc("matmul.lua", 11 + shift)
  local va = b:load(x, {tm, tk})
  local vb = b:load(y, {tk, tn})
  local nacc = b:op("dot", {va, vb, carried[1]})
  b:name(nacc, "acc")
  local results = b:end_loop({nacc})
  b:name(results[1], "acc")
  b:loc("matmul.lua", 13 + shift)
  local c = b:op("cast", {results[1]}, {dtype = "bfloat16"})
  b:store(out, {tm, tn}, c)
  b:end_loop()
  return b:finish()
end

local MATMUL_TEXT = [[
kernel matmul
  arg %x : tensor bfloat16[1024, 512] strides [512, 1]  # matmul.lua:4
  arg %y : tensor bfloat16[512, 256] strides [256, 1]  # matmul.lua:4
  arg %out : tensor bfloat16[1024, 256] strides [256, 1]  # matmul.lua:4
  block B0 : tile extent 1024 range [1, 1024]  # matmul.lua:8
  block B1 : tile extent 256 range [1, 256]  # matmul.lua:8
  block B2 : tile extent 512 range [1, 512]  # matmul.lua:10
{
  %3 = const 0 : int64  # matmul.lua:8
  %4 = const 1024 : int64  # matmul.lua:8
  %5 = const 256 : int64  # matmul.lua:8
  tile %tm = [%3, %4) block B0, %tn = [%3, %5) block B1 {  # matmul.lua:8
    %acc = full 0.0 : float32[B0, B1]  # matmul.lua:9
    %9 = const 512 : int64  # matmul.lua:10
    %acc.3 = tile %tk = [%3, %9) block B2 carry (%acc.1 = %acc : float32[B0, B1]) {  # matmul.lua:10
      %12 = load %x[%tm, %tk] : bfloat16[B0, B2]  # matmul.lua:11
      %13 = load %y[%tk, %tn] : bfloat16[B2, B1]  # matmul.lua:11
      %acc.2 = dot %12, %13, %acc.1 : float32[B0, B1]  # matmul.lua:11
      yield %acc.2  # matmul.lua:11
    }
    %16 = cast %acc.3 : bfloat16[B0, B1]  # matmul.lua:13
    store %out[%tm, %tn], %16  # matmul.lua:13
  }
}
]]

T.test("matmul text", function()
  local f = build_matmul()
  T.eq(f:text(), MATMUL_TEXT, "text")
  T.eq(tostring(f), MATMUL_TEXT, "tostring")
  T.eq(f:name(), "matmul", "name")
  local bare = f:text({locations = false, names = false})
  T.truthy(not bare:find("#", 1, true), "no locations")
  T.truthy(bare:find("%12 = load %0[%6, %10] : bfloat16[B0, B2]", 1, true), "numbered values")
end)

T.test("fingerprint", function()
  local a, b = build_matmul(), build_matmul()
  T.truthy(a:fingerprint():match("^%x+$") and #a:fingerprint() == 16, "16 hex digits")
  T.eq(a:fingerprint(), b:fingerprint(), "stable")
  T.eq(a:fingerprint(), build_matmul({shift = 5}):fingerprint(), "source lines do not count")
  T.truthy(a:fingerprint() ~= build_matmul({n = 128}):fingerprint(), "shapes count")
end)

T.test("verify", function()
  local f = build_matmul()
  T.eq(f:verify(), true, "traced")
  T.eq(f:verify("traced"), true, "traced")
  local ok, msg = f:verify("lowered")
  T.eq(ok, false, "lowered")
  T.truthy(msg:find("`tile` may not appear in lowered IR", 1, true), msg)
  T.raises(function() f:verify("fried") end, "unknown IR phase 'fried'")
end)

T.test("config-space records", function()
  local f = build_matmul()
  local slots = f:block_slots()
  T.eq(#slots, 3, "block slots")
  for i, extent in ipairs({1024, 256, 512}) do
    T.eq(slots[i].id, i - 1, "slot id")
    T.eq(slots[i].kind, "tile", "slot kind")
    T.eq(slots[i].extent, extent, "slot extent")
  end
  T.eq(slots[3].line, 10, "slot line")
  local loops = f:loops()
  T.eq(#loops, 2, "loops")
  T.eq(loops[1].kind, "tile", "outer kind")
  T.eq(loops[1].ndims, 2, "outer dims")
  T.eq(loops[1].block[2], "B1", "outer block")
  T.eq(loops[1].depth, 0, "outer depth")
  T.eq(loops[2].parent, 1, "inner parent")
  T.eq(loops[2].nest, 1, "inner nest")
  T.eq(loops[2].extent[1], 512, "inner extent")
  local mem = f:memops()
  T.eq(#mem, 3, "memops")
  T.eq(mem[1].kind, "load", "load")
  T.eq(mem[1].loop, 2, "load loop")
  T.eq(mem[3].kind, "store", "store")
  T.eq(#f:reduction_dims(), 0, "no rdims")
  local args = f:args()
  T.eq(#args, 3, "args")
  T.eq(args[2].name, "y", "arg name")
  T.eq(args[2].kind, "tensor", "arg kind")
  T.eq(args[2].strides[1], 256, "arg stride")
end)

T.test("softmax, tunables, dims are 1-based", function()
  local b = core.ir_builder("softmax")
  b:loc("softmax.lua", 3)
  local x = b:arg_tensor("x", "float32", {4096, 1000})
  local out = b:arg_tensor("out", "float32", {4096, 1000})
  local bs, slot = b:register_block_size(16, 128)
  T.eq(slot, 0, "registered slot")
  local tun = b:tunable("split", "PowerOfTwoFragment(1, 8)")
  local c0, n = b:const(0, "int64"), b:const(4096, "int64")
  b:loc("softmax.lua", 5)
  local tm = b:tile({{begin = c0, ["end"] = n, slot = slot}})[1]
  local v = b:load(x, {tm, ":"}, {eviction_policy = "last"})
  T.eq(b:value(v).shape[2], "R0", "reduction dim")
  local mx = b:op("amax", {v}, {dim = 2, keepdim = true})
  T.eq(b:value(mx).shape[2], 1, "keepdim")
  local e = b:op("exp", {b:op("sub", {v, mx})})
  local s = b:op("sum", {e}, {dim = -1, keepdim = true})
  b:store(out, {tm, ":"}, b:op("div", {e, s}))
  T.raises(function() b:op("sum", {e}, {dim = 0}) end, "dims are 1-based")
  b:end_loop()
  local f = b:finish()
  local text = f:text({locations = false})
  T.truthy(text:find("%8 = amax %7 dim 1 keepdim : float32[B0, 1]", 1, true), text)
  T.truthy(text:find("load %x[%6, :] evict last", 1, true), text)
  T.truthy(text:find('tunable T0 "split" : int64 fragment "PowerOfTwoFragment(1, 8)"', 1, true), text)
  T.eq(f:reduction_dims()[1].extent, 1000, "rdim extent")
  T.eq(f:block_slots()[1].kind, "registered", "registered slot")
  T.eq(f:block_slots()[1].min, 16, "registered min")
  T.eq(f:tunables()[1].name, "split", "tunable")
  T.eq(#f:block_slots(), 1, "the loop shares the registered slot")
  local _ = bs, tun
end)

T.test("errors carry the kernel line", function()
  local b = core.ir_builder("bad")
  b:loc("bad.lua", 2)
  local x = b:arg_tensor("x", "float32", {64})
  local h = b:arg_tensor("h", "bfloat16", {64})
  local c0, n = b:const(0, "int64"), b:const(64, "int64")
  local t = b:tile({{begin = c0, ["end"] = n}})[1]
  b:loc("bad.lua", 7)
  local a, c = b:load(x, {t}), b:load(h, {t})
  T.raises(function() b:op("add", {a, c}) end,
    "bad.lua:7: add: operand dtypes differ", "is float32", "is bfloat16", "cast")
  T.raises(function() b:load(x, {t, t}) end, "bad.lua:7: load:", "more entries")
  T.raises(function() b:op("frobnicate", {a}) end, "unknown IR op 'frobnicate'")
  local inner = b:op("exp", {a})
  b:end_loop()
  b:loc("bad.lua", 9)
  T.raises(function() b:op("exp", {inner}) end, "bad.lua:9: exp:",
    "belongs to a device loop that has ended")
  T.raises(function() b:load(x, {c0}) end, "device code", "inside a device loop")
  local f = b:finish()
  T.raises(function() b:const(1, "int64") end, "has finished")
  T.eq(f:verify(), true, "the failed calls left the function valid")
end)

T.test("finish verifies; builders and functions close", function()
  local b <close> = core.ir_builder("open")
  local c0, n = b:const(0, "int64"), b:const(8, "int64")
  b:grid({{begin = c0, ["end"] = n}})
  T.raises(function() b:finish() end, "still open")
  b:end_loop()
  local f <close> = b:finish()
  T.eq(f:verify(), true, "verified")
  f:close()
  T.raises(function() f:text() end, "closed")
  for _ = 1, 100 do core.ir_builder("garbage"):const(1, "int64") end
  collectgarbage()
end)

-- Every value op of the dialect (helua.language's lists) and every other DESIGN.md §2 construct
-- has an IR op to trace into: the tracer's map, checked against the op table (ir_ops.def).
local RENAMED = {logical_not = "not", logical_and = "and", logical_or = "or", transpose = "permute",
                 view = "reshape", to = "cast"}
local CONSTRUCTS = {
  ["+"] = "add", ["-"] = "sub", ["*"] = "mul", ["/"] = "div", ["%"] = "mod", ["^"] = "pow",
  ["//"] = "floordiv", ["unary -"] = "neg", where = "where", dot = "dot", addmm = "dot",
  zeros = "full", full = "full", arange = "arange", atomic_add = "atomic_add", load = "load",
  store = "store", register_block_size = "register_block_size", register_tunable = "tunable",
  specialize = "specialize", tile = "tile", grid = "grid", ["tile.index"] = "tile_index",
  ["tile.begin"] = "tile_begin", ["tile.last"] = "tile_end", ["tile.block_size"] = "tile_block_size",
  ["tile.id"] = "tile_id", ["tile.count"] = "tile_count",
}

local function dialect_map()
  local map, hl = {}, require "helua.language"
  for _, list in ipairs({hl.UNARY, hl.BINARY, hl.REDUCTIONS, hl.VIEWS, hl.VALUE_METHODS}) do
    for _, name in ipairs(list) do map[name] = RENAMED[name] or name end
  end
  for k, v in pairs(CONSTRUCTS) do map[k] = v end
  return map
end

T.test("op table", function()
  local ops, byname = core.ir_ops(), {}
  T.truthy(#ops >= 60, "op count")
  for _, op in ipairs(ops) do
    T.truthy(not byname[op.name], "unique name " .. op.name)
    byname[op.name] = op
    T.truthy(#op.doc > 0, op.name .. " documented")
    T.truthy(op.traced or op.lowered, op.name .. " has a phase")
  end
  for surface, ir in pairs(dialect_map()) do
    T.truthy(byname[ir], surface .. " -> " .. ir .. " exists")
    T.truthy(byname[ir].traced, ir .. " is allowed in traced IR")
  end
  T.eq(byname.where.arity, 3, "where arity")
  T.eq(byname.load.arity, -1, "load is variadic")
  T.eq(byname.ptr_load.traced, false, "ptr_load is lowered only")
end)

T.done()
