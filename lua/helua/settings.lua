-- Kernel settings: each declared once (name, type, default, environment variable, doc) and
-- resolved as kernel opts > HELUA_* environment > default. Part of lua/helua (policy).
--
-- The environment variables themselves are declared in src/base/flags.def (so `helua --help`
-- lists them); this file reads them only through helua.core.flag and a test checks that every
-- env name here is declared there.
local diag = require "helua.diag"
local Config = require "helua.config"

local settings = {}

local function default_cache_dir()
  local xdg = os.getenv("XDG_CACHE_HOME")
  if xdg and xdg ~= "" then return xdg .. "/helua" end
  local home = os.getenv("HOME")
  if home and home ~= "" then return home .. "/.cache/helua" end
  return ".helua-cache"
end

-- type: "bool" | "enum" (choices) | "string" | "path" | "block_size" (positive integer or "full").
-- default: a value, or a function computing it; nil means unset.
settings.list = {
  {name = "autotune_effort", type = "enum", choices = {"none", "quick", "full"}, default = "quick",
   env = "HELUA_AUTOTUNE_EFFORT",
   doc = "how hard to search when the kernel has no config: none = default config, quick, full"},
  {name = "autotune_algorithm", type = "enum", choices = {"pattern", "de", "random", "finite"},
   default = "pattern", env = "HELUA_AUTOTUNE_ALGORITHM",
   doc = "the autotuner's search: pattern search, differential evolution, random, or finite (the kernel's configs)"},
  {name = "print_output_code", type = "bool", default = false, env = "HELUA_PRINT_OUTPUT_CODE",
   doc = "print the generated code to stderr when a kernel is compiled"},
  {name = "interpret", type = "bool", default = false, env = "HELUA_INTERPRET",
   doc = "run kernels eagerly on host tensors, tile by tile (same as backend = \"interpret\")"},
  {name = "force_autotune", type = "bool", default = false, env = "HELUA_FORCE_AUTOTUNE",
   doc = "tune on the first call of each shape even when the kernel has a config, a cached or an exported one"},
  {name = "logs", type = "string", default = "", env = "HELUA_LOGS",
   doc = "comma-separated log topics to print (e.g. all, tune, compile)"},
  {name = "backend", type = "enum", choices = {"auto", "interpret", "cpu", "cuda"}, default = "auto",
   env = "HELUA_BACKEND", doc = "where kernels run; auto = the best available (cuda, else cpu)"},
  {name = "cache_dir", type = "path", default = default_cache_dir, default_text = "$XDG_CACHE_HOME/helua or ~/.cache/helua",
   env = "HELUA_CACHE_DIR", doc = "where tuned configs are cached"},
  {name = "block_size", type = "block_size", default = nil, env = "HELUA_BLOCK_SIZE",
   doc = "interpret mode: block size for tiles the config does not fix (a positive integer or \"full\")"},
  {name = "config_file", type = "path", default = nil,
   doc = "tuned configs to use when the kernel has no config: a Helion Config JSON, or a file of `helua tune --export-json`"},
  {name = "dot_precision", type = "enum", choices = {"ieee", "tf32"}, default = "ieee",
   env = "HELUA_DOT_PRECISION",
   doc = "float32 dots on the GPU: ieee = exact FMA, tf32 = tensor cores with TF32 operands (float32 sums); the CPU is always exact"},
  {name = "static_shapes", type = "bool", default = true,
   doc = "specialize (and tune) per exact shape and strides; false shares one config across shapes"},
}

settings.by_name = {}
for _, s in ipairs(settings.list) do settings.by_name[s.name] = s end

-- Kernel opts that are not settings; resolve passes them through untouched.
settings.passthrough = {"config", "configs"}
local PASSTHROUGH = {}
for _, n in ipairs(settings.passthrough) do PASSTHROUGH[n] = true end

-- Helion's effort profiles (autotuner/effort_profile.py), as data for the autotuner.
settings.effort_profiles = {
  none = {search = false},
  quick = {search = true, initial_population = 30, copies = 2, max_generations = 5,
           population_strategy = "from_best_available", rebenchmark_threshold = 0.9},
  full = {search = true, initial_population = 100, copies = 5, max_generations = 20,
          population_strategy = "from_random", rebenchmark_threshold = 1.5},
}

local function expected(s)
  if s.type == "bool" then return "true or false" end
  if s.type == "enum" then return "one of " .. table.concat(s.choices, ", ") end
  if s.type == "block_size" then return 'a positive integer or "full"' end
  if s.type == "path" then return "a non-empty path" end
  return "a string"
end

local function expected_env(s)
  if s.type == "bool" then return "1, 0, true, false, yes or no" end
  return expected(s)
end

local function quote(v)
  if type(v) == "string" then return string.format("%q", v) end
  return tostring(v)
end

