-- The workbench's worker: `helua wb --worker ACTION --file F --kernel K ...` runs one action of
-- the workbench (load, code, run, tune, time, export, device, step, notebook) in a child process
-- of the UI and streams records to fd 3, one line each: TAG\tFIELD..., fields escaped (\\ \t
-- \n), read by src/wb/wb_fmt.c. stdout/stderr are the UI's log; stdin brings commands (step
-- mode, notebook cells).
-- Part of lua/helua (the policy of each action; the process and the pipes are src/wb's).
local run = require "helua.run"
local show = require "helua.show"
local wb = require "helua.wb"

local W = {}

local out -- the record stream (fd 3)

local ESC = {["\\"] = "\\\\", ["\t"] = "\\t", ["\n"] = "\\n"}
function W.escape(s) return (tostring(s):gsub("[\\\t\n]", ESC)) end

-- Writes one record: emit(tag, field, ...) (nil fields are empty).
function W.emit(tag, ...)
  local t = {tag}
  for i = 1, select("#", ...) do
    local v = select(i, ...)
    t[#t + 1] = v == nil and "" or W.escape(v)
  end
  out:write(table.concat(t, "\t"), "\n")
  out:flush()
end
local emit = W.emit

local function errmsg(e)
  if type(e) == "string" then return e end
  return tostring(e)
end

-- The entry, size and packed inputs of o.kernel in o.file, and the inputs the kernel takes
-- (moved to the GPU for a kernel on the cuda backend).
local function setup(o)
  local d = run.load(o.file)
  local entry = run.select(d, o.kernel)[1]
  local size = run.size(d, o.size)
  local args = run.inputs(entry, size, o.seed)
  local dargs = wb.backend(entry.kernel) == "cuda" and run.move(args, "cuda") or args
  return d, entry, size, args, dargs
end

-- Throughput of a time in ms: value, unit ("GB/s", "GFLOP/s"), or -1, "".
local function throughput(entry, size, ms)
  if ms and ms > 0 then
    if entry.flops then return entry.flops(size) / (ms * 1e6), "GFLOP/s" end
    if entry.bytes then return entry.bytes(size) / (ms * 1e6), "GB/s" end
  end
  return -1, ""
end

local actions = {}

-- kernels: name, device, backend, kernel names... (what wb.load gives)
function actions.load(o)
  local ok, info = wb.load(o.file)
  if not ok then error(info, 0) end
  emit("kernels", info.name, info.device, info.backend, table.unpack(info.kernels))
  emit("backends", table.unpack(info.backends))
end

-- text: code, STAGE, ok, text
function actions.code(o)
  local ok, text = wb.code(o.file, o.kernel, o.stage, o.config)
  emit("text", "code", o.stage, ok and "1" or "0", text)
end

-- text: run, -, ok, report
function actions.run(o)
  local ok, text = wb.run(o.file, o.kernel)
  emit("text", "run", "-", ok and "1" or "0", text)
end

-- device: "cuda: NAME" or "cpu (REASON)"
function actions.device()
  local helua = require "helua"
  local ok, avail, reason = pcall(helua.cuda.is_available)
  if ok and avail then
    local okn, info = pcall(helua.cuda.device_info, 0)
    local name = okn and type(info) == "table" and info.name or "device 0"
    emit("device", "cuda: " .. tostring(name))
  else
    emit("device", "cpu", tostring(ok and (reason or "no CUDA device") or avail))
  end
end

-- trial: index, status, time_ms, best_ms, done, planned, elapsed_s, generation, max_generations,
-- budget_s, throughput, unit, config (Lua), key (JSON), message, device; then tuned: best_ms,
-- default_ms, config, key, speedup, seconds, trials.
function actions.tune(o)
  local d = run.load(o.file)
  local refusal = wb.tune_refusal(o.kernel, wb.backend(run.select(d, o.kernel)[1].kernel))
  if refusal then error(refusal, 0) end
  local _, entry, size, _, dargs = setup(o)
  local bk = entry.kernel:bind(table.unpack(dargs, 1, dargs.n))
  emit("tune-start", o.effort or "quick", entry.name)
  local best, rep = bk:autotune({
    effort = o.effort or "quick", seed = (o.seed or 0) + 1, cache = false,
    log = function(line) emit("log", line) end,
    on_progress = function(t)
      local tp, unit = throughput(entry, size, t.time_ms)
      local cfg = t.config and t.config:to_lua():gsub("^helua%.Config", "") or "(invalid)"
      emit("trial", t.index, t.status, t.time_ms or -1, t.best_ms or -1, t.done, t.planned,
           string.format("%.3f", t.elapsed_s), t.generation, t.max_generations, t.budget_s,
           tp, unit, cfg, t.key or "", t.message or "", t.device or "")
    end,
  })
  local space = bk:config_spec()
  local okj, json = pcall(function() return space:to_json(space:check(best:to_table())) end)
  emit("tuned", rep.best.time * 1e3, rep.default.time * 1e3,
       (best:to_lua():gsub("^helua%.Config", "")), okj and json or "",
       rep.speedup, rep.seconds, #rep.trials)
  W.linger()
end

-- text: time, -, ok, report (a config picked in the tuning pane: check, then time)
function actions.time(o)
  local helua = require "helua"
  local _, entry, size, args, dargs = setup(o)
  local cfg = show.parse_config(o.config)
  local bk = entry.kernel:bind(table.unpack(dargs, 1, dargs.n))
  local function call() return table.pack(bk:run(cfg, table.unpack(dargs, 1, dargs.n))) end
  local okr, got = pcall(call)
  if okr and dargs ~= args then okr, got = pcall(run.move, got, "cpu") end
  local lines = {}
  local function add(fmt, ...) lines[#lines + 1] = string.format(fmt, ...) end
  if not okr then
    emit("text", "time", "-", "0", "FAIL  " .. entry.name .. "\n\n" .. errmsg(got))
    return
  end
  local want = table.pack(entry.reference(table.unpack(args, 1, args.n)))
  local cmp = run.compare(got, want, entry.tolerance)
  local sync = dargs ~= args and helua.cuda.synchronize or function() end
  local ms = run.time(function() bk:run(cfg, table.unpack(dargs, 1, dargs.n)); sync() end, 5)
  local tp, unit = throughput(entry, size, ms)
  add("%s  %s with the picked config", cmp.ok and "PASS" or "FAIL", entry.name)
  add("")
  add("config %s", cfg:to_lua())
  add("size %s, seed %d", run.size_label(size), o.seed or 0)
  add("check: max abs err %.3g  rel err %.3g%s", cmp.max_abs or 0, cmp.rel or 0,
      cmp.message and ("  " .. cmp.message) or "")
  add("median of 5 runs: %.4f ms%s", ms, tp >= 0 and string.format("  %.2f %s", tp, unit) or "")
  emit("text", "time", "-", cmp.ok and "1" or "0", table.concat(lines, "\n"))
end

-- export: path, kernel (the picked or best config, as helua tune --export writes it)
function actions.export(o)
  local E = require "helua.tune_export"
  local _, entry, _, _, dargs = setup(o)
  local bk = entry.kernel:bind(table.unpack(dargs, 1, dargs.n))
  local space = bk:config_spec()
  local cfg = show.parse_config(o.config)
  local json = space:to_json(space:check(cfg:to_table()))
  local target = wb.backend(entry.kernel) == "cuda" and "cuda" or "cpu"
  local path, err = E.write(E.path_for(o.file), {{line = entry.kernel.line, name = entry.name,
    target = target, key = bk.key, config_json = json, time_ms = tonumber(o.time_ms) or 0}},
    "Tuned configs for " .. o.file)
  if not path then error("cannot write the exported configs: " .. tostring(err), 0) end
  emit("export", path, entry.name)
end

function W.actions() return actions end

-- Tests only (HELUA_TEST_WB_LINGER=S): stay S seconds after a tuning's result and after "done",
-- as a cuda worker does while its GPU workers and its context go away.
function W.linger()
  local s = tonumber(require("helua.core").flag("HELUA_TEST_WB_LINGER") or "")
  if s and s > 0 then os.execute("sleep " .. math.floor(s)) end
end

-- argv: {ACTION, "--file", F, "--kernel", K, ...}. Returns the exit code (0; 1 after an error
-- record).
function W.main(argv)
  local fd3, ferr = io.open("/dev/fd/3", "w")
  if not fd3 then
    io.stderr:write("helua wb --worker: no record stream on fd 3: ", tostring(ferr), "\n")
    return 2
  end
  out = fd3
  local o = {action = argv[1]}
  for i = 2, #argv - 1, 2 do
    o[(argv[i]:gsub("^%-%-", ""):gsub("%-", "_"))] = argv[i + 1]
  end
  o.seed = tonumber(o.seed) or 0
  wb.options.size, wb.options.seed = o.size, o.seed
  local fn = actions[o.action] or (o.action == "step" and require("helua.wb_step").main)
    or (o.action == "notebook" and require("helua.wb_notebook").main)
  if not fn then
    emit("error", "unknown worker action " .. tostring(o.action))
    return 1
  end
  local ok, err = xpcall(fn, function(e)
    if type(e) == "string" or type(e) == "table" then return errmsg(e) end
    return debug.traceback(errmsg(e))
  end, o)
  if not ok then
    emit("error", errmsg(err))
    return 1
  end
  emit("done")
  W.linger()
  return 0
end

return W
