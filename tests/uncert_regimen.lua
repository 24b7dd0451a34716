-- tests/uncert_regimen.lua - a rk.regimen rule holding the kidney BED
-- limit at a confidence level (examples/confidence_rule.lua, through
-- rk.uncert.next_activity): with noisy imaging, a higher level gives
-- fewer patients whose true cumulative BED ends over the limit, for less
-- activity; at 0.95 the share over is near or below the nominal 5 %.
local t = require "radiokin.tap"
local src = os.getenv("RADIOKIN_SRCDIR") or "."
package.path = src .. "/examples/?.lua;" .. package.path
local ex = require "confidence_rule"

local pts = ex.patients(200, 7)
local o50, a50 = ex.trial(0.5, { patients = pts })
local o80, a80 = ex.trial(0.8, { patients = pts })
local o95, a95 = ex.trial(0.95, { patients = pts })
t.diag(("share over / mean GBq: 0.5 %.3f / %.2f, 0.8 %.3f / %.2f, "
  .. "0.95 %.3f / %.2f"):format(o50, a50, o80, a80, o95, a95))
t.ok(o50 > o80 and o80 > o95, "share over the limit falls with the level")
t.ok(a50 > a80 and a80 > a95, "and so does the activity given")
t.ok(o50 > 0.3, "at the point estimate a large share ends over (" .. o50
  .. ")")
t.ok(o95 <= 0.08, "at 0.95 about the nominal 5 % or fewer (" .. o95 .. ")")

-- ------------------------------------------------------------------
-- The built-in rules' `confidence` with the EANM imaging model
-- (engine/regimen, engine/tac/imaging.c): the same model and patients.
local rk = require "radiokin"
local EANM = { times_h = { 4, 24, 72, 168 }, cv = 0.1, method = "fit",
  seed = 3, model = "eanm", cal_cv = 0.05, rc_cv = 0.05, volume_cv = 0.1 }
local function iluminet(level, img, extra)
  local s = { model = ex.model, patients = pts, inject = "B",
    interval_h = 20000, progress = false, rule = "iluminet",
    regions = { kidney = { activity = "K", mass_kg = 0.3,
      alpha_beta_Gy = 2.6, t_rep_h = 2.8 } },
    bed_limit_gy = 27, max_cycles = 8, watch = "kidney",
    imaging = img or EANM, confidence = level, min_cycle_gbq = 0 }
  for k, v in pairs(extra or {}) do s[k] = v end
  return rk.regimen(s)
end
local function share_over(r)
  local n, a = 0, 0
  for i = 1, r.n do
    if r.truth.cum_bed.kidney[i] > 27 then n = n + 1 end
    a = a + r.cum_activity_gbq[i]
  end
  return n / r.n, a / r.n
end
local r0, r5, r95 = iluminet(nil), iluminet(0.5), iluminet(0.95)
local same = true
for i = 1, r0.n do
  for c = 1, r0.cycles[i] do
    same = same and r0.activity_gbq[i][c] == r5.activity_gbq[i][c]
  end
  same = same and r0.cycles[i] == r5.cycles[i]
end
t.ok(same and r5.confidence == 0.5, "iluminet: confidence 0.5 decides as "
  .. "the rule without it (the published rule)")
local s5, a5 = share_over(r5)
local s95, a95r = share_over(r95)
t.diag(("built-in iluminet, EANM imaging: share over / mean GBq at 0.5 "
  .. "%.3f / %.2f, at 0.95 %.3f / %.2f"):format(s5, a5, s95, a95r))
t.ok(s95 < s5 and a95r < a5, "EANM imaging, seeded: fewer patients over "
  .. "the limit at 0.95 than at 0.5, for less activity")
t.ok(s95 <= 0.10, "at 0.95 at most 10 % over (" .. s95 .. ")")

