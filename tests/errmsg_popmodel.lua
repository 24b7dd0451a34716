-- tests/errmsg_popmodel.lua - error messages of the rk.popest declaration
-- (dsl/l_popmodel.c: theta, eta / omega, observe, error, individual),
-- provoked one by one through rk.popest and their text asserted (issue 22
-- item 3).
local rk = require "radiokin"
local t = require "radiokin.tap"

local m = rk.model {
  name = "pk2", states = { "A", "B" }, params = { cl = 0.5, v = 5 },
  ode = function(s, p) return { A = -p.cl / p.v * s.A, B = 0 } end,
  outputs = function(s, p) return { C = s.A / p.v, D = s.B } end,
}
local function indiv(th, eta)
  return { cl = rk.exp(th.lCl + eta.lCl), v = rk.exp(th.lV) }
end
-- the base declaration, with fields replaced ("nil" removes one)
local function pop(o)
  local a = { name = "e", model = m, observe = "C",
              theta = { lCl = -0.7, lV = 1.6 }, omega = { lCl = 0.1 },
              individual = indiv, error = { proportional = 0.1 } }
  for k, v in pairs(o) do a[k] = v end
  for k, v in pairs(o) do if v == "nil" then a[k] = nil end end
  return function() return rk.popest(a) end
end
t.ok(pcall(pop {}), "the base declaration works")

t.raises(function() return rk.popest(5) end, "rk.popest: expected a table "
  .. "{name=, model=, theta=, omega=, individual=, error=} (got 5",
  "not a table")
t.raises(pop { model = "nil" }, "rk.popest: field 'model' is required (a "
  .. "model made by rk.model)", "no model")
-- theta
t.raises(pop { theta = 3 }, "rk.popest 'e': field 'theta' must be a table "
  .. "NAME = initial value or {init, lower=, upper=} (got 3",
  "theta not a table")
t.raises(pop { theta = {} }, "rk.popest 'e': field 'theta' is empty",
  "no theta")
t.raises(pop { theta = { lCl = -0.7, lV = 1.6, [3] = 1 } },
  "rk.popest 'e': field 'theta' must be a table NAME = value (got a number "
  .. "key)", "a theta without a name")
t.raises(pop { theta = { lCl = { -0.7, lo = -3 }, lV = 1.6 } },
  "rk.popest 'e': theta.lCl: unknown field 'lo' (known: [1] or init, "
  .. "lower, upper, fixed)", "a misspelt bound")
t.raises(pop { theta = { lCl = { lower = -3 }, lV = 1.6 } },
  "rk.popest 'e': theta.lCl: give the initial value as {init, ...} or "
  .. "{init = ...}", "a theta without its initial value")
t.raises(pop { theta = { lCl = -0.7, lV = 0 / 0 } },
  "rk.popest 'e': theta.lV must be a finite number (got ",
  "a NaN theta")
-- omega / eta
t.raises(pop { omega = 0.1 }, "rk.popest 'e': field 'omega' must be a "
  .. "table: { NAME = variance } or, with eta = {names}, a list of "
  .. "variances or a matrix (got 0.1", "omega not a table")
t.raises(pop { omega = {} }, "rk.popest 'e': field 'omega' is empty",
  "no omega")
t.raises(pop { eta = {}, omega = { 0.1 } }, "rk.popest 'e': field 'eta' "
  .. "must be a non-empty list of random-effect names (got ", "eta empty")
t.raises(pop { eta = { 3 }, omega = { 0.1 } }, "rk.popest 'e': eta[1] "
  .. "must be a name (got 3", "an eta that is no name")
t.raises(pop { eta = { "lCl", "lCl" }, omega = { 0.1, 0.1 } },
  "rk.popest 'e': eta 'lCl' is listed twice", "an eta twice")
t.raises(pop { eta = { "lCl" }, omega = { 0.1, 0.2 } },
  "rk.popest 'e': omega has 2 entries but eta lists 1 names",
  "omega longer than eta")
t.raises(pop { eta = { "lCl", "lV" }, omega = { { 0.1, 0 }, { 0 } } },
  "rk.popest 'e': omega[2] must be a row of 2 numbers (a full omega is a 2 "
  .. "x 2 matrix)", "a short omega row")
-- observe
t.raises(pop { observe = {} }, "rk.popest 'e': observe = {...} must list 1 "
  .. "to ", "observe empty")
t.raises(pop { observe = { "C", 4 } }, "rk.popest 'e': observe[2] must be "
  .. "a name (got 4", "an observe entry that is no name")
t.raises(pop { observe = { "C", "C" } }, "rk.popest 'e': observe lists 'C' "
  .. "twice", "an endpoint twice")
t.raises(pop { observe = { "C", "B" } }, "rk.popest 'e': observe = {...} "
  .. "mixes outputs and states ('C', 'B'): list outputs only or states "
  .. "only", "an output and a state")
