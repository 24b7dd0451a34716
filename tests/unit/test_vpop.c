/* test_vpop.c - sampling virtual patients and simulating cohorts. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dosing.h"
#include "model.h"
#include "solve.h"
#include "vpop.h"
#include "../tap.h"

/* dA/dt = -k A (plus Lu-177 decay, added by the model); with `root`
 * the rate is sqrt(k - 0.5) so that k < 0.5 gives a NaN derivative. */
static rkin_model *one_cpt(int root)
{
  static const char *states[] = {"A"}, *params[] = {"k"};
  static const double values[] = {0.1};
  rkin_graph *g = rkin_graph_new();
  rkin_node a = rkin_expr_state(g, 0), k = rkin_expr_param(g, 0), d;
  rkin_model_spec sp = {0};
  rkin_err err;
  rkin_model *m;
  if (root)
    k = rkin_expr_unary(g, RKIN_OP_SQRT,
                        rkin_expr_binary(g, RKIN_OP_SUB, k,
                                         rkin_expr_const(g, 0.5)));
  d = rkin_expr_unary(g, RKIN_OP_NEG, rkin_expr_binary(g, RKIN_OP_MUL, k, a));
  sp.name = root ? "one_root" : "one";
  sp.nuclide = rkin_nuclide_find("Lu-177", NULL);
  sp.n_states = 1;
  sp.states = states;
  sp.deriv = &d;
  sp.n_params = 1;
  sp.params = params;
  sp.values = values;
  m = rkin_model_new(&sp, g, &err);
  if (!m) diag("model: %s", err.msg);
  return m;
}

static void test_sampling(const rkin_model *m)
{
  enum { N = 20000 };
  double *p = malloc(N * sizeof *p), *q = malloc(N * sizeof *q);
  double cv = 0.3, omega = sqrt(log(1 + cv * cv)), theta = 0.1;
  double mean = 0, var = 0, zero = 0;
  rkin_err err;
  size_t i, below = 0;

  ok(rkin_vpop_sample(m, &theta, &cv, 7, N, p, &err) == 0, "sample %d", N);
  for (i = 0; i < N; i++) {
    double l = log(p[i] / theta);
    mean += l / N;
    if (p[i] < theta) below++;
  }
  for (i = 0; i < N; i++) {
    double l = log(p[i] / theta) - mean;
    var += l * l / (N - 1);
  }
  /* log k ~ N(log theta, omega^2): the sample mean of log(k/theta) has SD
   * omega/sqrt(N) = 0.002; 4 SD = 0.008. */
  ok(fabs(mean) < 4 * omega / sqrt(N), "mean of log(k/theta) %.4f ~ 0", mean);
  /* SD of the sample SD is about omega/sqrt(2N) = 0.0015; 4 SD. */
  ok(fabs(sqrt(var) - omega) < 4 * omega / sqrt(2.0 * N),
     "SD of log k %.4f ~ omega %.4f (30 %% CV)", sqrt(var), omega);
  ok(fabs((double)below / N - 0.5) < 4 * 0.5 / sqrt(N),
     "median k ~ theta (%.4f below)", (double)below / N);

  ok(rkin_vpop_sample(m, &theta, &cv, 7, N, q, NULL) == 0
       && !memcmp(p, q, N * sizeof *p), "same seed, same patients");
  rkin_vpop_sample(m, &theta, &cv, 8, N, q, NULL);
  ok(memcmp(p, q, N * sizeof *p) != 0, "another seed, other patients");
  rkin_vpop_sample(m, &theta, &zero, 7, 10, q, NULL);
  ok(q[0] == theta && q[9] == theta, "cv 0 keeps the typical value");
  rkin_vpop_sample(m, NULL, &zero, 7, 1, q, NULL);
  ok(q[0] == 0.1, "theta NULL takes the model default");

  cv = -0.1;
  ok(rkin_vpop_sample(m, &theta, &cv, 7, 1, q, &err) == RKIN_EINVAL,
     "negative cv rejected");
  like(err.msg, "cv of parameter 'k'", "message names the parameter");
  cv = 0.3;
  theta = 0;
  ok(rkin_vpop_sample(m, &theta, &cv, 7, 1, q, &err) == RKIN_EINVAL,
     "typical value 0 with cv > 0 rejected");
  like(err.msg, "must be > 0", "message says what is expected");
  free(p);
  free(q);
}

/* Cycle c starts with a_c = D + a_{c-1} e^{-kT}; its TIA is
 * a_c (1 - e^{-kT}) / k (k including decay): superposition of boluses. */
static double cycle_tia(double k, double dose, double T, int c)
{
  double a = 0;
  int i;
  for (i = 0; i <= c; i++) a = dose + a * exp(-k * T);
  return a * (1 - exp(-k * T)) / k;
}

