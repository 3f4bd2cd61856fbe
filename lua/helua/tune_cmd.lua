-- `helua tune FILE`: autotunes each kernel of a kernel file at one size (CPU, or GPU with
-- --backend cuda) and prints the default and tuned times. Part of lua/helua; helua.tune searches.
local run = require "helua.run"
local tune = require "helua.tune"

local M = {}

M.USAGE = [[
usage: helua tune FILE [options]

Autotunes each kernel of a kernel file (share/doc/kernels.md) on the file's example inputs (CPU
target, or the GPU with --backend cuda): progress lines go to stderr, then a table of the
default and the tuned times, and the line that hard-codes each best config. Results are cached (HELUA_CACHE_DIR); a second run
loads them. See share/doc/tuning.md.

options:
  --effort quick|full   how hard to search (default quick)
  --kernel NAME[,NAME]  tune only these kernels of the file
  --size NAME|k=v,...   a size from the file's `sizes` (default: "default"), or overrides
  --budget SECONDS      wall-clock budget per kernel (default: the effort's)
  --algorithm NAME      pattern, de or random (default: HELUA_AUTOTUNE_ALGORITHM, else pattern)
  --backend cpu|cuda    the target to tune for (default cpu); cuda moves the inputs to the GPU
                        and runs the trials on one worker per GPU
  --workers N           worker processes running trials at once (default 1, at most the cores;
                        cuda: one per GPU, at most the GPUs)
  --seed N              seed for the example inputs and the random population (default 0)
  --export              write the tuned configs beside FILE (FILE's stem + .configs.lua), per
                        kernel, shape and target; helua uses them for kernels with no config
  --export-json [PATH.json]  write them as JSON in Helion's Config format (default: FILE's
                        stem + .configs.json), merged over the file's entries; read back with
                        helua run FILE --configs PATH or helua.kernel(fn, {config_file = PATH})
  --no-cache            search even when the cache has a result (and do not write it)
  -h, --help            this text

environment: HELUA_AUTOTUNE_LOG=path writes a CSV of every trial (of the last kernel tuned).
]]

local function fail(fmt, ...) error(setmetatable({msg = string.format(fmt, ...)}, run.Error), 0) end

local function effort_option(v, flag)
  if v ~= "quick" and v ~= "full" then fail("%s must be quick or full, got %s", flag, v) end
  return v
end

local function budget_option(v, flag)
  local n = tonumber(v)
  if not n or n <= 0 then fail("%s must be a positive number of seconds, got %s", flag, v) end
  return n
end

local function algorithm_option(v, flag)
  if v ~= "pattern" and v ~= "de" and v ~= "random" then
    fail("%s must be pattern, de or random, got %s", flag, v)
  end
  return v
end

local function backend_option(v, flag)
  if v ~= "cpu" and v ~= "cuda" then fail("%s must be cpu or cuda, got %s", flag, v) end
  return v
end

