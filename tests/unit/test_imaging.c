/* test_imaging.c - simulated quantitative imaging (engine/tac/imaging.c)
 * called directly: the validator's every message, the noise generator's
 * distribution (mean, CV and log-mean of many draws against the log-normal
 * it documents, with Monte Carlo bands of stated power) and stream
 * reproducibility, and the clinic's estimates (single time point and
 * sum-of-exponential fits) against closed forms. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/init.h"
#include "core/nuclide.h"
#include "dose/radiobio.h"
#include "tac/imaging.h"
#include "tac/tac.h"
#include "../tap.h"

static rkin_imaging img_of(rkin_imaging_method m, size_t n, const double *t,
                           double cv)
{
  rkin_imaging g;
  memset(&g, 0, sizeof g);
  g.method = m;
  g.n_times = n;
  g.times_h = t;
  g.cv = cv;
  g.seed = 42;
  return g;
}

static void expect_bad(const rkin_imaging *g, double interval, int code,
                       const char *part, const char *what)
{
  rkin_err err;
  rkin_err_clear(&err);
  is_int(rkin_imaging_check(g, interval, &err), code, "check rejects %s",
         what);
  like(err.msg, part, "... message: %s", part);
}

static void test_check(void)
{
  static const double t3[3] = {4, 24, 96}, back[2] = {24, 4};
  static const double t0[1] = {0}, tnan[1] = {NAN};
  double many[RKIN_TAC_MAX_POINTS + 1];
  char msg[80];
  size_t k;
  rkin_imaging g = img_of(RKIN_IMAGING_FIT, 3, t3, 0.1);
  rkin_err err;
  for (k = 0; k <= RKIN_TAC_MAX_POINTS; k++) many[k] = (double)(k + 1);
  is_int(rkin_imaging_check(NULL, 336, &err), RKIN_OK, "no imaging: ok");
  is_int(rkin_imaging_check(&g, 336, &err), RKIN_OK, "3 times, cv 0.1: ok");
  g.method = RKIN_IMAGING_STP;
  is_int(rkin_imaging_check(&g, 336, &err), RKIN_OK, "STP: ok");
  g = img_of(RKIN_IMAGING_TRUTH, 0, NULL, NAN);
  is_int(rkin_imaging_check(&g, 336, &err), RKIN_OK,
         "TRUTH needs neither times nor cv");

  g = img_of((rkin_imaging_method)7, 3, t3, 0.1);
  expect_bad(&g, 336, RKIN_EINVAL, "imaging: unknown method 7",
             "an unknown method");
  g = img_of(RKIN_IMAGING_FIT, 3, t3, -0.1);
  expect_bad(&g, 336, RKIN_EINVAL, "cv must be a finite number >= 0",
             "a negative cv");
  g.cv = NAN;
  expect_bad(&g, 336, RKIN_EINVAL, "got nan", "a NaN cv");
  g.cv = 10;
  expect_bad(&g, 336, RKIN_ERANGE, "cv 10 is above 1; it is a fraction",
             "a cv given in percent");
  g = img_of(RKIN_IMAGING_FIT, 0, t3, 0.1);
  snprintf(msg, sizeof msg, "1 to %d time points needed (got 0)",
           RKIN_TAC_MAX_POINTS);
  expect_bad(&g, 336, RKIN_EINVAL, msg, "no time points");
  g = img_of(RKIN_IMAGING_FIT, 3, NULL, 0.1);
  expect_bad(&g, 336, RKIN_EINVAL, "time points needed (got 3)",
             "times NULL");
  g = img_of(RKIN_IMAGING_FIT, RKIN_TAC_MAX_POINTS + 1, many, 0.1);
  snprintf(msg, sizeof msg, "(got %d)", RKIN_TAC_MAX_POINTS + 1);
  expect_bad(&g, 336, RKIN_EINVAL, msg, "more than the TAC limit");
  g = img_of(RKIN_IMAGING_STP, 1, t0, 0.1);
  expect_bad(&g, 336, RKIN_EINVAL, "times_h[1] = 0 h, expected in (0, 336)",
             "a time at the administration");
  g = img_of(RKIN_IMAGING_STP, 1, tnan, 0.1);
  expect_bad(&g, 336, RKIN_EINVAL, "times_h[1] = nan h", "a NaN time");
  g = img_of(RKIN_IMAGING_FIT, 3, t3, 0.1);
  expect_bad(&g, 72, RKIN_EINVAL, "times_h[3] = 96 h, expected in (0, 72)",
             "a time after the next cycle starts");
  g = img_of(RKIN_IMAGING_FIT, 2, back, 0.1);
  expect_bad(&g, 336, RKIN_EINVAL, "times_h[2] = 4 h is not after "
             "times_h[1] = 24 h", "decreasing times");
}

/* The noise: a x exp(sigma z - sigma^2/2), sigma^2 = ln(1 + cv^2). */
static void test_noise(void)
{
  enum { N = 200000 };
  static const double t1[1] = {24};
  rkin_imaging g = img_of(RKIN_IMAGING_FIT, 1, t1, 0.3);
  rkin_imaging_ws *ws = rkin_imaging_ws_new(NULL);
  double *a = malloc(N * sizeof *a), *b = malloc(N * sizeof *b);
  double s2 = log1p(0.09), mean = 0, var = 0, lmean = 0, lvar = 0, cv, se;
  double two[2] = {100, 5};
  size_t i;
  if (!ws || !a || !b) {
    ok(0, "imaging workspace and buffers");
    free(a);
    free(b);
    rkin_imaging_ws_free(ws);
    return;
  }
  for (i = 0; i < N; i++) a[i] = 1;
  rkin_imaging_seed(ws, &g, 3, 1);
  rkin_imaging_noise(ws, &g, N, a);
  for (i = 0; i < N; i++) {
    mean += a[i] / N;
    lmean += log(a[i]) / N;
  }
  for (i = 0; i < N; i++) {
    var += (a[i] - mean) * (a[i] - mean) / (N - 1);
    lvar += (log(a[i]) - lmean) * (log(a[i]) - lmean) / (N - 1);
  }
  cv = sqrt(var) / mean;
  /* Mean of N draws of unit mean and CV 0.3: SE 0.3 / sqrt(N) = 6.7e-4;
   * band 4 SE (false alarm 6e-5). Without the -sigma^2/2 correction the
   * mean is exp(sigma^2/2) = sqrt(1.09) = 1.0440, 65 SE away: power
   * 1 - Phi(-61), i.e. 1 to machine precision. */
  se = 0.3 / sqrt((double)N);
  ok(fabs(mean - 1) < 4 * se, "mean of %d noisy unit activities %.5f = 1 "
     "(4 SE = %.4f): unbiased, the -sigma^2/2 correction is applied", N,
     mean, 4 * se);
  ok(fabs(sqrt(1.09) - 1) > 20 * se, "... the uncorrected mean 1.0440 is "
     "> 20 SE away (power of the check)");
  /* log a ~ N(-sigma^2/2, sigma^2): SE sigma / sqrt(N) = 6.6e-4, band
   * 4 SE; the uncorrected 0 is 65 SE away. */
  se = sqrt(s2 / N);
  ok(fabs(lmean + 0.5 * s2) < 4 * se, "mean of log a %.5f = -sigma^2/2 = "
     "%.5f (4 SE = %.4f)", lmean, -0.5 * s2, 4 * se);
  /* SD of log a = sigma = 0.29356: SE sigma / sqrt(2N) = 4.6e-4, band 4
   * SE; sigma = cv (0.3) is 14 SE away: power Phi(10) = 1 - 8e-24. */
  se = sqrt(s2 / (2.0 * N));
  ok(fabs(sqrt(lvar) - sqrt(s2)) < 4 * se, "SD of log a %.5f = sqrt(ln(1 + "
     "cv^2)) = %.5f (4 SE = %.4f)", sqrt(lvar), sqrt(s2), 4 * se);
  /* Sample CV of a log-normal with CV c: SE ~ c sqrt(K / N), K = (kurt -
   * 1)/4 - skew c + c^2 = 0.703 at c = 0.3 (delta method; checked by
   * 1500 replicates of N = 2000: 5.59e-3 vs 5.62e-3 predicted), so SE =
   * 5.6e-4 here, band 4 SE = 2.2e-3. sigma = cv instead of
   * sqrt(ln(1 + cv^2)) gives CV sqrt(e^0.09 - 1) = 0.3069, 12 SE off:
   * power Phi(8.3) = 1 - 5e-17. */
  se = 0.3 * sqrt(0.703 / N);
  ok(fabs(cv - 0.3) < 4 * se, "sample CV %.5f = cv 0.3 (4 SE = %.4f)", cv,
     4 * se);
  ok(fabs(sqrt(expm1(0.09)) - 0.3) > 12 * se, "... sigma = cv (CV 0.3069) "
     "would be > 12 SE away (power of the check)");
  /* Tail fractions at cv = 1 (sigma^2 = ln 2), another stream: P(a < 1)
   * = Phi(sigma / 2) = 0.661396 and P(a > 2) = Q((ln 2 + sigma^2 / 2) /
   * sigma) = 0.105863. Binomial SEs at N: 1.06e-3 and 6.9e-4, bands 4 SE.
   * No -sigma^2/2: 0.5 and Q(0.8326) = 0.2025 (>100 SE off); sigma = cv:
   * Phi(0.5) = 0.6915 (28 SE) and Q(1.1931) = 0.1164 (15 SE): power
   * Phi(11) = 1. */
  {
    rkin_imaging g1 = img_of(RKIN_IMAGING_FIT, 1, t1, 1.0);
    double lo = 0, hi = 0, p1 = 0.661396, p2 = 0.105863;
    for (i = 0; i < N; i++) a[i] = 1;
    rkin_imaging_seed(ws, &g1, 4, 2);
    rkin_imaging_noise(ws, &g1, N, a);
    for (i = 0; i < N; i++) {
      if (a[i] < 1) lo += 1.0 / N;
      if (a[i] > 2) hi += 1.0 / N;
    }
    se = sqrt(p1 * (1 - p1) / N);
    ok(fabs(lo - p1) < 4 * se, "cv 1: P(a < 1) %.5f = Phi(sqrt(ln 2) / 2) = "
       "%.5f (4 SE = %.4f)", lo, p1, 4 * se);
    se = sqrt(p2 * (1 - p2) / N);
    ok(fabs(hi - p2) < 4 * se, "cv 1: P(a > 2) %.5f = Q(1.2488) = %.5f (4 "
       "SE = %.4f)", hi, p2, 4 * se);
    for (i = 0; i < 100; i++) a[i] = 1;   /* the stream checks below */
    rkin_imaging_seed(ws, &g, 3, 1);
    rkin_imaging_noise(ws, &g, 100, a);
  }

  /* Streams: the same (seed, patient, cycle) repeats, another differs. */
  for (i = 0; i < 100; i++) b[i] = 1;
  rkin_imaging_seed(ws, &g, 3, 1);
  rkin_imaging_noise(ws, &g, 100, b);
  ok(!memcmp(a, b, 100 * sizeof *a), "same seed, patient, cycle: same "
     "draws");
  for (i = 0; i < 100; i++) b[i] = 1;
  rkin_imaging_seed(ws, &g, 4, 1);
  rkin_imaging_noise(ws, &g, 100, b);
  ok(memcmp(a, b, 100 * sizeof *a) != 0, "another patient: other draws");
  for (i = 0; i < 100; i++) b[i] = 1;
  rkin_imaging_seed(ws, &g, 3, 2);
  rkin_imaging_noise(ws, &g, 100, b);
  ok(memcmp(a, b, 100 * sizeof *a) != 0, "another cycle: other draws");
  g.seed = 43;
  for (i = 0; i < 100; i++) b[i] = 1;
  rkin_imaging_seed(ws, &g, 3, 1);
  rkin_imaging_noise(ws, &g, 100, b);
  ok(memcmp(a, b, 100 * sizeof *a) != 0, "another seed: other draws");
  /* Multiplicative: the factors do not depend on the activity. */
  g.seed = 42;
  rkin_imaging_seed(ws, &g, 3, 1);
  rkin_imaging_noise(ws, &g, 2, two);
  is_double(two[0], 100 * a[0], 1e-15, "factor multiplies the activity");
  is_double(two[1], 5 * a[1], 1e-15, "... point by point, in order");
  g.cv = 0;
  rkin_imaging_noise(ws, &g, 2, two);
  ok(two[0] == 100 * a[0] && two[1] == 5 * a[1], "cv 0: left exact");
  rkin_imaging_ws_free(ws);
  rkin_imaging_ws_free(NULL);
  ok(1, "ws_free(NULL) is a no-op");
  free(a);
  free(b);
}

