-- tests/model.lua - rk.model tracing and m:simulate against analytic
-- solutions and the reference values of the six-compartment benchmark model
-- (docs/sources.md),
-- on both solver paths; CSV output written and read back.
local rk = require "radiokin"
local t = require "radiokin.tap"

local srcdir = os.getenv("RADIOKIN_SRCDIR") or "."
local lu = rk.nuclide("Lu-177")
local lambda = math.log(2) / (6.647 * 24)   -- benchmark model / nuclide.c

-- ------------------------------------------------------------- tracing
do
  local seen
  local m = rk.model {
    name = "trace", states = { "A" }, params = { k = 0.5, V = 2 },
    outputs = function(s, p) return { C = s.A / p.V } end,
    ode = function(s, p, tt)
      seen = { tostring(p.k * s.A + 2 * tt - rk.exp(s.A)),
               tostring(-(s.A) ^ 2), tostring(1 + s.A * 0) }
      return { A = -p.k * s.A }
    end,
  }
  t.is(seen[1], "k * A + 2 * t - exp(A)", "tostring formats the traced "
    .. "expression (numbers mix with expressions)")
  t.like(seen[2], "A", "unary minus and ^ build nodes")
  t.is(seen[3], "1", "constant folding: 1 + A*0 -> 1 (expr.h contract)")
  t.ok(m:is_linear(), "-k*A is linear in the states")
  t.is(table.concat(m.states, ","), "A", "m.states")
  t.is(table.concat(m.outputs, ","), "C", "m.outputs")
  t.is(table.concat(m.param_names, ","), "V,k", "parameters sorted by name")
  local p = m.params
  p.k = 99
  t.is(m.params.k, 0.5, "m.params is a copy")
  t.like(tostring(m), "rk.model 'trace' %(1 states, 2 parameters",
    "tostring(model)")

  local nl = rk.model {
    name = "mm", states = { "A" }, params = { vmax = 2, km = 1 },
    ode = function(s, p)
      return { A = -p.vmax * s.A / (p.km + s.A) + rk.max(0, rk.min(1, 0.5)) }
    end,
  }
  t.ok(not nl:is_linear(), "Michaelis-Menten is not linear")
  t.is(rk.exp(0), 1, "rk.exp on a number is a number")
  t.is(rk.max(1, 3, 2), 3, "rk.max folds its arguments")
end

-- ------------------------------------------ one compartment, analytic
local one = rk.model {
  name = "one", nuclide = "Lu-177", states = { "A" },
  params = { k = rk.positive(0.1), V = 3 },
  outputs = function(s, p) return { C = s.A / p.V } end,
  ode = function(s, p) return { A = -p.k * s.A } end,
}
t.is(one.lambda, lambda, 1e-12, "model lambda = ln2/(6.647 d), README s.2")

