-- Kernel objects: helua.kernel(fn, opts), bound kernels cached per specialization key, configs,
-- and running a kernel (interpret mode only in this issue). Part of lua/helua (policy).
--
-- k(...) binds (dtypes, shapes, strides, scalar values, device -> a BoundKernel, cached) and runs.
-- The config a run uses: the bound kernel's set_config, else opts.config, else the first of
-- opts.configs (interpret mode does not tune), else none (block sizes from the block_size
-- setting or the interpret defaults; see eager.lua).
--
-- Public fields of a kernel (read-only by convention; run.lua uses them): fn (the function),
-- settings (settings.resolve's table, config/configs included), config, configs (Configs),
-- name ("file:line" of the function).
local active = require "helua.active"
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
  diag.raise(what .. " needs the compiler, which comes in the next issue", {
    hint = "this build runs kernels in interpret mode only (eagerly, tile by tile)",
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
  local settings = settings_module().resolve(opts)
  local k = setmetatable({fn = fn, settings = settings, bound = {}}, Kernel)
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
  k.line_hook = guard.watch(info.source, info.linedefined, info.lastlinedefined)
  return k
end

function M.is_kernel(v) return getmetatable(v) == Kernel end

-- Interpret mode is the only backend so far: asking for cpu or cuda is a clear error.
function M.check_backend(settings)
  if settings.interpret then return end
  local b = settings.backend
  if b == "cpu" or b == "cuda" then
    diag.raise("the " .. b .. " backend is not built yet (the compiler comes in the next issue)", {
      token = "backend",
      hint = "use backend = \"interpret\" (or unset HELUA_BACKEND, or set HELUA_INTERPRET=1)",
    })
  end
end

local function arg_key(v, static)
  if tensor.is_tensor(v) then
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
    return table.concat(parts, ":")
  end
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
  local parts = {}
  for i = 1, n do parts[i] = arg_key((select(i, ...)), static) end
  return table.concat(parts, "|")
end

-- k:bind(...) -> the BoundKernel for these arguments' specialization key (cached).
function Kernel:bind(...)
  local key = self:key(...)
  local b = self.bound[key]
  if not b then
    b = setmetatable({kernel = self, key = key, runs = 0}, Bound)
    self.bound[key] = b
  end
  return b
end

function Kernel:__call(...)
  return self:bind(...):_run(nil, ...)
end

-- k:reset(): forget every bound kernel (their configs and recorded block sizes).
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

-- bk:default_config(): the config an eager run uses with no config given. Until the compiler
-- derives a config space (next issue) this is empty before the first run, and afterwards holds
-- the block sizes the interpret run chose (one per block-size slot).
function Bound:default_config()
  local Config = config_module()
  if self.default_block_sizes and #self.default_block_sizes > 0 then
    return Config.new({block_sizes = self.default_block_sizes})
  end
  return Config.new({})
end

function Bound:config_spec() needs_compiler("config_spec()") end
function Bound:code() needs_compiler("code()") end
function Bound:autotune() needs_compiler("autotune()") end

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

local function unregistered_tunables(cfg, run)
  local Config = config_module()
  local extra = {}
  for _, name in ipairs(cfg:names()) do
    if not Config.is_field(name) and not run.tunables[name] then extra[#extra + 1] = name end
  end
  return extra
end

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

-- Runs the kernel function eagerly. cfg: a Config, or nil for self:config().
function Bound:_run(cfg, ...)
  local k = self.kernel
  M.check_backend(k.settings)
  if cfg == nil then cfg = self:config() end
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
