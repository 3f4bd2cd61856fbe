-- helua.Config: fields, validation errors, Lua literal and Helion JSON forms, files, fragments.
-- Part of tests/lua.
package.path = arg[0]:match("(.*/)") .. "?.lua;" .. package.path
local T = require "testing"
local Config = require "helua.config"
local json = require "helua.json"
local diag = require "helua.diag"
local none = Config.none

local function same(a, b, what)
  T.eq(Config.repr(a), Config.repr(b), what)
end

T.test("construction and field access", function()
  local c = Config{block_sizes = {64, 64, 32}, num_warps = 4, reduction_loops = {none, 128}}
  same(c.block_sizes, {64, 64, 32}, "block_sizes")
  T.eq(c.num_warps, 4, "num_warps")
  T.eq(c.reduction_loops[1], none, "none inside a list")
  T.eq(c.num_stages, nil, "unset field")
  T.eq(c:get("num_stages", 1), 1, "get with default")
  T.eq(c:get("num_warps"), 4, "get")
  T.truthy(Config.is_config(c), "is_config")
  T.truthy(not Config.is_config({}), "a table is not a config")
  T.eq(Config.new{num_warps = 2}.num_warps, 2, "Config.new")
  T.eq(Config(c), c, "a config passes through")
  local bs = c.block_sizes
  bs[1] = 1
  T.eq(c.block_sizes[1], 64, "reads are copies")
  local input = {block_sizes = {16}}
  local d = Config(input)
  input.block_sizes[1] = 32
  T.eq(d.block_sizes[1], 16, "the input table is copied")
  T.raises(function() c.num_warps = 8 end, "Configs are immutable", "cfg:with{num_warps = ...}")
  same(c:names(), {"block_sizes", "reduction_loops", "num_warps"}, "names in Helion's order")
  local seen = {}
  for k, v in pairs(c) do seen[#seen + 1] = k .. "=" .. Config.repr(v) end
  T.eq(table.concat(seen, " "), "block_sizes={64, 64, 32} reduction_loops={helua.none, 128} num_warps=4", "pairs")
end)

T.test("integral floats become integers; none means absent", function()
  local c = Config{block_sizes = {2 ^ 6, 32.0}, num_warps = 2 ^ 3, num_stages = none, my_knob = 4.0}
  T.eq(math.type(c.block_sizes[1]), "integer", "2^6")
  T.eq(math.type(c.num_warps), "integer", "2^3")
  T.eq(c.num_stages, nil, "none is absent")
  T.eq(math.type(c.my_knob), "integer", "tunable 4.0")
  T.eq(Config{my_knob = 0.5}.my_knob, 0.5, "fractional tunable stays")
  T.eq(tostring(Config{}), "helua.Config{}", "empty config")
end)

T.test("aliases", function()
  same(Config{block_size = 64}.block_sizes, {64}, "block_size")
  same(Config{loop_order = {2, 1}}.loop_orders, {{2, 1}}, "loop_order")
  same(Config{reduction_loop = none}.reduction_loops, {none}, "reduction_loop = none")
  same(Config{l2_grouping = 8}.l2_groupings, {8}, "l2_grouping")
  same(Config{range_flatten = none}.range_flattens, {none}, "range_flatten")
  same(Config{static_range = true}.static_ranges, {true}, "static_range")
  T.raises(function() Config{block_size = 64, block_sizes = {64}} end, "cannot give both block_size and block_sizes")
  T.raises(function() Config{block_size = {64, 32}} end, "block_size takes one value",
    "block_sizes = {64, 32}")
  T.raises(function() Config{num_warps = 4}:get("block_size") end, "use the field name block_sizes")
end)

-- One accepted and one rejected value per field, with the expectation the error must state.
local FIELD_CASES = {
  {"block_sizes", {16, 1, 1024}, {16, 0}, "block_sizes[2] = 0 is invalid: expected a positive integer"},
  {"num_threads", 128, -1, "expected a non-negative integer or a list of them"},
  {"num_threads", {32, 0}, {32, "x"}, "num_threads[2]"},
  {"loop_orders", {{1, 2}, {3, 1, 2}}, {{1, 1}}, "loop_orders[1] = {1, 1} is invalid: expected a permutation of 1..n"},
  {"flatten_loops", {true, false}, {1}, "flatten_loops[1] = 1 is invalid: expected true or false"},
  {"grid_fissions", {{0, -1, 4}}, {{3}}, "grid_fissions[1][1] = 3"},
  {"l2_groupings", {1, 64}, {128}, "expected a power of two from 1 to 64"},
  {"reduction_loops", {none, 64}, {true}, "expected a positive integer or helua.none"},
  {"range_unroll_factors", {0, 4}, {-1}, "expected a non-negative integer"},
  {"range_warp_specializes", {none, true}, {"yes"}, "expected true, false or helua.none"},
  {"range_num_stages", {0, 3}, {1.5}, "range_num_stages[1] = 1.5 is invalid"},
  {"range_multi_buffers", {false, none}, {0}, "expected true, false or helua.none"},
  {"range_flattens", {none}, {1}, "expected true, false or helua.none"},
  {"static_ranges", {true}, {none}, "expected true or false"},
  {"load_eviction_policies", {"", "first", "last"}, {"middle"}, 'expected "", "first" or "last"'},
  {"num_warps", 32, 64, "num_warps = 64 is invalid: expected a power of two from 1 to 32"},
  {"num_warps", 1, 3, "expected a power of two from 1 to 32"},
  {"num_stages", 8, 9, "num_stages = 9 is invalid: expected an integer from 1 to 8"},
  {"num_stages", 1, "2", 'num_stages = "2" is invalid'},
  {"indexing", "tensor_descriptor", "tma", '"pointer", "tensor_descriptor", "block_ptr", or a list of those'},
  {"indexing", {"pointer", "block_ptr"}, {"pointer", "ptr"}, "indexing[2] = \"ptr\" is invalid"},
  {"atomic_indexing", "pointer", 1, "atomic_indexing = 1 is invalid"},
  {"pid_type", "persistent_interleaved", "grid", '"flat", "xyz", "persistent_blocked" or "persistent_interleaved"'},
  {"num_sm_multiplier", 128, 3, "expected a power of two from 1 to 128"},
  {"maxnreg", 256, 100, "expected 32, 64, 128 or 256"},
  {"advanced_controls_file", "a.acf", 1, "expected a string"},
  {"epilogue_subtile", 4, 3, "expected 2 or 4"},
  {"wgmma", true, 1, "wgmma = 1 is invalid"},
  {"vector_width", 16, 3, "vector_width = 3 is invalid: expected a power of two from 1 to 64"},
  {"cpu_threads", 0, -2, "cpu_threads = -2 is invalid: expected a non-negative integer"},
}

T.test("every field: a valid value and a rejected one", function()
  local covered = {}
  for _, c in ipairs(FIELD_CASES) do
    local name, good, bad, piece = c[1], c[2], c[3], c[4]
    covered[name] = true
    same(Config{[name] = good}[name], good, name .. " accepts " .. Config.repr(good))
    T.raises(function() Config{[name] = bad} end, "helua.Config: ", piece)
  end
  for _, name in ipairs(Config.field_order) do T.truthy(covered[name], "case for " .. name) end
  T.eq(#Config.fields, #Config.field_order, "field rows")
  for _, row in ipairs(Config.fields) do T.truthy(#row.doc > 0 and #row.expect > 0, row.name .. " documented") end
end)

T.test("list fields explain scalars; loop orders explain 0-based", function()
  T.raises(function() Config{block_sizes = 64} end, "expected a list of positive integers",
    "a list is written {64}, or use the singular block_size = 64")
  T.raises(function() Config{loop_orders = {{1, 0}}} end,
    "helua loop orders are 1-based: Helion's [1, 0] is {2, 1} here")
end)

T.test("unknown names: did-you-mean or user tunable", function()
  T.raises(function() Config{num_wraps = 4} end, "unknown field num_wraps", "did you mean num_warps?")
  T.raises(function() Config{block_size_ = 4} end, "did you mean block_size?")
  T.raises(function() Config{maxnregs = 64} end, "did you mean maxnreg?")
  local c = Config{my_unroll = 2, use_fast_path = true, mode = "wide"}
  T.eq(c.my_unroll, 2, "number tunable")
  T.eq(c.use_fast_path, true, "boolean tunable")
  T.eq(c.mode, "wide", "string tunable")
  T.raises(function() Config{my_list = {1, 2}} end, "user tunable my_list = {1, 2} is invalid",
    "must be a number, boolean or string")
  T.raises(function() Config{with = 1} end, "'with' cannot be a tunable name: it is a Config method")
  T.raises(function() Config{64, 32} end, "fields must be named; got positional value 64",
    "helua.Config{block_sizes = {64, 32}}")
  T.raises(function() Config{[1.5] = 1} end, "field names must be strings")
  T.raises(function() Config(42) end, "expected a table of fields", "got number")
end)

T.test("errors point at the user's line and the field", function()
  local ok, err = pcall(function()
    local c = Config{
      block_sizes = {64, 32},
      num_warps = 3,
    }
    return c
  end)
  T.truthy(not ok and diag.is_error(err), "a helua error")
  local here = debug.getinfo(1, "l").currentline
  T.eq(err.line, here - 5, "anchored at the num_warps line")
  T.truthy(err.file:match("test_config%.lua$"), "in this file")
  T.eq(err.srcline:sub(err.column, err.column + 8), "num_warps", "caret under the field")
  local text = tostring(err)
  T.truthy(text:find("^.-test_config%.lua:%d+: helua%.Config: num_warps = 3"), "file:line: message")
  T.truthy(text:find("^", 1, true), "caret line")
end)

T.test("to_lua and tostring", function()
  local c = Config{zeta = 1, alpha = "a", num_warps = 4, block_sizes = {64, 64, 32},
    pid_type = "flat", loop_orders = {{2, 1}}, range_flattens = {none, false}, ratio = 0.25}
  local want = 'helua.Config{block_sizes = {64, 64, 32}, loop_orders = {{2, 1}}, range_flattens = ' ..
    '{helua.none, false}, num_warps = 4, pid_type = "flat", alpha = "a", ratio = 0.25, zeta = 1}'
  T.eq(c:to_lua(), want, "Helion's order, then tunables sorted")
  T.eq(tostring(c), want, "tostring")
  T.eq(Config{s = 'q"\n'}:to_lua(), 'helua.Config{s = "q\\"\\n"}', "string escapes")
end)

-- Helion's README config, as helion.Config.to_json() writes it.
local HELION_JSON = [[
{
  "block_sizes": [
    64,
    64,
    64
  ],
  "loop_orders": [
    [
      0,
      1
    ]
  ],
  "l2_groupings": [
    4
  ],
  "range_unroll_factors": [
    0,
    1
  ],
  "range_warp_specializes": [
    null,
    false
  ],
  "range_num_stages": [
    0,
    3
  ],
  "range_multi_buffers": [
    null,
    false
  ],
  "range_flattens": [
    null,
    null
  ],
  "load_eviction_policies": [
    "",
    "last"
  ],
  "num_warps": 8,
  "num_stages": 6,
  "indexing": "block_ptr",
  "pid_type": "flat",
  "my_tunable": 3
}]]

T.test("Helion JSON in: 0-based loop orders, nulls", function()
  local c = Config.from_json(HELION_JSON)
  same(c.loop_orders, {{1, 2}}, "loop orders become 1-based")
  same(c.range_warp_specializes, {none, false}, "null is helua.none")
  same(c.range_flattens, {none, none}, "all nulls")
  T.eq(c.indexing, "block_ptr", "single indexing string")
  T.eq(c.my_tunable, 3, "tunable")
  T.eq(c:to_json(), HELION_JSON, "to_json writes the same text back")
  local swapped = Config.from_json('{"loop_orders": [[1, 0], [2, 0, 1]], "loop_order_extra": 1, "maxnreg": null}')
  same(swapped.loop_orders, {{2, 1}, {3, 1, 2}}, "permutations shifted")
  T.eq(swapped.maxnreg, nil, "top-level null is absent, as None in Helion's Config()")
  same(Config.from_json('{"loop_order": [1, 0]}').loop_orders, {{2, 1}}, "singular alias in JSON")
  T.eq(Config.from_json("{}"):to_json(), "{}", "empty config")
end)

T.test("Helion JSON out", function()
  local c = Config{num_warps = 4, block_sizes = {32, 16}, loop_orders = {{2, 1}}, reduction_loops = {none}}
  T.eq(c:to_json(), '{\n  "block_sizes": [\n    32,\n    16\n  ],\n  "loop_orders": [\n    [\n      1,\n' ..
    '      0\n    ]\n  ],\n  "reduction_loops": [\n    null\n  ],\n  "num_warps": 4\n}', "layout")
end)

T.test("round trips: Lua -> JSON -> Lua -> Lua literal", function()
  local configs = {
    Config{},
    Config{block_sizes = {64, 64, 32}, loop_orders = {{3, 1, 2}, {2, 1}}, flatten_loops = {false},
      l2_groupings = {8}, reduction_loops = {none, 16}, range_unroll_factors = {0, 4},
      range_warp_specializes = {none, true}, range_num_stages = {2}, range_multi_buffers = {none},
      range_flattens = {false}, static_ranges = {true}, load_eviction_policies = {"", "first"},
      num_warps = 8, num_stages = 3, indexing = {"pointer", "tensor_descriptor"}, atomic_indexing = "pointer",
      pid_type = "persistent_blocked", num_sm_multiplier = 2, maxnreg = 128, num_threads = {32, 0},
      grid_fissions = {{0, -1}}, advanced_controls_file = "x.acf", epilogue_subtile = 2,
      knob = 0.1, flag = false, name = "caf\195\169"},
  }
  for _, c in ipairs(configs) do
    local j = Config.from_json(c:to_json())
    T.truthy(j == c, "JSON round trip of " .. tostring(c))
    local l = Config.from_lua(j:to_lua())
    T.truthy(l == c, "Lua round trip")
    T.eq(l:to_lua(), c:to_lua(), "same literal")
    T.eq(Config.from_json(l:to_json()):to_json(), c:to_json(), "same JSON")
  end
end)

T.test("random input: a config that round-trips, or a helua error", function()
  local names = {"tunable", "block_sizez"}
  for _, n in ipairs(Config.field_order) do names[#names + 1] = n end
  for a in pairs(Config.aliases) do names[#names + 1] = a end
  local scalars = {0, 1, 2, 3, 4, 8, 64, 256, -1, 0.5, 2.0, "", "pointer", "first", "flat", "x",
                   true, false, none}
  math.randomseed(11)
  local function value(depth)
    if depth < 2 and math.random() < 0.5 then
      local t = {}
      for i = 1, math.random(0, 3) do t[i] = value(depth + 1) end
      return t
    end
    return scalars[math.random(#scalars)]
  end
  local made = 0
  for _ = 1, 3000 do
    local tbl = {}
    for _ = 1, math.random(1, 3) do tbl[names[math.random(#names)]] = value(0) end
    local ok, c = pcall(Config, tbl)
    if not ok and not diag.is_error(c) then error("non-diagnostic error: " .. tostring(c)) end
    if ok then
      made = made + 1
      T.truthy(Config.from_json(c:to_json()) == c, "JSON round trip of " .. tostring(c))
      T.truthy(Config.from_lua(c:to_lua()) == c, "Lua round trip of " .. tostring(c))
    end
  end
  T.truthy(made > 100, "some random configs are valid (" .. made .. ")")
end)

T.test("key and equality", function()
  local a = Config{num_warps = 4, block_sizes = {64, 32}, knob = 1}
  local b = Config{knob = 1, block_sizes = {64, 32}, num_warps = 4}
  T.truthy(a == b, "equal regardless of construction order")
  T.eq(a:key(), b:key(), "same key")
  T.truthy(a ~= Config{num_warps = 4, block_sizes = {64, 16}, knob = 1}, "different configs differ")
  T.truthy(a ~= {}, "a config never equals a table")
  local seen = {[a:key()] = true}
  T.truthy(seen[b:key()], "usable as a table key")
end)

T.test("with", function()
  local a = Config{num_warps = 4, block_sizes = {64, 32}, knob = 1}
  local b = a:with{num_warps = 8, knob = none}
  T.eq(b.num_warps, 8, "changed")
  T.eq(b.knob, nil, "removed with none")
  same(b.block_sizes, {64, 32}, "kept")
  T.eq(a.num_warps, 4, "original untouched")
  same(a:with{block_size = 16}.block_sizes, {16}, "alias in with")
  T.truthy(a:with{} == a, "no changes")
  T.raises(function() a:with{num_stages = 0} end, "num_stages = 0 is invalid")
end)

T.test("from_json errors", function()
  T.raises(function() Config.from_json('{"num_warps": 3}') end,
    "config JSON: num_warps = 3 is invalid: expected a power of two from 1 to 32")
  T.raises(function() Config.from_json('{"block_sizes": [64, -1]}') end, "config JSON: block_sizes[1] = -1")
  T.raises(function() Config.from_json('{"loop_orders": [[1, 1]]}') end,
    "config JSON: loop_orders[0] = [1, 1] is invalid: expected a permutation of 0..n-1", "0-based")
  T.raises(function() Config.from_json('{"loop_orders": [[1, 2]]}') end, "loop_orders[0] = [1, 2]")
  T.raises(function() Config.from_json('{"loop_orders": 5}') end, "expected a list of permutations of 0..n-1")
  T.raises(function() Config.from_json('{"reduction_loops": [null, true]}') end,
    "reduction_loops[1] = true", "positive integer or helua.none")
  T.raises(function() Config.from_json('{"tunable": [1]}') end, "user tunable tunable = [1] is invalid")
  T.raises(function() Config.from_json('[64]') end, "expected an object {...}, got [64]")
  T.raises(function() Config.from_json('{"num_warps": 4') end, "json: expected ',' or '}'", "byte 16",
    "hint: expected a Helion config")
end)

T.test("from_lua and its sandbox", function()
  T.eq(Config.from_lua("helua.Config{num_warps = 4}").num_warps, 4, "bare literal")
  T.eq(Config.from_lua("return helua.Config{reduction_loops = {helua.none}}").reduction_loops[1], none,
    "return form and helua.none")
  T.eq(Config.from_lua("-- tuned\nlocal bs = 64\nreturn helua.Config{block_size = bs}").block_sizes[1], 64,
    "locals are fine")
  T.raises(function() Config.from_lua("helua.Config{num_warps = os.exit(1)}") end,
    "may only use helua.Config and helua.none, not 'os'")
  T.raises(function() Config.from_lua("helua.kernel(print)") end, "not helua.kernel")
  T.raises(function() Config.from_lua("x = 1 return helua.Config{}") end, "cannot set globals ('x')")
  T.raises(function() Config.from_lua("while true do end") end, "runs too long")
  T.raises(function() Config.from_lua("helua.Config{num_warps = }") end, "cannot read the config literal",
    "config literal:1:")
  T.raises(function() Config.from_lua("return 42") end, "must evaluate to helua.Config{...}, got 42")
  T.raises(function() Config.from_lua("local x = 1") end, "got nothing")
  T.raises(function() Config.from_lua("helua.Config{num_warps = 5}") end, "num_warps = 5 is invalid")
  T.raises(function() Config.from_lua(nil) end, "expects a string, got nil")
end)

local function tmpdir()
  local name = os.tmpname()
  os.remove(name)
  assert(os.execute("mkdir -p '" .. name .. "'"))
  return name
end

local function save_and_load(dir)
  local c = Config{block_sizes = {64, 32}, loop_orders = {{2, 1}}, reduction_loops = {none}, knob = "x"}
  c:save(dir .. "/c.json")
  c:save(dir .. "/c.lua")
  local f = assert(io.open(dir .. "/c.json"))
  local text = f:read("a")
  f:close()
  T.eq(text, c:to_json() .. "\n", "JSON file")
  T.truthy(Config.load(dir .. "/c.json") == c, "load json")
  T.truthy(Config.load(dir .. "/c.lua") == c, "load lua")
  T.raises(function() c:save(dir .. "/c.txt") end, "must end in .json or .lua")
  T.raises(function() Config.load(dir .. "/missing.json") end, "cannot read config file", "missing.json")
  T.raises(function() c:save(dir .. "/no/such/dir/c.json") end, "cannot write config file")
  f = assert(io.open(dir .. "/bad.lua", "w"))
  f:write("return helua.Config{\n  block_sizes = {64},\n  num_stages = 12,\n}\n")
  f:close()
  local ok, err = pcall(Config.load, dir .. "/bad.lua")
  T.truthy(not ok and diag.is_error(err), "a helua error")
  T.eq(err.line, 3, "anchored in the config file")
  T.truthy(tostring(err):find("bad.lua:3: helua.Config: num_stages = 12 is invalid", 1, true), "file:line")
end

T.test("save and load", function()
  local dir = tmpdir()
  local ok, err = pcall(save_and_load, dir)
  os.execute("rm -rf '" .. dir .. "'")
  if not ok then error(err, 0) end
end)

T.test("fragments", function()
  local p = Config.PowerOfTwoFragment(16, 256, 64)
  T.eq(p:default(), 64, "pow2 default")
  T.truthy(p:contains(128) and p:contains(16) and p:contains(256.0), "pow2 contains")
  T.truthy(not p:contains(8) and not p:contains(96) and not p:contains(512) and not p:contains("64"), "pow2 rejects")
  T.eq(p:describe(), "a power of two from 16 to 256 (default 64)", "pow2 describe")
  T.eq(tostring(p), "PowerOfTwoFragment(16, 256, 64)", "pow2 tostring")
  T.eq(Config.PowerOfTwoFragment(1, 8):default(), 1, "pow2 default defaults to lo")
  local i = Config.IntegerFragment(0, 4, 2)
  T.truthy(i:contains(0) and i:contains(3) and not i:contains(5) and not i:contains(1.5), "int contains")
  T.eq(i:describe(), "an integer from 0 to 4 (default 2)", "int describe")
  local e = Config.EnumFragment({"a", "b", 3}, "b")
  T.eq(e:default(), "b", "enum default")
  T.truthy(e:contains(3) and not e:contains("c"), "enum contains")
  T.eq(e:describe(), 'one of "a", "b", 3 (default "b")', "enum describe")
  T.eq(Config.EnumFragment({"x"}):default(), "x", "enum default defaults to the first")
  local b = Config.BooleanFragment(true)
  T.truthy(b:default() == true and b:contains(false) and not b:contains(0), "bool")
  T.eq(Config.BooleanFragment():default(), false, "bool default false")
  T.truthy(Config.is_fragment(b) and not Config.is_fragment({}), "is_fragment")
  T.eq(b.kind, "boolean", "kind")
end)

T.test("bad fragments", function()
  T.raises(function() Config.PowerOfTwoFragment(3, 8) end, "PowerOfTwoFragment: lo and hi must be powers of two, got 3 and 8")
  T.raises(function() Config.PowerOfTwoFragment(64, 16) end, "lo (64) is greater than hi (16)")
  T.raises(function() Config.PowerOfTwoFragment(16, 64, 32.5) end, "default must be an integer")
  T.raises(function() Config.PowerOfTwoFragment(16, 64, 128) end, "default 128 is not a power of two in [16, 64]")
  T.raises(function() Config.PowerOfTwoFragment("16", 64) end, "lo must be an integer")
  T.raises(function() Config.IntegerFragment(1, 0) end, "IntegerFragment: lo (1) is greater than hi (0)")
  T.raises(function() Config.IntegerFragment(0, 4, 9) end, "default 9 is not an integer in [0, 4]")
  T.raises(function() Config.EnumFragment({}) end, "EnumFragment: choices must be a non-empty list")
  T.raises(function() Config.EnumFragment({"a", "a"}) end, 'choice "a" is listed twice')
  T.raises(function() Config.EnumFragment({{}}) end, "choice 1 is a table")
  T.raises(function() Config.EnumFragment({"a"}, "b") end, 'default "b" is not one of the choices {"a"}')
  T.raises(function() Config.BooleanFragment(1) end, "BooleanFragment: default must be true or false, got 1")
end)

T.done()
