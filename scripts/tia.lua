-- tia.lua - time-integrated activity of every patient / region of a long
-- CSV of imaging data: curve fits with AICc model selection (rk.tac.fit),
-- TIA with SE and 95 % interval, written to tia.csv (atomically), and with
-- --plot one gnuplot PNG + SVG per patient (points, every candidate's
-- curve, the chosen one highlighted, TIA in the legend).
--
--   radiokin scripts/tia.lua data.csv [--out DIR] [--plot]
--            [--nuclide Lu-177] [--cv 0.1|estimate] [--criterion aicc|aic]
--            [--average] [--keep-going] [--quiet]
--
-- Columns: patient, region, t_h, activity_MBq [, sd_MBq] [, mass_kg]
-- [, nuclide]. Without sd_MBq the error is proportional with a known
-- coefficient of variation, --cv (default 0.10, a typical quantitative
-- SPECT/CT uncertainty), so that AICc is defined for every candidate with
-- 4 points; `--cv estimate` estimates the scale from the residuals instead
-- (one more parameter: with 4 points AICc then falls back to AIC). Errors
-- name file:line and the column. A region whose fit fails (no finite TIA)
-- is marked status=failed with the reason in tia.csv and on stderr, and
-- the script exits with status 1 unless --keep-going.
-- Uncertainty (first order, after the EANM guidance on uncertainty
-- analysis, Gear et al. EJNMMI 2018;45:2456): the fit's SE carries the
-- per-point (counting) noise; the camera calibration factor is one for
-- every time point, so its relative SD u_cal (--u-cal or a u_cal_rel
-- column) scales the whole curve and adds (TIA u_cal)^2 to the variance,
-- not as independent noise per point: tia_u_MBqh = sqrt(SE^2 + (TIA
-- u_cal)^2), 95 % interval tia_u_lo_MBqh / tia_u_hi_MBqh = TIA -+ 1.96 u
-- (rk.uncert.course), and the variance shares share_fit, share_calibration.
local rk = require "radiokin"

local M = {}

local USAGE = "usage: radiokin scripts/tia.lua data.csv [--out DIR] " ..
  "[--plot] [--nuclide NAME] [--cv X|estimate] [--criterion aicc|aic] " ..
  "[--average] [--u-cal REL] [--keep-going] [--quiet]"

M.HELP = USAGE .. [[


Time-integrated activity (TIA) of every patient and region of a CSV of
imaging time points: mono-, bi-exponential, uptake-washout and
tri-exponential fits ranked by AICc (or AIC), the trapezoid as fallback.

Input columns (one row per image and region)
  patient        patient identifier (text)
  region         region name (text)
  t_h            time after administration, h (>= 0)
  activity_MBq   activity in the region, MBq (>= 0)
  sd_MBq         optional: standard deviation of each activity, MBq (> 0)
  mass_kg        optional: region mass, kg (carried to the output)
  nuclide        optional: nuclide of the row (default --nuclide)
  u_cal_rel      optional: relative standard uncertainty of the camera
                 calibration factor (default --u-cal); the same on every
                 row of a patient's region

Options
  --out DIR            output folder (default .), made if missing
  --plot               one PNG and SVG per patient (gnuplot)
  --nuclide NAME       nuclide for rows without one (default Lu-177)
  --cv X|estimate      proportional error CV without sd_MBq (default 0.10)
  --criterion aicc|aic model selection criterion (default aicc)
  --average            model-average the TIA over the candidates
  --u-cal REL          relative standard uncertainty of the calibration
                       factor (0 <= REL < 1, default 0): shared by every
                       time point, so it scales the TIA (EANM guidance,
                       Gear et al. EJNMMI 2018;45:2456)
  --keep-going         exit 0 even when some regions fail (still marked)
  --quiet              print nothing but errors and warnings

Output: DIR/tia.csv, one row per patient and region: patient, region,
status (ok|failed), mass_kg, n_points, nuclide, model, criterion, tia_MBqh,
tia_se_MBqh, tia_lo_MBqh, tia_hi_MBqh (95 %), r2, tail_share, params,
aicc_/weight_/tia_<model>_MBqh/flags_<model> per candidate (flags:
held_at_physical, not_eligible, not_tried, aicc_undefined, no_se,
degenerate, ... separated by ';'), tia_trapezoid_MBqh,
warnings, failure (why the region failed), u_cal_rel, tia_u_MBqh
(standard uncertainty: fit SE and calibration), tia_u_lo_MBqh,
tia_u_hi_MBqh (its 95 % interval), share_fit, share_calibration (shares of
the variance; blank without a fit SE); with --plot
DIR/tia_<patient>.png and .svg.

Example
  radiokin scripts/tia.lua tests/data/tia_small.csv --out tia_out --plot]]

