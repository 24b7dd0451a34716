/* test_guards.c - guards for formulas that the mutation check
 * (tests/mutate/run.sh) found unguarded: each block names the mutant of
 * tests/mutate/mutants.txt it kills and checks the engine against a value
 * computed here independently. */
#include <math.h>

#include "core/init.h"
#include "dose/radiobio.h"
#include "dose/tcp.h"
#include "tac/tac.h"
#include "../tap.h"

/* Normal density. */
static double npdf(double x, double m, double s)
{
  double z = (x - m) / s;
  return exp(-0.5 * z * z) / (s * sqrt(2 * M_PI));
}

/* Mutant tcp-norm. Poisson TCP averaged over alpha ~ N(mean, sd)
 * truncated to alpha > 0 (a radiosensitivity is positive): TCP =
 * int_0^inf pdf(alpha) exp(-N0 e^{-alpha BED}) d alpha / P(alpha > 0).
 * Here by composite Simpson (200000 intervals on [0, mean + 10 sd];
 * error < 1e-9 for an integrand whose steepest part is 1/BED = 1.7e-3
 * wide, 37 steps). With sd = 0.8 mean, P(alpha < 0) = 10.6 %, so leaving
 * out the renormalisation lowers TCP by that share: 0.1 absolute against
 * a relative tolerance of 1e-6. */
static void test_tcp_truncated(void)
{
  rkin_tcp p = {0.1, 0.08, 10, 1e10, 0.01};
  const double dose = 200, g = 0.1, bed = dose * (1 + g * dose / 10);
  const double n0 = 1e10 * 0.01, hi = 0.1 + 10 * 0.08;
  const int n = 200000;
  double num = 0, den = 0, h = hi / n, tcp = NAN, ref;
  rkin_err err;
  int i;
  for (i = 0; i <= n; i++) {
    double a = i * h, w = (i == 0 || i == n) ? 1 : (i % 2 ? 4 : 2);
    double f = npdf(a, p.alpha_mean, p.alpha_sd);
    num += w * f * exp(-n0 * exp(-a * bed));
    den += w * f;
  }
  ref = num / den;
  ok(rkin_tcp_poisson(dose, g, &p, &tcp, &err) == 0, "TCP with a wide "
     "alpha spread (sd 0.08, mean 0.1) computed");
  is_double(tcp, ref, 1e-6, "TCP = truncated-normal average of exp(-N0 "
            "e^-alpha BED) by Simpson here (%.6f; rel. 1e-6)", ref);
  ok(fabs(num * h / 3 - ref) > 0.05, "... the unrenormalised average "
     "%.4f differs by > 0.05 (power of the check)", num * h / 3);
  /* No spread: exp(-N0 e^{-alpha BED}) exactly. */
  p.alpha_sd = 0;
  p.alpha_mean = 0.035;
  rkin_tcp_poisson(dose, g, &p, &tcp, &err);
  is_double(tcp, exp(-n0 * exp(-0.035 * bed)), 1e-12,
            "TCP without spread = exp(-N0 e^-alpha BED) (1e-12)");
}

/* Mutant eqd2-factor: EQD2 = BED / (1 + 2 / (alpha/beta)) (Withers'
 * 2 Gy reference fraction), by hand for three alpha/beta values. */
static void test_eqd2(void)
{
  static const double ab[3] = {2.5, 3, 10};
  int k, all = 1;
  for (k = 0; k < 3; k++) {
    rkin_lq lq = {ab[k], 1.5};
    double e = NAN;
    rkin_err err;
    rkin_radiobio_eqd2(60, &lq, "kidney", &e, &err);
    all &= fabs(e - 60 / (1 + 2 / ab[k])) < 1e-12 * 60;
  }
  ok(all, "EQD2 of BED 60 Gy = 60 / (1 + 2/(a/b)) for a/b 2.5, 3, 10: "
     "30, 36, 50 Gy (1e-12)");
}

/* Mutants trapezoid-start and trapezoid-tail: the trapezoid TIA by hand,
 * 3 points, A(0) = 0 (a triangle from the origin) or flat (A(0) = A(t1)),
 * plus the physical-decay tail A_n / lambda_phys. */
static void test_trapezoid(void)
{
  static const double t[3] = {4, 24, 96}, a[3] = {80, 60, 20};
  const double lp = log(2.0) / (6.647 * 24);   /* Lu-177 */
  const double mid = 0.5 * (80 + 60) * 20 + 0.5 * (60 + 20) * 72;
  rkin_tac_data d = {3, t, a, NULL, "Lu-177"};
  rkin_tac_opts o;
  rkin_tac_cand c;
  rkin_err err;
  rkin_tac_opts_default(&o);
  o.cv = 0.1;
  rkin_tac_fit_one(&d, &o, RKIN_TAC_TRAP, &c, &err);
  is_double(c.tia, 0.5 * 4 * 80 + mid + 20 / lp, 1e-12,
            "trapezoid from (0, 0): 160 + 4280 + A_n/lambda_phys MBq h");
  o.trap_a0 = RKIN_TAC_TRAP_FLAT;
  rkin_tac_fit_one(&d, &o, RKIN_TAC_TRAP, &c, &err);
  is_double(c.tia, 4 * 80 + mid + 20 / lp, 1e-12,
            "trapezoid, flat start: 320 + 4280 + A_n/lambda_phys MBq h");
}

int main(void)
{
  rkin_init();
  test_tcp_truncated();
  test_eqd2();
  test_trapezoid();
  done_testing();
  return exit_status();
}
