#!/bin/sh
# bench_mpi.sh - parallel efficiency over MPI ranks (issue 21): the CVODES
# cohort of the six-compartment model (models/lu177_6c.lua, 4 cycles) and
# a 200-subject FOCE-I population fit, each at 1 and 2 ranks of one
# thread each: wall time of the whole run (MPI start-up, sampling,
# solving, the gathers, the CSVs on rank 0), each rank's CPU time, the
# time inside the fit's per-evaluation gathers and of one gather alone;
# efficiency E = T1 / (2 T2), from wall times and (for a loaded machine)
# from CPU times; and a projection to 16 nodes x 16 cores with the model
# stated where it is computed. With BENCH_MPI_BIG=1, also the streamed
# cohort of 10^7 patients x 4 cycles on the exact path (csv = ...), its
# wall and CPU time, peak resident memory (GNU time) and the load.
#   RADIOKIN_SRCDIR=. RADIOKIN_BUILDDIR=. sh tests/bench/bench_mpi.sh [n]
#   (n cohort patients, default 2000; BENCH_MPI_SUBJECTS, default 200)
# Run on an idle machine: wall times from a loaded one measure the load.
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
io.stderr:write(("RANK %d %.4f\n"):format(rk.mpi.rank, os.clock()))
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
# the CPU seconds rank $1 reported on stderr
rank_cpu() { grep "^RANK $1 " "$tmp/err" | cut -d' ' -f3; }
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
t1=$(wall mpirun -np 1 $root "$build/radiokin" "$tmp/cohort.lua" "$tmp/c1.csv" "$n" cvodes "")
c1=$(rank_cpu 0)
t2=$(wall mpirun -np 2 $root "$build/radiokin" "$tmp/cohort.lua" "$tmp/c2.csv" "$n" cvodes "")
c20=$(rank_cpu 0)
c21=$(rank_cpu 1)
cmp -s "$tmp/c1.csv" "$tmp/c2.csv" || { echo "bench_mpi: CSVs differ"; exit 1; }
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "CVODES cohort, $n patients x 4 cycles, 1 thread per rank:"
echo "  1 rank  ${t1} s wall, ${c1} s CPU"
echo "  2 ranks ${t2} s wall, CPU rank 0 ${c20} s, rank 1 ${c21} s (same CSV)"
echo "$t1 $t2" | awk '{ printf "  wall-clock efficiency T1 / (2 T2) = %.2f (on this machine under its load)\n", $1 / (2 * $2) }'
# Quiet-machine figures from CPU times (each rank's whole process: MPI
# start-up, its patients, the gather): E = C1 / (2 max(C2_r)); the part
# every rank repeats s = C2_0 + C2_1 - C1; Amdahl E(P) = C1 / (P s + C1 - s)
# (the one gather at the end moves 8 bytes a patient and cycle: too few
# to count against seconds of solving).
echo "$c1 $c20 $c21" | awk '{ m = $2 > $3 ? $2 : $3; s = $2 + $3 - $1;
  if (s < 0) s = 0;
  printf "  from CPU times: efficiency C1 / (2 max C2) = %.2f; repeated part s = %.2f s of %.2f s\n", $1 / (2 * m), s, $1;
  printf "  projected (Amdahl with s):";
  for (p = 2; p <= 256; p *= 4) printf " P = %d: %.2f;", p, $1 / (p * s + $1 - s);
  printf "\n" }'
# Projection (a stated model, not a measurement): the work divides over
# P = nodes x cores workers, the rest (start-up, sampling on every rank,
# the gather, the CSV on rank 0) is the overhead o = T2 - T1 / 2 measured
# at 2 ranks, taken to grow as log2 P (tree collectives) for the gather
# part; E(P) = (T1 / P) / (T1 / P + o log2 P). For 16 x 16 = 256.
echo "$t1 $t2" | awk '{ o = $2 - $1 / 2; if (o < 0) o = 0;
  printf "  wall-clock overhead at 2 ranks o = %.2f s; projected (model above):\n", o;
  for (p = 2; p <= 256; p *= 2) { w = $1 / p;
    printf "    P = %3d: E = %.2f\n", p, w / (w + o * log(p) / log(2)) } }'

