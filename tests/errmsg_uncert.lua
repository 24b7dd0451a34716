-- tests/errmsg_uncert.lua - error messages of the rk.uncert bindings
-- (dsl/l_uncert.c: recovery curves, the chain's cycles, course, VOI and
-- next activity), provoked one by one and their text asserted (issue 22
-- item 3).
local rk = require "radiokin"
local t = require "radiokin.tap"

local curve = { rc_max = 0.95, v50_ml = 1.5, k = 1.2 }
t.ok(pcall(rk.uncert.recovery, curve, 3), "a curve without cov evaluates")
-- recovery curves
t.raises(function() rk.uncert.recovery(5, 3) end, "rk.uncert.recovery: "
  .. "recovery must be the table rk.uncert.recovery_fit returns (got 5",
  "a number for the curve")
t.raises(function() rk.uncert.recovery({ rc_max = 0.95, v50_ml = 1.5,
    k = 1.2, cov = { 1, 0, 0, 0, 1, 0, 0, 0 } }, 3) end,
  "rk.uncert.recovery: field 'cov' of recovery has 8 numbers, expected 9",
  "a covariance of 8 numbers")
t.raises(function() rk.uncert.recovery({ rc_max = 0.95, v50_ml = 1.5,
    k = 1.2, cov = { 1, 0, 0, 0, -1, 0, 0, 0, 1 } }, 3) end,
  "rk.uncert.recovery: recovery cov diagonal 2 is negative (-1.0)",
  "a negative variance")
t.raises(function() rk.uncert.recovery(curve, 0) end,
  "rk.uncert.recovery: volume must be > 0 mL (got 0", "a zero volume")
t.raises(function() rk.uncert.recovery_fit { v_ml = { 1, 2, 4, 8 },
    rc = { 0.3, 0.5, 0.7 } } end,
  "rk.uncert.recovery_fit: v_ml has 4 values, rc 3", "rc shorter than v_ml")
-- the chain
local function chain(o)
  local a = { nuclide = "Lu-177", cal = 10, v_ml = 150,
    cycles = { { t_h = { 4, 24, 72 }, counts = { 1e5, 8e4, 5e4 },
                 t_acq_s = 600 } } }
  for k, v in pairs(o) do a[k] = v end
  for k, v in pairs(o) do if v == "nil" then a[k] = nil end end
  return function() return rk.uncert.chain(a) end
end
t.ok(pcall(chain {}), "the base chain runs")
t.raises(chain { dose = "mird" }, "rk.uncert.chain: field 'dose' must be "
  .. "\"led\" or \"s\" (got \"mird\")", "an unknown dose kind")
t.raises(chain { method = "bayes" }, "rk.uncert.chain: field 'method' must "
  .. "be \"delta\" or \"mc\" (got \"bayes\")", "an unknown method")
t.raises(chain { cycles = "nil" }, "rk.uncert.chain: field 'cycles' is "
  .. "required (an array of {t_h=, counts=, t_acq_s=})", "no cycles")
t.raises(chain { cycles = {} }, "rk.uncert.chain: 0 cycles, expected 1..12",
  "an empty list of cycles")
t.raises(chain { cycles = { 5 } }, "rk.uncert.chain: cycles[1] must be a "
  .. "table {t_h=, counts=, t_acq_s=}", "a cycle that is no table")
t.raises(chain { cycles = { { t_h = { 4, 24 }, counts = { 1e5, 8e4 },
                              t_acq_s = { 600 } } } },
  "rk.uncert.chain: cycles[1].t_acq_s has 1 values for 2 points",
  "acquisition times of the wrong length")
-- course
t.raises(function() rk.uncert.course { dose_gy = { 5, 4 },
    u_rel = { 0.1 } } end,
  "rk.uncert.course: field 'u_rel' has 1 values for 2 doses",
  "a course's u_rel of the wrong length")
-- VOI
t.raises(function() rk.uncert.voi { dose_gy = 10, u_rel = 0.1 } end,
  "rk.uncert.voi: field 'u_rel' must be a table {source = number}",
  "u_rel not a table")
t.raises(function() rk.uncert.voi { dose_gy = 10,
    u_rel = { camera = 0.1 } } end,
  "rk.uncert.voi: field 'u_rel' has key 'camera': not a source "
  .. "(rk.uncert.sources())", "an unknown source")
t.raises(function() rk.uncert.voi { dose_gy = 10,
    u_rel = { volume = "x" } } end,
  "rk.uncert.voi: u_rel.volume must be a number", "a source SD that is "
  .. "text")
-- next activity
t.raises(function() rk.uncert.next_activity { dose_gy = { 5 }, g = { 0.9 },
    u_rel = { 0.1, 0.1 }, ab_gy = 2.5, gy_per_mbq = 1e-3, g_next = 0.9,
    limit_bed_gy = 40, level = 0.9 } end,
  "rk.uncert.next_activity: field 'u_rel' has 2 values for 1 doses",
  "next activity: u_rel of the wrong length")
t.done()
