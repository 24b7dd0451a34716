/* bench_cohort.c - the cohort benchmark of issue 3: the peer model of
 * docs/sources.md (same MINSTD/Box-Muller patients), N patients x
 * 4 cycles of 7400 MBq, kidney TIA per cycle, rtol 1e-6 atol 1e-9, through
 * rkin_cohort_run on both paths, on one thread and on all cores. Prints
 * patients/s and the max relative error vs the exact reference table; then
 * runs the scipy LSODA peer (pbpk_sim.py 50) and deSolve's compiled LSODA
 * (pbpk_sim.R --compiled) for the ratios. The deSolve ratio is also taken
 * in CPU time, alternating radiokin and deSolve runs (a loaded machine
 * makes wall times meaningless): deSolve's CPU per patient is the child
 * CPU time of a 1000-patient run minus that of a 10-patient run (R's
 * start-up, the compilation of its C right-hand side).
 *
 *   bench_cohort [SHARED_PEERS_DIR]    (default: the developers' reference-program folder)
 *   bench_cohort --profile N           only the CVODES cohort, one thread,
 *                                      N patients (for callgrind), and its
 *                                      error vs the reference table
 *   bench_cohort --ratio R [PEERS_DIR] only the CPU-time rounds vs deSolve
 *   bench_cohort --dump N              the CVODES cohort's TIAs (one thread,
 *                                      N patients, %.17g per line), to
 *                                      compare two builds' outputs
 * BENCH_BATCH=B in the environment sets the batch size of every CVODES
 * cohort run (rkin_cohort_spec.batch: 1 one patient at a time; unset or
 * 0 the default, RKIN_COHORT_BATCH); the full run also prints the
 * default's CPU time against one by one. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>

#include "core/init.h"
#include "core/model.h"
#include "pop/vpop.h"
#include "../peer.h"
#include "../spawn.h"
#include "bench_args.h"

static double now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

/* CPU time of this process, s. */
static double cpu_now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

/* CPU time (user + system) of the waited-for children so far, s. */
static double child_cpu(void)
{
  struct rusage ru;
  getrusage(RUSAGE_CHILDREN, &ru);
  return ru.ru_utime.tv_sec + 1e-6 * ru.ru_utime.tv_usec
         + ru.ru_stime.tv_sec + 1e-6 * ru.ru_stime.tv_usec;
}

static double last_cpu;   /* CPU time of the last run(), s */
static size_t batch;       /* rkin_cohort_spec.batch (BENCH_BATCH) */

/* One cohort run; returns the wall time in s, or -1 on failure. */
static double run(const rkin_model *m, rkin_path path, int threads, size_t n,
                  const double *k, double *tia, long *steps)
{
  rkin_dosing *d = rkin_dosing_new();
  rkin_dose bolus = { 0, PEER_DOSE_MBQ, 0, 0, 0, 0, 0, 0 };
  rkin_cohort_spec sp = {0};
  rkin_cohort_res res = {0};
  int kid = PEER_KIDNEY, *status = malloc(n * sizeof *status);
  rkin_err err;
  double t;

  rkin_dosing_add(d, &bolus, NULL);
  rkin_solve_opts_default(&sp.opts);
  sp.opts.rtol = 1e-6;
  sp.opts.atol = 1e-9;
  sp.opts.path = path;
  sp.model = m;
  sp.n_patients = n;
  sp.params = k;
  sp.n_cycles = PEER_NCYCLE;
  sp.cycle_h = PEER_CYCLE_H;
  sp.dosing = d;
  sp.tia = &kid;
  sp.n_tia = 1;
  sp.threads = threads;
  sp.batch = batch;
  res.tia = tia;
  res.status = status;
  t = now();
  last_cpu = cpu_now();
  if (rkin_cohort_run(&sp, &res, &err) || res.n_failed) {
    fprintf(stderr, "bench_cohort: %s\n",
            res.n_failed ? res.first.msg : err.msg);
    t = -1;
  } else {
    t = now() - t;
  }
  last_cpu = cpu_now() - last_cpu;
  *steps = res.n_steps;
  free(status);
  rkin_dosing_free(d);
  return t;
}

static double max_rel(const double *a, const double *b, size_t n)
{
  double w = 0;
  size_t i;
  for (i = 0; i < n; i++) {
    double r = fabs(a[i] / b[i] - 1);
    if (!(r <= w)) w = r;
  }
  return w;
}

