-- The autotuner's on-disk cache: one small text file per tuned (kernel, arguments, target,
-- compiler, space), in the cache_dir setting (HELUA_CACHE_DIR, else $XDG_CACHE_HOME/helua, else
-- ~/.cache/helua). Part of lua/helua (policy).
--
-- Key (versioned): "tune-v1", the IR's fingerprint, the bound kernel's specialization key
-- (dtypes, shapes, strides, scalar values), the target, the helua and LLVM versions and the
-- config space's fingerprint; for the cuda target also the GPU's name and the driver version.
-- The file name is the key's 64-bit FNV-1a hash; the file repeats the whole key, so a collision
-- is a miss. Written atomically (a temp file, then rename). An
-- entry that cannot be read (truncated, edited, a config the space rejects) is ignored with a
-- warning on stderr and tuned again.
local core = require "helua.core"
local Config = require "helua.config"

local M = {}

M.VERSION = "tune-v1"
local MAGIC = "helua-tune-cache 1"

local function fnv1a64(s)
  local h = -3750763034362895579 -- 0xcbf29ce484222325
  for i = 1, #s do
    h = h ~ s:byte(i)
    h = h * 1099511628211
  end
  return string.format("%016x", h)
end

-- The key of a bound kernel's tuning: parts joined with "|".
function M.key(parts)
  local v = core.versions()
  local list = {M.VERSION, parts.fingerprint, parts.args, parts.target or "cpu",
                "helua " .. tostring(v.helua), "llvm " .. tostring(v.llvm), "space " .. parts.space}
  -- a GPU's results hold for that GPU and driver: "device NAME driver VERSION" (cuda only, so
  -- the CPU keys stay as they were)
  if parts.device then list[#list + 1] = "device " .. parts.device end
  return table.concat(list, "|")
end

function M.path(dir, key) return dir .. "/tune-" .. fnv1a64(key) .. ".txt" end

local function warn(path, why)
  io.stderr:write(string.format("helua: warning: ignoring the autotune cache entry %s: %s\n", path, why))
end

-- The cached entry for key, or nil: {config = Config, time_ms, default_ms, effort}.
-- space: the config space (the entry's config must pass space:check).
function M.load(dir, key, space)
  local path = M.path(dir, key)
  local f = io.open(path, "r")
  if not f then return nil end
  local text = f:read("a")
  f:close()
  local lines = {}
  for line in text:gmatch("[^\n]+") do lines[#lines + 1] = line end
  if lines[1] ~= MAGIC then warn(path, "not a helua tune cache file"); return nil end
  local fields = {}
  for i = 2, #lines do
    if lines[i] == "end" then fields["end"] = true end
    local k, v = lines[i]:match("^(%S+) (.*)$")
    if k then fields[k] = v end
  end
  if fields.key == nil or fields.config == nil or fields["end"] == nil then
    warn(path, "truncated or incomplete")
    return nil
  end
  if fields.key ~= key then return nil end -- a hash collision: not ours
  local ok, cfg = pcall(Config.from_json, fields.config)
  if ok then
    local okc, err = pcall(space.check, space, cfg:to_table())
    if not okc then ok, cfg = false, err end
  end
  if not ok then warn(path, "its config is not valid: " .. tostring(cfg):gsub("\n.*", "")); return nil end
  return {config = cfg, time_ms = tonumber(fields.time_ms), default_ms = tonumber(fields.default_ms),
          effort = fields.effort, path = path}
end

-- Writes an entry atomically. Returns the path, or nil and a message (a failure to cache is
-- reported by the caller as a warning, never an error).
function M.store(dir, key, entry)
  local okd, err = core.tune_mkdir(dir)
  if not okd then return nil, err end
  local path = M.path(dir, key)
  local tmp = string.format("%s.tmp.%d.%d", path, core.tune_pid(), math.random(1, 1 << 30))
  local f, ferr = io.open(tmp, "w")
  if not f then return nil, ferr end
  f:write(MAGIC, "\n", "key ", key, "\n", "config ", entry.json, "\n",
          string.format("time_ms %.6f\ndefault_ms %.6f\n", entry.time_ms, entry.default_ms),
          "effort ", entry.effort, "\n", "end\n")
  local okw = f:close()
  if not okw then os.remove(tmp); return nil, "cannot write " .. tmp end
  local okr, rerr = os.rename(tmp, path)
  if not okr then os.remove(tmp); return nil, rerr end
  return path
end

return M
