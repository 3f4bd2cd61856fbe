-- Diagnostics for kernel authors: errors that name the kernel's file:line, show the source line
-- with a caret, and say what to do. Part of lua/helua (the Lua boundary of the error contract).
local diag = {}

local HeluaError = {}
HeluaError.__index = HeluaError
diag.HeluaError = HeluaError

-- Frames in helua's own Lua sources or in C are not where the user's mistake is.
local function is_internal(info)
  if info.what == "C" then return true end
  local src = info.source or ""
  return src:match("lua/helua/[%w_]+%.lua$") ~= nil or src:sub(1, 1) == "="
end

-- The first stack frame, from `level` outwards, that is in the user's code.
function diag.user_frame(level)
  level = (level or 1) + 1
  while true do
    local info = debug.getinfo(level, "Sl")
    if not info then return nil end
    if not is_internal(info) and info.currentline and info.currentline > 0 then
      return {file = info.short_src, source = info.source, line = info.currentline}
    end
    level = level + 1
  end
end

local line_cache = {}

-- Line `n` of the file behind a chunk source ("@path"), or nil when it cannot be read.
function diag.source_line(source, n)
  if not source or source:sub(1, 1) ~= "@" or not n then return nil end
  local path = source:sub(2)
  local lines = line_cache[path]
  if lines == nil then
    lines = false
    local f = io.open(path, "r")
    if f then
      lines = {}
      for l in f:lines() do lines[#lines + 1] = l end
      f:close()
    end
    line_cache[path] = lines
  end
  return lines and lines[n] or nil
end

function HeluaError:__tostring()
  local out = {}
  local where = self.file and self.line and (self.file .. ":" .. self.line .. ": ") or ""
  out[#out + 1] = where .. self.msg
  if self.srcline then
    local num = tostring(self.line)
    out[#out + 1] = string.format("  %s | %s", num, self.srcline)
    local col = self.column or ((self.srcline:find("%S")) or 1)
    out[#out + 1] = string.format("  %s | %s^", string.rep(" ", #num), string.rep(" ", col - 1))
  end
  if self.hint then out[#out + 1] = "  hint: " .. self.hint end
  return table.concat(out, "\n")
end

-- Builds the error value. opts: hint, token (text on the line to put the caret under),
-- anchor = {file=, source=, line=} (default: the innermost user frame), level.
function diag.new(msg, opts)
  opts = opts or {}
  local anchor = opts.anchor or diag.user_frame((opts.level or 1) + 1)
  local e = setmetatable({msg = msg, hint = opts.hint}, HeluaError)
  if anchor then
    e.file, e.line = anchor.file, anchor.line
    e.srcline = diag.source_line(anchor.source, anchor.line)
    if e.srcline and opts.token then
      e.column = e.srcline:find(opts.token, 1, true)
    end
  end
  return e
end

-- Raises a user error (see diag.new). Never returns.
function diag.raise(msg, opts)
  opts = opts or {}
  opts.level = (opts.level or 1) + 1
  error(diag.new(msg, opts), 0)
end

-- The name of a local or upvalue holding `value` in the innermost user frame, or nil: lets a
-- message say "x has 2 dims" and put the caret under `x`.
function diag.local_name(value, level)
  level = (level or 1) + 1
  while true do
    local info = debug.getinfo(level, "Sf")
    if not info then return nil end
    if not is_internal(info) then
      local i = 1
      while true do
        local name, v = debug.getlocal(level, i)
        if not name then break end
        if rawequal(v, value) and name:sub(1, 1) ~= "(" then return name end
        i = i + 1
      end
      i = 1
      while info.func do
        local name, v = debug.getupvalue(info.func, i)
        if not name then break end
        if rawequal(v, value) then return name end
        i = i + 1
      end
      return nil
    end
    level = level + 1
  end
end

function diag.is_error(v) return getmetatable(v) == HeluaError end

local function distance(a, b)
  local prev = {}
  for j = 0, #b do prev[j] = j end
  for i = 1, #a do
    local cur = {[0] = i}
    for j = 1, #b do
      local cost = a:sub(i, i) == b:sub(j, j) and 0 or 1
      cur[j] = math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
    end
    prev = cur
  end
  return prev[#b]
end

-- "did you mean X?" for the closest candidate within a small edit distance, else nil.
function diag.did_you_mean(name, candidates)
  local best, best_d
  for _, c in ipairs(candidates) do
    local d = distance(name, c)
    if d <= math.max(2, #name // 4) and (not best_d or d < best_d) then best, best_d = c, d end
  end
  return best and ("did you mean " .. best .. "?") or nil
end

return diag
