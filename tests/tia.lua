-- tia.lua - rk.tac (fit, stp, map, curve) and scripts/tia.lua on
-- tests/data/tia_small.csv. Numbers are checked against analytic values
-- (noise-free curves) and hand arithmetic given in the comments.
local rk = require "radiokin"
local t = require "radiokin.tap"

local src = os.getenv("RADIOKIN_SRCDIR") or "."
local build = os.getenv("RADIOKIN_BUILDDIR") or "."
local exe = build .. "/radiokin"
local LP = math.log(2) / (6.647 * 24)      -- Lu-177 (nuclide.c)

local tmp = t.scratch()
local flag_case            -- a CSV for the script's flags columns, below
local function write(name, text)
  return t.write_file(tmp .. "/" .. name, text)
end
local read = t.read_file
-- runs scripts/tia.lua with the arguments given (no shell): ok, stdout
-- and stderr together
local function run(...)
  local st, so, se = rk.run { exe, src .. "/scripts/tia.lua", ... }
  return st == 0, (so or "") .. (se or "")
end

-- ---------------------------------------------------------- rk.tac.fit
-- noise-free uptake-washout A (e^-lw t - e^-lu t), A = 300, lw = 0.015,
-- lu = 0.3: TIA = 300 (1/0.015 - 1/0.3) = 300 (66.667 - 3.333) = 19000
local times = { 1, 4, 24, 72, 120, 168 }
local acts = rk.tac.curve("upwash", { 300, 0.015, 0.3 }, times)
local r = rk.tac.fit { t = times, a = acts, nuclide = "Lu-177", cv = 0.1 }
t.is(r.candidates.upwash.tia, 19000, 1e-6,
  "upwash noise-free TIA = 19000 MBq h (rel 1e-6)")
t.is(r.candidates.upwash.params.lw, 0.015, 1e-6, "lw recovered (rel 1e-6)")
t.ok(r.chosen == "upwash", "upwash chosen for upwash data")
t.is(r.lambda_phys, LP, 1e-12, "lambda_phys of Lu-177")
t.ok(r.candidates.upwash.weight > 0.5 and r.criterion == "aicc",
  "AICc weight of upwash > 0.5")
t.ok(r.candidates.tri.aicc == nil,
  "tri with 6 points: AICc undefined, absent (not NaN)")
t.ok(type(r.candidates.upwash.residuals) == "table"
  and #r.candidates.upwash.residuals == 6, "residuals per point")
local rm = rk.tac.fit { t = times, a = acts, nuclide = "Lu-177", cv = 0.1,
  models = { "mono" } }
t.ok(rm.candidates.bi.status == "not tried" and rm.chosen == "mono",
  "models = {'mono'} fits mono only")

-- flags per candidate: Lu-177 mono data slower than physical decay
-- (100 e^(-l_phys t / 2)), 3 % high at 24 h: upwash is held at physical
-- decay but not chosen; it carries the flag and its note all the same.
do
  local tt = { 4, 24, 72, 168 }
  local aa = rk.tac.curve("mono", { 100, 0.5 * LP }, tt)
  aa[2] = aa[2] * 1.03
  local rf = rk.tac.fit { t = tt, a = aa, nuclide = "Lu-177", cv = 0.1 }
  local up = rf.candidates.upwash
  local function has(list, x)
    for _, v in ipairs(list) do if v == x then return true end end
    return false
  end
  t.ok(rf.chosen ~= "upwash" and has(up.flags, "held_at_physical"),
    "candidate held at physical decay, not chosen: flags has " ..
    "'held_at_physical'")
  t.like(up.notes[1], "wanted slower than physical decay",
    "... and its notes say why")
  t.ok(has(rf.candidates.tri.flags, "not_tried"), "tri (4 points): not_tried")
  t.ok(#rf.candidates.mono.flags == 0 or not has(rf.candidates.mono.flags,
    "not_eligible"), "mono with k = 1 < 4 points: eligible")
  -- bi-exponential on 5 points, scale estimated: k = 5 = n, not eligible
  local t5 = { 1, 4, 24, 72, 168 }
  local a5 = rk.tac.curve("bi", { 200, 0.01, 300, 0.3 }, t5)
  for i, f in ipairs { 1.03, 0.97, 1.02, 0.99, 1.01 } do a5[i] = a5[i] * f end
  local r5 = rk.tac.fit { t = t5, a = a5, nuclide = "Lu-177" }
  t.ok(r5.chosen ~= "bi" and has(r5.candidates.bi.flags, "not_eligible")
    and r5.candidates.bi.weight == nil,
    "bi on 5 points with the scale estimated: not_eligible, no weight, " ..
    "not chosen")
  t.ok(has(r5.flags, "not_eligible"), "result flags list not_eligible")
  -- the same curves through scripts/tia.lua: each candidate's flags in
  -- its flags_<model> column, chosen or not
  local lines = { "patient,region,t_h,activity_MBq" }
  for i = 1, #tt do lines[#lines + 1] = ("X,K,%g,%.10g"):format(tt[i], aa[i]) end
  for i = 1, #t5 do lines[#lines + 1] = ("Y,B,%g,%.10g"):format(t5[i], a5[i]) end
  local fpath = t.write_file(tmp .. "/flags.csv", table.concat(lines, "\n") .. "\n")
  flag_case = { path = fpath, chosen_x = rf.chosen }
