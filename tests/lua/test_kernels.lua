-- Every kernel of every file in kernels/ against its float64 reference: at the file's small size,
-- and with interpret-mode block sizes 3, 16 and "full" (small) and 1 (tiny). Also the kernel-file
-- convention itself (helua.run: describe, sizes, selection). Part of tests/lua.
package.path = arg[0]:match("(.*/)") .. "?.lua;" .. package.path
local T = require "testing"
local run = require "helua.run"
local helua = require "helua"

local files = T.kernel_files()

T.test("kernels/ has the example kernels", function()
  local want = {"add", "add_broadcast", "exp", "sum", "long_sum", "long_sum_manual", "softmax",
                "softmax_decomposed", "softmax_two_pass", "rms_norm", "layer_norm", "cross_entropy",
                "matmul", "matmul_bias", "matmul_bias_relu", "bmm", "matmul_split_k", "attention",
                "attention_causal", "embedding", "embedding_grid"}
  local have = {}
  for _, f in ipairs(files) do
    for _, e in ipairs(run.load(f).entries) do have[e.name] = f end
  end
  for _, name in ipairs(want) do T.truthy(have[name], "a kernel named " .. name) end
end)

for _, f in ipairs(files) do
  local ok, d = pcall(run.load, f)
  T.test(f .. " loads and has default, small and tiny sizes", function()
    if not ok then error(tostring(d)) end
    T.truthy(d.sizes.small, "sizes.small")
    T.truthy(d.sizes.tiny, "sizes.tiny")
  end)
  if ok then
    for _, e in ipairs(d.entries) do
      T.test(f .. " " .. e.name .. " small", function()
        T.close(run.check(e, run.size(d, "small"), 0), "default block size")
        for _, bs in ipairs({3, 16, "full"}) do
          T.close(run.check(e, run.size(d, "small"), 1, {block_size = bs}), "block size " .. bs)
        end
      end)
      T.test(f .. " " .. e.name .. " tiny, block size 1", function()
        T.close(run.check(e, run.size(d, "tiny"), 2, {block_size = 1}), "block size 1")
      end)
      collectgarbage("collect")
    end
  end
end

-- ---- the convention (helua.run) --------------------------------------------------------------

local function fake_kernel(fn)
  return setmetatable({}, {__call = function(_, ...) return fn(...) end})
end

T.test("describe: a file that returns no table", function()
  T.raises(function() run.describe(nil, "k.lua") end, "k.lua returned nothing",
           "must return a table like")
  T.raises(function() run.describe(42, "k.lua") end, "returned a number")
  T.raises(function() run.describe({sizes = {default = {}}}, "k.lua") end, "no `kernels` list")
  T.raises(function()
    run.describe({kernels = {{name = "a", kernel = fake_kernel(print)}}}, "k.lua")
  end,
           "sizes = {default")
end)

