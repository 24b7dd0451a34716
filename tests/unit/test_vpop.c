/* test_vpop.c - sampling virtual patients and simulating cohorts. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <stdio.h>
#include <unistd.h>
#include <gsl/gsl_cdf.h>

#include "core/dosing.h"
#include "core/init.h"
#include "core/model.h"
#include "solve/solve.h"
#include "pop/vpop.h"
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
  rkin_dose bolus = { 0, 1000, 0, 0, 0, 0, 0, 0 };
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
  rkin_dose bolus = { 0, 1000, 0, 0, 0, 0, 0, 0 };
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


/* ------------------------------------------------- population models */

/* A model with parameters a, b, c (sorted) and one state: dA = -a A. */
static rkin_model *three_params(void)
{
  static const char *states[] = {"A"}, *params[] = {"a", "b", "c"};
  static const double values[] = {0.1, 2.0, 5.0};
  rkin_graph *g = rkin_graph_new();
  rkin_node d = rkin_expr_unary(g, RKIN_OP_NEG, rkin_expr_binary(
      g, RKIN_OP_MUL, rkin_expr_param(g, 0), rkin_expr_state(g, 0)));
  rkin_model_spec sp = {0};
  rkin_err err;
  rkin_model *m;
  sp.name = "abc";
  sp.n_states = 1;
  sp.states = states;
  sp.deriv = &d;
  sp.n_params = 3;
  sp.params = params;
  sp.values = values;
  m = rkin_model_new(&sp, g, &err);
  if (!m) diag("model: %s", err.msg);
  return m;
}

/* A function model as rk.population traces it: parameters (inputs) named
 * in `in`, one output `out_name` = build(g, leaves). */
typedef rkin_node (*build_fn)(rkin_graph *g);

static rkin_model *fn_model(size_t n_in, const char *const *in,
                            const char *out_name, build_fn build)
{
  static const char *states[] = {"_"};
  double values[8] = {1, 1, 1, 1, 1, 1, 1, 1};
  rkin_graph *g = rkin_graph_new();
  rkin_node zero = rkin_expr_const(g, 0), out = build(g);
  rkin_model_spec sp = {0};
  rkin_err err;
  rkin_model *m;
  sp.name = out_name;
  sp.n_states = 1;
  sp.states = states;
  sp.deriv = &zero;
  sp.n_params = n_in;
  sp.params = in;
  sp.values = values;
  sp.n_outputs = 1;
  sp.outputs = &out_name;
  sp.output_expr = &out;
  m = rkin_model_new(&sp, g, &err);
  if (!m) diag("fn model: %s", err.msg);
  return m;
}

/* individual: b = th.b * (cov.GFR / 90)^0.75 * exp(eta.b); inputs sorted
 * as rk.model sorts them: cov.GFR (p0), eta.b (p1), th.b (p2). */
static rkin_node build_indiv(rkin_graph *g)
{
  rkin_node f = rkin_expr_binary(g, RKIN_OP_POW, rkin_expr_binary(
      g, RKIN_OP_DIV, rkin_expr_param(g, 0), rkin_expr_const(g, 90)),
      rkin_expr_const(g, 0.75));
  return rkin_expr_binary(g, RKIN_OP_MUL, rkin_expr_binary(
      g, RKIN_OP_MUL, rkin_expr_param(g, 2), f),
      rkin_expr_unary(g, RKIN_OP_EXP, rkin_expr_param(g, 1)));
}

/* derived: BSA = 0.007184 W^0.425 H^0.725 (Du Bois), inputs cov.H (p0),
 * cov.W (p1). */
static rkin_node build_bsa(rkin_graph *g)
{
  return rkin_expr_binary(g, RKIN_OP_MUL, rkin_expr_binary(
      g, RKIN_OP_MUL, rkin_expr_const(g, 0.007184), rkin_expr_binary(
          g, RKIN_OP_POW, rkin_expr_param(g, 1), rkin_expr_const(g, 0.425))),
      rkin_expr_binary(g, RKIN_OP_POW, rkin_expr_param(g, 0),
                       rkin_expr_const(g, 0.725)));
}

