/* test_tac_mono.c - rkin_tac_mono_quick (the voxel fast path) against
 * rkin_tac_fit's mono candidate on noise-free and noisy curves (3-6
 * points, 2-40 % noise, rates above and below physical decay), against
 * the closed form of an exact curve, and its refusals. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#include "core/nuclide.h"
#include "tac/tac.h"
#include "../tap.h"

int main(void)
{
  const double tt[6] = {4, 24, 48, 72, 120, 168};
  rkin_err e;
  rkin_tac_opts o;
  rkin_tac_result *r = malloc(sizeof *r);
  double lp, A, l, a[6];
  int held, k;
  gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
  lp = rkin_nuclide_lambda(rkin_nuclide_find("Lu-177", &e));
  gsl_rng_set(rng, 18);
  rkin_tac_opts_default(&o);
  o.models = 1u << RKIN_TAC_MONO;
  o.cv = 0.05;

  /* an exact mono-exponential: A and l returned to rounding */
  for (k = 0; k < 4; k++) a[k] = 80.0 * exp(-0.02 * tt[k]);
  ok(rkin_tac_mono_quick(4, tt, a, lp, &A, &l, &held) == 1 && !held,
     "exact curve: fitted, not held");
  is_double(A, 80.0, 1e-10, "exact curve: A = 80 MBq");
  is_double(l, 0.02, 1e-10, "exact curve: l = 0.02 /h");

  /* noisy curves: the same minimum as rkin_tac_fit (which stops at a
   * projected gradient, so agreement is to its tolerance, 1e-6) */
  {
    int n, noise, tried = 0, agree = 0, fell = 0, held_n = 0, mism = 0;
    double worst = 0;
    const double cvs[4] = {0.02, 0.1, 0.2, 0.4};
    for (n = 3; n <= 6; n++)
      for (noise = 0; noise < 4; noise++)
        for (k = 0; k < 500; k++) {
          double lt = lp + gsl_rng_uniform(rng) * 0.05 - 0.005, d;
          rkin_tac_data dd;
          int i, q;
          for (i = 0; i < n; i++)
            do a[i] = 50.0 * exp(-lt * tt[i])
                      * (1 + gsl_ran_gaussian(rng, cvs[noise]));
            while (!(a[i] > 0));
          dd.n = (size_t)n;
          dd.t = tt;
          dd.a = a;
          dd.sd = NULL;
          dd.nuclide = "Lu-177";
          tried++;
          q = rkin_tac_mono_quick((size_t)n, tt, a, lp, &A, &l, &held);
          if (!q) {
            fell++;
            continue;
          }
          held_n += held;
          if (rkin_tac_fit(&dd, &o, r, &e) != 0 || r->chosen != RKIN_TAC_MONO) {
            /* rkin_tac_fit found no eligible mono (n = 3 with 2
             * parameters has AICc undefined but is still chosen) */
            mism++;
            continue;
          }
          d = fabs(A / l - r->tia) / r->tia;
          if (d > worst) worst = d;
          agree += d < 1e-6
                   && (held != 0) == ((r->cand[0].fixed & 2u) != 0);
        }
    ok(agree == tried - fell - mism && mism == 0,
       "%d noisy curves: %d fitted by the fast path, all %d with rkin_tac_"
       "fit's TIA to 1e-6 and the same held flag (worst rel %.2g; %d held "
       "at physical decay; %d declined)", tried, tried - fell, agree, worst,
       held_n, fell);
    ok(held_n > 100, "rates below physical decay held (%d)", held_n);
    ok(fell < tried / 20, "the fast path declines < 5 %% of these (%d of "
       "%d, nearly all at 40 %% noise)", fell, tried);
  }

  /* held at physical decay: A by the closed form at l_phys,
   * A = sum(1/a e^-lt) / sum(1/a^2 e^-2lt) */
  {
    double p = 0, q = 0;
    for (k = 0; k < 4; k++) a[k] = 60.0 * exp(-0.5 * lp * tt[k]);
    ok(rkin_tac_mono_quick(4, tt, a, lp, &A, &l, &held) == 1 && held &&
           l == lp, "rate below physical: held at l_phys");
    for (k = 0; k < 4; k++) {
      double u = exp(-lp * tt[k]) / a[k];
      p += u;
      q += u * u;
    }
    is_double(A, p / q, 1e-12, "held: A = P/Q at l_phys");
  }

  /* two maxima of the profile (a noisy 5-point curve: one near l = 0.011,
   * a better one near 0.081 /h, where rkin_tac_fit ends): declined */
  {
    const double an[5] = {49.9755, 14.5789, 1.27465, 2.65759, 0.738753};
    ok(rkin_tac_mono_quick(5, tt, an, lp, &A, &l, &held) == 0,
       "a profile with two maxima: declined (left to rkin_tac_fit)");
  }

  /* declined: a zero, times not increasing, a rate beyond the bound */
  for (k = 0; k < 4; k++) a[k] = 80.0 * exp(-0.02 * tt[k]);
  a[1] = 0.0;
  ok(rkin_tac_mono_quick(4, tt, a, lp, &A, &l, &held) == 0, "a zero: "
     "declined");
  a[1] = 30.0;
  {
    const double tb[4] = {4, 24, 24, 72};
    ok(rkin_tac_mono_quick(4, tb, a, lp, &A, &l, &held) == 0, "repeated "
       "time: declined");
  }
  for (k = 0; k < 4; k++) a[k] = 80.0 * exp(-40.0 * tt[k]) + 1e-300;
  ok(rkin_tac_mono_quick(4, tt, a, lp, &A, &l, &held) == 0, "rate at "
     "rkin_tac_fit's bound: declined");
  gsl_rng_free(rng);
  free(r);
  done_testing();
  return exit_status();
}
