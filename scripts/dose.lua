-- dose.lua - absorbed dose, BED and EQD2 per region and cycle from
-- time-integrated activities, cumulative over cycles, against organ limits;
-- a per-GBq summary comparable to VISION / NETTER-1; a bar chart.
--
--   radiokin scripts/dose.lua TIA.csv [--out OUT.csv] [--plot OUT.png|.svg]
--     [--nuclide Lu-177] [--teff-h H] [--no-plot] [--quiet]
--
-- TIA.csv, one row per patient, region and cycle (units in the names):
--   patient       patient id (text)
--   region        region name; also the organ class when `organ` is absent
--   cycle         cycle number (1, 2, ...)
--   tia_MBqh      time-integrated activity of the region, MBq h
--   mass_kg       region mass, kg
--  optional:
--   organ         organ class for alpha/beta, T_rep and limits (kidney,
--                 kidney_risk, red_marrow, salivary, tumour; see
--                 rk.radiobio.organs())
--   nuclide       default --nuclide, else Lu-177
--   activity_MBq  administered activity of the cycle (for Gy/GBq and the
--                 next-cycle activity)
--   teff_h        effective (clearance) half-life of the region, h: the
--                 dose-rate curve is mono-exponential after instantaneous
--                 uptake (G = lambda / (lambda + mu)); default --teff-h
--   tup_h         uptake half-time, h: then the curve is uptake + clearance
-- Absorbed dose is local energy deposition (DOMAIN.md s.2). BED needs the
-- curve shape: a row without teff_h and no --teff-h is an error.
--
-- Writes OUT.csv (default TIA_dose.csv: one row per patient, region and
-- cycle with per-cycle and cumulative dose, BED, EQD2, each limit and the
-- margin to it) and OUT_summary.csv (one row per patient and region:
-- cumulative values, Gy/GBq, the remaining BED budget as the next cycle's
-- dose and activity, and the VISION / NETTER-1 reference Gy/GBq), both
-- atomically, and a bar chart of cumulative dose vs limits (gnuplot; the
-- chart is skipped with a warning when gnuplot is not installed).
-- Library use: local dose = require "dose"; dose.compute(rows, opts).
local rk = require "radiokin"

local M = {}

-- DOMAIN.md s.5 (seed review): mean absorbed dose per administered
-- activity in the pivotal trials' dosimetry substudies.
M.reference = {
  kidney = "VISION 0.43 +/- 0.16 Gy/GBq (PSMA-617); NETTER-1 0.65 +/- "
    .. "0.29 Gy/GBq (DOTATATE)",
  kidney_risk = "VISION 0.43 +/- 0.16 Gy/GBq; NETTER-1 0.65 +/- 0.29 Gy/GBq",
  salivary = "VISION 0.63 +/- 0.36 Gy/GBq (PSMA-617)",
  red_marrow = "VISION 0.25 +/- 0.15 Gy per 7.4 GBq cycle; NETTER-1 0.22 Gy "
    .. "per cycle; literature 0.02-0.08 Gy/GBq",
}

local function usage(msg)
  error((msg and msg .. "\n" or "") ..
    "usage: radiokin scripts/dose.lua TIA.csv [--out OUT.csv] " ..
    "[--plot OUT.png|OUT.svg] [--nuclide NAME] [--teff-h H] [--no-plot] " ..
    "[--quiet]", 0)
end

function M.parse_args(args)
  local o, i = {}, 1
  while i <= #args do
    local a = args[i]
    local function value()
      i = i + 1
      return args[i] or usage(a .. " needs a value")
    end
    if a == "--out" then o.out = value()
    elseif a == "--plot" then o.plot = value()
    elseif a == "--nuclide" then o.nuclide = value()
    elseif a == "--teff-h" then
      local v = value()
      o.teff_h = rk.csv.parse_number(v) or usage("--teff-h needs a number "
        .. "of hours (got '" .. v .. "')")
    elseif a == "--no-plot" then o.no_plot = true
    elseif a == "--quiet" then o.quiet = true
    elseif a:sub(1, 2) == "--" then usage("unknown option '" .. a .. "'")
    elseif o.input then usage("one TIA file only")
    else o.input = a end
    i = i + 1
  end
  if not o.input then usage("no TIA file given") end
  local stem = o.input:gsub("%.[^./]*$", "")
  o.out = o.out or stem .. "_dose.csv"
  o.plot = o.plot or (o.out:gsub("%.[^./]*$", "")) .. ".png"
  return o
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

