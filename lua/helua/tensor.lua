-- Host tensors on the Lua side: creation with checked options, t[{i, j}] indexing (host code) and
-- tile loads/stores (device code), t:to/cpu/cuda, and the reference ops. Part of lua/helua.
--
-- The C binding (src/bind/bind_tensor.c) gives the "helua.Tensor" userdata; this file wraps its
-- metatable's __index/__newindex in Lua, so that table keys index and unknown names get a
-- did-you-mean. tensor.C keeps the C methods by name for the eager implementation.
local core = require "helua.core"
local active = require "helua.active"
local check = require "helua.check"
local diag = require "helua.diag"
local dtype = require "helua.dtype"
local hl = require "helua.language"
local Tile = require "helua.tile"

local T = {}

-- The C methods (a snapshot: Lua methods added later never shadow them here).
local C = {}
for k, v in pairs(core.Tensor) do C[k] = v end
T.C = C

local is_tensor = core.is_tensor
T.is_tensor = is_tensor

local mt = getmetatable(core.empty({0}, "float32"))
T.metatable = mt

-- ---- errors --------------------------------------------------------------------------------

local function clean(msg) return (tostring(msg):gsub("^[^\n]-:%d+: ", "", 1)) end

-- Calls a C function; its error becomes a diagnostic at the user's line: "op: message".
local function host_call(op, f, ...)
  local ok, r = pcall(f, ...)
  if not ok then
    if diag.is_error(r) then error(r, 0) end
    diag.raise(op .. ": " .. clean(r))
  end
  return r
end
T.host_call = host_call

-- The GPU: core.cuda_available() loads the CUDA driver on its first call (nothing loads before)
-- and gives the reason when it cannot be used.
local function cuda_unavailable(reason)
  diag.raise("cuda: unavailable (" .. tostring(reason) .. ")", {
    token = "cuda",
    hint = "use device = \"cpu\" (the default) and a kernel backend of \"auto\" or \"cpu\": kernels then run on the CPU",
  })
end
T.cuda_unavailable = cuda_unavailable

-- Raises "cuda: unavailable (reason)" unless the GPU can be used.
local function need_cuda()
  local ok, why = core.cuda_available()
  if not ok then cuda_unavailable(why) end
end
T.need_cuda = need_cuda

-- Host allocations and reference ops are host code: not inside device loops.
local function host_only(op)
  if active.in_device() then
    diag.raise(op .. " is host code: it cannot run inside hl.tile / hl.grid loops", {
      token = op:match("[%w_]+$"),
      hint = "allocate and compute whole tensors before the loops; inside them use hl.zeros, "
        .. "hl.full and the value ops",
    })
  end
end
T.host_only = host_only

-- ---- options and shapes --------------------------------------------------------------------

-- A device name as "cpu" or "cuda" ("cuda:0" is "cuda"); raises for unknown or unusable ones.
local function check_device(dev)
  if dev == nil or dev == "cpu" then return "cpu" end
  if dev == "cuda" or dev == "cuda:0" then
    need_cuda()
    return "cuda"
  end
  if type(dev) == "string" and dev:match("^cuda:%d+$") then
    need_cuda()
    diag.raise("device '" .. dev .. "': only cuda:0 is supported for now", {
      token = dev, hint = "use device = \"cuda\"",
    })
  end
  diag.raise("unknown device '" .. tostring(dev) .. "'", {
    token = tostring(dev), hint = "devices: \"cpu\", \"cuda\"",
  })
end
T.check_device = check_device

local option_sets = setmetatable({}, {__mode = "k"}) -- allowed list -> {name = true}

-- Checks opts against the allowed keys; returns dtype (or default), seed, device (or default,
-- else "cpu").
local function parse_opts(op, opts, allowed, default_dtype, default_device)
  if opts == nil then return default_dtype, nil, default_device or "cpu" end
  if type(opts) ~= "table" or getmetatable(opts) ~= nil then
    diag.raise(op .. ": options must be a table like {dtype = helua.float32}, got "
      .. (is_tensor(opts) and "a tensor" or type(opts)))
  end
  local set = option_sets[allowed] -- (a set, not a scan of the list: this runs every kernel call)
  if not set then
    set = {}
    for _, a in ipairs(allowed) do set[a] = true end
    option_sets[allowed] = set
  end
  for k in next, opts do
    if not set[k] then
      local dym = diag.did_you_mean(tostring(k), allowed)
      diag.raise(op .. ": unknown option '" .. tostring(k) .. "'", {
        token = tostring(k), hint = (dym and dym .. " " or "") .. "options: " .. table.concat(allowed, ", "),
      })
    end
  end
  local dev = opts.device == nil and (default_device or "cpu") or check_device(opts.device)
  local dt = opts.dtype
  if dt ~= nil then dt = dtype.check(dt) else dt = default_dtype end
  local seed = opts.seed
  if seed ~= nil and math.type(seed) ~= "integer" then
    diag.raise(op .. ": seed must be an integer, got " .. tostring(seed), {token = "seed"})
  end
  return dt, seed, dev
