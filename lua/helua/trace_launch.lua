-- Cached compiled calls: host code runs, the first top-level device loop launches the compiled
-- kernel instead, and every device loop yields nothing. Part of lua/helua (the tracer's other
-- half; kernel.lua runs it, trace.lua records what it reads).
--
-- The launch finds this call's tensors where the trace found its own (trace.lua records each IR
-- argument's place: a local of the kernel function, a vararg, an upvalue, a table field, a
-- global) and checks them against the trace: dtype, sizes, strides, the same tensor at aliased
-- places, upvalue numbers the device code may have baked in, and the config values host code
-- read (tunables, registered block sizes used as numbers). A trace (a "variant" of the bound
-- kernel) whose checks all pass is launched; when none does, the call is run again with tracing
-- (kernel.lua catches L.RETRACE), which adds a variant.
local core = require "helua.core"
local tensor = require "helua.tensor"

local C = tensor.C
local getlocal, getupvalue, getinfo = debug.getlocal, debug.getupvalue, debug.getinfo
local is_tensor = core.is_tensor

local L = {name = "launch"}

-- Raised (as the error value) when no variant fits this call.
L.RETRACE = setmetatable({}, {__name = "helua.Retrace", __tostring = function()
  return "internal: the kernel must be traced again for this call"
end})

function L.is_value() return false end

-- A run for one cached call (the table is reused by the bound kernel between calls).
function L.begin_run(run, bound, cfg)
  run = run or {impl = L, depth = 0, skip_loops = true}
  local k = bound.kernel
  run.bound, run.fn, run.config, run.settings = bound, k.fn, cfg, k.settings
  run.launched, run.nreg, run.variant = false, 0, nil
  run.regs = run.regs or {}
  run.tunables = run.tunables or {}
  for name in pairs(run.tunables) do run.tunables[name] = nil end
  return run
end

function L.end_run() end

local function none() return nil end

-- ---- finding this call's tensors -----------------------------------------------------------

local function env_of(fn)
  local i = 1
  while true do
    local name, v = getupvalue(fn, i)
    if not name then return _G end
    if name == "_ENV" then return v end
    i = i + 1
  end
end

-- Levels below count frames from the function they are passed to (1 = that function), as
-- debug.getlocal does: each call passes level + 1.

-- The value at a recorded place; the kernel frame is at `level`.
local function fetch(loc, level, fn)
  local v
  local kind = loc.kind
  if kind == "local" then
    local name
    name, v = getlocal(level, loc.i)
    if name ~= loc.name then return nil end
  elseif kind == "upvalue" then
    local _
    _, v = getupvalue(fn, loc.i)
  elseif kind == "vararg" then
    local _
    _, v = getlocal(level, -loc.i)
  else
    v = rawget(env_of(fn), loc.name)
  end
  if loc.field ~= nil then
    if type(v) ~= "table" then return nil end
    v = rawget(v, loc.field)
  end
  return v
end
L.fetch = fetch

local function same_layout(t, a)
  if not is_tensor(t) or t.dtype ~= a.dtype then return false end
  local sizes, want = {C.size(t)}, a.sizes
  if #sizes ~= #want then return false end
  for i = 1, #want do
    if sizes[i] ~= want[i] then return false end
  end
  local strides, ws = C.stride(t), a.strides
  for i = 1, #ws do
    if strides[i] ~= ws[i] then return false end
  end
  return true
end
L.same_layout = same_layout

-- This call's tensors for variant v (in IR argument order), or nil when a check fails.
local function collect(v, level, run)
  local fn = run.fn
  for _, u in ipairs(v.upvals) do
    local _, cur = getupvalue(fn, u.i)
    if cur ~= u.v then return nil end
  end
  for _, d in ipairs(v.deps) do
    local cur
    if d.kind == "tunable" then cur = run.tunables[d.name] else cur = run.regs[d.slot] end
    if cur ~= d.value then return nil end
  end
  local args = {}
  for i, a in ipairs(v.args) do
    local t = fetch(a.loc, level + 1, fn)
    if not same_layout(t, a) then return nil end
    for _, alias in ipairs(a.aliases) do
      if not rawequal(fetch(alias, level + 1, fn), t) then return nil end
    end
    args[i] = t
  end
  return args
end
L.collect = collect

-- The level of the frame running fn, counted from the caller of this function, or nil.
local function frame_of(fn)
  local level = 2
  while true do
    local info = getinfo(level, "f")
    if not info then return nil end
    if info.func == fn then return level - 1 end
    level = level + 1
  end
end

local function launch(run, level)
  run.launched = true
  local bound = run.bound
  for _, v in ipairs(bound.variants) do
    local args = v.func and collect(v, level + 1, run)
    if args then
      run.variant = v
      bound:_launch(v, run.config, args)
      return
    end
  end
  error(L.RETRACE, 0)
end

-- hl.tile / hl.grid: the first one launches; all of them yield nothing.
function L.tile(run)
  if not run.launched then
    -- levels: 1 L.tile, 2 hl.tile, 3 usually the kernel function
    local info = getinfo(3, "f")
    local level = info and info.func == run.fn and 3 or frame_of(run.fn)
    if not level then error(L.RETRACE, 0) end
    launch(run, level + 1)
  end
  return none
end
L.grid = L.tile

-- ---- host declarations: the values the trace saw ----------------------------------------------

local function next_pow2(n)
  local p = 1
  while p < n do p = p * 2 end
  return p
end

-- The value trace.lua gives a registered block size used as a number (config, setting, default).
function L.block_size_value(run, slot, lo, hi)
  local bs = run.config and run.config.block_sizes
  local value = bs and bs[slot + 1]
  if value == nil then
    local s = run.settings.block_size
    if s == "full" then value = hi
    elseif type(s) == "number" then value = s
    else value = math.min(next_pow2(hi), 64) end
    value = math.max(lo, math.min(value, next_pow2(hi)))
  end
  return value
end

function L.register_block_size(run, lo, hi)
  run.nreg = run.nreg + 1
  local v = run.bound.variants[1]
  local slot = v and v.registered[run.nreg] or (run.nreg - 1)
  local value = L.block_size_value(run, slot, lo, hi)
  run.regs[slot] = value
  return value
end

function L.register_tunable(run, name, fragment)
  local cfg = run.config
  local v = cfg and cfg.get and cfg:get(name)
  if v == nil then v = fragment:default() end
  run.tunables[name] = v
  return v
end

function L.specialize(_, n) return n end

return L
