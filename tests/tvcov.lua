-- tests/tvcov.lua - time-varying covariates in datasets (issue 13 item
-- 4): a covariate that changes within a subject changes the model's
-- parameters piecewise-constant in time. NONMEM's convention (the values
-- of a record advance the system from the previous record to it: "next
-- observation carried backward", see docs/sources.md) and the other one
-- (rk.data covariates = "locf": from the record on, mrgsolve's nocb =
-- FALSE). Values against the piecewise closed form of a one-compartment
-- bolus whose clearance steps with weight; exact and CVODES paths.
local rk = require "radiokin"
local t = require "radiokin.tap"

local exp = math.exp
local tmp = t.scratch()
local function file(name, text) return t.write_file(tmp .. "/" .. name, text) end

local CL, V, D = 0.5, 5, 100   -- L/h, L, mg
local k1 = CL / V              -- 1/h at WT 70
local k2 = 2 * k1              -- at WT 140: CL scales with WT / 70

-- Clearance proportional to weight (a linear model: exact path).
local m = rk.model {
  name = "tvcl", states = { "A" }, params = { CL = CL, V = V, WT = 70, FR = 1 },
  ode = function(s, p) return { A = -p.CL * (p.WT / 70) / p.V * s.A } end,
  outputs = function(s, p) return { C = s.A / p.V, CW = s.A / (p.V * p.WT / 70) } end,
  bioav = function(p) return { A = p.FR } end,
}

-- WT 70 up to the record at 2 h, 140 on the records at 4 and 6 h.
local csv = "ID,TIME,AMT,CMT,WT,FR,DVID\n" ..
  "1,0,100,1,70,1,.\n1,2,.,.,70,1,1\n1,4,.,.,140,1,1\n1,6,.,.,140,1,1\n" ..
  "1,6,.,.,140,1,2\n"
local p = file("tv.csv", csv)

-- NONMEM: (0,2] at WT 70, (2,4] and (4,6] at 140.
local nocb = { D * exp(-2 * k1) / V, D * exp(-2 * k1 - 2 * k2) / V,
               D * exp(-2 * k1 - 4 * k2) / V }
-- LOCF: (0,2) and (2,4) at 70, (4,6) at 140.
local locf = { D * exp(-2 * k1) / V, D * exp(-4 * k1) / V,
               D * exp(-4 * k1 - 2 * k2) / V }

for _, path in ipairs { "exact", "cvodes" } do
  local tol = path == "exact" and 1e-12 or 1e-7
  local o = { covariates = { "WT", "FR" }, path = path, rtol = 1e-10, atol = 1e-12 }
  local r = rk.data(p, m):simulate(m, o)
  for i = 1, 3 do
    t.is(r.pred[i], nocb[i], tol * nocb[i],
         ("NOCB (NONMEM), %s path: C at record %d = piecewise closed form"):format(path, i + 1))
  end
  -- The output of a record uses the record's own values (WT 140: V x 2).
  t.is(r.pred[4], nocb[3] / 2, tol * nocb[3],
       path .. " path: an output with WT sees the record's WT 140")
  local rl = rk.data(p, m, { covariates = "locf" }):simulate(m, o)
  for i = 1, 3 do
    t.is(rl.pred[i], locf[i], tol * locf[i],
         ("LOCF, %s path: C at record %d = piecewise closed form"):format(path, i + 1))
  end
  t.is(rl.pred[4], locf[3] / 2, tol * locf[3],
       path .. " path, LOCF: the output sees the record's WT 140")
end

-- The two conventions differ (the test above could not pass with one
-- of them swapped for the other): NOCB clears faster over (2,4].
t.ok(nocb[2] < 0.9 * locf[2], "NOCB and LOCF give different C(4)")

-- m:simulate with a covariate table over time: the same piecewise
-- closed forms as the dataset above (rows as its records).
for _, path in ipairs { "exact", "cvodes" } do
  local tol = path == "exact" and 1e-12 or 1e-7
  local rows = { { time = 2, WT = 70 }, { time = 4, WT = 140 }, { time = 6 } }
  local spec = { doses = { { time = 0, amount = D, to = "A" } }, times = { 2, 4, 6 },
                 covariates = rows, path = path, rtol = 1e-10, atol = 1e-12 }
  local r = m:simulate(spec)
  for i = 1, 3 do
    t.is(r.C[i], nocb[i], tol * nocb[i],
         ("m:simulate covariates (NOCB), %s: C(%d) = piecewise closed form"):format(path, 2 * i))
  end
  rows.rule = "locf"
  r = m:simulate(spec)
  for i = 1, 3 do
    t.is(r.C[i], locf[i], tol * locf[i],
         ("m:simulate covariates (LOCF), %s: C(%d) = piecewise closed form"):format(path, 2 * i))
  end
