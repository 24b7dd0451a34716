/* test_guards.c - guards for formulas that the mutation check
 * (tests/mutate/run.sh) found unguarded: each block names the mutant of
 * tests/mutate/mutants.txt it kills and checks the engine against a value
 * computed here independently. */
#include <math.h>

#include "core/init.h"
#include "dose/tcp.h"
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

int main(void)
{
  rkin_init();
  test_tcp_truncated();
  done_testing();
  return exit_status();
}