-- By hand from the reported values (r.est.dose, g, u_rel): a patient's
-- reduced last cycle, predicted at the previous cycle's dose per GBq and
-- G, puts BED + z u of the course on 27 Gy; u^2 = sum over the cycles
-- before the last measured one L of (k_i u_i d_i)^2, plus (k_L d_L +
-- k_n d_n)^2 u_L^2 (the prediction is cycle L's measurement scaled: its
-- error is L's own, correlation 1), plus (cal^2 + rc^2 + vol^2) (sum k_i
-- d_i)^2, k_i = 1 + 2 G_i d_i / (a/b) (GUM eq. 13, the shared errors fully
-- correlated); z = 1.6448536269514722
-- (the normal 0.95 quantile). Tolerance 1e-8: the rule's bisection stops
-- at a relative 1e-10 of the activity.
local worst, nchk = 0, 0
for i = 1, r95.n do
  local n, act = r95.cycles[i], r95.activity_gbq[i]
  if n >= 2 and act[n] < 7.4 * (1 - 1e-12) then
    local d, g, u = r95.est.dose.kidney[i], r95.est.g.kidney[i],
      r95.est.u_rel.kidney[i]
    local bed, lin, vi, own = 0, 0, 0, 0
    for c = 1, n do
      local dc, gc, uc = d[c], g[c], u[c]
      if c == n then
        dc, gc = act[n] * d[n - 1] / act[n - 1], g[n - 1]
      end
      local kb = 1 + 2 * gc * dc / 2.6
      bed = bed + dc * (1 + gc * dc / 2.6)
      lin = lin + kb * dc
      if c < n - 1 then vi = vi + (kb * uc * dc) ^ 2
      else own = own + kb * dc end
    end
    vi = vi + (own * u[n - 1]) ^ 2
    local ub = bed + 1.6448536269514722 * math.sqrt(vi + (0.05 ^ 2 + 0.05 ^ 2
      + 0.1 ^ 2) * lin ^ 2)
    worst = math.max(worst, math.abs(ub - 27) / 27)
    nchk = nchk + 1
  end
end
t.ok(nchk >= 20 and worst < 1e-8, ("iluminet 0.95: BED + 1.645 u = 27 Gy "
  .. "by hand from r.est for %d reduced cycles (worst rel %.2g)"):format(
  nchk, worst))
local upos = true
for i = 1, r95.n do
  for c = 1, r95.cycles[i] do
    local u = r95.est.u_rel.kidney[i][c]
    upos = upos and u > 0.01 and u < 0.2
  end
end
t.ok(upos, "r.est.u_rel: each cycle's counting SD from the fit, between "
  .. "1 % and 20 % with 10 % per image and 4 images")

-- a Lua rule sees the same uncertainties
local seen
iluminet(nil, nil, { rule = function(k)
  if k.given == 1 and not seen then
    seen = { u = k.u_rel.kidney[1], a = k.u_act_rel, m = k.u_mass_rel }
  end
  return k.given < 2 and 7.4 or nil
end })
t.ok(seen and seen.u > 0 and math.abs(seen.a - math.sqrt(0.05 ^ 2 +
  0.05 ^ 2)) < 1e-15 and seen.m == 0.1, "a rule function gets known.u_rel "
  .. "and the shared u_act_rel = sqrt(cal^2 + rc^2), u_mass_rel = volume")

-- bad input
for _, c in ipairs {
  { { confidence = 1 }, "confidence 1, expected a one-sided level" },
  { { confidence = 0.3 }, "confidence 0.3" },
  { { rule = "empiric", confidence = 0.9 }, "applies to the PP-PRRT, "
    .. "ILUMINET and optimised rules only" },
  { { imaging = { times_h = { 4, 24, 72, 168 }, cal_cv = 0.05 } },
    "cal_cv, rc_cv and volume_cv belong to model = \"eanm\"" },
  { { imaging = { times_h = { 4, 24, 72, 168 }, model = "gear" } },
    "model must be \"proportional\"" },
  { { imaging = { times_h = { 4, 24, 72, 168 }, model = "eanm",
    volume_cv = 10 } }, "volume_cv = 10, expected a fraction in [0, 1]" },
} do
  local ok, e = pcall(iluminet, c[1].confidence, c[1].imaging, c[1])
  t.ok(not ok and tostring(e):find(c[2], 1, true), "refused: "
    .. tostring(e):match("[^\n]*"))
end

