-- helua.json: Python-compatible layout, float/int/string forms, strict decoding and its errors.
-- Part of tests/lua.
package.path = arg[0]:match("(.*/)") .. "?.lua;" .. package.path
local T = require "testing"
local json = require "helua.json"
local diag = require "helua.diag"

T.test("scalars", function()
  T.eq(json.encode(3), "3", "integer")
  T.eq(json.encode(-7), "-7", "negative integer")
  T.eq(json.encode(3.0), "3.0", "integral float keeps .0")
  T.eq(json.encode(0.1), "0.1", "shortest float")
  T.eq(json.encode(1 / 3), "0.3333333333333333", "17 digits when needed")
  T.eq(json.encode(1e16), "1e+16", "Python's exponent threshold")
  T.eq(json.encode(1e15), "1000000000000000.0", "below the threshold")
  T.eq(json.encode(1e-5), "1e-05", "small exponent")
  T.eq(json.encode(-0.0), "-0.0", "negative zero")
  T.eq(json.encode(true), "true", "true")
  T.eq(json.encode(false), "false", "false")
  T.eq(json.encode(json.null), "null", "null")
  T.eq(json.encode("hi"), '"hi"', "string")
  T.eq(tostring(json.null), "json.null", "null prints")
end)

T.test("floats round-trip", function()
  for _, x in ipairs({0.1, 1 / 3, math.pi, 1e300, 5e-324, -2.5e-8, 123456789.125, 2 ^ 60 + 0.0}) do
    local back = json.decode(json.encode(x))
    T.eq(math.type(back), "float", "stays float: " .. x)
    T.eq(back, x, "round trip of " .. string.format("%.17g", x))
  end
  T.eq(math.type(json.decode("64")), "integer", "integers decode as integers")
  T.eq(math.type(json.decode("64.0")), "float", "64.0 decodes as float")
  T.eq(json.decode("-0"), 0, "-0")
  T.eq(math.type(json.decode("123456789012345678901234")), "float", "huge integers become floats")
  T.eq(json.decode("9007199254740993"), 9007199254740993, "exact 64-bit integers")
end)

T.test("string escapes", function()
  T.eq(json.encode('a"b\\c'), '"a\\"b\\\\c"', "quote and backslash")
  T.eq(json.encode("\n\r\t\b\f"), '"\\n\\r\\t\\b\\f"', "short escapes")
  T.eq(json.encode("\1\127"), '"\\u0001\\u007f"', "control bytes")
  T.eq(json.encode("\226\130\172"), '"\\u20ac"', "BMP code point (ensure_ascii)")
  T.eq(json.encode("\240\159\152\128"), '"\\ud83d\\ude00"', "astral code point: surrogate pair")
  T.eq(json.encode("\255x"), '"\\u00ffx"', "invalid UTF-8 byte")
  T.eq(json.encode("/"), '"/"', "slash is not escaped")
  for _, s in ipairs({"plain", "\0zero", "tab\tand\"quote", "\226\130\172uro", "\240\159\152\128", "\127"}) do
    T.eq(json.decode(json.encode(s)), s, "round trip " .. s:gsub("%c", "?"))
  end
  T.eq(json.decode('"\\u00e9\\/\\ud83d\\ude00"'), "\195\169/\240\159\152\128", "decoded escapes")
end)

T.test("arrays and objects", function()
  T.eq(json.encode({}), "[]", "empty table is an array")
  T.eq(json.encode(json.object()), "{}", "marked empty object")
  T.eq(json.encode({1, 2, 3}), "[1,2,3]", "array")
  T.eq(json.encode({b = 1, a = 2, c = {}}), '{"a":2,"b":1,"c":[]}', "keys sorted")
  T.eq(json.encode({b = 1, a = 2}, {spaced = true}), '{"a": 2, "b": 1}', "json.dumps default separators")
  T.eq(json.encode({z = 1, a = 2, m = 3}, {key_order = {"z", "q"}}), '{"z":1,"a":2,"m":3}', "key_order first")
  T.eq(json.encode({1, json.null, 3}), "[1,null,3]", "null holes")
  local obj = json.decode("{}")
  T.truthy(json.is_object(obj), "decoded {} is marked")
  T.eq(json.encode(obj), "{}", "decoded {} re-encodes as {}")
  T.eq(json.encode(json.decode("[]")), "[]", "decoded [] re-encodes as []")
end)

-- What Python 3 prints for json.dumps(value, indent=2) of the same data.
local PYTHON_INDENT2 = [[
{
  "block_sizes": [
    64,
    64,
    32
  ],
  "loop_orders": [
    [
      1,
      0
    ]
  ],
  "reduction_loops": [
    null,
    64
  ],
  "num_warps": 4,
  "e": {},
  "f": 0.1,
  "h": 2.0,
  "s": "x\n\u20ac"
}]]

