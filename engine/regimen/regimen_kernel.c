/* regimen_kernel.c - the eigen route: for a linear model y' = A y and a
 * region whose activity is c . y (dose rate R = s c . y), everything a
 * cycle needs is a linear or quadratic form of the state y0 after the
 * administration, exact over the finite interval [0, T]:
 *
 *   y(t) = V e^(L t) V^-1 y0,   R(t) = s sum_k u_k w_k e^(l_k t),
 *   u = c V, w = V^-1 y0;
 *   D = int_0^T R = sum_k c_k F(l_k),   F(x) = int_0^T e^(x t) dt;
 *   I = int_0^T R q, q' = R - mu q, q(0) = 0
 *     = sum_ij c_i c_j F[l_i + l_j, l_i - mu]   (F[a, b] the divided
 *     difference; derived by integrating the exponentials term by term),
 *
 * with c_k = s u_k w_k. G = 2 I / D^2 is the Lea-Catcheside factor of the
 * cycle's own dose-rate curve, BED = D + 2 I / (alpha/beta). Eigenvalues
 * may be complex (conjugate pairs); the sums are real. */
#include <complex.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_complex_math.h>
#include <gsl/gsl_eigen.h>
#include <gsl/gsl_linalg.h>
#include <gsl/gsl_matrix.h>

#include "regimen/regimen_impl.h"

/* Eigenvector matrices worse conditioned than this (1-norm estimate) are
 * treated as not diagonalisable: the patient takes the augmented route. */
#define COND_MAX 1e10

size_t rg_kernel_stride(size_t n, size_t nr)
{
  return n * n + nr * (n + n * n) + 2 * n + 2 * n * n + nr * 2 * n;
}

/* J_m(z) = int_0^1 s^m e^(z s) ds, m <= 5. */
static double complex jm(int m, double complex z)
{
  double complex e, j;
  int k;
  if (cabs(z) < 1.0) {
    double complex term = 1.0, sum = 0.0;
    for (k = 0; k < 40; k++) {
      double complex add = term / (double)(m + k + 1);
      sum += add;
      if (cabs(add) < 1e-18 * cabs(sum)) break;
      term *= z / (double)(k + 1);
    }
    return sum;
  }
  e = cexp(z);
  j = (e - 1.0) / z;
  for (k = 1; k <= m; k++) j = (e - (double)k * j) / z;
  return j;
}

/* Divided difference J0[za, zb]; Taylor about the midpoint when the
 * arguments are close (no cancellation; truncation below 1e-9 relative). */
static double complex j0_dd(double complex za, double complex zb)
{
  double complex d = za - zb, m = 0.5 * (za + zb);
  double am = cabs(m);
  if (cabs(d) < 1e-2 * (am > 1 ? am : 1)) {
    double complex d2 = d * d;
    return jm(1, m) + jm(3, m) * d2 / 24.0 + jm(5, m) * d2 * d2 / 1920.0;
  }
  return (jm(0, za) - jm(0, zb)) / d;
}

static double complex cget(const double *v, size_t k)
{
  return v[2 * k] + I * v[2 * k + 1];
}

static void cput(double *v, size_t k, double complex z)
{
  v[2 * k] = creal(z);
  v[2 * k + 1] = cimag(z);
}

/* Rows c_r (nr x n) of the regions' activities: a unit row for a state,
 * the output's row of C(p) for an output. */
static int region_rows(const rkin_regimen *r, const double *p, double *rows,
                       double *cbuf, rkin_err *err)
{
  size_t n = r->n, q;
  int have_c = 0, rc;
  memset(rows, 0, r->nr * n * sizeof *rows);
  for (q = 0; q < r->nr; q++) {
    int k = r->sp.regions[q].quantity;
    if ((size_t)k < n) {
      rows[q * n + (size_t)k] = 1.0;
      continue;
    }
    if (!have_c) {
      if ((rc = rkin_model_output_matrix(r->sp.model, p, cbuf, err)))
        return rc;
      have_c = 1;
    }
    memcpy(rows + q * n, cbuf + ((size_t)k - n) * n, n * sizeof *rows);
  }
  return RKIN_OK;
}

static double norm1(const gsl_matrix_complex *m)
{
  double best = 0;
  size_t i, j;
  for (j = 0; j < m->size2; j++) {
    double s = 0;
    for (i = 0; i < m->size1; i++)
      s += gsl_complex_abs(gsl_matrix_complex_get(m, i, j));
    if (s > best) best = s;
  }
  return best;
}

typedef struct {
  gsl_matrix *a;
  gsl_vector_complex *eval;
  gsl_matrix_complex *evec, *lu, *inv;
  gsl_permutation *perm;
} eig_mem;

