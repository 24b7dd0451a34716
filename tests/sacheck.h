/* sacheck.h - the check of SAEM's stochastic-approximation standard
 * errors (saem = {se = "sa"}) against an exact observed information,
 * shared by test_saem_se and test_saemiov: the SAEM options of those
 * runs, SEs from an information matrix, each SA SE within 5 % of the
 * exact one, and the largest deviation of the SA information. Header-only,
 * for the unit tests. */
#ifndef RKIN_SACHECK_H
#define RKIN_SACHECK_H

#include <math.h>
#include <string.h>

#include <gsl/gsl_linalg.h>

#include "pop/popest.h"
#include "pop/saem.h"
#include "tap.h"

/* SAEM with SA standard errors: burn burn-in and 300 iterations of 4
 * chains from seed, no importance sampling, 2000 SA iterations. */
static inline void sa_opts(rkin_saem_opts *so, int burn, unsigned long seed)
{
  rkin_saem_opts_default(so);
  so->burn = burn;
  so->iter = 300;
  so->chains = 4;
  so->seed = seed;
  so->imp_samples = 0;
  so->se = RKIN_SAEM_SE_SA;
  so->se_iter = 2000;
}

/* sqrt(diag(A^-1)) of an n x n matrix (n <= 6) into se; 1 when A is not
 * positive definite. */
static inline int sa_se_of(const double *A, size_t n, double *se)
{
  double B[36];
  gsl_matrix_view v = gsl_matrix_view_array(B, n, n);
  size_t k;
  memcpy(B, A, n * n * sizeof *B);
  if (gsl_linalg_cholesky_decomp1(&v.matrix)) return 1;
  gsl_linalg_cholesky_invert(&v.matrix);
  for (k = 0; k < n; k++) se[k] = sqrt(B[k * n + k]);
  return 0;
}

/* The largest |I_sa - I_exact| over sqrt(I_ii I_jj) (exact diagonal),
 * I_sa = f->cov^-1: every element of the information, cross terms
 * included; HUGE_VAL when f->cov is not positive definite. */
static inline double sa_info_err(const rkin_popfit *f, const double *I,
                                 size_t n)
{
  double A[36], worst = 0;
  gsl_matrix_view v = gsl_matrix_view_array(A, n, n);
  size_t i, j;
  memcpy(A, f->cov, n * n * sizeof *A);
  if (gsl_linalg_cholesky_decomp1(&v.matrix)) return HUGE_VAL;
  gsl_linalg_cholesky_invert(&v.matrix);
  for (i = 0; i < n; i++)
    for (j = 0; j < n; j++) {
      double e = fabs(A[i * n + j] - I[i * n + j])
                 / sqrt(I[i * n + i] * I[j * n + j]);
      if (e > worst) worst = e;
    }
  return worst;
}

/* One assertion per estimate: the SA SE of f within 5 % of the exact se
 * (n of them; nm names the case). Returns the largest relative error. */
static inline double sa_check_ses(const char *nm, const rkin_popfit *f,
                                  const double *se, size_t n)
{
  double worst = 0;
  size_t k;
  for (k = 0; k < n; k++) {
    double e = fabs(f->se[k] / se[k] - 1);
    if (e > worst) worst = e;
    ok(e < 0.05, "%s: %s SE by SA %.5f vs exact %.5f (off %.2f %%, "
       "tolerance 5 %%)", nm, f->est_names[k], f->se[k], se[k], 100 * e);
  }
  return worst;
}

#endif
