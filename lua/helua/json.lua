-- JSON for configs and caches: a stable encoder (Python json.dumps layout) and a strict decoder.
-- Part of lua/helua (policy: config import/export); no C involved.
--
-- Lua tables are ambiguous, so the encoder decides by the value: a table whose keys are exactly
-- 1..n is an array, any other table with string keys is an object, and an empty table is `[]`
-- unless marked with json.object(). JSON null is the sentinel json.null (Lua arrays cannot hold
-- nil). Decoded objects come back marked, so `{}` round-trips. Errors are helua diagnostics.
local diag = require "helua.diag"

local json = {}

json.null = setmetatable({}, {
  __tostring = function() return "json.null" end,
  __newindex = function() error("json.null is a constant", 2) end,
})

local Object = {__name = "json.object"}

-- Marks t (default: a new table) as a JSON object, so that it encodes as {} when empty.
function json.object(t)
  return setmetatable(t or {}, Object)
end

function json.is_object(t) return getmetatable(t) == Object end

---------------------------------------------------------------------------------------------------
-- Encoding

local function fail(msg, path)
  diag.raise("json: " .. msg .. (path ~= "$" and (" (at " .. path .. ")") or ""))
end

-- The shortest decimal that reads back as the same float, laid out as Python's repr (and so
-- json.dumps) writes it: "0.1", "2.0", "1e-05", "1e+16", "1.2345678901234568e+17".
function json.format_float(x)
  local s
  for prec = 0, 16 do
    s = string.format("%." .. prec .. "e", x)
    if tonumber(s) == x then break end
  end
  local sign, mant, exp = s:match("^(-?)([%d%.]+)e([%+%-]%d+)$")
  local digits = mant:gsub("%.", ""):gsub("0+$", "")
  if digits == "" then digits = "0" end
  exp = tonumber(exp)
  if exp < -4 or exp >= 16 then
    local m = digits:sub(1, 1) .. (#digits > 1 and ("." .. digits:sub(2)) or "")
    return string.format("%s%se%s%02d", sign, m, exp < 0 and "-" or "+", math.abs(exp))
  elseif exp < 0 then
    return sign .. "0." .. string.rep("0", -exp - 1) .. digits
  elseif #digits <= exp + 1 then
    return sign .. digits .. string.rep("0", exp + 1 - #digits) .. ".0"
  end
  return sign .. digits:sub(1, exp + 1) .. "." .. digits:sub(exp + 2)
end

local function format_number(x, path)
  if math.type(x) == "integer" then return tostring(x) end
  if x ~= x or x == math.huge or x == -math.huge then
    fail("cannot encode " .. tostring(x) .. " (JSON has no inf or nan)", path)
  end
  return json.format_float(x)
end

local short_escapes = {
  ['"'] = '\\"', ["\\"] = "\\\\", ["\b"] = "\\b", ["\f"] = "\\f",
  ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t",
}

local function u_escape(cp)
  if cp < 0x10000 then return string.format("\\u%04x", cp) end
  cp = cp - 0x10000
  return string.format("\\u%04x\\u%04x", 0xD800 + (cp >> 10), 0xDC00 + (cp & 0x3FF))
end

-- Quotes s as Python's json.dumps does (ensure_ascii): printable ASCII stays, everything else is
-- escaped; valid UTF-8 becomes \uXXXX (surrogate pairs above the BMP), other bytes \u00XX.
function json.quote(s)
  if not s:find('[^ -~]') and not s:find('["\\]') then return '"' .. s .. '"' end
  local out, i, n = {'"'}, 1, #s
  while i <= n do
    local c = s:sub(i, i)
    local b = c:byte()
    if short_escapes[c] then
      out[#out + 1] = short_escapes[c]
      i = i + 1
    elseif b >= 0x20 and b < 0x7f then
      out[#out + 1] = c
      i = i + 1
    else
      local ok, cp = false, nil
      if b >= 0x80 then
        local len = b >= 0xF0 and 4 or b >= 0xE0 and 3 or b >= 0xC2 and 2 or 0
        if len > 0 and i + len - 1 <= n then
          ok, cp = pcall(utf8.codepoint, s, i)
          ok = ok and utf8.len(s, i, i + len - 1) == 1
        end
        if ok then
          out[#out + 1] = u_escape(cp)
          i = i + len
        end
      end
      if not ok then
        out[#out + 1] = string.format("\\u%04x", b)
        i = i + 1
      end
    end
  end
  out[#out + 1] = '"'
  return table.concat(out)
end

-- "array", "object" or an error: how the table t encodes.
local function table_kind(t, path)
  if getmetatable(t) == Object then return "object" end
  local n, count, has_string = #t, 0, false
  for k in pairs(t) do
    count = count + 1
    if type(k) == "string" then
      has_string = true
    elseif math.type(k) ~= "integer" or k < 1 or k > n then
      if type(k) == "number" then
        fail("cannot encode a table with key " .. tostring(k) ..
             " (arrays must be 1..n without holes; use json.null for a hole)", path)
      end
      fail("cannot encode a table key of type " .. type(k) .. " (object keys must be strings)", path)
    end
  end
  if has_string then
    if count ~= 0 and n > 0 then
      fail("cannot encode a table with both array items and string keys", path)
    end
    return "object"
  end
  return "array"
end

local function sorted_keys(t, order)
  local keys, first, seen = {}, {}, {}
  if order then
    for _, k in ipairs(order) do
      if t[k] ~= nil and not seen[k] then first[#first + 1] = k; seen[k] = true end
    end
  end
  for k in pairs(t) do
    if not seen[k] then keys[#keys + 1] = k end
  end
  table.sort(keys)
  table.move(keys, 1, #keys, #first + 1, first)
  return first
end

local function encode_value(v, opts, depth, path, out, active)
  local tv = type(v)
  if v == json.null then
    out[#out + 1] = "null"
  elseif tv == "boolean" then
    out[#out + 1] = v and "true" or "false"
  elseif tv == "number" then
    out[#out + 1] = format_number(v, path)
  elseif tv == "string" then
    out[#out + 1] = json.quote(v)
  elseif tv == "table" then
    if active[v] then fail("cannot encode a table that contains itself", path) end
    active[v] = true
    local kind = table_kind(v, path)
    local nl, pad, pad_in, colon, comma = "", "", "", ":", ","
    if opts.indent then
      nl = "\n"
      pad = string.rep(" ", opts.indent * depth)
      pad_in = string.rep(" ", opts.indent * (depth + 1))
      colon = ": "
    elseif opts.spaced then
      colon, comma = ": ", ", "
    end
    if kind == "array" then
      if #v == 0 then
        out[#out + 1] = "[]"
      else
        out[#out + 1] = "[" .. nl
        for i = 1, #v do
          if i > 1 then out[#out + 1] = comma .. nl end
          out[#out + 1] = pad_in
          encode_value(v[i], opts, depth + 1, path .. "[" .. (i - 1) .. "]", out, active)
        end
        out[#out + 1] = nl .. pad .. "]"
      end
    else
      local keys = sorted_keys(v, depth == 0 and opts.key_order or nil)
      if #keys == 0 then
        out[#out + 1] = "{}"
      else
        out[#out + 1] = "{" .. nl
        for i, k in ipairs(keys) do
          if i > 1 then out[#out + 1] = comma .. nl end
          out[#out + 1] = pad_in .. json.quote(k) .. colon
          encode_value(v[k], opts, depth + 1, path .. "." .. k, out, active)
        end
        out[#out + 1] = nl .. pad .. "}"
      end
    end
    active[v] = nil
  else
    fail("cannot encode a " .. tv .. " value", path)
  end
end

-- json.encode(value [, opts]) -> string. opts: indent = n (Python's json.dumps(indent=n)
-- layout), spaced = true (one line with ", " and ": " as json.dumps' default), key_order =
-- {names} (these top-level keys first, in this order; the others sorted).
function json.encode(value, opts)
  local out = {}
  encode_value(value, opts or {}, 0, "$", out, {})
  return table.concat(out)
end

---------------------------------------------------------------------------------------------------
-- Decoding

local MAX_DEPTH = 512

local Decoder = {}
Decoder.__index = Decoder

function Decoder:where(pos)
  local line, col = 1, 1
  local last_nl = 0
  for i = 1, math.min(pos - 1, #self.text) do
    if self.text:byte(i) == 10 then line = line + 1; last_nl = i end
  end
  col = pos - last_nl
  return string.format("line %d, column %d (byte %d)", line, col, pos)
end

function Decoder:found(pos)
  if pos > #self.text then return "the end of the text" end
  local c = self.text:sub(pos, pos)
  if c:find("[%c]") then return string.format("byte 0x%02x", c:byte()) end
  local word = self.text:match("^[%w_%.%+%-]+", pos)
  return "'" .. ((word and #word > 1 and #word <= 20) and word or c) .. "'"
end

function Decoder:error(pos, expected, found)
  diag.raise(string.format("json: expected %s at %s, found %s", expected, self:where(pos),
    found or self:found(pos)), {hint = self.hint})
end

function Decoder:skip(pos)
  return self.text:find("[^ \t\r\n]", pos) or #self.text + 1
end

local escapes = {['"'] = '"', ["\\"] = "\\", ["/"] = "/", b = "\b", f = "\f", n = "\n",
  r = "\r", t = "\t"}

function Decoder:hex4(pos)
  local h = self.text:match("^%x%x%x%x", pos)
  if not h then self:error(pos, "4 hex digits after \\u") end
  return tonumber(h, 16)
end

function Decoder:string(pos)
  local text, out = self.text, {}
  local i = pos + 1
  while true do
    local j = text:find('["\\%c]', i)
    if not j then self:error(#text + 1, "'\"' to close the string that starts at byte " .. pos) end
    out[#out + 1] = text:sub(i, j - 1)
    local c = text:sub(j, j)
    if c == '"' then
      return table.concat(out), j + 1
    elseif c == "\\" then
      local e = text:sub(j + 1, j + 1)
      if escapes[e] then
        out[#out + 1] = escapes[e]
        i = j + 2
      elseif e == "u" then
        local cp = self:hex4(j + 2)
        i = j + 6
        if cp >= 0xD800 and cp <= 0xDBFF and text:match("^\\u", i) then
          local lo = self:hex4(i + 2)
          if lo >= 0xDC00 and lo <= 0xDFFF then
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00)
            i = i + 6
          end
        end
        out[#out + 1] = utf8.char(cp)
      else
        self:error(j + 1, "an escape (\\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX)")
      end
    else
      self:error(j, "a character or '\"'", string.format("control byte 0x%02x (escape it)", c:byte()))
    end
  end
end

function Decoder:number(pos)
  local text = self.text
  local int = text:match("^-?%d+", pos)
  if not int then self:error(pos, "a value") end
  local digits = int:sub(1, 1) == "-" and int:sub(2) or int
  if #digits > 1 and digits:sub(1, 1) == "0" then
    self:error(pos, "a number without leading zeros", "'" .. int .. "'")
  end
  local i = pos + #int
  local frac = text:match("^%.%d*", i)
  if frac then
    if #frac == 1 then self:error(i + 1, "a digit after '.'") end
    i = i + #frac
  end
  local exp = text:match("^[eE][%+%-]?%d*", i)
  if exp then
    if not exp:find("%d") then self:error(i + #exp, "a digit in the exponent") end
    i = i + #exp
  end
  local s = text:sub(pos, i - 1)
  if not frac and not exp then
    local n = math.tointeger(tonumber(s))
    if n and tostring(n) == s:gsub("^%-0$", "0") then return n, i end
  end
  return tonumber(s) + 0.0, i
end

function Decoder:value(pos, depth)
  pos = self:skip(pos)
  local text = self.text
  local c = text:sub(pos, pos)
  if c == "{" or c == "[" then
    if depth >= MAX_DEPTH then self:error(pos, "nesting at most " .. MAX_DEPTH .. " deep") end
  end
  if c == "{" then
    local obj = json.object()
    pos = self:skip(pos + 1)
    if text:sub(pos, pos) == "}" then return obj, pos + 1 end
    while true do
      if text:sub(pos, pos) ~= '"' then self:error(pos, "a string key") end
      local key
      key, pos = self:string(pos)
      pos = self:skip(pos)
      if text:sub(pos, pos) ~= ":" then self:error(pos, "':' after the key") end
      obj[key], pos = self:value(pos + 1, depth + 1)
      pos = self:skip(pos)
      local d = text:sub(pos, pos)
      if d == "}" then return obj, pos + 1 end
      if d ~= "," then self:error(pos, "',' or '}'") end
      pos = self:skip(pos + 1)
    end
  elseif c == "[" then
    local arr = {}
    pos = self:skip(pos + 1)
    if text:sub(pos, pos) == "]" then return arr, pos + 1 end
    while true do
      arr[#arr + 1], pos = self:value(pos, depth + 1)
      pos = self:skip(pos)
      local d = text:sub(pos, pos)
      if d == "]" then return arr, pos + 1 end
      if d ~= "," then self:error(pos, "',' or ']'") end
      pos = pos + 1
    end
  elseif c == '"' then
    return self:string(pos)
  elseif text:find("^true", pos) then
    return true, pos + 4
  elseif text:find("^false", pos) then
    return false, pos + 5
  elseif text:find("^null", pos) then
    return json.null, pos + 4
  elseif c:find("[%-%d]") then
    return self:number(pos)
  end
  self:error(pos, "a value (object, array, string, number, true, false or null)")
end

-- json.decode(text [, opts]) -> value. Objects come back as tables marked by json.object, null
-- as json.null, integers (no '.' or exponent) as Lua integers. opts.hint adds a hint line to
-- errors. Any malformed input is a helua error naming the position and what was expected.
function json.decode(text, opts)
  if type(text) ~= "string" then
    diag.raise("json.decode expects a string, got " .. type(text))
  end
  local d = setmetatable({text = text, hint = opts and opts.hint}, Decoder)
  local value, pos = d:value(1, 0)
  pos = d:skip(pos)
  if pos <= #text then d:error(pos, "the end of the text") end
  return value
end

return json
