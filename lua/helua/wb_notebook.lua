-- The workbench's notebook (`helua wb --worker notebook`): a long-lived worker that evaluates Lua
-- cells in the kernel file's environment (helua, hl, the file's kernels by name, `inputs` of the
-- selected kernel at the workbench's size, `file`: the file's description) and sends each
-- cell's outputs back as records: nb-out ID KIND TEXT (print, value, error), nb-done ID OK, or
-- nb-incomplete ID when the cell needs more lines. `env KERNEL` on stdin (the file was reloaded or
-- another kernel selected) refreshes the file's names and keeps the user's: nb-env OK TEXT.
-- SIGINT interrupts a running cell (an error in that cell; src/bind/bind_wb.c).
-- Part of lua/helua (policy of the notebook).
local helua = require "helua"
local hl = require "helua.language"
local run = require "helua.run"
local step = require "helua.wb_step"

local N = {}

local function unescape(s)
  return (s:gsub("\\(.)", {n = "\n", t = "\t", ["\\"] = "\\"}))
end

-- A value as the notebook shows it: tensors as a summary, tables one level deep.
function N.show(v, depth)
  depth = depth or 0
  if helua.is_tensor(v) then return "tensor " .. step.describe_tensor(v) end
  if helua.is_config(v) then return v:to_lua() end
  local d = step.describe(v)
  if d and type(v) ~= "string" then return d end
  if type(v) == "string" then return string.format("%q", v) end
  if type(v) ~= "table" or getmetatable(v) ~= nil then return tostring(v) end
  if depth > 0 then return "{...}" end
  local parts, n = {}, 0
  for k, x in pairs(v) do
    n = n + 1
    if n > 12 then parts[#parts + 1] = "..."; break end
    local key = type(k) == "string" and k:match("^[%a_][%w_]*$") and k or ("[" .. tostring(k) .. "]")
    parts[#parts + 1] = key .. " = " .. N.show(x, depth + 1)
  end
  return "{" .. table.concat(parts, ", ") .. "}"
end

-- The file's names in env (new when nil) for o.file: helua, hl, file, kernels and each kernel
-- by name, size, and inputs (o.kernel's at o.size and o.seed; the first kernel's when the file no
-- longer has o.kernel). A name that held one of the old kernels gets the new one (or goes when
-- the kernel went); the user's own names stay. Loads everything first: an error (the file does
-- not load) leaves env as it was. Returns env.
function N.env(o, env)
  local d = run.load(o.file)
  local entry = d.entries[1]
  for _, e in ipairs(d.entries) do if e.name == o.kernel then entry = e end end
  local size = run.size(d, o.size)
  local inputs = entry and run.inputs(entry, size, o.seed)
  env = env or setmetatable({}, {__index = _G})
  local old = rawget(env, "kernels") or {}
  for name, k in pairs(old) do
    if rawget(env, name) == k then env[name] = nil end
  end
  env.helua, env.hl, env.file, env.kernels = helua, hl, d, {}
  for _, e in ipairs(d.entries) do
    env.kernels[e.name] = e.kernel
    if e.name:match("^[%a_][%w_]*$") and rawget(env, e.name) == nil then env[e.name] = e.kernel end
  end
  env.size, env.inputs = size, inputs
  return env
end

-- Evaluates one cell: an expression's values, or a chunk's effects; print goes to the cell.
function N.eval(env, id, code, emit)
  debug.sethook() -- an interrupt (SIGINT) that came after the last cell ended is dropped
  local chunk, err = load("return " .. code, "=cell " .. id, "t", env)
  if not chunk then chunk, err = load(code, "=cell " .. id, "t", env) end
  if not chunk then
    if err:match("<eof>$") then emit("nb-incomplete", id) return end
    emit("nb-out", id, "error", err)
    emit("nb-done", id, "0")
    return
  end
  env.print = function(...)
    local t = {}
    for i = 1, select("#", ...) do t[i] = tostring((select(i, ...))) end
    emit("nb-out", id, "print", table.concat(t, "\t"))
  end
  local res = table.pack(pcall(chunk))
  if not res[1] then
    emit("nb-out", id, "error", tostring(res[2]))
    emit("nb-done", id, "0")
    return
  end
  for i = 2, res.n do
    local ok, text = pcall(N.show, res[i])
    emit("nb-out", id, "value", ok and text or tostring(res[i]))
  end
  emit("nb-done", id, "1")
end

function N.main(o)
  local emit = require("helua.wb_worker").emit
  local env = N.env(o)
  emit("nb-ready")
  for line in io.stdin:lines() do
    local id, code = line:match("^cell\t(%d+)\t(.*)$")
    local kernel = line:match("^env\t(.*)$")
    if id then
      N.eval(env, id, unescape(code), emit)
    elseif kernel then
      debug.sethook()
      o.kernel = unescape(kernel)
      local ok, err = pcall(N.env, o, env)
      if ok then
        emit("nb-env", "1", string.format("environment refreshed: %s, kernel %s (inputs, size, "
          .. "kernels; your names kept)", o.file:match("[^/]*$"), o.kernel))
      else
        emit("nb-env", "0", "environment not refreshed (the old one stays): " .. tostring(err))
      end
    end
  end
end

return N
