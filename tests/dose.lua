-- dose.lua - scripts/dose.lua: TIA table -> dose, BED, EQD2, limits,
-- per-GBq summary; one bad input.
local rk = require "radiokin"
local t = require "radiokin.tap"

local src = os.getenv("RADIOKIN_SRCDIR") or "."
package.path = src .. "/scripts/?.lua;" .. package.path
local dose = require "dose"

local stem = os.tmpname()
local input = stem .. "_tia.csv"
local out = stem .. "_dose.csv"

local write = t.write_file

write(input, [[
patient,region,organ,cycle,tia_MBqh,mass_kg,activity_MBq,teff_h
P01,kidney,kidney,2,22000,0.3,7400,45
P01,kidney,kidney,1,20000,0.3,7400,40
P01,lesion1,tumour,1,150000,0.05,7400,80
]])

local cycles, summary = dose.main { input, "--out", out, "--no-plot",
  "--quiet" }

-- Hand computation (MIRD schema and LQ BED, docs/sources.md): LED D = TIA x 3.6e9 x E_np x
-- 1.602176634e-13 / m with E_np = 0.14792 MeV (Lu-177, ICRP 107); BED =
-- D (1 + D T_rep / ((T_rep + T_eff) alpha/beta)), kidney 2.6 Gy / 2.8 h.
local e = 3.6e9 * 0.14792 * 1.602176634e-13
local d1, d2 = 20000 * e / 0.3, 22000 * e / 0.3
local b1 = d1 * (1 + d1 * 2.8 / ((2.8 + 40) * 2.6))
local b2 = d2 * (1 + d2 * 2.8 / ((2.8 + 45) * 2.6))

