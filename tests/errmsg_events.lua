-- tests/errmsg_events.lua - error messages of rk.model's events field and
-- of m:simulate's params (dsl/l_model.c), provoked one by one and their
-- text asserted (issue 22 item 3).
local rk = require "radiokin"
local t = require "radiokin.tap"

local function spec(ev)
  return {
    name = "m1", nuclide = "Lu-177", states = { "A", "B" },
    params = { k = 0.1, kb = 0.05 },
    ode = function(s, p) return { A = -p.k * s.A, B = p.k * s.A - p.kb * s.B } end,
    events = ev,
  }
end
-- one event with its fields replaced by over (false removes a field)
local function event(over)
  local e = {
    name = "e1",
    trigger = function(s, p, t) return rk.ge(t, 10) end,
    assign = function(s, p, t) return { A = 0 } end,
  }
  for k, v in pairs(over or {}) do e[k] = v or nil end
  return spec { e }
end
t.ok(pcall(rk.model, event()), "the base model with one event builds")

t.raises(function() rk.model(spec(5)) end,
  "rk.model 'm1': field 'events' must be an array of event tables {trigger=, "
  .. "assign=, ...} (got 5.0)", "events a number")
t.raises(function() rk.model(spec { x = {} }) end,
  "rk.model 'm1': field 'events' must be an array (1..n) of event tables (got "
  .. "the key x)", "events with a name key")
t.raises(function() rk.model(spec { 5 }) end,
  "rk.model 'm1': events[1] must be a table {trigger=, assign=, ...} (got 5.0)",
  "an event that is a number")
t.raises(function() rk.model(event { name = "" }) end,
  "rk.model 'm1': events[1]: field 'name' is empty", "an empty event name")
t.raises(function() rk.model(event { delay = {} }) end,
  "rk.model 'm1': event 'e1': field 'delay' must be a number or a function "
  .. "(s, p, t) returning one (got table)", "a delay that is a table")
t.raises(function()
  rk.model(event { priority = function(s, p, t) return rk.gt(s.A, 1) end })
end, "rk.model 'm1': event 'e1': priority is a condition, not a number",
  "a priority that is a condition")
t.raises(function() rk.model(event { assign = 5 }) end,
  "rk.model 'm1': event 'e1': field 'assign' must be a function (s, p, t) "
  .. "returning {State = new value} (got 5.0)", "assign a number")
t.raises(function() rk.model(event { assign = function() return 5 end }) end,
  "rk.model 'm1': event 'e1': assign must return a table {State = new value} "
  .. "(got 5.0)", "assign returning a number")
t.raises(function()
  rk.model(event { assign = function() return { Z = 1 } end })
end, "rk.model 'm1': event 'e1': assign returns a value for unknown state 'Z' "
  .. "(states: A, B)", "assign to an unknown state")
t.raises(function()
  -- the condition is used by rk.ifelse, so it is no unused condition
  rk.model(event { assign = function(s)
    local c = rk.gt(s.A, 1)
    return { A = c, B = rk.ifelse(c, 1, 2) }
  end })
end, "rk.model 'm1': event 'e1': the value assigned to 'A' is a condition, not a "
  .. "number", "assigning a condition")
t.raises(function()
  rk.model {
    name = "m2", nuclide = "Lu-177", states = { "A" }, params = { k = 0.1 },
    ode = function(s, p) return { A = -p.k * s.A } end,
    bioav = function(p) return { Z = 1 } end,
  }
end, "rk.model 'm2': bioav returns a value for unknown state 'Z' "
  .. "(states: A)", "a dose modifier for an unknown state")

-- ------------------------------------------------------ m:simulate params
local m = rk.model(spec())
local function sim(params)
  return m:simulate { doses = { { time = 0, amount = 100, to = "A" } },
                      times = { 0, 1 }, params = params }
end
t.ok(pcall(sim, { k = 0.2 }), "the base simulation runs")
t.raises(function() sim { zz = 1 } end,
  "m1:simulate: params: model 'm1': unknown parameter 'zz'; known "
  .. "parameters: k, kb",
  "an unknown parameter")
t.raises(function() sim { k = 0 / 0 } end,
  "m1:simulate: params.k must be a finite number (got nan)",
  "a NaN parameter")
t.raises(function() sim { k = "x" } end,
  "m1:simulate: params.k must be a finite number (got string",
  "a parameter that is a string")

-- ------------------------------------------------------------ conditions
t.raises(function()
  rk.model(event { trigger = function() return 5 end })
end, "rk.model 'm1': event 'e1' trigger: the trigger must be a condition "
  .. "(rk.lt, rk.le, rk.gt, rk.ge, rk.all, rk.any, rk.negate) or a boolean "
  .. "(got 5.0)", "a trigger that is a number")
t.raises(function()
  rk.model(event { trigger = function(s) return s.A end })
end, "rk.model 'm1': event 'e1' trigger: the trigger (A) is a number, not a "
  .. "condition; expected a comparison such as rk.gt(x, y)",
  "a trigger that is an expression")
local function ode_with(f)
  return function()
    rk.model { name = "m3", nuclide = "Lu-177", states = { "A" },
               params = { k = 0.1 }, ode = f }
  end
end
t.raises(ode_with(function(s, p)
  return { A = rk.ifelse(s.A, 1, 2) * p.k }
end), "rk.model 'm3': ode: rk.ifelse: argument 1 (A) is a number, not a "
  .. "condition; expected a comparison", "rk.ifelse on an expression")
t.raises(ode_with(function(s, p)
  return { A = rk.ifelse(5, 1, 2) * p.k * s.A }
end), "rk.ifelse: argument 1 must be a condition (rk.lt, rk.le, rk.gt, "
  .. "rk.ge, rk.all, rk.any, rk.negate) or a boolean (got 5.0)",
  "rk.ifelse on a number")

-- ------------------------------------------------- rk.popest individual
local pk = rk.model {
  name = "pk2", states = { "A" }, params = { cl = 0.5, v = 5 },
  ode = function(s, p) return { A = -p.cl / p.v * s.A } end,
  outputs = function(s, p) return { C = s.A / p.v } end,
}
local function pop(o)
  local a = { name = "e", model = pk, observe = "C",
              theta = { lCl = -0.7, lV = 1.6 }, omega = { lCl = 0.1 },
              individual = function(th, eta)
                return { cl = rk.exp(th.lCl + eta.lCl), v = rk.exp(th.lV) }
              end, error = { proportional = 0.1 } }
  for k, v in pairs(o) do a[k] = v end
  return function() return rk.popest(a) end
end
t.ok(pcall(pop {}), "the base declaration works")
t.raises(pop { individual = function(th, eta)
  return { cl = rk.exp(th.lCL), v = rk.exp(th.lV) }
end }, "rk.popest 'e': individual reads unknown theta 'theta.lCL' (theta: "
  .. "lCl, lV)", "individual reading a misspelt theta")
t.raises(pop { individual = function() return 5 end },
  "rk.popest 'e': individual must return a table {NAME = expression, ...} "
  .. "(got 5.0)", "individual returning a number")
t.raises(pop { eta = { "lCl", 5 }, omega = { 0.1, 0.1 } },
  "rk.popest 'e': eta[2] must be a name (got 5.0)", "an eta that is a "
  .. "number")
t.done()
