/* bench_popfit.c - the population-fit benchmark of issue 8: Theophylline
 * (tests/data/theoph_nm.csv, 12 subjects, 132 concentrations), FOCE-I
 * with the covariance step, one-compartment first-order absorption with
 * random lKa and lCl (nlme's fm3Theo.nlme). Predictions through
 * rkin_solver (exact path; df/deta from its forward sensitivities) and
 * through a closed-form predictor (df/deta by finite differences); one
 * thread and all cores. Prints the median wall time of REPS fits.
 * Simulation-estimation (bias, coverage): bench_simest. In the same run
 * R nlme's fit of the same data and model (tests/bench/peers/
 * theoph_nlme.R through /usr/bin/Rscript, no shell; skipped with a note
 * when R or nlme is missing): both times and both -2LL printed.
 *
 * Then a 200-subject 177Lu dataset simulated from the six-compartment
 * PBPK model (models/lu177_6c.lua, docs/sources.md): 7400
 * MBq into plasma, kidney activity imaged at about 4, 24, 72 and 168 h
 * with a 10 % proportional error, log-normal IIV on kPK and kKP; FOCE-I
 * with the covariance step through the exact path, one thread and all
 * cores (one fit each: it takes seconds).
 *
 * SAEM (pop/saem.h: 300 exploratory + 200 smoothing iterations, one
 * chain, importance-sampling OFV with 1000 samples per subject, the
 * covariance step) on both datasets beside FOCE-I in the same run.
 *
 *   bench_popfit [REPS [N_LU]]  (default 3 and 200; data from
 *                                $RADIOKIN_SRCDIR; N_LU 0 skips it)
 *   bench_popfit --theoph-focei [REPS]
 *       only the Theophylline FOCE-I fit through rkin_solver, one thread
 *       (for callgrind: its -2LL, estimates and evaluation counts) */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#include "pop/data.h"
#include "core/init.h"
#include "core/model.h"
#include "pop/popest.h"
#include "pop/saem.h"
#include "../spawn.h"
#include "../simsubj.h"
#include "../theoph.h"
#include "bench_args.h"

static double now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

/* ------------------------------------------------ 177Lu six compartments */

enum { KPI, KIP, KPK, KKP, KPL, KLP, KPT, KTP, KPR, KRP, KU, NLU };

static rkin_model *lu177_model(void)
{
  static const char *const st[] = {"P", "I", "K", "L", "T", "R"};
  static const char *const pa[NLU] = {"kPI", "kIP", "kPK", "kKP", "kPL",
                                      "kLP", "kPT", "kTP", "kPR", "kRP",
                                      "kU"};
  static const double val[NLU] = {0.60, 0.40, 0.030, 0.012, 0.040, 0.015,
                                   0.030, 0.004, 0.15, 0.030, 0.50};
  rkin_graph *g = rkin_graph_new();
  rkin_node y[6], k[NLU], d[6], out_p = 0;
  rkin_model_spec sp;
  int i;
  for (i = 0; i < 6; i++) y[i] = rkin_expr_state(g, i);
  for (i = 0; i < NLU; i++) k[i] = rkin_expr_param(g, i);
  /* organ j = I, K, L, T, R: in from P at rate k[2j-2], out at k[2j-1] */
  for (i = 1; i < 6; i++) {
    rkin_node in = rkin_expr_binary(g, RKIN_OP_MUL, k[2 * i - 2], y[0]);
    rkin_node out = rkin_expr_binary(g, RKIN_OP_MUL, k[2 * i - 1], y[i]);
    d[i] = rkin_expr_binary(g, RKIN_OP_SUB, in, out);
    out_p = i == 1 ? rkin_expr_binary(g, RKIN_OP_SUB, out, in)
                   : rkin_expr_binary(g, RKIN_OP_ADD, out_p,
                                      rkin_expr_binary(g, RKIN_OP_SUB, out,
                                                       in));
  }
  d[0] = rkin_expr_binary(g, RKIN_OP_SUB, out_p,
                          rkin_expr_binary(g, RKIN_OP_MUL, k[KU], y[0]));
  memset(&sp, 0, sizeof sp);
  sp.name = "lu177_6c";
  sp.nuclide = rkin_nuclide_find("Lu-177", NULL);
  sp.n_states = 6;
  sp.states = st;
  sp.deriv = d;
  sp.n_params = NLU;
  sp.params = pa;
  sp.values = val;
  return rkin_model_new(&sp, g, NULL);
}

