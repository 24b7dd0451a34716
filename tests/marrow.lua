-- marrow.lua - scripts/marrow.lua: blood samples and whole-body
-- measurements -> red-marrow dose with its uncertainty (Hindorf et al.
-- 2010), against hand computation.
local rk = require "radiokin"
local t = require "radiokin.tap"

local src = os.getenv("RADIOKIN_SRCDIR") or "."
package.path = src .. "/scripts/?.lua;" .. package.path
local marrow = require "marrow"

local stem = os.tmpname()
local input, out = stem .. "_samples.csv", stem .. "_marrow.csv"

-- Noise-free curves: blood 0.002 e^-0.03 t + 0.0005 e^-0.008 t MBq/mL
-- (8 samples, sd 0.1 % so that AICc prefers the bi-exponential), whole
-- body 7000 e^-0.01 t MBq (5 measurements, --cv).
local lines = { "patient,kind,t_h,value,sd" }
for _, tt in ipairs { 0.5, 1, 2, 4, 24, 48, 96, 168 } do
  local v = 0.002 * math.exp(-0.03 * tt) + 0.0005 * math.exp(-0.008 * tt)
  lines[#lines + 1] = ("B1,blood,%g,%.12g,%.12g"):format(tt, v, 1e-3 * v)
end
for _, tt in ipairs { 1, 24, 48, 96, 168 } do
  lines[#lines + 1] = ("B1,wholebody,%g,%.12g,"):format(tt,
    7000 * math.exp(-0.01 * tt))
end
t.write_file(input, table.concat(lines, "\n") .. "\n")
local res = marrow.main { input, "--out", out, "--marrow-mass-kg", "1.17",
  "--rmblr", "1", "--u-rmblr", "0.2", "--u-marrow-mass", "0.1",
  "--s-cross", "2e-6", "--u-s-cross", "0.1", "--quiet" }
local r = res[1]
local tb = 0.002 / 0.03 + 0.0005 / 0.008
t.is(r.tia_blood_MBqh_per_mL, tb, 1e-4, "blood TIA per mL = sum A/l")
t.is(r.tia_wb_MBqh, 7000 / 0.01, 1e-4, "whole-body TIA = A/l")
local trm = r.tia_blood_MBqh_per_mL * 1 * 1170
t.is(r.tia_rm_MBqh, trm, 1e-12, "TIA_RM = TIA_blood/mL x RMBLR x m_RM (g)")
local self = rk.dosimetry.led { nuclide = "Lu-177", tia_MBqh = trm,
  mass_kg = 1.17 }
t.is(r.dose_self_gy, self, 1e-12, "self-dose = LED of TIA_RM")
t.is(r.dose_cross_gy, (r.tia_wb_MBqh - trm) * 2e-6, 1e-12,
  "cross-dose = (TIA_WB - TIA_RM) S(RM <- RB)")
t.is(r.dose_gy, r.dose_self_gy + r.dose_cross_gy, 1e-12, "total = sum")
t.ok(r.dose_lo_gy < r.dose_gy and r.dose_gy < r.dose_hi_gy,
  "95 % interval brackets the dose")
t.like(r.budget, "rmblr=", "the budget names RMBLR")
local back = rk.csv.read(out, { strings = { "patient", "blood_model",
  "wb_model", "budget", "warnings" }, missing = { "" } })
t.is(back[1].dose_gy, r.dose_gy, 1e-9, "CSV written and read back")

-- self-dose only without --s-cross, said in the warnings
res = marrow.main { input, "--out", out, "--marrow-mass-kg", "1.17",
  "--quiet" }
t.ok(res[1].dose_cross_gy == nil and res[1].dose_gy == res[1].dose_self_gy,
  "no --s-cross: self-dose only")
t.like(res[1].warnings, "self%-dose only", "and the warning says so")

-- bad input names file:line and the field
t.write_file(input, "patient,kind,t_h,value\nB1,plasma,1,0.1\n")
t.raises(function() marrow.main { input, "--marrow-mass-kg", "1.17",
  "--out", out, "--quiet" } end, "_samples.csv:2: kind = plasma",
  "unknown kind named with its line")
t.write_file(input, "patient,kind,t_h,value\nB1,blood,1,0.1\nB1,blood,2,0.09\n")
t.raises(function() marrow.main { input, "--out", out, "--quiet" } end,
  "no marrow_mass_kg column and no %-%-marrow%-mass%-kg",
  "marrow mass required")
for _, f in ipairs { stem, input, out } do os.remove(f) end
t.done()
