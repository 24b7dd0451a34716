-- tests/errmsg_model.lua - error messages of rk.model, m:simulate and its
-- result, and the traced expressions (dsl/l_model.c, l_simulate.c,
-- l_trace.c) a user can reach, provoked one by one and their text
-- asserted (issue 22 item 3).
local rk = require "radiokin"
local t = require "radiokin.tap"

local function spec(over)
  local s = {
    name = "m1", nuclide = "Lu-177", states = { "A", "B" },
    params = { k = 0.1, kb = 0.05 },
    ode = function(s, p) return { A = -p.k * s.A, B = p.k * s.A - p.kb * s.B } end,
    outputs = function(s, p) return { C = s.A + s.B } end,
  }
  for k, v in pairs(over or {}) do s[k] = v end
  for k, v in pairs(over or {}) do if v == "nil" then s[k] = nil end end
  return s
end
local m = rk.model(spec())
local function sim(o)
  local a = { doses = { { time = 0, amount = 100, to = "A" } },
              times = { 0, 1, 2 } }
  for k, v in pairs(o or {}) do a[k] = v end
  for k, v in pairs(o or {}) do if v == "nil" then a[k] = nil end end
  return m:simulate(a)
end
t.ok(pcall(sim), "the base simulation runs")

-- ------------------------------------------------------------ rk.model
t.raises(function() rk.model(5) end,
  "rk.model: expected a table {name=, states=, params=, ode=} (got 5.0)",
  "rk.model of a number")
t.raises(function() rk.model(spec { name = "" }) end,
  "rk.model: field 'name' is empty", "an empty name")
t.raises(function() rk.model(spec { states = "A" }) end,
  "field 'states' must be an array of state names (got string)",
  "states not a table")
t.raises(function() rk.model(spec { states = {} }) end,
  "field 'states' is empty (give at least one state name)", "no state")
t.raises(function() rk.model(spec { states = { "A", "" } }) end,
  "states[2] must be a non-empty name", "an empty state name")
t.raises(function() rk.model(spec { states = { "A", "A" } }) end,
  "state 'A' is listed twice", "a state twice")
t.raises(function() rk.model(spec { params = 3 }) end,
  "field 'params' must be a table name = value (got 3.0)",
  "params not a table")
t.raises(function() rk.model(spec { params = { 0.1 } }) end,
  "params: keys must be parameter names (got a number key)",
  "a parameter without a name")
t.raises(function() rk.model(spec { positive = { 3 } }) end,
  "positive[1] must be a parameter name (got 3.0)",
  "positive lists a number")
t.raises(function() rk.model(spec { positive = { "kz" } }) end,
  "positive[1]: 'kz' is not a parameter (parameters: k, kb)",
  "positive names an unknown parameter, with the known ones")
t.raises(function() rk.model(spec { positive = "yes" }) end,
  "field 'positive' must be true or a list of parameter names (got string)",
  "positive of the wrong type")
t.raises(function()
  rk.model(spec { nuclide = { name = "X-1", half_life_h = 5,
                              e_np_mev = -1 } })
end, "energies per decay must be >= 0 MeV", "a negative energy per decay")
t.raises(function() rk.model(spec { nuclide = 177 } ) end,
  "field 'nuclide' must be a name such as \"Lu-177\" or a table {name=, "
  .. "half_life_h=} (got 177.0)", "nuclide of the wrong type")
t.raises(function() rk.model(spec { ode = "dA = -k A" }) end,
  "field 'ode' must be a function (s, p, t) returning the derivatives "
  .. "(got string)", "ode not a function")
t.raises(function() rk.model(spec { outputs = {} }) end,
  "field 'outputs' must be a function (s, p, t) (got table)",
  "outputs not a function")
t.raises(function()
  rk.model(spec { outputs = function(s, p) return { s.A } end })
end, "outputs must return a table of NAME = expression (got a number key)",
  "an output without a name")
t.raises(function() rk.model(spec { ode = function() return 5 end }) end,
  "ode must return a table {NAME = expression, ...} (got 5.0)",
  "ode returning a number")
t.raises(function() return m.nosuch end,
  "model 'm1' has no field 'nosuch' (fields: simulate, is_linear, native, "
  .. "is_native, name, states, outputs", "an unknown model field")
t.raises(function() m.simulate(5) end,
  "expected a model made by rk.model (got number); call methods with ':' "
  .. "(m:simulate{...})", "a method called with '.'")

