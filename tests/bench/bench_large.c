/* bench_large.c - large models (issue 15, items 2 and 4): the synthetic
 * PBPK model of tests/large.h (n_org organs x 5 compartments, saturable
 * binding, Lu-177).
 *
 *  1. Build cost at 50, 100, 200, 400 states: tracing the equations (with
 *     hash-consing, i.e. CSE) and rkin_model_new (symbolic Jacobian,
 *     tapes), nonlinear and linear variants.
 *  2. Cost per evaluation of the right-hand side and of the Jacobian (its
 *     nonzeros; dense = those scattered into n x n) on the 200-state model
 *     and on the 6-state peer model of tests/peer.h.
 *  3. Dense LU vs sparse KLU Newton matrices, one patient, 10..200 states
 *     (where sparse starts to pay: RKIN_SPARSE_MIN_STATES).
 *  4. The 200-state model: one patient and a cohort (log-normal 20 % CV on
 *     every parameter, 7.4 GBq into plasma, 672 h, TIA of organ 1's bound
 *     and internalised compartments), sparse on all N patients, dense on
 *     the first N_DENSE; then the scipy peer (peers/large_scipy.py: BDF
 *     with the Jacobian's sparsity, LSODA) on the first N_PEER patients
 *     of the same file, its TIAs compared with ours.
 *
 *   bench_large [N=1000] [N_DENSE=50] [N_PEER=3] [PEER_SCRIPT]
 * PEER_SCRIPT defaults to $RADIOKIN_SRCDIR/tests/bench/peers/large_scipy.py
 * (run.sh sets it), else tests/bench/peers/large_scipy.py. The model file
 * for the peer is bench_large_model.txt in the working directory. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/init.h"
#include "pop/vpop.h"
#include "solve/solve.h"
#include "../large.h"
#include "../peer.h"
#include "bench_args.h"

#define ORG 40             /* 200 states */
#define T_END 672.0        /* h */
#define DOSE 7400.0        /* MBq into plasma */
#define CV 0.2
#define SEED 15u
#define MODEL_FILE "bench_large_model.txt"

static double now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static double t_traced;
static void mark_traced(void)
{
  t_traced = now();
}

static void build_cost(void)
{
  static const size_t orgs[4] = { 10, 20, 40, 80 };
  int lin, k;
  printf("build cost (trace incl. CSE | rkin_model_new: Jacobian + tapes)\n");
  for (lin = 0; lin < 2; lin++)
    for (k = 0; k < 4; k++) {
      large_model lm;
      rkin_err err = { 0 };
      double t0 = now(), t1;
      if (large_build_cb(orgs[k], lin, &lm, &err, mark_traced)) {
        printf("  build failed: %s\n", err.msg);
        continue;
      }
      t1 = now();
      printf("  %-9s %3zu states: trace %7.2f ms, model %7.2f ms, %zu graph "
             "nodes, %zu Jacobian nonzeros\n", lin ? "linear" : "nonlinear",
             orgs[k] * LARGE_NCOMP, 1e3 * (t_traced - t0),
             1e3 * (t1 - t_traced),
             rkin_graph_size(rkin_model_graph(lm.m)),
             rkin_model_jac_nnz(lm.m));
      large_free(&lm);
    }
}

/* ns per evaluation of the rhs, the sparse Jacobian and the dense one. */
static void eval_cost(const rkin_model *m, const char *name, long reps)
{
  size_t n = rkin_model_nstates(m), nnz = rkin_model_jac_nnz(m), i;
  double *y = malloc(n * sizeof *y), *f = malloc(n * sizeof *f);
  double *v = malloc(nnz * sizeof *v), *J = malloc(n * n * sizeof *J);
  double *w = malloc(rkin_model_nwork(m) * sizeof *w), t, sink = 0;
  const double *p = rkin_model_defaults(m);
  long r;
  for (i = 0; i < n; i++) y[i] = 1.0 + 100.0 * fabs(sin((double)i));
  t = now();
  for (r = 0; r < reps; r++) {
    y[0] += 1e-9;
    rkin_model_rhs(m, 1.0, y, p, f, w);
    sink += f[0];
  }
  t = now() - t;
  printf("  %-16s rhs %8.1f ns", name, 1e9 * t / (double)reps);
  t = now();
  for (r = 0; r < reps; r++) {
    y[0] += 1e-9;
    rkin_model_jac_sparse(m, 1.0, y, p, v, w);
    sink += v[0];
  }
  t = now() - t;
  printf(", Jacobian %zu nonzeros %8.1f ns", nnz, 1e9 * t / (double)reps);
  t = now();
  for (r = 0; r < reps / 4 + 1; r++) {
    y[0] += 1e-9;
    rkin_model_jac(m, 1.0, y, p, J, w);
    sink += J[0];
  }
  t = now() - t;
  printf(", dense %zu x %zu %8.1f ns%s\n", n, n,
         1e9 * t / (double)(reps / 4 + 1), sink == 42 ? " " : "");
  free(y);
  free(f);
  free(v);
  free(J);
  free(w);
}

