-- regimen_compare.lua - a virtual cohort through several 177Lu regimens,
-- side by side: cycles given, cumulative activity, kidney dose and BED,
-- marrow dose, tumour dose and BED, and the fraction of patients over each
-- organ limit. Outcomes are scored on the true simulated doses; the
-- decisions were taken on what simulated imaging showed (4, 24, 72, 168 h
-- by default, proportional error --imaging-cv, multi-point fit with AICc
-- selection among the curves that have fewer parameters than imaging
-- times), and the imaging
-- estimate of the kidney dose / BED is reported beside the truth.
--
--   radiokin scripts/regimen_compare.lua [--model models/lu177_dotatate.lua]
--            [--n 1000] [--out DIR] [--name regimen_compare]
--            [--regimens empiric,pp-prrt,iluminet,optimised]
--            [--imaging-cv 0.1] [--imaging-times 4,24,72,168] [--threads N] [--seed S] [--no-plots]
--            [--imaging-model eanm --cal-cv X --rc-cv X --volume-cv X]
--            [--confidence 0.5,0.95] [--quiet]
--
-- Writes DIR/NAME.csv (one row per regimen), DIR/NAME.md (the same table
-- and notes), DIR/NAME_patients.csv (one row per patient and regimen),
-- all atomically, and with gnuplot DIR/NAME_kidney_bed, _tumour_bed,
-- _cycles (.png and .svg); without gnuplot the plots are skipped with a
-- warning. A progress bar is drawn on stderr when it is a terminal.
--
-- Regimens (docs/sources.md "Regimens"; limits: rk.radiobio.organ_limits()):
--   empiric    the label activity (model file) x 4 cycles (6 for PSMA)
--   pp-prrt    cumulative kidney dose 23 Gy over 4 cycles; cycle 1 at the
--              label activity (no pre-therapy estimate), then the rest of
--              the target over the cycles left at the dose per GBq the
--              previous cycle showed; per cycle 0.5-40 GBq
--   iluminet   label activity until cumulative kidney BED 27 Gy, the last
--              cycle cut to the budget; at most 6 cycles
--   optimised  per patient (NLopt): maximal tumour BED with kidney BED
--              <= 27 Gy and marrow dose <= 2 Gy, 0-15 GBq per cycle, at
--              most 6 cycles; planned on the true model (an upper bound of
--              what dosimetry-guided planning can reach)
-- Limits scored: kidney BED 27 Gy, kidney dose 23 Gy, marrow dose 2 Gy.
--
-- --confidence runs pp-prrt, iluminet and optimised at each one-sided
-- level (the rule holds the kidney dose target / BED limit, the optimiser
-- its limits, at the upper bound estimate + z u, rk.regimen's
-- `confidence`; 0.5 the point estimate) and
-- reports the trade-off per level: share of patients over each limit
-- (truth) vs activity given. --imaging-model eanm adds the errors shared
-- by a patient's images (calibration; recovery and volume per region) to
-- the per-image error, as in the EANM uncertainty guidance.
local rk = require "radiokin"

local M = {}

-- The limits the regimens aim at and are scored against, from radiokin's
-- organ-limit table (rk.radiobio.organ_limits(): value, quantity, source).
M.LIMIT_IDS = { kidney_bed = "kidney_bed_iluminet",
                kidney_dose = "kidney_dose_pp_prrt",
                marrow_dose = "red_marrow_dose_2" }
M.LIMITS = {}
for k, id in pairs(M.LIMIT_IDS) do
  M.LIMITS[k] = rk.radiobio.organ_limit(id).value_gy
end
M.ALL = { "empiric", "pp-prrt", "iluminet", "optimised" }

local USAGE = "usage: radiokin scripts/regimen_compare.lua [--model FILE] "
  .. "[--n N] [--out DIR] [--name NAME] [--regimens a,b,...] "
  .. "[--imaging-cv X] [--imaging-times LIST] [--imaging-model M] "
  .. "[--cal-cv X] [--rc-cv X] [--volume-cv X] [--confidence LIST] "
  .. "[--threads N] [--seed S] [--no-plots] [--quiet]"