static double pearson(const double *x, size_t sx, const double *y,
                      size_t sy, size_t n)
{
  double mx = 0, my = 0, sxx = 0, syy = 0, sxy = 0;
  size_t i;
  for (i = 0; i < n; i++) {
    mx += x[i * sx] / n;
    my += y[i * sy] / n;
  }
  for (i = 0; i < n; i++) {
    double a = x[i * sx] - mx, b = y[i * sy] - my;
    sxx += a * a;
    syy += b * b;
    sxy += a * b;
  }
  return sxy / sqrt(sxx * syy);
}

static double column_mean(const double *x, size_t stride, size_t n)
{
  double s = 0;
  size_t i;
  for (i = 0; i < n; i++) s += x[i * stride];
  return s / n;
}

static double column_var(const double *x, size_t stride, size_t n)
{
  double m = column_mean(x, stride, n), s = 0;
  size_t i;
  for (i = 0; i < n; i++) s += (x[i * stride] - m) * (x[i * stride] - m);
  return s / (n - 1);
}

static void test_correlation(const rkin_model *m)
{
  enum { N = 20000 };
  /* omega over a, b (c fixed): variances 0.09, 0.16, correlation 0.6. */
  double om[9] = {0.09, 0.6 * 0.3 * 0.4, 0, 0.6 * 0.3 * 0.4, 0.16, 0,
                  0, 0, 0};
  double corr[4] = {1, -0.5, -0.5, 1};
  const char *cn[] = {"GFR", "W"};
  rkin_covdist cd[2] = {
    {"GFR", RKIN_DIST_NORMAL, 90, 20, 30, INFINITY},
    {"W", RKIN_DIST_LOGNORMAL, 80, 15, -INFINITY, INFINITY}};
  rkin_pop_spec ps = {0};
  double *p = malloc(N * 3 * sizeof *p), *eta = malloc(N * 3 * sizeof *eta);
  double *cov = malloc(N * 2 * sizeof *cov), r, se, v;
  double *p1 = malloc(N * 3 * sizeof *p1), *e1 = malloc(N * 3 * sizeof *e1);
  double *c1 = malloc(N * 2 * sizeof *c1);
  size_t i, below = 0;
  rkin_err err;

  ps.model = m;
  ps.omega = om;
  ps.n_cov = 2;
  ps.cov_names = cn;
  ps.cov = cd;
  ps.cov_corr = corr;
  ps.threads = 2;
  ok(rkin_pop_sample(&ps, 11, N, NULL, p, eta, cov, &err) == 0,
     "sample %d patients with correlated eta and covariates", N);
  /* Normal theory: the sample correlation has SE (1 - rho^2)/sqrt(N)
   * (0.0045 here); accept 4 SE. */
  r = pearson(eta, 3, eta + 1, 3, N);
  se = (1 - 0.36) / sqrt(N);
  ok(fabs(r - 0.6) < 4 * se, "corr(eta_a, eta_b) = %.4f, want 0.6 +- %.4f "
     "(4 SE, normal theory)", r, 4 * se);
  /* Sample variance of a normal: relative SE sqrt(2/(N-1)) = 1 %; 4 SE. */
  v = column_var(eta, 3, N);
  ok(fabs(v / 0.09 - 1) < 4 * sqrt(2.0 / (N - 1)), "var(eta_a) = %.5f, "
     "want 0.09 within 4 SE", v);
  v = column_var(eta + 1, 3, N);
  ok(fabs(v / 0.16 - 1) < 4 * sqrt(2.0 / (N - 1)), "var(eta_b) = %.5f, "
     "want 0.16 within 4 SE", v);
  ok(column_var(eta + 2, 3, N) == 0 && p[2] == 5.0, "c has no variability "
     "(omega row 0): eta 0, value theta");
  ok(fabs(p[0] - 0.1 * exp(eta[0])) < 1e-15 && fabs(p[1] - 2 * exp(eta[1]))
     < 1e-14, "p = theta exp(eta) without effects (exact)");
  for (i = 0; i < N; i++) below += cov[i * 2] < 30;
  is_int((long)below, 0, "no GFR below its truncation at 30");
  /* Lognormal W with mean 80, SD 15: sample mean SE 15/sqrt(N); 4 SE. */
  v = column_mean(cov + 1, 2, N);
  ok(fabs(v - 80) < 4 * 15 / sqrt(N), "lognormal W mean %.3f, want 80 "
     "+- %.3f (4 SE)", v, 4 * 15 / sqrt(N));
  v = sqrt(column_var(cov + 1, 2, N));
  ok(fabs(v / 15 - 1) < 0.05, "lognormal W SD %.3f, want 15 +- 5 %% "
     "(SE of an SD of this skewed law ~1.1 %%)", v);
  /* Skewness, apart from the moments: log W ~ N(ln 80 - s2/2, s2), s2 =
   * ln(1 + (15/80)^2), so P(W < 80) = Phi(sqrt(s2) / 2) = 0.53702.
   * Binomial SE 3.5e-3, band 4 SE; s2 from sd/mean (0.1719) gives 0.5821,
   * 12.8 SE away: power Phi(8.8) = 1. */
  {
    double q = gsl_cdf_ugaussian_P(0.5 * sqrt(log1p(0.1875 * 0.1875))), f = 0;
    for (i = 0; i < N; i++)
      if (cov[i * 2 + 1] < 80) f += 1.0 / N;
    se = sqrt(q * (1 - q) / N);
    ok(fabs(f - q) < 4 * se, "lognormal W: P(W < mean) %.4f = Phi(sqrt(ln(1 "
       "+ CV^2)) / 2) = %.4f (4 SE = %.4f)", f, q, 4 * se);
  }
  /* The copula correlation on the normal scores: log W and GFR. The
   * truncation at 30 (3.5 SD below the mean) removes 0.02 % of draws and
   * changes r by far less than its SE 0.0053; accept 4 SE. */
  for (i = 0; i < N; i++) c1[i] = log(cov[i * 2 + 1]);
  r = pearson(cov, 2, c1, 1, N);
  ok(fabs(r + 0.5) < 4 * (1 - 0.25) / sqrt(N), "corr(GFR, log W) = %.4f, "
     "want -0.5 within 4 SE", r);

  ps.threads = 1;
  ok(rkin_pop_sample(&ps, 11, N, NULL, p1, e1, c1, &err) == 0 &&
     !memcmp(p, p1, N * 3 * sizeof *p) && !memcmp(eta, e1, N * 3 *
     sizeof *eta) && !memcmp(cov, c1, N * 2 * sizeof *cov),
     "1 thread and 2 threads give bit-identical patients");
  ps.threads = 7;
  ok(rkin_pop_sample(&ps, 11, 100, NULL, p1, e1, c1, &err) == 0 &&
     !memcmp(p, p1, 100 * 3 * sizeof *p) && !memcmp(cov, c1, 200 *
     sizeof *cov), "n = 100 with 7 threads: the first 100 of n = %d", N);
  ok(rkin_pop_sample(&ps, 12, 100, NULL, p1, e1, c1, &err) == 0 &&
     memcmp(p, p1, 100 * 3 * sizeof *p), "another seed, other patients");
  free(p);
  free(eta);
  free(cov);
  free(p1);
  free(e1);
  free(c1);
}