static void eig_free(eig_mem *e)
{
  gsl_matrix_free(e->a);
  gsl_vector_complex_free(e->eval);
  gsl_matrix_complex_free(e->evec);
  gsl_matrix_complex_free(e->lu);
  gsl_matrix_complex_free(e->inv);
  gsl_permutation_free(e->perm);
}

static int eig_alloc(eig_mem *e, size_t n)
{
  memset(e, 0, sizeof *e);
  e->a = gsl_matrix_alloc(n, n);
  e->eval = gsl_vector_complex_alloc(n);
  e->evec = gsl_matrix_complex_alloc(n, n);
  e->lu = gsl_matrix_complex_alloc(n, n);
  e->inv = gsl_matrix_complex_alloc(n, n);
  e->perm = gsl_permutation_alloc(n);
  return e->a && e->eval && e->evec && e->lu && e->inv && e->perm;
}

/* Eigen-decomposes A(p); 1 when V is singular or ill-conditioned. */
static int decompose(rg_ws *ws, eig_mem *e, const double *amat,
                     rkin_err *err)
{
  size_t n = ws->r->n, i, j;
  int sign;
  if (!ws->eig && !(ws->eig = gsl_eigen_nonsymmv_alloc(n)))
    return rkin_err_set(err, RKIN_ENOMEM, "regimen: out of memory");
  for (i = 0; i < n; i++)
    for (j = 0; j < n; j++) gsl_matrix_set(e->a, i, j, amat[i * n + j]);
  if (gsl_eigen_nonsymmv(e->a, e->eval, e->evec, ws->eig)) return 1;
  gsl_matrix_complex_memcpy(e->lu, e->evec);
  if (gsl_linalg_complex_LU_decomp(e->lu, e->perm, &sign)) return 1;
  for (i = 0; i < n; i++)
    if (gsl_complex_abs(gsl_matrix_complex_get(e->lu, i, i)) == 0) return 1;
  if (gsl_linalg_complex_LU_invert(e->lu, e->perm, e->inv)) return 1;
  if (!(norm1(e->evec) * norm1(e->inv) < COND_MAX)) return 1;
  return 0;
}

static double complex vget(const gsl_matrix_complex *m, size_t i, size_t j)
{
  gsl_complex z = gsl_matrix_complex_get(m, i, j);
  return GSL_REAL(z) + I * GSL_IMAG(z);
}

/* tau and W of one region from u = c V (see the file comment). */
static void region_forms(size_t n, double t, double mu, double s,
                         const double complex *lam,
                         const double complex *u, const double *vinv,
                         double *tau, double *w, double complex *mm)
{
  size_t a, b, j, l;
  for (j = 0; j < n; j++) {
    double complex acc = 0;
    for (a = 0; a < n; a++)
      acc += u[a] * t * jm(0, lam[a] * t) * cget(vinv, a * n + j);
    tau[j] = s * creal(acc);
  }
  for (a = 0; a < n; a++)
    for (b = 0; b < n; b++)
      mm[a * n + b] = u[a] * u[b] * t * t
                      * j0_dd((lam[a] + lam[b]) * t, (lam[a] - mu) * t);
  for (j = 0; j < n; j++)
    for (l = 0; l < n; l++) {
      double complex acc = 0;
      for (a = 0; a < n; a++) {
        double complex row = 0;
        for (b = 0; b < n; b++) row += mm[a * n + b] * cget(vinv, b * n + l);
        acc += cget(vinv, a * n + j) * row;
      }
      w[j * n + l] = s * s * creal(acc);
    }
  for (j = 0; j < n; j++)        /* only the symmetric part acts */
    for (l = j + 1; l < n; l++)
      w[j * n + l] = w[l * n + j] = 0.5 * (w[j * n + l] + w[l * n + j]);
}

