-- Compiled kernels on the CPU (issue 3 item 6): every kernel in kernels/ matches its float64
-- reference for the default config and for 20 random valid configs of its config space, at
-- ragged sizes and with non-contiguous inputs; interpret and compiled runs agree; cached calls
-- relaunch with new tensors without tracing again. Skipped (77) in a build without core.compile.
-- Part of tests/lua.
package.path = arg[0]:match("(.*/)") .. "?.lua;" .. package.path
local T = require "testing"
local core = require "helua.core"
if not core.compile then
  print("test_compiled: skipped, helua.core has no compile (the lowering is not built yet)")
  os.exit(77)
end
local helua = require "helua"
local hl = require "helua.language"
local kernel = require "helua.kernel"
local run = require "helua.run"

local RANDOM_CONFIGS = tonumber(os.getenv("HELUA_TEST_RANDOM_CONFIGS") or "") or 20

-- `test_compiled.lua N/M` checks every M-th kernel file from the N-th (meson runs the parts in
-- parallel), and the tests of the compiled path itself in part 1.
local part, parts = 1, 1
if arg[1] then
  part, parts = arg[1]:match("^(%d+)/(%d+)$")
  part, parts = tonumber(part), tonumber(parts)
  assert(part and parts and part >= 1 and part <= parts, "usage: test_compiled.lua [N/M]")
end

-- k with other settings (same function and configs).
local function variant(k, changes)
  local opts = {}
  for name, v in pairs(k.settings) do opts[name] = v end
  for name, v in pairs(changes) do opts[name] = v end
  return helua.kernel(k.fn, opts)
end

local function compiled(k) return variant(k, {backend = "cpu", interpret = false}) end
local function interpreted(k) return variant(k, {backend = "interpret", interpret = true}) end

local function pack(...) return {n = select("#", ...), ...} end

local function check(e, got, want, what)
  T.close(run.compare(got, want, e.tolerance), what, 2)
end

-- The arguments with every 2-D+ float tensor replaced by a non-contiguous copy (a transposed
-- view of a transposed copy: same values, strides {1, m}).
local function non_contiguous(args)
  local out, changed = {n = args.n}, false
  for i = 1, args.n do
    local a = args[i]
    if helua.is_tensor(a) and a:dim() >= 2 then
      out[i] = a:transpose(-2, -1):contiguous():transpose(-2, -1)
      changed = true
    else
      out[i] = a
    end
  end
  return out, changed
end

local function call(k, args) return pack(k(table.unpack(args, 1, args.n))) end

for i, f in ipairs(T.kernel_files()) do
  if (i - 1) % parts ~= part - 1 then goto next_file end
  local d = run.load(f)
  for _, e in ipairs(d.entries) do
    local kc = compiled(e.kernel)
    T.test(f .. " " .. e.name .. " compiled: default and " .. RANDOM_CONFIGS .. " random configs", function()
      local size = run.size(d, "small")
      local args = run.inputs(e, size, 0)
      local want = pack(e.reference(table.unpack(args, 1, args.n)))
      check(e, call(kc, args), want, "default config")
      local bk = kc:bind(table.unpack(args, 1, args.n))
      local space = bk:config_spec()
      for seed = 1, RANDOM_CONFIGS do
        local cfg = helua.Config(space:random(seed))
        local got = pack(bk:run(cfg, table.unpack(args, 1, args.n)))
        check(e, got, want, "random config " .. seed .. ": " .. cfg:to_lua())
      end
    end)
    T.test(f .. " " .. e.name .. " compiled: tiny size, non-contiguous inputs, interpret agreement", function()
      local args = run.inputs(e, run.size(d, "tiny"), 3)
      local want = pack(e.reference(table.unpack(args, 1, args.n)))
      local got = call(kc, args)
      check(e, got, want, "tiny")
      check(e, got, call(interpreted(e.kernel), args), "interpret vs compiled")
      local nc, changed = non_contiguous(args)
      if changed and pcall(call, interpreted(e.kernel), nc) then
        check(e, call(kc, nc), want, "non-contiguous inputs")
      end
    end)
    T.test(f .. " " .. e.name .. " compiled: cached calls relaunch without tracing", function()
      local size = run.size(d, "small")
      local args = run.inputs(e, size, 0)
      call(kc, args)
      local traces = kernel.stats.traces
      for seed = 5, 6 do
        local fresh = run.inputs(e, size, seed)
        check(e, call(kc, fresh), pack(e.reference(table.unpack(fresh, 1, fresh.n))), "new tensors, seed " .. seed)
      end
      T.eq(kernel.stats.traces, traces, "no trace after the first call")
    end)
    collectgarbage("collect")
  end
  ::next_file::
