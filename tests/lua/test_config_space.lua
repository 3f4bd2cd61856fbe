-- Config spaces derived from IR built through the Lua builder: core.config_space, defaults,
-- random / check / neighbours round trips through helua.Config, text forms, errors. Part of tests/lua.
package.path = arg[0]:match("(.*/)") .. "?.lua;" .. package.path
local T = require "testing"
local core = require "helua.core"
local helua = require "helua"
local Config = require "helua.config"
local json = require "helua.json"
if not core.config_space then -- until src/bind/bind.c registers the config binding
  print("test_config_space: skipped, helua.core has no config_space")
  os.exit(77)
end

local none = Config.none
local repr = Config.repr

local function same(a, b)
  if type(a) ~= "table" or type(b) ~= "table" or a == none or b == none then return a == b end
  for k, v in pairs(a) do
    if not same(v, b[k]) then return false end
  end
  for k in pairs(b) do
    if a[k] == nil then return false end
  end
  return true
end

local function eq_cfg(got, want, what)
  if not same(got, want) then
    error(string.format("%s: expected %s, got %s", what or "config", repr(want), repr(got)), 2)
  end
end

-- DESIGN.md §2's matmul (bfloat16 [1024, 512] x [512, 256]), traced by hand.
local function build_matmul()
  local b = core.ir_builder("matmul")
  b:loc("matmul.lua", 4)
  local x = b:arg_tensor("x", "bfloat16", {1024, 512})
  local y = b:arg_tensor("y", "bfloat16", {512, 256})
  local out = b:arg_tensor("out", "bfloat16", {1024, 256})
  b:loc("matmul.lua", 8)
  local c0 = b:const(0, "int64")
  local tiles = b:tile({{begin = c0, ["end"] = b:const(1024, "int64")},
                        {begin = c0, ["end"] = b:const(256, "int64")}})
  local tm, tn = tiles[1], tiles[2]
  local acc = b:op("full", {}, {dtype = "float32", value = 0.0,
                                shape = {b:value(tm).shape[1], b:value(tn).shape[1]}})
  b:loc("matmul.lua", 10)
  local ks, carried = b:tile({{begin = c0, ["end"] = b:const(512, "int64")}}, {acc})
  local tk = ks[1]
  local nacc = b:op("dot", {b:load(x, {tm, tk}), b:load(y, {tk, tn}), carried[1]})
  local results = b:end_loop({nacc})
  b:loc("matmul.lua", 13)
  b:store(out, {tm, tn}, b:op("cast", {results[1]}, {dtype = "bfloat16"}))
  b:end_loop()
  return b:finish()
end

-- Row softmax of float32 [4096, 1000] over a ':' reduction dim, with user tunables.
local function build_softmax(tunables)
  local b = core.ir_builder("softmax")
  b:loc("softmax.lua", 3)
  local x = b:arg_tensor("x", "float32", {4096, 1000})
  local out = b:arg_tensor("out", "float32", {4096, 1000})
  for i, t in ipairs(tunables or {}) do
    b:loc("softmax.lua", 3 + i)
    b:tunable(t[1], t[2], t[3])
  end
  b:loc("softmax.lua", 9)
  local c0 = b:const(0, "int64")
  local tm = b:tile({{begin = c0, ["end"] = b:const(4096, "int64")}})[1]
  local v = b:load(x, {tm, ":"})
  local mx = b:op("amax", {v}, {dim = 2, keepdim = true})
  local e = b:op("exp", {b:op("sub", {v, mx})})
  local s = b:op("sum", {e}, {dim = -1, keepdim = true})
  b:store(out, {tm, ":"}, b:op("div", {e, s}))
  b:end_loop()
  return b:finish()
end

local MATMUL_CPU = [[
config space for cpu: 5 fields, 7 units, 8 slots, 5.346e+05 configs
  block_sizes[1]: a power of two from 1 to 1024; default 32
  block_sizes[2]: a power of two from 1 to 256; default 64
  block_sizes[3]: a power of two from 1 to 512; default 64
  loop_orders[1]: a permutation of 1..2; default {1, 2}
  range_unroll_factors[1]: an integer from 0 to 4; default 0
  vector_width: a power of two from 1 to 32; default 16
  cpu_threads: an integer from 0 to 8; default 0
  constraint tile_numel(B0*B1, 65536)
  constraint tile_numel(B0*B2, 65536)
  constraint tile_numel(B1*B2, 65536)
]]