t.raises(pop { observe = "nil" }, "rk.popest 'e': field 'observe' is "
  .. "required (the name of the model output or state the dataset's DV "
  .. "measures)", "no observe with two outputs")
-- error
t.raises(pop { error = 0.1 }, "rk.popest 'e': field 'error' must be a "
  .. "table {additive = SD} or {proportional = SD} or both (got 0.1",
  "error not a table")
t.raises(pop { error = { additive = 0 } }, "rk.popest 'e': error: give the "
  .. "initial residual SD(s) as additive > 0 and/or proportional > 0 (got "
  .. "additive 0.0, proportional 0.0)", "a zero residual SD")
t.raises(pop { error = { additive = 0.1, scale = "ln" } }, "rk.popest 'e': "
  .. "error: field 'scale' must be \"linear\" or \"log\" (got \"ln\")",
  "an unknown scale")
t.raises(pop { observe = { "C", "D" }, error = { { additive = 0.1 } } },
  "rk.popest 'e': error.D: missing (each endpoint of observe = {C, D} needs "
  .. "its error table; got nil)", "an endpoint without its error table")
-- individual
t.raises(pop { individual = 5 }, "rk.popest 'e': field 'individual' must be "
  .. "a function (theta, eta, cov) returning the model's parameters {NAME = "
  .. "expression} (got 5", "individual not a function")

-- pm:evaluate's parameter tables (dsl/l_popeval.c)
do
  local tmp = t.scratch()
  local data = t.write_file(tmp .. "/d.csv",
    "ID,TIME,AMT,DV,CMT,DVID\n1,0,100,.,1,.\n1,2,.,12,.,1\n1,6,.,8,.,1\n"
    .. "2,0,100,.,1,.\n2,2,.,11,.,1\n2,6,.,7,.,1\n")
  local pm = pop {}()
  local pm2 = pop { eta = { "lCl", "lV" },
                    omega = { { 0.1, 0.01 }, { 0.01, 0.1 } },
                    individual = function(th, eta)
                      return { cl = rk.exp(th.lCl + eta.lCl),
                               v = rk.exp(th.lV + eta.lV) }
                    end }()
  local pm3 = pop { observe = { "C", "D" },
                    error = { { additive = 0.1 }, { additive = 0.1 } } }()
  local function ev(p, o) return function() return p:evaluate(data, o) end end
  t.ok(pcall(ev(pm, {})), "evaluate at the initial values works")
  t.raises(ev(pm, { theta = { lCl = "x" } }), "theta.lCl must be a finite "
    .. "number (got ", "evaluate: a theta that is text")
  t.raises(ev(pm, { theta = 4 }), "field 'theta' must be a table NAME = "
    .. "value (got 4", "evaluate: theta not a table")
  t.raises(ev(pm, { omega = 0.1 }), "field 'omega' must be a 1 x 1 matrix (a "
    .. "list of rows) or { NAME = variance } (got 0.1",
    "evaluate: omega not a table")
  t.raises(ev(pm2, { omega = { lCl = 0.1 } }), "field 'omega': the model's "
    .. "Omega is not diagonal: give the whole 2 x 2 matrix",
    "evaluate: a diagonal omega for a full one")
  t.raises(ev(pm2, { omega = { { 0.1, 0 }, { 0.1 } } }), "omega[2] must be a "
    .. "row of 2 numbers", "evaluate: a short omega row")
  t.raises(ev(pm, { sigma = 0.1 }), "sigma: expected a table {additive = SD, "
    .. "proportional = SD, power = exponent} (got 0.1",
    "evaluate: sigma not a table")
  t.raises(ev(pm3, { sigma = 0.1 }), "sigma: expected a table of endpoint "
    .. "names (got 0.1", "evaluate: two endpoints' sigma not a table")
end

-- fixed parameters and omega blocks (dsl/l_popfix.c)
t.raises(pop { omega = { lCl = { 0.1, fix = true } } }, "rk.popest 'e': "
  .. "omega.lCl (a variance): unknown field 'fix' (expected {variance, "
  .. "fixed = true})", "a misspelt fixed")
t.raises(pop { eta = { "lCl", "lV" }, omega = { { block = 5 } } },
  "rk.popest 'e': omega[1]: 'block' must be a k x k matrix (a list of "
  .. "rows)", "a block that is no matrix")
t.raises(pop { eta = { "lCl" },
               omega = { { block = { { 0.1, 0 }, { 0, 0.1 } } } } },
  "rk.popest 'e': omega's blocks hold more than the 1 etas",
  "a block larger than the etas")
t.raises(pop { sigma_fixed = "additive" }, "rk.popest 'e': field "
  .. "'sigma_fixed' must be a list of error SD names (\"additive\", "
  .. "\"proportional\", \"power\"; with several endpoints "
  .. "\"additive(name)\") (got ", "sigma_fixed not a list")