M.HELP = USAGE .. [[


A virtual cohort through several 177Lu regimens, side by side.

Input: --model FILE, a population file (default
models/lu177_dotatate.lua) returning a table
  { model = rk.model{...}, population = rk.population{...},
    activity_MBq = label activity per cycle (MBq), dose_to = state,
    interval_h = h between cycles, regions = { kidney = ..., marrow = ...,
    tumour = ... } }
(a plain rk.model file is not enough: it has no population to sample).

Options
  --n N              virtual patients, an integer in 1..1000000 (default
                     1000)
  --out DIR          output folder (default out), made if missing
  --name NAME        output file stem (default regimen_compare)
  --regimens LIST    comma-separated, of empiric, pp-prrt, iluminet,
                     optimised (default all)
  --imaging-cv X     proportional imaging error, fraction 0..1 (default
                     0.1)
  --imaging-times L  imaging times after each administration, h, comma-
                     separated and increasing (default 4,24,72,168). A
                     curve is selected only with more times than its
                     parameters: with 3 times the uptake-washout curve
                     is not eligible and a mono-exponential is fitted.
  --imaging-model M  proportional (default: --imaging-cv per image) or
                     eanm: plus log-normal errors shared by a patient's
                     images (EANM uncertainty guidance, Gear et al. 2018):
  --cal-cv X         calibration factor, one per patient (every image,
                     cycle and region), fraction 0..1 (default 0)
  --rc-cv X          recovery coefficient, one per patient and region
                     (all cycles), fraction 0..1 (default 0)
  --volume-cv X      segmented volume (the mass of the dose), one per
                     patient and region, fraction 0..1 (default 0)
  --confidence LIST  one-sided levels in 0.5..0.999, comma-separated
                     (default 0.5, the point estimate): pp-prrt,
                     iluminet and optimised are run at each, holding the
                     kidney target / limits at the upper bound estimate +
                     z u (the optimiser: u from the shared errors of
                     --imaging-model eanm only); the tables
                     get a row per level (label rule@level) and a trade-off
                     table (share over each limit vs activity)
  --threads N        worker threads, integer 0..1024 (0: all cores)
  --seed S           random seed, integer >= 0 (default 1)
  --no-plots         no gnuplot plots
  --quiet            print nothing but errors and warnings

Outputs (in DIR)
  NAME.csv           one row per regimen: cycles, activity (GBq), kidney
                     dose and BED (Gy), marrow dose (Gy), tumour dose and
                     BED (Gy) as median and P5-P95, share over each limit,
                     the confidence level of the rule (empty: not a
                     decision on measurements)
  NAME.md            the same table and notes
  NAME_patients.csv  one row per patient and regimen
  NAME_kidney_bed, NAME_tumour_bed, NAME_cycles (.png, .svg)
Limits scored: kidney BED 27 Gy, kidney dose 23 Gy, marrow dose 2 Gy.

Example
  radiokin scripts/regimen_compare.lua --n 200 --regimens empiric,iluminet --out rc]]

local function usage(msg)
  error((msg and msg .. "\n" or "") .. USAGE, 0)
end

