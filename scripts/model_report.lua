-- model_report.lua - validation report of a 177Lu population model against
-- the published dosimetry it states: N virtual patients of one label cycle
-- (the model file's activity_MBq and interval_h), per region the absorbed
-- dose per administered activity (Gy/GBq: mean, SD, median, P5-P95)
-- beside each published target of the model file (paper, table,
-- measurement method, whether the number was read in the source), the
-- effective half-lives, the decay-corrected whole-body retention, and the
-- targets the model misses.
--
--   radiokin scripts/model_report.lua models/lu177_psma.lua
--            [--patients 500] [--seed 1] [--out DIR] [--name NAME]
--            [--no-plots] [--quiet] [--model-opt KEY=VALUE ...]
--
-- Input: a population model file returning { model =, population =,
-- regions =, targets =, dose_to =, activity_MBq =, interval_h = } (see
-- models/README.md); optional: urine = state (cumulative urinary
-- excretion, reported decay-corrected), cycle_doses = function(A0_MBq)
-- -> dose records of one cycle (default one bolus of A0 into dose_to),
-- lambda_per_h = decay constant for the decay correction (default the
-- model's nuclide; for models with decay in their equations),
-- compare_with = another model file beside it (its Gy/GBq are listed). targets[i] = { region =, quantity = "Gy/GBq" |
-- "Teff_h" | "retention_pct" (region "whole body", time_h = one of 24,
-- 48, 72, 168), mean = | median =, sd =, n =, ci = {lo, hi} (optional),
-- range = {lo, hi} (optional), role = "calibration" | "comparison",
-- check_sd = false (optional), method =, paper =, table =, read = }.
--
-- What is computed, per patient (m:simulate with the patient's parameters,
-- one bolus of activity_MBq at t = 0 into dose_to):
--   dose      TIA of the region's dose-rate output over [0, interval_h]
--             (Gy), divided by the activity in GBq
--   Teff      effective half-life of the region's activity: ln 2 / b, b
--             the least-squares slope of -ln A(t) over 24, 48, 72, 168 h
--             (a mono-exponential fit over the late imaging points; an
--             activity still rising gives b <= 0 and is counted, not
--             averaged)
--   retention decay-corrected whole-body retention (the output A_WB, or
--             the sum of all states without it, / (A0 e^-lambda t)) at 24,
--             48, 72 and 168 h, in % of the administered activity
--
-- Published 95 % intervals (the drift rule of tests/model_report.lua):
--   mean  the target's ci when given, else mean +- t(0.975, n - 1) SD /
--         sqrt(n) (Student t, Cornish-Fisher expansion)
--   SD    [SD sqrt((n - 1) / chi2(0.975, n - 1)), SD sqrt((n - 1) /
--         chi2(0.025, n - 1))] (Wilson-Hilferty chi-square quantiles)
-- A target without SD or n has no interval: shown, never flagged. A target
-- of a region the model does not have is listed as "not modelled"; one
-- with no simulated value (every patient failed) as "FAILED", a drift when
-- it is a calibration target. Failed patients are left out of every
-- statistic, counted in the report, and make the exit status non-zero.
-- Simulated mean outside the mean interval, or SD outside the SD interval
-- (unless check_sd = false), is "OUTSIDE" in the report; a calibration
-- target outside is a drift of the model from what it claims.
--
-- Writes DIR/NAME.md (the report) and DIR/NAME.png (simulated mean and
-- P5-P95 per target beside the published mean and its 95 % interval,
-- gnuplot; skipped with a warning without gnuplot), atomically. NAME
-- defaults to the model file's name without .lua; DIR to out.
local rk = require "radiokin"

local M = {}

local USAGE = "usage: radiokin scripts/model_report.lua MODEL.lua "
  .. "[--patients N] [--seed S] [--out DIR] [--name NAME] [--no-plots] "
  .. "[--quiet] [--model-opt KEY=VALUE ...]"

M.TEFF_TIMES = { 24, 48, 72, 168 }
M.RETENTION_TIMES = { 24, 48, 72, 168 }

M.HELP = USAGE .. [[


Validation report of a population model against the published dosimetry
its file states (its `targets` table).

Input: MODEL.lua, a population model file returning
  { model = rk.model{...}, population = rk.population{...},
    regions = { kidney = { activity =, dose_rate =, ... }, ... },
    targets = { { region =, quantity = "Gy/GBq" | "Teff_h" |
                  "retention_pct" (with time_h), mean = | median =,
                  sd =, n =, role = "calibration" | "comparison",
                  method =, paper =, table =, read = true | false }, ... },
    dose_to = state, activity_MBq = MBq per cycle, interval_h = h }
and optionally urine = state (cumulative urinary excretion), cycle_doses =
function(A0_MBq) -> dose records of a cycle, lambda_per_h = decay constant
for the decay correction, compare_with = a model file beside it whose
Gy/GBq are listed next to this model's (models/lu177_dotatate.lua,
models/lu177_dotatate_spect.lua, models/lu177_psma.lua,
models/lu177_psma_pbrpk.lua).

Options
  --patients N   virtual patients, integer 2..100000 (default 500)
  --seed S       random seed, integer >= 0 (default 1)
  --out DIR      output folder (default out), made if missing
  --name NAME    output file stem (default: the model file's name)
  --no-plots     no PNG
  --quiet        print nothing but errors and warnings
  --model-opt K=V  passed to the model file as opts.K (repeatable; a number
                 when V reads as one), e.g. measurement=spect for
                 models/lu177_dotatate.lua, sbml=PATH for
                 models/lu177_psma_pbrpk.lua

Outputs (in DIR, atomic)
  NAME.md        per region Gy/GBq mean, SD, median, P5-P95; effective
                 half-lives (h, mono-exponential fit at 24-168 h);
                 decay-corrected whole-body retention (%) and urinary
                 excretion (%, with urine =); every target
                 with its published value, n, 95 % intervals of its mean
                 and SD, the simulated value, sim/pub, status (inside,
                 OUTSIDE, no interval, not modelled), role, method
                 (planar / SPECT / hybrid), read, paper and table; the
                 targets the model misses
  NAME.png       simulated mean and P5-P95 beside the published mean and
                 its 95 % interval, per Gy/GBq target (gnuplot)

The drift rule: a calibration target is OUTSIDE (a drift) when the
simulated mean lies outside mean +- t(0.975, n-1) SD / sqrt(n), or the
simulated SD outside the chi-square 95 % interval of the published SD
(unless check_sd = false). tests/model_report.lua runs 500 patients per
model and fails on a drift.

Example
  radiokin scripts/model_report.lua models/lu177_psma.lua --patients 500 --out reports]]

local function usage(msg)
  error((msg and msg .. "\n" or "") .. USAGE, 0)
end

local function model_opt(v, name)
  local k, x = v:match("^([%a_][%w_]*)=(.*)$")
  if not k then usage(name .. " needs KEY=VALUE (got '" .. v .. "')") end
  return { k, tonumber(x) or x }
end

local OPTIONS = {
  ["--patients"] = { "patients", "integer", 2, 100000 },
  ["--seed"] = { "seed", "integer", 0, 2 ^ 31 - 1 },
  ["--out"] = { "out", "value" },
  ["--name"] = { "name", rk.option_stem },
  ["--model-opt"] = { "model_opt", model_opt, after = function(o, kv)
    o.model_opts = o.model_opts or {}
    o.model_opts[kv[1]] = kv[2]
  end },
  ["--no-plots"] = { "plots", "flag", value = false },
  ["--quiet"] = { "quiet", "flag" },
}

function M.parse_args(args)
  local o, files = rk.options(args, OPTIONS, usage,
    { patients = 500, seed = 1, out = "out", plots = true })
  if o.help then return o end
  if #files > 1 then
    usage("one model file only (got '" .. files[1] .. "' and '" .. files[2]
      .. "')")
  end
  o.model = files[1]
  o.model_opt = nil
  if not o.model then usage("a model file is required") end
  if not o.name then
    o.name = o.model:match("([^/]+)%.lua$") or o.model:match("([^/]+)$")
  end
  return o
end

-- ------------------------------------------------------------- statistics

-- Standard normal quantile (Acklam's rational approximation, relative
-- error < 1.2e-9), for the t and chi-square quantiles below.
function M.z_quantile(p)
  assert(p > 0 and p < 1, "z_quantile: p must be in (0, 1)")
  local a = { -3.969683028665376e+01, 2.209460984245205e+02,
    -2.759285104469687e+02, 1.383577518672690e+02, -3.066479806614716e+01,
    2.506628277459239e+00 }
  local b = { -5.447609879822406e+01, 1.615858368580409e+02,
    -1.556989798598866e+02, 6.680131188771972e+01, -1.328068155288572e+01 }
  local c = { -7.784894002430293e-03, -3.223964580411365e-01,
    -2.400758277161838e+00, -2.549732539343734e+00, 4.374664141464968e+00,
    2.938163982698783e+00 }
  local d = { 7.784695709041462e-03, 3.224671290700398e-01,
    2.445134137142996e+00, 3.754408661907416e+00 }
  local lo = 0.02425
  if p < lo then
    local q = math.sqrt(-2 * math.log(p))
    return (((((c[1] * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) * q
      + c[6]) / ((((d[1] * q + d[2]) * q + d[3]) * q + d[4]) * q + 1)
  elseif p > 1 - lo then
    return -M.z_quantile(1 - p)
  end
  local q = p - 0.5
  local r = q * q
  return (((((a[1] * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * r
    + a[6]) * q / (((((b[1] * r + b[2]) * r + b[3]) * r + b[4]) * r + b[5])
    * r + 1)
end

-- Student t quantile with nu degrees of freedom: Cornish-Fisher expansion
-- in 1/nu to the fourth term (Abramowitz & Stegun 26.7.5); within 1e-3 of
-- the tables for nu >= 5 at p = 0.975.
function M.t_quantile(p, nu)
  local z = M.z_quantile(p)
  local z2 = z * z
  local g1 = (z2 + 1) * z / 4
  local g2 = ((5 * z2 + 16) * z2 + 3) * z / 96
  local g3 = (((3 * z2 + 19) * z2 + 17) * z2 - 15) * z / 384
  local g4 = ((((79 * z2 + 776) * z2 + 1482) * z2 - 1920) * z2 - 945) * z
    / 92160
  return z + g1 / nu + g2 / nu ^ 2 + g3 / nu ^ 3 + g4 / nu ^ 4
end

-- Chi-square quantile with k degrees of freedom (Wilson-Hilferty).
function M.chi2_quantile(p, k)
  local z = M.z_quantile(p)
  local h = 2 / (9 * k)
  return k * (1 - h + z * math.sqrt(h)) ^ 3
end

-- The published 95 % intervals of a target's mean and SD (nil when the
-- target does not state what they need).
function M.intervals(tg)
  local mean_ci, sd_ci
  if tg.ci then
    mean_ci = { tg.ci[1], tg.ci[2] }
  elseif tg.mean and tg.sd and tg.n and tg.n >= 2 then
    local h = M.t_quantile(0.975, tg.n - 1) * tg.sd / math.sqrt(tg.n)
    mean_ci = { tg.mean - h, tg.mean + h }
  end
  if tg.sd and tg.n and tg.n >= 2 then
    local k = tg.n - 1
    sd_ci = { tg.sd * math.sqrt(k / M.chi2_quantile(0.975, k)),
              tg.sd * math.sqrt(k / M.chi2_quantile(0.025, k)) }
  end
  return mean_ci, sd_ci
end

-- mean, SD (n - 1), median, P5, P95 of the finite values of x (type 7
-- quantiles, as c:summary), and how many were left out.
function M.stats(x)
  local s = {}
  for _, v in ipairs(x) do
    if v == v and v > -math.huge and v < math.huge then s[#s + 1] = v end
  end
  table.sort(s)
  local n = #s
  if n == 0 then return { n = 0, left_out = #x } end
  local sum = 0
  for _, v in ipairs(s) do sum = sum + v end
  local mean = sum / n
  local ss = 0
  for _, v in ipairs(s) do ss = ss + (v - mean) ^ 2 end
  local function q(p)
    local h = (n - 1) * p + 1
    local i = math.floor(h)
    if i >= n then return s[n] end
    return s[i] + (h - i) * (s[i + 1] - s[i])
  end
  return { n = n, left_out = #x - n, mean = mean,
           sd = n > 1 and math.sqrt(ss / (n - 1)) or 0, median = q(0.5),
           p5 = q(0.05), p95 = q(0.95) }
end

-- Effective half-life (h) from activities a at times t: ln 2 over the
-- least-squares slope of -ln a; nil when the activity does not fall.
function M.teff(t, a)
  local n, st, sy, stt, sty = #t, 0, 0, 0, 0
  for i = 1, n do
    if not (a[i] > 0) then return nil end
    local y = math.log(a[i])
    st, sy = st + t[i], sy + y
    stt, sty = stt + t[i] ^ 2, sty + t[i] * y
  end
  local b = -(n * sty - st * sy) / (n * stt - st ^ 2)
  if not (b > 0) then return nil end
  return math.log(2) / b
end

-- ------------------------------------------------------------- the model

local function check_model(M_, path)
  local function bad(msg) error(path .. ": " .. msg, 0) end
  if type(M_) ~= "table" then
    bad("must return a table { model =, population =, regions =, "
      .. "targets =, ... } (got " .. type(M_) .. ")")
  end
  for _, k in ipairs { "model", "population", "regions", "targets" } do
    if M_[k] == nil then bad("field '" .. k .. "' is missing") end
  end
  for _, k in ipairs { "activity_MBq", "interval_h" } do
    if type(M_[k]) ~= "number" or not (M_[k] > 0) then
      bad("field '" .. k .. "' must be a number > 0")
    end
  end
  if type(M_.dose_to) ~= "string" then
    bad("field 'dose_to' must be a state name")
  end
  for i, tg in ipairs(M_.targets) do
    local where = ("targets[%d]"):format(i)
    if type(tg.region) ~= "string" then
      bad(where .. ": field 'region' must be a string")
    end
    if tg.quantity ~= "Gy/GBq" and tg.quantity ~= "Teff_h"
        and tg.quantity ~= "retention_pct" then
      bad(where .. ": field 'quantity' must be \"Gy/GBq\", \"Teff_h\" or "
        .. "\"retention_pct\" (got " .. tostring(tg.quantity) .. ")")
    end
    if tg.quantity == "retention_pct" then
      local ok = false
      for _, t in ipairs(M.RETENTION_TIMES) do ok = ok or tg.time_h == t end
      if not ok then
        bad(where .. ": field 'time_h' must be one of "
          .. table.concat(M.RETENTION_TIMES, ", ") .. " h (got "
          .. tostring(tg.time_h) .. ")")
      end
    end
    if tg.role ~= "calibration" and tg.role ~= "comparison" then
      bad(where .. ": field 'role' must be \"calibration\" or "
        .. "\"comparison\" (got " .. tostring(tg.role) .. ")")
    end
    for _, k in ipairs { "paper", "table", "method" } do
      if type(tg[k]) ~= "string" or tg[k] == "" then
        bad(where .. ": field '" .. k .. "' must be a non-empty string")
      end
    end
    if type(tg.read) ~= "boolean" then
      bad(where .. ": field 'read' must be true or false")
    end
    local v = tg.mean or tg.median
    if type(v) ~= "number" or not (v > 0) then
      bad(where .. ": field 'mean' or 'median' must be a number > 0")
    end
    for _, k in ipairs { "sd", "n" } do
      if tg[k] ~= nil and (type(tg[k]) ~= "number" or not (tg[k] > 0)) then
        bad(where .. ": field '" .. k .. "' must be a number > 0")
      end
    end
    if tg.quantity == "Teff_h" and type(tg.median) ~= "number" then
      bad(where .. ": a Teff_h target needs its published 'median' (h)")
    end
    if tg.ci ~= nil and (type(tg.ci) ~= "table" or type(tg.ci[1]) ~= "number"
        or type(tg.ci[2]) ~= "number" or not (tg.ci[1] < tg.ci[2])) then
      bad(where .. ": field 'ci' must be { low, high } with low < high")
    end
    if tg.role == "calibration" and not (tg.sd and tg.n or tg.ci) then
      bad(where .. ": a calibration target needs sd and n (or ci), else "
        .. "it has no interval to drift from")
    end
  end
end

-- opts: the table the model file receives as its argument (... ), e.g.
-- { measurement = "spect" } or { sbml = path }; nil for none.
function M.load(path, opts)
  local chunk, err = loadfile(path)
  if not chunk then error(err, 0) end
  local ok, res = pcall(chunk, opts)
  if not ok then error(path .. ": " .. tostring(res), 0) end
  check_model(res, path)
  return res
end

-- Simulates n patients; returns per region the dose per GBq and Teff of
-- each patient, the whole-body retention per time, and the failures.
function M.simulate(model, n, seed)
  local m, reg = model.model, model.regions
  local names = {}
  for r in pairs(reg) do names[#names + 1] = r end
  table.sort(names)
  local rates = {}
  for i, r in ipairs(names) do rates[i] = reg[r].dose_rate end
  local times = {}
  for _, t in ipairs(M.TEFF_TIMES) do times[#times + 1] = t end
  for _, t in ipairs(M.RETENTION_TIMES) do
    local seen = false
    for _, u in ipairs(times) do seen = seen or u == t end
    if not seen then times[#times + 1] = t end
  end
  table.sort(times)
  if times[#times] > model.interval_h then
    error(("model interval_h %g h is shorter than the last report time "
      .. "%g h"):format(model.interval_h, times[#times]), 0)
  end
  times[#times + 1] = model.interval_h
  local index = {}
  for i, t in ipairs(times) do index[t] = i end
  -- decay constant for the decay correction: the model's nuclide, or the
  -- model file's lambda_per_h when decay is in the equations themselves
  -- (an SBML model with decay reactions)
  local lam = model.lambda_per_h or m.lambda
  local A0, gbq = model.activity_MBq, model.activity_MBq / 1000
  local doses = model.cycle_doses and model.cycle_doses(A0)
    or { { time = 0, amount = A0, to = model.dose_to } }
  local states = m.states
  -- the model's whole-body activity output when it has one (A_WB,
  -- radiokin.organdose whole_body), else the sum of its states
  local wb
  for _, o in ipairs(m.outputs) do if o == "A_WB" then wb = o end end
  local is_state = {}
  for _, s in ipairs(states) do is_state[s] = true end
  local ps = model.population:sample { n = n, seed = seed }
  local dose, teff, ret, exc = {}, {}, {}, {}
  for _, r in ipairs(names) do dose[r], teff[r] = {}, {} end
  for _, t in ipairs(M.RETENTION_TIMES) do ret[t], exc[t] = {}, {} end
  -- the urine state (model file field urine): cumulative excretion
  local urine = model.urine
  if urine ~= nil and not is_state[urine] then
    error(("model field 'urine' = '%s' is not a state of the model")
      :format(tostring(urine)), 0)
  end
  local failed = {}
  for k = 1, n do
    local p = ps[k]
    local params = {}
    for name in pairs(m.params) do params[name] = p[name] end
    local ok, r = pcall(m.simulate, m, { params = params, times = times,
      tia = rates, doses = doses })
    if not ok then
      failed[#failed + 1] = { id = k, message = tostring(r) }
      for _, rn in ipairs(names) do
        dose[rn][k], teff[rn][k] = 0 / 0, 0 / 0
      end
      for _, t in ipairs(M.RETENTION_TIMES) do
        ret[t][k], exc[t][k] = 0 / 0, 0 / 0
      end
    else
      for i, rn in ipairs(names) do
        dose[rn][k] = r.tia[rates[i]] / gbq
        local act = reg[rn].activity
        local series = is_state[act] and r.states[act] or r.outputs[act]
        local tt, aa = {}, {}
        for j, t in ipairs(M.TEFF_TIMES) do
          tt[j], aa[j] = t, series[index[t]]
        end
        teff[rn][k] = M.teff(tt, aa) or math.huge
      end
      for _, t in ipairs(M.RETENTION_TIMES) do
        local body = 0
        if wb then
          body = r.outputs[wb][index[t]]
        else
          for _, s in ipairs(states) do body = body + r.states[s][index[t]] end
        end
        ret[t][k] = 100 * body / (A0 * math.exp(-lam * t))
        if urine then
          exc[t][k] = 100 * r.states[urine][index[t]] / (A0 * math.exp(-lam * t))
        end
      end
    end
  end
  return { names = names, dose = dose, teff = teff, retention = ret,
           excretion = urine and exc or nil, failed = failed, n = n }
end

-- ------------------------------------------------------------- the report

-- Per target: the simulated statistics it is compared with, its
-- intervals, and whether the simulation lies outside them.
function M.compare(model, sim)
  local rows = {}
  for i, tg in ipairs(model.targets) do
    local row = { target = tg, index = i }
    if tg.quantity ~= "retention_pct" and not model.regions[tg.region] then
      row.status = "not modelled"
    else
      local x
      if tg.quantity == "Gy/GBq" then x = sim.dose[tg.region]
      elseif tg.quantity == "Teff_h" then x = sim.teff[tg.region]
      else x = sim.retention[tg.time_h] end
      local s = M.stats(x)
      row.mean_ci, row.sd_ci = M.intervals(tg)
      local out = {}
      if s.n == 0 then
        -- every patient failed (or no Teff could be fitted): nothing to
        -- compare, and never "inside"
        out[#out + 1] = "no simulated value (every patient failed "
          .. "or none had a falling activity)"
      elseif tg.quantity == "Teff_h" then
        row.sim = s
        -- published as median (range of patients): the range is not an
        -- interval of the median, so nothing is flagged; the ratio of the
        -- medians is shown
        row.ratio = s.median / tg.median
      else
        row.sim = s
        row.ratio = s.mean / tg.mean
        if row.mean_ci and (s.mean < row.mean_ci[1]
            or s.mean > row.mean_ci[2]) then
          out[#out + 1] = "mean outside the 95 % interval of the mean"
        end
        if row.sd_ci and tg.check_sd ~= false and (s.sd < row.sd_ci[1]
            or s.sd > row.sd_ci[2]) then
          out[#out + 1] = "SD outside the 95 % interval of the SD"
        end
      end
      if s.n == 0 then
        row.status = "FAILED"
        row.why = out[1]
      elseif #out > 0 then
        row.status = "OUTSIDE"
        row.why = table.concat(out, "; ")
      elseif tg.quantity ~= "Teff_h" and (row.mean_ci or row.sd_ci) then
        row.status = "inside"
      else
        row.status = "no interval"
      end
      -- the SD beside a check_sd = false target, reported not asserted
      if s.n > 0 and tg.check_sd == false and row.sd_ci
          and (s.sd < row.sd_ci[1]
          or s.sd > row.sd_ci[2]) then
        row.note = "SD outside its interval (not asserted: derived SD)"
      end
    end
    rows[#rows + 1] = row
  end
  return rows
end

-- The calibration targets the simulation misses: the drift list.
function M.drifts(rows)
  local d = {}
  for _, row in ipairs(rows) do
    if row.target.role == "calibration" and (row.status == "OUTSIDE"
        or row.status == "FAILED") then
      d[#d + 1] = row
    end
  end
  return d
end

local function g(x, digits)
  if x == nil then return "-" end
  if x == math.huge then return "inf" end
  return ("%." .. (digits or 3) .. "g"):format(x)
end

-- Markdown cells are data: '|' and line breaks would break the table.
local function cell(s)
  return (tostring(s):gsub("[\r\n]", " "):gsub("|", "\\|"))
end

function M.markdown(model, o, sim, rows, png)
  local out = {}
  local function add(s) out[#out + 1] = s end
  local m = model.model
  add(("# Validation report: %s"):format(cell(m.name or o.name)))
  add("")
  add(("%d virtual patients (seed %d) of one %.2f GBq cycle, integrated "
    .. "over %g h; %d failed."):format(sim.n, o.seed,
    model.activity_MBq / 1000, model.interval_h, #sim.failed))
  add(("Model file: %s. Generated by scripts/model_report.lua (radiokin "
    .. "%s)."):format(cell(o.model), rk.version))
  add("")
  add("## Absorbed dose per administered activity (Gy/GBq)")
  add("")
  add("| region | mean | SD | median | P5 | P95 |")
  add("|---|---|---|---|---|---|")
  for _, r in ipairs(sim.names) do
    local s = M.stats(sim.dose[r])
    add(("| %s | %s | %s | %s | %s | %s |"):format(r, g(s.mean), g(s.sd),
      g(s.median), g(s.p5), g(s.p95)))
  end
  add("")
  add("## Effective half-lives (h)")
  add("")
  add(("Mono-exponential least-squares fit of each region's activity at "
    .. "%s h. Patients whose activity does not fall there are counted, "
    .. "not averaged."):format(table.concat(M.TEFF_TIMES, ", ")))
  add("")
  add("| region | median | P5 | P95 | not falling |")
  add("|---|---|---|---|---|")
  for _, r in ipairs(sim.names) do
    local s = M.stats(sim.teff[r])
    add(("| %s | %s | %s | %s | %d |"):format(r, g(s.median), g(s.p5),
      g(s.p95), s.left_out))
  end
  add("")
  add("## Whole-body retention (decay-corrected, % of the administered "
    .. "activity)")
  add("")
  add("| time (h) | mean | P5 | P95 |")
  add("|---|---|---|---|")
  for _, t in ipairs(M.RETENTION_TIMES) do
    local s = M.stats(sim.retention[t])
    add(("| %g | %s | %s | %s |"):format(t, g(s.mean), g(s.p5), g(s.p95)))
  end
  add("")
  if sim.excretion then
    add("## Cumulative urinary excretion (decay-corrected, % of the "
      .. "administered activity)")
    add("")
    add("| time (h) | mean | P5 | P95 |")
    add("|---|---|---|---|")
    for _, t in ipairs(M.RETENTION_TIMES) do
      local s = M.stats(sim.excretion[t])
      add(("| %g | %s | %s | %s |"):format(t, g(s.mean), g(s.p5), g(s.p95)))
    end
    add("")
  end
  add("## Published targets")
  add("")
  add("Mean interval: 95 % interval of the published mean (t, SD/sqrt(n)); "
    .. "SD interval: 95 % interval of the published SD (chi-square). "
    .. "Role: calibration = the model claims this number (the test suite "
    .. "fails when it is OUTSIDE); comparison = reported beside it. Read: "
    .. "whether the number was read in the source itself.")
  add("")
  add("| # | region | quantity | published | n | mean interval | SD "
    .. "interval | simulated | sim/pub | status | role | method | read | "
    .. "source |")
  add("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
  for _, row in ipairs(rows) do
    local tg, s = row.target, row.sim
    local pub
    if tg.quantity == "Teff_h" then
      pub = ("median %s"):format(g(tg.median))
        .. (tg.range and (" (%s-%s)"):format(g(tg.range[1]), g(tg.range[2]))
          or "")
    else
      pub = g(tg.mean) .. (tg.sd and (" +- " .. g(tg.sd)) or "")
        .. (tg.time_h and (" at " .. g(tg.time_h) .. " h") or "")
    end
    local simtxt = "-"
    if s then
      simtxt = tg.quantity == "Teff_h"
        and ("median %s"):format(g(s.median))
        or ("%s +- %s"):format(g(s.mean), g(s.sd))
    end
    local ci = row.mean_ci and ("%s-%s"):format(g(row.mean_ci[1]),
      g(row.mean_ci[2])) or "-"
    local sdci = row.sd_ci and ("%s-%s"):format(g(row.sd_ci[1]),
      g(row.sd_ci[2])) or "-"
    local status = row.status .. (row.why and (": " .. row.why) or "")
      .. (row.note and (" (" .. row.note .. ")") or "")
    add(("| %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | "
      .. "%s | %s; %s |"):format(row.index, cell(tg.region),
      cell(tg.quantity), pub, tg.n and g(tg.n) or "-", ci,
      tg.quantity == "Teff_h" and "-" or sdci, simtxt, g(row.ratio, 2),
      cell(status), tg.role, cell(tg.method), tg.read and "yes" or "no",
      cell(tg.paper), cell(tg.table)))
  end
  add("")
  local drifts = M.drifts(rows)
  local outside = {}
  for _, row in ipairs(rows) do
    if row.status == "OUTSIDE" or row.status == "FAILED"
        or row.status == "not modelled" then
      outside[#outside + 1] = row
    end
  end
  add("## Targets the model misses")
  add("")
  if #outside == 0 then
    add("None: every target with an interval is met.")
  end
  for _, row in ipairs(outside) do
    local tg = row.target
    add(("- %s #%d %s %s (%s, %s): %s"):format(
      tg.role == "calibration" and "**DRIFT**" or "comparison", row.index,
      cell(tg.region), cell(tg.quantity), cell(tg.method), cell(tg.paper),
      row.status == "not modelled" and "the model has no such region"
        or cell(row.why)))
  end
  add("")
  add(("Calibration targets outside their interval: %d."):format(#drifts))
  if o.other then
    local other = o.other
    add("")
    add(("## Comparison with %s"):format(cell(other.file)))
    add("")
    add(("The same number of patients (seed %d) of that model, one %.2f "
      .. "GBq cycle over %g h; Gy/GBq per region both models have."):format(
      o.seed, other.model.activity_MBq / 1000, other.model.interval_h))
    add("")
    add("| region | this model mean +- SD | " .. cell(other.file)
      .. " mean +- SD | this / other |")
    add("|---|---|---|---|")
    for _, r in ipairs(sim.names) do
      if other.sim.dose[r] then
        local a, b = M.stats(sim.dose[r]), M.stats(other.sim.dose[r])
        add(("| %s | %s +- %s | %s +- %s | %s |"):format(r, g(a.mean),
          g(a.sd), g(b.mean), g(b.sd), a.mean and b.mean
            and g(a.mean / b.mean, 2) or "-"))
      end
    end
  end
  if png then
    add("")
    add(("![simulated vs published Gy/GBq](%s)"):format(png))
  end
  if #sim.failed > 0 then
    add("")
    add(("**%d patients failed** (first: patient %d, %s); their values "
      .. "are left out of every statistic."):format(#sim.failed,
      sim.failed[1].id, cell(sim.failed[1].message)))
  end
  return table.concat(out, "\n") .. "\n"
end

-- Simulated mean with P5-P95 beside the published mean with its 95 %
-- interval, one x position per Gy/GBq target of a modelled region.
function M.plot(rows, path, title)
  local sim, pub, tics = {}, {}, {}
  local x = 0
  for _, row in ipairs(rows) do
    local tg = row.target
    if row.sim and tg.quantity == "Gy/GBq" then
      x = x + 1
      local s = row.sim
      sim[#sim + 1] = { x - 0.12, s.mean, s.p5, s.p95 }
      local lo = row.mean_ci and row.mean_ci[1] or tg.mean
      local hi = row.mean_ci and row.mean_ci[2] or tg.mean
      pub[#pub + 1] = { x + 0.12, tg.mean, lo, hi }
      tics[#tics + 1] = ("%s %d"):format(rk.gnuplot_quote(
        ("#%d %s %s"):format(row.index, tg.region, tg.method:match("^%S+"))),
        x)
    end
  end
  if x == 0 then return nil, "no Gy/GBq target of a modelled region" end
  local f = rk.plot_files { path }
  local cmds = ([[
set terminal pngcairo size 900,500
set output %s
set termoption noenhanced
set title %s
set ylabel 'Gy/GBq'
set logscale y
set xtics (%s) rotate by -30
set xrange [0.5:%g]
set key top left
plot $sim using 1:2:3:4 with yerrorbars pt 7 title 'simulated mean, P5-P95', \
     $pub using 1:2:3:4 with yerrorbars pt 5 title 'published mean, 95 %% interval of the mean'
set output
]]):format(rk.gnuplot_quote(f.tmp[1], true), rk.gnuplot_quote(title),
    table.concat(tics, ", "), x + 0.5)
  local ok, why = rk.gnuplot(cmds, { sim = sim, pub = pub })
  if not ok then
    f:abort()
    return nil, why or "gnuplot failed"
  end
  f:commit()
  return path
end

function M.run(o)
  local model = M.load(o.model, o.model_opts)
  local sim = M.simulate(model, o.patients, o.seed)
  local rows = M.compare(model, sim)
  -- a model file may name another (compare_with, beside it): its Gy/GBq
  -- are listed next to this model's
  if model.compare_with then
    local dir = o.model:match("^(.*)/[^/]*$") or "."
    local file = dir .. "/" .. model.compare_with
    local other = M.load(file)
    o.other = { file = model.compare_with, model = other,
                sim = M.simulate(other, o.patients, o.seed) }
  end
  rk.mkdir(o.out)
  local files, warnings = {}, {}
  local png
  if o.plots then
    local path = o.out .. "/" .. o.name .. ".png"
    local ok, why = M.plot(rows, path, (model.model.name or o.name)
      .. ": simulated vs published Gy/GBq")
    if ok then
      png = o.name .. ".png"
      files[#files + 1] = path
    else
      warnings[#warnings + 1] = "plot skipped: " .. tostring(why)
    end
  end
  local md = o.out .. "/" .. o.name .. ".md"
  rk.write_atomic(md, M.markdown(model, o, sim, rows, png))
  table.insert(files, 1, md)
  return { model = model, sim = sim, rows = rows, drifts = M.drifts(rows),
           files = files, warnings = warnings }
end

function M.main(args)
  local o = M.parse_args(args)
  if o.help then
    print(M.HELP)
    return
  end
  local res = M.run(o)
  for _, w in ipairs(res.warnings) do io.stderr:write("warning: ", w, "\n") end
  if not o.quiet then
    for _, row in ipairs(res.rows) do
      local tg = row.target
      print(("#%-2d %-9s %-7s %-12s sim/pub %-5s %s"):format(row.index,
        tg.region, tg.quantity, tg.role, g(row.ratio, 2),
        row.status .. (row.why and (": " .. row.why) or "")))
    end
    print("written: " .. table.concat(res.files, ", "))
  end
  if #res.sim.failed > 0 then
    error(("%d of %d patients failed (see the report)"):format(
      #res.sim.failed, res.sim.n), 0)
  end
  return res
end

-- run when this file is the program (not when a test loads it by dofile)
if arg and arg[0] and debug.getinfo(1, "S").source == "@" .. arg[0] then
  M.main(arg)
end
return M
