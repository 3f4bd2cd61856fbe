-- Error messages for kernel authors: every misuse raises with this file's name and line, the
-- source line, a caret and a hint. Part of tests/lua.
--
-- Each offending line carries a `--@tag` comment; expect(tag, fn, pieces...) finds that line and
-- checks that the error names "test_errors.lua:<line>:", shows the line's code and has a hint.
package.path = arg[0]:match("(.*/)") .. "?.lua;" .. package.path
local T = require "testing"
local helua = require "helua"
local hl = require "helua.language"

local function expect(tag, fn, ...) return T.raises_at(tag, fn, "hint: ", ...) end

local x = helua.randn({8, 6}, {seed = 1})
local y = helua.randn({6, 4}, {seed = 2})
local v1 = helua.randn({8}, {seed = 3})

T.test("wrong number of indices", function()
  local k = helua.kernel(function(a)
    for tm in hl.tile(a:size(1)) do
      local v = a[{tm}] --@nidx
    end
  end)
  expect("nidx", function() k(x) end, "wrong number of indices", "`a` has 2 dims but the index names 1",
    "\":\" takes a whole dim")
  local k2 = helua.kernel(function(a)
    for tm in hl.tile(a:size(1)) do
      hl.store(a, {tm, ":", 1}, 0) --@nidx_store
    end
  end)
  expect("nidx_store", function() k2(x) end, "has 2 dims but the index names 3")
  local k3 = helua.kernel(function(a)
    for tm in hl.tile(a:size(1)) do
      local r = a[{tm, ":"}]:sum(2)
      local s = r[{":", ":"}] --@nidx_value
    end
  end)
  expect("nidx_value", function() k3(x) end, "`r` has 1 dims but the subscript names 2")
end)

T.test("a tile used as a number", function()
  local function run(f) return helua.kernel(f)(x) end
  expect("tile_add", function() run(function(a)
    for tm in hl.tile(8) do
      local b = tm + 1 --@tile_add
    end
  end) end, "`tm` is a tile, not a number", "arithmetic (+)", ".begin")
  expect("tile_lt", function() run(function(a)
    for tm in hl.tile(8) do
      local b = tm < 4 --@tile_lt
    end
  end) end, "`tm` is a tile, not a number", "comparison (<)")
  expect("tile_concat", function() run(function(a)
    for tm in hl.tile(8) do
      print("tile " .. tm) --@tile_concat
    end
  end) end, "`tm` is a tile", "as a string")
  expect("tile_len", function() run(function(a)
    for tm in hl.tile(8) do
      local n = #tm --@tile_len
    end
  end) end, "`tm` is a tile", "with #")
  expect("tile_size", function() run(function(a)
    for tm in hl.tile(8) do
      local out = helua.empty({tm}) --@tile_size
    end
  end) end, "helua.empty: `tm` is a tile, not a number: it cannot be a size", "hl.zeros({tm}")
  expect("tile_bound", function() run(function(a)
    for tm in hl.tile(8) do
      for tk in hl.tile(tm) do end --@tile_bound
    end
  end) end, "hl.tile: `tm` is a tile, not an integer", "tm.index")
  expect("tile_field", function() run(function(a)
    for tm in hl.tile(8) do
      local s = tm.size --@tile_field
    end
  end) end, "a tile has no field 'size'", "tile fields: index, begin, last")
  expect("tile_value", function() run(function(a)
    for tm in hl.tile(8) do
      local e = hl.exp(tm) --@tile_value
    end
  end) end, "hl.exp: `tm` is a tile, not a device value", "tm.index")
end)

