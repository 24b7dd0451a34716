-- tests/regimen.lua - rk.regimen through the Lua API: each built-in rule on
-- a one-patient linear model against hand calculations, a Lua rule that
-- reproduces the empiric rule, zero imaging error against decisions from
-- the truth, the optimiser against the rules, the model-file form, and
-- bad input (failing / NaN / negative / never-stopping rules, unknown
-- regions, limits in the wrong unit).
local rk = require "radiokin"
local t = require "radiokin.tap"

local srcdir = os.getenv("RADIOKIN_SRCDIR") or "."
local lu = rk.nuclide "Lu-177"
local lam = lu.lambda

-- B -> K, B -> T, B -> out; K and T wash out to B. The kidney and tumour
-- curves are exactly uptake-washout, so the multi-point fit of the imaging
-- chain is exact for this model. Rates /h.
local m = rk.model {
  name = "uw", nuclide = "Lu-177", states = { "B", "K", "T" },
  params = { kK = 0.02, kT = 0.01, kout = 0.3, kKo = 0.01, kTo = 0.005 },
  ode = function(s, p)
    return {
      B = -(p.kK + p.kT + p.kout) * s.B,
      K = p.kK * s.B - p.kKo * s.K,
      T = p.kT * s.B - p.kTo * s.T,
    }
  end,
}
-- 20,000 h between cycles: activity left at the next cycle is
-- e^-(kKo + lambda) 20000 ~ 1e-124 of the peak, so cycles do not overlap
-- and each cycle's dose is the 0..inf integral.
local T_H = 20000
local regions = {
  kidney = { activity = "K", mass_kg = 0.3, alpha_beta_Gy = 2.6,
             t_rep_h = 2.8 },
  tumour = { activity = "T", mass_kg = 0.05, alpha_beta_Gy = 10,
             t_rep_h = 1.5 },
}
local one = { {} }                      -- the typical patient

local function run(o)
  o.model = o.model or m
  o.patients = o.patients or one
  o.regions = o.regions or regions
  o.inject = o.inject or "B"
  o.interval_h = o.interval_h or T_H
  o.progress = false
  return rk.regimen(o)
end

-- Kidney dose of one cycle of a GBq, closed form: K(t) = A kK / (kB -
-- kKo) (e^-(kKo+lam) t - e^-(kB+lam) t), integral A kK / ((kKo + lam)
-- (kB + lam)), kB = kK + kT + kout; S = j_per_mbqh / mass (local
-- deposition, MIRD schema).
local p = { kK = 0.02, kT = 0.01, kout = 0.3, kKo = 0.01 }
local kB = p.kK + p.kT + p.kout
local function kidney_gy(a)
  return 1000 * a * p.kK / ((p.kKo + lam) * (kB + lam)) * lu.j_per_mbqh / 0.3
end

-- ------------------------------------------------------------ empiric
do
  local r = run { rule = "empiric", activity_gbq = 7.4, n_cycles = 4 }
  t.is(r.cycles[1], 4, 0, "empiric: 4 cycles")
  local same = true
  for c = 1, 4 do same = same and r.activity_gbq[1][c] == 7.4 end
  t.ok(same, "empiric: 7.4 GBq every cycle")
  t.is(r.dose.kidney[1][1], kidney_gy(7.4), 1e-6,
       "empiric: cycle-1 kidney dose = closed-form uptake-washout integral "
         .. "(rel 1e-6)")
  t.is(r.cum_dose.kidney[1], 4 * kidney_gy(7.4), 1e-6,
       "empiric: cumulative kidney dose = 4 x one cycle (no overlap; rel 1e-6)")
  local b = r.bed.kidney[1][1]
  local d, g = r.dose.kidney[1][1], r.g.kidney[1][1]
  t.is(b, d * (1 + g * d / 2.6), 1e-12,
       "empiric: BED = D (1 + G D / (alpha/beta)) (LQ, docs/sources.md; rel 1e-12)")
  t.ok(r.route == "eigen" and r.rule == "empiric" and r.imaging == "truth",
       "empiric: eigen route, decisions from the truth")
end