T.test("matmul on the cpu: fields, describe, default", function()
  local space = core.config_space(build_matmul(), "cpu", {cpu_cores = 8})
  T.eq(space:target(), "cpu", "target")
  T.eq(space:describe(), MATMUL_CPU, "describe")
  T.eq(tostring(space), "ConfigSpace(cpu, 5 fields)", "tostring")
  eq_cfg(space:default(), {block_sizes = {32, 64, 64}, loop_orders = {{1, 2}},
    range_unroll_factors = {0}, vector_width = 16, cpu_threads = 0}, "default")
  local names = {}
  for i, f in ipairs(space:fields()) do names[i] = f.name end
  T.eq(table.concat(names, " "),
    "block_sizes loop_orders range_unroll_factors vector_width cpu_threads", "fields")
  local f1 = space:fields()[1]
  T.eq(f1.kind, "power_of_two", "kind")
  T.eq(f1.list, true, "list")
  T.eq(f1.count, 3, "count")
  T.eq(f1.domain, nil, "block sizes differ in range")
  T.eq(f1.domains[2], "a power of two from 1 to 256", "domains")
  T.eq(space:fields()[4].domain, "a power of two from 1 to 32", "domain")
  T.truthy(space:fields()[5].doc:find("threads"), "doc")
end)

