-- saemiov.lua - between-occasion variability (rk.popest{iov = ...}) in
-- SAEM, simulation from a fit, the VPC and the bootstrap. The exact
-- numbers (SAEM against the exact ML of a linear model, the variance of
-- simulated parameters per occasion) are in tests/unit/test_saemiov.c;
-- here the Lua drivers, on data simulated from known values. Monte Carlo
-- bands are stated beside each check.
local rk = require "radiokin"
local t = require "radiokin.tap"
local check = require "radiokin.popcheck"

local src = os.getenv("RADIOKIN_SRCDIR") or "."
local tmp = t.scratch()

-- ------------------------------------------ a linear model with IOV
-- y = theta + eta_i + kap_ik + eps: the output is the parameter itself,
-- so FOCE-I is the exact likelihood (a linear mixed model).
local lin_m = rk.model {
  name = "level", states = { "a" }, params = { mu = 1 },
  ode = function(s, p) return { a = 0 * s.a } end,
  outputs = function(s, p) return { y = p.mu + 0 * s.a } end,
}
local function lin_pm(iov)
  return rk.popest {
    name = "liniov", model = lin_m, observe = "y",
    theta = { mu = 5 }, omega = { mu = 0.3 }, iov = { kap = iov },
    individual = function(theta, eta)
      return { mu = theta.mu + eta.mu + eta.kap }
    end,
    error = { additive = 0.3 },
  }
end
local lin = lin_pm(0.3)
local truth = { theta = { mu = 5 }, omega = lin.omega,
                sigma = { additive = 0.3 } }

