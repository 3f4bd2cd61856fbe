-- helua's subcommands (`helua run ...`): the C main calls cli.main(argv) with argv[1] the command.
-- Part of lua/helua (the command line's policy; the process and exit status belong to src/cli).
local diag = require "helua.diag"

local cli = {}

-- name -> {module, one-line summary}; each module has main(args_after_the_command) -> exit code.
cli.commands = {
  run = {module = "helua.run",
         summary = "run a kernel file, check it against its reference, print timings"},
  show = {module = "helua.show",
          summary = "print a kernel's code at a stage (ir, lowered, llvm, asm)"},
  tune = {module = "helua.tune_cmd", summary = "autotune a kernel file's kernels (CPU target)"},
}

local function command_names()
  local names = {}
  for name in pairs(cli.commands) do names[#names + 1] = name end
  table.sort(names)
  return names
end

-- argv = {"run", "kernels/matmul.lua", ...}. Returns an integer exit code.
function cli.main(argv)
  local name = argv[1]
  local cmd = name and cli.commands[name]
  if not cmd then
    local names = command_names()
    local hint = name and diag.did_you_mean(name, names)
    io.stderr:write(string.format("helua: unknown command %s%s; commands: %s\n", tostring(name),
                                  hint and (" (" .. hint .. ")") or "", table.concat(names, ", ")))
    return 1
  end
  local args = {}
  for i = 2, #argv do args[#args + 1] = argv[i] end
  return require(cmd.module).main(args)
end

return cli
