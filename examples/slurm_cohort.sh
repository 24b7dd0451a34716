#!/bin/bash
# slurm_cohort.sh - examples/mpi_cohort.lua on a Slurm cluster: one MPI
# rank per node, each using the node's cores as threads (rk.cohort's
# threads = 0 shares a node's cores among the ranks on it). Submit with
#   sbatch examples/slurm_cohort.sh
# from the source tree (or set RADIOKIN and SCRIPT). radiokin must be
# built with MPI (./configure finds OpenMPI; `radiokin` then says
# rk.mpi.built = true) against the MPI the cluster's srun speaks to
# (PMIx: srun --mpi=pmix; check `srun --mpi=list`).
#SBATCH --job-name=radiokin-cohort
#SBATCH --nodes=16
#SBATCH --ntasks-per-node=1
#SBATCH --cpus-per-task=16
#SBATCH --time=00:30:00
#SBATCH --output=radiokin-cohort-%j.log
set -euo pipefail
RADIOKIN=${RADIOKIN:-./radiokin}
SCRIPT=${SCRIPT:-examples/mpi_cohort.lua}
# The CSV is written by rank 0 only, on the node that runs it: give a
# path on a file system that node can write (the summaries print in the
# log whatever the path).
OUT=${OUT:-"$PWD/trial-$SLURM_JOB_ID.csv"}
srun --mpi=pmix "$RADIOKIN" "$SCRIPT" 10000000 "$OUT"
