-- Dtype names (plain strings, as the C tensor library spells them) and their checking.
-- Part of lua/helua (dialect surface), shared by host tensors (helua) and the dialect (hl).
local diag = require "helua.diag"

local dtype = {}

dtype.names = {"float64", "float32", "float16", "bfloat16", "int64", "int32", "int16", "int8",
               "uint8", "bool"}

local known = {}
for _, n in ipairs(dtype.names) do known[n] = true end

dtype.floats = {float64 = true, float32 = true, float16 = true, bfloat16 = true}
dtype.ints = {int64 = true, int32 = true, int16 = true, int8 = true, uint8 = true}

function dtype.is(v) return known[v] == true end

-- Returns d when it names a dtype; else raises a diagnostic listing the valid names.
-- `what` says where the dtype came from ("dtype", "hl.zeros dtype", ...).
function dtype.check(d, what)
  if known[d] then return d end
  what = what or "dtype"
  if type(d) == "string" then
    local dym = diag.did_you_mean(d, dtype.names)
    diag.raise("unknown " .. what .. " '" .. d .. "'", {
      token = d,
      hint = (dym and dym .. " " or "") .. "dtypes: " .. table.concat(dtype.names, ", "),
    })
  end
  diag.raise(what .. " must be a dtype name, got " .. (d == nil and "nil" or type(d)), {
    hint = "use hl.float32, helua.float16, or a name: " .. table.concat(dtype.names, ", "),
  })
end

return dtype
