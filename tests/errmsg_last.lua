-- tests/errmsg_last.lua - error messages whose text several call sites
-- share ("%s: %s must be a finite number (got %s)", the option list of
-- lrk_field_enum, "patient %s, cycle %zu: %s"), provoked from each call
-- site through the bindings and the whole text asserted, so each site is
-- known to be reached and to name the function and field (issue 22
-- item 3).
local rk = require "radiokin"
local t = require "radiokin.tap"

local tmp = t.scratch()
local m = rk.model {
  name = "pk1", states = { "A" }, params = { cl = 0.5, v = 5 },
  ode = function(s, p) return { A = -p.cl / p.v * s.A } end,
  outputs = function(s, p) return { C = s.A / p.v } end,
}
local function indiv(th, eta)
  return { cl = rk.exp(th.lCl + eta.lCl), v = rk.exp(th.lV) }
end
-- the base declaration with fields replaced
local function popest(o)
  local a = { name = "e", model = m, observe = "C",
              theta = { lCl = -0.7, lV = 1.6 }, omega = { lCl = 0.1 },
              individual = indiv, error = { proportional = 0.1 } }
  for k, v in pairs(o) do a[k] = v end
  return function() return rk.popest(a) end
end

-- --------------------------------------- rk.popest (dsl/l_popmodel.c)
t.raises(popest { theta = { lCl = -0.7, lV = 0 / 0 } },
  "rk.popest 'e': theta.lV must be a finite number (got nan)",
  "rk.popest: a NaN theta")

-- ----------------------- rk.popest's variances (dsl/l_popfix.c, both forms)
t.raises(popest { omega = { lCl = "big" } },
  "rk.popest 'e': omega.lCl (a variance) must be a finite number (got "
  .. "string)", "rk.popest: a variance that is text")
t.raises(popest { omega = { lCl = { 0 / 0, fixed = true } } },
  "rk.popest 'e': omega.lCl (a variance) must be a finite number (got nan)",
  "rk.popest: a fixed variance that is NaN")

-- ----------------------------------------- pm:evaluate (dsl/l_popeval.c)
local path = t.write_file(tmp .. "/d.csv", "ID,TIME,AMT,DV\n1,0,100,.\n"
  .. "1,1,.,17\n1,4,.,11\n2,0,100,.\n2,1,.,19\n2,4,.,10\n")
local pm = popest {}()
local d = rk.popest.read(path, pm)
t.raises(function() pm:evaluate(d, { theta = { lV = 0 / 0 } }) end,
  "e:evaluate: theta.lV must be a finite number (got nan)",
  "evaluate: a NaN theta")
t.raises(function() pm:evaluate(d, { omega = { lCl = "x" } }) end,
  "e:evaluate: omega.lCl (a variance) must be a finite number (got string)",
  "evaluate: a named variance that is text")
t.raises(function() pm:evaluate(d, { omega = { { 1 / 0 } } }) end,
  "e:evaluate: omega[1][1] must be a finite number (got inf)",
  "evaluate: an infinite Omega element")

-- a covariate the model uses, missing on one record (engine/pop/popest.c)
local wt = t.write_file(tmp .. "/wt.csv", "ID,TIME,AMT,DV,WT\n1,0,100,.,70\n"
  .. "1,1,.,17,.\n1,4,.,11,70\n2,0,100,.,80\n2,1,.,19,80\n2,4,.,10,80\n")
local pw = popest { covariates = { WT = { type = "continuous", unit = "kg",
                                          range = { 20, 250 } } },
  individual = function(th, eta, cov)
    return { cl = rk.exp(th.lCl + eta.lCl) * cov.WT / 70, v = rk.exp(th.lV) }
  end }()
t.raises(function()
  pw:fit(rk.popest.read(wt, pw), { threads = 1, method = "fo" })
end, "e:fit: " .. wt .. ":3: column 5 (WT): covariate missing on a record "
  .. "of subject ID 1 (a covariate the model uses needs a value on every "
  .. "record: it applies over the interval each record ends)",
  "fit: a covariate missing on a record")

