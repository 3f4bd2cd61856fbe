-- The tracing implementation of the dialect: runs the kernel's host code for real and builds its
-- device loops into the tile IR (src/ir through core.ir_builder). Part of lua/helua (the tracer).
--
-- Decisions (share/doc/tracing.md explains them for users):
--  * Each loop body runs once. The first call of its iterator opens the IR loop, the second
--    closes it. Loop-carried values: every local of the enclosing frame that holds a device value
--    when the loop opens is carried (debug.getlocal on the frame running the `for`); the body sees
--    it bound to the loop's block argument (debug.setlocal); when the body has run, each local's
--    value is the yield, and the loop's results are patched back into the locals. The builder
--    prunes carried values the body did not change.
--  * Kernel arguments (trace_mem.lua): a host tensor that device code indexes becomes an IR
--    tensor argument (dtype, sizes, strides: concrete). Where it was found is recorded so that a
--    later call can find that call's tensor at the same place: a local of the kernel function
--    (a parameter, or a host allocation like `out`) at the first top-level loop, a vararg, an
--    upvalue, a field of a local or upvalue table, or a global. Numbers read by device code are
--    constants: they come from the arguments (the specialization key) or from upvalues
--    (guarded in trace_launch.lua).
--  * Tiles: each hl.tile dim without a fixed block size makes a block-size slot (Helion's order:
--    call sites as reached, then hl.register_block_size in call order, interleaved as reached).
--    1-based Lua values map to the IR's 0-based ones: tile.begin = tile_begin + 1, tile.index
--    = tile_index + 1, tile.id = tile_id + 1, tile.last = tile_end; grid indices are + 1; index
--    values are - 1 (free when the value was built as h + 1).
--  * All top-level loop nests of a call form one IR function. The trace ends at the first host
--    line after a nest that does not start another nest (a line hook watches); host code
--    between nests is an error. run.on_finish(run) is called then (kernel.lua compiles and
--    launches), so host code after the loops sees the results.
local core = require "helua.core"
local diag = require "helua.diag"
local dtype = require "helua.dtype"
local guard = require "helua.guard"
local launch = require "helua.trace_launch"
local mem = require "helua.trace_mem"
local O = require "helua.trace_ops"
local Tile = require "helua.tile"

local getlocal, setlocal, getinfo = debug.getlocal, debug.setlocal, debug.getinfo

local T = {name = "trace"}

local is_value = O.is_value
local bcall, wrap, const = O.bcall, O.wrap, O.const

T.is_value = is_value
function T.dtype(v) return v._dt end
function T.ndim(v) return #v._s end
-- Sizes as numbers, for the surface's range checks (a block-size dim counts as unbounded).
function T.shape(v)
  local run = require("helua.active").current()
  local out = {}
  for i, s in ipairs(v._s) do
    out[i] = type(s) == "number" and s or (run and run.rext[s]) or math.huge
  end
  return out
end

for _, name in ipairs({"unary", "binary", "where", "cast", "reduce", "softmax", "view",
                       "subscript", "dot", "full", "arange"}) do
  T[name] = O[name]
end

-- ---- registered block sizes -----------------------------------------------------------------

-- hl.register_block_size's result while tracing: the slot, usable as a loop's block_size. Any
-- arithmetic makes it the config's number, and the trace then depends on that number
-- (run.deps; kernel.lua retraces when a config differs).
local BlockSize = {__name = "helua.BlockSize"}

local function is_block_size(v) return getmetatable(v) == BlockSize end

local function concrete(x)
  if not is_block_size(x) then return x end
  local run = rawget(x, "run")
  run.deps[#run.deps + 1] = {kind = "block", slot = rawget(x, "slot"), value = rawget(x, "value"),
                             default = rawget(x, "default")}
  return rawget(x, "value")
end

for mm, f in pairs({
  __add = function(a, b) return a + b end, __sub = function(a, b) return a - b end,
  __mul = function(a, b) return a * b end, __div = function(a, b) return a / b end,
  __mod = function(a, b) return a % b end, __pow = function(a, b) return a ^ b end,
  __idiv = function(a, b) return a // b end, __lt = function(a, b) return a < b end,
  __le = function(a, b) return a <= b end, __eq = function(a, b) return a == b end,
  __concat = function(a, b) return tostring(a) .. tostring(b) end,
}) do
  BlockSize[mm] = function(a, b) return f(concrete(a), concrete(b)) end
