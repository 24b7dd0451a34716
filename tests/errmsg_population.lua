-- tests/errmsg_population.lua - error messages of rk.population and its
-- patients (dsl/l_population.c), provoked one by one and their text
-- asserted (issue 22 item 3).
local rk = require "radiokin"
local t = require "radiokin.tap"

local m = rk.model { name = "pk", nuclide = "Lu-177", states = { "P", "K" },
  params = { kPK = 0.03, kKP = 0.01, kU = 0.5 },
  ode = function(s, p)
    return { P = -(p.kPK + p.kU) * s.P + p.kKP * s.K,
             K = p.kPK * s.P - p.kKP * s.K }
  end }

local function pop(o)
  local a = { model = m, cv = { kPK = 0.3 } }
  for k, v in pairs(o) do a[k] = v end
  for k, v in pairs(o) do if v == "nil" then a[k] = nil end end
  return rk.population(a)
end
t.ok(pcall(pop, {}), "the base population is made")

-- ------------------------------------------------------- omega and cv
t.raises(function() pop { cv = "nil", omega = { matrix = { { 0.1 } } } } end,
  "field 'omega': a matrix needs names = {...} (the parameters of its rows, "
  .. "in order)", "a matrix without names")
t.raises(function() pop { cv = "nil", omega = { names = { {} },
                                               matrix = { { 0.1 } } } } end,
  "omega.names[1] must be a parameter name", "a name that is a number")
t.raises(function() pop { cv = "nil", omega = { names = { "kPK", "kKP" },
                                               matrix = { { 0.1 } } } } end,
  "omega.matrix must be 2 rows of 2 numbers", "a matrix of the wrong size")
t.raises(function() pop { cv = "nil", omega = { 0.1 } } end,
  "field 'omega' must map parameter names to variances of eta (or be "
  .. "{names=, matrix=})", "omega without names")
t.raises(function() pop { cv = "nil", omega = 0.1 } end,
  "field 'omega' must be a table (got number)", "omega a number")
t.raises(function() pop { cv = { 0.3 } } end,
  "field 'cv' must map parameter names to coefficients of variation (0.3 = "
  .. "30 %)", "cv without names")
t.raises(function() pop { omega = { kPK = 0.09 } } end,
  "parameter 'kPK' has variability in both 'omega' and 'cv'; give it once",
  "a parameter in both omega and cv")
t.raises(function() pop { cv = { kPK = -0.3 } } end,
  "cv.kPK must be a finite coefficient of variation >= 0 (got -0.3",
  "a negative cv")
t.raises(function() pop { cv = 0.3 } end,
  "field 'cv' must be a table name = cv (got number)", "cv a number")
t.raises(function() pop { cv = { kPK = 0.3, kKP = 0.3 }, corr = { { "kPK" } } } end,
  "corr[1] must be {\"param1\", \"param2\", r}", "a short correlation")
t.raises(function() pop { corr = 5 } end,
  "field 'corr' must be a list of {\"p1\", \"p2\", r}", "corr a number")

-- --------------------------------------------------------- covariates
t.raises(function()
  pop { covariates = { "WT", GFR = { dist = "normal", mean = 90, sd = 20 } } }
end, "field 'covariates' must be a table NAME = {dist=, mean=, sd=, min=, "
  .. "max=} or a list of names, not a mix", "a mix of names and definitions")
t.raises(function() pop { covariates = { "WT", "WT" } } end,
  "covariate 'WT' is listed twice", "a covariate twice")
local cov2 = { WT = { dist = "normal", unit = "kg", mean = 70, sd = 10 },
               HT = { dist = "normal", unit = "cm", mean = 170, sd = 8 } }
t.raises(function() pop { covariates = cov2, cov_corr = 5 } end,
  "field 'cov_corr' must be a list of {\"c1\", \"c2\", r}",
  "cov_corr a number")
t.raises(function() pop { covariates = cov2, cov_corr = { { "WT" } } } end,
  "cov_corr[1] must be {\"cov1\", \"cov2\", r}", "a short covariate "
  .. "correlation")
t.raises(function() pop { covariates = cov2, cov_corr = { { "WT", "WT", 0.5 } } } end,
  "cov_corr[1] correlates 'WT' with itself", "a covariate with itself")
