-- The tracing implementation's device values and value ops: IR handles wrapped in a Lua class
-- that has the eager values' methods and operators, with the host tensors' type promotion, built
-- into the tile IR through the builder userdata. Part of lua/helua (the tracer; trace.lua runs it).
--
-- Semantics are the eager ones (eager.lua, share/doc/dialect.md); where the IR is stricter the
-- tracer inserts what eager mode does implicitly: casts so that operands agree (torch promotion,
-- numbers as weak scalars), integer inputs of float ops cast to float32, int dots computed in
-- float64, 1-based results (argmax) shifted. A traced value: {_h = IR handle, _dt = dtype,
-- _s = shape (integers, "Bn" block-size symbols, "Rn" reduction dims), _zb = the handle of
-- value - 1 when known (so 1-based indices convert back to the IR's 0-based ones for free)}.
local active = require "helua.active"
local diag = require "helua.diag"
local dtype = require "helua.dtype"
local hl = require "helua.language"
local Tile = require "helua.tile"

local O = {}

local V = {__name = "helua.TracedValue"}
O.Value = V

local function is_value(v) return rawequal(getmetatable(v), V) end
O.is_value = is_value

local floats = dtype.floats

-- ---- the builder ---------------------------------------------------------------------------

local function clean(msg) return (tostring(msg):gsub("^[^\n]-:%d+: ", "", 1)) end
O.clean = clean

local function basename(p) return p:match("([^/]+)$") or p end

-- Points the builder at the user's current line: every IR op remembers where it came from.
function O.locate(run)
  local f = diag.user_frame(2)
  if not f then return end
  local file = run.files[f.file]
  if not file then
    file = run.b:file(basename(f.file))
    run.files[f.file] = file
  end
  if run.loc_file ~= file or run.loc_line ~= f.line then
    run.b:loc(file, f.line)
    run.loc_file, run.loc_line = file, f.line
  end
end

local COMPILER_HINT = "the compiler rejects this op; HELUA_INTERPRET=1 runs the kernel eagerly "
  .. "to compare"

-- b:method(...) at the user's line; a builder error becomes a diagnostic there.
local function bcall(run, method, ...)
  O.locate(run)
  local b = run.b
  local ok, r1, r2 = pcall(b[method], b, ...)
  if not ok then
    if diag.is_error(r1) then error(r1, 0) end
    diag.raise(clean(r1), {hint = COMPILER_HINT})
  end
  return r1, r2
end
O.bcall = bcall

-- The value wrapping handle h (dtype and shape from the builder).
local function wrap(run, h, zb)
  local info = run.b:value(h)
  return setmetatable({_h = h, _dt = info.dtype, _s = info.shape, _zb = zb}, V)
end
O.wrap = wrap

local function op(run, name, args, attrs)
  return wrap(run, bcall(run, "op", name, args, attrs))
end
O.op = op

-- Like op, but returns nil and the cleaned message when the builder refuses.
local function try_op(run, name, args, attrs)
  O.locate(run)
  local ok, h = pcall(run.b.op, run.b, name, args, attrs)
  if not ok then return nil, clean(h) end
  return wrap(run, h)
end

-- Memo tables per open scope (the function body, then each open loop): an IR value may be
-- reused only while the region it was made in is open.
local function lookup(run, key)
  for i = #run.loops, 1, -1 do
    local v = run.loops[i].memo[key]
    if v ~= nil then return v end
  end
  return run.root.memo[key]
end
O.lookup = lookup

local function remember(run, key, v)
  local scope = run.loops[#run.loops] or run.root
  scope.memo[key] = v
  return v
end
O.remember = remember

-- A scalar constant handle (memoized per scope). Booleans are 1 / 0; a float stored into an
-- integer dtype truncates toward zero (as the host tensors do).
local function const(run, x, dt)
  if type(x) == "boolean" then x = x and 1 or 0 end
  local key
  if floats[dt] then
    x = x + 0.0
    key = string.format("c:%s:%a", dt, x)
  else
    local i = math.tointeger(x)
    if not i then
      if x ~= x then i = 0
      elseif x >= 0 then i = math.tointeger(math.floor(x)) or math.maxinteger
      else i = math.tointeger(math.ceil(x)) or math.mininteger end
    end
    if dt == "bool" then i = i ~= 0 and 1 or 0 end
    x = i
    key = "c:" .. dt .. ":" .. i
  end
  local h = lookup(run, key)
  if h then return h end
  return remember(run, key, bcall(run, "const", x, dt))
end
O.const = const

local function cast(run, v, dt)
  if v._dt == dt then return v end
  return op(run, "cast", {v._h}, {dtype = dt})
end
O.cast = cast

-- The handle of x (a value or a number) as dtype dt.
local function operand(run, x, dt)
  if is_value(x) then return cast(run, x, dt)._h end
  return const(run, x, dt)
end
O.operand = operand

-- The handle of value - 1 (0-based from 1-based), free when the value was made as h + 1.
function O.minus_one(run, v)
  local zb = rawget(v, "_zb")
  if zb then return zb end
  local key = "m1:" .. v._h
  local h = lookup(run, key)
  if h then return h end
  return remember(run, key, op(run, "sub", {v._h, const(run, 1, v._dt)})._h)
end

-- A value of h + 1 that remembers h (tile fields, grid indices, argmax).
function O.plus_one(run, h)
  local info = run.b:value(h)
  local r = op(run, "add", {h, const(run, 1, info.dtype)})
  rawset(r, "_zb", h)
  return r
end

-- ---- dtypes: the host tensors' promotion (src/tensor/tensor_elementwise.c) ------------------

local INT_BITS = {int64 = 64, int32 = 32, int16 = 16, int8 = 8, uint8 = 8}

local function promote(a, b)
  if a == nil then return b end
  if b == nil or a == b then return a end
  if a == "bool" then return b end
  if b == "bool" then return a end
  local fa, fb = floats[a], floats[b]
  if fa and not fb then return a end
  if fb and not fa then return b end
  if fa and fb then
    if a == "float64" or b == "float64" then return "float64" end
    return "float32"
  end
  if a == "uint8" or b == "uint8" then
    local other = a == "uint8" and b or a
    return other == "int8" and "int16" or other
  end
  return INT_BITS[a] >= INT_BITS[b] and a or b
end
O.promote = promote

local function combine(higher, lower)
  if higher == nil then return lower end
  if lower == nil then return higher end
  if floats[higher] then return higher end
  if higher == "bool" or floats[lower] then return promote(higher, lower) end
  return higher
end

-- torch's result type: tensors with dims, then 0-D values, then Lua numbers (weak: an integer
-- never widens a tensor, a float only makes an integer tensor float32).
local function result_type(xs)
  local dim, zero, wrapped
  for i = 1, #xs do
    local x = xs[i]
    if is_value(x) then
      if #x._s == 0 then zero = promote(zero, x._dt) else dim = promote(dim, x._dt) end
    elseif type(x) == "boolean" then
      zero = promote(zero, "bool")
    elseif type(x) == "number" then
      wrapped = promote(wrapped, math.type(x) == "integer" and "int64" or "float32")
    end
  end
  return combine(dim, combine(zero, wrapped)) or "float32"
end
O.result_type = result_type

-- ---- shapes ----------------------------------------------------------------------------------

-- A shape for messages: reduction dims print as their extents (what eager mode shows).
function O.shape_str(run, s)
  local parts = {}
  for i, d in ipairs(s) do parts[i] = tostring(run.rext[d] or d) end
  return "[" .. table.concat(parts, ", ") .. "]"
end

local function broadcastable(run, sa, sb)
  local na, nb = #sa, #sb
  for i = 1, math.max(na, nb) do
    local x, y = sa[na - i + 1] or 1, sb[nb - i + 1] or 1
    x, y = run.rext[x] or x, run.rext[y] or y
    if x ~= y and x ~= 1 and y ~= 1 then return false end
  end
  return true
end
O.broadcastable = broadcastable

local SYMBOL = {add = "+", sub = "-", mul = "*", div = "/", mod = "%", pow = "^", floordiv = "//"}

local function mismatch(run, op_name, sa, sb, extra)
  diag.raise("mismatched shapes in " .. op_name .. ": " .. O.shape_str(run, sa) .. " and "
    .. O.shape_str(run, sb) .. (extra or ""), {
    token = SYMBOL[op_name] or op_name:match("[%w_]+$"),
    hint = "shapes broadcast when each dim (from the right) is equal or 1 (a tile's block size "
      .. "only matches itself); add a dim with v[{\":\", hl.newaxis}] or v:unsqueeze(d), or "
      .. "check which tiles you indexed with",
  })
end
O.mismatch = mismatch

-- A size in a shape the kernel writes (hl.zeros, hl.full, hl.arange, reshape, expand) as an IR
-- dim. Sizes that eager mode compares by value are symbols in the IR, so a size equal to a
-- reduction dim's extent is that reduction dim (hl.zeros({tm, n}) matches x[{tm, ":"}] loaded
-- before it); one that stays a constant is remembered, and a later ":" over a dim of that size
-- loads as a constant-size dim (trace.lua's whole_dim), so the two still match.
local function size_dim(run, n)
  if n <= 1 or run.specialized[n] then return n end
  local r = run.rdim_of[n]
  if r then return r end
  run.const_dims[n] = true
  return n
end
O.size_dim = size_dim

-- A shape argument (tiles and integers) as IR dims: a tile is its block dim.
local function ir_dims(run, shape)
  local out = {}
  for i, s in ipairs(shape) do
    if Tile.is(s) then out[i] = rawget(s, "_dim") else out[i] = size_dim(run, s) end
  end
  return out
end
O.ir_dims = ir_dims

-- ---- elementwise -----------------------------------------------------------------------------

local function current() return active.current() end

local COMPARE = {lt = true, le = true, gt = true, ge = true, eq = true, ne = true}
local LOGICAL = {logical_and = "and", logical_or = "or"}

-- x as a bool handle: nonzero is true.
local function truth(run, x)
  if is_value(x) then
    if x._dt == "bool" then return x._h end
    return op(run, "ne", {x._h, const(run, 0, x._dt)})._h
  end
  return const(run, x ~= 0 and x ~= false, "bool")
end

function O.binary(name, a, b)
  local run = current()
  if is_value(a) and is_value(b) and not broadcastable(run, a._s, b._s) then
    mismatch(run, name, a._s, b._s)
  end
  local cdt = result_type({a, b})
  if COMPARE[name] then return op(run, name, {operand(run, a, cdt), operand(run, b, cdt)}) end
  if LOGICAL[name] then return op(run, LOGICAL[name], {truth(run, a), truth(run, b)}) end
  if name == "div" and not floats[cdt] then cdt = "float32" end
  if cdt == "bool" then
    if name == "sub" then
      diag.raise("hl.sub: sub: subtracting bool tensors is not supported; use logical_xor-style "
        .. "ops (ne) or convert with to('int64') first")
    end
    local r = O.binary_in(run, name, a, b, "int64")
    if name == "pow" or name == "mod" or name == "floordiv" then return r end
    return cast(run, r, "bool")
  end
  return O.binary_in(run, name, a, b, cdt)
end

-- a op b computed in dtype cdt (pow of integers goes through float64, as the IR's pow is float).
function O.binary_in(run, name, a, b, cdt)
  if name == "pow" and not floats[cdt] then
    local r = op(run, "pow", {operand(run, a, "float64"), operand(run, b, "float64")})
    return cast(run, r, cdt)
  end
  return op(run, name, {operand(run, a, cdt), operand(run, b, cdt)})
end

local KEEPS_INTS = {neg = true, abs = true, relu = true, floor = true, ceil = true}

function O.unary(name, v)
  local run = current()
  if name == "logical_not" then return op(run, "not", {truth(run, v)}) end
  if floats[v._dt] then return op(run, name, {v._h}) end
  if KEEPS_INTS[name] then
    if v._dt == "bool" then
      if name == "neg" then
        diag.raise("hl.neg: neg: negating a bool tensor is not supported; use logical_not")
      end
      return v
    end
    if name == "floor" or name == "ceil" then return v end
    return op(run, name, {v._h})
  end
  return op(run, name, {cast(run, v, "float32")._h})
end

function O.where(c, a, b)
  local run = current()
  local shapes = {c._s}
  if is_value(a) then shapes[#shapes + 1] = a._s end
  if is_value(b) then shapes[#shapes + 1] = b._s end
  for i = 2, #shapes do
    if not broadcastable(run, shapes[1], shapes[i]) then
      mismatch(run, "hl.where", shapes[1], shapes[i])
    end
  end
  if #shapes == 3 and not broadcastable(run, shapes[2], shapes[3]) then
    mismatch(run, "hl.where", shapes[2], shapes[3])
  end
  local cdt = result_type({a, b})
  return op(run, "where", {c._h, operand(run, a, cdt), operand(run, b, cdt)})
end

function O.cast(v, dt) return cast(current(), v, dt) end

-- ---- reductions -----------------------------------------------------------------------------

function O.reduce(name, v, dim, keepdim)
  local run = current()
  local x, back = v, nil
  if name == "sum" and not floats[v._dt] then x = cast(run, v, "int64")
  elseif name == "mean" and not floats[v._dt] then x = cast(run, v, "float32")
  elseif (name == "amax" or name == "amin") and v._dt == "bool" then
    x, back = cast(run, v, "int8"), "bool"
  end
  local arg = name == "argmax" or name == "argmin"
  local r
  if dim then
    r = op(run, name, {x._h}, {dim = dim, keepdim = keepdim})
  elseif #x._s == 0 then
    if arg then return wrap(run, const(run, 1, "int64")) end
    r = x
  elseif arg and #x._s > 1 then
    diag.raise("hl." .. name .. " without a dim over a " .. #x._s .. "-D value is not supported "
      .. "by the compiler", {hint = "give the dim: v:" .. name .. "(d), or reshape to 1-D first"})
  else
    r = x
    for d = #x._s, 1, -1 do r = op(run, name, {r._h}, {dim = d, keepdim = keepdim}) end
  end
  if arg then return O.plus_one(run, r._h) end
  if back then return cast(run, r, back) end
  return r
end

function O.softmax(v, dim)
  local run = current()
  if not floats[v._dt] then v = cast(run, v, "float32") end
  return op(run, "softmax", {v._h}, {dim = dim})
end

-- ---- views -----------------------------------------------------------------------------------

local function view_error(run, what, v, shape, hint)
  local parts = {}
  for i, d in ipairs(shape) do
    parts[i] = Tile.is(d) and tostring(rawget(d, "_dim")) or tostring(d)
  end
  diag.raise("cannot " .. what .. " a value of shape " .. O.shape_str(run, v._s) .. " to ["
    .. table.concat(parts, ", ") .. "]", {hint = hint})
end

-- One element along dim d (1-based position i), the dim dropped: where(index == i - 1, v, 0)
-- summed over d (the IR has no select op; the sum adds only zeros to the picked element).
local function select(run, v, d, i)
  local n = v._s[d]
  local idx = op(run, "arange", {}, {start = 0, shape = {n}, dtype = "int64"})
  for _ = 1, d - 1 do idx = op(run, "unsqueeze", {idx._h}, {dim = 1}) end
  for _ = d + 1, #v._s do idx = op(run, "unsqueeze", {idx._h}, {dim = -1}) end
  local mask = op(run, "eq", {idx._h, const(run, i - 1, "int64")})
  local x = v._dt == "bool" and cast(run, v, "int8") or v
  local picked = op(run, "where", {mask._h, x._h, const(run, 0, x._dt)})
  local r = op(run, "sum", {picked._h}, {dim = d, keepdim = false})
  return cast(run, r, v._dt)
end

function O.view(kind, v, args)
  local run = current()
  if kind == "reshape" or kind == "expand" then
    local r, msg = try_op(run, kind, {v._h}, {shape = ir_dims(run, args)})
    if r then return r end
    if kind == "reshape" then
      view_error(run, "reshape", v, args, "the number of elements must stay the same (one size "
        .. "may be -1; block-size symbols must appear on both sides): " .. msg)
    end
    view_error(run, "expand", v, args, "expand only grows dims of size 1 (and adds dims on the "
      .. "left); -1 keeps a size: " .. msg)
  elseif kind == "permute" then
    return op(run, "permute", {v._h}, {perm = args})
  elseif kind == "transpose" then
    local perm = {}
    for i = 1, #v._s do perm[i] = i end
    perm[args[1]], perm[args[2]] = args[2], args[1]
    return op(run, "permute", {v._h}, {perm = perm})
  elseif kind == "unsqueeze" then
    return op(run, "unsqueeze", {v._h}, {dim = args[1]})
  elseif kind == "squeeze" then
    -- as eager: dims that are not (statically) 1 are left alone
    if args[1] ~= nil then
      if v._s[args[1]] ~= 1 then return v end
      return op(run, "squeeze", {v._h}, {dim = args[1]})
    end
    local r = v
    for d = #v._s, 1, -1 do
      if v._s[d] == 1 then r = op(run, "squeeze", {r._h}, {dim = d}) end
    end
    return r
  end
  error("internal: unknown view " .. tostring(kind))
end

function O.subscript(v, entries)
  local run = current()
  local r, d = v, 0
  for _, e in ipairs(entries) do
    if e.k == "full" then d = d + 1
    elseif e.k == "newaxis" then
      r = op(run, "unsqueeze", {r._h}, {dim = d + 1})
      d = d + 1
    else
      r = select(run, r, d + 1, e.v)
    end
  end
  return r
end

-- ---- dot -------------------------------------------------------------------------------------

local HALF = {float16 = true, bfloat16 = true}
local SMALL_INT = {int8 = true, uint8 = true, int16 = true, bool = true}

function O.dot(a, b, acc)
  local run = current()
  local sa, sb = a._s, b._s
  local n = #sa
  local function same(x, y) return (run.rext[x] or x) == (run.rext[y] or y) end
  local batch_ok = n == 2 or same(sa[1], sb[1])
  if not same(sa[n], sb[n - 1]) or not batch_ok then
    mismatch(run, "hl.dot", sa, sb, " (a's last dim must equal b's second-to-last)")
  end
  local da, db = a._dt, b._dt
  local out_dt
  if acc then out_dt = acc._dt
  elseif da == "float64" or db == "float64" then out_dt = "float64"
  elseif SMALL_INT[da] and SMALL_INT[db] then out_dt = "int32"
  elseif not (HALF[da] or da == "float32") and not (HALF[db] or db == "float32") then
    out_dt = "int64"
  else out_dt = "float32" end
  -- the IR's dot multiplies two operands of one float dtype (or int8)
  local idt
  if da == db and (floats[da] or da == "int8") then idt = da
  elseif floats[da] or floats[db] then
    idt = promote(da, db)
    if not floats[idt] then idt = "float32" end
  else idt = "float64" end
  local ha, hb = cast(run, a, idt)._h, cast(run, b, idt)._h
  if acc then
    local sacc = acc._s
    local want = {}
    for i = 1, n do want[i] = sa[i] end
    want[n] = sb[n]
    if #sacc ~= n or not broadcastable(run, sacc, want) then
      mismatch(run, "hl.dot (accumulator)", sacc, want, " (acc must have the shape of a @ b)")
    end
    if floats[idt] == (floats[acc._dt] or false) and acc._dt ~= "bool" then
      return op(run, "dot", {ha, hb, acc._h})
    end
    local r = op(run, "dot", {ha, hb})
    return cast(run, O.binary_in(run, "add", acc, r, promote(acc._dt, r._dt)), out_dt)
  end
  return cast(run, op(run, "dot", {ha, hb}), out_dt)
end

-- ---- creation --------------------------------------------------------------------------------

function O.full(run, shape, value, dt)
  if type(value) == "boolean" then value = value and 1 or 0 end
  return op(run, "full", {}, {dtype = dt, value = value, shape = ir_dims(run, shape)})
end

-- hl.arange(first, last, step): first, first + step, ... up to last (inclusive), int64.
function O.arange(run, first, last, step)
  local n = step > 0 and (last - first) // step + 1 or (first - last) // (-step) + 1
  if n < 0 then n = 0 end
  local dim = size_dim(run, n)
  if step == 1 then
    return op(run, "arange", {}, {start = first, shape = {dim}, dtype = "int64"})
  end
  local r = op(run, "arange", {}, {start = 0, shape = {dim}, dtype = "int64"})
  r = op(run, "mul", {r._h, const(run, step, "int64")})
  return op(run, "add", {r._h, const(run, first, "int64")})
end

-- ---- the value class --------------------------------------------------------------------------

-- A dim for v:size(d) / v:shape(): a number, or for a block-size dim the tile it came from (a
-- tile is what shapes take: hl.zeros({v:size(1)}) works as with a tile).
local function dim_value(run, d)
  if type(d) == "number" then return d end
  local e = run.rext[d]
  if e then return e end
  local t = run.dim_tiles[d]
  if t then return t end
  diag.raise("the size of a " .. d .. " dim is the config's block size, which is not known "
    .. "while tracing", {hint = "build shapes from tiles: hl.zeros({tm, tn})"})
end

V.field_names = {"dtype", "device"}
function V.fields(v, k)
  if k == "dtype" then return v._dt end
  if k == "device" then return "cpu" end
  return nil
end

V.methods = {
  size = function(v, d)
    local run = current()
    if d == nil then
      local out = {}
      for i, s in ipairs(v._s) do out[i] = dim_value(run, s) end
      return table.unpack(out)
    end
    local check = require "helua.check"
    return dim_value(run, v._s[check.norm_dim("size", d, #v._s)])
  end,
  shape = function(v)
    local run = current()
    local out = {}
    for i, s in ipairs(v._s) do out[i] = dim_value(run, s) end
    return out
  end,
  dim = function(v) return #v._s end,
  numel = function(v)
    local run, n = current(), 1
    for _, s in ipairs(v._s) do
      local d = type(s) == "number" and s or run.rext[s]
      if not d then
        diag.raise("the number of elements of a tile-shaped value depends on the config's block "
          .. "sizes, which are not known while tracing")
      end
      n = n * d
    end
    return n
  end,
}

V.__tostring = function(v)
  local parts = {}
  for i, s in ipairs(v._s) do parts[i] = tostring(s) end
  return string.format("traced value %%%d : %s[%s]", v._h, v._dt, table.concat(parts, ", "))
end

hl._install_value_class(V)

return O
