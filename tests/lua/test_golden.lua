-- Golden files: the "ir" (and, with a compiler, "lowered" and "llvm"; for add and softmax "triton")
-- stages of add, softmax and matmul for fixed
-- configs must match tests/golden/NAME.STAGE byte for byte, so that a change to the tracer or the
-- code generator shows up in review. tests/golden/update.sh rewrites them (this script with
-- --update). Part of tests/lua.
package.path = arg[0]:match("(.*/)") .. "?.lua;" .. package.path
local T = require "testing"
local core = require "helua.core"
local show = require "helua.show"

local update = arg[1] == "--update"
local golden = dofile("tests/golden/cases.lua")

local function read(path)
  local f = io.open(path, "r")
  if not f then return nil end
  local text = f:read("a")
  f:close()
  return text
end

local function write(path, text)
  local f = assert(io.open(path, "w"))
  f:write(text)
  f:close()
end

-- "line N: want ... / got ..." for the first line that differs.
local function first_difference(want, got)
  local wl, gl = {}, {}
  for l in (want .. "\n"):gmatch("(.-)\n") do wl[#wl + 1] = l end
  for l in (got .. "\n"):gmatch("(.-)\n") do gl[#gl + 1] = l end
  for i = 1, math.max(#wl, #gl) do
    if wl[i] ~= gl[i] then
      return string.format("line %d:\n  want: %s\n  got:  %s", i, tostring(wl[i]), tostring(gl[i]))
    end
  end
  return "(no line differs)"
end

local skipped = 0
local cpu = core.flag("HELUA_TARGET_CPU")
if cpu ~= golden.golden_cpu then
  io.stderr:write(string.format("test_golden: the compiled stages need HELUA_TARGET_CPU=%s "
    .. "(got %s); run it through meson or tests/golden/update.sh\n", golden.golden_cpu, tostring(cpu)))
  os.exit(1)
end
for _, c in ipairs(golden.cases) do
  local stages = {table.unpack(c.stages or golden.stages)}
  for _, s in ipairs(c.stages_extra or {}) do stages[#stages + 1] = s end
  for _, stage in ipairs(stages) do
    local path = "tests/golden/" .. c.name .. "." .. stage
    if stage ~= "ir" and stage ~= "triton" and not core.compile then
      skipped = skipped + 1
    else
      T.test(path, function()
        local text = show.code({file = c.file, kernel = c.kernel, size = c.size, config = c.config,
                                stage = stage, seed = 0})
        if update then
          write(path, text)
          print("wrote " .. path)
          return
        end
        local want = read(path)
        if not want then error(path .. " is missing: run tests/golden/update.sh") end
        if want ~= text then
          error(path .. " differs from the current output (if the change is intended, run "
            .. "tests/golden/update.sh and review the diff): " .. first_difference(want, text))
        end
      end)
    end
  end
end
if skipped > 0 then print(string.format("(%d golden stages skipped: this build has no compiler)", skipped)) end

T.done()
