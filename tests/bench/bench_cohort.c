/* bench_cohort.c - the cohort benchmark of issue 3: the peer model of
 * docs/sources.md (same MINSTD/Box-Muller patients), N patients x
 * 4 cycles of 7400 MBq, kidney TIA per cycle, rtol 1e-6 atol 1e-9, through
 * rkin_cohort_run on both paths, on one thread and on all cores. Prints
 * patients/s and the max relative error vs the exact reference table; then
 * runs the scipy LSODA peer (pbpk_sim.py 50) for the ratio.
 *
 *   bench_cohort [SHARED_PEERS_DIR]    (default: the developers' reference-program folder) */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/init.h"
#include "core/model.h"
#include "pop/vpop.h"
#include "../peer.h"
#include "../spawn.h"

static double now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

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
  res.tia = tia;
  res.status = status;
  t = now();
  if (rkin_cohort_run(&sp, &res, &err) || res.n_failed) {
    fprintf(stderr, "bench_cohort: %s\n",
            res.n_failed ? res.first.msg : err.msg);
    t = -1;
  } else {
    t = now() - t;
  }
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
 * 1000 --compiled: the strongest ODE peer. */
static double desolve_rate(const char *peers)
{
  char *argv[] = {"/usr/bin/Rscript", "pbpk_sim.R", "1000", "--compiled",
                  NULL};
  return peer_rate(peers, argv, "pbpk_sim.R");
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
  rkin_model_free(m);
  free(k);
  free(ex);
  free(cv);
  free(ref);
  return 0;
}
