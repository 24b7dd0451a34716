-- popeval.lua - rk.popest around the fit: pm:evaluate (evaluation without
-- estimation, NONMEM's MAXEVAL=0) and scripts/fit.lua --evaluate.
local rk = require "radiokin"
local t = require "radiokin.tap"
-- Theophylline's weight, declared as models/theophylline.lua does.
local WT_DECL = { WT = { type = "continuous", unit = "kg",
                         range = { 20, 250 } } }

local src = os.getenv("RADIOKIN_SRCDIR") or "."
local build = os.getenv("RADIOKIN_BUILDDIR") or "."
local exe = build .. "/radiokin"
local theoph = src .. "/tests/data/theoph_nm.csv"
local pm = dofile(src .. "/models/theophylline.lua")
local tmp = t.scratch()

-- ---------------------------------------------------- pm:evaluate
local r = pm:fit(theoph, { threads = 2, covariance = false })
t.ok(r.converged, "reference fit converged")
local e = pm:evaluate(theoph, { theta = r.theta, omega = r.omega,
                                sigma = r.sigma, threads = 2 })
t.ok(e.evaluation and e.n_eval == 0 and not r.evaluation,
  "evaluation flagged, no outer evaluation")
t.is(e.ofv, r.ofv, 1e-10, "evaluation at the fit's estimates gives its OFV")
do
  local sum, dp, de = 0, 0, 0
  for i, s in ipairs(e.ebe) do
    sum = sum + s.ofv
    for k, v in pairs(s.eta) do
      de = math.max(de, math.abs(v - r.ebe[i].eta[k]))
    end
  end
  for k, v in ipairs(e.table.PRED) do
    dp = math.max(dp, math.abs(v - r.table.PRED[k]))
  end
  t.is(sum, e.ofv, 1e-12, "per-subject OFV sum to the OFV")
  t.ok(dp < 1e-12 and de < 1e-6, ("PRED as the fit's (max diff %.2g), "
    .. "EBEs as the fit's (max diff %.2g, tol. 1e-6)"):format(dp, de))
  t.ok(#e.table.CWRES == 132 and #e.table.IPRED == 132,
    "CWRES and IPRED for the 132 observations")
end
t.ok(e.covariance_ok == false, "no covariance step by default")
local e0 = pm:evaluate(theoph)
local f0 = pm:fit(theoph, { max_eval = 0, covariance = false })
t.is(f0.ofv, e0.ofv, 1e-12, "pm:fit with max_eval = 0 is the evaluation "
  .. "at the initial values")
t.ok(f0.evaluation and f0.theta.lKa == pm.theta.lKa,
  "... which keeps the initial values")
-- Partial values keep the others at the model's initial values; a
-- diagonal omega can be given by name or as a matrix.
local part = pm:evaluate(theoph, { theta = { lKa = 0.3 },
                                   omega = { lCl = 0.07 } })
local om = pm.omega
for k, n in ipairs(pm.eta_names) do
  if n == "lCl" then om[k][k] = 0.07 end
end
local full = pm:evaluate(theoph, {
  theta = { lKa = 0.3, lKe = pm.theta.lKe, lCl = pm.theta.lCl },
  omega = om })
t.is(part.ofv, full.ofv, 1e-12, "names and matrix give the same Omega; "
  .. "absent values are the initial ones")
t.ok(math.abs(part.ofv - e0.ofv) > 1e-3, "... and the values are used")
local ec = pm:evaluate(theoph, { theta = r.theta, omega = r.omega,
                                 sigma = r.sigma, covariance = true })
t.ok(ec.covariance_ok and ec.params[1].se > 0,
  "covariance = true: SEs at the evaluated values")
t.raises(function() pm:evaluate(theoph, { theta = { lKx = 1 } }) end,
  "theophylline:evaluate: field 'theta' has no parameter 'lKx'",
  "unknown theta named")
t.raises(function() pm:evaluate(theoph, { omega = { { 1 } } }) end,
  "field 'omega' has 1 rows %(expected 2%)", "omega of the wrong size")
t.raises(function() pm:evaluate(theoph, { omega = { lKa = -1 } }) end,
  "the variance of eta lKa is %-1", "negative variance")
t.raises(function() pm:evaluate(theoph, { sigma = { proportional = 1 } })
  end, "additive only: no 'proportional'", "sigma not in the model")
t.raises(function() pm:evaluate(theoph, { sigma = { additive = 0 } }) end,
  "additive", "sigma 0")
t.raises(function() pm:evaluate(theoph, { max_eval = 3 }) end,
  "unknown field 'max_eval'", "max_eval is not an evaluation option")
t.raises(function() pm:evaluate(theoph, { theta = { lKa = "x" } }) end,
  "theta.lKa must be a finite number", "theta not a number")

-- ------------------------------------------------------ robust EBEs
do
  local single = pm:evaluate(theoph, { theta = r.theta, omega = r.omega,
                                       sigma = r.sigma,
                                       ebe_starts = "single" })
  local modes_ok = true
  for _, s in ipairs(e.ebe) do
    modes_ok = modes_ok and s.modes == 1 and s.ofv_gap == 0
  end
  t.ok(modes_ok and #e.multimodal == 0 and e.cov_multimodal == 0,
    "Theophylline: every subject's starts agree (modes 1, gap 0, no "
    .. "subject listed)")
  t.is(single.ofv, e.ofv, 1e-9, "... so one start gives the same OFV")
  t.raises(function() pm:evaluate(theoph, { ebe_starts = "many" }) end,
    "field 'ebe_starts' must be \"multi\", \"single\" or \"scan\" "
    .. "%(got \"many\"%)", "unknown ebe_starts named")
end

-- --------------------------------------------- FIX and block Omega
do
  local function decl(theta, eta, omega, extra)
    local d = {
      name = "theo_fix", model = pm.model, observe = "conc",
      theta = theta, eta = eta, omega = omega,
      individual = function(th, et, cov)
        local lcl = th.lCl + et.lCl
        local lke = eta and th.lKe + et.lKe or th.lKe
        return { ka = rk.exp(th.lKa + et.lKa), cl = rk.exp(lcl) * cov.WT,
                 v = rk.exp(lcl - lke) * cov.WT }
      end,
      error = { additive = 0.5 },
      covariates = WT_DECL,
    }
    for k, v in pairs(extra or {}) do d[k] = v end
    return rk.popest(d)
  end
  local pf = decl({ lKe = { -2.45, fixed = true }, lKa = 0.45,
                    lCl = -3.2 }, nil,
                  { lKa = 0.2, lCl = { 0.03, fixed = true } },
                  { sigma_fixed = { "additive" } })
  local rf = pf:fit(theoph, { threads = 2 })
  t.ok(rf.converged and rf.covariance_ok, "fit with lKe, OMEGA(lCl) and "
    .. "the additive SD fixed (" .. tostring(rf.message or
    rf.covariance_message or "ok") .. ")")
  t.ok(rf.theta.lKe == -2.45 and rf.omega_sd.lCl == math.sqrt(0.03)
    and rf.sigma.additive == 0.5, "fixed values unchanged")
  local fixed, free_se = {}, true
  for _, row in ipairs(rf.params) do
    if row.fixed then fixed[#fixed + 1] = row.name
    else free_se = free_se and row.se and row.se > 0 end
    if row.fixed then free_se = free_se and row.se == nil end
  end
  t.is(table.concat(fixed, " "), "lKe OMEGA(lCl) SIGMA_ADD", 0,
    "the fixed parameters are flagged, without SE")
  t.ok(free_se and rf.n_params == 3 and #rf.covariance == 3
    and rf.covariance_names[1] == "lCl", "SEs for the 3 estimated ones; "
    .. "covariance matrix over them")
  t.is(rf.aic, rf.m2ll + 2 * 3, 1e-12, "AIC counts estimated parameters")
  local ef = pf:evaluate(theoph, { theta = rf.theta, omega = rf.omega,
                                   sigma = rf.sigma })
  t.is(ef.ofv, rf.ofv, 1e-9, "OFV = the evaluation at the estimates")
  t.like(rf:summary(), "lKe%s+%-2.45%s+FIXED", "summary says FIXED")

  local pb = decl({ lKe = -2.4, lKa = 0.45, lCl = -3.2 },
                  { "lKa", "lCl", "lKe" },
                  { { block = { { 0.2, 0.01 }, { 0.01, 0.05 } } },
                    { 0.01, fixed = true } })
  t.like(tostring(pb), "3 eta block omega", "declared with a block")
  local rb = pb:fit(theoph, { threads = 2, covariance = false })
  t.ok(rb.converged, "block + fixed-diagonal fit converged ("
    .. tostring(rb.message or "ok") .. ")")
  t.ok(rb.omega[3][1] == 0 and rb.omega[3][2] == 0
    and rb.omega[3][3] == 0.01 and rb.omega[2][1] ~= 0.01,
    "across blocks 0, fixed variance kept, the block's covariance moved")
  local names = {}
  for _, row in ipairs(rb.params) do names[#names + 1] = row.name end
  t.is(table.concat(names, " "), "lCl lKa lKe OMEGA(lKa) OMEGA(lCl,lKa) "
    .. "OMEGA(lCl) OMEGA(lKe) SIGMA_ADD", 0, "parameter rows follow the "
    .. "block pattern")
  t.raises(function()
    decl({ lKe = -2.4, lKa = 0.45, lCl = -3.2 }, { "lKa", "lCl", "lKe" },
         { { block = { { 0.2, 0.01 }, { 0.01, 0.05 } } } })
  end, "omega's blocks hold 2 etas but eta lists 3", "blocks too small")
  t.raises(function()
    decl({ lKe = -2.4, lKa = 0.45, lCl = -3.2 }, { "lKa", "lCl", "lKe" },
         { { block = { { 0.2, 0.01 }, { 0.02, 0.05 } } }, 0.1 })
  end, "the block is not symmetric", "asymmetric block")
  t.raises(function()
    decl({ lKe = -2.4, lKa = 0.45, lCl = -3.2 }, nil,
         { lKa = { 0.2, fixd = true }, lCl = 0.05 })
  end, "unknown field 'fixd'", "misspelt fixed")
  t.raises(function()
    decl({ lKe = -2.4, lKa = 0.45, lCl = -3.2 }, nil,
         { lKa = 0.2, lCl = 0.05 }, { sigma_fixed = { "proportional" } })
  end, "sigma_fixed%[1%] = proportional is not an SD of the error model",
    "sigma_fixed naming an SD the model lacks")
end

-- ------------------------------------------ a variance at its boundary
-- Theophylline with an eta on lKe too (P&B 2000's fm1Theo.nlme, whose
-- lKe variance they found negligible): the variance runs to its bound,
-- is reported, and the OFV is the 2-eta model's.
do
  local function p3(lke)
    return rk.popest { name = "theo3", model = pm.model, observe = "conc",
      theta = { lKe = -2.4, lKa = 0.45, lCl = -3.2 },
      omega = { lKa = 0.2, lCl = 0.05, lKe = lke },
      individual = function(th, et, cov)
        local lcl = th.lCl + et.lCl
        return { ka = rk.exp(th.lKa + et.lKa), cl = rk.exp(lcl) * cov.WT,
                 v = rk.exp(lcl - th.lKe - et.lKe) * cov.WT }
      end,
      error = { additive = 0.5 }, covariates = WT_DECL }
  end
  local rb = p3(0.05):fit(theoph, { threads = 2 })
  t.ok(rb.converged and rb.n_eval < 3000, ("stops with estimates (%d "
    .. "evaluations)"):format(rb.n_eval))
  t.like(rb.boundary or "", "OMEGA%(lKe%) = .* %(variance tends to 0%).*FIX",
    "r.boundary names OMEGA(lKe)")
  t.like(rb.covariance_message or "", "covariance step not run: estimate "
    .. "near its boundary", "covariance step skipped, saying why")
  t.like(rb:summary(), "BOUNDARY: estimate near its boundary",
    "the summary says so")
  t.ok(math.abs(rb.ofv - r.ofv) < 1e-3, ("OFV %.5f = the 2-eta model's "
    .. "%.5f (abs. tol. 1e-3)"):format(rb.ofv, r.ofv))
  local rf = p3({ 1e-6, fixed = true }):fit(theoph, { threads = 2 })
  t.ok(rf.converged and not rf.boundary and rf.covariance_ok,
    "FIXed at 1e-6 and refitted: no boundary, covariance step ran ("
    .. tostring(rf.covariance_message or "ok") .. ")")
end

-- A fixed variance of a diagonal omega by name that is not the last eta
-- (names sorted: lCl, lKa, lKe): its flag sits at its own element of the
-- n_eta x n_eta pattern (it was indexed by the etas read so far).
do
  local pfx = rk.popest { name = "theo3f", model = pm.model,
    observe = "conc",
    theta = { lKe = -2.4, lKa = 0.45, lCl = -3.2 },
    omega = { lKa = { 0.2, fixed = true }, lCl = 0.05, lKe = 0.04 },
    individual = function(th, et, cov)
      local lcl = th.lCl + et.lCl
      return { ka = rk.exp(th.lKa + et.lKa), cl = rk.exp(lcl) * cov.WT,
               v = rk.exp(lcl - th.lKe - et.lKe) * cov.WT }
    end,
    error = { additive = 0.5 }, covariates = WT_DECL }
  local e = pfx:evaluate(theoph, { threads = 2 })
  local flags = {}
  for _, row in ipairs(e.params) do
    if row.kind == "omega" then
      flags[#flags + 1] = row.name .. "=" .. tostring(row.fixed or false)
    end
  end
  t.is(table.concat(flags, " "), "OMEGA(lCl)=false OMEGA(lKa)=true "
    .. "OMEGA(lKe)=false", 0, "omega by name, the middle eta fixed: only "
    .. "its variance flagged")
end

-- ------------------------------------------------- covariance step
do
  local rs = pm:fit(theoph, { threads = 2 })
  local rr = pm:fit(theoph, { threads = 2, cov_matrix = "R" })
  t.ok(rs.covariance_matrix == "sandwich" and rr.covariance_matrix == "R",
    "the chosen matrix is named")
  t.ok(rs.covariance_r and rs.covariance_s and rs.covariance_sandwich,
    "all three matrices returned")
  local n, d = #rs.covariance, 0
  for i = 1, n do
    for j = 1, n do
      d = math.max(d, math.abs(rs.covariance[i][j]
                               - rs.covariance_sandwich[i][j]))
    end
  end
  t.ok(d == 0, "default: the covariance is the sandwich")
  t.is(rr.params[1].se, math.sqrt(rs.covariance_r[1][1]), 1e-6,
    "cov_matrix = \"R\": SEs from R^-1")
  t.ok(rs.condition_r and rs.condition_r >= 1, "condition number of R")
  t.raises(function() pm:fit(theoph, { cov_matrix = "T" }) end,
    "field 'cov_matrix' must be \"sandwich\", \"R\" or \"S\"",
    "unknown cov_matrix named")
end

-- --------------------------------------------------------- methods
do
  local v = { theta = r.theta, omega = r.omega, sigma = r.sigma }
  local function ev(m)
    v.method = m
    return pm:evaluate(theoph, v)
  end
  local fi, fc, la, li = ev("focei"), ev("foce"), ev("laplace"),
    ev("laplacei")
  t.ok(fi.method == "FOCE-I" and fc.method == "FOCE"
    and la.method == "Laplace" and li.method == "Laplace-I",
    "method names")
  -- additive error: the residual variance does not move with eta, so
  -- interaction changes nothing
  t.is(fc.ofv, fi.ofv, 1e-9, "additive error: FOCE = FOCE-I")
  t.is(la.ofv, li.ofv, 1e-9, "additive error: Laplace = Laplace-I")
  t.ok(math.abs(li.ofv - fi.ofv) > 1e-3 and math.abs(li.ofv - fi.ofv) < 5,
    ("Laplace's exact second derivatives change the OFV (%.4f vs FOCE-I "
    .. "%.4f)"):format(li.ofv, fi.ofv))
  local rl = pm:fit(theoph, { method = "laplacei", threads = 2,
                              covariance = false })
  t.ok(rl.converged and rl.ofv <= li.ofv + 1e-6, "a Laplace-I fit "
    .. "converges at or below its OFV at the FOCE-I estimates")
  t.raises(function() pm:fit(theoph, { method = "bayes" }) end,
    "field 'method' must be \"focei\", \"foce\", \"fo\", \"laplace\", "
    .. "\"laplacei\" or \"saem\"", "unknown method named")
end

-- ------------------------------------------- scripts/fit.lua --evaluate
do
  local out = tmp .. "/ev"
  local rc = rk.run { exe, src .. "/scripts/fit.lua",
                      src .. "/models/theophylline.lua", theoph,
                      "--evaluate", "--out", out, "--no-plot", "--quiet" }
  t.ok(rc == 0, "fit.lua --evaluate exits 0")
  local p = t.read_file(out .. "/parameters.csv") or ""
  local ofv = tonumber(p:match("\nOFV,objective,([^,]+)"))
  t.is(ofv or 0, e0.ofv, 1e-9, "parameters.csv holds the OFV at the "
    .. "initial values")
  t.ok((t.read_file(out .. "/table.csv") or ""):find("CWRES"),
    "table.csv written")
  rc = rk.run { exe, src .. "/scripts/fit.lua",
                src .. "/models/theophylline.lua", theoph, "--evaluate",
                "--ebe-starts", "single", "--out", out, "--no-plot",
                "--quiet" }
  local p2 = t.read_file(out .. "/parameters.csv") or ""
  t.ok(rc == 0 and p2 == p, "--ebe-starts single: the same tables here")
  rc = rk.run { exe, src .. "/scripts/fit.lua",
                src .. "/models/theophylline.lua", theoph,
                "--ebe-starts", "two", "--quiet" }
  t.ok(rc ~= 0, "--ebe-starts two: refused")
end

t.done()