-- ------------------------------------------------------------ PP-PRRT
do
  local r = run { rule = "pp-prrt", activity_gbq = 3, n_cycles = 4,
                  target_gy = 23 }
  local a, dk = r.activity_gbq[1], r.dose.kidney[1]
  t.is(r.cycles[1], 4, 0, "pp-prrt: 4 planned cycles given")
  t.is(a[1], 3, 0, "pp-prrt: cycle 1 at activity_gbq (no pre-therapy "
       .. "estimate)")
  -- by hand: the rest of the target over the cycles left, at the dose
  -- per GBq the previous cycle showed
  local ok, cum = true, 0
  for c = 1, 3 do
    cum = cum + dk[c]
    local want = (23 - cum) / (4 - c) / (dk[c] / a[c])
    ok = ok and math.abs(a[c + 1] - want) <= 1e-9 * want
  end
  t.ok(ok, "pp-prrt: each activity = remaining dose / cycles left / "
       .. "dose per GBq (by hand, rel 1e-9)")
  t.is(r.cum_dose.kidney[1], 23, 1e-6,
       "pp-prrt: cumulative kidney dose lands on 23 Gy (rel 1e-6, "
         .. "unconstrained)")
  local rb = run { rule = "pp-prrt", activity_gbq = 3, n_cycles = 4,
                   target_gy = 23, max_gbq = 4 }
  local capped = true
  for c = 1, rb.cycles[1] do
    capped = capped and rb.activity_gbq[1][c] <= 4
  end
  t.ok(capped and rb.cum_dose.kidney[1] < 23,
       "pp-prrt: max_gbq caps every cycle (the target is then missed)")
end

-- ------------------------------------------------------------ ILUMINET
do
  local L = 12                         -- low enough to need a cut cycle
  local r = run { rule = "iluminet", activity_gbq = 7.4, bed_limit_gy = L,
                  max_cycles = 10 }
  local a, n = r.activity_gbq[1], r.cycles[1]
  local d1, g1 = r.dose.kidney[1][1], r.g.kidney[1][1]
  local b1 = d1 * (1 + g1 * d1 / 2.6)
  local full = math.floor(L / b1)
  -- last cycle: a d (1 + G a d / ab) = L - full b1, d = d1 / 7.4
  local rem, per = L - full * b1, d1 / 7.4
  local x = (-1 + math.sqrt(1 + 4 * g1 / 2.6 * rem)) / (2 * g1 / 2.6)
  t.is(n, full + 1, 0, ("iluminet: %d full cycles then a reduced one (by "
       .. "hand)"):format(full))
  t.is(a[n], x / per, 1e-9, "iluminet: reduced cycle activity from the "
       .. "BED budget quadratic (by hand, rel 1e-9)")
  t.ok(r.cum_bed.kidney[1] <= L * (1 + 1e-9),
       "iluminet: cumulative kidney BED never exceeds the limit (rel 1e-9)")
  t.is(r.cum_bed.kidney[1], L, 1e-9, "iluminet: and uses it up (rel 1e-9)")
  local r2 = run { rule = "iluminet", activity_gbq = 7.4, bed_limit_gy = L,
                   max_cycles = 10, reduce_last = false }
  t.is(r2.cycles[1], full + 1, 0, "iluminet without reduction: the "
       .. "crossing cycle is given in full")
  t.ok(r2.cum_bed.kidney[1] > L, "iluminet without reduction: the limit "
       .. "is then exceeded")
end

