-- model_calibrate.lua - fits a population model's typical values and
-- inter-individual CVs to several published summary statistics at once
-- (means, SDs, effective half-lives, whole-body retention) by weighted
-- least squares on the statistics of simulated virtual patients.
--
--   radiokin scripts/model_calibrate.lua models/lu177_psma.lua
--            [--patients 200] [--seed 1] [--maxeval 400] [--out DIR]
--            [--name NAME] [--quiet]
--
-- Input: a population model file (as scripts/model_report.lua reads it)
-- that also returns
--   population_spec  the table its rk.population was built from
--   calibration = {
--     params = { { name = "kKin", what = "theta" | "cv", lower =, upper = },
--                { name = "spleen_kg", what = "cov_sd", ... }, ... },
--       (theta: a typical value; cv: the IIV CV of a parameter; cov_sd:
--       the SD of a sampled covariate)
--     targets = { { target = i (index into targets), stat = "mean" | "sd"
--                   | "median", se = (optional) }, ... },
--   }
-- Objective (minimised by rk.optimize, NLopt BOBYQA): the sum over the
-- chosen statistics of ((simulated - published) / se)^2, with se the
-- standard error of the published statistic:
--   mean    SD / sqrt(n); with a ci = {lo, hi} instead: (hi - lo) / 3.92
--   sd      SD / sqrt(2 (n - 1))  (normal-theory SE of an SD)
--   median  given as se in the calibration entry (a median with a range
--           has no standard SE)
-- The weight of a statistic is 1 / se^2. Parameters are searched on the
-- log scale within their bounds (all positive).
--
-- Common random numbers: every evaluation rebuilds the population with
-- the trial values and samples the same seeded patients (rk.population
-- draws patient i's random effects from its own stream seeded by (seed,
-- i), so only the values move, not the draws): the objective is then a
-- smooth function of the parameters, not a noisy one.
--
-- Writes DIR/NAME.md: the command that reproduces the run, the fitted
-- values beside the starting ones with
--   a note for each parameter that ended on a bound (the bound chose it)
--   its influence: the norm over the statistics of d residual / d ln
--     parameter at the fit (central differences, common random numbers);
--     below 0.05 the statistics do not determine it (noted), and more
--     parameters than statistics is said in bold
-- per statistic the published value, its se, weight, the simulated value
-- at the start and at the fit, and the residual (simulated - published) /
-- se; every target of the model (calibrated or not) at the start and at
-- the fit against its published 95 % interval (scripts/model_report.lua's
-- rule), with the targets the fit moved out of their interval named; and
-- a comment block for the model file (command, patients, seed, objective
-- before and after, evaluations, NLopt status, the fitted values). The
-- same notes are printed. Exit status non-zero when the optimiser stopped
-- before converging (the report is written and says so).
local rk = require "radiokin"

local src = (debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or ".")
local report = dofile(src .. "/model_report.lua")

local M = {}

local USAGE = "usage: radiokin scripts/model_calibrate.lua MODEL.lua "
  .. "[--patients N] [--seed S] [--maxeval E] [--out DIR] [--name NAME] "
  .. "[--quiet]"

