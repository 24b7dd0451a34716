-- tests/errors.lua - every bad input of issue 3 ("Bad input": model
-- script, dosing, CLI) is provoked on purpose and its message checked.
local rk = require "radiokin"
local t = require "radiokin.tap"

local builddir = os.getenv("RADIOKIN_BUILDDIR")
local exe = builddir and (builddir .. "/radiokin") or arg[-1]

local function spec(over)
  local s = {
    name = "bad", nuclide = "Lu-177", states = { "A", "B" },
    params = { k = 0.1, kb = 0.05 },
    ode = function(s, p)
      return { A = -p.k * s.A, B = p.k * s.A - p.kb * s.B }
    end,
  }
  for k, v in pairs(over or {}) do s[k] = v end
  return s
end

-- ------------------------------------------------------- model script
t.raises(function()
  rk.model(spec { ode = function(s, p) return { A = -p.k * s.A } end })
end, "rk.model 'bad': ode returns no derivative for state 'B'",
  "a state with no derivative is named")
t.raises(function()
  rk.model(spec { ode = function(s, p)
    return { A = -p.k * s.A, B = 0, C = s.A }
  end })
end, "derivative for unknown state 'C' (states: A, B)",
  "a derivative for an unknown state is named, with the known states")
local msg = t.raises(function()
  rk.model(spec { ode = function(s, p)
    return { A = -p.kXX * s.A, B = 0 }
  end })
end, "rk.model 'bad': ode reads unknown parameter 'p.kXX' (parameters: k, kb)",
  "an unknown parameter is named with the model and the known ones")
t.like(msg, "errors.lua:%d+:", "... at the line of the ode that reads it")
t.raises(function()
  rk.model(spec { ode = function(s) return { A = s.Q, B = 0 } end })
end, "unknown state 's.Q'", "an unknown state read is named")
t.raises(function()
  rk.model(spec { params = { k = "fast", kb = 0.05 } })
end, "parameter 'k' must be a finite number (got string)",
  "a non-numeric parameter value is named")
t.raises(function()
  rk.model(spec { params = { k = 0 / 0, kb = 0.05 } })
end, "parameter 'k' must be a finite number (got nan)",
  "a NaN parameter value is named")
t.raises(function()
  rk.model(spec { params = { k = rk.positive(-0.6), kb = 0.05 } })
end, "parameter 'k' must be positive", "rk.positive rejects a negative rate")
t.raises(function()
  rk.model(spec { positive = true, params = { k = 0.1, kb = -0.05 } })
end, "parameter 'kb' must be positive", "positive = true covers every rate")
t.raises(function()
  rk.model(spec { nuclide = { name = "X-1", half_life_h = -5 } })
end, "nuclide: field 'half_life_h' must be a positive number of hours",
  "a negative half-life is rejected")
t.raises(function()
  rk.model(spec { nuclide = "Lu-999" })
end, "unknown nuclide 'Lu-999' (known: Lu-177",
  "an unknown nuclide gives the engine's message with the known names")
t.raises(function()
  rk.model(spec { ode = function(s, p)
    if s.A > 0 then return { A = 0, B = 0 } end
  end })
end, "expressions cannot be compared",
  "an if on a symbolic value explains tracing")
t.raises(function() rk.model(spec { ode = function() return 5 end }) end,
  "ode must return a table", "ode returning a number")
t.raises(function()
  rk.model(spec { ode = function(s) return { A = "x", B = 0 } end })
end, "derivative of 'A': expected a number or an expression",
  "a derivative that is a string")
t.raises(function() rk.model(spec { odee = 1 }) end,
  "unknown field 'odee'", "a misspelt model field")
t.raises(function() rk.model(spec { states = { "A", "A" } }) end,
  "state 'A' is listed twice", "duplicate state")
local leaked
rk.model(spec { ode = function(s, p)
  leaked = s.A
  return { A = -p.k * s.A, B = 0 }
end })
t.raises(function() return leaked * 2 end,
  "used after its model was built", "an expression kept after tracing")

