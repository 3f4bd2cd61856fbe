-- Tuned configs as JSON in Helion's Config format: `helua tune FILE --export-json [PATH]` writes
-- them; the kernel option config_file (helua run FILE --configs PATH) reads them. Part of
-- lua/helua (policy: config import/export). share/doc/tuning.md ("JSON") has the format.
--
-- A file is either one Helion Config object ({"block_sizes": [64], "num_warps": 4}, what
-- helion.Config.save writes: it applies to every kernel and shape that it fits), or
--   {"format": "helua-configs", "version": 1, "source": "kernels/softmax.lua",
--    "entries": [{"kernel": "softmax", "line": 7, "target": "cpu",
--                 "key": "T:float16:cpu:4096x2048:2048,1", "shapes": [[4096, 2048]],
--                 "time_ms": 3.25, "config": {<a Helion Config object>}}, ...]}
-- where each entry's "config" is a complete Helion Config (every field of the kernel's space).
-- An entry applies to the kernel defined at "line" of its file (no line: any kernel), for the
-- "target", to the specialization "key" (dtypes, shapes, strides, scalars); a call with another
-- key takes the entry of the same signature with the nearest shapes (helua.tune_export.pick).
local json = require "helua.json"
local Config = require "helua.config"

local M = {}

M.FORMAT, M.VERSION = "helua-configs", 1

-- "kernels/softmax.lua" -> "kernels/softmax.configs.json"
function M.path_for(kernel_file)
  return (kernel_file:gsub("%.lua$", "")) .. ".configs.json"
end

local function bad(path, what) return nil, path .. ": " .. what end

-- Checks one entry; returns nil or the reason it is malformed.
local function entry_error(e, i)
  local where = "entries[" .. i .. "]"
  if type(e) ~= "table" or not json.is_object(e) then return where .. " is not an object" end
  if type(e.config) ~= "table" or not json.is_object(e.config) then
    return where .. ".config is not a Helion Config object"
  end
  if e.key ~= nil and type(e.key) ~= "string" then return where .. ".key is not a string" end
  if e.line ~= nil and math.type(e.line) ~= "integer" then
    return where .. ".line is not an integer"
  end
  if e.target ~= nil and type(e.target) ~= "string" then return where .. ".target is not a string" end
  local ok, err = pcall(Config.from_json, json.encode(e.config))
  if not ok then return where .. ".config: " .. tostring(err):gsub("\n.*", "") end
  return nil
end

-- Reads a configs file. Returns {entries = {...}} (a bare Helion Config becomes one entry with
-- no kernel, target or key), or nil and a message that names the file and what is wrong: it
-- never raises. A missing file is nil, "...: no such file".
function M.read(path)
  local f, err = io.open(path, "r")
  if not f then return nil, tostring(err) end
  local text = f:read("a")
  f:close()
  local ok, doc = pcall(json.decode, text)
  if not ok then return bad(path, "not valid JSON: " .. tostring(doc):gsub("\n.*", "")) end
  if type(doc) ~= "table" or not json.is_object(doc) then
    return bad(path, "expected a JSON object (a Helion Config, or {\"format\": \"helua-configs\", ...})")
  end
  if doc.format == nil then -- a bare Helion Config
    local okc, cerr = pcall(Config.from_json, text)
    if not okc then return bad(path, tostring(cerr):gsub("\n.*", "")) end
    return {entries = {{config = doc}}, bare = true}
  end
  if doc.format ~= M.FORMAT then
    return bad(path, "\"format\" is " .. tostring(doc.format) .. ", not \"" .. M.FORMAT .. "\"")
  end
  if doc.version ~= M.VERSION then
    return bad(path, "version " .. tostring(doc.version) .. " is not supported (this helua reads "
      .. M.VERSION .. ")")
  end
  if type(doc.entries) ~= "table" or json.is_object(doc.entries) and next(doc.entries) ~= nil then
    return bad(path, "\"entries\" is not a list")
  end
  for i, e in ipairs(doc.entries) do
    local msg = entry_error(e, i - 1)
    if msg then return bad(path, msg) end
  end
  return {entries = doc.entries, source = doc.source}
end

-- The config of a file's entries for a kernel (its function's line), a target and a bound
-- kernel's key: exact key, else the nearest shape of the same signature, else an entry with no
-- key. Returns a Config and "exact" | "nearest" | "any", or nil.
function M.pick(doc, line, target, key)
  local E = require "helua.tune_export"
  local keyed, any = {}, nil
  for _, e in ipairs(doc.entries) do
    local fits = (e.line == nil or e.line == line) and (e.target == nil or e.target == target)
    if fits and e.key then
      local sig, shapes = E.signature(e.key)
      keyed[#keyed + 1] = {key = e.key, signature = sig, shapes = shapes,
                           config = json.encode(e.config)}
    elseif fits and not any then
      any = e
    end
  end
  local cfg, how = E.pick(keyed, key)
  if cfg then return cfg, how end
  if any then return Config.from_json(json.encode(any.config)), "any" end
  return nil
end

-- The config_file setting's config for kernel k at a bound kernel's key (CPU target), read once
-- per kernel; nil when the file has none for it. A file that cannot be read raises a helua
-- error naming the file and what is wrong.
function M.for_kernel(k, key)
  local path = k.settings.config_file
  if not k.config_doc or k.config_doc_path ~= path then
    local doc, err = M.read(path)
    if not doc then
      require("helua.diag").raise("cannot use the config_file " .. err, {
        token = "config_file",
        hint = "give a Helion Config JSON ({\"block_sizes\": [64]}) or a file written by "
          .. "helua tune FILE --export-json",
      })
    end
    k.config_doc, k.config_doc_path = doc, path
  end
  return M.pick(k.config_doc, k.line, "cpu", key)
end

-- Writes tuned results (list of {line, name, target, key, config_json, time_ms}) to path, merged
-- over the entries it already holds (same line, target and key: replaced), atomically (a temp
-- file renamed). A file that exists but cannot be read is left untouched: nil and a message.
function M.write(path, results, source)
  local entries = {}
  local f = io.open(path, "r")
  if f then
    f:close()
    local doc, err = M.read(path)
    if not doc then return nil, err .. " (left untouched; move it away to write a new one)" end
    if doc.bare then
      return nil, path .. " holds one bare Helion Config; it is left untouched (write elsewhere)"
    end
    entries = doc.entries
  end
  for _, r in ipairs(results) do
    local _, shapes = require("helua.tune_export").signature(r.key)
    local e = json.object({kernel = r.name, line = r.line, target = r.target, key = r.key,
                           shapes = shapes, time_ms = tonumber(string.format("%.6f", r.time_ms)),
                           config = json.decode(r.config_json)})
    local replaced = false
    for i, old in ipairs(entries) do
      if old.line == r.line and old.target == r.target and old.key == r.key then
        entries[i], replaced = e, true
      end
    end
    if not replaced then entries[#entries + 1] = e end
  end
  local doc = json.object({format = M.FORMAT, version = M.VERSION, source = source,
                           entries = entries})
  local text = json.encode(doc, {indent = 2, key_order = {"format", "version", "source", "entries"}})
  local tmp = path .. ".tmp"
  local out, err = io.open(tmp, "w")
  if not out then return nil, tostring(err) end
  out:write(text, "\n")
  out:close()
  local ok, rerr = os.rename(tmp, path)
  if not ok then
    os.remove(tmp)
    return nil, tostring(rerr)
  end
  return path
end

return M
