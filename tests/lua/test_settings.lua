-- helua.settings: declarations, precedence (opts > HELUA_* environment > default), errors.
-- Part of tests/lua. Environment cases run the helua binary (arg[-1]) in a sub-process.
package.path = arg[0]:match("(.*/)") .. "?.lua;" .. package.path
local T = require "testing"
local settings = require "helua.settings"
local core = require "helua.core"

local BIN = arg[-1]

local function shell_quote(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

-- Runs `code` in a fresh helua with every setting's variable unset, then `env` ("K=V ...") set.
-- Returns the combined output and the exit status.
local function run(env, code)
  local unset = {}
  for _, s in ipairs(settings.list) do
    if s.env then unset[#unset + 1] = "-u " .. s.env end
  end
  local cmd = string.format("env %s %s %s -e %s 2>&1", table.concat(unset, " "), env,
    shell_quote(BIN), shell_quote(code))
  local p = assert(io.popen(cmd))
  local out = p:read("a")
  local _, _, rc = p:close()
  return out, rc
end

-- Prints name=value for every resolved setting, sorted, one line.
local DUMP = [[
local r, src = require("helua.settings").resolve(%s)
local keys = {}
for k in pairs(r) do keys[#keys + 1] = k end
table.sort(keys)
for i, k in ipairs(keys) do keys[i] = k .. "=" .. tostring(r[k]) .. "/" .. tostring(src[k]) end
io.write(table.concat(keys, " "))
]]

local function resolved(env, opts)
  local out, rc = run(env, DUMP:format(opts or "nil"))
  T.eq(rc, 0, "exit status (output: " .. out .. ")")
  local t = {}
  for k, v, src in out:gmatch("(%S+)=(%S*)/(%S+)") do t[k] = v .. "/" .. src end
  return t
end

T.test("defaults", function()
  local r = resolved("HOME=/home/u XDG_CACHE_HOME=")
  T.eq(r.autotune_effort, "quick/default", "autotune_effort")
  T.eq(r.print_output_code, "false/default", "print_output_code")
  T.eq(r.interpret, "false/default", "interpret")
  T.eq(r.force_autotune, "false/default", "force_autotune")
  T.eq(r.logs, "/default", "logs")
  T.eq(r.backend, "auto/default", "backend")
  T.eq(r.cache_dir, "/home/u/.cache/helua/default", "cache_dir from HOME")
  T.eq(r.block_size, nil, "block_size unset")
  T.eq(r.static_shapes, "true/default", "static_shapes")
  T.eq(resolved("XDG_CACHE_HOME=/xdg").cache_dir, "/xdg/helua/default", "cache_dir from XDG_CACHE_HOME")
end)

T.test("environment over defaults, options over environment", function()
  local env = "HELUA_AUTOTUNE_EFFORT=full HELUA_PRINT_OUTPUT_CODE=yes HELUA_FORCE_AUTOTUNE=1 " ..
    "HELUA_LOGS=tune,compile HELUA_BACKEND=CPU HELUA_CACHE_DIR=/c HELUA_BLOCK_SIZE=32"
  local r = resolved(env)
  T.eq(r.autotune_effort, "full/env", "effort from env")
  T.eq(r.print_output_code, "true/env", "yes is true")
  T.eq(r.force_autotune, "true/env", "1 is true")
  T.eq(r.logs, "tune,compile/env", "logs")
  T.eq(r.backend, "cpu/env", "enum values are case-insensitive in env")
  T.eq(r.cache_dir, "/c/env", "cache_dir")
  T.eq(r.block_size, "32/env", "block_size")
  r = resolved(env, '{autotune_effort = "none", print_output_code = false, backend = "cuda", block_size = "full"}')
  T.eq(r.autotune_effort, "none/option", "option wins")
  T.eq(r.print_output_code, "false/option", "false option wins over env true")
  T.eq(r.backend, "cuda/option", "backend option")
  T.eq(r.block_size, "full/option", "block_size option")
  T.eq(r.force_autotune, "true/env", "env still applies to the rest")
end)

T.test("boolean words", function()
  local words = {["1"] = "true", ["0"] = "false", ["true"] = "true", ["FALSE"] = "false",
                 yes = "true", no = "false", On = "true", off = "false"}
  for w, want in pairs(words) do
    T.eq(resolved("HELUA_FORCE_AUTOTUNE=" .. w).force_autotune, want .. "/env", w)
  end
end)

T.test("interpret and backend = interpret imply each other", function()
  local r = resolved("HELUA_INTERPRET=1", '{backend = "cpu"}')
  T.eq(r.interpret, "true/env", "interpret")
  T.eq(r.backend, "interpret/option", "HELUA_INTERPRET=1 forces the interpret backend")
  r = resolved("HELUA_BACKEND=interpret")
  T.eq(r.interpret, "true/default", "backend interpret sets interpret")
  local opts = settings.resolve({interpret = true, backend = "cuda"})
  T.eq(opts.backend, "interpret", "interpret option")
end)

T.test("bad environment values name the variable and the accepted values", function()
  local cases = {
    {"HELUA_AUTOTUNE_EFFORT=fast", "HELUA_AUTOTUNE_EFFORT=fast is not valid: expected one of none, quick, full"},
    {"HELUA_INTERPRET=maybe", "HELUA_INTERPRET=maybe is not valid: expected 1, 0, true, false, yes or no"},
    {"HELUA_BACKEND=gpu", "HELUA_BACKEND=gpu is not valid: expected one of auto, interpret, cpu, cuda"},
    {"HELUA_BLOCK_SIZE=0", 'HELUA_BLOCK_SIZE=0 is not valid: expected a positive integer or "full"'},
    {"HELUA_BLOCK_SIZE=8.5", "HELUA_BLOCK_SIZE=8.5 is not valid"},
  }
  for _, c in ipairs(cases) do
    local out, rc = run(c[1], 'require("helua.settings").resolve()')
    T.truthy(rc ~= 0, c[1] .. " fails")
    T.truthy(out:find(c[2], 1, true), c[1] .. " message: " .. out)
    T.truthy(out:find("hint: fix or unset the environment variable", 1, true), c[1] .. " hint")
  end
  local out = run("HELUA_AUTOTUNE_EFFORT=bogus", 'print(require("helua.settings").get("logs"))')
  T.eq(out, "\n", "other settings still readable")
end)

T.test("options: unknown names and bad values", function()
  T.raises(function() settings.resolve({autotune_efort = "full"}) end, "unknown kernel option autotune_efort",
    "did you mean autotune_effort?")
  T.raises(function() settings.resolve({zzz = 1}) end, "unknown kernel option zzz", "kernel options are:",
    "config, configs")
  T.raises(function() settings.resolve({[1] = true}) end, "unknown kernel option 1")
  T.raises(function() settings.resolve({interpret = 1}) end, "kernel option interpret = 1 is not valid: expected true or false")
  T.raises(function() settings.resolve({autotune_effort = "max"}) end,
    'autotune_effort = "max" is not valid: expected one of none, quick, full')
  T.raises(function() settings.resolve({block_size = -4}) end, 'expected a positive integer or "full"')
  T.raises(function() settings.resolve({cache_dir = ""}) end, "expected a non-empty path")
  T.raises(function() settings.resolve({logs = false}) end, "logs = false is not valid: expected a string")
  T.raises(function() settings.resolve("quick") end, "kernel options must be a table, got string")
  T.raises(function() settings.get("effort") end, "unknown setting effort")
  local ok, err = pcall(function()
    local r = settings.resolve({
      static_shapes = "yes",
    })
    return r
  end)
  T.truthy(not ok and err.line == debug.getinfo(1, "l").currentline - 4, "anchored at the option's line")
end)

T.test("config and configs pass through untouched", function()
  local cfg, list = {num_warps = 4}, {{}, {}}
  local r = settings.resolve({config = cfg, configs = list, static_shapes = false, block_size = 16.0})
  T.eq(r.config, cfg, "config")
  T.eq(r.configs, list, "configs")
  T.eq(r.static_shapes, false, "static_shapes option")
  T.eq(math.type(r.block_size), "integer", "integral block size")
  T.eq(settings.resolve().config, nil, "absent config")
end)

T.test("every setting is declared, documented, and its variable exists in flags.def", function()
  local flags = {}
  for _, f in ipairs(core.flags()) do flags[f.name] = f end
  local names = {}
  for _, row in ipairs(settings.describe()) do
    names[row.name] = true
    T.truthy(#row.doc > 0 and #row.type > 0 and row.default, row.name .. " described")
    if row.env then T.truthy(flags[row.env], row.env .. " declared in src/base/flags.def") end
  end
  for _, n in ipairs({"autotune_effort", "print_output_code", "interpret", "force_autotune", "logs",
                      "backend", "cache_dir", "block_size", "static_shapes"}) do
    T.truthy(names[n], n .. " listed")
  end
  local text = settings.format()
  T.truthy(text:find("HELUA_AUTOTUNE_EFFORT", 1, true) and text:find("(option only)", 1, true), "format")
  for _, effort in ipairs(settings.by_name.autotune_effort.choices) do
    T.truthy(settings.effort_profiles[effort], "effort profile " .. effort)
  end
end)

T.done()