-- Inf/NaN at solve time names the state, the expression and the time.
local div = rk.model {
  name = "div", states = { "A", "B" }, params = { k = 0.5 },
  ode = function(s, p) return { A = -p.k * s.A, B = p.k * s.A / s.B } end,
}
t.raises(function()
  div:simulate { doses = { { time = 0, amount = 100, to = "A" } },
    times = { 0, 1 } }
end, "state 'B': d/dt = k * A / B is not finite (NaN or Inf) at t = 0 h",
  "division by a zero state: state, expression and time named")

-- ----------------------------------------------------------- dosing
local m = rk.model(spec())
local function sim(over)
  local o = { doses = { { time = 0, amount = 100, to = "A" } },
    times = { 0, 10 } }
  for k, v in pairs(over) do o[k] = v end
  return function() return m:simulate(o) end
end
t.raises(sim { doses = { { time = 0, amount = 100, to = "X" } } },
  "doses[1]: field 'to': model 'bad': unknown state 'X'",
  "unknown compartment")
t.raises(sim { doses = { { time = 0, amount = -5, to = "A" } } },
  "amount = -5 is invalid", "negative amount")
t.raises(sim { doses = { { time = 5, amount = 1, to = "A" },
  { time = 1, amount = 1, to = "A" } } },
  "doses[2]: dose record 2: time = 1 is earlier", "unsorted dose times")
t.raises(sim { doses = { { time = 0 / 0, amount = 1, to = "A" } } },
  "doses[1]: field 'time' must be a finite number (got nan)", "NaN dose time")
t.raises(sim { doses = { { time = 0, amount = 1, rate = -2.5, to = "A" } } },
  "rate = -2.5 is invalid", "negative infusion rate")
t.raises(sim { doses = { { time = 0, amount = 1, to = "A", II = 24 } } },
  "doses[1]: unknown field 'II'", "a misspelt dose field")
t.raises(sim { doses = { time = 0, amount = 1, to = "A" } },
  "must be an array of dose tables", "a single dose not in an array")
t.raises(sim { times = { 0, 5, 3 } },
  "field 'times' must be sorted", "unsorted output times")
t.raises(sim { times = { 0, 0 / 0 } },
  "field 'times'[2] must be a finite number (got nan)", "NaN output time")
t.raises(sim { tia = { "A", "Z" } },
  "tia[2]: unknown state or output 'Z' (states: A, B",
  "unknown TIA name")
t.raises(sim { params = { kk = 1 } },
  "unknown parameter 'kk'", "unknown parameter override")
t.raises(sim { path = "fast" }, "field 'path' must be", "unknown path")
t.raises(function() return div:simulate { times = { 0, 1 }, path = "exact" }
end, "not linear", "exact path on a nonlinear model")
t.raises(sim { doses = { { time = 1, amount = 1, to = "A" } }, t0 = 5,
  times = { 5, 10 } }, "doses[1] at time 1.0 is before t0 = 5.0",
  "a dose before t0 would be ignored: raise")
t.raises(sim { doses = { { time = -1, amount = 1, to = "A" } } },
  "time = -1 is invalid", "a negative dose time")
t.raises(sim { doses = { { time = 0, amount = 1, to = "A", ii = 24,
  addl = 2.5 } } }, "doses[1]: field 'addl' must be an integer in "
  .. "[0, 2147483647] (got 2.5)", "fractional addl: an error, not floored")
t.raises(sim { doses = { { time = 0, amount = 1, to = "A", ii = 24,
  addl = 1e10 } } }, "field 'addl' must be an integer in [0, 2147483647] "
  .. "(got 1e+10)", "addl beyond int: an error, not wrapped")
t.raises(sim { max_steps = 0 }, "field 'max_steps' must be an integer in "
  .. "[1, 1000000000] (got 0)", "max_steps 0")
t.raises(sim { max_steps = 1e3 + 0.5 }, "(got 1000.5)",
  "fractional max_steps")