static void test_effects(const rkin_model *m)
{
  enum { N = 5 };
  double cin[N] = {30, 60, 90, 120, 150}, p[N * 3], eta[N * 3], cov[N * 2];
  double om[9] = {0.04, 0, 0, 0, 0.09, 0, 0, 0, 0};
  const char *cn[] = {"GFR"};
  const char *in_names[] = {"cov.GFR", "eta.b", "th.b"};
  size_t in_slot[3] = {6, 3 + 1, 1}, out_slot[1] = {1};
  rkin_effect eff[3] = {{0, 0, RKIN_EFFECT_POWER, 90, 0.75},
                        {2, 0, RKIN_EFFECT_EXP, 90, 0.01},
                        {2, 0, RKIN_EFFECT_LINEAR, 90, 0.002}};
  rkin_pop_spec ps = {0};
  rkin_model *ind = fn_model(3, in_names, "b", build_indiv);
  int exact = 1;
  size_t i;
  rkin_err err;

  ps.model = m;
  ps.omega = om;
  ps.n_cov = 1;
  ps.cov_names = cn;
  ps.n_effects = 3;
  ps.effects = eff;
  ps.individual.fn = ind;
  ps.individual.arg = in_slot;
  ps.individual.out = out_slot;
  ok(ind && rkin_pop_sample(&ps, 5, N, cin, p, eta, cov, &err) == 0,
     "covariates given per patient, fixed effects and a traced function");
  for (i = 0; i < N; i++) {
    double g = cin[i];
    double a = 0.1 * pow(g / 90, 0.75) * exp(eta[i * 3]);
    double b = 2.0 * pow(g / 90, 0.75) * exp(eta[i * 3 + 1]);
    double c = 5.0 * exp(0.01 * (g - 90)) * (1 + 0.002 * (g - 90));
    if (fabs(p[i * 3] / a - 1) > 1e-14 || fabs(p[i * 3 + 1] / b - 1) > 1e-14
        || fabs(p[i * 3 + 2] / c - 1) > 1e-14 || cov[i] != g)
      exact = 0;
  }
  ok(exact, "power, exponential and linear effects and the function's "
     "value applied exactly (rel. 1e-14: same formula, rounding only)");

  eff[2].beta = -0.05;   /* 1 - 0.05 (GFR - 90): > 0 up to 110, then
                            -0.5 at 120 (patient 4) and -2 at 150 */
  ok(rkin_pop_sample(&ps, 5, N, cin, p, eta, cov, &err) == RKIN_EINVAL,
     "a linear effect going negative is an error");
  like(err.msg, "patient 4: the effect of covariate 'GFR' = 120 on 'c' "
       "gives a factor -0.5", "message names the first such patient, the "
       "covariate, value, parameter and factor: %s", err.msg);
  eff[2].beta = 0.002;
  cin[2] = -1;
  ok(rkin_pop_sample(&ps, 5, N, cin, p, eta, cov, &err) == RKIN_EINVAL,
     "a power effect of a negative covariate is an error");
  like(err.msg, "patient 3: the effect of covariate 'GFR' = -1", "message "
       "names patient 3");
  cin[2] = 90;
  ok(rkin_pop_sample(&ps, 5, N, NULL, p, eta, cov, &err) == RKIN_EINVAL,
     "covariates without distributions cannot be sampled");
  like(err.msg, "'GFR' has no distribution", "message names the covariate");
  cin[0] = 0;   /* (0/90)^0.75 = 0 in the function: b = 0, allowed */
  eff[0].beta = -1;   /* a: (0/90)^-1 = inf */
  ok(rkin_pop_sample(&ps, 5, N, cin, p, eta, cov, &err) == RKIN_EINVAL,
     "an infinite effect factor is an error");
  like(err.msg, "patient 1: the effect of covariate 'GFR' = 0 on 'a' gives "
       "a factor inf", "message: %s", err.msg);
  rkin_model_free(ind);
}

