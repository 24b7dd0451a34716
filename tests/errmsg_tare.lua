-- tests/errmsg_tare.lua - error messages of rk.tare (dsl/l_tare.c) and the
-- TARE plan checks (engine/tare/tare.c) a user can reach, provoked one by
-- one and their text asserted (issue 22 item 3).
local rk = require "radiokin"
local t = require "radiokin.tap"

local function plan(o)
  local a = { product = "SIR-Spheres", cf = 49.67, mass_kg = 1.5, lsf = 0.1,
              lesions = { { mass_kg = 0.3, tn = 4 } }, mode = "tumour",
              target_gy = 120 }
  for k, v in pairs(o) do a[k] = v end
  for k, v in pairs(o) do if v == "nil" then a[k] = nil end end
  return rk.tare.plan(a)
end

t.ok(pcall(plan, {}), "the base plan works")

-- ----------------------------------------------------- sizes and modes
t.raises(function() plan { volume_mL = 1500 } end,
  "give one of mass_kg, volume_L, volume_mL, not 2 of them",
  "a mass and a volume together")
t.raises(function() plan { mass_kg = "nil" } end,
  "mass_kg, volume_L or volume_mL is required", "no territory size")
t.raises(function() plan { mode = "nil", target_gy = "nil" } end,
  "field 'mode' is required ('tumour', 'normal', 'max_safe' or 'activity')",
  "no mode and no activity")
t.raises(function() plan { mode = "boost" } end,
  "mode 'boost' unknown (expected 'tumour', 'normal', 'max_safe' or "
  .. "'activity')", "an unknown mode")
t.raises(function() plan { ref = "max" } end,
  "ref 'max' unknown (expected 'mean', 'min' or a lesion number)",
  "an unknown ref name")
t.raises(function() plan { ref = 0 } end,
  "ref = 0 must be a lesion number >= 1", "ref 0")
t.raises(function() plan { target_gy = -5 } end,
  "target_gy = -5 must be > 0 Gy", "a negative target")

-- ------------------------------------------------------------- lesions
t.raises(function() plan { lesions = 3 } end,
  "field 'lesions' must be an array of tables", "lesions not a table")
do
  local many = {}
  for i = 1, 33 do many[i] = { mass_kg = 0.001, tn = 2 } end
  t.raises(function() plan { lesions = many } end,
    "33 lesions, at most 32 supported", "33 lesions")
end
t.raises(function() plan { lesions = { 5 } } end,
  "lesion 1 must be a table", "a lesion that is a number")

-- ------------------------------------------------ limits, territories
t.raises(function() plan { limits = 40 } end,
  "field 'limits' must be a table", "limits not a table")
t.raises(function()
  rk.tare.plan { product = "SIR-Spheres", cf = 49.67, territories = 5 }
end, "field 'territories' must be an array of tables",
  "territories not a table")
do
  local many = {}
  for i = 1, 17 do
    many[i] = { name = "t" .. i, mass_kg = 0.1, lsf = 0.05,
                activity_mbq = 10 }
  end
  t.raises(function()
    rk.tare.plan { product = "SIR-Spheres", cf = 49.67, territories = many }
  end, "17 territories given, 1 to 16 supported", "17 territories")
  t.raises(function()
    rk.tare.plan { product = "SIR-Spheres", cf = 49.67, territories = {} }
  end, "0 territories given, 1 to 16 supported", "no territory")
end

-- -------------------------------------------------------------- cohort
do
  local tc = rk.tare.cohort()
  t.raises(function() tc:plan(1) end,
    "rk.tare cohort: patient 1 out of range 1..0", "plan of an empty cohort")
  t.raises(function() rk.tare.cohort("/nonexistent/plan.csv") end,
    "cannot open '/nonexistent/plan.csv'", "a missing plan file is named")
end

t.done()
