#!/bin/bash
# slurm_popfit.sh - examples/mpi_popfit.lua on a Slurm cluster: a
# population fit whose subjects are split over the MPI ranks. One rank
# per core here (--ntasks-per-node=16, one thread each): a fit's unit
# of work is the subject, so give it at most as many ranks as subjects
# (extra ranks work none and only wait). Submit with
#   sbatch examples/slurm_popfit.sh data.csv
# from the source tree (or set RADIOKIN and SCRIPT). radiokin must be
# built with MPI (./configure finds OpenMPI; rk.mpi.built = true) against
# the MPI the cluster's srun speaks to (PMIx: srun --mpi=pmix; check
# `srun --mpi=list`). The estimates and tables are the same bytes for
# any number of ranks: a run on 4 ranks of a workstation checks a
# cluster run.
#SBATCH --job-name=radiokin-popfit
#SBATCH --nodes=16
#SBATCH --ntasks-per-node=16
#SBATCH --cpus-per-task=1
#SBATCH --time=02:00:00
#SBATCH --output=radiokin-popfit-%j.log
set -euo pipefail
RADIOKIN=${RADIOKIN:-./radiokin}
SCRIPT=${SCRIPT:-examples/mpi_popfit.lua}
DATA=${1:?usage: sbatch examples/slurm_popfit.sh data.csv [out_dir]}
# Rank 0 writes the tables, on the node that runs it: give a directory
# on a file system that node can write.
OUT=${2:-"$PWD/popfit-$SLURM_JOB_ID"}
# one thread per rank: the ranks already fill the cores
srun --mpi=pmix "$RADIOKIN" "$SCRIPT" "$DATA" "$OUT"
