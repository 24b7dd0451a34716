/* exact_path.c - linear constant-coefficient models solved exactly.
 *
 * Between events y' = A y + r with constant input rates r. With the TIA
 * quantities q' = C y (C: selector rows for states, output rows for linear
 * outputs) the augmented system
 *   d/dt [y; q; 1] = [[A, 0, r], [C, 0, 0], [0, 0, 0]] [y; q; 1]
 * is homogeneous, so one exponential e^(M h) carries the state over a
 * segment of length h AND gives the integrals of the quantities over it.
 *
 * Why scaling and squaring (gsl_linalg_exponential_ss) rather than an
 * eigendecomposition: M is never diagonalisable (the q and 1 rows make it
 * defective), and A itself is defective whenever two rates coincide (oral
 * absorption with ka = k): eigenvectors would fail exactly where
 * pharmacokinetic models sit. Scaling and squaring has no such case.
 *
 * A patient's cycles repeat segment lengths, so exponentials are cached by
 * (h, r) for the current parameters and quantities. */
#include "exact_path.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_linalg.h>
#include <gsl/gsl_matrix.h>
#include <gsl/gsl_permutation.h>

#define N_CACHE 8

typedef struct {
  int used;
  double h;
  double *rate;      /* n */
  gsl_matrix *E;     /* dim x dim */
} expm_entry;

struct rkin_expath {
  const rkin_model *m;
  size_t n, n_out, n_par;
  double *A;         /* n x n row-major, A(p) with decay */
  double *C;         /* n_out x n row-major, C(p); NULL: outputs nonlinear */
  double *p;         /* parameters A and the cache belong to */
  int p_valid;
  int *tia;          /* the quantities the cache belongs to */
  size_t nq, cap_q;
  size_t dim, cap_dim;  /* n + nq + 1 */
  gsl_matrix *M;     /* scratch for M h */
  expm_entry cache[N_CACHE];
  size_t next;       /* round-robin slot to replace */
  double *z, *z2;    /* augmented vectors, cap_dim */
  gsl_matrix *LU;    /* tia_inf */
  gsl_permutation *perm;
  gsl_vector *b, *x;
};

static void free_cache(rkin_expath *e)
{
  size_t i;
  for (i = 0; i < N_CACHE; i++) {
    if (e->cache[i].E) gsl_matrix_free(e->cache[i].E);
    free(e->cache[i].rate);
    e->cache[i].E = NULL;
    e->cache[i].rate = NULL;
    e->cache[i].used = 0;
  }
}

void rkin_expath_free(rkin_expath *e)
{
  if (!e) return;
  free_cache(e);
  if (e->M) gsl_matrix_free(e->M);
  if (e->LU) gsl_matrix_free(e->LU);
  if (e->perm) gsl_permutation_free(e->perm);
  if (e->b) gsl_vector_free(e->b);
  if (e->x) gsl_vector_free(e->x);
  free(e->A);
  free(e->C);
  free(e->p);
  free(e->tia);
  free(e->z);
  free(e->z2);
  free(e);
}

rkin_expath *rkin_expath_new(const rkin_model *m, rkin_err *err)
{
  rkin_expath *e;
  size_t n = rkin_model_nstates(m);
  if (!rkin_model_is_linear(m)) {
    /* The model knows why (which state, which term): let it say so. */
    double *tmp = malloc((n ? n * n : 1) * sizeof *tmp);
    if (!tmp || !rkin_model_linear_matrix(m, NULL, tmp, err))
      rkin_err_set(err, RKIN_ENOTLINEAR, "model '%s' is not linear",
                   rkin_model_name(m));
    free(tmp);
    rkin_err_prefix(err, "exact path: ");
    if (err) err->code = RKIN_ENOTLINEAR;
    return NULL;
  }
  e = calloc(1, sizeof *e);
  if (!e) goto nomem;
  e->m = m;
  e->n = n;
  e->n_out = rkin_model_noutputs(m);
  e->n_par = rkin_model_nparams(m);
  e->A = malloc(n * n * sizeof *e->A);
  e->p = malloc((e->n_par ? e->n_par : 1) * sizeof *e->p);
  e->LU = gsl_matrix_alloc(n, n);
  e->perm = gsl_permutation_alloc(n);
  e->b = gsl_vector_alloc(n);
  e->x = gsl_vector_alloc(n);
  if (!e->A || !e->p || !e->LU || !e->perm || !e->b || !e->x) goto nomem;
  if (e->n_out && rkin_model_outputs_linear(m)) {
    e->C = malloc(e->n_out * n * sizeof *e->C);
    if (!e->C) goto nomem;
  }
  return e;
nomem:
  rkin_expath_free(e);
  rkin_err_set(err, RKIN_ENOMEM, "out of memory creating the exact-path "
               "workspace for model '%s'", rkin_model_name(m));
  return NULL;
}

