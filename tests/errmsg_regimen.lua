-- tests/errmsg_regimen.lua - error messages of rk.regimen (dsl/l_regimen.c)
-- a user can reach, provoked one by one and their text asserted (issue 22
-- item 3; tests/errcov/errcov.sh lists the ones no test asserts).
local rk = require "radiokin"
local t = require "radiokin.tap"

local m = rk.model {
  name = "uw", nuclide = "Lu-177", states = { "B", "K" },
  params = { kK = 0.02, kout = 0.3, kKo = 0.01, massK = 0.3 },
  ode = function(s, p)
    return { B = -(p.kK + p.kout) * s.B, K = p.kK * s.B - p.kKo * s.K }
  end,
  outputs = function(s, p) return { Kc = s.K / p.massK } end,
}
local kidney = { activity = "K", mass_kg = 0.3, alpha_beta_Gy = 2.6,
                 t_rep_h = 2.8 }

local function run(o)
  local a = { model = m, patients = { {} }, inject = "B",
              regions = { kidney = kidney }, interval_h = 2000,
              rule = "empiric", activity_gbq = 7.4, n_cycles = 2,
              progress = false }
  for k, v in pairs(o) do a[k] = v end
  for k, v in pairs(o) do if v == "nil" then a[k] = nil end end
  return rk.regimen(a)
end

-- the base run works, so each error below is the one field's
t.ok(pcall(run, {}), "the base regimen runs")

-- ------------------------------------------------------------ regions
t.raises(function()
  run { regions = { kidney = { dose_rate = "K", mass_kg = 0.3 } } }
end, "region 'kidney': dose_rate 'K' is not an output of model 'uw'",
  "a dose_rate naming a state is refused")
t.raises(function()
  run { regions = { kidney = { dose_rate = "Kc", mass_param = "mK" } } }
end, "mass_param 'mK' is not a parameter of model 'uw'",
  "an unknown mass_param is named")
t.raises(function()
  run { regions = { kidney = { activity = "Q", mass_kg = 0.3 } } }
end, "activity 'Q' is neither a state nor an output of model 'uw'",
  "an unknown activity quantity is named")
t.raises(function()
  run { regions = { kidney = { activity = "K" } } }
end, "mass_kg (local energy deposition) or s_gy_per_mbqh is required "
  .. "with activity", "activity without a mass or S")
t.raises(function()
  run { regions = { kidney = { activity = "K", mass_param = "massK" } } }
end, "per-patient masses (mass_param) need a dose_rate output",
  "activity with mass_param: told that needs a dose_rate output")
t.raises(function()
  run { regions = { kidney = { mass_kg = 0.3 } } }
end, "'activity' (a state or output, MBq) or 'dose_rate' (an output, Gy/h) "
  .. "is required", "a region with neither activity nor dose_rate")
t.raises(function() run { regions = "nil" } end,
  "field 'regions' is required (name = {activity = | dose_rate =, ...}), "
  .. "unless model is a model file's table", "no regions")
t.raises(function() run { regions = "kidney" } end,
  "field 'regions' must be a table (got string)", "regions not a table")
t.raises(function() run { regions = { "kidney", 3 } } end,
  "regions[2] must be a region name", "a list of names with a number")
t.raises(function() run { regions = { kidney = kidney, [2.5] = kidney } } end,
  "field 'regions' must map region names to definitions",
  "a region keyed by a number")
t.raises(function() run { regions = {} } end, "field 'regions' is empty",
  "no region at all")
t.raises(function() run { regions = { "kidney" } } end,
  "regions given by name ('kidney') need a model file's table as model",
  "region names without a model file's table")

-- ------------------------------------------------------------ imaging
t.raises(function() run { imaging = 5 } end,
  "field 'imaging' must be a table {times_h =, cv =, method =, seed =} "
  .. "(got number)", "imaging not a table")
t.raises(function() run { imaging = { method = "guess", times_h = { 4 } } } end,
  'imaging: method must be "fit" (multi-point curve fit), "stp" (single '
  .. 'time point) or "truth" (got "guess")', "an unknown imaging method")
t.raises(function() run { imaging = { method = "fit" } } end,
  "imaging: field 'times_h' is required (imaging times after each "
  .. "administration", "imaging without times")
t.raises(function()
  run { imaging = { method = "truth", imaged = "kidney" } }
end, "imaging: field 'imaged' must be a list of region names",
  "imaged not a list")
t.raises(function()
  run { imaging = { method = "truth", imaged = { {} } } }
end, "imaging: imaged[1] must be a region name", "imaged holding a table")

-- --------------------------------------------------------------- rule
t.raises(function() run { rule = "nil" } end,
  "field 'rule' is required (\"empiric\", \"pp-prrt\", \"iluminet\", "
  .. "\"optimised\" or a function(known))", "no rule")
t.raises(function() run { rule = 3 } end,
  "field 'rule' must be a rule name or a function (got number)",
  "a rule that is a number")
t.raises(function() run { rule = "dosimetric" } end,
  'unknown rule "dosimetric" (known: "empiric", "pp-prrt", "iluminet", '
  .. '"optimised", or a function(known))', "an unknown rule name")
t.raises(function() run { rule = "pp-prrt", target_gy = -1 } end,
  "field 'target_gy' must be a number > 0 Gy (got -1)",
  "a negative organ limit")
t.raises(function() run { rule = "pp-prrt", target_gy = 2300 } end,
  "field 'target_gy' = 2300 Gy is implausible for an organ limit; is it in "
  .. "cGy (2300 cGy = 23 Gy) or mGy?", "a limit in cGy: the Gy value given")

-- ------------------------------------------------ path, model, patients
t.raises(function() run { path = "exact" } end,
  "field 'path' must be \"auto\" or \"cvodes\" (got \"exact\")",
  "an unknown path")
t.raises(function() run { model = { regions = {} } } end,
  "field 'model' is a table without a 'model' (an rk.model, or a model "
  .. "file's table", "a model table without a model")
t.raises(function() run { model = "nil" } end,
  "field 'model' is required (an rk.model or a model file's table)",
  "no model")
t.raises(function() run { inject = "Z" } end,
  "inject 'Z' is not a state of model 'uw'", "an unknown inject state")
t.raises(function() run { patients = "nil" } end,
  "field 'patients' is required (pop:sample{...} or an array of parameter "
  .. "tables; { {} } is one typical patient)", "no patients")

-- ----------------------------------------------- the cycle kernel
do
  -- K' = kK B + K (kKo = -1 /h): grows by e^2000 over an interval
  local g = rk.model { name = "gr", nuclide = "Lu-177", states = { "B", "K" },
    params = { kK = 0.02, kout = 0.3, kKo = -1 },
    ode = function(s, p)
      return { B = -(p.kK + p.kout) * s.B, K = p.kK * s.B - p.kKo * s.K }
    end }
  t.raises(function() run { model = g } end,
    "patient 1: the cycle kernel is not finite (does a state grow without "
    .. "bound over 2000 h?)", "a growing model's cycle kernel overflows: the "
    .. "patient is named")
end

t.done()
