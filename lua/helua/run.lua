-- Kernel files: loading one (the convention in share/doc/kernels.md), running its kernels, checking
-- them against the float64 reference, timing them; `helua run FILE`. Part of lua/helua (policy).
local helua = require "helua"
local core = require "helua.core"
local diag = require "helua.diag"
local settings = require "helua.settings"

local run = {}

local SHAPE_OF_A_FILE = [[
a kernel file must return a table like
  return {
    name = "matmul",
    kernels = {{name = "matmul", kernel = helua.kernel(function(x, y) ... end)}, ...},
    sizes = {default = {m = 1024, n = 1024, k = 1024}, small = {m = 64, n = 40, k = 48}},
    inputs = function(size, seed) return x, y end,      -- the kernel's arguments
    reference = function(x, y) return expected end,     -- compared in float64
    tolerance = {rtol = 1e-2, atol = 1e-2},
  }
(see share/doc/kernels.md)]]

local DEFAULT_TOLERANCE = {rtol = 1e-5, atol = 1e-6}

-- Errors about a kernel file or the command line: plain messages, reported without a traceback.
local function fail(fmt, ...) error(setmetatable({msg = string.format(fmt, ...)}, run.Error), 0) end
run.Error = {__tostring = function(e) return e.msg end}

local function sorted_keys(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = tostring(k) end
  table.sort(keys)
  return keys
end

local function is_callable(v)
  if type(v) == "function" then return true end
  local mt = getmetatable(v)
  return type(mt) == "table" and mt.__call ~= nil
end

-- ---- loading and validating a description ------------------------------------------------------

-- One entry of `kernels`, with the file-level fields filled in where the entry has none.
local function normalize_entry(desc, e, where)
  if type(e) ~= "table" then
    fail("%s: must be a table {name = ..., kernel = ...}, got a %s", where, type(e))
  end
  if type(e.name) ~= "string" or e.name == "" then fail("%s: needs a name (a string)", where) end
  where = where .. " (" .. e.name .. ")"
  if not is_callable(e.kernel) then
    fail("%s: `kernel` must be a kernel made with helua.kernel(function(...) ... end), got a %s",
         where, type(e.kernel))
  end
  local entry = {name = e.name, kernel = e.kernel}
  for _, field in ipairs({"inputs", "reference", "flops", "bytes"}) do
    local v = e[field]
    if v == nil then v = desc[field] end
    if v ~= nil and not is_callable(v) then
      fail("%s: `%s` must be a function, got a %s", where, field, type(v))
    end
    entry[field] = v
  end
  if not entry.inputs then
    fail("%s: no `inputs = function(size, seed) ... end` (in the entry or the file)", where)
  end
  if not entry.reference then
    fail("%s: no `reference = function(...) ... end` (in the entry or the file)", where)
  end
  local tol = e.tolerance or desc.tolerance or DEFAULT_TOLERANCE
  if type(tol) ~= "table" or type(tol.rtol or 0) ~= "number" or type(tol.atol or 0) ~= "number" then
    fail("%s: `tolerance` must be {rtol = number, atol = number}", where)
  end
  entry.tolerance = {rtol = tol.rtol or DEFAULT_TOLERANCE.rtol,
                     atol = tol.atol or DEFAULT_TOLERANCE.atol}
  return entry
end

-- Checks a value returned by a kernel file and gives it back normalized: kernels as an ordered
-- list of entries (a map name -> kernel is accepted too, in name order).
function run.describe(desc, path)
  path = path or "kernel file"
  if type(desc) ~= "table" then
    fail("%s returned %s, not a kernel description;\n%s", path,
         desc == nil and "nothing" or ("a " .. type(desc)), SHAPE_OF_A_FILE)
  end
  if type(desc.kernels) ~= "table" or next(desc.kernels) == nil then
    fail("%s: the description has no `kernels` list;\n%s", path, SHAPE_OF_A_FILE)
  end
  if type(desc.sizes) ~= "table" or type(desc.sizes.default) ~= "table" then
    fail("%s: the description needs `sizes = {default = {...}, small = {...}}`;\n%s", path,
         SHAPE_OF_A_FILE)
  end
  for name, s in pairs(desc.sizes) do
    if type(s) ~= "table" then
      fail("%s: sizes.%s must be a table of numbers", path, tostring(name))
    end
  end
  local entries = {}
  if #desc.kernels > 0 then
    for i, e in ipairs(desc.kernels) do
      entries[i] = normalize_entry(desc, e, string.format("%s: kernels[%d]", path, i))
    end
  else
    for _, name in ipairs(sorted_keys(desc.kernels)) do
      local e = desc.kernels[name]
      if is_callable(e) then e = {kernel = e} end
      if type(e) == "table" and e.name == nil then
        local copy = {name = name}
        for k, v in pairs(e) do copy[k] = v end
        e = copy
      end
      entries[#entries + 1] = normalize_entry(desc, e, string.format("%s: kernels.%s", path, name))
    end
  end
  local seen = {}
  for _, e in ipairs(entries) do
    if seen[e.name] then fail("%s: two kernels are named %s", path, e.name) end
    seen[e.name] = true
  end
  return {name = desc.name or path:match("([^/]+)%.lua$") or path, path = path, sizes = desc.sizes,
          entries = entries, raw = desc}
end

-- Loads and runs a kernel file; returns its normalized description.
function run.load(path)
  local f = io.open(path, "r")
  if not f then fail("cannot open %s (no such file or not readable)", path) end
  f:close()
  local chunk, err = loadfile(path)
  if not chunk then fail("%s", err) end
  local ok, desc = pcall(chunk)
  if not ok then error(desc, 0) end
  return run.describe(desc, path)
end

-- The kernel entries whose names are listed (comma-separated), in file order; all when nil.
function run.select(d, names)
  if names == nil then return d.entries end
  local by_name, all = {}, {}
  for _, e in ipairs(d.entries) do by_name[e.name] = e; all[#all + 1] = e.name end
  local picked = {}
  for name in names:gmatch("[^,]+") do
    if not by_name[name] then
      local hint = diag.did_you_mean(name, all)
      fail("%s has no kernel named %s%s; its kernels: %s", d.path, name,
           hint and (" (" .. hint .. ")") or "", table.concat(all, ", "))
    end
    picked[#picked + 1] = by_name[name]
  end
  return picked
end

-- ---- sizes ---------------------------------------------------------------------------------

-- A size from a spec: nil ("default"), a size name, "k=v,..." overriding the default, or a mix
-- ("small,m=64"). Returns a fresh table and a label for printing.
function run.size(d, spec)
  local base, overrides = "default", {}
  for token in (spec or "default"):gmatch("[^,]+") do
    local k, v = token:match("^%s*([%w_]+)%s*=%s*(.-)%s*$")
    if k then
      local n = tonumber(v)
      if not n or n ~= math.floor(n) or n < 1 then
        fail("--size %s: %s must be a positive integer", token, k)
      end
      overrides[#overrides + 1] = {k, math.tointeger(n)}
    else
      base = token:match("^%s*(.-)%s*$")
      if not d.sizes[base] then
        local names = sorted_keys(d.sizes)
        local hint = diag.did_you_mean(base, names)
        fail("%s has no size named %s%s; its sizes: %s (or k=v,... to override the default)",
             d.path, base, hint and (" (" .. hint .. ")") or "", table.concat(names, ", "))
      end
    end
  end
  local s = {}
  for k, v in pairs(d.sizes[base]) do s[k] = v end
  for _, kv in ipairs(overrides) do
    if s[kv[1]] == nil then
      local names = sorted_keys(s)
      local hint = diag.did_you_mean(kv[1], names)
      fail("%s: size %s has no dimension %s%s; its dimensions: %s", d.path, base, kv[1],
           hint and (" (" .. hint .. ")") or "", table.concat(names, ", "))
    end
    s[kv[1]] = kv[2]
  end
  return s, base
end

-- "m=1024 n=512" (names sorted).
function run.size_label(s)
  local parts = {}
  for _, k in ipairs(sorted_keys(s)) do parts[#parts + 1] = k .. "=" .. tostring(s[k]) end
  return table.concat(parts, " ")
end

-- ---- running and checking ------------------------------------------------------------------

local function pack(...) return {n = select("#", ...), ...} end

-- The kernel's arguments for a size and seed, as a packed list (nils kept).
function run.inputs(entry, size, seed)
  return pack(entry.inputs(size, seed))
end

-- The kernel an entry runs with under the command's options: opts.block_size (a number or
-- "full": interpret mode's block size for tiles the config does not fix), opts.interpret,
-- opts.config_file (tuned configs from JSON: helua.tune_json) and opts.backend ("cpu", "cuda",
-- ...: overrides the kernel's backend).
function run.kernel_for(entry, opts)
  local k = entry.kernel
  local bs, interp = opts and opts.block_size, opts and opts.interpret
  local cf = opts and opts.config_file
  local backend = opts and opts.backend
  if bs == nil and not interp and not cf and backend == nil then return k end
  return run.with_settings(k, {block_size = bs, backend = interp and "interpret" or backend,
                               config_file = cf})
end

-- Packed values with every tensor moved to the GPU (to = "cuda") or back to the host ("cpu").
function run.move(vals, to)
  local out = {n = vals.n}
  for i = 1, vals.n do
    local v = vals[i]
    if helua.is_tensor(v) and v.device ~= to then v = to == "cuda" and v:cuda() or v:cpu() end
    out[i] = v
  end
  return out
end

-- Calls the kernel on packed args (see run.kernel_for for opts). Returns its results, packed.
function run.call(entry, args, opts)
  return pack(run.kernel_for(entry, opts)(table.unpack(args, 1, args.n)))
end

-- k with some settings replaced: a kernel object over the same function, with the same
-- settings and configs otherwise (cached, so that repeated runs reuse its bound kernels).
local variants = setmetatable({}, {__mode = "k"})

function run.with_settings(k, changes)
  if not helua.is_kernel(k) then
    fail("--block-size and --interpret need kernels made with helua.kernel (this one is a %s)",
         type(k))
  end
  local names = {}
  for name in pairs(changes) do names[#names + 1] = name end
  table.sort(names)
  local key = {}
  for _, name in ipairs(names) do key[#key + 1] = name .. "=" .. tostring(changes[name]) end
  key = table.concat(key, ",")
  local per = variants[k]
  if not per then per = {}; variants[k] = per end
  if per[key] then return per[key] end
  -- only what the kernel was given explicitly: a setting resolved from its default or the
  -- environment stays that way (a copied default autotune_effort would turn tuning on)
  local opts = {}
  for name, v in pairs(k.settings) do
    local src = k.sources and k.sources[name]
    if src == nil or src == "option" then opts[name] = v end
  end
  for name, v in pairs(changes) do opts[name] = v end
  local v = helua.kernel(k.fn, opts)
  per[key] = v
  return v
end

function run.with_block_size(k, bs) return run.with_settings(k, {block_size = bs}) end

local F64 = helua.float64

local is_tensor = helua.is_tensor

-- A result value as a float64 tensor; numbers become 1-element tensors.
local function as_f64(v)
  if type(v) == "number" then return helua.tensor({v}, {dtype = F64}) end
  return v:to(F64)
end

local function shape_str(t)
  if type(t) == "number" then return "a number" end
  return "[" .. table.concat(t:shape(), ", ") .. "]"
end

local function same_shape(a, b)
  if type(a) == "number" or type(b) == "number" then
    local na = type(a) == "number" and 1 or a:numel()
    local nb = type(b) == "number" and 1 or b:numel()
    return na == nb
  end
  local sa, sb = a:shape(), b:shape()
  if #sa ~= #sb then return false end
  for i = 1, #sa do if sa[i] ~= sb[i] then return false end end
  return true
end

-- Compares kernel results with reference results. Returns a table:
-- {ok, max_abs, rel, message} (message set when the comparison itself could not be made).
function run.compare(got, want, tol)
  local function bad(fmt, ...) return {ok = false, message = string.format(fmt, ...)} end
  if got.n ~= want.n then
    return bad("the kernel returned %d value(s), the reference %d", got.n, want.n)
  end
  local res = {ok = true, max_abs = 0, rel = 0}
  for i = 1, got.n do
    local g, w = got[i], want[i]
    local function kind(v) return type(v) == "number" or is_tensor(v) end
    if not kind(g) or not kind(w) then
      return bad("result %d is a %s (kernel) / %s (reference), not a tensor", i, type(g), type(w))
    end
    if not same_shape(g, w) then
      return bad("result %d has shape %s, the reference %s", i, shape_str(g), shape_str(w))
    end
    local a, b = as_f64(g), as_f64(w)
    if type(g) == "number" or type(w) == "number" then a, b = a:reshape({-1}), b:reshape({-1}) end
    local max_abs, rel = helua.max_abs_err(a, b), helua.rel_err(a, b)
    local close = helua.allclose(a, b, {rtol = tol.rtol, atol = tol.atol})
    -- NaN compares false everywhere: keep it visible in the maxima.
    if max_abs ~= max_abs or max_abs > res.max_abs then res.max_abs = max_abs end
    if rel ~= rel or rel > res.rel then res.rel = rel end
    res.ok = res.ok and close
  end
  return res
end

local function errmsg(e)
  if type(e) == "string" then return e end
  return tostring(e)
end

-- Runs one entry on one size/seed and checks it. opts: block_size; cache (a table kept across
-- the entries of one size and seed: entries with the same `inputs` function share the inputs,
-- and with the same `reference` too, the expected results). Returns
-- {name, ok, max_abs, rel, message, args, got, want}; errors in the kernel become a failed result.
function run.check(entry, size, seed, opts)
  opts = opts or {}
  local cache = opts.cache
  local res = {name = entry.name}
  local args = cache and cache.inputs and cache.inputs[entry.inputs]
  if not args then
    local ok
    ok, args = pcall(run.inputs, entry, size, seed)
    if not ok then
      res.ok, res.message = false, "making the inputs failed: " .. errmsg(args)
      return res
    end
    if cache then
      cache.inputs = cache.inputs or {}
      cache.inputs[entry.inputs] = args
      cache.want = cache.want or {}
      cache.want[entry.inputs] = {}
    end
  end
  local dargs = opts.backend == "cuda" and run.move(args, "cuda") or args
  res.args, res.host_args = dargs, args
  local want = cache and cache.want[entry.inputs][entry.reference]
  if not want then
    local okw
    okw, want = pcall(function() return pack(entry.reference(table.unpack(args, 1, args.n))) end)
    if not okw then
      res.ok, res.message = false, "the reference failed: " .. errmsg(want)
      return res
    end
    if cache then cache.want[entry.inputs][entry.reference] = want end
  end
  local okg, got = pcall(run.call, entry, dargs, opts)
  if okg and dargs ~= args then okg, got = pcall(run.move, got, "cpu") end
  if not okg then
    res.ok, res.message = false, errmsg(got)
    return res
  end
  res.got, res.want = got, want
  local cmp = run.compare(got, want, entry.tolerance)
  res.ok, res.max_abs, res.rel, res.message = cmp.ok, cmp.max_abs, cmp.rel, cmp.message
  return res
end

-- ---- timing --------------------------------------------------------------------------------

-- The median of a list of numbers (xs is not changed; an empty list gives math.huge). The
-- tuner's parent and workers use it too.
local function median(xs)
  local s = {}
  for i, x in ipairs(xs) do s[i] = x end
  table.sort(s)
  local n = #s
  if n == 0 then return math.huge end
  if n % 2 == 1 then return s[(n + 1) // 2] end
  return (s[n // 2] + s[n // 2 + 1]) / 2
end
run.median = median

-- Median wall time of fn() over `repeats` calls, in milliseconds. Garbage (big temporaries that
-- Lua does not see the size of) is collected between calls, outside the timed region.
function run.time(fn, repeats)
  local samples = {}
  for i = 1, repeats do
    collectgarbage("collect")
    local t0 = core.clock()
    fn()
    samples[i] = (core.clock() - t0) * 1e3
  end
  collectgarbage("collect")
  return median(samples)
end

-- "12.3 GB/s" or "45.6 GFLOP/s" for an entry at a size and a time in ms; "-" when unknown.
function run.throughput(entry, size, ms)
  if ms <= 0 then return "-" end
  if entry.flops then
    return string.format("%.2f GFLOP/s", entry.flops(size) / (ms * 1e6))
  elseif entry.bytes then
    return string.format("%.2f GB/s", entry.bytes(size) / (ms * 1e6))
  end
  return "-"
end

-- ---- the command -----------------------------------------------------------------------------

run.USAGE = [[
usage: helua run FILE [options]

Loads a kernel file (kernels/*.lua; see share/doc/kernels.md), runs each of its kernels on the
file's example inputs, checks the results against the float64 reference, and prints a timing
table. Exits with 0 only when every check passes.

options:
  --size NAME|k=v,...   a size from the file's `sizes` (default: "default"), or overrides of the
                        default size's dimensions, e.g. --size m=256,n=512 or --size small,m=64
  --kernel NAME[,NAME]  run only these kernels of the file
  --block-size N|full   interpret-mode block size for tiles the config does not fix
  --repeat N            timed runs per kernel; the table shows the median (default 3)
  --seed N              seed for the example inputs (default 0)
  --interpret           run in interpret mode (eagerly, tile by tile) instead of compiled
  --configs PATH        use the tuned configs of a JSON file (Helion's Config format, or a file
                        of helua tune --export-json) for kernels with no config
  --backend NAME        auto, interpret, cpu or cuda (cuda moves the inputs to the GPU and
                        checks the results back on the host)
  -h, --help            this text
]]

-- Converters for option values: each returns the value or fails naming the flag.
function run.int_option(min, what)
  return function(v, flag)
    local n = math.tointeger(tonumber(v))
    if not n or n < min then fail("%s must be a %s integer, got %s", flag, what, v) end
    return n
  end
end

-- Parses a command's arguments (argv: the words after the command) against spec:
--   command  = "run" (for messages), defaults = {...} (copied into the result),
--   switches = {["--flag"] = key} (sets key = true),
--   values   = {["--flag"] = key | {key, convert(v, flag)}} (--flag V or --flag=V).
-- One positional FILE; -h/--help sets help. Unknown flags fail with a did-you-mean.
function run.parse_command_args(argv, spec)
  local o = {}
  for k, v in pairs(spec.defaults or {}) do o[k] = v end
  local switches, values = spec.switches or {}, spec.values or {}
  local i = 1
  while i <= #argv do
    local a = argv[i]
    local flag, inline = a:match("^(%-%-[%w-]+)=(.*)$")
    flag = flag or a
    if flag == "-h" or flag == "--help" then
      o.help = true
    elseif switches[flag] then
      o[switches[flag]] = true
    elseif values[flag] then
      local v = inline
      if v == nil then
        i = i + 1
        v = argv[i]
        if v == nil then fail("%s needs a value (see helua %s --help)", flag, spec.command) end
      end
      local target = values[flag]
      if type(target) == "table" then
        o[target[1]] = target[2](v, flag)
      else
        o[target] = v
      end
    elseif a:sub(1, 1) == "-" and a ~= "-" then
      local flags = {"--help"}
      for f in pairs(switches) do flags[#flags + 1] = f end
      for f in pairs(values) do flags[#flags + 1] = f end
      table.sort(flags)
      local hint = diag.did_you_mean(flag, flags)
      fail("unknown option %s%s (see helua %s --help)", flag, hint and (": " .. hint) or "",
           spec.command)
    else
      if o.file then fail("helua %s takes one FILE, got %s and %s", spec.command, o.file, a) end
      o.file = a
    end
    i = i + 1
  end
  return o
end

local function block_size_option(v, flag)
  local n = math.tointeger(tonumber(v))
  if v ~= "full" and not (n and n >= 1) then
    fail("%s must be a positive integer or full, got %s", flag, v)
  end
  return v == "full" and "full" or n
end

local function backend_option(v, flag)
  if v ~= "auto" and v ~= "interpret" and v ~= "cpu" and v ~= "cuda" then
    fail("%s must be auto, interpret, cpu or cuda, got %s", flag, v)
  end
  return v
end

-- Parses the arguments after `run`. Returns an options table (opts.help when help was asked).
function run.parse_args(argv)
  return run.parse_command_args(argv, {
    command = "run",
    defaults = {repeats = 3, seed = 0},
    switches = {["--interpret"] = "interpret"},
    values = {["--size"] = "size", ["--kernel"] = "kernel", ["--configs"] = "config_file",
              ["--backend"] = {"backend", backend_option},
              ["--block-size"] = {"block_size", block_size_option},
              ["--repeat"] = {"repeats", run.int_option(1, "positive")},
              ["--seed"] = {"seed", run.int_option(0, "non-negative")}},
  })
end

local function fmt_err(x)
  if x == nil then return "-" end
  if x ~= x then return "nan" end
  return string.format("%.2e", x)
end

local function pad(s, w) return s .. string.rep(" ", math.max(0, w - #s)) end
local function lpad(s, w) return string.rep(" ", math.max(0, w - #s)) .. s end

-- Prints the check results and the timing table for the selected entries. Returns the exit code.
local function run_file(o, out)
  if o.config_file then -- a malformed file is one clear error, not one per kernel
    local doc, err = require("helua.tune_json").read(o.config_file)
    if not doc then fail("--configs: %s", err) end
  end
  local d = run.load(o.file)
  local entries = run.select(d, o.kernel)
  local size, size_name = run.size(d, o.size)
  local width = 6
  for _, e in ipairs(entries) do width = math.max(width, #e.name) end
  local bs = o.block_size and tostring(o.block_size)
  if not bs then
    local ok, env = pcall(settings.get, "block_size")
    bs = ok and env and (tostring(env) .. " (HELUA_BLOCK_SIZE)") or "default"
  end
  local kernel = require "helua.kernel"
  local call_opts = {block_size = o.block_size, interpret = o.interpret,
                     config_file = o.config_file, backend = o.backend}
  local function mode_of(e)
    local k = run.kernel_for(e, call_opts)
    return helua.is_kernel(k) and kernel.mode(k.settings) or "interpret"
  end
  local mode = mode_of(entries[1])
  if mode ~= "interpret" then bs = "from the config" end
  out(string.format("%s: %s, size %s (%s), seed %d, %s mode, block size %s\n",
                    o.file, d.name, size_name, run.size_label(size), o.seed, mode, bs))
  out("check against the float64 reference:\n")
  local results, all_ok, cache = {}, true, {}
  for _, e in ipairs(entries) do
    local r = run.check(e, size, o.seed, {block_size = o.block_size, interpret = o.interpret,
                                          config_file = o.config_file, backend = o.backend,
                                          cache = o.backend ~= "cuda" and cache or nil})
    results[#results + 1] = r
    all_ok = all_ok and r.ok
    out(string.format("  %s  max abs err %s  rel err %s  (rtol %g, atol %g)  %s\n",
                      pad(e.name, width),
                      fmt_err(r.max_abs), fmt_err(r.rel), e.tolerance.rtol, e.tolerance.atol,
                      r.ok and "PASS" or "FAIL"))
    if r.message then out("    " .. r.message:gsub("\n", "\n    ") .. "\n") end
    collectgarbage("collect")
  end
  out(string.format("\ntiming (median of %d run%s after the checked one):\n", o.repeats,
                    o.repeats == 1 and "" or "s"))
  out(string.format("  %s  %-9s  %10s  %16s  %12s\n", pad("kernel", width), "mode", "median ms",
                    "throughput", "reference ms"))
  for i, e in ipairs(entries) do
    local r = results[i]
    if r.args and r.got then
      local args = r.args
      local sync = o.backend == "cuda" and helua.cuda.synchronize or function() end
      local ms = run.time(function() run.call(e, args, call_opts); sync() end, o.repeats)
      local hargs = r.host_args or args
      local ref_ms = run.time(function() e.reference(table.unpack(hargs, 1, hargs.n)) end, o.repeats)
      out(string.format("  %s  %-9s  %10.2f  %16s  %12.2f\n", pad(e.name, width), mode_of(e), ms,
                        run.throughput(e, size, ms), ref_ms))
    else
      out(string.format("  %s  %-9s  %10s  %16s  %12s\n", pad(e.name, width), mode_of(e), "error",
                        "-", "-"))
    end
    r.args, r.host_args, r.got, r.want = nil, nil, nil, nil
    collectgarbage("collect")
  end
  cache = nil
  local failed = 0
  for _, r in ipairs(results) do if not r.ok then failed = failed + 1 end end
  if failed > 0 then
    out(string.format("\n%d of %d kernel(s) FAILED the check\n", failed, #results))
  end
  return all_ok and 0 or 1
end

-- A command's main: parses argv, answers --help, requires FILE, runs body(o, out); errors go to
-- stderr as "helua NAME: message" without a traceback. Returns the exit code.
function run.command_main(name, argv, parse, usage, body)
  local function out(s) io.stdout:write(s); io.stdout:flush() end
  local ok, res = pcall(function()
    local o = parse(argv)
    if o.help then out(usage); return 0 end
    if not o.file then
      fail("missing FILE: helua %s FILE [options] (see helua %s --help)", name, name)
    end
    return body(o, out)
  end)
  if ok then return res end
  io.stderr:write("helua " .. name .. ": " .. errmsg(res) .. "\n")
  return 1
end

-- `helua run ...`: argv holds the arguments after "run". Returns the exit code.
function run.main(argv)
  return run.command_main("run", argv, run.parse_args, run.USAGE, run_file)
end

return run