static void test_derived(const rkin_model *m)
{
  double cin[4] = {180, 80, 160, 50}, cov[2 * 3];
  const char *cn[] = {"H", "W"}, *dn[] = {"BSA"};
  const char *in_names[] = {"cov.H", "cov.W"};
  size_t in_slot[2] = {6, 7}, out_slot[1] = {0};
  rkin_effect eff = {1, 2, RKIN_EFFECT_POWER, 1.8, 1.0};
  double p[2 * 3];
  rkin_pop_spec ps = {0};
  rkin_model *bsa = fn_model(2, in_names, "BSA", build_bsa);
  rkin_err err;
  double want = 0.007184 * pow(80, 0.425) * pow(180, 0.725);

  ps.model = m;
  ps.n_cov = 2;
  ps.cov_names = cn;
  ps.n_derived = 1;
  ps.derived_names = dn;
  ps.derive.fn = bsa;
  ps.derive.arg = in_slot;
  ps.derive.out = out_slot;
  ps.n_effects = 1;
  ps.effects = &eff;
  ok(bsa && rkin_pop_sample(&ps, 1, 2, cin, p, NULL, cov, &err) == 0,
     "a derived covariate (BSA from height and weight)");
  is_double(cov[2], want, 1e-14, "BSA = Du Bois formula (%.4f m2)", want);
  is_double(p[1], 2.0 * want / 1.8, 1e-14, "an effect of the derived "
            "covariate on b (no omega: exact)");
  ps.derive.fn = NULL;
  ok(rkin_pop_check(&ps, &err) == RKIN_EINVAL, "derived covariate without "
     "a function");
  like(err.msg, "derived covariate 'BSA' is not computed", "message names "
       "it");
  rkin_model_free(bsa);
}

