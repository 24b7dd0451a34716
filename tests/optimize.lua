-- tests/optimize.lua - rk.optimize (dsl/l_optimize.c): NLopt's
-- derivative-free local methods over a Lua function within bounds.
-- Checked: known minima of quadratics and of the Rosenbrock function
-- (1, 1), a minimum on a bound, every method, the evaluation count and
-- the maxeval stop, and every refusal (bad fields, x0 outside its bounds,
-- f raising or returning a non-number) with its message.
local rk = require "radiokin"
local t = require "radiokin.tap"

-- a separable quadratic: minimum at (1, -0.5), value 3
local function quad(x) return (x[1] - 1) ^ 2 + 10 * (x[2] + 0.5) ^ 2 + 3 end
for _, m in ipairs { "bobyqa", "neldermead", "sbplx", "cobyla" } do
  local r = rk.optimize { f = quad, x0 = { 0, 0 }, lower = { -5, -5 },
    upper = { 5, 5 }, method = m, xtol_rel = 1e-8, maxeval = 5000 }
  t.is(r.x[1], 1, 1e-4, m .. ": quadratic x1 = 1")
  t.is(r.x[2], -0.5, 1e-4, m .. ": quadratic x2 = -0.5")
  t.is(r.f, 3, 1e-7, m .. ": minimum value 3")
  t.ok(r.converged and r.method == m and r.evals > 0,
    ("%s: converged (%s) in %d evaluations"):format(m, r.status, r.evals))
end

-- Rosenbrock's valley: minimum (1, 1), value 0
do
  local r = rk.optimize {
    f = function(x) return 100 * (x[2] - x[1] ^ 2) ^ 2 + (1 - x[1]) ^ 2 end,
    x0 = { -1.2, 1 }, lower = { -3, -3 }, upper = { 3, 3 }, xtol_rel = 1e-10,
    maxeval = 20000 }
  t.is(r.x[1], 1, 1e-4, "Rosenbrock x1 = 1 (BOBYQA)")
  t.is(r.x[2], 1, 1e-4, "Rosenbrock x2 = 1")
end

-- the unconstrained minimum (x = 2) lies beyond the upper bound 1.5: the
-- bound is the answer
do
  local r = rk.optimize { f = function(x) return (x[1] - 2) ^ 2 end,
    x0 = { 0 }, lower = { -1 }, upper = { 1.5 } }
  t.is(r.x[1], 1.5, 1e-9, "minimum on the upper bound")
  t.is(r.f, 0.25, 1e-9, "... value (1.5 - 2)^2")
end

-- the evaluation count is the number of calls, and maxeval stops it
do
  local calls = 0
  local r = rk.optimize { f = function(x) calls = calls + 1
      return 100 * (x[2] - x[1] ^ 2) ^ 2 + (1 - x[1]) ^ 2 end,
    x0 = { -1.2, 1 }, lower = { -3, -3 }, upper = { 3, 3 }, maxeval = 7 }
  t.is(r.evals, calls, "evals counts the calls of f")
  t.is(calls, 7, "maxeval = 7: seven calls")
  t.is(r.status, "maxeval", "... status maxeval")
  t.is(r.converged, false, "... not converged")
end

-- refusals
local function bad(o, pattern, what)
  t.raises(function() return rk.optimize(o) end, pattern, what)
end
local f = function(x) return x[1] ^ 2 end
bad({ x0 = { 0 }, lower = { -1 }, upper = { 1 } },
  "rk.optimize: field 'f' must be a function", "no f")
bad({ f = f, lower = { -1 }, upper = { 1 } },
  "field 'x0' is required", "no x0")
bad({ f = f, x0 = {}, lower = { -1 }, upper = { 1 } },
  "field 'x0' must hold at least one number", "empty x0")
bad({ f = f, x0 = { 0 }, lower = { -1, -1 }, upper = { 1 } },
  "field 'lower' has 2 numbers, x0 has 1", "lower of another length")
bad({ f = f, x0 = { 2 }, lower = { -1 }, upper = { 1 } },
  "x0%[1%] = 2.0 is outside %[lower, upper%] = %[%-1.0, 1.0%]", "x0 outside")
bad({ f = f, x0 = { 0 }, lower = { 1 }, upper = { 1 } },
  "lower%[1%] = 1.0 must be below upper%[1%] = 1.0", "empty interval")
bad({ f = f, x0 = { 0 }, lower = { -1 }, upper = { 1 }, method = "newton" },
  "field 'method' must be \"bobyqa\"", "unknown method")
bad({ f = f, x0 = { 0 }, lower = { -1 }, upper = { 1 }, maxeval = 0 },
  "field 'maxeval' must be an integer", "maxeval 0")
bad({ f = f, x0 = { 0 }, lower = { -1 }, upper = { 1 }, xtol = 1e-3 },
  "unknown field 'xtol'", "a typo in a field name")
bad({ f = f, x0 = { 0 / 0 }, lower = { -1 }, upper = { 1 } },
  "x0'%[1%] must be a finite number", "NaN in x0")
bad({ f = function(x) if x[1] > 0.5 then error("boom") end return x[1] end,
      x0 = { 0.9 }, lower = { -1 }, upper = { 1 } },
  "rk.optimize: f failed at evaluation 1: .*boom", "f raising: its message")
bad({ f = function() return 0 / 0 end, x0 = { 0, 1 }, lower = { -1, -1 },
      upper = { 1, 2 } },
  "f must return a finite number %(got .*nan at evaluation 1, x = {0, 1}%)",
  "f returning NaN: stopped at once, the point named")
bad({ f = function() return "x" end, x0 = { 0 }, lower = { -1 },
      upper = { 1 } },
  "f must return a finite number %(got string at evaluation 1", "f "
  .. "returning a string")
-- after a refusal the state is usable: the optimiser still works
t.is(rk.optimize { f = f, x0 = { 0.5 }, lower = { -1 }, upper = { 1 } }.x[1],
  0, 1e-5, "rk.optimize works after an error")

t.done()