end

-- ------------------------------------------------------ rk.tac.band
-- Delta-method band of a mono fit A e^-lt: var f(t) = e^-2lt (var A -
-- 2 A t cov(A,l) + A^2 t^2 var l), written out here from the candidate's
-- covariance; at t = 0 the half-width is z se(A). z: the normal 0.975
-- quantile 1.959964 with a known cv; with the scale estimated from 4
-- points and 2 parameters, Student's t with 2 dof, 4.302653 (any t table).
do
  local tt = { 4, 24, 72, 168 }
  local aa = rk.tac.curve("mono", { 500, 0.02 }, tt)
  for i, f in ipairs { 1.04, 0.97, 1.02, 0.98 } do aa[i] = aa[i] * f end
  local rb = rk.tac.fit { t = tt, a = aa, nuclide = "Lu-177", cv = 0.1,
                          models = { "mono" } }
  local c = rb.candidates.mono
  local lo0, hi0 = rk.tac.band(c, 0)
  t.is((hi0 - lo0) / 2, 1.959964 * c.se.A, 1e-6,
       "band at t = 0: half-width z se(A), z = 1.959964 (known cv)")
  local A, l, cv = c.p[1], c.p[2], c.cov
  local tq = 50
  local v = math.exp(-2 * l * tq) * (cv[1] - 2 * A * tq * cv[2]
    + A * A * tq * tq * cv[4])
  local lo, hi = rk.tac.band(c, { tq, 100 })
  t.is((hi[1] - lo[1]) / 2, 1.959964 * math.sqrt(v), 1e-6,
       "band at 50 h: delta method written out by hand")
  t.is((hi[1] + lo[1]) / 2, rk.tac.curve("mono", c.p, tq), 1e-12,
       "band centred on the fitted curve")
  local l68, h68 = rk.tac.band(c, tq, 0.6827)
  t.ok(h68 - l68 < hi[1] - lo[1], "a 68 % band is narrower than the 95 %")
  t.is(math.sqrt(cv[1]), c.se.A, 1e-12, "cov diagonal gives se(A)")
  local re = rk.tac.fit { t = tt, a = aa, nuclide = "Lu-177",
                          models = { "mono" } }
  local ce = re.candidates.mono
  local elo, ehi = rk.tac.band(ce, 0)
  t.is(ce.dof, 2, 0, "scale estimated: 4 points - 2 parameters = 2 dof")
  t.is((ehi - elo) / 2, 4.302653 * ce.se.A, 1e-6,
       "band with the scale estimated: Student's t, 2 dof (4.302653)")
  t.raises(function() rk.tac.band(rb.candidates.trapezoid, 1) end,
           "fitted candidate", "no band for the trapezoid")
  t.raises(function() rk.tac.band(c, 1, 1.5) end, "level = 1.5",
           "level outside (0, 1) refused")
end

-- ---------------------------------------------------------- stp / map
-- Haenscheid: 100 MBq at 48 h: 100 * 96 / ln 2 = 13849.8
t.is(rk.tac.stp { t = 48, a = 100 }.tia, 13849.8, 1e-5, "Haenscheid")
-- 50 MBq at 72 h with l = 0.01: 50 e^0.72 / 0.01 = 10272.17
t.is(rk.tac.stp { method = "poplambda", t = 72, a = 50, lambda = 0.01 }.tia,
  10272.17, 1e-6, "population half-life")
local m = rk.tac.map { t = { 24 }, a = { 200 }, nuclide = "Lu-177",
  prior = { model = "upwash", typ = { 300, 0.015, 0.3 },
            omega = { 1e-7, 1e-7, 1e-7 }, cv = 0.1 } }