M.HELP = USAGE .. [[


Weighted least-squares calibration of a population model's typical values
and CVs to several published statistics at once, on common random numbers
(the same seeded virtual patients at every evaluation).

Input: MODEL.lua, a population model file as scripts/model_report.lua reads
it, with two more fields:
  population_spec = the table given to rk.population
  calibration = {
    params  = { { name = "kKin", what = "theta" | "cv", lower =, upper = },
                { name = "spleen_kg", what = "cov_sd", ... }, ... },
              (theta: typical value, cv: IIV CV, cov_sd: a covariate's SD)
    targets = { { target = index into targets, stat = "mean" | "sd" |
                  "median", se = (optional) }, ... } }

Objective: sum of ((simulated - published) / se)^2 over the statistics,
se = SD/sqrt(n) for a mean (or (hi - lo)/3.92 from a ci), SD/sqrt(2(n-1))
for an SD, the entry's se for a median. Minimised by rk.optimize (NLopt
BOBYQA) over log parameters within their bounds.

Options
  --patients N   virtual patients per evaluation, 2..20000 (default 200)
  --seed S       their seed, integer >= 0 (default 1)
  --maxeval E    objective evaluations at most, 1..100000 (default 400)
  --out DIR      output folder (default out), made if missing
  --name NAME    output stem (default: the model file's name + _calibration)
  --quiet        print nothing but errors

Output: DIR/NAME.md with the command, the fitted parameters (start, fit,
bounds, influence on the statistics; notes for a parameter on a bound or
not determined by the statistics), the fit per statistic (target,
published, se, weight, simulated at the start and at the fit, residual),
every target of the model at the start and at the fit against its
published 95 % interval (those the fit moved outside are named, and
printed), and a comment block with the provenance and fitted values for
the model file. Exit status 1 when the optimiser did not converge.

Example
  radiokin scripts/model_calibrate.lua models/lu177_dotatate.lua --patients 200 --out reports]]

local function usage(msg)
  error((msg and msg .. "\n" or "") .. USAGE, 0)
end

local OPTIONS = {
  ["--patients"] = { "patients", "integer", 2, 20000 },
  ["--seed"] = { "seed", "integer", 0, 2 ^ 31 - 1 },
  ["--maxeval"] = { "maxeval", "integer", 1, 100000 },
  ["--out"] = { "out", "value" },
  ["--name"] = { "name", rk.option_stem },
  ["--quiet"] = { "quiet", "flag" },
}

function M.parse_args(args)
  local o, files = rk.options(args, OPTIONS, usage,
    { patients = 200, seed = 1, maxeval = 400, out = "out" })
  if o.help then return o end
  if #files > 1 then
    usage("one model file only (got '" .. files[1] .. "' and '" .. files[2]
      .. "')")
  end
  o.model = files[1]
  if not o.model then usage("a model file is required") end
  if not o.name then
    o.name = (o.model:match("([^/]+)%.lua$") or o.model:match("([^/]+)$"))
      .. "_calibration"
  end
  return o
end

-- ------------------------------------------------------------ the problem

-- Checks the calibration table of model file `path`; returns the list of
-- statistics { target =, index =, stat =, value =, se = }.
function M.statistics(model, path)
  local function bad(msg) error(path .. ": calibration: " .. msg, 0) end
  local cal = model.calibration
  if type(cal) ~= "table" then
    bad("field 'calibration' is missing (a table { params =, targets = })")
  end
  if type(model.population_spec) ~= "table" then
    error(path .. ": field 'population_spec' (the table given to "
      .. "rk.population) is missing", 0)
  end
  if type(cal.params) ~= "table" or #cal.params == 0 then
    bad("field 'params' must list at least one parameter")
  end
  local seen = {}
  for i, p in ipairs(cal.params) do
    local w = ("params[%d]"):format(i)
    if p.what ~= "theta" and p.what ~= "cv" and p.what ~= "cov_sd" then
      bad(w .. ": 'what' must be \"theta\", \"cv\" or \"cov_sd\" (got "
        .. tostring(p.what) .. ")")
    end
    if p.what == "cov_sd" then
      local c = (model.population_spec.covariates or {})[p.name]
      if type(p.name) ~= "string" or type(c) ~= "table" or not c.sd then
        bad(w .. ": 'name' must be a sampled covariate with an sd (got "
          .. tostring(p.name) .. ")")
      end
    elseif type(p.name) ~= "string" or model.model.params[p.name] == nil then
      local names = {}
      for k in pairs(model.model.params) do names[#names + 1] = k end
      table.sort(names)
      bad(w .. ": 'name' must be a parameter of the model (got "
        .. tostring(p.name) .. "); the model's parameters are "
        .. table.concat(names, ", "))
    elseif p.what == "cv" and not (type((model.population_spec.cv or {})[p.name])
        == "number") then
      bad(w .. ": the population has no IIV on '" .. p.name
        .. "' (no population_spec.cv." .. p.name .. ") to calibrate")
    end
    if type(p.lower) ~= "number" or type(p.upper) ~= "number"
        or not (p.lower > 0 and p.lower < p.upper) then
      bad(w .. ": bounds must be numbers 0 < lower < upper")
    end
    local key = p.what .. "." .. p.name
    if seen[key] then bad(w .. ": " .. key .. " is listed twice") end
    seen[key] = true
  end
  if type(cal.targets) ~= "table" or #cal.targets == 0 then
    bad("field 'targets' must list at least one statistic")
  end
  local out = {}
  for i, c in ipairs(cal.targets) do
    local w = ("targets[%d]"):format(i)
    local tg = model.targets[c.target]
    if not tg then
      bad(w .. ": 'target' must index the model's targets (got "
        .. tostring(c.target) .. ")")
    end
    local s = { target = tg, index = c.target, stat = c.stat }
    if c.stat == "mean" then
      s.value = tg.mean
      if c.se then s.se = c.se
      elseif tg.ci then s.se = (tg.ci[2] - tg.ci[1]) / 3.92
      elseif tg.sd and tg.n then s.se = tg.sd / math.sqrt(tg.n) end
    elseif c.stat == "sd" then
      s.value = tg.sd
      if c.se then s.se = c.se
      elseif tg.sd and tg.n and tg.n >= 2 then
        s.se = tg.sd / math.sqrt(2 * (tg.n - 1))
      end
    elseif c.stat == "median" then
      s.value, s.se = tg.median, c.se
    else
      bad(w .. ": 'stat' must be \"mean\", \"sd\" or \"median\" (got "
        .. tostring(c.stat) .. ")")
    end
    if type(s.value) ~= "number" then
      bad(w .. ": target " .. c.target .. " has no published " .. c.stat)
    end
    if type(s.se) ~= "number" or not (s.se > 0) then
      bad(w .. ": no standard error for the " .. c.stat .. " of target "
        .. c.target .. " (give se =)")
    end
    if tg.quantity ~= "retention_pct" and not model.regions[tg.region] then
      bad(w .. ": target " .. c.target .. " is of region '" .. tg.region
        .. "', which the model does not have")
    end
    out[#out + 1] = s
  end
  return out
end

-- The population with the trial values x (one per calibration param).
local function population_at(model, x)
  local spec, cal = model.population_spec, model.calibration
  local s = {}
  for k, v in pairs(spec) do s[k] = v end
  local theta, cv, covs = {}, {}, {}
  for k, v in pairs(spec.theta or {}) do theta[k] = v end
  for k, v in pairs(spec.cv or {}) do cv[k] = v end
  for k, v in pairs(spec.covariates or {}) do covs[k] = v end
  for i, p in ipairs(cal.params) do
    if p.what == "theta" then theta[p.name] = x[i]
    elseif p.what == "cv" then cv[p.name] = x[i]
    else
      local c = {}
      for k, v in pairs(covs[p.name]) do c[k] = v end
      c.sd = x[i]
      covs[p.name] = c
    end
  end
  s.theta, s.cv, s.covariates = theta, cv, covs
  return rk.population(s)
end

-- The simulated value of each statistic for the trial values x.
function M.evaluate(model, stats, x, n, seed)
  local pop = population_at(model, x)
  local view = setmetatable({ population = pop }, { __index = model })
  local sim = report.simulate(view, n, seed)
  if #sim.failed > 0 then
    error(("%d of %d patients failed at x = {%s} (first: %s)"):format(
      #sim.failed, n, table.concat(x, ", "), sim.failed[1].message), 0)
  end
  local v = {}
  for i, s in ipairs(stats) do
    local tg, series = s.target
    if tg.quantity == "Gy/GBq" then series = sim.dose[tg.region]
    elseif tg.quantity == "Teff_h" then series = sim.teff[tg.region]
    else series = sim.retention[tg.time_h] end
    local st = report.stats(series)
    v[i] = st[s.stat]
    if type(v[i]) ~= "number" or v[i] ~= v[i] then
      error(("statistic %d (%s of target %d, %s %s): no simulated value at "
        .. "x = {%s} (%d of %d patients had one)"):format(i, s.stat,
        s.index, tg.region, tg.quantity, table.concat(x, ", "), st.n, n), 0)
    end
  end
  return v
end

function M.objective(stats, v)
  local f = 0
  for i, s in ipairs(stats) do f = f + ((v[i] - s.value) / s.se) ^ 2 end
  return f
end

-- The typical value or CV a calibration param starts from.
local function start_value(model, p)
  local spec = model.population_spec
  if p.what == "theta" then
    return (spec.theta and spec.theta[p.name]) or model.model.params[p.name]
  elseif p.what == "cov_sd" then
    return spec.covariates[p.name].sd
  end
  return spec.cv and spec.cv[p.name]
end

function M.calibrate(model, stats, o)
  local cal = model.calibration
  local x0, lo, hi = {}, {}, {}
  for i, p in ipairs(cal.params) do
    local v = start_value(model, p)
    if type(v) ~= "number" then
      error(("calibration params[%d]: %s.%s has no starting value in the "
        .. "model"):format(i, p.what, p.name), 0)
    end
    v = math.min(math.max(v, p.lower), p.upper)
    x0[i], lo[i], hi[i] = math.log(v), math.log(p.lower), math.log(p.upper)
  end
  local function values(u)
    local x = {}
    for i = 1, #u do x[i] = math.exp(u[i]) end
    return x
  end
  local v0 = M.evaluate(model, stats, values(x0), o.patients, o.seed)
  local trace = {}
  local r = rk.optimize {
    f = function(u)
      local v = M.evaluate(model, stats, values(u), o.patients, o.seed)
      local f = M.objective(stats, v)
      trace[#trace + 1] = f
      return f
    end,
    x0 = x0, lower = lo, upper = hi, maxeval = o.maxeval,
    xtol_rel = o.xtol_rel or 1e-4,
  }
  local x = values(r.x)
  local v1 = M.evaluate(model, stats, x, o.patients, o.seed)
  local res = { start = values(x0), fit = x, v0 = v0, v1 = v1,
                f0 = M.objective(stats, v0), f1 = M.objective(stats, v1),
                evals = r.evals, status = r.status, converged = r.converged }
  res.at_bound = M.at_bounds(cal.params, x)
  res.influence = M.influence(model, stats, x, o.patients, o.seed)
  res.rows0 = M.targets_at(model, values(x0), o.patients, o.seed)
  res.rows1 = M.targets_at(model, x, o.patients, o.seed)
  res.worse = M.worse(res.rows0, res.rows1)
  return res
end

-- Per parameter: "lower" or "upper" when the fit lies within 0.1 % (of
-- the log range) of that bound, else nil. A parameter on its bound is not
-- fitted by the statistics: the bound chose it.
function M.at_bounds(params, x)
  local at = {}
  for i, p in ipairs(params) do
    local u, lo, hi = math.log(x[i]), math.log(p.lower), math.log(p.upper)
    local tol = 1e-3 * (hi - lo)
    if u - lo <= tol then at[i] = "lower"
    elseif hi - u <= tol then at[i] = "upper" end
  end
  return at
end

-- How much the statistics move with each parameter at x: per parameter j
-- the norm over statistics i of d r_i / d ln x_j (r_i = (sim - pub) / se,
-- central differences with a 1 % step on ln x_j; common random numbers
-- make them differences of a smooth function). A parameter whose norm is
-- below INFLUENCE_MIN (doubling it would move the residuals by less than
-- 0.035 se together) is not determined by these statistics.
M.INFLUENCE_MIN = 0.05
M.INFLUENCE_STEP = 0.01
function M.influence(model, stats, x, n, seed)
  local out = {}
  local h = M.INFLUENCE_STEP
  for j = 1, #x do
    local up, dn = {}, {}
    for k = 1, #x do up[k], dn[k] = x[k], x[k] end
    up[j], dn[j] = x[j] * math.exp(h), x[j] * math.exp(-h)
    local vu = M.evaluate(model, stats, up, n, seed)
    local vd = M.evaluate(model, stats, dn, n, seed)
    local ss, d = 0, {}
    for i, s in ipairs(stats) do
      d[i] = (vu[i] - vd[i]) / (2 * h * s.se)
      ss = ss + d[i] ^ 2
    end
    out[j] = { norm = math.sqrt(ss), d = d }
  end
  return out
end

-- Every target of the model (calibrated or not, scripts/model_report.lua's
-- comparison with its published 95 % intervals) at the trial values x.
function M.targets_at(model, x, n, seed)
  local pop = population_at(model, x)
  local view = setmetatable({ population = pop }, { __index = model })
  return report.compare(model, report.simulate(view, n, seed))
end

-- The targets inside their published interval at the start and outside
-- it at the fit: what the calibration made worse.
function M.worse(rows0, rows1)
  local w = {}
  for i, r1 in ipairs(rows1) do
    if r1.status == "OUTSIDE" and rows0[i].status ~= "OUTSIDE" then
      w[#w + 1] = i
    end
  end
  return w
end

-- The command that reproduces a calibration, for the model file's
-- provenance comment.
function M.command(o)
  return ("radiokin scripts/model_calibrate.lua %s --patients %d --seed %d "
    .. "--maxeval %d"):format(o.model or "MODEL.lua", o.patients, o.seed,
    o.maxeval)
end

local function g(x) return x and ("%.4g"):format(x) or "-" end

local function cell(s)
  return (tostring(s):gsub("[\r\n]", " "):gsub("|", "\\|"))
end

function M.markdown(model, o, stats, res)
  local out = {}
  local function add(s) out[#out + 1] = s end
  add(("# Calibration: %s"):format(cell(model.model.name or o.name)))
  add("")
  add(("Weighted least squares on the statistics of %d virtual patients "
    .. "(seed %d, the same patients at every evaluation); rk.optimize "
    .. "(NLopt BOBYQA, log parameters): %d evaluations, status %s%s."):format(
    o.patients, o.seed, res.evals, res.status,
    res.converged and "" or " (**not converged**)"))
  add(("Objective sum((sim - pub) / se)^2: %s at the start, %s at the "
    .. "fit. Model file: %s (radiokin %s)."):format(g(res.f0), g(res.f1),
    cell(o.model), rk.version))
  add("")
  add("Command: `" .. cell(M.command(o)) .. "`")
  add("")
  local params = model.calibration.params
  if #params > #stats then
    add(("**%d parameters for %d statistics**: the statistics cannot "
      .. "determine them all; the fit is one of many that match them "
      .. "equally (see the influence column)."):format(#params, #stats))
    add("")
  end
  add("## Parameters")
  add("")
  add("Influence: the norm over the statistics of d residual / d ln "
    .. "parameter at the fit (central differences, 1 % step); below "
    .. g(M.INFLUENCE_MIN) .. " the statistics do not determine the "
    .. "parameter.")
  add("")
  add("| parameter | start | fit | lower | upper | influence | note |")
  add("|---|---|---|---|---|---|---|")
  for i, p in ipairs(params) do
    add(("| %s %s | %s | %s | %s | %s | %s | %s |"):format(p.what, p.name,
      g(res.start[i]), g(res.fit[i]), g(p.lower), g(p.upper),
      g(res.influence[i].norm), M.notes(res, i)))
  end
  add("")
  add("## Fit")
  add("")
  add("Residual = (simulated - published) / se; weight = 1 / se^2.")
  add("")
  add("| # | target | stat | published | se | weight | simulated (start) "
    .. "| simulated (fit) | residual | source |")
  add("|---|---|---|---|---|---|---|---|---|---|")
  for i, s in ipairs(stats) do
    local tg = s.target
    add(("| %d | %s %s%s | %s | %s | %s | %s | %s | %s | %+.2f | %s |")
      :format(s.index, cell(tg.region), cell(tg.quantity),
      tg.time_h and (" at " .. g(tg.time_h) .. " h") or "", s.stat,
      g(s.value), g(s.se), g(1 / s.se ^ 2), g(res.v0[i]), g(res.v1[i]),
      (res.v1[i] - s.value) / s.se, cell(tg.paper)))
  end
  add("")
  add("## Every target, at the start and at the fit")
  add("")
  add("All the model's targets (calibrated or not) against their published "
    .. "95 % intervals (scripts/model_report.lua's rule), on the same "
    .. "patients.")
  add("")
  if #res.worse > 0 then
    local w = {}
    for _, i in ipairs(res.worse) do w[#w + 1] = "#" .. i end
    add("**Outside their published interval at the fit, inside at the "
      .. "start: " .. table.concat(w, ", ") .. ".**")
  else
    add("No target left its published interval by the calibration.")
  end
  add("")
  add("| # | target | role | published | simulated (start) | status (start) "
    .. "| simulated (fit) | status (fit) |")
  add("|---|---|---|---|---|---|---|---|")
  for i, r1 in ipairs(res.rows1) do
    local r0, tg = res.rows0[i], r1.target
    add(("| %d | %s %s%s | %s | %s | %s | %s | %s | %s |"):format(i,
      cell(tg.region), cell(tg.quantity),
      tg.time_h and (" at " .. g(tg.time_h) .. " h") or "", tg.role,
      M.published(tg), M.simulated(tg, r0), r0.status,
      M.simulated(tg, r1), r1.status))
  end
  add("")
  add("## For the model file")
  add("")
  add("```lua")
  add("-- calibrated by " .. M.command(o) .. " (radiokin " .. rk.version
    .. "): " .. o.patients .. " patients, seed " .. o.seed
    .. (", objective %s -> %s, %d evaluations, %s"):format(g(res.f0),
      g(res.f1), res.evals, res.status))
  for i, p in ipairs(params) do
    add(("--   %s %s = %.4g"):format(p.what, p.name, res.fit[i]))
  end
  add("```")
  return table.concat(out, "\n") .. "\n"
end

-- A parameter's notes: on a bound, not determined by the statistics.
function M.notes(res, i)
  local n = {}
  if res.at_bound[i] then n[#n + 1] = "at its " .. res.at_bound[i] .. " bound" end
  if res.influence[i].norm < M.INFLUENCE_MIN then
    n[#n + 1] = "not determined by the statistics"
  end
  return table.concat(n, "; ")
end

function M.published(tg)
  if tg.quantity == "Teff_h" then return "median " .. g(tg.median) end
  return g(tg.mean) .. (tg.sd and (" +- " .. g(tg.sd)) or "")
end

function M.simulated(tg, row)
  if not row.sim then return "-" end
  if tg.quantity == "Teff_h" then return "median " .. g(row.sim.median) end
  return g(row.sim.mean) .. " +- " .. g(row.sim.sd)
end

function M.run(o)
  local model = report.load(o.model)
  local stats = M.statistics(model, o.model)
  local res = M.calibrate(model, stats, o)
  rk.mkdir(o.out)
  local md = o.out .. "/" .. o.name .. ".md"
  rk.write_atomic(md, M.markdown(model, o, stats, res))
  return { model = model, stats = stats, result = res, files = { md } }
end

function M.main(args)
  local o = M.parse_args(args)
  if o.help then
    print(M.HELP)
    return
  end
  local r = M.run(o)
  if not o.quiet then
    local res = r.result
    for i, p in ipairs(r.model.calibration.params) do
      print(("%-5s %-8s start %-10s fit %s"):format(p.what, p.name,
        g(res.start[i]), g(res.fit[i])))
    end
    for i, s in ipairs(r.stats) do
      print(("#%-2d %-9s %-13s %-6s pub %-8s sim %-8s residual %+.2f")
        :format(s.index, s.target.region, s.target.quantity, s.stat,
        g(s.value), g(res.v1[i]), (res.v1[i] - s.value) / s.se))
    end
    print(("objective %s -> %s, %d evaluations (%s)"):format(g(res.f0),
      g(res.f1), res.evals, res.status))
    for i, p in ipairs(r.model.calibration.params) do
      local note = M.notes(res, i)
      if note ~= "" then print(("note: %s %s: %s"):format(p.what, p.name, note)) end
    end
    for _, i in ipairs(res.worse) do
      local tg = r.model.targets[i]
      print(("worse: target #%d (%s %s, %s) is outside its published "
        .. "interval at the fit, inside at the start"):format(i, tg.region,
        tg.quantity, tg.role))
    end
    print("written: " .. table.concat(r.files, ", "))
  end
  if not r.result.converged then
    error("the optimiser stopped before converging (" .. r.result.status
      .. "): raise --maxeval", 0)
  end
  return r
end

if arg and arg[0] and debug.getinfo(1, "S").source == "@" .. arg[0] then
  M.main(arg)
end
return M
