-- popfit.lua - rk.popest (population models declared in Lua, FO / FOCE-I
-- fits) and scripts/fit.lua: Theophylline against nlme, rejected model
-- declarations and datasets, the script's output files, and the exact
-- path's eigen-route the fits run on (defective and complex cases).
local rk = require "radiokin"
local t = require "radiokin.tap"

local src = os.getenv("RADIOKIN_SRCDIR") or "."
local build = os.getenv("RADIOKIN_BUILDDIR") or "."
local exe = build .. "/radiokin"
local theoph = src .. "/tests/data/theoph_nm.csv"

local tmp = t.scratch()
local function write(name, text)
  return t.write_file(tmp .. "/" .. name, text)
end
local read = t.read_file
local function lines(s)
  local n = 0
  for _ in (s or ""):gmatch("[^\n]*\n") do n = n + 1 end
  return n
end

-- --------------------------------------------- Theophylline vs nlme
-- nlme 3.1 fm3Theo.nlme, method ML, on R's datasets::Theoph (run in R by
-- the developers; estimates copied here).
local NLME = { lKe = -2.454704, lKa = 0.465736, lCl = -3.227223,
               sd_lKa = 0.643575, sd_lCl = 0.166928, sigma = 0.709254,
               m2ll = 2 * 177.0214 }
local pm = dofile(src .. "/models/theophylline.lua")
t.like(tostring(pm), "rk.popest 'theophylline' (3 theta, 2 eta, 1 "
  .. "covariates, observes conc)", "declaration traced: 3 theta, 2 eta, "
  .. "covariate WT found by tracing")