static void test_bad_matrices(const rkin_model *m)
{
  /* Pairwise |r| = 0.9 < 1 but r_ab = r_bc = 0.9, r_ac = -0.9: no such
   * covariance exists (smallest eigenvalue -0.8). */
  double om[9] = {1, 0.9, -0.9, 0.9, 1, 0.9, -0.9, 0.9, 1};
  double om2[9] = {0.09, 0.2, 0, 0.2, 0.04, 0, 0, 0, 0};
  double corr[4] = {1, 0.5, 0.4, 1};
  const char *cn[] = {"GFR", "W"};
  rkin_covdist cd[2] = {
    {"GFR", RKIN_DIST_NORMAL, 90, 20, -INFINITY, INFINITY},
    {"W", RKIN_DIST_NORMAL, 80, 15, -INFINITY, INFINITY}};
  rkin_pop_spec ps = {0};
  rkin_err err;
  double p[3];

  ps.model = m;
  ps.omega = om;
  ok(rkin_pop_check(&ps, &err) == RKIN_EINVAL, "non-positive-definite "
     "omega rejected");
  like(err.msg, "omega over a, b, c is not positive definite", "message "
       "names the matrix and its parameters");
  like(err.msg, "smallest eigenvalue is -0.8", "and says why: %s", err.msg);
  ok(rkin_pop_sample(&ps, 1, 1, NULL, p, NULL, NULL, &err) == RKIN_EINVAL,
     "sampling checks it too");
  ps.omega = om2;
  ok(rkin_pop_check(&ps, &err) == RKIN_EINVAL, "|correlation| > 1 "
     "rejected");
  like(err.msg, "omega[a][b] = 0.2 implies a correlation of 3.33333", "it "
       "names the entry and the implied correlation: %s", err.msg);
  om2[1] = 0.01;
  ok(rkin_pop_check(&ps, &err) == RKIN_EINVAL, "asymmetric omega");
  like(err.msg, "omega is not symmetric: [a][b] = 0.01 but [b][a] = 0.2",
       "message names both entries");
  om2[1] = 0.02;
  om2[0] = -0.09;
  om2[3] = 0.02;
  ok(rkin_pop_check(&ps, &err) == RKIN_EINVAL, "negative variance");
  like(err.msg, "omega[a][a] = -0.09", "message names it");
  ps.omega = NULL;
  ps.n_cov = 2;
  ps.cov_names = cn;
  ps.cov = cd;
  ps.cov_corr = corr;
  ok(rkin_pop_check(&ps, &err) == RKIN_EINVAL, "asymmetric correlation");
  like(err.msg, "covariate correlation is not symmetric", "names the "
       "covariate correlation matrix");
  corr[2] = 0.5;
  cd[1].lo = 200;
  ok(rkin_pop_check(&ps, &err) == RKIN_EINVAL, "truncation that keeps "
     "almost nothing");
  like(err.msg, "covariate 'W': the bounds [200, inf] keep only a fraction",
       "message names the covariate and its bounds: %s", err.msg);
  cd[1].lo = -INFINITY;
  cd[0].sd = -1;
  ok(rkin_pop_check(&ps, &err) == RKIN_EINVAL, "negative SD");
  like(err.msg, "covariate 'GFR': a normal distribution needs", "message");
}

