-- tests/uncert.lua - rk.uncert: the measurement model per time point and
-- the propagation of its uncertainty to TIA, dose and BED, checked against
-- hand computation and against the C results they wrap.
local rk = require "radiokin"
local t = require "radiokin.tap"

-- A recovery table from rc_max 0.95, v50 1.5 mL, k 1.2 (noise free).
local v = { 0.5, 1.15, 2.57, 5.58, 11.49, 26.52 }
local rc, sd = {}, {}
for i, x in ipairs(v) do
  rc[i] = 0.95 / (1 + (1.5 / x) ^ 1.2)
  sd[i] = 0.02
end
local curve = rk.uncert.recovery_fit { v_ml = v, rc = rc, sd = sd }
t.is(curve.rc_max, 0.95, 1e-6, "recovery fit: rc_max")
t.is(curve.v50_ml, 1.5, 1e-6, "recovery fit: v50")
t.is(curve.k, 1.2, 1e-6, "recovery fit: k")
t.ok(#curve.cov == 9 and curve.dof == 3, "covariance 3 x 3, 3 dof")
local r3, u3 = rk.uncert.recovery(curve, 3)
t.is(r3, 0.95 / (1 + (1.5 / 3) ^ 1.2), 1e-6, "RC at 3 mL")
t.ok(u3 > 0 and u3 < 0.05, "its fit uncertainty " .. u3)

-- one-voxel boundary change of a 10 mm sphere with 2 mm voxels (hand)
local v10 = 4 / 3 * math.pi
t.is(rk.uncert.volume_voxel(v10, 2), 4 / 3 * math.pi * (1728 - 512) / 2
  / 1000, 1e-12, "volume_voxel by hand")

local a = rk.uncert.activity { t_h = 24, counts = 1e6, t_acq_s = 1000,
  u_extra = 0.03, cal = 10, u_cal = 0.4, v_ml = 3, u_v_ml = 0.3,
  recovery = curve }
t.is(a.a_mbq, 1e6 / 1000 / (10 * r3), 1e-9, "activity = C/t/(Q RC)")
t.is(a.u_rel.calibration, 0.04, 1e-12, "calibration u(Q)/Q")
t.is(a.u_rel.counts, math.sqrt(1e-6 + 0.03 ^ 2), 1e-12, "counts")
local ad = rk.uncert.activity { t_h = 24, counts = 1e6 / 3, t_acq_s = 1000,
  u_extra = 0.03, cal = 10, u_cal = 0.4, v_ml = 3, u_v_ml = 0.3,
  recovery = curve, per_ml = true }
t.is(ad.a_mbq, a.a_mbq, 1e-12, "per_ml: density x volume = the same counts")
local share = 0
for _, s in pairs(a.budget) do share = share + s end
t.is(share, 1, 1e-12, "activity budget shares sum to 1")

-- A kidney over two cycles, counts from 100 e^-0.012 t MBq.
local function cycle()
  local c = { t_h = { 4, 24, 72, 168 }, counts = {}, t_acq_s = 1200,
    u_extra = 0.05 }
  local rcv = rk.uncert.recovery(curve, 150)
  for i, tt in ipairs(c.t_h) do
    c.counts[i] = 100 * math.exp(-0.012 * tt) * 10 * rcv * 1200
  end
  return c
end
local spec = { nuclide = "Lu-177", region = "kidney", model = "mono",
  cal = 10, u_cal = 0.5, v_ml = 150, u_v_ml = 7.5, recovery = curve,
  density = 1.05, ab_gy = 2.6, u_ab_gy = 0.2, trep_h = 2.8,
  cycles = { cycle(), cycle() } }
local d = rk.uncert.chain(spec)
t.is(d.tia[1].value, 100 / 0.012, 1e-6, "TIA of noise-free data = A0/l")
t.is(d.tia[1].var.calibration, (0.05 * d.tia[1].value) ^ 2, 1e-6,
  "calibration adds exactly (TIA u/Q)^2")
t.is(d.cum_dose.var.calibration, (0.05 * d.cum_dose.value) ^ 2, 1e-6,
  "over cycles the calibration is fully correlated")
local mass = 1.05 * 150 / 1000
t.is(d.mass.value, mass, 1e-12, "mass = density x volume")
t.is(d.dose[1].value, rk.dosimetry.led { nuclide = "Lu-177",
  tia_MBqh = d.tia[1].value, mass_kg = mass }, 1e-9,
  "dose = rk.dosimetry.led of the TIA")
t.is(d.bed[1].value, (rk.radiobio.bed { dose_gy = d.dose[1].value,
  g = d.g[1], ab_gy = 2.6 }), 1e-9, "BED = rk.radiobio.bed with the G")
t.is(d.cum_bed.value, d.bed[1].value + d.bed[2].value, 1e-12,
  "cumulative BED = sum")
share = 0
for _, s in pairs(d.cum_bed.budget) do share = share + s end
t.is(share, 1, 1e-12, "budget of cumulative BED sums to 1")
t.is(d.cum_bed.hi - d.cum_bed.value, 1.959963984540054 * d.cum_bed.u, 1e-9,
  "95 % interval +- 1.96 u")
local m = rk.uncert.chain(setmetatable({ method = "mc", draws = 4000,
  seed = 3 }, { __index = spec }))
t.ok(m.method == "mc" and m.n_draws == 4000, "Monte Carlo 4000 draws")
t.ok(math.abs(m.cum_bed.u / d.cum_bed.u - 1) < 0.06,
  string.format("MC u %.4f vs delta %.4f (4000 draws)", m.cum_bed.u,
    d.cum_bed.u))

-- a course from given doses: by hand (shared terms add linearly)
local co = rk.uncert.course { dose_gy = { 3, 2 }, u_rel = { 0.1, 0.05 },
  g = { 0.1, 0.2 }, u_cal_rel = 0.05, u_mass_rel = 0.03, ab_gy = 2.6 }
t.is(co.cum_dose.u, math.sqrt(0.09 + 0.01 + 0.0034 * 25), 1e-12,
  "course: cumulative dose u by hand")
t.is(co.cum_dose_at[1].u, co.dose[1].u, 1e-12, "through cycle 1")
t.ok(co.cum_bed.value > co.cum_dose.value, "course: BED > dose")
t.raises(function() rk.uncert.course { dose_gy = { 1, 2 }, u_rel = { 0.1 } }
  end, "'u_rel' has 1 values for 2 doses", "u_rel count")

-- next activity: level 0.5 = rk.radiobio.budget's point estimate
local a50 = rk.uncert.next_activity { dose_gy = { 8, 7 }, g = { 0.05, 0.06 },
  u_rel = { 0.08, 0.1 }, u_cal_rel = 0.05, ab_gy = 2.6, u_ab_gy = 0.3,
  gy_per_mbq = 8 / 7400, u_gy_per_mbq_rel = 0.1, g_next = 0.055,
  limit_bed_gy = 40, level = 0.5 }
local past = 8 * (1 + 0.05 * 8 / 2.6) + 7 * (1 + 0.06 * 7 / 2.6)
local dn = rk.radiobio.budget { bed_so_far_gy = past, limit_bed_gy = 40,
  g = 0.055, ab_gy = 2.6 }
t.is(a50, dn / (8 / 7400), 1e-8, "next activity at 0.5 = point budget")
local a95, ub = rk.uncert.next_activity { dose_gy = { 8, 7 },
  g = { 0.05, 0.06 }, u_rel = { 0.08, 0.1 }, u_cal_rel = 0.05, ab_gy = 2.6,
  u_ab_gy = 0.3, gy_per_mbq = 8 / 7400, u_gy_per_mbq_rel = 0.1,
  g_next = 0.055, limit_bed_gy = 40 }
t.ok(a95 < a50 and math.abs(ub - 40) < 1e-6,
  ("at 0.95: %.0f MBq < %.0f, upper bound on the limit"):format(a95, a50))

local s = rk.uncert.stp { method = "haenscheid", t_h = 72, a_mbq = 10,
  u_rel = 0.05, t_half_h = 72, cv = 0 }
t.is(s.tia, 10 * 2 * 72 / math.log(2), 1e-12, "Haenscheid TIA")
t.is(s.u, 0.05 * s.tia, 1e-9, "exact method: only the measurement")

-- a rising curve holds the rate at physical decay: said in warnings
local rise = rk.uncert.chain { nuclide = "Lu-177", cal = 10, v_ml = 150,
  cycles = { { t_h = { 4, 24, 72 }, counts = { 1e3, 8e4, 5e5 },
    t_acq_s = 600 } } }
t.like(table.concat(rise.warnings, ";"), "cycle 1: held_at_physical",
  "a rate held at physical decay is flagged")
t.ok(#d.warnings == 0, "no flags on the clean kidney")
t.raises(function() rk.uncert.chain(setmetatable({ method = "bayes" },
  { __index = spec })) end, "field 'method' must be", "unknown method")
t.raises(function() rk.uncert.chain { nuclide = "Lu-177", cal = 10,
  v_ml = 10, cycles = { { t_h = { 1, 2 }, counts = { 1 }, t_acq_s = 1 } } }
  end, "cycles%[1%] has 2 times and 1 counts", "mismatched cycle")
t.raises(function() rk.uncert.chain { nuclide = "Lu-177", cal = 10,
  v_ml = 10, cycles = { { t_h = { 1, 2 }, counts = { 1, 2 } } } } end,
  "t_acq_s is required", "no acquisition time")
t.raises(function() rk.uncert.activity { t_h = 1, counts = -5, t_acq_s = 1,
  cal = 1, v_ml = 1 } end, "counts", "negative counts")
t.raises(function() rk.uncert.chain { nuclide = "Lu-177", cal = 10,
  v_ml = 10, colour = 1, cycles = {} } end, "unknown field 'colour'",
  "typo in a field")
-- rk.uncert.voi: a VOI of voxel maps. 200 voxels with doses 1..40 Gy and
-- G 0.1..0.9, alpha/beta 3 Gy: the mean BED's derivative with respect
-- to a common dose scale, by central differences of the voxel sums,
-- equals 2 BED - D (the closed form the uncertainty uses).
do
  local ab, n = 3, 200
  local function means(scale)
    local sd, sb = 0, 0
    for i = 1, n do
      local d = scale * (1 + 39 * (i - 1) / (n - 1))
      local g = 0.1 + 0.8 * ((i * 37) % n) / n
      sd = sd + d
      sb = sb + d + g * d * d / ab
    end
    return sd / n, sb / n
  end
  local D, B = means(1)
  local h = 1e-6
  local _, bp = means(1 + h)
  local _, bm = means(1 - h)
  local slope = (bp - bm) / (2 * h)
  t.is(slope, 2 * B - D, 1e-7, "d mean BED / d ln scale = 2 BED - D "
    .. "(finite differences over 200 voxels)")
  local q = rk.uncert.voi { dose_gy = D, bed_gy = B, u_rel = {
    calibration = 0.05, volume = 0.1, recovery = 0.03, counts = 0.02 } }
  local ur = math.sqrt(0.05 ^ 2 + 0.1 ^ 2 + 0.03 ^ 2 + 0.02 ^ 2)
  t.is(q.dose.u, D * ur, 1e-12, "dose: u = D sqrt(sum u_s^2)")
  t.is(q.dose.hi, D + 1.959963984540054 * D * ur, 1e-12,
    "dose: 95 % interval D + 1.95996 u")
  t.is(q.bed.u, (2 * B - D) * ur, 1e-12, "BED: u = (2 BED - D) sqrt(sum "
    .. "u_s^2)")
  t.is(q.dose.budget.volume, 0.01 / ur ^ 2, 1e-12, "budget: the volume's "
    .. "share = 0.1^2 / sum")
  local qa = rk.uncert.voi { dose_gy = D, bed_gy = B, u_rel = {
    calibration = 0.05 }, ab_gy = ab, u_ab_gy = 1 }
  t.is(qa.bed.var.alpha_beta, ((B - D) / ab * 1) ^ 2, 1e-12,
    "alpha/beta: (BED - D) u_ab / ab")
  local qb = rk.uncert.voi { dose_gy = D, bed_gy = B, u_rel = {
    calibration = 0.05, volume = 0.1 }, bed_u = { volume = 0.3 } }
  t.is(qb.bed.var.volume, 0.09, 1e-12, "bed_u: the volume's BED term "
    .. "given directly (0.3 Gy)")
  t.is(qb.bed.var.calibration, ((2 * B - D) * 0.05) ^ 2, 1e-12,
    "... the calibration's still by the slope rule")
  t.ok(rk.uncert.voi { dose_gy = 2, u_rel = { activity = 0.05,
    lung_shunt = 0.1 } }.bed == nil, "no BED without bed_gy; the TARE "
    .. "sources activity and lung_shunt accepted")
  t.raises(function() rk.uncert.voi { dose_gy = 2, bed_gy = 1 } end,
    "below the mean dose", "BED < D")
  t.raises(function() rk.uncert.voi { dose_gy = 2, u_rel = { colour = 1 } }
  end, "key 'colour': not a source", "an unknown source")
  t.raises(function() rk.uncert.voi { dose_gy = 2, u_rel = {
    calibration = -1 } } end, "relative SD %-1", "a negative SD")
  t.raises(function() rk.uncert.voi { dose_gy = 0 } end,
    "mean dose 0 Gy %(expected > 0%)", "zero dose")
end
t.done()
