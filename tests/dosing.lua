-- tests/dosing.lua - NONMEM event records in m:simulate: steady state (SS
-- 1 / 2, bolus, infusion, II shorter than the infusion, constant
-- infusion), resets (EVID 3 / 4), EVID 2, a dose at the last output time,
-- pre-dose outputs; every value against a closed form or an explicit
-- superposition of single doses, on both solver paths.
local rk = require "radiokin"
local t = require "radiokin.tap"

local exp = math.exp
local k = 0.1   -- 1/h

local one = rk.model {
  name = "one", states = { "C" }, params = { k = k },
  ode = function(s, p) return { C = -p.k * s.C } end,
}
local ka = 0.9
local oral = rk.model {
  name = "oral", states = { "D", "C" }, params = { ka = ka, k = k },
  ode = function(s, p)
    return { D = -p.ka * s.D, C = p.ka * s.D - p.k * s.C }
  end,
}
-- Michaelis-Menten elimination: only the CVODES path.
local mm = rk.model {
  name = "mm", states = { "C" }, params = { V = 20, K = 50 },
  ode = function(s, p) return { C = -p.V * s.C / (p.K + s.C) } end,
}

-- One zero-order infusion (rate R, duration T) started at 0, seen at s.
local function inf1(R, T, s)
  if s <= 0 then return 0 end
  if s <= T then return R / k * (1 - exp(-k * s)) end
  return R / k * (1 - exp(-k * T)) * exp(-k * (s - T))
end

local tol = { exact = 1e-12, cvodes = 2e-5 }