/* Parameters of n patients, row-major: default x exp(omega z). */
static double *patients(const rkin_model *m, size_t n)
{
  size_t np = rkin_model_nparams(m), i, j;
  const double *d = rkin_model_defaults(m);
  double om = sqrt(log(1.0 + CV * CV)), *k = malloc(n * np * sizeof *k);
  peer_rng r;
  peer_rng_init(&r, SEED);
  if (!k) return NULL;
  for (i = 0; i < n; i++)
    for (j = 0; j < np; j++) k[i * np + j] = d[j] * exp(om * peer_normal(&r));
  return k;
}

/* A cohort run on one thread; wall time in s or -1. */
static double cohort(const rkin_model *m, rkin_jacobian jac, size_t n,
                     const double *k, double *tia, long *steps)
{
  rkin_dosing *d = rkin_dosing_new();
  rkin_dose bolus = { .time = 0, .amount = DOSE, .cmt = 0, .evid = 1 };
  rkin_cohort_spec sp = { 0 };
  rkin_cohort_res res = { 0 };
  int q[2] = { LARGE_NCOMP + 3, LARGE_NCOMP + 4 };
  int *status = malloc(n * sizeof *status);
  rkin_err err = { 0 };
  double t;
  rkin_dosing_add(d, &bolus, NULL);
  rkin_solve_opts_default(&sp.opts);
  sp.opts.path = RKIN_PATH_CVODES;
  sp.opts.jacobian = jac;
  sp.model = m;
  sp.n_patients = n;
  sp.params = k;
  sp.n_cycles = 1;
  sp.cycle_h = T_END;
  sp.dosing = d;
  sp.tia = q;
  sp.n_tia = 2;
  sp.threads = 1;
  res.tia = tia;
  res.status = status;
  t = now();
  if (rkin_cohort_run(&sp, &res, &err) || res.n_failed) {
    fprintf(stderr, "bench_large: %s\n",
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

/* Best of three alternating runs of 10 patients (the machine may be
 * shared: the minimum is the least disturbed). */
static void crossover(void)
{
  static const size_t orgs[] = { 2, 4, 6, 8, 12, 20, 40 };
  size_t a;
  printf("dense LU vs sparse KLU, one patient (ms per patient, best of 3 x "
         "10 patients)\n");
  for (a = 0; a < sizeof orgs / sizeof *orgs; a++) {
    large_model lm;
    rkin_err err = { 0 };
    double *k, tia[20], td = 1e30, ts = 1e30, t;
    long sd = 0, ss = 0;
    int r;
    if (large_build(orgs[a], 0, &lm, &err)) continue;
    k = patients(lm.m, 10);
    for (r = 0; r < 3; r++) {
      if ((t = cohort(lm.m, RKIN_JAC_DENSE, 10, k, tia, &sd)) >= 0 && t < td)
        td = t;
      if ((t = cohort(lm.m, RKIN_JAC_SPARSE, 10, k, tia, &ss)) >= 0 && t < ts)
        ts = t;
    }
    printf("  %3zu states: dense %8.3f, sparse %8.3f (steps %ld / %ld)\n",
           orgs[a] * LARGE_NCOMP, 1e3 * td / 10, 1e3 * ts / 10, sd / 10,
           ss / 10);
    free(k);
    large_free(&lm);
  }
}

/* The file the peer reads: its header describes the layout. */
static int write_model(const rkin_model *m, const double *k, size_t n)
{
  size_t np = rkin_model_nparams(m), i, j;
  FILE *f = fopen(MODEL_FILE, "w");
  if (!f) return -1;
  fprintf(f, "# tests/large.h model: n_org lambda_per_h dose_MBq t_end_h "
          "rtol atol tia_states; then one line per patient: %zu parameters "
          "(11 per organ: kin kout kvi kiv kif kfi kon Bmax koff kint krel; "
          "then kren)\n", np);
  fprintf(f, "%d %.17g %.17g %.17g %.17g %.17g %d %d\n", ORG,
          rkin_model_lambda(m), DOSE, T_END, 1e-6, 1e-9, LARGE_NCOMP + 3,
          LARGE_NCOMP + 4);
  for (i = 0; i < n; i++)
    for (j = 0; j < np; j++)
      fprintf(f, "%.17g%c", k[i * np + j], j + 1 < np ? ' ' : '\n');
  return fclose(f);
}

/* Runs the peer (no shell: argv straight to execv) and reads its lines:
 * "METHOD <name> ms_per_patient <x>" and "TIA <method> <i> <a> <b>". */
static void run_peer(const char *script, size_t n_peer, const double *tia,
                     double ours_ms)
{
  int fd[2];
  pid_t pid;
  char arg[32], line[512];
  FILE *in;
  snprintf(arg, sizeof arg, "%zu", n_peer);
  if (access("/usr/bin/python3", X_OK) || access(script, R_OK)) {
    printf("scipy peer not run (needs /usr/bin/python3 with python3-scipy "
           "and %s)\n", script);
    return;
  }
  if (pipe(fd)) return;
  pid = fork();
  if (pid == 0) {
    char *argv[] = { "/usr/bin/python3", (char *)script, MODEL_FILE, arg,
                     NULL };
    dup2(fd[1], 1);
    close(fd[0]);
    close(fd[1]);
    execv(argv[0], argv);
    _exit(127);
  }
  close(fd[1]);
  if (pid < 0 || !(in = fdopen(fd[0], "r"))) {
    close(fd[0]);
    return;
  }
  {
    double worst[2] = { 0, 0 };
    char meth[2][16] = { "", "" };
    int nm = 0;
    while (fgets(line, sizeof line, in)) {
      char name[16];
      double ms, a, b;
      size_t i;
      if (sscanf(line, "METHOD %15s ms_per_patient %lf", name, &ms) == 2) {
        printf("  scipy %-5s %10.1f ms per patient  (radiokin sparse is "
               "%.0fx faster)\n", name, ms, ms / ours_ms);
      } else if (sscanf(line, "TIA %15s %zu %lf %lf", name, &i, &a, &b) == 4
                 && i < n_peer) {
        int w = nm && !strcmp(meth[0], name) ? 0
                : nm > 1 && !strcmp(meth[1], name) ? 1 : -1;
        double r = fmax(fabs(a / tia[2 * i] - 1), fabs(b / tia[2 * i + 1] - 1));
        if (w < 0 && nm < 2) {
          w = nm++;
          snprintf(meth[w], sizeof meth[w], "%s", name);
        }
        if (w >= 0 && !(r <= worst[w])) worst[w] = r;
      } else {
        fputs(line, stdout);
      }
    }
    for (int w = 0; w < nm; w++)
      printf("  scipy %-5s TIAs vs radiokin: max rel. difference %.2e over "
             "%zu patients\n", meth[w], worst[w], n_peer);
  }
  fclose(in);
  waitpid(pid, NULL, 0);
}

/* The same models with their tapes compiled to machine code (m:native):
 * cost per evaluation and the sparse cohort, in the same run as the
 * tape's figures above; the TIAs must agree bit for bit. */
static void native_runs(rkin_model *m, rkin_model *pm, size_t n,
                        const double *k, const double *tia_tape, double ts)
{
  char dir[] = "/tmp/rk_bench_native_XXXXXX";
  double *tia = malloc(2 * n * sizeof *tia), t0 = now(), tn;
  long steps;
  size_t i, differ = 0;
  rkin_err err = { 0 };
  if (!tia || !mkdtemp(dir)) {
    printf("native code: no temporary directory\n");
    free(tia);
    return;
  }
  if (rkin_model_native(m, dir, &err) || rkin_model_native(pm, dir, &err)) {
    printf("native code not built: %s\n", err.msg);
    free(tia);
    return;
  }
  printf("native code (m:native; compiled in %.2f s, cached in %s)\n",
         now() - t0, dir);
  eval_cost(m, "200-state PBPK", 20000);
  eval_cost(pm, "6-state peer", 1000000);
  tn = cohort(m, RKIN_JAC_SPARSE, n, k, tia, &steps);
  for (i = 0; i < 2 * n; i++) differ += tia[i] != tia_tape[i];
  if (tn > 0)
    printf("200-state cohort, one thread, native: %.2f ms per patient "
           "(tape %.2f ms: %.2fx); TIAs differing from the tape's: %zu of "
           "%zu\n", 1e3 * tn / (double)n, 1e3 * ts / (double)n, ts / tn,
           differ, 2 * n);
  free(tia);
}

int main(int argc, char **argv)
{
  size_t n, nd, npeer;
  char script[1024];
  const char *src = getenv("RADIOKIN_SRCDIR");
  large_model lm;
  rkin_model *pm;
  rkin_err err = { 0 };
  double *k, *tia_s, *tia_d, ts, td, t1s, t1d, worst = 0;
  long ss, sd, s1;
  size_t i;
  bench_help(argc, argv,
             "usage: bench_large [N=1000] [N_DENSE=50] [N_PEER=3] "
             "[PEER_SCRIPT]\n"
             "  large models: build cost at 50..400 states, cost per "
             "right-hand side and\n  Jacobian evaluation, dense LU vs "
             "sparse KLU crossover, then the 200-state\n  PBPK cohort: "
             "sparse on N patients, dense on the first N_DENSE, beside\n"
             "  the scipy peer (PEER_SCRIPT, default "
             "tests/bench/peers/large_scipy.py\n  under $RADIOKIN_SRCDIR) "
             "on the first N_PEER.\n");
  n = (size_t)bench_long("bench_large", argc, argv, 1, "N", 1000, 1,
                         100000000);
  nd = (size_t)bench_long("bench_large", argc, argv, 2, "N_DENSE", 50, 0,
                          (long)n);
  npeer = (size_t)bench_long("bench_large", argc, argv, 3, "N_PEER", 3, 0,
                             (long)n);
  bench_max_args("bench_large", argc, argv, 4);
  rkin_init();
  if (argc > 4)
    snprintf(script, sizeof script, "%s", argv[4]);
  else
    snprintf(script, sizeof script, "%s%stests/bench/peers/large_scipy.py",
             src ? src : "", src ? "/" : "");
  if (n < 1 || nd > n || npeer > n) {
    fprintf(stderr, "usage: bench_large [N >= 1] [N_DENSE <= N] "
            "[N_PEER <= N] [PEER_SCRIPT]\n");
    return 2;
  }
  build_cost();
  if (large_build(ORG, 0, &lm, &err) || !(pm = peer_model(&err))) {
    fprintf(stderr, "bench_large: %s\n", err.msg);
    return 1;
  }
  printf("cost per evaluation (tape)\n");
  eval_cost(lm.m, "200-state PBPK", 20000);
  eval_cost(pm, "6-state peer", 1000000);
  crossover();

  k = patients(lm.m, n);
  tia_s = malloc(2 * n * sizeof *tia_s);
  tia_d = malloc(2 * n * sizeof *tia_d);
  if (!k || !tia_s || !tia_d || write_model(lm.m, k, npeer)) {
    fprintf(stderr, "bench_large: out of memory or cannot write %s\n",
            MODEL_FILE);
    return 1;
  }
  t1s = cohort(lm.m, RKIN_JAC_SPARSE, 1, k, tia_s, &s1);
  t1d = cohort(lm.m, RKIN_JAC_DENSE, 1, k, tia_d, &s1);
  printf("200-state model, one patient: sparse %.2f ms, dense %.2f ms "
         "(%ld steps)\n", 1e3 * t1s, 1e3 * t1d, s1);
  ts = cohort(lm.m, RKIN_JAC_SPARSE, n, k, tia_s, &ss);
  td = nd ? cohort(lm.m, RKIN_JAC_DENSE, nd, k, tia_d, &sd) : -1;
  if (ts < 0 || (nd && td < 0)) return 1;
  for (i = 0; i < 2 * nd; i++) {
    double r = fabs(tia_d[i] / tia_s[i] - 1);
    if (!(r <= worst)) worst = r;
  }
  printf("200-state cohort, one thread: sparse %zu patients %.2f s = %.2f ms "
         "per patient (%.0f patients/s, %.0f steps each)\n", n, ts,
         1e3 * ts / (double)n, (double)n / ts, (double)ss / (double)n);
  if (nd)
    printf("  dense %zu patients %.2f s = %.2f ms per patient (sparse is "
           "%.1fx faster); TIAs sparse vs dense max rel. %.1e\n", nd, td,
           1e3 * td / (double)nd, (td / (double)nd) / (ts / (double)n),
           worst);
  native_runs(lm.m, pm, n, k, tia_s, ts);
  if (npeer) run_peer(script, npeer, tia_s, 1e3 * ts / (double)n);
  free(k);
  free(tia_s);
  free(tia_d);
  rkin_model_free(pm);
  large_free(&lm);
  return 0;
}
