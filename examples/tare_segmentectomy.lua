-- tare_segmentectomy.lua - Figure 1 of the TARE dosimetry review
-- (Tijdschr Nucl Geneesk 2023;45(2); docs/sources.md), reproduced.
--
--   radiokin examples/tare_segmentectomy.lua
--
-- The review's Figure 1: radiation segmentectomy of one segment-4
-- mCRC lesion with 90Y microspheres; total liver 2300 mL (CE-CT), treated
-- volume 350 mL (cone-beam CT at the injection position), T/N 2.4
-- (99mTc-MAA SPECT/CT), planned tumour dose 200 Gy, prescribed 850 MBq.
--
-- The caption does not give the tumour volume, the lung shunt, the tissue
-- density, the dose conversion factor or the product. The partition model
--   A = D_T (M_N + r M_T) / (CF r (1 - L)),  M_T = f rho V, M_N = (1-f) rho V
-- is linear in the tumour fraction f of the treated volume, so for each
-- set of the other assumptions exactly one f gives 850 MBq:
--   f = (A CF r (1 - L) / (D_T rho V) - 1) / (r - 1).
-- This script prints that f over the usual choices, then plans the case
-- with the main assumption set and shows that it returns 850 MBq.
local rk = require "radiokin"

local M = {}

M.case = {
  treated_mL = 350, liver_mL = 2300, tn = 2.4, target_gy = 200,
  prescribed_mbq = 850,
}

-- Tumour fraction of the treated volume for which the partition model
-- prescribes the figure's activity, given density (kg/L), CF (Gy kg/GBq) and
-- lung shunt fraction.
function M.tumour_fraction(rho, cf, lsf)
  local c = M.case
  local mass = rho * c.treated_mL / 1000
  local gbq = c.prescribed_mbq / 1000
  return (gbq * cf * c.tn * (1 - lsf) / (c.target_gy * mass) - 1) /
         (c.tn - 1)
end

-- The plan under one assumption set (a table rk.tare.plan takes).
function M.plan_table(rho, cf, lsf)
  local c = M.case
  local f = M.tumour_fraction(rho, cf, lsf)
  return {
    -- The review names no product; 200 Gy is TheraSphere's tumour target
    -- (its Table 1), so its limits are the ones checked.
    product = "TheraSphere", cf = cf, density_kg_L = rho,
    liver_volume_mL = c.liver_mL,
    territories = {{
      name = "segment 4", volume_mL = c.treated_mL, lsf = lsf,
      lesions = {{volume_mL = f * c.treated_mL, tn = c.tn}},
      mode = "tumour", target_gy = c.target_gy,
    }},
  }
end

-- Main assumption set: liver density 1.03 kg/L (the value used in 90Y
-- planning, U), the review's CF 49.67, no lung shunt (LSF not reported;
-- segmental injections shunt little).
M.main_assumptions = {rho = 1.03, cf = 49.67, lsf = 0}

function M.main()
  local c = M.case
  print(("Review Figure 1: treated volume %d mL, T/N %.1f, tumour target " ..
         "%d Gy, prescribed %d MBq of 90Y"):format(c.treated_mL, c.tn,
         c.target_gy, c.prescribed_mbq))
  print("\nTumour fraction f of the treated volume for which the " ..
        "partition model gives 850 MBq:")
  print(("  %-12s %-22s %-6s %8s %12s"):format("density", "CF Gy kg/GBq",
        "LSF", "f", "tumour mL"))
  local derived = rk.tare.cf("Y-90", "derived")
  for _, rho in ipairs {1.0, 1.03} do
    for _, cf in ipairs {{49.67, "49.67 (review)"}, {50, "50 (rounded)"},
                         {derived, ("%.2f (derived)"):format(derived)}} do
      for _, lsf in ipairs {0, 0.05, 0.10} do
        local f = M.tumour_fraction(rho, cf[1], lsf)
        print(("  %-12s %-22s %-6.2f %8.3f %12.1f"):format(
              ("%.2f kg/L"):format(rho), cf[2], lsf, f, f * c.treated_mL))
      end
    end
  end

  local a = M.main_assumptions
  local f = M.tumour_fraction(a.rho, a.cf, a.lsf)
  local r = rk.tare.plan(M.plan_table(a.rho, a.cf, a.lsf))
  local t = r.territories[1]
  print(("\nMain assumptions: density %.2f kg/L, CF %.2f, LSF %.2f -> " ..
         "tumour %.1f mL (f = %.3f) of the 350 mL"):format(a.rho, a.cf,
         a.lsf, f * c.treated_mL, f))
  print(("  planned activity   %8.1f MBq (review: %d MBq)"):format(
        r.activity_mbq, c.prescribed_mbq))
  print(("  tumour dose        %8.1f Gy"):format(t.lesions[1].dose_gy))
  print(("  normal tissue dose %8.1f Gy in the treated segment (T/N " ..
         "2.4: 200 / 2.4)"):format(t.normal_gy))
  print(("  segment mean dose  %8.1f Gy (single compartment over 350 mL)")
        :format(t.mean_gy))
  print(("  whole-liver normal %8.1f Gy (2300 mL liver, untreated part " ..
         "0 Gy)"):format(r.liver_normal_gy))
  for _, ch in ipairs(r.checks) do
    print(("  %-34s %7.1f Gy, limit %5.0f Gy: %s (margin %.1f Gy)"):format(
          ch.what, ch.dose_gy, ch.limit_gy, ch.status, ch.margin_gy))
  end
  -- Readings that do not give 850 MBq, for contrast.
  local sc = rk.tare.plan{product = "TheraSphere", cf = a.cf,
    density_kg_L = a.rho, volume_mL = c.treated_mL, lsf = 0,
    mode = "normal", target_gy = c.target_gy}
  print(("\nNot the review's method: 200 Gy over the whole 350 mL (single " ..
         "compartment) needs %.0f MBq;"):format(sc.activity_mbq))
  print(("850 MBq spread over 350 mL gives %.1f Gy, and a vanishing tumour " ..
         "(f -> 0) would need %.0f MBq."):format(t.mean_gy,
         c.target_gy / c.tn * a.rho * c.treated_mL / a.cf))
  return r, f
end

if arg and arg[0] and arg[0]:match("tare_segmentectomy%.lua$") then
  M.main()
end
return M
