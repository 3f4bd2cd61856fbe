-- share/scripts/bench_util.lua (the GPU bench scripts' shared helpers) without a GPU: the median
-- of event-timed runs with stand-in events, the kernel-entry lookup, and that the scripts load.
-- Part of tests/lua.
package.path = arg[0]:match("(.*/)") .. "?.lua;share/scripts/?.lua;" .. package.path
local T = require "testing"

-- Stand-in CUDA events: record() notes a clock the timed function advances.
local clock = 0
local core = setmetatable({cuda_event = function()
  return {record = function(e) e.t = clock end, elapsed_ms = function(a, b) return b.t - a.t end}
end}, {__index = require "helua.core"})
package.loaded["helua.core"] = core
package.loaded["bench_util"] = nil
local bench = require "bench_util"
package.loaded["helua.core"] = getmetatable(core).__index

T.test("time_ms: median after 3 warm-ups", function()
  local steps, calls = {5, 1, 9, 2, 4}, 0
  local ms = bench.time_ms(function()
    calls = calls + 1
    if calls > 3 then clock = clock + steps[calls - 3] end
  end, #steps)
  T.eq(calls, 8, "3 warm-ups + 5 timed runs")
  T.eq(ms, 4, "median of 5, 1, 9, 2, 4")
  clock, calls = 0, 0
  T.eq(bench.time_ms(function() calls = calls + 1; clock = clock + calls end, 2), 4,
    "even count: the lower middle of 4, 5")
end)

T.test("entry: finds a kernel of a file, raises for a missing one", function()
  local e = bench.entry("kernels/add.lua", "add")
  T.eq(e.name, "add", "name")
  T.truthy(e.kernel, "kernel")
  T.raises(function() bench.entry("kernels/add.lua", "no_such") end, "no kernel no_such")
end)

T.test("the GPU bench scripts compile", function()
  for _, f in ipairs({"gpu_bench", "gpu_kernel_bench", "gpu_bench_targets", "bench_util"}) do
    T.truthy(loadfile("share/scripts/" .. f .. ".lua"), f)
  end
end)

T.done()