-- --------------------------------------------------- traced expressions
t.raises(function()
  rk.model(spec { ode = function(s, p)
    return { A = -p.k * s.A * (1 / 0), B = 0 }
  end })
end, "the constant inf is not finite", "an infinite constant in the ode")
t.raises(function()
  rk.model(spec { ode = function(s, p) return { A = -p.k * s.A + {}, B = 0 } end })
end, "expected a number or an expression of", "a table in arithmetic")
t.raises(function()
  rk.model(spec { ode = function(s, p) return { A = s.A % 2, B = 0 } end })
end, "this operation is not defined for expressions (only + - * / ^, "
  .. "unary -, rk.exp", "modulo of an expression")
t.raises(function() rk.exp("x") end,
  "rk.exp: expected a number or an expression (got string)",
  "rk.exp of a string")
t.raises(function() rk.min() end, "rk.min: needs at least one argument",
  "rk.min without arguments")
t.raises(function() rk.max(1, "x") end,
  "rk.max: argument 2 must be a finite number or an expression (got "
  .. "string)", "rk.max with a string")
t.raises(function() rk.all() end, "rk.all: needs at least one condition",
  "rk.all without conditions")
t.raises(function()
  rk.model(spec { ode = function(s, p)
    return { A = -rk.ifelse(rk.gt(s.A, 1), p.k, rk.gt(s.A, 2)) * s.A, B = 0 }
  end })
end, "rk.ifelse: argument 3 is a condition, not a value",
  "rk.ifelse with a condition as a value")
t.raises(function()
  rk.model(spec { ode = function(s, p)
    return { A = -rk.min(p.k, rk.gt(s.A, 2)) * s.A, B = 0 }
  end })
end, "ode: operand of min is a condition (gt), not a number; a condition "
  .. "selects a value through ifelse(cond, a, b)", "rk.min of a condition")
t.raises(function()
  rk.model(spec { ode = function(s, p)
    s.A = 1
    return { A = 0, B = 0 }
  end })
end, "ode assigns 'A': s and p are read-only (return derivatives in a "
  .. "table instead)", "assigning to a state of s raises (it was taken "
  .. "silently: the model then used the value assigned)")
t.raises(function()
  rk.model(spec { ode = function(s, p)
    p.k = 5
    return { A = -p.k * s.A, B = 0 }
  end })
end, "ode assigns 'k': s and p are read-only", "assigning to a parameter "
  .. "of p raises")
do
  -- reading s and p still works through the proxies: A' = -k A
  local r = m:simulate { doses = { { time = 0, amount = 10, to = "A" } },
                         times = { 0, 10 }, path = "cvodes", rtol = 1e-10,
                         atol = 1e-12 }
  t.is(r.A[2], 10 * math.exp(-(0.1 + rk.nuclide("Lu-177").lambda) * 10),
       1e-7, "s.A and p.k read through the proxies: A(10) = 10 e^-(k + "
       .. "lambda) 10")
end

-- ---------------------------------------------------------- m:simulate
t.raises(function() m:simulate(5) end,
  "expected a table {doses=, times=, tia=} (got 5.0); call it as "
  .. "m:simulate{...}", "simulate with a number")
t.raises(function() sim { doses = 5 } end,
  "field 'doses' must be an array of dose tables {time=, amount=, to=} "
  .. "(got 5.0)", "doses not a table")
t.raises(function() sim { doses = { time = 0, amount = 1, to = "A" } } end,
  "field 'doses' must be an array of dose tables: write doses = { {time=, "
  .. "amount=, to=}, ... } (found key", "one dose not wrapped in a list")
t.raises(function() sim { doses = { 5 } } end,
  "doses[1] must be a table {time=, amount=, to=} (got 5.0)",
  "a dose that is a number")
t.raises(function() sim { tia = 5 } end,
  "field 'tia' must be a list of state or output names (got 5.0)",
  "tia not a list")
t.raises(function() sim { tia = { 3 } } end,
  "tia[1] must be a state or output name (got 3.0)", "tia of a number")
t.raises(function() sim { y0 = 5 } end,
  "field 'y0' must be a table state = value (got 5.0)", "y0 not a table")
t.raises(function() sim { y0 = { 5 } } end,
  "y0: keys must be state names (got a number key)", "y0 without names")
t.raises(function() sim { y0 = { A = 0 / 0 } } end,
  "y0.A must be a finite number (got nan)", "y0 NaN")
t.raises(function() sim { path = "fast" } end,
  "field 'path' must be \"auto\", \"cvodes\" or \"exact\" (got \"fast\")",
  "an unknown path")
t.raises(function() sim { covariates = 5 } end,
  "field 'covariates' must be a list of rows {time =, NAME = value} (got "
  .. "5.0)", "covariates not a table")
t.raises(function() sim { covariates = { rule = "next" } } end,
  "covariates.rule must be \"nocb\" (NONMEM: a row's values apply up to "
  .. "its time) or \"locf\" (from it on) (got \"next\")",
  "an unknown covariate rule")
