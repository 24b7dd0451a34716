-- tests/errmsg_covdecl.lua - error messages of covariate declarations
-- (dsl/l_covdecl.c) read through rk.data, provoked one by one and their
-- text asserted (issue 22 item 3).
local rk = require "radiokin"
local t = require "radiokin.tap"

local tmp = t.scratch()
local m = rk.model {
  name = "pk1", states = { "A" }, params = { cl = 0.5, v = 5 },
  ode = function(s, p) return { A = -p.cl / p.v * s.A } end,
  outputs = function(s, p) return { C = s.A / p.v } end,
}
local good = t.write_file(tmp .. "/good.csv",
  "ID,TIME,AMT,DV,WT,SEX\n1,0,100,.,70,0\n1,2,.,12,72,0\n")
local function declare(decl)
  return function() return rk.data(good, m, { declare = decl }) end
end
t.raises(declare(5),
  "covariate declarations must be a table NAME = {type =, unit =, range = "
  .. "{lo, hi} or levels = {...}} (got 5.0)", "declarations not a table")
t.raises(declare { WT = { type = "continuous", unit = "kg", range = { 30 } } },
  "covariates.WT: a continuous covariate needs range = {lo, hi} (got table)",
  "a range of one number")
t.raises(declare { WT = { type = "continuous", unit = "kg",
                          range = { 30, "x" } } },
  "covariates.WT: range = {lo, hi} must hold two numbers",
  "a range holding text")
t.raises(declare { WT = { type = "continuous", unit = "kg",
                          range = { 30, 150 }, levels = { 1, 2 } } },
  "levels belong to a categorical covariate", "levels on a continuous one")
t.raises(declare { SEX = { type = "categorical", levels = { 0, "m" } } },
  "levels[2] must be a number (got string)", "a level that is text")
t.raises(declare { SEX = { type = "categorical", levels = { 0, 1 },
                           range = { 0, 1 } } },
  "a range belongs to a continuous covariate", "a range on a categorical one")
t.done()