T.test("indent=2 matches Python's json.dumps", function()
  local v = json.object{block_sizes = {64, 64, 32}, loop_orders = {{1, 0}}, reduction_loops = {json.null, 64},
    num_warps = 4, e = json.object(), f = 0.1, h = 2.0, s = "x\n\226\130\172"}
  local text = json.encode(v, {indent = 2, key_order = {"block_sizes", "loop_orders", "reduction_loops", "num_warps"}})
  T.eq(text, PYTHON_INDENT2, "layout")
  T.eq(json.encode(json.decode(text), {indent = 2, key_order = {"block_sizes", "loop_orders", "reduction_loops", "num_warps"}}),
    PYTHON_INDENT2, "decode then encode is stable")
end)

T.test("decode values", function()
  local v = json.decode(' { "a" : [1, -2.5e3, true, false, null, "s", {"k": []}] , "b":{} }\n')
  T.eq(v.a[1], 1, "int")
  T.eq(v.a[2], -2500.0, "exponent")
  T.eq(v.a[3], true, "true")
  T.eq(v.a[4], false, "false")
  T.eq(v.a[5], json.null, "null")
  T.eq(v.a[6], "s", "string")
  T.eq(#v.a[7].k, 0, "nested empty array")
  T.truthy(json.is_object(v.b), "nested empty object")
  T.eq(json.decode('{"a": 1, "a": 2}').a, 2, "duplicate keys: last wins (as Python)")
end)

T.test("encode errors", function()
  T.raises(function() json.encode(print) end, "cannot encode a function")
  T.raises(function() json.encode({x = 0 / 0}) end, "no inf or nan", "at $.x")
  T.raises(function() json.encode({1 / 0}) end, "inf", "at $[0]")
  T.raises(function() json.encode({1, 2, x = 3}) end, "both array items and string keys")
  T.raises(function() json.encode({[1] = 1, [3] = 3}) end, "key 3", "use json.null for a hole")
  T.raises(function() json.encode({[true] = 1}) end, "object keys must be strings")
  local t = {}
  t.self = t
  T.raises(function() json.encode(t) end, "contains itself", "at $.self")
end)

T.test("decode errors name the position and what was expected", function()
  local cases = {
    {"", "expected a value", "byte 1", "found the end of the text"},
    {"{", "expected a string key", "byte 2"},
    {'{"a" 1}', "expected ':' after the key", "column 6"},
    {'{"a": 1,}', "expected a string key", "byte 9", "found '}'"},
    {"[1 2]", "expected ',' or ']'", "byte 4"},
    {"[1,]", "expected a value", "byte 4"},
    {'"abc', "expected '\"' to close the string", "starts at byte 1"},
    {'"a\\qb"', "expected an escape"},
    {'"\\u12g4"', "expected 4 hex digits"},
    {'"a\nb"', "control byte 0x0a (escape it)"},
    {"01", "without leading zeros"},
    {"1.", "a digit after '.'"},
    {"1e+", "a digit in the exponent"},
    {"tru", "expected a value", "found 'tru'"},
    {"NaN", "expected a value", "found 'NaN'"},
    {"[1] x", "expected the end of the text", "byte 5"},
    {'{\n  "a": [1,\n  2,,]}', "line 3, column 5"},
  }
  for _, c in ipairs(cases) do
    local text = T.raises(function() json.decode(c[1]) end, table.unpack(c, 2))
    T.truthy(text:find("json: ", 1, true), "json prefix for " .. c[1])
  end
  T.raises(function() json.decode(42) end, "expects a string, got number")
  T.raises(function() json.decode(string.rep("[", 100000)) end, "nesting at most")
end)

T.test("decode never crashes on mangled input", function()
  local base = '{"block_sizes": [64, 32], "loop_orders": [[1, 0]], "s": "x\\u20acy", "f": -1.5e-3, "n": null}'
  local bytes = '{}[]",:\\-+.eE0123456789tfnul \n\t\0\255'
  math.randomseed(7)
  for _ = 1, 3000 do
    local s = base
    for _ = 1, math.random(1, 3) do
      local i = math.random(1, #s)
      local op = math.random(3)
      local b = math.random(#bytes)
      local c = bytes:sub(b, b)
      if op == 1 then s = s:sub(1, i - 1) .. c .. s:sub(i + 1)
      elseif op == 2 then s = s:sub(1, i - 1) .. s:sub(i + 1)
      else s = s:sub(1, i) .. c .. s:sub(i + 1) end
    end
    local ok, err = pcall(json.decode, s)
    if not ok and not diag.is_error(err) then
      error("non-diagnostic error for " .. s .. ": " .. tostring(err))
    end
  end
end)

T.done()