/* Buffers for dim = n + nq + 1; the cache is emptied when they change. */
static int reserve_dim(rkin_expath *e, size_t nq)
{
  size_t dim = e->n + nq + 1, i;
  if (nq > e->cap_q) {
    int *t = realloc(e->tia, nq * sizeof *t);
    if (!t) return RKIN_ENOMEM;
    e->tia = t;
    e->cap_q = nq;
  }
  if (dim != e->dim) {
    free_cache(e);
    if (e->M) gsl_matrix_free(e->M);
    e->M = NULL;
    e->dim = 0;
    if (dim > e->cap_dim) {
      double *z = realloc(e->z, dim * sizeof *z);
      if (!z) return RKIN_ENOMEM;
      e->z = z;
      z = realloc(e->z2, dim * sizeof *z);
      if (!z) return RKIN_ENOMEM;
      e->z2 = z;
      e->cap_dim = dim;
    }
    e->M = gsl_matrix_alloc(dim, dim);
    if (!e->M) return RKIN_ENOMEM;
    for (i = 0; i < N_CACHE; i++) {
      e->cache[i].E = gsl_matrix_alloc(dim, dim);
      e->cache[i].rate = malloc(e->n * sizeof(double));
      if (!e->cache[i].E || !e->cache[i].rate) return RKIN_ENOMEM;
    }
    e->dim = dim;
  }
  return RKIN_OK;
}

static void drop_cache(rkin_expath *e)
{
  size_t i;
  for (i = 0; i < N_CACHE; i++) e->cache[i].used = 0;
  e->next = 0;
}

/* A(p) (and C(p)) for p, unless already built for the same values. */
static int set_params(rkin_expath *e, const double *p, rkin_err *err)
{
  int rc;
  size_t np = e->n_par;
  if (e->p_valid && (!np || !memcmp(e->p, p, np * sizeof *p)))
    return RKIN_OK;
  e->p_valid = 0;
  drop_cache(e);
  rc = rkin_model_linear_matrix(e->m, p, e->A, err);
  if (!rc && e->C) rc = rkin_model_output_matrix(e->m, p, e->C, err);
  if (rc) return rc;
  if (np) memcpy(e->p, p, np * sizeof *p);
  e->p_valid = 1;
  return RKIN_OK;
}

/* Output quantities need C(p): the outputs must be linear too. */
static int check_tia(rkin_expath *e, const int *tia, size_t n_tia,
                     rkin_err *err)
{
  size_t k;
  for (k = 0; k < n_tia; k++)
    if ((size_t)tia[k] >= e->n && !e->C)
      return rkin_err_set(err, RKIN_ENOTLINEAR, "tia[%zu]: output '%s' of "
                          "model '%s' is not linear in the states, so the "
                          "exact path cannot integrate it; use the CVODES "
                          "path", k,
                          rkin_model_output_name(e->m,
                                                 (size_t)tia[k] - e->n),
                          rkin_model_name(e->m));
  return RKIN_OK;
}

int rkin_expath_begin(rkin_expath *e, const double *p, const int *tia,
                      size_t n_tia, rkin_err *err)
{
  int rc = check_tia(e, tia, n_tia, err);
  if (rc) return rc;
  if (n_tia != e->nq
      || (n_tia && memcmp(e->tia, tia, n_tia * sizeof *tia) != 0)) {
    if (reserve_dim(e, n_tia))
      return rkin_err_set(err, RKIN_ENOMEM, "out of memory for the exact "
                          "path (%zu TIA quantities)", n_tia);
    if (n_tia) memcpy(e->tia, tia, n_tia * sizeof *tia);
    e->nq = n_tia;
    drop_cache(e);
  } else if (!e->M && reserve_dim(e, n_tia)) {
    return rkin_err_set(err, RKIN_ENOMEM, "out of memory for the exact "
                        "path");
  }
  rc = set_params(e, p, err);
  return rc;
}

