-- mpi_popfit.lua - a population fit over MPI ranks: the Theophylline
-- model (models/theophylline.lua, FOCE-I with the covariance step) on a
-- dataset given on the command line, its subjects split over as many
-- ranks as the script is started with. Every rank works its block of
-- subjects in every outer evaluation; the estimates, SEs and tables are
-- the same bytes for any number of ranks (and the same as a plain run).
--
--   radiokin examples/mpi_popfit.lua [data.csv] [out_dir]
--   mpirun -np 4 radiokin examples/mpi_popfit.lua data.csv fit/
--   srun radiokin examples/mpi_popfit.lua data.csv fit/  (Slurm:
--     examples/slurm_popfit.sh)
--
-- Only rank 0 writes the tables and prints. Worth it for hundreds of
-- subjects or an expensive model (ODEs on the CVODES path): each outer
-- evaluation then costs milliseconds to seconds per subject, against a
-- gather of 24 bytes a subject (microseconds) per evaluation.
local rk = require "radiokin"
local here = (arg[0]:match("^(.*)/examples/[^/]*$") or ".")
local data = arg[1] or (here .. "/tests/data/theoph_nm.csv")
local out = arg[2]

local pm = dofile(here .. "/models/theophylline.lua")
local r = pm:fit(data, { method = "focei" })
print(("%s over %d rank(s): OFV %.4f, %s after %d evaluations")
  :format(pm.name, r.mpi.ranks, r.ofv, r.converged and "converged"
          or r.message, r.n_eval))
for _, p in ipairs(r.params) do
  print(("  %-12s %12.6g  SE %s"):format(p.name, p.estimate,
    p.se == p.se and ("%.4g"):format(p.se) or "-"))
end
print(("rank 0 spent %.3f s in %d gathers (%.1f us per evaluation)")
  :format(r.mpi.gather_s, r.mpi.gathers, 1e6 * r.mpi.gather_s_per_eval))
if out then r:write_csv(out) end
