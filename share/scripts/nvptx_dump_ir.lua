-- Writes the cuda target's LLVM IR of every kernel in kernels/ (small size) for the default
-- config and N random ones into DIR, for share/scripts/nvptx_uniform_check.py (no GPU needed).
-- Part of share/scripts (share/doc/lowering.md, "Memory-bound kernels").
-- Usage: helua share/scripts/nvptx_dump_ir.lua DIR [N]   (from the repo root; N: 4 unless given)
local helua = require "helua"
local run = require "helua.run"
local dir, N = assert(arg[1], "usage: nvptx_dump_ir.lua DIR [N]"), tonumber(arg[2]) or 4
local p = io.popen("ls kernels/*.lua")
local count = 0
for file in p:lines() do
  local d = run.load(file)
  for _, e in ipairs(d.entries) do
    local k = run.with_settings(e.kernel, {backend = "cuda"})
    local args = run.inputs(e, run.size(d, "small"), 0)
    local bk = k:bind(table.unpack(args, 1, args.n))
    local cfgs = {false}
    local space = bk:config_spec()
    for seed = 1, N do cfgs[#cfgs + 1] = helua.Config(space:random(seed)) end
    for i, c in ipairs(cfgs) do
      local cfg = c or nil
      local ok, ck = pcall(function() return bk:_compiled(bk:_variant(cfg), cfg, "cuda") end)
      if ok then
        local f = io.open(string.format(dir .. "/%s_%s_%d.ll", file:match("([^/]+)%.lua$"), e.name, i), "w")
        f:write(ck:code("llvm"))
        f:close()
        count = count + 1
      end
    end
  end
end
print("dumped", count)
