-- lu177_popfit.lua - simulation-estimation with a 177Lu-DOTATATE model:
-- 40 virtual patients get 7.4 GBq; kidney activity is "imaged" 4 times
-- (about 4, 24, 72 and 168 h, jittered as clinic schedules are) with a
-- 10 % proportional error (quantitative SPECT/CT); then FOCE-I, fitting
-- kidney uptake kKin and release kKout (log-normal IIV), must recover the
-- values the data were simulated from. Prints true vs estimated with SEs.
--
--   radiokin examples/lu177_popfit.lua [--subjects N] [--seed S]
--                                      [--out DIR]
--
-- Model: models/lu177_dotatate.lua (falls back to models/lu177_6c.lua and
-- its kPK / kKP when that file is missing). Only the kidney parameters
-- vary between the simulated patients, so the fitted model is the true
-- one; the other rates stay at the model's typical values.
local rk = require "radiokin"

local src = os.getenv("RADIOKIN_SRCDIR") or "."
local n_subj, seed, out = 40, 20240601, nil
local args = arg or {}
for i = 1, #args do
  if args[i] == "--subjects" then
    n_subj = math.tointeger(tonumber(args[i + 1]))
  end
  if args[i] == "--seed" then seed = math.tointeger(tonumber(args[i + 1])) end
  if args[i] == "--out" then out = args[i + 1] end
end

-- the model and the names of its kidney in / out rates
local m, k_in, k_out, dose_to
local f = io.open(src .. "/models/lu177_dotatate.lua", "rb")
if f then
  f:close()
  m = dofile(src .. "/models/lu177_dotatate.lua").model
  k_in, k_out, dose_to = "kKin", "kKout", "B"
else
  m = dofile(src .. "/models/lu177_6c.lua")
  k_in, k_out, dose_to = "kPK", "kKP", "P"
end

-- truth: typical values from the model, IIV 30 % / 25 % CV, 10 % error
local truth = {
  lin = math.log(m.params[k_in]), lout = math.log(m.params[k_out]),
  w_in = math.log(1 + 0.30 ^ 2), w_out = math.log(1 + 0.25 ^ 2),
  prop = 0.10,
}

math.randomseed(seed)
local function normal()   -- Box-Muller
  local u1, u2 = 1 - math.random(), math.random()
  return math.sqrt(-2 * math.log(u1)) * math.cos(2 * math.pi * u2)
end

-- simulate: one dose record, four kidney images per patient
local rows, e_in, e_out = {}, {}, {}
for id = 1, n_subj do
  e_in[id] = math.sqrt(truth.w_in) * normal()
  e_out[id] = math.sqrt(truth.w_out) * normal()
  local p = {
    [k_in] = math.exp(truth.lin + e_in[id]),
    [k_out] = math.exp(truth.lout + e_out[id]),
  }
  local times = { 4 + normal() * 0.5, 24 + normal() * 2,
                  72 + normal() * 8, 168 + normal() * 12 }
  for k = 1, #times do times[k] = math.floor(times[k] * 10 + 0.5) / 10 end
  local r = m:simulate { doses = { { time = 0, amount = 7400,
                                     to = dose_to } },
                         times = times, params = p }
  rows[#rows + 1] = { ID = id, TIME = 0, AMT = 7400, CMT = dose_to,
                      EVID = 1 }
  for k, t in ipairs(times) do
    rows[#rows + 1] = { ID = id, TIME = t, EVID = 0, CMT = "K",
                        DV = r.K[k] * (1 + truth.prop * normal()) }
  end
end
local data = os.tmpname()
rk.csv.write(data, rows, { "ID", "TIME", "DV", "AMT", "EVID", "CMT" })

-- the population model: what the analyst would write
local pm = rk.popest {
  name = "lu177_kidney",
  model = m,
  observe = "K",
  theta = { lin = math.log(m.params[k_in]) + 0.4,     -- start off truth
            lout = math.log(m.params[k_out]) - 0.3 },
  omega = { kin = 0.2, kout = 0.2 },
  individual = function(theta, eta)
    return { [k_in] = rk.exp(theta.lin + eta.kin),
             [k_out] = rk.exp(theta.lout + eta.kout) }
  end,
  error = { proportional = 0.2 },
}
local t0 = os.time()
local ok, r = pcall(pm.fit, pm, data, { method = "focei" })
os.remove(data)
if not ok then error(r, 0) end

print(("%s: %d patients, %d kidney images, %s %s (%d evaluations, %d s)")
  :format(m.name, r.n_subjects, r.n_obs, r.method,
    r.converged and "converged" or ("FAILED: " .. r.message), r.n_eval,
    os.time() - t0))
print(("%-16s %12s %12s %10s %8s  %s"):format("parameter", "true",
  "estimate", "SE", "z", "95 % CI covers"))
local want = {
  lin = truth.lin, lout = truth.lout, ["OMEGA(kin)"] = truth.w_in,
  ["OMEGA(kout)"] = truth.w_out, SIGMA_PROP = truth.prop,
}
for _, p in ipairs(r.params) do
  local t = want[p.name]
  local z = p.se and (p.estimate - t) / p.se
  print(("%-16s %12.5g %12.5g %10s %8s  %s"):format(p.name, t, p.estimate,
    p.se and ("%.3g"):format(p.se) or "-", z and ("%.2f"):format(z) or "-",
    p.se and (math.abs(z) <= 1.96 and "yes" or "no") or "-"))
end
print(("typical %s: true %.5g /h, estimated %.5g /h; %s: true %.5g, " ..
  "estimated %.5g /h"):format(k_in, math.exp(truth.lin),
  math.exp(r.theta.lin), k_out, math.exp(truth.lout),
  math.exp(r.theta.lout)))
-- the variance of the etas actually drawn: what a perfect fit would find
local function var(x)
  local m1, m2 = 0, 0
  for _, v in ipairs(x) do m1 = m1 + v / #x end
  for _, v in ipairs(x) do m2 = m2 + (v - m1) ^ 2 / #x end
  return m2
end
print(("variance of the etas drawn: kin %.4g, kout %.4g (the estimates " ..
  "target these; they differ from the population values by chance)")
  :format(var(e_in), var(e_out)))
print(("eta shrinkage: kin %.0f %%, kout %.0f %% (4 images per patient)")
  :format(100 * r.shrinkage.eta.kin, 100 * r.shrinkage.eta.kout))
if out then
  r:write_csv(out)
  print("written: " .. out .. "/parameters.csv, ebe.csv, table.csv")
end
