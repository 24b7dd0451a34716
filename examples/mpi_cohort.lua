-- mpi_cohort.lua - a virtual trial of the six-compartment 177Lu model
-- (models/lu177_6c.lua): 4 cycles of 7.4 GBq, kidney TIA per cycle,
-- the rows streamed to a CSV and exact summaries, over as many MPI
-- ranks as it is started with (the same file for any number):
--
--   radiokin examples/mpi_cohort.lua [n] [out.csv]
--   mpirun -np 4 radiokin examples/mpi_cohort.lua 1000000 trial.csv
--   srun radiokin examples/mpi_cohort.lua 10000000 trial.csv  (Slurm:
--     examples/slurm_cohort.sh)
--
-- Only rank 0 writes the CSV and prints.
local rk = require "radiokin"
local n = tonumber(arg[1] or 100000)
local out = arg[2] or "mpi_cohort.csv"
local here = (arg[0]:match("^(.*)/examples/[^/]*$") or ".")
local m = dofile(here .. "/models/lu177_6c.lua")

local c = rk.cohort {
  model = m, n = n, seed = 20240601, cv = 0.3,
  doses = { { time = 0, amount = 7400, to = "P" } },
  cycles = 4, interval_h = 1344, tia = { "K" },
  csv = out, limits = { K = 100000 },       -- MBq h, cumulative count below
}
print(("%d patients over %d rank(s), %s path; rows in %s"):format(c.n,
  rk.mpi.size, c.path, c.csv))
print("cycle  mean (MBq h)  P5        P95       over 1e5 MBq h (cumulative)")
local s, cum = c:summary("K"), c:summary("K", { cumulative = true })
for k = 1, c.cycles do
  print(("%5d  %12.1f  %8.1f  %8.1f  %d"):format(k, s[k].mean, s[k].p5,
    s[k].p95, cum[k].over))
end