/* The reference table pbpk_1000_exact.csv: id,tia_c1..tia_c4. */
static int read_reference(const char *path, double *ref, size_t n)
{
  FILE *f = fopen(path, "r");
  char line[256];
  size_t i = 0;
  if (!f) return -1;
  if (!fgets(line, sizeof line, f)) i = n + 1;
  while (i < n && fgets(line, sizeof line, f)) {
    double *r = ref + i * PEER_NCYCLE;
    if (sscanf(line, "%*d,%lf,%lf,%lf,%lf", r, r + 1, r + 2, r + 3) != 4)
      break;
    i++;
  }
  fclose(f);
  return i == n ? 0 : -1;
}

/* Runs a peer (argv, in directory dir, no shell) and returns the
 * subjects_per_s of its TIMING line for method `method`, or -1 when it did
 * not run. */
static double peer_rate(const char *dir, char *const argv[],
                        const char *method)
{
  char line[512];
  double rate = -1;
  pid_t pid;
  FILE *p;
  if (access(argv[0], X_OK) || !(p = spawn_read(dir, argv, 1, &pid)))
    return -1;
  while (fgets(line, sizeof line, p)) {
    char *s = strstr(line, "subjects_per_s=");
    if (!strncmp(line, "TIMING", 6) && s && strstr(line, method))
      rate = atof(s + 15);
  }
  spawn_wait(p, pid);
  return rate;
}

/* scipy LSODA, pbpk_sim.py 50 (issue 3 names it). */
static double scipy_rate(const char *peers)
{
  char *argv[] = {"/usr/bin/python3", "pbpk_sim.py", "50", "--method",
                  "LSODA", "--no-exact", NULL};
  return peer_rate(peers, argv, "method=LSODA");
}

/* deSolve's compiled LSODA (C right-hand side and Jacobian), pbpk_sim.R
 * N --compiled: the strongest ODE peer. Its wall-clock rate; *cpu gets
 * the CPU time the run took (R and what it ran). */
static double desolve_rate_n(const char *peers, const char *n, double *cpu)
{
  char *argv[] = {"/usr/bin/Rscript", "pbpk_sim.R", (char *)n, "--compiled",
                  NULL};
  double c0 = child_cpu(), r = peer_rate(peers, argv, "pbpk_sim.R");
  *cpu = child_cpu() - c0;
  return r;
}

static double desolve_rate(const char *peers)
{
  double cpu;
  return desolve_rate_n(peers, "1000", &cpu);
}

