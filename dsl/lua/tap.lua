-- tap.lua - "radiokin.tap": a Test Anything Protocol producer for the Lua
-- tests (tests/*.lua, run by `radiokin` under automake's TAP driver).
--
--   local t = require "radiokin.tap"
--   t.plan(3)                          -- or no plan and t.done() at the end
--   t.ok(x > 0, "x is positive")
--   t.is(got, want, 1e-9, "matches the analytic value (rel 1e-9)")
--   t.like(msg, "unknown state", "message names the problem")
--   t.raises(function() f(bad) end, "field 'amount'", "bad amount raises")
--   t.done()                           -- exits 1 if anything failed
--
-- Patterns (like, raises) match as a Lua pattern or, failing that, as
-- plain text, so messages with ( ) [ ] - . need no escaping.

local M = {}
local run, failed, planned = 0, 0, nil

io.stdout:setvbuf("line")

local function clean(name)
  name = tostring(name or "")
  return (name:gsub("[\r\n]", " "):gsub("#", "\\#"))
end

function M.diag(...)
  local msg = table.concat({ ... }, "\n")
  for line in (msg .. "\n"):gmatch("(.-)\n") do
    io.stdout:write("# ", line, "\n")
  end
end

function M.plan(n)
  if planned then error("tap: plan() called twice", 2) end
  if math.type(n) ~= "integer" or n < 0 then
    error("tap: plan(n) needs a non-negative integer", 2)
  end
  planned = n
  io.stdout:write("1..", n, "\n")
end

local function report(pass, name)
  run = run + 1
  if not pass then failed = failed + 1 end
  io.stdout:write(pass and "ok " or "not ok ", run, " - ", clean(name), "\n")
  return pass
end

function M.ok(v, name)
  return report(not not v, name)
end

local function fmt(v)
  if type(v) == "number" then return ("%.17g"):format(v) end
  if type(v) == "string" then return ("%q"):format(v) end
  return tostring(v)
end

-- t.is(got, want [, rel] [, name]): numbers within a relative tolerance
-- rel (|got - want| <= rel * |want|, or <= rel when want is 0; rel 0 or
-- nil means equal); other values by ==.
function M.is(got, want, rel, name)
  if type(rel) == "string" and name == nil then rel, name = nil, rel end
  local pass, why
  if type(want) == "number" and type(got) == "number" then
    rel = rel or 0
    local diff = math.abs(got - want)
    local scale = want == 0 and 1 or math.abs(want)
    pass = got == want or (diff == diff and diff <= rel * scale)
    why = ("rel. diff %.3g > tolerance %.3g"):format(diff / scale, rel)
  else
    pass = got == want
  end
  report(pass, name)
  if not pass then
    M.diag("  got:  " .. fmt(got), "  want: " .. fmt(want))
    if why then M.diag("  " .. why) end
  end
  return pass
end

local function matches(s, pattern)
  local ok, found = pcall(string.find, s, pattern)
  if ok and found then return true end
  return s:find(pattern, 1, true) ~= nil
end

function M.like(s, pattern, name)
  local pass = type(s) == "string" and matches(s, pattern)
  report(pass, name)
  if not pass then
    M.diag("  got:  " .. fmt(s), "  expected to match: " .. fmt(pattern))
  end
  return pass
end

-- t.raises(fn, pattern, name): fn() must raise an error whose text
-- matches pattern. Returns the message.
function M.raises(fn, pattern, name)
  local ok, err = pcall(fn)
  local msg = tostring(err)
  local pass = not ok and matches(msg, pattern)
  report(pass, name)
  if ok then
    M.diag("  no error was raised; expected one matching " .. fmt(pattern))
  elseif not pass then
    M.diag("  error: " .. msg, "  expected to match: " .. fmt(pattern))
  end
  return msg
end

-- t.todo(v, name, reason): a known gap: "not ok ... # TODO reason" when
-- v is false (reported, not counted as a failure); an ordinary pass when
-- v is true.
function M.todo(v, name, reason)
  if v then return report(true, name) end
  run = run + 1
  io.stdout:write("not ok ", run, " - ", clean(name), " # TODO ",
    clean(reason), "\n")
  return false
end

function M.skip(reason, n)
  for _ = 1, n or 1 do
    run = run + 1
    io.stdout:write("ok ", run, " # SKIP ", clean(reason), "\n")
  end
end

-- Ends the test: prints the plan if none was given; exits with status 1
-- when a test failed or the count differs from the plan.
function M.done()
  if not planned then io.stdout:write("1..", run, "\n") end
  if planned and planned ~= run then
    M.diag(("planned %d tests but ran %d"):format(planned, run))
  end
  io.stdout:flush()
  if failed > 0 or (planned and planned ~= run) then os.exit(1, true) end
  return true
end

function M.failed() return failed end

-- File helpers for tests that write inputs and read outputs.
-- t.scratch() -> a new empty folder (under the system's temp folder).
function M.scratch()
  local dir = os.tmpname()
  os.remove(dir)
  require("radiokin.core").mkdir(dir)
  return dir
end

-- t.run(argv) -> output, status: a program run without a shell (rk.run),
-- its standard output followed by its standard error; raises when it
-- cannot start.
function M.run(argv)
  local status, out, err = require("radiokin.core").run(argv)
  if not status then error(out, 2) end
  return out .. err, status
end

-- t.mpirun(np) -> the argv prefix {"mpirun", "-np", np, ...} for tests:
-- --oversubscribe (more ranks than cores), --allow-run-as-root when run
-- as root (CI), and under the sanitizer build ASAN_OPTIONS with
-- detect_leaks=0 passed to the ranks: OpenMPI's own start-up allocations
-- (in plugins it unloads at MPI_Finalize, so LeakSanitizer can neither
-- name nor suppress them) would count as leaks; memory errors are still
-- checked, and radiokin's own leaks by the runs without mpirun.
function M.mpirun(np)
  local argv = { "mpirun", "-np", tostring(np), "--oversubscribe" }
  local _, uid = require("radiokin.core").run { "id", "-u" }
  if (uid or ""):match("^0%s*$") then
    argv[#argv + 1] = "--allow-run-as-root"
  end
  local asan = os.getenv("ASAN_OPTIONS")
  if asan then
    argv[#argv + 1] = "-x"
    argv[#argv + 1] = "ASAN_OPTIONS=" .. asan .. ":detect_leaks=0"
  end
  return argv
end

-- t.list_dir(dir) -> its entries (ls -A, one per line, sorted).
function M.list_dir(dir)
  return (M.run { "ls", "-A", dir })
end

-- t.remove_tree(dir): removes a scratch folder and all below it.
function M.remove_tree(dir)
  M.run { "rm", "-rf", "--", dir }
end

-- t.write_file(path, text) -> path (binary mode: text is written as is).
function M.write_file(path, text)
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
  return path
end

-- t.read_file(path) -> its whole text, or nil when it cannot be opened.
function M.read_file(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

return M
