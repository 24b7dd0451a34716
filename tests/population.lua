-- tests/population.lua - rk.population: correlated random effects,
-- covariate distributions and effects, the traced `derived` and
-- `individual` functions, pop:sample reproducibility, pop:read_csv, the
-- patients table in rk.cohort, and bad input.
local rk = require "radiokin"
local t = require "radiokin.tap"

local srcdir = os.getenv("RADIOKIN_SRCDIR") or "."
local m = dofile(srcdir .. "/models/lu177_6c.lua")

local function spec(extra)
  local s = {
    model = m,
    theta = { kU = 0.5 },
    cv = { kPK = 0.3, kKP = 0.3, kU = 0.25 },
    corr = { { "kPK", "kKP", 0.6 } },
    covariates = {
      GFR = { unit = "mL/min", dist = "normal", mean = 90, sd = 20,
              min = 30 },
      weight_kg = { unit = "kg", dist = "lognormal", mean = 80, sd = 15 },
      height_cm = { dist = "normal", mean = 175, sd = 8, min = 140,
                    max = 210, unit = "cm" },
    },
    cov_corr = { { "weight_kg", "height_cm", 0.5 } },
    derived = function(cov)
      return { BSA_m2 = 0.007184 * cov.weight_kg ^ 0.425
                          * cov.height_cm ^ 0.725 }
    end,
    effects = { { param = "kU", cov = "GFR", form = "power", ref = 90,
                  beta = 1 } },
    individual = function(th, eta, cov)
      return { kPK = th.kPK * (cov.BSA_m2 / 1.9) ^ 0.5 * rk.exp(eta.kPK) }
    end,
  }
  for k, v in pairs(extra or {}) do s[k] = v end
  return s
end

local pop = rk.population(spec())
t.like(tostring(pop), "population of lu177_6c %(3 covariates, 1 derived%)",
  "tostring")
t.is(table.concat(pop.covariates, ","), "GFR,height_cm,weight_kg,BSA_m2",
  "covariates: sampled ones by name, then the derived")