-- Integer fields of every binding fit an int: no wrapped casts.
t.raises(function() rk.tac.fit { t = { 1, 2, 3 }, a = { 3, 2, 1 },
  nuclide = "Lu-177", boot = 1e12 } end,
  "rk.tac.fit: field 'boot' must be an integer in [-2147483648, "
  .. "2147483647] (got 1e+12)", "an integer field beyond int: an error")
t.raises(function() rk.tac.fit { t = { 1, 2, 3 }, a = { 3, 2, 1 },
  nuclide = "Lu-177", boot = 2.5 } end, "(got 2.5)",
  "a fractional integer field: an error, not floored")
do
  local pm = rk.model(spec { params = { k = rk.positive(0.1), kb = 0.05 } })
  t.raises(function()
    pm:simulate { times = { 0, 1 }, params = { k = -0.1 } }
  end, "params.k must be positive", "a negative override of a positive rate")
end
t.raises(function()
  local r = m:simulate { times = { 0, 1 }, tia = { "A" } }
  return r.tia.K
end, "r.tia has no entry 'K' (known: A)", "reading an absent TIA raises")

-- ---------------------------------------------------------------- CLI
local tmp = os.tmpname()
local write = t.write_file
local function run(script_path, ...)
  return t.run { exe, script_path, ... }
end

local out, code = run(tmp .. ".does-not-exist.lua")
t.like(out, "^radiokin: cannot open .*does%-not%-exist%.lua",
  "CLI: a missing file is named")
t.is(code, 1, "CLI: missing file -> exit status 1")

write(tmp, "local x = 1\nlocal y = 2\nlocal z = = 3\n")
out, code = run(tmp)
t.like(out, "^radiokin: " .. tmp:gsub("%p", "%%%0") .. ":3: ",
  "CLI: a syntax error is reported as file:line")
t.is(code, 1, "CLI: syntax error -> exit status 1")

write(tmp, "local n = 1\nerror('boom ' .. arg[1] .. select(2, ...))\n")
out, code = run(tmp, "A", "B")
t.like(out, "^radiokin: .*:2: boom AB", "CLI: runtime error with file:line; "
  .. "script args in arg and ...")
t.is(code, 1, "CLI: runtime error -> exit status 1")

write(tmp, "x = 1\n")
out = run(tmp)
t.like(out, ":1: assignment to undeclared global 'x'",
  "CLI: strict globals (assignment)")
write(tmp, "print(undefined_name)\n")
out = run(tmp)
t.like(out, ":1: undeclared global 'undefined_name'",
  "CLI: strict globals (read)")

write(tmp, string.dump(function() return 1 end))
out, code = run(tmp)
t.like(out, "attempt to load a binary chunk", "CLI: binary chunks refused")

write(tmp, "print(require('radiokin').version)\n")
out, code = run(tmp)
t.ok(code == 0 and out:find(rk.version, 1, true), "CLI: script runs, exit 0")

-- Unwritable output: the target is a directory, so the final rename
-- fails after the temporary was written; nothing may be left behind.
local dir = tmp .. ".d"
rk.mkdir(dir .. "/out.csv")
write(tmp, ([[
local rk = require "radiokin"
local m = rk.model { name = "o", states = { "A" }, params = { k = 1 },
  ode = function(s, p) return { A = -p.k * s.A } end }
local r = m:simulate { y0 = { A = 1 }, times = { 0, 1 } }
r:write_csv(%q)
]]):format(dir .. "/out.csv"))
out, code = run(tmp)
t.like(out, "^radiokin: .*:5: r:write_csv: cannot write '.*out%.csv'",
  "CLI: an unwritable output path is named")
t.is(code, 1, "CLI: unwritable output -> exit status 1")
local listing = t.list_dir(dir)
t.is(listing, "out.csv\n", "CLI: no temporary or half-written file left")
write(tmp, ([[
local rk = require "radiokin"
rk.write_atomic(%q, "x")
]]):format(dir .. "/missing/dir/out.csv"))
out, code = run(tmp)
t.like(out, "cannot create a temporary file in '.*missing/dir/'",
  "CLI: a missing output folder is named")

t.remove_tree(dir)
os.remove(tmp)
t.done()
