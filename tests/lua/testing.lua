-- A small test harness for the Lua test scripts: T.test, assertions, and a summary line.
-- Part of tests/lua. Each test script ends with `T.done()`, which sets the exit code.
local T = {passed = 0, failed = 0, name = (arg and arg[0] or "test"):match("([^/]+)%.lua$") or "test"}

local function fail(msg, level) error(msg, (level or 1) + 1) end

function T.test(name, fn)
  local ok, err = xpcall(fn, debug.traceback)
  if ok then
    T.passed = T.passed + 1
    print("ok   " .. name)
  else
    T.failed = T.failed + 1
    print("FAIL " .. name .. "\n" .. tostring(err))
  end
end

function T.eq(got, want, what)
  if got ~= want then
    fail(string.format("%s: expected %s, got %s", what or "value", tostring(want), tostring(got)), 2)
  end
end

function T.near(got, want, tol, what)
  tol = tol or 1e-6
  if type(got) ~= "number" or math.abs(got - want) > tol * math.max(1, math.abs(want)) then
    fail(string.format("%s: expected %s (tol %g), got %s", what or "value", tostring(want), tol, tostring(got)), 2)
  end
end

function T.truthy(v, what)
  if not v then fail((what or "condition") .. " is false", 2) end
end

-- r is a helua.run result (run.check / run.compare): fails with what, its message and the errors
-- unless r.ok. level as for error (1: where T.close is called).
function T.close(r, what, level)
  if not r.ok then
    fail(string.format("%s: %s (max abs err %s, rel err %s)", what,
                       r.message or "not close to the reference", tostring(r.max_abs),
                       tostring(r.rel)), (level or 1) + 1)
  end
end

-- Runs fn, which must raise an error whose text contains every given plain-text piece.
-- Returns the error text so tests can print or check more.
function T.raises(fn, ...)
  local ok, err = pcall(fn)
  if ok then fail("expected an error, got none", 2) end
  local text = tostring(err)
  for _, piece in ipairs({...}) do
    if not text:find(piece, 1, true) then
      fail(string.format("error text lacks %q:\n%s", piece, text), 2)
    end
  end
  return text
end

-- Lines of the test script tagged with a trailing `--@tag` comment: the line number and text.
local script_lines
function T.line_of(tag)
  if not script_lines then
    script_lines = {}
    for l in io.lines(arg[0]) do script_lines[#script_lines + 1] = l end
  end
  for i, l in ipairs(script_lines) do
    if l:find("--@" .. tag .. "$") then return i, l end
  end
  error("no line tagged --@" .. tag, 2)
end

-- Runs fn, which must raise a helua diagnostic anchored at the line tagged --@tag of this test
-- script: "<script>:<line>:", the line's code, the numbered source line and a caret, plus every
-- given piece. Returns the error text.
function T.raises_at(tag, fn, ...)
  local n, text = T.line_of(tag)
  local code = text:gsub("%s*%-%-@.*$", ""):match("^%s*(.-)$")
  local err = T.raises(fn, T.name .. ".lua:" .. n .. ":", code, ...)
  T.truthy(err:find("\n%s+" .. n .. " | "), "the source line is shown with its number")
  T.truthy(err:find("\n%s+|%s*%^"), "a caret line")
  return err
end

-- The kernel files kernels/*.lua (run from the source root), sorted; {} when there are none.
function T.kernel_files()
  local files = {}
  local p = assert(io.popen("ls kernels/*.lua 2>/dev/null"))
  for line in p:lines() do files[#files + 1] = line end
  p:close()
  return files
end

function T.done()
  print(string.format("%s: %d passed, %d failed", T.name, T.passed, T.failed))
  os.exit(T.failed == 0 and T.passed > 0 and 0 or 1)
end

return T