t.is(#pm.covariates, 1, 0, "one covariate")
local r = pm:fit(theoph, { threads = 2 })
t.ok(r.converged and r.covariance_ok, "FOCE-I fit converged, covariance "
  .. "step ran (" .. tostring(r.message or r.covariance_message or "ok")
  .. ")")
-- Tolerances of tests/unit/test_popest.c, and why: nlme maximises the
-- Lindstrom-Bates LME approximation, FOCE-I the Laplace objective with
-- the EBEs moving with theta; the optima differ by a fraction of an SE.
t.ok(math.abs(r.theta.lKe - NLME.lKe) < 0.02, ("lKe %.5f vs nlme %.5f "
  .. "(abs. tol. 0.02)"):format(r.theta.lKe, NLME.lKe))
t.ok(math.abs(r.theta.lKa - NLME.lKa) < 0.04, ("lKa %.5f vs nlme %.5f "
  .. "(abs. tol. 0.04, SE 0.2)"):format(r.theta.lKa, NLME.lKa))
t.ok(math.abs(r.theta.lCl - NLME.lCl) < 0.01, ("lCl %.5f vs nlme %.5f "
  .. "(abs. tol. 0.01)"):format(r.theta.lCl, NLME.lCl))
t.is(r.omega_sd.lKa, NLME.sd_lKa, 0.05, "SD(lKa) vs nlme (rel. tol. 5 %)")
t.is(r.omega_sd.lCl, NLME.sd_lCl, 0.05, "SD(lCl) vs nlme (rel. tol. 5 %)")
t.is(r.sigma.additive, NLME.sigma, 0.01, "residual SD vs nlme (rel. tol. "
  .. "1 %)")
t.ok(math.abs(r.m2ll - NLME.m2ll) < 0.3, ("-2LL %.4f vs nlme %.4f (abs. "
  .. "tol. 0.3)"):format(r.m2ll, NLME.m2ll))
-- definitions (exact up to rounding): N = 132 observations, 6 parameters
t.is(r.m2ll - r.ofv, 132 * math.log(2 * math.pi), 1e-12,
  "-2LL = OFV + N log(2 pi), N = 132")
t.is(r.aic, r.m2ll + 2 * 6, 1e-14, "AIC = -2LL + 2 x 6 parameters")
t.is(r.bic, r.m2ll + 6 * math.log(132), 1e-14, "BIC = -2LL + 6 log 132")
do
  local p, ci_ok, names = r.params, true, {}
  for _, row in ipairs(p) do
    names[#names + 1] = row.name
    -- theta: Wald, estimate -+ 1.96 SE; variances (OMEGA) and the
    -- residual SD: Wald on the log scale, estimate x/ exp(1.96 SE / est)
    -- (delta method), so the interval stays positive
    local z = 1.959963984540054
    local lo, hi = row.estimate - z * row.se, row.estimate + z * row.se
    if row.kind ~= "theta" then
      local f = math.exp(z * row.se / row.estimate)
      lo, hi = row.estimate / f, row.estimate * f
    end
    ci_ok = ci_ok and row.se > 0
      and math.abs(row.lower95 - lo) < 1e-12 * (1 + math.abs(row.estimate))
      and math.abs(row.upper95 - hi) < 1e-12 * (1 + math.abs(row.estimate))
      and row.lower95 > 0 == (row.kind ~= "theta" or lo > 0)
      and row.ci_scale == (row.kind == "theta" and "linear" or "log")
      and math.abs(row.rse - 100 * row.se / math.abs(row.estimate)) < 1e-9
  end
  t.is(table.concat(names, " "), "lCl lKa lKe OMEGA(lCl) OMEGA(lKa) "
    .. "SIGMA_ADD", nil, "parameter table: theta by name, omega, sigma")
  t.ok(ci_ok, "95 % CI: theta estimate -+ 1.96 SE, omega and sigma on the "
    .. "log scale (positive); RSE = 100 SE / |estimate|")
  -- nlme's model-based SEs (P&B 2000): lKe 0.063, lCl 0.082; the
  -- sandwich is another estimator, so 30 %
  t.is(p[3].se, 0.063, 0.3, "SE(lKe) near nlme's 0.063 (rel. tol. 30 %)")
  t.is(p[1].se, 0.0817, 0.3, "SE(lCl) near nlme's 0.082 (rel. tol. 30 %)")
  t.ok(r.condition >= 1 and #r.correlation == 6
    and math.abs(r.correlation[2][2] - 1) < 1e-12,
    "6 x 6 correlation matrix with unit diagonal, condition number >= 1")
end
do
  local tb, worst, ids = r.table, 0, {}
  for k = 1, #tb.DV do
    local w = (tb.DV[k] - tb.IPRED[k]) / r.sigma.additive
    worst = math.max(worst, math.abs(w - tb.IWRES[k]))
    ids[tb.ID[k]] = true
  end
  t.is(#tb.CWRES, 132, 0, "observation table: 132 rows")
  t.ok(worst < 1e-12, "IWRES = (DV - IPRED) / sigma for an additive error")
  t.is(#r.ebe, 12, 0, "12 subjects' EBEs")
  local e = r.ebe[1]
  t.is(e.params.ka, math.exp(r.theta.lKa + e.eta.lKa), 1e-12,
    "individual ka = exp(lKa + eta) at the EBE (the traced expression)")
  t.is(e.params.cl, math.exp(r.theta.lCl + e.eta.lCl) * 79.6, 1e-12,
    "individual cl = exp(lCl + eta) WT, WT = 79.6 kg for ID 1")
  t.ok(r.shrinkage.eta.lKa < 0.5 and r.shrinkage.eps < 0.5,
    "shrinkage reported (12 rich profiles: small)")
end
do
  local rf = pm:fit(theoph, { method = "fo", covariance = false })
  t.ok(rf.method == "FO" and rf.converged and not rf.covariance_ok,
    "FO fit without covariance step runs (" .. tostring(rf.message or "ok")
    .. ")")
  t.like(rf.covariance_message, "not run", "no covariance step: says so")
end
do
  -- df/deta by finite differences instead of the exact path's
  -- sensitivities: the same minimum to the optimiser's tolerance.
  local rd = pm:fit(theoph, { covariance = false, gradient = "fd" })
  t.ok(rd.converged and math.abs(rd.ofv - r.ofv) < 1e-4, ("gradient = "
    .. "\"fd\": OFV %.6f vs analytic %.6f (abs. tol. 1e-4)"):format(rd.ofv,
    r.ofv))
  t.raises(function() return pm:fit(theoph, { gradient = "exact" }) end,
    "field 'gradient' must be \"analytic\" or \"fd\" %(got \"exact\"%)",
    "unknown gradient option named")
end

-- ----------------------------------------------- bad declarations
local function decl(over)
  local d = {
    name = "bad", model = pm.model, observe = "conc",
    theta = { lKe = -2.4, lKa = 0.45, lCl = -3.2 },
    omega = { lKa = 0.2, lCl = 0.05 },
    individual = function(th, eta, cov)
      return { ka = rk.exp(th.lKa + eta.lKa),
               cl = rk.exp(th.lCl + eta.lCl) * cov.WT,
               v = rk.exp(th.lCl + eta.lCl - th.lKe) * cov.WT }
    end,
    error = { additive = 0.5 },
    covariates = { WT = { type = "continuous", unit = "kg",
                          range = { 20, 250 } } },
  }
  for k, v in pairs(over) do d[k] = v end
  if over.covariates == false then d.covariates = nil end
  return function() return rk.popest(d) end
end
t.ok(pcall(decl {}), "the reference declaration is accepted")
-- NONMEM parity (covariates used in model code are declared): reading
-- cov.WT without a declaration is refused, naming it and the remedy.
t.raises(decl { covariates = false }, "rk.popest 'bad': individual reads "
  .. "covariate 'WT' but field 'covariates' is missing: declare every "
  .. "covariate", "an undeclared covariate refused")
t.raises(decl { individual = function(th, eta, cov)
    return { ka = rk.exp(th.lKa + eta.lKa),
             cl = rk.exp(th.lCl) * cov.WT,
             v = rk.exp(th.lCl - th.lKe) * cov.WT }
  end }, "rk.popest 'bad': eta 'lCl' is used by no individual parameter",
  "an eta not used")
t.raises(decl { eta = { "lKa", "lCl" },
                omega = { { 0.2, 0.3 }, { 0.3, 0.05 } } },
  "rk.popest 'bad': omega is not positive definite", "omega not positive "
  .. "definite (correlation 0.3 / sqrt(0.2 x 0.05) = 3)")
t.raises(decl { omega = { lKa = 0.2, lCl = -0.05 } },
  "the variance of eta lCl is -0.05 (expected > 0)",
  "negative omega variance")
t.raises(decl { individual = function(th, eta)
    return { ka = rk.exp(th.lKa + eta.lKa), cl = rk.exp(th.lCL + eta.lCl) }
  end }, "individual reads unknown theta 'theta.lCL' (theta: lCl, lKa, lKe)",
  "unknown theta name (a typo)")
t.raises(decl { individual = function(th, eta)
    return { ka = rk.exp(th.lKa + eta.lKa), CL = rk.exp(th.lCl + eta.lCl)
             * rk.exp(th.lKe) }
  end }, "individual returns 'CL': ", "unknown model parameter returned")
t.raises(decl { individual = function(th, eta)
    if th.lKa > 0 then return {} end
  end }, "expressions cannot be compared", "a comparison in individual")
t.raises(decl { observe = "Cp" }, "observe = 'Cp' is neither an output "
  .. "nor a state of model 'theoph_1cpt' (known: conc, depot, central)",
  "unknown observed quantity")
t.raises(decl { theta = { lKe = -2.4, lKa = { 0.45, lower = 1 },
                          lCl = -3.2 } },
  "theta.lKa: the initial value 0.45 must lie within lower 1.0 < upper inf",
  "initial theta outside its bounds")
t.raises(decl { error = { proportional = 0.1, scale = "log" } },
  "on scale \"log\" give additive = SD only", "log scale: additive only")
t.raises(decl { thetas = {} }, "unknown field 'thetas'", "misspelt field")
do
  -- unknown covariate: found when the dataset is read
  local p2 = decl { individual = function(th, eta, cov)
      return { ka = rk.exp(th.lKa + eta.lKa),
               cl = rk.exp(th.lCl + eta.lCl) * cov.AGE,
               v = rk.exp(th.lCl + eta.lCl - th.lKe) * cov.WT }
    end, covariates = { WT = { type = "continuous", unit = "kg",
                               range = { 20, 250 } },
                        AGE = { type = "continuous", unit = "y",
                                range = { 0, 120 } } } } ()
  t.raises(function() return p2:fit(theoph) end,
    "no covariate column 'AGE' (covariates: WT, DOSE)",
    "unknown covariate: the message lists the dataset's covariates")
end

-- ----------------------------------------------------- bad datasets
local bad = write("bad.csv", "ID,TIME,DV,AMT,CMT,WT\n1,0,.,320,1,80\n"
  .. "1,1,abc,.,2,80\n")
t.raises(function() return pm:fit(bad) end,
  "bad.csv:3: column DV: 'abc' is not a number",
  "non-numeric DV: file, line 3 and column named")
local back = write("back.csv", "ID,TIME,DV,AMT,CMT,WT\n1,0,.,320,1,80\n"
  .. "1,2,5,.,2,80\n1,1,4,.,2,80\n")
t.raises(function() return pm:fit(back) end,
  "back.csv:4: column TIME: 1 is earlier", "time going back: line 4")
local cmt = write("cmt.csv", "ID,TIME,DV,AMT,CMT,WT\n1,0,.,320,gut,80\n"
  .. "1,1,4,.,central,80\n")
t.raises(function() return pm:fit(cmt) end, "cmt.csv:2: column CMT",
  "dose to an unknown compartment name: line 2, column CMT")
t.raises(function() return pm:fit(tmp .. "/missing.csv") end,
  "missing.csv: cannot open", "missing file")

-- ------------------------------------------------ scripts/fit.lua
local function run(...)
  local out, status = t.run { exe, src .. "/scripts/fit.lua", ... }
  return status == 0, out
end
do
  local out_dir = tmp .. "/fit"
  local ok, out = run(src .. "/models/theophylline.lua", theoph, "--out",
                      out_dir, "--threads", "2")
  t.ok(ok, "scripts/fit.lua ran")
  t.like(out, "method FOCE-I", "summary printed")
  t.like(out, "lKa ", "summary lists the parameters")
  local par, ebe, tab = read(out_dir .. "/parameters.csv"),
    read(out_dir .. "/ebe.csv"), read(out_dir .. "/table.csv")
  t.ok(par and par:find("^parameter,kind,estimate,se,rse_pct,ci95_lower,"
    .. "ci95_upper\n") and lines(par) == 1 + 6 + 4,
    "parameters.csv whole: header, 6 parameters, OFV/-2LL/AIC/BIC")
  t.ok(ebe and ebe:find("^ID,ETA_lCl,ETA_lKa,cl,ka,v,OFV_i\n")
    and lines(ebe) == 13, "ebe.csv whole: header and 12 subjects")
  t.ok(tab and tab:find("^ID,TIME,DV,PRED,IPRED,RES,IWRES,CWRES\n")
    and lines(tab) == 133 and tab:sub(-1) == "\n",
    "table.csv whole: header and 132 observations")
  local rows = rk.csv.read(out_dir .. "/table.csv")
  t.is(rows[2].PRED, r.table.PRED[2], 1e-9, "table.csv = the fit's table")
  if rk.run { "gnuplot", "--version" } == 0 then
    local whole = true
    for _, p in ipairs { "dv_pred", "dv_ipred", "cwres_time",
                         "individual" } do
      local png = read(out_dir .. "/gof_" .. p .. ".png")
      local svg = read(out_dir .. "/gof_" .. p .. ".svg")
      whole = whole and png and png:sub(2, 4) == "PNG" and svg
        and svg:find("</svg>%s*$") ~= nil
    end
    t.ok(whole, "8 plots: PNG signature, SVG closed")
  else
    t.skip("gnuplot not installed", 1)
  end
  local ok2, out2 = run(src .. "/models/theophylline.lua", theoph, "--out",
                        tmp .. "/fo", "--no-plot", "--quiet", "--method",
                        "fo", "--no-cov")
  t.ok(ok2 and read(tmp .. "/fo/table.csv") and
    not read(tmp .. "/fo/gof_dv_pred.png") and out2 == "",
    "--method fo --no-plot --quiet: tables only, nothing printed")
  local ok3, out3 = run(src .. "/models/theophylline.lua", bad)
  t.ok(not ok3, "bad dataset: non-zero exit")
  t.like(out3, "bad.csv:3: column DV: 'abc' is not a number",
    "bad dataset: file, line and column")
  local syn = write("syntax.lua", "local rk = require 'radiokin'\n"
    .. "return rk.popest {\n  name = 'x',,\n}\n")
  local ok4, out4 = run(syn, theoph)
  t.ok(not ok4 and out4:find("syntax.lua:3:"), "model file syntax error: "
    .. "file and line")
  local ok5, out5 = run(write("num.lua", "return 42\n"), theoph)
  t.ok(not ok5 and out5:find("num.lua: must return a population model"),
    "model file returning something else: named")
  local ok6, out6 = run("only_one.lua")
  t.ok(not ok6 and out6:find("usage: radiokin scripts/fit.lua"),
    "one argument: usage")
end

-- ------------------------------ exact path: eigen-route edge cases
-- Defective A: ka = k (a double eigenvalue with one eigenvector), the
-- case the eigen-route must hand back to scaling and squaring. Analytic:
-- central(t) = D k t e^(-k t) (Bateman's limit ka -> k).
do
  local m = rk.model { name = "defective", states = { "g", "c" },
    params = { ka = 0.5, k = 0.5 },
    ode = function(s, p)
      return { g = -p.ka * s.g, c = p.ka * s.g - p.k * s.c }
    end }
  local times = { 0.3, 1.1, 2, 3.7, 5, 8.2, 13, 24 }
  local rr = m:simulate { doses = { { time = 0, amount = 100, to = "g" } },
                          times = times, path = "exact" }
  local worst = 0
  for i, tt in ipairs(times) do
    local want = 100 * 0.5 * tt * math.exp(-0.5 * tt)
    worst = math.max(worst, math.abs(rr.c[i] / want - 1))
  end
  t.ok(worst < 1e-9, ("ka = k (defective): exact path vs D k t e^-kt, " ..
    "max rel. %.2g < 1e-9"):format(worst))
  local near = m:simulate { doses = { { time = 0, amount = 100,
                                        to = "g" } },
                            times = times, path = "exact",
                            params = { ka = 0.5 * (1 + 1e-7) } }
  worst = 0
  for i = 1, #times do
    worst = math.max(worst, math.abs(near.c[i] / rr.c[i] - 1))
  end
  t.ok(worst < 1e-6, ("ka = k (1 + 1e-7), nearly defective: continuous " ..
    "with ka = k (max rel. %.2g < 1e-6)"):format(worst))
end
-- Complex eigenvalues: a cycle a -> b -> c -> a with elimination from
-- a; exact path (states and TIA) vs CVODES at rtol 1e-10 (1e-7 rel.).
do
  local m = rk.model { name = "cycle", states = { "a", "b", "c" },
    params = { k1 = 1, k2 = 1, k3 = 1, ke = 0.05 },
    ode = function(s, p)
      return { a = -(p.k1 + p.ke) * s.a + p.k3 * s.c,
               b = p.k1 * s.a - p.k2 * s.b, c = p.k2 * s.b - p.k3 * s.c }
    end }
  local req = { doses = { { time = 0, amount = 10, to = "a" },
                          { time = 2, amount = 5, rate = 2.5, to = "b" } },
                times = { 0.5, 1.3, 2.9, 4, 7.5, 12 }, tia = { "a", "c" } }
  req.path = "exact"
  local ex = m:simulate(req)
  req.path, req.rtol, req.atol = "cvodes", 1e-10, 1e-14
  local cv = m:simulate(req)
  local worst = 0
  for _, s in ipairs { "a", "b", "c" } do
    for i = 1, #req.times do
      worst = math.max(worst, math.abs(ex[s][i] / cv[s][i] - 1))
    end
  end
  t.ok(worst < 1e-7, ("complex eigenvalues (cycle) with a bolus and an " ..
    "infusion: exact vs CVODES, max rel. %.2g < 1e-7"):format(worst))
  t.ok(math.abs(ex.tia.a / cv.tia.a - 1) < 1e-7
    and math.abs(ex.tia.c / cv.tia.c - 1) < 1e-7,
    "complex eigenvalues: TIA exact vs CVODES (1e-7 rel.)")
end

t.remove_tree(tmp)
-- The shipped model declares WT (kg, 20-250): a record outside is refused
-- naming the line and the range, before any fitting.
do
  local lines = {}
  for line in io.lines(theoph) do lines[#lines + 1] = line end
  local hdr
  for i, line in ipairs(lines) do
    if line:match("^ID,") then hdr = i end
  end
  -- WT is the 8th column; the first data record gets 500 kg
  local f = {}
  for v in (lines[hdr + 1] .. ","):gmatch("([^,]*),") do f[#f + 1] = v end
  f[8] = "500"
  lines[hdr + 1] = table.concat(f, ",")
  local bad = t.scratch() .. "/theoph_wt500.csv"
  t.write_file(bad, table.concat(lines, "\n") .. "\n")
  local ok, msg = pcall(pm.fit, pm, bad, { threads = 1 })
  t.ok(not ok and tostring(msg):find("WT", 1, true)
       and tostring(msg):find("[20, 250] kg", 1, true)
       and tostring(msg):find(":" .. hdr + 1 .. ":", 1, true),
       "theophylline.lua declares WT: 500 kg refused with line and range ("
       .. tostring(msg) .. ")")
end

t.done()