/* Writes text to a new temporary file; returns its path (static). */
static const char *temp_csv(const char *text)
{
  static char path[64];
  int fd;
  FILE *f;
  snprintf(path, sizeof path, "/tmp/test_vpop_XXXXXX");
  fd = mkstemp(path);
  f = fdopen(fd, "w");
  fputs(text, f);
  fclose(f);
  return path;
}

static void test_csv(void)
{
  const char *need[] = {"GFR", "W"}, *want[] = {"id", "k"};
  int found[2];
  size_t n, *lines;
  double *v;
  rkin_err err;
  const char *path = temp_csv("# covariates\nid, W ,GFR,\"k\"\n7,80,90,0.1"
                              "\n\n8,70.5,1e2,0.2\r\n");
  ok(rkin_pop_read_csv(path, 2, need, 2, want, found, &n, &v, &lines,
                       &err) == 0, "read a covariate CSV");
  is_int((long)n, 2, "two patients");
  ok(v[0] == 90 && v[1] == 80 && v[2] == 7 && v[3] == 0.1 && v[4] == 100 &&
     v[5] == 70.5 && v[6] == 8 && v[7] == 0.2 && found[0] && found[1],
     "values by column name, whatever the column order");
  ok(lines[0] == 3 && lines[1] == 5, "file lines of the rows (3, 5)");
  free(v);
  free(lines);
  unlink(path);

  path = temp_csv("id,W\n1,80\n");
  ok(rkin_pop_read_csv(path, 2, need, 0, NULL, NULL, &n, &v, NULL, &err) ==
     RKIN_EINVAL, "a missing covariate column");
  like(err.msg, ":1: column 'GFR' is missing (the header has: id, W)",
       "message names file, line 1 and the column: %s", err.msg);
  like(err.msg, path, "and the file");
  unlink(path);
  path = temp_csv("GFR,W\n90,80\n85,\n");
  ok(rkin_pop_read_csv(path, 2, need, 0, NULL, NULL, &n, &v, NULL, &err) ==
     RKIN_EINVAL, "an empty cell");
  like(err.msg, ":3: column 'W' is empty", "message names line 3 and the "
       "column");
  unlink(path);
  path = temp_csv("GFR,W\n90,80kg\n");
  ok(rkin_pop_read_csv(path, 2, need, 0, NULL, NULL, &n, &v, NULL, &err) ==
     RKIN_EINVAL, "a cell that is not a number");
  like(err.msg, ":2: column 'W' must be a finite number (got \"80kg\")",
       "message names line, column and cell");
  unlink(path);
  path = temp_csv("GFR,W\n90,80,1\n");
  ok(rkin_pop_read_csv(path, 2, need, 0, NULL, NULL, &n, &v, NULL, &err) ==
     RKIN_EINVAL, "a row with too many fields");
  like(err.msg, ":2: 3 fields, but the header has 2", "message");
  unlink(path);
  ok(rkin_pop_read_csv("/nonexistent/x.csv", 2, need, 0, NULL, NULL, &n, &v,
                       NULL, &err) == RKIN_EIO, "a missing file");
  like(err.msg, "cannot read '/nonexistent/x.csv'", "message names it");

  /* One tokenizer for every reader: BOM, quoted names and cells (with a
   * comma in an unused column), CRLF. */
  path = temp_csv("\xEF\xBB\xBF\"GFR\",\"note, free\",W\r\n\"90\",\"a, b\","
                  "80\r\n");
  ok(rkin_pop_read_csv(path, 2, need, 0, NULL, NULL, &n, &v, NULL, &err) == 0
     && n == 1 && v[0] == 90 && v[1] == 80, "BOM, quotes, CRLF read");
  if (n == 1) free(v);
  unlink(path);
  path = temp_csv("GFR,W\n90,\"80\n");
  ok(rkin_pop_read_csv(path, 2, need, 0, NULL, NULL, &n, &v, NULL, &err) ==
     RKIN_EINVAL, "an unterminated quote");
  like(err.msg, ":2:4: unterminated quoted field", "message names "
       "line and column");
  unlink(path);
}

