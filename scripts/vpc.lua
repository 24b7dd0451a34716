-- vpc.lua - visual predictive check of a population fit made by
-- scripts/fit.lua: the fit's dataset design (doses, times, covariates,
-- endpoints, LLOQ) simulated N times from the final estimates, binned by
-- time; observed 5th / 50th / 95th percentiles against prediction
-- intervals of the simulated ones, optionally prediction-corrected
-- (Bergstrand et al., AAPS J 2011), with a panel of the fraction below
-- the LLOQ when the data hold censored records.
--
--   radiokin scripts/vpc.lua FIT_DIR [--n N] [--seed S] [--bins K |
--            --bin-edges t0,t1,...] [--pi LEVEL] [--pc] [--lower-bound LB]
--            [--log-data] [--uncertainty] [--strat COL [--strat-cuts
--            c1,c2,...]] [--threads N] [--out DIR] [--no-plot] [--quiet]
--
-- FIT_DIR is the --out folder of scripts/fit.lua: its fit.csv names the
-- model and data files and holds the estimates.
--
-- Options
--   --n N             simulations of the design (default 500)
--   --seed S          seed (default 1): the same seed gives the same
--                     numbers for any thread count
--   --bins K          K bins of (about) equal observation counts, cut
--                     between distinct times (default 8)
--   --bin-edges LIST  bin edges in h, increasing, comma-separated; every
--                     observation must lie within them
--   --pi LEVEL        prediction interval of the simulated percentiles
--                     (default 0.9)
--   --pc              prediction-corrected VPC: DV PRED_bin / PRED
--   --lower-bound LB  with --pc: lower bound of the data (default 0):
--                     LB + (DV - LB)(PRED_bin - LB)/(PRED - LB)
--   --log-data        with --pc: DV is log-transformed, DV + PRED_bin - PRED
--   --uncertainty     each simulation draws its parameters from the
--                     covariance step's matrix (the fit must have one)
--   --strat COL       stratified VPC: one panel per stratum of the
--                     dataset's covariate column COL (a subject's first
--                     non-missing value), each with its own bins,
--                     observed percentiles from its subjects only and
--                     simulated ones from the same subjects' simulations;
--                     every distinct value a stratum (at most 50) ...
--   --strat-cuts LIST ... or, for a continuous covariate, cut points
--                     c1 < c2 < ...: strata COL < c1, c1 <= COL < c2, ...,
--                     COL >= ck (each must hold a subject)
--   --threads N       worker threads (0: all cores)
--   --out DIR         output folder (default FIT_DIR)
--   --no-plot         tables only
--   --quiet           print nothing but errors and warnings
--
-- Outputs (in DIR): vpc.csv (pcvpc.csv with --pc): endpoint, bin,
-- time_lo, time_hi, time_median, n_obs, percentile, observed, sim_lo,
-- sim_median, sim_hi, pred_bin (NA: a percentile among censored values);
-- vpc_blq.csv with censored data: endpoint, bin, ..., observed, sim_lo,
-- sim_median, sim_hi (fraction below the LLOQ); PNG plots of both. With
-- --strat both tables start with a column stratum (e.g. SEX=1, WT<70,
-- 70<=WT<90) and there is one plot per stratum: vpc_SEX_1.png, ....
--
-- Example
--   radiokin scripts/fit.lua models/theophylline.lua \
--     tests/data/theoph_nm.csv --out fit_theo
--   radiokin scripts/vpc.lua fit_theo --n 1000 --pc
--   radiokin scripts/vpc.lua fit_theo --strat WT --strat-cuts 60,75
local rk = require "radiokin"
local check = require "radiokin.popcheck"

local M = {}

M.USAGE = "usage: radiokin scripts/vpc.lua FIT_DIR [--n N] [--seed S] " ..
  "[--bins K | --bin-edges t0,t1,...] [--pi LEVEL] [--pc] " ..
  "[--lower-bound LB] [--log-data] [--uncertainty] " ..
  "[--strat COL [--strat-cuts c1,c2,...]] [--threads N] " ..
  "[--out DIR] [--no-plot] [--quiet]"

