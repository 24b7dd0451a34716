#!/bin/sh
# bench_mpi.sh - parallel efficiency of rk.cohort over MPI ranks (issue 21):
# the CVODES cohort of the six-compartment model (models/lu177_6c.lua,
# 4 cycles) at 1 and 2 ranks of one thread each, wall time of the whole
# run (MPI start-up, sampling, solving, the gather, the CSV on rank 0).
# Efficiency E = T1 / (2 T2). With BENCH_MPI_BIG=1, also the streamed
# cohort of 10^7 patients x 4 cycles on the exact path (csv = ...), its
# wall time and peak resident memory (GNU time).
#   RADIOKIN_SRCDIR=. RADIOKIN_BUILDDIR=. sh tests/bench/bench_mpi.sh [n]
# Run on an idle machine: figures from a loaded one measure the load.
src=${RADIOKIN_SRCDIR:-.}
build=${RADIOKIN_BUILDDIR:-.}
n=${1:-2000}
if ! command -v mpirun >/dev/null 2>&1; then
  echo "bench_mpi: no mpirun (Debian: openmpi-bin); skipped"
  exit 0
fi
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
root=""
[ "$(id -u)" = 0 ] && root="--allow-run-as-root"
cat > "$tmp/cohort.lua" <<LUA
local rk = require "radiokin"
local out, n, path, csv = ...
local m = dofile("$src/models/lu177_6c.lua")
local c = rk.cohort { model = m, n = tonumber(n), cv = 0.3, seed = 1,
  doses = { { time = 0, amount = 7400, to = "P" } }, cycles = 4,
  interval_h = 1344, tia = { "K" }, path = path, threads = 1,
  progress = false, csv = csv ~= "" and csv or nil }
if not c.streamed then c:write_csv(out) end
LUA
if ! echo 'local rk = require "radiokin"; os.exit(rk.mpi.built and 0 or 1)' |
     "$build/radiokin" -; then
  echo "bench_mpi: radiokin was built without MPI; skipped"
  exit 0
fi
# wall seconds of a command (GNU date: nanoseconds)
wall() {
  s=$(date +%s.%N)
  "$@" >/dev/null 2>"$tmp/err" || { cat "$tmp/err"; echo "failed: $*"; exit 1; }
  e=$(date +%s.%N)
  echo "$s $e" | awk '{ printf "%.2f", $2 - $1 }'
}
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
t1=$(wall mpirun -np 1 $root "$build/radiokin" "$tmp/cohort.lua" "$tmp/c1.csv" "$n" cvodes "")
t2=$(wall mpirun -np 2 $root "$build/radiokin" "$tmp/cohort.lua" "$tmp/c2.csv" "$n" cvodes "")
cmp -s "$tmp/c1.csv" "$tmp/c2.csv" || { echo "bench_mpi: CSVs differ"; exit 1; }
echo "CVODES cohort, $n patients x 4 cycles, 1 thread per rank:"
echo "  1 rank  ${t1} s"
echo "  2 ranks ${t2} s (same CSV)"
echo "$t1 $t2" | awk '{ printf "  efficiency T1 / (2 T2) = %.2f\n", $1 / (2 * $2) }'
# Projection (a stated model, not a measurement): the work divides over
# P = nodes x cores workers, the rest (start-up, sampling on every rank,
# the gather, the CSV on rank 0) is the overhead o = T2 - T1 / 2 measured
# at 2 ranks, taken to grow as log2 P (tree collectives) for the gather
# part; E(P) = (T1 / P) / (T1 / P + o log2 P). For 16 x 16 = 256.
echo "$t1 $t2" | awk '{ o = $2 - $1 / 2; if (o < 0) o = 0;
  printf "  overhead at 2 ranks o = %.2f s; projected (model above):\n", o;
  for (p = 2; p <= 256; p *= 2) { w = $1 / p;
    printf "    P = %3d: E = %.2f\n", p, w / (w + o * log(p) / log(2)) } }'
if [ "${BENCH_MPI_BIG:-0}" = 1 ]; then
  sed -i 's/threads = 1,/threads = 0,/' "$tmp/cohort.lua"
  /usr/bin/time -v "$build/radiokin" "$tmp/cohort.lua" "" 10000000 exact \
    "$tmp/big.csv" 2> "$tmp/time" >/dev/null || { cat "$tmp/time"; exit 1; }
  echo "streamed exact cohort, 10^7 patients x 4 cycles, one process:"
  grep -E "Elapsed|Maximum resident" "$tmp/time" | sed 's/^\s*/  /'
  echo "  CSV $(wc -c < "$tmp/big.csv") bytes, $(($(wc -l < "$tmp/big.csv") - 1)) rows"
fi