end
do
  -- F from the row in force at each dose (NOCB: the row whose interval
  -- ends at or after it).
  local r = m:simulate { doses = { { time = 0, amount = D, to = "A" }, { time = 4, amount = D, to = "A" } },
                         times = { 6 }, covariates = { { time = 0, FR = 1 }, { time = 4, FR = 0.5 }, { time = 6, FR = 0.5 } } }
  local want = (D * exp(-6 * k1) + 0.5 * D * exp(-2 * k1)) / V
  t.is(r.C[1], want, 1e-12 * want, "m:simulate covariates: each dose's F from its row")
end
t.raises(function() return m:simulate { times = { 1 }, covariates = { { time = 2, WT = 70 }, { time = 1, WT = 80 } } } end,
         "covariates%[2%].time = 1.0 is not after the previous row.s 2.0", "m:simulate covariates: rows going back in time")
t.raises(function() return m:simulate { times = { 1 }, covariates = { { time = 2, BW = 70 } } } end,
         "covariates%[1%]: .*'BW'", "m:simulate covariates: an unknown parameter")

-- A covariate changing on dose records only (FR, the bioavailability of
-- each dose): the dose at 4 h takes its own record's FR 0.5, whichever
-- convention; WT constant.
local pf = file("fr.csv", "ID,TIME,AMT,CMT,WT,FR\n" ..
  "1,0,100,1,70,1\n1,4,100,1,70,0.5\n1,6,.,.,70,0.5\n")
for _, cv in ipairs { "nocb", "locf" } do
  for _, path in ipairs { "exact", "cvodes" } do
    local r = rk.data(pf, m, { covariates = cv }):simulate(m,
      { covariates = { "WT", "FR" }, path = path, rtol = 1e-10, atol = 1e-12 })
    local want = (D * exp(-6 * k1) + 0.5 * D * exp(-2 * k1)) / V
    t.is(r.pred[1], want, 1e-7 * want,
         ("%s, %s path: each dose's F from its own record"):format(cv, path))
  end
end

-- A dose at the change time: under NOCB the dose record at 2 h (WT 140)
-- ends the interval (0,2] at WT 140 and starts (2,4] at the next
-- record's 70; under LOCF (0,2) is at 70 and (2,4) at 140.
local pd = file("dose.csv", "ID,TIME,AMT,CMT,WT,FR\n" ..
  "1,0,100,1,70,1\n1,2,100,1,140,1\n1,4,.,.,70,1\n")
local rn = rk.data(pd, m):simulate(m, { covariates = { "WT", "FR" } })
local want = D * exp(-2 * k2 - 2 * k1) / V + D * exp(-2 * k1) / V
t.is(rn.pred[1], want, 1e-12 * want, "NOCB: a dose record's WT applies before it")
local rl = rk.data(pd, m, { covariates = "locf" }):simulate(m, { covariates = { "WT", "FR" } })
want = D * exp(-2 * k1 - 2 * k2) / V + D * exp(-2 * k2) / V
t.is(rl.pred[1], want, 1e-12 * want, "LOCF: a dose record's WT applies after it")

-- Bad input: a covariate the model uses missing on one record names the
-- file, line, column and subject; an unknown convention.
local pm = file("miss.csv", "ID,TIME,AMT,CMT,WT,FR\n1,0,100,1,70,1\n1,2,.,.,.,1\n1,4,.,.,70,1\n")
t.raises(function() return rk.data(pm, m):simulate(m, { covariates = { "WT", "FR" } }) end,
         "miss.csv:3: column 5 %(WT%): covariate missing on a record of subject ID 1",
         "a covariate missing on a record: file, line, column, subject")
t.raises(function() return rk.data(p, m, { covariates = "linear" }) end,
         "field 'covariates' must be \"nocb\"", "an unknown convention")