static void test_cohort(const rkin_model *m, rkin_path path, const char *name)
{
  enum { N = 50, C = 3 };
  double params[N], tia1[N * C], tia4[N * C], cv = 0.3;
  int status[N], q = 0;
  double lam = rkin_nuclide_lambda(rkin_nuclide_find("Lu-177", NULL));
  rkin_dose bolus = {0, 1000, 0, 0, 0, 0};
  rkin_dosing *d = rkin_dosing_new();
  rkin_cohort_spec sp = {0};
  rkin_cohort_res r1 = {tia1, status, 0, 0, 0, {0, ""}};
  rkin_cohort_res r4 = {tia4, status, 0, 0, 0, {0, ""}};
  double worst = 0;
  rkin_err err;
  int i, c;

  rkin_dosing_add(d, &bolus, NULL);
  rkin_vpop_sample(m, NULL, &cv, 11, N, params, NULL);
  rkin_solve_opts_default(&sp.opts);
  sp.opts.rtol = 1e-9;
  sp.opts.atol = 1e-9;
  sp.opts.path = path;
  sp.model = m;
  sp.n_patients = N;
  sp.params = params;
  sp.n_cycles = C;
  sp.cycle_h = 100;
  sp.dosing = d;
  sp.tia = &q;
  sp.n_tia = 1;
  sp.threads = 1;
  ok(rkin_cohort_run(&sp, &r1, &err) == 0 && r1.n_failed == 0,
     "%s: cohort of %d, 1 thread", name, N);
  for (i = 0; i < N; i++)
    for (c = 0; c < C; c++) {
      double want = cycle_tia(params[i] + lam, 1000, 100, c);
      double rel = fabs(tia1[i * C + c] / want - 1);
      if (!(rel <= worst)) worst = rel;
    }
  /* Analytic superposition; rtol 1e-9 on the CVODES path. */
  ok(worst < 1e-6, "%s: every patient's cycle TIA vs analytic, max rel. "
     "diff %.2e < 1e-6", name, worst);
  sp.threads = 4;
  ok(rkin_cohort_run(&sp, &r4, &err) == 0, "%s: 4 threads", name);
  ok(!memcmp(tia1, tia4, sizeof tia1),
     "%s: results identical for 1 and 4 threads", name);
  rkin_dosing_free(d);
}

static size_t progress_calls, progress_last;

static void on_progress(size_t done, size_t total, void *ud)
{
  (void)ud;
  progress_calls++;
  progress_last = done == total ? done : progress_last;
}

static void test_failure(void)
{
  enum { N = 6 };
  rkin_model *m = one_cpt(1);
  double params[N] = {0.9, 0.1, 0.8, 0.7, 0.2, 0.6}, tia[N];
  int status[N], q = 0, i, fine = 1;
  rkin_dose bolus = {0, 1000, 0, 0, 0, 0};
  rkin_dosing *d = rkin_dosing_new();
  rkin_cohort_spec sp = {0};
  rkin_cohort_res r = {tia, status, 0, 0, 0, {0, ""}};
  rkin_err err;

  rkin_dosing_add(d, &bolus, NULL);
  rkin_solve_opts_default(&sp.opts);
  sp.opts.path = RKIN_PATH_CVODES;
  sp.model = m;
  sp.n_patients = N;
  sp.params = params;
  sp.n_cycles = 1;
  sp.cycle_h = 50;
  sp.dosing = d;
  sp.tia = &q;
  sp.n_tia = 1;
  sp.threads = 2;
  sp.progress = on_progress;
  ok(rkin_cohort_run(&sp, &r, &err) == 0, "a cohort with failing patients "
     "still runs");
  is_int((long)r.n_failed, 2, "two patients failed (k < 0.5)");
  is_int((long)r.first_failed, 1, "the first failure is patient 2");
  like(r.first.msg, "patient 2, cycle 1", "its message names patient and "
       "cycle");
  like(r.first.msg, "'A'", "and the state");
  ok(status[1] != 0 && status[4] != 0 && isnan(tia[1]) && isnan(tia[4]),
     "failed patients marked, their TIA NaN (flagged by status)");
  for (i = 0; i < N; i++)
    if (i != 1 && i != 4) {
      double k = sqrt(params[i] - 0.5)
                 + rkin_nuclide_lambda(rkin_nuclide_find("Lu-177", NULL));
      if (status[i] || fabs(tia[i] / (1000 * (1 - exp(-50 * k)) / k) - 1)
                         > 1e-5)
        fine = 0;
    }
  ok(fine, "the other patients' TIAs are kept and right (rel. 1e-5)");
  ok(progress_calls >= 1 && progress_last == N,
     "progress reported, last call at %d of %d", (int)progress_last, N);

  sp.cycle_h = -1;
  ok(rkin_cohort_run(&sp, &r, &err) == RKIN_EINVAL, "negative cycle length");
  like(err.msg, "cycle length", "message names the cycle length");
  sp.cycle_h = 50;
  q = 3;
  ok(rkin_cohort_run(&sp, &r, &err) == RKIN_EINVAL, "TIA index past the "
     "model");
  like(err.msg, "outside the model", "message says so");
  rkin_dosing_free(d);
  rkin_model_free(m);
}

int main(void)
{
  rkin_model *m = one_cpt(0);
  if (!m) return 1;
  test_sampling(m);
  test_cohort(m, RKIN_PATH_EXACT, "exact");
  test_cohort(m, RKIN_PATH_CVODES, "cvodes");
  test_failure();
  ok(rkin_ncores() >= 1, "at least one core");
  rkin_model_free(m);
  done_testing();
  return exit_status();
}
