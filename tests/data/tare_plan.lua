-- A TARE plan as a Lua table file (scripts/tare_plan.lua): the table
-- rk.tare.plan takes. Two lesions share one territory (multi-lesion
-- partition); the lowest-T/N lesion is planned to the target.
return {
  product = "SIR-Spheres", cf = "clinical",
  liver_volume_mL = 1800, decay_h = 20, residual_fraction = 0.03,
  territories = {
    { name = "right lobe", volume_mL = 1200, lsf = 0.06,
      lesions = { { volume_mL = 90, tn = 5 }, { volume_mL = 40, tn = 2.5 } },
      mode = "tumour", target_gy = 100, ref = "min", cap = true },
  },
}
