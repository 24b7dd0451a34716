-- tests/errmsg_data.lua - error messages of rk.data and d:simulate
-- (dsl/l_data.c) a user can reach, provoked one by one and their text
-- asserted (issue 22 item 3).
local rk = require "radiokin"
local t = require "radiokin.tap"

local dir = t.scratch()
local path = dir .. "/sim.csv"
t.write_file(path, "ID,TIME,AMT,EVID,MDV,DV,WT\n"
  .. "1,0,100,1,1,.,70\n1,1,.,0,0,.,70\n1,4,.,0,0,.,70\n"
  .. "2,0,100,1,1,.,\n2,2,.,0,0,.,\n")
local m = rk.model { name = "one", states = { "A" },
  params = { k = 0.2, WT = 70 },
  ode = function(s, p) return { A = -p.k * s.A } end,
  outputs = function(s, p) return { C = s.A / p.WT } end }

t.raises(function() rk.data(path, m, { covariates = "next" }) end,
  "rk.data: field 'covariates' must be \"nocb\" (NONMEM: a record's values "
  .. "apply up to it) or \"locf\" (from it on) (got \"next\")",
  "an unknown covariate rule")
local d = rk.data(path, m)
t.raises(function() return d.nosuch end,
  "dataset has no field 'nosuch' (fields: n_subjects, n_obs, covariates, "
  .. "ids, path; method: simulate)", "an unknown dataset field")
t.raises(function() d:simulate(m, { covariates = "WT" }) end,
  "d:simulate: field 'covariates' must be a list of parameter names (got "
  .. "string)", "covariates not a list")
t.raises(function() d:simulate(m, { covariates = { 5 } }) end,
  "d:simulate: covariates[1] must be a parameter name (got 5.0)",
  "a covariate that is a number")
t.raises(function() d:simulate(m, { covariates = { "WT" } }) end,
  "d:simulate: subject ID 2 (line 5): covariate WT is missing on every "
  .. "record", "a covariate missing for a whole subject")
t.raises(function() d:simulate(m, { params = 5 }) end,
  "d:simulate: field 'params' must be a table NAME = number (got 5.0)",
  "params not a table")
t.raises(function() d:simulate(m, { residual = 0.1, seed = 1 }) end,
  "d:simulate: field 'residual' must be a table {additive =, proportional "
  .. "=} (got 0.1)", "residual a number")
t.raises(function() d:simulate(m, { path = "fast" }) end,
  "d:simulate: field 'path' must be \"auto\", \"cvodes\" or \"exact\" (got "
  .. "\"fast\")", "an unknown path")
do
  local r = d:simulate(m, {})
  t.raises(function() r.write_csv({}, dir .. "/x.csv") end,
    "r:write_csv: not a result of d:simulate", "write_csv on a table")
end

t.done()
