-- The tracer (lua/helua/trace.lua): every kernel in kernels/ traces to IR that verifies, the IR
-- text of small kernels, loop-carried locals, kernel arguments found in locals, upvalues and
-- globals, block-size slots, and the dialect's errors (with file:line) while tracing. Needs no
-- compiler: bk:code(nil, "ir") traces. Part of tests/lua.
package.path = arg[0]:match("(.*/)") .. "?.lua;" .. package.path
local T = require "testing"
local helua = require "helua"
local hl = require "helua.language"
local run = require "helua.run"
local kernel = require "helua.kernel"

local line_of = T.line_of

-- The IR text of kernel k traced with args.
local function ir(k, ...) return k:bind(...):code(nil, "ir") end

-- Tracing k(...) raises at the line tagged --@tag, shows it, has a hint and the pieces.
local function expect(tag, k, args, ...)
  return T.raises_at(tag, function() ir(k, table.unpack(args)) end, "hint: ", ...)
end

local x = helua.randn({8, 6}, {seed = 1})
local y = helua.randn({6, 4}, {seed = 2})

-- ---- every kernel -----------------------------------------------------------------------------

for _, f in ipairs(T.kernel_files()) do
  local d = run.load(f)
  for _, e in ipairs(d.entries) do
    T.test(f .. " " .. e.name .. " traces to verified IR", function()
      for _, size in ipairs({"tiny", "small"}) do
        local args = run.inputs(e, run.size(d, size), 0)
        local bk = e.kernel:bind(table.unpack(args, 1, args.n))
        local text = bk:code(nil, "ir")
        T.truthy(text:find("^kernel "), "IR text")
        local v = bk.variants[1]
        T.eq(v.func:verify(), true, "verifies")
        T.truthy(#v.args > 0, "has tensor arguments")
        T.eq(bk:code(nil, "ir"), text, "the same text again (no retrace)")
      end
    end)
  end
end

-- ---- IR text -----------------------------------------------------------------------------------

local exp_kernel = helua.kernel(function(a)
  local out = helua.empty_like(a)
  for t in hl.tile(a:size(1)) do --@exp_for
    out[t] = a[t]:exp() --@exp_body
  end
  return out
end)

T.test("the IR text of a 1-D exp", function()
  local l1, l2 = line_of("exp_for"), line_of("exp_body")
  local text = ir(exp_kernel, helua.randn({37}))
  local want = ([[
kernel exp_kernel
  arg %a : tensor float32[37] strides [1]  # test_trace.lua:L2
  arg %out : tensor float32[37] strides [1]  # test_trace.lua:L2
  block B0 : tile extent 37 range [1, 64]  # test_trace.lua:L1
{
  %0 = const 0 : int64  # test_trace.lua:L1
  %1 = const 37 : int64  # test_trace.lua:L1
  tile %t = [%0, %1) block B0 {  # test_trace.lua:L1
    %4 = load %a[%t] : float32[B0]  # test_trace.lua:L2
    %5 = exp %4 : float32[B0]  # test_trace.lua:L2
    store %out[%t], %5  # test_trace.lua:L2
  }
}
]]):gsub("L1", tostring(l1)):gsub("L2", tostring(l2))
  T.eq(text, want, "text")
end)

T.test("matmul: carried accumulator, dot, cast on store", function()
  local d = run.load("kernels/matmul.lua")
  local e = d.entries[1]
  local text = ir(e.kernel, helua.randn({7, 9}, {dtype = "float16"}), helua.randn({9, 5}, {dtype = "float16"}))
  for _, piece in ipairs({
    "block B0 : tile extent 7 range [1, 8]", "block B1 : tile extent 5 range [1, 8]",
    "block B2 : tile extent 9 range [1, 16]",
    "tile %tm = [%0, %1) block B0, %tn = [%0, %2) block B1 {",
    "%acc = full 0.0 : float32[B0, B1]",
    "carry (%acc.1 = %acc : float32[B0, B1])",
    "dot %", ", %acc.1 : float32[B0, B1]", "yield %acc.2",
    "cast %acc.3 : float16[B0, B1]", "store %out[%tm, %tn]",
  }) do
    T.truthy(text:find(piece, 1, true), "has " .. piece .. "\n" .. text)
  end
end)

T.test("softmax_two_pass: registered block sizes shared by two loops, two carried values", function()
  local d = run.load("kernels/softmax.lua")
  local text = ir(d.entries[3].kernel, helua.randn({5, 7}, {dtype = "float16"}))
  T.truthy(text:find("block B0 : registered extent 5 range [1, 5]", 1, true), text)
  T.truthy(text:find("block B1 : registered extent 7 range [1, 7]", 1, true), text)
  local _, loops = text:gsub("block B1 ", "")
  T.eq(loops, 3, "the header and both inner loops use B1")
  T.truthy(text:find("%mi.2, %di.3 = tile %tn", 1, true), "both carried\n" .. text)
  T.truthy(text:find("yield %mi_next, %di.2", 1, true), "yields named after the locals\n" .. text)
end)

T.test("matmul_split_k: a tunable, a fixed block size, tile fields as loop bounds", function()
  local d = run.load("kernels/matmul_split_k.lua")
  local e = d.entries[1]
  local args = run.inputs(e, run.size(d, "tiny"), 0)
  local text = ir(e.kernel, table.unpack(args, 1, args.n))
  T.truthy(text:find('tunable T0 "split_k" : int64 fragment "PowerOfTwoFragment(1, 256, 8)"', 1, true), text)
  T.truthy(text:find("%outer_k = [%1, %4) block 8 {", 1, true), "fixed block size\n" .. text)
  T.truthy(text:find("tile %inner_k = [%9, %12) block B2", 1, true), "tile_begin / tile_end bounds\n" .. text)
  T.truthy(text:find("atomic_add %out[%tm, %tn]", 1, true), text)
end)

T.test("indices: grid, gathers and tile.index are 0-based in the IR", function()
  local k = helua.kernel(function(ids, w, out)
    for i in hl.grid(ids:size(1)) do
      local id = ids[i]
      for td in hl.tile(w:size(2)) do
        out[{i, td}] = w[{id, td}] + td.index:to(hl.float32)
      end
    end
  end)
  local ids = helua.tensor({3, 1, 2})
  local text = ir(k, ids, helua.randn({4, 5}), helua.zeros({3, 5}))
  T.truthy(text:find("grid %i = [%0, %1) {", 1, true), "grid from 0\n" .. text)
  T.truthy(text:find("load %ids[%i]", 1, true), "the grid index is the IR index\n" .. text)
  T.truthy(text:find("= sub %id, ", 1, true), "a loaded id is 1-based: minus one\n" .. text)
  T.truthy(text:find("tile_index %td", 1, true), text)
end)

-- ---- loop-carried values -------------------------------------------------------------------

T.test("carried locals: changed ones carried, unchanged ones pruned, results patched back", function()
  local seen = {}
  local k = helua.kernel(function(a, out)
    local m, n = a:size()
    for tm in hl.tile(m) do
      local acc = hl.zeros({tm}, hl.float32)
      local keep = hl.full({tm}, 2, hl.float32)
      local alias = acc
      for tn in hl.tile(n) do
        acc = acc + a[{tm, tn}]:sum(2)
      end
      seen.after = acc
      seen.keep = keep
      seen.alias = alias
      out[tm] = acc * keep + alias
    end
  end)
  local text = ir(k, x, helua.zeros({8}))
  T.truthy(text:find("%acc.3 = tile %tn", 1, true), "one result: acc\n" .. text)
  T.truthy(not text:find("%keep.1", 1, true), "keep is loop-invariant: pruned\n" .. text)
  T.truthy(text:find("mul %acc.3, %keep", 1, true), "after the loop acc is the result, keep the init\n" .. text)
  T.truthy(text:find("add %", 1, true) and text:find(", %acc :", 1, true) or text:find(", %acc\n", 1, true)
    or text:find("%acc : float32[B0]", 1, true), "alias still holds the init\n" .. text)
end)

T.test("nested carried values across three loop levels", function()
  local k = helua.kernel(function(a, out)
    local m, n = a:size()
    for tm in hl.tile(m) do
      local total = hl.zeros({tm}, hl.float32)
      for _ = 1, 2 do
        for tn in hl.tile(n) do
          total = total + a[{tm, tn}]:sum(2)
        end
      end
      out[tm] = total
    end
  end)
  local text = ir(k, x, helua.zeros({8}))
  local _, carried = text:gsub("carry %(", "")
  T.eq(carried, 2, "the unrolled Lua loop makes two carried inner loops\n" .. text)
  local _, slots = text:gsub("\n  block B", "")
  T.eq(slots, 3, "each hl.tile loop traced has its own slot\n" .. text)
end)

T.test("two top-level nests make one IR function; block ends between them are fine", function()
  local k = helua.kernel(function(a, flag)
    local m, n = a:size()
    local out = helua.empty({m, n})
    local rows = helua.empty({m})
    if flag then
      for tm in hl.tile(m) do out[{tm, ":"}] = a[{tm, ":"}] * 2 end
    else
      for tm in hl.tile(m) do out[{tm, ":"}] = a[{tm, ":"}] end
    end
    for tm in hl.grid(m) do rows[tm] = a[{tm, ":"}]:sum() end
    return out, rows
  end)
  for _, flag in ipairs({true, false}) do
    local text = ir(k, x, flag)
    local _, tiles = text:gsub("\n  tile ", "")
    local _, grids = text:gsub("\n  grid ", "")
    T.eq(tiles + grids, 2, "two top-level nests\n" .. text)
    T.eq(select(2, text:gsub("kernel ", "")), 1, "one function")
  end
end)

-- ---- kernel arguments --------------------------------------------------------------------------

local up_weight = helua.randn({6}, {seed = 5})
glob_bias = helua.randn({6}, {seed = 6}) -- luacheck: ignore (a global on purpose)

T.test("tensors from upvalues, globals, tables and views become arguments", function()
  local params = {scale = helua.randn({6}, {seed = 7})}
  local k = helua.kernel(function(a)
    local m, n = a:size()
    local out = helua.empty({m, n})
    local flat = a:view({m * n})
    for tm in hl.tile(m) do
      local row = a[{tm, ":"}] * up_weight[{":"}] + glob_bias[{":"}] * params.scale[{":"}]
      out[{tm, ":"}] = row + flat[tm.index]:unsqueeze(2)
    end
    return out
  end)
  local bk = k:bind(x)
  local text = bk:code(nil, "ir")
  for _, name in ipairs({"%a :", "%up_weight :", "%glob_bias :", "%params_scale :", "%flat :", "%out :"}) do
    T.truthy(text:find("arg " .. name, 1, true), "argument " .. name .. "\n" .. text)
  end
  local kinds = {}
  for _, a in ipairs(bk.variants[1].args) do kinds[a.loc.name] = a.loc.kind end
  T.eq(kinds.a, "local", "a parameter is a local")
  T.eq(kinds.up_weight, "upvalue", "upvalue")
  T.eq(kinds.glob_bias, "global", "global")
  T.eq(kinds.params_scale, "upvalue", "a field of an upvalue table")
  T.eq(kinds.out, "local", "a host allocation")
end)

T.test("the same tensor twice is one argument, with the other place as an alias", function()
  local k = helua.kernel(function(a, b)
    local out = helua.empty_like(a)
    for tm in hl.tile(a:size(1)) do
      out[{tm, ":"}] = a[{tm, ":"}] + b[{tm, ":"}]
    end
    return out
  end)
  local bk = k:bind(x, x)
  local text = bk:code(nil, "ir")
  local _, nargs = text:gsub("\n  arg ", "")
  T.eq(nargs, 2, "a (also b) and out\n" .. text)
  T.eq(#(bk.variants[1].args[1].aliases or {}), 1, "b is an alias of a")
end)

-- ---- block sizes, configs -------------------------------------------------------------------------

T.test("block-size slots follow Helion's order; a config's tunable value is traced in", function()
  local k = helua.kernel(function(a)
    local m, n = a:size()
    local bn = hl.register_block_size(4, 64)
    local s = hl.register_tunable("scale", hl.IntegerFragment(1, 8, 2))
    local out = helua.empty({m, n})
    for tm in hl.tile(m) do
      for tn in hl.tile(n, {block_size = bn}) do
        out[{tm, tn}] = a[{tm, tn}] * s
      end
    end
    return out
  end)
  local text = ir(k, x)
  T.truthy(text:find("block B0 : registered extent 64 range [4, 64]", 1, true), text)
  T.truthy(text:find("block B1 : tile extent 8 range [1, 8]", 1, true), text)
  T.truthy(text:find("const 2.0 : float32", 1, true), "the tunable's default\n" .. text)
  local b = k:bind(x)
  local t3 = b:code(helua.Config{scale = 3}, "ir")
  T.truthy(t3:find("const 3.0 : float32", 1, true), "a config's value\n" .. t3)
  T.eq(#b.variants, 2, "one trace per tunable value")
  T.eq(b:code(helua.Config{scale = 2}, "ir"), text, "the first trace again")
end)

T.test("code(): stages, errors, trace counts", function()
  local bk = exp_kernel:bind(helua.randn({16}))
  local before = kernel.stats.traces
  bk:code()
  bk:code("ir")
  bk:code(nil, "ir")
  T.eq(kernel.stats.traces - before, 1, "traced once")
  T.raises(function() bk:code(nil, "irr") end, "unknown code stage 'irr'", "did you mean ir?")
  T.truthy(bk:code(nil, "ptx"):find(".entry", 1, true), "ptx without a GPU")
  if not require("helua.core").compile then
    T.raises(function() bk:code(nil, "llvm") end, "needs the compiler")
  end
  T.raises(function() exp_kernel:bind(helua.randn({3})):code({block_sizes = {4, 4}}, "ir") end,
    "the config has 2 block_sizes but the kernel has 1 block-size slot")
end)

-- ---- cached calls (with a recording stand-in for core.compile) ---------------------------------

-- Runs fn with core.compile replaced by one whose kernels record their launches' arguments.
local function with_recording_compiler(fn)
  local core = require "helua.core"
  local real = core.compile
  local launches, compiles = {}, {}
  core.compile = function(f, cfg, target)
    compiles[#compiles + 1] = {func = f, cfg = cfg, target = target}
    return {launch = function(_, args)
      local copy = {}
      for i, t in ipairs(args) do copy[i] = t end
      launches[#launches + 1] = copy
    end, code = function(_, stage) return "(" .. stage .. ")" end}
  end
  local ok, err = pcall(fn, launches, compiles)
  core.compile = real
  if not ok then error(err, 0) end
end

T.test("cached calls launch with this call's tensors and skip the bodies", function()
  with_recording_compiler(function(launches, compiles)
    local body_runs = 0
    local k = helua.kernel(function(a, b)
      local out = helua.empty_like(a)
      for tm in hl.tile(a:size(1)) do
        body_runs = body_runs + 0 -- (a host upvalue: read, not changed)
        out[{tm, ":"}] = a[{tm, ":"}] + b[{tm, ":"}]
      end
      return out
    end, {backend = "cpu"})
    local traces = kernel.stats.traces
    local a1, b1 = helua.randn({8, 6}), helua.randn({8, 6})
    local o1 = k(a1, b1)
    T.eq(#launches, 1, "the first call launches")
    T.truthy(rawequal(launches[1][1], a1) and rawequal(launches[1][2], b1) and rawequal(launches[1][3], o1),
      "with its tensors")
    T.eq(compiles[1].target, "cpu", "compiled for the cpu")
    T.truthy(type(compiles[1].cfg.block_sizes) == "table", "with the space's default config")
    local a2, b2 = helua.randn({8, 6}), helua.randn({8, 6})
    local o2 = k(a2, b2)
    T.eq(#launches, 2, "the second call launches")
    T.truthy(rawequal(launches[2][1], a2) and rawequal(launches[2][2], b2) and rawequal(launches[2][3], o2),
      "with the second call's tensors, found where the trace found them")
    T.eq(kernel.stats.traces - traces, 1, "one trace for both calls")
    T.eq(#compiles, 1, "one compile")
    k(a2, a2)
    T.eq(kernel.stats.traces - traces, 1, "the same tensor for both parameters: no trace")
    T.truthy(rawequal(launches[3][1], a2) and rawequal(launches[3][2], a2), "launched with it twice")
    local nc = helua.randn({6, 8}):transpose(1, 2)
    k(a1, nc)
    T.eq(kernel.stats.traces - traces, 2, "other strides: another key, traced")
    T.eq(#launches, 4, "every call launched once")
    k:bind(a1, b1):run({block_sizes = {4}}, a1, b1)
    T.eq(#compiles, 3, "a config compiles once more")
    T.eq(compiles[3].cfg.block_sizes[1], 4, "with the config's block size")
    k:bind(a1, b1):run({block_sizes = {4}}, a1, b1)
    T.eq(#compiles, 3, "and is cached")
    T.eq(k:bind(a1, b1):code(nil, "llvm"), "(llvm)", "other stages come from the compiled kernel")
  end)
end)

T.test("a host allocation that changes under the same key retraces instead of launching wrong", function()
  with_recording_compiler(function(launches)
    local n = 4
    local k = helua.kernel(function(a)
      local out = helua.zeros({n})
      for t in hl.tile(n) do out[t] = a[t] end
      return out
    end, {backend = "cpu"})
    local a = helua.randn({8})
    local traces = kernel.stats.traces
    k(a)
    n = 6
    local out = k(a)
    T.eq(kernel.stats.traces - traces, 2, "traced again")
    T.eq(out:numel(), 6, "the new allocation")
    T.truthy(rawequal(launches[2][2], out), "launched with it")
    T.eq(#k:bind(a).variants, 2, "two variants")
    n = 4
    k(a)
    T.eq(kernel.stats.traces - traces, 2, "the first variant fits again")
  end)
end)

T.test("one launch per call for two nests, before the host code after them; interpret wins", function()
  with_recording_compiler(function(launches)
    local seen = {}
    local fn = function(a)
      local out = helua.empty_like(a)
      local rows = helua.empty({a:size(1)})
      for tm in hl.tile(a:size(1)) do out[{tm, ":"}] = a[{tm, ":"}] end
      for i in hl.grid(a:size(1)) do rows[i] = a[{i, ":"}]:sum() end
      seen[#seen + 1] = #launches
      return out, rows
    end
    local k = helua.kernel(fn, {backend = "cpu"})
    k(x)
    k(x)
    T.eq(#launches, 2, "one launch per call")
    T.eq(seen[1], 1, "the first call launched before its host code after the loops")
    T.eq(seen[2], 2, "so did the cached call")
    T.eq(#launches[1], 3, "a, out, rows")
    local ki = helua.kernel(fn, {backend = "cpu", interpret = true})
    ki(x)
    T.eq(#launches, 2, "interpret = true runs eagerly")
    T.eq(kernel.mode(helua.kernel(fn, {backend = "auto"}).settings), kernel.AUTO_COMPILES and "cpu" or "interpret",
      "auto")
  end)
end)

-- ---- errors while tracing --------------------------------------------------------------------

T.test("dialect errors while tracing point at the kernel's line", function()
  expect("t_nidx", helua.kernel(function(a)
    for tm in hl.tile(a:size(1)) do
      local v = a[{tm}] --@t_nidx
    end
  end), {x}, "wrong number of indices", "`a` has 2 dims but the index names 1")
  expect("t_tile_add", helua.kernel(function(a)
    for tm in hl.tile(8) do
      local b = tm + 1 --@t_tile_add
    end
  end), {x}, "`tm` is a tile, not a number", "arithmetic (+)")
  expect("t_shape", helua.kernel(function(a, b)
    for tm, tn in hl.tile({8, 6}, {block_size = 4}) do
      local v = a[{tm, tn}] + b[{":", ":"}] --@t_shape
    end
  end), {x, y}, "mismatched shapes in add: [4, 4] and [6, 4]")
  expect("t_shape_sym", helua.kernel(function(a)
    for tm in hl.tile(8) do
      for tn in hl.tile(6) do
        local v = a[{tm, tn}] + a[{tn, tm}] --@t_shape_sym
      end
    end
  end), {x}, "mismatched shapes in add: [B0, B1] and [B1, B0]")
  expect("t_store_shape", helua.kernel(function(a, b)
    for tm in hl.tile(8, {block_size = 4}) do
      a[{tm, ":"}] = b[{":", ":"}] --@t_store_shape
    end
  end), {x, y}, "mismatched shapes in a store", "the value is [6, 4] but the indexed region of `a` is [4, 6]")
  expect("t_if", helua.kernel(function(a)
    for tm in hl.tile(8) do
      local v = a[{tm, ":"}]
      if v:gt(0) then --@t_if
        v = v * 2
      end
    end
  end), {x}, "`if` on a device value is not allowed", "hl.where")
  expect("t_store_value", helua.kernel(function(a)
    for tm in hl.tile(8) do
      local acc = hl.zeros({tm})
      acc[{tm}] = a[{tm, 1}] --@t_store_value
    end
  end), {x}, "cannot store into `acc`")
  expect("t_store_number", helua.kernel(function(a)
    local acc = 0
    for tm in hl.tile(8) do
      acc[{tm}] = a[{tm, 1}] --@t_store_number
    end
  end), {x}, "a number is not a tensor")
  expect("t_device_in_host", helua.kernel(function(a)
    local acc = hl.zeros({8}) --@t_device_in_host
  end), {x}, "hl.zeros is device code")
  expect("t_host_in_device", helua.kernel(function(a)
    for tm in hl.tile(8) do
      local n = hl.register_block_size(8) --@t_host_in_device
    end
  end), {x}, "hl.register_block_size is host code")
  expect("t_method", helua.kernel(function(a)
    for tm in hl.tile(8) do
      local s = a[{tm, ":"}]:summ(2) --@t_method
    end
  end), {x}, "a device value has no field or method 'summ'", "did you mean sum?")
  expect("t_raw", helua.kernel(function(a)
    local q
    for tm in hl.tile(8) do
      local z = q.foo --@t_raw
    end
  end), {x}, "attempt to index a nil value")
  expect("t_lt", helua.kernel(function(a)
    for tm in hl.tile(8) do
      local v = a[{tm, 1}]
      local neg = v < 0 --@t_lt
    end
  end), {x}, "`<` cannot compare device values")
end)

T.test("errors only tracing can find", function()
  expect("t_between", helua.kernel(function(a)
    local out = helua.empty_like(a)
    for tm in hl.tile(8) do out[{tm, ":"}] = a[{tm, ":"}] end
    local twice = helua.empty_like(a)
    for tm in hl.tile(8) do twice[{tm, ":"}] = out[{tm, ":"}] * 2 end --@t_between
    return twice
  end), {x}, "host statements between top-level loop nests", "local twice = helua.empty_like(a)")
  expect("t_break", helua.kernel(function(a)
    for tm in hl.tile(8) do --@t_break
      if a:size(1) > 2 then break end
    end
  end), {x}, "`break` or `return` inside this device loop")
  expect("t_carry_type", helua.kernel(function(a)
    for tm in hl.tile(8) do
      local acc = hl.zeros({tm}, hl.float16)
      for tn in hl.tile(6) do --@t_carry_type
        acc = acc + a[{tm, tn}]:sum(2)
      end
    end
  end), {x}, "the loop-carried `acc` is float16[B0] before the loop but float32[B0]")
  expect("t_nil_to_value", helua.kernel(function(a)
    for tm in hl.tile(8) do
      local last
      for tn in hl.tile(6) do --@t_nil_to_value
        last = a[{tm, tn}]
      end
    end
  end), {x}, "`last` is assigned a device value inside the loop but holds nil before it")
  expect("t_host_change", helua.kernel(function(a)
    local count = 0
    for tm in hl.tile(8) do --@t_host_change
      count = count + 1
    end
  end), {x}, "the host value `count` changes inside a device loop")
  local function make_view(t) return t:view({48}) end
  expect("t_lost_tensor", helua.kernel(function(a)
    for tm in hl.tile(8) do
      local v = make_view(a)[tm.index] --@t_lost_tensor
    end
  end), {x}, "device code reads a tensor that the compiled kernel cannot find")
end)

T.test("state is clean after errors", function()
  T.eq(require("helua.active").current(), nil, "no kernel left running")
  T.eq(debug.gethook(), nil, "no hook left installed")
  T.eq(debug.getmetatable(0), nil, "no number metatable left")
end)

T.done()