t.is(m.tia, 19000, 1e-5, "MAP with a very tight prior returns the prior")
-- bimodal posterior (bi prior, one point at 4 h at 5 x the typical curve;
-- test_tac.c has the hand objective): the better mode is kept and flagged
do
  local typ = { 200, 0.01, 300, 0.1 }
  local a4 = 5 * rk.tac.curve("bi", typ, 4)
  local mb = rk.tac.map { t = { 4 }, a = { a4 }, nuclide = "Lu-177",
    prior = { model = "bi", typ = typ, omega = { 0.5, 0.5, 0.5, 0.5 },
              cv = 0.1 } }
  local flagged = false
  for _, f in ipairs(mb.flags) do flagged = flagged or f == "multimodal" end
  t.ok(flagged and mb.map_obj < 28.6545 - 1,
    ("bimodal MAP: flags has 'multimodal', kept mode %.4f below the " ..
     "prior-mode search's 28.65"):format(mb.map_obj))
  t.like(mb.note, "posterior has more than one mode", "... note says so")
end

-- ---------------------------------------------------------- bad input
t.raises(function()
  rk.tac.fit { t = { 4, 24, 24 }, a = { 1, 2, 3 }, nuclide = "Lu-177" }
end, "duplicate time 24 h", "duplicate time raises the engine message")
t.raises(function()
  rk.tac.fit { t = { 4, 24 }, a = { 1, 2 }, nuclide = "Lu-999" }
end, "Lu-999", "unknown nuclide raises, naming it")
t.raises(function()
  rk.tac.fit { t = { 4, 24 }, a = { 1 }, nuclide = "Lu-177" }
end, "differ in length", "t and a of different length")
t.raises(function()
  rk.tac.fit { t = {}, a = {}, nuclide = "Lu-177" }
end, "no time points", "no points")
t.raises(function()
  rk.tac.fit { t = { 4 }, a = { 1 }, nuclide = "Lu-177", modles = {} }
end, "unknown field 'modles'", "misspelt field")
t.raises(function()
  rk.tac.fit { t = { 4, 8 }, a = { 1, 2 }, nuclide = "Lu-177",
    models = { "quad" } }
end, "unknown TAC model 'quad'", "unknown model name")
t.raises(function()
  rk.tac.stp { t = -1, a = 100 }
end, "time t = -1 h", "STP negative time")

-- ---------------------------------------------------------- the script
do
  local ok_f, out_f = run(flag_case.path, "--out", tmp .. "/f", "--cv", "0.1")
  t.ok(ok_f, "tia.lua runs on the flags case " .. out_f:sub(1, 200))
  local fr = rk.csv.read(tmp .. "/f/tia.csv", { missing = { "" },
    strings = { "flags_mono", "flags_bi", "flags_upwash", "flags_tri" } })
  local x = fr[1].patient == "X" and fr[1] or fr[2]
  t.ok(x.model ~= "upwash" and (x.flags_upwash or ""):find("held_at_physical",
    1, true), "tia.csv: flags_upwash of an unchosen candidate held at "
    .. "physical decay says held_at_physical (got "
    .. tostring(x.flags_upwash) .. ")")
  t.ok((x.flags_tri or ""):find("not_tried", 1, true),
    "tia.csv: flags_tri says not_tried on 4 points")