for _, path in ipairs { "exact", "cvodes" } do
  local eps = tol[path]
  local function sim(m, spec)
    spec.path = path
    return m:simulate(spec)
  end

  -- SS = 1 bolus: C(t) = D e^-kt / (1 - e^-k tau) (Gibaldi & Perrier,
  -- Pharmacokinetics 2nd ed., ch. 3, multiple dosing).
  do
    local D, tau = 100, 12
    local r = sim(one, { doses = { { time = 0, amount = D, to = "C", ss = 1,
                                     ii = tau } }, times = { 0, 5, 12 } })
    for i, tt in ipairs { 0, 5, 12 } do
      t.is(r.C[i], D * exp(-k * tt) / (1 - exp(-k * tau)), eps,
           path .. ": SS=1 bolus C(" .. tt .. ") = D e^-kt/(1-e^-k tau)")
    end
  end

  -- SS = 1 infusion shorter than tau, record at t = 2 with ADDL 1.
  do
    local D, R, tau, T0 = 100, 50, 12, 2
    local Tin = D / R
    local c0 = R / k * (1 - exp(-k * Tin)) * exp(-k * (tau - Tin))
               / (1 - exp(-k * tau))
    local times = { 2, 3, 4, 10, 14, 15 }
    local r = sim(one, { doses = { { time = T0, amount = D, rate = R,
                                     to = "C", ss = 1, ii = tau, addl = 1 } },
                         times = times })
    for i, tt in ipairs(times) do
      local s = (tt - T0) % tau
      local want = c0 * exp(-k * s) + inf1(R, Tin, s)
      t.is(r.C[i], want, eps, ("%s: SS=1 infusion C(%g) = C0 e^-ks + "
           .. "infusion response (C0 pre-dose steady state)"):format(path, tt))
    end
  end

  -- SS = 1 infusion LONGER than tau (T = 5 h, tau = 2 h): the infusions of
  -- earlier doses still running at the record go on to their end; against
  -- the superposition of 3000 single infusions.
  do
    local D, R, tau = 100, 20, 2
    local Tin = D / R
    local times = { 0, 0.5, 1, 1.7, 2, 3.1, 4, 6, 9, 20 }
    local r = sim(one, { doses = { { time = 0, amount = D, rate = R,
                                     to = "C", ss = 1, ii = tau } },
                         times = times, t1 = 20 })
    local worst = 0
    for i, tt in ipairs(times) do
      local want = 0
      for j = 0, 3000 do want = want + inf1(R, Tin, tt + j * tau) end
      worst = math.max(worst, math.abs(r.C[i] - want) / want)
    end
    t.ok(worst <= math.max(eps, 1e-11), ("%s: SS=1, II 2 h shorter than "
         .. "the 5 h infusion = superposition of 3001 infusions (max rel "
         .. "%.2g)"):format(path, worst))
  end

  -- An infusion lasting exactly 2 tau (4 h, tau 2 h): one earlier dose is
  -- still running at the record, the one 2 tau back has just ended.
  do
    local D, R, tau = 40, 10, 2
    local times = { 0, 0.5, 1.5, 2, 3 }
    local r = sim(one, { doses = { { time = 0, amount = D, rate = R,
                                     to = "C", ss = 1, ii = tau } },
                         times = times, t1 = 3 })
    local worst = 0
    for i, tt in ipairs(times) do
      local want = 0
      for j = 0, 3000 do want = want + inf1(R, D / R, tt + j * tau) end
      worst = math.max(worst, math.abs(r.C[i] - want) / want)
    end
    t.ok(worst <= math.max(eps, 1e-11), ("%s: SS=1, infusion of exactly 2 "
         .. "II = superposition (max rel %.2g)"):format(path, worst))
  end

  -- Constant-infusion steady state (SS=1, AMT 0, RATE, II 0): C = R/k at
  -- the record; the infusion ends there.
  do
    local r = sim(one, { doses = { { time = 1, rate = 20, to = "C",
                                     ss = 1 } }, times = { 1, 4 } })
    t.is(r.C[1], 20 / k, eps, path .. ": constant-infusion SS C = R/k")
    t.is(r.C[2], 20 / k * exp(-3 * k), eps,
         path .. ": ... and that infusion ends at the record")
  end

  -- SS = 1 cancels an earlier record's pending ADDL doses; SS = 2 adds
  -- the steady state to what is there.
  do
    local D, tau = 100, 12
    local css = D / (1 - exp(-k * tau))
    local r = sim(one, { doses = {
        { time = 0, amount = 500, to = "C", ii = 6, addl = 10 },
        { time = 3, amount = D, to = "C", ss = 1, ii = tau } },
      times = { 3, 9 } })
    t.is(r.C[1], css, eps, path .. ": SS=1 resets the amounts")
    t.is(r.C[2], css * exp(-6 * k), eps,
         path .. ": SS=1 cancels the earlier record's ADDL doses")
    r = sim(one, { doses = {
        { time = 0, amount = 500, to = "C" },
        { time = 3, amount = D, to = "C", ss = 2, ii = tau } },
      times = { 3, 9 } })
    t.is(r.C[1], 500 * exp(-3 * k) + css, eps,
         path .. ": SS=2 adds the steady state to the amounts")
  end

  -- Oral SS = 1: C(t) = D ka/(ka-k) [e^-kt/(1-e^-k tau) -
  -- e^-ka t/(1-e^-ka tau)] (the Bateman function summed over doses).
  do
    local D, tau = 100, 8
    local times = { 0, 1, 3, 8 }
    local r = sim(oral, { doses = { { time = 0, amount = D, to = "D",
                                      ss = 1, ii = tau } }, times = times })
    for i, tt in ipairs(times) do
      local s = tt % tau
      local want = D * ka / (ka - k) * (exp(-k * s) / (1 - exp(-k * tau))
                   - exp(-ka * s) / (1 - exp(-ka * tau)))
      t.is(r.C[i], want, math.max(eps, 1e-12),
           ("%s: oral SS=1 C(%g) = summed Bateman"):format(path, tt))
    end
  end

  -- Reset and re-dose (EVID 4) equals a fresh subject.
  do
    local doses = { { time = 0, amount = 300, rate = 30, to = "D" },
                    { time = 4, amount = 80, to = "C" },
                    { time = 20, amount = 100, to = "D", evid = 4 } }
    local r = sim(oral, { doses = doses, times = { 20, 23, 30 } })
    local f = sim(oral, { doses = { { time = 0, amount = 100, to = "D" } },
                          times = { 0, 3, 10 } })
    for i = 1, 3 do
      t.is(r.C[i], f.C[i], math.max(eps, 1e-13),
           path .. ": EVID 4 = a fresh subject, C at +" .. ({0, 3, 10})[i])
      t.is(r.D[i], f.D[i], math.max(eps, 1e-13),
           path .. ": EVID 4 = a fresh subject, D at +" .. ({0, 3, 10})[i])
    end
  end

  -- EVID 3 cancels an infusion in progress; its ADDL copies still come.
  do
    local r = sim(one, { doses = {
        { time = 0, amount = 100, rate = 10, to = "C", ii = 24, addl = 1 },
        { time = 5, evid = 3 } }, times = { 5, 8, 24, 26 } })
    t.is(r.C[1], 0, 0, path .. ": EVID 3 sets the amount to 0")
    t.is(r.C[2], 0, 0, path .. ": ... and stops the running infusion")
    t.is(r.C[3], 0, 0, path .. ": ... nothing until the ADDL copy")
    t.is(r.C[4], inf1(10, 10, 2), eps,
         path .. ": the ADDL copy at 24 h is given")
  end

  -- An implied dose (ADDL copy) at the time of a reset record is given
  -- before the record, so the reset removes it.
  do
    local r = sim(one, { doses = {
        { time = 0, amount = 100, to = "C", ii = 10, addl = 1 },
        { time = 0, amount = 50, rate = 10, to = "C", ii = 10, addl = 1 },
        { time = 10, evid = 3 } }, times = { 10, 12 } })
    t.is(r.C[1], 0, 0, path .. ": ADDL copies at the reset time are reset")
    t.is(r.C[2], 0, 0, path .. ": ... also the infusion copy")
  end

  -- EVID 2 changes nothing.
  do
    local a = sim(one, { doses = { { time = 0, amount = 100, to = "C" },
                                   { time = 2, evid = 2 } },
                         times = { 1, 3 } })
    t.is(a.C[2], 100 * exp(-3 * k), eps, path .. ": EVID 2 changes nothing")
  end

  -- A dose at the last output time is seen by that output; pre_dose
  -- reports the state before it.
  do
    local doses = { { time = 0, amount = 100, to = "C" },
                    { time = 5, amount = 100, to = "C" } }
    local r = sim(one, { doses = doses, times = { 0, 5 } })
    t.is(r.C[2], 100 + 100 * exp(-5 * k), eps,
         path .. ": a dose at the last output time is not dropped")
    t.is(r.y_end.C, 100 + 100 * exp(-5 * k), eps, path .. ": ... nor in y_end")
    r = sim(one, { doses = doses, times = { 0, 5, 6 }, pre_dose = true })
    t.is(r.C[1], 0, 0, path .. ": pre_dose: output at the first dose is 0")
    t.is(r.C[2], 100 * exp(-5 * k), eps, path .. ": pre_dose at 5 h")
    t.is(r.C[3], (100 * exp(-5 * k) + 100) * exp(-k), eps,
         path .. ": pre_dose: the dose is given after the output")
  end