for _, path in ipairs { "exact", "cvodes" } do
  -- Bolus D at 0: A(t) = D exp(-(k+lambda) t); TIA over [0,T] =
  -- D (1 - exp(-kappa T)) / kappa; to infinity D / kappa (analytic).
  local D, k, T = 1000, 0.1, 48
  local kappa = k + lambda
  local tol = path == "exact" and 1e-9 or 1e-6
  local r = one:simulate { doses = { { time = 0, amount = D, to = "A" } },
    times = { 0, 5, 24, T }, tia = { "A", "C" }, path = path,
    rtol = 1e-8, atol = 1e-10 }
  t.is(r.path, path, "path " .. path .. " was used")
  t.is(r.A[1], D, tol, path .. ": value at the dose time is after the dose")
  t.is(r.A[3], D * math.exp(-kappa * 24), tol,
    path .. ": bolus A(24) analytic (rel " .. tol .. ")")
  t.is(r.states.A[4], D * math.exp(-kappa * T), tol,
    path .. ": r.states.A == analytic")
  t.is(r.C[3], r.A[3] / 3, 1e-12, path .. ": output C = A / V")
  t.is(r.tia.A, D * (1 - math.exp(-kappa * T)) / kappa, tol,
    path .. ": TIA of a bolus over [0,48] analytic")
  t.is(r.tia.C, r.tia.A / 3, tol, path .. ": TIA of an output")
  if path == "exact" then
    t.is(r.tia_inf.A, D / kappa, 1e-9,
      "exact: tia_inf = D / (k + lambda) analytic")
  else
    t.ok(r.tia_inf == nil and r.tia_inf_error:find("exact path"),
      "cvodes: no tia_inf, and tia_inf_error says why")
    t.ok(r.steps > 0, "cvodes: steps are counted")
  end

  -- Infusion of D at rate R from 0: A(t) = R/kappa (1 - e^-kappa t) while
  -- it runs (t <= D/R = 10 h), then decays from A(10) (analytic).
  local R = 100
  r = one:simulate { doses = { { time = 0, amount = D, rate = R, to = "A" } },
    times = { 4, 10, 20 }, path = path, t0 = 0, rtol = 1e-8, atol = 1e-10 }
  local a10 = R / kappa * (1 - math.exp(-kappa * 10))
  t.is(r.A[1], R / kappa * (1 - math.exp(-kappa * 4)), tol,
    path .. ": infusion A(4) analytic")
  t.is(r.A[3], a10 * math.exp(-kappa * 10), tol,
    path .. ": after the infusion A(20) analytic")

  -- ADDL: 4 doses every 12 h equal the superposition of 4 boluses.
  r = one:simulate { doses = { { time = 0, amount = D, to = "A", ii = 12,
    addl = 3 } }, times = { 50 }, tia = { "A" }, path = path,
    rtol = 1e-8, atol = 1e-10 }
  local want, tia = 0, 0
  for j = 0, 3 do
    want = want + D * math.exp(-kappa * (50 - 12 * j))
    tia = tia + D * (1 - math.exp(-kappa * (50 - 12 * j))) / kappa
  end
  t.is(r.A[1], want, tol, path .. ": ADDL=3 II=12 equals superposition")
  t.is(r.tia.A, tia, tol, path .. ": ADDL TIA equals superposition")
end

-- params override, y0 and y_end chaining
do
  local r1 = one:simulate { y0 = { A = 500 }, times = { 0, 10 },
    params = { k = 0.2 } }
  t.is(r1.A[2], 500 * math.exp(-(0.2 + lambda) * 10), 1e-9,
    "params override and y0 (analytic)")
  t.is(r1.params.k, 0.2, "r.params holds the values used")
  local r2 = one:simulate { y0 = r1.y_end, t0 = 10, times = { 20 },
    params = { k = 0.2 } }
  t.is(r2.A[1], 500 * math.exp(-(0.2 + lambda) * 20), 1e-9,
    "y0 = r.y_end continues the run (analytic)")
end