function M.parse_args(argv)
  -- --export-json takes an optional PATH (a following word ending in .json, or --export-json=P)
  local args, json_path = {}, nil
  local i = 1
  while i <= #argv do
    local a = argv[i]
    if a == "--export-json" then
      json_path = true
      if argv[i + 1] and argv[i + 1]:match("%.json$") and argv[i + 1]:sub(1, 1) ~= "-" then
        json_path = argv[i + 1]
        i = i + 1
      end
    elseif a:match("^%-%-export%-json=") then
      json_path = a:match("^%-%-export%-json=(.*)$")
      if json_path == "" then fail("--export-json= needs a path") end
    else
      args[#args + 1] = a
    end
    i = i + 1
  end
  local o = M.parse_command_args(args)
  o.export_json = json_path
  return o
end

function M.parse_command_args(argv)
  return run.parse_command_args(argv, {
    command = "tune",
    defaults = {effort = "quick", seed = 0},
    switches = {["--no-cache"] = "no_cache", ["--export"] = "export"},
    values = {["--effort"] = {"effort", effort_option}, ["--kernel"] = "kernel",
              ["--size"] = "size", ["--budget"] = {"budget", budget_option},
              ["--algorithm"] = {"algorithm", algorithm_option},
              ["--workers"] = {"workers", run.int_option(1, "positive")},
              ["--backend"] = {"backend", backend_option},
              ["--seed"] = {"seed", run.int_option(0, "non-negative")}},
  })
end

local function tune_file(o, out)
  local d = run.load(o.file)
  local size = run.size(d, o.size)
  local rows = {}
  local target = o.backend or "cpu"
  for _, e in ipairs(run.select(d, o.kernel)) do
    local args = run.inputs(e, size, o.seed)
    local k = e.kernel
    if o.backend then -- as helua run --backend: the kernel's backend set, the inputs moved
      k = run.kernel_for(e, {backend = o.backend})
      if o.backend == "cuda" then args = run.move(args, "cuda") end
    end
    local bk = k:bind(table.unpack(args, 1, args.n))
    local ok, best, rep = pcall(bk.autotune, bk, {effort = o.effort, budget_seconds = o.budget,
                                                  seed = o.seed + 1, cache = not o.no_cache,
                                                  algorithm = o.algorithm, workers = o.workers})
    if not ok then
      rows[#rows + 1] = {name = e.name, err = tostring(best)}
    else
      local space = bk:config_spec()
      local okj, json = pcall(function() return space:to_json(space:check(best:to_table())) end)
      rows[#rows + 1] = {name = e.name, best = best, rep = rep, line = e.kernel.line, key = bk.key,
                         json = okj and json or nil,
                         time_ms = rep.cached and rep.best_ms or rep.best.time * 1e3}
    end
  end
  out(string.format("%s  size %s  effort %s  (target %s)\n", d.name, run.size_label(size), o.effort,
                    target))
  out(string.format("%-22s %12s %12s %8s %9s %8s\n", "kernel", "default ms", "tuned ms", "speedup",
                    "tuning s", "configs"))
  local status = 0
  for _, r in ipairs(rows) do
    if r.err then
      out(string.format("%-22s failed: %s\n", r.name, r.err))
      status = 1
    else
      local rep = r.rep
      if rep.cached then
        local d, b = rep.default_ms or 0, rep.best_ms or 0
        out(string.format("%-22s %12.4f %12.4f %7.2fx %9s %8s\n", r.name, d, b,
                          b > 0 and d / b or 0, "cached", "-"))
      else
        out(string.format("%-22s %12.4f %12.4f %7.2fx %9.1f %8d\n", r.name,
                          rep.default.time * 1e3, rep.best.time * 1e3, rep.speedup, rep.seconds,
                          #rep.trials))
      end
    end
  end
  for _, r in ipairs(rows) do
    if r.best then out(string.format("%s: helua.kernel(fn, {config = %s})\n", r.name, r.best:to_lua())) end
  end
  -- the tuned kernels as export entries (the Lua and the JSON exports write the same list)
  local results = {}
  for _, r in ipairs(rows) do
    if r.best and r.json and r.line then
      results[#results + 1] = {line = r.line, name = r.name, target = target, key = r.key,
                               config_json = r.json, time_ms = r.time_ms}
    end
  end
  if o.export then
    local E = require "helua.tune_export"
    local path, err = E.write(E.path_for(o.file), results, "Tuned configs for " .. o.file)
    if not path then fail("cannot write the exported configs: %s", tostring(err)) end
    out(string.format("exported %d config(s) to %s\n", #results, path))
  end
  if o.export_json then
    local J = require "helua.tune_json"
    local path = o.export_json == true and J.path_for(o.file) or o.export_json
    local written, err = J.write(path, results, o.file)
    if not written then fail("cannot write the JSON configs: %s", tostring(err)) end
    out(string.format("exported %d config(s) as JSON to %s\n", #results, written))
  end
  return status
end

function M.main(argv)
  return run.command_main("tune", argv, M.parse_args, M.USAGE, tune_file)
end

return M
