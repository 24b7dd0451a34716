#!/bin/sh
# run.sh - every benchmark of tests/bench/, one after another (the machine
# has few cores; nothing runs in parallel). Figures go to stdout and to
# bench.log in the build directory. Run through `make bench`;
# RADIOKIN_PEERS names the folder of the developers' reference programs and
# data (tac_data.csv, logs/); without it the default below is tried.
src=${RADIOKIN_SRCDIR:?run through make bench}
build=${RADIOKIN_BUILDDIR:-.}
peers=${RADIOKIN_PEERS:-"$src/../shared/peers"}   # the peer programs
log="$build/bench.log"
: > "$log"
run() {
  echo "== $*" | tee -a "$log"
  "$@" 2>&1 | tee -a "$log"
}
cd "$build" || exit 1
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$log"
for b in tests/bench/bench_*; do
  case $b in
    *.c|*.o|*.lua) continue ;;
    */bench_tac) run "$b" "$peers/tac_data.csv" ;;
    */bench_cohort) run "$b" "$peers" ;;
    */bench_regimen) run "$b" 10000 20 ;;   # 20 nonlinear patients
    */bench_large) run "$b" 1000 50 3 ;;   # dense on 50, scipy on 3
    */bench_saem_pbpk) run "$b" 100 ;;   # SAEM vs FOCE-I, 100 subjects
    # FOCE-I alone, then SAEM beside FOCE-I on the same 100 datasets
    */bench_simest) run "$b"; run "$b" 100 40 0 -1 saem ;;
    *) [ -x "$b" ] && run "$b" ;;
  esac
done
for b in "$src"/tests/bench/bench_*.lua; do
  [ -f "$b" ] && run ./radiokin "$b"
done
echo "figures written to $log"
