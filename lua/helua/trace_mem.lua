-- The tracer's memory side: kernel tensor arguments (recorded with the place each was found, so
-- that cached calls find the next call's tensors) and loads, stores and atomics into them. Part of
-- lua/helua (the tracer; trace.lua runs it, trace_launch.lua reads the places back).
local diag = require "helua.diag"
local O = require "helua.trace_ops"
local tensor = require "helua.tensor"

local C = tensor.C
local getlocal, getinfo = debug.getlocal, debug.getinfo
local bcall, wrap, const = O.bcall, O.wrap, O.const

local M = {}

-- Every local of the frame at `level` (from the caller of this function): {i, name, v}.
local function frame_locals(level)
  level = level + 1
  local out = {}
  local i = 1
  while true do
    local name, v = getlocal(level, i)
    if not name then break end
    if name:sub(1, 1) ~= "(" then out[#out + 1] = {i = i, name = name, v = v} end
    i = i + 1
  end
  return out
end
M.frame_locals = frame_locals

-- ---- kernel arguments ------------------------------------------------------------------------

-- The level (from the caller) of the frame running run.fn, or nil.
local function kernel_level(run)
  local level = 2
  while true do
    local info = getinfo(level, "f")
    if not info then return nil end
    if info.func == run.fn then return level - 1 end
    level = level + 1
  end
end

-- At the first top-level loop: the kernel function's locals, which later calls read again.
function M.snapshot(run)
  local level = kernel_level(run)
  local snap = {locals = {}, varargs = {}}
  if level then
    snap.locals = frame_locals(level)
    local i = 1
    while true do
      local name, v = getlocal(level, -i)
      if not name then break end
      snap.varargs[i] = v
      i = i + 1
    end
  end
  snap.nparams = getinfo(run.fn, "u").nparams
  run.snap = snap
end

local function upvalues(fn)
  local out, i = {}, 1
  while true do
    local name, v = debug.getupvalue(fn, i)
    if not name then break end
    out[#out + 1] = {i = i, name = name, v = v}
    i = i + 1
  end
  return out
end
M.upvalues = upvalues

-- Every place tensor t can be found: {kind = "local"|"vararg"|"upvalue"|"global", i=, name=,
-- field=}, parameters first.
local function find_tensor(run, t)
  local found = {}
  local snap = run.snap or {locals = {}, varargs = {}, nparams = 0}
  for _, l in ipairs(snap.locals) do
    if rawequal(l.v, t) then found[#found + 1] = {kind = "local", i = l.i, name = l.name} end
  end
  for i, v in ipairs(snap.varargs) do
    if rawequal(v, t) then found[#found + 1] = {kind = "vararg", i = i, name = "arg" .. i} end
  end
  local ups = upvalues(run.fn)
  for _, u in ipairs(ups) do
    if rawequal(u.v, t) then found[#found + 1] = {kind = "upvalue", i = u.i, name = u.name} end
  end
  if #found > 0 then return found end
  -- one level into tables (params.weight)
  local function fields(kind, i, name, tbl)
    if type(tbl) ~= "table" or getmetatable(tbl) ~= nil then return end
    for k, v in pairs(tbl) do
      if rawequal(v, t) and (type(k) == "string" or math.type(k) == "integer") then
        found[#found + 1] = {kind = kind, i = i, name = name .. "_" .. tostring(k), field = k}
        return
      end
    end
  end
  for _, l in ipairs(snap.locals) do fields("local", l.i, l.name, l.v) end
  for _, u in ipairs(ups) do
    if u.name ~= "_ENV" then fields("upvalue", u.i, u.name, u.v) end
  end
  if #found > 0 then return found end
  local env = nil
  for _, u in ipairs(ups) do if u.name == "_ENV" then env = u.v end end
  env = env or _G
  for k, v in pairs(env) do
    if rawequal(v, t) and type(k) == "string" then
      return {{kind = "global", name = k}}
    end
  end
  return found
end

-- The IR handle of host tensor t (a new kernel argument on first use).
local function tensor_arg(run, t)
  local a = run.arg_of[t]
  if a then return a.h end
  local found = find_tensor(run, t)
  if #found == 0 then
    diag.raise("device code reads a tensor that the compiled kernel cannot find on later calls", {
      hint = "pass it as an argument, or make it a local of the kernel function before the first "
        .. "hl.tile / hl.grid loop (views like x:view(...) too)",
    })
  end
  local loc = found[1]
  local sizes = {C.size(t)}
  local strides = C.stride(t)
  local h = bcall(run, "arg_tensor", loc.name, t.dtype, sizes, strides)
  a = {h = h, loc = loc, tensor = t, dtype = t.dtype, sizes = sizes, strides = strides,
       aliases = {table.unpack(found, 2)}}
  run.args[#run.args + 1] = a
  run.arg_of[t] = a
  return h
end
M.tensor_arg = tensor_arg

-- ---- memory --------------------------------------------------------------------------------

-- A ":" over a whole dim is a reduction dim (Rn), except for a size given to hl.specialize (as in
-- Helion) or one the kernel already used as a constant size (hl.zeros({tm, n}) before the load,
-- see trace_ops.size_dim): those load as a gather of 0..size-1, a constant-size dim that matches.
local function whole_dim(run, size)
  local constant = run.specialized[size] or (run.const_dims[size] and not run.rdim_of[size])
  if not constant then return ":" end
  local key = "all:" .. size
  local h = O.lookup(run, key)
  if h then return h end
  local all = O.op(run, "arange", {}, {start = 0, shape = {size}, dtype = "int64"})
  return O.remember(run, key, all._h)
end

local function index_list(run, t, entries)
  local idx = {}
  local tdim = 0
  for i, e in ipairs(entries) do
    local k = e.k
    if k ~= "newaxis" then tdim = tdim + 1 end
    if k == "tile" then idx[i] = rawget(e.v, "_h")
    elseif k == "full" then idx[i] = whole_dim(run, C.size(t, tdim))
    elseif k == "newaxis" then idx[i] = "newaxis"
    elseif k == "int" then idx[i] = const(run, e.v - 1, "int64")
    else idx[i] = O.minus_one(run, e.v) end
  end
  return idx
end

-- Records the extents of reduction dims a load made (for messages and v:size()).
local function note_rdims(run, t, entries, v)
  local pos, tdim = 0, 0
  for _, e in ipairs(entries) do
    if e.k ~= "newaxis" then tdim = tdim + 1 end
    if e.k ~= "int" and not (e.k == "gather" and #e.v._s == 0) then pos = pos + 1 end
    if e.k == "full" then
      local d = v._s[pos]
      if type(d) == "string" then
        local n = C.size(t, tdim)
        run.rext[d] = n
        run.rdim_of[n] = run.rdim_of[n] or d
      end
    end
  end
end

-- The shape of the region an index selects (for messages).
local function region_of(run, t, entries)
  local r, tdim = {}, 0
  for _, e in ipairs(entries) do
    if e.k ~= "newaxis" then tdim = tdim + 1 end
    if e.k == "tile" then r[#r + 1] = rawget(e.v, "_dim")
    elseif e.k == "full" then r[#r + 1] = C.size(t, tdim)
    elseif e.k == "gather" and #e.v._s == 1 then r[#r + 1] = e.v._s[1]
    elseif e.k == "newaxis" then r[#r + 1] = 1 end
  end
  return r
end

function M.load(run, t, entries, mask, eviction)
  local th = tensor_arg(run, t)
  local idx = index_list(run, t, entries)
  local opts = nil
  if mask or (eviction and eviction ~= "") then
    opts = {extra_mask = mask and mask._h, eviction_policy = eviction}
  end
  local v = wrap(run, bcall(run, "load", th, idx, opts))
  note_rdims(run, t, entries, v)
  if mask and not O.broadcastable(run, mask._s, v._s) then
    O.mismatch(run, "hl.load extra_mask", mask._s, v._s)
  end
  return v
end

local function target_name(t)
  local n = diag.local_name(t)
  return n and ("`" .. n .. "`") or "the tensor"
end

local function store_value(run, op_name, t, entries, v, mask)
  local region = region_of(run, t, entries)
  if O.is_value(v) then
    local ok = #v._s <= #region and O.broadcastable(run, v._s, region)
    if ok then
      -- the value must not grow the region
      for i = 1, #v._s do
        local vd, rd = v._s[#v._s - i + 1], region[#region - i + 1]
        vd, rd = run.rext[vd] or vd, run.rext[rd] or rd
        if vd ~= rd and vd ~= 1 then ok = false end
      end
    end
    if not ok then
      diag.raise("mismatched shapes in " .. op_name .. ": the value is " .. O.shape_str(run, v._s)
        .. " but the indexed region of " .. target_name(t) .. " is " .. O.shape_str(run, region), {
        hint = "the value must broadcast to the region: index with the same tiles the value "
          .. "was computed from",
      })
    end
  end
  if mask and not O.broadcastable(run, mask._s, region) then
    O.mismatch(run, op_name .. " extra_mask", mask._s, region)
  end
  return O.operand(run, v, t.dtype)
end

function M.store(run, t, entries, v, mask)
  local th = tensor_arg(run, t)
  local idx = index_list(run, t, entries)
  local h = store_value(run, "a store", t, entries, v, mask)
  bcall(run, "store", th, idx, h, mask and {extra_mask = mask._h} or nil)
end

function M.atomic_add(run, t, entries, v)
  local th = tensor_arg(run, t)
  local idx = index_list(run, t, entries)
  local h = store_value(run, "hl.atomic_add", t, entries, v, nil)
  return wrap(run, bcall(run, "atomic_add", th, idx, h))
end

return M
