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

-- float32 dots on TF32 tensor cores (dot_precision = "tf32", lowering.md): the result is within
-- TF32's rounding of the float64 reference (operands keep 10 of 23 mantissa bits: ~1e-3
-- relative), and visibly not exact (so the tensor cores did run), where "ieee" is exact. Ragged
-- sizes, a batch dim, the default and two other configs. (HELUA_TEST_KERNELS: with "matmul".)
if not only or ("," .. only .. ","):find(",matmul,", 1, true) then
  T.test("float32 matmul and bmm with dot_precision tf32 on the GPU", function()
    local cases = {
      {"kernels/matmul.lua", "matmul", {{200, 136}, {136, 176}}},
      {"kernels/bmm.lua", "bmm", {{3, 96, 72}, {3, 72, 80}}},
    }
    local cfgs = {{name = "default"},
      {name = "32x64x16 w2", cfg = {block_sizes = {32, 64, 16}, num_warps = 2}},
      {name = "128x128x32 w8", cfg = {block_sizes = {128, 128, 32}, num_warps = 8}}}
    for _, c in ipairs(cases) do
      local d = run.load(c[1])
      local e
      for _, x in ipairs(d.entries) do if x.name == c[2] then e = x end end
      local x = helua.randn(c[3][1], {dtype = helua.float32, seed = 11})
      local y = helua.randn(c[3][2], {dtype = helua.float32, seed = 12})
      local want = e.reference(x, y):to("float64")
      for _, prec in ipairs({"ieee", "tf32"}) do
        local k = run.with_settings(e.kernel, {backend = "cuda", autotune_effort = "none",
                                                dot_precision = prec})
        local bk = k:bind(x:cuda(), y:cuda())
        for _, cf in ipairs(cfgs) do
          if c[2] == "bmm" and cf.cfg then goto skip end -- bmm's slots differ; its default only
          local got = bk:run(cf.cfg and helua.Config(cf.cfg) or nil, x:cuda(), y:cuda())
          local err = helua.rel_err(got:cpu():to("float64"), want)
          local what = string.format("%s %s %s: rel_err %.3g", c[2], prec, cf.name, err)
          print("  " .. what)
          if prec == "ieee" then
            T.truthy(err < 1e-5, what)
          else
            T.truthy(err < 4e-3 and err > 1e-5, what .. " (want TF32's 1e-5 .. 4e-3)")
          end
          ::skip::
        end
      end
    end
  end)
end
T.done()
