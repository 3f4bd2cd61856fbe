-- helua.Config: one point of a kernel's config space, with Helion's field names; validation,
-- Lua-literal and Helion-JSON forms; tunable fragments are config_fragment.lua. Part of lua/helua.
--
-- Decisions (see share/doc/config.md):
-- * Lua is 1-based, so loop_orders are permutations of 1..n here; JSON (Helion's format) keeps
--   Helion's 0-based permutations, converted on import and export.
-- * Python's None is the sentinel Config.none (helua.none); `null` in JSON. A field set to none
--   is absent, as `None` is in Helion's Config(); inside lists none is a value.
-- * A Config is immutable: reading a field gives a copy; cfg:with{...} makes a changed copy.
-- * Integral floats (2^6 is the float 64.0 in Lua) are accepted where integers are expected and
--   stored as integers.
local diag = require "helua.diag"
local json = require "helua.json"

local Config = {}

Config.none = setmetatable({}, {
  __name = "helua.none",
  __tostring = function() return "helua.none" end,
  __newindex = function() error("helua.none is a constant", 2) end,
})
local none = Config.none

local function is_none(v) return v == none or v == json.null end

---------------------------------------------------------------------------------------------------
-- Printing values as Lua

local function lua_quote(s)
  return (string.format("%q", s):gsub("\\\n", "\\n"))
end

local lua_keywords = {}
for w in ("and break do else elseif end false for function goto if in local nil not or repeat " ..
          "return then true until while"):gmatch("%a+") do lua_keywords[w] = true end

local function lua_key(k)
  if type(k) == "string" and k:match("^[%a_][%w_]*$") and not lua_keywords[k] then return k end
  return "[" .. (type(k) == "string" and lua_quote(k) or tostring(k)) .. "]"
end

local function lua_number(x)
  if math.type(x) == "integer" then return tostring(x) end
  if x ~= x then return "0/0" end
  if x == math.huge then return "1/0" end
  if x == -math.huge then return "-1/0" end
  return json.format_float(x)
end

-- A Lua literal for v (values of configs; anything else printed best-effort for messages).
local function lua_repr(v, depth)
  depth = depth or 0
  local tv = type(v)
  if is_none(v) then return "helua.none"
  elseif tv == "number" then return lua_number(v)
  elseif tv == "string" then return lua_quote(v)
  elseif tv == "boolean" then return tostring(v)
  elseif tv == "table" and Config.is_config(v) then return tostring(v)
  elseif tv == "table" then
    if depth > 4 then return "{...}" end
    local parts, n = {}, #v
    for i = 1, n do parts[i] = lua_repr(v[i], depth + 1) end
    local keys = {}
    for k in pairs(v) do
      if not (math.type(k) == "integer" and k >= 1 and k <= n) then keys[#keys + 1] = k end
    end
    table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
    for _, k in ipairs(keys) do parts[#parts + 1] = lua_key(k) .. " = " .. lua_repr(v[k], depth + 1) end
    return "{" .. table.concat(parts, ", ") .. "}"
  end
  return "<" .. tv .. ">"
end

local function short(s)
  if #s > 60 then return s:sub(1, 57) .. "..." end
  return s
end

local function to_json_value(v)
  if is_none(v) then return json.null end
  if type(v) == "table" and getmetatable(v) == nil then
    local out = {}
    for k, x in pairs(v) do out[k] = to_json_value(x) end
    return out
  end
  return v
end

-- Values as JSON text, for messages about JSON input.
local function json_repr(v)
  local ok, s = pcall(json.encode, to_json_value(v), {spaced = true})
  return ok and s or lua_repr(v)
end

---------------------------------------------------------------------------------------------------
-- Checks: each takes (value, path) and returns the normalized value, or nil and a problem
-- {path=, value=, expect=, hint=}.

local function as_int(v)
  if math.type(v) == "integer" then return v end
  if math.type(v) == "float" and v == math.floor(v) then return math.tointeger(v) end
  return nil
end

local function is_pow2(n) return n >= 1 and n & (n - 1) == 0 end

local function scalar(expect, test)
  return {expect = expect, check = function(v, path)
    local nv = test(v)
    if nv == nil then return nil, {path = path, value = v, expect = expect} end
    return nv
  end}
end

local function int_check(expect, ok)
  return scalar(expect, function(v)
    local n = as_int(v)
    if n and ok(n) then return n end
    return nil
  end)
end

local function one_of(choices, expect)
  local set = {}
  for _, c in ipairs(choices) do set[c] = true end
  return scalar(expect, function(v)
    if set[v] then return as_int(v) or v end
    return nil
  end)
end

local function or_none(chk, expect)
  return scalar(expect, function(v)
    if is_none(v) then return none end
    return (chk.check(v, ""))
  end)
end

local function is_array(v)
  if type(v) ~= "table" or getmetatable(v) ~= nil then return false end
  local n = #v
  for k in pairs(v) do
    if math.type(k) ~= "integer" or k < 1 or k > n then return false end
  end
  return true
end

local function list_of(elem, expect)
  return {expect = expect, elem = elem, check = function(v, path, base)
    if not is_array(v) then return nil, {path = path, value = v, expect = expect} end
    local out = {}
    for i = 1, #v do
      local nv, p = elem.check(v[i], path .. "[" .. (i - (1 - (base or 1))) .. "]", base)
      if nv == nil then return nil, p end
      out[i] = nv
    end
    return out
  end}
end

local function either(a, b, expect)
  return {expect = expect, check = function(v, path, base)
    if type(v) == "table" and not is_none(v) then
      local nv, p = b.check(v, path, base)
      if nv == nil and p.path == path then p.expect = expect end
      return nv, p
    end
    local nv = a.check(v, path, base)
    if nv == nil then return nil, {path = path, value = v, expect = expect} end
    return nv
  end}
end

local permutation = {expect = "a permutation of 1..n", check = function(v, path)
  local bad = {path = path, value = v, expect = "a permutation of 1..n"}
  if not is_array(v) or #v == 0 then return nil, bad end
  local seen, out, zero_based = {}, {}, true
  for i = 1, #v do
    local n = as_int(v[i])
    if not n then return nil, bad end
    out[i] = n
    seen[n] = true
  end
  for i = 1, #v do
    if not seen[i] then
      for j = 0, #v - 1 do zero_based = zero_based and seen[j] end
      if zero_based then
        local fixed = {}
        for j = 1, #v do fixed[j] = out[j] + 1 end
        bad.hint = "helua loop orders are 1-based: Helion's " .. json.encode(out, {spaced = true}) ..
          " is " .. lua_repr(fixed) .. " here"
      end
      return nil, bad
    end
  end
  return out
end}

local pos_int = int_check("a positive integer", function(n) return n >= 1 end)
local nonneg_int = int_check("a non-negative integer", function(n) return n >= 0 end)
local bool = scalar("true or false", function(v)
  if type(v) == "boolean" then return v end
  return nil
end)
local bool_or_none = or_none(bool, "true, false or helua.none")
local indexing_kind = one_of({"pointer", "tensor_descriptor", "block_ptr"},
  '"pointer", "tensor_descriptor" or "block_ptr"')
local indexing = either(indexing_kind, list_of(indexing_kind, "a list of indexing strategies"),
  '"pointer", "tensor_descriptor", "block_ptr", or a list of those (one per load/store)')
local fission = int_check("-1, 0 or a power of two from 2 to 64", function(n)
  return n == -1 or n == 0 or (n >= 2 and n <= 64 and is_pow2(n))
end)

---------------------------------------------------------------------------------------------------
-- The fields, in Helion's order (helion/runtime/config.py); JSON is written in this order.

local FIELDS = {
  {"block_sizes", list_of(pos_int, "a list of positive integers"), alias = "block_size",
   doc = "tile size of each tiled dimension (hl.tile) and hl.register_block_size, in order"},
  {"num_threads", either(nonneg_int, list_of(nonneg_int, "a list of non-negative integers"),
    "a non-negative integer or a list of them"),
   doc = "target thread count per axis (Helion CuTe backend; 0 = unset); accepted for compatibility"},
  {"loop_orders", list_of(permutation, "a list of permutations of 1..n"), alias = "loop_order",
   doc = "iteration order of each multi-dimensional hl.tile (1-based here, 0-based in JSON)"},
  {"flatten_loops", list_of(bool, "a list of booleans"), alias = "flatten_loop",
   doc = "flatten each multi-dimensional hl.tile into one dimension"},
  {"grid_fissions", list_of(list_of(fission, "a list of fission factors"),
    "a list of lists of fission factors (-1, 0 or a power of two from 2 to 64)"),
   doc = "per grid dimension fission factors (Helion); accepted for compatibility"},
  {"l2_groupings", list_of(int_check("a power of two from 1 to 64", function(n)
      return n <= 64 and is_pow2(n) end), "a list of powers of two from 1 to 64"),
   alias = "l2_grouping", doc = "program-id swizzle group size for L2 locality (1 = off)"},
  {"reduction_loops", list_of(or_none(pos_int, "a positive integer or helua.none"),
    "a list of positive integers or helua.none"), alias = "reduction_loop",
   doc = "per reduction dimension: helua.none = persistent (whole row), n = loop in chunks of n"},
  {"range_unroll_factors", list_of(nonneg_int, "a list of non-negative integers"),
   alias = "range_unroll_factor", doc = "unroll factor of each device loop (0 = leave to the compiler)"},
  {"range_warp_specializes", list_of(bool_or_none, "a list of true, false or helua.none"),
   alias = "range_warp_specialize", doc = "warp specialization of each device loop"},
  {"range_num_stages", list_of(nonneg_int, "a list of non-negative integers"),
   alias = "range_num_stage", doc = "software pipelining stages of each device loop (0 = default)"},
  {"range_multi_buffers", list_of(bool_or_none, "a list of true, false or helua.none"),
   alias = "range_multi_buffer", doc = "allow accumulator multi-buffering in each device loop"},
  {"range_flattens", list_of(bool_or_none, "a list of true, false or helua.none"),
   alias = "range_flatten", doc = "flatten each device loop nest"},
  {"static_ranges", list_of(bool, "a list of booleans"), alias = "static_range",
   doc = "fully unroll each device loop with static bounds"},
  {"load_eviction_policies", list_of(one_of({"", "first", "last"}, '"", "first" or "last"'),
    'a list of "", "first" or "last"'),
   doc = "cache eviction policy of each load without an explicit one"},
  {"num_warps", int_check("a power of two from 1 to 32", function(n)
      return n <= 32 and is_pow2(n) end), doc = "warps per block"},
  {"num_stages", int_check("an integer from 1 to 8", function(n) return n >= 1 and n <= 8 end),
   doc = "software pipelining stages"},
  {"indexing", indexing, doc = "how each load/store addresses memory (one value or one per load/store)"},
  {"atomic_indexing", indexing, doc = "how each atomic op addresses memory"},
  {"pid_type", one_of({"flat", "xyz", "persistent_blocked", "persistent_interleaved"},
    '"flat", "xyz", "persistent_blocked" or "persistent_interleaved"'),
   doc = "how program ids map to tiles"},
  {"num_sm_multiplier", int_check("a power of two from 1 to 128", function(n)
      return n <= 128 and is_pow2(n) end), doc = "persistent kernels: blocks per SM"},
  {"maxnreg", one_of({32, 64, 128, 256}, "32, 64, 128 or 256"),
   doc = "maximum registers per thread (CUDA, persistent kernels)"},
  {"advanced_controls_file", scalar("a string (a file path)", function(v)
      if type(v) == "string" then return v end
      return nil
    end), doc = "PTXAS advanced controls file (Helion); accepted for compatibility"},
  {"epilogue_subtile", one_of({2, 4}, "2 or 4"),
   doc = "epilogue split factor along N (Helion, Blackwell); accepted for compatibility"},
  -- helua's knobs (not in Helion): printed after Helion's fields.
  {"wgmma", bool, doc = "cuda: a bfloat16/float16 K-loop dot on Hopper's wgmma instead of mma.sync"},
  {"vector_width", int_check("a power of two from 1 to 64", function(n)
      return n <= 64 and is_pow2(n) end), doc = "CPU target: SIMD lanes per vector operation"},
  {"cpu_threads", nonneg_int, doc = "CPU target: worker threads for the program grid (0 = all cores)"},
}

local FIELD = {}        -- name -> spec
local FIELD_ORDER = {}  -- names in Helion's order
local ALIAS = {}        -- singular alias -> plural field name
for i, f in ipairs(FIELDS) do
  f.name, f.check, f.index = f[1], f[2], i
  FIELD[f.name] = f
  FIELD_ORDER[i] = f.name
  if f.alias then ALIAS[f.alias] = f.name end
end
local KNOWN_NAMES = {}
for _, n in ipairs(FIELD_ORDER) do KNOWN_NAMES[#KNOWN_NAMES + 1] = n end
for a in pairs(ALIAS) do KNOWN_NAMES[#KNOWN_NAMES + 1] = a end
table.sort(KNOWN_NAMES)

-- Rows describing the fields, for docs and the workbench: {name, expect, doc, alias}.
Config.fields = {}
for i, f in ipairs(FIELDS) do
  Config.fields[i] = {name = f.name, expect = f.check.expect, doc = f.doc, alias = f.alias}
end
Config.field_order = FIELD_ORDER
Config.aliases = ALIAS

function Config.is_field(name) return FIELD[name] ~= nil end

---------------------------------------------------------------------------------------------------
-- Errors, anchored at the user's line (and at the field's own line in a multi-line literal).

-- A pattern for `token =` as a whole word (token taken literally).
local function assignment_pattern(token)
  return "%f[%w_]" .. token:gsub("%p", "%%%0") .. "%f[^%w_]%s*="
end

-- The user's frame, moved to the line below it that sets `token = ` while the table constructor
-- opened on the frame's line is still open. (A candidate for helua.diag; settings uses it too.)
local function anchor_for(token)
  local frame = diag.user_frame(2)
  if not frame or not token then return frame end
  local depth = 0
  for n = frame.line, frame.line + 200 do
    local line = diag.source_line(frame.source, n)
    if not line then break end
    if line:find(assignment_pattern(token)) then
      return {file = frame.file, source = frame.source, line = n}
    end
    local _, opens = line:gsub("{", "")
    local _, closes = line:gsub("}", "")
    depth = depth + opens - closes
    if depth <= 0 then break end
  end
  return frame
end

-- A config file read by Config.load: its line that sets `token`, else its first line that
-- mentions Config. (A file's `return helua.Config{...}` is a tail call, so no stack frame is
-- left to anchor at.)
local function anchor_in_file(source, token)
  local first
  for n = 1, 100000 do
    local line = diag.source_line(source, n)
    if not line then break end
    if token and line:find(assignment_pattern(token)) then first = n; break end
    if not first and line:find("Config") then first = n end
  end
  return {file = source:sub(2), source = source, line = first or 1}
end

Config.anchor_for = anchor_for

local function raise(ctx, msg, opts)
  opts = opts or {}
  local token = ctx.lua and opts.token or nil
  local anchor = ctx.source and anchor_in_file(ctx.source, token) or anchor_for(token)
  diag.raise(ctx.prefix .. ": " .. msg, {hint = opts.hint, token = token, anchor = anchor})
end

local LUA_CTX = {prefix = "helua.Config", lua = true, base = 1, repr = lua_repr}
local JSON_CTX = {prefix = "config JSON", lua = false, base = 0, repr = json_repr}

local function problem_message(ctx, field, p)
  local msg = string.format("%s = %s is invalid: expected %s", p.path, short(ctx.repr(p.value)), p.expect)
  if field and p.path ~= field.name then
    msg = msg .. " (" .. field.name .. " is " .. field.check.expect .. ")"
  end
  return msg
end

---------------------------------------------------------------------------------------------------
-- Construction

local values_of = setmetatable({}, {__mode = "k"})  -- config -> {name = value}
local key_of = setmetatable({}, {__mode = "k"})     -- config -> cached canonical key
local ConfigMT = {__name = "helua.Config"}
local methods = {}

function Config.is_config(v) return getmetatable(v) == ConfigMT end

local function deep_copy(v)
  if type(v) ~= "table" or is_none(v) then return v end
  local out = {}
  for i = 1, #v do out[i] = deep_copy(v[i]) end
  return out
end

-- Validates one named value into `vals` (nil value or none removes the name).
local function set_value(ctx, vals, name, v)
  local field = FIELD[name]
  if is_none(v) then
    vals[name] = nil
    return
  end
  if field then
    local nv, p = field.check.check(v, name, ctx.base)
    if nv == nil then
      local hint = p.hint
      if not hint and p.path == name and type(v) ~= "table" and field.check.elem then
        hint = "a list is written {" .. ctx.repr(v) .. "}" ..
          (field.alias and (", or use the singular " .. field.alias .. " = " .. lua_repr(v)) or "")
      end
      raise(ctx, problem_message(ctx, field, p), {token = name, hint = hint})
    end
    vals[name] = nv
    return
  end
  if type(v) == "number" then
    vals[name] = as_int(v) or v
  elseif type(v) == "boolean" or type(v) == "string" then
    vals[name] = v
  else
    raise(ctx, string.format("user tunable %s = %s is invalid: a tunable must be a number, boolean or string",
      name, short(ctx.repr(v))), {token = name,
      hint = "a name that is not one of Helion's fields (Config.field_order) is a user tunable; check the spelling"})
  end
end

local function build(ctx, vals, tbl)
  if type(tbl) ~= "table" or is_none(tbl) then
    raise(ctx, "expected a table of fields, e.g. helua.Config{block_sizes = {64, 64}, num_warps = 4}, got " ..
      (type(tbl) == "table" and "helua.none" or type(tbl)))
  end
  if #tbl > 0 then
    raise(ctx, "fields must be named; got positional value " .. short(lua_repr(tbl[1])),
      {hint = "write e.g. helua.Config{block_sizes = " .. short(lua_repr(tbl)) .. "}"})
  end
  local names = {}
  for k in pairs(tbl) do
    if type(k) ~= "string" then
      raise(ctx, "field names must be strings; got key " .. short(lua_repr(k)))
    end
    names[#names + 1] = k
  end
  table.sort(names)
  local given = {}
  for _, name in ipairs(names) do
    local v = tbl[name]
    local plural = ALIAS[name]
    if plural then
      if tbl[plural] ~= nil then
        raise(ctx, "cannot give both " .. name .. " and " .. plural, {token = name,
          hint = name .. " = v is short for " .. plural .. " = {v}"})
      end
      if type(v) == "table" and not is_none(v) and name ~= "loop_order" then
        raise(ctx, name .. " = " .. short(ctx.repr(v)) .. " is invalid: " .. name ..
          " takes one value", {token = name, hint = "for several, write " .. plural .. " = " ..
          short(lua_repr(v))})
      end
      name, v = plural, {v}
    elseif not FIELD[name] then
      if methods[name] then
        raise(ctx, "'" .. name .. "' cannot be a tunable name: it is a Config method", {token = name})
      end
      local dym = diag.did_you_mean(name, KNOWN_NAMES)
      if dym then
        raise(ctx, "unknown field " .. name, {token = name, hint = dym ..
          " (a name that is not a Helion field is taken as a user tunable, unless it is this close to one)"})
      end
    end
    given[#given + 1] = {name, v}
  end
  for _, nv in ipairs(given) do set_value(ctx, vals, nv[1], nv[2]) end
  return setmetatable({}, ConfigMT), vals
end

local function make(ctx, tbl, base_vals)
  if Config.is_config(tbl) and not base_vals then return tbl end
  local vals = {}
  for k, v in pairs(base_vals or {}) do vals[k] = v end
  local cfg
  cfg, vals = build(ctx, vals, tbl)
  values_of[cfg] = vals
  return cfg
end

-- Config.new(tbl) / helua.Config{...}: a validated config. Raises on unknown or invalid fields.
function Config.new(tbl) return make(LUA_CTX, tbl) end

setmetatable(Config, {__call = function(_, tbl) return make(LUA_CTX, tbl) end})

---------------------------------------------------------------------------------------------------
-- Methods

-- Names set in cfg: fields in Helion's order, then user tunables sorted.
function methods:names()
  local vals, out, tunables = values_of[self], {}, {}
  for _, n in ipairs(FIELD_ORDER) do
    if vals[n] ~= nil then out[#out + 1] = n end
  end
  for n in pairs(vals) do
    if not FIELD[n] then tunables[#tunables + 1] = n end
  end
  table.sort(tunables)
  table.move(tunables, 1, #tunables, #out + 1, out)
  return out
end

-- cfg:get(name [, default]): the value (a copy) or default when unset.
function methods:get(name, default)
  local v = values_of[self][name]
  if v == nil then
    if ALIAS[name] then
      diag.raise("Config:get(" .. lua_quote(name) .. "): use the field name " .. ALIAS[name])
    end
    return default
  end
  return deep_copy(v)
end

-- cfg:with(changes): a copy with changes applied (a field set to helua.none is removed).
function methods:with(changes)
  local vals = values_of[self]
  if type(changes) == "table" and not Config.is_config(changes) then
    local copy = {}
    for k, v in pairs(vals) do copy[k] = v end
    for k in pairs(changes) do
      if ALIAS[k] then copy[ALIAS[k]] = nil end
    end
    return make(LUA_CTX, changes, copy)
  end
  return make(LUA_CTX, changes, vals)
end

-- A plain table of all set values (copies; 1-based loop orders; helua.none inside lists).
function methods:to_table()
  local out = {}
  for k, v in pairs(values_of[self]) do out[k] = deep_copy(v) end
  return out
end

-- The Lua literal: helua.Config{block_sizes = {64, 64}, num_warps = 4}.
function methods:to_lua()
  local vals, parts = values_of[self], {}
  for i, n in ipairs(self:names()) do parts[i] = lua_key(n) .. " = " .. lua_repr(vals[n]) end
  return "helua.Config{" .. table.concat(parts, ", ") .. "}"
end

-- Canonical text, equal for equal configs.
function methods:key()
  local k = key_of[self]
  if not k then
    k = self:to_lua()
    key_of[self] = k
  end
  return k
end

-- Helion's JSON: json.dumps(config, indent=2), fields in Helion's order, 0-based loop orders.
function methods:to_json()
  local vals, out = values_of[self], json.object()
  for k, v in pairs(vals) do out[k] = to_json_value(v) end
  if out.loop_orders then
    for _, perm in ipairs(out.loop_orders) do
      for i = 1, #perm do perm[i] = perm[i] - 1 end
    end
  end
  return json.encode(out, {indent = 2, key_order = FIELD_ORDER})
end

local function write_file(path, text)
  local tmp = path .. ".tmp" .. tostring({}):match("%x+$")  -- unique enough; leaves math.random alone
  local f, err = io.open(tmp, "w")
  if not f then diag.raise("cannot write config file " .. path .. ": " .. err) end
  f:write(text)
  f:close()
  local ok, rerr = os.rename(tmp, path)
  if not ok then
    os.remove(tmp)
    diag.raise("cannot write config file " .. path .. ": " .. tostring(rerr))
  end
end

local function file_kind(path, what)
  local ext = path:match("%.(%w+)$")
  if ext == "json" or ext == "lua" then return ext end
  diag.raise(what .. " " .. path .. ": the file name must end in .json or .lua",
    {hint = ".json is Helion's format; .lua holds `return helua.Config{...}`"})
end

-- cfg:save(path): Helion JSON for *.json, a Lua file for *.lua (written atomically).
function methods:save(path)
  if file_kind(path, "cannot save config") == "json" then
    write_file(path, self:to_json() .. "\n")
  else
    write_file(path, "-- helua config\nreturn " .. self:to_lua() .. "\n")
  end
end

ConfigMT.__index = function(self, k)
  local m = methods[k]
  if m then return m end
  local v = values_of[self][k]
  if type(v) == "table" then return deep_copy(v) end
  return v
end
ConfigMT.__newindex = function(_, k)
  diag.raise("Configs are immutable; cannot set " .. tostring(k),
    {hint = "use cfg:with{" .. tostring(k) .. " = ...} for a changed copy"})
end
ConfigMT.__eq = function(a, b)
  return Config.is_config(a) and Config.is_config(b) and a:key() == b:key()
end
ConfigMT.__tostring = function(self) return self:to_lua() end
ConfigMT.__pairs = function(self)
  local names, i = self:names(), 0
  return function()
    i = i + 1
    local n = names[i]
    if n then return n, self[n] end
  end, self, nil
end

---------------------------------------------------------------------------------------------------
-- Reading configs back

local function from_json_value(v)
  if v == json.null then return none end
  if type(v) == "table" then
    local out = {}
    for k, x in pairs(v) do out[k] = from_json_value(x) end
    return out
  end
  return v
end

-- Whether v is a permutation of 0..#v-1 (Helion's loop orders).
local function is_perm0(v)
  if not is_array(v) or #v == 0 then return false end
  local seen = {}
  for i = 1, #v do
    local x = as_int(v[i])
    if not x or x < 0 or x >= #v or seen[x] then return false end
    seen[x] = true
  end
  return true
end

local function json_loop_order_error(path, value, expect)
  diag.raise(string.format("config JSON: %s = %s is invalid: expected %s", path,
    short(json_repr(value)), expect), {hint = "Helion's JSON loop orders are 0-based"})
end

-- Config.from_json(text): a config from Helion's JSON (0-based loop orders, null = None).
function Config.from_json(text)
  local obj = json.decode(text, {hint = "expected a Helion config, e.g. {\"block_sizes\": [64, 64], \"num_warps\": 4}"})
  if type(obj) ~= "table" or not json.is_object(obj) then
    diag.raise("config JSON: expected an object {...}, got " .. short(json_repr(obj)))
  end
  local tbl = {}
  for k, v in pairs(obj) do tbl[k] = from_json_value(v) end
  for _, name in ipairs({"loop_orders", "loop_order"}) do
    if tbl[name] ~= nil and not is_none(tbl[name]) then
      local perms = name == "loop_order" and {tbl[name]} or tbl[name]
      if not is_array(perms) then json_loop_order_error(name, obj[name], "a list of permutations of 0..n-1") end
      for i, perm in ipairs(perms) do
        if not is_perm0(perm) then
          local path = name == "loop_order" and name or string.format("%s[%d]", name, i - 1)
          json_loop_order_error(path, perm, "a permutation of 0..n-1")
        end
        for j = 1, #perm do perm[j] = as_int(perm[j]) + 1 end
      end
    end
  end
  return make(JSON_CTX, tbl)
end

-- The environment a config literal runs in: helua.Config and helua.none, nothing else.
-- ctx: how Config errors inside are reported (a file's literal anchors in the file).
local function sandbox_env(ctx)
  local helua = setmetatable({}, {__index = function(_, k)
    error("config literals may only use helua.Config and helua.none, not helua." .. tostring(k), 2)
  end})
  rawset(helua, "Config", setmetatable({}, {__call = function(_, tbl) return make(ctx, tbl) end}))
  rawset(helua, "none", none)
  return setmetatable({helua = helua}, {__index = function(_, k)
    error("config literals may only use helua.Config and helua.none, not '" .. tostring(k) .. "'", 2)
  end, __newindex = function(_, k)
    error("config literals cannot set globals ('" .. tostring(k) .. "')", 2)
  end})
end

local MAX_STEPS = 1000000

-- Config.from_lua(text [, chunkname]): evaluates `helua.Config{...}` (or `return helua.Config{...}`)
-- in a sandbox that holds only helua.Config and helua.none.
function Config.from_lua(text, chunkname)
  if type(text) ~= "string" then
    diag.raise("Config.from_lua expects a string, got " .. type(text))
  end
  chunkname = chunkname or "=config literal"
  local ctx = LUA_CTX
  if chunkname:sub(1, 1) == "@" then
    ctx = {prefix = LUA_CTX.prefix, lua = true, base = 1, repr = lua_repr, source = chunkname}
  end
  local env = sandbox_env(ctx)
  local fn = load("return " .. text, chunkname, "t", env)
  if not fn then
    local err
    fn, err = load(text, chunkname, "t", env)
    if not fn then diag.raise("cannot read the config literal: " .. err) end
  end
  local co = coroutine.create(fn)
  debug.sethook(co, function()
    error("the config literal runs too long (over " .. MAX_STEPS .. " steps)", 0)
  end, "", MAX_STEPS)
  local ok, res = coroutine.resume(co)
  if not ok then
    if diag.is_error(res) then error(res, 0) end
    diag.raise("cannot evaluate the config literal: " .. tostring(res))
  end
  if not Config.is_config(res) then
    diag.raise("the config literal must evaluate to helua.Config{...}, got " ..
      (res == nil and "nothing" or short(lua_repr(res))),
      {hint = "write e.g. helua.Config{block_sizes = {64, 64}, num_warps = 4}"})
  end
  return res
end

-- Config.load(path): reads a .json (Helion) or .lua config file.
function Config.load(path)
  local kind = file_kind(path, "cannot load config")
  local f, err = io.open(path, "r")
  if not f then diag.raise("cannot read config file " .. path .. ": " .. err) end
  local text = f:read("a")
  f:close()
  if kind == "json" then return Config.from_json(text) end
  return Config.from_lua(text, "@" .. path)
end

---------------------------------------------------------------------------------------------------
-- Fragments: the typed knobs of user tunables (config_fragment.lua adds Config.is_fragment and
-- the *Fragment constructors).

require "helua.config_fragment"(Config, {as_int = as_int, is_pow2 = is_pow2, is_array = is_array,
                                         short = short, lua_repr = lua_repr})

-- Used by messages elsewhere (e.g. the kernel's config space) to print values as helua does.
Config.repr = lua_repr

return Config
