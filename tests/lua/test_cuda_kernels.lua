-- Every kernel in kernels/ on the GPU (small sizes): the default cuda config and a few random
-- ones against the float64 host reference with the kernel file's tolerance, inputs moved to the
-- device and results back (the logic of test_compiled.lua, on the cuda target). Skipped (77)
-- without a usable GPU. Run by share/scripts/gpu-check.sh on the GPU machine. Part of tests/lua.
package.path = arg[0]:match("(.*/)") .. "?.lua;" .. package.path
local T = require "testing"
local helua = require "helua"
local run = require "helua.run"

local ok_gpu, why = helua.cuda.is_available()
if not ok_gpu then
  print("test_cuda_kernels: skipped, CUDA unavailable: " .. tostring(why))
  os.exit(77)
end
local RANDOM_CONFIGS = tonumber(os.getenv("HELUA_TEST_RANDOM_CONFIGS") or "") or 3
local only = os.getenv("HELUA_TEST_KERNELS") -- e.g. "add,softmax": those files only

local function pack(...) return {n = select("#", ...), ...} end

local function check(e, got, want, what)
  T.close(run.compare(run.move(got, "cpu"), want, e.tolerance), what, 2)
end

for _, file in ipairs(T.kernel_files()) do
  local base = file:match("([^/]+)%.lua$")
  if only and not ("," .. only .. ","):find("," .. base .. ",", 1, true) then goto next end
  local d = run.load(file)
  for _, e in ipairs(d.entries) do
    T.test(file .. " " .. e.name .. " on the GPU: default and " .. RANDOM_CONFIGS
      .. " random configs", function()
      local k = run.with_settings(e.kernel, {backend = "cuda", autotune_effort = "none"})
      local args = run.inputs(e, run.size(d, "small"), 0)
      local want = pack(e.reference(table.unpack(args, 1, args.n)))
      local dargs = run.move(args, "cuda")
      local okd, got = pcall(function() return pack(k(table.unpack(dargs, 1, dargs.n))) end)
      if not okd then error(got, 0) end
      check(e, got, want, "default config")
      local bk = k:bind(table.unpack(dargs, 1, dargs.n))
      local space = bk:config_spec()
      for seed = 1, RANDOM_CONFIGS do
        local cfg = helua.Config(space:random(seed))
        local okc, got = pcall(function() return pack(bk:run(cfg, table.unpack(dargs, 1, dargs.n))) end)
        if not okc and (tostring(got):find("of shared memory", 1, true)
                        or tostring(got):find("does not fit the kernel", 1, true)) then
          print("  (random config " .. seed .. " refused: " .. tostring(got):match("[^\n]*") .. ")")
        else
          if not okc then error("random config " .. seed .. " " .. cfg:to_lua() .. ": " .. tostring(got), 0) end
          check(e, got, want, "random config " .. seed .. ": " .. cfg:to_lua())
        end
      end
    end)
    collectgarbage("collect")
  end
  ::next::
end
T.done()
