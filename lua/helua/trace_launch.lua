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
local next, pcall, rawget = next, pcall, rawget -- (locals: the cached call's path reads them)

local L = {name = "launch"}

-- Raised (as the error value) when no variant fits this call.
L.RETRACE = setmetatable({}, {__name = "helua.Retrace", __tostring = function()
  return "internal: the kernel must be traced again for this call"
end})

function L.is_value() return false end

-- A run for one cached call (the table is reused by the bound kernel between calls; nil makes
-- one). run.passed is the list the caller fills with the call's arguments (and clears after).
function L.begin_run(run, bound, cfg)
  if not run or run.bound ~= bound then
    local k = bound.kernel
    run = {impl = L, depth = 0, skip_loops = true, bound = bound, fn = k.fn,
           settings = k.settings, regs = {}, tunables = {}, passed = {}}
  else
    local tunables = run.tunables
    if next(tunables) ~= nil then
      for name in pairs(tunables) do tunables[name] = nil end
    end
  end
  run.config = cfg
  run.launched, run.nreg, run.variant = false, 0, nil
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

local C_size, C_dim, C_stride, C_contiguous = C.size, C.dim, C.stride, C.is_contiguous

-- Whether t has the dtype, sizes and strides the trace saw (a.contiguous: the traced strides
-- were the contiguous ones, so one C call checks them).
local function same_layout(t, a)
  if not is_tensor(t) or t.dtype ~= a.dtype then return false end
  local want = a.sizes
  local rank = #want
  if C_dim(t) ~= rank then return false end
  if rank <= 3 then
    local s1, s2, s3 = C_size(t)
    if s1 ~= want[1] or s2 ~= want[2] or s3 ~= want[3] then return false end
  else
    local sizes = {C_size(t)}
    for i = 1, rank do
      if sizes[i] ~= want[i] then return false end
    end
  end
  if a.contiguous then return C_contiguous(t) end
  local strides, ws = C_stride(t), a.strides
  for i = 1, rank do
    if strides[i] ~= ws[i] then return false end
  end
  return true
end
L.same_layout = same_layout

-- This call's tensors for variant v (in IR argument order, in v.launch_args, which the caller
-- clears after the launch), or nil when a check fails. (Numeric loops: this runs every call.)
-- Whether the upvalues the device code may have baked in and the config values host code read
-- are what variant v's trace saw.
local function fits(v, run)
  local fn = run.fn
  local upvals, deps = v.upvals, v.deps
  for i = 1, #upvals do
    local u = upvals[i]
    local _, cur = getupvalue(fn, u.i)
    if cur ~= u.v then return false end
  end
  for i = 1, #deps do
    local d = deps[i]
    local cur
    if d.kind == "tunable" then cur = run.tunables[d.name] else cur = run.regs[d.slot] end
    if cur ~= d.value then return false end
  end
  return true
end

local function collect(v, level, run)
  if not fits(v, run) then return nil end
  local fn = run.fn
  local vargs = v.args
  local args = v.launch_args
  if not args then
    args = {}
    v.launch_args = args
  end
  local passed = run.passed
  local fetch_level = level + 1
  for i = 1, #vargs do
    local a = vargs[i]
    local loc = a.loc
    local t
    if loc.kind == "local" and loc.field == nil then
      local name
      name, t = getlocal(level, loc.i)
      if name ~= loc.name then return nil end
    else
      t = fetch(loc, fetch_level, fn)
    end
    -- a parameter still holding the argument passed: the specialization key checked it
    local p = a.param
    if not (p and rawequal(t, passed[p])) and not same_layout(t, a) then return nil end
    local aliases = a.aliases
    if aliases then
      for j = 1, #aliases do
        if not rawequal(fetch(aliases[j], fetch_level, fn), t) then return nil end
      end
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
      for i = 1, #args do args[i] = nil end -- do not keep this call's tensors alive
      return
    end
  end
  error(L.RETRACE, 0)
end

-- The plan of ck:launch_frame for variant v: per IR argument, the index and name of the kernel
-- function's local that holds it; false when an argument lives elsewhere (an upvalue, a vararg,
-- a table field, a global) or at several places (aliases): those take collect's general path.
local function frame_plan(v)
  local plan = {}
  for i, a in ipairs(v.args) do
    local loc = a.loc
    if loc.kind ~= "local" or loc.field ~= nil or a.aliases then return false end
    plan[2 * i - 1], plan[2 * i] = loc.i, loc.name
  end
  return plan
end

-- The cached call's fast path: the newest variant, its arguments read from the kernel's frame
-- and checked in C (ck:launch_frame). False when anything does not fit: launch() then looks at
-- every variant the general way (and retraces when none fits). A bound kernel with its own
-- _launch (tune_pool.setup captures the launch that way) always takes the general path.
local function launch_fast(run)
  local bound = run.bound
  local v = bound.variants[1]
  if not (v and v.func) or rawget(bound, "_launch") ~= nil then return false end
  local cfg = run.config
  local fast = v.fast -- the launcher for v.fast.cfg (kernel_compile.lua's Bound:_fast_launcher)
  if fast == nil or (fast and fast.cfg ~= cfg) then
    local plan = frame_plan(v)
    fast = plan and bound:_fast_launcher(v, cfg, plan, #v.upvals + #v.deps > 0)
    v.fast = fast
  end
  if not fast or (fast.checks and not fits(v, run)) then return false end
  local ok, launched = pcall(fast.launch_frame, fast.ck, run.fn, fast.plan)
  if not ok then bound:_launch_failed(launched) end
  if not launched then return false end
  local stats = fast.stats
  stats.launches, stats.fast_launches = stats.launches + 1, stats.fast_launches + 1
  run.launched = true
  return true
end

-- hl.tile / hl.grid: the first one launches; all of them yield nothing.
function L.tile(run)
  if not run.launched and not launch_fast(run) then
    -- levels: 1 L.tile, 2 the kernel function (hl.tile tail-calls L.tile)
    local info = getinfo(2, "f")
    local level = info and info.func == run.fn and 2 or frame_of(run.fn)
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

-- A registered block size used as a number without a config value: the block_size setting, else
-- min(next_pow2(max), 64), clamped to [min, next_pow2(max)] (interpret mode's rule; trace.lua
-- uses the same).
function L.block_size_default(settings, lo, hi)
  local s, value = settings.block_size, math.min(next_pow2(hi), 64)
  if s == "full" then value = hi elseif type(s) == "number" then value = s end
  return math.max(lo, math.min(value, next_pow2(hi)))
end

function L.register_block_size(run, lo, hi)
  run.nreg = run.nreg + 1
  local v = run.bound.variants[1]
  local slot = v and v.registered[run.nreg] or (run.nreg - 1)
  local bs = run.config and run.config.block_sizes
  local value = bs and bs[slot + 1] or L.block_size_default(run.settings, lo, hi)
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