-- rows: array of {patient=, region=, cycle=, tia_MBqh=, mass_kg= [, organ=,
-- nuclide=, activity_MBq=, teff_h=, tup_h=]} (a Lua table of TIAs and
-- masses, or rk.csv.read rows). opts: nuclide, teff_h, source (file name
-- for messages), line (row -> line number). Returns cycles (one table per
-- input row, in patient / region / cycle order) and summary (one per
-- patient and region).
function M.compute(rows, opts)
  opts = opts or {}
  if type(rows) ~= "table" or #rows == 0 then
    error("dose: no TIA rows given", 2)
  end
  local groups, order = {}, {}
  for i, row in ipairs(rows) do
    local patient = tostring(need(opts, i, row, "patient"))
    local region = tostring(need(opts, i, row, "region"))
    local cycle = need(opts, i, row, "cycle", "number")
    if cycle < 1 or math.floor(cycle) ~= cycle then
      fail(opts, i, ("cycle = %s, expected 1, 2, ..."):format(cycle))
    end
    local tia = need(opts, i, row, "tia_MBqh", "number")
    local mass = need(opts, i, row, "mass_kg", "number")
    local organ_name = row.organ or region
    if row.organ == nil and not pcall(rk.radiobio.organ, region) then
      fail(opts, i, ("region '%s' is not an organ class; give it in an "
        .. "'organ' column (known: %s)"):format(region,
        table.concat(rk.radiobio.organs(), ", ")))
    end
    local organ = at(opts, i, rk.radiobio.organ, organ_name)
    local nuc = rk.nuclide(row.nuclide or opts.nuclide or "Lu-177")
    local d = at(opts, i, rk.dosimetry.led, { nuclide = nuc.name,
      tia_MBqh = tia, mass_kg = mass, region = region })
    local teff = row.teff_h or opts.teff_h
    if teff == nil then
      fail(opts, i, ("region '%s': teff_h is needed for BED (add a teff_h "
        .. "column or pass --teff-h)"):format(region))
    end
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
    local g
    if row.tup_h ~= nil then
      g = at(opts, i, rk.radiobio.g_uptake, math.log(2) / teff,
        math.log(2) / row.tup_h, organ.trep_h)
    else
      g = at(opts, i, rk.radiobio.g_mono, math.log(2) / teff, organ.trep_h)
    end
    local bed, eqd2 = at(opts, i, rk.radiobio.bed, { dose_gy = d, g = g,
      organ = organ_name, where = region })
    local act = row.activity_MBq
    if act ~= nil and (type(act) ~= "number" or act <= 0) then
      fail(opts, i, ("activity_MBq = %s, expected > 0"):format(tostring(act)))
    end
    local key = patient .. "\0" .. region
    if not groups[key] then
      groups[key] = { patient = patient, region = region, organ = organ,
        rows = {} }
      order[#order + 1] = key
    end
    local grp = groups[key]
    if grp.organ.name ~= organ.name then
      fail(opts, i, ("patient %s region '%s': organ '%s' differs from an "
        .. "earlier cycle's '%s'"):format(patient, region, organ.name,
        grp.organ.name))
    end
    for _, c in ipairs(grp.rows) do
      if c.cycle == cycle then
        fail(opts, i, ("patient %s region '%s' cycle %d appears twice")
          :format(patient, region, cycle))
      end
    end
    grp.rows[#grp.rows + 1] = { patient = patient, region = region,
      organ = organ.name, cycle = cycle, nuclide = nuc.name,
      activity_MBq = act, tia_MBqh = tia, mass_kg = mass, dose_gy = d,
      g = g, bed_gy = bed, eqd2_gy = eqd2, line = i,
      gy_per_gbq = act and d / (act / 1000) or nil }
  end

  local cycles, summary = {}, {}
  for _, key in ipairs(order) do
    local grp, o = groups[key], groups[key].organ
    table.sort(grp.rows, function(a, b) return a.cycle < b.cycle end)
    local cd, cb, ca, all_act = 0, 0, 0, true
    for _, c in ipairs(grp.rows) do
      cd, cb = cd + c.dose_gy, cb + c.bed_gy
      if c.activity_MBq then ca = ca + c.activity_MBq else all_act = false end
      c.cum_dose_gy, c.cum_bed_gy = cd, cb
      c.cum_eqd2_gy = cb / (1 + 2 / o.ab_gy)
      if o.limit_dose_gy > 0 then
        c.limit_dose_gy, c.margin_dose_gy = o.limit_dose_gy,
          o.limit_dose_gy - cd
      end
      if o.limit_bed_gy > 0 then
        c.limit_bed_gy, c.margin_bed_gy = o.limit_bed_gy, o.limit_bed_gy - cb
      end
      cycles[#cycles + 1] = c
    end
    local last = grp.rows[#grp.rows]
    local s = { patient = grp.patient, region = grp.region, organ = o.name,
      cycles = #grp.rows, cum_dose_gy = cd, cum_bed_gy = cb,
      cum_eqd2_gy = last.cum_eqd2_gy, limit_dose_gy = last.limit_dose_gy,
      margin_dose_gy = last.margin_dose_gy, limit_bed_gy = last.limit_bed_gy,
      margin_bed_gy = last.margin_bed_gy,
      reference = M.reference[o.name] }
    if all_act then
      s.activity_GBq = ca / 1000
      s.gy_per_gbq = cd / s.activity_GBq
    end
    local over = (s.margin_dose_gy and s.margin_dose_gy < 0)
      or (s.margin_bed_gy and s.margin_bed_gy < 0)
    s.status = over and "OVER" or "ok"
    -- Remaining budget with the last cycle's curve shape (G) and dose per
    -- activity: the next cycle's largest dose under every limit of the
    -- organ, and the activity giving it (dose is linear in activity).
    local dn
    if o.limit_bed_gy > 0 then
      dn = at(opts, last.line, rk.radiobio.budget,
        { bed_so_far_gy = cb, organ = o.name, g = last.g })
    end
    if o.limit_dose_gy > 0 then
      dn = math.min(dn or math.huge, math.max(0, o.limit_dose_gy - cd))
    end
    if dn then
      s.next_dose_gy = dn
      if last.activity_MBq then
        s.next_activity_MBq = dn * last.activity_MBq / last.dose_gy
      end
    end
    summary[#summary + 1] = s
  end
  return cycles, summary
end

-- ------------------------------------------------------------- output

M.cycle_columns = { "patient", "region", "organ", "cycle", "nuclide",
  "activity_MBq", "tia_MBqh", "mass_kg", "dose_gy", "g", "bed_gy",
  "eqd2_gy", "cum_dose_gy", "cum_bed_gy", "cum_eqd2_gy", "limit_dose_gy",
  "margin_dose_gy", "limit_bed_gy", "margin_bed_gy", "gy_per_gbq" }
M.summary_columns = { "patient", "region", "organ", "cycles",
  "activity_GBq", "cum_dose_gy", "cum_bed_gy", "cum_eqd2_gy", "gy_per_gbq",
  "limit_dose_gy", "margin_dose_gy", "limit_bed_gy", "margin_bed_gy",
  "status", "next_dose_gy", "next_activity_MBq", "reference" }

local function fmt(v, f)
  return v == nil and "-" or (f or "%.2f"):format(v)
end

function M.format(summary)
  local o = { ("%-10s %-12s %-11s %3s %8s %8s %8s %8s %7s %7s %6s %9s")
    :format("patient", "region", "organ", "cyc", "dose Gy", "BED Gy",
      "EQD2 Gy", "Gy/GBq", "lim D", "lim BED", "status", "next MBq") }
  for _, s in ipairs(summary) do
    o[#o + 1] = ("%-10s %-12s %-11s %3d %8.2f %8.2f %8.2f %8s %7s %7s %6s "
      .. "%9s"):format(s.patient, s.region, s.organ, s.cycles,
      s.cum_dose_gy, s.cum_bed_gy, s.cum_eqd2_gy, fmt(s.gy_per_gbq, "%.3f"),
      fmt(s.limit_dose_gy, "%.0f"), fmt(s.limit_bed_gy, "%.0f"), s.status,
      fmt(s.next_activity_MBq, "%.0f"))
  end
  local seen = {}
  for _, s in ipairs(summary) do
    if s.reference and not seen[s.organ] then
      seen[s.organ] = true
      o[#o + 1] = ("reference %s: %s"):format(s.organ, s.reference)
    end
  end
  return table.concat(o, "\n")
end

local function have_gnuplot()
  local ok = os.execute("command -v gnuplot >/dev/null 2>&1")
  return ok == true or ok == 0
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
  if not have_gnuplot() then return nil, "gnuplot not found" end
  local term = path:match("%.svg$") and "svg size 900,500"
    or "pngcairo size 900,500"
  local data, script = os.tmpname(), os.tmpname()
  local tmp = path .. ".tmp"
  local f = assert(io.open(data, "w"))
  for _, s in ipairs(bars) do
    f:write(('"%s/%s" %.6g %.6g\n'):format(s.patient, s.region,
      s.cum_dose_gy, s.limit_dose_gy))
  end
  f:close()
  f = assert(io.open(script, "w"))
  f:write(([[
set terminal %s
set output '%s'
set termoption noenhanced
set title 'Cumulative absorbed dose vs organ limit (organs at risk)'
set ylabel 'absorbed dose (Gy)'
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set xtics rotate by -30
set key outside right top
set yrange [0:*]
plot '%s' using 2:xtic(1) title 'cumulative dose', '' using 3 title 'dose limit'
]]):format(term, tmp, data))
  f:close()
  local ok = os.execute("gnuplot '" .. script .. "' 2>/dev/null")
  os.remove(data)
  os.remove(script)
  if not (ok == true or ok == 0) then
    os.remove(tmp)
    return nil, "gnuplot failed"
  end
  local renamed, why = os.rename(tmp, path)
  if not renamed then
    os.remove(tmp)
    return nil, why
  end
  return path
end

function M.main(args)
  local o = M.parse_args(args)
  local rows = rk.csv.read(o.input, { strings = { "patient", "region",
    "organ", "nuclide" }, missing = { "", "NA" }, comment = "#" })
  -- rk.csv.read keeps no line numbers: count data lines the same way.
  local line, n = {}, 0
  local f = assert(io.open(o.input, "rb"))
  local ln, header = 0, false
  for l in f:lines() do
    ln = ln + 1
    if l:match("%S") and l:sub(1, 1) ~= "#" then
      if header then n = n + 1; line[n] = ln else header = true end
    end
  end
  f:close()
  local cycles, summary = M.compute(rows, { nuclide = o.nuclide,
    teff_h = o.teff_h, source = o.input, line = line })
  local sum_path = (o.out:gsub("%.[^./]*$", "")) .. "_summary.csv"
  rk.csv.write(o.out, cycles, M.cycle_columns)
  rk.csv.write(sum_path, summary, M.summary_columns)
  if not o.quiet then
    print(M.format(summary))
    print("written: " .. o.out .. ", " .. sum_path)
  end
  if not o.no_plot then
    local p, why = M.plot(summary, o.plot)
    if p then
      if not o.quiet then print("plot: " .. p) end
    else
      io.stderr:write("dose.lua: warning: no plot (" .. why .. ")\n")
    end
  end
  return cycles, summary
end

-- Run as a script; `require`d (tests) it only returns the module.
if arg and arg[0] and (arg[0]:match("scripts/dose%.lua$")
    or arg[0] == "dose.lua") then
  M.main(arg)
end
return M
