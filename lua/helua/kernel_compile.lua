-- Compiled bound kernels: variants, config tables, compiles, launches, cached calls, code stages
-- (bk:code, config_spec, default_config). Part of lua/helua (policy; kernel.lua's compiled half).
--
-- kernel.lua calls this module's function once with its module table M, the BoundKernel class
-- and its private helpers; the function adds the compiled half's fields and methods to them.
local active = require "helua.active"
local core = require "helua.core"
local diag = require "helua.diag"

local next, pairs, select, xpcall = next, pairs, select, xpcall -- (the cached call reads them)
local stack, pop = active.stack, active.pop

return function(M, Bound, priv)
  local config_module, needs_compiler = priv.config_module, priv.needs_compiler
  local to_config = M.to_config

  -- Counts for tests and benchmarks: traces run, kernels compiled, compiled launches (and of
  -- those, the ones that took the cached call's fast path, ck:launch_frame).
  M.stats = {traces = 0, compiles = 0, launches = 0, fast_launches = 0}

  M.STAGES = {"ir", "lowered", "llvm", "asm", "ptx", "triton"}
  local CUDA_STAGES = {}

  local function clean(msg) return (tostring(msg):gsub("^[^\n]-:%d+: ", "", 1)) end

  -- The value a dep (a config value the trace read in host code) has under cfg.
  local function dep_value(d, cfg)
    local v
    if cfg then
      if d.kind == "tunable" then v = cfg:get(d.name)
      else
        local bs = cfg:get("block_sizes")
        v = bs and bs[d.slot + 1]
      end
    end
    if v == nil then v = d.default end
    return v
  end

  local function deps_match(v, cfg)
    for _, d in ipairs(v.deps) do
      if dep_value(d, cfg) ~= d.value then return false end
    end
    return true
  end

  local function contiguous(sizes, strides)
    local expect = 1
    for i = #sizes, 1, -1 do
      if sizes[i] ~= 1 and strides[i] ~= expect then return false end
      expect = expect * sizes[i]
    end
    return true
  end

  -- The compile target of a trace: "cuda" for backend cuda, or for backend auto when a tensor
  -- argument is on the GPU; else "cpu".
  local function variant_target(settings, run)
    if settings.backend == "cuda" then return "cuda" end
    if settings.backend ~= "auto" then return "cpu" end
    for _, a in ipairs(run.args) do
      if a.tensor and a.tensor.device == "cuda" then return "cuda" end
    end
    return "cpu"
  end

  -- Keeps what a finished trace run recorded as a variant of this bound kernel.
  function Bound:_add_variant(run)
    local trace = require "helua.trace"
    local v = {func = run.func, args = {}, deps = run.deps, registered = run.registered,
               tunables = run.tunables, upvals = {}, compiled = {},
               target = variant_target(self.kernel.settings, run)}
    local nparams = debug.getinfo(self.kernel.fn, "u").nparams
    local static = self.kernel.settings.static_shapes ~= false -- the key has every param's layout
    for i, a in ipairs(run.args) do
      local loc = a.loc
      v.args[i] = {loc = loc, aliases = #a.aliases > 0 and a.aliases or nil, dtype = a.dtype,
                   sizes = a.sizes, strides = a.strides,
                   contiguous = contiguous(a.sizes, a.strides),
                   param = static and loc.kind == "local" and loc.field == nil and loc.i <= nparams
                     and loc.i or nil}
    end
    for _, u in ipairs(trace.upvalues(self.kernel.fn)) do
      local t = type(u.v)
      if t == "number" or t == "boolean" or t == "string" then v.upvals[#v.upvals + 1] = u end
    end
    local list = self.variants
    table.insert(list, 1, v)
    if #list > 8 then list[#list] = nil end
    return v
  end

  -- Runs the kernel function with tracing. With launch_it, the trace is compiled for cfg and
  -- launched when it ends (so that host code after the loops sees the results); otherwise the
  -- call only records the trace (its results are not computed). Returns the packed results.
  function Bound:_trace(cfg, launch_it, ...)
    local k = self.kernel
    local trace = require "helua.trace"
    local run = trace.begin_run({fn = k.fn, config = cfg, settings = k.settings,
                                 line_hook = k.line_hook})
    local anchor = diag.user_frame(2) or {} -- {}: no kernel line (a config from the command line)
    run.on_finish = function(r)
      r.slots = r.func and r.func:block_slots() or {}
      if cfg then M.check_config_fits(cfg, r, anchor) end
      local v = self:_add_variant(r)
      if launch_it and v.func then
        local args = {}
        for i, a in ipairs(r.args) do args[i] = a.tensor end
        self:_launch(v, cfg, args)
      end
    end
    M.stats.traces = M.stats.traces + 1
    active.push(run)
    local res = table.pack(xpcall(k.fn, M.on_error, ...))
    if res[1] and not run.finished then
      local ok, e = xpcall(trace.finish, M.on_error, run)
      if not ok then res = {false, e, n = 2} end
    end
    trace.end_run(run)
    active.pop(run)
    if not res[1] then error(res[2], 0) end
    return res
  end

  -- The variant whose config-dependent values match cfg, tracing one (with the arguments of
  -- k:bind) when there is none.
  function Bound:_variant(cfg)
    for _, v in ipairs(self.variants) do
      if deps_match(v, cfg) then return v end
    end
    if not self.args then
      diag.raise("this bound kernel has no arguments to trace with", {
        hint = "bind it with arguments: k:bind(x, y):code(...)",
      })
    end
    self:_trace(cfg, false, table.unpack(self.args, 1, self.args.n))
    return self.variants[1]
  end

  -- The config space of a variant (core.config_space), or nil in a build without one.
  -- target: "cpu" or "cuda" (default: the variant's).
  function Bound:_space(v, target)
    target = target or v.target or "cpu"
    v.spaces = v.spaces or {}
    if v.spaces[target] == nil then
      v.spaces[target] = (core.config_space and v.func and core.config_space(v.func, target))
        or false
    end
    return v.spaces[target] or nil
  end

  -- The plain table of Helion fields a variant compiles with for cfg: the space's default,
  -- cfg's fields over it, and the values the trace baked in (tunables, block sizes used as
  -- numbers by host code).
  function Bound:_config_table(v, cfg, target)
    local space = self:_space(v, target)
    local tbl = space and space:default() or {}
    if cfg then
      for name, val in pairs(cfg:to_table()) do tbl[name] = val end
    end
    local tunable_deps = false
    for _, d in ipairs(v.deps) do
      if d.kind == "tunable" then
        tbl[d.name] = d.value
        tunable_deps = true
      else
        tbl.block_sizes = tbl.block_sizes or {}
        tbl.block_sizes[d.slot + 1] = d.value
      end
    end
    -- A trace that depends on a tunable (matmul_split_k's k_block) has slot ranges that depend on
    -- it too: a config drawn from another value's space may not fit; its block sizes are clamped.
    local bs = tunable_deps and type(tbl.block_sizes) == "table" and tbl.block_sizes
    if bs then
      for i, slot in ipairs(v.func:block_slots()) do
        local b = bs[i]
        if type(b) == "number" and slot.max > 0 then
          bs[i] = math.max(slot.min, math.min(b, slot.max))
        end
      end
    end
    if space then
      local ok, full = pcall(space.check, space, tbl)
      if not ok then
        if diag.is_error(full) then error(full, 0) end
        diag.raise("the config does not fit the kernel (" .. self.kernel.name .. "): "
          .. clean(full):gsub("^config: ", ""), {
          hint = "bk:config_spec():describe() lists the fields and their ranges",
        })
      end
      tbl = full
    end
    -- the dot_precision setting travels with the config to the lowering (not a tuned knob)
    if self.kernel.settings and self.kernel.settings.dot_precision == "tf32" then
      tbl.dot_precision = "tf32"
    end
    return tbl
  end

  local function config_text(tbl)
    local ok, cfg = pcall(config_module().new, tbl)
    return ok and cfg:to_lua() or "(config)"
  end

  local function print_code(bound, v, ck, tbl)
    local out = {string.format("-- helua: compiled %s with %s\n", bound.kernel.name,
                               config_text(tbl)), v.func:text()}
    for _, stage in ipairs({v.target == "cuda" and "ptx" or "llvm"}) do
      local ok, text = pcall(ck.code, ck, stage)
      if ok and type(text) == "string" then
        out[#out + 1] = "-- " .. stage .. "\n" .. text .. (text:sub(-1) == "\n" and "" or "\n")
      end
    end
    io.stderr:write(table.concat(out))
    io.stderr:flush()
  end

  -- The compiled kernel of variant v for cfg (compiled on first use) for target (default: the
  -- variant's).
  function Bound:_compiled(v, cfg, target)
    target = target or v.target or "cpu"
    local key = target .. ":" .. (cfg and cfg:key() or "")
    local ck = v.compiled[key]
    if ck then return ck end
    if not core.compile then needs_compiler("a compiled run") end
    local tbl = self:_config_table(v, cfg, target)
    local ok, r = pcall(core.compile, v.func, tbl, target)
    if not ok then
      if diag.is_error(r) then error(r, 0) end
      diag.raise("cannot compile " .. self.kernel.name .. " with " .. config_text(tbl) .. ": "
        .. clean(r), {hint = "HELUA_INTERPRET=1 runs the kernel eagerly (interpret mode)"})
    end
    M.stats.compiles = M.stats.compiles + 1
    v.compiled[key] = r
    if self.kernel.settings.print_output_code then print_code(self, v, r, tbl) end
    return r
  end

  -- Launches variant v compiled for cfg on args (host tensors in IR argument order).
  -- (The compiled kernel per config object is remembered on the variant: this runs every call.)
  local NO_CONFIG = {}
  local function launch_ck(self, v, cfg)
    local by_cfg = v.launch_ck
    if not by_cfg then
      by_cfg = setmetatable({}, {__mode = "k"})
      v.launch_ck = by_cfg
    end
    local ck = by_cfg[cfg or NO_CONFIG]
    if not ck then
      ck = self:_compiled(v, cfg)
      by_cfg[cfg or NO_CONFIG] = ck
    end
    return ck
  end

  -- Raises a launch's error as a diagnostic.
  function Bound:_launch_failed(err)
    if diag.is_error(err) then error(err, 0) end
    diag.raise("launching " .. self.kernel.name .. " failed: " .. clean(err))
  end

  function Bound:_launch(v, cfg, args)
    local ck = launch_ck(self, v, cfg)
    local ok, err = pcall(ck.launch, ck, args)
    if not ok then self:_launch_failed(err) end
    M.stats.launches = M.stats.launches + 1
  end

  -- What trace_launch.lua's fast path launches variant v with for cfg: {cfg, ck, launch_frame
  -- (ck:launch_frame: the arguments read from the kernel function's frame), plan, checks (the
  -- trace has upvalues or config values to check first), stats (M.stats: launches and
  -- fast_launches count these)}; false when the compiled kernel has no launch_frame.
  function Bound:_fast_launcher(v, cfg, plan, checks)
    local ck = launch_ck(self, v, cfg)
    if not ck.launch_frame then return false end
    return {cfg = cfg, ck = ck, launch_frame = ck.launch_frame, plan = plan, checks = checks,
            stats = M.stats}
  end

  -- A call that traces (the first of a key, or one no trace fits).
  function Bound:_traced_call(cfg, ...)
    local res = self:_trace(cfg, true, ...)
    self.runs = self.runs + 1
    return table.unpack(res, 2, res.n)
  end

  local L -- helua.trace_launch, loaded on the first compiled call

  -- After a cached call's kernel function returned or raised: its results, or a traced call when
  -- no trace fitted it (L.RETRACE). Varargs, not a packed table: this runs every call.
  -- A cached call that failed: a trace that no longer fits (L.RETRACE) traces again with the
  -- call's arguments (taken out of the run's list); any other error is raised.
  local function retrace_or_raise(bound, cfg, passed, n, err)
    local args = table.pack(table.unpack(passed, 1, n))
    for i = 1, n do passed[i] = nil end
    if err ~= L.RETRACE then error(err, 0) end
    return bound:_traced_call(cfg, table.unpack(args, 1, args.n))
  end

  local function relaunched(self, run, cfg, ok, ...)
    local top = #stack
    if stack[top] == run then stack[top] = nil else pop(run) end
    self.launch_run = run
    local passed, n = run.passed, run.npassed
    if ok then
      if n <= 3 then
        passed[1], passed[2], passed[3] = nil, nil, nil
      else
        for i = 1, n do passed[i] = nil end
      end
      self.runs = self.runs + 1
      return ...
    end
    return retrace_or_raise(self, cfg, passed, n, ...)
  end

  -- A cached compiled call: host code runs, the first device loop launches (trace_launch.lua).
  -- The run table (with its list of the call's arguments) is reused between calls; a kernel
  -- called from its own host code gets a fresh one.
  function Bound:_relaunch(cfg, ...)
    L = L or require "helua.trace_launch"
    local run = L.begin_run(self.launch_run, self, cfg)
    self.launch_run = nil -- in use
    local passed, n = run.passed, select("#", ...)
    if n <= 3 then
      passed[1], passed[2], passed[3] = ...
    else
      for i = 1, n do passed[i] = select(i, ...) end
    end
    run.npassed = n
    stack[#stack + 1] = run -- active.push
    return relaunched(self, run, cfg, xpcall(self.kernel.fn, M.on_error, ...))
  end

  -- The settled cached call of this bound kernel for cfg (kernel.lua's k(...) calls it once the
  -- config is settled): _relaunch's work with everything it reads held in upvalues and one run
  -- table of its own. A call that comes in while it runs (the kernel called from its own host
  -- code) takes _relaunch.
  function Bound:_fast_caller(cfg)
    L = L or require "helua.trace_launch"
    local bound, fn, on_error = self, self.kernel.fn, M.on_error
    local run = L.begin_run(nil, self, cfg)
    local passed, tunables = run.passed, run.tunables
    local busy = false
    local function finish(n, ok, ...)
      local top = #stack
      if stack[top] == run then stack[top] = nil else pop(run) end
      busy = false
      if ok then
        if n <= 3 then
          passed[1], passed[2], passed[3] = nil, nil, nil
        else
          for i = 1, n do passed[i] = nil end
        end
        bound.runs = bound.runs + 1
        return ...
      end
      return retrace_or_raise(bound, cfg, passed, n, ...)
    end
    return function(...)
      if busy then return bound:_relaunch(cfg, ...) end
      busy = true
      run.launched, run.nreg = false, 0
      if next(tunables) ~= nil then
        for name in pairs(tunables) do tunables[name] = nil end
      end
      local n = select("#", ...)
      if n <= 3 then
        passed[1], passed[2], passed[3] = ...
      else
        for i = 1, n do passed[i] = select(i, ...) end
      end
      run.npassed = n
      stack[#stack + 1] = run -- active.push
      return finish(n, xpcall(fn, on_error, ...))
    end
  end

  function Bound:_run_compiled(cfg, ...)
    if #self.variants > 0 then return self:_relaunch(cfg, ...) end
    return self:_traced_call(cfg, ...)
  end

  -- The cuda config table core.triton renders variant v with for cfg: cfg's fields (the rest take
  -- the cuda space's defaults) and the values the trace baked in, as Bound:_config_table does.
  local function triton_table(v, cfg)
    local tbl = cfg and cfg:to_table() or {}
    local tunable_deps = false
    for _, d in ipairs(v.deps) do
      if d.kind == "tunable" then
        tbl[d.name] = d.value
        tunable_deps = true
      else
        tbl.block_sizes = tbl.block_sizes or core.config_space(v.func, "cuda"):default().block_sizes
        tbl.block_sizes[d.slot + 1] = d.value
      end
    end
    -- A trace that depends on a tunable has slot ranges that depend on it too: block sizes drawn
    -- from another value's space that do not fit this one's take its defaults.
    if tunable_deps and tbl.block_sizes then
      local space = core.config_space(v.func, "cuda")
      if not pcall(space.check, space, tbl) then
        tbl.block_sizes = space:default().block_sizes
        for _, d in ipairs(v.deps) do
          if d.kind ~= "tunable" then tbl.block_sizes[d.slot + 1] = d.value end
        end
      end
    end
    return tbl
  end

  -- bk:code([cfg,] stage): the code of a stage for cfg (nil: the config a call would use).
  -- "ir" is the traced tile IR; "lowered", "llvm" and "asm" come from the compiled kernel;
  -- "triton" is Triton Python for the cuda config (core.triton: fields cfg leaves out take the
  -- cuda space's defaults; share/doc/triton.md).
  function Bound:code(cfg, stage)
    if type(cfg) == "string" and stage == nil then cfg, stage = nil, cfg end
    stage = stage or "ir"
    local known = false
    for _, s in ipairs(M.STAGES) do known = known or s == stage end
    if not known then
      local hint = CUDA_STAGES[stage]
        and ("stage " .. stage .. " belongs to the cuda target, which is not built yet")
        or diag.did_you_mean(tostring(stage), M.STAGES)
      diag.raise("unknown code stage '" .. tostring(stage) .. "'", {
        hint = (hint and hint .. "; " or "") .. "stages: " .. table.concat(M.STAGES, ", "),
      })
    end
    cfg = to_config(cfg) or self:config()
    if stage ~= "ir" and stage ~= "triton" and not core.compile then
      needs_compiler("code(cfg, \"" .. stage .. "\")")
    end
    local v = self:_variant(cfg)
    if not v.func then return "" end
    if stage == "triton" then
      local prec = self.kernel.settings and self.kernel.settings.dot_precision
      local ok, text = pcall(core.triton, v.func, triton_table(v, cfg), prec)
      if not ok then
        if diag.is_error(text) then error(text, 0) end
        diag.raise("cannot render " .. self.kernel.name .. " as Triton: " .. clean(text))
      end
      return text
    end
    if stage == "ir" then
      if cfg then self:_config_table(v, cfg) end -- a config that does not fit is an error here too
      return v.func:text()
    end
    -- "ptx" is the cuda target's whatever the arguments (no GPU needed to make it)
    return self:_compiled(v, cfg, stage == "ptx" and "cuda" or nil):code(stage)
  end

  -- bk:config_spec(): the config space (core.config_space) of the kernel for these arguments.
  function Bound:config_spec()
    if not core.config_space then needs_compiler("config_spec()") end
    local space = self:_space(self:_variant(self:config()))
    if not space then diag.raise("the kernel has no device loops, so no config space") end
    return space
  end

  -- bk:default_config(): the config a call uses with no config given. Compiled: the config
  -- space's default. Interpret mode: empty before the first run, then the block sizes the
  -- interpret run chose (one per block-size slot).
  function Bound:default_config()
    local Config = config_module()
    if M.mode(self.kernel.settings) ~= "interpret" and core.config_space then
      local v = self:_variant(self:config())
      local space = self:_space(v)
      return Config.new(space and space:default() or {})
    end
    if self.default_block_sizes and #self.default_block_sizes > 0 then
      return Config.new({block_sizes = self.default_block_sizes})
    end
    return Config.new({})
  end
end