end

local function not_a_size(op, v, i)
  local name = diag.local_name(v)
  if Tile.is(v) then
    diag.raise(op .. ": " .. (name and ("`" .. name .. "` is a tile") or "a tile")
      .. ", not a number: it cannot be a size", {
      token = name,
      hint = "allocate host tensors with whole sizes (e.g. x:size(1)) before the loops; inside "
        .. "them use hl.zeros({" .. (name or "t") .. "}, dtype) for a tile-shaped value",
    })
  end
  diag.raise(op .. ": size " .. i .. " must be a non-negative integer, got "
    .. (check.kind(v) == "value" and "a device value" or tostring(v)))
end

-- A shape from a table of sizes or leading integers: (shape_table, rest...) or (n1, n2, ..., rest).
local function parse_shape(op, first, ...)
  if type(first) == "table" and getmetatable(first) == nil then
    local shape = {}
    for i = 1, #first do
      local n = math.tointeger(first[i])
      if not n or n < 0 then not_a_size(op, first[i], i) end
      shape[i] = n
    end
    return shape, ...
  end
  local args = table.pack(first, ...)
  local shape, i = {}, 1
  while i <= args.n and type(args[i]) == "number" do
    local n = math.tointeger(args[i])
    if not n or n < 0 then not_a_size(op, args[i], i) end
    shape[i] = n
    i = i + 1
  end
  if i == 1 then
    if first == nil then diag.raise(op .. " needs a shape, e.g. " .. op .. "({m, n})") end
    not_a_size(op, first, 1)
  end
  return shape, table.unpack(args, i, args.n)
end

local seed_counter = 0

local function next_seed(seed)
  if seed ~= nil then return seed end
  local s = seed_counter
  seed_counter = seed_counter + 1
  return s
end

-- helua.manual_seed(s): the seed the next rand/randn without {seed=} uses (then s+1, ...).
function T.manual_seed(s)
  if math.type(s) ~= "integer" then diag.raise("manual_seed needs an integer, got " .. tostring(s)) end
  seed_counter = s
end

-- ---- creation ------------------------------------------------------------------------------

local CREATE_OPTS = {"dtype", "device"}
local RANDOM_OPTS = {"dtype", "device", "seed"}

-- A new tensor on the GPU, filled with `fill` (a memset) unless it is nil.
local function device_new(op, shape, dt, fill)
  local t = host_call(op, core.cuda_empty, shape, dt)
  if fill ~= nil then host_call(op, C.fill_, t, fill) end
  return t
end

-- t moved to dev ("cpu" or "cuda"); t itself when it is there.
local function placed(op, t, dev)
  if t.device == dev then return t end
  return host_call(op, core.to_device, t, dev)
end

-- helua.empty first tries core.fast_empty (C: plain shapes and options, nothing else), the
-- output allocation of every kernel call's host code; anything else takes the checked path.
local fast_empty, runs = core.fast_empty, active.stack

