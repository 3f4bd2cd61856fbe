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

-- {name=, device=, backend=, kernels={names}} for a kernel file.
function wb.load(file)
  local ok, res = pcall(function()
    local d = run.load(file)
    local names = {}
    for _, e in ipairs(d.entries) do names[#names + 1] = e.name end
    local backend = "interpret"
    local k = d.entries[1] and d.entries[1].kernel
    if kernel.is_kernel(k) and kernel.mode(k.settings) == "cpu" then backend = "llvm" end
    return {name = d.name, device = "cpu", backend = backend, kernels = names}
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

-- `helua run FILE --kernel NAME [--size S]`, its output (and errors) captured as text.
function wb.run(file, name)
  local chunks = {}
  local sink = {write = function(self, ...)
                  for _, s in ipairs({...}) do chunks[#chunks + 1] = tostring(s) end
                  return self
                end,
                flush = function(self) return self end}
  local argv = {file, "--kernel", name, "--seed", tostring(wb.options.seed)}
  if wb.options.size then argv[#argv + 1] = "--size"; argv[#argv + 1] = wb.options.size end
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
