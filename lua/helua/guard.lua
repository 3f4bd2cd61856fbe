-- Catches what Lua lets slip through in device code: `if` / `while` / `until` on a device value
-- (a line hook), and indexing or storing into a number (a metatable for numbers). Both are
-- installed only while device loops run. Part of lua/helua (dialect surface).
--
-- Lua cannot overload truthiness, so `if v:gt(0) then` would silently take the branch for every
-- element. When a kernel is made, guard.watch reads the kernel function's lines and notes those
-- holding an `if`/`elseif`/`while`/`until` condition. If there are any, a line hook checks them
-- while device loops run: it raises when a local or upvalue named in the condition holds a
-- device value. (A kernel without such lines runs without the hook, which costs ~5x on tiny
-- tiles.) Names followed by a metadata accessor (v.dtype, v:size(), v:dim(), v:shape(),
-- v:numel(), v.device) or compared with nil are host questions and pass. Only the kernel
-- function's own lines are watched (helpers defined outside it are not).
local diag = require "helua.diag"

local guard = {}

local getinfo, getlocal, getupvalue = debug.getinfo, debug.getlocal, debug.getupvalue

local KEYWORDS = {}
for w in ([[and break do else elseif end false for function goto if in local nil not or repeat
  return then true until while]]):gmatch("%a+") do KEYWORDS[w] = true end

local META = {dtype = true, size = true, dim = true, shape = true, numel = true, device = true}

local watch = {}       -- line number -> true when a watched source has a condition there
local cond_lines = {}  -- source -> {[line] = {kw = , names = {...}}}

-- The condition of an if/elseif/while/until line: keyword and the names it tests, or false.
local function parse_condition(text)
  if not text then return false end
  local code = text:gsub("%-%-.*$", ""):gsub('"[^"]*"', '""'):gsub("'[^']*'", "''")
  local kw, rest = code:match("^%s*(%a+)%s+(.*)$")
  if not (kw == "if" or kw == "elseif" or kw == "while" or kw == "until") then
    -- one-line forms like `else if c then` or `do if c then ... end end`
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
      and not seen[name] and not name:match("^%d") then
      seen[name] = true
      names[#names + 1] = name
    end
  end
  if #names == 0 then return false end
  return {kw = kw, names = names}
end
guard._parse_condition = parse_condition

-- Watches the condition lines first..last of a source file ("@path"): a kernel function's
-- lines. Returns true when there is at least one, i.e. when the kernel needs the line hook.
function guard.watch(source, first, last)
  if type(source) ~= "string" or source:sub(1, 1) ~= "@" then return false end
  local lines = cond_lines[source]
  if not lines then
    lines = {}
    cond_lines[source] = lines
  end
  local any = false
  for n = first or 1, last or math.huge do
    local text = diag.source_line(source, n)
    if text == nil then break end
    local c = parse_condition(text)
    if c then
      lines[n] = c
      watch[n] = true
      any = true
    end
  end
  return any
end

local is_device_value -- set by guard.enter
local saved           -- the hook and number metatable we replaced

-- level 3 is the running function (1 = check_line, 2 = the hook).
local function check_line(line)
  local info = getinfo(3, "S")
  local lines = info and cond_lines[info.source]
  local cond = lines and lines[line]
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
      if wanted[name] and is_device_value(v) then
        found = name
        break
      end
      i = i + 1
    end
  end
  if found then
    diag.raise("`" .. cond.kw .. "` on a device value is not allowed (`" .. found
      .. "` holds a device value, which has no single truth value)", {
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
    if watch[line] then check_line(line) end
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

local nesting = 0

-- Installs the number metatable and, when `with_hook`, the line hook (nested calls count).
-- `is_value(v)` says whether v is a device value. No hook when a hook set from C is active.
function guard.enter(is_value, with_hook)
  nesting = nesting + 1
  if nesting > 1 then return end
  is_device_value = is_value
  local h, mask, count = debug.gethook()
  local m = mask or ""
  saved = {hook = h, mask = mask, count = count, number_mt = debug.getmetatable(0),
           wants_line = m:find("l", 1, true) ~= nil}
  if with_hook and h ~= "external hook" then
    if not saved.wants_line then m = m .. "l" end
    debug.sethook(hook, m, count or 0)
    saved.hooked = true
  end
  if saved.number_mt == nil then debug.setmetatable(0, number_mt) end
end

function guard.leave()
  if nesting == 0 then return end
  nesting = nesting - 1
  if nesting > 0 or not saved then return end
  local s = saved
  saved = nil
  if s.hooked then
    if s.hook then debug.sethook(s.hook, s.mask, s.count) else debug.sethook() end
  end
  if s.number_mt == nil then debug.setmetatable(0, nil) end
end

return guard
