-- helua.tune (the autotuner, CPU target): pattern search, finite search, dedupe, failed trials,
-- scaled correctness checks, the log and CSV, and kernel.lua's tune-on-call rule.
-- Part of tests/lua.
package.path = arg[0]:match("(.*/)") .. "?.lua;" .. package.path
local T = require "testing"
local helua = require "helua"
local hl = require "helua.language"
local core = require "helua.core"
local tune = require "helua.tune"

local function rowsum_kernel(opts)
  return helua.kernel(function(x)
    local m, n = x:size()
    local out = helua.empty({m}, {dtype = x.dtype})
    for tm in hl.tile(m) do
      out[tm] = x[{tm, ":"}]:sum(2)
    end
    return out
  end, opts)
end

local function softmax_kernel(opts)
  return helua.kernel(function(x)
    local m, n = x:size()
    local out = helua.empty_like(x)
    for tm in hl.tile(m) do
      out[{tm, ":"}] = x[{tm, ":"}]:softmax(2)
    end
    return out
  end, opts)
end

local function quiet_lines()
  local lines = {}
  return lines, function(l) lines[#lines + 1] = l end
end

T.test("pattern search finds a config no slower than the default, each config once", function()
  helua.manual_seed(1)
  local x = helua.randn({64, 96})
  local k = softmax_kernel()
  local bk = k:bind(x)
  local lines, log = quiet_lines()
  local csv = os.tmpname()
  local best, rep = bk:autotune({effort = "quick", budget_seconds = 20, cache = false, log = log, csv = csv,
                                 repeats = 2})
  T.truthy(helua.is_config(best), "a Config")
  T.truthy(rep.ok >= 5, "several configs ran: " .. rep.ok)
  T.truthy(rep.best.time <= rep.default.time, "best <= default")
  local seen = {}
  for _, t in ipairs(rep.trials) do
    T.truthy(not seen[t.key], "config tried twice: " .. t.key)
    seen[t.key] = true
  end
  local text = table.concat(lines, "\n")
  T.truthy(text:find("Generation 0: ok=%d+ failed=%d+ min=[%d.]+ mid=[%d.]+ best=helua%.Config{"),
           "generation line:\n" .. text)
  T.truthy(text:find("helua.kernel(fn, {config = helua.Config{", 1, true), "hard-code line")
  -- the best config is set on the bound kernel and gives the same results
  T.truthy(bk:config() == best, "set_config")
  local want = x:softmax(2)
  T.truthy(helua.allclose(k(x), want, {rtol = 1e-4, atol = 1e-6}), "tuned results")
  local f = assert(io.open(csv))
  local body = f:read("a")
  f:close()
  os.remove(csv)
  T.truthy(body:find("^index,status,time_ms"), "csv header")
  local rows = select(2, body:gsub("\n", "")) - 1
  T.eq(rows, #rep.trials, "one csv row per trial")
end)

T.test("differential evolution and random search: the C strategies drive the search", function()
  local x = helua.randn({48, 64})
  for _, algo in ipairs({"de", "random"}) do
    local bk = softmax_kernel():bind(x)
    local lines, log = quiet_lines()
    local best, rep = bk:autotune({effort = "quick", algorithm = algo, cache = false, log = log,
                                   repeats = 1, budget_seconds = 15})
    T.eq(rep.algorithm, algo, algo)
    T.truthy(rep.best.time <= rep.default.time, algo .. ": best <= default")
    local text = table.concat(lines, "\n")
    T.truthy(text:find(algo == "de" and "Starting differential evolution" or "Starting random search",
                       1, true), "start line:\n" .. text)
    T.truthy(text:find("Generation 1:", 1, true), algo .. " ran past generation 0:\n" .. text)
    local seen = {}
    for _, t in ipairs(rep.trials) do
      T.truthy(not seen[t.key], "config tried twice: " .. t.key)
      seen[t.key] = true
    end
    T.truthy(helua.is_config(best), "a Config")
  end
  -- the setting (kernel option / HELUA_AUTOTUNE_ALGORITHM) picks it too; bad names are errors
  local _, rep = softmax_kernel({autotune_algorithm = "de"}):bind(x):autotune({effort = "quick",
    cache = false, log = false, repeats = 1, budget_seconds = 5})
  T.eq(rep.algorithm, "de", "from the kernel's setting")
  T.raises(function() softmax_kernel():bind(x):autotune({algorithm = "annealing", log = false}) end,
           "one of pattern, de, random, finite")
  T.raises(function() softmax_kernel():bind(x):autotune({algorithm = "finite", cache = false,
                                                          log = false}) end, "configs")
end)

T.test("space:search: ask/tell from Lua, replayable by seed, argument errors", function()
  local bk = softmax_kernel():bind(helua.randn({48, 64}))
  local space = bk:config_spec()
  local function trace(seed)
    local q = space:search({algorithm = "de", population = 6, max_generations = 3, seed = seed})
    local keys = {}
    while true do
      local cands = q:ask()
      if #cands == 0 then break end
      for i, c in ipairs(cands) do
        keys[#keys + 1] = space:to_json(c)
        q:tell(i, #keys % 7 + 1)
      end
    end
    return table.concat(keys, "\n"), q
  end
  local a, q = trace(3)
  T.eq(trace(3), a, "same seed, same search")
  T.truthy(trace(4) ~= a, "another seed, another search")
  T.raises(function() q:tell(99, 1) end, "the last generation has")
  T.raises(function() space:search({population = 0}) end, "population must be")
  T.raises(function() space:search({algorithm = "x"}) end, "random, pattern or de")
  T.raises(function() space:search({crossover = 2}) end, "crossover")
end)

T.test("progress: on_progress gets one table per finished trial; the bar text", function()
  local x = helua.randn({32, 40})
  local seen = {}
  local _, rep = rowsum_kernel():bind(x):autotune({effort = "quick", cache = false, log = false,
    repeats = 1, budget_seconds = 5, on_progress = function(t) seen[#seen + 1] = t end})
  T.eq(#seen, #rep.trials, "one call per trial")
  for i, t in ipairs(seen) do
    T.eq(t.index, i, "index")
    T.eq(t.done, i, "done")
    T.truthy(t.planned >= t.done, "planned >= done")
    T.eq(t.device, "cpu", "device")
    T.truthy(helua.is_config(t.config), "config")
    T.truthy(t.elapsed_s >= 0, "elapsed")
    if t.status == "ok" then T.truthy(t.time_ms > 0 and t.best_ms <= t.time_ms, "times") end
  end
  T.eq(seen[1].status, "ok", "the default first")
  local P = require "helua.tune_progress"
  T.eq(P.bar_text({done = 6, planned = 12, ok = 5, failed = 1, best_ms = 1.25, elapsed_s = 3.7}),
       "[3s] [############------------] 6/12 configs  ok 5  failed 1  best 1.2500 ms", "bar")
  T.eq(P.bar_text({done = 0, planned = 0, ok = 0, failed = 0, elapsed_s = 0}),
       "[0s] [------------------------] 0/0 configs  ok 0  failed 0  best -", "empty bar")
end)

T.test("finite search tries exactly the given configs; a bad one is a failed trial", function()
  local x = helua.randn({32, 40})
  local bk = rowsum_kernel():bind(x)
  local _, log = quiet_lines()
  local best, rep = bk:autotune({configs = {{block_sizes = {8}}, {block_sizes = {16}},
                                            {block_sizes = {16}}, {vector_width = 3}},
                                 log = log, repeats = 1})
  T.eq(rep.effort, "finite", "finite")
  local n_ok = 0
  for _, t in ipairs(rep.trials) do if t.status == "ok" then n_ok = n_ok + 1 end end
  T.truthy(n_ok >= 2 and n_ok <= 3, "default + 8 + 16 (deduped): " .. n_ok)
  T.eq(rep.failed, 1, "vector_width = 3 fails")
  T.truthy(helua.is_config(best), "a best config")
end)

T.test("on_progress gets each new trial once, with the best so far", function()
  local x = helua.randn({32, 40})
  local bk = rowsum_kernel():bind(x)
  local _, log = quiet_lines()
  local seen = {}
  local _, rep = bk:autotune({configs = {{block_sizes = {8}}, {block_sizes = {8}},
                                         {vector_width = 3}},
                              log = log, repeats = 1, on_progress = function(t)
                                seen[#seen + 1] = t
                              end})
  T.eq(#seen, #rep.trials, "one call per trial (the duplicate is not a new trial)")
  local indices = {}
  for i, t in ipairs(seen) do
    -- trials finish in any order (workers run batches); each index is reported once
    T.truthy(t.index >= 1 and t.index <= #rep.trials and not indices[t.index], "index " .. t.index)
    indices[t.index] = true
    T.eq(t.done, i, "done")
    T.truthy(t.planned >= t.done, "planned >= done")
    T.eq(t.device, "cpu", "device")
    T.truthy(t.elapsed_s >= 0, "elapsed")
    if t.status == "ok" then
      T.truthy(t.time_ms > 0 and helua.is_config(t.config), "ok trial: time and config")
      T.truthy(t.best_ms <= t.time_ms + 1e-12, "best <= this trial")
    end
  end
  local invalid
  for _, t in ipairs(seen) do if t.status == "invalid" then invalid = t end end
  T.truthy(invalid, "vector_width = 3 is invalid")
  T.truthy(invalid.message, "with the space's message")
end)

T.test("a kernel's configs make bk:autotune() a finite search", function()
  local x = helua.randn({16, 24})
  local k = rowsum_kernel({configs = {{block_sizes = {4}}, {block_sizes = {8}}}})
  local _, log = quiet_lines()
  local _, rep = k:bind(x):autotune({log = log, repeats = 1})
  T.eq(rep.effort, "finite", "finite")
  T.truthy(#rep.trials <= 3, "at most default + 2")
end)

T.test("the cache: a second search hits it; a corrupt entry is ignored with a warning", function()
  local dir = os.tmpname()
  os.remove(dir)
  dir = dir .. "/nested/cache"
  local x = helua.randn({24, 40})
  local k = softmax_kernel()
  local lines, log = quiet_lines()
  local best, rep = k:bind(x):autotune({effort = "quick", cache_dir = dir, log = log, repeats = 1,
                                        budget_seconds = 10})
  T.truthy(not rep.cached, "the first call searches")
  T.truthy(rep.path and io.open(rep.path) ~= nil, "an entry was written: " .. tostring(rep.path))
  local path = rep.path
  -- a fresh kernel object (same function source, same arguments) finds it
  local k2 = softmax_kernel()
  local best2, rep2 = k2:bind(x):autotune({effort = "quick", cache_dir = dir, log = log})
  T.truthy(rep2.cached, "the second call hits the cache")
  T.eq(best2:to_lua(), best:to_lua(), "same config")
  T.truthy(table.concat(lines, "\n"):find("Found a cached config", 1, true), "logged")
  -- other arguments (another shape) miss
  local _, rep3 = softmax_kernel():bind(helua.randn({24, 48})):autotune({effort = "quick",
    cache_dir = dir, log = log, repeats = 1, budget_seconds = 5})
  T.truthy(not rep3.cached, "another shape misses")
  -- corrupt the entry: ignored (tuned again), and rewritten
  local f = assert(io.open(path, "w"))
  f:write("helua-tune-cache 1\nkey trunc")
  f:close()
  local err_path = os.tmpname()
  local saved = io.stderr
  io.stderr = assert(io.open(err_path, "w"))
  local ok, _, rep4 = pcall(function()
    return softmax_kernel():bind(x):autotune({effort = "quick", cache_dir = dir, log = log,
                                              repeats = 1, budget_seconds = 5})
  end)
  io.stderr:close()
  io.stderr = saved
  T.truthy(ok, "a corrupt entry is no error")
  T.truthy(not rep4.cached, "a corrupt entry is a miss")
  local ef = assert(io.open(err_path))
  local err = ef:read("a")
  ef:close()
  os.remove(err_path)
  T.truthy(err:find("warning: ignoring the autotune cache entry", 1, true), "warned: " .. err)
  local _, rep5 = softmax_kernel():bind(x):autotune({effort = "quick", cache_dir = dir, log = log})
  T.truthy(rep5.cached, "rewritten after the corrupt one")
  os.execute("rm -rf '" .. dir:gsub("/nested/cache$", "") .. "'")
end)

T.test("exported configs: signatures, exact and nearest-shape picks", function()
  local E = require "helua.tune_export"
  local sig, shapes = E.signature("T:float32:cpu:64x128:128,1|T:float32:cpu:128:1|i3")
  T.eq(sig, "T:float32:cpu:2|T:float32:cpu:1|n", "signature")
  T.eq(shapes[1][2], 128, "shape")
  local entries = {
    {key = "T:float32:cpu:64x64:64,1", signature = "T:float32:cpu:2", shapes = {{64, 64}},
     config = '{"block_sizes": [8]}'},
    {key = "T:float32:cpu:1024x1024:1024,1", signature = "T:float32:cpu:2",
     shapes = {{1024, 1024}}, config = '{"block_sizes": [64]}'},
  }
  local c, how = E.pick(entries, "T:float32:cpu:64x64:64,1")
  T.eq(how, "exact", "exact")
  T.eq(c:to_lua(), "helua.Config{block_sizes = {8}}", "exact config")
  c, how = E.pick(entries, "T:float32:cpu:900x1000:1000,1")
  T.eq(how, "nearest", "nearest")
  T.eq(c:to_lua(), "helua.Config{block_sizes = {64}}", "the nearest shape's")
  T.eq(E.pick(entries, "T:float16:cpu:64x64:64,1"), nil, "another dtype: none")
  T.eq(E.path_for("kernels/add.lua"), "kernels/add.configs.lua", "path")
end)

T.test("JSON configs: written in Helion's format, read back per kernel and shape", function()
  local J = require "helua.tune_json"
  local json = require "helua.json"
  local path = os.tmpname() .. ".json"
  local key = "T:float32:cpu:48x64:64,1"
  T.eq(J.write(path, {{line = 7, name = "softmax", target = "cpu", key = key, time_ms = 1.5,
                       config_json = '{"block_sizes": [8], "reduction_loops": [null]}'}},
               "kernels/x.lua"), path, "written")
  local f = assert(io.open(path))
  local doc = json.decode(f:read("a"))
  f:close()
  T.eq(doc.format, "helua-configs", "format")
  T.eq(doc.entries[1].config.block_sizes[1], 8, "the config is a Helion Config object")
  T.eq(doc.entries[1].config.reduction_loops[1], json.null, "None is null")
  -- merged: another key is added, the same key replaced
  J.write(path, {{line = 7, name = "softmax", target = "cpu", key = key, time_ms = 1,
                  config_json = '{"block_sizes": [16]}'},
                 {line = 7, name = "softmax", target = "cpu", key = "T:float32:cpu:8x8:8,1",
                  time_ms = 1, config_json = '{"block_sizes": [4]}'}})
  local d = assert(J.read(path))
  T.eq(#d.entries, 2, "two entries")
  T.eq(J.pick(d, 7, "cpu", key):to_lua(), "helua.Config{block_sizes = {16}}", "exact, replaced")
  local c, how = J.pick(d, 7, "cpu", "T:float32:cpu:10x9:9,1")
  T.eq(how, "nearest", "nearest")
  T.eq(c:to_lua(), "helua.Config{block_sizes = {4}}", "the nearest shape's")
  T.eq(J.pick(d, 99, "cpu", key), nil, "another kernel's line: none")
  -- malformed files: a clear message, never an exception; writing over one leaves it untouched
  local cases = {
    {'{"block_sizes": [16', "not valid JSON"},
    {'[1, 2]', "expected a JSON object"},
    {'{"format": "other"}', '"format" is other'},
    {'{"format": "helua-configs", "version": 9, "entries": []}', "version 9"},
    {'{"format": "helua-configs", "version": 1, "entries": [{"config": 3}]}', "entries[0].config"},
    {'{"format": "helua-configs", "version": 1, "entries": [{"config": {"num_warps": "x"}}]}',
     "num_warps"},
    {'{"block_sizes": "x"}', "block_sizes"},
  }
  for _, case in ipairs(cases) do
    local out = assert(io.open(path, "w"))
    out:write(case[1])
    out:close()
    local okr, r, err = pcall(J.read, path)
    T.truthy(okr and r == nil and err:find(case[2], 1, true), case[1] .. " -> " .. tostring(err))
    local w, werr = J.write(path, {{line = 1, name = "k", target = "cpu", key = key, time_ms = 1,
                                    config_json = "{}"}})
    T.truthy(not w and werr:find("left untouched", 1, true), "not overwritten: " .. tostring(werr))
    local again = assert(io.open(path))
    T.eq(again:read("a"), case[1], "the corrupt file lost nothing")
    again:close()
  end
  os.remove(path)
end)

T.test("config_file: a kernel uses the JSON file's config; a bad file is a clear error", function()
  local path = os.tmpname() .. ".json"
  local x = helua.randn({48, 64})
  local out = assert(io.open(path, "w"))
  out:write('{"block_sizes": [4], "reduction_loops": [null]}') -- a bare Helion Config
  out:close()
  local k = softmax_kernel({config_file = path})
  local got = k(x)
  local bk = k:bind(x)
  T.eq(bk.exported_how, "any", "the bare config applies")
  T.eq(bk.exported:get("block_sizes")[1], 4, "block size from the file")
  T.truthy(helua.allclose(got, x:softmax(2), {rtol = 1e-4, atol = 1e-6}), "results")
  out = assert(io.open(path, "w"))
  out:write('{"block_sizes": [4')
  out:close()
  T.raises(function() softmax_kernel({config_file = path})(x) end, "cannot use the config_file",
           path, "not valid JSON")
  os.remove(path)
end)

T.test("force_autotune tunes despite a config, and skips the cache", function()
  local dir = os.tmpname()
  os.remove(dir)
  local x = helua.randn({16, 24})
  local saved = io.stderr
  io.stderr = assert(io.open("/dev/null", "w"))
  local ok, err = pcall(function()
    local k = rowsum_kernel({config = {block_sizes = {4}}, force_autotune = true, cache_dir = dir})
    local got = k(x)
    local bk = k:bind(x)
    T.truthy(bk.tuned and not bk.tuned.cached and bk.tuned.ok >= 2, "the first call tuned")
    T.truthy(helua.allclose(got, x:sum(2), {rtol = 1e-4, atol = 1e-4}), "results")
    local again = rowsum_kernel({force_autotune = true, cache_dir = dir})
    again(x)
    T.truthy(not again:bind(x).tuned.cached, "the cache was not read")
    local plain = rowsum_kernel({autotune_effort = "quick", cache_dir = dir})
    plain(x)
    T.truthy(plain:bind(x).tuned.cached, "but it was written")
    local none = rowsum_kernel({config = {block_sizes = {4}}, cache_dir = dir})
    none(x)
    T.eq(none:bind(x).tuned, nil, "without force a config is used as is")
  end)
  io.stderr:close()
  io.stderr = saved
  os.execute("rm -rf '" .. dir .. "'")
  if not ok then error(err, 0) end
end)

T.test("correctness: tolerances scale with the output's magnitude", function()
  local a = helua.tensor({1e6, 2e6, 3e6})
  local close = helua.tensor({1e6 + 10, 2e6, 3e6})  -- 1e-5 of the scale: a reordered sum
  local wrong = helua.tensor({1e6 + 1e4, 2e6, 3e6})
  T.eq(tune.compare({n = 1, close}, {n = 1, a}), nil, "close is accepted")
  T.truthy(tune.compare({n = 1, wrong}, {n = 1, a}), "wrong is rejected")
  T.truthy(tune.compare({n = 2, a, a}, {n = 1, a}), "count")
  T.truthy(tune.compare({n = 1, helua.tensor({1, 2})}, {n = 1, a}), "shape")
  local nan = helua.tensor({0 / 0, 2e6, 3e6})
  T.truthy(tune.compare({n = 1, nan}, {n = 1, a}), "nan is rejected")
end)

T.test("a wrong result is a failed trial and the search goes on", function()
  local x = helua.randn({16, 24})
  local bk = rowsum_kernel():bind(x)
  -- wrap run so that one config returns garbage (as a miscompiled candidate would)
  local real = bk.run
  bk.run = function(self, cfg, ...)
    local r = real(self, cfg, ...)
    if cfg and (cfg:get("block_sizes") or {})[1] == 4 then return r * 2 + 1 end
    return r
  end
  local _, log = quiet_lines()
  local _, rep = bk:autotune({configs = {{block_sizes = {4}}, {block_sizes = {8}}}, log = log,
                              repeats = 1, isolate = "fork"}) -- forked trials call bk:run
  bk.run = nil
  local wrong = 0
  for _, t in ipairs(rep.trials) do if t.status == "wrong" then wrong = wrong + 1 end end
  T.eq(wrong, 1, "one wrong trial")
  T.truthy(rep.ok >= 2, "the others ran")
end)

T.test("calls tune only when autotune_effort is set explicitly", function()
  local x = helua.randn({16, 24})
  local k = rowsum_kernel()
  k(x)
  T.eq(k:bind(x).tuned, nil, "the default effort does not tune on call")
  local kn = rowsum_kernel({autotune_effort = "none"})
  kn(x)
  T.eq(kn:bind(x).tuned, nil, "none does not tune")
  local dir = os.tmpname()
  os.remove(dir)
  local kq = rowsum_kernel({autotune_effort = "quick", cache_dir = dir})
  T.truthy(require("helua.kernel").tunes_on_call(kq), "an explicit quick tunes")
  local got = kq(x)
  local bq = kq:bind(x)
  T.truthy(bq.tuned and bq.tuned.ok >= 2, "the first call tuned")
  T.truthy(helua.allclose(got, x:sum(2), {rtol = 1e-4, atol = 1e-4}), "and computed the result")
  local runs = bq.tuned
  kq(x)
  T.truthy(bq.tuned == runs, "later calls do not tune again")
  os.execute("rm -rf '" .. dir .. "'")
end)

T.test("core.tune_fork: results, errors, crashes and hangs come back as statuses", function()
  T.eq(select(2, core.tune_fork(function() return "hi" end, 5)), "hi", "text")
  T.eq((core.tune_fork(function() return "hi" end, 5)), "ok", "ok")
  local st, msg = core.tune_fork(function() error("boom", 0) end, 5)
  T.eq(st, "error", "error status")
  T.eq(msg, "boom", "error message")
  local t0 = core.clock()
  st = core.tune_fork(function() while true do end end, 0.3)
  T.eq(st, "timeout", "a hang is a timeout")
  T.truthy(core.clock() - t0 < 5, "killed promptly")
  T.raises(function() core.tune_fault() end) -- not in a worker: the hook refuses
  -- the parent keeps working after all of that
  T.eq((core.tune_fork(function() return "again" end, 5)), "ok", "still forks")
end)

T.test("worker pool: exec'd workers speak the protocol; wrong, crash and timeout", function()
  local P = require "helua.tune_pool"
  local W = require "helua.tune_worker"
  T.eq(W.unpack(W.pack({a = {1, 2.5, "x"}, b = true, c = require("helua.config").none})).a[2],
       2.5, "codec")
  T.raises(function() W.unpack("t") end, "truncated")
  local x = helua.randn({16, 24})
  local bk = rowsum_kernel():bind(x)
  local space = bk:config_spec()
  local search = {bound = bk, args = table.pack(x), space = space}
  local setup = assert(P.setup(search))
  T.eq(#setup.msg.outputs, 1, "one output argument")
  local pool = P.new({"cpu"}, 30)
  local function run_one(p, config, key)
    local got
    p:run(function()
      if got ~= nil then return nil end
      got = false
      return {setup = setup, config = config, key = key or "k", repeats = 2}
    end, function(_, r) got = r end)
    return got
  end
  local r = run_one(pool, space:default())
  T.eq(r.status, "ok", "ok: " .. tostring(r.message))
  T.eq(r.device, "cpu", "device")
  T.eq(#r.samples, 2, "timed twice")
  local w1 = pool.slots[1].w:pid()
  r = run_one(pool, {block_sizes = {4}})
  T.eq(r.status, "ok", "another config: " .. tostring(r.message))
  T.eq(pool.slots[1].w:pid(), w1, "the same long-lived worker")
  r = run_one(pool, {vector_width = 3})
  T.eq(r.status, "error", "a config the compiler refuses is an error")
  -- a reference that does not match: wrong
  local bad = {sid = 2, v = setup.v, msg = {}}
  for k, v in pairs(setup.msg) do bad.msg[k] = v end
  bad.msg.sid = 2
  bad.msg.want = {core.tensor_pack(helua.zeros({16}) + 1e6)}
  local saved = setup
  setup = bad
  r = run_one(pool, space:default())
  setup = saved
  T.eq(r.status, "wrong", "wrong")
  -- a hang past the timeout: killed, a timeout; the next job gets a fresh worker
  pool.timeout = 1e-4
  r = run_one(pool, space:default())
  T.eq(r.status, "timeout", "timeout")
  T.eq(pool.slots[1].w, nil, "killed")
  pool.timeout = 30
  r = run_one(pool, space:default())
  T.eq(r.status, "ok", "a fresh worker after the timeout")
  T.truthy(pool.slots[1].w:pid() ~= w1, "a new process")
  r = run_one(pool, space:default(), "k2") -- another config's name, the same code
  T.eq(r.same_binary_as, "k", "an identical binary is measured once")
  T.eq(r.status, "ok", "with the earlier measurement")
  -- (a worker that dies under a job: the planted SIGSEGV test below, through the pool)
  pool:close()
  T.eq(P.devices({workers = 2})[2], "cpu", "workers = 2")
  T.truthy(#P.devices({workers = 1000}) <= core.cpu_count(), "at most the cores")
  T.raises(function() P.devices({devices = {"cuda:0"}}) end, "the kernel compiles for cpu")
  T.raises(function() P.devices({workers = 0}) end, "positive integer")
end)

T.test("an error inside the search (here: on_progress) propagates; the workers are stopped", function()
  local x = helua.randn({16, 24})
  local P = require "helua.tune_pool"
  local closed = 0
  local real_close = getmetatable(P.new({"cpu"}, 1)).close
  getmetatable(P.new({"cpu"}, 1)).close = function(pool) closed = closed + 1 return real_close(pool) end
  local n = 0
  local ok, err = pcall(function()
    rowsum_kernel():bind(x):autotune({effort = "quick", cache = false, log = false, repeats = 1,
      on_progress = function() n = n + 1 if n == 3 then error("stop here", 0) end end})
  end)
  getmetatable(P.new({"cpu"}, 1)).close = real_close
  T.truthy(not ok and tostring(err):find("stop here", 1, true), "the error: " .. tostring(err))
  T.eq(closed, 1, "the pool was closed")
end)

T.test("core.compile_many: a batch lowered on threads, errors in place, same binaries", function()
  local x = helua.randn({32, 40})
  local bk = rowsum_kernel():bind(x)
  local v, space = bk:_variant(nil), bk:config_spec()
  local cfgs = {}
  for i = 1, 6 do cfgs[i] = space:random(i) end
  cfgs[7] = {vector_width = 3}
  local many = core.compile_many(v.func, cfgs, 3)
  T.eq(#many, 7, "one result per config")
  T.truthy(type(many[7]) == "string" and many[7]:find("vector_width", 1, true), "the error")
  for i = 1, 6 do
    local one = core.compile(v.func, cfgs[i], "cpu")
    T.eq(many[i]:info().binary_key, one:info().binary_key, "same binary as core.compile " .. i)
    local out = helua.empty({32})
    many[i]:launch({x, out})
    T.truthy(helua.allclose(out, x:sum(2), {rtol = 1e-4, atol = 1e-4}), "runs " .. i)
  end
  T.eq(#core.compile_many(v.func, {}, 4), 0, "an empty batch")
end)

T.test("worker pool: a kernel that writes its input in place is checked on fresh copies", function()
  local k = helua.kernel(function(x)
    local m = x:size(1)
    for tm in hl.tile(m) do x[tm] = x[tm] * 2 end
    return x
  end)
  local x = helua.randn({64})
  local bk = k:bind(x)
  local P = require "helua.tune_pool"
  local setup = assert(P.setup({bound = bk, args = table.pack(x), space = bk:config_spec()}))
  T.eq(setup.msg.outputs[1], 1, "the input is an output")
  local pool = P.new({"cpu"}, 30)
  local got
  pool:run(function()
    if got ~= nil then return nil end
    got = false
    return {setup = setup, config = {block_sizes = {8}}, key = "k", repeats = 3}
  end, function(_, r) got = r end)
  pool:close()
  T.eq(got.status, "ok", "matches the reference: " .. tostring(got.message))
end)

T.test("the search through two workers: every trial ran on a device, results as before", function()
  local x = helua.randn({32, 48})
  local seen = {}
  local best, rep = softmax_kernel():bind(x):autotune({effort = "quick", cache = false, log = false,
    repeats = 1, budget_seconds = 10, workers = 2,
    on_progress = function(t) seen[#seen + 1] = t.device end})
  T.truthy(helua.is_config(best), "a Config")
  T.truthy(rep.ok >= 5, "ran: " .. rep.ok)
  for _, t in ipairs(rep.trials) do T.eq(t.device, "cpu", "device of trial " .. t.index) end
  T.eq(#seen, #rep.trials, "on_progress per trial")
  T.truthy(rep.best.time <= rep.default.time, "best <= default")
end)

-- A planted faulting config (HELUA_TEST_FAULT_CONFIG makes a worker whose config's JSON contains
-- the text raise SIGSEGV), in a child helua so the flag is set from the start.
T.test("a candidate that segfaults is a failed trial; the search finishes", function()
  local code = [[
    local helua = require "helua"
    local hl = require "helua.language"
    local k = helua.kernel(function(x)
      local m, n = x:size()
      local out = helua.empty({m}, {dtype = x.dtype})
      for tm in hl.tile(m) do out[tm] = x[{tm, ":"}]:sum(2) end
      return out
    end)
    local x = helua.randn({32, 40})
    local best, rep = k:bind(x):autotune({configs = {{block_sizes = {8}}, {block_sizes = {4}},
      {block_sizes = {2}}}, repeats = 1, log = false}) -- one batch: 8 faults first, 4 and 2 rerun
    local crash = 0
    for _, t in ipairs(rep.trials) do
      if t.status == "crash" then crash = crash + 1; print("crash: " .. t.message) end
    end
    print("crashes=" .. crash .. " ok=" .. rep.ok .. " best=" .. best:to_lua())
  ]]
  local cmd = string.format("HELUA_TEST_FAULT_CONFIG='\"block_sizes\": [8]' %s -e '%s' 2>&1",
                            arg[-1], code:gsub("'", "'\\''"))
  local p = assert(io.popen(cmd))
  local out = p:read("a")
  local _, _, rc = p:close()
  T.eq(rc, 0, "the tuner's process exits normally:\n" .. out)
  T.truthy(out:find("crash: the worker died of SIGSEGV", 1, true), "SIGSEGV recorded:\n" .. out)
  T.truthy(out:find("crashes=1 ok=3 ", 1, true), "one crash, the rest ran (the batch's last on a fresh worker):\n" .. out)
  T.truthy(not out:find("block_sizes = {8}", 1, true), "the faulting config is not the best")
end)

T.done()