-- ------------------------------- peer patient 1, README section 2
-- MINSTD x_{n+1} = 48271 x_n mod (2^31-1), x_0 = 20240601; normals by
-- Box-Muller on consecutive pairs (cos first, then sin).
local function peer_stream()
  local x, spare = 20240601, nil
  local xs = {}
  local function uniform()
    x = (48271 * x) % 2147483647
    xs[#xs + 1] = x
    return x / 2147483647
  end
  return function()
    if spare then
      local z = spare
      spare = nil
      return z
    end
    local u1, u2 = uniform(), uniform()
    local rad = math.sqrt(-2 * math.log(u1))
    spare = rad * math.sin(2 * math.pi * u2)
    return rad * math.cos(2 * math.pi * u2)
  end, xs
end

local normal, xs = peer_stream()
local z = {}
for i = 1, 11 do z[i] = normal() end
t.ok(xs[1] == 2076475133 and xs[2] == 1879404965 and xs[3] == 310398000,
  "MINSTD check values x1..x3 (README s.2)")
t.is(z[1], 0.183562389746, 1e-11, "Box-Muller z1 (README s.2, 12 digits)")
t.is(z[4], 1.218925678707, 1e-11, "Box-Muller z4 (README s.2, 12 digits)")

local names = { "kPI", "kIP", "kPK", "kKP", "kPL", "kLP", "kPT", "kTP", "kPR",
  "kRP", "kU" }
local theta = { 0.60, 0.40, 0.030, 0.012, 0.040, 0.015, 0.030, 0.004, 0.15,
  0.030, 0.50 }
local omega = math.sqrt(math.log(1 + 0.30 ^ 2))
local p1 = {}
for i, n in ipairs(names) do p1[n] = theta[i] * math.exp(omega * z[i]) end
t.is(p1.kPI, 0.633219, 1e-6, "patient 1 kPI = 0.633219 (README s.2, 6 digits)")
t.is(p1.kU, 0.637767, 1e-6, "patient 1 kU = 0.637767 (README s.2, 6 digits)")

local m = dofile(srcdir .. "/models/lu177_6c.lua")
t.ok(m:is_linear(), "lu177_6c is linear (exact path available)")
for i, n in ipairs(names) do
  if m.params[n] ~= theta[i] then t.diag("typical value differs: " .. n) end
end
t.is(m.nuclide, "Lu-177", "lu177_6c uses Lu-177 decay")

local ref = { 22317.12958, 22317.1766, 22317.17661, 22317.17661 }
for _, path in ipairs { "exact", "cvodes" } do
  -- Each cycle integrates [0, 1344] h from the previous end state plus a
  -- 7400 MBq bolus, kidney TIA reset per cycle (README s.2; peers used
  -- rtol 1e-6, atol 1e-9).
  local y0
  for c = 1, 4 do
    local r = m:simulate { doses = { { time = 0, amount = 7400, to = "P" } },
      y0 = y0, t1 = 1344, tia = { "K" }, params = p1, path = path,
      rtol = 1e-6, atol = 1e-9 }
    if c == 1 then
      t.is(r.tia.K, 22317.12958, 1e-6, path .. ": patient 1 cycle 1 kidney "
        .. "TIA 22317.12958 MBq h (README s.2 exact reference, rel 1e-6)")
    elseif c == 4 then
      t.is(r.tia.K, ref[4], 1e-6, path .. ": patient 1 cycle 4 kidney TIA "
        .. "(README s.2, rel 1e-6)")
    end
    y0 = r.y_end
  end
end

-- The same 4 cycles as one run with ADDL/II: the total kidney TIA over
-- [0, 4 x 1344] is the sum of the four per-cycle references.
do
  local r = m:simulate { doses = { { time = 0, amount = 7400, to = "P",
    ii = 1344, addl = 3 } }, t1 = 4 * 1344, tia = { "K" }, params = p1 }
  t.is(r.tia.K, ref[1] + ref[2] + ref[3] + ref[4], 1e-6,
    "ADDL=3 II=1344: total kidney TIA = sum of README s.2 cycles")
end

-- ----------------------------------------------- CSV out and back in
do
  local r = m:simulate { doses = { { time = 0, amount = 7400, to = "P" } },
    times = rk.seq(0, 1344, 24), tia = { "K", "body" } }
  t.is(#r.time, 57, "rk.seq(0, 1344, 24) gives 57 times")
  local path = os.tmpname()
  r:write_csv(path)
  local rows, cols = rk.csv.read(path)
  t.is(table.concat(cols, ","), "time_h,P,I,K,L,T,R,body",
    "CSV header: time_h, states, outputs")
  t.is(#rows, 57, "one CSV row per output time")
  local worst = 0
  for i, row in ipairs(rows) do
    for _, c in ipairs { "P", "K", "body" } do
      local d = math.abs(row[c] - r[c][i]) / math.max(math.abs(r[c][i]), 1e-300)
      if d > worst then worst = d end
    end
    if row.time_h ~= r.time[i] then worst = math.huge end
  end
  t.is(worst, 0, "CSV values read back exactly (round-trip formatting)")
  os.remove(path)
  -- mass balance: the body output is the sum of the states
  local b = r.P[10] + r.I[10] + r.K[10] + r.L[10] + r.T[10] + r.R[10]
  t.is(r.body[10], b, 1e-12, "output body = P+I+K+L+T+R")
end

-- ------------------------------------------------------------- conditionals
-- Clearance that drops when the concentration falls below a threshold:
-- A' = -ifelse(A / V > Cth, k1, k2) A (+ Lu-177 decay). Closed form:
-- A = D e^{-(k1+l) t} until ts = ln(D / (V Cth)) / (k1 + l), then
-- V Cth e^{-(k2+l)(t - ts)}.
do
  local D, V, Cth, k1, k2 = 1000, 5, 40, 0.3, 0.02
  local m = rk.model {
    name = "switch", nuclide = "Lu-177", states = { "A" },
    params = { V = V, Cth = Cth, k1 = k1, k2 = k2 },
    outputs = function(s, p) return { C = s.A / p.V } end,
    ode = function(s, p)
      return { A = -rk.ifelse(rk.gt(s.A / p.V, p.Cth), p.k1, p.k2) * s.A }
    end,
  }
  t.ok(not m:is_linear(), "a condition on a state: not linear")
  local ts = math.log(D / (V * Cth)) / (k1 + lambda)
  local times = { 0, 1, ts - 1e-3, ts + 1e-3, ts + 2, 48, 200 }
  local r = m:simulate { doses = { { time = 0, amount = D, to = "A" } },
                         times = times, rtol = 1e-10, atol = 1e-12 }
  t.is(r.path, "cvodes", "solved by CVODES")
  local worst = 0
  for i, tt in ipairs(times) do
    local want = tt < ts and D * math.exp(-(k1 + lambda) * tt)
                 or V * Cth * math.exp(-(k2 + lambda) * (tt - ts))
    worst = math.max(worst, math.abs(r.A[i] / want - 1),
                     math.abs(r.C[i] / (want / V) - 1))
  end
  -- rtol 1e-10: the global error grows to ~100 rtol over 200 h
  t.ok(worst < 1e-7, ("rk.ifelse switching clearance = the piecewise "
       .. "closed form (switch at %.6f h) to 1e-7 rel (max %.1e)")
       :format(ts, worst))

  -- a second dose at 24 h lifts A above the threshold again: k1 until a
  -- second crossing at t2 = 24 + ln(A(24+) / (V Cth)) / (k1 + l)
  local a24 = V * Cth * math.exp(-(k2 + lambda) * (24 - ts)) + D
  local t2 = 24 + math.log(a24 / (V * Cth)) / (k1 + lambda)
  local times2 = { 23, 24, 25, t2 - 1e-3, t2 + 1e-3, 60 }
  local r2 = m:simulate { doses = { { time = 0, amount = D, to = "A" },
                                    { time = 24, amount = D, to = "A" } },
                          times = times2, rtol = 1e-10, atol = 1e-12 }
  local worst2 = 0
  for i, tt in ipairs(times2) do
    local want
    if tt < 24 then
      want = V * Cth * math.exp(-(k2 + lambda) * (tt - ts))
    elseif tt < t2 then
      want = a24 * math.exp(-(k1 + lambda) * (tt - 24))
    else
      want = V * Cth * math.exp(-(k2 + lambda) * (tt - t2))
    end
    worst2 = math.max(worst2, math.abs(r2.A[i] / want - 1))
  end
  t.ok(worst2 < 1e-7, ("a dose that lifts A above the threshold switches "
       .. "back to k1 until the second crossing at %.6f h (max rel %.1e)")
       :format(t2, worst2))

  -- the same with rk.piecewise and three pieces, and rk.all / rk.any
  local m3 = rk.model {
    name = "pw", states = { "A" }, params = { k = 0.1 },
    ode = function(s, p, tt)
      local k = rk.piecewise(rk.lt(tt, 2), p.k,
                             rk.all(rk.ge(tt, 2), rk.lt(tt, 5)), 3 * p.k,
                             2 * p.k)
      return { A = -k * s.A }
    end,
  }
  local r3 = m3:simulate { doses = { { time = 0, amount = 100, to = "A" } },
                           times = { 1, 3, 10 }, rtol = 1e-10,
                           atol = 1e-12 }
  local function a3(tt)
    local e = 0.1 * math.min(tt, 2) + 0.3 * math.max(0, math.min(tt, 5) - 2)
              + 0.2 * math.max(0, tt - 5)
    return 100 * math.exp(-e)
  end
  t.is(r3.A[1], a3(1), 1e-8, "rk.piecewise: first piece")
  t.is(r3.A[2], a3(3), 1e-8, "rk.piecewise: second piece (rk.all)")
  t.is(r3.A[3], a3(10), 1e-8, "rk.piecewise: default piece")

  -- rk.eq / rk.ne on a parameter (a covariate such as SEX)
  local ms = rk.model {
    name = "sex", states = { "A" }, params = { k = 0.1, SEX = 1 },
    ode = function(s, p)
      return { A = -rk.ifelse(rk.eq(p.SEX, 1), 2 * p.k,
                              rk.ifelse(rk.ne(p.SEX, 2), 3 * p.k, p.k))
                   * s.A }
    end,
  }
  local function kk(sex)
    return ms:simulate { doses = { { time = 0, amount = 1, to = "A" } },
                         times = { 1 }, params = { SEX = sex } }.A[1]
  end
  t.ok(math.abs(kk(1) - math.exp(-0.2)) < 1e-12
       and math.abs(kk(2) - math.exp(-0.1)) < 1e-12
       and math.abs(kk(3) - math.exp(-0.3)) < 1e-12,
       "rk.eq(SEX, 1) -> 2k, rk.ne(SEX, 2) -> 3k, else k")
  t.is(rk.eq(2, 2), true, "rk.eq of numbers")
  t.is(rk.ne(2, 2), false, "rk.ne of numbers")

  -- numbers: Lua values
  t.is(rk.gt(2, 1), true, "rk.gt of numbers is a Lua boolean")
  t.is(rk.ifelse(rk.le(2, 1), 3, 4), 4, "rk.ifelse of a boolean picks")
  t.is(rk.all(true, rk.lt(1, 2)), true, "rk.all of booleans")
  t.is(rk.any(false, false), false, "rk.any of booleans")

  -- a condition on parameters only keeps the model linear (exact path)
  local mp = rk.model {
    name = "bycov", states = { "A" }, params = { k = 0.1, WT = 80 },
    ode = function(s, p)
      return { A = -rk.ifelse(rk.gt(p.WT, 70), 2 * p.k, p.k) * s.A }
    end,
  }
  t.ok(mp:is_linear(), "a condition on parameters only: linear")
  local rp = mp:simulate { doses = { { time = 0, amount = 1, to = "A" } },
                           times = { 5 }, params = { WT = 60 } }
  t.is(rp.path, "exact", "exact path")
  t.is(rp.A[1], math.exp(-0.5), 1e-12, "WT = 60 selects k")

  -- bad input
  local function mk(ode)
    return function()
      rk.model { name = "bad", states = { "A" }, params = { k = 1 },
                 ode = ode }
    end
  end
  t.raises(mk(function(s, p)
             if s.A > 1 then return { A = -p.k * s.A } end
             return { A = 0 * s.A }
           end), "rk.ifelse%(rk.gt%(x, y%), a, b%)",
           "Lua `if s.A > 1` raises, pointing to rk.ifelse")
  t.raises(mk(function(s, p)
             if rk.gt(s.A, 1) then return { A = -p.k * s.A } end
             return { A = 0 * s.A }
           end), "condition A > 1 was made but not used by rk.ifelse",
           "Lua `if` on a condition (always true) is caught on return")
  t.raises(mk(function(s, p)
             return { A = rk.ifelse(s.A, -p.k * s.A, 0) }
           end), "argument 1 %(A%) is a number, not a condition",
           "rk.ifelse with a non-boolean condition raises")
  t.raises(mk(function(s, p)
             return { A = rk.ifelse(1, -p.k * s.A, 0) }
           end), "rk.ifelse: argument 1 must be a condition",
           "rk.ifelse with a number as condition raises")
  t.raises(mk(function(s, p)
             return { A = rk.gt(s.A, 1) * s.A }
           end), "is a condition",
           "arithmetic on a condition raises")
  t.raises(function() rk.piecewise(true, 1) end, "default value",
           "rk.piecewise without a default raises")
end

-- conditions in outputs are evaluated after the solve: the model stays on
-- the exact path; and in a population's traced individual function
do
  local m = rk.model {
    name = "outcond", states = { "A" }, params = { k = 0.2, th = 30 },
    outputs = function(s, p)
      return { above = rk.ifelse(rk.gt(s.A, p.th), 1, 0),
               Ccap = rk.ifelse(rk.gt(s.A, p.th), p.th, s.A) }
    end,
    ode = function(s, p) return { A = -p.k * s.A } end,
  }
  t.ok(m:is_linear(), "conditions in outputs leave the model linear")
  local r = m:simulate { doses = { { time = 0, amount = 100, to = "A" } },
                         times = { 1, 5, 10 } }
  t.is(r.path, "exact", "exact path")
  t.ok(r.above[1] == 1 and r.above[2] == 1 and r.above[3] == 0
       and r.Ccap[1] == 30 and r.Ccap[3] == r.A[3],
       "output conditions evaluated at each time (A = 81.9, 36.8, 13.5)")

  local pop = rk.population {
    model = m, theta = { k = 0.2 },
    covariates = { WT = { unit = "kg", dist = "uniform", min = 40,
                          max = 100 } },
    individual = function(th, eta, cov)
      return { k = th.k * rk.ifelse(rk.gt(cov.WT, 70), 1.5, 1) }
    end,
  }
  local ps = pop:sample { n = 200, seed = 7 }
  local good, both = true, { 0, 0 }
  for _, p in ipairs(ps) do
    local want = p.cov.WT > 70 and 0.3 or 0.2
    good = good and math.abs(p.k / want - 1) < 1e-15
    both[p.cov.WT > 70 and 1 or 2] = both[p.cov.WT > 70 and 1 or 2] + 1
  end
  t.ok(good and both[1] > 0 and both[2] > 0, ("rk.ifelse in a population's "
       .. "individual function: k = 0.3 above 70 kg (%d), 0.2 below (%d)")
       :format(both[1], both[2]))
end

-- ------------------------------------------------------------- outputs
-- A linear model with outputs that are not linear in the states stays on
-- the exact path: outputs are evaluated after the solve.
do
  local V, k = 4, 0.1
  local m = rk.model {
    name = "nlout", states = { "A" }, params = { V = V, k = k },
    outputs = function(s, p, tt)
      return { logC = rk.log(s.A / p.V), CpT = s.A / p.V + tt }
    end,
    ode = function(s, p) return { A = -p.k * s.A } end,
  }
  t.ok(m:is_linear(), "nonlinear outputs leave the model linear")
  local times = { 0, 2, 12, 48 }
  local r = m:simulate { doses = { { time = 0, amount = 50, to = "A" } },
                         times = times }
  t.is(r.path, "exact", "linear model with log(C), C + t outputs: exact path")
  local same, worst = true, 0
  for i, tt in ipairs(times) do
    same = same and r.logC[i] == math.log(r.A[i] / V)
           and r.CpT[i] == r.A[i] / V + tt
    worst = math.max(worst, math.abs(r.A[i] / (50 * math.exp(-k * tt)) - 1))
  end
  t.ok(same, "outputs = their functions of the reported states")
  t.ok(worst < 1e-12, ("states exact to 1e-12 (max %.1e)"):format(worst))
  local rt = m:simulate { doses = { { time = 0, amount = 50, to = "A" } },
                          times = times, tia = { "CpT" }, rtol = 1e-10,
                          atol = 1e-12 }
  t.is(rt.path, "cvodes", "the TIA of a nonlinear output is integrated by "
       .. "CVODES")
  t.is(rt.tia.CpT, 50 / V / k * (1 - math.exp(-k * 48)) + 48 ^ 2 / 2, 1e-8,
       "TIA of C + t = D/(V k)(1 - e^-48k) + 48^2/2")
end

-- ------------------------------------------------------------- DVID
-- Observation records select an output by DVID (or a CMT naming it).
do
  local m = rk.model {
    name = "two_out", states = { "A" }, params = { V = 4, k = 0.1 },
    outputs = function(s, p)
      return { C = s.A / p.V, logC = rk.log(s.A / p.V) }
    end,
    ode = function(s, p) return { A = -p.k * s.A } end,
  }
  local dir = t.scratch()
  local path = dir .. "/dvid.csv"
  t.write_file(path, "ID,TIME,DV,AMT,CMT,DVID\n1,0,.,40,A,.\n"
    .. "1,1,9.0,.,.,1\n1,1,2.2,.,.,2\n1,2,2.1,.,logC,.\n1,3,7,.,A,.\n")
  local d = rk.popest.read(path, m)
  local o = d.observations
  t.is(#o, 4, 0, "four observations")
  t.ok(o[1].output == "C" and o[1].dvid == 1 and o[2].output == "logC"
       and o[3].output == "logC" and o[3].dvid == nil
       and o[4].output == nil and o[4].cmt == "A",
       "DVID 1 -> C, DVID 2 -> logC (m.outputs order), CMT logC -> logC, "
       .. "CMT A -> the state")
  local d2 = rk.popest.read(path, m, { dvid = { "logC", "C" } })
  t.ok(d2.observations[1].output == "logC"
       and d2.observations[2].output == "C", "dvid = {...} sets the order")
  -- predictions per record from one simulation: each record's output
  local r = m:simulate { doses = { { time = 0, amount = 40, to = "A" } },
                         times = { 1, 2, 3 } }
  local pred = r:predict(o)
  local c1, c2, c3 = 10 * math.exp(-0.1), 10 * math.exp(-0.2),
                     10 * math.exp(-0.3)
  t.is(pred[1], c1, 1e-12, "DVID 1 record: C(1)")
  t.is(pred[2], math.log(c1), 1e-12, "DVID 2 record at the same time: "
       .. "log C(1)")
  t.is(pred[3], math.log(c2), 1e-12, "CMT logC record: log C(2)")
  t.is(pred[4], 4 * c3, 1e-12, "CMT A record: the amount A(3)")
  local p2 = r:predict({ { time = 1, dvid = 1 }, { time = 1, dvid = 2 },
                         { time = 3, cmt = 1 }, { time = 2, output = "C" } },
                       { dvid = { "logC", "C" } })
  t.ok(p2[1] == pred[2] and p2[2] == pred[1] and p2[3] == pred[4],
       "r:predict with dvid = {logC, C} and cmt = 1 (state number)")
  t.is(p2[4], c2, 1e-12, "r:predict with output = C")
  t.raises(function() r:predict({ { time = 1.5, dvid = 1 } }) end,
           "obs%[1%]%.time = 1%.5%d* h is not an output time",
           "r:predict at a time not in times raises")
  t.raises(function() r:predict({ { time = 1, dvid = 3 } }) end,
           "obs%[1%]%.dvid = 3, but there are 2 outputs",
           "r:predict with a DVID past the outputs raises")
  t.raises(function() r:predict({ { time = 1 } }) end,
           "obs%[1%] selects nothing", "a record selecting nothing raises")
  t.raises(function() r:predict({ { time = 1, output = "AUC" } }) end,
           "'AUC' is not an output", "unknown output raises")
  t.raises(function() rk.popest.read(path, m, { dvid = { "C", "AUC" } }) end,
           "dvid%[2%]", "unknown output in dvid raises")
  -- a fit predicts one output: a record of another is refused, not fitted
  local pm = rk.popest {
    name = "fit_C", model = m, observe = "C", theta = { lV = 1.4 },
    omega = { lV = 0.1 },
    individual = function(th, eta) return { V = rk.exp(th.lV + eta.lV) } end,
    error = { additive = 0.5 },
  }
  t.raises(function() pm:fit(path) end, "dvid.csv:4: the record observes "
           .. "output 'logC' %(DVID/CMT%), but the fit predicts 'C'",
           "a fit refuses records of another output, naming the line")
  t.write_file(path, "ID,TIME,DV,AMT,CMT,DVID\n1,0,.,40,A,.\n"
    .. "1,1,9.0,.,.,3\n")
  t.raises(function() rk.popest.read(path, m) end,
           "dvid.csv:3: column DVID: 3, but the model has 2 outputs "
           .. "%(DVID 1=C, 2=logC%)", "DVID past the outputs raises, naming "
           .. "the line")
end

-- jacobian = "sparse" | "dense" (CVODES Newton matrix): a saturable
-- two-state model gives the same states and TIA both ways (rtol 1e-9),
-- and a bad value names the field and the choices.
do
  local mm = rk.model {
    name = "mm2", states = { "A", "B" },
    params = { vmax = 50, km = 20, k = 0.1 },
    ode = function(s, p)
      local up = p.vmax * s.A / (p.km + s.A)
      return { A = -up, B = up - p.k * s.B }
    end,
  }
  local o = { doses = { { time = 0, amount = 500, to = "A" } },
    times = { 1, 5, 24 }, tia = { "B" }, rtol = 1e-9, atol = 1e-9 }
  o.jacobian = "sparse"
  local rs = mm:simulate(o)
  o.jacobian = "dense"
  local rd = mm:simulate(o)
  for i = 1, 3 do
    t.is(rs.B[i], rd.B[i], 1e-7, ("jacobian sparse = dense, B at %g h"):format(o.times[i]))
  end
  t.is(rs.tia.B, rd.tia.B, 1e-7, "jacobian sparse = dense, TIA of B")
  t.ok(rs.B[3] > 1, "the model moved activity into B")
  t.ok(rs.jacobian == "sparse", "r.jacobian: sparse when asked")
  t.ok(rd.jacobian == "dense", "r.jacobian: dense when asked")
  o.jacobian = nil
  t.ok(mm:simulate(o).jacobian == "dense", "r.jacobian: auto is dense for 2 states")
  o.jacobian = "banded"
  t.raises(function() return mm:simulate(o) end,
    "field 'jacobian' must be \"auto\", \"dense\" or \"sparse\" (got \"banded\")",
    "an unknown jacobian value raises, naming the choices")
  t.raises(function() return rk.cohort { model = mm, n = 2, jacobian = "klu",
    cycles = 1, interval_h = 24, doses = { { time = 0, amount = 1, to = "A" } },
    tia = { "B" } } end,
    "rk.cohort: field 'jacobian' must be \"auto\", \"dense\" or \"sparse\" (got \"klu\")",
    "rk.cohort: an unknown jacobian value raises")
  local c = rk.cohort { model = mm, n = 3, seed = 2, cv = 0.2, jacobian = "sparse",
    cycles = 1, interval_h = 24, doses = { { time = 0, amount = 500, to = "A" } },
    tia = { "B" } }
  local cd = rk.cohort { model = mm, n = 3, seed = 2, cv = 0.2, jacobian = "dense",
    cycles = 1, interval_h = 24, doses = { { time = 0, amount = 500, to = "A" } },
    tia = { "B" } }
  for i = 1, 3 do
    t.is(c.tia.B[1][i], cd.tia.B[1][i], 1e-5, ("rk.cohort jacobian sparse = dense, patient %d"):format(i))
  end
end

t.done()