/* Individual parameters: typical values, kPK and kKP log-normal. */
static int lu_psi(const double *th, const double *eta, const double *cov,
                  double *psi, void *ud, rkin_err *err)
{
  const rkin_model *m = ud;
  (void)cov;
  (void)err;
  memcpy(psi, rkin_model_defaults(m), NLU * sizeof *psi);
  psi[KPK] = exp(th[0] + eta[0]);
  psi[KKP] = exp(th[1] + eta[1]);
  return 0;
}

/* CSV text of n simulated patients (fixed seed). */
static char *lu_simulate(const rkin_model *m, size_t n)
{
  static const double t_nom[4] = {4, 24, 72, 168}, t_sd[4] = {0.5, 2, 8, 12};
  gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
  rkin_solver *s = rkin_solver_new(m, NULL, NULL);
  rkin_dosing *dose = rkin_dosing_new();
  rkin_dose d0;
  size_t cap = 128 + n * 5 * 64, len = 0, i, j;
  char *text = malloc(cap);
  double th[2] = {log(0.030), log(0.012)}, psi[NLU], y[4 * 6];
  memset(&d0, 0, sizeof d0);
  d0.amount = 7400;
  rkin_dosing_add(dose, &d0, NULL);
  gsl_rng_set(r, 177);
  len += (size_t)snprintf(text + len, cap - len, "ID,TIME,DV,AMT,CMT\n");
  for (i = 0; i < n; i++) {
    double eta[2], t[4];
    eta[0] = gsl_ran_gaussian(r, 0.3);
    eta[1] = gsl_ran_gaussian(r, 0.25);
    lu_psi(th, eta, NULL, psi, (void *)m, NULL);
    for (j = 0; j < 4; j++)
      t[j] = round(10 * (t_nom[j] + gsl_ran_gaussian(r, t_sd[j]))) / 10;
    simsubj_solve(s, psi, dose, t[3], t, 4, y, NULL, NULL);
    len += (size_t)snprintf(text + len, cap - len, "%zu,0,.,7400,1\n",
                            i + 1);
    for (j = 0; j < 4; j++)
      len += (size_t)snprintf(text + len, cap - len, "%zu,%g,%.6g,.,3\n",
                              i + 1, t[j], y[j * 6 + 2]
                              * (1 + gsl_ran_gaussian(r, 0.10)));
  }
  rkin_dosing_free(dose);
  rkin_solver_free(s);
  gsl_rng_free(r);
  return text;
}