/* G of R = sum a_i e^{-l_i t} with repair rate mu (hand): 2/D^2 sum_ij
 * a_i a_j / ((l_i + l_j)(l_i + mu)), D = sum a_i / l_i; integrating
 * int_0^inf R(t) int_0^t R(s) e^{-mu (t - s)} ds dt term by term. */
static double g_sum(size_t n, const double *a, const double *l, double mu)
{
  double d = 0, s = 0;
  size_t i, j;
  for (i = 0; i < n; i++) d += a[i] / l[i];
  for (i = 0; i < n; i++)
    for (j = 0; j < n; j++) s += a[i] * a[j] / ((l[i] + l[j]) * (l[i] + mu));
  return 2 * s / (d * d);
}

static void test_estimate(void)
{
  static const double t5[5] = {4, 24, 48, 96, 168}, t1[1] = {96};
  const rkin_nuclide *lu = rkin_nuclide_find("Lu-177", NULL);
  rkin_lq lq = {3.0, 2.0};
  double mu = log(2.0) / lq.trep_h, s = 0.01, a[5], d, g, tia, amp[2];
  double lam[2];
  rkin_imaging_est e;
  rkin_imaging im;
  rkin_err err;
  size_t k;

  /* Single time point (Haenscheid et al. 2018): TIA = A 2 t / ln 2, G of
   * the mono-exponential of rate ln 2 / t: lambda / (lambda + mu). */
  im = img_of(RKIN_IMAGING_STP, 1, t1, 0);
  a[0] = 50;
  is_int(rkin_imaging_estimate(&im, lu, a, s, &lq, "kidney", &e, &err), 0,
         "STP estimate runs");
  tia = 50 * 2 * 96 / log(2.0);
  d = tia * s;
  g = (log(2.0) / 96) / (log(2.0) / 96 + mu);
  is_double(e.tia, tia, 1e-12, "STP TIA = A(t) 2t/ln2 = %.2f MBq h", tia);
  is_double(e.dose, d, 1e-12, "STP dose = TIA x S");
  is_double(e.g, g, 1e-12, "STP G = l/(l + mu), l = ln2/t (hand)");
  is_double(e.bed, d * (1 + g * d / lq.ab_gy), 1e-12,
            "STP BED = D (1 + G D / (alpha/beta))");
  a[0] = 0;
  ok(rkin_imaging_estimate(&im, lu, a, s, &lq, "kidney", &e, &err) == 0
     && e.tia == 0 && e.dose == 0 && e.g == 0 && e.bed == 0,
     "STP with nothing left: all zero");

  /* Mono-exponential fit of exact data: TIA = A/l, G = l/(l + mu). */
  im = img_of(RKIN_IMAGING_FIT, 5, t5, 0.05);
  im.tac_models = 1u << RKIN_TAC_MONO;
  for (k = 0; k < 5; k++) a[k] = 100 * exp(-0.05 * t5[k]);
  is_int(rkin_imaging_estimate(&im, lu, a, s, &lq, "tumour", &e, &err), 0,
         "mono fit estimate runs");
  is_double(e.tia, 100 / 0.05, 1e-6, "mono fit TIA = A/l = 2000 MBq h "
            "(rel. 1e-6: fit convergence)");
  is_double(e.dose, 2000 * s, 1e-6, "mono fit dose = TIA x S");
  is_double(e.g, 0.05 / (0.05 + mu), 1e-6, "mono fit G = l/(l + mu)");
  is_double(e.bed, e.dose * (1 + e.g * e.dose / lq.ab_gy), 1e-12,
            "mono fit BED from its dose and G");

  /* Bi-exponential: TIA = sum A_i / l_i = 800 + 2000, G by g_sum. */
  im.tac_models = 1u << RKIN_TAC_BI;
  amp[0] = 80, lam[0] = 0.1, amp[1] = 20, lam[1] = 0.01;
  for (k = 0; k < 5; k++)
    a[k] = amp[0] * exp(-lam[0] * t5[k]) + amp[1] * exp(-lam[1] * t5[k]);
  is_int(rkin_imaging_estimate(&im, lu, a, s, &lq, "tumour", &e, &err), 0,
         "bi-exponential fit estimate runs");
  is_double(e.tia, 2800, 1e-6, "bi fit TIA = 80/0.1 + 20/0.01 = 2800");
  is_double(e.g, g_sum(2, amp, lam, mu), 1e-5, "bi fit G = closed form "
            "%.6f (hand double integral)", g_sum(2, amp, lam, mu));

  /* Late points below detection are read as 0 (only late ones). */
  im.tac_models = 1u << RKIN_TAC_MONO;
  for (k = 0; k < 5; k++) a[k] = k < 4 ? 100 * exp(-0.05 * t5[k]) : 0;
  is_int(rkin_imaging_estimate(&im, lu, a, s, &lq, "blood", &e, &err), 0,
         "a late zero is accepted");
  /* The zero stays a data point (weighted like the lowest positive one),
   * so the curve moves a little: 0.1 %. */
  is_double(e.tia, 2000, 1e-3, "... and the fit of the rest holds (0.1 %%)");
  for (k = 0; k < 5; k++) a[k] = 0;
  ok(rkin_imaging_estimate(&im, lu, a, s, &lq, "blood", &e, &err) == 0
     && e.tia == 0 && e.bed == 0, "all below detection: all zero");

  for (k = 0; k < 5; k++) a[k] = 100 * exp(-0.05 * t5[k]);
  a[1] = 0;
  is_int(rkin_imaging_estimate(&im, lu, a, s, &lq, "liver", &e, &err),
         RKIN_ERANGE, "an early point below detection is rejected");
  like(err.msg, "liver: activity below detection at 24 h but not at 48 h",
       "... message names the region and both times");
  a[1] = NAN;
  is_int(rkin_imaging_estimate(&im, lu, a, s, &lq, "liver", &e, &err),
         RKIN_ENONFINITE, "a NaN activity is rejected");
  like(err.msg, "liver: measured activity nan MBq at 24 h",
       "... message names the region, value and time");
}

int main(void)
{
  rkin_init();
  test_check();
  test_noise();
  test_estimate();
  done_testing();
  return exit_status();
}
