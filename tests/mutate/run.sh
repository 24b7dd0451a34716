#!/usr/bin/env bash
# tests/mutate/run.sh - mutation check of the core formulas (not part of
# make check: it takes minutes).
#
# For each mutant of tests/mutate/mutants.txt (see the format there) it
# changes one formula in a scratch copy of the source tree, rebuilds it
# incrementally, runs the mutant's tests (or the whole suite with --full)
# and prints KILLED (some test failed) or SURVIVED (every test passed: a
# formula no test guards), then the kill rate. A killed mutant shows how
# many assertions failed ([n]) and the first of them. The working tree is never
# modified. The scratch tree is configured and built once; with
# --scratch DIR it is kept and reused by later runs.
#
# Timeouts: a mutant can make a test hang (an SBML size limit dropped lets
# libSBML's check run for hours). Each test run is under
# `timeout -k 30 S`: TERM to the whole make process group after S seconds
# (--timeout, default 900; a mutant's `timeout:` field overrides it), KILL
# 30 s later for a test that ignores TERM. A mutant stopped so is printed
# TIMEOUT and counted killed, apart ("n by timeout" in the summary). A
# per-mutant timeout must be well above the unmutated tests' time on the
# machine at hand (test_errmsg_sbml: 340 to 632 s wall, its hanging
# mutants 1800 s, see mutants.txt). The baseline runs
# under the largest timeout of the selected mutants; --skip-baseline skips
# it (a scratch tree known to pass, e.g. after an earlier run).
#
# Staleness: later work can change the code a mutant's from: text was
# taken from. run.sh refuses to start (status 2, naming them) when a
# selected mutant's file is missing or its from: text does not occur exactly
# once. --lint builds nothing and checks every record in TAP (make check
# runs it as tests/mutate/lint.sh): unique id, file present, from: exactly
# once, to: differing from from:, tests: "all" or tests of the suite (the
# C_TESTS, LUA_TESTS and TESTS of Makefile.am).
#
# usage: tests/mutate/run.sh [--full] [--only ID[,ID...]] [--list FILE]
#                            [--scratch DIR] [--jobs N] [--timeout S]
#                            [--skip-baseline]
#                            [--keep-going-on-baseline-failure]
#        tests/mutate/run.sh --lint [--list FILE]
# Exit status: 0 when every mutant was killed, 1 when some survived,
# 2 on a usage or setup error (or a stale mutant). --lint: 0 when every
# record is sound, 1 otherwise.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
src="$(cd "$here/../.." && pwd)"
list="$here/mutants.txt"
full=0
only=""
scratch=""
jobs=2
tmo=900
force=0
skip_base=0
lint=0

# Under --lint the output is TAP: an error must read as one (Bail out!).
die() {
  [ "$lint" -eq 0 ] || printf 'Bail out! mutate: %s\n' "$*"
  printf 'mutate: %s\n' "$*" >&2; exit 2
}

while [ $# -gt 0 ]; do
  case "$1" in
    --full) full=1 ;;
    --only) [ $# -ge 2 ] || die "--only needs ids"; only="$2"; shift ;;
    --list) [ $# -ge 2 ] || die "--list needs a file"; list="$2"; shift ;;
    --scratch) [ $# -ge 2 ] || die "--scratch needs a directory"
               scratch="$2"; shift ;;
    --jobs) [ $# -ge 2 ] || die "--jobs needs a number"; jobs="$2"; shift ;;
    --timeout) [ $# -ge 2 ] || die "--timeout needs seconds"; tmo="$2"
               shift ;;
    --skip-baseline) skip_base=1 ;;
    --keep-going-on-baseline-failure) force=1 ;;
    --lint) lint=1 ;;
    -h|--help) sed -n '2,42p' "$0"; exit 0 ;;
    *) die "unknown option '$1' (see --help)" ;;
  esac
  shift
done
case "$jobs" in ''|*[!0-9]*) die "--jobs: a positive integer, got '$jobs'" ;; esac
case "$tmo" in ''|*[!0-9]*) die "--timeout: seconds, got '$tmo'" ;; esac
[ -f "$list" ] || die "no mutant list '$list'"

