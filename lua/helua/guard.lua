-- Catches what Lua lets slip through in device code: `if` / `while` / `until` on a device value
-- (a line hook), and indexing or storing into a number (a metatable for numbers). Both are
-- installed only while device loops run. Part of lua/helua (dialect surface).
--
-- Lua cannot overload truthiness, so `if v:gt(0) then` would silently take the branch for every
-- element. While device loops run, a line hook reads each `if`/`elseif`/`while`/`until` line of
-- user code, and raises when a local or upvalue named in the condition holds a device value.
-- Names followed by a metadata accessor (v.dtype, v:size(), v:dim(), v:shape(), v:numel(),
-- v.device) or compared with nil are host questions and pass.
local diag = require "helua.diag"

local guard = {}

local getinfo, getlocal, getupvalue = debug.getinfo, debug.getlocal, debug.getupvalue

local KEYWORDS = {}
for w in ([[and break do else elseif end false for function goto if in local nil not or repeat
  return then true until while]]):gmatch("%a+") do KEYWORDS[w] = true end

local META = {dtype = true, size = true, dim = true, shape = true, numel = true, device = true}

local internal_src = {}   -- source -> bool
local cond_lines = {}     -- source -> {[line] = false | {kw = , names = {...}}}

local function is_internal_source(src)
  local v = internal_src[src]
  if v == nil then
    v = src:sub(1, 1) ~= "@" or src:match("lua/helua/[%w_]+%.lua$") ~= nil
    internal_src[src] = v
  end
  return v
end

-- The condition of an if/elseif/while/until line: keyword and the names it tests, or false.
local function parse_condition(text)
  if not text then return false end
  local code = text:gsub("%-%-.*$", ""):gsub('"[^"]*"', '""'):gsub("'[^']*'", "''")
  local kw, rest = code:match("^%s*(%a+)%s+(.*)$")
  if not (kw == "if" or kw == "elseif" or kw == "while" or kw == "until") then
    -- `else if` and one-line `do ... if` forms are rare; check the first `if` on the line too.
    local r = code:match("[^%w_]if%s+(.*)$")
    if not r then return false end
    kw, rest = "if", r
  end
  if kw == "if" or kw == "elseif" then rest = rest:match("^(.-)%f[%w_]then%f[^%w_]") or rest end
  if kw == "while" then rest = rest:match("^(.-)%f[%w_]do%f[^%w_]") or rest end
  local names, seen = {}, {}
  local pos = 1
  while true do
    local s, e, name = rest:find("([%a_][%w_]*)", pos)
    if not s then break end
    pos = e + 1
    local before = s > 1 and rest:sub(s - 1, s - 1) or ""
    local after = rest:sub(e + 1)
    local field = after:match("^%s*[%.:]%s*([%a_][%w_]*)")
    local host_question = (field and META[field]) or after:match("^%s*[~=]=%s*nil%f[^%w_]")
    if before ~= "." and before ~= ":" and not KEYWORDS[name] and not host_question
      and not seen[name] then
      seen[name] = true
      names[#names + 1] = name
    end
  end
  if #names == 0 then return false end
  return {kw = kw, names = names}
end

local function condition_at(src, line)
  local lines = cond_lines[src]
  if not lines then
    lines = {}
    cond_lines[src] = lines
  end
  local c = lines[line]
  if c == nil then
    c = parse_condition(diag.source_line(src, line))
    lines[line] = c
  end
  return c
end

local is_device_value -- set by guard.enter
local saved           -- the hook and number metatable we replaced

local function check_line(line)
  local info = getinfo(3, "S")
  if not info or is_internal_source(info.source) then return end
  local cond = condition_at(info.source, line)
  if not cond then return end
  local wanted = {}
  for _, n in ipairs(cond.names) do wanted[n] = true end
  local found
  local i = 1
  while true do
    local name, v = getlocal(3, i)
    if not name then break end
    if wanted[name] and is_device_value(v) then found = name end
    i = i + 1
  end
  if not found then
    local f = getinfo(3, "f").func
    i = 1
    while f do
      local name, v = getupvalue(f, i)
      if not name then break end
      if wanted[name] and is_device_value(v) then found = name break end
      i = i + 1
    end
  end
  if found then
    diag.raise("`" .. cond.kw .. "` on a device value is not allowed (`" .. found
      .. "` holds a device value; a device value has no single truth value)", {
      token = found,
      hint = "select per element with hl.where(cond, a, b), e.g. v = hl.where(v:gt(0), v, 0)",
    })
  end
end

-- A hook that was installed before ours still gets its events (as a tail call, so that its
-- debug.getinfo(2) is still the running function).
local function hook(event, line)
  local prev = saved and saved.hook
  if event == "line" then
    check_line(line)
    if prev and saved.wants_line then return prev(event, line) end
  elseif prev then
    return prev(event, line)
  end
end

local function number_misuse(n, k)
  diag.raise("a number is not a tensor: cannot index " .. tostring(n) .. " with ["
    .. (type(k) == "table" and "{...}" or tostring(k)) .. "]", {
    hint = "only host tensors can be indexed and stored into (out[{tile}] = v); "
      .. "check that the variable holds the tensor you meant",
  })
end

local number_mt = {__index = number_misuse, __newindex = number_misuse}

-- Installs the hook and the number metatable. `is_value(v)` says whether v is a device value.
-- Returns false (and installs nothing) when another C hook is active.
local nesting = 0

function guard.enter(is_value)
  nesting = nesting + 1
  if nesting > 1 then return saved ~= nil end
  local h, mask, count = debug.gethook()
  if h == "external hook" then return false end
  is_device_value = is_value
  local m = mask or ""
  saved = {hook = h, mask = mask, count = count, number_mt = debug.getmetatable(0),
           wants_line = m:find("l", 1, true) ~= nil}
  if not saved.wants_line then m = m .. "l" end
  debug.sethook(hook, m, count or 0)
  if saved.number_mt == nil then debug.setmetatable(0, number_mt) end
  return true
end

function guard.leave()
  nesting = math.max(nesting - 1, 0)
  if nesting > 0 or not saved then return end
  local s = saved
  saved = nil
  if s.hook then debug.sethook(s.hook, s.mask, s.count) else debug.sethook() end
  if s.number_mt == nil then debug.setmetatable(0, nil) end
end

guard._parse_condition = parse_condition

return guard