-- -------------------------------------- m:simulate (dsl/l_model.c, lrk.c)
t.raises(function() m:simulate { params = { zz = 1 }, times = { 1 } } end,
  "pk1:simulate: params: model 'pk1': unknown parameter 'zz'; known "
  .. "parameters: cl, v", "simulate: an unknown parameter")
t.raises(function() m:simulate { jacobian = "banded", times = { 1 } } end,
  "pk1:simulate: field 'jacobian' must be \"auto\", \"dense\" or \"sparse\" "
  .. "(got \"banded\")", "simulate: an unknown Jacobian option")

-- ---------------------------- a steady state Newton cannot reach (steady.c)
-- Michaelis-Menten elimination at 99.99 % of its capacity (9.999 MBq every
-- hour, Vmax 10 MBq/h): the trough is some 1e4 Km up, where the map is
-- nearly flat (slope ~ 1); from 0 the chord-Newton iteration is still
-- climbing after its 50 steps (9.99 MBq converges, trough 999.97).
local mm = rk.model {
  name = "mm", states = { "A" }, params = { vmax = 10, km = 1 },
  ode = function(s, p) return { A = -p.vmax * s.A / (p.km + s.A) } end,
}
t.raises(function()
  mm:simulate { doses = { { time = 0, amount = 9.999, ss = 1, ii = 1,
                            to = "A" } }, times = { 0.5 } }
end, "mm:simulate: dose record 1: the steady state (ss = 1, ii = 1 h) of "
  .. "model 'mm' did not converge in 50 Newton iterations on the CVODES "
  .. "path (tolerance 10 (rtol |x| + atol), rtol = 1e-06)",
  "simulate: a steady state near saturation, out of Newton iterations")

-- --------------------------------------- rk.uncert.voi (dsl/l_uncert.c)
t.raises(function()
  rk.uncert.voi { dose_gy = 10, u_rel = { calibration = "x" } }
end, "rk.uncert.voi: u_rel.calibration must be a number",
  "uncert.voi: a relative SD that is text")

-- -------------- rk.regimen (dsl/l_regimen.c, engine/regimen/regimen_run.c)
local regions = { kidney = { activity = "K", mass_kg = 0.3,
                             alpha_beta_Gy = 2.6, t_rep_h = 2.8 } }
local function regimen(model, o)
  local a = { model = model, patients = { { id = "P7" } }, regions = regions,
              inject = "B", interval_h = 20000, progress = false }
  for k, v in pairs(o) do a[k] = v end
  return rk.regimen(a)
end
local uw = rk.model {
  name = "uw", nuclide = "Lu-177", states = { "B", "K" },
  params = { kK = 0.02, kout = 0.3, kKo = 0.01 },
  ode = function(s, p)
    return { B = -(p.kK + p.kout) * s.B, K = p.kK * s.B - p.kKo * s.K }
  end,
}
-- a rule that raises: with keep_going the patient's own record holds the
-- engine's wrapping of the rule's message (index, then the id and cycle)
local r = regimen(uw, { keep_going = true, max_cycles = 3,
  rule = function(k) if k.given == 1 then error("boom", 0) end return 7.4 end })
t.is(#r.failed == 1 and r.failed[1].message or "",
  "patient 1, before cycle 2: rule failed: patient P7, cycle 2: the rule "
  .. "function raised an error: boom", 0,
  "regimen: a rule raising in cycle 2, kept going: the failure record")