local function usage(msg)
  error((msg and msg .. "\n" or "") .. USAGE, 0)
end

local OPTIONS = {
  ["--out"] = { "out", "value" },
  ["--keep-going"] = { "keep_going", "flag" },
  ["--plot"] = { "plot", "flag" },
  ["--nuclide"] = { "nuclide", "value" },
  -- a number, or nil for 'estimate' (after: o.cv = nil is then stored)
  ["--cv"] = { "cv", function(v, name)
    if v == "estimate" then return nil end
    local x = tonumber(v)
    if not x or x <= 0 then usage(name .. " needs a number > 0 or 'estimate'") end
    return x
  end },
  ["--criterion"] = { "criterion", "choice", { "aicc", "aic" } },
  ["--average"] = { "average", "flag" },
  ["--u-cal"] = { "u_cal", function(v, name)
    local x = tonumber(v)
    if not (x and x >= 0 and x < 1) then
      usage(("%s needs a relative SD in [0, 1) (got '%s')"):format(name, v))
    end
    return x
  end },
  ["--quiet"] = { "quiet", "flag" },
}

function M.parse_args(args)
  local o, files = rk.options(args, OPTIONS, usage,
    { out = ".", nuclide = "Lu-177", criterion = "aicc", cv = 0.10 })
  if o.help then return o end
  if #files > 1 then usage("one data file only") end
  o.input = files[1]
  if not o.input then usage("no data file given") end
  return o
end

