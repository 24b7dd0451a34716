-- tests/errmsg_cohort.lua - error messages of rk.cohort and its result
-- (dsl/l_cohort.c) a user can reach, provoked one by one and their text
-- asserted (issue 22 item 3).
local rk = require "radiokin"
local t = require "radiokin.tap"

local m = rk.model { name = "pk", nuclide = "Lu-177", states = { "P", "K" },
  params = { kPK = 0.03, kKP = 0.01, kU = 0.5 },
  ode = function(s, p)
    return { P = -(p.kPK + p.kU) * s.P + p.kKP * s.K,
             K = p.kPK * s.P - p.kKP * s.K }
  end }

local function run(o)
  local a = { model = m, patients = { {}, { kPK = 0.04 } },
              doses = { { time = 0, amount = 7400, to = "P" } },
              cycles = 2, interval_h = 1344, tia = { "K" },
              progress = false }
  for k, v in pairs(o) do a[k] = v end
  for k, v in pairs(o) do if v == "nil" then a[k] = nil end end
  return rk.cohort(a)
end
local ok, c = pcall(run, {})
t.ok(ok, "the base cohort runs")

t.raises(function() run { patients = 5 } end,
  "field 'patients' must be an array of patient tables (got number)",
  "patients not a table")
t.raises(function() run { patients = {} } end, "field 'patients' is empty",
  "no patient")
t.raises(function() run { patients = { {}, 5 } } end,
  "patients[2] must be a table of parameters", "a patient that is a number")
t.raises(function() run { tia = "nil" } end,
  "field 'tia' is required (a list of state or output names, e.g. {\"K\"})",
  "no tia")
t.raises(function() run { tia = {} } end, "field 'tia' is empty", "tia empty")
t.raises(function() run { tia = { {} } } end, "tia[1] must be a name",
  "a tia that is a number")
t.raises(function() run { tia = { "Q" } } end,
  "tia[1]: 'Q' is neither a state nor an output of model 'pk'",
  "an unknown tia name")
t.raises(function() run { path = "fast" } end,
  "field 'path' must be \"auto\", \"cvodes\" or \"exact\" (got \"fast\")",
  "an unknown path")
-- sampled patients streamed to a CSV file
local dir = t.scratch()
local function stream(o)
  local a = { patients = "nil", n = 4, seed = 1, cv = 0.2,
              csv = dir .. "/c.csv" }
  for k, v in pairs(o) do a[k] = v end
  return run(a)
end
t.ok(pcall(stream, {}), "the base streamed cohort runs")
t.raises(function() stream { quantiles = { 0.5, 1.5 } } end,
  "rk.cohort: quantiles[2] must be a probability in [0, 1] (got 1.5)",
  "a quantile above 1")
t.raises(function() stream { limits = 5 } end,
  "field 'limits' must be a table {name = MBq h} (got number)",
  "limits not a table")
t.raises(function() stream { limits = { K = "x" } } end,
  "limits.K must be a finite number (MBq h; got string)",
  "a limit that is text")
t.raises(function() stream { cv = "x" } end,
  "field 'cv' must be a number or a table of name = number (got string)",
  "cv of the wrong type")
t.raises(function() stream { cv = { 0.3 } } end,
  "field 'cv' must map parameter names to numbers", "cv without names")
t.raises(function() run { model = "nil" } end,
  "field 'model' is required (an rk.model)", "no model")
t.raises(function() run { activity_factors = { 1, 0.5, 0.25 } } end,
  "field 'activity_factors' has 3 values for 2 cycles",
  "activity factors for the wrong number of cycles")
if ok then
  t.raises(function() c:summary("Q") end,
    "c:summary: no TIA named 'Q' in this cohort", "summary of an unknown TIA")
  t.raises(function() c:summary("K", { quantiles = { 2 } }) end,
    "c:summary: quantiles[1] must be a probability in [0, 1] (got 2",
    "summary quantile above 1")
else
  t.skip("the base cohort failed", 2)
end


-- a result table damaged by hand
if ok then
  local dir2 = t.scratch()
  local keep = c.params[2]
  c.params[2] = {}
  t.raises(function() c:write_csv(dir2 .. "/c.csv") end,
    "c:write_csv: patients[2] has no number k", "write_csv of a patient "
    .. "whose parameters were removed")
  c.params[2] = keep
  c.tia.K[2] = nil
  t.raises(function() c:summary("K") end,
    "c:summary: the TIAs of cycle 2 are missing", "summary of a removed "
    .. "cycle")
else
  t.skip("the base cohort failed", 2)
end

t.done()