T.test("matmul on cuda: Helion's knobs, none of the cpu's", function()
  local space = core.config_space(build_matmul(), "cuda")
  local d = space:default()
  eq_cfg(d.block_sizes, {64, 64, 32}, "block sizes")
  T.eq(d.num_warps, 4, "num_warps")
  T.eq(d.num_stages, 3, "num_stages: a pipelined k loop")
  T.eq(d.pid_type, "flat", "pid_type")
  T.eq(d.indexing, nil, "no indexing: without TMA it would not change the PTX")
  eq_cfg(d.load_eviction_policies, {"", ""}, "eviction")
  eq_cfg(d.l2_groupings, {1}, "l2 groupings")
  T.eq(d.maxnreg, none, "maxnreg is none")
  T.eq(d.range_multi_buffers, nil, "no range_multi_buffers: the lowering does not read it")
  T.eq(d.vector_width, nil, "no vector_width")
  T.eq(d.cpu_threads, nil, "no cpu_threads")
  T.truthy(space:fingerprint():match("^%x+$") and #space:fingerprint() == 16, "fingerprint")
  T.eq(space:fingerprint(), core.config_space(build_matmul(), "cuda"):fingerprint(), "stable")
  T.truthy(space:fingerprint() ~= core.config_space(build_matmul(), "cpu"):fingerprint(), "target")
  T.eq(helua.Config(d).num_warps, 4, "helua.Config takes it")
  -- cpu knobs in a cuda config are ignored, as Helion ignores other backends' keys
  local want = space:default()
  want.num_warps = 8
  eq_cfg(space:check({vector_width = 8, num_warps = 8}), want, "vector_width ignored")
end)

T.test("defaults and random configs go through helua.Config and back", function()
  for _, target in ipairs({"cpu", "cuda"}) do
    for _, build in ipairs({build_matmul, build_softmax}) do
      local space = core.config_space(build(), target, {cpu_cores = 8})
      local d = space:default()
      local cfg = helua.Config(d)
      eq_cfg(space:check(cfg), d, target .. " default via helua.Config")
      eq_cfg(space:check(d), d, target .. " default via a table")
      eq_cfg(space:check({}), d, "an empty table is the default")
      for seed = 1, 20 do
        local r = space:random(seed)
        eq_cfg(space:check(helua.Config(r)), r, target .. " random " .. seed)
        eq_cfg(space:random(seed), r, "same seed, same config")
        eq_cfg(space:check(Config.from_json(space:to_json(r))), r, "through Helion's JSON")
        eq_cfg(space:check(Config.from_lua(space:to_lua(r))), r, "through the Lua literal")
      end
      T.truthy(not same(space:random(1), space:random(2)) or not same(space:random(2), space:random(3)),
        "seeds differ")
    end
  end
end)

T.test("neighbours", function()
  local space = core.config_space(build_matmul(), "cpu", {cpu_cores = 8})
  local d = space:default()
  local ns = space:neighbours(d)
  T.truthy(#ns > 8, "some neighbours: " .. #ns)
  local seen = {}
  for _, n in ipairs(ns) do
    eq_cfg(space:check(n), n, "a neighbour is valid")
    T.truthy(not same(n, d), "not the centre")
    local key = space:to_lua(n)
    T.truthy(not seen[key], "distinct")
    seen[key] = true
  end
  T.truthy(#space:neighbours(d, 2) > #ns, "radius 2 reaches further")
  T.truthy(#space:neighbours(helua.Config(d), 1) == #ns, "from a helua.Config")
end)

T.test("softmax: persistent reduction as helua.none", function()
  local space = core.config_space(build_softmax(), "cpu", {cpu_cores = 4})
  local d = space:default()
  eq_cfg(d, {block_sizes = {4}, reduction_loops = {none}, vector_width = 16, cpu_threads = 0},
    "default")
  T.eq(d.reduction_loops[1], none, "helua.none itself")
  eq_cfg(space:check({reduction_loops = {json.null}}), d, "json.null is none")
  T.eq(space:check({reduction_loops = {64}}).reduction_loops[1], 64, "looped")
  T.eq(space:to_json(d), '{"block_sizes": [4], "reduction_loops": [null], "vector_width": 16, "cpu_threads": 0}', "json")
  T.eq(space:to_lua({block_sizes = {8}}, true), "helua.Config{block_sizes = {8}}", "minimal")
  T.eq(space:to_lua(d),
    "helua.Config{block_sizes = {4}, reduction_loops = {helua.none}, vector_width = 16, cpu_threads = 0}", "lua")
  local cuda = core.config_space(build_softmax(), "cuda"):default()
  T.eq(cuda.block_sizes[1], 1, "cuda: a row per program")
  eq_cfg(cuda.pid_type, "flat", "pid")
end)

T.test("user tunables", function()
  local space = core.config_space(build_softmax({
    {"split", "PowerOfTwoFragment(1, 8, 2)"},
    {"mode", 'EnumFragment({1, 2.5, "fast"}, 2.5)', "float64"},
    {"fused", "BooleanFragment(true)", "bool"},
  }), "cpu", {cpu_cores = 4})
  local d = space:default()
  T.eq(d.split, 2, "pow2 default")
  T.eq(d.mode, 2.5, "a number choice comes back a number")
  T.eq(d.fused, true, "boolean")
  eq_cfg(helua.Config(d):to_table(), d, "helua.Config takes tunables")
  T.eq(space:check({mode = 1}).mode, 1, "number choice")
  T.eq(space:check({mode = "fast"}).mode, "fast", "string choice")
  T.truthy(space:to_lua(d):find("mode = 2.5", 1, true), space:to_lua(d))
  T.truthy(space:to_json({mode = 1}):find('"mode": 1', 1, true), space:to_json({mode = 1}))
  T.raises(function() space:check({mode = 3}) end, 'mode = 3 is not allowed', '1, 2.5, "fast"')
  T.raises(function() space:check({split = 3}) end, "split = 3 is not allowed", "power of two")
  T.raises(function()
    core.config_space(build_softmax({{"k", "IntegerFragment(4, 2)"}}), "cpu")
  end, "softmax.lua:4:", 'hl.register_tunable("k", IntegerFragment(4, 2))', "lo <= hi")
  T.raises(function()
    core.config_space(build_softmax({{"num_warps", "IntegerFragment(1, 2)"}}), "cpu")
  end, "softmax.lua:4:", "built-in config field")
  T.raises(function()
    core.config_space(build_softmax({{"k", "Fragment(1)"}}), "cpu")
  end, "unknown fragment Fragment")
end)

T.test("errors name the field", function()
  local space = core.config_space(build_matmul(), "cpu", {cpu_cores = 8})
  T.raises(function() space:check({blok_sizes = {16, 16, 16}}) end,
    'unknown config field "blok_sizes"; did you mean "block_sizes"?')
  T.raises(function() space:check({block_sizes = {16, 24, 16}}) end,
    "block_sizes[2] = 24 is not allowed: it must be a power of two from 1 to 256")
  T.raises(function() space:check({block_sizes = {16, 16}}) end, "block_sizes has 3 elements")
  T.raises(function() space:check({block_sizes = {1024, 256, 16}}) end,
    "262144 elements", "block_sizes[1] = 1024 x block_sizes[2] = 256", "65536 allowed on cpu")
  T.raises(function() space:check({loop_orders = {{1, 1}}}) end, "loop_orders[1] = {1, 1}")
  T.raises(function() space:check({vector_width = 1.5}) end, "vector_width = 1.5", "integer")
  T.raises(function() space:check({[1] = 4}) end, "field names must be strings")
  T.raises(function() space:check(42) end, "table expected")
  T.raises(function() core.config_space(build_matmul(), "tpu") end, "tpu")
  T.raises(function() core.config_space({}, "cpu") end, "helua.IrFunc expected")
  local f = build_matmul()
  f:close()
  T.raises(function() core.config_space(f, "cpu") end, "closed")
  space:close()
  T.raises(function() space:default() end, "the config space was closed")
  T.eq(tostring(space), "ConfigSpace(closed)", "closed tostring")
end)

T.done()
