-- tests/errmsg_trace.lua - error messages of the tracer (dsl/l_trace.c)
-- that turns a model's Lua functions into expressions: what an ode,
-- outputs or individual function may return and read, provoked one by
-- one through rk.model / rk.popest and their text asserted (issue 22
-- item 3).
local rk = require "radiokin"
local t = require "radiokin.tap"

local function mk(ode, outputs)
  return function()
    return rk.model { name = "tr", states = { "A" }, params = { k = 0.1 },
      ode = ode,
      outputs = outputs or function(s, p) return { C = s.A } end }
  end
end
local good = function(s, p) return { A = -p.k * s.A } end
t.ok(pcall(mk(good)), "the base model traces")
t.raises(mk(function() return { A = 1 / 0 } end), "rk.model 'tr': ode: "
  .. "derivative of 'A': the constant inf is not finite",
  "an infinite constant")
t.raises(mk(function() return { A = "fast" } end), "rk.model 'tr': ode: "
  .. "derivative of 'A': expected a number or an expression of s, p and t "
  .. "(got string)", "a string for a derivative")
do
  local saved
  mk(function(s, p) saved = s.A; return { A = -p.k * s.A } end)()
  t.raises(mk(function() return { A = saved } end), "rk.model 'tr': ode: "
    .. "derivative of 'A': an expression of another model's trace was used",
    "an expression kept from another model")
end
t.raises(function() return rk.exp(1000) end,
  "rk.exp(1000.0) is not finite", "rk.exp overflowing on a number")
t.raises(mk(function(s) return { A = rk.lt(rk.lt(s.A, 1), 2) } end),
  "rk.model 'tr': ode: rk.lt: argument 1 is a condition, not a number "
  .. "(combine conditions with rk.all or rk.any)", "a condition compared")
t.raises(function() return rk.ifelse(true, "a", 1) end,
  "rk.ifelse: argument 2 must be a finite number or an expression (got "
  .. "string)", "rk.ifelse of a string")
t.raises(mk(function(s, p) return { A = -p.kk * s.A } end),
  "rk.model 'tr': ode reads unknown parameter 'p.kk' (parameters: k)",
  "a misspelt parameter")
t.raises(mk(function() return 5 end), "rk.model 'tr': ode must return a "
  .. "table {NAME = expression, ...} (got 5", "an ode returning a number")
t.raises(mk(good, function(s) return { s.A } end), "rk.model 'tr': outputs "
  .. "must return a table of NAME = expression (got a number key)",
  "outputs without names")
t.raises(function()
  return rk.popest { name = "e", model = mk(good)(), observe = "C",
    theta = { lk = -2 }, omega = { lk = 0.1 }, error = { additive = 1 },
    individual = function(th, eta) return { rk.exp(th.lk + eta.lk) } end }
end, "rk.popest 'e': individual must return a table of NAME = expression "
  .. "(got a number key)", "individual without names")
t.done()