end

-- ------------------------------------------------ model dose modifiers
-- Oral model with bioavailability, lag time, modelled rate and duration
-- (NONMEM F1, ALAG1, R2, D1 as rk.model fields).
local F1, tlag, Rm, Dm = 0.6, 1.5, 20, 4
local lagged = rk.model {
  name = "lagged", states = { "D", "C" },
  params = { ka = ka, k = k, F1 = F1, tlag = tlag, R = Rm, Dur = Dm },
  ode = function(s, p)
    return { D = -p.ka * s.D, C = p.ka * s.D - p.k * s.C }
  end,
  bioav = function(p) return { D = p.F1 } end,
  lag = function(p) return { D = p.tlag } end,
  rate = function(p) return { C = p.R } end,
  duration = function(p) return { D = p.Dur } end,
}
-- The Bateman function of a unit dose into D, s h after it is given.
local function bateman(s)
  if s <= 0 then return 0 end
  return ka / (ka - k) * (exp(-k * s) - exp(-ka * s))
end
-- One infusion into D (rate R for T h) seen s h after its start, in C.
local function oral_inf(R, T, s)
  local function g(u)   -- response to a unit-rate infusion running u h
    if u <= 0 then return 0 end
    return ka / (ka - k) * ((1 - exp(-k * u)) / k - (1 - exp(-ka * u)) / ka)
  end
  return R * (g(s) - g(s - T))
end

