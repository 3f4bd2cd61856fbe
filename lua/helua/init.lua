-- helua: the user-facing module (host tensors, reference ops, kernels, configs).
-- Part of lua/helua (dialect surface and policy); the mechanisms live in helua.core (C).
local core = require "helua.core"
local diag = require "helua.diag"
local dtype = require "helua.dtype"
local hl = require "helua.language"
local tensor = require "helua.tensor"
local kernel = require "helua.kernel"

local helua = {core = core}

-- dtype names: helua.float32 == "float32", ...
for _, d in ipairs(dtype.names) do helua[d] = d end
helua.dtypes = dtype.names
helua.newaxis = hl.newaxis

-- host tensors
for _, name in ipairs({"empty", "zeros", "ones", "full", "arange", "rand", "randn", "tensor",
                       "empty_like", "zeros_like", "ones_like", "full_like", "manual_seed"}) do
  helua[name] = tensor[name]
end
function helua.is_tensor(v) return tensor.is_tensor(v) end

-- the GPU: helua.cuda.is_available() -> true | false, reason (loads the driver on first use)
helua.cuda = {
  is_available = function() return core.cuda_available() end,
  device_count = function() return core.cuda_device_count() end,
  device_info = function(ordinal) return core.cuda_device_info(ordinal) end,
  synchronize = function() core.cuda_synchronize() end,
}

-- reference ops and comparisons
for name, f in pairs(tensor.ops) do helua[name] = f end

-- helua.cdiv(a, b): ceil(a / b) for positive integers.
function helua.cdiv(a, b)
  if math.type(a) ~= "integer" or math.type(b) ~= "integer" or b <= 0 then
    diag.raise("helua.cdiv needs integers a and b > 0, got " .. tostring(a) .. ", " .. tostring(b))
  end
  return (a + b - 1) // b
end

-- helua.next_power_of_2(n): the smallest power of two >= n (1 for n <= 1).
function helua.next_power_of_2(n)
  if type(n) ~= "number" then diag.raise("helua.next_power_of_2 needs a number, got " .. type(n)) end
  local p = 1
  while p < n do p = p * 2 end
  return p
end

-- kernels
helua.kernel = kernel.kernel
helua.is_kernel = kernel.is_kernel

-- configs (helua.config loads on first use)
local function config_module() return require "helua.config" end

-- helua.Config{...}: a validated config with Helion's field names.
function helua.Config(tbl) return config_module().new(tbl) end
function helua.is_config(v) return config_module().is_config(v) end

setmetatable(helua, {
  __index = function(_, k)
    if k == "none" or k == "from_json" or k == "from_lua" or k == "load"
      or (type(k) == "string" and k:match("Fragment$")) then
      return config_module()[k]
    end
    return nil
  end,
})

return helua
