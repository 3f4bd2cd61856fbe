-- Exported tuned configs: `helua tune FILE --export` writes FILE's stem + ".configs.lua" beside the
-- kernel file (kernels/softmax.lua -> kernels/softmax.configs.lua); kernel.lua loads it when a
-- compiled kernel of that file has no explicit config. Part of lua/helua (policy).
--
-- The file returns {version = 1, kernels = {["line 17"] = {name = "softmax", cpu = {entry...}}}}:
-- kernels by the line of their function (what a kernel object knows of itself), entries per
-- target with the bound kernel's specialization key, its signature (the key without sizes and
-- scalar values), the tensor shapes, the config as Helion JSON and the tuned time.
-- A call whose key was tuned gets its config; otherwise the entry of the same signature with the
-- nearest shapes (sum of |log2| size ratios); none when no entry has the signature.
local Config = require "helua.config"

local M = {}

-- "kernels/softmax.lua" -> "kernels/softmax.configs.lua"
function M.path_for(kernel_file)
  return (kernel_file:gsub("%.lua$", "")) .. ".configs.lua"
end

-- A specialization key's signature and tensor shapes: "T:float32:cpu:4096x2560:2560,1|i3"
-- -> "T:float32:cpu:2|n", {{4096, 2560}}.
function M.signature(key)
  local sig, shapes = {}, {}
  for part in (key .. "|"):gmatch("(.-)|") do
    local dtype, dev, sizes = part:match("^T:([^:]+):([^:]+):([^:]*)")
    if dtype then
      local dims = {}
      for d in sizes:gmatch("[^x]+") do dims[#dims + 1] = tonumber(d) or 0 end
      shapes[#shapes + 1] = dims
      sig[#sig + 1] = "T:" .. dtype .. ":" .. dev .. ":" .. #dims
    elseif part:match("^[if]") and tonumber(part:sub(2)) then
      sig[#sig + 1] = "n"
    else
      sig[#sig + 1] = part
    end
  end
  return table.concat(sig, "|"), shapes
end

local function distance(a, b)
  local d = 0
  for i, s in ipairs(a) do
    local t = b[i]
    if #s ~= #t then return math.huge end
    for j, x in ipairs(s) do d = d + math.abs(math.log(math.max(x, 1) / math.max(t[j], 1), 2)) end
  end
  return d
end

-- The config for a bound kernel's key among a kernel's entries for a target, or nil.
-- Returns the Config and "exact" or "nearest".
function M.pick(entries, key)
  if not entries then return nil end
  for _, e in ipairs(entries) do
    if e.key == key then return Config.from_json(e.config), "exact" end
  end
  local sig, shapes = M.signature(key)
  local best, best_d
  for _, e in ipairs(entries) do
    if e.signature == sig then
      local d = distance(shapes, e.shapes)
      if not best_d or d < best_d then best, best_d = e, d end
    end
  end
  if best then return Config.from_json(best.config), "nearest" end
  return nil
end

-- Loads an exported file; nil when there is none; a warning and nil when it cannot be read.
function M.load(path)
  local f = io.open(path, "r")
  if not f then return nil end
  f:close()
  local chunk, err = loadfile(path, "t", {})
  local ok, t = false, err
  if chunk then ok, t = pcall(chunk) end
  if not ok or type(t) ~= "table" or type(t.kernels) ~= "table" then
    io.stderr:write("helua: warning: ignoring the exported configs " .. path .. ": "
      .. tostring(ok and "not a table of kernels" or t) .. "\n")
    return nil
  end
  return t
end

local function q(s) return string.format("%q", s) end

-- Writes path from tuned results: list of {line, name, target, key, config_json, time_ms},
-- merged over what the file already holds (same kernel, target and key: replaced).
function M.write(path, results, header)
  local t = M.load(path) or {version = 1, kernels = {}}
  for _, r in ipairs(results) do
    local kid = "line " .. r.line
    local k = t.kernels[kid] or {name = r.name}
    t.kernels[kid] = k
    k.name = r.name
    k[r.target] = k[r.target] or {}
    local list = k[r.target]
    local sig, shapes = M.signature(r.key)
    local entry = {key = r.key, signature = sig, shapes = shapes, config = r.config_json,
                   time_ms = r.time_ms}
    local replaced = false
    for i, e in ipairs(list) do
      if e.key == r.key then list[i] = entry; replaced = true end
    end
    if not replaced then list[#list + 1] = entry end
  end
  local out = {"-- " .. (header or "Tuned configs") .. "\n",
               "-- Written by `helua tune --export`; helua loads it for kernels with no config.\n",
               "return {\n  version = 1,\n  kernels = {\n"}
  local kids = {}
  for kid in pairs(t.kernels) do kids[#kids + 1] = kid end
  table.sort(kids)
  for _, kid in ipairs(kids) do
    local k = t.kernels[kid]
    out[#out + 1] = string.format("    [%s] = {name = %s,\n", q(kid), q(k.name or "?"))
    local targets = {}
    for name, v in pairs(k) do if type(v) == "table" then targets[#targets + 1] = name end end
    table.sort(targets)
    for _, tg in ipairs(targets) do
      out[#out + 1] = string.format("      %s = {\n", tg)
      for _, e in ipairs(k[tg]) do
        local shp = {}
        for i, s in ipairs(e.shapes) do shp[i] = "{" .. table.concat(s, ", ") .. "}" end
        out[#out + 1] = string.format("        {key = %s, signature = %s, shapes = {%s},\n"
          .. "         config = %s, time_ms = %s},\n", q(e.key), q(e.signature),
          table.concat(shp, ", "), q(e.config), string.format("%.6f", e.time_ms or 0))
      end
      out[#out + 1] = "      },\n"
    end
    out[#out + 1] = "    },\n"
  end
  out[#out + 1] = "  },\n}\n"
  local tmp = path .. ".tmp"
  local f, err = io.open(tmp, "w")
  if not f then return nil, err end
  f:write(table.concat(out))
  f:close()
  local ok, rerr = os.rename(tmp, path)
  if not ok then return nil, rerr end
  return path
end

return M