for _, path in ipairs { "exact", "cvodes" } do
  local eps = math.max(tol[path], 1e-12)
  local function sim(spec)
    spec.path = path
    return lagged:simulate(spec)
  end

  -- Lag + F: the Bateman function scaled by F and shifted by ALAG; ADDL
  -- copies get the lag too; the record's own row shows no dose yet.
  do
    local times = { 0, 1, 1.5, 3, 10, 13, 20 }
    local r = sim { doses = { { time = 0, amount = 100, to = "D", ii = 12,
                                addl = 1 } }, times = times }
    for i, tt in ipairs(times) do
      local want = F1 * 100 * (bateman(tt - tlag) + bateman(tt - 12 - tlag))
      t.is(r.C[i], want, eps, ("%s: F and ALAG: C(%g) = F D shifted "
           .. "Bateman (ADDL copy lagged too)"):format(path, tt))
    end
    t.is(r.D[1], 0, 0, path .. ": the lagged dose is not in its own row")
  end

  -- F and ALAG apply only to doses into their compartment.
  do
    local r = sim { doses = { { time = 0, amount = 100, to = "C" } },
                    times = { 0, 2 } }
    t.is(r.C[1], 100, eps, path .. ": dose into C: no F, no lag")
    t.is(r.C[2], 100 * exp(-2 * k), eps, path .. ": ... decays from 0 h")
  end

  -- RATE -1 takes R from the model (duration F AMT / R; no F on C);
  -- RATE -2 takes D (rate F AMT / D) and equals the infusion given with
  -- that rate; a given RATE into D keeps the rate, F sets the duration.
  do
    local r = sim { doses = { { time = 0, amount = 100, rate = -1,
                                to = "C" } }, times = { 3, 8 } }
    t.is(r.C[1], inf1(Rm, 100 / Rm, 3), eps, path .. ": RATE=-1: R from "
         .. "the model, during the infusion")
    t.is(r.C[2], inf1(Rm, 100 / Rm, 8), eps, path .. ": RATE=-1: after it")
    local a = sim { doses = { { time = 0, amount = 100, rate = -2,
                                to = "D" } }, times = { 2, 4, 9 } }
    local b = sim { doses = { { time = 0, amount = 100,
                                rate = F1 * 100 / Dm, to = "D" } },
                    times = { 2, 4, 9 } }
    for i, tt in ipairs { 2, 4, 9 } do
      t.is(a.C[i], b.C[i], eps, ("%s: RATE=-2 = the infusion of rate "
           .. "F AMT/D (C at %g h)"):format(path, tt))
      t.is(a.C[i], oral_inf(F1 * 100 / Dm, Dm, tt - tlag), eps,
           ("%s: RATE=-2 = lagged infusion closed form at %g h")
           :format(path, tt))
    end
    local g = sim { doses = { { time = 0, amount = 100, rate = 10,
                                to = "D" } }, times = { 5, 9 } }
    t.is(g.C[1], oral_inf(10, F1 * 100 / 10, 5 - tlag), eps,
         path .. ": given RATE: F scales the duration (F AMT / RATE)")
    t.is(g.C[2], oral_inf(10, F1 * 100 / 10, 9 - tlag), eps,
         path .. ": ... not the rate (after the end)")
  end

  -- Steady state with lag: earlier doses at TIME + ALAG - k II, the
  -- record's own at TIME + ALAG; sum of 3000 shifted Batemans.
  do
    local tau, T0 = 8, 2
    local times = { 2, 3, 3.5, 6, 12, 18 }
    local r = sim { doses = { { time = T0, amount = 100, to = "D", ss = 1,
                                ii = tau, addl = 1 } }, times = times }
    local worst = 0
    for i, tt in ipairs(times) do
      local want = 0
      for j = -1, 3000 do
        want = want + F1 * 100 * bateman(tt - (T0 + tlag - j * tau))
      end
      worst = math.max(worst, math.abs(r.C[i] - want) / want)
    end
    t.ok(worst <= math.max(eps, 1e-10), ("%s: SS=1 with lag and F = "
         .. "superposition of lagged doses (max rel %.2g)"):format(path, worst))
    -- an infusion SS with lag, II (2.5 h) shorter than the duration (4
    -- h): two earlier doses (given 1 and 3.5 h before) run at the record,
    -- without the lag only one would
    tau = 2.5
    r = sim { doses = { { time = T0, amount = 100, rate = -2, to = "D",
                          ss = 1, ii = tau } }, times = times, t1 = 18 }
    worst = 0
    for i, tt in ipairs(times) do
      local want = 0
      for j = 0, 4000 do
        want = want + oral_inf(F1 * 100 / Dm, Dm, tt - (T0 + tlag - j * tau))
      end
      worst = math.max(worst, math.abs(r.C[i] - want) / want)
    end
    t.ok(worst <= math.max(eps, 1e-10), ("%s: SS=1 infusion (RATE=-2) with "
         .. "lag, II < duration = superposition (max rel %.2g)")
         :format(path, worst))
  end

  -- RATE -1 with F on that compartment: duration F AMT / R.
  do
    local rm = rk.model {
      name = "rm", states = { "C" }, params = { k = k, F = 0.5, R = Rm },
      ode = function(s, p) return { C = -p.k * s.C } end,
      bioav = function(p) return { C = p.F } end,
      rate = function(p) return { C = p.R } end,
    }
    local r = rm:simulate { doses = { { time = 0, amount = 100, rate = -1,
                                        to = "C" } }, times = { 2, 6 },
                            path = path }
    t.is(r.C[1], inf1(Rm, 0.5 * 100 / Rm, 2), eps,
         path .. ": RATE=-1 with F: during the infusion")
    t.is(r.C[2], inf1(Rm, 0.5 * 100 / Rm, 6), eps,
         path .. ": RATE=-1 with F: duration F AMT / R")
  end

  -- TIA to infinity needs every dose before t1: a lagged one after it
  -- counts as late.
  if path == "exact" then
    local r = sim { doses = { { time = 0, amount = 100, to = "D" } },
                    t1 = 1, tia = { "C" } }
    t.ok(r.tia_inf == nil, "tia_inf: a dose lagged past t1 is late")
    t.like(r.tia_inf_error, "needs every dose", "... and says so")
  end

  -- Constant-infusion steady state at the model's rate (RATE -1, AMT 0,
  -- II 0): C = R / k in C (F does not apply: there is no amount).
  do
    local r = sim { doses = { { time = 0, rate = -1, to = "C", ss = 1 } },
                    times = { 0, 2 } }
    t.is(r.C[1], Rm / k, eps, path .. ": SS=1 constant infusion, RATE=-1: "
         .. "C = R/k")
    t.is(r.C[2], Rm / k * exp(-2 * k), eps, path .. ": ... ending there")
  end

  -- A reset cancels a lagged dose still pending.
  do
    local r = sim { doses = { { time = 0, amount = 100, to = "D" },
                              { time = 1, evid = 3 } }, times = { 3 } }
    t.is(r.C[1], 0, 0, path .. ": EVID 3 cancels the pending lagged dose")
  end