-- ------------------------------------------------------------------
-- scripts/regimen_compare.lua --confidence: a row per level and rule,
-- the trade-off table, the CSV's confidence column.
package.path = src .. "/scripts/?.lua;" .. package.path
local rc = require "regimen_compare"
local tmp = t.scratch()
local o = rc.parse_args { "--model", src .. "/models/lu177_dotatate.lua",
  "--n", "120", "--regimens", "empiric,iluminet,pp-prrt", "--out", tmp,
  "--imaging-model", "eanm", "--cal-cv", "0.05", "--rc-cv", "0.05",
  "--volume-cv", "0.1", "--confidence", "0.5,0.95", "--no-plots",
  "--quiet", "--seed", "4" }
local res = rc.run(o)
local by = {}
for _, row in ipairs(res.rows) do by[row.regimen] = row end
t.ok(by.empiric and by.empiric.confidence == "" and by.iluminet
  and by["iluminet@0.95"] and by["pp-prrt"] and by["pp-prrt@0.95"]
  and #res.rows == 5, "regimen_compare: one row per rule and level, "
  .. "empiric once (no confidence)")
for _, name in ipairs { "iluminet", "pp-prrt" } do
  local a, b = by[name], by[name .. "@0.95"]
  t.ok(b.over_kidney_bed <= a.over_kidney_bed
    and b.activity_gbq_mean < a.activity_gbq_mean,
    ("%s: at 0.95 %.1f %% over kidney BED for %.1f GBq, at 0.5 %.1f %% "
     .. "for %.1f GBq"):format(name, 100 * b.over_kidney_bed,
     b.activity_gbq_mean, 100 * a.over_kidney_bed, a.activity_gbq_mean))
end
local md = t.read_file(tmp .. "/regimen_compare.md")
t.ok(md and md:find("## Decisions at a confidence level", 1, true)
  and md:find("| iluminet | 0.95 |", 1, true)
  and md:find("calibration 5 % per patient", 1, true),
  "the Markdown has the trade-off table per level and the imaging model")
local rows = rk.csv.read(tmp .. "/regimen_compare.csv",
  { strings = { "regimen", "cycles_distribution", "confidence" } })
local got = {}
for _, row in ipairs(rows) do got[row.regimen] = row.confidence end
t.ok(got["pp-prrt@0.95"] == "0.95" and got["pp-prrt"] == "0.5"
  and got.empiric == "", "the CSV's confidence column")
-- the optimiser at each level: less activity at 0.95 (its limits at the
-- upper bound under the shared imaging errors)
do
  local oo = rc.parse_args { "--model", src .. "/models/lu177_dotatate.lua",
    "--n", "30", "--regimens", "optimised", "--out", tmp,
    "--name", "opt", "--imaging-model", "eanm", "--cal-cv", "0.05",
    "--rc-cv", "0.05", "--volume-cv", "0.1", "--confidence", "0.5,0.95",
    "--no-plots", "--quiet" }
  local ro = rc.run(oo)
  local a, b = ro.rows[1], ro.rows[2]
  t.ok(#ro.rows == 2 and a.regimen == "optimised" and b.regimen ==
    "optimised@0.95" and b.activity_gbq_mean < a.activity_gbq_mean
    and b.kidney_bed_gy_median < a.kidney_bed_gy_median,
    ("regimen_compare: optimised at 0.5 and 0.95 (%.1f vs %.1f GBq, "
     .. "median kidney BED %.1f vs %.1f Gy)"):format(a.activity_gbq_mean,
     b.activity_gbq_mean, a.kidney_bed_gy_median, b.kidney_bed_gy_median))
end
for _, c in ipairs {
  { { "--confidence", "0.4" }, "--confidence needs levels in 0.5..0.999" },
  { { "--confidence", "0.9,0.9" }, "level 0.9 given twice" },
  { { "--imaging-times", "4,24,24" },
    "--imaging-times needs increasing times > 0 h, comma-separated" },
  { { "--imaging-times", "4,x" }, "(got '4,x')" },
  { { "--cal-cv", "0.1" }, "need --imaging-model eanm" },
  { { "--imaging-model", "x" }, "--imaging-model needs proportional or eanm" },
} do
  local ok, e = pcall(rc.parse_args, c[1])
  t.ok(not ok and tostring(e):find(c[2], 1, true), "regimen_compare "
    .. table.concat(c[1], " ") .. " refused")
end
rk.run { "rm", "-rf", tmp }
t.done()
