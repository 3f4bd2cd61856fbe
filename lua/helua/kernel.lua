-- Kernel objects: helua.kernel(fn, opts), bound kernels cached per specialization key, configs,
-- and running a kernel: eagerly (interpret mode) or compiled. Part of lua/helua (policy).
--
-- k(...) binds (dtypes, shapes, strides, scalar values, device -> a BoundKernel, cached) and runs.
-- The config a run uses: the bound kernel's set_config, else opts.config, else the first of
-- opts.configs, else none (interpret mode: block sizes from the block_size setting or the
-- interpret defaults, see eager.lua; compiled: the config space's default).
--
-- Compiled calls (backend "cpu"; "auto" once every kernel in kernels/ passes compiled): the first
-- call of a bound kernel runs host code and traces the device loops into IR (trace.lua), which is
-- compiled per config (core.compile) and launched when the trace ends. Later calls run host
-- code and launch the cached kernel at the first device loop, skipping the loop bodies
-- (trace_launch.lua). A bound kernel keeps its traces ("variants": usually one; another when
-- a call's tensors or config values differ from what the first trace saw) and, per variant,
-- a compiled kernel per config.
--
-- Public fields of a kernel (read-only by convention; run.lua uses them): fn (the function),
-- settings (settings.resolve's table, config/configs included), config, configs (Configs),
-- name ("file:line" of the function).
local active = require "helua.active"
local core = require "helua.core"
local diag = require "helua.diag"
local eager = require "helua.eager"
local guard = require "helua.guard"
local tensor = require "helua.tensor"

local Kernel = {__name = "helua.Kernel"}
Kernel.__index = Kernel
local Bound = {__name = "helua.BoundKernel"}
Bound.__index = Bound

local M = {Kernel = Kernel, BoundKernel = Bound}

local function config_module()
  local ok, C = pcall(require, "helua.config")
  if not ok then diag.raise("helua.config is not available: " .. tostring(C)) end
  return C
end

local function settings_module()
  local ok, S = pcall(require, "helua.settings")
  if not ok then diag.raise("helua.settings is not available: " .. tostring(S)) end
  return S
end

-- A Config from a Config object or a plain table (validated by Config.new); nil stays nil.
local function to_config(v, what)
  if v == nil then return nil end
  local Config = config_module()
  if Config.is_config(v) then return v end
  if type(v) ~= "table" then
    diag.raise((what or "config") .. " must be a helua.Config or a table of fields, got " .. type(v), {
      hint = "e.g. helua.Config{block_sizes = {32, 32}}",
    })
  end
  return Config.new(v)
end
M.to_config = to_config
local function needs_compiler(what)
  diag.raise(what .. " needs the compiler, which this build does not have yet (core.compile)", {
    hint = "this build runs kernels in interpret mode (eagerly, tile by tile); "
      .. "bk:code(cfg, \"ir\") shows the traced IR",
  })
end

-- ---- kernels -------------------------------------------------------------------------------

-- helua.kernel(fn [, opts]): opts config, configs, autotune_effort, static_shapes,
-- print_output_code, backend, block_size (and the other settings, see settings.lua).
function M.kernel(fn, opts)
  if type(fn) ~= "function" then
    diag.raise("helua.kernel needs a function, got " .. type(fn), {
      hint = "helua.kernel(function(x, y) ... end, {config = ...})",
    })
  end
  local settings, sources = settings_module().resolve(opts)
  local k = setmetatable({fn = fn, settings = settings, sources = sources, bound = {}}, Kernel)
  k.config = to_config(settings.config, "config")
  if settings.configs ~= nil then
    if type(settings.configs) ~= "table" or #settings.configs == 0 then
      diag.raise("configs must be a non-empty list of configs", {token = "configs"})
    end
    k.configs = {}
    for i, c in ipairs(settings.configs) do k.configs[i] = to_config(c, "configs[" .. i .. "]") end
  end
  if opts and opts.backend ~= nil then M.check_backend(settings) end
  local info = debug.getinfo(fn, "S")
  k.name = info.short_src .. ":" .. info.linedefined
  k.source_file, k.line = info.source:match("^@(.+%.lua)$"), info.linedefined
  k.line_hook = guard.watch(info.source, info.linedefined, info.lastlinedefined)
  return k
end

function M.is_kernel(v) return getmetatable(v) == Kernel end

-- "auto" compiles on the CPU: every kernel in kernels/ passes compiled there
-- (tests/lua/test_compiled.lua). A `block_size` setting (HELUA_BLOCK_SIZE, helua run
-- --block-size) is interpret mode's block size, so it makes "auto" interpret.
M.AUTO_COMPILES = true

-- Raises for a backend this build cannot run.
function M.check_backend(settings)
  if settings.interpret then return end
  local b = settings.backend
  if b == "cpu" and settings.block_size ~= nil then
    diag.raise("block_size is interpret mode's block size; compiled kernels take their block "
      .. "sizes from the config", {
      token = "block_size",
      hint = "give a config, e.g. helua.Config{block_sizes = {64, 64}}, or drop backend = \"cpu\"",
    })
  end
  if (b == "cuda" or b == "cpu") and not core.compile then
    diag.raise("the " .. b .. " backend is not built yet (this build has no compiler: "
      .. "core.compile)", {
      token = "backend",
      hint = "use backend = \"interpret\" (or unset HELUA_BACKEND, or set HELUA_INTERPRET=1)",
    })
  end
end

-- How a kernel with these settings runs: "interpret", or compiled: "cpu" (backend auto: cpu or
-- cuda by where the tensors are, see variant_target) or "cuda".
function M.mode(settings)
  if settings.interpret then return "interpret" end
  local b = settings.backend
  if b == "auto" then
    if settings.block_size ~= nil then return "interpret" end
    return (M.AUTO_COMPILES and core.compile) and "cpu" or "interpret"
  end
  return b
end

-- A tensor's part of the key, cached per tensor (a tensor's dtype, device, sizes and strides
-- never change; views are new tensors).
local static_keys = setmetatable({}, {__mode = "k"})
local dynamic_keys = setmetatable({}, {__mode = "k"})

local function tensor_key(v, static)
  local cache = static and static_keys or dynamic_keys
  local key = cache[v]
  if key then return key end
  local parts = {"T", v.dtype, v.device}
  local sizes = {tensor.C.size(v)}
  if static then
    parts[#parts + 1] = table.concat(sizes, "x")
    parts[#parts + 1] = table.concat(tensor.C.stride(v), ",")
  else
    -- dynamic shapes: the rank and which dims are 1 (broadcasting) still specialize
    local marks = {}
    for i, s in ipairs(sizes) do marks[i] = s == 1 and "1" or "n" end
    parts[#parts + 1] = table.concat(marks)
  end
  key = table.concat(parts, ":")
  cache[v] = key
  return key
end

local is_tensor = tensor.is_tensor

local function arg_key(v, static)
  if is_tensor(v) then return tensor_key(v, static) end
  local t = type(v)
  if t == "number" then return (math.type(v) == "integer" and "i" or "f") .. tostring(v) end
  if t == "string" then return "s" .. string.format("%q", v) end
  if t == "boolean" or t == "nil" then return tostring(v) end
  return t
end

-- The specialization key of an argument list.
function Kernel:key(...)
  local static = self.settings.static_shapes ~= false
  local n = select("#", ...)
  if n == 1 then return arg_key((...), static) end
  if n == 2 then
    local a, b = ...
    return arg_key(a, static) .. "|" .. arg_key(b, static)
  end
  local parts = {}
  for i = 1, n do parts[i] = arg_key((select(i, ...)), static) end
  return table.concat(parts, "|")
end

local function bound_for(self, key)
  local b = self.bound[key]
  if not b then
    b = setmetatable({kernel = self, key = key, runs = 0, variants = {}}, Bound)
    self.bound[key] = b
  end
  return b
end

-- k:bind(...) -> the BoundKernel for these arguments' specialization key (cached). It keeps the
-- arguments, so that bk:code() and bk:config_spec() can trace with them.
function Kernel:bind(...)
  local b = bound_for(self, self:key(...))
  b.args = table.pack(...)
  return b
end

function Kernel:__call(...)
  return bound_for(self, self:key(...)):_run(nil, ...)
end

-- k:reset(): forget every bound kernel (their configs, traces and compiled kernels).
function Kernel:reset()
  self.bound = {}
end

function Kernel:__tostring() return "helua.kernel(" .. self.name .. ")" end

-- ---- bound kernels -------------------------------------------------------------------------

-- The config this bound kernel runs with when none is passed.
function Bound:config()
  local k = self.kernel
  return self.set or k.config or (k.configs and k.configs[1]) or nil
end

function Bound:__call(...)
  local key = self.kernel:key(...)
  if key ~= self.key then
    diag.raise("this bound kernel was specialized for other arguments", {
      hint = "call the kernel itself (k(...)) or bind again: k:bind(...)",
    })
  end
  return self:_run(nil, ...)
end

-- bk:run(cfg, ...): runs once with cfg (a Config or a table of fields). nil means the config
-- a plain call would use; an empty config ({}) runs with the defaults.
function Bound:run(cfg, ...)
  return self:_run(to_config(cfg), ...)
end

-- bk:set_config(cfg): later calls with these arguments use cfg.
function Bound:set_config(cfg)
  self.set = to_config(cfg)
  return self
end

-- bk:autotune([opts]): searches the config space for these arguments (bind them first:
-- k:bind(...):autotune()) and sets the best config (set_config). opts as tune.autotune's
-- (effort defaults to the kernel's autotune_effort; the kernel's `configs` make a finite search;
-- cache = false skips the on-disk cache, cache_dir overrides the cache_dir setting). A search's
-- result is cached (helua.tune_cache) and a later call with the same key loads it (report.cached).
-- Returns the best Config and the search's report.
function Bound:autotune(opts)
  if not core.compile then needs_compiler("autotune()") end
  local mode = M.mode(self.kernel.settings)
  if mode ~= "cpu" and mode ~= "cuda" then
    diag.raise("autotune() needs a compiled kernel: this one runs in interpret mode", {
      hint = "interpret mode has no config space to search; use backend = \"cpu\" (and no "
        .. "block_size setting)",
    })
  end
  if not self.args then
    diag.raise("this bound kernel has no arguments to tune with", {
      hint = "bind it with arguments: k:bind(x, y):autotune()",
    })
  end
  -- a cuda-target trace (backend cuda, or device tensors) searches the cuda space on GPU workers
  local target = self:_variant(nil).target or "cpu"
  if target == "cuda" then
    local avail, why = false, "this build has no CUDA runtime"
    if core.cuda_available then avail, why = core.cuda_available() end
    if not avail then diag.raise("autotune: cuda: unavailable (" .. tostring(why) .. ")") end
  end
  local o = {}
  for name, v in pairs(opts or {}) do o[name] = v end
  o.target = target
  local k = self.kernel
  if o.effort == nil then o.effort = k.settings.autotune_effort end
  if o.configs == nil and k.configs then o.configs = k.configs end
  -- the on-disk cache (helua.tune_cache): searches only, not a finite list of configs
  local cache, key, dir
  if o.cache ~= false and not o.configs and o.effort ~= "none" then
    cache = require "helua.tune_cache"
    local space = self:config_spec()
    local v = self:_variant(nil)
    dir = o.cache_dir or k.settings.cache_dir
    local device -- cuda: the GPU's name and the driver's version are part of the key
    if target == "cuda" then
      local ordinal = core.cuda_current_device and core.cuda_current_device() or 0
      local info = core.cuda_device_info(ordinal)
      device = info.name .. " driver " .. tostring(info.driver_version)
    end
    key = cache.key({fingerprint = v.func:fingerprint(), args = self.key, target = target,
                     device = device, space = space:fingerprint()})
    local hit = not k.settings.force_autotune and cache.load(dir, key, space)
    if hit and (hit.effort == o.effort or hit.effort == "full") then
      if o.log ~= false then
        local line = string.format("[0s] Found a cached config for %s (%s effort, %s): %s",
          k.name, hit.effort, hit.path, hit.config:to_lua())
        if o.log then o.log(line) else io.stderr:write(line, "\n") end
      end
      local report = {cached = true, trials = {}, ok = 0, failed = 0, seconds = 0,
                      effort = hit.effort, path = hit.path, best_ms = hit.time_ms,
                      default_ms = hit.default_ms}
      self.set = hit.config
      self.tuned = report
      return hit.config, report
    end
  end
  local best, report = require("helua.tune").autotune(self, self.args, o)
  self.set = best
  self.tuned = report
  if cache and report.best then
    local space = self:config_spec()
    local path, err = cache.store(dir, key, {json = space:to_json(report.best.tbl),
      time_ms = report.best.time * 1e3, default_ms = report.default.time * 1e3,
      effort = report.effort})
    if not path then
      io.stderr:write("helua: warning: could not write the autotune cache in " .. dir .. ": "
        .. tostring(err) .. "\n")
    end
    report.path = path
  end
  return best, report
end

-- Whether a call with these arguments compiles for the GPU (backend cuda, or auto with a tensor
-- argument on the GPU).
local function on_gpu(settings, ...)
  if settings.backend == "cuda" then return true end
  if settings.backend ~= "auto" then return false end
  for i = 1, select("#", ...) do
    local a = select(i, ...)
    if type(a) == "userdata" then
      local ok, dev = pcall(function() return a.device end)
      if ok and dev == "cuda" then return true end
    end
  end
  return false
end

-- The config exported for this bound kernel by `helua tune --export` (the kernel file's
-- .configs.lua: this key's, else the nearest shape's; helua.tune_export), checked against the
-- kernel (a nearest shape's fields that do not fit are left at the default); nil (remembered as
-- false) when there is none.
function Bound:_exported(...)
  if self.exported ~= nil then return self.exported or nil end
  self.exported = false
  local k = self.kernel
  if not core.config_space then return nil end
  local ok, cfg, how
  if k.settings.config_file then -- a JSON configs file (helua.tune_json); unreadable: an error
    cfg, how = require("helua.tune_json").for_kernel(k, self.key)
    if not cfg then return nil end
  else
    if not k.source_file or k.source_file:match("%.configs%.lua$") then return nil end
    local E = require "helua.tune_export"
    if k.exports == nil then k.exports = E.load(E.path_for(k.source_file)) or false end
    local kt = k.exports and k.exports.kernels["line " .. k.line]
    if type(kt) ~= "table" then return nil end
    ok, cfg, how = pcall(E.pick, kt[on_gpu(k.settings, ...) and "cuda" or "cpu"], self.key)
    if not ok or not cfg then return nil end
  end
  self.args = self.args or table.pack(...)
  local fits = pcall(function() self:_config_table(self:_variant(cfg), cfg) end)
  if not fits then
    -- another shape's config may not fit this one: keep the fields that do, over the default
    local okf, fitted = pcall(function()
      local space = self:_space(self:_variant(nil))
      local tbl = space:default()
      for name, val in pairs(cfg:to_table()) do
        local old = tbl[name]
        tbl[name] = val
        if not pcall(space.check, space, tbl) then tbl[name] = old end
      end
      local c = config_module().new(space:check(tbl))
      self:_config_table(self:_variant(c), c)
      return c
    end)
    if not okf then return nil end
    cfg, how = fitted, how .. " (fitted)"
  end
  self.exported, self.exported_how = cfg, how
  return cfg
end

-- Whether a call with no config tunes first: only when the effort is set explicitly (the kernel's
-- autotune_effort option or HELUA_AUTOTUNE_EFFORT) and is not "none"; the settings' default
-- ("quick") alone does not tune, so that plain runs and tests stay fast.
function M.tunes_on_call(k)
  local src = k.sources and k.sources.autotune_effort
  return src ~= nil and src ~= "default" and k.settings.autotune_effort ~= "none"
end

-- ---- compiled kernels ------------------------------------------------------------------------

-- Counts for tests and benchmarks: traces run, kernels compiled, compiled launches.
M.stats = {traces = 0, compiles = 0, launches = 0}

M.STAGES = {"ir", "lowered", "llvm", "asm", "ptx", "triton"}
local CUDA_STAGES = {}

local function clean(msg) return (tostring(msg):gsub("^[^\n]-:%d+: ", "", 1)) end

-- The value a dep (a config value the trace read in host code) has under cfg.
local function dep_value(d, cfg)
  local v
  if cfg then
    if d.kind == "tunable" then v = cfg:get(d.name)
    else
      local bs = cfg:get("block_sizes")
      v = bs and bs[d.slot + 1]
    end
  end
  if v == nil then v = d.default end
  return v
end

local function deps_match(v, cfg)
  for _, d in ipairs(v.deps) do
    if dep_value(d, cfg) ~= d.value then return false end
  end
  return true
end

local function contiguous(sizes, strides)
  local expect = 1
  for i = #sizes, 1, -1 do
    if sizes[i] ~= 1 and strides[i] ~= expect then return false end
    expect = expect * sizes[i]
  end
  return true
end

-- The compile target of a trace: "cuda" for backend cuda, or for backend auto when a tensor
-- argument is on the GPU; else "cpu".
local function variant_target(settings, run)
  if settings.backend == "cuda" then return "cuda" end
  if settings.backend ~= "auto" then return "cpu" end
  for _, a in ipairs(run.args) do
    if a.tensor and a.tensor.device == "cuda" then return "cuda" end
  end
  return "cpu"
end

-- Keeps what a finished trace run recorded as a variant of this bound kernel.
function Bound:_add_variant(run)
  local trace = require "helua.trace"
  local v = {func = run.func, args = {}, deps = run.deps, registered = run.registered,
             tunables = run.tunables, upvals = {}, compiled = {},
             target = variant_target(self.kernel.settings, run)}
  local nparams = debug.getinfo(self.kernel.fn, "u").nparams
  local static = self.kernel.settings.static_shapes ~= false -- the key has every param's layout
  for i, a in ipairs(run.args) do
    local loc = a.loc
    v.args[i] = {loc = loc, aliases = #a.aliases > 0 and a.aliases or nil, dtype = a.dtype,
                 sizes = a.sizes, strides = a.strides, contiguous = contiguous(a.sizes, a.strides),
                 param = static and loc.kind == "local" and loc.field == nil and loc.i <= nparams
                   and loc.i or nil}
  end
  for _, u in ipairs(trace.upvalues(self.kernel.fn)) do
    local t = type(u.v)
    if t == "number" or t == "boolean" or t == "string" then v.upvals[#v.upvals + 1] = u end
  end
  local list = self.variants
  table.insert(list, 1, v)
  if #list > 8 then list[#list] = nil end
  return v
end

-- Runs the kernel function with tracing. With launch_it, the trace is compiled for cfg and
-- launched when it ends (so that host code after the loops sees the results); otherwise the
-- call only records the trace (its results are not computed). Returns the packed results.
function Bound:_trace(cfg, launch_it, ...)
  local k = self.kernel
  local trace = require "helua.trace"
  local run = trace.begin_run({fn = k.fn, config = cfg, settings = k.settings,
                               line_hook = k.line_hook})
  local anchor = diag.user_frame(2) or {} -- {}: no kernel line (a config from the command line)
  run.on_finish = function(r)
    r.slots = r.func and r.func:block_slots() or {}
    if cfg then M.check_config_fits(cfg, r, anchor) end
    local v = self:_add_variant(r)
    if launch_it and v.func then
      local args = {}
      for i, a in ipairs(r.args) do args[i] = a.tensor end
      self:_launch(v, cfg, args)
    end
  end
  M.stats.traces = M.stats.traces + 1
  active.push(run)
  local res = table.pack(xpcall(k.fn, M.on_error, ...))
  if res[1] and not run.finished then
    local ok, e = xpcall(trace.finish, M.on_error, run)
    if not ok then res = {false, e, n = 2} end
  end
  trace.end_run(run)
  active.pop(run)
  if not res[1] then error(res[2], 0) end
  return res
end

-- The variant whose config-dependent values match cfg, tracing one (with the arguments of
-- k:bind) when there is none.
function Bound:_variant(cfg)
  for _, v in ipairs(self.variants) do
    if deps_match(v, cfg) then return v end
  end
  if not self.args then
    diag.raise("this bound kernel has no arguments to trace with", {
      hint = "bind it with arguments: k:bind(x, y):code(...)",
    })
  end
  self:_trace(cfg, false, table.unpack(self.args, 1, self.args.n))
  return self.variants[1]
end

-- The config space of a variant (core.config_space), or nil in a build without one.
-- target: "cpu" or "cuda" (default: the variant's).
function Bound:_space(v, target)
  target = target or v.target or "cpu"
  v.spaces = v.spaces or {}
  if v.spaces[target] == nil then
    v.spaces[target] = (core.config_space and v.func and core.config_space(v.func, target))
      or false
  end
  return v.spaces[target] or nil
end

-- The plain table of Helion fields a variant compiles with for cfg: the space's default,
-- cfg's fields over it, and the values the trace baked in (tunables, block sizes used as
-- numbers by host code).
function Bound:_config_table(v, cfg, target)
  local space = self:_space(v, target)
  local tbl = space and space:default() or {}
  if cfg then
    for name, val in pairs(cfg:to_table()) do tbl[name] = val end
  end
  local tunable_deps = false
  for _, d in ipairs(v.deps) do
    if d.kind == "tunable" then
      tbl[d.name] = d.value
      tunable_deps = true
    else
      tbl.block_sizes = tbl.block_sizes or {}
      tbl.block_sizes[d.slot + 1] = d.value
    end
  end
  -- A trace that depends on a tunable (matmul_split_k's k_block) has slot ranges that depend on
  -- it too: a config drawn from another value's space may not fit; its block sizes are clamped.
  local bs = tunable_deps and type(tbl.block_sizes) == "table" and tbl.block_sizes
  if bs then
    for i, slot in ipairs(v.func:block_slots()) do
      local b = bs[i]
      if type(b) == "number" and slot.max > 0 then
        bs[i] = math.max(slot.min, math.min(b, slot.max))
      end
    end
  end
  if space then
    local ok, full = pcall(space.check, space, tbl)
    if not ok then
      if diag.is_error(full) then error(full, 0) end
      diag.raise("the config does not fit the kernel (" .. self.kernel.name .. "): "
        .. clean(full):gsub("^config: ", ""), {
        hint = "bk:config_spec():describe() lists the fields and their ranges",
      })
    end
    tbl = full
  end
  return tbl
end

local function config_text(tbl)
  local ok, cfg = pcall(config_module().new, tbl)
  return ok and cfg:to_lua() or "(config)"
end

local function print_code(bound, v, ck, tbl)
  local out = {string.format("-- helua: compiled %s with %s\n", bound.kernel.name,
                             config_text(tbl)), v.func:text()}
  for _, stage in ipairs({v.target == "cuda" and "ptx" or "llvm"}) do
    local ok, text = pcall(ck.code, ck, stage)
    if ok and type(text) == "string" then
      out[#out + 1] = "-- " .. stage .. "\n" .. text .. (text:sub(-1) == "\n" and "" or "\n")
    end
  end
  io.stderr:write(table.concat(out))
  io.stderr:flush()
end

-- The compiled kernel of variant v for cfg (compiled on first use) for target (default: the
-- variant's).
function Bound:_compiled(v, cfg, target)
  target = target or v.target or "cpu"
  local key = target .. ":" .. (cfg and cfg:key() or "")
  local ck = v.compiled[key]
  if ck then return ck end
  if not core.compile then needs_compiler("a compiled run") end
  local tbl = self:_config_table(v, cfg, target)
  local ok, r = pcall(core.compile, v.func, tbl, target)
  if not ok then
    if diag.is_error(r) then error(r, 0) end
    diag.raise("cannot compile " .. self.kernel.name .. " with " .. config_text(tbl) .. ": "
      .. clean(r), {hint = "HELUA_INTERPRET=1 runs the kernel eagerly (interpret mode)"})
  end
  M.stats.compiles = M.stats.compiles + 1
  v.compiled[key] = r
  if self.kernel.settings.print_output_code then print_code(self, v, r, tbl) end
  return r
end

-- Launches variant v compiled for cfg on args (host tensors in IR argument order).
function Bound:_launch(v, cfg, args)
  local ck = self:_compiled(v, cfg)
  local ok, err = pcall(ck.launch, ck, args)
  if not ok then
    if diag.is_error(err) then error(err, 0) end
    diag.raise("launching " .. self.kernel.name .. " failed: " .. clean(err))
  end
  M.stats.launches = M.stats.launches + 1
end

-- A call that traces (the first of a key, or one no trace fits).
function Bound:_traced_call(cfg, ...)
  local res = self:_trace(cfg, true, ...)
  self.runs = self.runs + 1
  return table.unpack(res, 2, res.n)
end

local L -- helua.trace_launch, loaded on the first compiled call

-- After a cached call's kernel function returned or raised: its results, or a traced call when
-- no trace fitted it (L.RETRACE). Varargs, not a packed table: this runs every call.
local function relaunched(self, run, cfg, ok, ...)
  active.pop(run)
  self.launch_run = run
  local passed, n = run.passed, run.npassed
  if ok then
    for i = 1, n do passed[i] = nil end
    self.passed = passed
    self.runs = self.runs + 1
    return ...
  end
  local args = table.pack(table.unpack(passed, 1, n))
  for i = 1, n do passed[i] = nil end
  self.passed = passed
  local err = ...
  if err ~= L.RETRACE then error(err, 0) end
  return self:_traced_call(cfg, table.unpack(args, 1, args.n))
end

-- A cached compiled call: host code runs, the first device loop launches (trace_launch.lua).
function Bound:_relaunch(cfg, ...)
  L = L or require "helua.trace_launch"
  local passed = self.passed or {}
  self.passed = nil
  local n = select("#", ...)
  for i = 1, n do passed[i] = select(i, ...) end
  local run = L.begin_run(self.launch_run, self, cfg, passed)
  run.npassed = n
  self.launch_run = nil -- in use (a kernel called from its own host code gets a fresh one)
  active.push(run)
  return relaunched(self, run, cfg, xpcall(self.kernel.fn, M.on_error, ...))
end

function Bound:_run_compiled(cfg, ...)
  if #self.variants > 0 then return self:_relaunch(cfg, ...) end
  return self:_traced_call(cfg, ...)
end

-- The cuda config table core.triton renders variant v with for cfg: cfg's fields (the rest take
-- the cuda space's defaults) and the values the trace baked in, as Bound:_config_table does.
local function triton_table(v, cfg)
  local tbl = cfg and cfg:to_table() or {}
  local tunable_deps = false
  for _, d in ipairs(v.deps) do
    if d.kind == "tunable" then
      tbl[d.name] = d.value
      tunable_deps = true
    else
      tbl.block_sizes = tbl.block_sizes or core.config_space(v.func, "cuda"):default().block_sizes
      tbl.block_sizes[d.slot + 1] = d.value
    end
  end
  -- A trace that depends on a tunable has slot ranges that depend on it too: block sizes drawn
  -- from another value's space that do not fit this one's take its defaults.
  if tunable_deps and tbl.block_sizes then
    local space = core.config_space(v.func, "cuda")
    if not pcall(space.check, space, tbl) then
      tbl.block_sizes = space:default().block_sizes
      for _, d in ipairs(v.deps) do
        if d.kind ~= "tunable" then tbl.block_sizes[d.slot + 1] = d.value end
      end
    end
  end
  return tbl
end

-- bk:code([cfg,] stage): the code of a stage for cfg (nil: the config a call would use).
-- "ir" is the traced tile IR; "lowered", "llvm" and "asm" come from the compiled kernel;
-- "triton" is Triton Python for the cuda config (core.triton: fields cfg leaves out take the
-- cuda space's defaults; share/doc/triton.md).
function Bound:code(cfg, stage)
  if type(cfg) == "string" and stage == nil then cfg, stage = nil, cfg end
  stage = stage or "ir"
  local known = false
  for _, s in ipairs(M.STAGES) do known = known or s == stage end
  if not known then
    local hint = CUDA_STAGES[stage]
      and ("stage " .. stage .. " belongs to the cuda target, which is not built yet")
      or diag.did_you_mean(tostring(stage), M.STAGES)
    diag.raise("unknown code stage '" .. tostring(stage) .. "'", {
      hint = (hint and hint .. "; " or "") .. "stages: " .. table.concat(M.STAGES, ", "),
    })
  end
  cfg = to_config(cfg) or self:config()
  if stage ~= "ir" and stage ~= "triton" and not core.compile then
    needs_compiler("code(cfg, \"" .. stage .. "\")")
  end
  local v = self:_variant(cfg)
  if not v.func then return "" end
  if stage == "triton" then
    local ok, text = pcall(core.triton, v.func, triton_table(v, cfg))
    if not ok then
      if diag.is_error(text) then error(text, 0) end
      diag.raise("cannot render " .. self.kernel.name .. " as Triton: " .. clean(text))
    end
    return text
  end
  if stage == "ir" then
    if cfg then self:_config_table(v, cfg) end -- a config that does not fit is an error here too
    return v.func:text()
  end
  -- "ptx" is the cuda target's whatever the arguments (no GPU needed to make it)
  return self:_compiled(v, cfg, stage == "ptx" and "cuda" or nil):code(stage)
end

-- bk:config_spec(): the config space (core.config_space) of the kernel for these arguments.
function Bound:config_spec()
  if not core.config_space then needs_compiler("config_spec()") end
  local space = self:_space(self:_variant(self:config()))
  if not space then diag.raise("the kernel has no device loops, so no config space") end
  return space
end

-- bk:default_config(): the config a call uses with no config given. Compiled: the config
-- space's default. Interpret mode: empty before the first run, then the block sizes the
-- interpret run chose (one per block-size slot).
function Bound:default_config()
  local Config = config_module()
  if M.mode(self.kernel.settings) ~= "interpret" and core.config_space then
    local v = self:_variant(self:config())
    local space = self:_space(v)
    return Config.new(space and space:default() or {})
  end
  if self.default_block_sizes and #self.default_block_sizes > 0 then
    return Config.new({block_sizes = self.default_block_sizes})
  end
  return Config.new({})
end


-- Plain Lua errors inside the kernel become diagnostics at the user's line (helua's own
-- diagnostics pass through). Messages from elsewhere keep their original position.
local RAW_HINTS = {
  {"attempt to index a nil value", "the variable is nil: check its name and that it was assigned"},
  {"attempt to index a number value", "only host tensors can be indexed and stored into"},
  {"attempt to call a nil value", "check the function or method name"},
  {"attempt to perform arithmetic on a nil value", "the variable is nil: check its name"},
  {"attempt to compare", "comparisons need two numbers; for device values use v:lt(x) etc."},
}

local function on_error(e)
  if diag.is_error(e) or type(e) ~= "string" then return e end
  local anchor = diag.user_frame(2)
  local msg = e
  if anchor then
    local prefix = anchor.file .. ":" .. anchor.line .. ": "
    if msg:sub(1, #prefix) == prefix then msg = msg:sub(#prefix + 1) end
  end
  local hint
  for _, h in ipairs(RAW_HINTS) do
    if msg:find(h[1], 1, true) then hint = h[2] break end
  end
  return diag.new(msg, {anchor = anchor, hint = hint})
end
M.on_error = on_error

local function unregistered_tunables(cfg, run)
  local Config = config_module()
  local extra = {}
  for _, name in ipairs(cfg:names()) do
    if not Config.is_field(name) and not run.tunables[name] then extra[#extra + 1] = name end
  end
  return extra
end

-- Raises when cfg sets a tunable the run did not register or more block sizes than it has
-- slots. run: {tunables = name -> fragment, block_sizes = cfg's, slots = list}.
local function check_config_fits(cfg, run, anchor)
  local extra = unregistered_tunables(cfg, run)
  if #extra > 0 then
    local registered = {}
    for n in pairs(run.tunables) do registered[#registered + 1] = n end
    table.sort(registered)
    local dym = diag.did_you_mean(extra[1], registered)
    diag.raise("the config sets tunable '" .. extra[1] .. "', which the kernel does not register", {
      anchor = anchor,
      hint = (dym and dym .. " " or "") .. (#registered > 0
        and ("the kernel registers: " .. table.concat(registered, ", "))
        or "the kernel registers no tunables (hl.register_tunable(name, fragment))"),
    })
  end
  local bs = run.block_sizes
  if bs and #bs > #run.slots then
    diag.raise("the config has " .. #bs .. " block_sizes but the kernel has " .. #run.slots
      .. " block-size slot" .. (#run.slots == 1 and "" or "s"), {
      anchor = anchor,
      hint = "one block size per hl.tile dim (without a fixed block_size) and per "
        .. "hl.register_block_size call, in the order the kernel first reaches them",
    })
  end
end
M.check_config_fits = check_config_fits

-- Runs the kernel function, compiled or eagerly. cfg: a Config, or nil for self:config().
function Bound:_run(cfg, ...)
  local k = self.kernel
  M.check_backend(k.settings)
  -- force_autotune: a call tunes once whatever config, cache or exported config there is (a
  -- GPU call tunes on GPU workers: Bound:autotune).
  local compiled = M.mode(k.settings) ~= "interpret"
  local tunable = compiled and core.compile ~= nil
  local force = cfg == nil and k.settings.force_autotune and not self.tuned and tunable
  if cfg == nil and not force then cfg = self:config() end
  if compiled then
    if cfg == nil and not force and self.exported ~= false then cfg = self:_exported(...) end
    if cfg == nil and not self.tuned and (force or M.tunes_on_call(k)) and tunable then
      self.args = table.pack(...)
      cfg = self:autotune()
    end
    return self:_run_compiled(cfg, ...)
  end
  local anchor = diag.user_frame(2)
  local run = eager.begin_run({config = cfg, settings = k.settings, line_hook = k.line_hook})
  active.push(run)
  local res = table.pack(xpcall(k.fn, on_error, ...))
  eager.end_run(run)
  active.pop(run)
  if not res[1] then error(res[2], 0) end
  if cfg then check_config_fits(cfg, run, anchor) end
  self.runs = self.runs + 1
  if not cfg or #cfg:names() == 0 then
    local sizes = {}
    for i, s in ipairs(run.slots) do sizes[i] = s.size end
    self.default_block_sizes = sizes
  end
  return table.unpack(res, 2, res.n)
end

return M