static int fill_kernel(rg_ws *ws, size_t i, const eig_mem *e,
                       const double *rows, rkin_err *err)
{
  rkin_regimen *r = ws->r;
  size_t n = r->n, nr = r->nr, a, j, l, q;
  double t = r->sp.interval_h;
  double *k = r->kern + i * r->stride, *phi = k;
  double *lamv = k + n * n + nr * (n + n * n), *vinv = lamv + 2 * n;
  double *uv = vinv + 2 * n * n;
  double complex lam[64], u[64], mm[64 * 64];
  for (a = 0; a < n; a++) {
    gsl_complex z = gsl_vector_complex_get(e->eval, a);
    lam[a] = GSL_REAL(z) + I * GSL_IMAG(z);
    cput(lamv, a, lam[a]);
    for (j = 0; j < n; j++) cput(vinv, a * n + j, vget(e->inv, a, j));
  }
  for (j = 0; j < n; j++)
    for (l = 0; l < n; l++) {
      double complex acc = 0;
      for (a = 0; a < n; a++)
        acc += vget(e->evec, j, a) * cexp(lam[a] * t) * cget(vinv, a * n + l);
      phi[j * n + l] = creal(acc);
    }
  for (q = 0; q < nr; q++) {
    const rkin_region *rg = &r->sp.regions[q];
    double *tau = k + n * n + q * (n + n * n);
    for (a = 0; a < n; a++) {
      double complex acc = 0;
      for (j = 0; j < n; j++) acc += rows[q * n + j] * vget(e->evec, j, a);
      u[a] = acc;
      cput(uv, q * n + a, acc);
    }
    region_forms(n, t, log(2.0) / rg->lq.trep_h, r->s[q], lam, u, vinv, tau,
                 tau + n, mm);
  }
  for (j = 0; j < r->stride; j++)
    if (!isfinite(k[j]))
      return rkin_err_set(err, RKIN_ENONFINITE, "patient %zu: the cycle "
                          "kernel is not finite (does a state grow without "
                          "bound over %g h?)", RG_ID(r, i), t);
  return RKIN_OK;
}

int rg_kernel_build(rg_ws *ws, size_t i, rkin_err *err)
{
  rkin_regimen *r = ws->r;
  size_t n = r->n, no = rkin_model_noutputs(r->sp.model);
  const double *p = r->sp.params + i * r->np;
  double *amat = ws->buf, *rows = amat + n * n, *cbuf = rows + r->nr * n;
  eig_mem e;
  int rc;
  (void)no;
  if ((rc = rkin_model_linear_matrix(r->sp.model, p, amat, err))
      || (rc = region_rows(r, p, rows, cbuf, err)))
    return rkin_err_prefix(err, "patient %zu: ", RG_ID(r, i));
  if (!eig_alloc(&e, n)) {
    eig_free(&e);
    return rkin_err_set(err, RKIN_ENOMEM, "regimen: out of memory");
  }
  rc = decompose(ws, &e, amat, err);
  if (!rc) rc = fill_kernel(ws, i, &e, rows, err);
  eig_free(&e);
  return rc;
}

/* One cycle on the eigen route; see rg_cycle. */
int rg_cycle_eigen(rg_ws *ws, size_t i, double *y, double a_mbq,
                   double *tia, double *dose, double *g, double *bed,
                   size_t n_times, const double *img_t, double *img_act)
{
  rkin_regimen *r = ws->r;
  size_t n = r->n, nr = r->nr, j, l, q, k;
  const double *kern = r->kern + i * r->stride, *phi = kern;
  const double *lamv = kern + n * n + nr * (n + n * n);
  const double *vinv = lamv + 2 * n, *uv = vinv + 2 * n * n;
  double *y0 = ws->buf;
  y[r->sp.inject] += a_mbq;
  memcpy(y0, y, n * sizeof *y0);
  for (q = 0; q < nr; q++) {
    const double *tau = kern + n * n + q * (n + n * n), *w = tau + n;
    double d = 0, in = 0, gg = 0;
    for (j = 0; j < n; j++) {
      double row = 0;
      d += tau[j] * y0[j];
      for (l = 0; l < n; l++) row += w[j * n + l] * y0[l];
      in += y0[j] * row;
    }
    /* Rounding can leave a region that received nothing at -1e-30. */
    if (d > 0) {
      gg = 2 * in / (d * d);
      if (gg < 0) gg = 0;
      if (gg > 1) gg = 1;
    } else {
      d = 0;
    }
    if (tia) tia[q] = d / r->s[q];
    if (dose) dose[q] = d;
    if (g) g[q] = gg;
    if (bed) bed[q] = d * (1 + gg * d / r->sp.regions[q].lq.ab_gy);
  }
  for (j = 0; j < n; j++) {
    double acc = 0;
    for (l = 0; l < n; l++) acc += phi[j * n + l] * y0[l];
    y[j] = acc;
  }
  if (img_act && n_times) {
    double complex w[64];
    for (k = 0; k < n; k++) {
      double complex acc = 0;
      for (j = 0; j < n; j++) acc += cget(vinv, k * n + j) * y0[j];
      w[k] = acc;
    }
    for (q = 0; q < nr; q++)
      for (l = 0; l < n_times; l++) {
        double complex acc = 0;
        for (k = 0; k < n; k++)
          acc += cget(uv, q * n + k) * w[k] * cexp(cget(lamv, k) * img_t[l]);
        img_act[q * n_times + l] = creal(acc);
      }
  }
  return RKIN_OK;
}
