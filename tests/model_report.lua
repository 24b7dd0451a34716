-- tests/model_report.lua - scripts/model_report.lua: the validation report
-- of the population models against their own published targets.
--
-- The drift rule: a model drifts when, over 500 virtual patients (seed 1),
-- the simulated mean of a "calibration" target lies outside the published
-- 95 % interval of that mean (mean +- t(0.975, n-1) SD / sqrt(n)), or the
-- simulated SD outside the 95 % interval of the published SD (chi-square,
-- unless the target says check_sd = false). 500 patients: the simulated
-- mean's own SE is then SD / sqrt(500), 4.5 % of an SD, against interval
-- half-widths of 2 SD / sqrt(n) = 37-60 % of an SD for n = 12-29, so a
-- seed does not decide the verdict.
--
-- Checked here: the quantile functions against printed tables, the
-- intervals by hand, Teff and retention on cases with known answers, the
-- dose per GBq against rk.cohort (an independent path through the engine),
-- no drift in either model as shipped, drift when a model parameter is
-- perturbed, and the script's command line (--help, errors, files).
local rk = require "radiokin"
local t = require "radiokin.tap"

local src = os.getenv("RADIOKIN_SRCDIR") or "."
local build = os.getenv("RADIOKIN_BUILDDIR") or "."
local exe = build .. "/radiokin"
local tmp = t.scratch()
local R = dofile(src .. "/scripts/model_report.lua")
local N = 500