-- simulation from a fit and the bootstrap's helpers (dsl/l_popcheck.c)
do
  local tmp = t.scratch()
  local data = t.write_file(tmp .. "/s.csv",
    "ID,TIME,AMT,DV,CMT\n1,0,100,.,1\n1,2,.,12,.\n1,6,.,8,.\n2,0,100,.,1\n"
    .. "2,2,.,11,.\n2,6,.,7,.\n")
  local pm = pop {}()
  local fit = { theta = { lCl = -0.7, lV = 1.6 }, omega = { lCl = 0.1 },
                sigma = { proportional = 0.1 } }
  t.ok(pcall(function() return pm:simulate(data, fit, { n = 2 }) end),
    "simulation from given parameters works")
  t.raises(function() return rk.popest.simulate_fit(pm, data, fit, { n = 2,
      replicates = { fit } }) end, "field 'replicates' must be a list of 2 "
    .. "parameter tables {theta =, omega =, sigma =}, one per replicate (got ",
    "simulate: one replicate's parameters for two")
  t.raises(function() return rk.popest.simulate_fit(pm, data, fit, { n = 2,
      replicates = { fit, 5 } }) end, "replicates[2]: expected a table "
    .. "{theta =, omega =, sigma =} (got 5", "simulate: a replicate that is "
    .. "no table")
  t.raises(function() return rk.popest.boot_pick(3, 1, 1, { 1, 2 }) end,
    "rk.popest.boot_pick: 2 strata labels for 3 subjects",
    "boot_pick: strata of the wrong length")
  t.raises(function() return rk.popest.resample(5, { 1 }) end,
    "rk.popest.resample: expected a dataset of rk.popest.read (got 5",
    "resample: not a dataset")
  local d = rk.popest.read(data, m)
  t.raises(function() return rk.popest.resample(d, {}) end,
    "rk.popest.resample: no subjects to take", "resample: no picks")
  t.raises(function() return rk.popest.subject_values(5, "WT") end,
    "rk.popest.subject_values: expected a dataset of rk.popest.read (got 5",
    "subject_values: not a dataset")
end

-- fit options, SAEM's options, datasets and IOV (dsl/l_popest.c,
-- l_popsaem.c, l_popdata.c, l_popiov.c)
do
  local tmp = t.scratch()
  local data = t.write_file(tmp .. "/f.csv",
    "ID,TIME,AMT,DV,CMT\n1,0,100,.,1\n1,2,.,12,.\n1,6,.,8,.\n2,0,100,.,1\n"
    .. "2,2,.,11,.\n2,6,.,7,.\n")
  local pm = pop {}()
  t.raises(function() return pm:fit(data, 5) end, "options must be a table "
    .. "{method=, covariance=, threads=, max_eval=} (got 5",
    "fit: options not a table")
  t.raises(function() return pm:fit(data, { method = "saem", saem = 5 }) end,
    "field 'saem' must be a table {burn=, iter=, chains=, seed=, "
    .. "imp_samples=} (got 5", "fit: saem options not a table")
  t.raises(function() return pm:fit(data, { method = "saem",
      saem = { prior = 0, component = 0, block = 0 } }) end,
    "saem: prior, component and block are all 0 (expected at least one MCMC "
    .. "move per iteration)", "fit: SAEM without MCMC moves")
  t.raises(function() return pm:fit(data, { method = "saem",
      ["then"] = "saem" }) end,
    "field 'then' names the method run after SAEM: \"focei\", \"foce\", "
    .. "\"fo\", \"laplace\" or \"laplacei\" (got \"saem\")",
    "fit: SAEM then SAEM")
  t.raises(function() return pm.colour end, "population model 'e' has no "
    .. "field 'colour' (fields: fit, evaluate, read, ", "a misspelt field "
    .. "of a population model")
  t.raises(function() return rk.popest.read(data, m, { covariates = "lvcf" })
  end, "rk.popest.read: field 'covariates' must be \"nocb\" (NONMEM: a "
    .. "record's values apply up to it) or \"locf\" (from it on) (got "
    .. "\"lvcf\")", "read: an unknown covariate rule")
  t.raises(function() return rk.popest.read(data, m, { dvid = "C" }) end,
    "rk.popest.read: field 'dvid' must be a list of output names (got ",
    "read: dvid not a list")
  t.raises(function() return rk.popest.read(data, m, { dvid = { "C", 2 } })
  end, "dvid[2] must be an output name (got 2", "read: a dvid entry that "
    .. "is no name")
  local d = rk.popest.read(data, m)
  t.raises(function() return d.subjects end, "dataset has no field "
    .. "'subjects' (fields: n_subjects, n_obs, covariates, ids, path, "
    .. "observations)", "a misspelt field of a dataset")
  t.raises(pop { iov = { 0.1 } }, "field 'iov' must be a table NAME = "
    .. "variance (got a number key)", "IOV without names")
  t.raises(pop { iov = {} }, "field 'iov' is empty", "IOV empty")
end
t.done()
