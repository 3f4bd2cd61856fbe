-- Smoke test: the embedded modules load and the core reports its versions.
-- Part of tests/lua.
package.path = arg[0]:match("(.*/)") .. "?.lua;" .. package.path
local T = require "testing"
local core = require "helua.core"

T.test("versions", function()
  local v = core.versions()
  T.eq(v.lua, "Lua 5.4.4", "lua version")
  T.truthy(v.llvm:match("^19%."), "llvm 19")
  T.truthy(v.helua:match("^%d+%.%d+%.%d+$"), "helua version")
end)

T.test("flags are declared", function()
  local names = {}
  for _, f in ipairs(core.flags()) do names[f.name] = f end
  for _, n in ipairs({"HELUA_AUTOTUNE_EFFORT", "HELUA_PRINT_OUTPUT_CODE", "HELUA_INTERPRET",
                      "HELUA_FORCE_AUTOTUNE", "HELUA_LOGS", "HELUA_BACKEND", "HELUA_CACHE_DIR"}) do
    T.truthy(names[n], n .. " declared")
    T.truthy(#names[n].doc > 0, n .. " documented")
  end
  T.raises(function() core.flag("HELUA_NOT_A_FLAG") end, "not declared")
end)

T.test("modules load", function()
  T.eq(type(require "helua"), "table", "helua")
  T.eq(type(require "helua.language"), "table", "helua.language")
end)

T.done()
