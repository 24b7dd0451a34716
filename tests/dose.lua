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

local function write(path, text)
  local f = assert(io.open(path, "w"))
  f:write(text)
  f:close()
end

write(input, [[
patient,region,organ,cycle,tia_MBqh,mass_kg,activity_MBq,teff_h
P01,kidney,kidney,2,22000,0.3,7400,45
P01,kidney,kidney,1,20000,0.3,7400,40
P01,lesion1,tumour,1,150000,0.05,7400,80
]])

local cycles, summary = dose.main { input, "--out", out, "--no-plot",
  "--quiet" }

-- Hand computation (DOMAIN.md s.2 and s.4): LED D = TIA x 3.6e9 x E_np x
-- 1.602176634e-13 / m with E_np = 0.1479 MeV (Lu-177, nuclide.c); BED =
-- D (1 + D T_rep / ((T_rep + T_eff) alpha/beta)), kidney 2.6 Gy / 2.8 h.
local e = 3.6e9 * 0.1479 * 1.602176634e-13
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

for _, f in ipairs { stem, input, out, stem .. "_dose_summary.csv" } do
  os.remove(f)
end
t.done()
