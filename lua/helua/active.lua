-- The stack of running kernel invocations: which implementation (eager or tracing) the dialect
-- surface dispatches to, and that run's state. Part of lua/helua (dialect surface).
--
-- A run is a table made by an implementation's begin_run (see eager.lua); the fields every
-- implementation provides: impl (the implementation module), depth (device-loop nesting: 0 in
-- host code), config, settings. kernel.lua pushes a run around the kernel function's call.
local active = {}

local stack = {}
-- The stack itself, for the cached call's path (kernel_compile.lua, tensor.lua), which reads and
-- pushes it inline; everyone else uses the functions.
active.stack = stack

-- The innermost running kernel invocation, or nil outside kernels.
function active.current() return stack[#stack] end

-- True while the innermost kernel is inside an hl.tile / hl.grid loop (device code).
function active.in_device()
  local run = stack[#stack]
  return run ~= nil and run.depth > 0
end

function active.push(run) stack[#stack + 1] = run end

-- Pops `run` (and anything an error left above it).
function active.pop(run)
  for i = #stack, 1, -1 do
    local r = stack[i]
    stack[i] = nil
    if r == run then return end
  end
end

return active
