-- Tiles: what hl.tile yields. Read-only objects with the fields index, begin, last, block_size,
-- id, count; any use as a number is a diagnosed error. Part of lua/helua (dialect surface).
--
-- An implementation makes tiles with Tile.new(fields, field_fn). The eager one fills in host
-- integers and computes only `index` on first read; the tracing one computes every field on
-- read. A field missing from the table is field_fn(tile, name) (for `index`: a device value of
-- the tile's 1-based indices), kept in the tile unless field_fn returns false as a second value
-- (the tracer keeps its own per-loop cache, since an IR value must not outlive its loop).
local diag = require "helua.diag"

local Tile = {}

local FIELDS = {"index", "begin", "last", "block_size", "id", "count"}
local FIELD_SET = {}
for _, f in ipairs(FIELDS) do FIELD_SET[f] = true end
local field_fns = setmetatable({}, {__mode = "k"})

local function misuse(what, tile, token)
  local name = diag.local_name(tile)
  local subject = name and ("`" .. name .. "` is a tile") or "a tile"
  diag.raise(subject .. ", not a number: it cannot be used " .. what, {
    token = token or name,
    hint = "use the tile to index a tensor (x[{" .. (name or "t") .. "}]), or one of its fields: "
      .. ".index (its 1-based indices, a device value), .begin / .last (first and last index), "
      .. ".block_size, .id, .count",
  })
end

local function tile_of(a, b) if getmetatable(a) == Tile then return a end return b end

local function arith(sym)
  return function(a, b) misuse("in arithmetic (" .. sym .. ")", tile_of(a, b), sym) end
end

Tile.__add = arith("+")
Tile.__sub = arith("-")
Tile.__mul = arith("*")
Tile.__div = arith("/")
Tile.__mod = arith("%")
Tile.__pow = arith("^")
Tile.__idiv = arith("//")
Tile.__band = arith("&")
Tile.__bor = arith("|")
Tile.__bxor = arith("~")
Tile.__shl = arith("<<")
Tile.__shr = arith(">>")
Tile.__bnot = function(a) misuse("in arithmetic (~)", a, "~") end
Tile.__unm = function(a) misuse("in arithmetic (unary -)", a, "-") end
Tile.__lt = function(a, b) misuse("in a comparison (<)", tile_of(a, b), "<") end
Tile.__le = function(a, b) misuse("in a comparison (<=)", tile_of(a, b), "<=") end
Tile.__concat = function(a, b) misuse("as a string (..)", tile_of(a, b), "..") end
Tile.__len = function(a) misuse("with # (use .block_size, or .last - .begin + 1)", a, "#") end
Tile.__call = function(a) misuse("as a function", a) end

Tile.__index = function(t, k)
  local fn = FIELD_SET[k] and field_fns[t]
  if fn then
    local v, keep = fn(t, k)
    if keep ~= false then rawset(t, k, v) end
    return v
  end
  local hint = diag.did_you_mean(tostring(k), FIELDS)
  diag.raise("a tile has no field '" .. tostring(k) .. "'", {
    token = tostring(k),
    hint = (hint and hint .. " " or "") .. "tile fields: " .. table.concat(FIELDS, ", "),
  })
end

Tile.__newindex = function(_, k)
  diag.raise("tiles are read-only (cannot set field '" .. tostring(k) .. "')", {
    token = tostring(k),
    hint = "copy the field into a local first: local b = t.begin",
  })
end

Tile.__tostring = function(t)
  local b, l = rawget(t, "begin"), rawget(t, "last")
  if math.type(b) == "integer" and math.type(l) == "integer" then
    return string.format("tile(%d..%d, block_size=%s, id=%s/%s)", b, l,
      tostring(rawget(t, "block_size")), tostring(rawget(t, "id")), tostring(rawget(t, "count")))
  end
  return "tile"
end

Tile.__name = "helua.Tile"

-- A new tile. fields: begin, last, block_size, id, count (plus any private "_" fields the
-- implementation wants); field_fn(tile, name) computes a missing field on read.
function Tile.new(fields, field_fn)
  local t = setmetatable(fields, Tile)
  field_fns[t] = field_fn
  return t
end

function Tile.is(v) return getmetatable(v) == Tile end

return Tile
