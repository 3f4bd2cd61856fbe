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
-- a compiled kernel per config (kernel_compile.lua).
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

local WEAK_KEYS = {__mode = "k"}
local select = select -- (a local: every call reads it)

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
  local k = setmetatable({fn = fn, settings = settings, sources = sources, bound = {},
                          by_tensors = setmetatable({}, WEAK_KEYS)}, Kernel)
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

-- A cached compiled call whose config is settled (b.fast, see Bound:_run) goes straight to the
-- launch path (Bound:_fast_caller): this runs every call (issue 4: host overhead <= 10 us).
-- Calls with one or two tensors find their bound kernel by the tensors' identity (a tensor's
-- layout never changes, so the same tensors have the same key), without building the key.
function Kernel:__call(...)
  local n, b = select("#", ...), nil
  if n <= 2 then
    local x, y = ...
    local row = self.by_tensors[x]
    b = row and row[y or row]
    if not b then
      b = bound_for(self, self:key(...))
      if is_tensor(x) and (n == 1 or is_tensor(y)) then
        if not row then
          row = setmetatable({}, WEAK_KEYS)
          self.by_tensors[x] = row
        end
        row[y or row] = b
      end
    end
  else
    b = bound_for(self, self:key(...))
  end
  local fast = b.fast
  if fast then return fast(...) end
  return b:_run(nil, ...)
end

-- k:reset(): forget every bound kernel (their configs, traces and compiled kernels).
function Kernel:reset()
  self.bound = {}
  self.by_tensors = setmetatable({}, WEAK_KEYS)
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
  self.fast = nil
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
      self.fast = nil
      return hit.config, report
    end
  end
  local best, report = require("helua.tune").autotune(self, self.args, o)
  self.set = best
  self.tuned = report
  self.fast = nil
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

-- Variants, compiles, launches and code stages of bound kernels live in kernel_compile.lua; it
-- adds them to M and Bound (M.stats, M.STAGES, Bound:code, config_spec, default_config, ...).
require "helua.kernel_compile"(M, Bound, {config_module = config_module,
                                         needs_compiler = needs_compiler})

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
  local plain = cfg == nil
  local force = plain and k.settings.force_autotune and not self.tuned and tunable
  if plain and not force then cfg = self:config() end
  if compiled then
    if cfg == nil and not force and self.exported ~= false then cfg = self:_exported(...) end
    if cfg == nil and not self.tuned and (force or M.tunes_on_call(k)) and tunable then
      self.args = table.pack(...)
      cfg = self:autotune()
    elseif plain and not force and #self.variants > 0
      and (self.tuned or not M.tunes_on_call(k)) then
      -- settled: later plain calls (k(...)) skip the checks above and launch with cfg until
      -- set_config or autotune changes it
      self.fast = self:_fast_caller(cfg)
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