static void bench_lu177(size_t n)
{
  static const char *const tn[] = {"lkPK", "lkKP"};
  double th0[] = {log(0.030) + 0.3, log(0.012) - 0.2};
  double om0[] = {0.1, 0, 0, 0.1}, sg0[] = {0.2};
  rkin_model *m = lu177_model();
  char *text = m ? lu_simulate(m, n) : NULL;
  rkin_err err;
  rkin_data *d = text ? rkin_data_parse(text, strlen(text), "lu177_sim.csv",
                                        NULL, &err) : NULL;
  rkin_popmodel pm;
  int threads[2] = {1, 0}, k;
  if (!d) {
    fprintf(stderr, "bench_popfit: 177Lu data: %s\n",
            m ? err.msg : "model failed");
    free(text);
    rkin_model_free(m);
    return;
  }
  /* state K observed */
  simsubj_popmodel(&pm, m, -1 - 2, NULL, 2, tn, th0, om0, lu_psi, m, sg0);
  printf("177Lu 6-compartment PBPK, %zu subjects x 4 kidney images, "
         "FOCE-I + covariance step (true lkPK %.4f lkKP %.4f, omega "
         "0.09 0.0625, sigma 0.10)\n", n, log(0.030), log(0.012));
  for (k = 0; k < 2; k++) {
    rkin_popfit_opts o;
    rkin_popfit f;
    double t0;
    int rc;
    rkin_popfit_opts_default(&o);
    o.threads = threads[k];
    t0 = now();
    rc = rkin_popfit_run(&pm, d, &o, &f, &err);
    t0 = now() - t0;
    printf("lu177 threads=%d  %s  lkPK %.4f lkKP %.4f omega %.4f %.4f "
           "sigma %.4f  evals %d  cov %s  %.2f s\n", threads[k],
           rc || f.status ? "FAILED" : "ok", f.theta ? f.theta[0] : NAN,
           f.theta ? f.theta[1] : NAN, f.omega ? f.omega[0] : NAN,
           f.omega ? f.omega[3] : NAN, f.sigma ? f.sigma[0] : NAN,
           f.n_eval, f.cov_status ? "failed" : "ok", t0);
    printf("TIMING bench_popfit predictor=lu177_%zu threads=%d reps=1 "
           "median_s=%.4f\n", n, threads[k], t0);
    rkin_popfit_free(&f);
  }
  for (k = 0; k < 2; k++) {
    rkin_popfit_opts o;
    rkin_saem_opts so;
    rkin_saem_info in;
    rkin_popfit f;
    double t0;
    int rc;
    rkin_popfit_opts_default(&o);
    o.threads = threads[k];
    rkin_saem_opts_default(&so);
    t0 = now();
    rc = rkin_popfit_saem(&pm, d, &o, &so, &f, &in, &err);
    t0 = now() - t0;
    printf("lu177 SAEM threads=%d  %s  lkPK %.4f lkKP %.4f omega %.4f %.4f "
           "sigma %.4f  IMP OFV %.3f (SE %.3f)  cov %s  %.2f s\n",
           threads[k], rc || f.status ? "FAILED" : "ok",
           f.theta ? f.theta[0] : NAN, f.theta ? f.theta[1] : NAN,
           f.omega ? f.omega[0] : NAN, f.omega ? f.omega[3] : NAN,
           f.sigma ? f.sigma[0] : NAN, in.ofv_imp, in.ofv_imp_se,
           f.cov_status ? "failed" : "ok", t0);
    printf("TIMING bench_popfit predictor=lu177_%zu_saem threads=%d reps=1 "
           "median_s=%.4f\n", n, threads[k], t0);
    rkin_popfit_free(&f);
    rkin_saem_info_free(&in);
  }
  rkin_data_free(d);
  free(text);
  rkin_model_free(m);
}