-- Design: n subjects, 2 occasions 24 h apart; subject i (group g = i mod
-- G) is observed at time T[g] after each occasion's start (m times per
-- occasion when m > 1: T[g], T[g] + 1, ...). Bins per (group, occasion).
local T = { 1, 4, 8, 12, 16, 20 }
local function design(path, n, m, dv)
  local rows = { "ID,TIME,AMT,DV,EVID,CMT,OCC" }
  local k = 0
  for i = 1, n do
    local g = (i - 1) % #T + 1
    rows[#rows + 1] = ("%d,0,1,.,1,1,1"):format(i)
    for occ = 1, 2 do
      for j = 1, m do
        k = k + 1
        rows[#rows + 1] = ("%d,%g,0,%.17g,0,1,%d"):format(i,
          24 * (occ - 1) + T[g] + (j - 1) / m, dv and dv[k] or 5, occ)
      end
    end
  end
  return t.write_file(path, table.concat(rows, "\n") .. "\n")
end

-- --------------------------------------------- simulation with IOV
-- Two occasions of a subject: y2 - y1 = kap2 - kap1 (no residual error):
-- variance 2 iov = 0.6; the per-occasion variance omega + iov = 0.6.
-- 120 subjects x 50 replicates = 6000 pairs: relative MC SD of a
-- variance sqrt(2/6000) = 1.8 %, band 8 %; without IOV the difference
-- would be 0 and the per-occasion variance 0.3.
do
  local path = design(tmp .. "/d1.csv", 120, 1)
  local s = lin:simulate(path, truth, { n = 50, seed = 3, residual = false })
  local dd, v, m, n = 0, 0, 0, 0
  for r = 1, 50 do
    for i = 1, 120 do
      local y1, y2 = s.dv[r][2 * i - 1], s.dv[r][2 * i]
      dd = dd + (y2 - y1) ^ 2
      m = m + y1
      n = n + 1
    end
  end
  m = m / n
  for r = 1, 50 do
    for i = 1, 120 do v = v + (s.dv[r][2 * i - 1] - m) ^ 2 end
  end
  t.is(dd / n, 0.6, 0.08, ("simulate: E (y_occ2 - y_occ1)^2 = %.4f "
    .. "= 2 iov (0.6, band 8 %%)"):format(dd / n))
  t.is(v / (n - 1), 0.6, 0.08, ("simulate: variance at one occasion "
    .. "%.4f = omega + iov (0.6, band 8 %%)"):format(v / (n - 1)))
end

-- -------------------------------- fits: FOCE-I, SAEM, uncertainty
local fit_path = design(tmp .. "/fitdata.csv", 60, 3,
  lin:simulate(design(tmp .. "/d3.csv", 60, 3), truth,
               { n = 1, seed = 41 }).dv[1])
local fdata = rk.popest.read(fit_path, lin)
local fr = lin:fit(fdata, { threads = 2 })
t.ok(fr.converged and fr.covariance_ok, "linear IOV: FOCE-I fit with SEs ("
  .. tostring(fr.message) .. ")")
local se, est = {}, {}
for _, p in ipairs(fr.params) do se[p.name], est[p.name] = p.se, p.estimate end
local iov_name = "OMEGA(kap)"
t.ok(se[iov_name] and se[iov_name] > 0, "the IOV variance has an SE ("
  .. tostring(se[iov_name]) .. ")")
do
  -- SAEM on the same data: FOCE-I is the exact ML here; 2 chains x 300
  -- smoothing iterations: band 0.25 SE.
  local rs = lin:fit(fdata, { method = "saem", threads = 2,
                             saem = { burn = 150, iter = 300, chains = 2,
                                      seed = 4, imp_samples = 500 } })
  t.ok(rs.converged, "SAEM with IOV: fit ran (" .. tostring(rs.message)
    .. ")")
  local got = {}
  for _, p in ipairs(rs.params) do got[p.name] = p.estimate end
  for _, nm in ipairs { "mu", "OMEGA(mu)", iov_name } do
    t.ok(math.abs(got[nm] - est[nm]) < 0.25 * se[nm], ("SAEM %s = %.5f vs "
      .. "exact ML (FOCE-I) %.5f: within 0.25 SE (%.4f)"):format(nm,
      got[nm], est[nm], se[nm]))
  end
  t.ok(rs.ebe[1].occasions and #rs.ebe[1].occasions == 2,
    "SAEM: the EBEs of each occasion")
end
do
  -- parameter uncertainty draws the IOV variance too: over 2000 draws
  -- its SD equals its SE (relative MC SD 1.6 %, band 8 %)
  local d = check.draw_parameters("t", fr, 2000, 5)
  local s, s2 = 0, 0
  for _, v in ipairs(d) do
    s = s + v.omega[2][2]
    s2 = s2 + v.omega[2][2] ^ 2
  end
  local mean = s / #d
  local sd = math.sqrt((s2 - #d * mean * mean) / (#d - 1))
  t.is(sd, se[iov_name], 0.08, ("uncertainty: SD of the "
    .. "drawn IOV variance %.5f = its SE %.5f (band 8 %%)"):format(sd,
    se[iov_name]))
  local sim = lin:simulate(fit_path, fr, { n = 3, seed = 2,
                                           uncertainty = true })
  t.is(#sim.dv, 3, "simulate with IOV and parameter uncertainty runs")
end

-- ------------------------- SAEM vs FOCE-I, a nonlinear model with IOV
-- Theophylline's design twice per subject (occasion 2 48 h later: reset
-- and dose, EVID 4), concentrations simulated from known values with an
-- occasion eta on CL (variance 0.04); FOCE-I and SAEM on the same data
-- agree within one FOCE-I SE for every parameter (both OFVs printed).
do
  local base = dofile(src .. "/models/theophylline.lua")
  local lines = {}
  for l in io.lines(src .. "/tests/data/theoph_nm.csv") do
    if not l:match("^#") then lines[#lines + 1] = l end
  end
  local function split(l)
    local f = {}
    for x in (l .. ","):gmatch("([^,]*),") do f[#f + 1] = x end
    return f
  end
  local col = {}
  for k, nm in ipairs(split(lines[1])) do col[nm] = k end
  local by_id, order = {}, {}
  for k = 2, #lines do
    local f = split(lines[k])
    if not by_id[f[col.ID]] then
      by_id[f[col.ID]] = {}
      order[#order + 1] = f[col.ID]
    end
    table.insert(by_id[f[col.ID]], f)
  end
  local function write(path, dv)
    local rows, k = { "ID,TIME,DV,AMT,EVID,MDV,CMT,WT,OCC" }, 0
    for _, id in ipairs(order) do
      for occ = 1, 2 do
        for _, f in ipairs(by_id[id]) do
          local y = f[col.DV]
          if y ~= "." and f[col.EVID] == "0" then
            k = k + 1
            y = dv and ("%.6f"):format(dv[k]) or y
          end
          local evid = f[col.EVID]
          if evid == "1" and occ == 2 then evid = "4" end
          rows[#rows + 1] = table.concat({ id, tonumber(f[col.TIME])
            + 48 * (occ - 1), y, f[col.AMT], evid, f[col.MDV], f[col.CMT],
            f[col.WT], occ }, ",")
        end
      end
    end
    t.write_file(path, table.concat(rows, "\n") .. "\n")
    return path, k
  end
  local pmi = rk.popest {
    name = "theoph_iov", model = base.model, observe = "conc",
    theta = { lKe = -2.4, lKa = 0.45, lCl = -3.2 },
    omega = { lKa = 0.2, lCl = 0.05 }, iov = { kCl = 0.04 },
    individual = function(theta, eta, cov)
      local lcl = theta.lCl + eta.lCl
      return { ka = rk.exp(theta.lKa + eta.lKa),
               cl = rk.exp(lcl + eta.kCl) * cov.WT,
               v = rk.exp(lcl - theta.lKe) * cov.WT }
    end,
    error = { additive = 0.5 },
    covariates = { WT = { type = "continuous", unit = "kg",
                          range = { 20, 250 } } },
  }
  local tv = { theta = pmi.theta, omega = pmi.omega,
               sigma = { additive = 0.5 } }
  local sim = pmi:simulate(write(tmp .. "/th_design.csv"), tv,
                           { n = 1, seed = 12 })
  local path, n_obs = write(tmp .. "/th_iov.csv", sim.dv[1])
  t.is(n_obs, #sim.dv[1], "theophylline IOV design: every observation "
    .. "simulated (" .. n_obs .. ")")
  local rf = pmi:fit(path, { threads = 2 })
  local rs = pmi:fit(path, { method = "saem", threads = 2,
                             saem = { burn = 150, iter = 150, chains = 2,
                                      seed = 3, imp_samples = 300 } })
  t.ok(rf.converged and rf.covariance_ok and rs.converged, ("FOCE-I and "
    .. "SAEM fits of the IOV data (%s; %s)"):format(tostring(rf.message),
    tostring(rs.message)))
  local got = {}
  for _, p in ipairs(rs.params) do got[p.name] = p.estimate end
  for _, p in ipairs(rf.params) do
    if p.se then
      t.ok(math.abs(got[p.name] - p.estimate) < p.se, ("theophylline IOV: "
        .. "SAEM %s = %.4f vs FOCE-I %.4f within one SE (%.4f)"):format(
        p.name, got[p.name], p.estimate, p.se))
    end
  end
  t.diag(("theophylline IOV OFVs: FOCE-I %.3f, SAEM (IMP) %.3f +- %.3f")
    :format(rf.ofv, rs.ofv, rs.saem.ofv_imp_se))
end

-- ---------------------------------------------------------- VPC
-- Data simulated from the model at the true values, VPC at them: each
-- observed percentile is exchangeable with the simulated ones, inside
-- the 90 % PI with probability ~0.9 (100 simulations). 20 datasets x 6
-- groups of distinct subjects = 120 independent units (the two bins of a
-- group share subjects, the percentiles of a bin are correlated):
-- binomial band 0.9 +- 3 sqrt(0.09/120) = [0.82, 0.98]. The same data
-- checked against the model without IOV (omega alone: the spread of a
-- bin sqrt(0.3 + 0.09) instead of sqrt(0.6 + 0.09)) falls below the
-- band: the check has the power to reject a missing IOV.
do
  local edges = {}
  for occ = 1, 2 do
    for _, tt in ipairs(T) do
      edges[#edges + 1] = 24 * (occ - 1) + tt - 0.5
    end
  end
  edges[#edges + 1] = 24 + T[#T] + 0.5
  local dpath = design(tmp .. "/vd.csv", 120, 1)
  local data = lin:simulate(dpath, truth, { n = 20, seed = 101 })
  local noiov = lin_pm(1e-8)
  local wrong = { theta = truth.theta, omega = noiov.omega,
                  sigma = truth.sigma }
  local inside, inside_w, total = 0, 0, 0
  for d = 1, 20 do
    local path = design(tmp .. "/vpcdata.csv", 120, 1, data.dv[d])
    local v = lin:vpc(path, truth, { n = 100, seed = 200 + d,
                                     bins = edges })
    local w = noiov:vpc(path, wrong, { n = 100, seed = 200 + d,
                                       bins = edges })
    for b, bin in ipairs(v.endpoints[1].bins) do
      local bw = w.endpoints[1].bins[b]
      for k = 1, 3 do
        total = total + 1
        if bin.obs[k] >= bin.sim[k].lo and bin.obs[k] <= bin.sim[k].hi then
          inside = inside + 1
        end
        if bw.obs[k] >= bw.sim[k].lo and bw.obs[k] <= bw.sim[k].hi then
          inside_w = inside_w + 1
        end
      end
    end
  end
  t.is(total, 720, "VPC with IOV: 20 datasets x 12 bins x 3 percentiles")
  t.ok(inside / total > 0.82 and inside / total < 0.98,
    ("VPC with IOV: observed percentiles inside their 90 %% PI: %.3f "
    .. "(band 0.82 - 0.98)"):format(inside / total))
  t.ok(inside_w / total < 0.82, ("the same data against the model without "
    .. "IOV: %.3f inside, below the band"):format(inside_w / total))
end

-- ---------------------------------------------------------- bootstrap
-- Subjects are resampled with all their occasions and refitted with IOV.
-- For this linear model the covariance step's SE is asymptotically the
-- sampling SD; with 60 replicates the bootstrap SE has a relative MC SD
-- of 1/sqrt(120) = 9 %: band 35 % (the covariance-step SE is itself an
-- approximation at 60 subjects).
do
  local b = lin:bootstrap(fdata, fr, { n = 60, seed = 7, bca = false,
                                       threads = 2 })
  t.is(b.n_failed, 0, "IOV bootstrap: no failed replicate")
  local p
  for _, q in ipairs(b.params) do if q.name == iov_name then p = q end end
  t.ok(p and p.se, "IOV bootstrap: the IOV variance has a bootstrap SE")
  if p and p.se then
    t.is(p.se, se[iov_name], 0.35, ("IOV bootstrap: SE of "
      .. "the IOV variance %.5f vs covariance step %.5f (band 35 %%)")
      :format(p.se, se[iov_name]))
  end
  -- every occasion of a drawn subject comes along
  local pick = rk.popest.boot_pick(60, 7, 1)
  local d = rk.popest.resample(fdata, pick)
  t.is(d.n_obs, 60 * 6, "resample: each drawn subject with both its "
    .. "occasions (6 records)")
  local r = lin:evaluate(d, { theta = fr.theta, omega = fr.omega,
                              sigma = fr.sigma })
  t.is(#r.ebe[1].occasions, 2, "resampled subject: 2 occasions")
  -- SAEM replicates (a short run: that it refits with IOV)
  local bs = lin:bootstrap(fdata, fr, { n = 2, seed = 7, bca = false,
    method = "saem", threads = 2,
    fit = { saem = { burn = 20, iter = 20, imp_samples = 50 } } })
  t.is(bs.n_failed, 0, "IOV bootstrap with SAEM refits runs")
end
do
  -- SA standard errors with IOV (the occasion etas of every further
  -- occasion are part of each chain's complete data): on this linear
  -- model FOCE-I is exact, so its covariance step's R^-1 is the observed
  -- information's inverse; SA's SEs agree within 10 % (Monte Carlo error
  -- with 1000 x 2 draws per subject ~2 %, the SAEM estimates within 0.25
  -- SE of the ML ones; the exact comparison is in test_saemiov.c)
  local rr = lin:fit(fdata, { threads = 2, cov_matrix = "R" })
  local r = lin:fit(fdata, { method = "saem", threads = 2,
    saem = { burn = 150, iter = 300, chains = 2, seed = 4,
             imp_samples = 0, se = "sa", se_iter = 1000 } })
  t.ok(r.covariance_ok and r.covariance_matrix == "sa" and rr.covariance_ok,
    "SA standard errors with IOV (" .. tostring(r.covariance_message)
    .. ")")
  local ser = {}
  for _, p in ipairs(rr.params) do ser[p.name] = p.se end
  for _, p in ipairs(r.params) do
    t.ok(p.se and ser[p.name] and math.abs(p.se / ser[p.name] - 1) < 0.1,
      ("IOV: %s SE by SA %.5f vs FOCE-I R^-1 %.5f (tolerance 10 %%)")
      :format(p.name, p.se or 0 / 0, ser[p.name] or 0 / 0))
  end
end
t.done()
