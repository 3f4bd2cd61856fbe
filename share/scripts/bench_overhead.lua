-- Host overhead of a cached compiled call (DESIGN.md §3.2: target <= 10 us): a tiny add (4 x 4
-- float32) called many times, timed whole and in parts (best of 7 rounds). Part of share/scripts
-- (benchmarks print tables; tests never time). Run: helua share/scripts/bench_overhead.lua [calls]
--
-- Rows: the whole cached call; the compiled kernel's launch alone (ck:launch with the same
-- tensors); their difference, the host overhead; the same call with a no-op launch (helua's host
-- path alone, also measurable without a compiler); the kernel's own host code (x:size and
-- helua.empty) run as plain Lua; an interpret-mode call for scale.
local helua = require "helua"
local hl = require "helua.language"
local core = require "helua.core"
local kernel = require "helua.kernel"

local calls = math.tointeger(tonumber(arg and arg[1] or "")) or 20000

local function add_fn(x, y)
  local m, n = x:size()
  local out = helua.empty({m, n}, {dtype = x.dtype, device = x.device})
  for tm, tn in hl.tile({m, n}) do
    out[{tm, tn}] = x[{tm, tn}] + y[{tm, tn}]
  end
  return out
end

local function host_code(x, y)
  local m, n = x:size()
  return helua.empty({m, n}, {dtype = x.dtype, device = x.device})
end

-- The best of 7 rounds of the mean time per call, in microseconds (the minimum: other load on
-- the machine only ever adds time).
local ROUNDS = 7
local function time_us(fn, n)
  local best = math.huge
  for _ = 1, ROUNDS do
    collectgarbage("collect")
    local t0 = core.clock()
    for _ = 1, n do fn() end
    best = math.min(best, (core.clock() - t0) / n * 1e6)
  end
  return best
end

local x, y = helua.randn({4, 4}, {seed = 1}), helua.randn({4, 4}, {seed = 2})
local rows = {}
local function row(name, us, note) rows[#rows + 1] = {name, us, note or ""} end

local real_compile = core.compile
if real_compile then
  local add = helua.kernel(add_fn, {backend = "cpu"})
  local want = x + y
  assert(helua.allclose(add(x, y), want), "the compiled add is wrong")
  local traces = kernel.stats.traces
  local total = time_us(function() add(x, y) end, calls)
  assert(kernel.stats.traces == traces, "a cached call traced again")
  local bk = add:bind(x, y)
  local v = bk.variants[1]
  local ck = bk:_compiled(v, nil)
  local out = add(x, y)
  local args = {x, y, out}
  local launch = time_us(function() ck:launch(args) end, calls)
  row("cached compiled call (whole)", total)
  row("ck:launch alone (the kernel)", launch)
  row("host overhead (whole - launch)", total - launch, total - launch <= 10 and "meets <= 10 us"
    or string.format("misses 10 us by %.1f us", total - launch - 10))
else
  row("cached compiled call", nil, "no compiler in this build (core.compile)")
end

-- helua's host path with a launch that does nothing
core.compile = function()
  return {launch = function() end, code = function() return "" end}
end
local noop = helua.kernel(add_fn, {backend = "cpu"})
noop(x, y)
row("cached call, no-op launch", time_us(function() noop(x, y) end, calls), "helua's host path")
core.compile = real_compile
row("the kernel's host code alone", time_us(function() host_code(x, y) end, calls),
    "x:size(), helua.empty (part of every row above)")
local eager = helua.kernel(add_fn, {backend = "interpret"})
row("interpret-mode call", time_us(function() eager(x, y) end, math.max(calls // 10, 100)))

print(string.format("host overhead of a cached call: add of two 4x4 float32 tensors, %d calls, "
  .. "best of %d rounds (%s, %s)", calls, ROUNDS, _VERSION, os.date("%Y-%m-%d")))
print(string.format("  %-34s %10s  %s", "what", "us/call", "note"))
for _, r in ipairs(rows) do
  print(string.format("  %-34s %10s  %s", r[1], r[2] and string.format("%.2f", r[2]) or "-", r[3]))
end
