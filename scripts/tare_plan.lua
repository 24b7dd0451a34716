-- tare_plan.lua - plan a TARE treatment (90Y / 166Ho microspheres) from a
-- plan file, print the plan table and write it to CSV (atomically).
--
--   radiokin scripts/tare_plan.lua PLAN.lua|PLAN.csv [--out OUT.csv] [--quiet]
--   radiokin scripts/tare_plan.lua --cohort PATIENTS.csv [--out OUT.csv]
--
-- A Lua plan file returns the table rk.tare.plan takes (or an array of
-- them, each with an `id`). A CSV plan has one row per perfused territory;
-- rows with the same `id` (kept together) form one patient's plan. Columns
-- carry units (full list: engine/tare/tare_cohort.h):
--   id, product, cf (derived|clinical|rounded or Gy kg/GBq), territory,
--   volume_mL | volume_L | mass_kg, lsf (fraction), mode (tumour|normal|
--   max_safe|activity), target_gy, activity_mbq, cap (0/1),
--   tumour_volume_mL + tn (one tumour) or lesion<k>_volume_mL + lesion<k>_tn,
--   liver_volume_mL, lung_mass_kg, compromised, decay_h, residual_fraction.
-- Sizes that contradict their unit (a liver volume_L of 1500) are errors.
-- --cohort prints a summary instead of each plan; the CSV has one row per
-- territory either way. Nothing is written when any plan fails, or when
-- the file holds no patient (a header only).
local rk = require "radiokin"

local M = {}

-- ------------------------------------------------------------ arguments

local USAGE = "usage: radiokin scripts/tare_plan.lua PLAN.lua|PLAN.csv " ..
  "[--out OUT.csv] [--quiet]\n" ..
  "       radiokin scripts/tare_plan.lua --cohort PATIENTS.csv " ..
  "[--out OUT.csv]"