T.test("mismatched shapes in an op", function()
  local k = helua.kernel(function(a, b)
    for tm, tn in hl.tile({8, 6}, {block_size = 4}) do
      local v = a[{tm, tn}] + b[{":", ":"}] --@shape_add
    end
  end)
  expect("shape_add", function() k(x, y) end, "mismatched shapes in add: [4, 4] and [6, 4]",
    "broadcast")
  local k2 = helua.kernel(function(a, b)
    for tm in hl.tile(8, {block_size = 4}) do
      a[{tm, ":"}] = b[{":", ":"}] --@shape_store
    end
  end)
  expect("shape_store", function() k2(x, y) end, "mismatched shapes in a store",
    "the value is [6, 4] but the indexed region of `a` is [4, 6]")
  local k3 = helua.kernel(function(a, b)
    for tm in hl.tile(8, {block_size = 4}) do
      local d = hl.dot(a[{tm, ":"}], a[{tm, ":"}]) --@shape_dot
    end
  end)
  expect("shape_dot", function() k3(x, y) end, "mismatched shapes in hl.dot: [4, 6] and [4, 6]",
    "a's last dim must equal b's second-to-last")
  local k4 = helua.kernel(function(a)
    for tm in hl.tile(8, {block_size = 4}) do
      local w = hl.where(a[{tm, ":"}]:gt(0), a[{tm, ":"}], a[{":", 1}]) --@shape_where
    end
  end)
  expect("shape_where", function() k4(x) end, "mismatched shapes in hl.where: [4, 6] and [8]")
end)

T.test("`if` on a device value", function()
  local function run(f) return helua.kernel(f)(x) end
  expect("if_method", function() run(function(a)
    for tm in hl.tile(8) do
      local v = a[{tm, ":"}]
      if v:gt(0) then --@if_method
        v = v * 2
      end
    end
  end) end, "`if` on a device value is not allowed", "`v` holds a device value", "hl.where")
  expect("if_plain", function() run(function(a)
    for tm in hl.tile(8) do
      local m = a[{tm, ":"}]:amax()
      if m then --@if_plain
        m = m + 1
      end
    end
  end) end, "`if` on a device value", "`m`")
  expect("elseif", function() run(function(a)
    local flag = false
    for tm in hl.tile(8) do
      local v = a[{tm, 1}]
      if flag then
        v = v + 1
      elseif v:lt(0) then --@elseif
        v = -v
      end
    end
  end) end, "`elseif` on a device value")
  expect("while", function() run(function(a)
    for tm in hl.tile(8) do
      local v = a[{tm, 1}]
      while v:gt(100) do --@while
        v = v / 2
      end
    end
  end) end, "`while` on a device value")
  expect("until", function() run(function(a)
    for tm in hl.tile(8) do
      local v = a[{tm, 1}]
      repeat
        v = v / 2
      until v:lt(1) --@until
    end
  end) end, "`until` on a device value")
  expect("lt_op", function() run(function(a)
    for tm in hl.tile(8) do
      local v = a[{tm, 1}]
      local neg = v < 0 --@lt_op
    end
  end) end, "`<` cannot compare device values", "v:lt(x)", "hl.where")
  expect("eq_op", function() run(function(a)
    for tm in hl.tile(8) do
      local v, w = a[{tm, 1}], a[{tm, 2}]
      local same = v == w --@eq_op
    end
  end) end, "`==` cannot compare device values", ":eq(x)")
  -- host conditions inside device loops are fine, including metadata of device values (in
  -- interpret mode: when tracing, v:size(1) of a tile-shaped dim is the tile, not a number)
  local ok = helua.kernel(function(a, extra)
    for tm in hl.tile(8) do
      local v = a[{tm, 1}]
      if extra ~= nil and v.dtype == "float32" and v:size(1) > 0 then v = v + 1 end
    end
    return true
  end, {backend = "interpret"})
  T.eq(ok(x, 1), true, "host ifs run")
end)

T.test("an unknown dtype", function()
  local k = helua.kernel(function(a)
    for tm in hl.tile(8) do
      local acc = hl.zeros({tm}, hl.flaot32) --@hl_dtype
    end
  end)
  expect("hl_dtype", function() k(x) end, "helua.language has no 'flaot32'", "did you mean float32?")
  expect("host_dtype", function()
    local t = helua.zeros({3}, {dtype = "flaot32"}) --@host_dtype
  end, "unknown dtype 'flaot32'", "did you mean float32?", "float64, float32, float16")
  local k2 = helua.kernel(function(a)
    for tm in hl.tile(8) do
      local h = a[{tm, 1}]:to("half") --@to_dtype
    end
  end)
  expect("to_dtype", function() k2(x) end, "unknown dtype in to() 'half'", "dtypes: float64")
  expect("host_to", function()
    local t = x:to("floot64") --@host_to
  end, "unknown dtype in t:to() 'floot64'", "did you mean float64?")
end)