-- Line numbers of the data rows: rk.csv.read skips blank lines, so row r
-- is the r-th non-blank line after the header (no multi-line fields here).
local function row_lines(path)
  local lines, n, f = {}, 0, assert(io.open(path, "rb"))
  local header_seen = false
  for l in f:lines() do
    n = n + 1
    if l:find("%S") then
      if header_seen then lines[#lines + 1] = n else header_seen = true end
    end
  end
  f:close()
  return lines
end

-- Reads and checks the file; returns regions in file order:
-- { patient, region, t = {}, a = {}, sd = {} | nil, mass_kg, lines = {} }.
function M.load(path, o)
  local rows, header = rk.csv.read(path, {
    strings = { "patient", "region" }, missing = { "", "NA", "." } })
  local col = {}
  for i, h in ipairs(header) do col[h] = i end
  for _, need in ipairs({ "patient", "region", "t_h", "activity_MBq" }) do
    if not col[need] then
      error(("%s:1: missing column '%s' (expected patient, region, t_h, " ..
             "activity_MBq[, sd_MBq][, mass_kg])"):format(path, need), 0)
    end
  end
  local lines = row_lines(path)
  local function fail(r, name, msg)
    error(("%s:%d: column '%s' (%d): %s"):format(path, lines[r] or r + 1,
      name, col[name] or 0, msg), 0)
  end
  local regions, by_key = {}, {}
  for r, row in ipairs(rows) do
    for _, name in ipairs({ "patient", "region", "t_h", "activity_MBq" }) do
      if row[name] == nil then fail(r, name, "value missing") end
    end
    for _, name in ipairs({ "t_h", "activity_MBq", "sd_MBq", "mass_kg",
                            "u_cal_rel" }) do
      local v = row[name]
      if v ~= nil and type(v) ~= "number" then
        fail(r, name, ("'%s' is not a number"):format(v))
      end
    end
    if row.t_h < 0 then
      fail(r, "t_h", ("negative time %g h (hours after administration)")
        :format(row.t_h))
    end
    if row.activity_MBq < 0 then
      fail(r, "activity_MBq", ("negative activity %g MBq"):format(
        row.activity_MBq))
    end
    if col.sd_MBq and not (row.sd_MBq and row.sd_MBq > 0) then
      fail(r, "sd_MBq", "expected an sd > 0 on every row")
    end
    if row.u_cal_rel and not (row.u_cal_rel >= 0 and row.u_cal_rel < 1) then
      fail(r, "u_cal_rel", ("relative SD %g, expected in [0, 1) (e.g. " ..
        "0.05, not 5 %%)"):format(row.u_cal_rel))
    end
    local key = row.patient .. "\0" .. row.region
    local g = by_key[key]
    if not g then
      g = { patient = row.patient, region = row.region, t = {}, a = {},
            sd = col.sd_MBq and {} or nil, lines = {},
            nuclide = row.nuclide or o.nuclide }
      by_key[key] = g
      regions[#regions + 1] = g
    end
    for k, t in ipairs(g.t) do
      if t == row.t_h then
        fail(r, "t_h", ("duplicate time %g h for patient %s region %s " ..
          "(also on line %d)"):format(t, row.patient, row.region,
          g.lines[k]))
      end
    end
    if row.u_cal_rel then
      if g.u_cal_rel and g.u_cal_rel ~= row.u_cal_rel then
        fail(r, "u_cal_rel", ("%g differs from %g given before for this " ..
          "region (one calibration per patient)"):format(row.u_cal_rel,
          g.u_cal_rel))
      end
      g.u_cal_rel = row.u_cal_rel
    end
    if row.mass_kg then
      if g.mass_kg and g.mass_kg ~= row.mass_kg then
        fail(r, "mass_kg", ("%g kg differs from %g kg given before for " ..
          "this region"):format(row.mass_kg, g.mass_kg))
      end
      g.mass_kg = row.mass_kg
    end
    local k = #g.t + 1
    g.t[k], g.a[k], g.lines[k] = row.t_h, row.activity_MBq, lines[r]
    if g.sd then g.sd[k] = row.sd_MBq end
  end
  if #regions == 0 then error(("%s: no data rows"):format(path), 0) end
  -- the engine wants points in time order
  for _, g in ipairs(regions) do
    local idx = {}
    for k = 1, #g.t do idx[k] = k end
    table.sort(idx, function(x, y) return g.t[x] < g.t[y] end)
    local t, a, sd, ln = {}, {}, g.sd and {} or nil, {}
    for k, j in ipairs(idx) do
      t[k], a[k], ln[k] = g.t[j], g.a[j], g.lines[j]
      if sd then sd[k] = g.sd[j] end
    end
    g.t, g.a, g.sd, g.lines = t, a, sd, ln
  end
  return regions
end

-- Fits one region. Returns the result, or nil and why it failed (the
-- engine's message, or no finite TIA), prefixed with file, lines and
-- region.
function M.fit(g, o, path)
  local where = ("%s:%d-%d: patient %s region %s"):format(path, g.lines[1],
    g.lines[#g.lines], g.patient, g.region)
  local ok, r = pcall(rk.tac.fit, {
    t = g.t, a = g.a, sd = g.sd, nuclide = g.nuclide, cv = o.cv,
    criterion = o.criterion, average = o.average })
  if not ok then
    -- the Lua position of the call says nothing to the user: drop it
    local msg = tostring(r):gsub("^[^\n]-%.lua:%d+: ", "")
    return nil, where .. ": " .. msg
  end
  local v = r.tia
  if not (type(v) == "number" and v == v and v > -math.huge
          and v < math.huge) then
    return nil, ("%s: no finite TIA (%s)"):format(where,
      #r.warnings > 0 and table.concat(r.warnings, "; ")
        or "the integral is not a finite number"), r
  end
  return r
end

local MODELS = { "mono", "bi", "upwash", "tri" }

M.UNC_COLUMNS = { "u_cal_rel", "tia_u_MBqh", "tia_u_lo_MBqh",
                  "tia_u_hi_MBqh", "share_fit", "share_calibration" }

-- The combined standard uncertainty of the TIA and its 95 % interval
-- (rk.uncert.course of one "cycle" whose value is the TIA: the fit's SE
-- as its own term, the calibration shared) into row; nothing without a
-- finite fit SE (the trapezoid has none: a calibration term alone would
-- understate u).
function M.uncertainty(row, tia, se, u_cal)
  -- written only when given, so dose.lua reads no calibration term the
  -- user never stated
  row.u_cal_rel = u_cal
  u_cal = u_cal or 0
  if not (se and se == se and se >= 0 and se < math.huge and tia > 0) then
    return
  end
  local q = rk.uncert.course { dose_gy = { tia }, u_rel = { se / tia },
                               u_cal_rel = u_cal }.dose[1]
  row.tia_u_MBqh, row.tia_u_lo_MBqh, row.tia_u_hi_MBqh = q.u, q.lo, q.hi
  local b = q.budget or {}
  row.share_fit = q.u > 0 and (b.counts or 0) or nil
  row.share_calibration = q.u > 0 and (b.calibration or 0) or nil
end

function M.columns()
  local c = { "patient", "region", "status", "mass_kg", "n_points", "nuclide", "model",
              "criterion", "tia_MBqh", "tia_se_MBqh", "tia_lo_MBqh",
              "tia_hi_MBqh", "r2", "tail_share", "params" }
  for _, m in ipairs(MODELS) do
    c[#c + 1] = "aicc_" .. m
    c[#c + 1] = "weight_" .. m
    c[#c + 1] = "tia_" .. m .. "_MBqh"
    c[#c + 1] = "flags_" .. m
  end
  c[#c + 1] = "tia_trapezoid_MBqh"
  c[#c + 1] = "warnings"
  c[#c + 1] = "failure"
  for _, k in ipairs(M.UNC_COLUMNS) do c[#c + 1] = k end
  return c
end

-- The tia.csv row of region g: fit result r, or the failure `why` (r
-- may then be a result without a finite TIA, or nil).
function M.row(g, r, why, o)
  o = o or {}
  if why then
    return { patient = g.patient, region = g.region, status = "failed",
             mass_kg = g.mass_kg, n_points = #g.t, nuclide = g.nuclide,
             criterion = r and r.criterion,
             warnings = r and table.concat(r.warnings, " | ") or nil,
             failure = why }
  end
  local ch = r.candidates[r.chosen]
  local ps = {}
  if ch.params then
    local names = { mono = { "A", "l" }, bi = { "A1", "l1", "A2", "l2" },
                    upwash = { "A", "lw", "lu" },
                    tri = { "A1", "l1", "A2", "l2", "l3" } }
    for _, nm in ipairs(names[r.chosen] or {}) do
      ps[#ps + 1] = ("%s=%.10g"):format(nm, ch.params[nm])
    end
  end
  local row = { patient = g.patient, region = g.region, status = "ok",
                mass_kg = g.mass_kg,
                n_points = #g.t, nuclide = g.nuclide, model = r.chosen,
                criterion = r.criterion, tia_MBqh = r.tia,
                tia_se_MBqh = r.tia_se, tia_lo_MBqh = r.tia_lo,
                tia_hi_MBqh = r.tia_hi, r2 = ch.r2,
                tail_share = ch.tail_share, params = table.concat(ps, ";"),
                warnings = table.concat(r.warnings, " | "),
                tia_trapezoid_MBqh = r.candidates.trapezoid.tia }
  for _, m in ipairs(MODELS) do
    local c = r.candidates[m]
    row["aicc_" .. m] = c.aicc
    row["weight_" .. m] = c.weight
    row["tia_" .. m .. "_MBqh"] = c.status == "ok" and c.tia or nil
    row["flags_" .. m] = c.flags and #c.flags > 0
      and table.concat(c.flags, ";") or nil
  end
  M.uncertainty(row, r.tia, r.tia_se, g.u_cal_rel or o.u_cal)
  return row
end

-- ------------------------------------------------------------ plots

-- %.17g: the curve drawn is the fitted one, digit for digit
local FORMULA = {
  mono = "%.17g*exp(-%.17g*x)",
  bi = "%.17g*exp(-%.17g*x)+%.17g*exp(-%.17g*x)",
  upwash = "%.17g*(exp(-%.17g*x)-exp(-%.17g*(x)))",
  tri = "%.17g*exp(-%.17g*x)+%.17g*exp(-%.17g*x)-(%.17g+%.17g)*exp(-%.17g*x)",
}

local function formula(m, p)
  if m == "upwash" then return FORMULA.upwash:format(p[1], p[2], p[3]) end
  if m == "tri" then
    return FORMULA.tri:format(p[1], p[2], p[3], p[4], p[1], p[3], p[5])
  end
  return FORMULA[m]:format(table.unpack(p))
end

local Q = rk.gnuplot_quote

-- The gnuplot commands of one patient (one panel per region) and their
-- data blocks. Names from the data reach gnuplot only as quoted literals
-- (rk.gnuplot_quote) and the points as data blocks, so no patient or
-- region name can run a gnuplot or shell command.
function M.plot_script(patient, items, base)
  local out, blocks = {}, {}
  local function add(fmt, ...) out[#out + 1] = fmt:format(...) end
  for k, it in ipairs(items) do
    local rows = {}
    for j = 1, #it.g.t do rows[j] = { it.g.t[j], it.g.a[j] } end
    blocks["d" .. k] = rows
    -- the chosen curve's 95 % pointwise band (delta method), when the fit
    -- has a covariance
    local c = it.r.candidates[it.r.chosen]
    if c and c.cov then
      local tmax, ts = it.g.t[#it.g.t] * 1.5, {}
      for j = 0, 200 do ts[#ts + 1] = tmax * j / 200 end
      local ok, lo, hi = pcall(rk.tac.band, c, ts, 0.95)
      if ok then
        local band = {}
        for j = 1, #ts do band[j] = { ts[j], math.max(lo[j], 0), hi[j] } end
        blocks["b" .. k] = band
      end
    end
  end
  local body = {}
  local function panel(k, it)
    local g, r = it.g, it.r
    local tmax = g.t[#g.t] * 1.5
    body[#body + 1] = ("set title %s noenhanced"):format(
      Q(("patient %s, %s"):format(patient, g.region)))
    body[#body + 1] = ("set xrange [0:%.17g]"):format(tmax)
    local plots = {}
    if blocks["b" .. k] then
      plots[1] = ("$b%d using 1:2:3 with filledcurves fs transparent solid "
        .. "0.2 noborder lc rgb '#4060c0' title '95 %% band (chosen)'")
        :format(k)
    end
    plots[#plots + 1] = ("$d%d with points pt 7 ps 1.2 lc rgb 'black' " ..
      "title 'data'"):format(k)
    for _, m in ipairs(MODELS) do
      local c = r.candidates[m]
      local finite = c.p ~= nil
      for _, v in ipairs(c.p or {}) do
        finite = finite and v == v and v ~= math.huge and v ~= -math.huge
      end
      if c.status == "ok" and finite then
        local chosen = m == r.chosen
        plots[#plots + 1] = ("%s with lines lw %d dt %d title %s " ..
          "noenhanced"):format(formula(m, c.p), chosen and 3 or 1,
          chosen and 1 or 2, Q(("%s%s: TIA %.4g MBq h%s"):format(
            chosen and "* " or "", m, c.tia,
            c.weight and (" (w %.2f)"):format(c.weight) or "")))
      end
    end
    if r.chosen == "trapezoid" then
      plots[#plots + 1] = ("$d%d with lines lw 3 title %s"):format(k,
        Q(("* trapezoid: TIA %.4g MBq h"):format(r.tia)))
    end
    body[#body + 1] = "plot " .. table.concat(plots, ", \\\n  ")
  end
  local function all(term, file)
    add("set terminal %s", term)
    add("set output %s", Q(file, true))
    add("set multiplot layout %d,1", #items)
    add("set xlabel 't (h)'")
    add("set ylabel 'activity (MBq)'")
    add("set key top right font ',8'")
    add("set samples 400")
    for k, it in ipairs(items) do
      body = {}
      panel(k, it)
      for _, l in ipairs(body) do out[#out + 1] = l end
    end
    add("unset multiplot")
    add("set output")
  end
  all(("pngcairo size 900,%d"):format(360 * #items), base .. ".png")
  all(("svg size 900,%d"):format(360 * #items), base .. ".svg")
  return table.concat(out, "\n") .. "\n", blocks
end

local function safe(s) return (tostring(s):gsub("[^%w%-_.]", "_")) end

-- Writes DIR/tia_<patient>.png and .svg (gnuplot writes them in a
-- private folder; rk.plot_files moves them, refusing a non-regular file).
-- `used` holds the file stems already written: two patients whose names
-- differ only in characters safe() replaces get _2, _3, ...
function M.plot(patient, items, dir, used)
  local stem = "tia_" .. safe(patient)
  if used then
    local k, s = 1, stem
    while used[s] do k = k + 1; s = ("%s_%d"):format(stem, k) end
    stem = s
    used[stem] = true
  end
  local base = dir .. "/" .. stem
  local f = rk.plot_files { base .. ".png", base .. ".svg" }
  local ok, why = rk.gnuplot(M.plot_script(patient, items,
    f.dir .. "/" .. stem))
  if not ok then
    f:abort()
    error(("plots of patient %s: %s"):format(patient, why), 0)
  end
  f:commit()
  return base .. ".png", base .. ".svg"
end

-- ------------------------------------------------------------ main

function M.main(args)
  local o = M.parse_args(args)
  if o.help then
    print(M.HELP)
    return
  end
  local regions = M.load(o.input, o)
  local rows, by_patient, order, failed = {}, {}, {}, {}
  for _, g in ipairs(regions) do
    local r, why, partial = M.fit(g, o, o.input)
    rows[#rows + 1] = M.row(g, why and partial or r, why, o)
    if why then
      failed[#failed + 1] = why
      io.stderr:write("tia: failed: " .. why .. "\n")
    else
      if not by_patient[g.patient] then
        by_patient[g.patient] = {}
        order[#order + 1] = g.patient
      end
      table.insert(by_patient[g.patient], { g = g, r = r })
    end
    if not o.quiet then
      if why then
        print(("%-10s %-12s FAILED (see stderr)"):format(g.patient,
          g.region))
      else
        print(("%-10s %-12s %-9s TIA %10.5g MBq h  SE %s%s"):format(
          g.patient, g.region, r.chosen, r.tia,
          r.tia_se and ("%.3g"):format(r.tia_se) or "n/a",
          #r.warnings > 0 and ("  [" .. table.concat(r.warnings, "; ")
            .. "]") or ""))
      end
    end
  end
  rk.mkdir(o.out)
  local out = o.out .. "/tia.csv"
  rk.csv.write(out, rows, M.columns())
  if o.plot then
    local used = {}
    for _, p in ipairs(order) do M.plot(p, by_patient[p], o.out, used) end
  end
  if not o.quiet then print("written: " .. out) end
  if #failed > 0 and not o.keep_going then
    error(("%d of %d regions failed (marked status=failed in %s; " ..
      "--keep-going to accept)"):format(#failed, #regions, out), 0)
  end
  return rows
end

if arg and arg[0] and arg[0]:match("tia%.lua$") then
  M.main(arg)
end
return M
