-- tests/tare_partition.lua - rk.tare.plan returns the partition of the
-- administered activity per territory: A_lung (shunted to the lungs), A_N
-- (normal liver) and A_T (tumours; A_mbq per lesion), each checked by hand
-- and against the doses the plan reports (D = CF A / M, CF in Gy kg/GBq).
local rk = require "radiokin"
local t = require "radiokin.tap"

-- A = 1610.6302 MBq (tests/tare.lua: 120 Gy to a 0.3 kg lesion, T/N 4,
-- LSF 0.1, 1.5 kg territory). M_N = 1.2 kg, U = 1.2 + 4 x 0.3 = 2.4 kg.
local r = rk.tare.plan { product = "SIR-Spheres", cf = 49.67, mass_kg = 1.5,
  lsf = 0.1, lesions = { { mass_kg = 0.3, tn = 4 } }, mode = "tumour",
  target_gy = 120 }
local tr = r.territories[1]
local a = r.activity_mbq
t.is(tr.A_lung, 0.1 * a, 1e-12, "A_lung = A L")
t.is(tr.A_N, 0.9 * a * 1.2 / 2.4, 1e-12, "A_N = A (1 - L) M_N / U")
t.is(tr.A_T, 0.9 * a * 1.2 / 2.4, 1e-12, "A_T = A (1 - L) tn M_T / U")
t.is(tr.lesions[1].A_mbq, tr.A_T, 1e-12, "one lesion: its A_mbq is A_T")
t.is(tr.A_lung + tr.A_N + tr.A_T, a, 1e-12, "the parts add up to A")
t.is(49.67 * tr.A_N / 1000 / tr.normal_mass_kg, tr.normal_gy, 1e-9,
  "CF A_N / M_N is the normal-liver dose")
t.is(49.67 * tr.lesions[1].A_mbq / 1000 / 0.3, tr.lesions[1].dose_gy, 1e-9,
  "CF A_lesion / M_lesion is the lesion dose (120 Gy)")
t.is(49.67 * tr.A_lung / 1000 / 1, r.lung_gy, 1e-9,
  "CF A_lung / 1 kg is the lung dose")

-- Two lesions with different T/N: A_T is their sum.
local two = rk.tare.plan { product = "SIR-Spheres", cf = 49.67,
  mass_kg = 1.5, lsf = 0.05, activity_mbq = 2000,
  lesions = { { mass_kg = 0.2, tn = 3 }, { mass_kg = 0.1, tn = 6 } } }
local t2 = two.territories[1]
-- M_N = 1.2, U = 1.2 + 0.6 + 0.6 = 2.4; liver share 1900 MBq.
t.is(t2.lesions[1].A_mbq, 1900 * 0.6 / 2.4, 1e-12, "lesion 1: 475 MBq")
t.is(t2.lesions[2].A_mbq, 1900 * 0.6 / 2.4, 1e-12, "lesion 2: 475 MBq")
t.is(t2.A_T, 950, 1e-12, "A_T = 950 MBq")
t.is(t2.A_N, 950, 1e-12, "A_N = 1900 x 1.2 / 2.4")
t.is(t2.A_lung, 100, 1e-12, "A_lung = 2000 x 0.05")
t.done()