T.test("storing into something that is not a tensor", function()
  local k = helua.kernel(function(a)
    for tm in hl.tile(8) do
      local acc = hl.zeros({tm})
      acc[{tm}] = a[{tm, 1}] --@store_value
    end
  end)
  expect("store_value", function() k(x) end, "cannot store into `acc`", "a device value is not a tensor",
    "hl.where")
  local k2 = helua.kernel(function(a)
    local acc = 0
    for tm in hl.tile(8) do
      acc[{tm}] = a[{tm, 1}] --@store_number
    end
  end)
  expect("store_number", function() k2(x) end, "a number is not a tensor", "only host tensors")
  T.eq(debug.getmetatable(0), nil, "the number metatable is removed after the error")
  local k3 = helua.kernel(function(a)
    for tm in hl.tile(8) do
      local acc = hl.zeros({tm})
      hl.store(acc, {tm}, 1) --@store_hl
    end
  end)
  expect("store_hl", function() k3(x) end, "hl.store: `acc` is a device value, not a tensor")
end)

T.test("indexing out of range in host code", function()
  local t = helua.zeros({4, 3})
  expect("oob_get", function()
    local v = t[{5, 1}] --@oob_get
  end, "index 5 is out of range for dim 1 (size 4)", "1-based")
  expect("oob_set", function()
    t[{1, 4}] = 1 --@oob_set
  end, "index 4 is out of range for dim 2 (size 3)")
  expect("oob_neg", function()
    local v = t[{-5, 1}] --@oob_neg
  end, "index -5 is out of range for dim 1 (size 4)")
  expect("oob_zero", function()
    local v = t[{0, 1}] --@oob_zero
  end, "index 0 is out of range for dim 1")
  expect("oob_view", function()
    local v = t[{":", 7}] --@oob_view
  end, "index 7 is out of range for dim 2 (size 3)")
  expect("too_many", function()
    local v = t[{1, 1, 1}] --@too_many
  end, "too many indices: `t` has 2 dims but the index names 3")
end)

