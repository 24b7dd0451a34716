-- popeval.lua - rk.popest around the fit: pm:evaluate (evaluation without
-- estimation, NONMEM's MAXEVAL=0) and scripts/fit.lua --evaluate.
local rk = require "radiokin"
local t = require "radiokin.tap"

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
