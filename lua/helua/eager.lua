-- The eager implementation of the dialect (interpret mode): tiles are real index ranges, device
-- values wrap C host tensors, loads and stores are masked tile copies. Part of lua/helua.
--
-- Semantics decided here (share/doc/dialect.md explains them for users):
--  * Tiles are clipped: the last tile of a ragged dim holds last - begin + 1 < block_size
--    elements, and so do the values loaded with it, so reductions over tiles are exact.
--  * Block sizes: each hl.tile call-site dim and each hl.register_block_size call takes a slot,
--    numbered in order of first encounter (Helion's block_sizes order). A slot's size is
--    config.block_sizes[slot], else the block_size setting (a number, or "full" = the whole dim),
--    else the interpret default: min(next_pow2(n), 256) for 1-D hl.tile loops and
--    min(next_pow2(n), 64) per dim for multi-dim loops and registered block sizes.
--  * Device values are immutable; every op makes a new C tensor.
-- The interface language.lua calls (a tracer provides the same) is listed at the end of
-- share/doc/dialect.md.
local check = require "helua.check"
local core = require "helua.core"
local diag = require "helua.diag"
local guard = require "helua.guard"
local hl = require "helua.language"
local tensor = require "helua.tensor"
local Tile = require "helua.tile"

local C = tensor.C -- the C tensor methods, by name (bypassing the Lua wrappers)

local E = {name = "eager"}

-- ---- device values -------------------------------------------------------------------------

local Value = {__name = "helua.DeviceValue"}

local function wrap(t) return setmetatable({_t = t}, Value) end
local function is_value(v) return rawequal(getmetatable(v), Value) end
E.is_value = is_value
E.wrap = wrap

function E.unwrap(v) return rawget(v, "_t") end

local function shape_of(t) return {C.size(t)} end
local function shape_str(s)
  if type(s) ~= "table" then s = shape_of(s) end
  return "[" .. table.concat(s, ", ") .. "]"
end

function E.shape(v) return shape_of(v._t) end
function E.ndim(v) return C.dim(v._t) end
function E.dtype(v) return v._t.dtype end

Value.field_names = {"dtype", "device"}
function Value.fields(v, k)
  if k == "dtype" then return v._t.dtype end
  if k == "device" then return v._t.device end
  return nil
end

Value.methods = {
  size = function(v, d)
    if d == nil then return C.size(v._t) end
    return C.size(v._t, check.norm_dim("size", d, C.dim(v._t)))
  end,
  shape = function(v) return shape_of(v._t) end,
  dim = function(v) return C.dim(v._t) end,
  numel = function(v) return C.numel(v._t) end,
}

Value.__tostring = function(v) return tostring(v._t) end

hl._install_value_class(Value)

-- ---- calling C -----------------------------------------------------------------------------

local function clean(msg)
  msg = tostring(msg)
  return (msg:gsub("^[^\n]-:%d+: ", "", 1))
end

-- Calls f(...) and turns a C error into a diagnostic at the user's line: "what: message".
local function ccall(what, f, ...)
  local ok, r = pcall(f, ...)
  if not ok then
    if diag.is_error(r) then error(r, 0) end
    diag.raise(what .. ": " .. clean(r))
  end
  return r
end

local function broadcastable(sa, sb)
  local na, nb = #sa, #sb
  for i = 1, math.max(na, nb) do
    local x, y = sa[na - i + 1] or 1, sb[nb - i + 1] or 1
    if x ~= y and x ~= 1 and y ~= 1 then return false end
  end
  return true
end

local SYMBOL = {add = "+", sub = "-", mul = "*", div = "/", mod = "%", pow = "^",
                floordiv = "//"}

local function mismatch(op, sa, sb, extra, token)
  diag.raise("mismatched shapes in " .. op .. ": " .. shape_str(sa) .. " and " .. shape_str(sb)
    .. (extra or ""), {
    token = token or SYMBOL[op] or op:match("[%w_]+$"),
    hint = "shapes broadcast when each dim (from the right) is equal or 1; add a dim with "
      .. "v[{\":\", hl.newaxis}] or v:unsqueeze(d), or check which tiles you indexed with",
  })
end

-- A scalar operand for C: numbers pass as they are (they promote weakly), booleans become bool.
local function scalar(x)
  if type(x) == "boolean" then return core.full({}, x and 1 or 0, "bool") end
  return x
end

local function raw(x)
  if is_value(x) then return x._t end
  return scalar(x)
end

-- ---- elementwise, reductions, views --------------------------------------------------------

function E.unary(name, v)
  return wrap(ccall("hl." .. name, C[name], v._t))
end

-- b op a for a number a on the left: swap to a method of the tensor when the op allows.
local SWAPPED = {add = "add", mul = "mul", maximum = "maximum", minimum = "minimum", eq = "eq",
                 ne = "ne", lt = "gt", gt = "lt", le = "ge", ge = "le",
                 logical_and = "logical_and", logical_or = "logical_or"}
local OPERATOR = {
  sub = function(a, b) return a - b end, div = function(a, b) return a / b end,
  pow = function(a, b) return a ^ b end, mod = function(a, b) return a % b end,
  floordiv = function(a, b) return a // b end,
}

local function binary_raw(name, ta, tb)
  if type(ta) ~= "number" then return C[name](ta, tb) end
  local s = SWAPPED[name]
  if s then return C[s](tb, ta) end
  return OPERATOR[name](ta, tb)
end

function E.binary(name, a, b)
  local ta, tb = raw(a), raw(b)
  local ok, r = pcall(binary_raw, name, ta, tb)
  if not ok then
    if diag.is_error(r) then error(r, 0) end
    if is_value(a) and is_value(b) then
      local sa, sb = shape_of(ta), shape_of(tb)
      if not broadcastable(sa, sb) then mismatch(name, sa, sb) end
    end
    diag.raise("hl." .. name .. ": " .. clean(r))
  end
  return wrap(r)
end

function E.where(c, a, b)
  local tc, ta, tb = c._t, raw(a), raw(b)
  local ok, r = pcall(core.where, tc, ta, tb)
  if not ok then
    if diag.is_error(r) then error(r, 0) end
    local shapes = {shape_of(tc)}
    if is_value(a) then shapes[#shapes + 1] = shape_of(ta) end
    if is_value(b) then shapes[#shapes + 1] = shape_of(tb) end
    for i = 2, #shapes do
      if not broadcastable(shapes[1], shapes[i]) then mismatch("hl.where", shapes[1], shapes[i]) end
    end
    if #shapes == 3 and not broadcastable(shapes[2], shapes[3]) then
      mismatch("hl.where", shapes[2], shapes[3])
    end
    diag.raise("hl.where: " .. clean(r))
  end
  return wrap(r)
end

function E.cast(v, dt)
  if v._t.dtype == dt then return v end
  return wrap(ccall("to", C.to, v._t, dt))
end

-- keepdim is always passed explicitly (an omitted one must read as false).
function E.reduce(name, v, dim, keepdim)
  return wrap(ccall("hl." .. name, C[name], v._t, dim, keepdim == true))
end

function E.softmax(v, dim)
  return wrap(ccall("hl.softmax", C.softmax, v._t, dim))
end

local function lengths(shape)
  local out = {}
  for i, s in ipairs(shape) do
    if Tile.is(s) then out[i] = rawget(s, "_len") else out[i] = s end
  end
  return out
end

function E.view(kind, v, args)
  local t = v._t
  if kind == "reshape" then
    local shape = lengths(args)
    local ok, r = pcall(C.reshape, t, shape)
    if not ok then
      diag.raise("cannot reshape a value of shape " .. shape_str(t) .. " to " .. shape_str(shape), {
        hint = "the number of elements must stay the same (one size may be -1)",
      })
    end
    return wrap(r)
  elseif kind == "expand" then
    local shape = lengths(args)
    local ok, r = pcall(C.expand, t, shape)
    if not ok then
      diag.raise("cannot expand a value of shape " .. shape_str(t) .. " to " .. shape_str(shape), {
        hint = "expand only grows dims of size 1 (and adds dims on the left); -1 keeps a size",
      })
    end
    return wrap(r)
  elseif kind == "permute" then
    return wrap(ccall("hl.permute", C.permute, t, args))
  elseif kind == "transpose" then
    return wrap(ccall("hl.transpose", C.transpose, t, args[1], args[2]))
  elseif kind == "unsqueeze" then
    return wrap(ccall("hl.unsqueeze", C.unsqueeze, t, args[1]))
  elseif kind == "squeeze" then
    if args[1] == nil then return wrap(ccall("hl.squeeze", C.squeeze, t)) end
    return wrap(ccall("hl.squeeze", C.squeeze, t, args[1]))
  end
  error("internal: unknown view " .. tostring(kind))
end

function E.subscript(v, entries)
  local t, d = v._t, 0
  for _, e in ipairs(entries) do
    if e.k == "full" then d = d + 1
    elseif e.k == "newaxis" then
      t = C.unsqueeze(t, d + 1)
      d = d + 1
    else -- int: pick one element along dim d + 1 and drop the dim
      t = C.squeeze(C.narrow(t, d + 1, e.v, 1), d + 1)
    end
  end
  return wrap(t)
end

local HALF = {float16 = true, bfloat16 = true}
local SMALL_INT = {int8 = true, uint8 = true, int16 = true, bool = true}

function E.dot(a, b, acc)
  local ta, tb = a._t, b._t
  local sa, sb = shape_of(ta), shape_of(tb)
  local n = #sa
  local batch_ok = n == 2 or (sa[1] == sb[1] or sa[1] == 1 or sb[1] == 1)
  if sa[n] ~= sb[n - 1] or not batch_ok then
    mismatch("hl.dot", sa, sb, " (a's last dim must equal b's second-to-last)")
  end
  local da, db = ta.dtype, tb.dtype
  local out_dt
  if acc then out_dt = acc._t.dtype
  elseif da == "float64" or db == "float64" then out_dt = "float64"
  elseif SMALL_INT[da] and SMALL_INT[db] then out_dt = "int32"
  elseif not (HALF[da] or da == "float32") and not (HALF[db] or db == "float32") then out_dt = "int64"
  else out_dt = "float32" end
  if HALF[da] then ta = C.to(ta, "float32") end
  if HALF[db] then tb = C.to(tb, "float32") end
  local r = ccall("hl.dot", core.matmul, ta, tb)
  if acc then
    local sacc, sr = shape_of(acc._t), shape_of(r)
    if not broadcastable(sacc, sr) or #sacc ~= #sr then
      mismatch("hl.dot (accumulator)", sacc, sr, " (acc must have the shape of a @ b)")
    end
    r = C.add(acc._t, r)
  end
  if r.dtype ~= out_dt then r = C.to(r, out_dt) end
  return wrap(r)
end

function E.full(run, shape, value, dt)
  local s = lengths(shape)
  if value == 0 then return wrap(ccall("hl.zeros", core.zeros, s, dt)) end
  if type(value) == "boolean" then value = value and 1 or 0 end
  return wrap(ccall("hl.full", core.full, s, value, dt))
end

function E.arange(run, first, last, step)
  return wrap(ccall("hl.arange", core.arange, first, last, step, "int64"))
end

-- ---- loads and stores ----------------------------------------------------------------------

-- The load_tile/store_tile specs for index entries, plus (for loads) the dims to squeeze
-- (0-D gathers) and to insert (hl.newaxis), and the shape of the region the specs select.
local function specs_for(t, entries)
  local specs, squeezes, newaxes, region = {}, nil, nil, {}
  local loaded, final = 0, 0
  for _, e in ipairs(entries) do
    local k = e.k
    if k == "tile" then
      local len = rawget(e.v, "_len")
      specs[#specs + 1] = {rawget(e.v, "begin"), len}
      loaded, final = loaded + 1, final + 1
      region[#region + 1] = len
    elseif k == "full" then
      local size = C.size(t, #specs + 1)
      specs[#specs + 1] = {1, size}
      loaded, final = loaded + 1, final + 1
      region[#region + 1] = size
    elseif k == "int" then
      specs[#specs + 1] = e.v
    elseif k == "gather" then
      local it = e.v._t
      loaded = loaded + 1
      if C.dim(it) == 0 then
        it = C.reshape(it, {1})
        squeezes = squeezes or {}
        squeezes[#squeezes + 1] = loaded
        region[#region + 1] = 1
      else
        final = final + 1
        region[#region + 1] = C.numel(it)
      end
      specs[#specs + 1] = it
    else -- newaxis
      final = final + 1
      newaxes = newaxes or {}
      newaxes[#newaxes + 1] = final
    end
  end
  return specs, squeezes, newaxes, region
end

local function shape_without(region, squeezes)
  if not squeezes then return region end
  local drop, out = {}, {}
  for _, p in ipairs(squeezes) do drop[p] = true end
  for i, s in ipairs(region) do if not drop[i] then out[#out + 1] = s end end
  return out
end

local function target_name(t)
  local n = diag.local_name(t)
  return n and ("`" .. n .. "`") or "the tensor"
end

local function load_raw(t, entries)
  local specs, squeezes, newaxes = specs_for(t, entries)
  local r = ccall("load", C.load_tile, t, specs)
  if squeezes then
    for i = #squeezes, 1, -1 do r = C.squeeze(r, squeezes[i]) end
  end
  if newaxes then
    for _, p in ipairs(newaxes) do r = C.unsqueeze(r, p) end
  end
  return r
end

function E.load(run, t, entries, mask)
  local r = load_raw(t, entries)
  if mask then
    local ok, m = pcall(core.where, mask._t, r, core.zeros({}, r.dtype))
    if not ok then mismatch("hl.load extra_mask", shape_of(mask._t), shape_of(r)) end
    r = m
  end
  return wrap(r)
end

local function store_like(op, method, t, entries, v, mask)
  local specs, squeezes, _, region = specs_for(t, entries)
  local val = raw(v)
  if type(val) == "number" then val = core.full({}, val, t.dtype) end
  local ok, err
  if mask then ok, err = pcall(method, t, specs, val, mask._t)
  else ok, err = pcall(method, t, specs, val) end
  if not ok then
    if diag.is_error(err) then error(err, 0) end
    local target = shape_without(region, squeezes)
    local vs = shape_of(val)
    if #vs > #target or not broadcastable(vs, target) then
      diag.raise("mismatched shapes in " .. op .. ": the value is " .. shape_str(vs)
        .. " but the indexed region of " .. target_name(t) .. " is " .. shape_str(target), {
        hint = "the value must broadcast to the region: index with the same tiles the value "
          .. "was computed from",
      })
    end
    if mask and not broadcastable(shape_of(mask._t), target) then
      mismatch(op .. " extra_mask", shape_of(mask._t), target)
    end
    diag.raise(op .. ": " .. clean(err))
  end
end

function E.store(run, t, entries, v, mask)
  store_like("a store", C.store_tile, t, entries, v, mask)
end

function E.atomic_add(run, t, entries, v)
  local old = load_raw(t, entries)
  store_like("hl.atomic_add", C.atomic_add_tile, t, entries, v, nil)
  return wrap(old)
end

-- ---- runs, loops, block sizes --------------------------------------------------------------

local function next_pow2(n)
  local p = 1
  while p < n do p = p * 2 end
  return p
end

-- A new run (one kernel invocation). opts: config (a Config or nil), settings (resolved),
-- line_hook (whether the kernel has condition lines for guard.lua to check).
function E.begin_run(opts)
  local cfg = opts.config
  return {
    impl = E, depth = 0, config = cfg, settings = opts.settings or {}, line_hook = opts.line_hook,
    block_sizes = cfg and cfg.block_sizes or nil,
    slots = {}, slot_of = {}, tunables = {},
  }
end

local function enter(run)
  run.depth = run.depth + 1
  if run.depth == 1 then guard.enter(is_value, run.line_hook) end
end

local function leave(run)
  if run.depth <= 0 then return end
  run.depth = run.depth - 1
  if run.depth == 0 then guard.leave() end
end

function E.end_run(run)
  while run.depth > 0 do leave(run) end
end

-- The block size of slot `key` for an extent of n: config, else setting, else default.
local function slot_size(run, key, n, default_cap, lo, hi)
  local slot = run.slot_of[key]
  if not slot then
    slot = #run.slots + 1
    run.slot_of[key] = slot
    run.slots[slot] = {key = key}
  end
  local bs = run.block_sizes and run.block_sizes[slot]
  if bs == nil then
    local s = run.settings.block_size
    if s == "full" then bs = math.max(hi or n, 1)
    elseif type(s) == "number" then bs = s
    else bs = math.min(next_pow2(math.max(n, 1)), default_cap) end
    if lo and bs < lo then bs = lo end
    if hi and bs > next_pow2(hi) then bs = next_pow2(hi) end
  end
  if not run.slots[slot].size then run.slots[slot].size = bs end
  return bs
end

local function index_of(tile)
  return wrap(core.arange(rawget(tile, "begin"), rawget(tile, "last"), 1, "int64"))
end

local function make_tile(d, id)
  local b = d.first + (id - 1) * d.bs
  local l = math.min(b + d.bs - 1, d.last)
  return Tile.new({begin = b, last = l, block_size = d.bs, id = id, count = d.count,
                   _len = l - b + 1}, index_of)
end

-- The generic-for triple (+ closing value) over the tiles of dims, row-major.
function E.tile(run, dims, site)
  local nd = #dims
  local per, empty = {}, false
  for i, d in ipairs(dims) do
    local n = d.last - d.first + 1
    local bs = d.block_size or slot_size(run, site .. "#" .. i, n, nd == 1 and 256 or 64)
    local count = n > 0 and (n + bs - 1) // bs or 0
    if count == 0 then empty = true end
    per[i] = {first = d.first, last = d.last, bs = bs, count = count}
  end
  local ids, tiles = {}, {}
  for i = 1, nd do
    ids[i] = 1
    if not empty then tiles[i] = make_tile(per[i], 1) end
  end
  ids[nd] = 0
  enter(run)
  local closer = setmetatable({}, {__close = function() leave(run) end})
  local function iter()
    if empty then return nil end
    local i = nd
    while i >= 1 do
      local d = per[i]
      if ids[i] < d.count then
        ids[i] = ids[i] + 1
        tiles[i] = make_tile(d, ids[i])
        break
      end
      ids[i] = 1
      tiles[i] = make_tile(d, 1)
      i = i - 1
    end
    if i == 0 then
      empty = true
      return nil
    end
    if nd == 1 then return tiles[1] end
    return table.unpack(tiles, 1, nd)
  end
  return iter, nil, nil, closer
end

-- The generic-for triple (+ closing value) over scalar indices, row-major.
function E.grid(run, dims, site)
  local nd = #dims
  local cur, empty = {}, false
  for i, d in ipairs(dims) do
    local step = d.step or 1
    if (step > 0 and d.last < d.first) or (step < 0 and d.last > d.first) then empty = true end
    cur[i] = d.first
    d.step = step
  end
  cur[nd] = dims[nd].first - dims[nd].step
  enter(run)
  local closer = setmetatable({}, {__close = function() leave(run) end})
  local function iter()
    if empty then return nil end
    local i = nd
    while i >= 1 do
      local d = dims[i]
      local nxt = cur[i] + d.step
      if (d.step > 0 and nxt <= d.last) or (d.step < 0 and nxt >= d.last) then
        cur[i] = nxt
        break
      end
      cur[i] = d.first
      i = i - 1
    end
    if i == 0 then
      empty = true
      return nil
    end
    if nd == 1 then return cur[1] end
    return table.unpack(cur, 1, nd)
  end
  return iter, nil, nil, closer
end

function E.register_block_size(run, lo, hi, site)
  return slot_size(run, site, hi, 64, lo, hi)
end

function E.register_tunable(run, name, fragment)
  run.tunables[name] = fragment
  local cfg = run.config
  local v = cfg and cfg.get and cfg:get(name)
  if v == nil then v = fragment:default() end
  return v
end

function E.specialize(run, n) return n end

return E
