/* bench_bed.c - cost of BED per region from the closed forms, and a proxy
 * for the cost of the auxiliary states (q, I) in a simulation.
 *
 * Prints ns per call. Not a test: figures depend on the machine. Target
 * (issue 5): closed-form BED under 1 us per region; aux states at most
 * +30 % of a simulation's time. */
#include <stdio.h>
#include <time.h>

#include <gsl/gsl_errno.h>
#include <gsl/gsl_odeiv2.h>

#include "core/init.h"
#include "dose/doserate.h"
#include "dose/gfactor.h"
#include "dose/radiobio.h"
#include "bench_args.h"

static double now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

/* Two-compartment kidney model (blood -> kidney -> out), with or without
 * the two auxiliary states of the kidney dose rate R = s x A_kidney. */
typedef struct {
  double k1, k2, mu, s;
} model;

static int rhs(double t, const double y[], double dy[], void *p)
{
  const model *m = p;
  (void)t;
  dy[0] = -m->k1 * y[0];
  dy[1] = m->k1 * y[0] - m->k2 * y[1];
  return GSL_SUCCESS;
}

static int rhs_aux(double t, const double y[], double dy[], void *p)
{
  const model *m = p;
  double r = m->s * y[1];
  rhs(t, y, dy, p);
  dy[2] = r - m->mu * y[2];
  dy[3] = r * y[2];
  return GSL_SUCCESS;
}

static double simulate(int aux, int n)
{
  model m = {0.35, 0.0169, 0.693147 / 2.8, 1e-4};
  gsl_odeiv2_system sys = {aux ? rhs_aux : rhs, NULL, aux ? 4 : 2, &m};
  double t0 = now(), sink = 0.0;
  int i;
  for (i = 0; i < n; i++) {
    double y[4] = {7400.0 * (1.0 + 1e-6 * i), 0.0, 0.0, 0.0}, t = 0.0;
    gsl_odeiv2_driver *d = gsl_odeiv2_driver_alloc_y_new(
        &sys, gsl_odeiv2_step_rkf45, 1e-2, 1e-10, 1e-8);
    gsl_odeiv2_driver_apply(d, &t, 1500.0, y);
    gsl_odeiv2_driver_free(d);
    sink += y[1] + y[3];
  }
  if (sink < 0) printf("%g\n", sink);
  return (now() - t0) / n;
}

int main(int argc, char **argv)
{
  bench_help(argc, argv,
             "usage: bench_bed   (no arguments)\n"
             "  ns per call of the closed-form BED per region, and a proxy "
             "for the cost\n  of the auxiliary states (q, I) in a GSL "
             "simulation. No peer.\n");
  bench_max_args("bench_bed", argc, argv, 0);
  rkin_init();   /* GSL reports errors as codes, never aborts */
  const int n = 5000000;
  rkin_lq p = {2.6, 2.8};
  double t0, sink = 0.0, g, bed;
  int i;

  t0 = now();
  for (i = 0; i < n; i++) {
    double lam = 0.01 + 1e-9 * i;
    rkin_gfactor_mono(lam, p.trep_h, &g, NULL);
    rkin_radiobio_bed(0.05 / lam, g, &p, "kidney", &bed, NULL);
    sink += bed;
  }
  printf("BED mono-exponential closed form: %.1f ns per region\n",
         1e9 * (now() - t0) / n);

  t0 = now();
  for (i = 0; i < n; i++) {
    double lc = 0.01 + 1e-9 * i;
    rkin_gfactor_uptake(lc, 0.35, p.trep_h, &g, NULL);
    rkin_radiobio_bed(0.05 * (1 / lc - 1 / 0.35), g, &p, "kidney", &bed,
                      NULL);
    sink += bed;
  }
  printf("BED uptake + clearance closed form: %.1f ns per region\n",
         1e9 * (now() - t0) / n);

  t0 = now();
  for (i = 0; i < n; i++) {
    rkin_doserate r = {3, {0.05, 0.02, -0.06}, {0.01 + 1e-9 * i, 0.1, 0.5}};
    double d;
    rkin_radiobio_bed_curve(&r, &p, "kidney", &d, &g, &bed, NULL);
    sink += bed;
  }
  printf("BED 3-term sum of exponentials (double sum, checks): %.1f ns per "
         "region\n", 1e9 * (now() - t0) / n);

  {
    double base = simulate(0, 20000), with = simulate(1, 20000);
    printf("proxy, GSL rkf45 2-state kidney model to 1500 h: %.2f us "
           "without, %.2f us with aux states (+%.0f %%)\n", 1e6 * base,
           1e6 * with, 100.0 * (with / base - 1.0));
  }
  if (sink < 0) printf("%g\n", sink);
  return 0;
}