end

-- Bad input for the modifiers.
do
  t.raises(function()
    lagged:simulate { doses = { { time = 0, amount = 1, to = "D" } },
                      times = { 1 }, params = { tlag = -1 } }
  end, "lag time (ALAG) of state 'D' is -1 for these parameters",
  "negative lag")
  t.raises(function()
    lagged:simulate { doses = { { time = 0, amount = 1, to = "D" } },
                      times = { 1 }, params = { F1 = -0.5 } }
  end, "bioavailability (F) of state 'D' is -0.5", "negative F")
  t.raises(function()
    lagged:simulate { doses = { { time = 0, amount = 1, rate = -1,
                                  to = "D" } }, times = { 1 } }
  end, "rate = -1 (rate from the model), but the model defines no rate for "
     .. "compartment 1", "RATE=-1 without a model rate")
  t.raises(function()
    one:simulate { doses = { { time = 0, amount = 1, rate = -2,
                               to = "C" } }, times = { 1 } }
  end, "defines no duration for compartment 1", "RATE=-2 without a model")
  t.raises(function()
    lagged:simulate { doses = { { time = 0, amount = 1, to = "D", ss = 1,
                                  ii = 1 } }, times = { 1 } }
  end, "steady state with lag time 1.5 h >= ii = 1 h is not supported",
  "SS with lag >= II")
  t.raises(function()
    lagged:simulate { doses = { { time = 0, amount = 1, rate = -3,
                                  to = "D" } }, times = { 1 } }
  end, "rate = -3 is invalid", "RATE -3")
  local ok = pcall(rk.model, {
    name = "bad", states = { "A" }, params = { k = 1 },
    ode = function(s, p) return { A = -p.k * s.A } end,
    lag = function(p) return { B = p.k } end })
  t.raises(function()
    rk.model { name = "bad", states = { "A" }, params = { k = 1 },
               ode = function(s, p) return { A = -p.k * s.A } end,
               lag = function(p) return { B = p.k } end }
  end, "lag returns a value for unknown state 'B'", "lag of an unknown state")
  t.ok(not ok, "rk.model fails for it")
  t.raises(function()
    rk.model { name = "bad", states = { "A" }, params = { k = 1 },
               ode = function(s, p) return { A = -p.k * s.A } end,
               bioav = 0.5 }
  end, "field 'bioav' must be a function (p)", "bioav not a function")
end

-- Nonlinear model at steady state: only CVODES. The Newton solution is a
-- fixed point: one more interval of explicit dosing reproduces it, and
-- 200 explicit doses from zero converge to it.
do
  local D, tau = 100, 6
  local r = mm:simulate { doses = { { time = 0, amount = D, to = "C", ss = 1,
                                      ii = tau, addl = 1 } },
                          times = { 0, 6 } }
  t.is(r.path, "cvodes", "Michaelis-Menten model on CVODES")
  t.is(r.C[2], r.C[1], 1e-5, "MM SS=1: one more interval returns to it")
  local e = mm:simulate { doses = { { time = 0, amount = D, to = "C",
                                      ii = tau, addl = 200 } },
                          times = { 1200 } }
  t.is(r.C[1], e.C[1], 1e-5, "MM SS=1 = 201 explicit doses at 1200 h")
