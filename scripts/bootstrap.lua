-- bootstrap.lua - nonparametric bootstrap of a population fit made by
-- scripts/fit.lua: subjects resampled with replacement (within the
-- strata of a covariate column when asked; a subject drawn twice is two
-- subjects with new IDs), each replicate refitted with the fit's method
-- and options from the fit's estimates, then percentile and BCa
-- intervals (Efron 1987: bias correction from the share of replicates
-- below the estimate, acceleration from a leave-one-subject-out
-- jackknife) and the share of replicates that failed or ended at a
-- boundary. Under mpirun the replicates are shared out over the ranks.
-- With occasion etas (rk.popest{iov = ...}) a drawn subject brings all
-- its occasions (the OCC column is kept) and each refit estimates the
-- IOV variances too (any method, SAEM included).
--
--   radiokin scripts/bootstrap.lua FIT_DIR [--n N] [--seed S]
--            [--strata COLUMN] [--method M] [--level L] [--no-bca]
--            [--threads N] [--out DIR] [--quiet]
--
-- FIT_DIR is the --out folder of scripts/fit.lua (its fit.csv names the
-- model and data files and holds the estimates).
--
-- Options
--   --n N            replicates (default 200)
--   --seed S         seed (default 1): the same seed draws the same
--                    datasets on any number of threads or ranks
--   --strata COLUMN  resample within the groups of this covariate column
--                    (each group keeps its size)
--   --method M       estimation method of the refits (default: the fit's)
--   --level L        interval level (default 0.95)
--   --no-bca         no jackknife, no BCa interval (saves one refit per
--                    subject)
--   --threads N      worker threads of each refit (0: all cores)
--   --out DIR        output folder (default FIT_DIR)
--   --quiet          print nothing but errors and warnings
--
-- Outputs (in DIR): bootstrap.csv (replicate, status, ofv, boundary, one
-- column per estimated parameter, message; NA for a failed replicate) and
-- bootstrap_summary.csv (parameter, estimate, n_ok, boot_mean,
-- boot_median, boot_se, bias, level_pct, pct_lo, pct_hi, bca_lo, bca_hi,
-- z0, acceleration, failed_share, boundary_share).
--
-- Example
--   radiokin scripts/fit.lua models/theophylline.lua \
--     tests/data/theoph_nm.csv --out fit_theo
--   radiokin scripts/bootstrap.lua fit_theo --n 200 --seed 7
local rk = require "radiokin"
local check = require "radiokin.popcheck"

local M = {}

M.USAGE = "usage: radiokin scripts/bootstrap.lua FIT_DIR [--n N] " ..
  "[--seed S] [--strata COLUMN] [--method M] [--level L] [--no-bca] " ..
  "[--threads N] [--out DIR] [--quiet]"

local function usage(msg)
  error((msg and msg .. "\n" or "") .. M.USAGE, 0)
end

local OPTIONS = {
  ["--n"] = { "n", "integer", 1, 1000000 },
  ["--seed"] = { "seed", "integer", 0, 2 ^ 53 },
  ["--strata"] = { "strata", "value" },
  ["--method"] = { "method", "value" },
  ["--level"] = { "level", "level", "0.95" },
  ["--no-bca"] = { "no_bca", "flag" },
  ["--threads"] = { "threads", "integer", 0, 1024 },
  ["--out"] = { "out", "value" },
  ["--quiet"] = { "quiet", "flag" },
}

function M.parse_args(args)
  local o, dirs = rk.options(args, OPTIONS, usage)
  if o.help then return o end
  if #dirs ~= 1 then usage("give the folder of a fit (scripts/fit.lua --out)") end
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
  -- the original fit's result as the bootstrap needs it
  local fit = spec.fit
  fit.method = o.method or spec.method
  local b = pm:bootstrap(data, fit, {
    n = o.n or 200, seed = o.seed or 1, strata = o.strata,
    method = o.method or spec.method, level = o.level,
    threads = o.threads, bca = not o.no_bca,
    fit = { blq = spec.blq } })
  local out = o.out or o.dir
  rk.mkdir(out)
  local files = b:write_csv(out)
  if not o.quiet and rk.mpi.rank == 0 then
    print(("%d replicates (seed %d, method %s%s): %d failed (%.1f %%), %d "
      .. "at a boundary (%.1f %%)"):format(b.n, b.seed, b.method,
      b.strata and (", strata " .. b.strata) or "", b.n_failed,
      100 * b.failed_share, b.n_boundary, 100 * b.boundary_share))
    print(("%-16s %12s %12s %12s %12s %12s %12s"):format("parameter",
      "estimate", "boot SE", "pct lo", "pct hi", "BCa lo", "BCa hi"))
    for _, p in ipairs(b.params) do
      print(("%-16s %12.5g %12.5g %12.5g %12.5g %12.5g %12.5g"):format(
        p.name, p.estimate, p.se or 0 / 0, p.lo or 0 / 0, p.hi or 0 / 0,
        p.bca_lo or 0 / 0, p.bca_hi or 0 / 0))
    end
    print("written: " .. table.concat(files, ", "))
  end
  return b, files
end

if arg and arg[0] and arg[0]:match("bootstrap%.lua$") then
  M.main(arg)
end

return M