-- log(K) at K = 0: the cycle's solve fails at its first step
local nl = rk.model {
  name = "nl", nuclide = "Lu-177", states = { "B", "K" },
  params = { kK = 0.02, kout = 0.3, kKo = 0.01 },
  ode = function(s, p)
    return { B = -(p.kK + p.kout) * s.B, K = p.kK * s.B - p.kKo * rk.log(s.K) }
  end,
}
t.raises(function() regimen(nl, { rule = "empiric", n_cycles = 1 }) end,
  "rk.regimen: patient P7 (patients[1]) failed: patient 1, cycle 1: model "
  .. "'nl+aux', state 'K': d/dt = kK * B - kKo * log(K) - "
  .. "0.00434498759189575 * K is not finite (NaN or Inf) at t = 0 h "
  .. "(keep_going = true returns the others' results)",
  "regimen: a cycle whose solve fails names patient and cycle")

-- ------------------- the covariance step's variance check (engine/pop/popcov.c)
-- q enters only as -1e6 q^2 in log CL and is evaluated at q = 0: every
-- subject's OFV is even in q, so each central-difference score
-- (f_i(+h) - f_i(-h)) / 2h is exactly 0 and S = 0, while R (the OFV's
-- curvature in q) is positive. The sandwich R^-1 S R^-1 is then exactly 0;
-- R alone succeeds and S alone is singular. All else fixed: one estimate.
local pq = popest { theta = { lCl = { -0.7, fixed = true },
                              lV = { 1.6, fixed = true }, q = 0 },
  omega = { lCl = { 0.1, fixed = true } }, sigma_fixed = { "proportional" },
  individual = function(th, eta)
    return { cl = rk.exp(th.lCl + eta.lCl - 1e6 * th.q * th.q),
             v = rk.exp(th.lV) }
  end }()
local dq = rk.popest.read(path, pq)
local function cov(cm)
  return pq:evaluate(dq, { covariance = true, cov_matrix = cm, threads = 1 })
end
t.is(cov("sandwich").covariance_message, "covariance step: the variance of "
  .. "q is 0 (expected > 0): S is degenerate", 0,
  "covariance step: a parameter with all scores 0, sandwich: variance 0")
t.ok(cov("R").covariance_ok, "covariance step: the same, R only: succeeds")
t.is(cov("S").covariance_message, "covariance step: the S matrix "
  .. "(cross-product of the subjects' gradients) is singular: fewer "
  .. "informative subjects than parameters?", 0,
  "covariance step: the same, S only: S singular")

-- ---------- SAEM's SEs by stochastic approximation (engine/pop/popcov.c)
-- eta z moves CL by at most 1 % (z / (1 + |z|)), so the data say almost
-- nothing of it and its variance stays near its initial 1e160: the
-- information of OMEGA(z) is about n / (2 omega^4) ~ 1e-320 and the
-- variance of the estimate, 2 omega^4 / n (n = 3 subjects), exceeds
-- DBL_MAX (1.8e308).
-- At 1e150 the same fit gives an SE (about omega^2).
local path3 = t.write_file(tmp .. "/d3.csv", "ID,TIME,AMT,DV\n1,0,100,.\n"
  .. "1,1,.,17\n1,4,.,11\n2,0,100,.\n2,1,.,19\n2,4,.,10\n3,0,100,.\n"
  .. "3,1,.,18\n3,4,.,12\n")
local function sa_fit(om)
  local pz = popest { omega = { lCl = 0.1, z = om },
    individual = function(th, eta)
      return { cl = rk.exp(th.lCl + eta.lCl)
                    * (1 + 0.01 * eta.z / (1 + rk.abs(eta.z))),
               v = rk.exp(th.lV) }
    end }()
  return pz:fit(rk.popest.read(path3, pz), { method = "saem", threads = 1,
    saem = { burn = 5, iter = 5, se = "sa", se_iter = 20, seed = 1 } })
end
t.ok(sa_fit(1e150).covariance_ok, "SAEM SEs by SA: an omega of 1e150 "
  .. "has its SE")
t.is(sa_fit(1e160).covariance_message, "covariance step: the variance of "
  .. "OMEGA(2,2) is inf (expected > 0)", 0, "SAEM SEs by SA: an omega of "
  .. "1e160, its variance overflows")

t.done()
