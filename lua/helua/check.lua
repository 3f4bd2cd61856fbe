-- Argument checks shared by the dialect surface (language.lua) and host tensors (tensor.lua):
-- where code runs (host/device), what kind a value is, dims, options, shapes. Part of lua/helua.
local active = require "helua.active"
local diag = require "helua.diag"
local Tile = require "helua.tile"

local check = {}

local core_ok, core = pcall(require, "helua.core")
local is_tensor = core_ok and core.is_tensor or function() return false end
check.is_tensor = is_tensor

-- hl.newaxis / helua.newaxis: in an index list, adds a size-1 dim (Python's None).
check.newaxis = setmetatable({}, {__name = "hl.newaxis", __tostring = function() return "hl.newaxis" end})

-- ---- where are we --------------------------------------------------------------------------

local function running(op)
  local run = active.current()
  if not run then
    diag.raise(op .. " can only be used inside a running helua kernel", {
      token = op:match("[%w_]+$"),
      hint = "wrap the function with helua.kernel(function(...) ... end) and call the kernel",
    })
  end
  return run
end

local function device(op)
  local run = running(op)
  if run.depth == 0 then
    diag.raise(op .. " is device code: use it inside an hl.tile or hl.grid loop", {
      token = op:match("[%w_]+$"),
      hint = "host code (outside the loops) works on whole host tensors: helua.zeros, helua.empty, ...",
    })
  end
  return run
end

local function host(op)
  local run = running(op)
  if run.depth > 0 then
    diag.raise(op .. " is host code: call it before the device loops, not inside them", {
      token = op:match("[%w_]+$"),
      hint = "compute it once at the top of the kernel and use the result inside the loop",
    })
  end
  return run
end

-- ---- argument kinds ------------------------------------------------------------------------

-- "number" | "boolean" | "tile" | "value" | "tensor" | "newaxis" | Lua type name
local function kind(v, run)
  local tv = type(v)
  if tv == "number" or tv == "boolean" or tv == "string" or tv == "nil" then return tv end
  if Tile.is(v) then return "tile" end
  if rawequal(v, check.newaxis) then return "newaxis" end
  run = run or active.current()
  if run and run.impl.is_value(v) then return "value" end
  if is_tensor(v) then return "tensor" end
  return tv
end
check.kind = kind

local function name_of(v)
  return diag.local_name(v)
end

-- Raises the error for an argument of the wrong kind. `want` describes what was expected.
local function bad_arg(op, pos, v, want, run)
  local k = kind(v, run)
  local name = name_of(v)
  local subject = name and ("`" .. name .. "`") or ("argument " .. pos)
  if k == "tile" then
    diag.raise(op .. ": " .. subject .. " is a tile, not " .. want, {
      token = name,
      hint = "a tile is not a number or a value: use " .. (name or "t") .. ".index for its "
        .. "indices (a device value), or " .. (name or "t") .. ".begin / .last / .block_size",
    })
  elseif k == "tensor" then
    diag.raise(op .. ": " .. subject .. " is a host tensor, not " .. want, {
      token = name,
      hint = "inside device loops, load a tile of it first: " .. (name or "x") .. "[{tile}]",
    })
  elseif k == "value" then
    diag.raise(op .. ": " .. subject .. " is a device value, not " .. want, {
      token = name,
      hint = "device values live inside the loops; sizes and loop bounds must be host integers",
    })
  end
  diag.raise(op .. ": " .. subject .. " must be " .. want .. ", got " .. k, {token = name})
end

local function integer(op, pos, v, run)
  local i = math.type(v) == "integer" and v or (type(v) == "number" and math.tointeger(v))
  if not i then bad_arg(op, pos, v, "an integer", run) end
  return i
end

local function value_arg(op, pos, v, run)
  if run.impl.is_value(v) then return v end
  bad_arg(op, pos, v, "a device value", run)
end

local function value_or_number(op, pos, v, run)
  local tv = type(v)
  if tv == "number" or tv == "boolean" or run.impl.is_value(v) then return v end
  bad_arg(op, pos, v, "a device value or a number", run)
end

-- dim: positive 1-based, or negative from the end; returns the positive form.
local function norm_dim(op, d, ndim, extra)
  extra = extra or 0
  local n = ndim + extra
  local i = math.type(d) == "integer" and d or (type(d) == "number" and math.tointeger(d))
  if not i or i == 0 or i > n or i < -n then
    diag.raise(op .. ": dim " .. tostring(d) .. " is out of range for a " .. ndim .. "-D value", {
      hint = n > 0 and ("dims are 1.." .. n .. " (or -1..-" .. n .. " from the end)")
        or "a 0-D value has no dims to name",
    })
  end
  return i > 0 and i or n + i + 1
end
check.norm_dim = norm_dim

local function check_opts(op, opts, allowed)
  if opts == nil then return {} end
  if type(opts) ~= "table" or getmetatable(opts) ~= nil then
    diag.raise(op .. ": options must be a table like {" .. allowed[1] .. " = ...}, got "
      .. kind(opts))
  end
  for key in pairs(opts) do
    local ok = false
    for _, a in ipairs(allowed) do if key == a then ok = true end end
    if not ok then
      local dym = diag.did_you_mean(tostring(key), allowed)
      diag.raise(op .. ": unknown option '" .. tostring(key) .. "'", {
        token = tostring(key),
        hint = (dym and dym .. " " or "") .. "options: " .. table.concat(allowed, ", "),
      })
    end
  end
  return opts
end
check.opts = check_opts

local function shape_arg(op, shape, run, allow_minus1)
  if type(shape) == "number" or Tile.is(shape) then shape = {shape} end
  if type(shape) ~= "table" or getmetatable(shape) ~= nil then
    bad_arg(op, 1, shape, "a shape (a list of tiles and integers)", run)
  end
  local out = {}
  for i = 1, #shape do
    local s = shape[i]
    if Tile.is(s) then out[i] = s
    else
      local n = math.type(s) == "integer" and s or (type(s) == "number" and math.tointeger(s))
      if not n then bad_arg(op, i, s, "a tile or an integer size", run) end
      if n < 0 and not (allow_minus1 and n == -1) then
        diag.raise(op .. ": size " .. n .. " at position " .. i .. " is negative")
      end
      out[i] = n
    end
  end
  return out
end
check.shape = shape_arg

check.running = running
check.device = device
check.host = host
check.name_of = name_of
check.bad_arg = bad_arg
check.integer = integer
check.value_arg = value_arg
check.value_or_number = value_or_number

return check
