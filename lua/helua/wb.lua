-- The workbench's Lua side (helua wb FILE): what the ncurses UI (src/wb, through
-- src/bind/bind_wb.c and the worker processes of helua.wb_worker) asks of a kernel file — its
-- kernels, a stage's code, a run's report.
-- Every function returns (true, result) or (false, message) and never raises. Part of lua/helua.
local kernel = require "helua.kernel"
local run = require "helua.run"
local show = require "helua.show"

local wb = {}

-- Options the command line gave (--size, --seed), used by every call.
wb.options = {size = nil, seed = 0}

local function errmsg(e)
  if type(e) == "string" then return e end
  return tostring(e)
end

-- How the workbench runs a kernel, by kernel.mode: "llvm" (compiled for the CPU; backend "cpu",
-- or "auto" with the file's host tensors), "cuda" (compiled for the GPU: run moves the inputs
-- there, as `helua run --backend cuda` does) or "interpret".
function wb.backend(k)
  if not kernel.is_kernel(k) then return "interpret" end
  local m = kernel.mode(k.settings)
  return m == "cpu" and "llvm" or m
end

-- Why the workbench cannot tune a kernel that runs on backend b (nil: it can). llvm kernels tune
-- on the CPU, cuda kernels on the GPU (the GPU tuner: share/doc/tuning.md, "The GPU path").
function wb.tune_refusal(name, b)
  if b == "llvm" then return nil end
  if b == "cuda" then
    local ok, avail, why = pcall(require("helua").cuda.is_available)
    if ok and avail then return nil end
    return string.format("cannot tune %s on the GPU: cuda: unavailable (%s)", name,
      tostring(ok and (why or "no CUDA device") or avail))
  end
  return string.format("%s runs in interpret mode, which has no config space to tune: give it "
    .. "backend = \"cpu\" or \"cuda\" (and no block_size) to tune it", name)
end

-- {name=, device=, backend= (the first kernel's), backends={per kernel}, kernels={names}} for a
-- kernel file.
function wb.load(file)
  local ok, res = pcall(function()
    local d = run.load(file)
    local names, backends = {}, {}
    for _, e in ipairs(d.entries) do
      names[#names + 1] = e.name
      backends[#backends + 1] = wb.backend(e.kernel)
    end
    return {name = d.name, device = "cpu", backend = backends[1] or "interpret",
            backends = backends, kernels = names}
  end)
  if ok then return true, res end
  return false, errmsg(res)
end

-- The code of one kernel of the file at a stage (ir, lowered, llvm, asm), for a config (text as
-- `helua show --config` takes it; nil: the config a call uses).
function wb.code(file, name, stage, config)
  local ok, res = pcall(show.code, {file = file, kernel = name, stage = stage, config = config,
                                    size = wb.options.size, seed = wb.options.seed})
  if ok then return true, res end
  return false, errmsg(res)
end

-- `helua run FILE --kernel NAME [--size S]`, its output (and errors) captured as text; a kernel
-- on the cuda backend gets `--backend cuda` (its inputs move to the GPU; without one, the report
-- says why).
function wb.run(file, name)
  local chunks = {}
  local sink = {write = function(self, ...)
                  for _, s in ipairs({...}) do chunks[#chunks + 1] = tostring(s) end
                  return self
                end,
                flush = function(self) return self end}
  local argv = {file, "--kernel", name, "--seed", tostring(wb.options.seed)}
  if wb.options.size then argv[#argv + 1] = "--size"; argv[#argv + 1] = wb.options.size end
  local okb, b = pcall(function() return wb.backend(run.select(run.load(file), name)[1].kernel) end)
  if okb and b == "cuda" then argv[#argv + 1] = "--backend"; argv[#argv + 1] = "cuda" end
  local out, err = io.stdout, io.stderr
  io.stdout, io.stderr = sink, sink
  local ok, code = pcall(run.main, argv)
  io.stdout, io.stderr = out, err
  if not ok then chunks[#chunks + 1] = errmsg(code) end
  local pass = ok and code == 0
  -- the verdict first: the report's lines are wider than the pane
  return pass, string.format("%s  %s\n\n%s", pass and "PASS" or "FAIL", name, table.concat(chunks))
end

return wb
