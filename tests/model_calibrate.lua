-- tests/model_calibrate.lua - scripts/model_calibrate.lua: the weighted
-- least-squares calibration of a population model to summary statistics
-- on common random numbers.
--
-- Recovery: a small kidney model (blood B -> kidney K -> blood, urine U)
-- with known parameters (kin 0.01 /h, its CV 30 %, kout 0.02 /h) gives
-- "published" statistics (kidney Gy/GBq mean and SD, kidney Teff
-- median); the calibration, started far off (kin 0.004, CV 70 %, kout
-- 0.008), must find the parameters again:
--  * from statistics of the same seeded patients it fits with: to 1 %
--    (the objective's minimum is then exactly the true values; 1 % is the
--    optimiser's tolerance, xtol 1e-4 on log parameters, with margin);
--  * from statistics of 4,000 other patients (seed 7), fitted on 400
--    (seed 1): kin and kout within 5 %, the CV within 15 % (sampling
--    error of 400 patients: SE of a mean about 1.5 %, of an SD 3.5 %, so
--    these are 3-4 SE).
local rk = require "radiokin"
local t = require "radiokin.tap"

local src = os.getenv("RADIOKIN_SRCDIR") or "."
local build = os.getenv("RADIOKIN_BUILDDIR") or "."
local exe = build .. "/radiokin"
local tmp = t.scratch()
local C = dofile(src .. "/scripts/model_calibrate.lua")
local R = dofile(src .. "/scripts/model_report.lua")

-- the model file, with its published statistics filled in
local TEMPLATE = [[
local rk = require "radiokin"
local m = rk.model {
  name = "kidney_test", nuclide = "Lu-177", states = { "B", "K", "U" },
  positive = true,
  params = { k10 = 0.3, kin = %s, kout = %s, m_K = 0.3 },
  ode = function(s, p)
    return { B = -(p.k10 + p.kin) * s.B + p.kout * s.K,
             K = p.kin * s.B - p.kout * s.K, U = p.k10 * s.B }
  end,
  outputs = function(s, p) return { D_K = s.K * 8.532e-5 / p.m_K } end,
}
local spec = { model = m, cv = { kin = %s, k10 = 0.1 } }
return {
  model = m, population = rk.population(spec), population_spec = spec,
  dose_to = "B", urine = "U", activity_MBq = 1000, interval_h = 1000,
  regions = { kidney = { activity = "K", mass_param = "m_K",
                         dose_rate = "D_K" } },
  targets = {
    { region = "kidney", quantity = "Gy/GBq", mean = %s, sd = %s, n = 30,
      role = "calibration", method = "SPECT", paper = "simulated",
      table = "-", read = true },
    { region = "kidney", quantity = "Teff_h", median = %s, n = 30,
      role = "comparison", method = "SPECT", paper = "simulated",
      table = "-", read = true },
  },
  calibration = {
    params = {
      { name = "kin", what = "theta", lower = 0.001, upper = 0.1 },
      { name = "kin", what = "cv", lower = 0.05, upper = 1.5 },
      { name = "kout", what = "theta", lower = 0.002, upper = 0.2 },
    },
    targets = { { target = 1, stat = "mean" }, { target = 1, stat = "sd" },
                { target = 2, stat = "median", se = 0.5 } },
  },
}
]]
local function model_file(name, kin, cv, kout, mean, sd, teff)
  local path = tmp .. "/" .. name .. ".lua"
  t.write_file(path, TEMPLATE:format(kin, kout, cv, mean, sd, teff))
  return path
end

-- the published statistics of the true model
local function truth(n, seed)
  local M = R.load(model_file("truth", 0.01, 0.3, 0.02, 1, 1, 1))
  local sim = R.simulate(M, n, seed)
  local d, e = R.stats(sim.dose.kidney), R.stats(sim.teff.kidney)
  return d.mean, d.sd, e.median
end

do
  local mean, sd, teff = truth(400, 1)
  local path = model_file("same", 0.004, 0.7, 0.008, mean, sd, teff)
  local M = R.load(path)
  local stats = C.statistics(M, path)
  local res = C.calibrate(M, stats, { patients = 400, seed = 1,
    maxeval = 2000, xtol_rel = 1e-6 })
  t.ok(res.converged, "same patients: converged (" .. res.status .. ", "
    .. res.evals .. " evaluations)")
  t.is(res.fit[1], 0.01, 0.01 * 0.01, "same patients: kin 0.01 recovered to 1 %")
  t.is(res.fit[2], 0.3, 0.01 * 0.3, "... its CV 0.3 to 1 %")
  t.is(res.fit[3], 0.02, 0.01 * 0.02, "... kout 0.02 to 1 %")
  t.ok(res.f1 < 1e-4 and res.f0 > 100, ("... objective %.3g at the start, "
    .. "%.3g at the fit"):format(res.f0, res.f1))
  -- the objective is the weighted sum of squares: by hand at the start
  local by_hand = ((res.v0[1] - mean) / (sd / math.sqrt(30))) ^ 2
    + ((res.v0[2] - sd) / (sd / math.sqrt(58))) ^ 2
    + ((res.v0[3] - teff) / 0.5) ^ 2
  t.is(res.f0, by_hand, 1e-9 * by_hand, "objective = sum ((sim - pub) / se)^2, "
    .. "se = SD/sqrt(n), SD/sqrt(2(n-1)), given")
end

do
  local mean, sd, teff = truth(4000, 7)
  local path = model_file("other", 0.004, 0.7, 0.008, mean, sd, teff)
  local M = R.load(path)
  local res = C.calibrate(M, C.statistics(M, path), { patients = 400,
    seed = 1, maxeval = 2000 })
  t.ok(math.abs(res.fit[1] / 0.01 - 1) < 0.05,
    ("other patients: kin %.5f within 5 %% of 0.01"):format(res.fit[1]))
  t.ok(math.abs(res.fit[2] / 0.3 - 1) < 0.15,
    ("... CV %.3f within 15 %% of 0.3"):format(res.fit[2]))
  t.ok(math.abs(res.fit[3] / 0.02 - 1) < 0.05,
    ("... kout %.5f within 5 %% of 0.02"):format(res.fit[3]))
end

-- common random numbers: the objective is a smooth function of a
-- parameter (second differences small against the values), and the same
-- values give the same objective
do
  local path = model_file("crn", 0.01, 0.3, 0.02, 0.5, 0.2, 40)
  local M = R.load(path)
  local stats = C.statistics(M, path)
  local f = {}
  for i, kin in ipairs { 0.0099, 0.0100, 0.0101 } do
    f[i] = C.objective(stats, C.evaluate(M, stats, { kin, 0.3, 0.02 }, 200, 1))
  end
  local again = C.objective(stats, C.evaluate(M, stats, { 0.01, 0.3, 0.02 },
    200, 1))
  t.is(again, f[2], 0, "same values, same patients: the same objective")
  t.ok(math.abs(f[1] - 2 * f[2] + f[3]) < 1e-3 * f[2],
    ("objective smooth in kin: second difference %.3g against %.3g")
      :format(f[1] - 2 * f[2] + f[3], f[2]))
end

-- bad calibration tables: file and entry named
do
  local text = TEMPLATE:format(0.01, 0.02, 0.3, 0.5, 0.2, 40)
  local function bad(from, to, pattern, what)
    local i, j = text:find(from, 1, true)
    assert(i, from)
    local path = tmp .. "/bad.lua"
    t.write_file(path, text:sub(1, i - 1) .. to .. text:sub(j + 1))
    t.raises(function()
      local M = R.load(path)
      C.statistics(M, path)
    end, pattern, what)
  end
  bad('{ name = "kout", what = "theta"', '{ name = "kx", what = "theta"',
    "bad.lua: calibration: params%[3%]: 'name' must be a parameter of the "
    .. "model %(got kx%)", "an unknown parameter")
  bad('what = "cv", lower = 0.05', 'what = "omega", lower = 0.05',
    "params%[2%]: 'what' must be \"theta\", \"cv\" or \"cov_sd\"",
    "an unknown kind")
  bad('lower = 0.002, upper = 0.2', 'lower = 0.2, upper = 0.002',
    "params%[3%]: bounds must be numbers 0 < lower < upper", "bounds reversed")
  bad('{ target = 2, stat = "median", se = 0.5 }',
    '{ target = 2, stat = "median" }',
    "targets%[3%]: no standard error for the median of target 2",
    "a median without se")
  bad('{ target = 1, stat = "sd" }', '{ target = 5, stat = "sd" }',
    "targets%[2%]: 'target' must index the model's targets", "a bad index")
  bad('{ target = 1, stat = "sd" }', '{ target = 1, stat = "cv" }',
    "'stat' must be \"mean\", \"sd\" or \"median\"", "an unknown statistic")
  bad('population_spec = spec,', '', "field 'population_spec'",
    "no population_spec")
  bad('{ name = "kin", what = "cv"', '{ name = "kout", what = "cv"',
    "params%[2%]: the population has no IIV on 'kout' %(no "
    .. "population_spec.cv.kout%) to calibrate", "a CV without an IIV")
  bad('{ name = "kout", what = "theta"', '{ name = "kx", what = "theta"',
    "%(got kx%); the model's parameters are k10, kin, kout, m_K",
    "an unknown parameter: the model's parameters listed")
end

-- The fit's diagnostics, on the recovery model with three changes: kout
-- bounded above at 0.015 (the truth, 0.02, is outside: the fit must end on
-- the bound), a parameter kz no equation uses (nothing can determine it),
-- and a comparison target that the starting values meet and the fit does
-- not (the starting model's own kidney mean and SD, n = 30).
do
  local mean, sd, teff = truth(200, 1)
  local start = R.load(model_file("start", 0.004, 0.7, 0.008, 1, 1, 1))
  local d0 = R.stats(R.simulate(start, 200, 1).dose.kidney)
  local text = TEMPLATE:format(0.004, 0.008, 0.7, mean, sd, teff)
  local function sub(a, b)
    local i, j = text:find(a, 1, true)
    assert(i, a)
    text = text:sub(1, i - 1) .. b .. text:sub(j + 1)
  end
  sub("m_K = 0.3 }", "m_K = 0.3, kz = 0.5 }")
  sub("lower = 0.002, upper = 0.2 },", "lower = 0.002, upper = 0.015 },\n"
    .. '      { name = "kz", what = "theta", lower = 0.1, upper = 1 },')
  sub("  },\n  calibration", ("    { region = \"kidney\", quantity = "
    .. "\"Gy/GBq\", mean = %.17g, sd = %.17g, n = 30, role = \"comparison\", "
    .. "method = \"SPECT\", paper = \"the start\", table = \"-\", read = "
    .. "true },\n  },\n  calibration"):format(d0.mean, d0.sd))
  local path = tmp .. "/diag.lua"
  t.write_file(path, text)
  local M = R.load(path)
  local stats = C.statistics(M, path)
  local o = { model = path, patients = 200, seed = 1, maxeval = 2000 }
  local res = C.calibrate(M, stats, o)
  t.is(res.at_bound[3], "upper", ("kout %.5g: at its upper bound 0.015")
    :format(res.fit[3]))
  t.is(res.at_bound[1], nil, ("kin %.5g: on no bound"):format(res.fit[1]))
  t.is(res.influence[4].norm, 0, "kz, used by no equation: influence 0")
  t.ok(res.influence[1].norm > 1, ("kin: influence %.3g"):format(
    res.influence[1].norm))
  t.ok(C.notes(res, 4):find("not determined by the statistics", 1, true)
    and not C.notes(res, 1):find("not determined", 1, true),
    "kz noted as not determined, kin not")
  -- d r / d ln kin of the mean statistic, by hand with a 0.2 % step
  local x = res.fit
  local up, dn = { x[1] * 1.002, x[2], x[3], x[4] },
    { x[1] / 1.002, x[2], x[3], x[4] }
  local dr = (C.evaluate(M, stats, up, 200, 1)[1]
    - C.evaluate(M, stats, dn, 200, 1)[1]) / (2 * math.log(1.002))
    / stats[1].se
  t.is(res.influence[1].d[1], dr, 1e-3 * math.abs(dr),
    ("influence of kin on the kidney mean: %.5g (by hand %.5g)")
      :format(res.influence[1].d[1], dr))
  t.is(res.rows0[3].status, "inside", "comparison target: inside at the start")
  t.is(res.rows1[3].status, "OUTSIDE", "... outside at the fit")
  t.is(#res.worse, 1, "one target made worse")
  t.is(res.worse[1], 3, "... target 3")
  local md = C.markdown(M, o, stats, res)
  for _, want in ipairs {
    "| theta kout | 0.008 | 0.015 | 0.002 | 0.015 |",
    "at its upper bound", "not determined by the statistics",
    "**4 parameters for 3 statistics**",
    "**Outside their published interval at the fit, inside at the start: #3.**",
    "| 3 | kidney Gy/GBq | comparison |",
    "Command: `radiokin scripts/model_calibrate.lua " .. path
      .. " --patients 200 --seed 1 --maxeval 2000`",
    "-- calibrated by radiokin scripts/model_calibrate.lua " .. path,
    "--   theta kout = 0.015",
  } do
    t.ok(md:find(want, 1, true), "the report: " .. want)
  end
  -- a statistic with no simulated value (a kidney uptake so small that
  -- the kidney activity underflows to 0: no Teff for any patient)
  local tiny = 1e-320
  t.raises(function() C.evaluate(M, stats, { tiny, 0.3, 0.02, 0.5 }, 20, 1) end,
    "statistic 3 %(median of target 2, kidney Teff_h%): no simulated value "
      .. "at x = {" .. tostring(tiny):gsub("[%.%-%+]", "%%%0")
      .. ", 0.3, 0.02, 0.5} %(0 of 20 patients had one%)",
    "a statistic without a value: named")
end

-- The shipped calibrated values are their recorded calibration: the
-- provenance comment in each calibrated model file names the command
-- (patients, seed) and the objective at the fit; re-evaluated on those
-- patients the shipped values (rounded to 4 digits) must give that
-- objective to 0.1 % (relative: t.is's tolerance is relative; the
-- comment's 4 significant digits round by at most 0.05 %), and they
-- must sit at its minimum: 10 % lower or higher gives a larger objective
-- (fitted, not set by hand). DOTATATE (both variants): the marrow uptake
-- kMin, set by hand before its joint calibration. PSMA: every calibrated
-- parameter, each moved away from a bound the fit ended on (the other
-- side is outside the search); its kMin is not calibrated (no statistic
-- determines it: the model file says so).
local function shipped_values(M)
  local x, spec = {}, M.population_spec
  for i, p in ipairs(M.calibration.params) do
    if p.what == "theta" then
      x[i] = (spec.theta and spec.theta[p.name]) or M.model.params[p.name]
    elseif p.what == "cov_sd" then x[i] = spec.covariates[p.name].sd
    else x[i] = spec.cv[p.name] end
  end
  return x
end

-- Checks the provenance comments of model file `name` (under models/);
-- `which(p)` says whether calibration param p is perturbed. Returns the
-- number of provenance comments found.
local function check_provenance(name, which)
  local text = t.read_file(src .. "/models/" .. name)
  local seen = 0
  for file, n, seed, f1 in text:gmatch("(models/lu177_[%w_]*%.lua) "
      .. "%-%-patients (%d+) %-%-seed (%d+).-objective [%d.]+ %-> ([%d.]+)") do
    seen = seen + 1
    n, seed, f1 = tonumber(n), tonumber(seed), tonumber(f1)
    local M = R.load(src .. "/" .. file)
    local stats = C.statistics(M, file)
    local x = shipped_values(M)
    local f = C.objective(stats, C.evaluate(M, stats, x, n, seed))
    t.is(f, f1, 1e-3, ("%s: objective %.5g at the shipped values, "
      .. "%s recorded (%d patients, seed %d)"):format(file, f, f1, n, seed))
    local at = C.at_bounds(M.calibration.params, x)
    for k, p in ipairs(M.calibration.params) do
      if which(p) then
        for _, s in ipairs { 0.9, 1.1 } do
          if not ((s > 1 and at[k] == "upper") or (s < 1 and at[k] == "lower"))
              then
            local y = { table.unpack(x) }
            y[k] = x[k] * s
            local fs = C.objective(stats, C.evaluate(M, stats, y, n, seed))
            t.ok(fs > f, ("%s: %s %s x %.1f gives objective %.8g > %.8g")
              :format(file, p.what, p.name, s, fs, f))
          end
        end
      end
    end
  end
  return seen
end

t.is(check_provenance("lu177_dotatate.lua",
  function(p) return p.name == "kMin" end), 2,
  "both DOTATATE variants carry their calibration's provenance")
t.is(check_provenance("lu177_psma.lua", function() return true end), 1,
  "the PSMA model carries its calibration's provenance")
do
  local text = t.read_file(src .. "/models/lu177_psma.lua")
  t.ok(text:find("%-%- calibrated by radiokin scripts/model_calibrate%.lua"
    .. "\n%s*%-%- models/lu177_psma%.lua [^\n]*\n[^\n]*\n[^\n]*converged")
    ~= nil, "PSMA: its provenance says the optimiser converged")
end

-- the script
do
  local path = model_file("cli", 0.004, 0.7, 0.008, 0.75, 0.25, 25)
  local st, out = rk.run { exe, src .. "/scripts/model_calibrate.lua", "--help" }
  t.ok(st == 0 and out:find("least-squares calibration", 1, true)
    and out:find("common random numbers", 1, true), "--help")
  local err, _
  st, _, err = rk.run { exe, src .. "/scripts/model_calibrate.lua" }
  t.ok(st ~= 0 and err:find("a model file is required", 1, true),
    "no model: refused")
  st, _, err = rk.run { exe, src .. "/scripts/model_calibrate.lua", path,
    "--patients", "1" }
  t.ok(st ~= 0 and err:find("--patients needs an integer in 2..20000", 1,
    true), "--patients 1 refused")
  st, out, err = rk.run { exe, src .. "/scripts/model_calibrate.lua", path,
    "--patients", "100", "--out", tmp .. "/out" }
  t.is(st, 0, "a calibration runs (" .. tostring(err) .. ")")
  local md = t.read_file(tmp .. "/out/cli_calibration.md")
  t.ok(md:find("| parameter | start | fit | lower | upper |", 1, true)
    and md:find("| # | target | stat | published | se | weight | simulated "
      .. "(start) | simulated (fit) | residual | source |", 1, true)
    and md:find("| theta kin |", 1, true), "the report: parameters and the "
    .. "fit per statistic with weight and residual")
  st, _, err = rk.run { exe, src .. "/scripts/model_calibrate.lua", path,
    "--patients", "50", "--maxeval", "3", "--out", tmp .. "/out" }
  t.ok(st ~= 0 and err:find("stopped before converging", 1, true),
    "--maxeval 3: not converged, non-zero exit saying so")
  -- a model file without a calibration table
  st, _, err = rk.run { exe, src .. "/scripts/model_calibrate.lua",
    src .. "/models/lu177_6c.lua", "--out", tmp .. "/out" }
  t.ok(st ~= 0, "a file that is not a population model: refused")
end

t.done()