local function regimen_list(v)
  local list = {}
  for r in v:gmatch("[^,]+") do
    local known = false
    for _, k in ipairs(M.ALL) do known = known or k == r end
    if not known then
      usage(("unknown regimen '%s' (known: %s)"):format(r,
            table.concat(M.ALL, ", ")))
    end
    list[#list + 1] = r
  end
  return list
end

-- A comma-separated list of numbers, option NAME: each must pass
-- fits(x, previous number) ("NAME needs EXPECT, comma-separated"); with
-- distinct, none may be given twice.
local function number_list(v, name, expect, fits, distinct)
  local list = {}
  for f in (v .. ","):gmatch("([^,]*),") do
    local x = tonumber(f)
    if not x or x ~= x or not fits(x, list[#list]) then
      usage(("%s needs %s, comma-separated (got '%s')")
        :format(name, expect, v))
    end
    for _, y in ipairs(distinct and list or {}) do
      if y == x then usage(("%s: level %g given twice"):format(name, x)) end
    end
    list[#list + 1] = x
  end
  return list
end

local function imaging_times(v, name)
  return number_list(v, name, "increasing times > 0 h", function(x, prev)
    return x > 0 and x ~= math.huge and (not prev or x > prev)
  end)
end

local function confidence_levels(v, name)
  return number_list(v, name, "levels in 0.5..0.999", function(x)
    return x >= 0.5 and x <= 0.999
  end, true)
end

local OPTIONS = {
  ["--model"] = { "model", "value" },
  ["--n"] = { "n", "integer", 1, 1000000 },
  ["--out"] = { "out", "value" },
  ["--name"] = { "name", "value" },
  ["--regimens"] = { "regimens", regimen_list },
  ["--imaging-cv"] = { "cv", "number", 0, 1 },
  ["--imaging-times"] = { "times", imaging_times },
  ["--imaging-model"] = { "imaging_model", function(v, name)
    if v ~= "proportional" and v ~= "eanm" then
      usage(("%s needs proportional or eanm (got '%s')"):format(name, v))
    end
    return v
  end },
  ["--cal-cv"] = { "cal_cv", "number", 0, 1 },
  ["--rc-cv"] = { "rc_cv", "number", 0, 1 },
  ["--volume-cv"] = { "volume_cv", "number", 0, 1 },
  ["--confidence"] = { "levels", confidence_levels },
  ["--threads"] = { "threads", "integer", 0, 1024 },
  ["--seed"] = { "seed", "integer", 0, 2 ^ 53 },
  ["--no-plots"] = { "no_plots", "flag" },
  ["--quiet"] = { "quiet", "flag" },
}

function M.parse_args(args)
  local o, rest = rk.options(args, OPTIONS, usage,
    { model = "models/lu177_dotatate.lua", n = 1000, out = "out",
      name = "regimen_compare", regimens = M.ALL, cv = 0.10,
      times = { 4, 24, 72, 168 }, threads = 0, seed = 1,
      imaging_model = "proportional", cal_cv = 0, rc_cv = 0,
      volume_cv = 0, levels = { 0.5 } })
  if o.help then return o end
  if #rest > 0 then usage("unknown argument '" .. rest[1] .. "'") end
  if o.imaging_model ~= "eanm" and (o.cal_cv > 0 or o.rc_cv > 0
      or o.volume_cv > 0) then
    usage("--cal-cv, --rc-cv and --volume-cv need --imaging-model eanm")
  end
  return o
end

-- What a population file must return (checked so that a plain model
-- file gets this message, not an index error deep in the run).
local function check_population_file(f, path)
  local what
  if type(f) ~= "table" then
    what = tostring(f):match("^rk%.model") and "a plain model (rk.model)"
      or ("a " .. type(f))
  elseif f.population == nil then
    what = "a table without 'population'"
  elseif f.model == nil then
    what = "a table without 'model'"
  elseif type(f.activity_MBq) ~= "number" or not (f.activity_MBq > 0) then
    what = "a table without a positive 'activity_MBq'"
  end
  if what then
    error(("%s: a population file must return a table {model = " ..
      "rk.model{...}, population = rk.population{...}, activity_MBq = " ..
      "label activity per cycle (MBq), dose_to = state, interval_h = " ..
      "hours between cycles, regions = {kidney = ..., marrow = ..., " ..
      "tumour = ...}} (see models/lu177_dotatate.lua); it returned %s")
      :format(path, what), 0)
  end
  return f
end

-- The model file: as given, else beside this script's project root.
local function load_model(path)
  local f = io.open(path)
  if f then
    f:close()
    return check_population_file(dofile(path), path)
  end
  local root = (arg and arg[0] or ""):match("^(.*)/[^/]+/[^/]+$")
  local g = root and io.open(root .. "/" .. path)
  if g then
    g:close()
    return check_population_file(dofile(root .. "/" .. path), path)
  end
  error(("regimen_compare: cannot open model file '%s'"):format(path), 0)
end
M.load_model = load_model

-- Rules that decide on measured cycles and so take a confidence level.
M.CONFIDENCE_RULES = { ["pp-prrt"] = true, iluminet = true,
                       optimised = true }

-- The label of a regimen at a level: the name at 0.5 (the published
-- rule), name@level otherwise.
function M.label(name, level)
  if not level or level == 0.5 then return name end
  return ("%s@%g"):format(name, level)
end

-- Settings of one regimen for model file f (level: the rule's
-- confidence, nil for rules that do not take one).
function M.settings(name, f, o, level)
  local label = f.activity_MBq / 1000
  local psma = f.model.name:find("psma") ~= nil
  local s = {
    model = f, rule = name, activity_gbq = label, threads = o.threads,
    regions = o.regions, progress = not o.quiet and nil or false,
    keep_going = true,
    imaging = { times_h = o.times, cv = o.cv, method = "fit",
                seed = o.seed + 1000 },
    confidence = level,
  }
  if o.imaging_model == "eanm" then
    s.imaging.model = "eanm"
    s.imaging.cal_cv, s.imaging.rc_cv, s.imaging.volume_cv = o.cal_cv,
      o.rc_cv, o.volume_cv
  end
  if name == "empiric" then
    s.n_cycles = psma and 6 or 4
  elseif name == "pp-prrt" then
    s.n_cycles, s.target_gy, s.min_gbq, s.max_gbq = 4, M.LIMITS.kidney_dose,
      0.5, 40
  elseif name == "iluminet" then
    s.bed_limit_gy, s.max_cycles = M.LIMITS.kidney_bed, 6
  elseif name == "optimised" then
    s.bed_limit_gy, s.marrow_limit_gy, s.max_gbq, s.max_cycles =
      M.LIMITS.kidney_bed, M.LIMITS.marrow_dose, 15, 6
    s.n_cycles, s.target_gy = 4, M.LIMITS.kidney_dose  -- rules' plans as starts
  end
  return s
end

-- Quantile q of sorted v, linear between order statistics (GSL's
-- gsl_stats_quantile_from_sorted_data definition).
local function quantile(v, q)
  local n = #v
  if n == 0 then return 0 / 0 end
  local d = (n - 1) * q
  local lo = math.floor(d)
  local hi = math.min(lo + 1, n - 1)
  return v[lo + 1] + (d - lo) * (v[hi + 1] - v[lo + 1])
end

local function stats(v)
  local s = {}
  for i = 1, #v do s[i] = v[i] end
  table.sort(s)
  local sum = 0
  for i = 1, #s do sum = sum + s[i] end
  return { median = quantile(s, 0.5), p5 = quantile(s, 0.05),
           p95 = quantile(s, 0.95), mean = sum / math.max(#s, 1),
           min = s[1], max = s[#s] }
end

-- Per-patient outcome columns of a regimen result (failed patients
-- dropped; their count is reported).
function M.outcomes(r)
  local o = { cycles = {}, activity = {}, kbed = {}, kdose = {}, mdose = {},
              tdose = {}, tbed = {}, kbed_est = {}, kdose_est = {},
              per_cycle = {}, ids = {} }
  for i = 1, r.n do
    if r.ok[i] then
      local k = #o.cycles + 1
      o.ids[k] = r.ids[i]
      o.cycles[k] = r.cycles[i]
      o.activity[k] = r.cum_activity_gbq[i]
      o.kbed[k] = r.cum_bed.kidney[i]
      o.kdose[k] = r.cum_dose.kidney[i]
      o.mdose[k] = r.cum_dose.marrow[i]
      o.tdose[k] = r.cum_dose.tumour[i]
      o.tbed[k] = r.cum_bed.tumour[i]
      o.kbed_est[k] = r.est.cum_bed.kidney[i]
      o.kdose_est[k] = r.est.cum_dose.kidney[i]
      for _, a in ipairs(r.activity_gbq[i]) do
        o.per_cycle[#o.per_cycle + 1] = a
      end
    end
  end
  return o
end

local function frac_over(v, lim)
  local n = 0
  for i = 1, #v do
    if v[i] > lim * (1 + 1e-9) then n = n + 1 end
  end
  return #v > 0 and n / #v or 0 / 0
end

local function distribution(cycles, max)
  local count, parts = {}, {}
  for _, c in ipairs(cycles) do count[c] = (count[c] or 0) + 1 end
  for c = 0, max do
    if count[c] then
      parts[#parts + 1] = ("%d:%.0f%%"):format(c, 100 * count[c] / #cycles)
    end
  end
  return table.concat(parts, " ")
end

function M.summary_row(name, r, o, level)
  local L = M.LIMITS
  local cy, ac = stats(o.cycles), stats(o.activity)
  local kb, kd = stats(o.kbed), stats(o.kdose)
  local kbe, kde = stats(o.kbed_est), stats(o.kdose_est)
  local md, td, tb = stats(o.mdose), stats(o.tdose), stats(o.tbed)
  local pc = stats(o.per_cycle)
  return {
    regimen = name, n = #o.cycles, failed = r.n - #o.cycles,
    confidence = level or "",
    cycles_median = cy.median, cycles_mean = cy.mean,
    cycles_distribution = distribution(o.cycles, r.max_cycles),
    activity_gbq_median = ac.median, activity_gbq_mean = ac.mean,
    activity_gbq_p5 = ac.p5, activity_gbq_p95 = ac.p95,
    per_cycle_gbq_min = pc.min, per_cycle_gbq_median = pc.median,
    per_cycle_gbq_max = pc.max,
    kidney_dose_gy_median = kd.median, kidney_dose_gy_p5 = kd.p5,
    kidney_dose_gy_p95 = kd.p95,
    kidney_bed_gy_median = kb.median, kidney_bed_gy_p5 = kb.p5,
    kidney_bed_gy_p95 = kb.p95,
    kidney_dose_est_gy_median = kde.median,
    kidney_bed_est_gy_median = kbe.median,
    kidney_bed_est_gy_p95 = kbe.p95,
    over_kidney_bed = frac_over(o.kbed, L.kidney_bed),
    over_kidney_dose = frac_over(o.kdose, L.kidney_dose),
    over_marrow_dose = frac_over(o.mdose, L.marrow_dose),
    over_kidney_bed_est = frac_over(o.kbed_est, L.kidney_bed),
    marrow_dose_gy_median = md.median, marrow_dose_gy_p95 = md.p95,
    tumour_dose_gy_median = td.median, tumour_dose_gy_mean = td.mean,
    tumour_bed_gy_median = tb.median, tumour_bed_gy_mean = tb.mean,
    seconds = r.seconds,
  }
end

M.COLUMNS = {
  "regimen", "confidence", "n", "failed", "cycles_median", "cycles_mean",
  "cycles_distribution", "activity_gbq_median", "activity_gbq_mean",
  "activity_gbq_p5", "activity_gbq_p95", "per_cycle_gbq_min",
  "per_cycle_gbq_median", "per_cycle_gbq_max", "kidney_dose_gy_median",
  "kidney_dose_gy_p5", "kidney_dose_gy_p95", "kidney_bed_gy_median",
  "kidney_bed_gy_p5", "kidney_bed_gy_p95", "kidney_dose_est_gy_median",
  "kidney_bed_est_gy_median", "kidney_bed_est_gy_p95", "over_kidney_bed",
  "over_kidney_dose", "over_marrow_dose", "over_kidney_bed_est",
  "marrow_dose_gy_median", "marrow_dose_gy_p95", "tumour_dose_gy_median",
  "tumour_dose_gy_mean", "tumour_bed_gy_median", "tumour_bed_gy_mean",
  "seconds",
}

local function pct(x) return ("%.1f %%"):format(100 * x) end
local function f3(a, b, c) return ("%.1f (%.1f-%.1f)"):format(a, b, c) end

function M.markdown(res, o, f)
  local L = M.LIMITS
  local out = {}
  local function add(s) out[#out + 1] = s end
  add(("# Regimen comparison: %s, %d virtual patients"):format(f.model.name,
      o.n))
  add("")
  add(("Imaging at " .. table.concat(o.times, ", ")
       .. " h with %.0f %% error per image" .. (o.imaging_model == "eanm"
       and (" and shared errors (EANM measurement model, Gear et al. "
            .. "2018): calibration %.0f %%%% per patient, recovery %.0f "
            .. "%%%% and volume %.0f %%%% per patient and region"):format(
            100 * o.cal_cv, 100 * o.rc_cv, 100 * o.volume_cv)
       or " (proportional)") .. ", "
       .. "multi-point fit; outcomes scored on the true simulated dose. "
       .. "Median (P5-P95) unless said. Limits: kidney BED %g Gy, kidney "
       .. "dose %g Gy, marrow dose %g Gy. Seed %d."):format(100 * o.cv,
       L.kidney_bed, L.kidney_dose, L.marrow_dose, o.seed))
  add("")
  for _, k in ipairs { "kidney_bed", "kidney_dose", "marrow_dose" } do
    local l = rk.radiobio.organ_limit(M.LIMIT_IDS[k])
    add(("- limit `%s`: %s %g Gy, %s; source: %s"):format(l.id,
      l.quantity == "bed" and "BED" or "absorbed dose", l.value_gy,
      l.applies, l.source))
  end
  add("")
  add("| regimen | cycles (distribution) | cum. activity GBq | per-cycle "
      .. "GBq min-max | kidney dose Gy | kidney BED Gy | kidney BED est. "
      .. "Gy | > kidney BED | > kidney dose | > marrow dose | marrow dose "
      .. "Gy | tumour dose Gy | tumour BED Gy |")
  add("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
  for _, s in ipairs(res.rows) do
    add(("| %s | %.0f (%s) | %s | %.1f-%.1f | %s | %s | %.1f | %s | %s "
         .. "| %s | %.2f | %.0f | %.0f |"):format(s.regimen,
      s.cycles_median, s.cycles_distribution,
      f3(s.activity_gbq_median, s.activity_gbq_p5, s.activity_gbq_p95),
      s.per_cycle_gbq_min, s.per_cycle_gbq_max,
      f3(s.kidney_dose_gy_median, s.kidney_dose_gy_p5, s.kidney_dose_gy_p95),
      f3(s.kidney_bed_gy_median, s.kidney_bed_gy_p5, s.kidney_bed_gy_p95),
      s.kidney_bed_est_gy_median, pct(s.over_kidney_bed),
      pct(s.over_kidney_dose), pct(s.over_marrow_dose),
      s.marrow_dose_gy_median, s.tumour_dose_gy_median,
      s.tumour_bed_gy_median))
  end
  add("")
  if #o.levels > 1 or o.levels[1] ~= 0.5 then
    add("## Decisions at a confidence level")
    add("")
    add("PP-PRRT and ILUMINET hold the kidney dose target / BED limit at "
        .. "the one-sided upper bound estimate + z u of the cumulative "
        .. "value (u: first-order propagation of each cycle's counting "
        .. "SD, independent between cycles, and of the shared imaging "
        .. "errors, fully correlated); the optimiser, which plans on the "
        .. "model, holds its limits at the upper bound under the shared "
        .. "imaging errors alone; 0.5 is the point estimate. Share "
        .. "of patients whose TRUE cumulative value ends over each limit "
        .. "vs activity given:")
    add("")
    add("| rule | confidence | > kidney BED | > kidney dose | > marrow "
        .. "dose | cum. activity GBq mean | median (P5-P95) | tumour BED "
        .. "Gy median |")
    add("|---|---|---|---|---|---|---|---|")
    for _, s in ipairs(res.rows) do
      if s.confidence ~= "" then
        add(("| %s | %g | %s | %s | %s | %.2f | %s | %.0f |"):format(
          s.base or s.regimen, s.confidence, pct(s.over_kidney_bed),
          pct(s.over_kidney_dose), pct(s.over_marrow_dose),
          s.activity_gbq_mean, f3(s.activity_gbq_median, s.activity_gbq_p5,
          s.activity_gbq_p95), s.tumour_bed_gy_median))
      end
    end
    add("")
  end
  for _, l in ipairs(res.notes) do add(l) end
  return table.concat(out, "\n") .. "\n"
end

-- Ratios to the empiric regimen (means over the same patients: the seed's
-- PP-PRRT figures are cohort ratios), and the PP-PRRT comparison.
function M.notes(res)
  local notes = {}
  local emp = res.by_name["empiric"]
  local function mean(v)
    local s = 0
    for i = 1, #v do s = s + v[i] end
    return s / math.max(#v, 1)
  end
  if emp then
    for _, name in ipairs(res.order) do
      if name ~= "empiric" then
        local o = res.by_name[name]
        notes[#notes + 1] = ("- %s vs empiric (means): cumulative activity "
          .. "x%.2f, tumour dose x%.2f, tumour BED x%.2f, kidney BED "
          .. "x%.2f."):format(name, mean(o.activity) / mean(emp.activity),
          mean(o.tdose) / mean(emp.tdose), mean(o.tbed) / mean(emp.tbed),
          mean(o.kbed) / mean(emp.kbed))
      end
    end
  end
  local pp = res.by_name["pp-prrt"]
  local er = res.raw and res.raw["empiric"]
  if emp and pp and er then
    -- What the population implies: an ideal PP-PRRT (exact dosimetry, no
    -- bounds, no overlap) gives a patient 23 / k GBq, k its kidney Gy/GBq,
    -- so its activity ratio is mean(23 / k) / empiric, larger than 23 /
    -- mean(k) / empiric by Jensen's inequality when k varies.
    local k, inv, n_low = {}, 0, 0
    local per_cycle_target = 23 / 4
    for i = 1, er.n do
      if er.ok[i] and er.cycles[i] > 0 then
        local v = er.dose.kidney[i][1] / er.activity_gbq[i][1]
        k[#k + 1] = v
        inv = inv + 23 / v
        if v * er.activity_gbq[i][1] < per_cycle_target then
          n_low = n_low + 1
        end
      end
    end
    local ks = stats(k)
    local sd = 0
    for i = 1, #k do sd = sd + (k[i] - ks.mean) ^ 2 end
    sd = math.sqrt(sd / math.max(#k - 1, 1))
    local pc = stats(pp.per_cycle)
    notes[#notes + 1] = ""
    notes[#notes + 1] = ("PP-PRRT against the seed (NCT02754297: "
      .. "cumulative activity 1.24x empiric, tumour dose 1.26x, per-cycle "
      .. "0.7-32.4 GBq, median 8.8 GBq): this population gives x%.2f "
      .. "activity and x%.2f tumour dose, per-cycle %.1f-%.1f GBq (median "
      .. "%.1f; bounds 0.5-40). Its kidney dose per GBq is %.2f +- %.2f "
      .. "Gy/GBq (CV %.0f %%; NETTER-1 0.65 +- 0.29), so %.0f %% of "
      .. "patients get less than 23/4 Gy from a %.1f GBq cycle and are "
      .. "raised. Ideal dosimetry would give each patient 23 / (Gy/GBq): "
      .. "x%.2f empiric on average, against x%.2f for 23 / mean(Gy/GBq); "
      .. "the spread of kidney Gy/GBq, not its mean, drives the ratio "
      .. "above the trial's 1.24, which came from a smaller cohort with "
      .. "cycle 1 chosen from GFR and body surface area (here cycle 1 is "
      .. "the label activity) and whose Gy/GBq spread we do not know. "
      .. "Tumour dose follows activity closely because tumour and kidney "
      .. "uptake vary independently in the model (only GFR, through blood "
      .. "clearance, acts on both)."):format(
      mean(pp.activity) / mean(emp.activity),
      mean(pp.tdose) / mean(emp.tdose), pc.min, pc.max, pc.median,
      ks.mean, sd, 100 * sd / ks.mean, 100 * n_low / math.max(#k, 1),
      er.activity_gbq[1][1] or 0,
      inv / math.max(#k, 1) / mean(emp.activity),
      23 / ks.mean / mean(emp.activity))
  end
  return notes
end

-- gnuplot: box plots of kidney and tumour BED per regimen, and the share
-- of patients by cycles given. Returns the commands and data blocks.
function M.plot_script(res, base)
  local Q = rk.gnuplot_quote
  local out, blocks = {}, {}
  local function add(s) out[#out + 1] = s end
  for k, name in ipairs(res.order) do
    local o, rows = res.by_name[name], {}
    for i = 1, #o.kbed do rows[i] = { o.kbed[i], o.tbed[i], o.cycles[i] } end
    blocks["d" .. k] = rows
  end
  local maxc = 0
  for _, name in ipairs(res.order) do
    for _, c in ipairs(res.by_name[name].cycles) do maxc = math.max(maxc, c) end
  end
  blocks.cyc = {}
  for c = 0, maxc do
    local row = { c }
    for _, name in ipairs(res.order) do
      local cyc, n = res.by_name[name].cycles, 0
      for _, x in ipairs(cyc) do if x == c then n = n + 1 end end
      row[#row + 1] = 100 * n / math.max(#cyc, 1)
    end
    blocks.cyc[#blocks.cyc + 1] = row
  end
  local xt = {}
  for k, name in ipairs(res.order) do xt[k] = ("%s %d"):format(Q(name), k) end
  local function box(term, ext, col, what, limit, file)
    add(("set terminal %s"):format(term))
    add(("set output %s"):format(Q(("%s_%s.%s"):format(base, file, ext),
      true)))
    add("set style fill solid 0.4 border -1")
    add("set style data boxplot")
    add("set boxwidth 0.5")
    add("unset key")
    add(("set xtics (%s) noenhanced"):format(table.concat(xt, ", ")))
    add(("set xrange [0.3:%g]"):format(#res.order + 0.7))
    add(("set ylabel %s"):format(Q(what)))
    add(("set title %s"):format(Q(what .. " per regimen (box: quartiles; "
      .. "whiskers 1.5 IQR)")))
    local plots = {}
    for k = 1, #res.order do
      plots[k] = ("$d%d using (%d):%d lc %d"):format(k, k, col, k)
    end
    if limit then
      plots[#plots + 1] = ("%g with lines dt 2 lc rgb 'red' notitle"):format(
        limit)
    end
    add("plot " .. table.concat(plots, ", "))
    add("set output")
    add("reset")
  end
  local function cycles(term, ext)
    add(("set terminal %s"):format(term))
    add(("set output %s"):format(Q(("%s_cycles.%s"):format(base, ext),
      true)))
    add("set style data histograms")
    add("set style histogram clustered gap 1")
    add("set style fill solid 0.6 border -1")
    add("set xlabel 'cycles given'")
    add("set ylabel 'patients (%)'")
    add("set title 'Cycles given per regimen'")
    add("set key top left noenhanced")
    local plots = {}
    for k, name in ipairs(res.order) do
      plots[k] = ("$cyc using %d:xtic(1) title %s"):format(k + 1, Q(name))
    end
    add("plot " .. table.concat(plots, ", "))
    add("set output")
    add("reset")
  end
  for _, t in ipairs { { "pngcairo size 900,540", "png" },
                       { "svg size 900,540", "svg" } } do
    box(t[1], t[2], 1, "cumulative kidney BED (Gy)", M.LIMITS.kidney_bed,
        "kidney_bed")
    box(t[1], t[2], 2, "cumulative tumour BED (Gy)", nil, "tumour_bed")
    cycles(t[1], t[2])
  end
  return table.concat(out, "\n") .. "\n", blocks
end

-- The plots as OUT/NAME_{kidney_bed,tumour_bed,cycles}.{png,svg}: written
-- by gnuplot in a private folder and moved by rk.plot_files (a link or
-- device at an output name is refused, not followed).
function M.plot(res, o)
  local paths = {}
  for _, ext in ipairs { "png", "svg" } do
    for _, what in ipairs { "kidney_bed", "tumour_bed", "cycles" } do
      paths[#paths + 1] = ("%s/%s_%s.%s"):format(o.out, o.name, what, ext)
    end
  end
  local f = rk.plot_files(paths)
  local ok, why = rk.gnuplot(M.plot_script(res, f.dir .. "/" .. o.name))
  if not ok then
    f:abort()
    io.stderr:write("regimen_compare: warning: plots skipped: " .. why
                    .. "\n")
    return ok
  end
  f:commit()
  return ok
end

local PATIENT_COLUMNS = {
  "regimen", "confidence", "id", "cycles", "activity_gbq", "per_cycle_gbq",
  "kidney_dose_gy", "kidney_bed_gy", "kidney_dose_est_gy",
  "kidney_bed_est_gy", "marrow_dose_gy", "tumour_dose_gy", "tumour_bed_gy",
}

-- Runs the cohort through the regimens; returns {rows, by_name, order,
-- notes, model}.
function M.run(o)
  local f = type(o.model) == "table" and o.model or load_model(o.model)
  o.regions = { "kidney", "marrow", "tumour" }
  local t0 = os.time()
  local patients = f.population:sample { n = o.n, seed = o.seed }
  local res = { rows = {}, by_name = {}, order = {}, model = f, raw = {} }
  local prow = {}
  local runs = {}
  for _, name in ipairs(o.regimens) do
    if M.CONFIDENCE_RULES[name] then
      for _, lv in ipairs(o.levels) do
        runs[#runs + 1] = { name = name, level = lv }
      end
    else
      runs[#runs + 1] = { name = name }
    end
  end
  for _, run in ipairs(runs) do
    local c0 = os.clock()
    local s = M.settings(run.name, f, o, run.level)
    local name = M.label(run.name, run.level)
    s.patients = patients
    local r = rk.regimen(s)
    r.seconds = os.clock() - c0
    local out = M.outcomes(r)
    res.by_name[name] = out
    res.order[#res.order + 1] = name
    res.raw[name] = r
    res.rows[#res.rows + 1] = M.summary_row(name, r, out, run.level)
    res.rows[#res.rows].base = run.name
    if #r.failed > 0 then
      io.stderr:write(("regimen_compare: %s: %d patients failed; first: "
        .. "%s\n"):format(name, #r.failed, r.failed[1].message))
    end
    for i = 1, r.n do
      if r.ok[i] then
        local pc = {}
        for c, a in ipairs(r.activity_gbq[i]) do
          pc[c] = ("%.4g"):format(a)
        end
        prow[#prow + 1] = {
          regimen = name, confidence = run.level or "", id = r.ids[i], cycles = r.cycles[i],
          activity_gbq = r.cum_activity_gbq[i],
          per_cycle_gbq = table.concat(pc, ";"),
          kidney_dose_gy = r.cum_dose.kidney[i],
          kidney_bed_gy = r.cum_bed.kidney[i],
          kidney_dose_est_gy = r.est.cum_dose.kidney[i],
          kidney_bed_est_gy = r.est.cum_bed.kidney[i],
          marrow_dose_gy = r.cum_dose.marrow[i],
          tumour_dose_gy = r.cum_dose.tumour[i],
          tumour_bed_gy = r.cum_bed.tumour[i],
        }
      end
    end
  end
  res.notes = M.notes(res)
  rk.mkdir(o.out)
  local base = o.out .. "/" .. o.name
  rk.csv.write(base .. ".csv", res.rows, M.COLUMNS)
  rk.csv.write(base .. "_patients.csv", prow, PATIENT_COLUMNS)
  rk.write_atomic(base .. ".md", M.markdown(res, o, f))
  res.files = { base .. ".csv", base .. ".md", base .. "_patients.csv" }
  if not o.no_plots and M.plot(res, o) then
    for _, p in ipairs { "kidney_bed", "tumour_bed", "cycles" } do
      res.files[#res.files + 1] = base .. "_" .. p .. ".png"
      res.files[#res.files + 1] = base .. "_" .. p .. ".svg"
    end
  end
  res.wall_s = os.time() - t0
  return res
end

-- A short table for the terminal.
function M.print(res)
  print(("%-14s %6s %9s %9s %8s %8s %8s %8s %8s %8s"):format("regimen",
    "cycles", "act. GBq", "kid. BED", "est.", ">BED27", ">D23", ">RM2",
    "tum. Gy", "tum. BED"))
  for _, s in ipairs(res.rows) do
    print(("%-14s %6.0f %9.1f %9.1f %8.1f %8s %8s %8s %8.0f %8.0f"):format(
      s.regimen, s.cycles_median, s.activity_gbq_median,
      s.kidney_bed_gy_median, s.kidney_bed_est_gy_median,
      pct(s.over_kidney_bed), pct(s.over_kidney_dose),
      pct(s.over_marrow_dose), s.tumour_dose_gy_median,
      s.tumour_bed_gy_median))
  end
  print("(medians; kidney BED true and as imaging estimated it; share of "
        .. "patients over kidney BED 27 Gy, kidney dose 23 Gy, marrow 2 Gy)")
  for _, l in ipairs(res.notes) do print(l) end
end

function M.main(args)
  local o = M.parse_args(args)
  if o.help then
    print(M.HELP)
    return
  end
  local res = M.run(o)
  if not o.quiet then
    M.print(res)
    print("written: " .. table.concat(res.files, ", "))
  end
  return res
end

if arg and arg[0] and arg[0]:match("regimen_compare%.lua$") then
  M.main(arg)
end
return M
