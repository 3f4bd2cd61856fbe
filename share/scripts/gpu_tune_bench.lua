-- The GPU tuner's benchmark (issues 5 and 7): tunes add, softmax and matmul at the issue's sizes
-- on 1..N GPUs at quick and full effort (cache off), times the default and the tuned config with
-- CUDA events in this process, and prints a markdown table. Part of share/scripts; run on the
-- GPU machine from the repo root:
--   helua share/scripts/gpu_tune_bench.lua [--kernels add,softmax,matmul] [--efforts quick,full]
--     [--gpus 1,2] [--budget-quick S] [--budget-full S] [--full-kernels softmax,matmul]
--     [--quick-gpus 1] [--repeat N] [--out FILE.md] [--log FILE] [--trials] [--size small]
--     [--no-jit-probe] [--procs N] [--procs-kernels matmul] [--procs-per-gpu N]
-- --procs N (default 2; 1: none): quick runs on 1 GPU with N worker processes taking turns on
-- it (procs_per_gpu) for the --procs-kernels among --kernels (default matmul), against the
-- 1-process quick row: whether loading modules in several processes searches faster.
-- --procs-per-gpu N (default 1): the worker processes per GPU of every other row (the tuner's
-- own default is 2 on machines with >= 8 cores per GPU; tuning.md "Several processes per GPU").
-- The default run: quick (18 s budget, the quick profile's) add, softmax, matmul on 1 GPU;
-- full (--budget-full, default 80 s) softmax and matmul on 1 and 2 GPUs (those the machine
-- has): about 8 minutes.
-- --log FILE writes the tuner's progress lines there (default: stderr); --trials adds a line
-- per trial with its device (HELUA_LOGS=tune). A kernel that fails gets a row "FAILED: reason".
-- --size small: small shapes (add [512, 512], softmax [64, 1024], matmul 256^3) for a smoke test
-- (tests/unit/meson.build runs it on the fake driver's two GPUs).
-- Times are medians of --repeat (default 30) launches of the compiled kernel alone between two
-- CUDA events after warm-up (bench_util.lua, as gpu_bench_targets.lua).
package.path = "share/scripts/?.lua;" .. package.path
local helua = require "helua"
local run = require "helua.run"
local tune = require "helua.tune"
local core = helua.core
local bench = require "bench_util"

local function list(s)
  local out = {}
  for w in tostring(s):gmatch("[^,]+") do out[#out + 1] = w end
  return out
end

local opt = {kernels = {"add", "softmax", "matmul"}, efforts = {"quick", "full"}, gpus = {1, 2},
             budget_quick = 18, budget_full = 80, full_kernels = {softmax = true, matmul = true},
             quick_gpus = {1}, repeats = 30, procs = 2, procs_kernels = {matmul = true},
             procs_per_gpu = 1}
local explicit_full, explicit_quick_gpus = false, false
local i = 1
while i <= #arg do
  local a, v = arg[i], arg[i + 1]
  if a == "--kernels" then opt.kernels = list(v)
  elseif a == "--efforts" then opt.efforts = list(v)
  elseif a == "--gpus" then
    opt.gpus = {}
    for _, g in ipairs(list(v)) do opt.gpus[#opt.gpus + 1] = math.tointeger(tonumber(g)) end
  elseif a == "--quick-gpus" then
    opt.quick_gpus, explicit_quick_gpus = {}, true
    for _, g in ipairs(list(v)) do
      opt.quick_gpus[#opt.quick_gpus + 1] = math.tointeger(tonumber(g))
    end
  elseif a == "--budget-quick" then opt.budget_quick = tonumber(v)
  elseif a == "--budget-full" then opt.budget_full = tonumber(v)
  elseif a == "--full-kernels" then
    opt.full_kernels, explicit_full = {}, true
    for _, k in ipairs(list(v)) do opt.full_kernels[k] = true end
  elseif a == "--repeat" then opt.repeats = math.tointeger(tonumber(v)) or opt.repeats
  elseif a == "--out" then opt.out = v
  elseif a == "--log" then opt.log = v
  elseif a == "--trials" then opt.trials, i = true, i - 1
  elseif a == "--size" then opt.small = (v == "small")
  elseif a == "--no-jit-probe" then opt.jit_probe, i = false, i - 1
  elseif a == "--procs" then opt.procs = math.tointeger(tonumber(v)) or 1
  elseif a == "--procs-per-gpu" then opt.procs_per_gpu = math.tointeger(tonumber(v)) or 1
  elseif a == "--procs-kernels" then
    opt.procs_kernels = {}
    for _, k in ipairs(list(v)) do opt.procs_kernels[k] = true end
  else
    io.stderr:write("gpu_tune_bench: unknown argument " .. tostring(a) .. "\n")
    os.exit(2)
  end
  i = i + 2
end
for _, g in ipairs(opt.gpus) do
  if not g or g < 1 then
    io.stderr:write("gpu_tune_bench: --gpus takes counts >= 1\n")
    os.exit(2)
  end
end
-- quick runs on the --gpus counts when --gpus is given and --quick-gpus is not
if not explicit_quick_gpus then opt.quick_gpus = {opt.gpus[1]} end
if not explicit_full then -- --kernels alone: full runs on those of them that are full kernels
  local chosen = {}
  for _, k in ipairs(opt.kernels) do chosen[k] = opt.full_kernels[k] end
  opt.full_kernels = chosen
end

local ok_gpu, why = helua.cuda.is_available()
if not ok_gpu then
  print("gpu_tune_bench: cuda: unavailable (" .. tostring(why) .. ")")
  os.exit(77)
end
local ngpu = core.cuda_device_count()
local info = helua.cuda.device_info()
local t_start = core.clock()

local logf = opt.log and assert(io.open(opt.log, "a")) or io.stderr
local function log(line)
  logf:write(line, "\n")
  logf:flush()
end

-- The issue's sizes and Helion's tuned numbers on the H100 (issue 5).
local bf16, f32 = helua.bfloat16, helua.float32
local function randn(shape, dtype, seed)
  return helua.randn(shape, {dtype = dtype, seed = seed, device = "cuda"})
end
local function empty(shape, dtype) return helua.empty(shape, {dtype = dtype, device = "cuda"}) end
local A, S1, S2, MM = 8192, 4096, 16384, 4096
if opt.small then A, S1, S2, MM = 512, 64, 1024, 256 end
local KERNELS = {
  add = {file = "kernels/add.lua", what = string.format("add f32 [%d, %d]", A, A),
         inputs = function() return randn({A, A}, f32, 1), randn({A, A}, f32, 2) end,
         named = function(x, y) return {x = x, y = y, out = empty({A, A}, f32)} end,
         bytes = 3 * 4 * A * A, helion = 3050, unit = "GB/s"},
  softmax = {file = "kernels/softmax.lua", what = string.format("softmax bf16 [%d, %d]", S1, S2),
             inputs = function() return randn({S1, S2}, bf16, 3) end,
             named = function(x) return {x = x, out = empty({S1, S2}, bf16)} end,
             bytes = 2 * 2 * S1 * S2, helion = 2822, unit = "GB/s"},
  matmul = {file = "kernels/matmul.lua", what = string.format("matmul bf16 %d^3", MM),
            inputs = function() return randn({MM, MM}, bf16, 9), randn({MM, MM}, bf16, 10) end,
            named = function(x, y) return {x = x, y = y, out = empty({MM, MM}, bf16)} end,
            flops = 2 * MM * MM * MM, helion = 690, unit = "TFLOP/s"},
}

-- Milliseconds of cfg's compiled kernel alone on the bound kernel's arguments.
local function time_config(bk, b, args, cfg)
  local ck = bk:_compiled(bk:_variant(cfg), cfg)
  local named, launch = b.named(table.unpack(args, 1, args.n)), {}
  for k, n in ipairs(ck:info().args) do
    if named[n] == nil then error("no launch value for argument " .. n) end
    launch[k] = named[n]
  end
  return bench.time_ms(function() ck:launch(launch) end, opt.repeats)
end

local function rate(b, ms)
  if b.bytes then return b.bytes / (ms * 1e6) end
  return b.flops / (ms * 1e9)
end

-- One tuning run: kernel name, effort, GPU count [, worker processes per GPU] -> a row table
-- (or row.failed = reason).
local function tune_row(name, effort, g, procs)
  local b = KERNELS[name]
  if not b then
    return {kernel = name, what = name, effort = effort, gpus = g,
            failed = "FAILED: unknown kernel"}
  end
  local row = {kernel = name, what = b.what, effort = effort, gpus = g, unit = b.unit,
               helion = b.helion, procs = procs}
  if g > ngpu then
    row.failed = string.format("skipped: this machine has %d GPU%s", ngpu, ngpu == 1 and "" or "s")
    return row
  end
  local budget = effort == "quick" and opt.budget_quick or opt.budget_full
  row.budget = budget
  local ok, err = pcall(function()
    local entry = bench.entry(b.file, name)
    local args = table.pack(b.inputs())
    local k = run.with_settings(entry.kernel, {backend = "cuda", autotune_effort = "none",
                                               logs = opt.trials and "tune" or ""})
    local bk = k:bind(table.unpack(args, 1, args.n))
    local devices = {}
    for d = 1, g do devices[d] = "cuda:" .. (d - 1) end
    log(string.format("== %s %s on %s%s (budget %gs)", b.what, effort,
                      table.concat(devices, ", "), procs and (", " .. procs .. " processes per GPU")
                        or "", budget))
    local t0 = core.clock()
    local best, rep = bk:autotune({effort = effort, budget_seconds = budget, cache = false,
                                   devices = devices, log = log,
                                   procs_per_gpu = procs or opt.procs_per_gpu})
    row.wall = core.clock() - t0
    row.search_s, row.setup_s, row.retime_s = rep.search_s, rep.setup_s, rep.retime_s
    row.hit = rep.hit_budget
    row.tried, row.ok, row.nfailed = #rep.trials, rep.ok, rep.failed
    row.phases, row.setup_parts = rep.phases, rep.setup_parts
    row.default_ms = time_config(bk, b, args, rep.default.cfg)
    row.tuned_ms = time_config(bk, b, args, best)
    row.rate = rate(b, row.tuned_ms)
    row.config = best:to_lua()
    log(string.format("-- %s %s %d GPU(s): default %.4f ms, tuned %.4f ms, %.0f %s, wall %.1fs",
                      name, effort, g, row.default_ms, row.tuned_ms, row.rate, b.unit, row.wall))
  end)
  if not ok then row.failed = "FAILED: " .. tostring(err):gsub("\n", " ") end
  collectgarbage()
  return row
end

-- The JIT probe: do module loads (the driver's PTX JIT) run in parallel on threads of one
-- process? 8 random matmul configs are lowered, then lowered and loaded, on 1 thread, and 8
-- others on 8 threads (core.compile_start, as a GPU worker does; other configs, so the driver's
-- JIT cache cannot serve the second pass what the first compiled). Serialized loads show as a loading
-- wall on 8 threads (lower + load minus lower) near the 1-thread JIT sum, and as a summed JIT
-- time on 8 threads well above it (each load's time includes its wait for the others); parallel
-- ones as a wall near 1/8 of it and about the same sum. Run before the tuning rows unless
-- --no-jit-probe (about 10-20 s on the H100).
local probe
if opt.jit_probe ~= false then
  local okp, err = pcall(function()
    local b = KERNELS.matmul
    local args = table.pack(b.inputs())
    local k = run.with_settings(bench.entry(b.file, "matmul").kernel,
                                {backend = "cuda", autotune_effort = "none"})
    local bk = k:bind(table.unpack(args, 1, args.n))
    local v = bk:_variant(bk:config())
    local space = bk:config_spec()
    local seen, configs = {}, {}
    local r = 0
    while #configs < 16 and r < 400 do
      r = r + 1
      local c = space:check(space:random(r))
      local key = space:to_json(c)
      if not seen[key] then
        seen[key] = true
        configs[#configs + 1] = bk:_config_table(v, require("helua.config").new(c))
      end
    end
    if #configs < 16 then error("the probe found " .. #configs .. " distinct configs, not 16", 0) end
    local first, second = table.move(configs, 1, 8, 1, {}), table.move(configs, 9, 16, 1, {})
    local function wall(threads, load)
      local t0 = core.clock()
      local set = threads == 1 and first or second
      local ks, _, jit = core.compile_start(v.func, set, threads, "cuda", load):wait()
      local loaded = 0
      for _, ck in ipairs(ks) do
        if type(ck) == "userdata" and ck:info().compile_ms.jit > 0 then loaded = loaded + 1 end
      end
      return core.clock() - t0, jit, loaded
    end
    probe = {n = 8}
    probe.lower1 = wall(1, false)
    probe.load1, probe.jit1, probe.loaded1 = wall(1, true)
    probe.lower8 = wall(8, false)
    probe.load8, probe.jit8, probe.loaded8 = wall(8, true)
  end)
  if not okp then probe = {failed = tostring(err):gsub("\n", " ")} end
end

local rows = {}
for _, effort in ipairs(opt.efforts) do
  for _, name in ipairs(opt.kernels) do
    if effort ~= "full" or opt.full_kernels[name] then
      for _, g in ipairs(effort == "quick" and opt.quick_gpus or opt.gpus) do
        rows[#rows + 1] = tune_row(name, effort, g)
      end
      if effort == "quick" and opt.procs > 1 and opt.procs_kernels[name] then
        rows[#rows + 1] = tune_row(name, effort, 1, opt.procs)
      end
    end
  end
end

-- Derived columns: quick vs full (the best tuned time full effort found, any GPU count), and
-- the multi-GPU speed-up of the search phase (trials per second vs the same effort on 1 GPU;
-- the wall-time ratio too when neither run hit its budget).
local best_full, one = {}, {}
for _, r in ipairs(rows) do
  if not r.failed then
    if r.effort == "full" then
      best_full[r.kernel] = math.min(best_full[r.kernel] or math.huge, r.tuned_ms)
    end
    r.gpus_text = r.procs and string.format("%d (%d procs)", r.gpus, r.procs) or tostring(r.gpus)
    if r.gpus == 1 and not r.procs then one[r.kernel .. "/" .. r.effort] = r end
  end
end

local out = {}
local function emit(s) out[#out + 1] = s end
emit(string.format("helua GPU tuner bench: %s (%d SMs, %d GPU%s here), driver %d, %s UTC",
                   info.name, info.sm_count, ngpu, ngpu == 1 and "" or "s", info.driver_version,
                   os.date("!%Y-%m-%d %H:%M")))
emit(string.format("budgets: quick %gs, full %gs (search phase); times: median of %d event-timed "
                   .. "launches; cache off; %d worker process%s per GPU (rows without \"procs\")",
                   opt.budget_quick, opt.budget_full, opt.repeats, opt.procs_per_gpu,
                   opt.procs_per_gpu == 1 and "" or "es"))
emit("")
emit("| kernel | effort | GPUs | budget s | tuning wall s | search s | trials/s "
     .. "| configs tried/ok/failed | default ms | tuned ms | tuned | Helion | vs Helion "
     .. "| quick vs full | speed-up vs 1 GPU |")
emit("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
for _, r in ipairs(rows) do
  if r.failed then
    emit(string.format("| %s | %s | %s | %s | %s |  |  |  |  |  |  |  |  |  |  |", r.what,
                       r.effort, r.gpus_text or tostring(r.gpus),
                       r.budget and string.format("%g", r.budget) or "-", r.failed))
  else
    local tps = r.tried / math.max(r.search_s, 1e-9)
    local gap = "-"
    if r.effort == "quick" and best_full[r.kernel] then
      gap = string.format("%+.1f%%", 100 * (r.tuned_ms / best_full[r.kernel] - 1))
    end
    local speed = "-"
    local base = one[r.kernel .. "/" .. r.effort]
    if (r.gpus > 1 or r.procs) and base then
      local s = tps / (base.tried / math.max(base.search_s, 1e-9))
      speed = string.format("%.2fx trials/s (%.2f per GPU)", s, s / r.gpus)
      if r.procs then speed = string.format("%.2fx trials/s vs 1 process", s) end
      if not r.hit and not base.hit then
        speed = speed .. string.format(", %.2fx wall", base.search_s / r.search_s)
      end
    end
    emit(string.format("| %s | %s | %s | %g | %.1f | %.1f%s | %.2f | %d/%d/%d | %.4f | %.4f "
                       .. "| %.0f %s | %d %s | %.2fx | %s | %s |", r.what, r.effort, r.gpus_text,
                       r.budget, r.wall,
                       r.search_s, r.hit and " (hit)" or "", tps, r.tried, r.ok, r.nfailed,
                       r.default_ms, r.tuned_ms, r.rate, r.unit, r.helion, r.unit,
                       r.rate / r.helion, gap, speed))
  end
end
emit("")
emit("Per phase (seconds summed over the run's trials; compile and jit run on worker threads):")
for _, r in ipairs(rows) do
  if not r.failed then
    local sp = r.setup_parts or {}
    emit(string.format("- %s %s %s GPU: setup %.1fs (reference %.1fs, packing %.1fs, default's "
                       .. "trial %.1fs, worker setup %.1fs), search %.1fs, re-time %.1fs; %s",
                       r.kernel, r.effort, r.gpus_text, r.setup_s, sp.reference or 0,
                       sp.packing or 0,
                       sp.first_trial or 0, sp.worker or 0, r.search_s, r.retime_s,
                       tune.phases_text(r.phases)))
  end
end
emit("")
emit("Tuned configs:")
for _, r in ipairs(rows) do
  if not r.failed then
    emit(string.format("- %s %s %s GPU: %s", r.kernel, r.effort, r.gpus_text, r.config))
  end
end
if probe and probe.failed then
  emit("\nJIT probe FAILED: " .. probe.failed)
elseif probe then
  local ok_ratio = probe.jit1 >= 0.01
  emit(string.format("\nJIT probe (%d random matmul configs, seconds): 1 thread: lower %.2f, "
    .. "lower + "
    .. "load %.2f, JIT summed %.2f (%d loaded); 8 threads: lower %.2f, lower + load %.2f, JIT "
    .. "summed %.2f (%d loaded). Loading wall on 8 threads / JIT on 1: %s (0.125: parallel, 1: "
    .. "serialized); JIT summed 8 / 1: %s (1: parallel, more: queued)", probe.n, probe.lower1,
    probe.load1, probe.jit1, probe.loaded1, probe.lower8, probe.load8, probe.jit8, probe.loaded8,
    ok_ratio and string.format("%.2f", (probe.load8 - probe.lower8) / probe.jit1) or "-",
    ok_ratio and string.format("%.2f", probe.jit8 / probe.jit1) or "-"))
end
emit(string.format("\nbench wall time: %.0fs", core.clock() - t_start))
local text = table.concat(out, "\n") .. "\n"
io.write(text)
if opt.out then
  local f = assert(io.open(opt.out, "w"))
  f:write(text)
  f:close()
end
for _, r in ipairs(rows) do
  if r.failed and not r.failed:match("^skipped") then os.exit(1) end
end
os.exit(0)