static int cmp(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* --theoph-focei: also the estimates, SEs and solution counts */
static int print_est;

static double bench(const char *label, const rkin_popmodel *pm,
                    const rkin_data *d, int threads, int reps)
{
  double med;
  rkin_popfit_opts o;
  rkin_popfit f;
  rkin_err err;
  double *t = malloc(2 * (size_t)reps * sizeof *t), *c = t + reps;
  int r;
  rkin_popfit_opts_default(&o);
  o.threads = threads;
  for (r = 0; r < reps; r++) {
    double t0 = now(), c0 = (double)clock();
    int rc = rkin_popfit_run(pm, d, &o, &f, &err);
    t[r] = now() - t0;
    c[r] = ((double)clock() - c0) / CLOCKS_PER_SEC;
    if (r == reps - 1)
      printf("%-12s threads=%d  -2LL %.6f  evals %d  cov %s  ", label,
             threads, f.m2ll, f.n_eval,
             rc || f.status ? "FAILED" : f.cov_status ? "failed" : "ok");
    if (r == reps - 1 && print_est && !rc) {
      size_t k;
      /* 17 digits: an optimisation must leave these bits unchanged */
      printf("\n  -2LL %.17g  solutions %lu plain + %lu with "
             "sensitivities; EBE searches %lu by Newton + %lu handed to "
             "LBFGS; estimates", f.m2ll, f.n_pred, f.n_pred_sens,
             f.n_ebe_newton, f.n_ebe_fallback);
      for (k = 0; f.est_names && f.est && k < f.n_est; k++)
        printf(" %s %.17g (SE %.17g)", f.est_names[k], f.est[k],
               f.se ? f.se[k] : NAN);
      if (f.status) printf(" (none: %s)", f.err.msg);
      printf("\n  ");
    }
    rkin_popfit_free(&f);
  }
  qsort(t, (size_t)reps, sizeof *t, cmp);
  qsort(c, (size_t)reps, sizeof *c, cmp);
  /* CPU time (all threads): the figure to compare on a loaded machine */
  printf("median %.3f s  min %.3f s  CPU median %.3f s\n", t[reps / 2], t[0],
         c[reps / 2]);
  printf("TIMING bench_popfit predictor=%s threads=%d reps=%d median_s=%.4f\n",
         label, threads, reps, t[reps / 2]);
  med = t[reps / 2];
  free(t);
  return med;
}

/* R nlme's fit of the same data (the peer script, reps timed fits after
 * a warm-up): its median time, -1 when it did not run; its -2LL into
 * *m2ll. */
static double nlme_peer(const char *src, int reps, double *m2ll)
{
  char script[1024], data[1024], nrep[32], line[512];
  char *argv[] = {"/usr/bin/Rscript", script, data, nrep, NULL};
  double med = -1;
  pid_t pid;
  FILE *in;
  *m2ll = NAN;
  snprintf(script, sizeof script, "%s/tests/bench/peers/theoph_nlme.R", src);
  snprintf(data, sizeof data, "%s/tests/data/theoph_raw.csv", src);
  snprintf(nrep, sizeof nrep, "%d", reps);
  if (access(argv[0], X_OK) || access(script, R_OK)
      || !(in = spawn_read(NULL, argv, 1, &pid)))
    return -1;
  while (fgets(line, sizeof line, in)) {
    char *m = strstr(line, "median_s=");
    if (!strncmp(line, "-2LL ", 5)) {
      *m2ll = atof(line + 5);
      printf("nlme (R)     threads=1  %s", line);
    }
    if (!strncmp(line, "TIMING theoph_nlme", 18) && m) {
      char *cm = strstr(line, "cpu_median_s=");
      med = atof(m + 9);
      printf("nlme (R)     threads=1  median %.3f s  CPU median %.3f s\n",
             med, cm ? atof(cm + 13) : NAN);
    }
  }
  if (spawn_wait(in, pid) != 0) med = -1;
  return med;
}

/* SAEM, 500 iterations (300 + 200), one chain, seed 1, IMP OFV with
 * 1000 samples per subject, covariance step. */
static void bench_saem(const char *label, const rkin_popmodel *pm,
                       const rkin_data *d, int threads, int reps)
{
  rkin_popfit_opts o;
  rkin_saem_opts so;
  rkin_saem_info in;
  rkin_popfit f;
  rkin_err err;
  double *t = malloc((size_t)reps * sizeof *t);
  int r;
  rkin_popfit_opts_default(&o);
  o.threads = threads;
  rkin_saem_opts_default(&so);
  for (r = 0; r < reps; r++) {
    double t0 = now();
    int rc = rkin_popfit_saem(pm, d, &o, &so, &f, &in, &err);
    t[r] = now() - t0;
    if (r == reps - 1)
      printf("%-12s SAEM threads=%d  IMP OFV %.4f (SE %.4f)  FOCE-I OFV "
             "at SAEM %.4f  cov %s  ", label, threads, in.ofv_imp,
             in.ofv_imp_se, in.ofv_focei,
             rc || f.status ? "FAILED" : f.cov_status ? "failed" : "ok");
    rkin_popfit_free(&f);
    rkin_saem_info_free(&in);
  }
  qsort(t, (size_t)reps, sizeof *t, cmp);
  printf("median %.3f s  min %.3f s\n", t[reps / 2], t[0]);
  printf("TIMING bench_popfit predictor=%s_saem threads=%d reps=%d "
         "median_s=%.4f\n", label, threads, reps, t[reps / 2]);
  free(t);
}

int main(int argc, char **argv)
{
  static const char *const tn[] = {"lKe", "lKa", "lCl"};
  static const char *const cn[] = {"WT"};
  double th0[] = {-2.4, 0.45, -3.2}, om0[] = {0.2, 0, 0, 0.05}, sg0[] = {0.5};
  int only, reps, n_lu;
  double t_rk, t_cf;
  rkin_err err;
  rkin_data *d;
  rkin_model *m = theoph_model();
  rkin_popmodel pm;
  bench_help(argc, argv,
             "usage: bench_popfit [REPS=3 [N_LU=200]]\n"
             "       bench_popfit --theoph-focei [REPS=3]   Theophylline "
             "FOCE-I + covariance\n"
             "                    through rkin_solver only, one thread\n"
             "  FOCE-I with the covariance step (and SAEM) on Theophylline "
             "(median wall\n  time of REPS fits, rkin_solver and "
             "closed-form predictors, 1 thread and\n  all cores) beside R "
             "nlme (peers/theoph_nlme.R), then on N_LU simulated\n  "
             "lu177 subjects (N_LU 0 skips it).\n");
  only = argc > 1 && !strcmp(argv[1], "--theoph-focei");
  reps = (int)bench_long("bench_popfit", argc, argv, 1 + only, "REPS", 3, 1,
                         100000);
  n_lu = only ? 0 : (int)bench_long("bench_popfit", argc, argv, 2, "N_LU",
                                    200, 0, 1000000);
  bench_max_args("bench_popfit", argc, argv, 2);
  rkin_init();
  d = theoph_data("/work/main", &err);
  if (!d || !m) {
    fprintf(stderr, "bench_popfit: %s\n", d ? "model failed" : err.msg);
    return 1;
  }
  if (reps < 1) reps = 1;
  memset(&pm, 0, sizeof pm);
  pm.model = m;
  pm.n_theta = 3;
  pm.theta_names = tn;
  pm.theta_init = th0;
  pm.n_eta = 2;
  pm.omega_init = om0;
  pm.omega_diag = 1;
  pm.n_cov = 1;
  pm.cov_names = cn;
  pm.indiv = theoph_psi_fn;
  pm.res = RKIN_RES_ADD;
  pm.sigma_init = sg0;
  print_est = only;
  printf("Theophylline FOCE-I + covariance step (nlme ML -2LL 354.0428)\n");
  t_rk = bench("rkin_solver", &pm, d, 1, reps);
  if (only) {
    rkin_model_free(m);
    rkin_data_free(d);
    return 0;
  }
  bench("rkin_solver", &pm, d, 0, reps);
  pm.model = NULL;
  pm.predict = theoph_bateman_pred;
  pm.n_psi = 3;
  t_cf = bench("closed-form", &pm, d, 1, reps);
  bench("closed-form", &pm, d, 0, reps);
  {
    const char *src = getenv("RADIOKIN_SRCDIR");
    double m2ll, t_nl = nlme_peer(src ? src : "/work/main", reps, &m2ll);
    if (t_nl > 0) {
      printf("TIMING bench_popfit predictor=nlme threads=1 reps=%d "
             "median_s=%.4f\n", reps, t_nl);
      printf("Theophylline one thread: radiokin FOCE-I + covariance %.3f s "
             "(closed form %.3f s), R nlme ML %.3f s (-2LL %.4f): radiokin "
             "/ nlme %.2f (closed form %.2f)\n", t_rk, t_cf, t_nl, m2ll,
             t_rk / t_nl, t_cf / t_nl);
    } else {
      printf("R nlme peer not run (needs /usr/bin/Rscript with r-cran-nlme "
             "and tests/bench/peers/theoph_nlme.R)\n");
    }
  }
  printf("Theophylline SAEM, 500 iterations (300 + 200), 1 chain, IMP "
         "1000 samples/subject, covariance step\n");
  pm.model = m;
  pm.predict = NULL;
  pm.n_psi = 0;
  bench_saem("rkin_solver", &pm, d, 1, reps);
  pm.model = NULL;
  pm.predict = theoph_bateman_pred;
  pm.n_psi = 3;
  bench_saem("closed-form", &pm, d, 1, reps);
  if (n_lu > 0) bench_lu177((size_t)n_lu);
  rkin_model_free(m);
  rkin_data_free(d);
  return 0;
}