/* e^(M h) for the current rates, from the cache or computed into it. */
static const gsl_matrix *expm(rkin_expath *e, double h, const double *rate,
                              rkin_err *err)
{
  size_t n = e->n, dim = e->dim, i, j, k;
  expm_entry *c;
  gsl_matrix *M = e->M;
  for (k = 0; k < N_CACHE; k++) {
    c = &e->cache[k];
    if (c->used && c->h == h && !memcmp(c->rate, rate, n * sizeof *rate))
      return c->E;
  }
  c = &e->cache[e->next];
  e->next = (e->next + 1) % N_CACHE;
  gsl_matrix_set_zero(M);
  for (i = 0; i < n; i++) {
    for (j = 0; j < n; j++) gsl_matrix_set(M, i, j, e->A[i * n + j] * h);
    gsl_matrix_set(M, i, dim - 1, rate[i] * h);
  }
  for (k = 0; k < e->nq; k++) {
    size_t idx = (size_t)e->tia[k];
    if (idx < n)
      gsl_matrix_set(M, n + k, idx, h);
    else
      for (j = 0; j < n; j++)
        gsl_matrix_set(M, n + k, j, e->C[(idx - n) * n + j] * h);
  }
  if (gsl_linalg_exponential_ss(M, c->E, GSL_PREC_DOUBLE)) {
    c->used = 0;
    rkin_err_set(err, RKIN_ESOLVER, "matrix exponential failed for a "
                 "segment of %g h (model '%s')", h, rkin_model_name(e->m));
    return NULL;
  }
  for (i = 0; i < dim * dim; i++)
    if (!isfinite(c->E->data[(i / dim) * c->E->tda + i % dim])) {
      rkin_err_set(err, RKIN_ENONFINITE, "matrix exponential over %g h is "
                   "not finite (model '%s': rates too large?)", h,
                   rkin_model_name(e->m));
      return NULL;
    }
  c->used = 1;
  c->h = h;
  memcpy(c->rate, rate, n * sizeof *rate);
  return c->E;
}

/* y (and q) carried over h. */
static int propagate(rkin_expath *e, double h, double *y, const double *rate,
                     double *q, rkin_err *err)
{
  size_t n = e->n, dim = e->dim, i, j;
  const gsl_matrix *E;
  if (h <= 0) return RKIN_OK;
  E = expm(e, h, rate, err);
  if (!E) return err ? err->code : RKIN_ESOLVER;
  memcpy(e->z, y, n * sizeof *y);
  for (i = n; i < dim - 1; i++) e->z[i] = 0;
  e->z[dim - 1] = 1;
  for (i = 0; i < dim - 1; i++) {
    const double *row = E->data + i * E->tda;
    double s = 0;
    for (j = 0; j < n; j++) s += row[j] * e->z[j];
    e->z2[i] = s + row[dim - 1];
  }
  memcpy(y, e->z2, n * sizeof *y);
  for (i = 0; i < e->nq; i++) q[i] += e->z2[n + i];
  return RKIN_OK;
}

int rkin_expath_advance(rkin_expath *e, double ts, double te, double *y,
                        const double *rate, const double *tout,
                        size_t n_tout, rkin_emit_fn emit, void *ctx,
                        double *q, rkin_err *err)
{
  double s = ts;
  size_t k;
  int rc;
  for (k = 0; k < n_tout; k++) {
    rc = propagate(e, tout[k] - s, y, rate, q, err);
    if (rc) return rc;
    s = tout[k];
    emit(ctx, y);
  }
  return propagate(e, te - s, y, rate, q, err);
}

int rkin_expath_tia_inf(rkin_expath *e, const double *p, const double *y0,
                        const int *tia, size_t n_tia, double *out,
                        rkin_err *err)
{
  size_t n = e->n, i, j, k;
  double amax = 0, umin = HUGE_VAL;
  /* Not rkin_expath_begin: the exponentials cached for the run's
   * quantities stay valid. */
  int sign, rc = check_tia(e, tia, n_tia, err);
  if (!rc) rc = set_params(e, p, err);
  if (rc) return rc;
  for (i = 0; i < n; i++)
    for (j = 0; j < n; j++) {
      gsl_matrix_set(e->LU, i, j, e->A[i * n + j]);
      amax = fmax(amax, fabs(e->A[i * n + j]));
    }
  gsl_linalg_LU_decomp(e->LU, e->perm, &sign);
  for (i = 0; i < n; i++)
    umin = fmin(umin, fabs(gsl_matrix_get(e->LU, i, i)));
  /* A zero pivot (to rounding) means a conserved or growing quantity: the
   * integral to infinity does not exist. Checked here, not left to GSL,
   * whose default error handler would abort. */
  if (!(umin > 64 * DBL_EPSILON * amax * (double)n))
    return rkin_err_set(err, RKIN_ERANGE, "model '%s': the system matrix "
                        "is singular (smallest pivot %g), so some activity "
                        "never decays and the TIA to infinity is infinite; "
                        "add physical decay or elimination",
                        rkin_model_name(e->m), umin);
  for (i = 0; i < n; i++) gsl_vector_set(e->b, i, -y0[i]);
  gsl_linalg_LU_solve(e->LU, e->perm, e->b, e->x);
  for (k = 0; k < n_tia; k++) {
    size_t idx = (size_t)tia[k];
    double s = 0;
    if (idx < n) {
      s = gsl_vector_get(e->x, idx);
    } else {
      for (j = 0; j < n; j++)
        s += e->C[(idx - n) * n + j] * gsl_vector_get(e->x, j);
    }
    if (!isfinite(s))
      return rkin_err_set(err, RKIN_ENONFINITE, "tia[%zu] to infinity is "
                          "not finite (model '%s')", k,
                          rkin_model_name(e->m));
    out[k] = s;
  }
  return RKIN_OK;
}
