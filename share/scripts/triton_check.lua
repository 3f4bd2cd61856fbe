-- The Triton cross-check's driver: for every kernel in kernels/ and tests/triton/ops.lua (small
-- size, the default cuda config and 2 random ones) writes the "triton" stage text, the inputs and
-- the expected outputs (raw little-endian float64 files) and a JSON manifest into OUTDIR/<case>/,
-- for share/scripts/triton_check.py to run under real Triton. Part of share/scripts
-- (share/doc/triton.md). Usage: helua share/scripts/triton_check.lua OUTDIR [SIZE] [NRANDOM]
local core = require "helua.core"
local json = require "helua.json"
local kernel = require "helua.kernel"
local run = require "helua.run"

local outdir, size_name, nrandom = arg[1], arg[2] or "small", tonumber(arg[3] or "2")
assert(outdir, "usage: helua share/scripts/triton_check.lua OUTDIR [SIZE] [NRANDOM]")
-- every kernel file in kernels/, and the ops the triton stage's tests add (tests/triton/ops.lua)
local FILES = {}
for _, name in ipairs({"add", "attention", "bmm", "cross_entropy", "embedding", "exp",
                       "layer_norm", "long_sum", "matmul", "matmul_split_k", "rms_norm", "softmax",
                       "sum"}) do
  FILES[#FILES + 1] = "kernels/" .. name .. ".lua"
end
FILES[#FILES + 1] = "tests/triton/ops.lua"
local F64 = helua.float64

local function write_f64(path, t)
  local flat = t:to(F64):contiguous():reshape({-1}):totable()
  local parts = {}
  for i, v in ipairs(flat) do parts[i] = string.pack("<d", v) end
  local f = assert(io.open(path, "wb"))
  f:write(table.concat(parts))
  f:close()
end

local function same_values(a, b)
  if a:numel() ~= b:numel() then return false end
  local x, y = a:to(F64):reshape({-1}), b:to(F64):contiguous():reshape({-1})
  return helua.max_abs_err(x, y) == 0
end

-- Names of the tensors the IR stores or atomically adds into.
local function written(func)
  local w = {}
  for name in func:text():gmatch("store %%([%w_.]+)%[") do w[name] = true end
  for name in func:text():gmatch("atomic_add %%([%w_.]+)%[") do w[name] = true end
  return w
end

local cases = {}

local function one_case(file, e, size, label, cuda_cfg)
  local args = run.inputs(e, size, 0)
  -- a fresh compiled kernel (cpu) per case, so that its trace is this case's
  local k = helua.kernel(e.kernel.fn, {backend = "cpu"})
  local bk = k:bind(table.unpack(args, 1, args.n))
  local captured, initial
  bk._add_variant = function(self, r)
    captured = r
    initial = {}
    for i, a in ipairs(r.args) do
      if helua.is_tensor(a.tensor) then initial[i] = a.tensor:clone() end
    end
    return kernel.BoundKernel._add_variant(self, r)
  end
  -- tunables only: they shape the trace; the cpu run keeps its own defaults for the rest
  local cpu_cfg = {}
  for name, v in pairs(cuda_cfg) do
    if not require("helua.config").is_field(name) then cpu_cfg[name] = v end
  end
  local res = bk:_trace(helua.Config(cpu_cfg), true, table.unpack(args, 1, args.n))
  local got = {n = res.n - 1}
  for i = 2, res.n do got[i - 1] = res[i] end
  local want = table.pack(e.reference(table.unpack(args, 1, args.n)))
  local text = bk:code(helua.Config(cuda_cfg), "triton")
  local dir = string.format("%s/%s__%s__%s", outdir, file, e.name, label)
  assert(os.execute("mkdir -p '" .. dir .. "'"))
  local f = assert(io.open(dir .. "/kernel.py", "w"))
  f:write(text)
  f:close()
  local func = captured.func
  local w = written(func)
  local manifest = {kernel = file .. ":" .. e.name, config = label,
                    config_text = helua.Config(cuda_cfg):to_lua(),
                    entry = func:text():match("^kernel (%S+)"),
                    rtol = e.tolerance.rtol, atol = e.tolerance.atol, args = {}}
  for i, info in ipairs(func:args()) do
    local a = captured.args[i].tensor
    local m = {name = info.name, kind = info.kind, dtype = info.dtype}
    if info.kind == "tensor" then
      m.shape, m.strides = info.shape, info.strides
      m.file = string.format("arg%d.f64", i)
      write_f64(dir .. "/" .. m.file, initial[i])
      if w[info.name] then
        m.ref = string.format("ref%d.f64", i)
        m.ref_source = "cpu"
        local ref = a -- helua's own compiled result, unless a returned value is this tensor
        for j = 1, got.n do
          if helua.is_tensor(got[j]) and helua.is_tensor(want[j]) and same_values(got[j], a)
             and want[j]:numel() == a:numel() then
            ref, m.ref_source = want[j], "float64 reference"
            break
          end
        end
        write_f64(dir .. "/" .. m.ref, ref)
      end
    else
      m.value = a
    end
    manifest.args[i] = m
  end
  f = assert(io.open(dir .. "/manifest.json", "w"))
  f:write(json.encode(manifest))
  f:close()
  cases[#cases + 1] = dir
end

local failures = 0
for _, path in ipairs(FILES) do
  local d = run.load(path)
  local name = d.name
  local size = run.size(d, size_name)
  for _, e in ipairs(d.entries) do
    local args = run.inputs(e, size, 0)
    local func = e.kernel:bind(table.unpack(args, 1, args.n)):_variant(nil).func
    local space = core.config_space(func, "cuda")
    local configs = {{"default", space:default()}}
    for seed = 1, nrandom do configs[#configs + 1] = {"random" .. seed, space:random(seed)} end
    for _, c in ipairs(configs) do
      local ok, err = pcall(one_case, name, e, size, c[1], c[2])
      if not ok then
        failures = failures + 1
        io.stderr:write(string.format("triton_check: %s:%s %s: %s\n", name, e.name, c[1],
                                      tostring(err)))
      end
    end
  end
end
print(string.format("triton_check: wrote %d cases into %s (%d failed to render)", #cases, outdir,
                    failures))
os.exit(failures == 0 and 0 or 1)
