-- helua.language (hl): the kernel dialect's surface. Checks arguments, then dispatches each op to
-- the implementation of the running kernel (eager.lua now; a tracer later). Part of lua/helua.
--
-- The split: everything here is about *what the user wrote* (argument kinds, index counts, dims,
-- dtypes, host-vs-device placement), so both implementations raise the same errors. The
-- implementation gets normalized arguments: dims as positive 1-based integers, index lists as
-- entries {k = "tile"|"int"|"full"|"newaxis"|"gather", v = ...}, dtypes checked.
local active = require "helua.active"
local check = require "helua.check"
local diag = require "helua.diag"
local dtype = require "helua.dtype"
local Tile = require "helua.tile"

local hl = {}

for _, d in ipairs(dtype.names) do hl[d] = d end

-- hl.newaxis in an index list adds a size-1 dim (Python's None).
hl.newaxis = check.newaxis

-- The value ops (DESIGN §2); each exists as hl.f(v, ...) and as the method v:f(...).
hl.UNARY = {"exp", "exp2", "log", "log2", "sqrt", "rsqrt", "abs", "sin", "cos", "tanh", "sigmoid", "relu", "gelu",
            "silu", "floor", "ceil", "logical_not", "neg"}
hl.BINARY = {"add", "sub", "mul", "div", "pow", "mod", "floordiv", "maximum", "minimum",
             "lt", "le", "gt", "ge", "eq", "ne", "logical_and", "logical_or"}
hl.REDUCTIONS = {"sum", "mean", "amax", "amin", "argmax", "argmin"}
hl.VIEWS = {"reshape", "view", "permute", "transpose", "unsqueeze", "squeeze", "expand"}
hl.VALUE_METHODS = {"to", "softmax"}

local FRAGMENTS = {"PowerOfTwoFragment", "IntegerFragment", "EnumFragment", "BooleanFragment"}

-- ---- argument checks (check.lua) ---------------------------------------------------------

local running, device, host = check.running, check.device, check.host
local current_run = active.current
local kind, name_of, bad_arg = check.kind, check.name_of, check.bad_arg
local integer, value_arg, value_or_number = check.integer, check.value_arg, check.value_or_number
local norm_dim, check_opts, shape_arg = check.norm_dim, check.opts, check.shape
local is_tensor = check.is_tensor

-- ---- loops ---------------------------------------------------------------------------------

local function call_site()
  local f = diag.user_frame(2)
  return f and (f.source .. ":" .. f.line) or "?"
end
hl._call_site = call_site

-- Bounds of hl.tile / hl.grid: returns {{first=, last=}, ...} and the trailing options.
local function loop_dims(op, a, b, c, run)
  local dims, opts = {}, nil
  local symbolic = run.impl.loop_bound -- the tracer takes tile fields (begin, last) as bounds
  local function bound(v, pos)
    if symbolic and symbolic(v) then return v end
    return integer(op, pos, v, run)
  end
  if type(a) == "table" and not Tile.is(a) and not run.impl.is_value(a) then
    local n = #a
    if n == 0 then diag.raise(op .. ": the list of sizes is empty", {hint = "hl.tile({m, n})"}) end
    local ends = nil
    if type(b) == "table" and #b > 0 and not Tile.is(b) then ends, opts = b, c
    else opts = b end
    for i = 1, n do
      if ends then
        if #ends ~= n then
          diag.raise(op .. ": " .. n .. " begins but " .. #ends .. " ends", {
            hint = op .. "({b1, b2}, {e1, e2}) pairs each begin with an end (inclusive)",
          })
        end
        dims[i] = {first = bound(a[i], i), last = bound(ends[i], i)}
      else
        dims[i] = {first = 1, last = bound(a[i], i)}
      end
    end
  elseif type(b) == "number" or (b ~= nil and type(b) ~= "table") or Tile.is(b)
    or (symbolic and symbolic(b)) then
    dims[1] = {first = bound(a, 1), last = bound(b, 2)}
    opts = c
  else
    if a == nil then
      diag.raise(op .. " needs a size: " .. op .. "(n), " .. op .. "(a, b) or " .. op .. "({m, n})")
    end
    dims[1] = {first = 1, last = bound(a, 1)}
    opts = b
  end
  return dims, opts