/* Issue 12: a table checked against the population's declared covariate
 * ranges, and ids unique. */
static void test_check_table(void)
{
  const char *names[] = {"GFR", "W"};
  rkin_covdist cov[2] = {
    {"GFR", RKIN_DIST_NORMAL, 90, 20, 30, INFINITY},
    {"W", RKIN_DIST_LOGNORMAL, 80, 15, -INFINITY, INFINITY}};
  rkin_pop_spec ps;
  /* rows: GFR, W, id */
  double v[] = {90, 80, 7, 31, 500, 8, 45, 60, 9, 60, 61, 8};
  size_t lines[] = {2, 3, 5, 9};
  rkin_err err;
  memset(&ps, 0, sizeof ps);
  ps.n_cov = 2;
  ps.cov_names = names;
  ps.cov = cov;
  is_int(rkin_pop_check_table(&ps, "c.csv", v, 3, 3, lines, 2, &err), 0,
         "three rows in range with ids 7, 8, 9: accepted");
  is_int(rkin_pop_check_table(&ps, "c.csv", v, 4, 3, lines, 2, &err),
         RKIN_EINVAL, "id 8 again on the fourth row: RKIN_EINVAL");
  like(err.msg, "c.csv:9: column 'id': 8 appears again (first at line 3)",
       "... naming both lines");
  is_int(rkin_pop_check_table(&ps, "c.csv", v, 4, 3, lines, -1, &err), 0,
         "without an id column no id check");
  v[3] = 29.5;
  is_int(rkin_pop_check_table(&ps, "c.csv", v, 3, 3, lines, 2, &err),
         RKIN_ERANGE, "GFR 29.5 under its declared min 30: RKIN_ERANGE");
  like(err.msg, "c.csv:3: column 'GFR' = 29.5 is outside the range the "
       "population declares for it, [30, inf]", "... message");
  ps.cov = NULL;
  is_int(rkin_pop_check_table(&ps, "c.csv", v, 3, 3, lines, 2, &err), 0,
         "no declared distributions: no range check");
}

/* omega = sqrt(ln(1 + CV^2)) tested with the power to tell it from the
 * tempting omega = CV: at CV 30 % they are 0.2936 and 0.3, and the raw
 * values' CV is 0.3 against sqrt(e^0.09 - 1) = 0.3069. N = 100000
 * patients (sampling only, a few ms). Bands are 4 SE (false alarm 6e-5
 * each, deterministic seed). */