end

-- Bad input: clear messages naming the dose and field.
do
  local function bad(d, pat, what)
    t.raises(function()
      one:simulate { doses = { d }, times = { 0, 1 } }
    end, pat, what)
  end
  bad({ time = 0, amount = 100, to = "C", ss = 1 },
      "doses[1]: dose record 1: ss = 1 with ii = 0 needs ii > 0",
      "SS with II = 0 and a bolus")
  bad({ time = 0, amount = 100, to = "C", ss = 3, ii = 12 },
      "doses[1]: field 'ss' must be an integer in [0, 2] (got 3)", "SS = 3")
  bad({ time = 0, to = "C", evid = 4 }, "doses[1]: field 'amount'",
      "EVID 4 without AMT")
  bad({ time = 0, amount = 0, to = "C", evid = 4 },
      "evid = 4 (reset and dose) needs an amount > 0", "EVID 4 with AMT 0")
  bad({ time = 0, amount = 5, evid = 3 },
      "evid = 3 gives no dose, but amount = 5", "EVID 3 with an amount")
  bad({ time = 0, amount = 5, to = "C", evid = 5 },
      "field 'evid' must be an integer in [1, 4] (got 5)", "EVID 5")
  bad({ time = 0, amount = 5, to = "C", addl = 2 },
      "addl = 2 needs ii > 0", "ADDL without II")
  bad({ time = 0, to = "C", ss = 2, ii = 12, evid = 3 },
      "ss = 2 needs a dose record (evid 1 or 4), got evid = 3",
      "SS with EVID 3")
  t.raises(function()
    one:simulate { doses = { { time = 0, amount = 1, to = "C", ss = 1,
                               ii = 12 } }, times = { 0 }, t1 = 1,
                   params = { k = 0 } }
  end, "has no steady state", "SS of a model that never decays")
  -- CVODES: elimination saturating at 5 /h, below the 100 per 6 h given:
  -- the amount grows without bound, so there is no steady state.
  local sat = rk.model {
    name = "sat", states = { "C" }, params = { V = 5, K = 10 },
    ode = function(s, p)
      return { C = -p.V * s.C * s.C / (p.K * p.K + s.C * s.C) }
    end,
  }
  t.raises(function()
    sat:simulate { doses = { { time = 0, amount = 100, to = "C", ss = 1,
                               ii = 6 } }, times = { 0 }, t1 = 1 }
  end, "model 'sat' has no steady state",
  "CVODES: SS of a saturable elimination below the dosing rate")
end

-- Steady state with a lag on a model with time in its equations
-- (CVODES): A' = -(k0 + c T) A, K(T) = k0 T + c T^2 / 2. The earlier
-- doses were given at TIME + ALAG - j II (NONMEM), so from the last one
-- ts = TIME + ALAG - II: pre-dose x = D q / (1 - q), q = e^-(K(ts + II) -
-- K(ts)), and A(TIME) = (x + D) e^-(K(TIME) - K(ts)). Time-dependence
-- makes the phase of the earlier doses matter (an autonomous model could
-- not tell ts from TIME - II).
do
  local k0, c, L, II, T0, D = 0.1, 0.01, 3, 12, 10, 100
  local tv = rk.model {
    name = "tdep", states = { "A" }, params = { k0 = k0, c = c, L = L },
    ode = function(s, p, tt) return { A = -(p.k0 + p.c * tt) * s.A } end,
    lag = function(p) return { A = p.L } end,
  }
  local function K(x) return k0 * x + c * x * x / 2 end
  local ts = T0 + L - II
  local q = exp(-(K(ts + II) - K(ts)))
  local x = D * q / (1 - q)
  local want = (x + D) * exp(-(K(T0) - K(ts)))
  local r = tv:simulate { doses = { { time = T0, amount = D, to = "A", ss = 1, ii = II } },
                          times = { T0, T0 + 1 }, t0 = T0, rtol = 1e-10, atol = 1e-12 }
  t.is(r.A[1], want, 1e-6 * want,
       "SS=1 with ALAG on a time-dependent model: earlier doses at TIME + ALAG - k II")
end

t.done()