T.test("describe: entries and file-level defaults", function()
  local k = fake_kernel(function(x) return x end)
  local d = run.describe({
    kernels = {{name = "a", kernel = k}, {name = "b", kernel = k, tolerance = {rtol = 0.5}}},
    sizes = {default = {n = 4}},
    inputs = function() return 1 end,
    reference = function(x) return x end,
    tolerance = {rtol = 0.1, atol = 0.2},
  }, "kernels/x.lua")
  T.eq(d.name, "x", "name from the path")
  T.eq(#d.entries, 2, "entries")
  T.eq(d.entries[1].tolerance.atol, 0.2, "file tolerance")
  T.eq(d.entries[2].tolerance.rtol, 0.5, "entry tolerance")
  T.raises(function()
    run.describe({kernels = {{name = "a", kernel = 3}}, sizes = {default = {}}}, "k.lua")
  end, "helua.kernel")
  T.raises(function()
    run.describe({kernels = {{name = "a", kernel = k}}, sizes = {default = {}}, reference = print},
                 "k.lua")
  end, "no `inputs")
  -- a map name -> kernel is accepted, in name order
  local m = run.describe({kernels = {zeta = k, alpha = k}, sizes = {default = {}},
                          inputs = print, reference = print}, "k.lua")
  T.eq(m.entries[1].name, "alpha", "map order")
end)

T.test("sizes: names, overrides, errors", function()
  local d = {path = "k.lua", sizes = {default = {m = 8, n = 4}, small = {m = 2, n = 3}}}
  local s, name = run.size(d, nil)
  T.eq(s.m, 8, "default m"); T.eq(name, "default", "default name")
  s = run.size(d, "small,n=5")
  T.eq(s.m, 2, "small m"); T.eq(s.n, 5, "override n")
  s = run.size(d, "m=16")
  T.eq(s.m, 16, "override on default"); T.eq(s.n, 4, "default n kept")
  T.raises(function() run.size(d, "smal") end, "no size named smal", "did you mean small?")
  T.raises(function() run.size(d, "q=3") end, "no dimension q", "m, n")
  T.raises(function() run.size(d, "m=0") end, "positive integer")
  T.eq(run.size_label({n = 3, m = 2}), "m=2 n=3", "label")
end)

T.test("select: by name, with did-you-mean", function()
  local d = {path = "k.lua", entries = {{name = "softmax"}, {name = "softmax_two_pass"}}}
  T.eq(#run.select(d, nil), 2, "all")
  T.eq(run.select(d, "softmax_two_pass")[1].name, "softmax_two_pass", "one")
  T.raises(function() run.select(d, "softmx") end, "no kernel named softmx",
           "did you mean softmax?")
end)

T.test("compare: planted errors fail, counts and shapes are checked", function()
  local x = helua.randn({4, 5}, {dtype = helua.float32, seed = 3})
  local tol = {rtol = 1e-5, atol = 1e-6}
  T.truthy(run.compare({n = 1, x}, {n = 1, x:to(helua.float64)}, tol).ok, "equal")
  local r = run.compare({n = 1, x + 1e-3}, {n = 1, x}, tol)
  T.truthy(not r.ok, "planted error fails")
  T.near(r.max_abs, 1e-3, 1e-3, "max abs err")
  T.truthy(run.compare({n = 1, x}, {n = 2, x, x}, tol).message:find("returned 1 value"), "count")
  T.truthy(run.compare({n = 1, x}, {n = 1, x:transpose(1, 2)}, tol).message:find("shape"), "shape")
end)

T.test("--block-size reaches the kernel's tiles", function()
  local d = run.load("kernels/matmul.lua")
  local e = run.select(d, "matmul")[1]
  local args = run.inputs(e, run.size(d, "small"), 0)
  local function used(bs)
    run.call(e, args, {block_size = bs})
    local bound = run.with_block_size(e.kernel, bs):bind(table.unpack(args, 1, args.n))
    return table.concat(bound:default_config().block_sizes, ",")
  end
  T.eq(used(3), "3,3,3", "block size 3")
  T.eq(used(16), "16,16,16", "block size 16")
  T.eq(used("full"), "64,40,48", "full block sizes (m, n, k)")
  T.truthy(run.with_block_size(e.kernel, 3) == run.with_block_size(e.kernel, 3), "cached")
end)

T.test("matmul_split_k: every split_k from the config gives the reference", function()
  local d = run.load("kernels/matmul_split_k.lua")
  local e = d.entries[1]
  local args = run.inputs(e, run.size(d, "small"), 0)
  local want = table.pack(e.reference(table.unpack(args, 1, args.n)))
  local bound = e.kernel:bind(table.unpack(args, 1, args.n))
  for _, split_k in ipairs({1, 2, 4, 16, 256}) do
    local cfg = helua.Config{split_k = split_k}
    local got = table.pack(bound:run(cfg, table.unpack(args, 1, args.n)))
    local r = run.compare(got, want, e.tolerance)
    T.truthy(r.ok, "split_k " .. split_k .. " (max abs err " .. tostring(r.max_abs) .. ")")
  end
end)

T.test("check shares inputs and references through a cache", function()
  local d = run.load("kernels/softmax.lua")
  local cache = {}
  for _, e in ipairs(d.entries) do
    T.truthy(run.check(e, run.size(d, "tiny"), 0, {cache = cache}).ok, e.name)
  end
  local n = 0
  for _ in pairs(cache.inputs) do n = n + 1 end
  T.eq(n, 1, "one set of inputs for the three softmax kernels")
end)

T.test("parse_args", function()
  local o = run.parse_args({"k.lua", "--size", "small", "--block-size=full", "--repeat", "2",
                            "--seed", "7", "--kernel", "a,b"})
  T.eq(o.file, "k.lua", "file"); T.eq(o.size, "small", "size"); T.eq(o.block_size, "full", "bs")
  T.eq(o.repeats, 2, "repeat"); T.eq(o.seed, 7, "seed"); T.eq(o.kernel, "a,b", "kernel")
  T.eq(run.parse_args({"--block-size", "16"}).block_size, 16, "numeric block size")
  T.raises(function() run.parse_args({"--block-size", "0"}) end, "positive integer or full")
  T.raises(function() run.parse_args({"--repeat", "x"}) end, "--repeat must be a positive integer")
  T.raises(function() run.parse_args({"--sise", "3"}) end, "unknown option --sise",
           "did you mean --size?")
  T.raises(function() run.parse_args({"--size"}) end, "--size needs a value")
  T.raises(function() run.parse_args({"a.lua", "b.lua"}) end, "one FILE")
end)

T.test("a run variant keeps only the kernel's explicit options (no tuning turned on)", function()
  local kernel = require "helua.kernel"
  local e = run.load("kernels/add.lua").entries[1]
  local k = run.with_settings(e.kernel, {backend = "cpu"})
  T.truthy(not kernel.tunes_on_call(k), "a default autotune_effort stays a default")
  T.eq(k.settings.backend, "cpu")
  local explicit = helua.kernel(e.kernel.fn, {autotune_effort = "none"})
  local k2 = run.with_settings(explicit, {backend = "cpu"})
  T.eq(k2.sources.autotune_effort, "option")
  T.eq(k2.settings.autotune_effort, "none")
end)

T.done()