static void test_sampling_power(const rkin_model *m)
{
  enum { N = 100000 };
  double *p = malloc(N * sizeof *p), cv = 0.3, theta = 0.1;
  double omega = sqrt(log1p(cv * cv)), lm = 0, lv = 0, mean = 0, var = 0;
  double se, c;
  size_t i;
  rkin_err err;
  if (!p || rkin_vpop_sample(m, &theta, &cv, 2022, N, p, &err)) {
    ok(0, "sample %d patients", N);
    free(p);
    return;
  }
  for (i = 0; i < N; i++) {
    lm += log(p[i] / theta) / N;
    mean += p[i] / N;
  }
  for (i = 0; i < N; i++) {
    double l = log(p[i] / theta) - lm;
    lv += l * l / (N - 1);
    var += (p[i] - mean) * (p[i] - mean) / (N - 1);
  }
  /* SD of log k: SE omega / sqrt(2N) = 6.6e-4, band 2.6e-3; omega = CV
   * is 0.0064 = 9.8 SE away: power Phi(9.8 - 4) = 1 - 3e-9. */
  se = omega / sqrt(2.0 * N);
  ok(fabs(sqrt(lv) - omega) < 4 * se, "SD of log k %.5f = sqrt(ln(1 + "
     "0.09)) = %.5f (4 SE = %.4f)", sqrt(lv), omega, 4 * se);
  ok(fabs(cv - omega) > 9 * se, "... omega = CV (0.3) would be > 9 SE "
     "away (power of the check)");
  /* Sample CV of a log-normal: SE ~ CV sqrt(0.703 / N) = 8.0e-4 at CV 0.3
   * (delta method, (kurt - 1)/4 - skew CV + CV^2 = 0.703; confirmed by
   * replicate simulation), band 3.2e-3; omega = CV gives 0.3069, 8.7 SE
   * away: power Phi(8.7 - 4) = 1 - 1.3e-6. */
  c = sqrt(var) / mean;
  se = cv * sqrt(0.703 / N);
  ok(fabs(c - cv) < 4 * se, "sample CV of k %.5f = the CV asked for, 0.3 "
     "(4 SE = %.4f)", c, 4 * se);
  ok(fabs(sqrt(expm1(cv * cv)) - cv) > 8 * se, "... omega = CV would give "
     "CV 0.3069, > 8 SE away (power of the check)");
  /* Mean theta sqrt(1 + CV^2) (the median is theta): SE mean CV/sqrt(N). */
  se = theta * sqrt(1 + cv * cv) * cv / sqrt((double)N);
  ok(fabs(mean - theta * sqrt(1 + cv * cv)) < 4 * se, "mean k %.6f = theta "
     "sqrt(1 + CV^2) = %.6f (4 SE)", mean, theta * sqrt(1 + cv * cv));
  /* A tail fraction at CV 100 %: omega = sqrt(ln 2) = 0.8326, so P(k >
   * e theta) = Q(1 / omega) = 0.11485 (omega = CV: Q(1) = 0.15866).
   * Binomial SE sqrt(p (1 - p) / N) = 1.0e-3, band 4 SE; the wrong omega
   * is 43 SE away: power Phi(43 - 4) = 1. */
  cv = 1.0;
  if (rkin_vpop_sample(m, &theta, &cv, 2023, N, p, &err) == 0) {
    double q = gsl_cdf_ugaussian_Q(1.0 / sqrt(log(2.0))), f = 0;
    for (i = 0; i < N; i++)
      if (p[i] > M_E * theta) f += 1.0 / N;
    se = sqrt(q * (1 - q) / N);
    ok(fabs(f - q) < 4 * se, "CV 100 %%: P(k > e theta) %.5f = Q(1 / "
       "sqrt(ln 2)) = %.5f (4 SE = %.4f)", f, q, 4 * se);
  } else
    ok(0, "sample %d patients at CV 100 %%", N);
  free(p);
}

int main(void)
{
  rkin_model *m = one_cpt(0);
  if (!m) return 1;
  test_sampling(m);
  test_sampling_power(m);
  test_check_table();
  test_cohort(m, RKIN_PATH_EXACT, "exact");
  test_cohort(m, RKIN_PATH_CVODES, "cvodes");
  test_failure();
  ok(rkin_ncores() >= 1, "at least one core");
  rkin_model_free(m);
  rkin_init();   /* Cholesky failures must come back as codes */
  m = three_params();
  if (!m) return 1;
  test_correlation(m);
  test_effects(m);
  test_derived(m);
  test_bad_matrices(m);
  test_csv();
  rkin_model_free(m);
  done_testing();
  return exit_status();
}