t.is(#cycles, 3, 0, "one output row per input row")
t.is(cycles[1].cycle, 1, 0, "cycles sorted within a region")
t.is(cycles[1].dose_gy, d1, 1e-12, "cycle 1 kidney dose = LED by hand")
t.is(cycles[1].g, 2.8 / (2.8 + 40), 1e-12, "G = T_rep / (T_rep + T_eff)")
t.is(cycles[1].bed_gy, b1, 1e-12, "cycle 1 BED, closed form by hand")
t.is(cycles[2].cum_dose_gy, d1 + d2, 1e-12, "cumulative dose = sum")
t.is(cycles[2].cum_bed_gy, b1 + b2, 1e-12, "cumulative BED = sum (full "
  .. "repair between cycles)")
t.is(cycles[2].cum_eqd2_gy, (b1 + b2) / (1 + 2 / 2.6), 1e-12,
  "cumulative EQD2 = BED / (1 + 2/ab)")
t.is(cycles[2].margin_bed_gy, 40 - (b1 + b2), 1e-12,
  "BED margin to 40 Gy (Bodei 2008)")
t.is(cycles[1].gy_per_gbq, d1 / 7.4, 1e-12, "Gy/GBq of cycle 1")

local k = summary[1]
t.ok(k.region == "kidney" and k.status == "ok", "kidney summary first, ok")
t.is(k.gy_per_gbq, (d1 + d2) / 14.8, 1e-12, "summary Gy/GBq over 2 cycles")
t.like(k.reference, "VISION 0.43", "VISION reference quoted for kidney")
-- Remaining budget: the next dose with cycle 2's G lands on the BED limit.
local g2 = 2.8 / (2.8 + 45)
local nb = k.next_dose_gy * (1 + g2 * k.next_dose_gy / 2.6)
t.is(b1 + b2 + nb, 40, 1e-9, "next cycle dose lands on BED 40 Gy (1e-9)")
t.is(k.next_activity_MBq, k.next_dose_gy * 7400 / d2, 1e-12,
  "next activity scales linearly with dose")
t.ok(summary[2].limit_dose_gy == nil and summary[2].next_dose_gy == nil,
  "tumour: no limit, no budget")

local back = rk.csv.read(out, { missing = { "" } })
t.is(back[2].cum_bed_gy, b1 + b2, 1e-14, "CSV written and read back")
local sum_rows = rk.csv.read(stem .. "_dose_summary.csv",
  { missing = { "" } })
t.is(#sum_rows, 2, 0, "summary CSV: one row per patient and region")

local svg = stem .. "_chart.svg"
local p, why = dose.plot(summary, svg)
if p then
  local f = assert(io.open(svg))
  local text = f:read("a")
  f:close()
  t.like(text, "<svg", "gnuplot wrote an SVG bar chart")
  os.remove(svg)
else
  t.skip(why, 1)
end

-- Bad input: a negative mass is reported with file, line and region.
write(input, [[
patient,region,organ,cycle,tia_MBqh,mass_kg,activity_MBq,teff_h
P01,kidney,kidney,1,20000,0.3,7400,40
P01,liver,kidney,1,20000,-0.3,7400,40
]])
t.raises(function()
  dose.main { input, "--out", out, "--no-plot", "--quiet" }
end, input .. ":3: rk.dosimetry.led: liver: mass_kg = -0.3, expected > 0",
  "negative mass names file:line, region and value")

-- A bad uptake half-time names file:line, region and value (it used to
-- fail inside Lua arithmetic, or as an 'infinite' engine rate for 0).
for _, v in ipairs { "abc", "0" } do
  write(input, ([[
patient,region,organ,cycle,tia_MBqh,mass_kg,activity_MBq,teff_h,tup_h
P01,kidney,kidney,1,20000,0.3,7400,40,%s
]]):format(v))
  t.raises(function()
    dose.main { input, "--out", out, "--no-plot", "--quiet" }
  end, input .. ":2: region 'kidney': tup_h = " .. v .. " h, expected an "
    .. "uptake half-time > 0", "tup_h = " .. v .. " names file:line and value")
end

-- ------------------------------------------------ tia.lua -> dose.lua
-- The pipeline as a user runs it: scripts/tia.lua on the imaging table,
-- then scripts/dose.lua on its tia.csv (no cycle, teff_h or organ column).
local build = os.getenv("RADIOKIN_BUILDDIR") or "."
local dir = stem .. "_pipe"
rk.mkdir(dir)
local function run(script, ...)
  local text, status = t.run { build .. "/radiokin", src .. "/scripts/"
                               .. script, ... }
  return status == 0, text
end
local ok, text = run("tia.lua", src .. "/tests/data/tia_small.csv", "--out",
                     dir, "--quiet")
t.ok(ok, "tia.lua on tests/data/tia_small.csv runs")
ok, text = run("dose.lua", dir .. "/tia.csv", "--out", dir .. "/dose.csv",
               "--no-plot", "--quiet")
t.ok(ok, "dose.lua runs on tia.lua's tia.csv as it stands")
t.like(text, "tia.csv:4: patient P2 region 'kidney': no mass_kg, no "
  .. "absorbed dose: row skipped", "row without a mass skipped, on stderr")

local tia_rows = rk.csv.read(dir .. "/tia.csv", { missing = { "" },
  strings = { "patient", "region", "model", "params", "warnings" } })
local dose_rows = rk.csv.read(dir .. "/dose.csv", { missing = { "" },
  strings = { "patient", "region", "organ", "bed_curve", "warnings" } })
local function find(rows, patient, region)
  for _, r in ipairs(rows) do
    if r.patient == patient and r.region == region then return r end
  end
end
local tk, dk = find(tia_rows, "P1", "kidney"), find(dose_rows, "P1", "kidney")
t.is(#dose_rows, 3, 0, "3 dose rows: P1 kidney, P1 liver, P2 tumour")
t.is(tk.model, "upwash", "tia.lua chose upwash for P1 kidney (the curve "
  .. "the BED checks below use)")
t.is(dk.cycle, 1, 0, "cycle defaults to 1")
-- LED by hand (MIRD schema, docs/sources.md): TIA x 3.6e9 x E_np x 1.602176634e-13 / m,
-- Lu-177 E_np = 0.14792 MeV (ICRP 107, engine/core/nuclide.c), m = 0.30 kg.
local gy_per_mbqh = 3.6e9 * 0.14792 * 1.602176634e-13 / 0.3
local dh = tk.tia_MBqh * gy_per_mbqh
t.is(dk.dose_gy, dh, 1e-12, "P1 kidney dose = LED of tia.csv's TIA by "
  .. "hand (1e-12)")
t.is(dk.dose_se_gy, tk.tia_se_MBqh * gy_per_mbqh, 1e-12,
  "dose SE = TIA SE x Gy/(MBq h) (dose linear in TIA, 1e-12)")
-- BED from the fitted curve A (e^-lw t - e^-lu t): rk.radiobio's uptake
-- closed form for these rates (independent of the double sum dose.lua
-- uses), kidney alpha/beta 2.6 Gy, T_rep 2.8 h.
local lw = tonumber(tk.params:match("lw=([^;]+)"))
local lu = tonumber(tk.params:match("lu=([^;]+)"))
local gk = rk.radiobio.g_uptake(lw, lu, 2.8)
t.like(dk.bed_curve, "fit:upwash", "BED shape from the fitted curve")
t.is(dk.g, gk, 1e-10, "G (double sum) = uptake closed form (1e-10)")
t.is(dk.bed_gy, dh * (1 + gk * dh / 2.6), 1e-10,
  "P1 kidney BED = D (1 + G D / (alpha/beta)) with the fit's G (1e-10)")
local cv = rk.radiobio.curve { c = { gy_per_mbqh, -gy_per_mbqh },
  b = { lw, lu }, organ = "kidney" }
t.is(dk.g, cv.g, 1e-12, "G = rk.radiobio.curve's on the same curve (1e-12)")
-- The liver is an organ class now (normal liver, a/b 2.5 Gy, T_rep 2.5 h):
-- BED from its fitted curve.
local dl = find(dose_rows, "P1", "liver")
t.ok(dl.dose_gy > 0 and dl.organ == "liver" and dl.bed_gy > dl.dose_gy,
  "liver: dose and BED with the liver class")

-- Trapezoid fallback (no analytic curve): physical-decay tail shape with a
-- warning, G = lambda / (lambda + mu), lambda = ln 2 / 159.528 h (Lu-177,
-- nuclide.c); a teff_h column wins over the fitted curve.
write(input, [[
patient,region,tia_MBqh,tia_se_MBqh,mass_kg,model,params,teff_h
P01,kidney,20000,,0.3,trapezoid,,
P02,kidney,20000,,0.3,upwash,A=300;lw=0.015;lu=0.3,40
P03,kidney,20000,,0.3,upwash,A=300;lw=0.015;lu=0.3,
]])
cycles = dose.main { input, "--out", out, "--no-plot", "--quiet" }
local lp, mu = math.log(2) / rk.nuclide("Lu-177").half_life_h,
  math.log(2) / 2.8
t.is(cycles[1].g, lp / (lp + mu), 1e-12, "trapezoid: G of physical decay")
t.like(cycles[1].warnings, "trapezoid fit: no analytic curve",
  "trapezoid: the assumption is in the warnings column")
t.ok(cycles[1].dose_se_gy == nil, "no tia_se_MBqh: no dose SE")
t.is(cycles[2].g, 2.8 / (2.8 + 40), 1e-12, "teff_h column wins over params")
-- 300 (1/0.015 - 1/0.3) = 19000 MBq h, 5 % below tia_MBqh.
t.like(cycles[3].warnings, "fitted upwash curve integrates to 19000 MBq h, "
  .. "tia_MBqh = 20000", "curve TIA differing from tia_MBqh is flagged")

-- Bad curve input names file:line and the value.
write(input, [[
patient,region,tia_MBqh,tia_se_MBqh,mass_kg,model,params
P01,kidney,20000,100,0.3,upwash,A=300;lw=abc;lu=0.3
]])
t.raises(function()
  dose.main { input, "--out", out, "--no-plot", "--quiet" }
end, input .. ":2: params 'A=300;lw=abc;lu=0.3': 'lw=abc' is not "
  .. "name=number", "bad params names file:line and the item")
write(input, [[
patient,region,tia_MBqh,tia_se_MBqh,mass_kg,model,params
P01,kidney,20000,100,0.3,quad,A=300
]])
t.raises(function()
  dose.main { input, "--out", out, "--no-plot", "--quiet" }
end, input .. ":2: model = 'quad', expected mono, bi, upwash, tri or "
  .. "trapezoid", "unknown model names file:line and value")
write(input, [[
patient,region,tia_MBqh,tia_se_MBqh,mass_kg,model,params
P01,kidney,20000,-5,0.3,mono,A=300;l=0.02
]])
t.raises(function()
  dose.main { input, "--out", out, "--no-plot", "--quiet" }
end, input .. ":2: region 'kidney': tia_se_MBqh = -5 MBq h, expected a "
  .. "standard error >= 0", "negative TIA SE names file:line and value")
write(input, [[
patient,region,tia_MBqh,mass_kg
P01,kidney,20000,0.3
]])
t.raises(function()
  dose.main { input, "--out", out, "--no-plot", "--quiet" }
end, input .. ":2: region 'kidney': the curve shape is needed for BED",
  "no curve shape at all: error names file:line")
-- ------------------------------------------------- organ-limit table
local kl = rk.radiobio.organ_limits("kidney")
local ids = {}
for _, l in ipairs(kl) do ids[l.id] = l end
t.ok(ids.kidney_bed_40 and ids.kidney_bed_40.quantity == "bed"
  and ids.kidney_bed_40.value_gy == 40 and ids.kidney_bed_40.default,
  "organ_limits: kidney BED 40 Gy is the kidney default")
t.ok(ids.kidney_bed_iluminet and ids.kidney_bed_iluminet.value_gy == 27
  and not ids.kidney_bed_iluminet.default
  and ids.kidney_bed_iluminet.source:match("ILUMINET"),
  "organ_limits: ILUMINET BED 27 Gy, a protocol row with its source")
t.is(rk.radiobio.organ_limit("kidney_dose_pp_prrt").value_gy, 23, 0,
  "organ_limit: PP-PRRT kidney absorbed dose 23 Gy")
t.is(#rk.radiobio.organ_limits("tumour"), 0, 0, "tumour: no limit")
t.raises(function() rk.radiobio.organ_limits("brain") end,
  "unknown organ 'brain'", "organ_limits of an unknown organ")
t.raises(function() rk.radiobio.organ_limit("kidney_bed_1") end,
  "unknown organ limit 'kidney_bed_1'", "unknown limit id")
t.is(rk.radiobio.organ_class("Left_Kidney"), "kidney", "organ_class spelling")
local nc, why = rk.radiobio.organ_class("blood")
t.ok(nc == nil and why:match("region 'blood' is not a known organ class"),
  "organ_class: nil and why for a non-organ")

-- ------------------------------------- spellings, maps, --activity
write(input, [[
patient,region,tia_MBqh,mass_kg,teff_h
P01,kidney_left,20000,0.15,40
P01,R_Kidney,20000,0.15,40
P01,K3,20000,0.3,40
P01,blood,500,5,40
P01,lesion_a,150000,0.05,80
]])
local map = stem .. "_map.csv"
write(map, "region,organ\nK3,Kidneys\n")
local cy, sm, sk, nb = dose.main { input, "--out", out, "--no-plot",
  "--quiet", "--activity", "7400", "--organs", map }
local function row(rows, region)
  for _, r in ipairs(rows) do if r.region == region then return r end end
end
t.ok(row(cy, "kidney_left").organ == "kidney"
  and row(cy, "R_Kidney").organ == "kidney", "kidney_left and R_Kidney are "
  .. "the kidney class")
t.ok(row(cy, "K3").organ == "kidney", "--organs map: K3 -> kidney "
  .. "(class spelled 'Kidneys')")
t.ok(row(cy, "lesion_a").organ == "tumour", "lesion_a -> tumour")
t.ok(row(cy, "blood").organ == nil and row(cy, "blood").bed_gy == nil,
  "blood: no organ class, no BED")
t.is(#nb, 1, 0, "one region without BED reported")
local notes = table.concat(dose.notes(cy, sm, nb), "\n")
t.like(notes, "no BED for region 'blood' %(patient P01%): region 'blood' is "
  .. "not a known organ class", "terminal note names the region and why")
t.like(notes, "--organ blood=CLASS", "terminal note says how to map it")
t.is(row(cy, "K3").activity_MBq, 7400, 0, "--activity fills activity_MBq")
t.is(row(cy, "K3").gy_per_gbq, d1 / 7.4, 1e-12, "Gy/GBq with --activity")
cy = dose.compute({ { patient = "P", region = "K9", tia_MBqh = 20000,
  mass_kg = 0.3, teff_h = 40 } }, { organ_map = { K9 = "kidney_risk" } })
t.is(cy[1].limit_bed_gy, 28, 0, "organ_map: K9 -> kidney_risk, BED 28 Gy")
t.raises(function()
  dose.main { input, "--out", out, "--no-plot", "--quiet", "--organ",
    "blood=heart" }
end, "--organ blood=heart: region 'heart' is not a known organ class",
  "--organ with an unknown class refused")
write(map, "region,organ\nK3,kidny\n")
t.raises(function()
  dose.main { input, "--out", out, "--no-plot", "--quiet", "--organs", map }
end, map .. ":2: region 'K3': region 'kidny' is not a known organ class",
  "--organs: unknown class names file:line")
os.remove(map)

-- --------------------------------------------- unit plausibility
local function one(mass, act, extra)
  write(input, ("patient,region,tia_MBqh,mass_kg,activity_MBq,teff_h\n"
    .. "P01,kidney,20000,%s,%s,40\n"):format(mass, act))
  local a = { input, "--out", out, "--no-plot", "--quiet" }
  for _, x in ipairs(extra or {}) do a[#a + 1] = x end
  return dose.main(a)
end
t.raises(function() one(300, 7400) end, input .. ":2: region 'kidney' "
  .. "%(kidney%): mass_kg = 300, expected 0.04%-1 kg; this looks like grams "
  .. "%(300 g = 0.3 kg%)", "kidney mass 300 refused as grams")
t.raises(function() one(0.3, 7.4) end, input .. ":2: activity_MBq = 7.4, "
  .. "expected 20%-50000 MBq for a therapy cycle; this looks like GBq %(7.4 "
  .. "GBq = 7400 MBq%)", "activity 7.4 refused as GBq")
t.raises(function() one(0.3, 7.4e6) end, "this looks like kBq %(7.4e%+06 "
  .. "kBq = 7400 MBq%)", "activity 7.4e6 refused as kBq")
t.raises(function() one(0.3, 0.03) end, "this looks like GBq %(0.03 GBq = "
  .. "30 MBq%)", "activity 0.03 refused as GBq (30 MBq in range)")
t.raises(function() one(5000, 7400) end, "no region outweighs a patient",
  "5000 kg refused")
cy = one(300, 7400, { "--no-unit-check" })
t.like(cy[1].warnings, "this looks like grams", "--no-unit-check: grams "
  .. "only a warning")
t.like(cy[1].warnings, "mass_kg given in grams", "... and Gy/GBq below the "
  .. "kidney range says why")
cy = one(0.3, 200)
t.like(cy[1].warnings, "region 'kidney' %(kidney%): 28.4%d* Gy/GBq, typical "
  .. "0.01%-10: activity_MBq given in GBq", "Gy/GBq above range warned")
cy = one(2.0, 7400)
t.like(cy[1].warnings, "mass_kg = 2, expected 0.04%-1 kg: check the region",
  "2 kg kidney: a warning, not grams")

-- ---------------------------------------- limits applied, budget
write(input, [[
patient,region,organ,cycle,tia_MBqh,mass_kg,activity_MBq,teff_h
P01,kidney,kidney,2,22000,0.3,7400,45
P01,kidney,kidney,1,20000,0.3,7400,40
]])
local _, s1 = dose.main { input, "--out", out, "--no-plot", "--quiet" }
t.is(s1[1].limits, "kidney_bed_40;kidney_dose_40", "default kidney limits "
  .. "named in the summary")
t.is(s1[1].bed_left_gy, 40 - (b1 + b2), 1e-12, "BED left = 40 - cumulative")
local text = dose.format(s1)
t.like(text, "limits applied:", "terminal lists the limits applied")
t.like(text, "kidney%s+BED%s+40 Gy%s+kidney_bed_40: kidneys of patients "
  .. "without risk factors for renal toxicity; Bodei 2008", "BED limit with its source")
t.like(text, "kidney%s+absorbed dose%s+40 Gy%s+kidney_dose_40",
  "dose limit with its id")
t.like(text, ("budget P01 kidney: BED left %.2f Gy; next cycle"):format(
  40 - (b1 + b2)), "terminal states the BED left")
local _, s2 = dose.main { input, "--out", out, "--no-plot", "--quiet",
  "--limit", "kidney_bed_iluminet", "--cycles-left", "3" }
local k2 = s2[1]
t.is(k2.limit_bed_gy, 27, 0, "--limit kidney_bed_iluminet: BED limit 27")
t.is(k2.limits, "kidney_bed_iluminet;kidney_dose_40", "summary names the "
  .. "ILUMINET limit")
t.is(k2.cycles_left, 3, 0, "three cycles left")
local dn = k2.next_dose_gy
t.is(b1 + b2 + 3 * dn * (1 + g2 * dn / 2.6), 27, 1e-9, "three equal cycles "
  .. "of next_dose_gy land on BED 27 Gy (1e-9)")
t.is(k2.next_activity_MBq, dn * 7400 / d2, 1e-12, "next activity per cycle "
  .. "scales with dose")
t.is(k2.binding_limit, "kidney_bed_iluminet", "the BED limit binds")
t.like(dose.format(s2, { cycles_left = 3 }), "next 3 equal cycles of "
  .. ("%.2f Gy = %.0f MBq"):format(dn, k2.next_activity_MBq),
  "terminal states the next cycles' activity")
-- kidney_risk: absorbed dose 23 Gy binds before BED 28 Gy here.
write(input, [[
patient,region,organ,tia_MBqh,mass_kg,activity_MBq,teff_h
P01,kidney,kidney_risk,60000,0.3,7400,200
]])
local _, s3 = dose.main { input, "--out", out, "--no-plot", "--quiet" }
local dk3 = 60000 * e / 0.3
local g3 = 2.8 / (2.8 + 200)
local bed_room = 28 - dk3 * (1 + g3 * dk3 / 2.6)
t.is(s3[1].dose_left_gy, 23 - dk3, 1e-12, "kidney_risk: dose left 23 - D")
t.ok(23 - dk3 < bed_room, "(case check: the dose limit is the tighter)")
t.is(s3[1].next_dose_gy, 23 - dk3, 1e-12, "next dose = dose left")
t.is(s3[1].binding_limit, "kidney_risk_dose_23", "the dose limit binds")
t.raises(function()
  dose.main { input, "--out", out, "--no-plot", "--quiet", "--limit",
    "kidney_bed_99" }
end, "--limit: rk.radiobio.organ_limit: unknown organ limit 'kidney_bed_99'",
  "unknown --limit id refused with the known ids")
t.raises(function()
  dose.main { input, "--out", out, "--no-plot", "--quiet", "--cycles-left",
    "1.5" }
end, "--cycles-left 1.5, expected a whole number", "--cycles-left 1.5")
t.raises(function()
  dose.main { input, "--out", out, "--no-plot", "--quiet", "--activity",
    "-3" }
end, "--activity %-3 MBq, expected > 0", "--activity -3")
-- A tiny kidney dose from a full activity: the next activity is no
-- therapy cycle, said in the summary.
write(input, [[
patient,region,organ,tia_MBqh,mass_kg,activity_MBq,teff_h
P01,kidney,kidney,20,0.3,7400,40
]])
local _, s4 = dose.main { input, "--out", out, "--no-plot", "--quiet",
  "--no-unit-check" }
t.like(s4[1].warning, "next%-cycle activity %d+ MBq is above any therapy "
  .. "cycle", "implausible next activity warned")

t.remove_tree(dir)

-- Uncertainty through dose.lua (rk.uncert.course): two kidney cycles of
-- 10 and 8 Gy-ish, TIA SE 5 % and 10 %, calibration 4 % and mass 6 %
-- shared by both cycles, teff 50 h. By hand: the cumulative dose's
-- variance = sum (u_i D_i)^2 + (0.04^2 + 0.06^2) (D_1 + D_2)^2.
write(input, [[
patient,region,cycle,tia_MBqh,tia_se_MBqh,mass_kg,teff_h,u_cal_rel
U1,kidney,1,20000,1000,0.3,50,0.04
U1,kidney,2,16000,1600,0.3,50,0.04
]])
cycles, summary = dose.main { input, "--out", out, "--no-plot", "--quiet",
  "--u-mass", "0.06", "--u-ab", "0.5" }
do
  local d1, d2 = cycles[1].dose_gy, cycles[2].dose_gy
  local want = math.sqrt((0.05 * d1) ^ 2 + (0.1 * d2) ^ 2
    + (0.04 ^ 2 + 0.06 ^ 2) * (d1 + d2) ^ 2)
  t.is(summary[1].cum_dose_u_gy, want, 1e-12,
    "cumulative dose u: TIA SEs independent, calibration and mass shared")
  t.is(cycles[1].dose_u_gy, d1 * math.sqrt(0.05 ^ 2 + 0.04 ^ 2 + 0.06 ^ 2),
    1e-12, "cycle 1 dose u")
  t.is(summary[1].cum_dose_hi_gy - summary[1].cum_dose_gy,
    1.959963984540054 * want, 1e-9, "95 % interval of the cumulative dose")
  local g, ab = cycles[1].g, 2.6
  local k1, k2 = 1 + 2 * g * d1 / ab, 1 + 2 * g * d2 / ab
  local vb = (k1 * 0.05 * d1) ^ 2 + (k2 * 0.1 * d2) ^ 2
    + (0.04 ^ 2 + 0.06 ^ 2) * (k1 * d1 + k2 * d2) ^ 2
    + ((g * d1 ^ 2 + g * d2 ^ 2) / ab ^ 2 * 0.5) ^ 2
  t.is(summary[1].cum_bed_u_gy, math.sqrt(vb), 1e-12,
    "cumulative BED u by hand (alpha/beta 2.6 +- 0.5 Gy)")
  t.ok(summary[1].cum_bed_lo_gy < summary[1].cum_bed_gy
    and summary[1].cum_bed_gy < summary[1].cum_bed_hi_gy,
    "BED interval brackets the estimate")
end
write(input, [[
patient,region,tia_MBqh,mass_kg,teff_h
V1,kidney,20000,0.3,50
]])
cycles = dose.main { input, "--out", out, "--no-plot", "--quiet" }
t.ok(cycles[1].dose_u_gy == nil, "no uncertainty input: no dose_u_gy")
write(input, [[
patient,region,tia_MBqh,mass_kg,teff_h,u_cal_rel
V1,kidney,20000,0.3,50,-0.1
]])
t.raises(function() dose.main { input, "--out", out, "--no-plot",
  "--quiet" } end, "u_cal_rel = %-0.1, expected a relative standard",
  "negative u_cal_rel refused, naming the line")

-- ----------------------------------------------------- --report DIR
-- One Markdown (and PNG) per patient: the budget by hand. One cycle of a
-- region with TIA SE 10 %, u_cal 5 %, u_mass 5 % (relative, shared):
-- dose variance shares 0.01 / 0.015 = 66.7 %, 0.0025 / 0.015 = 16.7 %
-- each (dose linear in each factor, GUM eq. 10); u = d sqrt(0.015).
do
  local dir = stem .. "_report"
  write(input, [[
patient,region,organ,cycle,tia_MBqh,tia_se_MBqh,mass_kg,activity_MBq,teff_h,u_cal_rel,u_mass_rel
../x/P1,lesion1,tumour,1,150000,15000,0.05,7400,80,0.05,0.05
P2,kidney,kidney,1,20000,,0.3,7400,40,,
P2,kidney,kidney,2,22000,,0.3,7400,45,,
]])
  cycles = dose.main { input, "--out", out, "--no-plot", "--quiet",
    "--report", dir, "--u-ab", "1" }
  local md1 = t.read_file(dir .. "/___x_P1.md")
  local d = 150000 * e / 0.05
  t.ok(md1 and md1:find("# Dosimetry report: patient ../x/P1", 1, true),
    "an id with '/' and '..' becomes the file ___x_P1.md inside DIR")
  t.ok(md1 and md1:find("| lesion1 | TIA (its fit's own SE; independent "
    .. "between cycles) | 66.7 %", 1, true) and md1:find("| lesion1 | "
    .. "calibration (shared by the cycles) | 16.7 %", 1, true)
    and md1:find("| lesion1 | mass (volume, density; shared by the "
    .. "cycles) | 16.7 %", 1, true) and md1:find("| lesion1 | alpha/beta "
    .. "| 0.0 % | ", 1, true), "budget of the cumulative dose by hand: "
    .. "66.7 / 16.7 / 16.7 %, alpha/beta none (BED only)")
  t.ok(md1 and md1:find(("%.3g +- %.2g"):format(d, d * math.sqrt(0.015)),
    1, true), ("the dose with its u by hand: %.3g +- %.2g Gy"):format(d,
    d * math.sqrt(0.015)))
  t.ok(md1 and md1:find("## What was measured", 1, true)
    and md1:find("## Models and parameters", 1, true)
    and md1:find("alpha/beta 10 Gy", 1, true), "sections: measured, "
    .. "models and parameters (tumour alpha/beta 10 Gy)")
  local md2 = t.read_file(dir .. "/P2.md")
  t.ok(md2 and md2:find("No uncertainty input was given", 1, true)
    and md2:find("| kidney | 2 |", 1, true), "a patient without "
    .. "uncertainty inputs: said so; both cycles reported")
  t.is(t.read_file(dir .. "/P2.png"), nil, "--no-plot: no PNG")
  if rk.run { "gnuplot", "--version" } == 0 then
    dose.main { input, "--out", out, "--quiet", "--plot", stem .. ".png",
      "--report", dir }
    local png = t.read_file(dir .. "/P2.png")
    t.ok(png and png:sub(2, 4) == "PNG", "with gnuplot: DIR/P2.png is a PNG")
    t.ok(t.read_file(dir .. "/P2.md"):find("![cumulative absorbed dose per "
      .. "cycle](P2.png)", 1, true), "... linked from the report")
    os.remove(stem .. ".png")
  else
    t.skip("gnuplot not installed: report PNG")
  end
  rk.run { "rm", "-rf", dir }
end

for _, f in ipairs { stem, input, out, stem .. "_dose_summary.csv" } do
  os.remove(f)
end
t.done()