end
BlockSize.__unm = function(a) return -concrete(a) end
BlockSize.__tostring = function(a) return tostring(concrete(a)) end
BlockSize.__index = function(_, k)
  diag.raise("a registered block size has no field '" .. tostring(k) .. "'", {
    hint = "pass it to hl.tile(n, {block_size = bs}), or use it as a number",
  })
end

function T.block_size_arg(v) return is_block_size(v) end
T.concrete = concrete

-- Loop bounds may be integer scalars of device code (tile fields: hl.tile(t.begin, t.last)).
function T.loop_bound(v)
  return is_value(v) and #v._s == 0 and dtype.ints[v._dt] == true
end

-- ---- runs ------------------------------------------------------------------------------------

local function kernel_name(fn)
  local info = getinfo(fn, "S")
  local line = diag.source_line(info.source, info.linedefined)
  local name = line and (line:match("function%s+([%a_][%w_]*)%s*%(")
    or line:match("([%a_][%w_]*)%s*=%s*[%w_%.]*kernel%s*%("))
  if name then return name end
  return (info.short_src:match("([%w_]+)%.lua$")) or "kernel"
end
T.kernel_name = kernel_name

local function internal_source(src)
  return src:sub(1, 1) == "=" or src:match("lua/helua/[%w_]+%.lua$") ~= nil
end

local frame_locals = mem.frame_locals -- (level) -> {{i, name, v}, ...}

-- Names IR values after the locals holding them (for the IR text; first name wins).
local function name_locals(run, level)
  level = level + 1
  local i = 1
  while true do
    local name, v = getlocal(level, i)
    if not name then break end
    if is_value(v) and not run.named[v._h] and name:sub(1, 1) ~= "(" then
      run.named[v._h] = true
      pcall(run.b.name, run.b, v._h, name)
    end
    i = i + 1
  end
end

local function name_value(run, h, name)
  if name and not run.named[h] then
    run.named[h] = true
    pcall(run.b.name, run.b, h, name)
  end
end

-- A line at depth 0 after a nest: another nest starting (a `for ... in` line), or the first
-- host statement after the device code (the trace ends there).
local function finish_at(run, line, source)
  local text = diag.source_line(source, line)
  if text and text:match("^%s*for%s.-%sin%s") then return end
  -- block ends (`end`, `else`, `end)`) are not statements
  local code = text and text:gsub("%-%-.*$", ""):gsub("%f[%w_]end%f[^%w_]", "")
    :gsub("%f[%w_]else%f[^%w_]", ""):gsub("[%s%);,]", "")
  if code == "" then return end
  run.host_line = {source = source, line = line, text = text}
  T.finish(run)
end

local function trace_hook(run)
  return function(event, line)
    if event ~= "line" or run.finished then return end
    local info = getinfo(2, "S")
    if internal_source(info.source) then return end
    if run.depth > 0 then
      name_locals(run, 2)
    elseif run.nests > 0 then
      finish_at(run, line, info.source)
    end
  end
end

-- A new trace run. opts: fn (the kernel function), name, config, settings, line_hook (guard).
function T.begin_run(opts)
  local cfg = opts.config
  local run = {
    impl = T, depth = 0, config = cfg, settings = opts.settings or {}, line_hook = opts.line_hook,
    fn = opts.fn, b = core.ir_builder(opts.name or kernel_name(opts.fn)),
    block_sizes = cfg and cfg.block_sizes or nil,
    files = {}, loops = {}, root = {memo = {}}, named = {}, rext = {}, dim_tiles = {},
    args = {}, arg_of = {}, nests = 0, slots = {}, tunables = {}, tunable_values = {},
    registered = {}, deps = {}, specialized = {}, rdim_of = {}, const_dims = {},
  }
  local h, mask, count = debug.gethook()
  run.saved_hook = {h, mask, count}
  debug.sethook(trace_hook(run), "l")
  return run
end

local function restore_hook(run)
  local s = run.saved_hook
  if not s then return end
  run.saved_hook = nil
  if s[1] then debug.sethook(s[1], s[2], s[3] or 0) else debug.sethook() end
end