static int cmp_double(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* radiokin's CVODES cohort (one thread, 1000 patients) and deSolve's
 * compiled LSODA in CPU time, alternating, `rounds` times: prints each
 * round and the medians' ratio. */
static void cpu_rounds(const rkin_model *m, const double *k, double *cv,
                       const char *peers, int rounds)
{
  double rk[8], ds[8], ra[8];
  int r, ok = 1;
  if (rounds > 8) rounds = 8;
  printf("CPU time, alternating runs (radiokin CVODES one thread N=1000; "
         "deSolve compiled LSODA: CPU(N=1000) - CPU(N=10) over 990 "
         "patients):\n");
  for (r = 0; r < rounds && r < 8; r++) {
    long st;
    double c1000, c10;
    if (run(m, RKIN_PATH_CVODES, 1, 1000, k, cv, &st) < 0) return;
    rk[r] = 1000 / last_cpu;
    if (desolve_rate_n(peers, "1000", &c1000) <= 0
        || desolve_rate_n(peers, "10", &c10) <= 0 || c1000 <= c10) {
      ok = 0;
      break;
    }
    ds[r] = 990 / (c1000 - c10);
    ra[r] = rk[r] / ds[r];
    printf("  round %d: radiokin %.0f patients/CPU-s, deSolve %.0f "
           "patients/CPU-s, ratio %.2f\n", r + 1, rk[r], ds[r],
           rk[r] / ds[r]);
  }
  if (!ok) {
    printf("  deSolve compiled peer not run (needs r-base-dev and "
           "r-cran-desolve)\n");
    return;
  }
  qsort(rk, (size_t)rounds, sizeof *rk, cmp_double);
  qsort(ds, (size_t)rounds, sizeof *ds, cmp_double);
  qsort(ra, (size_t)rounds, sizeof *ra, cmp_double);
  printf("  median: radiokin %.0f, deSolve %.0f patients/CPU-s; median of "
         "the rounds' ratios %.2fx (target >= 2x)\n", rk[rounds / 2],
         ds[rounds / 2], ra[rounds / 2]);
}

/* --profile N: the CVODES cohort alone (one thread), for callgrind; the
 * max relative error vs the reference table when refpath has it. */
static int profile(const rkin_model *m, size_t n, const char *refpath)
{
  size_t nr = n < 1000 ? n : 1000;
  double *ref = malloc(1000 * PEER_NCYCLE * sizeof *ref);
  double *k = malloc(n * PEER_NPAR * sizeof *k);
  double *cv = malloc(n * PEER_NCYCLE * sizeof *cv), t;
  long st = 0;
  if (!k || !cv) return 1;
  peer_population(n, k);
  t = run(m, RKIN_PATH_CVODES, 1, n, k, cv, &st);
  if (t < 0) return 1;
  printf("cvodes N=%zu one thread, batch %zu: %.0f patients/CPU-s, %.1f "
         "steps/cycle, patient 1 kidney TIA %.10g %.10g %.10g %.10g MBq h\n",
         n, batch ? batch : (size_t)RKIN_COHORT_BATCH, n / last_cpu, (double)st / (n * PEER_NCYCLE), cv[0], cv[1], cv[2],
         cv[3]);
  if (ref && read_reference(refpath, ref, 1000) == 0)
    printf("max rel. error vs the exact reference (first %zu patients): "
           "%.2e\n", nr, max_rel(cv, ref, nr * PEER_NCYCLE));
  free(ref);
  free(k);
  free(cv);
  return 0;
}

int main(int argc, char **argv)
{
  rkin_init();   /* GSL reports errors as codes, never aborts */
  static const size_t sizes[] = {1000, 10000};
  const char *src = getenv("RADIOKIN_SRCDIR");
  char peers[768], refpath[1024];
  size_t nmax = 10000, s;
  double *k = malloc(nmax * PEER_NPAR * sizeof *k);
  double *ex = malloc(nmax * PEER_NCYCLE * sizeof *ex);
  double *cv = malloc(nmax * PEER_NCYCLE * sizeof *cv);
  double *ref = malloc(1000 * PEER_NCYCLE * sizeof *ref);
  double cv1_rate = 0, py;
  int cores = rkin_ncores(), have_ref;
  rkin_err err;
  rkin_model *m = peer_model(&err);

  bench_help(argc, argv,
             "usage: bench_cohort [SHARED_PEERS_DIR]\n"
             "       bench_cohort --profile N      CVODES cohort only, one "
             "thread, N patients\n"
             "       bench_cohort --ratio R [PEERS_DIR]   R = 1..8 CPU-time "
             "rounds vs deSolve\n"
             "       bench_cohort --dump N         N = 1..10000 patients' "
             "CVODES TIAs, %.17g\n"
             "  the peer 6-compartment 177Lu model, N patients x 4 cycles of "
             "7400 MBq,\n  kidney TIA per cycle, rtol 1e-6 atol 1e-9, "
             "rkin_cohort_run on both paths,\n  1 thread and all cores, "
             "beside the scipy LSODA (pbpk_sim.py) and deSolve\n  compiled "
             "LSODA (pbpk_sim.R --compiled) peers. Default peers dir: the\n"
             "  reference-program folder. BENCH_BATCH=B: CVODES batch "
             "size.\n");
  if (argc > 1 && (!strcmp(argv[1], "--profile") || !strcmp(argv[1], "--dump")
                   || !strcmp(argv[1], "--ratio")) && argc < 3) {
    fprintf(stderr, "bench_cohort: argument 2 (the count after %s) is "
            "missing\n", argv[1]);
    return 2;
  }
  if (argc > 1 && argv[1][0] == '-' && strcmp(argv[1], "--profile")
      && strcmp(argv[1], "--dump") && strcmp(argv[1], "--ratio")) {
    fprintf(stderr, "bench_cohort: argument 1 must be a peers directory, "
            "--profile, --dump or --ratio (got '%s')\n", argv[1]);
    return 2;
  }
  {
    /* the peers directory (argument 1, or 3 after --ratio R) must exist:
     * a mistyped count would otherwise start the full run */
    int di = 1;
    struct stat sb;
    if (argc > 1 && !strcmp(argv[1], "--ratio")) di = 3;
    else if (argc > 1 && argv[1][0] == '-') di = argc;
    bench_max_args("bench_cohort", argc, argv, di == 1 ? 1 : 3);
    if (di == argc) bench_max_args("bench_cohort", argc, argv, 2);
    if (di < argc && (stat(argv[di], &sb) || !S_ISDIR(sb.st_mode))) {
      fprintf(stderr, "bench_cohort: argument %d (PEERS_DIR) must be a "
              "directory (got '%s')\n", di, argv[di]);
      return 2;
    }
  }
  if (getenv("BENCH_BATCH")) batch = (size_t)atol(getenv("BENCH_BATCH"));

  if (m && argc > 2 && !strcmp(argv[1], "--profile")) {
    int rc;
    snprintf(refpath, sizeof refpath, "%s/../shared/peers/logs/"
             "pbpk_1000_exact.csv", src ? src : ".");
    rc = profile(m, (size_t)bench_long("bench_cohort", argc, argv, 2, "N",
                                       0, 1, 100000000), refpath);
    rkin_model_free(m);
    free(k);
    free(ex);
    free(cv);
    free(ref);
    return rc;
  }
  if (m && k && cv && argc > 2 && !strcmp(argv[1], "--dump")) {
    size_t n = (size_t)bench_long("bench_cohort", argc, argv, 2, "N", 0, 1,
                                  (long)nmax), i;
    long st;
    peer_population(n, k);
    if (run(m, RKIN_PATH_CVODES, 1, n, k, cv, &st) < 0) return 1;
    for (i = 0; i < n * PEER_NCYCLE; i++) printf("%.17g\n", cv[i]);
    rkin_model_free(m);
    free(k);
    free(ex);
    free(cv);
    free(ref);
    return 0;
  }
  if (argc > 2 && !strcmp(argv[1], "--ratio")) {
    int rounds = (int)bench_long("bench_cohort", argc, argv, 2, "R", 0, 1,
                                 8);
    if (argc > 3) snprintf(peers, sizeof peers, "%s", argv[3]);
    else snprintf(peers, sizeof peers, "%s/../shared/peers", src ? src : ".");
    peer_population(1000, k);
    cpu_rounds(m, k, cv, peers, rounds);
    rkin_model_free(m);
    free(k);
    free(ex);
    free(cv);
    free(ref);
    return 0;
  }
  if (argc > 1) snprintf(peers, sizeof peers, "%s", argv[1]);
  else snprintf(peers, sizeof peers, "%s/../shared/peers", src ? src : ".");
  snprintf(refpath, sizeof refpath, "%s/logs/pbpk_1000_exact.csv", peers);
  if (!m || !k || !ex || !cv || !ref) {
    fprintf(stderr, "bench_cohort: %s\n", m ? "out of memory" : err.msg);
    return 1;
  }
  peer_population(nmax, k);
  have_ref = read_reference(refpath, ref, 1000) == 0;
  printf("bench_cohort: peer 6-compartment 177Lu model, 4 cycles x 7400 MBq "
         "every 1344 h, kidney TIA per cycle, rtol 1e-6 atol 1e-9, %d "
         "cores\n", cores);
  printf("%-7s %6s %7s %10s %12s %12s %12s\n", "path", "N", "threads",
         "wall_s", "patients/s", "steps/cycle", "max_rel_err");
  for (s = 0; s < 2; s++) {
    size_t n = sizes[s];
    int th;
    for (th = 1; th <= cores; th = th == cores ? cores + 1 : cores) {
      long st;
      double te = run(m, RKIN_PATH_EXACT, th, n, k, ex, &st);
      double tc = run(m, RKIN_PATH_CVODES, th, n, k, cv, &st);
      /* Accuracy: vs the reference table where it exists (first 1000
       * patients), else the CVODES path vs the exact path. */
      double ee = have_ref ? max_rel(ex, ref, 1000 * PEER_NCYCLE) : NAN;
      double ec = have_ref ? max_rel(cv, ref, 1000 * PEER_NCYCLE) : NAN;
      if (te < 0 || tc < 0) return 1;
      printf("%-7s %6zu %7d %10.4f %12.0f %12s %12.2e\n", "exact", n, th, te,
             n / te, "-", ee);
      printf("%-7s %6zu %7d %10.4f %12.0f %12.1f %12.2e\n", "cvodes", n, th,
             tc, n / tc, (double)st / (n * PEER_NCYCLE), ec);
      if (n > 1000)
        printf("        N=%zu: max rel. diff cvodes vs exact, all patients "
               "%.2e\n", n, max_rel(cv, ex, n * PEER_NCYCLE));
      if (th == 1 && s == 0) cv1_rate = n / tc;
    }
  }
  /* The same CVODES cohort with the model's tapes as machine code
   * (m:native): one thread, N = 1000, bit-identical TIAs expected. */
  {
    char dir[] = "/tmp/rk_bench_native_XXXXXX";
    double *nv = malloc(1000 * PEER_NCYCLE * sizeof *nv), tt, tn;
    long st;
    size_t i, differ = 0;
    if (nv && mkdtemp(dir)) {
      tt = run(m, RKIN_PATH_CVODES, 1, 1000, k, cv, &st);
      if (rkin_model_native(m, dir, &err) == 0) {
        tn = run(m, RKIN_PATH_CVODES, 1, 1000, k, nv, &st);
        for (i = 0; i < 1000 * PEER_NCYCLE; i++) differ += nv[i] != cv[i];
        printf("cvodes N=1000, one thread: tape %.0f patients/s, native "
               "code %.0f patients/s (%.2fx); TIAs differing: %zu\n",
               1000 / tt, 1000 / tn, tt / tn, differ);
      } else {
        printf("native code not built: %s\n", err.msg);
      }
    }
    free(nv);
  }
  /* The batches (rkin_cohort_spec.batch) against one patient at a time:
   * one thread, N = 1000, CPU time of each. */
  {
    double *b1 = malloc(1000 * PEER_NCYCLE * sizeof *b1), cb, c1;
    size_t keep = batch;
    long st;
    if (b1 && run(m, RKIN_PATH_CVODES, 1, 1000, k, cv, &st) >= 0) {
      cb = last_cpu;
      batch = 1;
      if (run(m, RKIN_PATH_CVODES, 1, 1000, k, b1, &st) >= 0) {
        c1 = last_cpu;
        printf("cvodes N=1000, one thread, CPU time: batches of %zu %.0f "
               "patients/CPU-s, one by one %.0f (%.2fx); max rel. diff "
               "%.2e\n", keep ? keep : (size_t)RKIN_COHORT_BATCH,
               1000 / cb, 1000 / c1, c1 / cb,
               max_rel(cv, b1, 1000 * PEER_NCYCLE));
      }
      batch = keep;
    }
    free(b1);
  }
  if (!have_ref) printf("(reference %s not found: no error column)\n",
                        refpath);
  printf("patient 1 kidney TIA, exact path: %.10g %.10g %.10g %.10g MBq h "
         "(reference 22317.12958 22317.1766 22317.17661 22317.17661)\n",
         ex[0], ex[1], ex[2], ex[3]);
  py = scipy_rate(peers);
  if (py > 0)
    printf("scipy LSODA (pbpk_sim.py 50, same run): %.1f patients/s; "
           "radiokin CVODES one thread: %.0f patients/s = %.1fx "
           "(target >= 30x)\n", py, cv1_rate, cv1_rate / py);
  else
    printf("scipy LSODA peer not run (needs /usr/bin/python3 with "
           "python3-scipy and %s/pbpk_sim.py)\n", peers);
  py = desolve_rate(peers);
  if (py > 0)
    printf("deSolve compiled LSODA (pbpk_sim.R 1000 --compiled, same run): "
           "%.0f patients/s; radiokin CVODES one thread: %.0f patients/s = "
           "%.2fx\n", py, cv1_rate, cv1_rate / py);
  else
    printf("deSolve compiled peer not run (needs r-base-dev and "
           "r-cran-desolve)\n");
  if (py > 0) cpu_rounds(m, k, cv, peers, 3);
  rkin_model_free(m);
  free(k);
  free(ex);
  free(cv);
  free(ref);
  return 0;
}