M.HELP = USAGE .. [[


Plans a TARE treatment (90Y or 166Ho microspheres) per patient and
perfused territory: activity to give, doses to tumour, normal liver and
lung, and each against its limit.

Input: a Lua plan file returning the table rk.tare.plan takes (or an array
of them, each with an id), or a CSV with one row per perfused territory
(rows with the same id form one patient's plan). CSV columns and units:
  id                     patient identifier
  product                SIR-Spheres, TheraSphere or QuiremSpheres
  cf                     derived, clinical, rounded, or Gy kg/GBq
  territory              territory name
  volume_mL | volume_L | mass_kg   territory size
  lsf                    lung shunt fraction (0-1)
  mode                   tumour, normal, max_safe or activity
  target_gy              target mean dose, Gy (modes tumour and normal)
  activity_mbq           activity, MBq (mode activity)
  cap                    0/1: cap at the normal-liver and lung limits
  tumour_volume_mL + tn  one tumour (tn: tumour-to-normal uptake ratio),
                         or lesion<k>_volume_mL + lesion<k>_tn
  liver_volume_mL, lung_mass_kg (kg), compromised (0/1), decay_h (h),
  residual_fraction (0-1)
A file with a header and no patient rows is an error.

Output: OUT.csv (default PLAN_plan.csv), one row per territory: id,
product, nuclide, cf_gy_kg_per_gbq, territory, binding, activity_mbq,
mean_gy, normal_gy, tumour_mean_gy, lesion_gy, lung_gy, liver_normal_gy,
limits, margins and status (normal and lung), total_activity_mbq,
vial_at_injection_mbq, order_at_calibration_mbq, all_pass, warnings.
The plans are printed (--cohort: a summary of the cohort instead).

Example
  radiokin scripts/tare_plan.lua tests/data/tare_plan.csv --out plan.csv]]

local function usage(msg)
  error((msg and msg .. "\n" or "") .. USAGE, 0)
end

local OPTIONS = {
  ["--cohort"] = { "cohort_file", "value" },
  ["--out"] = { "out", "value" },
  ["--quiet"] = { "quiet", "flag" },
}

function M.parse_args(args)
  local o, files = rk.options(args, OPTIONS, usage)
  if o.help then return o end
  if o.cohort_file then
    o.cohort = true
    table.insert(files, 1, o.cohort_file)
    o.cohort_file = nil
  end
  if #files > 1 then
    usage("one plan file only (got '" .. files[1] .. "' and '" .. files[2]
      .. "')")
  end
  o.input = files[1]
  if not o.input then usage("no plan file given") end
  if not o.out then
    o.out = (o.input:gsub("%.[^./]*$", "")) .. "_plan.csv"
  end
  return o
end

-- ------------------------------------------------------------ loading

-- Calls f(...); an error is raised again without the position of the
-- call here (the message names file, line or patient itself).
local function call(f, ...)
  local ok, res = pcall(f, ...)
  if not ok then
    error((tostring(res):gsub("^[^\n]-%.lua:%d+: ", "")), 0)
  end
  return res
end

-- A cohort (rk.tare.cohort) from a plan file. CSV columns and their units
-- are read by the engine (engine/tare/tare_cohort.h); a Lua file returns one
-- plan table or an array of them, each with an optional `id`.
function M.load(path)
  if not path:match("%.lua$") then
    local c = call(rk.tare.cohort, path)
    if #c == 0 then
      error(("%s: no patients: the file has a header but no plan rows " ..
        "(one row per perfused territory expected)"):format(path), 0)
    end
    return c
  end
  local chunk, err = loadfile(path, "t", {})
  if not chunk then error(err, 0) end
  local t = chunk()
  if type(t) ~= "table" then
    error(path .. ": a plan file must return a table", 0)
  end
  local c = rk.tare.cohort()
  for i, p in ipairs(t[1] and t or {t}) do
    local id = p.id
    local copy = {}
    for k, v in pairs(p) do if k ~= "id" then copy[k] = v end end
    local ok, msg = pcall(call, c.add, c, copy, id and tostring(id) or nil)
    if not ok then
      error(("%s: plan %d%s: %s"):format(path, i,
            id and (" ('" .. tostring(id) .. "')") or "", msg), 0)
    end
  end
  return c
end

-- Plans everyone and writes the plan table CSV; returns the summary.
function M.write(c, out) return call(c.write, c, out) end

-- The human-readable plan of one patient.
function M.format(id, r)
  local o = {}
  local function add(fmt, ...) o[#o + 1] = fmt:format(...) end
  add("TARE plan, patient %s: %s (%s), CF %.4g Gy kg/GBq", id, r.product,
      r.nuclide, r.cf)
  add("  %-22s %10s %-18s %9s %9s %9s %9s", "territory", "MBq",
      "set by", "mean Gy", "normal Gy", "tumour Gy", "lung Gy")
  for _, t in ipairs(r.territories) do
    add("  %-22s %10.1f %-18s %9.1f %9.1f %9s %9.2f", t.name,
        t.activity_mbq, t.binding, t.mean_gy, t.normal_gy,
        #t.lesions > 0 and ("%.1f"):format(t.tumour_mean_gy) or "-",
        t.lung_gy)
    for n, l in ipairs(t.lesions) do
      add("    lesion %-2d %.4g kg, T/N %.3g: %.1f Gy", n, l.mass_kg, l.tn,
          l.dose_gy)
    end
  end
  add("  administered %.1f MBq; vial at injection %.1f MBq; order %.1f MBq "
      .. "at calibration", r.activity_mbq, r.activity_injection_mbq,
      r.activity_calibration_mbq)
  add("  whole-liver normal dose %.1f Gy over %.3g kg", r.liver_normal_gy,
      r.liver_normal_mass_kg)
  add("  %-40s %9s %9s %9s  %s", "limit", "dose Gy", "limit Gy", "margin",
      "status")
  for _, c in ipairs(r.checks) do
    add("  %-40s %9.2f %9.1f %9.2f  %s", c.what, c.dose_gy, c.limit_gy,
        c.margin_gy, c.status)
  end
  for _, w in ipairs(r.warnings) do add("  warning: %s", w) end
  return table.concat(o, "\n")
end

function M.summary(s)
  return ("cohort: %d patients, %d pass every limit, %d exceed a " ..
          "normal-liver limit, %d exceed the lung limit; mean activity " ..
          "%.1f MBq"):format(s.patients, s.all_pass, s.normal_exceeded,
          s.lung_exceeded, s.mean_activity_mbq)
end

function M.main(args)
  local o = M.parse_args(args)
  if o.help then
    print(M.HELP)
    return
  end
  local c = M.load(o.input)
  local s = M.write(c, o.out)
  if o.cohort then
    print(M.summary(s))
  elseif not o.quiet then
    for i = 1, #c do print(M.format(c:id(i), c:plan(i))) end
  end
  if not o.quiet then print("written: " .. o.out) end
  return c, s
end

-- Run as a script; `require`d (tests) it only returns the module.
if arg and arg[0] and arg[0]:match("tare_plan%.lua$") then
  M.main(arg)
end
return M