local function leave(run)
  if run.depth <= 0 then return end
  run.depth = run.depth - 1
  if run.depth == 0 then guard.leave() end
end

-- Ends the run (after the kernel function returned or raised): hooks restored, the trace
-- finished if it has not been (when no host line followed the last nest).
function T.end_run(run)
  while run.depth > 0 do leave(run) end
  restore_hook(run)
end

-- Finishes the IR (verified) and calls run.on_finish(run). Raises at the user's line on error.
function T.finish(run)
  if run.finished then return run.func end
  run.finished = true
  restore_hook(run)
  if run.nests > 0 then run.func = bcall(run, "finish") end
  if run.on_finish then run.on_finish(run) end
  return run.func
end

-- ---- tiles -------------------------------------------------------------------------------------

-- A tile field as a value (memoized per open loop, since IR values cannot outlive their loop).
local function tile_field(t, k)
  local run = rawget(t, "_run")
  local h = rawget(t, "_h")
  local key = "tile:" .. h .. ":" .. k
  local v = O.lookup(run, key)
  if v then return v, false end
  if k == "index" then
    v = O.plus_one(run, O.op(run, "tile_index", {h})._h)
  elseif k == "begin" then
    v = O.plus_one(run, O.op(run, "tile_begin", {h})._h)
    rawset(v, "_tile", t)
  elseif k == "last" then
    v = O.op(run, "tile_end", {h})
    rawset(v, "_tile", t)
  elseif k == "block_size" then
    local dim = rawget(t, "_dim")
    if type(dim) == "number" then return dim, false end
    v = O.op(run, "tile_block_size", {h})
  elseif k == "id" then
    v = O.plus_one(run, O.op(run, "tile_id", {h})._h)
  elseif k == "count" then
    v = O.op(run, "tile_count", {h})
  end
  return O.remember(run, key, v), false
end