T.test("a bad config field", function()
  local fn = function(a) for tm in hl.tile(8) do end end
  expect("cfg_unknown", function()
    helua.kernel(fn, {config = {blok_sizes = {4}}}) --@cfg_unknown
  end, "unknown field blok_sizes", "did you mean block_sizes?")
  -- (Config's own type errors name the expected values; they carry no separate hint)
  T.raises_at("cfg_type", function()
    helua.kernel(fn, {config = helua.Config{num_warps = "four"}}) --@cfg_type
  end, "num_warps")
  local k = helua.kernel(fn)
  expect("cfg_run", function()
    k:bind(x):run({block_sizes = 16}, x) --@cfg_run
  end, "block_sizes", "{16}")
  local kc = helua.kernel(fn, {config = {split_k = 4}})
  expect("cfg_tunable", function()
    kc(x) --@cfg_tunable
  end, "the config sets tunable 'split_k', which the kernel does not register",
    "registers no tunables")
  local kt = helua.kernel(function(a)
    local s = hl.register_tunable("split_k", hl.PowerOfTwoFragment(1, 8, 2))
  end)
  expect("cfg_tunable2", function()
    kt:bind(x):run({splitk = 2}, x) --@cfg_tunable2
  end, "tunable 'splitk'", "did you mean split_k?")
  expect("cfg_slots", function()
    k:bind(x):run({block_sizes = {4, 4}}, x) --@cfg_slots
  end, "the config has 2 block_sizes but the kernel has 1 block-size slot")
end)

T.test("other misuse", function()
  expect("outside", function()
    for t in hl.tile(4) do end --@outside
  end, "hl.tile can only be used inside a running helua kernel", "helua.kernel")
  local k = helua.kernel(function(a)
    local acc = hl.zeros({8}) --@device_in_host
  end)
  expect("device_in_host", function() k(x) end, "hl.zeros is device code", "hl.tile or hl.grid loop")
  local k2 = helua.kernel(function(a)
    for tm in hl.tile(8) do
      local n = hl.register_block_size(8) --@host_in_device
    end
  end)
  expect("host_in_device", function() k2(x) end, "hl.register_block_size is host code")
  local k3 = helua.kernel(function(a)
    for tm in hl.tile(8) do
      local r = helua.matmul(a, a) --@host_op_in_device
    end
  end)
  expect("host_op_in_device", function() k3(x) end, "helua.matmul is host code")
  expect("kernel_opt", function()
    helua.kernel(function() end, {autotune_efort = "none"}) --@kernel_opt
  end, "unknown kernel option autotune_efort", "did you mean autotune_effort?")
  expect("backend", function()
    helua.kernel(function() end, {backend = "cpu", block_size = 4}) --@backend
  end, "block_size is interpret mode's block size", "give a config")
  expect("cuda", function()
    local t = helua.zeros({2}, {device = "cuda"}) --@cuda
  end, "cuda: unavailable (")
  expect("cuda_method", function()
    local t = x:cuda() --@cuda_method
  end, "cuda: unavailable")
  expect("host_opt", function()
    local t = helua.zeros({2}, {dtyp = "float32"}) --@host_opt
  end, "helua.zeros: unknown option 'dtyp'", "did you mean dtype?")
  local ki = helua.kernel(function(a) for tm in hl.tile(8) do end end, {backend = "interpret"})
  expect("compiler", function()
    ki:bind(x):autotune() --@compiler
  end, "autotune() needs a compiled kernel: this one runs in interpret mode")
  expect("hl_unknown", function()
    local f = hl.tiles --@hl_unknown
  end, "helua.language has no 'tiles'", "did you mean tile?")
  expect("tensor_method", function()
    local s = x:sizes() --@tensor_method
  end, "a tensor has no field or method 'sizes'", "did you mean size?")
  local k4 = helua.kernel(function(a)
    for tm in hl.tile(8) do
      local s = a[{tm, ":"}]:summ(2) --@value_method
    end
  end)
  expect("value_method", function() k4(x) end, "a device value has no field or method 'summ'",
    "did you mean sum?")
  local k5 = helua.kernel(function(a)
    local q
    for tm in hl.tile(8) do
      local z = q.foo --@raw
    end
  end)
  expect("raw", function() k5(x) end, "attempt to index a nil value", "the variable is nil")
  local k6 = helua.kernel(function(a)
    for tm in hl.tile(8) do
      local v = a[{tm, ":"}] + v1 --@host_in_op
    end
  end)
  expect("host_in_op", function() k6(x) end, "is a host tensor", "load a tile of it first")
  local k7 = helua.kernel(function(a)
    for tm in hl.tile(8, {blocksize = 4}) do end --@tile_opt
  end)
  expect("tile_opt", function() k7(x) end, "hl.tile: unknown option 'blocksize'", "did you mean block_size?")
  local k8 = helua.kernel(function(a)
    for tm in hl.tile(8) do
      local v = a[{tm, "all"}] --@bad_index
    end
  end)
  expect("bad_index", function() k8(x) end, "unknown index 'all'", "\":\"")
  local k9 = helua.kernel(function(a)
    for tm in hl.tile(8) do
      local v = a[{tm, 1.5}] --@float_index
    end
  end)
  expect("float_index", function() k9(x) end, "index 1.5 is not an integer")
end)

T.test("state is clean after errors", function()
  T.eq(require("helua.active").current(), nil, "no kernel left running")
  T.eq(debug.gethook(), nil, "no hook left installed")
  T.eq(debug.getmetatable(0), nil, "no number metatable left")
end)

T.done()
