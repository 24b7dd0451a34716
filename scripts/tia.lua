-- tia.lua - time-integrated activity of every patient / region of a long
-- CSV of imaging data: curve fits with AICc model selection (rk.tac.fit),
-- TIA with SE and 95 % interval, written to tia.csv (atomically), and with
-- --plot one gnuplot PNG + SVG per patient (points, every candidate's
-- curve, the chosen one highlighted, TIA in the legend).
--
--   radiokin scripts/tia.lua data.csv [--out DIR] [--plot]
--            [--nuclide Lu-177] [--cv 0.1|estimate] [--criterion aicc|aic]
--            [--average] [--quiet]
--
-- Columns: patient, region, t_h, activity_MBq [, sd_MBq] [, mass_kg]
-- [, nuclide]. Without sd_MBq the error is proportional with a known
-- coefficient of variation, --cv (default 0.10, a typical quantitative
-- SPECT/CT uncertainty), so that AICc is defined for every candidate with
-- 4 points; `--cv estimate` estimates the scale from the residuals instead
-- (one more parameter: with 4 points AICc then falls back to AIC). Errors
-- name file:line and the column.
local rk = require "radiokin"

local M = {}

local function usage(msg)
  error((msg and msg .. "\n" or "") ..
        "usage: radiokin scripts/tia.lua data.csv [--out DIR] [--plot] " ..
        "[--nuclide NAME] [--cv X|estimate] [--criterion aicc|aic] [--average] " ..
        "[--quiet]", 0)
end

function M.parse_args(args)
  local o = { out = ".", nuclide = "Lu-177", criterion = "aicc", cv = 0.10 }
  local i = 1
  local function value(name)
    i = i + 1
    return args[i] or usage(name .. " needs a value")
  end
  while i <= #args do
    local a = args[i]
    if a == "--out" then o.out = value(a)
    elseif a == "--plot" then o.plot = true
    elseif a == "--nuclide" then o.nuclide = value(a)
    elseif a == "--cv" then
      local v = value(a)
      o.cv = tonumber(v)
      if v == "estimate" then o.cv = nil
      elseif not o.cv or o.cv <= 0 then
        usage("--cv needs a number > 0 or 'estimate'")
      end
    elseif a == "--criterion" then o.criterion = value(a)
    elseif a == "--average" then o.average = true
    elseif a == "--quiet" then o.quiet = true
    elseif a:sub(1, 2) == "--" then usage("unknown option '" .. a .. "'")
    elseif o.input then usage("one data file only")
    else o.input = a end
    i = i + 1
  end
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
    for _, name in ipairs({ "t_h", "activity_MBq", "sd_MBq", "mass_kg" }) do
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

