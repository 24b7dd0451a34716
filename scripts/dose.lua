-- dose.lua - absorbed dose, BED and EQD2 per region and cycle from
-- time-integrated activities, cumulative over cycles, against organ limits;
-- the remaining budget as BED left and as the next cycles' activity; a
-- per-GBq summary comparable to VISION / NETTER-1; a bar chart.
--
--   usage: radiokin scripts/dose.lua TIA.csv [--out OUT.csv] [--plot OUT.png|.svg]
--     [--nuclide Lu-177] [--teff-h H] [--activity MBQ]
--     [--organ REGION=CLASS ...] [--organs MAP.csv] [--limit ID ...]
--     [--cycles-left N] [--no-unit-check] [--no-plot] [--quiet]
--     [--u-cal REL] [--u-mass REL] [--u-ab GY] [--report DIR]
--
-- Example
--   radiokin scripts/tia.lua images.csv --out run1
--   radiokin scripts/dose.lua run1/tia.csv --activity 7400 \
--     --organ kidney_left=kidney --organ lesion_a=tumour --cycles-left 3
--
-- TIA.csv is either scripts/tia.lua's tia.csv as it stands or a table made
-- by hand; one row per patient, region and cycle (units in the names):
--   patient       patient id (text)
--   region        region name; also the organ class when `organ` is absent
--   tia_MBqh      time-integrated activity of the region, MBq h
--   mass_kg       region mass, kg. A row without it (blank) has no
--                 absorbed dose: it is skipped with a warning on stderr
--  optional:
--   cycle         cycle number (1, 2, ...); default 1 (tia.lua writes one
--                 row per patient and region, i.e. one cycle)
--   organ         organ class for alpha/beta, T_rep and limits (kidney,
--                 kidney_risk, red_marrow, salivary, liver, spleen, tumour;
--                 see rk.radiobio.organs()); usual spellings are accepted
--                 (kidneys, left_kidney, L_kidney, bone_marrow, parotid,
--                 tumor, lesion1, ...). Without it the region name is
--                 classified the same way; a region that is no organ class
--                 gets absorbed dose only (no BED, EQD2 or limit): the
--                 terminal lists those regions and why, and so does their
--                 `warnings` column
--   nuclide       default --nuclide, else Lu-177
--   activity_MBq  administered activity of the cycle, MBq (for Gy/GBq and
--                 the next-cycle activity); default --activity
--   tia_se_MBqh   standard error of the TIA: dose is linear in the TIA, so
--                 dose_se_gy = tia_se_MBqh x dose / TIA
--   u_cal_rel     relative standard uncertainty of the camera calibration
--                 (default --u-cal): one factor for all the patient's
--                 cycles, so fully correlated between them
--   u_mass_rel    relative standard uncertainty of the mass (default
--                 --u-mass; volume and density): shared by the cycles too
--  BED curve shape (the G factor), first that applies:
--   teff_h        effective (clearance) half-life of the region, h: the
--                 dose-rate curve is mono-exponential after instantaneous
--                 uptake (G = lambda / (lambda + mu));
--   tup_h         with teff_h: uptake half-time, h (uptake + clearance)
--   model, params the curve tia.lua fitted (mono, bi, upwash, tri with
--                 params "A=..;lw=..;lu=.."): A(t) becomes the dose-rate
--                 curve (rk.dosimetry.doserate, local deposition) and G is
--                 the closed-form double sum (rk.radiobio.g). Dose still
--                 comes from tia_MBqh (with tia.lua --average the curve is
--                 only the chosen model's; a warning says when its TIA
--                 differs from tia_MBqh by over 1 %)
--   --teff-h H    as teff_h, for rows with neither (nor a fitted curve)
--   model = trapezoid (tia.lua's fallback, no analytic curve): the
--                 trapezoid's own tail, instantaneous uptake and physical
--                 decay only (G = lambda_phys / (lambda_phys + mu)), with a
--                 warning: this is the smallest G of any instantaneous-
--                 uptake curve, so the BED is a low estimate; give teff_h
-- A row with none of these is an error.
-- Absorbed dose is local energy deposition (MIRD schema, docs/sources.md).
--
-- Options:
--   --activity MBQ      activity of every cycle without an activity_MBq
--   --organ R=C         region R (any patient) is organ class C; repeatable
--   --organs MAP.csv    the same from a CSV with columns region, organ
--   --limit ID          apply this limit of the organ-limit table
--                       (rk.radiobio.organ_limits(), docs/sources.md)
--                       instead of the organ's default of the same quantity,
--                       e.g. --limit kidney_bed_iluminet (BED 27 Gy);
--                       repeatable. The limits applied are printed
--   --cycles-left N     the remaining budget is split over N equal cycles
--                       (default 1): next_dose_gy and next_activity_MBq are
--                       per cycle
--   --out -             both tables to standard output (cycles, then the
--                       summary), nothing else printed, no plot unless
--                       --plot names a file
--   --no-unit-check     warn instead of refusing masses and activities that
--                       look like grams, GBq or kBq
--   --u-cal REL         u_cal_rel of rows without one (e.g. 0.05)
--   --u-mass REL        u_mass_rel of rows without one
--   --u-ab GY           standard uncertainty of alpha/beta (BED only)
--   --report DIR        a report per patient in DIR (made if missing):
--                       DIR/<patient>.md (what was measured, the models
--                       and parameters, results with standard
--                       uncertainties and 95 % intervals, the uncertainty
--                       budget of the cumulative dose and BED) and
--                       DIR/<patient>.png (cumulative dose per cycle with
--                       its 95 % interval; gnuplot, skipped with a warning
--                       when missing or with --no-plot). <patient> is the
--                       id with characters other than letters, digits,
--                       '-' and '_' replaced by '_'
--
-- Unit checks: a mass outside the plausible range of its organ class that
-- fits it in grams, an activity per cycle below 20 MBq that fits in GBq or
-- above 50 GBq that fits in kBq is refused with the likely mistake named;
-- other implausible masses, Gy/GBq and next-cycle activities are warnings
-- (terminal and `warnings` column).
--
-- Output: OUT.csv (default TIA_dose.csv: one row per patient, region and
-- cycle with per-cycle and cumulative dose (and its SE, cycles taken as
-- independent), BED, EQD2, the curve used for BED, each limit and the
-- margin to it, warnings) and OUT_summary.csv (one row per patient and
-- region: cumulative values, Gy/GBq, the limits applied (ids), BED and
-- dose left, the next cycles' dose and activity, and the VISION / NETTER-1
-- reference Gy/GBq), both atomically, and a bar chart of cumulative dose
-- vs limits (gnuplot; skipped with a warning when gnuplot is missing).
-- Uncertainty (rk.uncert.course, first order, after the EANM guidance,
-- Gear et al. EJNMMI 2018;45:2456): when a row has tia_se_MBqh or a
-- u_cal_rel / u_mass_rel, dose_u_gy, bed_u_gy and the cumulative
-- cum_dose_u_gy, cum_bed_u_gy are standard uncertainties with 95 %
-- intervals (_lo_gy, _hi_gy): the TIA's own SE independent between
-- cycles, calibration and mass shared (correlated), alpha/beta from
-- --u-ab. They are blank without any of these inputs.
-- Library use: local dose = require "dose"; dose.compute(rows, opts).
local rk = require "radiokin"

local M = {}

-- Mean absorbed dose per administered activity in the pivotal trials'
-- dosimetry substudies, as quoted in the review of dosimetry in Tijdschr
-- Nucl Geneesk 2023;45(2) (docs/sources.md, tag S).
M.reference = {
  kidney = "VISION 0.43 +/- 0.16 Gy/GBq (PSMA-617); NETTER-1 0.65 +/- "
    .. "0.29 Gy/GBq (DOTATATE)",
  kidney_risk = "VISION 0.43 +/- 0.16 Gy/GBq; NETTER-1 0.65 +/- 0.29 Gy/GBq",
  salivary = "VISION 0.63 +/- 0.36 Gy/GBq (PSMA-617)",
  red_marrow = "VISION 0.25 +/- 0.15 Gy per 7.4 GBq cycle; NETTER-1 0.22 Gy "
    .. "per cycle; literature 0.02-0.08 Gy/GBq",
}

-- --help prints the header comment of this file (usage, columns, options,
-- outputs, an example), read once from the script itself.
function M.help()
  return rk.script_help()
end

local function usage(msg)
  error((msg and msg .. "\n" or "") ..
    "usage: radiokin scripts/dose.lua TIA.csv [--out OUT.csv] " ..
    "[--plot OUT.png|OUT.svg] [--nuclide NAME] [--teff-h H] " ..
    "[--activity MBQ] [--organ REGION=CLASS] [--organs MAP.csv] " ..
    "[--limit ID] [--cycles-left N] [--no-unit-check] [--no-plot] " ..
    "[--quiet] [--u-cal REL] [--u-mass REL] [--u-ab GY]", 0)
end

-- The organ class a map entry or an organ column names, in any usual
-- spelling; raises `context: message` otherwise.
local function class_of(name, context)
  local c, why = rk.radiobio.organ_class(name)
  if not c then error(context .. ": " .. why, 0) end
  return c
end

-- MAP.csv (columns region, organ) into map[region] = class.
local function read_organ_map(path, map)
  local ok, rows = pcall(rk.csv.read, path, { strings = { "region",
    "organ" }, missing = { "" }, comment = "#" })
  if not ok then error("--organs: " .. tostring(rows), 0) end
  for i, r in ipairs(rows) do
    local where = ("%s:%d"):format(path, i + 1)
    if r.region == nil or r.organ == nil then
      error(where .. ": columns 'region' and 'organ' are needed (got "
        .. "region = " .. tostring(r.region) .. ", organ = "
        .. tostring(r.organ) .. ")", 0)
    end
    map[r.region] = class_of(r.organ, where .. ": region '" .. r.region
      .. "'")
  end
end

-- a number (rk.csv.parse_number: no hex, no "inf"), named in its message
local function number(what)
  return function(v, name)
    return rk.csv.parse_number(v) or usage(("%s needs %s (got '%s')")
      :format(name, what, v))
  end
end

local OPTIONS = {
  ["--report"] = { "report", "value" },
  ["--out"] = { "out", "value" },
  ["--plot"] = { "plot", "value" },
  ["--nuclide"] = { "nuclide", "value" },
  ["--teff-h"] = { "teff_h", number("a number of hours") },
  ["--activity"] = { "activity", function(v, name)
    local x = number("an activity in MBq")(v, name)
    if not (x > 0) then usage(("%s %s MBq, expected > 0"):format(name, v)) end
    return x
  end },
  ["--organ"] = { "organ", function(v, name)
    local region, class = v:match("^(.-)=(.+)$")
    if not region or region == "" then
      usage(("%s needs REGION=CLASS (got '%s')"):format(name, v))
    end
    return { region, class_of(class, name .. " " .. v) }
  end, after = function(o, rc)
    o.organ_map[rc[1]] = rc[2]
    o.organ = nil
  end },
  ["--organs"] = { "organs", "value", after = function(o, path)
    read_organ_map(path, o.organ_map)
    o.organs = nil
  end },
  ["--limit"] = { "limit", function(id, name)
    local ok, l = pcall(rk.radiobio.organ_limit, id)
    if not ok then
      usage(name .. ": " .. tostring(l):gsub("^[^:]*%.lua:%d+: ", ""))
    end
    return l
  end, after = function(o, l)
    o.limits[#o.limits + 1] = l
    o.limit = nil
  end },
  ["--cycles-left"] = { "cycles_left", function(v, name)
    local n = number("a whole number of cycles")(v, name)
    if n < 1 or n ~= math.floor(n) or n > 100 then
      usage(("%s %s, expected a whole number 1-100"):format(name, v))
    end
    return n
  end },
  ["--u-cal"] = { "u_cal_rel", number("a relative SD >= 0") },
  ["--u-mass"] = { "u_mass_rel", number("a relative SD >= 0") },
  ["--u-ab"] = { "u_ab_gy", number("an SD in Gy >= 0") },
  ["--no-unit-check"] = { "no_unit_check", "flag" },
  ["--no-plot"] = { "no_plot", "flag" },
  ["--quiet"] = { "quiet", "flag" },
}

function M.parse_args(args)
  local o, files = rk.options(args, OPTIONS, usage,
    { organ_map = {}, limits = {} })
  if o.help then return o end
  if #files > 1 then usage("one TIA file only") end
  o.input = files[1]
  if not o.input then usage("no TIA file given") end
  local stem = o.input:gsub("%.[^./]*$", "")
  o.out = o.out or stem .. "_dose.csv"
  if o.out == "-" then
    -- standard output: the cycle table, then the summary; a plot only
    -- when --plot names its file
    o.no_plot = o.no_plot or not o.plot
    o.quiet = true
  end
  o.plot = o.plot or (o.out:gsub("%.[^./]*$", "")) .. ".png"
  return o
end

-- ------------------------------------------------------ plausibility

-- Plausible ranges, deliberately wide (about 4x around adult reference
-- organ masses: kidneys 0.31 kg, liver 1.8 kg, spleen 0.15 kg, red marrow
-- 1.17 kg, salivary glands 0.085 kg for the ICRP 89 reference male, U as
-- read here); a region may be one kidney, one gland or a liver segment.
-- They catch unit mistakes, not unusual patients: outside them is a
-- warning, and a refusal only when the value fits the range in another
-- unit.
M.mass_range_kg = {
  kidney = { 0.04, 1.0 }, kidney_risk = { 0.04, 1.0 },
  liver = { 0.02, 5.0 }, spleen = { 0.02, 3.0 },
  red_marrow = { 0.2, 5.0 }, salivary = { 0.002, 0.3 },
  tumour = { 1e-7, 10.0 },
}
M.any_mass_kg = { 1e-7, 200.0 }         -- no region outweighs a patient
M.activity_range_MBq = { 20, 50000 }    -- one therapy cycle
-- Absorbed dose per administered activity, Gy/GBq: organs at risk in 177Lu
-- therapy are 0.02-2.5 (docs/sources.md, reference Gy/GBq); TARE gives
-- normal liver tens and tumours hundreds of Gy/GBq.
M.gy_per_gbq_range = {
  kidney = { 0.01, 10 }, kidney_risk = { 0.01, 10 },
  red_marrow = { 0.001, 2 }, salivary = { 0.01, 20 },
  spleen = { 0.01, 20 }, liver = { 0.01, 300 }, tumour = { 1e-3, 3000 },
}

local function fits(v, r) return v >= r[1] and v <= r[2] end

-- Mass check of row i: returns a warning or nil; raises on a likely unit
-- mistake unless opts.no_unit_check.
local function check_mass(opts, i, region, class, mass)
  local r = class and M.mass_range_kg[class] or M.any_mass_kg
  if fits(mass, r) then return nil end
  local what = ("region '%s'%s: mass_kg = %.6g, expected %g-%g kg")
    :format(region, class and " (" .. class .. ")" or "", mass, r[1], r[2])
  local refuse
  if mass > r[2] and fits(mass / 1000, r) then
    refuse = what .. ("; this looks like grams (%.6g g = %.6g kg)")
      :format(mass, mass / 1000)
  elseif mass > M.any_mass_kg[2] then
    refuse = what .. "; no region outweighs a patient"
  end
  if refuse and not opts.no_unit_check then
    error(("%s:%d: %s (--no-unit-check to accept)"):format(
      opts.source or "tia", opts.line and opts.line[i] or i, refuse), 0)
  end
  return refuse or what .. ": check the region and its mass"
end

local function check_activity(opts, i, act)
  local r = M.activity_range_MBq
  if fits(act, r) then return nil end
  local what = ("activity_MBq = %.6g, expected %g-%g MBq for a therapy "
    .. "cycle"):format(act, r[1], r[2])
  local refuse
  if act < r[1] and fits(act * 1000, r) then
    refuse = what .. ("; this looks like GBq (%.6g GBq = %.6g MBq)")
      :format(act, act * 1000)
  elseif act > r[2] and fits(act / 1000, r) then
    refuse = what .. ("; this looks like kBq (%.6g kBq = %.6g MBq)")
      :format(act, act / 1000)
  end
  if refuse and not opts.no_unit_check then
    error(("%s:%d: %s (--no-unit-check to accept)"):format(
      opts.source or "tia", opts.line and opts.line[i] or i, refuse), 0)
  end
  return refuse or what
end

local function check_gy_per_gbq(region, class, v)
  local r = class and M.gy_per_gbq_range[class]
  if not r or fits(v, r) then return nil end
  return ("region '%s' (%s): %.4g Gy/GBq, typical %g-%g: %s"):format(
    region, class, v, r[1], r[2], v > r[2]
      and "activity_MBq given in GBq, or mass_kg too small?"
      or "mass_kg given in grams, or activity_MBq in kBq?")
end

-- --------------------------------------------------------- computation

local function where(opts, i)
  return ("%s:%d"):format(opts.source or "tia", opts.line and opts.line[i]
    or i)
end

-- Raises "file:line: message" (row i of the input).
local function fail(opts, i, msg)
  error(where(opts, i) .. ": " .. msg, 0)
end

-- Calls f, turning an engine error into one that names the input row.
local function at(opts, i, f, ...)
  local ok, a, b, c = pcall(f, ...)
  -- The data position replaces the script position the binding added.
  if not ok then
    fail(opts, i, (tostring(a):gsub("^[^:]*%.lua:%d+: ", "")))
  end
  return a, b, c
end

local function need(opts, i, row, key, kind)
  local v = row[key]
  if v == nil then fail(opts, i, ("column '%s' is missing"):format(key)) end
  if kind == "number" and type(v) ~= "number" then
    fail(opts, i, ("column '%s' must be a number (got '%s')"):format(key,
      tostring(v)))
  end
  return v
end

-- The fitted activity curve of tia.lua's `model` and `params` as a sum of
-- exponentials A(t) = sum a_k exp(-b_k t) (MBq, 1/h); engine/tac/tac.h gives
-- each model's parameters.
local TERMS = {
  mono = { "A", "l" },
  bi = { "A1", "l1", "A2", "l2" },
  upwash = { "A", "lw", "lu" },
  tri = { "A1", "l1", "A2", "l2", "l3" },
}

local function curve_terms(opts, i, model, params)
  local names = TERMS[model]
  if not names then
    fail(opts, i, ("model = '%s', expected mono, bi, upwash, tri or "
      .. "trapezoid"):format(tostring(model)))
  end
  if type(params) ~= "string" then
    fail(opts, i, ("model %s needs column 'params' (%s=...;...)"):format(
      model, names[1]))
  end
  local p = {}
  for item in params:gmatch("[^;]+") do
    local k, v = item:match("^%s*([%w_]+)%s*=%s*(%S+)%s*$")
    local x = v and rk.csv.parse_number(v)
    if not x then
      fail(opts, i, ("params '%s': '%s' is not name=number"):format(params,
        item))
    end
    p[k] = x
  end
  for _, k in ipairs(names) do
    if p[k] == nil then
      fail(opts, i, ("params '%s': model %s needs %s"):format(params, model,
        table.concat(names, ", ")))
    end
  end
  if model == "mono" then return { p.A }, { p.l } end
  if model == "bi" then return { p.A1, p.A2 }, { p.l1, p.l2 } end
  if model == "upwash" then return { p.A, -p.A }, { p.lw, p.lu } end
  return { p.A1, p.A2, -(p.A1 + p.A2) }, { p.l1, p.l2, p.l3 }
end

-- G factor of row i for the organ's repair half-time: from teff_h [+ tup_h],
-- the fitted curve, --teff-h or (trapezoid) physical decay. Returns G, a
-- label of the curve used and a warning or nil.
local function curve_g(opts, i, row, region, organ, nuc, tia, mass)
  local teff = row.teff_h
  if teff == nil and (row.model == nil or row.model == "trapezoid") then
    teff = opts.teff_h
  end
  if teff ~= nil then
    if type(teff) ~= "number" or teff <= 0 then
      fail(opts, i, ("region '%s': teff_h = %s h, expected > 0 (a curve "
        .. "that does not decay has infinite TIA)"):format(region,
        tostring(teff)))
    end
    local tup = row.tup_h
    if tup ~= nil and (type(tup) ~= "number" or tup <= 0) then
      fail(opts, i, ("region '%s': tup_h = %s h, expected an uptake "
        .. "half-time > 0"):format(region, tostring(tup)))
    end
    if tup ~= nil then
      return at(opts, i, rk.radiobio.g_uptake, math.log(2) / teff,
        math.log(2) / tup, organ.trep_h), "teff_h+tup_h"
    end
    return at(opts, i, rk.radiobio.g_mono, math.log(2) / teff,
      organ.trep_h), "teff_h"
  end
  if row.model == nil then
    fail(opts, i, ("region '%s': the curve shape is needed for BED (add a "
      .. "teff_h column, tia.lua's model and params columns, or pass "
      .. "--teff-h)"):format(region))
  end
  if row.model == "trapezoid" then
    return at(opts, i, rk.radiobio.g_mono, nuc.lambda, organ.trep_h),
      "physical decay", ("trapezoid fit: no analytic curve, BED assumes "
      .. "instantaneous uptake and physical decay only (T1/2 %.4g h), a low "
      .. "estimate; give teff_h"):format(nuc.half_life_h)
  end
  local a, b = curve_terms(opts, i, row.model, row.params)
  local r = at(opts, i, rk.dosimetry.doserate, { nuclide = nuc.name,
    a_MBq = a, b_per_h = b, mass_kg = mass, region = region })
  local g = at(opts, i, rk.radiobio.g, { c = r.c, b = r.b,
    trep_h = organ.trep_h })
  local curve_tia, warn = 0, nil
  for k = 1, #a do curve_tia = curve_tia + a[k] / b[k] end
  if math.abs(curve_tia - tia) > 0.01 * tia then
    warn = ("fitted %s curve integrates to %.6g MBq h, tia_MBqh = %.6g: "
      .. "BED shape from the curve, dose from tia_MBqh"):format(row.model,
      curve_tia, tia)
  end
  return g, "fit:" .. row.model, warn
end

-- The organ class of row i: the --organ / --organs map for the region,
-- else its `organ` column, else the region's own name; usual spellings are
-- accepted (rk.radiobio.organ_class). Returns the organ table (with the
-- limits applied, see limits_of), or nil and why the region has none.
local function organ_of(opts, i, row, region)
  local name = opts.organ_map and opts.organ_map[region]
  if not name and row.organ ~= nil then
    local c, why = rk.radiobio.organ_class(tostring(row.organ))
    if not c then fail(opts, i, "column 'organ': " .. why) end
    name = c
  end
  if not name then
    local c, why = rk.radiobio.organ_class(region)
    if not c then return nil, nil, why end
    name = c
  end
  local o = at(opts, i, rk.radiobio.organ, name)
  o.limits = M.limits_of(name, opts.limits)
  local d, b = o.limits.dose, o.limits.bed
  o.limit_dose_gy = d and d.value_gy or 0
  o.limit_bed_gy = b and b.value_gy or 0
  return o
end

-- The limits applied to an organ class: its default rows of the organ-limit
-- table (rk.radiobio.organ_limits), each replaced by a row of the same
-- quantity in `chosen` (--limit IDs). Returns {dose = row?, bed = row?}.
function M.limits_of(class, chosen)
  local lim = {}
  for _, l in ipairs(rk.radiobio.organ_limits(class)) do
    if l.default then lim[l.quantity] = l end
  end
  for _, l in ipairs(chosen or {}) do
    if l.organ == class then lim[l.quantity] = l end
  end
  return lim
end

-- rows: array of {patient=, region=, tia_MBqh=, mass_kg= [, cycle=,
-- organ=, nuclide=, activity_MBq=, tia_se_MBqh=, teff_h=, tup_h=, model=,
-- params=]} (a Lua table of TIAs and masses, or rk.csv.read rows, e.g. of
-- tia.lua's tia.csv). opts: nuclide, teff_h, source (file name for
-- messages), line (row -> line number). Returns cycles (one table per
-- input row with a mass, in patient / region / cycle order), summary (one
-- per patient and region) and skipped (messages of rows without a mass).
function M.compute(rows, opts)
  opts = opts or {}
  if type(rows) ~= "table" or #rows == 0 then
    error("dose: no TIA rows given", 2)
  end
  local groups, order, skipped, no_bed = {}, {}, {}, {}
  for i, row in ipairs(rows) do
    local patient = tostring(need(opts, i, row, "patient"))
    local region = tostring(need(opts, i, row, "region"))
    local cycle = row.cycle or 1
    if type(cycle) ~= "number" or cycle < 1
        or math.floor(cycle) ~= cycle then
      fail(opts, i, ("cycle = %s, expected 1, 2, ..."):format(cycle))
    end
    local tia = need(opts, i, row, "tia_MBqh", "number")
    if row.mass_kg == nil then
      skipped[#skipped + 1] = ("%s: patient %s region '%s': no mass_kg, no "
        .. "absorbed dose: row skipped"):format(where(opts, i), patient,
        region)
      goto continue
    end
    local mass = need(opts, i, row, "mass_kg", "number")
    local warnings = {}
    local organ, organ_name, why = organ_of(opts, i, row, region)
    if organ then
      organ_name = organ.name
    else
      warnings[#warnings + 1] = ("region '%s' is not an organ class: "
        .. "absorbed dose only, no BED or limit; map it with --organ "
        .. "%s=CLASS or an 'organ' column (known: %s)"):format(region,
        region, table.concat(rk.radiobio.organs(), ", "))
      local n = no_bed[region]
      if not n then
        n = { region = region, why = why, patients = {} }
        no_bed[region] = n
        no_bed[#no_bed + 1] = n
      end
      n.patients[#n.patients + 1] = patient
    end
    warnings[#warnings + 1] = check_mass(opts, i, region, organ_name, mass)
    local nuc = at(opts, i, rk.nuclide, row.nuclide or opts.nuclide
      or "Lu-177")
    local d = at(opts, i, rk.dosimetry.led, { nuclide = nuc.name,
      tia_MBqh = tia, mass_kg = mass, region = region })
    local se = row.tia_se_MBqh
    if se ~= nil and (type(se) ~= "number" or se < 0) then
      fail(opts, i, ("region '%s': tia_se_MBqh = %s MBq h, expected a "
        .. "standard error >= 0"):format(region, tostring(se)))
    end
    local u_sh = {}
    for _, k in ipairs { "u_cal_rel", "u_mass_rel" } do
      local v = row[k]
      if v == nil then v = opts[k] end
      if v ~= nil and (type(v) ~= "number" or v < 0 or v ~= v) then
        fail(opts, i, ("region '%s': %s = %s, expected a relative standard "
          .. "uncertainty >= 0"):format(region, k, tostring(v)))
      end
      u_sh[k] = v
    end
    local d_se = se and se * at(opts, i, rk.dosimetry.s_led,
      { nuclide = nuc.name, mass_kg = mass, region = region })
    local g, curve, bed, eqd2, warn
    if organ then
      g, curve, warn = curve_g(opts, i, row, region, organ, nuc, tia, mass)
      warnings[#warnings + 1] = warn
      bed, eqd2 = at(opts, i, rk.radiobio.bed, { dose_gy = d, g = g,
        organ = organ_name, where = region })
    end
    local act = row.activity_MBq
    if act == nil then act = opts.activity end
    if act ~= nil and (type(act) ~= "number" or act <= 0) then
      fail(opts, i, ("activity_MBq = %s, expected > 0"):format(tostring(act)))
    end
    if act then
      warnings[#warnings + 1] = check_activity(opts, i, act)
      warnings[#warnings + 1] = check_gy_per_gbq(region, organ_name,
        d / (act / 1000))
    end
    local key = patient .. "\0" .. region
    if not groups[key] then
      groups[key] = { patient = patient, region = region, organ = organ,
        rows = {} }
      order[#order + 1] = key
    end
    local grp = groups[key]
    local was = grp.organ and grp.organ.name
    if was ~= (organ and organ.name) then
      fail(opts, i, ("patient %s region '%s': organ '%s' differs from an "
        .. "earlier cycle's '%s'"):format(patient, region,
        organ and organ.name or "-", was or "-"))
    end
    for _, c in ipairs(grp.rows) do
      if c.cycle == cycle then
        fail(opts, i, ("patient %s region '%s' cycle %d appears twice")
          :format(patient, region, cycle))
      end
    end
    grp.rows[#grp.rows + 1] = { patient = patient, region = region,
      organ = organ and organ.name, cycle = cycle, nuclide = nuc.name,
      activity_MBq = act, tia_MBqh = tia, tia_se_MBqh = se, mass_kg = mass,
      dose_gy = d, dose_se_gy = d_se, g = g, bed_curve = curve,
      bed_gy = bed, eqd2_gy = eqd2, line = i,
      u_cal_rel = u_sh.u_cal_rel, u_mass_rel = u_sh.u_mass_rel,
      gy_per_gbq = act and d / (act / 1000) or nil,
      warnings = #warnings > 0 and table.concat(warnings, " | ") or nil }
    ::continue::
  end
  if #order == 0 then
    error(("%s: no row has a mass_kg: no absorbed dose"):format(
      opts.source or "dose"), 0)
  end

  local cycles, summary = {}, {}
  for _, key in ipairs(order) do
    local grp, o = groups[key], groups[key].organ
    table.sort(grp.rows, function(a, b) return a.cycle < b.cycle end)
    local cd, cb, ca, all_act = 0, 0, 0, true
    local cv = 0 -- variance of the cumulative dose (cycles independent)
    for _, c in ipairs(grp.rows) do
      cd = cd + c.dose_gy
      cv = cv and c.dose_se_gy and cv + c.dose_se_gy ^ 2 or nil
      if c.activity_MBq then ca = ca + c.activity_MBq else all_act = false end
      c.cum_dose_gy = cd
      c.cum_dose_se_gy = cv and math.sqrt(cv)
      if o then
        cb = cb + c.bed_gy
        c.cum_bed_gy = cb
        c.cum_eqd2_gy = cb / (1 + 2 / o.ab_gy)
        if o.limit_dose_gy > 0 then
          c.limit_dose_gy, c.margin_dose_gy = o.limit_dose_gy,
            o.limit_dose_gy - cd
        end
        if o.limit_bed_gy > 0 then
          c.limit_bed_gy, c.margin_bed_gy = o.limit_bed_gy,
            o.limit_bed_gy - cb
        end
      end
      cycles[#cycles + 1] = c
    end
    local unc = M.uncertainty(opts, grp.rows, o)
    local last = grp.rows[#grp.rows]
    local s = { patient = grp.patient, region = grp.region,
      organ = o and o.name, cycles = #grp.rows, cum_dose_gy = cd,
      cum_dose_se_gy = last.cum_dose_se_gy, cum_bed_gy = last.cum_bed_gy,
      cum_eqd2_gy = last.cum_eqd2_gy, limit_dose_gy = last.limit_dose_gy,
      margin_dose_gy = last.margin_dose_gy, limit_bed_gy = last.limit_bed_gy,
      margin_bed_gy = last.margin_bed_gy,
      reference = o and M.reference[o.name], unc = unc, organ_t = o,
      rows = grp.rows }
    if unc then
      for _, q in ipairs { "cum_dose", "cum_bed" } do
        for _, f in ipairs { "u", "lo", "hi" } do
          s[q .. "_" .. f .. "_gy"] = last[q .. "_" .. f .. "_gy"]
        end
      end
    end
    if all_act then
      s.activity_GBq = ca / 1000
      s.gy_per_gbq = cd / s.activity_GBq
    end
    local over = (s.margin_dose_gy and s.margin_dose_gy < 0)
      or (s.margin_bed_gy and s.margin_bed_gy < 0)
    s.status = not o and "no BED" or over and "OVER" or "ok"
    -- Remaining budget with the last cycle's curve shape (G) and dose per
    -- activity, split over n equal cycles: each cycle's largest dose d with
    -- n d (1 + G d / (alpha/beta)) <= BED left and n d <= dose left, and
    -- the activity giving it (dose is linear in activity).
    local n = opts.cycles_left or 1
    local dn, binds
    if o then
      local ids = {}
      for _, q in ipairs { "bed", "dose" } do
        if o.limits[q] then ids[#ids + 1] = o.limits[q].id end
      end
      s.limits = #ids > 0 and table.concat(ids, ";") or nil
    end
    if o and o.limit_bed_gy > 0 then
      local left = o.limit_bed_gy - cb
      s.bed_left_gy = left
      dn = at(opts, last.line, rk.radiobio.budget, { bed_so_far_gy =
        left > 0 and o.limit_bed_gy - left / n or cb,
        limit_bed_gy = o.limit_bed_gy, organ = o.name, g = last.g })
      binds = o.limits.bed.id
    end
    if o and o.limit_dose_gy > 0 then
      s.dose_left_gy = o.limit_dose_gy - cd
      local dd = math.max(0, s.dose_left_gy) / n
      if not dn or dd < dn then dn, binds = dd, o.limits.dose.id end
    end
    if dn then
      s.cycles_left, s.next_dose_gy, s.binding_limit = n, dn, binds
      if last.activity_MBq then
        s.next_activity_MBq = dn * last.activity_MBq / last.dose_gy
        if s.next_activity_MBq > M.activity_range_MBq[2] then
          s.warning = ("next-cycle activity %.0f MBq is above any therapy "
            .. "cycle (%g MBq): check the mass and activity units")
            :format(s.next_activity_MBq, M.activity_range_MBq[2])
        end
      end
    end
    summary[#summary + 1] = s
  end
  return cycles, summary, skipped, no_bed
end

-- Standard uncertainty and 95 % interval of each cycle's dose and BED and
-- of the cumulative values (rk.uncert.course): the TIA's own SE per cycle
-- (independent), calibration and mass shared by the cycles (correlated),
-- alpha/beta from opts.u_ab_gy. nil when no row carries any of them.
function M.uncertainty(opts, crow, organ)
  local any, d, u, g = false, {}, {}, {}
  local ucal, umass = 0, 0
  for i, c in ipairs(crow) do
    d[i] = c.dose_gy
    u[i] = c.dose_se_gy and c.dose_se_gy / c.dose_gy or 0
    g[i] = c.g
    any = any or c.dose_se_gy ~= nil or c.u_cal_rel ~= nil
      or c.u_mass_rel ~= nil
    -- one calibration and one mass per patient and region: the largest
    -- given for any cycle
    ucal = math.max(ucal, c.u_cal_rel or 0)
    umass = math.max(umass, c.u_mass_rel or 0)
  end
  if not any then return nil end
  local r = at(opts, crow[#crow].line, rk.uncert.course, { dose_gy = d,
    u_rel = u, g = organ and g or nil, u_cal_rel = ucal, u_mass_rel = umass,
    ab_gy = organ and organ.ab_gy or nil, u_ab_gy = opts.u_ab_gy })
  for i, c in ipairs(crow) do
    for _, q in ipairs { { "dose", r.dose }, { "cum_dose", r.cum_dose_at },
        { "bed", r.bed }, { "cum_bed", r.cum_bed_at } } do
      local x = q[2] and q[2][i]
      if x then
        c[q[1] .. "_u_gy"], c[q[1] .. "_lo_gy"], c[q[1] .. "_hi_gy"] =
          x.u, x.lo, x.hi
      end
    end
  end
  return r
end

-- ------------------------------------------------------------- output

M.cycle_columns = { "patient", "region", "organ", "cycle", "nuclide",
  "activity_MBq", "tia_MBqh", "tia_se_MBqh", "mass_kg", "dose_gy",
  "dose_se_gy", "bed_curve", "g", "bed_gy", "eqd2_gy", "cum_dose_gy",
  "cum_dose_se_gy", "cum_bed_gy", "cum_eqd2_gy", "limit_dose_gy",
  "margin_dose_gy", "limit_bed_gy", "margin_bed_gy", "gy_per_gbq",
  "warnings", "u_cal_rel", "u_mass_rel", "dose_u_gy", "dose_lo_gy",
  "dose_hi_gy", "bed_u_gy", "bed_lo_gy", "bed_hi_gy", "cum_dose_u_gy",
  "cum_dose_lo_gy", "cum_dose_hi_gy", "cum_bed_u_gy", "cum_bed_lo_gy",
  "cum_bed_hi_gy" }
M.summary_columns = { "patient", "region", "organ", "cycles",
  "activity_GBq", "cum_dose_gy", "cum_dose_se_gy", "cum_bed_gy",
  "cum_eqd2_gy", "gy_per_gbq", "limits",
  "limit_dose_gy", "margin_dose_gy", "limit_bed_gy", "margin_bed_gy",
  "status", "bed_left_gy", "dose_left_gy", "cycles_left", "next_dose_gy",
  "next_activity_MBq", "binding_limit", "warning", "reference",
  "cum_dose_u_gy", "cum_dose_lo_gy", "cum_dose_hi_gy", "cum_bed_u_gy",
  "cum_bed_lo_gy", "cum_bed_hi_gy" }

local function fmt(v, f)
  return v == nil and "-" or (f or "%.2f"):format(v)
end

function M.format(summary, opts)
  opts = opts or {}
  local o = { ("%-10s %-12s %-11s %3s %8s %8s %8s %8s %7s %7s %8s %6s %9s")
    :format("patient", "region", "organ", "cyc", "dose Gy", "BED Gy",
      "EQD2 Gy", "Gy/GBq", "lim D", "lim BED", "BED left", "status",
      "next MBq") }
  for _, s in ipairs(summary) do
    o[#o + 1] = ("%-10s %-12s %-11s %3d %8.2f %8s %8s %8s %7s %7s %8s %6s "
      .. "%9s"):format(s.patient, s.region, s.organ or "-", s.cycles,
      s.cum_dose_gy, fmt(s.cum_bed_gy), fmt(s.cum_eqd2_gy),
      fmt(s.gy_per_gbq, "%.3f"),
      fmt(s.limit_dose_gy, "%.0f"), fmt(s.limit_bed_gy, "%.0f"),
      fmt(s.bed_left_gy), s.status, fmt(s.next_activity_MBq, "%.0f"))
  end
  -- Which limits were applied, each with its quantity, value and source.
  local seen, limits = {}, {}
  for _, s in ipairs(summary) do
    for id in (s.limits or ""):gmatch("[^;]+") do
      if not seen[id] then
        seen[id] = true
        limits[#limits + 1] = rk.radiobio.organ_limit(id)
      end
    end
  end
  if #limits > 0 then o[#o + 1] = "limits applied:" end
  for _, l in ipairs(limits) do
    o[#o + 1] = ("  %-11s %-13s %4g Gy  %s: %s; %s"):format(l.organ,
      l.quantity == "bed" and "BED" or "absorbed dose", l.value_gy, l.id,
      l.applies, l.source)
  end
  -- The remaining budget, as BED (or dose) left and as activity.
  local n = opts.cycles_left or 1
  for _, s in ipairs(summary) do
    if s.next_dose_gy then
      local left = s.bed_left_gy and ("BED left %.2f Gy"):format(
        s.bed_left_gy) or ("absorbed dose left %.2f Gy"):format(
        s.dose_left_gy)
      local act = s.next_activity_MBq and (" = %.0f MBq"):format(
        s.next_activity_MBq) or " (no activity_MBq: activity unknown)"
      o[#o + 1] = ("budget %s %s: %s; next %s %.2f Gy%s (%s binds)")
        :format(s.patient, s.region, left, n == 1 and "cycle"
        or ("%d equal cycles of"):format(n), s.next_dose_gy, act,
        s.binding_limit)
    end
  end
  seen = {}
  for _, s in ipairs(summary) do
    if s.reference and not seen[s.organ] then
      seen[s.organ] = true
      o[#o + 1] = ("reference %s: %s"):format(s.organ, s.reference)
    end
  end
  return table.concat(o, "\n")
end

-- Terminal notes: regions without BED (and why), the unit and plausibility
-- warnings of the rows and summaries.
function M.notes(cycles, summary, no_bed)
  local o = {}
  for _, n in ipairs(no_bed or {}) do
    o[#o + 1] = ("no BED for region '%s' (patient %s): %s; absorbed dose "
      .. "only. Map it with --organ %s=CLASS or an 'organ' column")
      :format(n.region, table.concat(n.patients, ", "), n.why, n.region)
  end
  for _, c in ipairs(cycles) do
    for w in (c.warnings or ""):gmatch("[^|]+") do
      w = w:match("^%s*(.-)%s*$")
      if not w:match("is not an organ class") then
        o[#o + 1] = ("patient %s region '%s' cycle %d: %s"):format(
          c.patient, c.region, c.cycle, w)
      end
    end
  end
  for _, s in ipairs(summary) do
    if s.warning then
      o[#o + 1] = ("patient %s region '%s': %s"):format(s.patient,
        s.region, s.warning)
    end
  end
  return o
end

-- Bar chart of cumulative absorbed dose per patient and organ at risk
-- (regions with an absorbed-dose limit; tumours have none and would dwarf
-- the scale), the limit as a second bar. Written to a temporary file, then
-- renamed. Returns the path or nil and a reason.
function M.plot(summary, path)
  local bars = {}
  for _, s in ipairs(summary) do
    if s.limit_dose_gy then bars[#bars + 1] = s end
  end
  if #bars == 0 then return nil, "no region with a dose limit" end
  local term = path:match("%.svg$") and "svg size 900,500"
    or "pngcairo size 900,500"
  -- gnuplot writes in a private folder; rk.plot_files moves the file,
  -- refusing a link or device at `path`
  local f = rk.plot_files { path }
  local tmp = f.tmp[1]
  -- labels are data: each one a gnuplot single-quoted literal, one per
  -- xtic; the numbers go in as a data block
  local values, tics = {}, {}
  for k, s in ipairs(bars) do
    values[k] = { k - 1, s.cum_dose_gy, s.limit_dose_gy }
    tics[k] = ("%s %d"):format(rk.gnuplot_quote(s.patient .. "/" .. s.region),
      k - 1)
  end
  local cmds = ([[
set terminal %s
set output %s
set termoption noenhanced
set title 'Cumulative absorbed dose vs organ limit (organs at risk)'
set ylabel 'absorbed dose (Gy)'
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set xtics rotate by -30 (%s)
set key outside right top
set yrange [0:*]
plot $bars using 2 title 'cumulative dose', '' using 3 title 'dose limit'
set output
]]):format(term, rk.gnuplot_quote(tmp, true), table.concat(tics, ", "))
  local ok, why = rk.gnuplot(cmds, { bars = values })
  if not ok then
    f:abort()
    return nil, why or "gnuplot failed"
  end
  local done, err = pcall(f.commit, f)
  if not done then return nil, tostring(err) end
  return path
end

-- ------------------------------------------------------------- report

-- Names of the uncertainty sources of rk.uncert.course in a report.
M.SOURCE_LABEL = {
  counts = "TIA (its fit's own SE; independent between cycles)",
  calibration = "calibration (shared by the cycles)",
  volume = "mass (volume, density; shared by the cycles)",
  s_value = "S value (shared)",
  alpha_beta = "alpha/beta",
}
M.SOURCE_ORDER = { "counts", "calibration", "volume", "s_value",
  "alpha_beta" }

-- A file-name stem of a patient id: nothing but letters, digits, '-' and
-- '_' (so no '/' or '..' leaves the folder); `taken` makes stems unique.
function M.report_stem(id, taken)
  local stem = tostring(id):gsub("[^%w%-_]", "_")
  if stem == "" then stem = "_" end
  local s, k = stem, 1
  while taken[s] do
    k = k + 1
    s = ("%s_%d"):format(stem, k)
  end
  taken[s] = true
  return s
end

local function pm(v, u, lo, hi)
  if v == nil then return "-" end
  if u == nil then return ("%.3g"):format(v) end
  return ("%.3g +- %.2g (95 %%: %.3g-%.3g)"):format(v, u, lo, hi)
end

-- The Markdown of one patient: its summary rows (one per region).
function M.report_markdown(id, regs, opts, png)
  local out = {}
  local function add(x) out[#out + 1] = x end
  add(("# Dosimetry report: patient %s"):format(id))
  add("")
  add(("From `%s` by radiokin scripts/dose.lua. Absorbed dose by local "
    .. "energy deposition of the nuclide's non-penetrating emissions in the "
    .. "region's mass (MIRD schema); BED by the linear-quadratic model "
    .. "with the Lea-Catcheside factor G of the dose-rate curve. "
    .. "Uncertainties are standard uncertainties by first-order "
    .. "propagation (EANM guidance, Gear et al., EJNMMI 2018;45:2456), "
    .. "intervals at 95 %%."):format(opts.source or "input"))
  add("")
  add("## What was measured")
  add("")
  add("| region | cycle | nuclide | activity MBq | TIA MBq h | TIA SE MBq h "
    .. "| mass kg | dose-rate curve (for G) |")
  add("|---|---|---|---|---|---|---|---|")
  for _, s in ipairs(regs) do
    for _, c in ipairs(s.rows) do
      add(("| %s | %d | %s | %s | %.6g | %s | %.4g | %s |"):format(s.region,
        c.cycle, c.nuclide, c.activity_MBq and ("%.0f"):format(c.activity_MBq)
        or "-", c.tia_MBqh, c.tia_se_MBqh and ("%.4g"):format(c.tia_se_MBqh)
        or "-", c.mass_kg, c.bed_curve or "-"))
    end
  end
  add("")
  add("## Models and parameters")
  add("")
  for _, s in ipairs(regs) do
    local o = s.organ_t
    if o then
      local lims = {}
      for _, q in ipairs { "dose", "bed" } do
        local l = o.limits[q]
        if l then
          lims[#lims + 1] = ("%s %s %g Gy (`%s`; %s)"):format(q == "bed"
            and "BED" or "absorbed dose", "limit", l.value_gy, l.id,
            l.source)
        end
      end
      add(("- %s: organ class %s, alpha/beta %g Gy%s, T_rep %g h; %s"):format(
        s.region, o.name, o.ab_gy, opts.u_ab_gy and (" +- %g"):format(
        opts.u_ab_gy) or "", o.trep_h,
        #lims > 0 and table.concat(lims, "; ") or "no limit"))
    else
      add(("- %s: no organ class: absorbed dose only"):format(s.region))
    end
    local gs = {}
    for _, c in ipairs(s.rows) do
      gs[#gs + 1] = c.g and ("%.4g"):format(c.g) or "-"
    end
    add(("  G per cycle: %s; relative SD of calibration %s, of mass %s")
      :format(table.concat(gs, ", "), s.rows[1].u_cal_rel and ("%.3g")
      :format(s.rows[1].u_cal_rel) or "not given", s.rows[1].u_mass_rel
      and ("%.3g"):format(s.rows[1].u_mass_rel) or "not given"))
  end
  add("")
  add("## Results")
  add("")
  add("| region | cycle | dose Gy | BED Gy | cumulative dose Gy | "
    .. "cumulative BED Gy |")
  add("|---|---|---|---|---|---|")
  for _, s in ipairs(regs) do
    for _, c in ipairs(s.rows) do
      add(("| %s | %d | %s | %s | %s | %s |"):format(s.region, c.cycle,
        pm(c.dose_gy, c.dose_u_gy, c.dose_lo_gy, c.dose_hi_gy),
        pm(c.bed_gy, c.bed_u_gy, c.bed_lo_gy, c.bed_hi_gy),
        pm(c.cum_dose_gy, c.cum_dose_u_gy, c.cum_dose_lo_gy,
           c.cum_dose_hi_gy),
        pm(c.cum_bed_gy, c.cum_bed_u_gy, c.cum_bed_lo_gy, c.cum_bed_hi_gy)))
    end
  end
  add("")
  for _, s in ipairs(regs) do
    local m = {}
    if s.limit_dose_gy then
      m[#m + 1] = ("dose margin %.3g Gy to %g Gy"):format(s.margin_dose_gy,
        s.limit_dose_gy)
    end
    if s.limit_bed_gy then
      m[#m + 1] = ("BED margin %.3g Gy to %g Gy"):format(s.margin_bed_gy,
        s.limit_bed_gy)
    end
    add(("- %s: %s%s"):format(s.region, s.status,
      #m > 0 and ("; " .. table.concat(m, ", ")) or ""))
  end
  add("")
  add("## Uncertainty budget")
  add("")
  local any = false
  for _, s in ipairs(regs) do any = any or s.unc ~= nil end
  if not any then
    add("No uncertainty input was given (tia_se_MBqh, u_cal_rel, "
      .. "u_mass_rel): the results above carry none.")
  else
    add("Share of the variance u^2 of the cumulative value from each "
      .. "source:")
    add("")
    add("| region | source | cumulative dose | cumulative BED |")
    add("|---|---|---|---|")
    for _, s in ipairs(regs) do
      if s.unc then
        local bd = s.unc.cum_dose.budget or {}
        local bb = s.unc.cum_bed and s.unc.cum_bed.budget or {}
        for _, k in ipairs(M.SOURCE_ORDER) do
          if (bd[k] or 0) > 0 or (bb[k] or 0) > 0 then
            add(("| %s | %s | %.1f %% | %s |"):format(s.region,
              M.SOURCE_LABEL[k], 100 * (bd[k] or 0), bb[k] and
              ("%.1f %%"):format(100 * bb[k]) or "-"))
          end
        end
      end
    end
  end
  if png then
    add("")
    add(("![cumulative absorbed dose per cycle](%s)"):format(png))
  end
  return table.concat(out, "\n") .. "\n"
end

-- Cumulative dose per cycle of each region with its 95 % interval as
-- error bars. Region names reach gnuplot only as quoted literals.
function M.report_plot(id, regs, path)
  local f = rk.plot_files { path }
  local blocks, plots = {}, {}
  for k, s in ipairs(regs) do
    local rows = {}
    for _, c in ipairs(s.rows) do
      rows[#rows + 1] = { c.cycle, c.cum_dose_gy, c.cum_dose_lo_gy
        or c.cum_dose_gy, c.cum_dose_hi_gy or c.cum_dose_gy }
    end
    blocks["r" .. k] = rows
    plots[k] = ("$r%d using 1:2:3:4 with yerrorlines title %s"):format(k,
      rk.gnuplot_quote(s.region))
  end
  local cmds = ([[
set terminal pngcairo size 800,500
set output %s
set termoption noenhanced
set title %s
set xlabel 'cycle'
set ylabel 'cumulative absorbed dose (Gy)'
set xtics 1
set offsets 0.3, 0.3, 0, 0
set yrange [0:*]
set key top left
plot %s
set output
]]):format(rk.gnuplot_quote(f.tmp[1], true), rk.gnuplot_quote("patient "
    .. tostring(id) .. ": cumulative dose (95 % interval)"),
    table.concat(plots, ", "))
  local ok, why = rk.gnuplot(cmds, blocks)
  if not ok then
    f:abort()
    return nil, why or "gnuplot failed"
  end
  f:commit()
  return path
end

-- One Markdown (and PNG) per patient in dir; returns the files written
-- and the warnings (plots skipped).
function M.report(summary, dir, opts)
  opts = opts or {}
  rk.mkdir(dir)
  local by, order, taken, files, warn = {}, {}, {}, {}, {}
  for _, s in ipairs(summary) do
    if not by[s.patient] then
      by[s.patient] = {}
      order[#order + 1] = s.patient
    end
    table.insert(by[s.patient], s)
  end
  for _, id in ipairs(order) do
    local stem = M.report_stem(id, taken)
    local png
    if not opts.no_plot then
      local p, why = M.report_plot(id, by[id], dir .. "/" .. stem .. ".png")
      if p then
        png = stem .. ".png"
        files[#files + 1] = p
      else
        warn[#warn + 1] = ("patient %s: no plot (%s)"):format(id, why)
      end
    end
    local md = dir .. "/" .. stem .. ".md"
    rk.write_atomic(md, M.report_markdown(id, by[id], opts, png))
    files[#files + 1] = md
  end
  return files, warn
end

function M.main(args)
  local o = M.parse_args(args)
  if o.help then
    print(M.help())
    return
  end
  -- line[i]: the file line row i starts on (quoted line breaks counted)
  local rows, _, line = rk.csv.read(o.input, { strings = { "patient",
    "region", "organ", "nuclide", "model", "params", "criterion",
    "warnings", "status", "failure" }, missing = { "", "NA" },
    comment = "#" })
  local cycles, summary, skipped, no_bed = M.compute(rows, {
    nuclide = o.nuclide, teff_h = o.teff_h, source = o.input, line = line,
    activity = o.activity, organ_map = o.organ_map, limits = o.limits,
    cycles_left = o.cycles_left, no_unit_check = o.no_unit_check,
    u_cal_rel = o.u_cal_rel, u_mass_rel = o.u_mass_rel, u_ab_gy = o.u_ab_gy })
  for _, msg in ipairs(skipped) do
    io.stderr:write("dose.lua: warning: " .. msg .. "\n")
  end
  for _, msg in ipairs(M.notes(cycles, summary, no_bed)) do
    io.stderr:write("dose.lua: warning: " .. msg .. "\n")
  end
  local sum_path = o.out == "-" and "-"
    or (o.out:gsub("%.[^./]*$", "")) .. "_summary.csv"
  rk.csv.write(o.out, cycles, M.cycle_columns)
  rk.csv.write(sum_path, summary, M.summary_columns)
  if not o.quiet then
    print(M.format(summary, o))
    print("written: " .. o.out .. ", " .. sum_path)
  end
  if o.report then
    local files, warn = M.report(summary, o.report, { source = o.input,
      u_ab_gy = o.u_ab_gy, no_plot = o.no_plot })
    for _, w in ipairs(warn) do
      io.stderr:write("dose.lua: warning: " .. w .. "\n")
    end
    if not o.quiet then print("report: " .. table.concat(files, ", ")) end
  end
  if not o.no_plot then
    local p, why = M.plot(summary, o.plot)
    if p then
      if not o.quiet then print("plot: " .. p) end
    else
      io.stderr:write("dose.lua: warning: no plot (" .. why .. ")\n")
    end
  end
  return cycles, summary, skipped, no_bed
end

-- Run as a script; `require`d (tests) it only returns the module.
if arg and arg[0] and (arg[0]:match("scripts/dose%.lua$")
    or arg[0] == "dose.lua") then
  M.main(arg)
end
return M