end

-- for t in hl.tile(n) / hl.tile(a, b) (a..b inclusive) / hl.tile({m, n}) / ... {block_size = bs}
function hl.tile(a, b, c)
  local run = current_run() or running("hl.tile") -- (runs every cached call: one lookup)
  if run.skip_loops then return run.impl.tile(run) end -- a cached compiled call (trace_launch.lua)
  local dims, opts = loop_dims("hl.tile", a, b, c, run)
  opts = check_opts("hl.tile", opts, {"block_size"})
  local bs = opts.block_size
  if bs ~= nil then
    local symbolic = run.impl.block_size_arg -- a registered block size while tracing
    local list = type(bs) == "table" and not (symbolic and symbolic(bs)) and bs or nil
    for i, d in ipairs(dims) do
      local v
      if list then v = list[i] elseif #dims == 1 or type(bs) ~= "table" or symbolic then v = bs end
      if v ~= nil and symbolic and symbolic(v) then
        d.block_size = v -- a registered block size while tracing
      elseif v ~= nil then
        v = integer("hl.tile block_size", i, v, run)
        if v < 1 then
          diag.raise("hl.tile: block_size must be at least 1, got " .. v, {token = "block_size"})
        end
        d.block_size = v
      end
    end
  end
  return run.impl.tile(run, dims, call_site())
end

-- for i in hl.grid(n) / hl.grid(a, b [, step]) / hl.grid({m, n}): scalar 1-based indices.
function hl.grid(a, b, c)
  local run = current_run() or running("hl.grid")
  if run.skip_loops then return run.impl.grid(run) end
  local step
  if type(a) == "number" and type(b) == "number" and type(c) == "number" then
    step = integer("hl.grid", 3, c, run)
    if step == 0 then diag.raise("hl.grid: step must not be 0") end
    c = nil
  end
  local dims, opts = loop_dims("hl.grid", a, b, c, run)
  check_opts("hl.grid", opts, {})
  if step then dims[1].step = step end
  return run.impl.grid(run, dims, call_site())
end

-- ---- tunables and specialization (host code) -----------------------------------------------

-- hl.register_block_size(max) or (min, max): a block size from the config, usable in
-- hl.tile(n, {block_size = bs}) and shared by several loops. Returns a host integer in eager mode.
function hl.register_block_size(a, b)
  local run = host("hl.register_block_size")
  local lo, hi = 1, nil
  if b == nil then hi = integer("hl.register_block_size", 1, a, run)
  else lo, hi = integer("hl.register_block_size", 1, a, run), integer("hl.register_block_size", 2, b, run) end
  if lo < 1 or hi < lo then
    diag.raise("hl.register_block_size: need 1 <= min <= max, got min " .. lo .. ", max " .. hi)
  end
  return run.impl.register_block_size(run, lo, hi, call_site())
end

-- hl.register_tunable(name, fragment): the config's value for `name`, else fragment:default().
function hl.register_tunable(name, fragment)
  local run = host("hl.register_tunable")
  if type(name) ~= "string" or not name:match("^[%a_][%w_]*$") then
    diag.raise("hl.register_tunable: the name must be an identifier string, got " .. tostring(name))
  end
  if type(fragment) ~= "table" or type(fragment.default) ~= "function" then
    diag.raise("hl.register_tunable: '" .. name .. "' needs a fragment", {
      hint = "e.g. hl.register_tunable(\"" .. name .. "\", hl.PowerOfTwoFragment(1, 256, 8))",
    })
  end
  return run.impl.register_tunable(run, name, fragment)
end

-- hl.specialize(n): n as a compile-time constant (host integer in; the same integer back).
function hl.specialize(n)
  local run = host("hl.specialize")
  if type(n) ~= "number" then bad_arg("hl.specialize", 1, n, "a host number (a size)", run) end
  return run.impl.specialize(run, n)
end

-- ---- creation (device code) ----------------------------------------------------------------