local function usage(msg)
  error((msg and msg .. "\n" or "") .. M.USAGE, 0)
end

local function number_list(v, name)
  local list = {}
  for f in (v .. ","):gmatch("([^,]*),") do
    local x = tonumber(f)
    if not x then
      usage(("%s: '%s' is not a number"):format(name, f))
    end
    list[#list + 1] = x
  end
  return list
end

local OPTIONS = {
  ["--n"] = { "n", "integer", 1, 100000 },
  ["--seed"] = { "seed", "integer", 0, 2 ^ 53 },
  ["--bins"] = { "bins", "integer", 1, 1000 },
  ["--bin-edges"] = { "edges", number_list },
  ["--strat-cuts"] = { "strat_cuts", number_list },
  ["--strat"] = { "strat", "value" },
  ["--pi"] = { "pi", "level", "0.9" },
  ["--pc"] = { "pc", "flag" },
  ["--lower-bound"] = { "lower_bound", function(v)
    return tonumber(v) or usage("--lower-bound needs a number") end },
  ["--log-data"] = { "log_data", "flag" },
  ["--uncertainty"] = { "uncertainty", "flag" },
  ["--threads"] = { "threads", "integer", 0, 1024 },
  ["--out"] = { "out", "value" },
  ["--no-plot"] = { "plot", "flag", value = false },
  ["--quiet"] = { "quiet", "flag" },
}

function M.parse_args(args)
  local o, dirs = rk.options(args, OPTIONS, usage, { plot = true })
  if o.help then return o end
  if #dirs ~= 1 then usage("give the folder of a fit (scripts/fit.lua --out)") end
  if o.bins and o.edges then usage("--bins and --bin-edges exclude each other") end
  if (o.lower_bound or o.log_data) and not o.pc then
    usage("--lower-bound and --log-data are for --pc")
  end
  if o.strat_cuts and not o.strat then
    usage("--strat-cuts goes with --strat (the column)")
  end
  o.dir = dirs[1]
  return o
end

function M.main(args)
  local o = M.parse_args(args)
  if o.help then
    print(M.USAGE .. "\n\n" .. rk.script_help())
    return
  end
  local spec, pm, data = check.load_fit(o.dir)
  local r = pm:vpc(data, spec.fit, {
    n = o.n or 500, seed = o.seed or 1, threads = o.threads,
    bins = o.edges or o.bins, pi = o.pi, pc = o.pc,
    lower_bound = o.lower_bound, log_data = o.log_data,
    uncertainty = o.uncertainty, strat = o.strat,
    strat_cuts = o.strat_cuts })
  local out = o.out or o.dir
  rk.mkdir(out)
  local files = r:write_csv(out)
  if o.plot then
    local plots, warn = r:plot(out)
    if plots then
      for _, p in ipairs(plots) do files[#files + 1] = p end
    else
      io.stderr:write("radiokin: warning: " .. warn .. "\n")
    end
  end
  if not o.quiet and rk.mpi.rank == 0 then
    for _, pn in ipairs(check.vpc_panels(r)) do
      local ep = pn.ep
      print(("%s%s: %d bins, %d simulations, %g %% PI of the percentiles")
        :format(pn.stratum and ("[" .. pn.stratum .. "] ") or "", ep.name,
        #ep.bins, r.n, r.pi * 100))
      local outside = 0
      for _, b in ipairs(ep.bins) do
        for k = 1, #r.pctl do
          local x, s = b.obs[k], b.sim[k]
          if x == x and x > -math.huge and s.lo == s.lo
            and (x < s.lo or x > s.hi) then
            outside = outside + 1
          end
        end
      end
      print(("  observed percentiles outside their PI: %d of %d")
        :format(outside, #ep.bins * #r.pctl))
    end
    print("written: " .. table.concat(files, ", "))
  end
  return r, files
end

if arg and arg[0] and arg[0]:match("vpc%.lua$") then
  M.main(arg)
end

return M