end

if part ~= 1 then T.done() end

-- ---- the compiled path itself ------------------------------------------------------------------

local x = helua.randn({37, 53}, {seed = 1})

T.test("auto stays interpret until every kernel passes; cpu compiles", function()
  local k = helua.kernel(function(a)
    local out = helua.empty_like(a)
    for tm, tn in hl.tile({a:size()}) do out[{tm, tn}] = a[{tm, tn}] * 2 end
    return out
  end, {backend = "cpu"})
  local before = kernel.stats
  local traces, launches = before.traces, before.launches
  T.truthy(helua.allclose(k(x), x * 2), "values")
  T.truthy(helua.allclose(k(x), x * 2), "values again")
  T.eq(kernel.stats.traces - traces, 1, "one trace")
  T.eq(kernel.stats.launches - launches, 2, "two launches")
end)

T.test("host code after the loops sees the results", function()
  local k = helua.kernel(function(a)
    local out = helua.empty_like(a)
    for tm in hl.tile(a:size(1)) do out[{tm, ":"}] = a[{tm, ":"}] + 1 end
    return out:sum()
  end, {backend = "cpu"})
  local want = (x + 1):sum():item()
  T.near(k(x):item(), want, 1e-4, "first call (traced)")
  T.near(k(x):item(), want, 1e-4, "cached call")
end)

T.test("a host allocation that changes shape makes a second trace, not a wrong launch", function()
  local n = 4
  local k = helua.kernel(function(a)
    local out = helua.zeros({n})
    for t in hl.tile(n) do out[t] = a[t] end
    return out
  end, {backend = "cpu"})
  local a = helua.arange(1, 8, {dtype = "float32"})
  T.eq(k(a):numel(), 4, "n = 4")
  n = 6
  local r = k(a)
  T.eq(r:numel(), 6, "n = 6 (a number upvalue read by device code retraces)")
  T.eq(r:get(6), 6.0, "values")
end)

T.test("errors: a config that breaks the space names the field; an unsupported op its line", function()
  local k = helua.kernel(function(a)
    local out = helua.empty_like(a)
    for tm, tn in hl.tile({a:size()}) do out[{tm, tn}] = a[{tm, tn}] + 1 end
    return out
  end, {backend = "cpu"})
  T.raises(function() k:bind(x):run({block_sizes = {3, 8}}, x) end,
    "the config does not fit the kernel", "block_sizes[1] = 3 is not allowed", "power of two")
  T.raises(function() k:bind(x):run({block_sizes = {8, 8, 8}}, x) end,
    "block_sizes has 2 elements in this kernel; got a list of 3")
  local bad = helua.kernel(function(a)
    local out = helua.empty({a:size(1)}, {dtype = "int64"})
    for tm in hl.tile(a:size(1)) do
      out[tm] = a[{tm, ":"}]:argmax() -- no dim: not supported compiled
    end
    return out
  end, {backend = "cpu"})
  T.raises(function() bad(x) end, "test_compiled.lua:", "argmax without a dim", "not supported by the compiler")
end)

T.test("HELUA_PRINT_OUTPUT_CODE prints the code at compile time", function()
  local helua_bin = arg[-1] or "helua"
  local cmd = string.format([[HELUA_PRINT_OUTPUT_CODE=1 HELUA_BACKEND=cpu %s -e '
    local helua = require "helua"; local hl = require "helua.language"
    local k = helua.kernel(function(a) local o = helua.empty_like(a)
      for t in hl.tile(a:size(1)) do o[t] = a[t]:exp() end return o end)
    k(helua.randn({5})); k(helua.randn({5}))' 2>&1]], helua_bin)
  local p = assert(io.popen(cmd))
  local out = p:read("a")
  p:close()
  T.truthy(out:find("-- helua: compiled", 1, true), "a header\n" .. out)
  T.truthy(out:find("\nkernel ", 1, true) and out:find("exp ", 1, true), "the IR\n" .. out)
  local _, headers = out:gsub("%-%- helua: compiled", "")
  T.eq(headers, 1, "printed once (the second call is cached)")
end)

T.done()
