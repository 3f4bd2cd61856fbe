-- The autotuner (cpu and cuda targets): searches a bound kernel's config space (the C space
-- binding: default, random, neighbours, check, to_json) for the fastest config whose results
-- match the default config's. Part of lua/helua (policy; the space and the compiler are C).
-- A cuda-target kernel (backend cuda, or device tensors) searches the cuda space; its trials
-- run in GPU workers, one per GPU (helua.tune_pool, helua.tune_worker), timed with CUDA events.
--
-- tune.autotune(bound, args, opts) -> best Config, report. opts (all optional):
--   effort          "quick" | "full" (settings.effort_profiles; "none" returns the default)
--   configs         a list of configs (tables or Configs): finite search over exactly these
--   budget_seconds  wall-clock budget of the search (default: the effort's)
--   seed            first random seed (default 1)
--   log             function(line) for progress lines (default: stderr); false = silent
--   csv             path of a CSV of every trial (default: HELUA_AUTOTUNE_LOG)
--   repeats         timed runs per candidate (median; default: the effort's)
--   algorithm       "pattern" | "de" | "random" (default: the autotune_algorithm setting)
--   on_progress     function(t) per finished trial (helua.tune_progress lists the fields)
--   workers, devices the worker pool (helua.tune_pool.devices); procs_per_gpu: cuda worker
--                   processes per GPU, taking turns on it (default 2 with >= 8 cores per GPU)
--
-- Search: the candidates come from C (space:search, src/config/config_strategy.c): generation
-- 0 is the default config and random ones; then pattern search (hill-climbing from the best
-- `copies` configs through their neighbours, radius 1 then 2 when a generation finds nothing
-- better), differential evolution (DE/rand/1/bin over the population, the faster of parent and
-- trial kept) or random search. Policy stays here: the budget, timing, checks, the log. Every
-- config is normalized by space:check and deduplicated by space:to_json, so each unique config
-- compiles and runs once.
-- Timing: median of `repeats` runs with core.clock(); a candidate whose sample is >= 3x the best
-- so far stops being timed. At the end the 3 leaders and the default are re-timed interleaved
-- and the best of those wins (the default when nothing beats it). Correctness: every returned value vs the default config's, with
-- tolerances scaled to the magnitude of the default's output; a mismatch or an error is a failed
-- trial. Errors (compile or launch) never stop the search.
local core = require "helua.core"
local Config = require "helua.config"
local settings = require "helua.settings"
local helua = require "helua"

local tune = {}

-- Search parameters per effort, over Helion's profile numbers (settings.effort_profiles).
-- population: generation 0 (the default + random configs), DE's population, random search's
-- generation size; copies: pattern search's starting points; patience: DE and random search stop
-- after this many generations without a better config. budget: seconds from the start (setup
-- and the default included) after which no new trial starts; the leaders' re-timing follows, so
-- a whole quick tune ends within about 20 s and a full one within 120 s (issue 5's limits).
tune.PROFILES = {
  quick = {population = 12, copies = 2, max_generations = 5, patience = 3, repeats = 3,
           budget = 18},
  full = {population = 40, copies = 4, max_generations = 20, patience = 5, repeats = 5,
          budget = 112},
}

tune.ALGORITHMS = {"pattern", "de", "random", "finite"}
local ALGORITHM_TEXT = {pattern = "pattern search", de = "differential evolution",
                        random = "random search"}

-- The search algorithm: opts.algorithm, else the kernel's autotune_algorithm setting
-- (HELUA_AUTOTUNE_ALGORITHM), else pattern; "finite" when opts.configs is given.
function tune.algorithm(bound, opts)
  local a = opts.algorithm
  if a == nil and bound.kernel and bound.kernel.settings then
    a = bound.kernel.settings.autotune_algorithm
  end
  if opts.configs then return "finite" end
  a = a or "pattern"
  if a == "finite" then
    error("autotune: the finite algorithm searches a list of configs: give configs = {...}", 0)
  end
  if not ALGORITHM_TEXT[a] then
    error("autotune algorithm must be one of " .. table.concat(tune.ALGORITHMS, ", ") .. "; got "
      .. tostring(a), 0)
  end
  return a
end

local SLOWER = 3 -- stop timing a candidate once a sample is this many times the best

local function profile(effort)
  local p = tune.PROFILES[effort]
  if not p then
    error("autotune effort must be one of none, quick, full; got " .. tostring(effort), 0)
  end
  local h = settings.effort_profiles[effort] or {}
  return {population = p.population, copies = h.copies and math.min(h.copies, p.copies) or p.copies,
          max_generations = p.max_generations, patience = p.patience, repeats = p.repeats,
          budget = p.budget}
end

local median = require("helua.run").median
tune.median = median

local function pack(...) return {n = select("#", ...), ...} end

-- Relative tolerance by the output's dtype (long reductions and other tilings reorder sums).
local RTOL = {float64 = 1e-9, float32 = 1e-4, float16 = 1e-2, bfloat16 = 3e-2}

-- max |a - b| of two host tensors (any dtypes, no float64 copies), on `threads` threads when
-- the build has core.max_abs_err_par and the shapes match; else helua.max_abs_err.
local function max_err(a, b, threads)
  if core.max_abs_err_par and #a:shape() == #b:shape() then
    local ok, e = pcall(core.max_abs_err_par, a, b, threads or 1)
    if ok then return e end
  end
  return helua.max_abs_err(a, b)
end

-- The reference's largest magnitude, once per reference tensor.
local scales = setmetatable({}, {__mode = "k"})
local function scale_of(w, threads)
  local s = scales[w]
  if not s then
    s = max_err(w, helua.zeros_like(w), threads)
    if s ~= s then s = 0 end
    scales[w] = s
  end
  return s
end

-- Compares results with the reference results: nil when they match, else a message. Tolerances
-- scale with the reference's largest magnitude, so reordered long sums are not rejected.
-- threads: how many threads compare a big tensor (a worker's cores; default 1).
function tune.compare(got, want, threads)
  if got.n ~= want.n then return "returned " .. got.n .. " values, the default " .. want.n end
  for i = 1, want.n do
    local g, w = got[i], want[i]
    if helua.is_tensor(w) then
      if not helua.is_tensor(g) then return "result " .. i .. " is not a tensor" end
      if g.device == "cuda" then g = g:cpu() end -- compared on the host
      if w.device == "cuda" then w = w:cpu() end
      local ok_shape = #g:shape() == #w:shape()
      if ok_shape then
        for d, s in ipairs(g:shape()) do ok_shape = ok_shape and s == w:shape()[d] end
      end
      if not ok_shape then return "result " .. i .. " has another shape" end
      local scale = scale_of(w, threads)
      local rtol = RTOL[w.dtype] or 1e-4
      local err = max_err(g, w, threads)
      if err ~= err or err > rtol * math.max(scale, 1e-30) * 4 + 1e-12 then
        return string.format("result %d differs from the default config's (max abs err %.3g, "
          .. "scale %.3g)", i, err, scale)
      end
    elseif type(w) == "number" then
      if type(g) ~= "number" or math.abs(g - w) > 1e-4 * math.max(1, math.abs(w)) then
        return "result " .. i .. " differs from the default config's"
      end
    end
  end
  return nil
end

-- A measurement as one line of text (what a worker sends back) and back.
local function encode(r)
  local xs = {}
  for i, x in ipairs(r.samples or {}) do xs[i] = string.format("%.9e", x) end
  return table.concat({r.status, r.cut and "1" or "0", string.format("%.6f", r.compile_s or 0),
                       table.concat(xs, ","), (tostring(r.message or "")):gsub("[\t\n]", " ")}, "\t")
end

local function decode(text)
  local status, cut, comp, xs, msg = text:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t([^\t]*)\t(.*)$")
  if not status then return {status = "error", message = "bad worker reply: " .. text} end
  local samples = {}
  for x in xs:gmatch("[^,]+") do samples[#samples + 1] = tonumber(x) end
  return {status = status, cut = cut == "1", compile_s = tonumber(comp), samples = samples,
          message = msg ~= "" and msg or nil}
end

local ranked -- the ok trials, fastest first (below)

-- The phases of a trial whose seconds a worker reports (summed in report.phases): the lowering
-- (the trial's share of its chunk's wall time on the compile threads), the PTX JIT (the module
-- load, on a compile thread or at the first launch), the launching thread's wait for its chunk
-- to compile, the check (first launch, copy back, compare) and the timed launches.
tune.PHASES = {"compile", "jit", "wait", "check", "time"}

local function new_phases()
  local ph = {same_binary = 0, by_device = {}}
  for _, k in ipairs(tune.PHASES) do ph[k] = 0 end
  return ph
end

-- The phases as one line: "compile 3.1 s, jit 1.2 s, ..., trials per device cuda:0 30, cuda:1 28".
function tune.phases_text(ph)
  local parts = {}
  for _, k in ipairs(tune.PHASES) do parts[#parts + 1] = string.format("%s %.1fs", k, ph[k]) end
  local devs = {}
  for d, n in pairs(ph.by_device) do devs[#devs + 1] = d .. " " .. n end
  table.sort(devs)
  return table.concat(parts, ", ") .. string.format("; %d same binary; trials by device: %s",
    ph.same_binary, #devs > 0 and table.concat(devs, ", ") or "-")
end

-- The search state: trials (every unique config), the best so far, the log.
local Search = {}
Search.__index = Search

function Search:log(fmt, ...)
  if not self.logger then return end
  local line = string.format("[%ds] ", math.floor(core.clock() - self.t0)) .. string.format(fmt, ...)
  if self.progress.tty then self.progress:line(line) else self.logger(line) end
end

-- Reports a finished trial (the progress bar, on_progress).
function Search:finished(t)
  t.device = t.device or self.host_device
  self.ndone = (self.ndone or 0) + 1
  self.progress:trial(t, {done = self.ndone, planned = math.max(self.planned, #self.trials),
    ok = self.ok, failed = self.failed, best_ms = self.best and self.best.time * 1e3,
    elapsed_s = core.clock() - self.t0, generation = self.gen or 0,
    max_generations = self.max_generations, budget_s = self.budget})
  return t
end

function Search:over_budget()
  return not self.unbudgeted and core.clock() - self.t0 > self.budget
end

-- A candidate's trial: the one of an equal config already tried (new = false), a finished
-- `invalid` trial (the space rejects it), or a new trial to run (new = true).
function Search:admit(tbl)
  local ok, full = pcall(self.space.check, self.space, tbl)
  if not ok then
    local t = {key = "?", status = "invalid", message = tostring(full), time = math.huge,
               index = #self.trials + 1}
    self.trials[#self.trials + 1] = t
    self.failed = self.failed + 1
    return self:finished(t), false
  end
  local key = self.space:to_json(full)
  if self.seen[key] then return self.seen[key], false end
  local trial = {key = key, tbl = full, time = math.huge, samples = {}, index = #self.trials + 1,
                 cfg = Config.new(full)}
  self.seen[key] = trial
  self.trials[#self.trials + 1] = trial
  return trial, true
end

-- Forgets an admitted trial that never ran (a worker skipped it past the budget).
function Search:unadmit(trial)
  self.seen[trial.key] = nil
  for k = #self.trials, 1, -1 do
    if self.trials[k] == trial then table.remove(self.trials, k) break end
  end
end

-- Records a measurement {status, message, samples, cut, compile_s, device} in its trial.
function Search:record(trial, r)
  trial.status, trial.message, trial.cut = r.status, r.message, r.cut
  trial.samples, trial.compile_s, trial.device = r.samples or {}, r.compile_s, r.device
  local ph = self.phases
  for _, k in ipairs(tune.PHASES) do
    trial[k .. "_s"] = r[k .. "_s"]
    ph[k] = ph[k] + (r[k .. "_s"] or 0)
  end
  if r.same_binary_as then ph.same_binary = ph.same_binary + 1 end
  if r.device then ph.by_device[r.device] = (ph.by_device[r.device] or 0) + 1 end
  if r.same_binary_as then
    trial.same_binary_as = r.same_binary_as
    trial.message = trial.message or ("the same binary as " .. r.same_binary_as)
  end
  if trial.status ~= "ok" then
    self.failed = self.failed + 1
    if trial.status == "crash" or trial.status == "timeout" or self.trial_log then
      self:log("Trial %d on %s: %s (%s) %s", trial.index, tostring(trial.device), trial.status,
               tostring(trial.message), trial.key)
    end
    return self:finished(trial)
  end
  trial.time = median(trial.samples)
  self.ok = self.ok + 1
  if not self.best or trial.time < self.best.time then self.best = trial end
  if self.trial_log then
    self:log("Trial %d on %s: ok %.4f ms%s %s", trial.index, tostring(trial.device),
             trial.time * 1e3, trial.same_binary_as and " (the same binary as another)" or "",
             trial.key)
  end
  return self:finished(trial)
end

-- Runs a new trial in a forked worker (or in this process when the search does not isolate).
function Search:run_forked(trial)
  local key, cfg = trial.key, trial.cfg
  local r
  if self.isolate then
    local status, text = core.tune_fork(function() return encode(self:measure(key, cfg)) end,
                                        self.timeout)
    if status == "ok" then r = decode(text)
    elseif status == "signal" then r = {status = "crash", message = "the worker died of " .. text}
    elseif status == "timeout" then
      r = {status = "timeout", message = string.format("ran past %gs; killed", self.timeout)}
    elseif status == "error" then r = {status = "error", message = text}
    else r = {status = "crash", message = "the worker exited with " .. tostring(text)} end
  else
    r = self:measure(key, cfg)
  end
  r.device = self.host_device
  return self:record(trial, r)
end

-- Runs one candidate: compile, run once (checked), time. Returns the trial (cached per config).
function Search:evaluate(tbl)
  local trial, new = self:admit(tbl)
  if not new then return trial end
  return self:run_forked(trial)
end

-- How candidates run: opts.isolate = false (in this process), "fork" (a forked child per trial),
-- "exec" or true or nil (the worker pool when this build has it, else fork).
-- A cuda search never forks (a CUDA context does not survive a fork): without the pool it runs
-- in this process.
function tune.isolation(opts, target)
  local i = opts.isolate
  if i == false then return "none" end
  if i == "fork" and target == "cuda" then
    error("autotune: isolate = \"fork\" cannot run GPU trials (a CUDA context does not survive "
      .. "a fork); use the worker pool (the default) or isolate = false", 0)
  end
  if i == "fork" then return core.tune_fork and "fork" or "none" end
  if i == nil or i == true or i == "exec" then
    if core.worker_available and core.worker_available() then return "exec" end
    if target == "cuda" then return "none" end
    return core.tune_fork and "fork" or "none"
  end
  error("autotune: isolate must be true, false, \"exec\" or \"fork\", got " .. tostring(i), 0)
end

-- Starts the worker pool (helua.tune_pool): the setup (IR, arguments, reference outputs) and the
-- devices; a kernel that cannot go through workers falls back to forked trials, logged.
function Search:start_pool(opts)
  local P = require "helua.tune_pool"
  local devices = P.devices(opts, self.target)
  local setup, why = P.setup(self)
  if not setup then
    self:log("Trials run in %s (the worker pool cannot take this kernel: %s)",
             self.target == "cuda" and "this process" or "forked workers",
             (tostring(why):gsub("\n.*", "")))
    if self.target == "cuda" then self.isolate = false end
    return
  end
  -- procs_per_gpu: several worker processes per GPU, taking turns on it (a file lock held while
  -- one checks and times a candidate) while the others compile and load modules: the driver's
  -- PTX JIT of one process does not wait for another's
  -- default: 2 on a cuda search when the machine has the cores for it (measured on the H100
  -- machine: 2.5x the trials per second of one process at the same quality, tuning.md)
  local cores = core.cpu_count and core.cpu_count() or 1
  local per = opts.procs_per_gpu or (self.target == "cuda" and cores >= 8 * #devices and 2 or 1)
  if math.type(per) ~= "integer" or per < 1 then
    error("autotune: procs_per_gpu must be a positive integer, got " .. tostring(per), 0)
  end
  local slots, locks = devices, nil
  if per > 1 and self.target == "cuda" then
    slots, locks = {}, {}
    local stem = string.format("%s/helua-gpu-lock-%x-%x", os.getenv("TMPDIR") or "/tmp",
                               math.floor(core.clock() * 1e6) % 0x7fffffff, math.random(1 << 30))
    for _, d in ipairs(devices) do
      for _ = 1, per do
        slots[#slots + 1] = d
        locks[#locks + 1] = stem .. "-" .. d:gsub(":", "")
      end
    end
    self.lock_files = locks
  end
  self.setup, self.pool = setup, P.new(slots, self.timeout, nil, locks)
  self.pool:warm(setup)
  self.devices, self.procs_per_gpu = devices, per > 1 and self.target == "cuda" and per or nil
end

-- Runs a generation's candidates until the budget: through the worker pool (N workers run N
-- trials at once) or one by one. Returns the trials by candidate index (nil: not run).
function Search:evaluate_all(cands)
  if self.pool then return self.pool:evaluate_all(self, cands) end
  local out = {}
  for i, c in ipairs(cands) do
    if self:over_budget() then break end
    out[i] = self:evaluate(c)
  end
  return out
end

-- Compiles, runs (checked against self.want) and times cfg, in this process; in a worker when
-- the search isolates. Returns {status = "ok"|"wrong"|"error", message, samples, cut, compile_s}.
function Search:measure(key, cfg)
  local fault = core.flag("HELUA_TEST_FAULT_CONFIG")
  if self.isolate and fault and fault ~= "" and key:find(fault, 1, true) then core.tune_fault() end
  local bound, args = self.bound, self.args
  local c0 = core.clock()
  local okr, res = pcall(function() return pack(bound:run(cfg, table.unpack(args, 1, args.n))) end)
  local r = {compile_s = core.clock() - c0, samples = {}}
  if not okr then
    r.status, r.message = "error", tostring(res):gsub("\n.*", "")
    return r
  end
  local msg = tune.compare(res, self.want)
  if msg then
    r.status, r.message = "wrong", msg
    return r
  end
  for _ = 1, self.repeats do
    collectgarbage("collect")
    local t0 = core.clock()
    local okt, e = pcall(bound.run, bound, cfg, table.unpack(args, 1, args.n))
    if okt and self.target == "cuda" then okt, e = pcall(core.cuda_synchronize) end
    local dt = core.clock() - t0
    if not okt then
      r.status, r.message = "error", tostring(e):gsub("\n.*", "")
      return r
    end
    r.samples[#r.samples + 1] = dt
    if self.best and dt >= SLOWER * self.best.time then r.cut = true break end
  end
  r.status = "ok"
  return r
end

-- Re-times the n fastest configs and the default, interleaved (rounds of `repeats` runs each, in
-- this process: they already ran safely in a worker), so that a time measured while something
-- else loaded the machine does not pick the winner. The best is the lowest median of the rounds;
-- the trials' times become their re-timed ones (the search's are kept in search_time).
function Search:retime(n)
  local leaders = {}
  for i, t in ipairs(ranked(self)) do
    if i > n then break end
    leaders[#leaders + 1] = t
  end
  local has_default = false
  for _, t in ipairs(leaders) do has_default = has_default or t == self.default end
  if not has_default and self.default.status == "ok" then leaders[#leaders + 1] = self.default end
  if #leaders < 2 then return end
  if self.pool and self.target == "cuda" then return self:retime_in_worker(leaders, has_default) end
  local bound, args = self.bound, self.args
  local sync = self.target == "cuda" and core.cuda_synchronize or function() end
  local rounds = {}
  for i, t in ipairs(leaders) do
    rounds[i] = {}
    if not pcall(bound.run, bound, t.cfg, table.unpack(args, 1, args.n)) then return end
  end
  for _ = 1, 5 do
    for i, t in ipairs(leaders) do
      local xs = {}
      for r = 1, self.repeats do
        collectgarbage("collect")
        local t0 = core.clock()
        bound:run(t.cfg, table.unpack(args, 1, args.n))
        sync()
        xs[r] = core.clock() - t0
      end
      rounds[i][#rounds[i] + 1] = median(xs)
    end
  end
  local best
  for i, t in ipairs(leaders) do
    t.search_time, t.time, t.retimed = t.time, median(rounds[i]), true
    if not best or t.time < best.time then best = t end
  end
  self.best = best
  self:log("Re-timed the %d leaders and the default interleaved: best %.4f ms, default %.4f ms",
           #leaders - (has_default and 0 or 1), best.time * 1e3, self.default.time * 1e3)
end

-- The GPU leaders re-timed in a worker (the kernel alone, CUDA events, L2 flushed: as the search
-- timed them; the tuner's process would time host code too). Keeps the search's times when the
-- worker cannot.
function Search:retime_in_worker(leaders, has_default)
  local P = self.setup
  local configs = {}
  for i, t in ipairs(leaders) do
    local ok, tbl = pcall(self.bound._config_table, self.bound, P.v, t.cfg)
    if not ok then return end
    configs[i] = tbl
  end
  local reply, why = self.pool:call(P, {op = "retime", sid = P.sid, configs = configs, rounds = 5,
                                        repeats = self.repeats, threads = self.pool.threads},
                                    self.timeout * (1 + #leaders))
  if not reply or reply.status ~= "ok" then
    self:log("Re-timing the leaders failed (%s); the search's times stand",
             tostring(why or reply.message))
    return
  end
  local best
  for i, t in ipairs(leaders) do
    local x = reply.times[i]
    if x and x < math.huge then
      t.search_time, t.time, t.retimed = t.time, x, true
      if not best or t.time < best.time then best = t end
    end
  end
  if not best then return end
  self.best = best
  self:log("Re-timed the %d leaders and the default interleaved on %s: best %.4f ms, default "
           .. "%.4f ms", #leaders - (has_default and 0 or 1), tostring(reply.device),
           best.time * 1e3, self.default.time * 1e3)
end

-- Logs a generation: ok/failed counts, the min and median times of this generation's trials.
function Search:generation(n, trials)
  local times = {}
  for _, t in ipairs(trials) do
    if t.status == "ok" then times[#times + 1] = t.time end
  end
  table.sort(times)
  local ok, failed = 0, 0
  for _, t in ipairs(trials) do
    if t.status == "ok" then ok = ok + 1 else failed = failed + 1 end
  end
  local on = ""
  if self.devices and #self.devices > 1 then -- which GPU (or CPU worker) ran how many
    local count, names = {}, {}
    for _, t in ipairs(trials) do
      if t.device then
        if not count[t.device] then names[#names + 1] = t.device end
        count[t.device] = (count[t.device] or 0) + 1
      end
    end
    table.sort(names)
    for k, d in ipairs(names) do names[k] = d .. " " .. count[d] end
    on = " on " .. table.concat(names, ", ")
  end
  self:log("Generation %d: ok=%d failed=%d%s min=%s mid=%s best=%s", n, ok, failed, on,
           times[1] and string.format("%.4f", times[1] * 1e3) or "-",
           #times > 0 and string.format("%.4f", median(times) * 1e3) or "-",
           self.best and self.best.cfg:to_lua() or "-")
end

ranked = function(self)
  local list = {}
  for _, t in ipairs(self.trials) do
    if t.status == "ok" then list[#list + 1] = t end
  end
  table.sort(list, function(a, b) return a.time < b.time end)
  return list
end

function Search:write_csv(path)
  local f, err = io.open(path, "w")
  if not f then
    io.stderr:write("helua: cannot write the autotune log " .. path .. ": " .. tostring(err) .. "\n")
    return
  end
  f:write("index,status,time_ms,samples,cut,compile_s,config,message,device,jit_s,wait_s,"
    .. "check_s,time_s\n")
  local function q(s) return '"' .. tostring(s or ""):gsub('"', '""') .. '"' end
  local function sec(x) return x and string.format("%.4f", x) or "" end
  for i, t in ipairs(self.trials) do
    f:write(string.format("%d,%s,%s,%d,%s,%s,%s,%s,%s,%s,%s,%s,%s\n", i, t.status or "?",
      t.time < math.huge and string.format("%.6f", t.time * 1e3) or "",
      t.samples and #t.samples or 0, t.cut and "1" or "0", sec(t.compile_s), q(t.key),
      q(t.message), q(t.device), sec(t.jit_s), sec(t.wait_s), sec(t.check_s), sec(t.time_s)))
  end
  f:close()
end

local function default_logger(line)
  io.stderr:write(line, "\n")
  io.stderr:flush()
end

-- tune.autotune(bound, args, opts): see the top of the file. args: packed arguments (table.pack).
function tune.autotune(bound, args, opts)
  opts = opts or {}
  local effort = opts.effort or "quick"
  local space = bound:config_spec()
  if effort == "none" then return Config.new(space:default()), {trials = {}, effort = "none"} end
  local p = profile(effort == "finite" and "quick" or effort)
  -- the target of the trace the search runs (cuda: backend cuda, or device tensors)
  local target = opts.target
  if not target then
    local okv, v = pcall(bound._variant, bound, bound:config())
    target = okv and v and v.target or "cpu"
  end
  local logger = opts.log
  if logger == nil then logger = default_logger end
  local self = setmetatable({
    bound = bound, args = args, space = space, trials = {}, seen = {}, ok = 0, failed = 0,
    t0 = core.clock(), budget = opts.budget_seconds or p.budget, repeats = opts.repeats or p.repeats,
    logger = logger or nil, isolate = opts.isolate ~= false and core.tune_fork ~= nil,
    target = target, mode = tune.isolation(opts, target),
    host_device = target == "cuda"
      and ("cuda:" .. (core.cuda_current_device and core.cuda_current_device() or 0)) or "cpu",
    timeout = opts.timeout_seconds or 30, planned = 1, slower = SLOWER, phases = new_phases(),
  }, Search)
  if self.mode == "none" then self.isolate = false end
  self.progress = require("helua.tune_progress").new({
    -- the bar only when the log goes to a terminal and no caller draws its own progress
    tty = logger == default_logger and not opts.on_progress
      and require("helua.tune_progress").stderr_is_tty(),
    on_progress = opts.on_progress})
  local name = bound.kernel and bound.kernel.name or "kernel"
  local algorithm = tune.algorithm(bound, opts)
  -- HELUA_LOGS=tune (or all), the kernel's logs setting: one line per trial, with its device
  local topics = bound.kernel and bound.kernel.settings and bound.kernel.settings.logs or ""
  for t in topics:gmatch("[^,%s]+") do
    if t == "tune" or t == "all" then self.trial_log = true end
  end
  local seed = opts.seed or 1
  -- The default config first: its results (computed in this process) are the reference, its
  -- time (measured like every candidate's) the baseline.
  local okw, want = pcall(function()
    return pack(bound:run(Config.new(space:default()), table.unpack(args, 1, args.n)))
  end)
  if not okw then
    error("autotune: the default config of " .. name .. " fails: " .. tostring(want), 0)
  end
  self.want = want
  self.t_reference = core.clock() -- the default's run in this process (its results: the reference)
  local ok, err = pcall(self.search, self, opts, p, algorithm, effort, seed, name)
  self.progress:finish()
  if self.pool then self.pool:close() end -- also on an error: no worker outlives the search
  for _, f in ipairs(self.lock_files or {}) do os.remove(f) end
  if not ok then error(err, 0) end
  return self:conclude(opts, algorithm, effort)
end

-- The search proper (tune.autotune): the default through the workers, then the algorithm's
-- generations (or the finite list) until the budget.
function Search:search(opts, p, algorithm, effort, seed, name)
  local space = self.space
  if self.mode == "exec" then self:start_pool(opts) end
  self.t_packed = core.clock() -- the setup captured and packed for the workers
  self.unbudgeted = true -- the default runs whatever the budget (a big setup can outlast it)
  local default = self:evaluate_all({space:default()})[1]
  self.unbudgeted = false
  if default.status ~= "ok" then
    error("autotune: the default config of " .. name .. " fails: " .. tostring(default.message), 0)
  end
  self.default = default
  self.search_t0 = core.clock() -- the search phase: after the setup and the default's trial
  local gen0 = {default}
  if opts.configs then
    self:log("Starting finite search over %d configs for %s", #opts.configs, name)
    self.planned = #opts.configs + 1
    for _, c in ipairs(opts.configs) do
      if self:over_budget() then break end
      local tbl = Config.is_config(c) and c:to_table() or c
      local merged = space:default()
      for k, v in pairs(tbl) do merged[k] = v end
      gen0[#gen0 + 1] = merged
    end
    local done = self:evaluate_all({table.unpack(gen0, 2)})
    gen0 = {default}
    for i = 1, #opts.configs do
      if done[i] then gen0[#gen0 + 1] = done[i] end
    end
    self:generation(0, gen0)
  else
    self:log("Starting %s (%s effort, population %d, %d generations) for %s on %s%s",
             ALGORITHM_TEXT[algorithm], effort, p.population, p.max_generations, name,
             table.concat(self.devices or {self.host_device}, ", "), self.procs_per_gpu
               and string.format(" (%d worker processes per GPU)", self.procs_per_gpu) or "")
    -- the search itself is C (space:search: src/config/config_strategy.c); here: budget and log
    local q <close> = space:search({algorithm = algorithm, population = p.population,
      copies = p.copies, max_generations = p.max_generations, patience = p.patience, seed = seed})
    local per_gen = algorithm ~= "pattern" and p.population or 0
    self.max_generations = p.max_generations
    self.planned = p.population + per_gen * p.max_generations
    while not self:over_budget() do
      local cands = q:ask()
      if #cands == 0 then break end
      local left = algorithm == "pattern" and 0 or per_gen * (p.max_generations + 1 - q:generation())
      self.planned = #self.trials + #cands + left
      self.gen = q:generation() - 1
      local gen = {}
      local done = self:evaluate_all(cands)
      for i = 1, #cands do
        local t = done[i]
        if t then
          q:tell(i, t.status == "ok" and t.time or math.huge)
          gen[#gen + 1] = t
        end
      end
      self:generation(q:generation() - 1, gen)
    end
  end
end

-- After the search: the leaders re-timed, the final log lines and the CSV; the best and the report.
function Search:conclude(opts, algorithm, effort)
  local default = self.default
  local search_end = core.clock()
  self:retime(opts.retime_leaders or 3)
  local seconds = core.clock() - self.t0
  local best = self.best
  local report = {trials = self.trials, ok = self.ok, failed = self.failed, seconds = seconds,
                  best = best, default = default, effort = opts.configs and "finite" or effort,
                  algorithm = algorithm, phases = self.phases, devices = self.devices
                    or {self.host_device},
                  setup_s = (self.search_t0 or search_end) - self.t0,
                  setup_parts = {
                    reference = (self.t_reference or self.t0) - self.t0,
                    packing = (self.t_packed or self.t0) - (self.t_reference or self.t0),
                    first_trial = (self.search_t0 or search_end) - (self.t_packed or self.t0)},
                  search_s = search_end - (self.search_t0 or search_end),
                  retime_s = core.clock() - search_end, budget_s = self.budget,
                  hit_budget = search_end - self.t0 > self.budget,
                  speedup = default.time / best.time}
  self:log("Autotuning complete in %.1fs after searching %d configs (%d failed); best %.4f ms, "
           .. "default %.4f ms (%.2fx).", seconds, #self.trials, self.failed, best.time * 1e3,
           default.time * 1e3, report.speedup)
  local sp = report.setup_parts
  sp.worker = self.pool and self.pool.setup_s or 0
  self:log("Time: setup %.1fs (reference run %.1fs, packing %.1fs, default's trial %.1fs with the "
           .. "worker's setup %.1fs), search %.1fs%s, re-timing %.1fs; per phase (summed over "
           .. "trials): %s", report.setup_s, sp.reference, sp.packing, sp.first_trial, sp.worker,
           report.search_s, report.hit_budget and " (hit the budget)" or "",
           report.retime_s, tune.phases_text(self.phases))
  if self.logger then
    self.logger("One can hard-code the best config and skip autotuning with:\n"
      .. "    helua.kernel(fn, {config = " .. best.cfg:to_lua() .. "})")
  end
  local csv = opts.csv
  if csv == nil then csv = core.flag("HELUA_AUTOTUNE_LOG") end
  if csv and csv ~= "" then self:write_csv(csv) end
  return best.cfg, report
end

return tune