-- The loop variables' names from the `for` line (for the IR text).
local function for_names(source, line)
  local text = diag.source_line(source, line)
  local list = text and text:match("for%s+(.-)%s+in%s")
  local names = {}
  if list then
    for n in list:gmatch("[%a_][%w_]*") do names[#names + 1] = n end
  end
  return names
end

-- ---- loops -------------------------------------------------------------------------------------

local function enter(run)
  run.depth = run.depth + 1
  if run.depth == 1 then guard.enter(is_value, run.line_hook) end
end

-- The IR handle of a 1-based inclusive first bound as a 0-based begin.
local function begin_handle(run, first)
  if type(first) == "number" then return const(run, first - 1, "int64") end
  return O.minus_one(run, first)
end

local function end_handle(run, last)
  if type(last) == "number" then return const(run, last, "int64") end
  return last._h
end

local function host_between(run)
  local hl_ = run.host_line
  local where = hl_ and hl_.line and (" (line " .. hl_.line .. (hl_.text and (": `"
    .. hl_.text:match("^%s*(.-)%s*$") .. "`") or "") .. ")") or ""
  diag.raise("host statements between top-level loop nests" .. where .. ": all top-level "
    .. "hl.tile / hl.grid loops of a kernel compile into one device kernel", {
    hint = "move host code before the first loop or after the last one, or split the kernel in two",
  })
end

-- A size hint for a tile dim whose bounds are not constants (the config space's range).
local function extent_hint(run, d)
  local first, last = d.first, d.last
  if type(first) == "number" and type(last) == "number" then return nil end
  local fb = is_value(first) and rawget(first, "_tile")
  local lb = is_value(last) and rawget(last, "_tile")
  if fb and fb == lb then
    local dim = rawget(fb, "_dim")
    if type(dim) == "number" then return dim end
  end
  local hint = nil
  local t = lb or fb
  if t then hint = rawget(t, "_extent") end
  if type(last) == "number" then hint = last end
  return hint
end

-- Opens the IR loop: called by the iterator's first call; level 3 is the frame running `for`.
-- Returns the tiles (or grid indices) as a list.
local function open(run, state)
  local level = 3
  local info = getinfo(level, "Sl")
  local locals = frame_locals(level)
  local cands, hosts, inits = {}, {}, {}
  for _, l in ipairs(locals) do
    if is_value(l.v) then
      cands[#cands + 1] = l
      inits[#inits + 1] = l.v._h
      name_value(run, l.v._h, l.name)
    elseif type(l.v) ~= "table" and type(l.v) ~= "userdata" and type(l.v) ~= "function" then
      hosts[#hosts + 1] = l
    end
  end
  local iters, carried = bcall(run, state.kind, state.specs, inits)
  state.anchor = {file = info.short_src, source = info.source, line = info.currentline}
  local rec = {memo = {}, state = state, cands = cands, hosts = hosts, carried = carried}
  run.loops[#run.loops + 1] = rec
  for j, c in ipairs(cands) do
    local v = wrap(run, carried[j])
    name_value(run, v._h, c.name)
    setlocal(level, c.i, v)
  end
  local names = for_names(info.source, info.currentline)
  local out = {}
  for k, h in ipairs(iters) do
    if state.kind == "tile" then
      local dim = run.b:value(h).shape[1]
      local t = Tile.new({_h = h, _dim = dim, _run = run, _extent = state.extents[k]}, tile_field)
      if type(dim) == "string" then run.dim_tiles[dim] = t end
      out[k] = t
    else
      local g = state.grid[k]
      local v
      if g.step == 1 then v = O.plus_one(run, h)
      else
        v = O.op(run, "mul", {h, const(run, g.step, "int64")})
        v = O.op(run, "add", {v._h, const(run, g.first, "int64")})
      end
      out[k] = v
    end
    name_value(run, h, names[k])
  end
  return out
end

local function describe(v)
  if is_value(v) then return v._dt .. O.shape_str(require("helua.active").current(), v._s) end
  if v == nil then return "nil" end
  return "a " .. type(v)
end

-- Closes the IR loop after the body ran once: yields each carried local's final value and
-- patches the loop's results into the locals. Level 3 is the frame running `for`.
local function close(run, state)
  local level = 3
  local rec = run.loops[#run.loops]
  assert(rec and rec.state == state, "internal: device loops closed out of order")
  local yields = {}
  for j, c in ipairs(rec.cands) do
    local _, v = getlocal(level, c.i)
    local carried = wrap(run, rec.carried[j])
    if not is_value(v) then
      diag.raise("`" .. c.name .. "` holds a device value before the loop but " .. describe(v)
        .. " at the end of its body", {
        token = c.name, hint = "a local carried through a device loop must stay a device value",
      })
    end
    if v._dt ~= carried._dt or O.shape_str(run, v._s) ~= O.shape_str(run, carried._s)
      or #v._s ~= #carried._s then
      diag.raise("the loop-carried `" .. c.name .. "` is " .. describe(carried) .. " before the "
        .. "loop but " .. describe(v) .. " at the end of its body", {
        token = c.name,
        hint = "a carried value keeps its dtype and shape: cast or broadcast the new value, e.g. "
          .. c.name .. " = (...):to(" .. c.name .. ".dtype)",
      })
    end
    yields[j] = v._h
    name_value(run, v._h, c.name)
  end
  for _, l in ipairs(rec.hosts) do
    local _, v = getlocal(level, l.i)
    if is_value(v) then
      diag.raise("`" .. l.name .. "` is assigned a device value inside the loop but holds "
        .. describe(l.v) .. " before it", {
        token = l.name,
        hint = "give it a device value before the loop (e.g. local " .. l.name
          .. " = hl.zeros({tm}, hl.float32)), so that it is carried through the loop",
      })
    elseif v ~= l.v and not (v ~= v and l.v ~= l.v) then
      diag.raise("the host value `" .. l.name .. "` changes inside a device loop (" .. tostring(l.v)
        .. " before, " .. tostring(v) .. " after the body)", {
        token = l.name,
        hint = "the compiled loop body is traced once: host values must not depend on the "
          .. "iteration; use device values (hl.zeros, ...) for what the loop accumulates",
      })
    end
  end
  local results = bcall(run, "end_loop", yields)
  run.loops[#run.loops] = nil
  for j, c in ipairs(rec.cands) do
    local v = results[j] == c.v._h and c.v or wrap(run, results[j])
    name_value(run, v._h, c.name)
    setlocal(level, c.i, v)
  end
  state.closed = true
end

-- The generic-for triple and closing value of a device loop (see open / close).
local function loop(run, kind, dims)
  if run.depth == 0 then
    if run.finished or run.host_line then host_between(run) end
    if run.nests == 0 then mem.snapshot(run) end
    run.nests = run.nests + 1
  end
  local state = {kind = kind, specs = {}, extents = {}, grid = {}, phase = 0}
  for i, d in ipairs(dims) do
    local spec = {}
    if kind == "grid" and (d.step or 1) ~= 1 then
      if type(d.first) ~= "number" or type(d.last) ~= "number" then
        diag.raise("hl.grid with a step needs host integer bounds when compiled", {
          hint = "use a step of 1 and compute the index: i * step + first",
        })
      end
      local n = d.step > 0 and (d.last - d.first) // d.step + 1
        or (d.first - d.last) // (-d.step) + 1
      spec.begin, spec["end"] = const(run, 0, "int64"), const(run, math.max(n, 0), "int64")
      state.grid[i] = {step = d.step, first = d.first}
    else
      spec.begin, spec["end"] = begin_handle(run, d.first), end_handle(run, d.last)
      state.grid[i] = {step = 1}
    end
    if kind == "tile" then
      local bs = d.block_size
      if is_block_size(bs) then spec.slot = rawget(bs, "slot")
      elseif bs ~= nil then spec.block_size = bs
      else spec.hint = extent_hint(run, d) end
      if type(d.first) == "number" and type(d.last) == "number" then
        state.extents[i] = d.last - d.first + 1
      else
        state.extents[i] = spec.hint
      end
    end
    state.specs[i] = spec
  end
  enter(run)
  local closer = setmetatable({}, {__close = function(_, err)
    leave(run)
    if state.phase == 1 and not state.closed and err == nil then
      diag.raise("`break` or `return` inside this device loop: the compiler does not support "
        .. "leaving a device loop early", {
        anchor = state.anchor,
        hint = "device loops run every iteration; select values with hl.where instead",
      })
    end
  end})
  local function iter()
    if state.phase == 0 then
      state.phase = 1
      local out = open(run, state) -- not a tail call: open reads this frame's caller
      return table.unpack(out)
    elseif state.phase == 1 then
      close(run, state)
      state.phase = 2
    end
    return nil
  end
  return iter, nil, nil, closer
end

function T.tile(run, dims) return loop(run, "tile", dims) end
function T.grid(run, dims) return loop(run, "grid", dims) end

-- ---- memory (trace_mem.lua) --------------------------------------------------------------------

T.load, T.store, T.atomic_add = mem.load, mem.store, mem.atomic_add
T.upvalues, T.tensor_arg = mem.upvalues, mem.tensor_arg

-- ---- declarations (host code) ----------------------------------------------------------------

-- The number a registered block size stands for when host code uses it as one: the config's,
-- else the one cached calls compute too (trace_launch.block_size_default).
function T.register_block_size(run, lo, hi)
  local h, slot = bcall(run, "register_block_size", lo, hi)
  run.registered[#run.registered + 1] = slot
  run.slots[slot + 1] = {registered = true}
  local default = launch.block_size_default(run.settings, lo, hi)
  local value = run.block_sizes and run.block_sizes[slot + 1] or default
  return setmetatable({run = run, slot = slot, h = h, value = value, default = default}, BlockSize)
end

-- The IR dtype of a tunable: bool, float64 for an enum of numbers that are not all integers,
-- else int64 (a string enum's value is specialized into the trace, not read from the IR).
local function fragment_dtype(fragment)
  if fragment.kind == "boolean" then return "bool" end
  if fragment.kind == "enum" then
    local floats = false
    for _, c in ipairs(fragment.choices or {}) do
      if type(c) ~= "number" then return "int64" end
      floats = floats or math.type(c) == "float"
    end
    if floats then return "float64" end
  end
  return "int64"
end

function T.register_tunable(run, name, fragment)
  bcall(run, "tunable", name, tostring(fragment), fragment_dtype(fragment))
  run.tunables[name] = fragment
  local cfg = run.config
  local v = cfg and cfg.get and cfg:get(name)
  if v == nil then v = fragment:default() end
  run.tunable_values[name] = v
  run.deps[#run.deps + 1] = {kind = "tunable", name = name, value = v, default = fragment:default()}
  return v
end

function T.specialize(run, n)
  run.specialized[n] = true
  return n
end

return T