t.raises(function() pop { covariates = cov2, effects = 5 } end,
  "field 'effects' must be a list of {param=, cov=, form=, ref=, beta=}",
  "effects a number")
t.raises(function() pop { covariates = cov2, effects = { 5 } } end,
  "must be a table {param=, cov=, form=, ref=, beta=}", "an effect that is "
  .. "a number")
t.raises(function()
  pop { covariates = cov2, effects = { { param = "kU", cov = "WT",
                                         form = "cubic", ref = 70,
                                         beta = 1 } } }
end, "form must be \"power\", \"exp\" or \"linear\" (got \"cubic\")",
  "an unknown effect form")

-- ------------------------------------------- derived and individual
t.raises(function()
  pop { covariates = cov2, derived = function(c) return { BMI = c.XX } end }
end, "the traced function reads unknown covariate 'cov.XX' (known: ",
  "derived reading an unknown covariate")
t.raises(function()
  pop { covariates = cov2, derived = function(c) c.WT = 1; return {} end }
end, "the traced function assigns 'WT' in an input table (inputs are "
  .. "read-only; return the values in a table)", "derived assigning to a "
  .. "covariate raises (it was taken silently: the value assigned replaced "
  .. "the covariate)")
t.raises(function()
  pop { individual = function(th, eta) th.kPK = 1; return {} end }
end, "the traced function assigns 'kPK' in an input table",
  "individual assigning to a theta raises")
t.raises(function()
  pop { covariates = cov2, derived = function(c) return 5 end }
end, "derived must return a table {NAME = value, ...} (got number)",
  "derived returning a number")
t.raises(function() pop { covariates = cov2, derived = 5 } end,
  "field 'derived' must be a function (cov) returning {NAME = value, ...}",
  "derived not a function")
t.raises(function()
  pop { covariates = cov2, derived = function(c) return { HT = c.WT } end }
end, "derived covariate 'HT' has the name of a ", "a derived covariate "
  .. "named like another")
t.raises(function() pop { individual = 5 } end,
  "field 'individual' must be a function (th, eta, cov) returning {PARAM = "
  .. "value, ...}", "individual not a function")

-- ------------------------------------------------------ the object
do
  local p = pop {}
  t.raises(function() return p.nosuch end,
    "a population has no field 'nosuch' (fields: sample, read_csv, model, "
    .. "params, covariates, theta)", "an unknown population field")
  local pts = p:sample { n = 2, seed = 1 }
  if pts.column then
    t.raises(function() pts:column("nosuch") end,
      "patients:column: patients[1] has no number 'nosuch'",
      "a column that no patient has")
  else
    t.skip("patients have no column method", 1)
  end
end

-- ------------------------------------ rk.popest's traced individual
do
  local srcdir = os.getenv("RADIOKIN_SRCDIR") or "."
  local pm = dofile(srcdir .. "/models/theophylline.lua")
  local function decl(indiv)
    return function()
      return rk.popest { name = "bad", model = pm.model, observe = "conc",
        theta = { lKe = -2.4, lKa = 0.45, lCl = -3.2 },
        omega = { lKa = 0.2, lCl = 0.05 }, individual = indiv,
        error = { additive = 0.5 },
        covariates = { WT = { type = "continuous", unit = "kg",
                              range = { 20, 250 } } } }
    end
  end
  local function ok_indiv(th, eta, cov)
    return { ka = rk.exp(th.lKa + eta.lKa),
             cl = rk.exp(th.lCl + eta.lCl) * cov.WT,
             v = rk.exp(th.lCl + eta.lCl - th.lKe) * cov.WT }
  end
  t.ok(pcall(decl(ok_indiv)), "the reference popest declaration works")
  t.raises(decl(function(th, eta, cov)
    th.lKa = 0
    return ok_indiv(th, eta, cov)
  end), "rk.popest 'bad': individual assigns 'lKa': its arguments are "
    .. "read-only (return the values in a table instead)",
    "popest: assigning to a theta raises (it was taken silently)")
  t.raises(decl(function(th, eta, cov)
    cov.WT = 70
    return ok_indiv(th, eta, cov)
  end), "individual assigns 'WT': its arguments are read-only",
    "popest: assigning to a covariate read before raises too")
end

t.done()
