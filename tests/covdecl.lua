-- tests/covdecl.lua - declared covariates (issue 13 item 8): type
-- (continuous with a range, categorical with levels) and unit; a dataset
-- value outside the declaration names file, line, column, subject and
-- the declared range; a model reading an undeclared covariate is refused
-- when declarations are given.
local rk = require "radiokin"
local t = require "radiokin.tap"

local tmp = t.scratch()
local function file(name, text) return t.write_file(tmp .. "/" .. name, text) end

local m = rk.model {
  name = "pk1", states = { "A" }, params = { cl = 0.5, v = 5 },
  ode = function(s, p) return { A = -p.cl / p.v * s.A } end,
  outputs = function(s, p) return { C = s.A / p.v } end,
}
local decl = {
  WT = { type = "continuous", unit = "kg", range = { 30, 150 } },
  SEX = { type = "categorical", levels = { 0, 1 } },
}
local good = file("good.csv", "ID,TIME,AMT,DV,WT,SEX\n1,0,100,.,70,0\n1,2,.,12,72,0\n"
  .. "2,0,100,.,30,1\n2,2,.,10,150,1\n")
local d = rk.data(good, m, { declare = decl })
t.is(d.n_subjects, 2, 0, "values on the range's ends and declared levels are accepted")

local function bad(text, pattern, what)
  local p = file("bad.csv", text)
  t.raises(function() return rk.data(p, m, { declare = decl }) end, pattern, what)
end
bad("ID,TIME,AMT,DV,WT,SEX\n1,0,100,.,70,0\n1,2,.,12,72,0\n7,0,100,.,151,1\n",
    "bad.csv:4: column 5 %(WT%): 151 %(subject ID 7%) is outside the declared "
    .. "range %[30, 150%] kg of covariate WT", "continuous above its range")
bad("ID,TIME,AMT,DV,WT,SEX\n1,0,100,.,29.5,0\n",
    "bad.csv:2: column 5 %(WT%): 29.5 %(subject ID 1%) is outside the declared "
    .. "range %[30, 150%] kg", "continuous below its range")
bad("ID,TIME,AMT,DV,WT,SEX\n1,0,100,.,70,0\n1,2,.,12,70,2\n",
    "bad.csv:3: column 6 %(SEX%): 2 %(subject ID 1%) is outside the declared "
    .. "levels {0, 1} of covariate SEX", "categorical not a level")
bad("ID,TIME,AMT,DV,WT\n1,0,100,.,70\n",
    "declared covariate SEX: .*no covariate column 'SEX'", "a declared column the dataset lacks")

-- Malformed declarations.
local function baddecl(dc, pattern, what)
  t.raises(function() return rk.data(good, m, { declare = dc }) end, pattern, what)
end
baddecl({ WT = { type = "continuous", range = { 30, 150 } } }, "covariates.WT: field 'unit'",
        "a continuous covariate without unit")
baddecl({ WT = { type = "continuous", unit = "kg" } }, "needs range = {lo, hi}",
        "a continuous covariate without range")
baddecl({ WT = { type = "continuous", unit = "kg", range = { 150, 30 } } },
        "covariate WT: range %[150, 30%] is invalid", "a range with lo > hi")
baddecl({ SEX = { type = "categorical" } }, "needs levels", "a categorical covariate without levels")
baddecl({ SEX = { type = "categorical", levels = { 0, 0 } } }, "level 0 is given twice",
        "a repeated level")
baddecl({ SEX = { type = "ordinal", levels = { 0 } } }, "type must be \"continuous\" or \"categorical\"",
        "an unknown type")
baddecl({ WT = { type = "continuous", unit = "kg", range = { 30, 150 }, lvls = 1 } },
        "unknown field 'lvls'", "a typo in a declaration")

-- rk.popest: declarations checked against the dataset of a fit, and an
-- undeclared covariate read by `individual` refused.
local function pm(covs)
  return rk.popest {
    name = "decl", model = m, observe = "C",
    theta = { lCl = math.log(0.5), lV = math.log(5) },
    omega = { lCl = 0.1 },
    individual = function(th, eta, cov)
      return { cl = rk.exp(th.lCl + eta.lCl) * cov.WT / 70, v = rk.exp(th.lV) }
    end,
    error = { proportional = 0.1 },
    covariates = covs,
  }
end
t.raises(function() return pm { SEX = decl.SEX } end,
         "individual reads covariate 'WT', which field 'covariates' does not declare",
         "rk.popest: a covariate read but not declared")
local pw = pm(decl)
local out = file("out.csv", "ID,TIME,AMT,DV,WT,SEX\n1,0,100,.,70,0\n1,2,.,12,200,0\n")
t.raises(function() return pw:fit(out, { method = "fo", covariance = false }) end,
         "out.csv:3: column 5 %(WT%): 200 %(subject ID 1%) is outside the declared range %[30, 150%] kg",
         "rk.popest fit: a value outside the declared range")
local r = pw:fit(good, { method = "fo", covariance = false, max_eval = 50 })
t.ok(r.ofv == r.ofv, "rk.popest fit: a dataset within the declarations runs")

t.done()