-- hl.zeros(shape, [dtype]): shape entries are tiles (their length) or integers; dtype float32.
function hl.zeros(shape, dt)
  local run = device("hl.zeros")
  return run.impl.full(run, shape_arg("hl.zeros", shape, run), 0, dtype.check(dt or "float32", "hl.zeros dtype"))
end

-- hl.full(shape, value, [dtype])
function hl.full(shape, value, dt)
  local run = device("hl.full")
  if type(value) ~= "number" and type(value) ~= "boolean" then
    bad_arg("hl.full", 2, value, "a number", run)
  end
  return run.impl.full(run, shape_arg("hl.full", shape, run), value, dtype.check(dt or "float32", "hl.full dtype"))
end

-- hl.arange(n) -> 1..n, hl.arange(a, b [, step]) -> a..b inclusive (int64; Lua's `for` convention).
function hl.arange(a, b, step)
  local run = device("hl.arange")
  local first, last
  if b == nil then first, last = 1, integer("hl.arange", 1, a, run)
  else first, last = integer("hl.arange", 1, a, run), integer("hl.arange", 2, b, run) end
  step = step == nil and 1 or integer("hl.arange", 3, step, run)
  if step == 0 then diag.raise("hl.arange: step must not be 0") end
  return run.impl.arange(run, first, last, step)
end

-- ---- memory --------------------------------------------------------------------------------

-- Normalizes an index list for tensor `t` into entries (see the file's header).
local function index_entries(op, t, idx, run, for_store)
  local list
  if type(idx) == "table" and getmetatable(idx) == nil then list = idx
  else list = {idx} end
  local ndim = t:dim()
  local n = #list
  local consumed = 0
  for i = 1, n do
    if not rawequal(list[i], hl.newaxis) then consumed = consumed + 1 end
  end
  if consumed ~= ndim then
    local name = name_of(t)
    diag.raise("wrong number of indices: " .. (name and ("`" .. name .. "`") or "the tensor")
      .. " has " .. ndim .. " dim" .. (ndim == 1 and "" or "s") .. " but the index names "
      .. consumed, {
      token = name and (name .. "["),
      hint = "name every dim: \":\" takes a whole dim, e.g. " .. (name or "x") .. "[{"
        .. string.rep("t, ", math.max(ndim - 1, 0)) .. "\":\"}]; hl.newaxis adds a dim",
    })
  end
  local entries, dim = {}, 0
  for i = 1, n do
    local e = list[i]
    local k = kind(e, run)
    if k == "newaxis" then
      if for_store then
        diag.raise(op .. ": hl.newaxis cannot be used in a store index", {
          token = "newaxis", hint = "store the value without the extra dim (use v:squeeze(d))",
        })
      end
      entries[#entries + 1] = {k = "newaxis"}
    else
      dim = dim + 1
      if k == "tile" then entries[#entries + 1] = {k = "tile", v = e}
      elseif k == "string" then
        if e ~= ":" then
          diag.raise(op .. ": unknown index '" .. e .. "'", {
            token = e, hint = "use \":\" for a whole dim",
          })
        end
        entries[#entries + 1] = {k = "full"}
      elseif k == "number" then
        local iv = math.tointeger(e)
        if not iv then
          diag.raise(op .. ": index " .. tostring(e) .. " is not an integer", {
            hint = "indices are 1-based integers; use a tile, \":\" or an int value for more",
          })
        end
        local size = t:size(dim)
        if iv < 1 or iv > size then
          diag.raise("index " .. iv .. " is out of range for dim " .. dim .. " (size "
            .. size .. ")", {hint = "indices are 1-based: 1.." .. size})
        end
        entries[#entries + 1] = {k = "int", v = iv}
      elseif k == "value" then
        local vdt = run.impl.dtype(e)
        if not dtype.ints[vdt] then
          diag.raise(op .. ": an index value must hold integers, this one is " .. vdt, {
            hint = vdt == "bool" and "to mask, use hl.load(t, idx, {extra_mask = m}) or hl.where"
              or "convert it with v:to(hl.int64) (indices are 1-based)",
          })
        end
        if run.impl.ndim(e) > 1 then
          diag.raise(op .. ": an index value must be 0-D or 1-D, this one is "
            .. run.impl.ndim(e) .. "-D", {hint = "index each dim with its own 1-D value"})
        end
        entries[#entries + 1] = {k = "gather", v = e}
      else
        bad_arg(op, i, e, "an index (a tile, an integer, \":\", hl.newaxis or an int value)", run)
      end
    end
  end
  return entries
end
hl._index_entries = index_entries

local function tensor_arg(op, t, run)
  if is_tensor(t) then return t end
  local k = kind(t, run)
  local name = name_of(t)
  if k == "value" then
    diag.raise(op .. ": " .. (name and ("`" .. name .. "`") or "the target")
      .. " is a device value, not a tensor: device values cannot be stored into", {
      token = name,
      hint = "build the new value instead (" .. (name or "v") .. " = hl.where(mask, new, "
        .. (name or "v") .. ")), or store into a host tensor allocated before the loops",
    })
  end
  bad_arg(op, 1, t, "a host tensor", run)
end

local function mask_arg(op, m, run)
  if m == nil then return nil end
  if not run.impl.is_value(m) then bad_arg(op, "extra_mask", m, "a bool device value", run) end
  if run.impl.dtype(m) ~= "bool" then
    diag.raise(op .. ": extra_mask must be a bool value, this one is " .. run.impl.dtype(m), {
      token = "extra_mask", hint = "make one with a comparison, e.g. v:gt(0) or t.index:le(n)",
    })
  end
  return m
end

local EVICTION = {[""] = true, first = true, last = true}

-- hl.load(t, {idx...}, {extra_mask=, eviction_policy=}): like t[{idx...}], plus a mask.
function hl.load(t, idx, opts)
  local run = device("hl.load")
  t = tensor_arg("hl.load", t, run)
  opts = check_opts("hl.load", opts, {"extra_mask", "eviction_policy"})
  local ev = opts.eviction_policy
  if ev ~= nil and not EVICTION[ev] then
    diag.raise("hl.load: eviction_policy must be \"\", \"first\" or \"last\", got " .. tostring(ev))
  end
  local entries = index_entries("hl.load", t, idx, run, false)
  return run.impl.load(run, t, entries, mask_arg("hl.load", opts.extra_mask, run), ev)
end

-- hl.store(t, {idx...}, v, {extra_mask=}): like t[{idx...}] = v (cast to t's dtype, masked).
function hl.store(t, idx, v, opts)
  local run = device("hl.store")
  t = tensor_arg("hl.store", t, run)
  opts = check_opts("hl.store", opts, {"extra_mask"})
  local entries = index_entries("hl.store", t, idx, run, true)
  v = value_or_number("hl.store", 3, v, run)
  run.impl.store(run, t, entries, v, mask_arg("hl.store", opts.extra_mask, run))
end

-- hl.atomic_add(t, {idx...}, v [, {sem=}]): t[idx] += v atomically; returns the old values.
function hl.atomic_add(t, idx, v, opts)
  local run = device("hl.atomic_add")
  t = tensor_arg("hl.atomic_add", t, run)
  opts = check_opts("hl.atomic_add", opts, {"sem"})
  local entries = index_entries("hl.atomic_add", t, idx, run, true)
  v = value_or_number("hl.atomic_add", 3, v, run)
  return run.impl.atomic_add(run, t, entries, v)
end

-- t[key] inside device loops (tensor.lua routes here): a load.
function hl._index_load(t, key)
  local run = device("indexing")
  return run.impl.load(run, t, index_entries("indexing", t, key, run, false), nil)
end

-- t[key] = v inside device loops: a store.
function hl._index_store(t, key, v)
  local run = device("a store")
  local entries = index_entries("a store", t, key, run, true)
  v = value_or_number("a store", 3, v, run)
  run.impl.store(run, t, entries, v, nil)
end

-- ---- value ops -----------------------------------------------------------------------------

local function value_run(op)
  local run = active.current()
  if not run then running(op) end
  return run
end

for _, name in ipairs(hl.UNARY) do
  local op = "hl." .. name
  hl[name] = function(v)
    local run = value_run(op)
    return run.impl.unary(name, value_arg(op, 1, v, run))
  end
end

local function binary(name, a, b)
  local run = value_run("hl." .. name)
  local impl = run.impl
  if not impl.is_value(a) then
    if not impl.is_value(b) then
      value_or_number("hl." .. name, 1, a, run)
      bad_arg("hl." .. name, 2, b, "a device value", run)
    end
    value_or_number("hl." .. name, 1, a, run)
  elseif not impl.is_value(b) then
    value_or_number("hl." .. name, 2, b, run)
  end
  return impl.binary(name, a, b)
end
hl._binary = binary

for _, name in ipairs(hl.BINARY) do
  hl[name] = function(a, b) return binary(name, a, b) end
end

-- hl.where(cond, a, b): a where cond is true, else b; a and b may be numbers.
function hl.where(c, a, b)
  local run = value_run("hl.where")
  value_arg("hl.where", 1, c, run)
  if run.impl.dtype(c) ~= "bool" then
    diag.raise("hl.where: the condition must be a bool value, this one is " .. run.impl.dtype(c), {
      hint = "make one with a comparison, e.g. v:gt(0)",
    })
  end
  return run.impl.where(c, value_or_number("hl.where", 2, a, run), value_or_number("hl.where", 3, b, run))
end

function hl.to(v, dt)
  local run = value_run("hl.to")
  return run.impl.cast(value_arg("hl.to", 1, v, run), dtype.check(dt, "dtype in to()"))
end

for _, name in ipairs(hl.REDUCTIONS) do
  local op = "hl." .. name
  hl[name] = function(v, dim, keepdim)
    local run = value_run(op)
    v = value_arg(op, 1, v, run)
    if dim ~= nil then dim = norm_dim(op, dim, run.impl.ndim(v)) end
    if keepdim ~= nil and type(keepdim) ~= "boolean" then
      diag.raise(op .. ": keepdim must be true or false, got " .. kind(keepdim, run))
    end
    return run.impl.reduce(name, v, dim, keepdim == true)
  end
end

-- hl.softmax(v [, dim]): dim defaults to the last.
function hl.softmax(v, dim)
  local run = value_run("hl.softmax")
  v = value_arg("hl.softmax", 1, v, run)
  return run.impl.softmax(v, norm_dim("hl.softmax", dim or -1, run.impl.ndim(v)))
end

local function list_args(first, ...)
  if type(first) == "table" and getmetatable(first) == nil then return first end
  return {first, ...}
end

-- Views: reshape/view/expand(v, shape), permute(v, dims), transpose(v, d1, d2),
-- unsqueeze(v, d), squeeze(v [, d]). Shapes may hold tiles (their length); -1 infers one size
-- (reshape/view) or keeps a size (expand).
function hl.reshape(v, ...)
  local run = value_run("hl.reshape")
  v = value_arg("hl.reshape", 1, v, run)
  return run.impl.view("reshape", v, shape_arg("hl.reshape", list_args(...), run, true))
end

function hl.view(v, ...)
  local run = value_run("hl.view")
  v = value_arg("hl.view", 1, v, run)
  return run.impl.view("reshape", v, shape_arg("hl.view", list_args(...), run, true))
end

function hl.expand(v, ...)
  local run = value_run("hl.expand")
  v = value_arg("hl.expand", 1, v, run)
  return run.impl.view("expand", v, shape_arg("hl.expand", list_args(...), run, true))
end

function hl.permute(v, ...)
  local run = value_run("hl.permute")
  v = value_arg("hl.permute", 1, v, run)
  local dims = list_args(...)
  local nd = run.impl.ndim(v)
  if #dims ~= nd then
    diag.raise("hl.permute: a " .. nd .. "-D value needs " .. nd .. " dims, got " .. #dims)
  end
  local seen, out = {}, {}
  for i, d in ipairs(dims) do
    out[i] = norm_dim("hl.permute", d, nd)
    if seen[out[i]] then diag.raise("hl.permute: dim " .. out[i] .. " appears twice") end
    seen[out[i]] = true
  end
  return run.impl.view("permute", v, out)
end

function hl.transpose(v, d1, d2)
  local run = value_run("hl.transpose")
  v = value_arg("hl.transpose", 1, v, run)
  local nd = run.impl.ndim(v)
  return run.impl.view("transpose", v, {norm_dim("hl.transpose", d1 or -2, nd),
                                        norm_dim("hl.transpose", d2 or -1, nd)})
end

function hl.unsqueeze(v, d)
  local run = value_run("hl.unsqueeze")
  v = value_arg("hl.unsqueeze", 1, v, run)
  return run.impl.view("unsqueeze", v, {norm_dim("hl.unsqueeze", d, run.impl.ndim(v), 1)})
end

function hl.squeeze(v, d)
  local run = value_run("hl.squeeze")
  v = value_arg("hl.squeeze", 1, v, run)
  if d == nil then return run.impl.view("squeeze", v, {}) end
  return run.impl.view("squeeze", v, {norm_dim("hl.squeeze", d, run.impl.ndim(v))})
end

-- v[{":", hl.newaxis}]: view-style subscripts of a device value (":" keeps a dim, hl.newaxis
-- adds one, an integer picks one element along a dim and drops it).
function hl.subscript(v, idx)
  local run = value_run("hl.subscript")
  v = value_arg("hl.subscript", 1, v, run)
  local list = (type(idx) == "table" and getmetatable(idx) == nil) and idx or {idx}
  local nd = run.impl.ndim(v)
  local entries, consumed = {}, 0
  for i = 1, #list do
    local e = list[i]
    local k = kind(e, run)
    if k == "newaxis" then entries[i] = {k = "newaxis"}
    elseif e == ":" then consumed = consumed + 1; entries[i] = {k = "full"}
    elseif k == "number" and math.tointeger(e) then
      consumed = consumed + 1
      local size = consumed <= nd and run.impl.shape(v)[consumed] or 0
      if e < 1 or e > size then
        diag.raise("index " .. e .. " is out of range for dim " .. consumed .. " (size " .. size .. ")")
      end
      entries[i] = {k = "int", v = math.tointeger(e)}
    else
      diag.raise("a device value takes only view-style subscripts (\":\", hl.newaxis, integers)", {
        hint = k == "tile" and "the value is already a tile of data; index the host tensor with "
          .. "the tile instead" or "use hl.where / reductions to pick values",
      })
    end
  end
  if consumed ~= nd then
    local name = name_of(v)
    diag.raise("wrong number of indices: " .. (name and ("`" .. name .. "`") or "the value")
      .. " has " .. nd .. " dims but the subscript names " .. consumed, {
      token = name and (name .. "["),
      hint = "name every dim with \":\" and add dims with hl.newaxis, e.g. v[{\":\", hl.newaxis}]",
    })
  end
  return run.impl.subscript(v, entries)
end

-- hl.dot(a, b [, acc]): a @ b (2-D, or 3-D batched), plus acc. float16/bfloat16 inputs multiply
-- in float32. Result dtype: acc's; else float32 for float inputs up to 32 bits (float64 stays).
function hl.dot(a, b, acc)
  local run = value_run("hl.dot")
  a = value_arg("hl.dot", 1, a, run)
  b = value_arg("hl.dot", 2, b, run)
  if acc ~= nil then acc = value_arg("hl.dot", 3, acc, run) end
  local na, nb = run.impl.ndim(a), run.impl.ndim(b)
  if na < 2 or na > 3 or nb ~= na then
    diag.raise("hl.dot: needs two 2-D (or two 3-D batched) values, got " .. na .. "-D and "
      .. nb .. "-D", {hint = "reshape with v:unsqueeze(d) / v:reshape({...}) first"})
  end
  return run.impl.dot(a, b, acc)
end

-- hl.addmm(acc, a, b) = hl.dot(a, b, acc)
function hl.addmm(acc, a, b)
  local run = value_run("hl.addmm")
  value_arg("hl.addmm", 1, acc, run)
  return hl.dot(a, b, acc)
end

-- ---- the value class ----------------------------------------------------------------------

local function not_boolean(sym)
  return function(a, b)
    local run = active.current()
    local v = (run and run.impl.is_value(a)) and a or b
    local name = name_of(v)
    local fname = ({["<"] = "lt", ["<="] = "le", ["=="] = "eq"})[sym]
    diag.raise("`" .. sym .. "` cannot compare device values: Lua needs a single true/false, "
      .. "a device value holds one per element", {
      token = sym,
      hint = "use " .. (name or "v") .. ":" .. fname .. "(x) (or hl." .. fname
        .. ") for a bool value, and hl.where(cond, a, b) to select by it",
    })
  end
end

-- Installs the surface onto an implementation's value metatable `mt`: every value op as a
-- method, the operators, and the misuse errors. The implementation provides mt.fields(v, k)
-- (returning nil for an unknown field) and mt.methods (its own extra methods: size, shape...).
function hl._install_value_class(mt)
  local methods = {}
  for _, group in ipairs({hl.UNARY, hl.BINARY, hl.REDUCTIONS, hl.VIEWS, hl.VALUE_METHODS}) do
    for _, name in ipairs(group) do methods[name] = hl[name] end
  end
  for k, f in pairs(mt.methods or {}) do methods[k] = f end
  local fields = mt.fields
  local known = {}
  for k in pairs(methods) do known[#known + 1] = k end
  for _, k in ipairs(mt.field_names or {}) do known[#known + 1] = k end
  table.sort(known)

  mt.__index = function(v, k)
    local m = methods[k]
    if m then return m end
    if type(k) == "string" then
      local f = fields and fields(v, k)
      if f ~= nil then return f end
      local dym = diag.did_you_mean(k, known)
      diag.raise("a device value has no field or method '" .. k .. "'", {
        token = k, hint = dym or ("methods: " .. table.concat(known, ", ")),
      })
    end
    return hl.subscript(v, k)
  end
  mt.__newindex = function(v, k)
    local name = name_of(v)
    local what = type(k) == "string" and ("field '" .. k .. "'") or "an index"
    diag.raise("cannot store into " .. (name and ("`" .. name .. "`") or "a device value")
      .. " (" .. what .. "): a device value is not a tensor", {
      token = name,
      hint = "build a new value instead (e.g. " .. (name or "v") .. " = hl.where(mask, new, "
        .. (name or "v") .. ")), or store into a host tensor allocated before the loops",
    })
  end
  local ops = {__add = "add", __sub = "sub", __mul = "mul", __div = "div", __mod = "mod",
               __pow = "pow", __idiv = "floordiv"}
  for mm, name in pairs(ops) do
    mt[mm] = function(a, b) return binary(name, a, b) end
  end
  mt.__unm = function(a) return hl.neg(a) end
  mt.__lt = not_boolean("<")
  mt.__le = not_boolean("<=")
  mt.__eq = not_boolean("==")
  mt.__concat = function(a, b)
    local run = active.current()
    local v = (run and run.impl.is_value(a)) and a or b
    diag.raise("a device value is not a string (`..`)", {
      token = "..", hint = "print it with print(" .. (name_of(v) or "v") .. ") or tostring(v)",
    })
  end
  mt.__len = function(v)
    diag.raise("`#` of a device value is not defined", {
      token = "#", hint = "use v:size(1) for the size of its first dim",
    })
  end
  mt.__call = function(v)
    diag.raise("a device value is not a function", {token = name_of(v)})
  end
  return mt
end

-- ---- unknown names ------------------------------------------------------------------------

local config_mod
local function config_module()
  if config_mod == nil then
    local ok, m = pcall(require, "helua.config")
    config_mod = ok and m or false
  end
  return config_mod
end

setmetatable(hl, {
  __index = function(_, k)
    for _, f in ipairs(FRAGMENTS) do
      if k == f then
        local C = config_module()
        if C and C[k] then return C[k] end
        diag.raise("hl." .. k .. " needs helua.config, which is not available")
      end
    end
    local names = {}
    for name in pairs(hl) do
      if type(name) == "string" and name:sub(1, 1) ~= "_" and name:upper() ~= name then
        names[#names + 1] = name
      end
    end
    for _, f in ipairs(FRAGMENTS) do names[#names + 1] = f end
    table.sort(names)
    local dym = diag.did_you_mean(tostring(k), names)
    diag.raise("helua.language has no '" .. tostring(k) .. "'", {
      token = tostring(k), hint = dym or "see share/doc/dialect.md for the ops",
    })
  end,
})

return hl
