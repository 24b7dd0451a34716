-- fit.lua - population fit of a NONMEM-style dataset: FO or FOCE-I with
-- the covariance step (rk.popest), a NONMEM-like summary on stdout,
-- parameters.csv, ebe.csv and table.csv, and goodness-of-fit plots (PNG
-- and SVG, gnuplot): DV vs PRED and DV vs IPRED with the identity line,
-- CWRES vs TIME, and the individual fits (DV, IPRED, PRED per subject).
--
--   radiokin scripts/fit.lua model.lua data.csv [--method focei|fo]
--            [--out DIR] [--no-plot] [--threads N] [--no-cov] [--quiet]
--
-- model.lua returns a population model declaration (rk.popest{...}; see
-- models/theophylline.lua). DIR defaults to fit_<model name>. Every file
-- is written atomically (temporary file, then rename). Without gnuplot
-- the plots are skipped with a warning. Errors name the file and line
-- (the dataset's also the column).
local rk = require "radiokin"

local M = {}

local USAGE = "usage: radiokin scripts/fit.lua model.lua data.csv " ..
  "[--method focei|fo] [--out DIR] [--no-plot] [--threads N] [--no-cov] " ..
  "[--quiet]"

local function usage(msg)
  error((msg and msg .. "\n" or "") .. USAGE, 0)
end

function M.parse_args(args)
  local o = { method = "focei", plot = true, covariance = true }
  local files, i = {}, 1
  local function value(name)
    i = i + 1
    return args[i] or usage(name .. " needs a value")
  end
  while i <= #args do
    local a = args[i]
    if a == "--method" then
      o.method = value(a)
      if o.method ~= "focei" and o.method ~= "fo" then
        usage("--method must be focei or fo (got '" .. o.method .. "')")
      end
    elseif a == "--out" then o.out = value(a)
    elseif a == "--no-plot" then o.plot = false
    elseif a == "--no-cov" then o.covariance = false
    elseif a == "--quiet" then o.quiet = true
    elseif a == "--threads" then
      o.threads = math.tointeger(tonumber(value(a)))
      if not o.threads or o.threads < 0 then
        usage("--threads needs an integer >= 0 (0: all cores)")
      end
    elseif a:sub(1, 2) == "--" then usage("unknown option '" .. a .. "'")
    else files[#files + 1] = a end
    i = i + 1
  end
  if #files ~= 2 then usage("give a model file and a data file") end
  o.model, o.data = files[1], files[2]
  return o
end

-- The model file must return a population model (loaded as text, so a
-- syntax error names its file and line).
function M.load_model(path)
  local f = io.open(path, "rb")
  if not f then error(("%s: cannot open the model file"):format(path), 0) end
  f:close()
  local pm = dofile(path)
  if not tostring(pm):find("^rk%.popest") then
    error(("%s: must return a population model made by rk.popest{...} " ..
      "(it returned %s)"):format(path, type(pm)), 0)
  end
  return pm
end

-- ---------------------------------------------------------------- plots

local function have_gnuplot()
  return os.execute("command -v gnuplot >/dev/null 2>&1") == true
end

local function gp_text(s) return (tostring(s):gsub('[\\"]', "\\%0")) end

-- Data blocks of the observation table: all, and per subject.
local function data_blocks(t)
  local out, ids, by = {}, {}, {}
  out[#out + 1] = "$all << EOD"
  for k = 1, #t.ID do
    out[#out + 1] = ("%.10g %.10g %.10g %.10g %.10g %.10g"):format(t.ID[k],
      t.TIME[k], t.DV[k], t.PRED[k], t.IPRED[k], t.CWRES[k])
    if not by[t.ID[k]] then
      by[t.ID[k]] = {}
      ids[#ids + 1] = t.ID[k]
    end
    table.insert(by[t.ID[k]], k)
  end
  out[#out + 1] = "EOD"
  for j, id in ipairs(ids) do
    out[#out + 1] = ("$s%d << EOD"):format(j)
    for _, k in ipairs(by[id]) do
      out[#out + 1] = ("%.10g %.10g %.10g %.10g"):format(t.TIME[k], t.DV[k],
        t.PRED[k], t.IPRED[k])
    end
    out[#out + 1] = "EOD"
  end
  return table.concat(out, "\n") .. "\n", ids
end

-- The gnuplot script writing every plot of the fit r (observed quantity
-- `what`) as base_<name>.png/.svg.tmp; the caller renames them.
function M.plot_script(r, what, base)
  local blocks, ids = data_blocks(r.table)
  local out = { blocks }
  local function add(fmt, ...) out[#out + 1] = fmt:format(...) end
  local lo, hi = math.huge, -math.huge
  for _, c in ipairs { "DV", "PRED", "IPRED" } do
    for _, v in ipairs(r.table[c]) do
      lo, hi = math.min(lo, v), math.max(hi, v)
    end
  end
  if hi <= lo then hi = lo + 1 end
  local pad = 0.05 * (hi - lo)
  local tmax = 0
  for _, v in ipairs(r.table.TIME) do tmax = math.max(tmax, v) end
  local plots = {
    { "dv_pred", "DV vs PRED (population prediction)", function()
      add("set xrange [%g:%g]; set yrange [%g:%g]", lo - pad, hi + pad,
        lo - pad, hi + pad)
      add("set xlabel 'PRED'; set ylabel 'DV (%s)'", gp_text(what))
      add("plot $all using 4:3 with points pt 7 ps 0.8 title 'observations'"
        .. ", x with lines lw 2 lc rgb 'black' title 'identity'")
    end },
    { "dv_ipred", "DV vs IPRED (individual prediction)", function()
      add("set xrange [%g:%g]; set yrange [%g:%g]", lo - pad, hi + pad,
        lo - pad, hi + pad)
      add("set xlabel 'IPRED'; set ylabel 'DV (%s)'", gp_text(what))
      add("plot $all using 5:3 with points pt 7 ps 0.8 title 'observations'"
        .. ", x with lines lw 2 lc rgb 'black' title 'identity'")
    end },
    { "cwres_time", "CWRES vs TIME", function()
      add("set xrange [0:%g]; set autoscale y", tmax * 1.02 + 1e-9)
      add("set xlabel 'TIME (h)'; set ylabel 'CWRES'")
      add("plot $all using 2:6 with points pt 7 ps 0.8 title 'CWRES', " ..
        "0 with lines lw 2 lc rgb 'black' notitle, " ..
        "2 with lines dt 2 lc rgb 'gray' notitle, " ..
        "-2 with lines dt 2 lc rgb 'gray' notitle")
    end },
  }
  for _, p in ipairs(plots) do
    for _, term in ipairs { { "pngcairo size 800,640", "png" },
                            { "svg size 800,640", "svg" } } do
      add("reset")
      add("set terminal %s", term[1])
      add("set output '%s_%s.%s.tmp'", base, p[1], term[2])
      add("set title \"%s\" noenhanced", gp_text(p[2]))
      add("set key top left")
      p[3]()
      add("set output")
    end
  end
  -- individual fits: one panel per subject
  local n = #ids
  local cols = math.ceil(math.sqrt(n))
  local rows = math.ceil(n / cols)
  for _, term in ipairs { { "pngcairo size %d,%d", "png" },
                          { "svg size %d,%d", "svg" } } do
    add("reset")
    add("set terminal " .. term[1], 300 * cols, 240 * rows)
    add("set output '%s_individual.%s.tmp'", base, term[2])
    add("set multiplot layout %d,%d title \"individual fits: DV (points), " ..
      "IPRED (line), PRED (dashed)\" noenhanced", rows, cols)
    add("set key off; set xlabel 'TIME (h)' font ',8'")
    add("set ylabel '%s' font ',8'", gp_text(what))
    for j, id in ipairs(ids) do
      add("set title 'ID %s' font ',9'", gp_text(("%.10g"):format(id)))
      add("plot $s%d using 1:2 with points pt 7 ps 0.6 lc rgb 'black', " ..
        "$s%d using 1:4 with lines lw 2 lc rgb 'blue', " ..
        "$s%d using 1:3 with lines dt 2 lc rgb 'red'", j, j, j)
    end
    add("unset multiplot")
    add("set output")
  end
  return table.concat(out, "\n") .. "\n"
end

M.PLOTS = { "dv_pred", "dv_ipred", "cwres_time", "individual" }

-- Writes the plots into dir as gof_<name>.png/.svg; returns the paths,
-- or nil and a warning when gnuplot is missing or fails.
function M.plot(r, what, dir)
  if not have_gnuplot() then
    return nil, "gnuplot not found: goodness-of-fit plots skipped"
  end
  local base = dir .. "/gof"
  local gp = dir .. "/.gof.gp"
  rk.write_atomic(gp, M.plot_script(r, what, base))
  local ok = os.execute(("gnuplot '%s' >/dev/null 2>&1"):format(gp))
  os.remove(gp)
  local paths = {}
  for _, p in ipairs(M.PLOTS) do
    for _, ext in ipairs { "png", "svg" } do
      local final = ("%s_%s.%s"):format(base, p, ext)
      local tmp = final .. ".tmp"
      local f = io.open(tmp, "rb")
      local size = f and f:seek("end") or 0
      if f then f:close() end
      if ok and size > 0 then
        assert(os.rename(tmp, final))
        paths[#paths + 1] = final
      else
        os.remove(tmp)
      end
    end
  end
  if not ok or #paths ~= 2 * #M.PLOTS then
    for _, p in ipairs(paths) do os.remove(p) end
    return nil, "gnuplot failed: goodness-of-fit plots skipped"
  end
  return paths
end

-- ------------------------------------------------------------ main

function M.main(args)
  local o = M.parse_args(args)
  local pm = M.load_model(o.model)
  local out = o.out or ("fit_" .. pm.name:gsub("[^%w%-_.]", "_"))
  local r = pm:fit(o.data, { method = o.method, threads = o.threads,
                             covariance = o.covariance })
  if not o.quiet then print(r:summary()) end
  local files = r:write_csv(out)
  if o.plot then
    local plots, warn = M.plot(r, pm.observe, out)
    if plots then
      for _, p in ipairs(plots) do files[#files + 1] = p end
    else
      io.stderr:write("radiokin: warning: " .. warn .. "\n")
    end
  end
  if not o.quiet then print("written: " .. table.concat(files, ", ")) end
  if not r.converged then
    io.stderr:write("radiokin: warning: " .. r.message .. "\n")
  end
  return r, files
end

if arg and arg[0] and arg[0]:match("fit%.lua$") then
  M.main(arg)
end

return M
