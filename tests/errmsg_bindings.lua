-- tests/errmsg_bindings.lua - error messages of several bindings (rk.optimize,
-- rk.image, rk.phantom, m:simulate's params, y0 and covariates, dose
-- modifiers), provoked one by one and their text asserted (issue 22
-- item 3).
local rk = require "radiokin"
local t = require "radiokin.tap"

-- rk.optimize (dsl/l_optimize.c)
local function quad(x) return (x[1] - 1) ^ 2 end
t.raises(function() return rk.optimize { f = quad } end,
  "rk.optimize: field 'x0' is required (an array of numbers)", "no x0")
do
  local big = {}
  for i = 1, 1001 do big[i] = 0 end
  t.raises(function() return rk.optimize { f = quad, x0 = big, lower = big,
                                           upper = big } end,
    "rk.optimize: field 'x0' has 1001 numbers; at most 1000 parameters",
    "1001 parameters")
end
t.raises(function() return rk.optimize { f = quad, x0 = { 0 },
    lower = { -5 }, upper = { 5 }, step = { 0 } } end,
  "rk.optimize: step[1] must be > 0 (got 0", "a zero step")

-- rk.image and rk.phantom (dsl/l_image.c)
t.raises(function() return rk.image.new { dims = { 2, 2 } } end,
  "rk.image.new: field 'dims' must hold 3 numbers (got 2)", "two dims")
t.raises(function() return rk.image.read_seg_fraction("x.dcm", -1) end,
  "rk.image.read_seg_fraction: segment -1 (expected 1..65535, or 0 / nil "
  .. "when the SEG holds one)", "a negative segment")
do
  local s = {}
  for i = 1, 9 do s[i] = { centre = { 0, 0, 0 }, radius_mm = 5 } end
  t.raises(function() return rk.phantom.new { n = 16, spheres = s } end,
    "rk.phantom.new: 9 spheres (at most 8)", "nine spheres")
end

-- a model's parameters, initial states and covariates (dsl/l_model.c,
-- l_simulate.c)
local m = rk.model {
  name = "b1", states = { "A" }, params = { k = 0.1 },
  ode = function(s, p) return { A = -p.k * s.A } end,
  outputs = function(s, p) return { C = s.A } end,
}
local function sim(o)
  local a = { doses = { { time = 0, amount = 100, to = "A" } },
              times = { 1, 2 } }
  for k, v in pairs(o) do a[k] = v end
  return function() return m:simulate(a) end
end
t.ok(pcall(sim {}), "the base simulation runs")
t.raises(sim { params = { kk = 1 } }, "params: ", "an unknown parameter")
t.raises(sim { params = { k = 0 / 0 } }, "params.k must be a finite number "
  .. "(got ", "a NaN parameter")
t.raises(sim { y0 = { A = 1 / 0 } }, "y0.A must be a finite number (got ",
  "an infinite initial state")
t.raises(sim { covariates = { { time = 0, k = "x" } } }, "covariates[1].k "
  .. "must be a finite number (got ", "a covariate that is text")
t.raises(function()
  return rk.model { name = "b2", states = { "A" }, params = { k = 0.1 },
    ode = function(s, p) return { A = -p.k * s.A } end,
    bioav = function(p) return 0.5 end }
end, "rk.model 'b2': bioav must return a table {State = expression} (got "
  .. "0.5", "a dose modifier returning a number")

-- names and dose modifiers checked by the engine (engine/core/model.c)
t.raises(function()
  return rk.model { name = "n1", states = { "A" }, params = { A = 1 },
    ode = function(s, p) return { A = -p.A * s.A } end }
end, "model 'n1': parameter 'A' has the name of a state; names must differ",
  "a parameter named as a state")
t.raises(function()
  return rk.model { name = "n2", states = { "A" }, params = { k = 1 },
    ode = function(s, p) return { A = -p.k * s.A } end,
    outputs = function(s) return { k = s.A } end }
end, "model 'n2': output 'k' has the name of a parameter; names must differ",
  "an output named as a parameter")
do
  local m3 = rk.model { name = "n3", states = { "A" }, params = { k = 1, f = 1 },
    ode = function(s, p) return { A = -p.k * s.A } end,
    bioav = function(p) return { A = p.f } end }
  t.raises(function()
    return m3:simulate { doses = { { time = 0, amount = 1, to = "A" } },
                         times = { 1 }, params = { f = -1 } }
  end, "model 'n3': bioavailability (F) of state 'A' is -1 for these "
    .. "parameters (expected a finite number >= 0)", "a negative F")
end
t.done()