-- A Lua value given as a kernel option -> the setting's value, or nil.
local function from_opt(s, v)
  if s.type == "bool" then
    if type(v) == "boolean" then return v end
  elseif s.type == "enum" then
    for _, c in ipairs(s.choices) do
      if v == c then return v end
    end
  elseif s.type == "block_size" then
    if v == "full" then return v end
    local n = math.type(v) == "float" and math.tointeger(v) or v
    if math.type(n) == "integer" and n >= 1 then return n end
  elseif s.type == "path" then
    if type(v) == "string" and v ~= "" then return v end
  elseif type(v) == "string" then
    return v
  end
  return nil
end

local BOOL_WORDS = {["1"] = true, ["true"] = true, yes = true, on = true,
                    ["0"] = false, ["false"] = false, no = false, off = false}

-- An environment string -> the setting's value, or nil.
local function from_env(s, text)
  local word = text:lower():match("^%s*(.-)%s*$")
  if s.type == "bool" then return BOOL_WORDS[word] end
  if s.type == "enum" then return from_opt(s, word) end
  if s.type == "block_size" then
    if word == "full" then return word end
    return from_opt(s, math.tointeger(tonumber(word)))
  end
  return from_opt(s, text)
end

local function default_of(s)
  if type(s.default) == "function" then return s.default() end
  return s.default
end

local function env_value(s)
  if not s.env then return nil end
  local text = require("helua.core").flag(s.env)
  if text == nil then return nil end
  local v = from_env(s, text)
  if v == nil then
    diag.raise(string.format("%s=%s is not valid: expected %s", s.env, text, expected_env(s)),
      {hint = "fix or unset the environment variable " .. s.env})
  end
  return v
end

local function known_opts()
  local names = {}
  for _, s in ipairs(settings.list) do names[#names + 1] = s.name end
  for _, n in ipairs(settings.passthrough) do names[#names + 1] = n end
  return names
end

-- settings.resolve([opts]) -> table of every setting (opts > environment > default), plus
-- opts.config / opts.configs passed through; and a second table: name -> "option" | "env" |
-- "default". interpret = true and backend = "interpret" imply each other.
function settings.resolve(opts)
  if opts == nil then opts = {} end
  if type(opts) ~= "table" then
    diag.raise("kernel options must be a table, got " .. type(opts),
      {hint = 'e.g. helua.kernel(fn, {autotune_effort = "none"})'})
  end
  local out, source = {}, {}
  for k, v in pairs(opts) do
    if PASSTHROUGH[k] then
      out[k] = v
    elseif type(k) ~= "string" or not settings.by_name[k] then
      local name = tostring(k)
      diag.raise("unknown kernel option " .. name, {token = name, anchor = Config.anchor_for(name),
        hint = (type(k) == "string" and diag.did_you_mean(k, known_opts()) or nil) or
          ("kernel options are: " .. table.concat(known_opts(), ", "))})
    end
  end
  for _, s in ipairs(settings.list) do
    local v, from = opts[s.name], "option"
    if v ~= nil then
      local nv = from_opt(s, v)
      if nv == nil then
        diag.raise(string.format("kernel option %s = %s is not valid: expected %s", s.name,
          quote(v), expected(s)), {token = s.name, anchor = Config.anchor_for(s.name)})
      end
      v = nv
    else
      v, from = env_value(s), "env"
      if v == nil then v, from = default_of(s), "default" end
    end
    out[s.name], source[s.name] = v, from
  end
  if out.interpret then
    out.backend = "interpret"
  elseif out.backend == "interpret" then
    out.interpret = true
  end
  return out, source
end

-- settings.get(name) -> the value from the environment or the default (no opts).
function settings.get(name)
  local s = settings.by_name[name]
  if not s then
    diag.raise("unknown setting " .. tostring(name), {hint = diag.did_you_mean(tostring(name), known_opts())})
  end
  local v = env_value(s)
  if v == nil then v = default_of(s) end
  return v
end

local function show(v)
  if v == nil then return "unset" end
  return tostring(v)
end

-- Rows for a `helua --help`-style listing: {name, type, default, env, doc, value}; value is
-- what the environment sets now (nil when unset or invalid).
function settings.describe()
  local rows = {}
  for i, s in ipairs(settings.list) do
    local ok, v = pcall(env_value, s)
    rows[i] = {
      name = s.name,
      type = s.type == "enum" and table.concat(s.choices, "|") or
             s.type == "block_size" and "int|full" or s.type,
      default = s.default_text or show(s.default),
      env = s.env,
      doc = s.doc,
      value = ok and v or nil,
    }
  end
  return rows
end

-- The rows of describe() as aligned text lines.
function settings.format()
  local lines = {}
  for _, r in ipairs(settings.describe()) do
    lines[#lines + 1] = string.format("  %-18s %-26s %-22s %s (default: %s)", r.name, r.type,
      r.env or "(option only)", r.doc, r.default)
  end
  return table.concat(lines, "\n")
end

return settings