-- Fits one region; engine errors are prefixed with file and lines.
function M.fit(g, o, path)
  local ok, r = pcall(rk.tac.fit, {
    t = g.t, a = g.a, sd = g.sd, nuclide = g.nuclide, cv = o.cv,
    criterion = o.criterion, average = o.average })
  if not ok then
    -- the Lua position of the call says nothing to the user: drop it
    local msg = tostring(r):gsub("^[^\n]-%.lua:%d+: ", "")
    error(("%s:%d-%d: patient %s region %s: %s"):format(path, g.lines[1],
      g.lines[#g.lines], g.patient, g.region, msg), 0)
  end
  return r
end

local MODELS = { "mono", "bi", "upwash", "tri" }

function M.columns()
  local c = { "patient", "region", "mass_kg", "n_points", "nuclide", "model",
              "criterion", "tia_MBqh", "tia_se_MBqh", "tia_lo_MBqh",
              "tia_hi_MBqh", "r2", "tail_share", "params" }
  for _, m in ipairs(MODELS) do
    c[#c + 1] = "aicc_" .. m
    c[#c + 1] = "weight_" .. m
    c[#c + 1] = "tia_" .. m .. "_MBqh"
  end
  c[#c + 1] = "tia_trapezoid_MBqh"
  c[#c + 1] = "warnings"
  return c
end

function M.row(g, r)
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
  local row = { patient = g.patient, region = g.region, mass_kg = g.mass_kg,
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
  end
  return row
end

-- ------------------------------------------------------------ plots

local FORMULA = {
  mono = "%g*exp(-%g*x)",
  bi = "%g*exp(-%g*x)+%g*exp(-%g*x)",
  upwash = "%g*(exp(-%g*x)-exp(-%g*(x)))",
  tri = "%g*exp(-%g*x)+%g*exp(-%g*x)-(%g+%g)*exp(-%g*x)",
}

local function formula(m, p)
  if m == "upwash" then return FORMULA.upwash:format(p[1], p[2], p[3]) end
  if m == "tri" then
    return FORMULA.tri:format(p[1], p[2], p[3], p[4], p[1], p[3], p[5])
  end
  return FORMULA[m]:format(table.unpack(p))
end

local function gp_text(s) return (tostring(s):gsub('[\\"]', "\\%0")) end

-- The gnuplot script of one patient: one panel per region.
function M.plot_script(patient, items, base)
  local out = {}
  local function add(fmt, ...) out[#out + 1] = fmt:format(...) end
  for k, it in ipairs(items) do
    add("$d%d << EOD", k)
    for j = 1, #it.g.t do add("%.10g %.10g", it.g.t[j], it.g.a[j]) end
    add("EOD")
  end
  local body = {}
  local function panel(k, it)
    local g, r = it.g, it.r
    local tmax = g.t[#g.t] * 1.5
    body[#body + 1] = ("set title \"patient %s, %s\" noenhanced")
      :format(gp_text(patient), gp_text(g.region))
    body[#body + 1] = ("set xrange [0:%g]"):format(tmax)
    local plots = { ("$d%d with points pt 7 ps 1.2 lc rgb 'black' " ..
      "title 'data'"):format(k) }
    for _, m in ipairs(MODELS) do
      local c = r.candidates[m]
      if c.status == "ok" then
        local chosen = m == r.chosen
        plots[#plots + 1] = ("%s with lines lw %d dt %d title \"%s%s: " ..
          "TIA %.4g MBq h%s\" noenhanced"):format(formula(m, c.p),
          chosen and 3 or 1, chosen and 1 or 2, chosen and "* " or "", m,
          c.tia, c.weight and (" (w %.2f)"):format(c.weight) or "")
      end
    end
    if r.chosen == "trapezoid" then
      plots[#plots + 1] = ("$d%d with lines lw 3 title \"* trapezoid: TIA " ..
        "%.4g MBq h\""):format(k, r.tia)
    end
    body[#body + 1] = "plot " .. table.concat(plots, ", \\\n  ")
  end
  local function all(term, file)
    add("set terminal %s", term)
    add("set output '%s'", file)
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
  return table.concat(out, "\n") .. "\n"
end

local function safe(s) return (tostring(s):gsub("[^%w%-_.]", "_")) end

function M.plot(patient, items, dir)
  local base = dir .. "/tia_" .. safe(patient)
  local gp = base .. ".gp"
  local f = assert(io.open(gp, "w"))
  f:write(M.plot_script(patient, items, base))
  f:close()
  local ok = os.execute(("gnuplot '%s' 2>&1"):format(gp))
  os.remove(gp)
  if not ok then
    error("gnuplot failed for patient " .. tostring(patient) ..
          " (is gnuplot installed?)", 0)
  end
  return base .. ".png", base .. ".svg"
end

-- ------------------------------------------------------------ main

function M.main(args)
  local o = M.parse_args(args)
  local regions = M.load(o.input, o)
  local rows, by_patient, order = {}, {}, {}
  for _, g in ipairs(regions) do
    local r = M.fit(g, o, o.input)
    rows[#rows + 1] = M.row(g, r)
    if not by_patient[g.patient] then
      by_patient[g.patient] = {}
      order[#order + 1] = g.patient
    end
    table.insert(by_patient[g.patient], { g = g, r = r })
    if not o.quiet then
      print(("%-10s %-12s %-9s TIA %10.5g MBq h  SE %s%s"):format(
        g.patient, g.region, r.chosen, r.tia,
        r.tia_se and ("%.3g"):format(r.tia_se) or "n/a",
        #r.warnings > 0 and ("  [" .. table.concat(r.warnings, "; ")
          .. "]") or ""))
    end
  end
  os.execute(("mkdir -p '%s'"):format(o.out))
  local out = o.out .. "/tia.csv"
  rk.csv.write(out, rows, M.columns())
  if o.plot then
    for _, p in ipairs(order) do M.plot(p, by_patient[p], o.out) end
  end
  if not o.quiet then print("written: " .. out) end
  return rows
end

if arg and arg[0] and arg[0]:match("tia%.lua$") then
  M.main(arg)
end
return M
