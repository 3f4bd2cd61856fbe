-- The "triton" stage: every kernel in kernels/ renders for its default cuda config and 5 random
-- ones, the text is valid Python (python3's ast, when python3 is there), the source-line comments
-- name the right kernel lines, and what the renderer cannot express is a clear error.
-- Part of tests/lua (the GPU cross-check under real Triton is share/scripts/triton-check.sh).
package.path = arg[0]:match("(.*/)") .. "?.lua;" .. package.path
local T = require "testing"
local core = require "helua.core"
local helua = require "helua"
local hl = require "helua.language"
local run = require "helua.run"

local KERNELS = {"add", "attention", "bmm", "cross_entropy", "embedding", "exp", "layer_norm",
                 "long_sum", "matmul", "matmul_split_k", "rms_norm", "softmax", "sum"}
local RANDOM = 5

local has_python = os.execute("python3 -c pass >/dev/null 2>&1") == true
local tmpdir = os.tmpname()
os.remove(tmpdir)
assert(os.execute("mkdir -p " .. tmpdir))
local rendered = {} -- {path, what}

local function save(text, what)
  local path = string.format("%s/%d.py", tmpdir, #rendered + 1)
  local f = assert(io.open(path, "w"))
  f:write(text)
  f:close()
  rendered[#rendered + 1] = {path = path, what = what}
end

local function lines_of(path)
  local t = {}
  for l in io.lines(path) do t[#t + 1] = l end
  return t
end

-- Every "# file.lua:N" comment names the kernel's file and a line inside the kernel function.
local function check_anchors(text, file, first, last, what)
  local base = file:match("([^/]+)$")
  local n = 0
  for line in text:gmatch("[^\n]+") do
    local f, l = line:match("  # ([%w_]+%.lua):(%d+)$")
    if f then
      n = n + 1
      T.eq(f, base, what .. ": anchor file of `" .. line .. "`")
      l = tonumber(l)
      T.truthy(l >= first and l <= last, string.format("%s: line %d of `%s` is inside %s:%d-%d",
        what, l, line, base, first, last))
    end
  end
  T.truthy(n > 10, what .. ": the text has source-line comments")
end

local FILES = {}
for _, name in ipairs(KERNELS) do FILES[#FILES + 1] = "kernels/" .. name .. ".lua" end
FILES[#FILES + 1] = "tests/triton/ops.lua" -- the ops and forms kernels/ does not use

for _, file in ipairs(FILES) do
  local name = file:match("([%w_]+)%.lua$")
  local d = run.load(file)
  for _, e in ipairs(d.entries) do
    local what = name .. ":" .. e.name .. " renders for the default and " .. RANDOM
      .. " random cuda configs"
    T.test(what, function()
      local args = run.inputs(e, run.size(d, "small"), 0)
      local bk = e.kernel:bind(table.unpack(args, 1, args.n))
      local info = debug.getinfo(e.kernel.fn, "S")
      local text = bk:code(nil, "triton")
      T.truthy(text:find("@triton.jit\ndef _helua_", 1, true), "a jit kernel")
      local kname = bk:_variant(nil).func:text():match("^kernel (%S+)")
      T.truthy(text:find("\ndef " .. kname .. "(", 1, true), "a host function named after the kernel")
      check_anchors(text, file, info.linedefined, info.lastlinedefined, e.name)
      save(text, e.name .. " default")
      local space = bk:config_spec() -- the cpu space: the cuda one comes from the IR
      local cuda = core.config_space(bk:_variant(nil).func, "cuda")
      for seed = 1, RANDOM do
        local cfg = helua.Config(cuda:random(seed))
        local t2 = bk:code(cfg, "triton")
        save(t2, e.name .. " random " .. seed)
      end
      T.truthy(space ~= nil, "config space")
    end)
  end
end

T.test("the text is valid Python (ast.parse)", function()
  if not has_python then
    print("     (python3 is not installed: the ast check is skipped)")
    return
  end
  local list = tmpdir .. "/list"
  local f = assert(io.open(list, "w"))
  for _, r in ipairs(rendered) do f:write(r.path, "\n") end
  f:close()
  local p = io.popen("python3 -c 'import ast,sys\nfor p in open(sys.argv[1]).read().split():\n"
    .. "    try:\n        ast.parse(open(p).read(), p)\n    except SyntaxError as e:\n"
    .. "        print(p, e)\n' " .. list .. " 2>&1")
  local out = p:read("a")
  p:close()
  for path in out:gmatch("(%S+%.py) ") do
    for _, r in ipairs(rendered) do
      if r.path == path then print("     not Python: " .. r.what) end
    end
  end
  T.eq(out, "", "python3 ast.parse output")
  T.truthy(#rendered >= 26 * (RANDOM + 1), "every kernel was rendered")
end)

-- Specific statements carry the line they came from.
T.test("add: loads and the store carry add.lua:11", function()
  local d = run.load("kernels/add.lua")
  local e = d.entries[1]
  local args = run.inputs(e, run.size(d, "small"), 0)
  local text = e.kernel:bind(table.unpack(args, 1, args.n)):code(
    helua.Config{block_sizes = {16, 32}}, "triton")
  T.truthy(text:find("= tl.load%(x %+ [^\n]*  # add%.lua:11\n"), "load of x at line 11")
  T.truthy(text:find("= tl.load%(y %+ [^\n]*  # add%.lua:11\n"), "load of y at line 11")
  T.truthy(text:find("\n    tl.store%(out %+ [^\n]*  # add%.lua:11\n"), "store at line 11")
  T.truthy(text:find("offset_0 = pid_0 %* _BLOCK_SIZE_0  # add%.lua:10\n"),
           "tile offsets at line 10")
  T.truthy(text:find("_BLOCK_SIZE_0 = 16  # add.lua:10", 1, true), "block size 16")
  T.truthy(text:find("_BLOCK_SIZE_1 = 32  # add.lua:10", 1, true), "block size 32")
end)

T.test("softmax_two_pass: both inner loops and their statements carry their lines", function()
  local d = run.load("kernels/softmax.lua")
  local e = run.select(d, "softmax_two_pass")[1]
  local args = run.inputs(e, run.size(d, "small"), 0)
  local text = e.kernel:bind(table.unpack(args, 1, args.n)):code(nil, "triton")
  local _, loops = text:gsub("for offset_%d+ in tl%.range%([^\n]*  # softmax%.lua:4[17]\n", "")
  T.eq(loops, 2, "two inner tl.range loops at lines 41 and 47")
  T.truthy(text:find("mi_next = tl.maximum%([^\n]*  # softmax%.lua:43\n"), "mi_next at line 43")
  T.truthy(text:find("tl.store%(out [^\n]*  # softmax%.lua:49\n"), "the store at line 49")
end)

T.test("config knobs change the text", function()
  local d = run.load("kernels/matmul.lua")
  local e = d.entries[1]
  local args = run.inputs(e, run.size(d, "small"), 0)
  local bk = e.kernel:bind(table.unpack(args, 1, args.n))
  local base = bk:code(helua.Config{block_sizes = {16, 16, 16}}, "triton")
  local function differs(fields, piece)
    fields.block_sizes = {16, 16, 16}
    local text = bk:code(helua.Config(fields), "triton")
    T.truthy(text ~= base, "the text changes")
    if piece then T.truthy(text:find(piece, 1, true), "the text has " .. piece) end
  end
  differs({num_warps = 8}, "num_warps=8")
  differs({num_stages = 2}, "num_stages=2")
  differs({l2_groupings = {4}}, "group_size_")
  differs({pid_type = "xyz"}, "tl.program_id(1)")
  differs({pid_type = "persistent_interleaved", num_sm_multiplier = 2}, "num_sms * 2")
  differs({pid_type = "persistent_blocked"}, "num_per_program")
  differs({loop_orders = {{2, 1}}})
  differs({range_unroll_factors = {2}}, "loop_unroll_factor=2")
  differs({load_eviction_policies = {"first", "last"}}, "eviction_policy=\"evict_first\"")
  local sd = run.load("kernels/sum.lua")
  local se = sd.entries[1]
  local sargs = run.inputs(se, run.size(sd, "small"), 0)
  local sbk = se.kernel:bind(table.unpack(sargs, 1, sargs.n))
  local looped = sbk:code(helua.Config{block_sizes = {8}, reduction_loops = {64}}, "triton")
  T.truthy(looped:find("for roffset_0 in tl.range(0, 300, _REDUCTION_BLOCK_0):", 1, true),
           "a looped reduction")
  T.truthy(looped:find("_REDUCTION_BLOCK_0 = 64", 1, true), "its chunk")
end)

T.test("what Triton cannot express is an error naming the op and the line", function()
  local k = helua.kernel(function(x)
    local n = x:size(1)
    local out = helua.empty_like(x)
    for t in hl.tile(n, {block_size = 48}) do --@fixed48
      out[t] = x[t] + 1
    end
    return out
  end)
  local x = helua.zeros({100}, {dtype = helua.float32})
  local line = T.line_of("fixed48")
  local msg = T.raises(function() return k:bind(x):code(nil, "triton") end,
    "block size 48 is not a power of two", "test_triton.lua:" .. line)
  T.truthy(not msg:find("Traceback"), "a clean message")
end)

T.test("core.triton checks the config against the cuda space", function()
  local d = run.load("kernels/exp.lua")
  local e = d.entries[1]
  local args = run.inputs(e, run.size(d, "small"), 0)
  local f = e.kernel:bind(table.unpack(args, 1, args.n)):_variant(nil).func
  T.raises(function() return core.triton(f, {num_warps = 3}) end, "num_warps")
  T.raises(function() return core.triton(f, {pid_type = "spiral"}) end, "pid_type")
  T.truthy(core.triton(f, {vector_width = 8}):find("@triton.jit", 1, true),
           "a cpu-only field is ignored")
end)

os.execute("rm -rf " .. tmpdir)
T.done()