end
local data = src .. "/tests/data/tia_small.csv"
local ok, out = run(data, "--out", tmp .. "/o", "--cv", "0.1", "--plot")
t.ok(ok, "tia.lua runs on tests/data/tia_small.csv")
local rows = rk.csv.read(tmp .. "/o/tia.csv", { missing = { "" } })
t.is(#rows, 4, 0, "one tia.csv row per patient and region")
local by = {}
for _, row in ipairs(rows) do by[row.patient .. "/" .. row.region] = row end
t.ok(by["P1/liver"] and by["P1/liver"].model == "mono",
  "P1 liver (3 mono points, 2 % misfit): mono chosen")
-- P1 liver is 400 e^-0.02 t, perturbed by 1-2 %: TIA ~ 400/0.02 = 20000
t.is(by["P1/liver"].tia_MBqh, 20000, 0.05, "P1 liver TIA ~ 20000 (5 %)")
t.is(by["P1/kidney"].mass_kg, 0.30, 1e-12, "mass_kg carried over")
t.like(by["P2/tumour"].warnings, "rises at the last point",
  "rising tumour warned in tia.csv")
t.ok(read(tmp .. "/o/tia_P1.png") and read(tmp .. "/o/tia_P2.svg"),
  "PNG and SVG plots per patient")
t.like(read(tmp .. "/o/tia_P1.svg") or "", "TIA", "TIA in the plot legend")
t.like(read(tmp .. "/o/tia_P1.svg") or "", "95 % band (chosen)",
       "the chosen curve's confidence band is drawn")

-- errors name file, line, column
local bad = write("bad.csv", "patient,region,t_h,activity_MBq\n" ..
  "P1,kidney,4,100\nP1,kidney,24,abc\n")
ok, out = run(bad, "--out", tmp .. "/b")
t.ok(not ok, "text in a number column fails")
t.like(out, "bad.csv:3:14: column 'activity_MBq'", "names file:line:column")
bad = write("dup.csv", "patient,region,t_h,activity_MBq\n" ..
  "P1,kidney,4,100\n\nP1,kidney,4,90\n")
ok, out = run(bad, "--out", tmp .. "/b")
t.like(out, "dup.csv:4: column 't_h' (3): duplicate time 4 h",
  "duplicate time names line (blank line counted) and column")
t.ok(not read(tmp .. "/b/tia.csv"), "nothing written on failure")
bad = write("miss.csv", "patient,region,t_h\nP1,kidney,4\n")
ok, out = run(bad)
t.like(out, "missing column 'activity_MBq'", "missing column named")
bad = write("txt.csv", "patient,region,t_h,activity_MBq\nP1,k,4,many\n")
ok, out = run(bad)
t.like(out, "txt.csv:2: column 'activity_MBq' (4): 'many' is not a number",
  "text in the first row of a number column")
bad = write("neg.csv", "patient,region,t_h,activity_MBq\nP1,k,-4,100\n")
ok, out = run(bad)
t.like(out, "neg.csv:2: column 't_h' (3): negative time", "negative time")
bad = write("nuc.csv", "patient,region,t_h,activity_MBq\nP1,k,4,100\n")
ok, out = run(bad, "--nuclide", "Xx-1", "--out", tmp .. "/b")
t.ok(out:find("nuc.csv:2-2: patient P1 region k: rk.tac.fit: TAC data: " ..
  "unknown nuclide 'Xx-1'", 1, true),
  "engine error (unknown nuclide) names file, lines and region")

-- ------------------------------------------- uncertainty columns (#19)
-- EANM guidance (Gear et al. EJNMMI 2018;45:2456), first order: the
-- calibration factor is shared by every time point, so TIA ~ 1/Q and
-- u(TIA)^2 = SE_fit^2 + (TIA u_cal)^2; 95 % interval TIA -+ z u with
-- z = Phi^-1(0.975) = 1.959963984540054.
do
  local Z = 1.959963984540054
  local data = src .. "/tests/data/tia_small.csv"
  ok, out = run(data, "--out", tmp .. "/u0", "--quiet")
  local ok5, out5 = run(data, "--out", tmp .. "/u5", "--quiet",
    "--u-cal", "0.05")
  t.ok(ok and ok5, "tia.lua with and without --u-cal runs (" .. out ..
    out5 .. ")")
  local r0 = rk.csv.read(tmp .. "/u0/tia.csv", { missing = { "" },
    strings = { "patient", "region" } })
  local r5 = rk.csv.read(tmp .. "/u5/tia.csv", { missing = { "" },
    strings = { "patient", "region" } })
  local checked = 0
  for i, x in ipairs(r5) do
    if x.status == "ok" and x.tia_se_MBqh then
      checked = checked + 1
      local u = math.sqrt(x.tia_se_MBqh ^ 2 + (0.05 * x.tia_MBqh) ^ 2)
      t.is(x.tia_u_MBqh, u, 1e-9, ("%s %s: u = sqrt(SE^2 + (0.05 TIA)^2)")
        :format(x.patient, x.region))
      t.is(x.tia_u_lo_MBqh, x.tia_MBqh - Z * u, 1e-9, "lo = TIA - 1.96 u")
      t.is(x.tia_u_hi_MBqh, x.tia_MBqh + Z * u, 1e-9, "hi = TIA + 1.96 u")
      t.is(x.share_calibration, (0.05 * x.tia_MBqh) ^ 2 / u ^ 2, 1e-9,
        "calibration share of the variance")
      t.is(x.share_fit + x.share_calibration, 1, 1e-12, "shares sum to 1")
      t.is(x.u_cal_rel, 0.05, 0, "u_cal_rel carried to tia.csv")
      -- without calibration uncertainty u is the fit's SE alone and the
      -- TIA itself does not move
      t.is(r0[i].tia_MBqh, x.tia_MBqh, 0, "TIA unchanged by --u-cal")
      t.is(r0[i].tia_u_MBqh, x.tia_se_MBqh, 1e-12,
        "u_cal 0: u = the fit's SE")
    end
  end
  t.ok(checked >= 2, ("%d regions with a fit SE checked"):format(checked))
  t.ok(r0[1].u_cal_rel == nil, "no u_cal_rel column value without --u-cal")
  -- the chain: dose.lua reads tia.csv's u_cal_rel as the calibration
  -- shared by the cycles; one cycle, dose linear in the TIA: u(D)/D =
  -- sqrt((SE/TIA)^2 + 0.05^2)
  do
    local st, so, se = rk.run { exe, src .. "/scripts/dose.lua",
      tmp .. "/u5/tia.csv", "--out", tmp .. "/u5/dose.csv", "--activity",
      "7400", "--teff-h", "50", "--no-plot", "--quiet" }
    local dr = st == 0 and rk.csv.read(tmp .. "/u5/dose.csv",
      { missing = { "" }, strings = { "patient", "region", "organ" } }) or {}
    local n, good = 0, true
    for _, d in ipairs(dr) do
      for _, x in ipairs(r5) do
        if x.patient == d.patient and x.region == d.region and d.dose_u_gy
          and x.tia_se_MBqh then
          n = n + 1
          local want = d.dose_gy * math.sqrt((x.tia_se_MBqh / x.tia_MBqh) ^ 2
            + 0.05 ^ 2)
          good = good and math.abs(d.dose_u_gy - want) <= 1e-6 * want
        end
      end
    end
    t.ok(st == 0 and n >= 2 and good, ("dose.lua on tia.csv: u(D) = D " ..
      "sqrt((SE/TIA)^2 + u_cal^2) for %d regions%s"):format(n,
      st == 0 and "" or ": " .. tostring(so) .. tostring(se)))
  end
  -- a u_cal_rel column instead of the option, per region
  local lines = { "patient,region,t_h,activity_MBq,u_cal_rel" }
  local tt, aa = { 4, 24, 72, 168 }, rk.tac.curve("mono", { 200, 0.02 },
    { 4, 24, 72, 168 })
  for k = 1, 4 do
    lines[#lines + 1] = ("P,k,%g,%.6f,0.1"):format(tt[k], aa[k] *
      (1 + 0.03 * (-1) ^ k))
  end
  local f = write("ucol.csv", table.concat(lines, "\n") .. "\n")
  ok, out = run(f, "--out", tmp .. "/uc", "--quiet", "--u-cal", "0.5")
  local x = ok and rk.csv.read(tmp .. "/uc/tia.csv", { missing = { "" },
    strings = { "patient", "region" } })[1]
  t.ok(x and x.u_cal_rel == 0.1 and math.abs(x.tia_u_MBqh - math.sqrt(
    x.tia_se_MBqh ^ 2 + (0.1 * x.tia_MBqh) ^ 2)) < 1e-9 * x.tia_u_MBqh,
    "the row's u_cal_rel wins over --u-cal (" .. out .. ")")
  -- bad input
  ok, out = run(data, "--u-cal", "5", "--out", tmp .. "/ub")
  t.ok(not ok and out:find("--u-cal needs a relative SD in [0, 1) (got '5')",
    1, true), "--u-cal 5 refused: " .. out)
  f = write("ubad.csv", "patient,region,t_h,activity_MBq,u_cal_rel\n" ..
    "P,k,4,100,0.05\nP,k,24,80,5\n")
  ok, out = run(f, "--out", tmp .. "/ub")
  t.like(out, "ubad.csv:3: column 'u_cal_rel' (5): relative SD 5, " ..
    "expected in [0, 1)", "u_cal_rel 5 (a percentage) refused with line")
  f = write("udiff.csv", "patient,region,t_h,activity_MBq,u_cal_rel\n" ..
    "P,k,4,100,0.05\nP,k,24,80,0.06\n")
  ok, out = run(f, "--out", tmp .. "/ub")
  t.like(out, "udiff.csv:3: column 'u_cal_rel' (5): 0.06 differs from " ..
    "0.05", "two calibrations in one region refused")
  t.ok(not read(tmp .. "/ub/tia.csv"), "nothing written on bad input")
end

t.remove_tree(tmp)
t.done()
