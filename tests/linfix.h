/* linfix.h - the linear population model shared by the population unit
 * tests: f = a + b t with a = th0 + eta0 and b = th1 + eta1, additive
 * error, six observations per subject at 0.5-8 h, subjects simulated with
 * a ~ N(10, 1), b ~ N(-0.8, 0.3^2) and residual SD 0.5. Linear in eta, so
 * the marginal likelihood, the EBEs and the FO linearisation are exact.
 * Header-only, for the unit tests. */
#ifndef RKIN_LINFIX_H
#define RKIN_LINFIX_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#include "core/err.h"
#include "pop/data.h"
#include "pop/popest.h"
#include "tap.h"

/* psi = (th0 + eta0, th1 + eta1) */
static inline int linfix_psi(const double *th, const double *eta,
                             const double *cov, double *psi, void *ud,
                             rkin_err *err)
{
  (void)cov;
  (void)ud;
  (void)err;
  psi[0] = th[0] + eta[0];
  psi[1] = th[1] + eta[1];
  return 0;
}

/* f = psi0 + psi1 t at every observation time */
static inline int linfix_pred(const rkin_data_subject *s, const double *psi,
                              double *f, void *ud, rkin_err *err)
{
  size_t k;
  (void)ud;
  (void)err;
  for (k = 0; k < s->n_obs; k++) f[k] = psi[0] + psi[1] * s->time[k];
  return 0;
}

/* CSV text (ID,TIME,DV) of n subjects drawn from r; b_eta = 0 leaves b at
 * -0.8 for everyone (and draws nothing for it). Caller frees. */
static inline char *linfix_csv(gsl_rng *r, size_t n, int b_eta)
{
  static const double times[] = {0.5, 1, 2, 4, 6, 8};
  size_t cap = 64 + n * 6 * 48, len = 0, i, j;
  char *t = malloc(cap);
  len += (size_t)snprintf(t + len, cap - len, "ID,TIME,DV\n");
  for (i = 0; i < n; i++) {
    double a = 10 + gsl_ran_gaussian(r, 1.0);
    double b = -0.8 + (b_eta ? gsl_ran_gaussian(r, 0.3) : 0);
    for (j = 0; j < 6; j++)
      len += (size_t)snprintf(t + len, cap - len, "%zu,%g,%.6f\n", i + 1,
                              times[j], a + b * times[j]
                              + gsl_ran_gaussian(r, 0.5));
  }
  return t;
}

/* The data set of linfix_csv from an MT19937 seeded with seed. */
static inline rkin_data *linfix_data(unsigned long seed, size_t n, int b_eta)
{
  gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
  char *t;
  rkin_err err;
  rkin_data *d;
  gsl_rng_set(r, seed);
  t = linfix_csv(r, n, b_eta);
  d = rkin_data_parse(t, strlen(t), "linear.csv", NULL, &err);
  if (!d) diag("%s", err.msg);
  free(t);
  gsl_rng_free(r);
  return d;
}

#endif