t.raises(function() sim { covariates = {} } end,
  "field 'covariates' has no rows", "no covariate rows")
t.raises(function() sim { covariates = { 5 } } end,
  "covariates[1] must be a row {time =, NAME = value} (got 5.0)",
  "a covariate row that is a number")
t.raises(function() sim { covariates = { { time = "x", k = 1 } } } end,
  "covariates[1].time must be a finite number (got string)",
  "a covariate time that is a string")
t.raises(function() sim { covariates = { { time = 1, [2] = 1 } } } end,
  "covariates[1]: keys must be parameter names", "a covariate without name")
t.raises(function() sim { covariates = { { time = 1, k = "x" } } } end,
  "covariates[1].k must be a finite number (got string)",
  "a covariate value that is a string")
t.raises(function() sim { times = "nil" } end,
  "give output 'times' or an end time 't1'", "no times and no t1")
t.raises(function() sim { times = { 1, 2 }, t0 = 5, t1 = 5 } end,
  "the end time t1 = 5.0 must be after t0 = 5.0", "t1 = t0")
t.raises(function() sim { times = { 0, 20 }, t1 = 10 } end,
  "output times must lie in [t0, t1] = [0.0, 10.0] (got 0.0 .. 20.0)",
  "an output time after t1")
t.raises(function() sim { atol = 0 } end, "field 'atol' must be > 0 (got 0.0)",
  "atol 0")
t.raises(function() sim { params = 5 } end,
  "field 'params' must be a table name = value (got 5.0)",
  "params override not a table")
t.raises(function() sim { params = { 0.2 } } end,
  "params: keys must be parameter names (got a number key)",
  "params override without a name")
t.raises(function() sim { params = { k = "x" } } end,
  "params.k must be a finite number (got string)",
  "params override not a number")
do
  local mp = rk.model(spec { positive = true })
  t.raises(function()
    mp:simulate { doses = { { time = 0, amount = 1, to = "A" } },
                  times = { 0, 1 }, params = { k = -1 } }
  end, "params.k must be positive (the model declares it a rate or "
    .. "half-life), got -1", "a negative override of a positive parameter")
end

-- -------------------------------------------------------------- result
do
  local r = sim()
  t.raises(function() return r.nosuch end,
    "simulate result has no field 'nosuch' (fields: time, states, outputs, "
    .. "tia, tia_inf", "an unknown result field")
  t.raises(function() r:write_csv(5) end,
    "r:write_csv: expected a file name (got 5.0); call it as "
    .. "r:write_csv(path)", "write_csv of a number")
  t.raises(function() r.write_csv({}, "x.csv") end,
    "r:write_csv: not a simulate result", "write_csv on another table")
  t.raises(function() r:predict(5) end,
    "r:predict: expected a list of observation records {time =, output = "
    .. "| dvid = | cmt =} (got 5.0)", "predict of a number")
  t.raises(function() r:predict({}, 5) end,
    "r:predict: options must be a table {dvid = {names}} (got 5.0)",
    "predict options not a table")
  t.raises(function() r:predict({ { time = 1, dvid = 1 } }, { dvid = { "Q" } }) end,
    "r:predict: dvid[1] is not an output of the model", "dvid naming nothing")
  t.raises(function() r:predict({ { time = 1, dvid = 1 } }, { dvid = "C" }) end,
    "r:predict: field 'dvid' must be a list of output names (got string)",
    "dvid not a list")
  t.raises(function() r:predict({ 5 }) end,
    "r:predict: obs[1] must be a record {time =, output = | dvid = | cmt =} "
    .. "(got 5.0)", "an observation that is a number")
  t.raises(function() r:predict({ { time = 1, output = 3 } }) end,
    "obs[1].output must be an output name (got 3.0)",
    "an output that is a number")
  t.raises(function() r:predict({ { time = 1, output = "Q" } }) end,
    "obs[1].output 'Q' is not an output of the model", "an unknown output")
  t.raises(function() r:predict({ { time = 1, dvid = 1.5 } }) end,
    "obs[1].dvid must be an integer (got 1.5)", "a fractional DVID")
  t.raises(function() r:predict({ { time = 1, cmt = 7 } }) end,
    "obs[1].cmt = 7.0 is not a state number", "a CMT past the states "
    .. "(named by its value; it said 'table')")
  t.raises(function() r:predict({ { time = 1, cmt = {} } }) end,
    "obs[1].cmt must be a state or output name or a state number (got "
    .. "table)", "a CMT that is a table")
  t.raises(function() r:predict({ { time = 1, cmt = "Q" } }) end,
    "obs[1].cmt 'Q' is neither a state nor an output", "an unknown CMT name")
end

t.done()
