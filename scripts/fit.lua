-- fit.lua - population fit of a NONMEM-style dataset: FO or FOCE-I with
-- the covariance step (rk.popest), a NONMEM-like summary on stdout,
-- parameters.csv, ebe.csv and table.csv, and goodness-of-fit plots (PNG
-- and SVG, gnuplot): DV vs PRED and DV vs IPRED with the identity line,
-- CWRES vs TIME, and the individual fits (DV, IPRED, PRED per subject).
--
--   radiokin scripts/fit.lua model.lua data.csv [--method M]
--            [--out DIR] [--no-plot] [--threads N] [--no-cov]
--            [--max-eval N] [--blq m3|m4|m1|dv] [--quiet] [--evaluate [--cov]]
--            [--ebe-starts multi|single|scan] [--cov-matrix sandwich|R|S]
--            [--burn N] [--iter N] [--chains N] [--seed N]
--            [--imp-samples N] [--then METHOD]    (--method saem)
--            [--se linearisation|sa] [--se-iter N]
--
-- model.lua returns a population model declaration (rk.popest{...}; see
-- models/theophylline.lua). DIR defaults to fit_<model name>. The three
-- tables are written all or none (temporary files, then renamed). A fit
-- that does not converge is reported with its reason, writes no file and
-- ends with a non-zero exit status. Without gnuplot the plots are skipped
-- with a warning. Errors name the file and line (the dataset's also the
-- column).
local rk = require "radiokin"

local M = {}

local USAGE = "usage: radiokin scripts/fit.lua model.lua data.csv " ..
  "[--method focei|foce|fo|laplace|laplacei|saem] [--out DIR] [--no-plot] [--threads N] [--no-cov] " ..
  "[--max-eval N] [--blq m3|m4|m1|dv] [--quiet] [--evaluate [--cov]] " ..
  "[--ebe-starts multi|single|scan] [--cov-matrix sandwich|R|S] " ..
  "[--burn N] [--iter N] [--chains N] [--seed N] [--imp-samples N] " ..
  "[--then METHOD] [--se linearisation|sa] [--se-iter N]"

