/* bench_popfit.c - the population-fit benchmark of issue 8: Theophylline
 * (tests/data/theoph_nm.csv, 12 subjects, 132 concentrations), FOCE-I
 * with the covariance step, one-compartment first-order absorption with
 * random lKa and lCl (nlme's fm3Theo.nlme). Predictions through
 * rkin_solver (exact path) and through a closed-form predictor; one
 * thread and all cores. Prints the median wall time of REPS fits.
 *
 *   bench_popfit [REPS]     (default 3; data from $RADIOKIN_SRCDIR) */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "data.h"
#include "init.h"
#include "model.h"
#include "popest.h"

static double now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static rkin_model *theoph_model(void)
{
  static const char *const st[] = {"depot", "central"};
  static const char *const pa[] = {"ka", "cl", "v"};
  static const char *const on[] = {"conc"};
  static const double val[] = {1.5, 2.8, 32};
  rkin_graph *g = rkin_graph_new();
  rkin_node dep = rkin_expr_state(g, 0), cen = rkin_expr_state(g, 1);
  rkin_node ka = rkin_expr_param(g, 0), cl = rkin_expr_param(g, 1);
  rkin_node v = rkin_expr_param(g, 2), d[2], out[1], a;
  rkin_model_spec sp;
  memset(&sp, 0, sizeof sp);
  a = rkin_expr_binary(g, RKIN_OP_MUL, ka, dep);
  d[0] = rkin_expr_unary(g, RKIN_OP_NEG, a);
  d[1] = rkin_expr_binary(g, RKIN_OP_SUB, a, rkin_expr_binary(
           g, RKIN_OP_MUL, rkin_expr_binary(g, RKIN_OP_DIV, cl, v), cen));
  out[0] = rkin_expr_binary(g, RKIN_OP_DIV, cen, v);
  sp.name = "theoph";
  sp.n_states = 2;
  sp.states = st;
  sp.deriv = d;
  sp.n_params = 3;
  sp.params = pa;
  sp.values = val;
  sp.n_outputs = 1;
  sp.outputs = on;
  sp.output_expr = out;
  return rkin_model_new(&sp, g, NULL);
}

static int psi_fn(const double *th, const double *eta, const double *cov,
                  double *psi, void *ud, rkin_err *err)
{
  (void)ud;
  (void)err;
  psi[0] = exp(th[1] + eta[0]);
  psi[1] = exp(th[2] + eta[1]) * cov[0];
  psi[2] = exp(th[2] + eta[1] - th[0]) * cov[0];
  return 0;
}

static int bateman_pred(const rkin_data_subject *s, const double *psi,
                        double *f, void *ud, rkin_err *err)
{
  const rkin_dose *r = rkin_dosing_record(s->seg[0].dosing, 0);
  double ka = psi[0], ke = psi[1] / psi[2];
  size_t k;
  (void)ud;
  if (!r) return rkin_err_set(err, RKIN_EINVAL, "no dose");
  for (k = 0; k < s->n_obs; k++) {
    double t = s->time[k] - r->time;
    f[k] = t <= 0 ? 0 : r->amount * ka / (psi[2] * (ka - ke))
                        * (exp(-ke * t) - exp(-ka * t));
  }
  return 0;
}

static int cmp(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static void bench(const char *label, const rkin_popmodel *pm,
                  const rkin_data *d, int threads, int reps)
{
  rkin_popfit_opts o;
  rkin_popfit f;
  rkin_err err;
  double *t = malloc((size_t)reps * sizeof *t);
  int r;
  rkin_popfit_opts_default(&o);
  o.threads = threads;
  for (r = 0; r < reps; r++) {
    double t0 = now();
    int rc = rkin_popfit_run(pm, d, &o, &f, &err);
    t[r] = now() - t0;
    if (r == reps - 1)
      printf("%-12s threads=%d  -2LL %.4f  evals %d  cov %s  ", label,
             threads, f.m2ll, f.n_eval,
             rc || f.status ? "FAILED" : f.cov_status ? "failed" : "ok");
    rkin_popfit_free(&f);
  }
  qsort(t, (size_t)reps, sizeof *t, cmp);
  printf("median %.3f s  min %.3f s\n", t[reps / 2], t[0]);
  printf("TIMING bench_popfit predictor=%s threads=%d reps=%d median_s=%.4f\n",
         label, threads, reps, t[reps / 2]);
  free(t);
}

int main(int argc, char **argv)
{
  static const char *const tn[] = {"lKe", "lKa", "lCl"};
  static const char *const cn[] = {"WT"};
  double th0[] = {-2.4, 0.45, -3.2}, om0[] = {0.2, 0, 0, 0.05}, sg0[] = {0.5};
  int reps = argc > 1 ? atoi(argv[1]) : 3;
  const char *src = getenv("RADIOKIN_SRCDIR");
  char path[1024];
  rkin_err err;
  rkin_data *d;
  rkin_model *m = theoph_model();
  rkin_popmodel pm;
  rkin_init();
  snprintf(path, sizeof path, "%s/tests/data/theoph_nm.csv",
           src ? src : "/work/main");
  d = rkin_data_read(path, NULL, &err);
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
  pm.indiv = psi_fn;
  pm.res = RKIN_RES_ADD;
  pm.sigma_init = sg0;
  printf("Theophylline FOCE-I + covariance step (nlme ML -2LL 354.0428)\n");
  bench("rkin_solver", &pm, d, 1, reps);
  bench("rkin_solver", &pm, d, 0, reps);
  pm.model = NULL;
  pm.predict = bateman_pred;
  pm.n_psi = 3;
  bench("closed-form", &pm, d, 1, reps);
  bench("closed-form", &pm, d, 0, reps);
  rkin_model_free(m);
  rkin_data_free(d);
  return 0;
}