-- ------------------------------------------------------------ Lua rules
do
  local e = run { rule = "empiric", activity_gbq = 7.4, n_cycles = 4 }
  local seen = {}
  local f = run { rule = function(k)
                    seen[#seen + 1] = k
                    if k.given < 4 then return 7.4 end
                  end }
  local same = f.cycles[1] == 4
  for c = 1, 4 do
    same = same and f.activity_gbq[1][c] == e.activity_gbq[1][c]
      and f.dose.kidney[1][c] == e.dose.kidney[1][c]
      and f.bed.tumour[1][c] == e.bed.tumour[1][c]
  end
  t.ok(same, "a Lua rule reproduces the empiric rule exactly (==)")
  t.is(#seen, 5, 0, "the rule is asked before each cycle and once more")
  local k3 = seen[3]
  t.ok(k3.given == 2 and k3.cycle == 3 and k3.id == 1 and k3.index == 1
       and #k3.activity_gbq == 2 and #k3.dose.kidney == 2,
       "known: given, cycle, id, index, per-cycle arrays")
  t.is(k3.cum_dose.kidney, e.dose.kidney[1][1] + e.dose.kidney[1][2],
       1e-12, "known.cum_dose = sum of the cycles so far (rel 1e-12)")
  t.is(k3.cum_bed.tumour, e.bed.tumour[1][1] + e.bed.tumour[1][2], 1e-12,
       "known.cum_bed likewise")
  -- a covariate-driven rule: activity from the patient's weight
  local pts = { { id = "A", cov = { weight_kg = 50 } },
                { id = "B", cov = { weight_kg = 100 } } }
  local w = run { patients = pts, rule = function(k)
                    if k.given < 2 then return 0.1 * k.cov.weight_kg end
                  end }
  t.ok(w.activity_gbq[1][2] == 5 and w.activity_gbq[2][1] == 10
       and w.ids[2] == "B", "the rule sees each patient's covariates and id")
end

-- ------------------------------------------------------------ imaging
do
  local truth = run { rule = "pp-prrt", activity_gbq = 3, target_gy = 23 }
  local img = run { rule = "pp-prrt", activity_gbq = 3, target_gy = 23,
                    imaging = { times_h = { 4, 24, 72, 168 }, cv = 0,
                                method = "fit" } }
  local same = img.cycles[1] == truth.cycles[1]
  local worst = 0
  for c = 1, truth.cycles[1] do
    worst = math.max(worst, math.abs(img.activity_gbq[1][c]
                                     / truth.activity_gbq[1][c] - 1))
  end
  t.ok(same and worst < 1e-5, ("zero imaging error: decisions equal the "
       .. "truth's (uptake-washout fit exact for the model; worst rel "
       .. "%.1e < 1e-5)"):format(worst))
  t.is(img.est.dose.kidney[1][1], truth.dose.kidney[1][1], 1e-5,
       "zero imaging error: estimated dose = true dose (rel 1e-5)")
  t.is(img.imaging, "fit", 0, "result says which imaging method decided")
  local noisy = run { rule = "pp-prrt", activity_gbq = 3, target_gy = 23,
                      imaging = { times_h = { 4, 24, 72 }, cv = 0.2,
                                  seed = 7 } }
  t.ok(noisy.est.dose.kidney[1][1] ~= noisy.dose.kidney[1][1]
       and math.abs(noisy.cum_dose.kidney[1] - 23) > 1e-3,
       "20 % imaging error: estimates differ from the truth, and the true "
         .. "cumulative dose misses the target")
  local noisy2 = run { rule = "pp-prrt", activity_gbq = 3, target_gy = 23,
                       imaging = { times_h = { 4, 24, 72 }, cv = 0.2,
                                   seed = 7 } }
  t.ok(noisy2.activity_gbq[1][4] == noisy.activity_gbq[1][4],
       "same imaging seed, same decisions")
end

-- ------------------------------------------------------------ optimiser
do
  -- 12 patients around the typical one (deterministic spread)
  local pts = {}
  for i = 1, 12 do
    pts[i] = { id = "P" .. i, kK = 0.004 + 0.001 * i,
               kT = 0.004 + 0.0015 * ((i * 7) % 12),
               kKo = 0.006 + 0.001 * (i % 5) }
  end
  local common = { patients = pts, activity_gbq = 7.4, n_cycles = 4,
                   target_gy = 23, bed_limit_gy = 27, max_gbq = 20,
                   max_cycles = 6 }
  local function with(rule, extra)
    local o = {}
    for k, v in pairs(common) do o[k] = v end
    for k, v in pairs(extra or {}) do o[k] = v end
    o.rule = rule
    return run(o)
  end
  local opt = with("optimised", { dose_limit_gy = 40 })
  local sat, noworse = true, true
  for i = 1, 12 do
    sat = sat and opt.cum_bed.kidney[i] <= 27 * (1 + 1e-9)
      and opt.cum_dose.kidney[i] <= 40 * (1 + 1e-9)
    for _, a in ipairs(opt.activity_gbq[i]) do
      sat = sat and a >= 0 and a <= 20
    end
  end
  t.ok(sat, "optimiser: every plan within kidney BED 27 Gy, kidney dose "
       .. "40 Gy and [0, 20] GBq per cycle (rel 1e-9)")
  for _, rule in ipairs { "empiric", "pp-prrt", "iluminet" } do
    local r = with(rule)
    local n_ok = 0
    for i = 1, 12 do
      if r.cum_bed.kidney[i] <= 27 and r.cum_dose.kidney[i] <= 40 then
        n_ok = n_ok + 1
        noworse = noworse and opt.cum_bed.tumour[i]
          >= r.cum_bed.tumour[i] * (1 - 1e-9)
      end
    end
    t.ok(noworse and n_ok > 0, ("optimiser: tumour BED >= %s's for each of "
         .. "the %d patients its plan keeps within the limits"):format(rule,
         n_ok))
  end
  t.raises(function() with("optimised", { max_gbq = false }) end,
           "max_gbq", "optimiser without max_gbq refused")
end

-- The augmented route (path = "cvodes") with sensitivity gradients
-- (SLSQP, the default) and without (COBYLA): the same optimum.
do
  local o = { patients = { {}, { kK = 0.03, kKo = 0.02 } }, max_gbq = 20,
              max_cycles = 2, bed_limit_gy = 20, rule = "optimised",
              path = "cvodes", interval_h = 1344 }
  local a = run(o)
  o.optimiser = "cobyla"
  local b = run(o)
  local same = a.route == "augmented"
  for i = 1, 2 do
    same = same and math.abs(a.cum_bed.tumour[i] / b.cum_bed.tumour[i] - 1)
      <= 1e-6 and a.cum_bed.kidney[i] <= 20 * (1 + 1e-9)
  end
  t.ok(same, ("augmented route: SLSQP with sensitivity gradients = COBYLA "
       .. "(tumour BED %.6f / %.6f, %.6f / %.6f Gy; rel. 1e-6)"):format(
       a.cum_bed.tumour[1], b.cum_bed.tumour[1], a.cum_bed.tumour[2],
       b.cum_bed.tumour[2]))
  o.optimiser = "newton"
  t.raises(function() run(o) end, 'optimiser "newton" is unknown',
           "an unknown optimiser is refused, naming it")
  o.optimiser, o.path = nil, "exact"
  t.raises(function() run(o) end, "rk.regimen: field 'path' must be "
           .. '"auto" or "cvodes" %(got "exact"%)', "path = \"exact\" is "
           .. "refused, listing the choices")
end

-- ------------------------------------------------------------ model file
do
  local f = dofile(srcdir .. "/models/lu177_dotatate.lua")
  local pts = f.population:sample { n = 30, seed = 5 }
  local r = rk.regimen { model = f, patients = pts, rule = "iluminet",
                         regions = { "kidney", "tumour", "marrow" },
                         imaging = { times_h = { 4, 24, 72 }, cv = 0.1 },
                         threads = 2, progress = false }
  t.ok(r.n == 30 and r.regions[1] == "kidney" and r.regions[3] == "marrow"
       and #r.failed == 0, "model file: regions chosen by name, 30 patients")
  local r1 = rk.regimen { model = f, patients = pts, rule = "iluminet",
                          regions = { "kidney", "tumour", "marrow" },
                          imaging = { times_h = { 4, 24, 72 }, cv = 0.1 },
                          threads = 1, progress = false }
  local same = true
  for i = 1, 30 do
    same = same and r1.cum_activity_gbq[i] == r.cum_activity_gbq[i]
      and r1.cum_bed.kidney[i] == r.cum_bed.kidney[i]
  end
  t.ok(same, "1 thread and 2 threads give identical results")
  -- the dose_rate output is the dose: cycle 1 of the typical patient
  local s = f.model:simulate {
    doses = { { time = 0, amount = 7400, to = "B" } },
    times = { 0, 1344 }, tia = { "D_K" } }
  local typ = rk.regimen { model = f, patients = { {} }, rule = "empiric",
                           n_cycles = 1, progress = false }
  t.is(typ.dose.kidney[1][1], s.tia.D_K, 1e-6, "model file: cycle-1 kidney "
       .. "dose = TIA of the D_K output from m:simulate (rel 1e-6)")
end

-- ------------------------------------------------------------ bad input
do
  t.raises(function()
    run { rule = function(k) if k.given == 1 then error("boom") end
                             return 7.4 end, max_cycles = 3 }
  end, "rule function failed for patient 1 (patients[1]) before cycle 2: "
    .. "the rule function raised an error: ", "a rule that errors: raised "
    .. "after the engine returns, naming patient and cycle")
  t.raises(function() run { rule = function() return 0 / 0 end } end,
           "before cycle 1: .*returned %-?nan GBq", "a rule returning NaN")
  t.raises(function() run { rule = function() return -2 end } end,
           "returned -2 GBq; expected an activity >= 0",
           "a rule returning a negative activity")
  t.raises(function() run { rule = function() return "7.4" end } end,
           "returned a string", "a rule returning a string")
  t.raises(function() run { rule = function() return 1 end, max_cycles = 3 }
  end, "before cycle 4: the rule function asks for 1 GBq after max_cycles "
    .. "= 3 cycles: it never stops", "a rule that never stops hits the cap")
  local pts = { { id = "ok1" }, { id = "bad" }, { id = "ok2" } }
  local r = run { patients = pts, keep_going = true, rule = function(k)
                    if k.id == "bad" and k.given == 1 then error("nope") end
                    if k.given < 2 then return 5 end
                  end }
  t.ok(#r.failed == 1 and r.failed[1].id == "bad"
       and r.failed[1].message:find("nope", 1, true)
       and r.cycles[1] == 2 and r.cycles[3] == 2 and r.cycles[2] == 1
       and r.ok[1] and not r.ok[2],
       "keep_going: the failing patient is listed by id with its message, "
         .. "its cycle kept; the others' results kept")
  -- Failing patients raise by default: a rule returning MBq (7400) for
  -- GBq fails all three patients; the message names the first (by id)
  -- and counts the others. keep_going = true returns them in r.failed.
  local three = { { id = "A" }, { id = "B" }, { id = "C" } }
  local msg = t.raises(function()
    run { patients = three, rule = function() return 7400 end }
  end, "rk.regimen: patient A (patients[1]) failed: patient 1, before "
    .. "cycle 1: the rule returned 7400 GBq, implausible; activities are "
    .. "in GBq (7.4, not 7400) (and 2 more patients failed; keep_going = "
    .. "true returns the others' results)",
    "rule returning 7400 (MBq for GBq): raised with the first patient and "
      .. "the count")
  local r7 = run { patients = three, keep_going = true,
                   rule = function() return 7400 end }
  t.ok(#r7.failed == 3 and r7.failed[3].id == "C"
       and r7.failed[2].message:find("7400 GBq", 1, true),
       "keep_going = true: every patient in r.failed, with its message")
  -- several patients whose Lua rule raises: the id and the count each in
  -- their place (the message was once built from two pushes evaluated in
  -- an unspecified order)
  msg = t.raises(function()
    run { patients = three, rule = function(k)
            if k.given == 1 then error("boom " .. k.id) end
            return 7.4 end, max_cycles = 3 }
  end, "rule function failed for patient A (patients[1]) before cycle 2: "
    .. "the rule function raised an error: ",
    "several failing patients: the first is named by id")
  t.like(msg, "boom A", "... with its own error")
  local tail = " (and 2 more patients failed; keep_going = true returns "
    .. "the others' results)"
  t.ok(msg:sub(-#tail) == tail, "... and the count of the others at the end")
  -- min_cycle_gbq reaches the rule: a 7.4 GBq ILUMINET cycle is below a
  -- minimum of 8 GBq (refused), and 0 is accepted
  t.raises(function()
    run { rule = "iluminet", min_cycle_gbq = 8 }
  end, "below min_cycle_gbq = 8 GBq", "min_cycle_gbq above the cycle "
    .. "activity refused")
  t.ok(run { rule = "iluminet", min_cycle_gbq = 0, max_cycles = 2 }
       .cycles[1] == 2, "min_cycle_gbq = 0 accepted")
  t.raises(function() run { rule = "pp-prrt", watch = "liver" } end,
           "unknown region 'liver' in field 'watch' (regions: kidney, "
             .. "tumour)", "unknown region named, with the known ones")
  t.raises(function()
    run { rule = "pp-prrt", regions = { kidney = { activity = "X",
          mass_kg = 0.3 } } }
  end, "activity 'X' is neither a state nor an output", "unknown quantity")
  t.raises(function()
    rk.regimen { model = dofile(srcdir .. "/models/lu177_dotatate.lua"),
                 patients = one, rule = "empiric", regions = { "thyroid" } }
  end, "unknown region 'thyroid' (the model file has: kidney, liver, "
    .. "marrow, marrow_image, spleen, tumour, whole_body)",
    "unknown region of a model file")
  t.raises(function() run { rule = "pp-prrt", target_gy = 2300 } end,
           "target_gy' = 2300 Gy is implausible.*cGy",
           "target_gy = 2300: suggests cGy")
  t.raises(function() run { rule = "iluminet", bed_limit_gy = 2700 } end,
           "cGy", "bed_limit_gy = 2700: suggests cGy")
  t.raises(function() run { rule = "empiric", activity_gbq = 7400 } end,
           "activities are in GBq (7.4, not 7400)", "activity in MBq refused")
  t.raises(function()
    run { rule = "empiric", imaging = { times_h = { 4, 24 }, cv = 10 } }
  end, "it is a fraction", "imaging cv as a percentage refused")
  t.raises(function() run { rule = "fixed" } end,
           "unknown rule \"fixed\"", "unknown rule name")
  t.raises(function() run { rule = "empiric", cycles = 4 } end,
           "unknown field 'cycles'", "misspelt field")
  t.raises(function()
    run { rule = "empiric", imaging = { times_h = { 4, 24 }, method = "x" } }
  end, "method must be", "unknown imaging method")
end

-- ------------------------------------------ defaults from the limit table
-- ILUMINET's stop rule is cumulative kidney BED 27 Gy (NCT01456078) and
-- PP-PRRT's target 23 Gy kidney dose (NCT02754297): the rules' defaults are
-- the organ-limit table's rows, not numbers of their own.
do
  local il = rk.radiobio.organ_limit("kidney_bed_iluminet")
  t.is(il.value_gy, 27, 0, "organ-limit table: ILUMINET kidney BED 27 Gy")
  -- with the truth as imaging, ILUMINET's reduced last cycle lands the
  -- cumulative kidney BED on its limit, PP-PRRT's cumulative dose on its
  -- target
  local r = run { rule = "iluminet", activity_gbq = 7.4, max_cycles = 20,
                  min_cycle_gbq = 0 }
  t.is(r.est.cum_bed.kidney[1], il.value_gy, 1e-6, "iluminet's default "
       .. "BED limit is the table's kidney_bed_iluminet")
  local pp = run { rule = "pp-prrt", activity_gbq = 7.4 }
  t.is(pp.est.cum_dose.kidney[1], rk.radiobio.organ_limit(
       "kidney_dose_pp_prrt").value_gy, 1e-6, "pp-prrt's default target is "
       .. "the table's kidney_dose_pp_prrt (23 Gy)")
  t.raises(function() run { rule = "empiric", n_cycles = 1.5 } end,
           "n_cycles' must be an integer", "n_cycles = 1.5 refused, not "
           .. "floored")
  t.raises(function() run { rule = "empiric", n_cycles = -1 } end,
           "n_cycles' must be an integer in %[1, 100%]", "a negative "
           .. "n_cycles refused (it wrapped to a huge count)")
end

-- ------------------------------------------ a model with a conditional
-- kK switched by rk.ifelse on time, true for the whole course: the model
-- is nonlinear (augmented CVODES route) but its doses are those of the
-- linear model to the solver tolerance.
do
  local mc = rk.model {
    name = "uw_if", nuclide = "Lu-177", states = { "B", "K", "T" },
    params = { kK = 0.02, kT = 0.01, kout = 0.3, kKo = 0.01, kTo = 0.005 },
    ode = function(s, p, tt)
      local kK = rk.ifelse(rk.lt(tt, 1e9), p.kK, 0)
      return {
        B = -(kK + p.kT + p.kout) * s.B,
        K = kK * s.B - p.kKo * s.K,
        T = p.kT * s.B - p.kTo * s.T,
      }
    end,
  }
  local a = run { rule = "empiric", n_cycles = 2, activity_gbq = 7.4 }
  local b = run { model = mc, rule = "empiric", n_cycles = 2,
                  activity_gbq = 7.4 }
  t.ok(b.route == "augmented", "a model with rk.ifelse runs on the "
       .. "augmented route (got " .. tostring(b.route) .. ")")
  t.is(b.cum_bed.kidney[1], a.cum_bed.kidney[1], 1e-5, "... and its kidney "
       .. "BED equals the linear model's (the switch never flips)")
end

-- ------------------------------------------ dose modifiers in regimens
-- bioav = 0.5 on the injected state: every dose counts half, so the
-- cumulative kidney dose of 2 x 7.4 GBq equals that of 2 x 3.7 GBq without
-- it (the model is linear); the augmented route applies F.
do
  local mf = rk.model {
    name = "uw_f", nuclide = "Lu-177", states = { "B", "K", "T" },
    params = { kK = 0.02, kT = 0.01, kout = 0.3, kKo = 0.01, kTo = 0.005,
               F1 = 0.5 },
    ode = function(s, p)
      return {
        B = -(p.kK + p.kT + p.kout) * s.B,
        K = p.kK * s.B - p.kKo * s.K,
        T = p.kT * s.B - p.kTo * s.T,
      }
    end,
    bioav = function(p) return { B = p.F1 } end,
  }
  local half = run { rule = "empiric", n_cycles = 2, activity_gbq = 3.7 }
  local rf = run { model = mf, rule = "empiric", n_cycles = 2,
                   activity_gbq = 7.4 }
  t.ok(rf.route == "augmented", "a model with bioav runs on the augmented "
       .. "route (got " .. tostring(rf.route) .. ")")
  t.is(rf.cum_dose.kidney[1], half.cum_dose.kidney[1], 1e-5, "F = 0.5: "
       .. "2 x 7.4 GBq give the kidney dose of 2 x 3.7 GBq without F")
end


-- ------------------------------------------------------- model events
-- An event fires at cycle time 10 h (the model's t restarts at each
-- administration) and, 15 h later, puts X MBq into K: past the 20 h
-- cycle, so it executes at t = 5 h of the next cycle (carried, not
-- dropped), adding X to K as it is then. K has no other input, so with
-- mu = kKo + lambda:
--   TIA_c = K0_c (1 - e^(-20 mu)) / mu + [c > 1] X (1 - e^(-15 mu)) / mu,
--   K0_(c+1) = K0_c e^(-20 mu) + [c > 1] X e^(-15 mu), K0_1 = K0_2 = 0.
do
  local X, kKo = 50, 0.05
  local me = rk.model {
    name = "late", nuclide = "Lu-177", states = { "B", "K" },
    params = { kout = 0.3, kKo = kKo, X = X },
    ode = function(s, p) return { B = -p.kout * s.B, K = -p.kKo * s.K } end,
    events = { { name = "late", trigger = function(s, p, t) return rk.ge(t, 10) end,
                 delay = 15, use_trigger_values = false,
                 assign = function(s, p) return { K = s.K + p.X } end } },
  }
  local r = rk.regimen { model = me, patients = one, inject = "B",
    regions = { kidney = { activity = "K", mass_kg = 0.3, alpha_beta_Gy = 2.6, t_rep_h = 2.8 } },
    interval_h = 20, rule = "empiric", activity_gbq = 1, n_cycles = 4,
    progress = false, rtol = 1e-10, atol = 1e-12 }
  local mu = kKo + lam
  local k0, worst = 0, 0
  for c = 1, 4 do
    local want = k0 * (1 - math.exp(-20 * mu)) / mu
                 + (c > 1 and X * (1 - math.exp(-15 * mu)) / mu or 0)
    local got = r.truth.tia.kidney[1][c]
    if c == 1 then
      t.is(got, 0, 0, "regimen with events: cycle 1, the delayed execution is still pending at its end")
    else
      worst = math.max(worst, math.abs(got - want) / want)
    end
    k0 = k0 * math.exp(-20 * mu) + (c > 1 and X * math.exp(-15 * mu) or 0)
  end
  t.ok(r.route == "augmented", "regimen with events: augmented route (CVODES)")
  t.ok(worst <= 1e-6, ("regimen with events: executions pending at a cycle's end carried into the next "
    .. "(kidney TIA of cycles 2-4 against the closed form, worst rel. %.2g <= 1e-6)"):format(worst))
  -- the optimiser on it (it refused a model with events before
  -- sensitivities were carried across them): the course it plans keeps
  -- the kidney limit, which binds (the objective is the kidney itself)
  local ro = rk.regimen { model = me, patients = one, inject = "K",
    regions = { kidney = { activity = "K", mass_kg = 0.3, alpha_beta_Gy = 2.6, t_rep_h = 2.8 } },
    interval_h = 20, rule = "optimised", activity_gbq = 1, max_cycles = 3, max_gbq = 10,
    bed_limit_gy = 10, watch = "kidney", objective = "kidney", progress = false,
    rtol = 1e-10, atol = 1e-12 }
  t.ok(ro.ok[1], "regimen with events: the optimised rule runs")
  t.is(ro.truth.cum_bed.kidney[1], 10, 1e-6, "regimen with events: the optimised course's kidney BED "
       .. "meets its 10 Gy limit (re-scored by the course's own cycles)")
end

t.done()