M.HELP = USAGE .. [[


Population fit (FO or FOCE-I, with the covariance step) of a NONMEM-style
dataset.

Inputs
  model.lua   returns a population model: rk.popest{...} (see
              models/theophylline.lua)
  data.csv    NONMEM layout, one record per line: ID, TIME (h), DV (the
              observed quantity in the model's unit, e.g. mg/L or MBq),
              AMT (dose amount, the model's amount unit), EVID (0
              observation, 1 dose, 2 other, 3 reset, 4 reset and dose), MDV,
              CMT (compartment number or state name), optional RATE, II
              (h), ADDL, SS, and covariate columns the model uses;
              DVID (the k-th name of the model's observe = {...}) for
              several endpoints; CENS (1: below the limit, -1: above)
              and LLOQ for censored records; OCC (an integer occasion
              index on every record) when the model declares occasion
              etas (rk.popest{iov = {NAME = variance}, occ = "OCC"}:
              between-occasion variability; every method, SAEM
              included, samples or integrates one occasion eta per
              occasion of a subject)

Options
  --method focei|foce|fo|laplace|laplacei|saem
                     estimation method (default focei): FOCE-I, FOCE
                     without interaction (residual variance at eta = 0),
                     FO, Laplace (true second derivatives; without / with
                     interaction), SAEM (stochastic approximation EM with
                     MCMC; its OFV by importance sampling, SEs from the
                     FOCE-I covariance step at its estimates, or with
                     --se sa by stochastic approximation)
  --burn N           SAEM: exploratory iterations, step 1 (default 300)
  --iter N           SAEM: smoothing iterations, step 1/k (default 200)
  --chains N         SAEM: MCMC chains per subject (default 1; more for
                     few subjects)
  --seed N           SAEM: random seed (default 1); the same seed gives the
                     same numbers for any --threads
  --imp-samples N    SAEM: importance samples per subject for the OFV
                     (default 1000; 0: the FOCE-I OFV at the estimates)
  --then METHOD      SAEM: refine by METHOD (focei, foce, fo, laplace,
                     laplacei) from the SAEM estimates in the same run;
                     the summary then reports that fit, with the SAEM
                     stage's OFV beside it
  --se linearisation|sa
                     SAEM: standard errors from the FOCE-I covariance
                     step at the estimates (linearisation, default) or
                     from the observed Fisher information by stochastic
                     approximation (sa: Louis' identity averaged over
                     more MCMC draws at the estimates, as Monolix; not
                     linearised, with Monte Carlo error)
  --se-iter N        SAEM with --se sa: MCMC iterations averaged (default
                     300)
  --out DIR          output folder (default fit_<model name>), made if
                     missing
  --no-plot          no goodness-of-fit plots
  --threads N        worker threads (0: all cores)
  --no-cov           skip the covariance step (no SE, no intervals)
  --max-eval N       stop the outer search after N evaluations (default
                     3000); a fit stopped so is reported as failed; 0 is
                     --evaluate
  --evaluate         no estimation (NONMEM's MAXEVAL=0): OFV, EBEs, PRED,
                     IPRED, CWRES and per-subject OFV at the model file's
                     initial values; the covariance step only with --cov
  --cov              with --evaluate: run the covariance step there
  --cov-matrix sandwich|R|S
                     covariance of the estimates giving the SEs (default
                     sandwich R^-1 S R^-1, as NONMEM; R: R^-1; S: S^-1)
  --ebe-starts multi|single|scan
                     starts of each subject's EBE search (default multi:
                     previous EBE, zero, the linearised mode and +-2 SD
                     per eta on the first and last pass, the previous EBE
                     between; single: the previous EBE only; scan: all
                     starts in every pass);
                     subjects whose starts end in different modes are
                     listed in the summary
  --blq m3|m4|m1|dv  censored records (CENS / LLOQ): m3 their likelihood
                     of being beyond the limit (default, Beal's M3), m4
                     every record's likelihood given a positive value
                     (Beal's M4; with --method laplace or laplacei), m1
                     dropped, dv fitted as if DV were measured
  --quiet            print nothing but errors and warnings

Outputs (in DIR)
  parameters.csv  parameter, kind, estimate, se, rse_pct, ci95_lower,
                  ci95_upper (omega variances and sigma: interval on the log
                  scale), then OFV, -2LL, AIC, BIC
  ebe.csv         ID, ETA_<name>..., individual parameters, OFV_i
                  (with occasion etas: ID, OCC, ... one row per occasion)
  table.csv       ID, TIME, DV, PRED, IPRED, RES, IWRES, CWRES (then
                  ENDPOINT with several endpoints, CENS with censored
                  records, which have no RES, IWRES, CWRES: NA; OCC with
                  occasion etas)
  saem_trace.csv  with --method saem: iteration, phase (explore /
                  smooth), then theta, Omega (row-major) and sigma after
                  each iteration (the SAEM convergence trace)
  gof_dv_pred, gof_dv_ipred, gof_cwres_time, gof_individual (.png, .svg)
  fit.csv         the fit's record for scripts/vpc.lua and
                  scripts/bootstrap.lua: kind, name, row, col, value (model
                  and data paths, method, BLQ handling, theta, Omega,
                  sigma, estimates, the covariance matrix)
A failed fit writes none of these and exits with status 1.

Example
  radiokin scripts/fit.lua models/theophylline.lua tests/data/theoph_nm.csv --out fit_theo]]

local function usage(msg)
  error((msg and msg .. "\n" or "") .. USAGE, 0)
end

local OPTIONS = {
  ["--method"] = { "method", "choice",
    { "focei", "foce", "fo", "laplace", "laplacei", "saem" } },
  ["--then"] = { "saem_then", "choice",
    { "focei", "foce", "fo", "laplace", "laplacei" } },
  ["--se"] = { "se", "choice", { "linearisation", "sa" }, into = "saem" },
  ["--blq"] = { "blq", "choice", { "m3", "m4", "m1", "dv" } },
  ["--out"] = { "out", "value" },
  ["--no-plot"] = { "plot", "flag", value = false },
  ["--no-cov"] = { "covariance", "flag", value = false },
  ["--cov"] = { "covariance_on", "flag" },
  ["--evaluate"] = { "evaluate", "flag" },
  ["--cov-matrix"] = { "cov_matrix", "choice", { "sandwich", "R", "S" } },
  ["--ebe-starts"] = { "ebe_starts", "choice", { "multi", "single", "scan" } },
  ["--quiet"] = { "quiet", "flag" },
  ["--threads"] = { "threads", function(v, name)
    local n = math.tointeger(tonumber(v))
    if not n or n < 0 or n > 1024 then
      usage(("%s needs an integer in 0..1024 (0: all cores) (got '%s')")
        :format(name, v))
    end
    return n
  end },
  ["--max-eval"] = { "max_eval", "integer", 0, 10000000, after = function(o, n)
    if n == 0 then o.evaluate = true end
  end },
}
-- SAEM's counts go to o.saem (o.saem.burn, o.saem.imp_samples, ...)
for name, lohi in pairs({ burn = { 0, 1000000 }, iter = { 1, 1000000 },
    chains = { 1, 1000 }, seed = { 0, 2 ^ 53 },
    ["imp-samples"] = { 0, 1000000 }, ["se-iter"] = { 1, 1000000 } }) do
  OPTIONS["--" .. name] = { (name:gsub("%-", "_")), "integer", lohi[1],
    lohi[2], into = "saem" }
end

function M.parse_args(args)
  local o, files = rk.options(args, OPTIONS, usage,
    { method = "focei", plot = true, covariance = true })
  if o.help then return o end
  if #files ~= 2 then usage("give a model file and a data file") end
  if o.covariance_on and not o.evaluate then
    usage("--cov is for --evaluate (a fit runs the covariance step " ..
      "unless --no-cov)")
  end
  if o.evaluate then o.covariance = o.covariance_on or false end
  if (o.saem or o.saem_then) and o.method ~= "saem" then
    usage("--burn, --iter, --chains, --seed, --imp-samples and --then go " ..
      "with --method saem")
  end
  if o.method == "saem" and o.evaluate then
    usage("--method saem estimates: it cannot be used with --evaluate")
  end
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

local Q = rk.gnuplot_quote

-- Data blocks of the observation table: all, and per subject (numbers
-- only: rk.gnuplot passes them as data, never as commands).
local function data_blocks(t)
  local blocks, ids, by = { all = {} }, {}, {}
  for k = 1, #t.ID do
    blocks.all[k] = { t.ID[k], t.TIME[k], t.DV[k], t.PRED[k], t.IPRED[k],
                      t.CWRES[k] }
    if not by[t.ID[k]] then
      by[t.ID[k]] = {}
      ids[#ids + 1] = t.ID[k]
    end
    table.insert(by[t.ID[k]], k)
  end
  for j, id in ipairs(ids) do
    local rows = {}
    for _, k in ipairs(by[id]) do
      rows[#rows + 1] = { t.TIME[k], t.DV[k], t.PRED[k], t.IPRED[k] }
    end
    blocks["s" .. j] = rows
  end
  return blocks, ids
end

-- Data blocks c1.. of the individual predictions on a fine time grid
-- (r.curves, in the order of ids); nil when the fit has none.
local function curve_blocks(r, ids, blocks)
  if not r.curves then return nil end
  local by = {}
  for _, c in ipairs(r.curves) do by[c.id] = c end
  for j, id in ipairs(ids) do
    local c = by[id]
    if not c then return nil end
    local rows = {}
    for k = 1, #c.time do rows[k] = { c.time[k], c.ipred[k] } end
    blocks["c" .. j] = rows
  end
  return true
end

-- A tick step giving at most about 5 labelled ticks over [0, span]: 1, 2
-- or 5 times a power of ten (so labels of small panels do not overlap).
function M.tick_step(span)
  if not (span > 0) then return 1 end
  local raw = span / 5
  local p = 10 ^ math.floor(math.log(raw, 10))
  for _, m in ipairs { 1, 2, 5, 10 } do
    if m * p >= raw then return m * p end
  end
  return 10 * p
end

-- The gnuplot commands writing every plot of the fit r (observed quantity
-- `what`) as base_<name>.png/.svg (base in the private folder of
-- rk.plot_files), and their data blocks.
function M.plot_script(r, what, base)
  local blocks, ids = data_blocks(r.table)
  local out = {}
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
      add("set xrange [%.17g:%.17g]; set yrange [%.17g:%.17g]", lo - pad,
        hi + pad, lo - pad, hi + pad)
      add("set xlabel 'PRED'; set ylabel %s noenhanced",
        Q("DV (" .. what .. ")"))
      add("plot $all using 4:3 with points pt 7 ps 0.8 title 'observations'"
        .. ", x with lines lw 2 lc rgb 'black' title 'identity'")
    end },
    { "dv_ipred", "DV vs IPRED (individual prediction)", function()
      add("set xrange [%.17g:%.17g]; set yrange [%.17g:%.17g]", lo - pad,
        hi + pad, lo - pad, hi + pad)
      add("set xlabel 'IPRED'; set ylabel %s noenhanced",
        Q("DV (" .. what .. ")"))
      add("plot $all using 5:3 with points pt 7 ps 0.8 title 'observations'"
        .. ", x with lines lw 2 lc rgb 'black' title 'identity'")
    end },
    { "cwres_time", "CWRES vs TIME", function()
      add("set xrange [0:%.17g]; set autoscale y", tmax * 1.02 + 1e-9)
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
      add("set output %s", Q(("%s_%s.%s"):format(base, p[1], term[2]), true))
      add("set title %s noenhanced", Q(p[2]))
      add("set key top left")
      p[3]()
      add("set output")
    end
  end
  -- individual fits: one panel per subject. IPRED is the model curve on
  -- a fine grid (r.curves) when the fit has it; PRED, and IPRED without
  -- curves, are known at the observation times only and drawn there as
  -- marked points joined by thin lines.
  local curves = curve_blocks(r, ids, blocks)
  local n = #ids
  local cols = math.ceil(math.sqrt(n))
  local rows = math.ceil(n / cols)
  local step = M.tick_step(tmax)
  for _, term in ipairs { { "pngcairo size %d,%d", "png" },
                          { "svg size %d,%d", "svg" } } do
    add("reset")
    add("set terminal " .. term[1], 320 * cols, 260 * rows)
    add("set output %s", Q(("%s_individual.%s"):format(base, term[2]),
      true))
    add("set multiplot layout %d,%d title %s noenhanced", rows, cols,
      Q(curves and "individual fits: DV (black points), IPRED (blue "
        .. "curve), PRED at the observation times (red, dashed)"
        or "individual fits: DV (black points), IPRED (blue) and PRED "
        .. "(red, dashed) at the observation times"))
    add("set key off; set xlabel 'TIME (h)' font ',8'")
    add("set xrange [0:%.17g]; set xtics 0,%.17g font ',7'; set mxtics 2",
      tmax * 1.02 + 1e-9, step)
    add("set ytics font ',7'")
    add("set ylabel %s font ',8' noenhanced", Q(what))
    for j, id in ipairs(ids) do
      add("set title %s font ',9' noenhanced", Q(("ID %.10g"):format(id)))
      local ipred = curves
        and ("$c%d using 1:2 with lines lw 1.5 lc rgb 'blue'"):format(j)
        or ("$s%d using 1:4 with linespoints lw 1.5 pt 6 ps 0.4 " ..
            "lc rgb 'blue'"):format(j)
      add("plot $s%d using 1:2 with points pt 7 ps 0.6 lc rgb 'black', " ..
        "%s, $s%d using 1:3 with linespoints dt 2 pt 4 ps 0.4 " ..
        "lc rgb 'red'", j, ipred, j)
    end
    add("unset multiplot")
    add("set output")
  end
  return table.concat(out, "\n") .. "\n", blocks
end

M.PLOTS = { "dv_pred", "dv_ipred", "cwres_time", "individual" }

-- Writes the plots into dir as gof_<name>.png/.svg (all or none); returns
-- the paths, or nil and a warning when gnuplot is missing or fails.
function M.plot(r, what, dir)
  local paths = {}
  for _, p in ipairs(M.PLOTS) do
    for _, ext in ipairs { "png", "svg" } do
      paths[#paths + 1] = ("%s/gof_%s.%s"):format(dir, p, ext)
    end
  end
  local f = rk.plot_files(paths)
  local ok, why = rk.gnuplot(M.plot_script(r, what, f.dir .. "/gof"))
  for _, tmp in ipairs(f.tmp) do
    local h = io.open(tmp, "rb")
    local size = h and h:seek("end") or 0
    if h then h:close() end
    if size == 0 then ok = ok and false end
  end
  if not ok then
    f:abort()
    return nil, "goodness-of-fit plots skipped: " ..
      (why or "gnuplot wrote an empty plot")
  end
  f:commit()
  return paths
end

-- The SAEM stage in a few lines: its settings, objectives, acceptance.
function M.saem_text(s)
  local t = {}
  t[#t + 1] = ("SAEM: %d exploratory + %d smoothing iterations, %d " ..
    "chain(s), seed %d"):format(s.burn, s.iter, s.chains, s.seed)
  if s.imp_samples > 0 then
    t[#t + 1] = ("SAEM OFV by importance sampling: %.4f (Monte Carlo SE " ..
      "%.4f; %d samples per subject, t%d proposal)"):format(s.ofv_imp,
      s.ofv_imp_se, s.imp_samples, s.imp_df)
  end
  t[#t + 1] = ("FOCE-I OFV at the SAEM estimates: %.4f"):format(s.ofv_focei)
  if s.se == "sa" then
    t[#t + 1] = ("standard errors: Fisher information by stochastic " ..
      "approximation (%d iterations x %d chain(s) at the estimates)"):format(
      s.se_iter, s.chains)
  end
  t[#t + 1] = ("MCMC acceptance (last iteration): prior %.2f, component " ..
    "%.2f, block %.2f"):format(s.accept.prior, s.accept.component,
    s.accept.block)
  local mu = {}
  for eta, th in pairs(s.mu_referenced) do mu[#mu + 1] = eta .. "->" .. th end
  table.sort(mu)
  t[#t + 1] = "closed-form (mu-referenced) thetas: " ..
    (#mu > 0 and table.concat(mu, ", ") or "none")
  return table.concat(t, "\n")
end

-- saem_trace.csv in dir (atomic); returns its path.
function M.write_trace(s, dir)
  local cols, rows = { "iteration", "phase" }, {}
  for _, n in ipairs(s.trace_names) do cols[#cols + 1] = n end
  for k, v in ipairs(s.trace) do
    local row = { iteration = k, phase = k <= s.burn and "explore"
                  or "smooth" }
    for j, n in ipairs(s.trace_names) do row[n] = v[j] end
    rows[k] = row
  end
  local path = dir .. "/saem_trace.csv"
  rk.csv.write(path, rows, cols)
  return path
end

-- ------------------------------------------------------------ main

function M.main(args)
  local o = M.parse_args(args)
  if o.help then
    print(M.HELP)
    return
  end
  local pm = M.load_model(o.model)
  local out = o.out or ("fit_" .. pm.name:gsub("[^%w%-_.]", "_"))
  local r
  if o.evaluate then
    r = pm:evaluate(o.data, { method = o.method, threads = o.threads,
                              covariance = o.covariance,
                              ebe_starts = o.ebe_starts,
                              cov_matrix = o.cov_matrix, blq = o.blq })
  else
    r = pm:fit(o.data, { method = o.method, threads = o.threads,
                         covariance = o.covariance, max_eval = o.max_eval,
                         ebe_starts = o.ebe_starts,
                         cov_matrix = o.cov_matrix, blq = o.blq,
                         saem = o.method == "saem" and (o.saem or {}) or nil,
                         ['then'] = o.saem_then })
  end
  if not r.converged then
    -- the summary says where the search stopped; nothing is written, and
    -- files an earlier run left in the folder are named as not this fit's
    if not o.quiet then print(r:summary()) end
    local old = {}
    for _, f in ipairs { "parameters.csv", "ebe.csv", "table.csv" } do
      local h = io.open(out .. "/" .. f, "rb")
      if h then
        h:close()
        old[#old + 1] = f
      end
    end
    error(("fit failed: %s; no output files written%s"):format(r.message,
      #old > 0 and ("; %s in %s are from an earlier run, NOT from this " ..
        "fit"):format(table.concat(old, ", "), out) or ""), 0)
  end
  if not o.quiet then
    print(r:summary())
    if r.saem then print(M.saem_text(r.saem)) end
  end
  rk.mkdir(out)
  local files = r:write_csv(out)
  if r.saem then files[#files + 1] = M.write_trace(r.saem, out) end
  -- the record scripts/vpc.lua and scripts/bootstrap.lua read
  files[#files + 1] = require("radiokin.popcheck").write_fit_spec(out,
    { model = o.model, data = o.data, blq = o.blq }, r)
  if o.plot then
    local plots, warn = M.plot(r, pm.observe, out)
    if plots then
      for _, p in ipairs(plots) do files[#files + 1] = p end
    else
      io.stderr:write("radiokin: warning: " .. warn .. "\n")
    end
  end
  if not o.quiet then print("written: " .. table.concat(files, ", ")) end
  return r, files
end

if arg and arg[0] and arg[0]:match("fit%.lua$") then
  M.main(arg)
end

return M
