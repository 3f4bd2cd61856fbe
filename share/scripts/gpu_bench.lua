-- GPU bandwidth table: host↔device copies (pageable and page-locked host memory), a device copy,
-- and the hand-written PTX vector add (one float or one float4 per thread), timed with CUDA
-- events, median of repeats. Part of share/scripts; run by gpu-check.sh from the repo root:
--   helua share/scripts/gpu_bench.lua [--repeat N] [--mib N]
package.path = "tests/lua/?.lua;share/scripts/?.lua;" .. package.path
local helua = require "helua"
local PTX = require "cuda_ptx"
local bench = require "bench_util"
local core = helua.core

local repeats, mib = 20, 256
for i = 1, #arg do
  if arg[i] == "--repeat" then repeats = math.tointeger(tonumber(arg[i + 1])) or repeats end
  if arg[i] == "--mib" then mib = math.tointeger(tonumber(arg[i + 1])) or mib end
end

local ok, why = helua.cuda.is_available()
if not ok then
  print("gpu_bench: cuda: unavailable (" .. why .. ")")
  os.exit(77)
end

local info = helua.cuda.device_info()
-- HBM peak from the reported memory clock and bus width (double data rate), for the ratio column.
local peak = 2 * info.mem_clock_khz * 1e3 * info.mem_bus_bits / 8 / 1e9
print(string.format("helua GPU bench — %s (%s, %d SMs, %.0f GiB), driver %d, %s",
  info.name, info.arch, info.sm_count, info.total_bytes / 2^30, info.driver_version, os.date("%Y-%m-%d")))
print(string.format("median of %d runs after 3 warm-ups, CUDA events; peak HBM from clocks: %.0f GB/s", repeats, peak))

-- Median milliseconds of fn() between two events (bench_util.lua).
local function time_ms(fn) return bench.time_ms(fn, repeats) end

local FMT = "| %-40s | %10s | %9s | %8s | %7s |"
local rows = {}
local function row(what, bytes, ms, versus)
  local gbs = bytes / (ms * 1e6)
  rows[#rows + 1] = string.format(FMT, what, string.format("%.1f MB", bytes / 1e6),
    string.format("%.3f", ms), string.format("%.1f", gbs),
    (versus and versus > 1) and string.format("%.1f%%", 100 * gbs / versus) or "")
end

local n = mib * (1 << 20) // 4 -- float32 elements
local bytes = n * 4
local host = helua.randn({n}, {seed = 1})
local pinned = core.cuda_pin(host)
local dev = helua.empty({n}, {device = "cuda"})
local dev2 = helua.empty({n}, {device = "cuda"})

row(string.format("H2D copy, pageable, %d MiB", mib), bytes, time_ms(function() dev:copy_(host) end))
row(string.format("D2H copy, pageable, %d MiB", mib), bytes, time_ms(function() host:copy_(dev) end))
row(string.format("H2D copy, pinned, %d MiB", mib), bytes, time_ms(function() dev:copy_(pinned) end))
row(string.format("D2H copy, pinned, %d MiB", mib), bytes, time_ms(function() pinned:copy_(dev) end))
row(string.format("D2D copy, %d MiB (read + write)", mib), 2 * bytes, time_ms(function() dev2:copy_(dev) end), peak)

local t0 = core.clock()
local m = core.cuda_module(PTX.vadd)
local load_ms = (core.clock() - t0) * 1e3
local vadd, vadd4 = m:func("vadd", PTX.sig), m:func("vadd4", PTX.sig)
local n_add = 1 << 26
local a = helua.randn({n_add}, {seed = 2, device = "cuda"})
local b = helua.randn({n_add}, {seed = 3, device = "cuda"})
local c = helua.empty({n_add}, {device = "cuda"})
local moved = 3 * 4 * n_add
row("vadd f32, 2^26 (3 x 256 MiB moved)", moved,
  time_ms(function() vadd:launch(n_add // 256, 256, {a, b, c, n_add}) end), peak)
local max_abs = helua.max_abs_err(c, a:cpu() + b:cpu())
row("vadd4 f32 (float4 loads), 2^26", moved,
  time_ms(function() vadd4:launch(n_add // 4 // 256, 256, {a, b, c, n_add // 4}) end), peak)
local max_abs4 = helua.max_abs_err(c, a:cpu() + b:cpu())

print(string.format(FMT, "what", "moved", "ms", "GB/s", "of peak"))
print(string.format(FMT, ("-"):rep(40), ("-"):rep(10), ("-"):rep(9), ("-"):rep(8), ("-"):rep(7)))
for _, r in ipairs(rows) do print(r) end
print(string.format("vector add checked: max |c - (a + b)| = %g (vadd), %g (vadd4); module load (PTX JIT) %.1f ms (JIT's own %.1f ms), %d registers",
  max_abs, max_abs4, load_ms, m:jit_ms(), vadd:attributes().num_regs))
if max_abs ~= 0 or max_abs4 ~= 0 then
  print("gpu_bench: the vector add is WRONG")
  os.exit(1)
end
