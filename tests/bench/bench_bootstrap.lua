-- bench_bootstrap.lua - wall time of a nonparametric bootstrap of the
-- Theophylline FOCE-I fit (models/theophylline.lua, tests/data/
-- theoph_nm.csv): N replicates (default 200) refitted from the original
-- estimates on all cores (each fit threaded over subjects; under mpirun
-- the replicates are shared out over the ranks), with the jackknife for
-- BCa (12 more fits) unless --no-bca.
--
--   radiokin tests/bench/bench_bootstrap.lua [N] [--no-bca] [--threads T]
--   mpirun -np R radiokin tests/bench/bench_bootstrap.lua [N]
local rk = require "radiokin"

local n, bca, threads = 200, true, 0
local i = 1
while arg and arg[i] do
  if arg[i] == "--no-bca" then bca = false
  elseif arg[i] == "--threads" then i = i + 1; threads = tonumber(arg[i])
  else n = tonumber(arg[i]) or error("usage: bench_bootstrap.lua [N] "
    .. "[--no-bca] [--threads T]") end
  i = i + 1
end
local src = os.getenv("RADIOKIN_SRCDIR") or "."
local pm = dofile(src .. "/models/theophylline.lua")
local data = rk.popest.read(src .. "/tests/data/theoph_nm.csv", pm)

local function now()
  local st, out = rk.run { "date", "+%s.%N" }
  return st == 0 and tonumber(out) or os.time()
end

local fit = pm:fit(data, { threads = threads })
assert(fit.converged, "the original fit failed")
local t0 = now()
local b = pm:bootstrap(data, fit, { n = n, seed = 1, threads = threads,
                                    bca = bca })
local wall = now() - t0
if rk.mpi.rank == 0 then
  print(("bootstrap of Theophylline (FOCE-I), %d replicates%s, %d ranks, "
    .. "threads %s: %.2f s wall (%.3f s per replicate), %d failed, %d at "
    .. "a boundary"):format(n, bca and " + 12 jackknife fits" or "",
    rk.mpi.size, threads == 0 and "all cores" or tostring(threads), wall,
    wall / n, b.n_failed, b.n_boundary))
  for _, p in ipairs(b.params) do
    print(("  %-12s %10.4g  SE %8.3g  pct [%9.4g, %9.4g]  BCa [%9.4g, "
      .. "%9.4g]"):format(p.name, p.estimate, p.se, p.lo, p.hi,
      p.bca_lo or 0 / 0, p.bca_hi or 0 / 0))
  end
end