# ------------------------------------------------------------ read the list
ids=() files=() froms=() tos=() testss=() breakss=() tmos=()
add_record() {
  [ -n "$r_id" ] || return 0
  [ -n "$r_file" ] && [ -n "$r_from" ] \
    || die "$list: mutant '$r_id' needs file: and from:"
  case "$r_id" in *[!A-Za-z0-9_-]*) die "$list: bad id '$r_id'" ;; esac
  case "$r_file" in /*|*..*|*[!A-Za-z0-9_./-]*)
    die "$list: '$r_id': file must be a relative path inside the tree" ;; esac
  # The tests go to make as TESTS=...: letters, digits and _ . / - only, so
  # nothing in the list can reach make's or the shell's expansion.
  case "$r_tests" in *[!A-Za-z0-9_./\ -]*)
    die "$list: '$r_id': tests must be test paths separated by spaces" ;; esac
  case "$r_tmo" in *[!0-9]*|0)
    die "$list: '$r_id': timeout must be seconds (a positive integer), got '$r_tmo'" ;; esac
  ids+=("$r_id"); files+=("$r_file"); froms+=("$r_from"); tos+=("$r_to")
  testss+=("${r_tests:-all}"); breakss+=("$r_breaks"); tmos+=("${r_tmo:-$tmo}")
}
r_id="" r_file="" r_from="" r_to="" r_tests="" r_breaks="" r_tmo=""
lineno=0
while IFS= read -r line || [ -n "$line" ]; do
  lineno=$((lineno + 1))
  case "$line" in
    '#'*) continue ;;
    '') add_record; r_id="" r_file="" r_from="" r_to="" r_tests="" r_breaks="" r_tmo=""
        continue ;;
    'id: '*) r_id="${line#id: }" ;;
    'file: '*) r_file="${line#file: }" ;;
    'from: '*) r_from="${line#from: }" ;;
    'to: '*) r_to="${line#to: }" ;;
    'to:') r_to="" ;;
    'tests: '*) r_tests="${line#tests: }" ;;
    'breaks: '*) r_breaks="${line#breaks: }" ;;
    'timeout: '*) r_tmo="${line#timeout: }" ;;
    *) die "$list:$lineno: expected 'key: value', got '$line'" ;;
  esac
done < "$list"
add_record
[ ${#ids[@]} -gt 0 ] || die "$list: no mutants"

# How many times $2 occurs in file $1 (literally, non-overlapping): the
# same count the mutation loop below applies its single replacement by.
count_in() {   # $1 file, $2 text
  local text rest
  text="$(cat "$1"; printf x)"; text="${text%x}"
  rest="${text//"$2"/}"
  printf '%d' $(( (${#text} - ${#rest}) / ${#2} ))
}

# ------------------------------------------------------------------ --lint
if [ "$lint" -eq 1 ]; then
  # The suite's tests: the words assigned to C_TESTS, LUA_TESTS and TESTS
  # in Makefile.am (continuation lines included, $(...) references not).
  suite="$(awk '
    /^(C_TESTS|LUA_TESTS|TESTS)[ \t]*\+?=/ { on = 1; sub(/^[^=]*=/, "") }
    on { cont = sub(/\\$/, ""); n = split($0, w, /[ \t]+/)
         for (k = 1; k <= n; k++) if (w[k] != "" && w[k] !~ /^\$/) print w[k]
         on = cont }' "$src/Makefile.am")"
  suite=" $(printf '%s' "$suite" | tr '\n' ' ') "
  printf '1..%d\n' "${#ids[@]}"
  bad=0 seen=" "
  for i in "${!ids[@]}"; do
    id="${ids[$i]}" why=""
    case "$seen" in *" $id "*) why="id used twice" ;; esac
    seen="$seen$id "
    if [ -z "$why" ] && [ ! -f "$src/${files[$i]}" ]; then
      why="no such file ${files[$i]}"
    fi
    if [ -z "$why" ]; then
      n=$(count_in "$src/${files[$i]}" "${froms[$i]}")
      [ "$n" -eq 1 ] || why="from: text found $n times in ${files[$i]} (must be once)"
    fi
    [ -n "$why" ] || [ "${froms[$i]}" != "${tos[$i]}" ] || why="to: equals from:"
    if [ -z "$why" ] && [ "${testss[$i]}" != all ]; then
      for t in ${testss[$i]}; do
        case "$suite" in *" $t "*) ;; *) why="tests: '$t' is not a test of Makefile.am"; break ;; esac
      done
    fi
    if [ -z "$why" ]; then
      printf 'ok %d - %s\n' $((i + 1)) "$id"
    else
      printf 'not ok %d - %s: %s\n' $((i + 1)) "$id" "$why"; bad=$((bad + 1))
    fi
  done
  [ "$bad" -eq 0 ] || printf '# %d of %d mutants stale or unsound (%s)\n' \
    "$bad" "${#ids[@]}" "$list"
  [ "$bad" -eq 0 ]; exit
fi

selected=()
for i in "${!ids[@]}"; do
  if [ -z "$only" ] || [[ ",$only," == *",${ids[$i]},"* ]]; then
    selected+=("$i")
  fi
done
[ ${#selected[@]} -gt 0 ] || die "--only '$only' matches no mutant"

# Stale mutants (from: text gone or doubled) would only be skipped as
# INVALID after a long build: refuse before it.
stale=()
for i in "${selected[@]}"; do
  if [ ! -f "$src/${files[$i]}" ]; then
    stale+=("${ids[$i]} (no file ${files[$i]})")
  else
    n=$(count_in "$src/${files[$i]}" "${froms[$i]}")
    [ "$n" -eq 1 ] || stale+=("${ids[$i]} (from: found $n times in ${files[$i]})")
  fi
done
if [ ${#stale[@]} -gt 0 ]; then
  printf 'mutate: stale mutant: %s\n' "${stale[@]}" >&2
  die "${#stale[@]} selected mutants do not apply (from: must occur exactly once); fix $list"
fi

# --------------------------------------------------------- the scratch tree
keep=1
if [ -z "$scratch" ]; then
  scratch="$(mktemp -d "${TMPDIR:-/tmp}/radiokin-mutate.XXXXXX")"
  keep=0
fi
mkdir -p "$scratch"
scratch="$(cd "$scratch" && pwd)"
[ "$scratch" != "$src" ] || die "the scratch tree cannot be the source tree"
cleanup() {
  local i f
  # Put back any file a mutant left changed (interrupted run).
  for i in "${selected[@]}"; do
    f="$scratch/${files[$i]}"
    if [ -f "$f.mutate-orig" ]; then mv -f "$f.mutate-orig" "$f"; touch "$f"; fi
  done
  if [ "$keep" -eq 0 ]; then rm -rf "$scratch"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log="$scratch/mutate-logs"
mkdir -p "$log"
printf 'mutate: scratch tree %s\n' "$scratch"
# Copy the source files as they are in the working tree (tracked ones with
# uncommitted edits, and new ones git does not ignore); rsync-like: only
# files that changed, so make stays incremental.
(cd "$src" && git ls-files -z --cached --others --exclude-standard) | while IFS= read -r -d '' f; do
  [ -f "$src/$f" ] || continue     # deleted in the working tree
  if [ ! -f "$scratch/$f" ] || ! cmp -s "$src/$f" "$scratch/$f"; then
    mkdir -p "$scratch/$(dirname "$f")"
    cp "$src/$f" "$scratch/$f"     # new mtime: make sees the change
  fi
done
(
  cd "$scratch"
  if [ ! -x configure ] || [ configure.ac -nt configure ] \
     || [ Makefile.am -nt Makefile.in ]; then
    autoreconf -fi >"$log/autoreconf.log" 2>&1
  fi
  if [ ! -f Makefile ] || [ configure -nt config.status ]; then
    ./configure -q >"$log/configure.log" 2>&1
  fi
  make -j"$jobs" >"$log/build.log" 2>&1
  make -j"$jobs" check TESTS= >>"$log/build.log" 2>&1
) || die "scratch build failed (see $log/)"

# Tests of a mutant: its list, or the whole suite, under timeout -k 30
# (see the header). Status 124 (TERM) or 137 (KILL): timed out.
run_tests() {   # $1 tests ("all" or a list), $2 log file, $3 seconds
  local t="$1" out="$2" s="$3"
  if [ "$full" -eq 1 ] || [ "$t" = all ]; then
    (cd "$scratch" && timeout -k 30 "$s" make -j"$jobs" check) >"$out" 2>&1
  else
    (cd "$scratch" && timeout -k 30 "$s" make -j"$jobs" check TESTS="$t") \
      >"$out" 2>&1
  fi
}

# The first failing assertion among the logs of the tests just run.
first_failure() {   # $1 tests ("all" or a list)
  local t logs=() line
  if [ "$full" -eq 1 ] || [ "$1" = all ]; then
    logs=("$scratch"/tests/*.log "$scratch"/tests/unit/*.log)
  else
    for t in $1; do logs+=("$scratch/${t%.lua}.log"); done
  fi
  # awk reads the files itself and stops at the first match: no pipe for
  # an early exit to break (set -o pipefail).
  line="$(awk '/^(not ok|ERROR|Bail out)/ && !/# TODO/ { print substr($0, 1, 72); exit }' \
          "${logs[@]}" 2>/dev/null || true)"
  printf '%s\n' "${line:-(failed without a TAP failure: crash or timeout)}"
}

# How many assertions failed in the tests just run: a mutant caught by one
# or two is guarded thinly.
n_failures() {   # $1 tests ("all" or a list)
  local t logs=()
  if [ "$full" -eq 1 ] || [ "$1" = all ]; then
    logs=("$scratch"/tests/*.log "$scratch"/tests/unit/*.log)
  else
    for t in $1; do logs+=("$scratch/${t%.lua}.log"); done
  fi
  awk '/^not ok/ && !/# TODO/ { n++ } END { print n + 0 }' "${logs[@]}" \
    2>/dev/null || echo 0
}

# Baseline: the unmutated tree must pass the tests the mutants use.
base_tests=""
for i in "${selected[@]}"; do
  for t in ${testss[$i]}; do
    case " $base_tests " in *" $t "*) ;; *) base_tests="$base_tests $t" ;; esac
  done
done
base_tests="${base_tests# }"
case " $base_tests " in *" all "*) base_tests=all ;; esac
base_tmo=$tmo
for i in "${selected[@]}"; do
  [ "${tmos[$i]}" -le "$base_tmo" ] || base_tmo=${tmos[$i]}
done
if [ "$skip_base" -eq 1 ]; then
  echo 'mutate: baseline skipped (--skip-baseline)'
else
  printf 'mutate: baseline (%s) ... ' "$([ "$full" -eq 1 ] && echo full suite || echo "$base_tests")"
  bstart=$SECONDS
  if run_tests "$base_tests" "$log/baseline.log" "$base_tmo"; then
    echo "pass ($((SECONDS - bstart)) s)"
  else
    echo "FAIL ($((SECONDS - bstart)) s)"
    [ "$force" -eq 1 ] || die "the unmutated tree fails its tests (see $log/baseline.log)"
  fi
fi

# ------------------------------------------------------------- the mutants
killed=0 survived=0 invalid=0 timedout=0
survivors=()
for i in "${selected[@]}"; do
  id="${ids[$i]}" f="$scratch/${files[$i]}" from="${froms[$i]}"
  to="${tos[$i]}"
  if [ ! -f "$f" ]; then
    printf 'INVALID  %-28s %s: no such file\n' "$id" "${files[$i]}"
    invalid=$((invalid + 1)); continue
  fi
  text="$(cat "$f"; printf x)"; text="${text%x}"
  rest="${text//"$from"/}"
  count=$(( (${#text} - ${#rest}) / ${#from} ))
  if [ "$count" -ne 1 ]; then
    printf 'INVALID  %-28s original text found %d times in %s\n' "$id" \
      "$count" "${files[$i]}"
    invalid=$((invalid + 1)); continue
  fi
  cp -p "$f" "$f.mutate-orig"
  printf '%s' "${text/"$from"/"$to"}" >"$f"
  start=$SECONDS
  if ! (cd "$scratch" && make -j"$jobs") >"$log/$id.build.log" 2>&1; then
    verdict=INVALID
    invalid=$((invalid + 1))
    why="does not compile (see $log/$id.build.log)"
  else
    rc=0
    run_tests "${testss[$i]}" "$log/$id.log" "${tmos[$i]}" || rc=$?
    if [ "$rc" -eq 0 ]; then
      verdict=SURVIVED
      survived=$((survived + 1))
      survivors+=("$id")
      why="${breakss[$i]}"
    elif [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
      verdict=TIMEOUT
      killed=$((killed + 1)); timedout=$((timedout + 1))
      why="killed by timeout after ${tmos[$i]} s ($([ "$rc" -eq 137 ] && echo KILL || echo TERM))"
    else
      verdict=KILLED
      killed=$((killed + 1))
      why="[$(n_failures "${testss[$i]}")] $(first_failure "${testss[$i]}")"
    fi
  fi
  mv -f "$f.mutate-orig" "$f"
  touch "$f"          # newer than the mutant's object: rebuilt next time
  printf '%-8s %-28s %4ds  %s\n' "$verdict" "$id" $((SECONDS - start)) "$why"
done
# Leave the scratch build matching the source.
(cd "$scratch" && make -j"$jobs") >>"$log/build.log" 2>&1 || true

total=$((killed + survived))
if [ "$total" -gt 0 ]; then
  printf 'mutate: killed %d of %d (%d %%)' "$killed" "$total" \
    $((100 * killed / total))
  [ "$timedout" -eq 0 ] || printf ', %d by timeout' "$timedout"
else
  printf 'mutate: no valid mutant'
fi
[ "$invalid" -eq 0 ] || printf ', %d invalid' "$invalid"
printf '%s\n' "$([ "$full" -eq 1 ] && echo ', full suite per mutant' || echo ', listed tests per mutant')"
if [ ${#survivors[@]} -gt 0 ]; then
  printf 'mutate: survived: %s\n' "${survivors[*]}"
  exit 1
fi
exit 0
