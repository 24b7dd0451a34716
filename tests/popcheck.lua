-- popcheck.lua - checks of a population fit: simulation from the fit
-- (pm:simulate), visual predictive checks (pm:vpc, prediction-corrected,
-- BLQ panel), the bootstrap (pm:bootstrap, percentile and BCa intervals,
-- stratified resampling), warm starts, scripts/vpc.lua and
-- scripts/bootstrap.lua. Every reference value is a closed form or an
-- independent computation written here; Monte Carlo bands are stated
-- beside each check.
local rk = require "radiokin"
local t = require "radiokin.tap"
local check = require "radiokin.popcheck"

local src = os.getenv("RADIOKIN_SRCDIR") or "."
local build = os.getenv("RADIOKIN_BUILDDIR") or "."
local exe = build .. "/radiokin"
local tmp = t.scratch()

-- A generator of our own for the test data (independent of the engine's).
math.randomseed(20261203)
local function normal()
  local u1, u2 = math.random(), math.random()
  return math.sqrt(-2 * math.log(1 - u1)) * math.cos(2 * math.pi * u2)
end

-- ------------------------------------------------- a linear model
-- y_ij = mu_i + eps_ij, mu_i = theta + eta_i: its output is a parameter
-- (the state is never observed), so the fit is a linear mixed model.
local lin_m = rk.model {
  name = "level", states = { "a" }, params = { mu = 1 },
  ode = function(s, p) return { a = 0 * s.a } end,
  outputs = function(s, p) return { y = p.mu + 0 * s.a } end,
}
local lin = rk.popest {
  name = "lin", model = lin_m, observe = "y",
  theta = { mu = 4 }, omega = { mu = 0.8 },
  individual = function(theta, eta) return { mu = theta.mu + eta.mu } end,
  error = { additive = 0.4 },
}

-- Balanced design: n subjects, m observations each; with omega 1 and
-- sigma 0.5 the subject means carry most of the variance.
local n_lin, m_lin = 30, 10
local ybar = {}
do
  local rows = { "ID,TIME,AMT,DV,EVID,CMT,GRP" }
  for i = 1, n_lin do
    local mu = 5 + normal()
    local s = 0
    rows[#rows + 1] = ("%d,0,1,.,1,1,%d"):format(i, i % 3)
    for j = 1, m_lin do
      local y = mu + 0.5 * normal()
      s = s + y
      rows[#rows + 1] = ("%d,%d,0,%.17g,0,1,%d"):format(i, j, y, i % 3)
    end
    ybar[i] = s / m_lin
  end
  t.write_file(tmp .. "/lin.csv", table.concat(rows, "\n") .. "\n")
end
local lin_data = rk.popest.read(tmp .. "/lin.csv", lin)
local lr = lin:fit(lin_data, { threads = 2 })
t.ok(lr.converged, "linear model: the fit converged")
local grand = 0
for i = 1, n_lin do grand = grand + ybar[i] / n_lin end
-- Balanced design: the ML estimate of theta is the grand mean.
t.is(lr.theta.mu, grand, 1e-5, "linear model: theta^ = grand mean (ML, "
  .. "balanced design)")

-- ----------------------------------------------- stratified picks
do
  local strata = {}
  for i = 1, 31 do strata[i] = (i % 4 == 0) and 7 or (i % 3) end
  local ok_same, ok_counts = true, true
  for r = 1, 40 do
    local pick = rk.popest.boot_pick(31, 9, r, strata)
    local c0, c1 = {}, {}
    for i = 1, 31 do
      if strata[pick[i]] ~= strata[i] then ok_same = false end
      c0[strata[i]] = (c0[strata[i]] or 0) + 1
      c1[strata[pick[i]]] = (c1[strata[pick[i]]] or 0) + 1
    end
    for k, v in pairs(c0) do if c1[k] ~= v then ok_counts = false end end
  end
  t.ok(ok_same, "stratified picks: every place draws from its own stratum")
  t.ok(ok_counts, "stratified picks: every stratum keeps its size (40 "
    .. "replicates)")
  local a = rk.popest.boot_pick(31, 9, 5)
  local b = rk.popest.boot_pick(31, 9, 5)
  local c = rk.popest.boot_pick(31, 9, 6)
  t.ok(table.concat(a, ",") == table.concat(b, ",")
    and table.concat(a, ",") ~= table.concat(c, ","),
    "picks: the same (seed, replicate) draws the same, another replicate "
    .. "differs")
  -- resampling with replacement: over 200 draws of 31, each subject
  -- appears 200 times on average; the share of distinct subjects in one
  -- draw is 1 - (1 - 1/31)^31 = 0.638 (SD over 200 draws ~0.006)
  local distinct = 0
  for r = 1, 200 do
    local seen, k = {}, 0
    for _, s in ipairs(rk.popest.boot_pick(31, 3, r)) do
      if not seen[s] then seen[s] = true; k = k + 1 end
    end
    distinct = distinct + k / 31 / 200
  end
  t.is(distinct, 1 - (1 - 1 / 31) ^ 31, 0.03, "picks: share of distinct "
    .. "subjects per draw as with replacement (0.638, band 3 %)")
end

-- --------------------------------------------------- resampling
do
  local pick = { 3, 3, 30, 1 }
  local d = rk.popest.resample(lin_data, pick)
  t.is(d.n_subjects, 4, "resample: 4 places, 4 subjects (one drawn twice)")
  t.is(table.concat(d.ids, ","), "1.0,2.0,3.0,4.0", "resample: new IDs "
    .. "1..4 in draw order")
  t.is(d.n_obs, 4 * m_lin, "resample: every record of each drawn subject")
  local r = lin:evaluate(d, { theta = lr.theta, omega = lr.omega,
                              sigma = lr.sigma })
  local obs = r.table
  local s = { 0, 0, 0, 0 }
  for k = 1, #obs.ID do s[obs.ID[k]] = s[obs.ID[k]] + obs.DV[k] / m_lin end
  t.ok(math.abs(s[1] - ybar[3]) < 1e-12 and math.abs(s[2] - ybar[3])
    < 1e-12 and math.abs(s[3] - ybar[30]) < 1e-12
    and math.abs(s[4] - ybar[1]) < 1e-12,
    "resample: each new subject carries the drawn subject's records")
end
t.raises(function() rk.popest.resample(lin_data, { 0 }) end,
  "entry 1 must be a subject number in 1..30", "resample: bad subject")
t.raises(function() rk.popest.resample(lin_data, {}) end,
  "no subjects", "resample: empty draw")

-- --------------------------------------- bootstrap of the linear model
-- The bootstrap distribution of theta^* is that of the mean of n subject
-- means drawn with replacement: its SD is exactly
-- sd_b = sqrt(sum (ybar_i - grand)^2 / n) / sqrt(n). With B = 100 the
-- bootstrap SE has a relative Monte Carlo SD of about 1/sqrt(2B) = 7 %:
-- band 25 %. An SE ignoring the clustering (all n m records independent,
-- sqrt(var(y) / (n m))) is ~0.35 sd_b here and lies far outside.
do
  local B = 100
  local b = lin:bootstrap(lin_data, lr, { n = B, seed = 11, bca = false,
                                          threads = 2, level = 0.9 })
  t.is(b.n_failed, 0, "linear bootstrap: no failed replicate")
  local ss = 0
  for i = 1, n_lin do ss = ss + (ybar[i] - grand) ^ 2 end
  local sd_b = math.sqrt(ss / n_lin) / math.sqrt(n_lin)
  local p
  for _, q in ipairs(b.params) do if q.name == "mu" then p = q end end
  t.is(p.se, sd_b, 0.25, ("linear bootstrap: SE %.4f vs exact bootstrap "
    .. "SD %.4f (band 25 %%)"):format(p.se, sd_b))
  -- percentile interval vs the normal one of the exact SD: each end's
  -- Monte Carlo SD is sqrt(p(1-p)/B)/phi(1.645) sd_b = 0.21 sd_b: band
  -- 0.65 sd_b. Too-narrow SE (clustering ignored): 1.645 (sd_b - 0.35
  -- sd_b) = 1.07 sd_b inside, so outside the band.
  t.ok(math.abs(p.lo - (grand - 1.6449 * sd_b)) < 0.65 * sd_b
    and math.abs(p.hi - (grand + 1.6449 * sd_b)) < 0.65 * sd_b,
    ("linear bootstrap: 90 %% percentile interval [%.4f, %.4f] vs "
    .. "analytic [%.4f, %.4f] (band 0.65 SD)"):format(p.lo, p.hi,
    grand - 1.6449 * sd_b, grand + 1.6449 * sd_b))
  -- every replicate's estimate is the grand mean of its drawn subjects
  local worst = 0
  for i = 1, B do
    local pick = rk.popest.boot_pick(n_lin, 11, i)
    local m = 0
    for _, s in ipairs(pick) do m = m + ybar[s] / n_lin end
    worst = math.max(worst, math.abs(b.replicates[i].est.mu - m))
  end
  t.ok(worst < 1e-4, ("linear bootstrap: each replicate's theta^ is "
    .. "the mean of its drawn subjects (max diff %.2g, tol. 1e-4)")
    :format(worst))
  -- reproducible: the same seed gives the same replicates
  local b2 = lin:bootstrap(lin_data, lr, { n = 3, seed = 11, bca = false,
                                           threads = 1 })
  t.is(b2.replicates[3].est.mu, b.replicates[3].est.mu, 1e-9,
    "bootstrap: the same seed refits the same dataset (1 vs 2 threads)")
  -- stratified: replicate's place i comes from subject i's group
  local bs = lin:bootstrap(lin_data, lr, { n = 4, seed = 2, bca = false,
                                           strata = "GRP" })
  t.is(bs.n_failed, 0, "stratified bootstrap runs")
  local dir = tmp .. "/boot"
  rk.mkdir(dir)
  local files = b:write_csv(dir)
  local rows = rk.csv.read(files[1])
  t.is(#rows, B, "bootstrap.csv: one row per replicate")
  t.is(rows[7].mu, b.replicates[7].est.mu, 1e-12, "bootstrap.csv: the "
    .. "replicate's estimate")
  local srows = rk.csv.read(files[2])
  t.is(srows[1].parameter, "mu", "bootstrap_summary.csv: a row per "
    .. "parameter")
  t.is(srows[1].pct_lo, p.lo, 1e-12, "bootstrap_summary.csv: interval")
end

-- ------------------------------------------- BCa on a skewed statistic
-- The mean of n = 10 exponential values (the sample: the exponential's
-- quantiles at (i - 0.5)/n, mean 3): the exact 90 % interval of the mean
-- is [2 n xbar / chi2_{20,0.95}, 2 n xbar / chi2_{20,0.05}] (chi2_20
-- quantiles 31.4104 and 10.8508). The statistic is skewed to the right,
-- so BCa moves both ends of the percentile interval up (z0 > 0 and a > 0
-- for the mean of right-skewed data), toward the exact ones.
do
  local x, n = {}, 10
  for i = 1, n do x[i] = -3 * math.log(1 - (i - 0.5) / n) end
  local function mean(v)
    local s = 0
    for _, y in ipairs(v) do s = s + y end
    return s / #v
  end
  local xbar = mean(x)
  local reps = {}
  for r = 1, 4000 do
    local s = 0
    for _ = 1, n do s = s + x[math.random(n)] end
    reps[r] = s / n
  end
  local jack = {}
  for i = 1, n do jack[i] = (xbar * n - x[i]) / (n - 1) end
  local ci = rk.popest.boot_interval(reps, xbar, { jack = jack,
                                                   level = 0.9 })
  local ex_lo, ex_hi = 2 * n * xbar / 31.4104, 2 * n * xbar / 10.8508
  -- the acceleration from the jackknife, written out here
  local jm, num, den = mean(jack), 0, 0
  for i = 1, n do
    num = num + (jm - jack[i]) ^ 3
    den = den + (jm - jack[i]) ^ 2
  end
  t.is(ci.a, num / (6 * den ^ 1.5), 1e-12, "BCa: acceleration "
    .. "sum d^3 / (6 (sum d^2)^1.5)")
  local below = 0
  for _, v in ipairs(reps) do if v < xbar then below = below + 1 end end
  t.ok(ci.z0 > 0 and below / #reps > 0.5, ("BCa: z0 = %.3f > 0 with "
    .. "%.1f %% of replicates below the estimate"):format(ci.z0,
    100 * below / #reps))
  t.ok(ci.bca_lo > ci.lo and ci.bca_hi > ci.hi, ("BCa: both ends above "
    .. "the percentile ones ([%.3f, %.3f] vs [%.3f, %.3f])"):format(
    ci.bca_lo, ci.bca_hi, ci.lo, ci.hi))
  t.ok(math.abs(ci.bca_hi - ex_hi) < math.abs(ci.hi - ex_hi)
    and math.abs(ci.bca_lo - ex_lo) < math.abs(ci.lo - ex_lo),
    ("BCa: nearer the exact interval [%.3f, %.3f] than the percentile "
    .. "one at both ends"):format(ex_lo, ex_hi))
  -- Without skew or bias BCa is the percentile interval: symmetric
  -- values around the estimate, equal jackknife values.
  local sym = {}
  for i = 1, 999 do sym[i] = (i - 500) / 100 end
  local c0 = rk.popest.boot_interval(sym, 0, { jack = { 1, 1, 1 } })
  t.ok(c0.z0 == 0 and c0.a == 0 and math.abs(c0.bca_lo - c0.lo) < 1e-12
    and math.abs(c0.bca_hi - c0.hi) < 1e-12,
    "BCa: z0 = a = 0 gives the percentile interval")
  t.is(c0.lo, -4.491, 1e-9, "percentile: type 7 quantile (0.05 of -4.99 "
    .. ".. 4.99 is -4.991 + 0.5)")
  local c1 = rk.popest.boot_interval({ 1, 2, 3 }, 0)
  t.ok(c1.bca_lo ~= c1.bca_lo and c1.lo == c1.lo, "BCa undefined (NaN) "
    .. "when every replicate lies above the estimate")
  t.raises(function() rk.popest.boot_interval({ 1 }, 0) end,
    "at least 2 needed", "one replicate is refused")
  t.raises(function() rk.popest.boot_interval({ 1, 2 }, 0, { level = 1 })
  end, "level", "level 1 is refused")
end

-- --------------------------------------- a one-compartment bolus model
local pk_m = rk.model {
  name = "pk1", states = { "central" },
  params = { cl = rk.positive(1), v = rk.positive(10) },
  ode = function(s, p) return { central = -p.cl / p.v * s.central } end,
  outputs = function(s, p) return { conc = s.central / p.v } end,
}
local function pk_pm(omega)
  return rk.popest {
    name = "pk", model = pk_m, observe = "conc",
    theta = { lCl = math.log(2), lV = math.log(20) },
    omega = { lCl = omega, lV = omega },
    individual = function(theta, eta)
      return { cl = rk.exp(theta.lCl + eta.lCl),
               v = rk.exp(theta.lV + eta.lV) }
    end,
    error = { proportional = 0.1 },
  }
end
local pk = pk_pm(0.09)
local truth = { theta = pk.theta, omega = pk.omega,
                sigma = { proportional = 0.1 } }

-- Sparse design: subject i is observed once, in one of four time groups,
-- so the bins hold different subjects and are independent.
local times = { 1, 4, 12, 24 }
local function design(path, dv, lloq)
  local rows = { "ID,TIME,AMT,DV,EVID,CMT" .. (lloq and ",LLOQ" or "") }
  local k = 0
  for i = 1, 40 do
    local tt = times[(i - 1) % 4 + 1]
    k = k + 1
    rows[#rows + 1] = ("%d,0,100,.,1,1%s"):format(i, lloq and ",." or "")
    rows[#rows + 1] = ("%d,%g,0,%.17g,0,1%s"):format(i, tt,
      dv and dv[k] or 1, lloq and (",%.17g"):format(lloq) or "")
  end
  return t.write_file(path, table.concat(rows, "\n") .. "\n")
end
local design_path = design(tmp .. "/design.csv")

-- simulation: thread count does not change the numbers
do
  local s1 = pk:simulate(design_path, truth, { n = 7, seed = 4, threads = 1 })
  local s3 = pk:simulate(design_path, truth, { n = 7, seed = 4, threads = 3 })
  local same = true
  for r = 1, 7 do
    for k = 1, 40 do
      if s1.dv[r][k] ~= s3.dv[r][k] then same = false end
    end
  end
  t.ok(same, "simulate: 1 and 3 threads give identical values")
  local s4 = pk:simulate(design_path, truth, { n = 7, seed = 5 })
  t.ok(s4.dv[1][1] ~= s1.dv[1][1], "simulate: another seed, other values")
  -- PRED = 100/20 exp(-2/20 t) at the typical values
  t.is(s1.pred[2], 5 * math.exp(-0.1 * 4), 1e-6, "simulate: PRED at "
    .. "eta = 0 (closed form)")
  -- individual predictions without residual error: log(f / PRED) =
  -- -eta_V + t (eta_V ... ) has variance omega (1 + (CL/V t)^2 ...): check
  -- the mean of log f at t = 1 over many subjects instead: E log f =
  -- log PRED(1) exactly (eta enters log f linearly), SD of the mean
  -- sqrt(0.09 (1 + 0.1^2)) / sqrt(4000) ~ 0.005: band 0.02.
  local sn = pk:simulate(design_path, truth, { n = 400, seed = 8,
                                               residual = false })
  local lm, cnt = 0, 0
  for r = 1, 400 do
    for k = 1, 40, 4 do
      lm = lm + math.log(sn.dv[r][k])
      cnt = cnt + 1
    end
  end
  t.ok(math.abs(lm / cnt - math.log(5 * math.exp(-0.1))) < 0.02,
    ("simulate: mean log IPRED at t = 1 equals log PRED (diff %.4f, band "
    .. "0.02)"):format(lm / cnt - math.log(5 * math.exp(-0.1))))
  -- and its variance: log f = log 5 - X - Y, X = eta_V, Y = 0.1 t
  -- exp(eta_CL - eta_V), w = 0.09: Var X = w, Var Y = 0.01 e^{2w}
  -- (e^{2w} - 1), Cov(X, Y) = -0.1 w e^w (Stein's lemma), so at t = 1
  -- Var = 0.07267. 4000 values: relative MC SD ~3 %, band 12 %; without
  -- the etas it is 0, with SDs taken for variances 0.26.
  local w, vv = 0.09, 0
  local want = w + 0.01 * math.exp(2 * w) * (math.exp(2 * w) - 1)
    - 2 * 0.1 * w * math.exp(w)
  local mean = lm / cnt
  for r = 1, 400 do
    for k = 1, 40, 4 do vv = vv + (math.log(sn.dv[r][k]) - mean) ^ 2 end
  end
  t.is(vv / (cnt - 1), want, 0.12, ("simulate: variance of log IPRED at "
    .. "t = 1 from Omega (closed form %.5f, band 12 %%)"):format(want))
  -- residual error: with eta fixed (same seed), y / f - 1 has SD 0.1
  local s2 = pk:simulate(design_path, truth, { n = 400, seed = 8 })
  local ss, m = 0, 0
  for r = 1, 400 do
    for k = 1, 40 do
      local e = s2.dv[r][k] / sn.dv[r][k] - 1
      m = m + 1
      ss = ss + e * e
    end
  end
  t.is(math.sqrt(ss / m), 0.1, 0.02, "simulate: proportional residual SD "
    .. "0.1 (16000 values, band 2 %)")
end

-- VPC of data simulated from the model itself, at the true parameters:
-- each observed percentile is exchangeable with the simulated ones, so
-- it falls inside their 90 % PI with probability ~0.9 (100 simulations:
-- 0.9 * 100/101). 30 datasets x 4 independent bins = 120 independent
-- bins; the three percentiles of a bin are correlated, so the binomial
-- band uses n = 120: 0.9 +- 3 sqrt(0.09/120) = [0.82, 0.98].
do
  local data = pk:simulate(design_path, truth, { n = 30, seed = 101 })
  local inside, total = 0, 0
  for d = 1, 30 do
    local path = design(tmp .. "/vpcdata.csv", data.dv[d])
    local v = pk:vpc(path, truth, { n = 100, seed = 200 + d,
                                    bins = { 0, 2, 8, 18, 30 } })
    for _, b in ipairs(v.endpoints[1].bins) do
      for k = 1, 3 do
        total = total + 1
        if b.obs[k] >= b.sim[k].lo and b.obs[k] <= b.sim[k].hi then
          inside = inside + 1
        end
      end
    end
  end
  t.is(total, 360, "VPC: 30 datasets x 4 bins x 3 percentiles")
  t.ok(inside / total > 0.82 and inside / total < 0.98,
    ("VPC: observed percentiles inside their 90 %% PI: %.3f (band 0.82 "
    .. "- 0.98)"):format(inside / total))
end

-- pcVPC on a model without IIV (Omega 1e-10): without residual error
-- every prediction-corrected value is PRED_bin (y = PRED); with
-- proportional error b = 0.1 the corrected values of a bin are PRED_bin
-- (1 + b eps), so its simulated median percentile is PRED_bin and its
-- 5th about PRED_bin (1 - 1.645 b), although PRED varies 8-fold within
-- the bin.
do
  local flat = pk_pm(1e-10)
  local tf = { theta = flat.theta, omega = flat.omega,
               sigma = { proportional = 0.1 } }
  local v0 = flat:vpc(design_path, tf, { pc = true, bins = { 0, 30 },
    sim = flat:simulate(design_path, tf, { n = 50, seed = 3,
                                           residual = false }) })
  local b = v0.endpoints[1].bins[1]
  -- 10 records at each of t = 1, 4, 12, 24: the median of the 40 PREDs
  -- is the mean of PRED(4) and PRED(12)
  t.is(b.pred, (5 * math.exp(-0.4) + 5 * math.exp(-1.2)) / 2, 1e-6,
    "pcVPC: PRED_bin is the median PRED of the bin")
  local worst = 0
  for k = 1, 3 do
    worst = math.max(worst, math.abs(b.sim[k].lo / b.pred - 1),
      math.abs(b.sim[k].hi / b.pred - 1))
  end
  t.ok(worst < 1e-4, ("pcVPC without IIV or residual error: every "
    .. "corrected value is PRED_bin (max rel. diff %.2g)"):format(worst))
  local v1 = flat:vpc(design_path, tf, { pc = true, n = 200, seed = 4,
                                            bins = { 0, 30 } })
  b = v1.endpoints[1].bins[1]
  t.is(b.sim[2].median, b.pred, 0.01, "pcVPC: simulated median = "
    .. "PRED_bin (band 1 %)")
  t.is(b.sim[1].median, b.pred * (1 - 1.6449 * 0.1), 0.03, "pcVPC: "
    .. "simulated 5th percentile = PRED_bin (1 - 1.645 b) (band 3 %)")
  local raw = flat:vpc(design_path, tf, { n = 200, seed = 4,
                                             bins = { 0, 30 } })
  t.ok(raw.endpoints[1].bins[1].sim[1].median < 0.5 * b.pred,
    "uncorrected VPC of the same bin is far wider (PRED varies)")
  t.is(check.pc_value(3, 2, 4, 0), 6, "pc_value: y PRED_bin / PRED")
  t.is(check.pc_value(3, 2, 4, 1), 1 + 2 * 3, "pc_value: lower bound "
    .. "lb + (y - lb)(PRED_bin - lb)/(PRED - lb)")
  t.is(check.pc_value(3, 2, 4, 0, true), 5, "pc_value: log data y + "
    .. "PRED_bin - PRED")
end

-- BLQ panel: a model without IIV and additive error a = 0.5 observed at
-- t = 4 only, LLOQ = PRED(4) - a: the simulated fraction below is Phi(-1)
-- = 0.158655 in every replicate on average; 40 records per replicate:
-- the median over 400 replicates is a multiple of 1/40 within ~0.02.
do
  local add = rk.popest {
    name = "pkadd", model = pk_m, observe = "conc",
    theta = { lCl = math.log(2), lV = math.log(20) },
    omega = { lCl = 1e-10 },
    individual = function(theta, eta)
      return { cl = rk.exp(theta.lCl + eta.lCl), v = rk.exp(theta.lV) }
    end,
    error = { additive = 0.5 },
  }
  local save = times
  times = { 4, 4, 4, 4 }
  local f4 = 5 * math.exp(-0.4)
  local tv = { theta = add.theta, omega = add.omega,
               sigma = { additive = 0.5 } }
  local obs = add:simulate(design(tmp .. "/blq0.csv"), tv,
                           { n = 1, seed = 77 }).dv[1]
  local path = design(tmp .. "/blq.csv", obs, f4 - 0.5)
  times = save
  local n_below = 0
  for _, y in ipairs(obs) do if y < f4 - 0.5 then n_below = n_below + 1 end end
  local v = add:vpc(path, tv, { n = 400, seed = 9, bins = { 0, 10 } })
  local b = v.endpoints[1].bins[1]
  t.ok(v.endpoints[1].blq and b.blq ~= nil, "BLQ panel when the data "
    .. "have an LLOQ")
  t.is(b.blq.obs, n_below / 40, 1e-12, "BLQ panel: observed fraction = "
    .. "records below the LLOQ")
  t.ok(math.abs(b.blq.median - 0.158655) <= 0.03, ("BLQ panel: "
    .. "simulated median fraction %.4f vs Phi(-1) = 0.1587 (band 0.03)")
    :format(b.blq.median))
  t.ok(b.blq.lo < b.blq.median and b.blq.hi > b.blq.median,
    "BLQ panel: a prediction interval around it")
  t.ok(b.obs[1] == -math.huge or b.obs[1] >= f4 - 0.5,
    "censored observations rank below every value (5th percentile "
    .. "censored or above the LLOQ)")
  local files = v:write_csv(tmp)
  t.ok(files[2] and files[2]:match("vpc_blq%.csv$"), "vpc_blq.csv written")
end

-- The PI of the simulated percentiles, exactly: a hand-made simulation
-- of one observation whose replicate r holds the value r (r = 1..101):
-- each replicate's percentiles are r, so the 90 % PI is the type-7 5 %
-- and 95 % quantiles of 1..101, 6 and 96, and the median 51.
do
  local fake = { n = 101, dv = {}, pred = { 2 }, time = { 1 },
                 endpoint = { 1 }, lloq = { 0 / 0 }, cens = { 0 },
                 dvobs = { 50 }, id = { 1 } }
  for r = 1, 101 do fake.dv[r] = { r } end
  local v = pk:vpc(design_path, truth, { sim = fake, bins = { 0, 2 } })
  local b = v.endpoints[1].bins[1]
  t.ok(math.abs(b.sim[1].lo - 6) < 1e-9 and math.abs(b.sim[2].median
    - 51) < 1e-9 and math.abs(b.sim[3].hi - 96) < 1e-9,
    ("VPC: 90 %% PI of the percentiles at the 5 %% and 95 %% quantiles "
    .. "(%g, %g, %g)"):format(b.sim[1].lo, b.sim[2].median, b.sim[3].hi))
  local v8 = pk:vpc(design_path, truth, { sim = fake, bins = { 0, 2 },
                                          pi = 0.8 })
  t.is(v8.endpoints[1].bins[1].sim[1].lo, 11, 1e-9, "VPC: pi = 0.8 takes the "
    .. "10 % quantile")
  t.is(b.obs[2], 50, "VPC: the observed percentile of one value")
end

-- equal-count bins cut between distinct times
do
  local e = check.equal_bins({ 1, 1, 1, 2, 2, 3, 3, 3, 4, 4, 4, 4 }, 3)
  -- 12 records, 3 bins: a cut once the count reaches 4, then 8
  t.is(table.concat(e, ","), "1,2.5,3.5,4", "equal_bins: cuts midway "
    .. "between distinct times once the count reaches k N / K")
  t.is(check.quantile({ 1, 2, 3, 4 }, 0.5), 2.5, "quantile: type 7")
  t.is(check.quantile({ -math.huge, -math.huge, 3, 4 }, 0.3), -math.huge,
    "quantile: among censored values it is censored")
end

-- parameter uncertainty: draws from N(estimates, covariance)
do
  local fit = { theta = { a = 1, b = 2 }, omega = { { 0.1 } },
                eta_names = { "e" }, sigma = { additive = 0.5 },
                params = { { name = "a", estimate = 1 },
                           { name = "b", estimate = 2 },
                           { name = "OMEGA(e)", estimate = 0.1 },
                           { name = "SIGMA_ADD", estimate = 0.5 } },
                covariance_names = { "a", "b" },
                covariance = { { 0.04, 0.02 }, { 0.02, 0.09 } } }
  local d = check.draw_parameters("test", fit, 4000, 5)
  local ma, mb, caa, cab = 0, 0, 0, 0
  for _, v in ipairs(d) do
    ma, mb = ma + v.theta.a / 4000, mb + v.theta.b / 4000
  end
  for _, v in ipairs(d) do
    caa = caa + (v.theta.a - ma) ^ 2 / 3999
    cab = cab + (v.theta.a - ma) * (v.theta.b - mb) / 3999
  end
  -- SE of the mean 0.2/sqrt(4000) = 0.003; of the variance 0.04 sqrt(2/
  -- 4000) = 0.0009; of the covariance ~0.0008
  t.ok(math.abs(ma - 1) < 0.01 and math.abs(caa - 0.04) < 0.003
    and math.abs(cab - 0.02) < 0.003, ("uncertainty: draws have the "
    .. "estimates' mean and covariance (%.4f, %.4f, %.4f)"):format(ma,
    caa, cab))
  t.is(d[1].omega[1][1], 0.1, "uncertainty: undrawn values stay")
  t.raises(function()
    check.draw_parameters("x", { theta = {}, omega = {}, sigma = {} }, 1, 1)
  end, "covariance step", "uncertainty without a covariance step")
end

-- Two endpoints (parent cp with proportional error, metabolite cm with
-- additive error, censored by CENS 1 at DV = LLOQ 1.5 and no LLOQ
-- column): a VPC per endpoint, the BLQ panel for cm only, whose
-- uncensored records take the endpoint's LLOQ from its censored ones.
do
  local m2 = rk.model {
    name = "parent_metabolite", states = { "P", "M" },
    params = { k = rk.positive(0.3), km = rk.positive(0.1),
               v = rk.positive(10) },
    ode = function(s, p)
      return { P = -p.k * s.P, M = p.k * s.P - p.km * s.M }
    end,
    outputs = function(s, p) return { cp = s.P / p.v, cm = s.M / p.v } end,
  }
  local pm2 = rk.popest {
    name = "pm2", model = m2, observe = { "cp", "cm" },
    theta = { lk = math.log(0.3), lkm = math.log(0.1), lv = math.log(10) },
    omega = { lk = 0.09, lv = 0.04 },
    individual = function(th, eta)
      return { k = rk.exp(th.lk + eta.lk), km = rk.exp(th.lkm),
               v = rk.exp(th.lv + eta.lv) }
    end,
    error = { cp = { proportional = 0.1 }, cm = { additive = 0.05 } },
  }
  local tv = { theta = pm2.theta, omega = pm2.omega,
               sigma = { cp = { proportional = 0.1 },
                         cm = { additive = 0.05 } } }
  local rows = { "ID,TIME,AMT,CMT,EVID,DV,DVID,CENS" }
  for i = 1, 30 do
    local k = 0.3 * math.exp(0.3 * normal())
    local v = 10 * math.exp(0.2 * normal())
    rows[#rows + 1] = ("%d,0,100,1,1,.,.,0"):format(i)
    for _, tt in ipairs { 1, 4, 12, 36 } do
      local cp = 10 / v * 10 * math.exp(-k * tt)
      local cm = 100 / v * k / (0.1 - k) * (math.exp(-k * tt)
                                            - math.exp(-0.1 * tt))
      rows[#rows + 1] = ("%d,%g,.,.,0,%.8g,1,0"):format(i, tt,
        cp * (1 + 0.1 * normal()))
      local ym = cm + 0.05 * normal()
      rows[#rows + 1] = ym < 1.5 and ("%d,%g,.,.,0,1.5,2,1"):format(i, tt)
        or ("%d,%g,.,.,0,%.8g,2,0"):format(i, tt, ym)
    end
  end
  local path = t.write_file(tmp .. "/pm2.csv", table.concat(rows, "\n")
    .. "\n")
  local v = pm2:vpc(path, tv, { n = 100, seed = 5, bins = 4 })
  t.is(#v.endpoints, 2, "two endpoints: a VPC each")
  t.ok(v.endpoints[1].name == "cp" and v.endpoints[2].name == "cm",
    "... named by observe")
  t.ok(not v.endpoints[1].blq and v.endpoints[2].blq,
    "... the BLQ panel for the censored endpoint only")
  local b36 = v.endpoints[2].bins[4]
  t.ok(b36.blq.obs > 0.3 and b36.blq.median > 0.3, ("cm at 36 h: "
    .. "observed %.2f and simulated %.2f fractions below the LLOQ (all "
    .. "records, censored or not, compared with it)"):format(b36.blq.obs,
    b36.blq.median))
  local files = v:write_csv(tmp, "vpc2")
  local r = rk.csv.read(files[1], { missing = { "NA" } })
  t.is(#r, 2 * 4 * 3, "vpc2.csv: 2 endpoints x 4 bins x 3 percentiles")
end

-- ----------------------------------------------------- warm start
do
  local pm = dofile(src .. "/models/theophylline.lua")
  local theoph = src .. "/tests/data/theoph_nm.csv"
  local r = pm:fit(theoph, { threads = 2, covariance = false })
  local w = pm:fit(theoph, { threads = 2, covariance = false, init = r })
  t.is(w.ofv, r.ofv, 1e-6, "warm start at the estimates: same OFV")
  local s1 = r:simulate(2, { seed = 6 })
  local s2 = pm:simulate(theoph, r, { n = 2, seed = 6 })
  t.ok(s1.n == 2 and s1.dv[2][9] == s2.dv[2][9], "r:simulate(n, opts) is "
    .. "pm:simulate(data, r, {n =, ...}) with the fit's model and data")
  t.is(#r:vpc({ n = 10, bins = 3 }).endpoints[1].bins, 3, "r:vpc(opts)")
  t.ok(w.n_eval < r.n_eval, ("warm start: fewer evaluations (%d vs %d)")
    :format(w.n_eval, r.n_eval))
  t.raises(function() pm:fit(theoph, { init = 3 }) end,
    "field 'init' must be a table", "init must be a table")
  t.raises(function() pm:fit(theoph, { init = { theta = { lKx = 1 } } })
  end, "init: field 'theta' has no parameter 'lKx'", "init: unknown theta")
end

-- ------------------------------------------------------- bad input
t.raises(function() lin:bootstrap(lin_data, lr, { n = 0 }) end,
  "option 'n' must be an integer in %[1, 1000000%] %(got 0%)",
  "bootstrap: n < 1")
t.raises(function() lin:bootstrap(lin_data, lr, { strata = "SEXX" }) end,
  "option 'strata':.*SEXX.*GRP", "bootstrap: unknown strata column "
  .. "named, the dataset's covariates listed")
t.raises(function() lin:bootstrap(lin_data, lr, { nn = 3 }) end,
  "unknown option 'nn'", "bootstrap: unknown option")
t.raises(function() lin:bootstrap(lin_data, { converged = false,
  params = {} }) end, "did not converge", "bootstrap: failed original fit")
t.raises(function() pk:simulate(design_path, truth, { n = 0 }) end,
  "option 'n' must be an integer", "simulate: n < 1")
t.raises(function() pk:simulate(design_path, { theta = {} }) end,
  "expected a fit result", "simulate: parameters missing")
t.raises(function() pk:vpc(design_path, truth, { n = 5, bins = { 2, 30 } })
end, "observations lie outside the bin edges", "vpc: observations "
  .. "outside the edges")
t.raises(function() pk:vpc(design_path, truth, { n = 5, bins = { 5, 3 } })
end, "increasing bin edges", "vpc: decreasing edges")
t.raises(function() pk:vpc(design_path, truth, { n = 5, pi = 1.5 }) end,
  "option 'pi' must be a level", "vpc: PI level")
t.raises(function() check.read_fit_spec(tmp .. "/nofit") end,
  "no fit record %(fit.csv%) in the folder", "a fit folder without "
  .. "fit.csv")
do
  rk.mkdir(tmp .. "/halffit")
  t.write_file(tmp .. "/halffit/fit.csv", "kind,name,row,col,value\n"
    .. "model,,,,/m.lua\ndata,,,,/d.csv\n")
  t.raises(function() check.read_fit_spec(tmp .. "/halffit") end,
    "fit.csv: no estimates", "a fit record without estimates")
  t.write_file(tmp .. "/halffit/fit.csv", "kind,name,row,col,value\n"
    .. "theta,a,,,x1\n")
  t.raises(function() check.read_fit_spec(tmp .. "/halffit") end,
    "fit.csv:2: column value: 'x1' is not a number", "a bad number named "
    .. "with its line")
end

-- ------------------------------------------------------- the scripts
do
  local fitdir = tmp .. "/fit_theo"
  local st, out, err = rk.run { exe, src .. "/scripts/fit.lua",
    src .. "/models/theophylline.lua", src .. "/tests/data/theoph_nm.csv",
    "--out", fitdir, "--quiet", "--no-plot", "--threads", "2" }
  t.is(st, 0, "fit.lua ran: " .. tostring(err))
  local spec = check.read_fit_spec(fitdir)
  t.like(spec.model, "theophylline%.lua$", "fit.csv names the model")
  t.ok(spec.fit.covariance and #spec.fit.covariance_names == 6,
    "fit.csv holds the covariance matrix")
  st, out, err = rk.run { exe, src .. "/scripts/vpc.lua", fitdir,
    "--n", "50", "--no-plot", "--pc", "--threads", "2" }
  t.is(st, 0, "vpc.lua ran: " .. tostring(err))
  local rows = rk.csv.read(fitdir .. "/pcvpc.csv")
  t.is(#rows, 8 * 3, "pcvpc.csv: 8 bins x 3 percentiles")
  -- parameter uncertainty from the fit's covariance step
  st, out, err = rk.run { exe, src .. "/scripts/vpc.lua", fitdir,
    "--n", "40", "--no-plot", "--uncertainty", "--out", fitdir .. "/unc",
    "--quiet" }
  t.is(st, 0, "vpc.lua --uncertainty ran: " .. tostring(err))
  do
    local pm = dofile(spec.model)
    local a = pm:simulate(spec.data, spec.fit, { n = 30, seed = 3 })
    local b = pm:simulate(spec.data, spec.fit, { n = 30, seed = 3,
                                                 uncertainty = true })
    -- PRED is at the estimates either way
    t.ok(a.pred[5] == b.pred[5] and a.dv[1][5] ~= b.dv[1][5],
      "simulate with uncertainty: the same PRED, other values")
  end
  st, out, err = rk.run { exe, src .. "/scripts/bootstrap.lua", fitdir,
    "--n", "3", "--no-bca", "--threads", "2", "--quiet" }
  t.is(st, 0, "bootstrap.lua ran: " .. tostring(err))
  rows = rk.csv.read(fitdir .. "/bootstrap.csv")
  t.is(#rows, 3, "bootstrap.csv: 3 replicates")
  -- over MPI ranks: the same replicates, rank 0 writes the same files
  local mpi_ok = rk.mpi.built and rk.run { "mpirun", "--version" } == 0
  if mpi_ok then
    local argv = t.mpirun(2)
    for _, a in ipairs { exe, src .. "/scripts/bootstrap.lua", fitdir,
                         "--n", "3", "--no-bca", "--threads", "1",
                         "--quiet", "--out", fitdir .. "/np2" } do
      argv[#argv + 1] = a
    end
    st, out, err = rk.run(argv, nil, 300)
    t.ok(st == 0 and t.read_file(fitdir .. "/np2/bootstrap.csv")
      == t.read_file(fitdir .. "/bootstrap.csv"), "bootstrap.lua under "
      .. "mpirun -np 2: bootstrap.csv identical to the plain run's"
      .. (st == 0 and "" or " (" .. tostring(err) .. ")"))
  else
    t.skip("mpirun not available: bootstrap over ranks not run", 1)
  end
  st, out = rk.run { exe, src .. "/scripts/vpc.lua", "--help" }
  t.ok(st == 0 and out:match("visual predictive check"), "vpc.lua --help")
  st, out = rk.run { exe, src .. "/scripts/bootstrap.lua", "--help" }
  t.ok(st == 0 and out:match("nonparametric bootstrap"),
    "bootstrap.lua --help")
  st, out, err = rk.run { exe, src .. "/scripts/vpc.lua", tmp .. "/nofit" }
  t.ok(st ~= 0 and err:match("no fit record"), "vpc.lua: a folder "
    .. "without fit.csv fails with its message")
  st, out, err = rk.run { exe, src .. "/scripts/bootstrap.lua", fitdir,
    "--n", "0" }
  t.ok(st ~= 0 and err:match("%-%-n needs an integer in 1"),
    "bootstrap.lua: --n 0 refused")
end

t.done()
