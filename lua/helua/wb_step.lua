-- Step mode for the workbench (`helua wb --worker step`): runs one kernel of a kernel file in
-- interpret mode (helua.eager) under a debug.sethook line hook. At each line of the kernel file it
-- sends the line and every local (tiles: begin/last; tensors: shape, dtype, min/max/mean) and
-- waits on stdin for a command: n (next line), c (continue to a breakpoint), b L1,L2 (set the
-- breakpoints). Part of lua/helua (the policy of stepping; the UI is src/wb).
local eager = require "helua.eager"
local helua = require "helua"
local run = require "helua.run"
local Tile = require "helua.tile"

local S = {}

local function fmt(x)
  if x ~= x then return "nan" end
  return string.format("%.4g", x)
end

-- "float32[37, 53]  min -2.1 max 3.4 mean 0.012" for a host tensor.
function S.describe_tensor(t)
  local shape = t:shape()
  local head = string.format("%s[%s]", t.dtype, table.concat(shape, ", "))
  local n = 1
  for _, s in ipairs(shape) do n = n * s end
  if n == 0 then return head .. "  (empty)" end
  local ok, lo, hi, mean = pcall(function()
    local f = t:to(helua.float64)
    return f:amin():item(), f:amax():item(), f:mean():item()
  end)
  if not ok then return head end
  return string.format("%s  min %s max %s mean %s", head, fmt(lo), fmt(hi), fmt(mean))
end

-- One local's description, or nil to leave it out.
function S.describe(v)
  if getmetatable(v) == Tile then
    local b, l, bs = rawget(v, "begin"), rawget(v, "last"), rawget(v, "block_size")
    return string.format("tile [%s, %s]%s", tostring(b), tostring(l),
                         bs and ("  block " .. tostring(bs)) or "")
  elseif eager.is_value(v) then
    return "value " .. S.describe_tensor(eager.unwrap(v))
  elseif helua.is_tensor(v) then
    return "tensor " .. S.describe_tensor(v)
  elseif type(v) == "number" or type(v) == "boolean" then
    return tostring(v)
  elseif type(v) == "string" then
    return string.format("%q", v)
  end
  return nil
end

local function parse_breaks(text)
  local b = {}
  for n in tostring(text or ""):gmatch("%d+") do b[tonumber(n)] = true end
  return b
end

-- o: file, kernel, size, seed, breaks ("3,7"). emit: the worker's record writer.
function S.run(o, emit)
  local d = run.load(o.file)
  local entry = run.select(d, o.kernel)[1]
  local size = run.size(d, o.size)
  local args = run.inputs(entry, size, o.seed)
  if not helua.is_kernel(entry.kernel) then
    error(o.kernel .. " is not a kernel made with helua.kernel", 0)
  end
  local k = run.with_settings(entry.kernel, {backend = "interpret"})
  local breaks = parse_breaks(o.breaks)
  local source = "@" .. o.file
  local continuing = false
  local function command()
    for _ = 1, 1e9 do
      local line = io.stdin:read("l")
      if not line then os.exit(0) end -- the UI is gone
      local cmd, rest = line:match("^(%S+)%s*(.*)$")
      if cmd == "n" then continuing = false return end
      if cmd == "c" then continuing = true return end
      if cmd == "b" then breaks = parse_breaks(rest) end
    end
  end
  local function hook(_, line)
    local info = debug.getinfo(2, "S")
    if info.source ~= source then return end
    if continuing and not breaks[line] then return end
    emit("at", line)
    local tiles, others = {}, {} -- the current tiles first, then the other locals
    for i = 1, 200 do
      local name, v = debug.getlocal(2, i)
      if not name then break end
      if name:sub(1, 1) ~= "(" then
        local ok, text = pcall(S.describe, v)
        if ok and text then
          local list = getmetatable(v) == Tile and tiles or others
          list[#list + 1] = {name, text}
        end
      end
    end
    for _, list in ipairs({tiles, others}) do
      for _, nv in ipairs(list) do emit("var", nv[1], nv[2]) end
    end
    emit("paused")
    command()
  end
  debug.sethook(hook, "l")
  local ok, res = pcall(function() return table.pack(k(table.unpack(args, 1, args.n))) end)
  debug.sethook()
  if not ok then
    emit("step-end", "the kernel raised: " .. tostring(res):gsub("\n.*", ""))
    return
  end
  local want = table.pack(entry.reference(table.unpack(args, 1, args.n)))
  local cmp = run.compare(res, want, entry.tolerance)
  emit("step-end", string.format("finished: %s against the reference (max abs err %s)",
                                 cmp.ok and "PASS" or "FAIL", fmt(cmp.max_abs or 0)))
end

function S.main(o)
  return S.run(o, require("helua.wb_worker").emit)
end

return S