-- ------------------------------------------------- sampling
local ps = pop:sample { n = 2000, seed = 42 }
t.is(#ps, 2000, "2000 patients")
local p1 = ps[1]
t.is(p1.id, 1, "patients carry an id")
-- Effect and individual function applied exactly (same formula; 1e-12
-- allows rounding in a different operation order only).
local worst_u, worst_pk, worst_bsa = 0, 0, 0
for i = 1, #ps do
  local p = ps[i]
  local u = 0.5 * (p.cov.GFR / 90) * math.exp(p.eta.kU)
  local pk = 0.030 * (p.cov.BSA_m2 / 1.9) ^ 0.5 * math.exp(p.eta.kPK)
  local bsa = 0.007184 * p.cov.weight_kg ^ 0.425 * p.cov.height_cm ^ 0.725
  worst_u = math.max(worst_u, math.abs(p.kU / u - 1))
  worst_pk = math.max(worst_pk, math.abs(p.kPK / pk - 1))
  worst_bsa = math.max(worst_bsa, math.abs(p.cov.BSA_m2 / bsa - 1))
end
t.ok(worst_u < 1e-12, ("kU = theta (GFR/90) exp(eta): worst rel. %.2g")
  :format(worst_u))
t.ok(worst_pk < 1e-12, ("kPK from the traced individual function: worst "
  .. "rel. %.2g"):format(worst_pk))
t.ok(worst_bsa < 1e-12, ("BSA from the traced derived function: worst "
  .. "rel. %.2g"):format(worst_bsa))
t.is(ps[7].kIP, 0.40, "a parameter without variability keeps its value")

-- corr(eta_kPK, eta_kKP) = 0.6 within 4 SE, SE = (1 - r^2)/sqrt(n).
local function corr(x, y)
  local n, mx, my = #x, 0, 0
  for i = 1, n do mx, my = mx + x[i] / n, my + y[i] / n end
  local sxx, syy, sxy = 0, 0, 0
  for i = 1, n do
    sxx = sxx + (x[i] - mx) ^ 2
    syy = syy + (y[i] - my) ^ 2
    sxy = sxy + (x[i] - mx) * (y[i] - my)
  end
  return sxy / math.sqrt(sxx * syy)
end
local r = corr(ps:column("eta.kPK"), ps:column("eta.kKP"))
t.ok(math.abs(r - 0.6) < 4 * 0.64 / math.sqrt(2000),
  ("corr(eta kPK, eta kKP) = %.3f, want 0.6 +- 4 SE"):format(r))
local gfr = ps:column("cov.GFR")
local low = math.huge
for _, g in ipairs(gfr) do low = math.min(low, g) end
t.ok(low >= 30, "GFR truncated at 30 (min " .. low .. ")")

local again = pop:sample { n = 10, seed = 42 }
t.is(again[10].kPK, ps[10].kPK, "same seed: same patients (and the first "
  .. "10 of 2000 are the 10 of n = 10)")
t.is(again[10].cov.GFR, ps[10].cov.GFR, "same covariates")
local other = pop:sample { n = 10, seed = 43 }
t.ok(other[10].kPK ~= ps[10].kPK, "another seed: other patients")
local one = rk.population(spec { threads = 1 }):sample { n = 300, seed = 42 }
local same = true
for i = 1, 300 do
  if one[i].kPK ~= ps[i].kPK or one[i].cov.BSA_m2 ~= ps[i].cov.BSA_m2 then
    same = false
  end
end
t.ok(same, "threads = 1 gives the same patients as all cores")

-- ------------------------------------------------- patients in a cohort
local c = rk.cohort { model = m, patients = again, cycles = 2,
  interval_h = 1344, doses = { { time = 0, amount = 7400, to = "P" } },
  tia = { "K" }, progress = false }
local single = m:simulate { params = { kPI = again[3].kPI, kIP = again[3].kIP,
  kPK = again[3].kPK, kKP = again[3].kKP, kPL = again[3].kPL,
  kLP = again[3].kLP, kPT = again[3].kPT, kTP = again[3].kTP,
  kPR = again[3].kPR, kRP = again[3].kRP, kU = again[3].kU },
  doses = { { time = 0, amount = 7400, to = "P" } }, times = { 0, 1344 },
  tia = { "K" } }
t.is(c.tia.K[1][3], single.tia.K, 1e-6, "rk.cohort takes the patients "
  .. "table (cov, eta, id skipped); patient 3 cycle 1 = m:simulate (1e-6)")

-- The cohort CSV carries covariates and etas when asked (issue 12 s.6).
do
  local dir0 = os.getenv("RADIOKIN_BUILDDIR") or "."
  local out = dir0 .. "/population_cohort_test.csv"
  c:write_csv(out, { covariates = true, etas = true })
  local rows, cols = rk.csv.read(out)
  local want = { id = true, ["cov.GFR"] = true, ["cov.BSA_m2"] = true,
                 ["eta.kPK"] = true, kPK = true, K_c2_MBqh = true }
  local have = {}
  for _, k in ipairs(cols) do have[k] = true end
  local all = true
  for k in pairs(want) do all = all and have[k] end
  t.ok(all, "columns id, parameters, cov.<name>, eta.<param>, TIAs: "
    .. table.concat(cols, ","))
  t.is(rows[3]["cov.GFR"], again[3].cov.GFR, 1e-9, "patient 3 GFR")
  t.is(rows[3]["eta.kU"], again[3].eta.kU, 1e-9, "patient 3 eta of kU")
  t.is(rows[3].id, again[3].id, 0, "the patient's id")
  c:write_csv(out)
  local _, plain = rk.csv.read(out)
  t.ok(not table.concat(plain, ","):find("cov%.") and
       not table.concat(plain, ","):find("eta%."),
    "no covariates or etas unless asked")
  local sampled = rk.cohort { model = m, n = 2, cycles = 1, interval_h = 10,
    doses = { { time = 0, amount = 1, to = "P" } }, tia = { "K" },
    progress = false }
  t.raises(function() sampled:write_csv(out, { etas = true }) end,
    "etas = true needs patients with eta tables",
    "etas asked of a cohort sampled from n/cv")
  t.raises(function() c:write_csv(out, { covariate = true }) end,
    "unknown field 'covariate'", "a misspelt option")
  os.remove(out)
end

-- ------------------------------------------------- CSV covariates
local dir = os.getenv("RADIOKIN_BUILDDIR") or "."
local csv = dir .. "/population_test.csv"
rk.write_atomic(csv, "id,GFR,weight_kg,height_cm,kTP\n"
  .. "101,60,70,170,0.01\n102,120,90,185,0.02\n")
local fromcsv = pop:read_csv(csv, { seed = 5 })
t.is(#fromcsv, 2, "two patients from the CSV")
t.is(fromcsv[2].id, 102, "ids from the id column")
t.is(fromcsv[1].cov.GFR, 60, "covariates from the CSV")
t.is(fromcsv[1].kU, 0.5 * (60 / 90) * math.exp(fromcsv[1].eta.kU), 1e-12,
  "covariate effect on CSV covariates")
t.is(fromcsv[2].kTP, 0.02, "a parameter column sets that parameter")
t.is(fromcsv[2].cov.BSA_m2, 0.007184 * 90 ^ 0.425 * 185 ^ 0.725, 1e-12,
  "derived covariate from CSV values")
rk.write_atomic(csv, "id,GFR,height_cm\n1,60,170\n")
t.raises(function() pop:read_csv(csv) end,
  "population_test.csv:1: column 'weight_kg' is missing %(the header has: "
  .. "id, GFR, height_cm%)", "missing covariate column: file, line, column")
rk.write_atomic(csv, "GFR,weight_kg,height_cm\n60,70,170\n60,,170\n")
t.raises(function() pop:read_csv(csv) end,
  "population_test.csv:3: column 'weight_kg' is empty",
  "empty cell: file, line, column")
-- issue 12: one tokenizer (quotes, BOM), unique ids, declared ranges
rk.write_atomic(csv, "\239\187\191\"id\",GFR,\"weight_kg\",height_cm\r\n"
  .. "\"7\",60,\"70.5\",170\r\n")
local quoted = pop:read_csv(csv)
t.ok(#quoted == 1 and quoted[1].id == 7 and quoted[1].cov.weight_kg == 70.5,
  "BOM, quoted names and values, CRLF")
rk.write_atomic(csv, "id,GFR,weight_kg,height_cm\n5,60,70,170\n"
  .. "6,60,70,170\n5,61,71,171\n")
t.raises(function() pop:read_csv(csv) end,
  "population_test.csv:4: column 'id': 5 appears again (first at line 2)",
  "duplicate id: both lines named")
rk.write_atomic(csv, "id,GFR,weight_kg,height_cm\n1,60,70,170\n"
  .. "2,20,70,170\n")
t.raises(function() pop:read_csv(csv) end,
  "population_test.csv:3: column 'GFR' = 20 is outside the range the "
  .. "population declares for it, [30, inf]", "GFR below its declared min")
rk.write_atomic(csv, "id,GFR,weight_kg,height_cm\n1,60,70,1700\n")
t.raises(function() pop:read_csv(csv) end,
  "population_test.csv:2: column 'height_cm' = 1700 is outside the range "
  .. "the population declares for it, [140, 210]",
  "height above its declared max (mm for cm)")
rk.write_atomic(csv, "GFR,weight_kg,height_cm\n60,70,170\n60,70,170\n")
t.is(#pop:read_csv(csv), 2, "without an id column, equal rows are two "
  .. "patients")
os.remove(csv)

-- ------------------------------------------------- bad input
t.raises(function()
  rk.population(spec { cv = { kPK = 0.3, kKP = 0.3, kU = 0.3 },
    corr = { { "kPK", "kKP", 0.9 }, { "kKP", "kU", 0.9 },
             { "kPK", "kU", -0.9 } } })
end, "omega over kKP, kPK, kU is not positive definite %(its smallest "
  .. "eigenvalue is", "non-positive-definite omega names matrix and why")
t.raises(function() rk.population(spec { corr = { { "kPK", "kKP", 1.2 } } })
end, "implies a correlation of 1.2", "|r| > 1")
t.raises(function() rk.population(spec { cv = { kXX = 0.3 } }) end,
  "cv: 'kXX' is not a parameter of model 'lu177_6c'", "unknown parameter")
t.raises(function()
  rk.population(spec { individual = function(th) return { kZ = th.kPK } end })
end, "individual returns a value for: 'kZ' is not a parameter",
  "individual returning an unknown parameter")
t.raises(function()
  rk.population(spec { individual = function(th, eta, cov)
    return { kPK = th.kPK * cov.GFRR } end })
end, "reads unknown covariate 'cov.GFRR'", "unknown covariate in individual")
t.raises(function()
  rk.population(spec { individual = function(th, eta, cov)
    if cov.GFR < 60 then return { kPK = th.kPK } end
    return { kPK = 2 * th.kPK } end })
end, "cannot be compared", "an if on a covariate explains tracing")
t.raises(function()
  rk.population(spec { covariates = { GFR = { dist = "gamma", mean = 1,
    sd = 1 } }, cov_corr = false, derived = false })
end, "dist must be \"normal\", \"lognormal\" or \"uniform\"",
  "unknown distribution")
-- Covariates are declared with type, unit and range (NONMEM parity).
t.raises(function()
  rk.population(spec { covariates = { GFR = { dist = "normal", mean = 90,
    sd = 20 } }, cov_corr = false, derived = false, effects = false })
end, "covariates.GFR: field 'unit' is required", "a covariate without unit")
t.raises(function()
  rk.population(spec { covariates = { GFR = { dist = "normal", mean = 90,
    sd = 20, unit = "" } }, cov_corr = false, derived = false,
    effects = false })
end, "covariates.GFR: field 'unit' must not be empty", "an empty unit")
t.raises(function()
  rk.population(spec { effects = { { param = "kU", cov = "eGFR",
    ref = 90, beta = 1 } } })
end, "effects%[1%]: 'eGFR' is not a covariate", "effect on an unknown "
  .. "covariate")
local listed = rk.population { model = m, cv = { kU = 0.2 },
  covariates = { "GFR" },
  effects = { { param = "kU", cov = "GFR", ref = 90, beta = 0.75 } } }
t.raises(function() listed:sample { n = 3 } end,
  "covariate 'GFR' has no distribution", "listed covariates need a table")
t.raises(function() pop:sample { n = 0 } end, "field 'n' must be",
  "n = 0")
t.raises(function() rk.population { model = m, omgea = {} } end,
  "unknown field 'omgea'", "typo in a field")

-- ------------------------------------------------- counts (issue 12 s.3)
-- A count is an integer in range, quoted as the user wrote it; never
-- floored, never wrapped to a negative int.
t.raises(function() pop:sample { n = 1e12 } end,
  "pop:sample: field 'n' must be an integer in [1, 100000000] (got 1e+12)",
  "n = 1e12: out of range, quoted as typed")
t.raises(function() pop:sample { n = 1.5 } end,
  "field 'n' must be an integer in [1, 100000000] (got 1.5)",
  "n = 1.5 is an error, not floored to 1")
t.raises(function() pop:sample { n = -3 } end, "(got -3)", "negative n")
t.raises(function() pop:sample { n = 0 / 0 } end, "(got nan)", "NaN n")
t.raises(function() pop:sample { n = "10" } end, "(got string)",
  "a string n")
t.raises(function() pop:sample { n = 10, seed = -1 } end,
  "field 'seed' must be an integer in [0, 9007199254740992] (got -1)",
  "negative seed (would wrap as unsigned)")
t.raises(function() pop:sample { n = 10, seed = 0.5 } end, "(got 0.5)",
  "fractional seed")
t.raises(function() rk.population(spec { threads = 1e10 }) end,
  "field 'threads' must be an integer in [0, 1024] (got 1e+10)",
  "threads out of range (was cast to int)")
t.is(#pop:sample { n = 1e1, seed = 1 }, 10, "n = 1e1 (an integral float) is 10")

-- Memory is estimated before allocating: above the limit, the call is
-- refused with the figures. The estimate per patient must be realistic:
-- between the memory the patients really take (Lua's count after a full
-- collection, C buffers freed) and twice that.
do
  local limit0 = rk.memory_limit()
  t.ok(limit0 > 0, "a default memory limit (the machine's RAM or less)")
  collectgarbage()
  collectgarbage()
  local before = collectgarbage("count") * 1024
  local big = pop:sample { n = 5000, seed = 1 }
  collectgarbage()
  collectgarbage()
  local measured = (collectgarbage("count") * 1024 - before) / #big
  big = nil
  t.is(select(1, rk.memory_limit(1e6)), 1e6, "rk.memory_limit(bytes) sets it")
  local msg = t.raises(function() pop:sample { n = 5000, seed = 1 } end,
    "pop:sample: 5000 patients need about [%d.]+ MB %(%d+ bytes each%), "
    .. "more than the memory limit of 1.0 MB %(rk.memory_limit%)",
    "above the limit: refused with the estimate and the limit")
  local each = tonumber(msg:match("%((%d+) bytes each%)"))
  t.ok(each and each >= measured and each <= 2 * measured,
    ("estimate %s bytes/patient vs %.0f measured: within [1, 2]x")
      :format(tostring(each), measured))
  t.is(#pop:sample { n = 100, seed = 1 }, 100, "below the limit: sampled")
  t.raises(function() rk.memory_limit(-1) end, "must be a finite number",
    "a negative limit")
  rk.memory_limit(0)
  t.is(select(1, rk.memory_limit()), limit0, "memory_limit(0) restores it")
end

t.done()
