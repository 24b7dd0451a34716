-- tests/errmsg_tac.lua - error messages of rk.tac (dsl/l_tac.c) a user
-- can reach, provoked one by one and their text asserted (issue 22 item 3).
local rk = require "radiokin"
local t = require "radiokin.tap"

local function fit(o)
  local a = { t = { 1, 24, 72 }, a = { 30, 20, 8 }, nuclide = "Lu-177" }
  for k, v in pairs(o) do a[k] = v end
  for k, v in pairs(o) do if v == "nil" then a[k] = nil end end
  return rk.tac.fit(a)
end
t.ok(pcall(fit, {}), "the base fit runs")
t.raises(function() fit { t = "nil" } end,
  "rk.tac.fit: field 't' is required (an array of times in h)", "no times")
t.raises(function() fit { a = "nil" } end,
  "rk.tac.fit: field 'a' is required (an array of activities in MBq)",
  "no activities")
t.raises(function() fit { sd = { 1 } } end,
  "rk.tac.fit: field 'sd' has 1 values for 3 times", "sd of the wrong length")
t.raises(function() fit { criterion = "bic" } end,
  "rk.tac.fit: field 'criterion' must be \"aicc\" or \"aic\" (got \"bic\")",
  "an unknown criterion")
t.raises(function() fit { trap_a0 = "none" } end,
  "rk.tac.fit: field 'trap_a0' must be \"zero\" or \"flat\" (got \"none\")",
  "an unknown trap_a0")
t.raises(function() fit { models = "mono" } end,
  "rk.tac.fit: field 'models' must be a list of names", "models not a list")
t.raises(function() fit { models = {} } end,
  "rk.tac.fit: field 'models' is empty", "no model")
t.raises(function() rk.tac.curve("quad", { 1 }) end,
  "rk.tac.curve: model must be mono, bi, upwash or tri (got \"quad\")",
  "an unknown curve model")
t.raises(function() rk.tac.curve("mono", { 1, 2, 3 }) end,
  "rk.tac.curve: mono needs 2 parameters (got 3)",
  "a curve with too many parameters")

t.raises(function()
  rk.tac.stp { method = "guess", t = 24, a = 20 }
end, "field 'method' must be \"haenscheid\" or \"poplambda\" (got "
  .. "\"guess\")", "an unknown STP method")
t.raises(function() rk.tac.map { t = { 1, 24 }, a = { 30, 20 },
                                 nuclide = "Lu-177" } end,
  "rk.tac.map: field 'prior' is required (a table with model, typ, omega, "
  .. "cv)", "MAP without a prior")
t.raises(function()
  rk.tac.map { t = { 1, 24 }, a = { 30, 20 }, nuclide = "Lu-177",
               prior = { model = "mono", typ = { 1 }, omega = { 0.1 } } }
end, "rk.tac.map prior: 'typ' and 'omega' need 2 values each for mono (got "
  .. "1 and 1)", "a prior of the wrong size")
do
  local r = fit {}
  local c = r.candidates.mono
  t.raises(function() rk.tac.band({ model = "mono" }, 10) end,
    "the candidate has no parameters 'p' (not fitted)", "band of no fit")
  t.raises(function() rk.tac.band({ model = "mono", p = { 1 } }, 10) end,
    "mono needs 2 parameters in 'p' (got 1)", "band with too few parameters")
  t.raises(function() rk.tac.band({ model = "mono", p = c.p }, 10) end,
    "the mono candidate has no covariance 'cov' (no SE from this fit): no "
    .. "band", "band without a covariance")
  t.raises(function() rk.tac.band({ model = "mono", p = c.p, cov = { 1 } }, 10) end,
    "'cov' must hold 4 numbers (got 1)", "band with a short covariance")
end

t.done()