-- ------------------------------------------------- quantiles (tables)
-- z: Abramowitz & Stegun Table 26.1; t: Table 26.10; chi-square: Table
-- 26.8 (also any statistics text's t and chi-square tables).
t.is(R.z_quantile(0.975), 1.959964, 1e-6, "z(0.975) = 1.959964")
t.is(R.z_quantile(0.05), -1.644854, 1e-6, "z(0.05) = -1.644854")
t.is(R.z_quantile(0.001), -3.090232, 1e-6, "z(0.001) = -3.090232 (tail)")
t.is(R.t_quantile(0.975, 11), 2.2010, 1e-3, "t(0.975, 11) = 2.201")
t.is(R.t_quantile(0.975, 19), 2.0930, 1e-3, "t(0.975, 19) = 2.093")
t.is(R.t_quantile(0.975, 28), 2.0484, 1e-3, "t(0.975, 28) = 2.048")
t.is(R.t_quantile(0.975, 6), 2.4469, 2e-3, "t(0.975, 6) = 2.447")
-- Wilson-Hilferty: within 1 % of the table at 11 degrees of freedom
t.is(R.chi2_quantile(0.975, 11), 21.920, 0.01 * 21.920,
  "chi2(0.975, 11) = 21.920")
t.is(R.chi2_quantile(0.025, 11), 3.816, 0.01 * 3.816,
  "chi2(0.025, 11) = 3.816")
t.is(R.chi2_quantile(0.975, 19), 32.852, 0.005 * 32.852,
  "chi2(0.975, 19) = 32.852")
t.is(R.chi2_quantile(0.025, 19), 8.907, 0.01 * 8.907,
  "chi2(0.025, 19) = 8.907")

-- ------------------------------------------------- intervals by hand
-- Santoro spleen 0.61 +- 0.13, n = 12: 0.61 +- 2.201 x 0.13 / sqrt(12) =
-- 0.61 +- 0.0826; SD: 0.13 sqrt(11 / 21.920) = 0.0921, 0.13 sqrt(11 /
-- 3.816) = 0.2207.
do
  local m, s = R.intervals { mean = 0.61, sd = 0.13, n = 12 }
  t.is(m[1], 0.5274, 5e-4, "mean interval, low (n = 12)")
  t.is(m[2], 0.6926, 5e-4, "mean interval, high (n = 12)")
  t.is(s[1], 0.0921, 1e-3, "SD interval, low (n = 12)")
  t.is(s[2], 0.2207, 5e-3, "SD interval, high (n = 12; Wilson-Hilferty is 0.6 % off the table here)")
  m = R.intervals { mean = 1, ci = { 0.8, 1.3 }, sd = 0.5, n = 10 }
  t.is(m[1], 0.8, 0, "a stated CI is used as it is (low)")
  t.is(m[2], 1.3, 0, "a stated CI is used as it is (high)")
  m, s = R.intervals { mean = 0.46, n = 56 }
  t.is(m, nil, "no SD: no mean interval")
  t.is(s, nil, "no SD: no SD interval")
end

-- ------------------------------------------------- stats, Teff
do
  local x = {}
  for i = 1, 101 do x[i] = i end
  x[102] = 0 / 0
  x[103] = math.huge
  local s = R.stats(x)
  t.is(s.n, 101, "stats: NaN and inf left out")
  t.is(s.left_out, 2, "stats: and counted")
  t.is(s.mean, 51, 1e-12, "stats: mean of 1..101")
  t.is(s.sd, math.sqrt(101 * 102 / 12), 1e-9, "stats: SD of 1..101")
  t.is(s.p5, 6, 1e-12, "stats: P5 (type 7)")
  t.is(s.p95, 96, 1e-12, "stats: P95 (type 7)")
  local tt, a = { 24, 48, 72, 168 }, {}
  for i, ti in ipairs(tt) do a[i] = 100 * math.exp(-math.log(2) / 40 * ti) end
  t.is(R.teff(tt, a), 40, 1e-9, "Teff of an exact 40 h exponential")
  t.is(R.teff(tt, { 1, 2, 3, 4 }), nil, "rising activity: no Teff")
  t.is(R.teff(tt, { 1, 0, 3, 4 }), nil, "a zero activity: no Teff")
end

-- ------------------------------------------------- the models as shipped
local function report(file)
  local M = R.load(file)
  local sim = R.simulate(M, N, 1)
  return M, sim, R.compare(M, sim)
end

for _, name in ipairs { "lu177_dotatate", "lu177_dotatate_spect",
    "lu177_psma" } do
  local file = src .. "/models/" .. name .. ".lua"
  local M, sim, rows = report(file)
  t.is(#sim.failed, 0, name .. ": every patient solved")
  local ncal = 0
  for _, row in ipairs(rows) do
    local tg = row.target
    if tg.role == "calibration" then ncal = ncal + 1 end
    t.diag(("%s #%d %s %s (%s): %s"):format(name, row.index, tg.region,
      tg.role, tg.method, row.status .. (row.why and (": " .. row.why)
        or "")))
  end
  t.ok(ncal >= 3, name .. ": at least 3 calibration targets")

  -- red marrow as two regions, each with its published targets: blood-
  -- based (marrow) and image-based (marrow_image, its own uptake on top
  -- of the blood share, so never below the blood-based dose)
  local nm = { marrow = 0, marrow_image = 0 }
  for _, row in ipairs(rows) do
    local r = row.target.region
    if nm[r] and row.status ~= "not modelled" then nm[r] = nm[r] + 1 end
  end
  t.ok(M.regions.marrow and M.regions.marrow_image and nm.marrow >= 1
    and nm.marrow_image >= 1, ("%s: red marrow blood-based (%d targets) "
    .. "and image-based (%d targets)"):format(name, nm.marrow,
      nm.marrow_image))
  local below, gap = 0, 0
  for k = 1, N do
    local d = sim.dose.marrow_image[k] - sim.dose.marrow[k]
    if d < 0 then below = below + 1 end
    gap = gap + d / N
  end
  t.ok(below == 0 and gap > 0, ("%s: image-based marrow >= blood-based "
    .. "in every patient (mean gap %.4f Gy/GBq, the marrow uptake)")
      :format(name, gap))
  local drifts = R.drifts(rows)
  t.is(#drifts, 0, ("%s: no calibration target outside its published 95 %% "
    .. "interval (%d patients)"):format(name, N))
  for _, d in ipairs(drifts) do
    t.diag(("DRIFT %s #%d %s: %s"):format(name, d.index, d.target.region,
      d.why))
  end

  -- the same doses through rk.cohort (exact or CVODES path, per patient
  -- TIA of the dose-rate output): the report's per-patient parameters are
  -- the population's
  local ps = M.population:sample { n = 20, seed = 1 }
  local c = rk.cohort { model = M.model, patients = ps, cycles = 1,
    interval_h = M.interval_h, tia = { M.regions.kidney.dose_rate },
    progress = false,
    doses = { { time = 0, amount = M.activity_MBq, to = M.dose_to } } }
  local worst = 0
  for k = 1, 20 do
    local ref = c.tia[M.regions.kidney.dose_rate][1][k] / (M.activity_MBq / 1000)
    worst = math.max(worst, math.abs(sim.dose.kidney[k] / ref - 1))
  end
  t.ok(worst < 1e-5, ("%s: kidney Gy/GBq of patients 1-20 as rk.cohort "
    .. "gives it (worst relative difference %.1e; solver tolerance "
    .. "1e-6)"):format(name, worst))

  -- mass balance: what is not in the body is in the urine (decay-
  -- corrected retention + excretion = 100 %, every patient and time)
  local bal = 0
  for _, tt in ipairs(R.RETENTION_TIMES) do
    for k = 1, N do
      bal = math.max(bal, math.abs(sim.retention[tt][k]
        + sim.excretion[tt][k] - 100))
    end
  end
  t.ok(bal < 1e-3, ("%s: retention + urinary excretion = 100 %% (worst "
    .. "%.1e %%)"):format(name, bal))

  -- every covariate the population samples is declared with type, unit
  -- and range, and the range is the sampling truncation
  local decl = M.covariate_declarations or {}
  for cname, c in pairs(M.population_spec.covariates) do
    local d = decl[cname]
    t.ok(d and d.type == "continuous" and type(d.unit) == "string"
      and d.range and d.range[1] == c.min and d.range[2] == c.max,
      ("%s: covariate %s declared (type, unit, range = its truncation)")
        :format(name, cname))
  end
end

-- ------------------------------------------------- perturbed models drift
local function variant(name, from, to, tag)
  local text = t.read_file(src .. "/models/" .. name .. ".lua")
  local i, j = text:find(from, 1, true)
  assert(i, "variant: '" .. from .. "' not in " .. name)
  local path = tmp .. "/" .. name .. "_" .. tag .. ".lua"
  t.write_file(path, text:sub(1, i - 1) .. to .. text:sub(j + 1))
  return path
end

-- the model file with the first number after `key` multiplied by f
local function scaled(name, key, f, tag)
  local text = t.read_file(src .. "/models/" .. name .. ".lua")
  local i, j, num = text:find(key .. "([%d.e+-]+)")
  assert(i, "scaled: '" .. key .. "' not in " .. name)
  local path = tmp .. "/" .. name .. "_" .. tag .. ".lua"
  t.write_file(path, text:sub(1, i - 1) .. key .. ("%.6g"):format(
    tonumber(num) * f) .. text:sub(j + 1))
  return path
end

local function drifted(path, region)
  local _, _, rows = report(path)
  for _, d in ipairs(R.drifts(rows)) do
    if d.target.region == region then return d.why end
  end
end

do
  -- DOTATATE kidney uptake x 1.5: kidney mean about 0.97 Gy/GBq, above
  -- NETTER-1's 0.786
  local why = drifted(scaled("lu177_dotatate", "kKin = ", 1.5, "kin"),
    "kidney")
  t.ok(why and why:find("mean outside", 1, true),
    "DOTATATE kKin x 1.5: kidney mean drift reported (" .. tostring(why)
      .. ")")
  -- DOTATATE kidney uptake IIV x 2.8 (to about 90 %): the SD leaves its
  -- interval
  why = drifted(scaled("lu177_dotatate", "cv_kKin = ", 2.8, "cv"),
    "kidney")
  t.ok(why and why:find("SD outside", 1, true),
    "DOTATATE kKin CV 0.9: kidney SD drift reported (" .. tostring(why)
      .. ")")
  -- DOTATATE marrow uptake x 4: image-based marrow about 0.065 Gy/GBq,
  -- above Santoro's 0.053; the blood-based marrow does not move
  why = drifted(scaled("lu177_dotatate", "kMin = ", 4, "kmin"),
    "marrow_image")
  t.ok(why and why:find("mean outside", 1, true),
    "DOTATATE kMin x 4: image-based marrow drift reported (" .. tostring(why)
      .. ")")
  -- PSMA kidney uptake x 0.7: kidney mean about 0.30, below 0.37
  why = drifted(scaled("lu177_psma", "k13 = ", 0.7, "k13"), "kidney")
  t.ok(why and why:find("mean outside", 1, true),
    "PSMA k13 x 0.7: kidney mean drift reported (" .. tostring(why) .. ")")
  -- and a target's own number: VISION salivary 0.63 typed as 0.93
  why = drifted(variant("lu177_psma", "mean = 0.63, sd = 0.36,\n    n = 29, role = \"calibration\"",
    "mean = 0.93, sd = 0.36,\n    n = 29, role = \"calibration\"", "sal"),
    "salivary")
  t.ok(why ~= nil, "PSMA salivary target mistyped: drift reported")
end

-- ------------------------------------------------- retention
-- No elimination from blood or tumour (k10, kTout = 1e-12 /h; 0 is
-- refused as a rate): nothing leaves the body, so the decay-corrected
-- whole-body retention is 100 % at every time.
do
  local path = variant("lu177_dotatate", "k10 = 0.288,", "k10 = 1e-12,", "k10")
  local text = t.read_file(path)
  t.write_file(path, (text:gsub("kTout = 0.0043,", "kTout = 1e-12,")))
  local sim = R.simulate(R.load(path), 5, 1)
  for _, tt in ipairs(R.RETENTION_TIMES) do
    t.is(sim.retention[tt][1], 100, 1e-3,
      ("no excretion: retention 100 %% at %g h"):format(tt))
  end
  -- a retention target is compared with the simulated retention at its
  -- time (PSMA: urinary excretion at 24 h, Kabasakal 2017 abstract)
  local _, psim, prows = report(src .. "/models/lu177_psma.lua")
  local found
  for _, row in ipairs(prows) do
    if row.target.quantity == "retention_pct" then found = row end
  end
  t.ok(found and found.target.time_h == 24, "PSMA: a 24 h retention target")
  t.is(found and found.sim.mean, R.stats(psim.retention[24]).mean, 1e-12,
    "... compared with the simulated retention at 24 h")
  t.diag(("PSMA retention at 24 h: simulated %.1f %%, published %.1f +- "
    .. "%.1f %% (%s)"):format(found.sim.mean, found.target.mean,
    found.target.sd, found.status))
  local badt = variant("lu177_psma", "quantity = \"retention_pct\", time_h = 24,",
    "quantity = \"retention_pct\", time_h = 25,", "badt")
  t.raises(function() R.load(badt) end,
    "field 'time_h' must be one of 24, 48, 72, 168 h (got 25)",
    "a retention target at a time the report does not simulate: refused")
  local _, shipped = report(src .. "/models/lu177_dotatate.lua")
  local s24 = R.stats(shipped.retention[24])
  t.ok(s24.mean < 100 and s24.mean > 0,
    ("DOTATATE as shipped: retention at 24 h %.1f %%"):format(s24.mean))
end

-- ------------------------------------------------- bad model files
do
  local bad = tmp .. "/bad_target.lua"
  local text = t.read_file(src .. "/models/lu177_dotatate.lua")
  local i, j = text:find('paper = CNM,', 1, true)
  t.write_file(bad, text:sub(1, i - 1) .. 'paper2 = CNM,' .. text:sub(j + 1))
  t.raises(function() R.load(bad) end,
    bad .. ": targets[3]: field 'paper' must be a non-empty string",
    "a target without its paper: file, target and field named")
  local nosd = variant("lu177_dotatate", "mean = 1.17, sd = 0.14,",
    "mean = 1.17,", "nosd")
  t.raises(function() R.load(nosd) end,
    "targets[3]: a calibration target needs sd and n (or ci)",
    "a calibration target without SD: refused (no interval to drift from)")
  local teff = variant("lu177_psma", "quantity = \"Teff_h\", median = 35.5,",
    "quantity = \"Teff_h\", mean = 35.5,", "teff")
  t.raises(function() R.load(teff) end,
    "a Teff_h target needs its published 'median'",
    "a Teff target without its median: refused")
  t.raises(function() R.load(src .. "/models/theophylline.lua") end,
    "must return a table { model =, population =",
    "a file that is not a population model: said so")
end

-- ------------------------------------------------- the script
local function script(...)
  return rk.run { exe, src .. "/scripts/model_report.lua", ... }
end
do
  local st, out = script("--help")
  t.is(st, 0, "--help exits 0")
  t.ok(out:find("radiokin scripts/model_report.lua", 1, true)
    and out:find("drift rule", 1, true), "--help prints the usage and "
    .. "the drift rule")
  local err, _
  st, _, err = script()
  t.ok(st ~= 0 and (err or ""):find("a model file is required", 1, true),
    "no model file: non-zero exit and why")
  st, _, err = script(src .. "/models/lu177_psma.lua", "--patients", "1")
  t.ok(st ~= 0 and (err or ""):find("--patients needs an integer in 2..100000",
    1, true), "--patients 1: refused")
  st, _, err = script(src .. "/models/lu177_psma.lua", "--bogus")
  t.ok(st ~= 0 and (err or ""):find("unknown option '--bogus'", 1, true),
    "unknown option: refused")
  local out_dir = tmp .. "/report"
  st, out, err = script(src .. "/models/lu177_dotatate.lua", "--patients",
    "40", "--out", out_dir, "--quiet")
  t.is(st, 0, "a 40-patient report runs (" .. tostring(err) .. ")")
  local md = t.read_file(out_dir .. "/lu177_dotatate.md")
  t.ok(md:find("## Published targets", 1, true)
    and md:find("| 1 | kidney | Gy/GBq | 0.65 +- 0.29 | 20 |", 1, true),
    "the report lists the targets with the published value and n")
  t.ok(md:find("Santoro L et al.", 1, true) and md:find("| SPECT |", 1, true)
    and md:find("| planar |", 1, true), "... their paper and method")
  t.ok(md:find("## Targets the model misses", 1, true)
    and md:find("comparison #12 spleen", 1, true),
    "... and the targets it misses (the SPECT spleen beside the planar fit)")
  t.ok(md:find("## Cumulative urinary excretion", 1, true),
    "... and the urinary excretion")
  -- text from the model file is data in the Markdown table: a '|' in a
  -- paper's name is escaped, not a new column
  local piped = variant("lu177_dotatate", 'table = "abstract: NETs 3.41',
    'table = "abstract | NETs 3.41', "pipe")
  st, _, err = script(piped, "--patients", "5", "--out", out_dir, "--name",
    "piped", "--no-plots", "--quiet")
  t.is(st, 0, "a paper with '|' runs (" .. tostring(err) .. ")")
  local pmd = t.read_file(out_dir .. "/piped.md")
  t.ok(pmd:find("abstract \\| NETs 3.41", 1, true) ~= nil,
    "... and its '|' is escaped in the table")
  -- a model whose patients all fail (salivary uptake 1e200 /h): the
  -- report is written and says so, every target is FAILED (a drift for a
  -- calibration target, never "inside"), and the exit status is non-zero
  local broken = tmp .. "/lu177_psma_broken.lua"
  t.write_file(broken, (t.read_file(src .. "/models/lu177_psma.lua"):gsub(
    "k12 = [%d.e+-]+, k21", "k12 = 1e200, k21", 1)))
  st, _, err = script(broken, "--patients", "3", "--out", out_dir, "--name",
    "broken", "--no-plots", "--quiet")
  t.ok(st ~= 0 and (err or ""):find("3 of 3 patients failed", 1, true)
    ~= nil, "every patient failed: non-zero exit saying so")
  local bmd = t.read_file(out_dir .. "/broken.md")
  t.ok(bmd:find("**3 patients failed**", 1, true) ~= nil
    and bmd:find("| FAILED: no simulated value", 1, true) ~= nil
    and not bmd:find("| inside |", 1, true),
    "... the report marks them failed and no target inside")
  local bm = R.load(broken)
  local bs = R.simulate(bm, 2, 1)
  t.is(#bs.failed, 2, "... R.simulate lists the failed patients")
  local ncal = 0
  for _, tg in ipairs(bm.targets) do
    if tg.role == "calibration" then ncal = ncal + 1 end
  end
  t.is(#R.drifts(R.compare(bm, bs)), ncal,
    ("... and the %d calibration targets count as drifts"):format(ncal))
  -- --model-opt: the table the model file receives; the DOTATATE file's
  -- measurement option selects the SPECT variant
  st, _, err = script(src .. "/models/lu177_dotatate.lua", "--patients", "3",
    "--out", out_dir, "--name", "opt", "--no-plots", "--quiet",
    "--model-opt", "measurement=spect")
  t.is(st, 0, "--model-opt measurement=spect runs (" .. tostring(err) .. ")")
  local omd = t.read_file(out_dir .. "/opt.md") or ""
  t.ok(omd:find("# Validation report: lu177_dotatate_spect", 1, true) ~= nil,
    "... and reports the SPECT variant")
  st, _, err = script(src .. "/models/lu177_dotatate.lua", "--patients", "3",
    "--out", out_dir, "--quiet", "--model-opt", "measurement=mri")
  t.ok(st ~= 0 and (err or ""):find('measurement must be "planar" or '
    .. '"spect" (got mri)', 1, true), "an unknown measurement: refused")
  st, _, err = script(src .. "/models/lu177_dotatate.lua", "--model-opt",
    "spect")
  t.ok(st ~= 0 and (err or ""):find("--model-opt needs KEY=VALUE (got "
    .. "'spect')", 1, true), "--model-opt without '=': refused")

  -- the output folder's name taken by a file: refused, naming it
  t.write_file(tmp .. "/taken", "x")
  st, _, err = script(src .. "/models/lu177_psma.lua", "--patients", "2",
    "--out", tmp .. "/taken", "--quiet")
  t.ok(st ~= 0 and (err or ""):find(tmp .. "/taken", 1, true) ~= nil,
    "--out naming a file: non-zero exit naming it")
  if rk.run { "gnuplot", "--version" } == 0 then
    local png = t.read_file(out_dir .. "/lu177_dotatate.png")
    t.is(png:sub(2, 4), "PNG", "the PNG is written")
    t.ok(md:find("![simulated vs published Gy/GBq](lu177_dotatate.png)", 1,
      true), "... and linked from the report")
  else
    t.skip("gnuplot not installed: no PNG")
  end
end

t.done()
