-- Row kernels on the GPU per config: softmax (three forms), rms_norm and layer_norm in bfloat16,
-- each config checked against the float64 reference at a few row lengths (whole rows, ragged
-- rows, chunked rows), then timed at [4096, 16384] (the issue-4 benchmark shape). Part of
-- share/scripts; run from the repo root on the GPU machine:
--   helua share/scripts/gpu_rows_bench.lua [--only softmax,rms_norm] [--repeat N]
--                                          [--time-only | --check-only]
-- Times: CUDA-event medians of the compiled kernel's launch (bench_util.lua); GB/s = bytes read +
-- written / time. Exit status 1 when a check fails.
package.path = "tests/lua/?.lua;share/scripts/?.lua;" .. package.path
local helua = require "helua"
local run = require "helua.run"
local bench = require "bench_util"

local repeats, only, do_check, do_time = 20, nil, true, true
for i = 1, #arg do
  if arg[i] == "--time-only" then do_check = false end
  if arg[i] == "--check-only" then do_time = false end
  if arg[i] == "--repeat" then repeats = math.tointeger(tonumber(arg[i + 1])) or repeats end
  if arg[i] == "--only" then
    only = {}
    for w in tostring(arg[i + 1]):gmatch("[^,]+") do only[w] = true end
  end
end
local ok, why = helua.cuda.is_available()
if not ok then
  print("gpu_rows_bench: cuda: unavailable (" .. tostring(why) .. ")")
  os.exit(77)
end
local info = helua.cuda.device_info()
print(string.format("helua row-kernel bench — %s, %s UTC, median of %d", info.name,
  os.date("!%Y-%m-%d %H:%M"), repeats))

local bf16, f32 = helua.bfloat16, helua.float32
local function randn(shape, seed, dev)
  return helua.randn(shape, {dtype = bf16, seed = seed, device = dev})
end
local function empty(shape, dtype) return helua.empty(shape, {dtype = dtype, device = "cuda"}) end

local function softmax_like(name)
  return {file = "kernels/softmax.lua", name = name,
          inputs = function(m, n, dev) return randn({m, n}, 3, dev) end,
          named = function(m, n, x) return {x = x, out = empty({m, n}, bf16)} end,
          bytes = function(m, n) return 4 * m * n end}
end
local kernels = {
  softmax_like("softmax"), softmax_like("softmax_decomposed"),
  {file = "kernels/rms_norm.lua", name = "rms_norm",
   inputs = function(m, n, dev) return randn({m, n}, 4, dev), randn({n}, 5, dev), 1e-5 end,
   named = function(m, n, x, w, eps) return {x = x, weight = w, eps = eps, out = empty({m, n}, bf16)} end,
   bytes = function(m, n) return 2 * (2 * m * n + n) end},
  {file = "kernels/layer_norm.lua", name = "layer_norm",
   inputs = function(m, n, dev)
     return randn({m, n}, 6, dev), randn({n}, 7, dev), randn({n}, 8, dev), 1e-5
   end,
   named = function(m, n, x, w, b, eps)
     return {x = x, weight = w, bias = b, eps = eps, out = empty({m, n}, bf16),
             mean = empty({m}, f32), rstd = empty({m}, f32)}
   end,
   bytes = function(m, n) return 2 * (2 * m * n + 2 * n) + 8 * m end},
  softmax_like("softmax_two_pass"), -- looped by construction: last
}

-- nil: the default config; the rest name the row knobs (two_pass: its row and column tiles)
local configs = {
  {"default", nil},
  {"chunks of 4096, 16 warps", {block_sizes = {1}, num_warps = 16, reduction_loops = {4096}}},
  {"whole row, 8 warps", {block_sizes = {1}, num_warps = 8, reduction_loops = {helua.none}}},
  {"whole row, 16 warps", {block_sizes = {1}, num_warps = 16, reduction_loops = {helua.none}}},
  {"whole row, 32 warps", {block_sizes = {1}, num_warps = 32, reduction_loops = {helua.none}}},
}
local checks = {{64, 16384}, {37, 12000}, {9, 4100}, {5, 53}}

local failed = false
for _, kd in ipairs(kernels) do
  if only and not only[kd.name] then goto next end
  local e = bench.entry(kd.file, kd.name)
  local k = run.with_settings(e.kernel, {backend = "cuda", autotune_effort = "none"})
  local cfgs = kd.name ~= "softmax_two_pass" and configs or {configs[1],
    {"column tiles 1024, 4 warps", {block_sizes = {1, 1024}, num_warps = 4}},
    {"column tiles 4096, 16 warps", {block_sizes = {1, 4096}, num_warps = 16}}}
  -- correctness: every config at every check size
  for _, c in ipairs(do_check and cfgs or {}) do
    local cfg = c[2] and helua.Config(c[2]) or nil
    for _, s in ipairs(checks) do
      local host = table.pack(kd.inputs(s[1], s[2], "cpu"))
      local want = table.pack(e.reference(table.unpack(host, 1, host.n)))
      local dargs = run.move(host, "cuda")
      local okr, got = pcall(function()
        local bk = k:bind(table.unpack(dargs, 1, dargs.n))
        return table.pack(bk:run(cfg, table.unpack(dargs, 1, dargs.n)))
      end)
      local cmp = okr and run.compare(run.move(got, "cpu"), want, e.tolerance)
      if not okr and tostring(got):find("does not fit the kernel", 1, true) then
        cmp = {ok = true} -- a chunk longer than this row: the space refuses it
      elseif not okr or not cmp.ok then
        failed = true
        print(string.format("CHECK FAILED %s [%d, %d] %s: %s", kd.name, s[1], s[2], c[1],
          okr and string.format("max_abs %.3g rel %.3g %s", cmp.max_abs or 0 / 0, cmp.rel or 0 / 0,
            cmp.message or "") or tostring(got)))
      end
      collectgarbage("collect")
    end
  end
  if do_check then print(string.format("%s: checked %d configs x %d sizes", kd.name, #cfgs, #checks)) end
  if not do_time then goto next end
  -- speed at the benchmark shape
  local m, n = 4096, 16384
  local args = table.pack(kd.inputs(m, n, "cuda"))
  local bk = k:bind(table.unpack(args, 1, args.n))
  for _, c in ipairs(cfgs) do
    local okt, err = pcall(function()
      local cfg = c[2] and helua.Config(c[2]) or bk:config()
      local ck = bk:_compiled(bk:_variant(cfg), cfg)
      local named, list = kd.named(m, n, table.unpack(args, 1, args.n)), {}
      for i, a in ipairs(ck:info().args) do list[i] = named[a] end
      local ms = bench.time_ms(function() ck:launch(list) end, repeats)
      print(string.format("| %-20s | %-26s | %7.4f ms | %5.0f GB/s | %s", kd.name .. " bf16", c[1],
        ms, kd.bytes(m, n) / (ms * 1e6), cfg and cfg:to_lua() or "default"))
    end)
    if not okt and tostring(err):find("does not fit the kernel", 1, true) then
      print(string.format("| %-20s | %-26s | refused by the space", kd.name, c[1]))
    elseif not okt then
      failed = true
      print(string.format("| %-20s | %-26s | FAILED: %s", kd.name, c[1], tostring(err):gsub("\n", " ")))
    end
  end
  args = nil
  collectgarbage("collect")
  ::next::
end
print(failed and "gpu_rows_bench: FAILED" or "gpu_rows_bench: all checks passed")
os.exit(failed and 1 or 0)
