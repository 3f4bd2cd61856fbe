-- Helpers shared by the GPU benchmark scripts (gpu_bench.lua, gpu_kernel_bench.lua,
-- gpu_bench_targets.lua): CUDA-event timing and kernel-entry lookup. Part of share/scripts.
--
-- The scripts run from the repo root and load it with
--   package.path = "share/scripts/?.lua;" .. package.path
--   local bench = require "bench_util"
local core = require "helua.core"

local M = {}

-- Median milliseconds of fn() over n runs, each between two CUDA events, after 3 warm-up runs.
function M.time_ms(fn, n)
  local e0, e1 = core.cuda_event(), core.cuda_event()
  for _ = 1, 3 do fn() end
  local t = {}
  for i = 1, n do
    e0:record()
    fn()
    e1:record()
    t[i] = e0:elapsed_ms(e1)
  end
  table.sort(t)
  return t[(#t + 1) // 2]
end

-- The entry (run.load's) of the kernel named name in the kernel file; raises when it has none.
function M.entry(file, name)
  local run = require "helua.run"
  for _, e in ipairs(run.load(file).entries) do
    if e.name == name then return e end
  end
  error(file .. ": no kernel " .. name)
end

return M
