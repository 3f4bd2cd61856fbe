-- The autotuner on the GPU: add and softmax (kernels/, small size) tuned quick on the cuda target
-- with a small budget; the tuned kernel's results match the float64 reference with the file's
-- tolerance and its time is not above the default config's. Skipped (77) without a usable GPU
-- (and with the fake driver, which computes nothing). Part of tests/lua; run on the GPU machine
-- by share/scripts/gpu-tune-check.sh.
package.path = arg[0]:match("(.*/)") .. "?.lua;" .. package.path
local T = require "testing"
local helua = require "helua"
local run = require "helua.run"

local ok_gpu, why = helua.cuda.is_available()
if not ok_gpu or helua.cuda.device_info().name == "helua fake GPU" then
  print("test_tune_cuda: skipped, no GPU: " .. tostring(why or "the fake driver"))
  os.exit(77)
end
local BUDGET = tonumber(os.getenv("HELUA_TEST_TUNE_BUDGET") or "") or 10

for _, file in ipairs({"kernels/add.lua", "kernels/softmax.lua"}) do
  local d = run.load(file)
  local e = d.entries[1]
  T.test(file .. " " .. e.name .. ": tuned on cuda, correct, not slower than default", function()
    local size = run.size(d, "small")
    local hargs = run.inputs(e, size, 0)
    local args = run.move(hargs, "cuda")
    local k = run.kernel_for(e, {backend = "cuda"})
    local bk = k:bind(table.unpack(args, 1, args.n))
    local best, rep = bk:autotune({effort = "quick", budget_seconds = BUDGET, cache = false,
                                   log = false})
    T.truthy(rep.best and rep.default, "a report")
    T.truthy(rep.best.device and rep.best.device:match("^cuda:%d+$"), "ran on a GPU: "
      .. tostring(rep.best.device))
    T.truthy(rep.best.time <= rep.default.time * 1.02, string.format(
      "tuned %.4f ms vs default %.4f ms", rep.best.time * 1e3, rep.default.time * 1e3))
    local got = run.move(table.pack(bk:run(best, table.unpack(args, 1, args.n))), "cpu")
    local want = table.pack(e.reference(table.unpack(hargs, 1, hargs.n)))
    local cmp = run.compare(got, want, e.tolerance)
    T.truthy(cmp.ok, string.format("the tuned config's results: %s (max abs err %s, rel err %s)",
                                   tostring(cmp.message or "not close to the reference"),
                                   tostring(cmp.max_abs), tostring(cmp.rel)))
    print(string.format("  %s: default %.4f ms, tuned %.4f ms (%.2fx), %d configs, %.1f s",
                        e.name, rep.default.time * 1e3, rep.best.time * 1e3, rep.speedup,
                        #rep.trials, rep.seconds))
  end)
end

T.done()