# ------------------------------------------------------------ population fit
# A 200-subject FOCE-I fit (the Theophylline model, models/theophylline.lua:
# one compartment, first-order absorption, random lKa and lCl) on data
# simulated here from nlme's estimates (WT 60-90 kg, 4 mg/kg orally, ten
# samples over 24 h, additive SD 0.7 mg/L), with the covariance step, at
# 1 and 2 ranks of one thread each: wall time, parameter CSVs identical,
# the time inside the per-evaluation gathers (r.mpi), and the gather's
# latency alone (rk.mpi.gather_time: after a barrier, so without waiting
# for the slower rank).
npop=${BENCH_MPI_SUBJECTS:-200}
cat > "$tmp/simpop.lua" <<LUA
local out, n = ...
local th, sd, sg = { -2.4547, 0.4657, -3.2272 }, { 0.6436, 0.1669 }, 0.7093
local state = 12345
local function unif()   -- a fixed linear congruential stream: same data
  state = (state * 1103515245 + 12345) % 2147483648
  return (state + 0.5) / 2147483648
end
local function normal()
  return math.sqrt(-2 * math.log(unif())) * math.cos(2 * math.pi * unif())
end
local rows = { "ID,TIME,DV,AMT,EVID,MDV,CMT,WT" }
for i = 1, tonumber(n) do
  local wt = 60 + 30 * unif()
  local ka = math.exp(th[2] + sd[1] * normal())
  local lcl = th[3] + sd[2] * normal()
  local cl, v = math.exp(lcl) * wt, math.exp(lcl - th[1]) * wt
  local dose, ke = 4 * wt, cl / v
  rows[#rows + 1] = ("%d,0,.,%.6g,1,1,1,%.4g"):format(i, dose, wt)
  for _, t in ipairs { 0.25, 0.5, 1, 2, 3.5, 5, 7, 9, 12, 24 } do
    local c = dose * ka / (v * (ka - ke)) * (math.exp(-ke * t)
                                              - math.exp(-ka * t))
    rows[#rows + 1] = ("%d,%g,%.6g,.,0,0,2,%.4g"):format(i, t,
      c + sg * normal(), wt)
  end
end
local f = assert(io.open(out, "w"))
f:write(table.concat(rows, "\n"), "\n")
f:close()
LUA
cat > "$tmp/popfit.lua" <<LUA
local rk = require "radiokin"
local data, out = ...
local pm = dofile("$src/models/theophylline.lua")
local c0 = os.clock()
local r = pm:fit(data, { threads = 1 })
local cpu = os.clock() - c0
r:write_csv(out)
local g = r.mpi
-- one evaluation's gather (24 bytes a subject), after a barrier
local mean, least = rk.mpi.gather_time(24 * math.ceil(#r.ebe / rk.mpi.size),
                                       300)
-- every rank: its CPU time in the fit and in the gathers
io.stderr:write(("RANK %d %.4f %.4f %.4f\n"):format(rk.mpi.rank, cpu,
  g.gather_s, g.gather_cpu_s))
print(("%d %d %d %.9f %.9f %s"):format(r.n_eval, g.gathers,
  math.floor(g.gather_bytes), mean, least, tostring(r.converged)))
LUA
"$build/radiokin" "$tmp/simpop.lua" "$tmp/pop.csv" "$npop" || exit 1
# wall seconds of a run; its stdout in $tmp/out, stderr in $tmp/err
timed() {
  s=$(date +%s.%N)
  "$@" > "$tmp/out" 2>"$tmp/err" || { cat "$tmp/err"; echo "failed: $*"; exit 1; }
  e=$(date +%s.%N)
  echo "$s $e" | awk '{ printf "%.2f", $2 - $1 }'
}
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
p1=$(timed mpirun -np 1 $root "$build/radiokin" "$tmp/popfit.lua" "$tmp/pop.csv" "$tmp/f1")
o1="$(cat "$tmp/out") $(grep '^RANK 0 ' "$tmp/err" | cut -d' ' -f3-)"
p2=$(timed mpirun -np 2 $root "$build/radiokin" "$tmp/popfit.lua" "$tmp/pop.csv" "$tmp/f2")
o2="$(cat "$tmp/out") $(grep '^RANK 0 ' "$tmp/err" | cut -d' ' -f3-) $(grep '^RANK 1 ' "$tmp/err" | cut -d' ' -f3-)"
cmp -s "$tmp/f1/parameters.csv" "$tmp/f2/parameters.csv" &&
  cmp -s "$tmp/f1/table.csv" "$tmp/f2/table.csv" ||
  { echo "bench_mpi: population fit CSVs differ"; exit 1; }
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "FOCE-I fit with covariance step, $npop subjects, 1 thread per rank:"
# fields: wall, n_eval, gathers, bytes, gather mean, least, converged,
# then per rank: CPU in the fit, wall in gathers, CPU in gathers
echo "$p1 $o1" | awk '{ printf "  1 rank  %.2f s wall, %.2f s CPU, %d evaluations\n", $1, $8, $2 }'
echo "$p2 $o2" | awk '{ printf "  2 ranks %.2f s wall; CPU rank 0 %.2f s, rank 1 %.2f s (same parameter and table CSVs)\n", $1, $8, $11;
  printf "  gathers: %d (%.2f per evaluation), %d bytes; time inside them on rank 0: %.3f s wall (%.1f us per evaluation; incl. waiting for the other rank), %.3f s CPU\n", $3, $3 / $2, $4, $9, 1e6 * $9 / $2, $10;
  printf "  one gather alone (after a barrier, 24 bytes a subject): mean %.2f us, shortest %.2f us\n", 1e6 * $5, 1e6 * $6 }'
echo "$p1 $o1 $p2 $o2 $npop" | awk '{
  c1 = $8; ne = $12; k = $13 / ne; g = $16;
  comp0 = $18 - $20; comp1 = $21 - $23; n = $24;
  printf "  wall-clock efficiency T1 / (2 T2) = %.2f (on this machine under its load)\n", $1 / (2 * $11);
  # Quiet-machine figures from CPU times (a loaded machine stretches the
  # wall time, not the CPU a rank needs): compute of rank r = its CPU in
  # the fit minus its CPU inside the gathers (MPI polls while waiting).
  # The serial part s (run by every rank: set-up, the optimiser, the
  # final tables) from comp0 + comp1 = 2 s + (c1 - s); the 2-rank time
  # T2 = max(comp0, comp1) + ne k g with g the shortest measured gather.
  s = comp0 + comp1 - c1; if (s < 0) s = 0; if (s > c1) s = c1;
  t2 = (comp0 > comp1 ? comp0 : comp1) + ne * k * g;
  printf "  from CPU times: compute rank 0 %.2f s, rank 1 %.2f s; serial part s = %.2f s of %.2f s (Amdahl fraction %.3f)\n", comp0, comp1, s, c1, s / c1;
  printf "  quiet-machine 2-rank efficiency c1 / (2 T2) = %.2f (T2 = %.2f s)\n", c1 / (2 * t2), t2;
  # Projection (a stated model, not a measurement): Amdahl with subjects
  # as the unit of work, T(P) = s + (c1 - s) ceil(n / P) / n
  # + ne k a log2 P: one gather per evaluation as a tree / recursive
  # doubling of log2 P steps of latency a, the shortest one measured here
  # (shared memory), or a = 50 us (a commodity cluster network;
  # InfiniBand ~2-5 us); the bytes (24 n) are too few to count.
  printf "  projected efficiency E(P) = c1 / (P T(P)), 16 nodes x 16 cores = 256:\n";
  printf "      P   a = %.1f us   a = 50 us\n", 1e6 * g;
  for (p = 2; p <= 256; p *= 2) {
    w = (c1 - s) * int((n + p - 1) / p) / n;
    e1 = c1 / (p * (s + w + ne * k * g * log(p) / log(2)));
    e2 = c1 / (p * (s + w + ne * k * 50e-6 * log(p) / log(2)));
    printf "    %3d   %5.2f         %5.2f\n", p, e1, e2 } }'

if [ "${BENCH_MPI_BIG:-0}" = 1 ]; then
  sed -i 's/threads = 1,/threads = 0,/' "$tmp/cohort.lua"
  /usr/bin/time -v "$build/radiokin" "$tmp/cohort.lua" "" 10000000 exact \
    "$tmp/big.csv" 2> "$tmp/time" >/dev/null || { cat "$tmp/time"; exit 1; }
  echo "streamed exact cohort, 10^7 patients x 4 cycles, one process:"
  grep -E "Elapsed|User time|System time|Percent of CPU|Maximum resident" \
    "$tmp/time" | sed 's/^\s*/  /'
  echo "  load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "  CSV $(wc -c < "$tmp/big.csv") bytes, $(($(wc -l < "$tmp/big.csv") - 1)) rows"
fi