local function creator(name, fn, fill)
  local op = "helua." .. name
  local fast = fill == nil and fn == core.empty and fast_empty
  return function(...)
    local run = runs[#runs]
    if fast and not (run and run.depth > 0) then -- (not active.in_device(), inline)
      local t = fast(...)
      if t then return t end
    end
    local shape, opts = parse_shape(op, ...)
    host_only(op)
    local dt, _, dev = parse_opts(op, opts, CREATE_OPTS, "float32")
    if dev == "cuda" then return device_new(op, shape, dt, fill) end
    return host_call(op, fn, shape, dt)
  end
end

T.empty = creator("empty", core.empty)
T.zeros = creator("zeros", core.zeros, 0)
T.ones = creator("ones", core.ones, 1)

function T.full(shape, value, opts)
  local s = parse_shape("helua.full", shape)
  host_only("helua.full")
  if type(value) ~= "number" and type(value) ~= "boolean" then
    diag.raise("helua.full: the fill value must be a number or boolean, got " .. type(value))
  end
  local default = type(value) == "boolean" and "bool" or "float32"
  local dt, _, dev = parse_opts("helua.full", opts, CREATE_OPTS, default)
  if dev == "cuda" then return device_new("helua.full", s, dt, value) end
  return host_call("helua.full", core.full, s, value, dt)
end

local function random(name, fn)
  local op = "helua." .. name
  return function(...)
    local shape, opts = parse_shape(op, ...)
    host_only(op)
    local dt, seed, dev = parse_opts(op, opts, RANDOM_OPTS, "float32")
    if not dtype.floats[dt] then
      diag.raise(op .. ": needs a float dtype, got " .. dt, {hint = "e.g. {dtype = helua.float16}"})
    end
    -- generated on the host (bit-identical everywhere), then copied over
    return placed(op, host_call(op, fn, shape, dt, next_seed(seed)), dev)
  end
end

T.rand = random("rand", core.rand)
T.randn = random("randn", core.randn)

-- helua.arange(n) -> 1..n; helua.arange(a, b [, step]) -> a..b inclusive (Lua's `for`).
-- int64 when all bounds are integers, else float32; opts {dtype=, device=} last.
function T.arange(a, b, c, d)
  host_only("helua.arange")
  local args, opts = {a, b, c, d}, nil
  local nums = {}
  for i = 1, 4 do
    local v = args[i]
    if type(v) == "number" then nums[#nums + 1] = v
    elseif v ~= nil then opts = v break
    else break end
  end
  if #nums == 0 or #nums > 3 then
    diag.raise("helua.arange takes (n), (first, last) or (first, last, step), plus options")
  end
  local first, last, step = 1, nums[1], 1
  if #nums >= 2 then first, last = nums[1], nums[2] end
  if #nums == 3 then step = nums[3] end
  if step == 0 then diag.raise("helua.arange: step must not be 0") end
  local all_int = math.type(first) == "integer" and math.type(last) == "integer"
    and math.type(step) == "integer"
  local dt, _, dev = parse_opts("helua.arange", opts, CREATE_OPTS, all_int and "int64" or "float32")
  return placed("helua.arange", host_call("helua.arange", core.arange, first, last, step, dt), dev)
end

local function nested_kind(v, state)
  if type(v) == "table" then
    for i = 1, #v do nested_kind(v[i], state) end
  elseif math.type(v) == "float" then state.float = true
  elseif math.type(v) == "integer" then state.int = true
  elseif type(v) == "boolean" then state.bool = true
  else state.bad = state.bad or v end
end

-- helua.tensor(nested [, opts]): int64 for integers only, bool for booleans only, else float32.
function T.tensor(nested, opts)
  host_only("helua.tensor")
  if is_tensor(nested) then return C.clone(nested) end
  local st = {}
  nested_kind(nested, st)
  if st.bad ~= nil then
    if Tile.is(st.bad) then not_a_size("helua.tensor", st.bad, 1) end
    diag.raise("helua.tensor: elements must be numbers or booleans, got " .. type(st.bad))
  end
  local default = (st.float and "float32") or (st.int and "int64") or (st.bool and "bool") or "float32"
  local dt, _, dev = parse_opts("helua.tensor", opts, CREATE_OPTS, default)
  return placed("helua.tensor", host_call("helua.tensor", core.tensor, nested, dt), dev)
end

-- The *_like functions keep t's dtype and device unless opts say otherwise.
local function like(name, fn, fill)
  local op = "helua." .. name
  return function(t, opts)
    host_only(op)
    if not is_tensor(t) then diag.raise(op .. " needs a tensor, got " .. check.kind(t)) end
    local dt, _, dev = parse_opts(op, opts, CREATE_OPTS, t.dtype, t.device)
    if dev == "cuda" then return device_new(op, {C.size(t)}, dt, fill) end
    return host_call(op, fn, {C.size(t)}, dt)
  end
end

T.empty_like = like("empty_like", core.empty)
T.zeros_like = like("zeros_like", core.zeros, 0)
T.ones_like = like("ones_like", core.ones, 1)

function T.full_like(t, value, opts)
  host_only("helua.full_like")
  if not is_tensor(t) then diag.raise("helua.full_like needs a tensor, got " .. check.kind(t)) end
  local dt, _, dev = parse_opts("helua.full_like", opts, CREATE_OPTS, t.dtype, t.device)
  if dev == "cuda" then return device_new("helua.full_like", {C.size(t)}, dt, value) end
  return host_call("helua.full_like", core.full, {C.size(t)}, value, dt)
end

-- ---- host indexing -------------------------------------------------------------------------

local function out_of_range(i, dim, size, t)
  local name = diag.local_name(t)
  diag.raise("index " .. tostring(i) .. " is out of range for dim " .. dim .. " (size " .. size .. ")", {
    token = name and (name .. "["),
    hint = size > 0 and ("indices are 1-based: 1.." .. size .. " (or -1..-" .. size .. " from the end)")
      or "the dim is empty",
  })
end

local function norm_index(i, dim, size, t)
  local n = math.tointeger(i)
  if not n then
    diag.raise("index " .. tostring(i) .. " is not an integer", {
      hint = "host indices: integers (1-based), \":\", {first, last[, step]} ranges, hl.newaxis",
    })
  end
  if n < 0 then n = size + n + 1 end
  if n < 1 or n > size then out_of_range(i, dim, size, t) end
  return n
end

local function not_host_index(t, e)
  local k = check.kind(e)
  if k == "tile" or k == "value" then
    diag.raise("a " .. (k == "tile" and "tile" or "device value")
      .. " can index a tensor only inside hl.tile / hl.grid loops", {
      hint = "this code runs as host code (outside the device loops)",
    })
  end
  diag.raise("cannot index a tensor with " .. (type(e) == "string" and ("'" .. e .. "'") or k), {
    hint = "host indices: integers (1-based), \":\", {first, last[, step]} ranges, hl.newaxis",
  })
end

-- host t[key]: an element (all integers, one per dim) or a view. Returns idx_list, view.
local function host_select(t, key)
  local list = (type(key) == "table" and getmetatable(key) == nil) and key or {key}
  local nd = C.dim(t)
  local n, consumed, all_int = #list, 0, true
  for i = 1, n do
    local e = list[i]
    if rawequal(e, check.newaxis) then all_int = false
    else
      consumed = consumed + 1
      if math.type(e) ~= "integer" then all_int = false end
    end
  end
  if consumed > nd then
    local name = diag.local_name(t)
    diag.raise("too many indices: " .. (name and ("`" .. name .. "`") or "the tensor") .. " has "
      .. nd .. " dim" .. (nd == 1 and "" or "s") .. " but the index names " .. consumed, {
      token = name and (name .. "["),
      hint = "give at most one index per dim (missing trailing dims are taken whole)",
    })
  end
  if all_int and consumed == nd then
    local idx = {}
    for i = 1, n do idx[i] = norm_index(list[i], i, C.size(t, i), t) end
    return idx, nil
  end
  local v, d = t, 0
  for i = 1, n do
    local e = list[i]
    if e == ":" then d = d + 1
    elseif rawequal(e, check.newaxis) then
      v = C.unsqueeze(v, d + 1)
      d = d + 1
    elseif type(e) == "number" then
      local j = norm_index(e, d + 1, C.size(v, d + 1), t)
      v = C.squeeze(C.narrow(v, d + 1, j, 1), d + 1)
    elseif type(e) == "table" and getmetatable(e) == nil then
      local size = C.size(v, d + 1)
      local a = e[1] == nil and 1 or norm_index(e[1], d + 1, size, t)
      local b = e[2] == nil and size or norm_index(e[2], d + 1, size, t)
      local step = e[3] or 1
      if math.type(step) ~= "integer" or step < 1 then
        diag.raise("a range step must be a positive integer, got " .. tostring(step))
      end
      if b < a then b = a - 1 end
      v = C.slice(v, d + 1, a, b, step)
      d = d + 1
    else
      not_host_index(t, e)
    end
  end
  return nil, v
end

function T.host_get(t, key)
  local idx, view = host_select(t, key)
  if idx then return C.get(t, table.unpack(idx)) end
  return view
end

function T.host_set(t, key, v)
  local idx, view = host_select(t, key)
  if idx then
    if is_tensor(v) then
      if C.numel(v) ~= 1 then
        diag.raise("cannot store a tensor of shape [" .. table.concat({C.size(v)}, ", ")
          .. "] into one element")
      end
      v = C.item(v)
    end
    if type(v) ~= "number" and type(v) ~= "boolean" then
      diag.raise("an element can hold a number or boolean, got " .. check.kind(v))
    end
    C.set(t, idx, v)
    return
  end
  if type(v) == "number" or type(v) == "boolean" then
    C.fill_(view, v)
  elseif is_tensor(v) then
    local ok, err = pcall(C.copy_, view, v)
    if not ok then
      diag.raise("mismatched shapes in a store: the value is [" .. table.concat({C.size(v)}, ", ")
        .. "] but the indexed region is [" .. table.concat({C.size(view)}, ", ") .. "]", {
        hint = "the value must broadcast to the region (" .. clean(err) .. ")",
      })
    end
  else
    diag.raise("cannot store " .. check.kind(v) .. " into a host tensor", {
      hint = check.kind(v) == "value" and "device values are stored inside device loops" or nil,
    })
  end
end

-- ---- the metatable -------------------------------------------------------------------------

local lua_methods = {}
T.methods = lua_methods

-- t:cpu() / t:cuda(): the tensor itself when it is there already, else a contiguous copy.
function lua_methods.cpu(t) return placed("t:cpu", t, "cpu") end
function lua_methods.cuda(t)
  need_cuda()
  return placed("t:cuda", t, "cuda")
end

-- t:to(dtype | "cpu" | "cuda" | {dtype=, device=}); a cast runs on the host side of a move.
function lua_methods.to(t, what)
  if type(what) == "table" and getmetatable(what) == nil then
    local dt, _, dev = parse_opts("t:to", what, CREATE_OPTS, t.dtype, t.device)
    local r = dev == "cpu" and placed("t:to", t, "cpu") or t
    if dt ~= r.dtype then r = host_call("t:to", C.to, r, dt) end
    return placed("t:to", r, dev)
  end
  if what == "cpu" then return lua_methods.cpu(t) end
  if what == "cuda" or what == "cuda:0" then return lua_methods.cuda(t) end
  local dt = dtype.check(what, "dtype in t:to()")
  if dt == t.dtype then return t end
  return host_call("t:to", C.to, t, dt)
end

local KNOWN = {"dtype", "device"}
for k in pairs(C) do KNOWN[#KNOWN + 1] = k end
for k in pairs(lua_methods) do KNOWN[#KNOWN + 1] = k end
table.sort(KNOWN)

local c_index = mt.__index

-- (core.tensor_index answers method names, dtype and device in C before calling this: t:size()
-- and friends run in every kernel call's host code.)
local function lua_index(t, k)
  local m = lua_methods[k]
  if m ~= nil then return m end
  m = C[k]
  if m ~= nil then return m end
  if type(k) == "string" then
    local v = c_index(t, k)
    if v == nil then
      local dym = diag.did_you_mean(k, KNOWN)
      diag.raise("a tensor has no field or method '" .. k .. "'", {
        token = k, hint = dym or "see share/doc/dialect.md for the host tensor API",
      })
    end
    return v
  end
  if active.in_device() then return hl._index_load(t, k) end
  return T.host_get(t, k)
end
mt.__index = core.tensor_index and core.tensor_index(lua_methods, C, lua_index) or lua_index

mt.__newindex = function(t, k, v)
  if type(k) == "string" then
    diag.raise("cannot set field '" .. k .. "' of a tensor", {
      token = k, hint = "store elements with t[{i, j}] = v",
    })
  end
  if active.in_device() then return hl._index_store(t, k, v) end
  return T.host_set(t, k, v)
end

-- Arithmetic with a device value on the right (host + value) goes to the value's metamethod,
-- which reports the host tensor used in device code.
for _, mm in ipairs({"__add", "__sub", "__mul", "__div", "__mod", "__pow", "__idiv"}) do
  local cf = mt[mm]
  mt[mm] = function(a, b)
    local other = type(b) == "table" and b or (type(a) == "table" and a or nil)
    if other then
      local omt = getmetatable(other)
      if omt and omt[mm] then return omt[mm](a, b) end
    end
    return cf(a, b)
  end
end

-- ---- reference ops -------------------------------------------------------------------------

local function tensor_arg(op, t, pos)
  if is_tensor(t) then return t end
  diag.raise(op .. ": argument " .. pos .. " must be a host tensor, got " .. check.kind(t))
end

local ops = {}
T.ops = ops

function ops.matmul(a, b)
  host_only("helua.matmul")
  return host_call("helua.matmul", core.matmul, tensor_arg("helua.matmul", a, 1), tensor_arg("helua.matmul", b, 2))
end

function ops.softmax(x, dim)
  host_only("helua.softmax")
  return host_call("helua.softmax", core.softmax, tensor_arg("helua.softmax", x, 1), dim or -1)
end

function ops.log_softmax(x, dim)
  host_only("helua.log_softmax")
  return host_call("helua.log_softmax", core.log_softmax, tensor_arg("helua.log_softmax", x, 1), dim or -1)
end

function ops.layer_norm(x, w, b, eps)
  host_only("helua.layer_norm")
  return host_call("helua.layer_norm", core.layer_norm, tensor_arg("helua.layer_norm", x, 1), w, b, eps or 1e-5)
end

function ops.rms_norm(x, w, eps)
  host_only("helua.rms_norm")
  return host_call("helua.rms_norm", core.rms_norm, tensor_arg("helua.rms_norm", x, 1), w, eps or 1e-6)
end

-- labels: 1-based class ids (int64); returns the mean loss as a 0-D float tensor.
function ops.cross_entropy(logits, labels)
  host_only("helua.cross_entropy")
  return host_call("helua.cross_entropy", core.cross_entropy, tensor_arg("helua.cross_entropy", logits, 1),
    tensor_arg("helua.cross_entropy", labels, 2))
end

-- attention(q, k, v [, {causal=, scale=}]): softmax(q @ k^T * scale) @ v; scale defaults to
-- 1/sqrt(head_dim).
function ops.attention(q, k, v, opts)
  host_only("helua.attention")
  local o = opts or {}
  check.opts("helua.attention", opts, {"causal", "scale"})
  return host_call("helua.attention", core.attention, tensor_arg("helua.attention", q, 1),
    tensor_arg("helua.attention", k, 2), tensor_arg("helua.attention", v, 3), o.causal == true, o.scale)
end

function ops.where(c, a, b)
  host_only("helua.where")
  return host_call("helua.where", core.where, tensor_arg("helua.where", c, 1), a, b)
end

-- index_select(t, dim, idx): the slices of t along dim at the 1-based indices in idx (1-D int).
function ops.index_select(t, dim, idx)
  host_only("helua.index_select")
  tensor_arg("helua.index_select", t, 1)
  tensor_arg("helua.index_select", idx, 3)
  local nd = C.dim(t)
  local d = check.norm_dim("helua.index_select", dim, nd)
  if C.dim(idx) ~= 1 or not dtype.ints[idx.dtype] then
    diag.raise("helua.index_select: the index must be a 1-D integer tensor, got a "
      .. C.dim(idx) .. "-D " .. idx.dtype .. " tensor", {hint = "flatten it with idx:reshape({-1})"})
  end
  local size = C.size(t, d)
  if C.numel(idx) > 0 then
    local lo, hi = C.item(C.amin(idx)), C.item(C.amax(idx))
    if lo < 1 then out_of_range(lo, d, size, t) end
    if hi > size then out_of_range(hi, d, size, t) end
  end
  local specs = {}
  for i = 1, nd do specs[i] = i == d and idx or {1, C.size(t, i)} end
  return host_call("helua.index_select", C.load_tile, t, specs)
end

local function close_opts(op, opts)
  check.opts(op, opts, {"rtol", "atol"})
  local o = opts or {}
  return o.rtol or 1e-5, o.atol or 1e-8
end

-- allclose(a, b [, {rtol=, atol=}]): |a - b| <= atol + rtol * |b| everywhere (shapes broadcast).
function ops.allclose(a, b, opts)
  local rtol, atol = close_opts("helua.allclose", opts)
  return host_call("helua.allclose", core.allclose, a, b, rtol, atol)
end

-- rel_err(a, b): relative error computed in float64.
function ops.rel_err(a, b) return host_call("helua.rel_err", core.rel_err, a, b) end
function ops.max_abs_err(a, b) return host_call("helua.max_abs_err", core.max_abs_err, a, b) end

return T
