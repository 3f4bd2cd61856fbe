-- Fragments: the typed knobs of user tunables (hl.register_tunable), as helua.Config's
-- PowerOfTwo/Integer/Enum/BooleanFragment. Part of lua/helua (config.lua's fragment half).
--
-- Mirrored in C by the config space; here they validate, give defaults and describe themselves.
-- config.lua calls this module's function once with the Config table and its private value
-- helpers; the function adds Config.is_fragment and the constructors.
local diag = require "helua.diag"

return function(Config, priv)
  local as_int, is_pow2, is_array = priv.as_int, priv.is_pow2, priv.is_array
  local short, lua_repr = priv.short, priv.lua_repr

  local Fragment = {__name = "helua.Fragment"}
  Fragment.__index = Fragment

  function Config.is_fragment(v) return getmetatable(v) == Fragment end

  function Fragment:default() return self.default_value end

  function Fragment:__tostring() return self.text end

  local function frag_error(ctor, msg, hint)
    diag.raise(ctor .. ": " .. msg, {token = ctor, hint = hint})
  end

  local function frag_int(ctor, what, v)
    local n = as_int(v)
    if not n then frag_error(ctor, what .. " must be an integer, got " .. short(lua_repr(v))) end
    return n
  end

  local function range_fragment(ctor, kind, lo, hi, default)
    lo, hi = frag_int(ctor, "lo", lo), frag_int(ctor, "hi", hi)
    local pow2 = kind == "power_of_two"
    if pow2 and not (is_pow2(lo) and is_pow2(hi)) then
      frag_error(ctor, string.format("lo and hi must be powers of two, got %d and %d", lo, hi))
    end
    if lo > hi then frag_error(ctor, string.format("lo (%d) is greater than hi (%d)", lo, hi)) end
    local what = pow2 and "a power of two" or "an integer"
    local d = default == nil and lo or frag_int(ctor, "default", default)
    if d < lo or d > hi or (pow2 and not is_pow2(d)) then
      frag_error(ctor, string.format("default %d is not %s in [%d, %d]", d, what, lo, hi))
    end
    return setmetatable({kind = kind, lo = lo, hi = hi, default_value = d,
      text = string.format("%s(%d, %d, %d)", ctor, lo, hi, d),
      description = string.format("%s from %d to %d (default %d)", what, lo, hi, d)}, Fragment)
  end

  -- PowerOfTwoFragment(lo, hi [, default = lo]): powers of two in [lo, hi].
  function Config.PowerOfTwoFragment(lo, hi, default)
    return range_fragment("PowerOfTwoFragment", "power_of_two", lo, hi, default)
  end

  -- IntegerFragment(lo, hi [, default = lo]): integers in [lo, hi].
  function Config.IntegerFragment(lo, hi, default)
    return range_fragment("IntegerFragment", "integer", lo, hi, default)
  end

  -- EnumFragment(choices [, default = choices[1]]): one of the given strings, numbers or booleans.
  function Config.EnumFragment(choices, default)
    local ctor = "EnumFragment"
    if not is_array(choices) or #choices == 0 then
      frag_error(ctor, "choices must be a non-empty list, got " .. short(lua_repr(choices)),
        'e.g. EnumFragment({"a", "b"}, "a")')
    end
    local seen, copy = {}, {}
    for i, c in ipairs(choices) do
      local tc = type(c)
      if tc ~= "string" and tc ~= "number" and tc ~= "boolean" then
        frag_error(ctor, string.format("choice %d is a %s; choices must be strings, numbers or booleans", i, tc))
      end
      c = as_int(c) or c
      if seen[c] then frag_error(ctor, "choice " .. lua_repr(c) .. " is listed twice") end
      seen[c], copy[i] = true, c
    end
    local d = default == nil and copy[1] or (as_int(default) or default)
    if not seen[d] then
      frag_error(ctor, "default " .. short(lua_repr(d)) .. " is not one of the choices " .. short(lua_repr(copy)))
    end
    local list = {}
    for i, c in ipairs(copy) do list[i] = lua_repr(c) end
    return setmetatable({kind = "enum", choices = copy, default_value = d,
      text = string.format("EnumFragment(%s, %s)", lua_repr(copy), lua_repr(d)),
      description = string.format("one of %s (default %s)", table.concat(list, ", "), lua_repr(d))},
      Fragment)
  end

  -- BooleanFragment([default = false]).
  function Config.BooleanFragment(default)
    if default == nil then default = false end
    if type(default) ~= "boolean" then
      frag_error("BooleanFragment", "default must be true or false, got " .. short(lua_repr(default)))
    end
    return setmetatable({kind = "boolean", default_value = default,
      text = string.format("BooleanFragment(%s)", tostring(default)),
      description = string.format("true or false (default %s)", tostring(default))}, Fragment)
  end

  function Fragment:contains(v)
    if self.kind == "boolean" then return type(v) == "boolean" end
    if self.kind == "enum" then
      for _, c in ipairs(self.choices) do
        if c == v then return true end
      end
      return false
    end
    local n = as_int(v)
    if not n or n < self.lo or n > self.hi then return false end
    return self.kind == "integer" or is_pow2(n)
  end

  function Fragment:describe() return self.description end
end
