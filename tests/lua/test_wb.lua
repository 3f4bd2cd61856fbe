-- The workbench's Lua policy without a terminal: each kernel's backend as the UI names it, the
-- tuning refusal for cuda and interpret kernels, and the notebook environment's refresh (the
-- file's names replaced, the user's kept, a file that no longer loads leaves it). Part of
-- tests/lua.
package.path = arg[0]:match("(.*/)") .. "?.lua;" .. package.path
local T = require "testing"
local helua = require "helua"
local wb = require "helua.wb"
local N = require "helua.wb_notebook"

local dir = os.tmpname()
os.remove(dir)
assert(os.execute("mkdir -p " .. dir))

local function write(name, text)
  local path = dir .. "/" .. name
  local f = assert(io.open(path, "w"))
  f:write(text)
  f:close()
  return path
end

local add = assert(io.open("kernels/add.lua")):read("a")
-- add on the cuda backend; add_broadcast stays on auto
local add_cuda = add:gsub("\nend%)\n", '\nend, {backend = "cuda"})\n', 1)

T.test("backend of each kernel", function()
  T.eq(wb.backend(helua.kernel(function() end, {backend = "cpu"})), "llvm")
  T.eq(wb.backend(helua.kernel(function() end, {backend = "cuda"})), "cuda")
  T.eq(wb.backend(helua.kernel(function() end, {backend = "interpret"})), "interpret")
  T.eq(wb.backend(helua.kernel(function() end)), "llvm", "auto with host tensors")
  T.eq(wb.backend(function() end), "interpret", "a plain function")
  local ok, info = wb.load(write("cuda.lua", add_cuda))
  T.truthy(ok, info)
  T.eq(table.concat(info.kernels, ","), "add,add_broadcast")
  T.eq(table.concat(info.backends, ","), "cuda,llvm")
  T.eq(info.backend, "cuda", "the first kernel's")
end)

T.test("tuning: llvm kernels on the CPU, cuda kernels on the GPU when there is one", function()
  T.eq(wb.tune_refusal("add", "llvm"), nil)
  if helua.cuda.is_available() then
    T.eq(wb.tune_refusal("add", "cuda"), nil)
  else
    local why = wb.tune_refusal("add", "cuda")
    T.truthy(why:find("cannot tune add on the GPU: cuda: unavailable", 1, true), why)
  end
  T.truthy(wb.tune_refusal("add", "interpret"):find("interpret mode", 1, true))
end)

T.test("notebook environment refreshed: file's names new, user's kept", function()
  local path = write("nb.lua", add)
  local o = {file = path, kernel = "add", size = "small", seed = 0}
  local env = N.env(o)
  T.truthy(helua.is_kernel(env.add) and env.kernels.add == env.add)
  T.eq(env.inputs[1]:shape()[2], 53)
  local old_add, old_file = env.add, env.file
  env.mine, env.add_broadcast = 7, "shadowed by the user"
  -- the file changes: add_broadcast goes, and another kernel is selected
  write("nb.lua", (add:gsub("\nlocal add_broadcast = .-\nend%)\n", "\n")
                      :gsub("%s*{name = \"add_broadcast\".-},\n", "\n")))
  local ok, err = pcall(N.env, {file = path, kernel = "add_broadcast", size = "small", seed = 0},
                        env)
  T.truthy(ok, err)
  T.truthy(env.file ~= old_file, "a new file description")
  T.truthy(helua.is_kernel(env.add) and env.add ~= old_add, "the new add")
  T.eq(env.kernels.add_broadcast, nil)
  T.eq(env.add_broadcast, "shadowed by the user")
  T.eq(env.mine, 7)
  T.eq(#env.inputs[2]:shape(), 2, "add's inputs: the file has no add_broadcast now")
  -- a file that does not load: an error, the environment as it was
  write("nb.lua", "return {")
  local new_add = env.add
  T.truthy(not pcall(N.env, o, env))
  T.eq(env.add, new_add)
  T.eq(env.mine, 7)
end)

T.test("notebook environment: another kernel's inputs", function()
  local o = {file = write("nb2.lua", add), kernel = "add", size = "small", seed = 0}
  local env = N.env(o)
  T.eq(#env.inputs[2]:shape(), 2)
  o.kernel = "add_broadcast"
  N.env(o, env)
  T.eq(#env.inputs[2]:shape(), 1, "add_broadcast's b is a row")
  T.truthy(helua.is_kernel(env.add) and helua.is_kernel(env.add_broadcast))
end)

os.execute("rm -rf " .. dir)
T.done()