-- rk.popest: individual parameters at every record. Three subjects whose
-- WT steps at different records; PRED (eta 0) and IPRED (each EBE) at the
-- fit's own estimates equal the piecewise closed form (NOCB; and LOCF
-- when read so); analytic (exact-path sensitivities across the switches)
-- and finite-difference gradients reach the same OFV.
do
  local pk = rk.model {
    name = "pk1", states = { "A" }, params = { cl = 0.5, v = 5 },
    ode = function(s, p) return { A = -p.cl / p.v * s.A } end,
    outputs = function(s, p) return { C = s.A / p.v } end,
  }
  local pmw = rk.popest {
    name = "tvwt", model = pk, observe = "C",
    theta = { lCl = math.log(0.5), lV = math.log(5) },
    omega = { lCl = 0.1 },
    individual = function(th, eta, cov)
      return { cl = rk.exp(th.lCl + eta.lCl) * cov.WT / 70, v = rk.exp(th.lV) }
    end,
    error = { proportional = 0.1 },
    covariates = { WT = { type = "continuous", unit = "kg",
                          range = { 20, 250 } } },
  }
  -- subject i: WT 70 up to the record at 2 h, then wt[i] on the records
  -- at 4, 6, 8 h; DV off the closed form by fixed factors.
  local wt, fac = { 140, 35, 70 }, { 1.05, 0.93, 1.02, 0.97 }
  local rows = { "ID,TIME,AMT,DV,WT" }
  for i = 1, 3 do
    rows[#rows + 1] = ("%d,0,100,.,70"):format(i)
    local w = { 70, wt[i], wt[i], wt[i] }
    for j = 1, 4 do
      local a = 0   -- integral of k up to 2 j, k = 0.1 WT / 70 per piece
      for jj = 1, j do a = a + 2 * 0.1 * w[jj] / 70 end
      rows[#rows + 1] = ("%d,%d,.,%.10g,%g"):format(i, 2 * j, 20 * exp(-a) * fac[j] * ({ 1.0, 1.25, 0.8 })[i], w[j])
    end
  end
  local pp = file("tvfit.csv", table.concat(rows, "\n") .. "\n")
  -- closed form at cl, v for subject i, record j (NOCB: the record's WT
  -- over the 2 h before it; LOCF: the previous record's)
  local function cf(i, j, cl, v, locf)
    local w = { 70, wt[i], wt[i], wt[i] }
    local a = 0
    for jj = 1, j do
      local ww = locf and (jj == 1 and 70 or w[jj - 1]) or w[jj]
      a = a + 2 * cl * ww / 70 / v
    end
    return 100 * exp(-a) / v
  end
  local function check(r, locf, what)
    local cl, v = exp(r.theta.lCl), exp(r.theta.lV)
    local wp, wi = 0, 0
    for i = 1, 3 do
      local e = r.ebe[i].eta.lCl
      for j = 1, 4 do
        local row = (i - 1) * 4 + j
        wp = math.max(wp, math.abs(r.table.PRED[row] / cf(i, j, cl, v, locf) - 1))
        wi = math.max(wi, math.abs(r.table.IPRED[row] / cf(i, j, cl * exp(e), v, locf) - 1))
      end
    end
    t.ok(wp < 1e-9 and wi < 1e-9, ("%s: PRED and IPRED = the piecewise closed form at the estimates (rel. %.1e, %.1e)"):format(what, wp, wi))
  end
  local r = pmw:fit(pp, { method = "focei", covariance = false, max_eval = 2000 })
  check(r, false, "FOCE-I, NOCB")
  local rf = pmw:fit(pp, { method = "focei", covariance = false, max_eval = 2000, gradient = "fd" })
  t.ok(r.converged and rf.converged, "both fits converged")
  t.is(r.ofv, rf.ofv, 1e-7 * math.abs(rf.ofv),
       "FOCE-I with time-varying WT: analytic and finite-difference gradients reach the same OFV")
  local dl = rk.popest.read(pp, pmw, { covariates = "locf" })
  local rl = pmw:fit(dl, { method = "focei", covariance = false, max_eval = 2000 })
  check(rl, true, "FOCE-I, LOCF")
  t.ok(math.abs(rl.ofv - r.ofv) > 1e-3, "the two conventions fit differently")
  local pm2 = file("tvmiss.csv", "ID,TIME,AMT,DV,WT\n1,0,100,.,70\n1,2,.,3,70\n1,4,.,2,.\n")
  t.raises(function() return pmw:fit(pm2, { method = "fo", covariance = false }) end,
           "tvmiss.csv:4: column 5 %(WT%): covariate missing on a record of subject ID 1",
           "rk.popest: a covariate missing on a record names file, line, column, subject")
  t.raises(function() return rk.popest.read(pp, pmw, { covariates = "x" }) end,
           "field 'covariates' must be \"nocb\"", "rk.popest.read: an unknown convention")
end

t.done()
