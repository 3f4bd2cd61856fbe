-- `helua show FILE`: traces a kernel file's kernel with the file's inputs and prints one stage of
-- its code (the tile IR, or the compiler's lowered IR, LLVM IR, assembly, Triton Python). Part of
-- lua/helua (the command line's policy; the kernel file convention and its loader are helua.run's).
local Config = require "helua.config"
local diag = require "helua.diag"
local kernel = require "helua.kernel"
local run = require "helua.run"

local show = {}

show.USAGE = [[
usage: helua show FILE [options]

Traces a kernel of a kernel file (kernels/*.lua; see share/doc/kernels.md) with the file's example
inputs and prints one stage of its code on stdout.

options:
  --stage STAGE         ir (the traced tile IR, the default), lowered, llvm, asm, ptx (the
                        cuda target's PTX; no GPU needed) or triton (Triton Python for the cuda
                        config)
  --config CONFIG       the config to show the code for: 'helua.Config{block_sizes = {64, 32}}',
                        'Config{...}', '{...}' or Helion's JSON; default: the config a call uses
  --kernel NAME         which kernel of the file (default: the first)
  --size NAME|k=v,...   a size from the file's `sizes` (default: "default"), or overrides of the
                        default size's dimensions, e.g. --size m=256,n=512 or --size small,m=64
  --seed N              seed for the example inputs (default 0)
  -h, --help            this text
]]

local function fail(fmt, ...) error(setmetatable({msg = string.format(fmt, ...)}, run.Error), 0) end

-- Parses the arguments after `show`. Returns an options table (o.help when help was asked).
function show.parse_args(argv)
  local o = run.parse_command_args(argv, {
    command = "show",
    defaults = {stage = "ir", seed = 0},
    values = {["--stage"] = "stage", ["--config"] = "config", ["--kernel"] = "kernel",
              ["--size"] = "size", ["--seed"] = {"seed", run.int_option(0, "non-negative")}},
  })
  local known = false
  for _, s in ipairs(kernel.STAGES) do known = known or s == o.stage end
  if not known then
    local hint = diag.did_you_mean(o.stage, kernel.STAGES)
    fail("unknown stage %s%s; stages: %s", o.stage, hint and (" (" .. hint .. ")") or "",
         table.concat(kernel.STAGES, ", "))
  end
  return o
end

-- A config from the command line: a Lua literal (helua.Config{...}, Config{...}, {...}) or JSON.
function show.parse_config(text)
  local t = text:match("^%s*(.-)%s*$")
  if t:match('^{%s*"') then return Config.from_json(t) end
  if t:match("^Config%s*[{(]") then t = "helua." .. t
  elseif t:sub(1, 1) == "{" then t = "helua.Config" .. t end
  return Config.from_lua(t, "=--config")
end

local function errmsg(e)
  if type(e) == "string" then return e end
  return tostring(e)
end

-- The code of the selected kernel at the selected stage (a string).
function show.code(o)
  local d = run.load(o.file)
  local entry
  if o.kernel then entry = run.select(d, o.kernel)[1] else entry = d.entries[1] end
  if not kernel.is_kernel(entry.kernel) then
    fail("%s: %s is not a kernel made with helua.kernel", o.file, entry.name)
  end
  local size = run.size(d, o.size)
  local cfg = nil
  if o.config then
    local ok, c = pcall(show.parse_config, o.config)
    if not ok then fail("--config: %s", errmsg(c)) end
    cfg = c
  end
  local args = run.inputs(entry, size, o.seed)
  local bk = entry.kernel:bind(table.unpack(args, 1, args.n))
  return bk:code(cfg, o.stage)
end

-- `helua show ...`: argv holds the arguments after "show". Returns the exit code.
function show.main(argv)
  return run.command_main("show", argv, show.parse_args, show.USAGE, function(o, out)
    local text = show.code(o)
    out(text)
    if text:sub(-1) ~= "\n" then out("\n") end
    return 0
  end)
end

return show
