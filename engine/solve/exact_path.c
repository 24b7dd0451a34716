/* exact_path.c - linear constant-coefficient models solved exactly.
 *
 * Between events y' = A y + r with constant input rates r. With the TIA
 * quantities q' = C y (C: selector rows for states, output rows for linear
 * outputs) the augmented system
 *   d/dt [y; q; 1] = [[A, 0, r], [C, 0, 0], [0, 0, 0]] [y; q; 1]
 * is homogeneous, so one exponential e^(M h) carries the state over a
 * segment of length h AND gives the integrals of the quantities over it.
 *
 * Scaling and squaring (gsl_linalg_exponential_ss) works for every A, also
 * a defective one (oral absorption with ka = k), but costs a few matrix
 * products per distinct segment length. A patient's cycles repeat segment
 * lengths, so those exponentials are cached by (h, r). Observation times
 * of a pharmacokinetic profile do not repeat: there, one eigendecomposition
 * A = V diag(lambda) V^-1 per parameter vector (gsl_eigen_nonsymmv) makes
 * every further segment O(n^2): in eigen-coordinates w = V^-1 y each
 * component is w e^(lambda h) + s h phi1(lambda h) (s = V^-1 r), and its
 * integral w h phi1 + s h^2 phi2, with phi1(z) = (e^z - 1)/z and
 * phi2(z) = (e^z - 1 - z)/z^2. It is used from the second distinct segment
 * of a parameter vector on (from the first for n <= 3 or when the segment
 * has several output times: see EIG_AFTER), and only when
 * V is well conditioned (||V||_1 ||V^-1||_1 <= EIG_COND_MAX, so round-off
 * stays below ~1e-11): near-defective A falls back to scaling and
 * squaring. Which method served a segment depends only on the sequence of
 * segments since the parameters last changed, so runs are reproducible.
 * A triangular A (no back-flow) and a 2 x 2 A with real eigenvalues are
 * decomposed without GSL (eig_triangular, eig_2x2): a population fit
 * decomposes a new A at every inner step. */
#include "solve/exact_path.h"

#include <complex.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_complex.h>
#include <gsl/gsl_complex_math.h>
#include <gsl/gsl_eigen.h>
#include <gsl/gsl_linalg.h>
#include <gsl/gsl_matrix.h>
#include <gsl/gsl_permutation.h>

#define N_CACHE 8
/* Largest condition number of the eigenvector matrix accepted: errors of
 * the eigen-route are about this times the machine epsilon. */
#define EIG_COND_MAX 1e5

/* Exponentials computed by scaling and squaring for a parameter vector
 * before the eigen-route takes over: for n <= 3 states a decomposition
 * costs less than one expm (measured 0.7 vs 1.4 us at n = 2); for larger
 * n it costs about 1.5 expm (13 vs 8.5 us at n = 6), so it is taken at
 * once only when the segment being advanced has several output times
 * (observations: distinct lengths), else from the second distinct
 * segment, so a cohort's repeated cycle length keeps using the cache. */
#define EIG_AFTER(n, many) ((n) <= 3 || (many) ? 0 : 1)

enum { EIG_UNKNOWN, EIG_OK, EIG_NO };

/* The eigendecomposition of A(p) and its scratch. When every eigenvalue
 * is real (the usual compartmental case) so are the eigenvectors, and the
 * real arrays are used: complex arithmetic costs several times more. */
typedef struct {
  int state;                 /* EIG_...: for the current p */
  int real;                  /* 1: all eigenvalues real; Vr, Vir, lr */
  double complex *V, *Vi;    /* n x n row-major: eigenvectors, inverse */
  double complex *lam;       /* n eigenvalues */
  double complex *w, *s, *iw;/* n: eigen-coordinates, input, integral */
  double *Vr, *Vir, *lr;     /* real counterparts */
  double *wr, *sr, *iwr;
  double *yint;              /* n: integral of y over a segment */
  gsl_matrix *Aw, *Rlu, *Rinv;
  gsl_vector_complex *ev;
  gsl_matrix_complex *evec, *inv;
  gsl_permutation *perm;
  gsl_eigen_nonsymmv_workspace *ws;
} eig_ws;

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
  int misses;        /* exponentials computed since p was set */
  int many_out;      /* the segment being advanced has >= 2 outputs */
  eig_ws eg;
  int eig_route;     /* last decomposition: 1 triangular, 2 GSL's */
  int eig_general;   /* tests: GSL's route even for triangular A */
  /* Forward sensitivities along n_dir parameter directions. */
  size_t n_dir, cap_dir;
  double *dA, *dC;   /* n_dir x n x n, n_dir x n_out x n */
  double *B;         /* n_dir x n x n: V^-1 dA V */
  double *sig;       /* n x n_dir: sensitivities in eigen-coordinates */
  double *phi;       /* n x n: divided differences of e^(lambda h) */
  double *psi;       /* n x n: second divided differences (input) */
  double *pw;        /* n x n: Phi_ij w_j + Psi_ij s_j */
  double *dsr;       /* n x n_dir: V^-1 of the rate derivatives */
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

static void eig_free(eig_ws *g)
{
  free(g->V);
  free(g->Vi);
  free(g->lam);
  free(g->w);
  free(g->s);
  free(g->iw);
  free(g->Vr);
  free(g->Vir);
  free(g->lr);
  free(g->wr);
  free(g->sr);
  free(g->iwr);
  free(g->yint);
  if (g->Aw) gsl_matrix_free(g->Aw);
  if (g->Rlu) gsl_matrix_free(g->Rlu);
  if (g->Rinv) gsl_matrix_free(g->Rinv);
  if (g->ev) gsl_vector_complex_free(g->ev);
  if (g->evec) gsl_matrix_complex_free(g->evec);
  if (g->inv) gsl_matrix_complex_free(g->inv);
  if (g->perm) gsl_permutation_free(g->perm);
  if (g->ws) gsl_eigen_nonsymmv_free(g->ws);
}

static int eig_alloc(eig_ws *g, size_t n)
{
  g->V = malloc(n * n * sizeof *g->V);
  g->Vi = malloc(n * n * sizeof *g->Vi);
  g->lam = malloc(n * sizeof *g->lam);
  g->w = malloc(n * sizeof *g->w);
  g->s = malloc(n * sizeof *g->s);
  g->iw = malloc(n * sizeof *g->iw);
  g->Vr = malloc(n * n * sizeof *g->Vr);
  g->Vir = malloc(n * n * sizeof *g->Vir);
  g->lr = malloc(n * sizeof *g->lr);
  g->wr = malloc(n * sizeof *g->wr);
  g->sr = malloc(n * sizeof *g->sr);
  g->iwr = malloc(n * sizeof *g->iwr);
  g->yint = malloc(n * sizeof *g->yint);
  g->Aw = gsl_matrix_alloc(n, n);
  g->Rlu = gsl_matrix_alloc(n, n);
  g->Rinv = gsl_matrix_alloc(n, n);
  g->ev = gsl_vector_complex_alloc(n);
  g->evec = gsl_matrix_complex_alloc(n, n);
  g->inv = gsl_matrix_complex_alloc(n, n);
  g->perm = gsl_permutation_alloc(n);
  g->ws = gsl_eigen_nonsymmv_alloc(n);
  return g->V && g->Vi && g->lam && g->w && g->s && g->iw && g->Vr
         && g->Vir && g->lr && g->wr && g->sr && g->iwr && g->yint && g->Aw
         && g->Rlu && g->Rinv && g->ev && g->evec && g->inv && g->perm
         && g->ws ? RKIN_OK : RKIN_ENOMEM;
}

void rkin_expath_free(rkin_expath *e)
{
  if (!e) return;
  free_cache(e);
  eig_free(&e->eg);
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
  free(e->dA);
  free(e->dC);
  free(e->B);
  free(e->sig);
  free(e->phi);
  free(e->psi);
  free(e->pw);
  free(e->dsr);
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
  if (!e->A || !e->p || !e->LU || !e->perm || !e->b || !e->x
      || eig_alloc(&e->eg, n))
    goto nomem;
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
  e->misses = 0;
}

/* A(p) (and C(p)) for p, unless already built for the same values. */
static int set_params(rkin_expath *e, const double *p, rkin_err *err)
{
  int rc;
  size_t np = e->n_par;
  if (e->p_valid && (!np || !memcmp(e->p, p, np * sizeof *p)))
    return RKIN_OK;
  e->p_valid = 0;
  e->eg.state = EIG_UNKNOWN;
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

/* The cached e^(M h) for (h, rate), or NULL. */
static const gsl_matrix *cached(const rkin_expath *e, double h,
                                const double *rate)
{
  size_t k;
  for (k = 0; k < N_CACHE; k++) {
    const expm_entry *c = &e->cache[k];
    if (c->used && c->h == h && !memcmp(c->rate, rate, e->n * sizeof *rate))
      return c->E;
  }
  return NULL;
}

/* e^(M h) for the current rates, computed into the cache. */
static const gsl_matrix *expm(rkin_expath *e, double h, const double *rate,
                              rkin_err *err)
{
  size_t n = e->n, dim = e->dim, i, j, k;
  expm_entry *c;
  gsl_matrix *M = e->M;
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

/* ------------------------------------------------- eigen-route */

static double norm1(const double complex *a, size_t n)
{
  size_t i, j;
  double best = 0;
  for (j = 0; j < n; j++) {
    double t = 0;
    for (i = 0; i < n; i++) t += cabs(a[i * n + j]);
    if (t > best) best = t;
  }
  return best;
}

static double norm1_real(const double *a, size_t n)
{
  size_t i, j;
  double best = 0;
  for (j = 0; j < n; j++) {
    double t = 0;
    for (i = 0; i < n; i++) t += fabs(a[i * n + j]);
    if (t > best) best = t;
  }
  return best;
}

/* A tiny pivot of an LU factor means V is singular to working precision
 * (checked here: GSL's inverse would call its error handler). */
static int pivots_ok(double umin, double umax)
{
  return umin > 1e3 * DBL_EPSILON * umax;
}

/* V^-1 in real arithmetic (all eigenvalues real). */
static int eig_invert_real(eig_ws *g, size_t n)
{
  size_t i, j;
  double umax = 0, umin = HUGE_VAL;
  int sign;
  for (i = 0; i < n; i++)
    for (j = 0; j < n; j++) {
      gsl_complex c = gsl_matrix_complex_get(g->evec, i, j);
      double v = GSL_REAL(c);
      g->Vr[i * n + j] = v;
      gsl_matrix_set(g->Rlu, i, j, v);
    }
  gsl_linalg_LU_decomp(g->Rlu, g->perm, &sign);
  for (i = 0; i < n; i++) {
    double u = fabs(gsl_matrix_get(g->Rlu, i, i));
    umax = fmax(umax, u);
    umin = fmin(umin, u);
  }
  if (!pivots_ok(umin, umax)) return EIG_NO;
  gsl_linalg_LU_invert(g->Rlu, g->perm, g->Rinv);
  for (i = 0; i < n; i++)
    for (j = 0; j < n; j++) g->Vir[i * n + j] = gsl_matrix_get(g->Rinv, i, j);
  return norm1_real(g->Vr, n) * norm1_real(g->Vir, n) <= EIG_COND_MAX
         ? EIG_OK : EIG_NO;
}

/* V^-1 in complex arithmetic. */
static int eig_invert_complex(eig_ws *g, size_t n)
{
  size_t i, j;
  double umax = 0, umin = HUGE_VAL;
  int sign;
  for (i = 0; i < n; i++)
    for (j = 0; j < n; j++) {
      gsl_complex v = gsl_matrix_complex_get(g->evec, i, j);
      g->V[i * n + j] = GSL_REAL(v) + I * GSL_IMAG(v);
    }
  gsl_linalg_complex_LU_decomp(g->evec, g->perm, &sign);
  for (i = 0; i < n; i++) {
    double u = gsl_complex_abs(gsl_matrix_complex_get(g->evec, i, i));
    umax = fmax(umax, u);
    umin = fmin(umin, u);
  }
  if (!pivots_ok(umin, umax)) return EIG_NO;
  gsl_linalg_complex_LU_invert(g->evec, g->perm, g->inv);
  for (i = 0; i < n; i++)
    for (j = 0; j < n; j++) {
      gsl_complex v = gsl_matrix_complex_get(g->inv, i, j);
      g->Vi[i * n + j] = GSL_REAL(v) + I * GSL_IMAG(v);
    }
  return norm1(g->V, n) * norm1(g->Vi, n) <= EIG_COND_MAX ? EIG_OK : EIG_NO;
}

/* The eigendecomposition of a triangular A (no back-flow: oral or other
 * first-order absorption, decay chains, physical decay on the diagonal)
 * by substitution, O(n^3) flops and no iteration, where GSL's general
 * route (Hessenberg QR, then an LU inverse) costs ~5,500 instructions at
 * n = 2, a sixth of a FOCE-I fit's instructions: every inner step has new
 * parameters. The eigenvalues are the diagonal; eigenvector k has v_k = 1,
 * zeros on the other side of k, and v_i = (sum_j A_ij v_j) / (l_k - A_ii)
 * along the chain; columns are scaled to unit 2-norm as GSL scales its
 * own, so the conditioning test below sees the same V up to column order
 * and sign. V is triangular too: its inverse by substitution, its pivots
 * its diagonal. Returns EIG_OK or EIG_NO as eig_invert_real does, or
 * EIG_UNKNOWN when A is not triangular or a coupled diagonal entry
 * repeats (defective A): the general route decides then. */
static inline __attribute__((always_inline)) int
eig_triangular_n(rkin_expath *e, size_t n)
{
  eig_ws *g = &e->eg;
  const double *A = e->A;
  double *V = g->Vr, *X = g->Vir, umax = 0, umin = HUGE_VAL;
  size_t i, j, k;
  int lower = 1, upper = 1;
  for (i = 0; i < n; i++)
    for (j = 0; j < n; j++) {
      if (j > i && A[i * n + j] != 0) lower = 0;
      if (j < i && A[i * n + j] != 0) upper = 0;
    }
  if (!lower && !upper) return EIG_UNKNOWN;
  for (k = 0; k < n; k++) {
    double lam = A[k * n + k], nrm = 0;
    if (!isfinite(lam)) return EIG_UNKNOWN;
    for (i = 0; i < n; i++) V[i * n + k] = i == k;
    /* lower: rows k+1..n-1 in order; upper: rows k-1..0 */
    for (j = 1; j < n; j++) {
      double t = 0;
      size_t l;
      if (lower ? k + j >= n : j > k) break;
      i = lower ? k + j : k - j;
      if (lower)
        for (l = k; l < i; l++) t += A[i * n + l] * V[l * n + k];
      else
        for (l = i + 1; l <= k; l++) t += A[i * n + l] * V[l * n + k];
      if (t == 0) continue;
      if (lam == A[i * n + i]) return EIG_UNKNOWN;
      V[i * n + k] = t / (lam - A[i * n + i]);
    }
    for (i = 0; i < n; i++) nrm += V[i * n + k] * V[i * n + k];
    nrm = sqrt(nrm);
    if (!isfinite(nrm)) return EIG_UNKNOWN;
    for (i = 0; i < n; i++) V[i * n + k] /= nrm;
    g->lr[k] = lam;
    g->lam[k] = lam;
    umax = fmax(umax, fabs(V[k * n + k]));
    umin = fmin(umin, fabs(V[k * n + k]));
  }
  g->real = 1;
  if (!pivots_ok(umin, umax)) return EIG_NO;
  /* X = V^-1, column k from V x = e_k, in the order V's zeros allow */
  for (k = 0; k < n; k++)
    for (j = 0; j < n; j++) {
      size_t l;
      double t;
      i = lower ? j : n - 1 - j;
      t = i == k;
      if (lower)
        for (l = 0; l < i; l++) t -= V[i * n + l] * X[l * n + k];
      else
        for (l = i + 1; l < n; l++) t -= V[i * n + l] * X[l * n + k];
      X[i * n + k] = t / V[i * n + i];
    }
  return norm1_real(V, n) * norm1_real(X, n) <= EIG_COND_MAX
         ? EIG_OK : EIG_NO;
}

/* eig_triangular_n inlined for n = 2 (depot and central: the sensitivity
 * kernels' case below, decomposed at every solve of a population fit),
 * where the compiler unrolls its loops (same operations, same bits), and
 * for any n. */
static int eig_triangular(rkin_expath *e)
{
  return e->n == 2 ? eig_triangular_n(e, 2) : eig_triangular_n(e, e->n);
}

/* A 2 x 2 A with real distinct eigenvalues in closed form (two
 * compartments exchanging material, e.g. central-peripheral): with
 * m = (a + d) / 2, h = (a - d) / 2, s = sqrt(h^2 + bc) the eigenvalues
 * are m +- s, and of the two eigenvector forms (l - d, c) and (b, l - a)
 * the one whose difference adds h and +-s of equal sign is taken, so no
 * component is left to cancellation. Columns scaled to unit 2-norm as
 * in eig_triangular; V^-1 by the adjugate. EIG_UNKNOWN for complex or
 * repeated eigenvalues (h^2 + bc <= 0) and for a triangular A (handled
 * before): the general route decides. */
static int eig_2x2(rkin_expath *e)
{
  eig_ws *g = &e->eg;
  const double *A = e->A;
  double a = A[0], b = A[1], c = A[2], d = A[3], *V = g->Vr, *X = g->Vir;
  double m = (a + d) / 2, h = (a - d) / 2, disc = h * h + b * c, s, det;
  double umax, umin;
  int k;
  if (e->n != 2 || b == 0 || c == 0 || !(disc > 0) || !isfinite(disc))
    return EIG_UNKNOWN;
  s = sqrt(disc);
  for (k = 0; k < 2; k++) {
    double sg = k ? -1 : 1, v0, v1, nrm;
    /* l - d = h + sg s, l - a = sg s - h */
    if ((h >= 0) == (sg > 0)) {
      v0 = h + sg * s;
      v1 = c;
    } else {
      v0 = b;
      v1 = sg * s - h;
    }
    nrm = hypot(v0, v1);
    V[k] = v0 / nrm;
    V[2 + k] = v1 / nrm;
    g->lr[k] = m + sg * s;
    g->lam[k] = g->lr[k];
  }
  g->real = 1;
  det = V[0] * V[3] - V[1] * V[2];
  /* the pivots of V's LU with partial pivoting */
  umax = fmax(fabs(V[0]), fabs(V[2]));
  umin = fmin(umax, fabs(det) / umax);
  umax = fmax(umax, fabs(det) / umax);
  if (!isfinite(det) || !pivots_ok(umin, umax)) return EIG_NO;
  X[0] = V[3] / det;
  X[1] = -V[1] / det;
  X[2] = -V[2] / det;
  X[3] = V[0] / det;
  return norm1_real(V, 2) * norm1_real(X, 2) <= EIG_COND_MAX
         ? EIG_OK : EIG_NO;
}

/* Decomposes A(p); EIG_NO when GSL fails, V is (near) singular or ill
 * conditioned (a NaN condition number fails the test too), or an
 * eigenvalue is not finite: the caller then keeps using scaling and
 * squaring. */
static int eig_compute(rkin_expath *e)
{
  eig_ws *g = &e->eg;
  size_t n = e->n, i, j;
  int st = e->eig_general ? EIG_UNKNOWN : eig_triangular(e);
  e->eig_route = 1;
  if (st != EIG_UNKNOWN) return st;
  st = e->eig_general ? EIG_UNKNOWN : eig_2x2(e);
  e->eig_route = 3;
  if (st != EIG_UNKNOWN) return st;
  e->eig_route = 2;
  for (i = 0; i < n; i++)
    for (j = 0; j < n; j++) gsl_matrix_set(g->Aw, i, j, e->A[i * n + j]);
  if (gsl_eigen_nonsymmv(g->Aw, g->ev, g->evec, g->ws)) return EIG_NO;
  g->real = 1;
  for (i = 0; i < n; i++) {
    gsl_complex l = gsl_vector_complex_get(g->ev, i);
    if (!isfinite(GSL_REAL(l)) || !isfinite(GSL_IMAG(l))) return EIG_NO;
    g->lam[i] = GSL_REAL(l) + I * GSL_IMAG(l);
    g->lr[i] = GSL_REAL(l);
    g->real &= GSL_IMAG(l) == 0;
  }
  return g->real ? eig_invert_real(g, n) : eig_invert_complex(g, n);
}

/* e^x - 1, phi1(x) = (e^x - 1)/x and phi2(x) = (e^x - 1 - x)/x^2 for real
 * x, accurate for small |x| (series) and otherwise through expm1. */
static void phis_real(double x, double *em1, double *p1, double *p2)
{
  if (fabs(x) < 1e-2) {
    /* Truncation after x^5/7!: below 3e-17 relative for |x| < 1e-2. */
    *p2 = 1.0 / 2 + x * (1.0 / 6 + x * (1.0 / 24 + x * (1.0 / 120 + x
          * (1.0 / 720 + x / 5040))));
    *p1 = 1 + x * *p2;
    *em1 = x * *p1;
    return;
  }
  *em1 = expm1(x);
  *p1 = *em1 / x;
  *p2 = (*p1 - 1) / x;
}

/* The same for complex z. */
static void phis(double complex z, double complex *ez, double complex *p1,
                 double complex *p2)
{
  double x = creal(z), y = cimag(z), sh;
  double complex em1;
  if (fabs(x) + fabs(y) < 1e-2) {
    *p2 = 1.0 / 2 + z * (1.0 / 6 + z * (1.0 / 24 + z * (1.0 / 120 + z
          * (1.0 / 720 + z / 5040))));
    *p1 = 1 + z * *p2;
    *ez = 1 + z * *p1;
    return;
  }
  sh = sin(y / 2);
  em1 = expm1(x) * cos(y) - 2 * sh * sh + I * exp(x) * sin(y);
  *ez = 1 + em1;
  *p1 = em1 / z;
  *p2 = (*p1 - 1) / z;
}

/* Real eigen-route: y over h, and the integral of y into g->yint. */
static void carry_real(eig_ws *g, size_t n, int nq, int has_rate, double h,
                       double *y, const double *rate)
{
  size_t i, j;
  for (i = 0; i < n; i++) {
    const double *row = g->Vir + i * n;
    double w = 0, s = 0;
    for (j = 0; j < n; j++) w += row[j] * y[j];
    for (j = 0; has_rate && j < n; j++) s += row[j] * rate[j];
    g->wr[i] = w;
    g->sr[i] = s;
  }
  for (i = 0; i < n; i++) {
    double em1, p1, p2, w = g->wr[i], s = g->sr[i];
    phis_real(g->lr[i] * h, &em1, &p1, &p2);
    g->wr[i] = w + em1 * w + s * h * p1;
    if (nq) g->iwr[i] = w * h * p1 + s * h * h * p2;
  }
  for (i = 0; i < n; i++) {
    const double *row = g->Vr + i * n;
    double v = 0, vi = 0;
    for (j = 0; j < n; j++) v += row[j] * g->wr[j];
    for (j = 0; nq && j < n; j++) vi += row[j] * g->iwr[j];
    y[i] = v;
    g->yint[i] = vi;
  }
}

/* Complex eigen-route (a complex-conjugate pair of eigenvalues). */
static void carry_complex(eig_ws *g, size_t n, int nq, int has_rate,
                          double h, double *y, const double *rate)
{
  size_t i, j;
  for (i = 0; i < n; i++) {
    const double complex *row = g->Vi + i * n;
    double complex w = 0, s = 0;
    for (j = 0; j < n; j++) w += row[j] * y[j];
    for (j = 0; has_rate && j < n; j++) s += row[j] * rate[j];
    g->w[i] = w;
    g->s[i] = s;
  }
  for (i = 0; i < n; i++) {
    double complex ez, p1, p2, w = g->w[i], s = g->s[i];
    phis(g->lam[i] * h, &ez, &p1, &p2);
    g->w[i] = ez * w + s * h * p1;
    if (nq) g->iw[i] = w * h * p1 + s * h * h * p2;
  }
  for (i = 0; i < n; i++) {
    const double complex *row = g->V + i * n;
    double complex v = 0, vi = 0;
    for (j = 0; j < n; j++) v += row[j] * g->w[j];
    for (j = 0; nq && j < n; j++) vi += row[j] * g->iw[j];
    y[i] = creal(v);
    g->yint[i] = creal(vi);
  }
}

/* y (and q) carried over h through the eigendecomposition. */
static int propagate_eig(rkin_expath *e, double h, double *y,
                         const double *rate, double *q, rkin_err *err)
{
  eig_ws *g = &e->eg;
  size_t n = e->n, i, j;
  int has_rate = 0, nq = e->nq > 0;
  for (i = 0; i < n; i++) has_rate |= rate[i] != 0;
  if (g->real) carry_real(g, n, nq, has_rate, h, y, rate);
  else carry_complex(g, n, nq, has_rate, h, y, rate);
  for (i = 0; i < n; i++)
    if (!isfinite(y[i]) || !isfinite(g->yint[i]))
      return rkin_err_set(err, RKIN_ENONFINITE, "state '%s' is not finite "
                          "after %g h (model '%s': rates too large?)",
                          rkin_model_state_name(e->m, i), h,
                          rkin_model_name(e->m));
  for (i = 0; i < e->nq; i++) {
    size_t idx = (size_t)e->tia[i];
    double t = 0;
    if (idx < n) {
      t = g->yint[idx];
    } else {
      for (j = 0; j < n; j++) t += e->C[(idx - n) * n + j] * g->yint[j];
    }
    q[i] += t;
  }
  return RKIN_OK;
}

/* y (and q) carried over h. */
static int propagate(rkin_expath *e, double h, double *y, const double *rate,
                     double *q, rkin_err *err)
{
  size_t n = e->n, dim = e->dim, i, j;
  const gsl_matrix *E;
  if (h <= 0) return RKIN_OK;
  E = cached(e, h, rate);
  if (!E && e->misses >= EIG_AFTER(e->n, e->many_out)) {
    if (e->eg.state == EIG_UNKNOWN) e->eg.state = eig_compute(e);
    if (e->eg.state == EIG_OK) return propagate_eig(e, h, y, rate, q, err);
  }
  if (!E) {
    e->misses++;
    E = expm(e, h, rate, err);
  }
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
  e->many_out = n_tout >= 2;
  for (k = 0; k < n_tout; k++) {
    rc = propagate(e, tout[k] - s, y, rate, q, err);
    if (rc) return rc;
    s = tout[k];
    emit(ctx, y);
  }
  return propagate(e, te - s, y, rate, q, err);
}

/* -A^-1 y0 is the integral to infinity only when every mode decays: a
 * nonsingular A with an eigenvalue of real part >= 0 (a growing quantity)
 * has a finite -A^-1 y0 that is not the integral (it can be negative).
 * e->LU is scratch here (tia_inf factorises it afterwards). */
static int check_decays(rkin_expath *e, rkin_err *err)
{
  size_t n = e->n, i, j;
  double re = -HUGE_VAL;   /* the largest real part (NaN: refused) */
  double amax = 0;
  gsl_eigen_nonsymm_workspace *ws = gsl_eigen_nonsymm_alloc(n);
  gsl_vector_complex *ev = gsl_vector_complex_alloc(n);
  int st;
  if (!ws || !ev) {
    if (ws) gsl_eigen_nonsymm_free(ws);
    if (ev) gsl_vector_complex_free(ev);
    return rkin_err_set(err, RKIN_ENOMEM, "out of memory for the "
                        "eigenvalues of %zu states", n);
  }
  for (i = 0; i < n; i++)
    for (j = 0; j < n; j++) gsl_matrix_set(e->LU, i, j, e->A[i * n + j]);
  st = gsl_eigen_nonsymm(e->LU, ev, ws);
  for (i = 0; !st && i < n; i++) {
    gsl_complex l = gsl_vector_complex_get(ev, i);
    if (!(GSL_REAL(l) < re)) re = GSL_REAL(l);
  }
  gsl_eigen_nonsymm_free(ws);
  gsl_vector_complex_free(ev);
  if (st)
    return rkin_err_set(err, RKIN_ESOLVER, "model '%s': the eigenvalues of "
                        "the system matrix did not converge, so the TIA to "
                        "infinity is not computed", rkin_model_name(e->m));
  /* a zero eigenvalue (to rounding) is left to the singular-pivot test,
   * whose message says that some activity never decays */
  for (i = 0; i < n * n; i++) amax = fmax(amax, fabs(e->A[i]));
  if (!(re <= 64 * DBL_EPSILON * amax * (double)n))
    return rkin_err_set(err, RKIN_ERANGE, "model '%s': the system matrix "
                        "has an eigenvalue of real part %g /h (expected < 0 "
                        "for every mode), so some activity grows without "
                        "bound and the TIA to infinity is infinite",
                        rkin_model_name(e->m), re);
  return RKIN_OK;
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
  if ((rc = check_decays(e, err))) return rc;
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

/* ------------------------------------------------- sensitivities */

/* Forward sensitivities S = dy/dp along directions, in eigen-coordinates
 * (Kalbfleisch & Lawless 1985, J Am Stat Assoc 80:863, for d e^(At)/dp):
 * S' = A S + dA y. With w = V^-1 y, sigma = V^-1 S and B = V^-1 dA V,
 * over a segment of length h without input
 *   sigma_i(h) = e^(l_i h) sigma_i(0) + sum_j B_ij Phi_ij w_j(0),
 *   Phi_ij = int_0^h e^(l_i (h - u)) e^(l_j u) du
 *          = (e^(l_i h) - e^(l_j h)) / (l_i - l_j)   (h e^(l_i h), i = j),
 * taken as h e^(max) phi1(-|l_i - l_j| h) for close eigenvalues, where
 * the quotient would cancel. An infusion (input s = V^-1 r) adds
 * sum_j B_ij Psi_ij s_j, Psi_ij = h^2 exp[l_i h, l_j h, 0] (dd2), and
 * s_i h phi1(l_i h) to w_i. */

/* The kernels of the sensitivity route take n and n_dir as arguments and
 * are inlined twice: once with n = n_dir = 2 (depot and central with two
 * random effects, the commonest population model: a population fit runs
 * them for every observation of every inner step), where the compiler
 * unrolls every loop, and once for any size. The same operations in the
 * same order, so the same bits (test_solve_sens: two directions
 * against the general copy run with a third). */
#define KERNEL __attribute__((always_inline))
#define TWO_BY_TWO(e) ((e)->n == 2 && (e)->n_dir == 2)

static int reserve_dir(rkin_expath *e, size_t n_dir)
{
  size_t n = e->n, no = e->n_out ? e->n_out : 1;
  if (n_dir <= e->cap_dir && e->phi) return RKIN_OK;
  free(e->dA);
  free(e->dC);
  free(e->B);
  free(e->sig);
  free(e->phi);
  free(e->psi);
  free(e->pw);
  free(e->dsr);
  e->dA = malloc(n_dir * n * n * sizeof *e->dA);
  e->dC = malloc(n_dir * no * n * sizeof *e->dC);
  e->B = malloc(n_dir * n * n * sizeof *e->B);
  e->sig = malloc(n * n_dir * sizeof *e->sig);
  e->phi = malloc(n * n * sizeof *e->phi);
  e->psi = malloc(n * n * sizeof *e->psi);
  e->pw = malloc(n * n * sizeof *e->pw);
  e->dsr = malloc(n * n_dir * sizeof *e->dsr);
  e->cap_dir = e->dA && e->dC && e->B && e->sig && e->phi && e->psi
               && e->pw && e->dsr ? n_dir : 0;
  return e->cap_dir ? RKIN_OK : RKIN_ENOMEM;
}

/* B = V^-1 dA V for each direction, through T = dA V in phi's place row
 * by row (a kernel: see above). */
static inline KERNEL void eig_transform_n(rkin_expath *e, size_t n,
                                          size_t n_dir)
{
  eig_ws *g = &e->eg;
  size_t d, i, j, k;
  for (d = 0; d < n_dir; d++) {
    const double *dA = e->dA + d * n * n;
    double *B = e->B + d * n * n;
    for (i = 0; i < n; i++)
      for (j = 0; j < n; j++) {
        double t = 0;
        for (k = 0; k < n; k++) t += dA[i * n + k] * g->Vr[k * n + j];
        e->phi[i * n + j] = t;
      }
    for (i = 0; i < n; i++)
      for (j = 0; j < n; j++) {
        double t = 0;
        for (k = 0; k < n; k++) t += g->Vir[i * n + k] * e->phi[k * n + j];
        B[i * n + j] = t;
      }
  }
}

int rkin_expath_begin_sens(rkin_expath *e, const double *p,
                           const double *dir, size_t n_dir, rkin_err *err)
{
  eig_ws *g = &e->eg;
  size_t n = e->n;
  int rc = rkin_expath_begin(e, p, NULL, 0, err);
  if (rc) return rc;
  if (n_dir == 0)
    return rkin_err_set(err, RKIN_EINVAL, "exact path: sensitivities "
                        "along 0 directions");
  if (reserve_dir(e, n_dir))
    return rkin_err_set(err, RKIN_ENOMEM, "out of memory for %zu "
                        "sensitivity directions", n_dir);
  e->n_dir = n_dir;
  rc = rkin_model_linear_dparams(e->m, p, dir, n_dir, e->dA,
                                 e->C ? e->dC : NULL, err);
  if (rc) return rc;
  if (g->state == EIG_UNKNOWN) g->state = eig_compute(e);
  if (g->state != EIG_OK || !g->real)
    return rkin_err_set(err, RKIN_ERANGE, "exact path: sensitivities need "
                        "A with real eigenvalues and well-conditioned "
                        "eigenvectors (model '%s')", rkin_model_name(e->m));
  if (TWO_BY_TWO(e))
    eig_transform_n(e, 2, 2);
  else
    eig_transform_n(e, n, n_dir);
  return RKIN_OK;
}

int rkin_expath_eig_route(const rkin_expath *e)
{
  return e->eig_route;
}

void rkin_expath_eig_general(rkin_expath *e, int on)
{
  e->eig_general = on;
  e->eg.state = EIG_UNKNOWN;
}

const double *rkin_expath_output_matrix(const rkin_expath *e)
{
  return e->C;
}

const double *rkin_expath_doutput(const rkin_expath *e)
{
  return e->C ? e->dC : NULL;
}

/* h^2 exp[a, b, 0], the second divided difference of exp scaled to a
 * segment of length h: int_0^h e^(l_i (h - u)) int_0^u e^(l_j v) dv du
 * for a = l_i h, b = l_j h. phi_ab = h exp[a, b] and p_a, p_b =
 * h phi1(a), h phi1(b) are known. The recurrence divides by the larger
 * of |a|, |b|, so the difference loses at most eps / max(|a|, |b|); below
 * 0.05 the Taylor series sum_k h_k(a, b) / (k + 2)! (h_k: complete
 * homogeneous polynomials) is used instead, 10 terms: < 1e-20. */
static double dd2(double a, double b, double h, double phi_ab, double p_a,
                  double p_b)
{
  double hk = 1, bk = 1, fact = 2, sum = 0;
  int k;
  if (fabs(a) >= fabs(b) && fabs(a) >= 0.05) return h * (phi_ab - p_b) / a;
  if (fabs(b) > fabs(a) && fabs(b) >= 0.05) return h * (phi_ab - p_a) / b;
  for (k = 0; k < 10; k++) {
    if (k > 0) {
      bk *= b;
      hk = a * hk + bk;
      fact *= k + 2;
    }
    sum += hk / fact;
  }
  return h * h * sum;
}

/* y and S (n x n_dir) in eigen-coordinates (g->wr, e->sig), with the
 * constant input s = V^-1 rate (g->sr, has_rate: any non-zero) and, when
 * drate is not NULL, V^-1 drate (e->dsr): once per advance, not per
 * output time (the state stays in eigen-coordinates between them). */
static inline KERNEL void sens_to_eig_n(rkin_expath *e, const double *y,
                                        const double *S, const double *rate,
                                        int has_rate, const double *drate,
                                        size_t n, size_t nd)
{
  eig_ws *g = &e->eg;
  size_t i, j, d;
  for (i = 0; i < n; i++) {
    const double *row = g->Vir + i * n;
    double w = 0, r = 0;
    for (j = 0; j < n; j++) w += row[j] * y[j];
    for (j = 0; has_rate && j < n; j++) r += row[j] * rate[j];
    g->wr[i] = w;
    g->sr[i] = r;
    for (d = 0; d < nd; d++) {
      double t = 0, ds = 0;
      for (j = 0; j < n; j++) t += row[j] * S[j * nd + d];
      e->sig[i * nd + d] = t;
      for (j = 0; drate && j < n; j++) ds += row[j] * drate[j * nd + d];
      e->dsr[i * nd + d] = ds;
    }
  }
}

static void sens_to_eig(rkin_expath *e, const double *y, const double *S,
                        const double *rate, int has_rate,
                        const double *drate)
{
  if (TWO_BY_TWO(e))
    sens_to_eig_n(e, y, S, rate, has_rate, drate, 2, 2);
  else
    sens_to_eig_n(e, y, S, rate, has_rate, drate, e->n, e->n_dir);
}

/* The eigen-coordinates carried over h > 0 (see sens_to_eig): the
 * derivatives of the input rates add ds_i h phi1(l_i h) to sigma_i. */
static inline KERNEL void sens_step_n(rkin_expath *e, double h,
                                      int has_rate, int drate, size_t n,
                                      size_t nd)
{
  eig_ws *g = &e->eg;
  size_t i, j, d;
  double *ph = e->phi, *ps = e->psi, *pw = e->pw;
  for (i = 0; i < n; i++) {
    double a = g->lr[i] * h, em1, p1, p2;
    if (has_rate || drate) {
      phis_real(a, &em1, &p1, &p2);
      g->iwr[i] = 1 + em1;                 /* e^(l_i h) */
      g->yint[i] = h * p1;                 /* int_0^h e^(l_i u) du */
    } else {
      g->iwr[i] = exp(a);
    }
    ph[i * n + i] = h * g->iwr[i];
    for (j = 0; j < i; j++) {
      double b = g->lr[j] * h;
      /* Apart by more than 1/2 the difference quotient loses at most
       * a factor 2.5 to cancellation; closer, phi1 avoids it. */
      if (fabs(a - b) > 0.5) {
        ph[i * n + j] = h * (g->iwr[i] - g->iwr[j]) / (a - b);
      } else {
        phis_real(-fabs(a - b), &em1, &p1, &p2);
        ph[i * n + j] = h * (a > b ? g->iwr[i] : g->iwr[j]) * p1;
      }
      ph[j * n + i] = ph[i * n + j];
    }
  }
  for (i = 0; has_rate && i < n; i++)
    for (j = 0; j <= i; j++) {
      ps[i * n + j] = dd2(g->lr[i] * h, g->lr[j] * h, h, ph[i * n + j],
                          g->yint[i], g->yint[j]);
      ps[j * n + i] = ps[i * n + j];
    }
  /* Phi_ij w_j + Psi_ij s_j: the same for every direction. */
  for (i = 0; i < n; i++)
    for (j = 0; j < n; j++)
      pw[i * n + j] = ph[i * n + j] * g->wr[j]
                      + (has_rate ? ps[i * n + j] * g->sr[j] : 0);
  for (i = 0; i < n; i++)
    for (d = 0; d < nd; d++) {
      const double *B = e->B + d * n * n + i * n;
      double t = g->iwr[i] * e->sig[i * nd + d];
      for (j = 0; j < n; j++) t += B[j] * pw[i * n + j];
      if (drate) t += e->dsr[i * nd + d] * g->yint[i];
      e->sig[i * nd + d] = t;
    }
  for (i = 0; i < n; i++)
    g->wr[i] = g->iwr[i] * g->wr[i] + (has_rate ? g->sr[i] * g->yint[i] : 0);
}

/* sens_step_n at n = nd = 2 without input (bolus doses: a population PK
 * profile between its doses), in locals: the compiler cannot keep the
 * unrolled copy's arrays in registers (they may alias). The same
 * operations in the same order, the "+ 0" of the absent input included
 * (it turns -0 into +0). */
static void sens_step_22(rkin_expath *e, double h)
{
  eig_ws *g = &e->eg;
  const double *B = e->B;
  double *sig = e->sig, *ph = e->phi;
  double a0 = g->lr[0] * h, a1 = g->lr[1] * h, x0 = exp(a0), x1 = exp(a1);
  double w0 = g->wr[0], w1 = g->wr[1], p00, p01, p11, q00, q01, q10, q11;
  double em1, p1, p2, s00, s01, s10, s11;
  p00 = h * x0;
  p11 = h * x1;
  if (fabs(a1 - a0) > 0.5) {
    p01 = h * (x1 - x0) / (a1 - a0);
  } else {
    phis_real(-fabs(a1 - a0), &em1, &p1, &p2);
    p01 = h * (a1 > a0 ? x1 : x0) * p1;
  }
  g->iwr[0] = x0;
  g->iwr[1] = x1;
  ph[0] = p00;
  ph[1] = ph[2] = p01;
  ph[3] = p11;
  q00 = p00 * w0 + 0;
  q01 = p01 * w1 + 0;
  q10 = p01 * w0 + 0;
  q11 = p11 * w1 + 0;
  s00 = x0 * sig[0] + B[0] * q00;
  s01 = x0 * sig[1] + B[4] * q00;
  s10 = x1 * sig[2] + B[2] * q10;
  s11 = x1 * sig[3] + B[6] * q10;
  sig[0] = s00 + B[1] * q01;
  sig[1] = s01 + B[5] * q01;
  sig[2] = s10 + B[3] * q11;
  sig[3] = s11 + B[7] * q11;
  g->wr[0] = x0 * w0 + 0;
  g->wr[1] = x1 * w1 + 0;
}

static void sens_step(rkin_expath *e, double h, int has_rate, int drate)
{
  if (TWO_BY_TWO(e) && !has_rate && !drate)
    sens_step_22(e, h);
  else if (TWO_BY_TWO(e))
    sens_step_n(e, h, has_rate, drate, 2, 2);
  else
    sens_step_n(e, h, has_rate, drate, e->n, e->n_dir);
}

static int not_finite(const rkin_expath *e, size_t i, double h,
                      rkin_err *err)
{
  return rkin_err_set(err, RKIN_ENONFINITE, "state '%s' or its sensitivity "
                      "is not finite after %g h (model '%s': rates too "
                      "large?)", rkin_model_state_name(e->m, i), h,
                      rkin_model_name(e->m));
}

/* y and S back from eigen-coordinates; after h (for the message). */
static inline KERNEL int sens_from_eig_n(rkin_expath *e, double h,
                                         double *restrict y,
                                         double *restrict S, rkin_err *err,
                                         size_t n, size_t nd)
{
  const double *restrict V = e->eg.Vr, *restrict w = e->eg.wr;
  const double *restrict sig = e->sig;
  size_t i, j, d;
  for (i = 0; i < n; i++) {
    const double *row = V + i * n;
    double v = 0;
    int bad;
    for (j = 0; j < n; j++) v += row[j] * w[j];
    y[i] = v;
    bad = !isfinite(v);
    for (d = 0; d < nd; d++) {
      double t = 0;
      for (j = 0; j < n; j++) t += row[j] * sig[j * nd + d];
      S[i * nd + d] = t;
      bad |= !isfinite(t);
    }
    if (bad) return not_finite(e, i, h, err);
  }
  return RKIN_OK;
}

/* sens_from_eig_n at n = nd = 2 in locals, as sens_step_22 (the "0 +" of
 * the sums' start included). */
static int sens_from_eig_22(rkin_expath *e, double h, double *y, double *S,
                            rkin_err *err)
{
  const double *V = e->eg.Vr, *sig = e->sig;
  double w0 = e->eg.wr[0], w1 = e->eg.wr[1];
  double s0 = sig[0], s1 = sig[1], s2 = sig[2], s3 = sig[3];
  double v00 = V[0], v01 = V[1], v10 = V[2], v11 = V[3], v, t0, t1;
  /* row by row, each stored before the next is formed (as the loop did) */
  v = (0 + v00 * w0) + v01 * w1;
  t0 = (0 + v00 * s0) + v01 * s2;
  t1 = (0 + v00 * s1) + v01 * s3;
  y[0] = v;
  S[0] = t0;
  S[1] = t1;
  if (!isfinite(v) || !isfinite(t0) || !isfinite(t1))
    return not_finite(e, 0, h, err);
  v = (0 + v10 * w0) + v11 * w1;
  t0 = (0 + v10 * s0) + v11 * s2;
  t1 = (0 + v10 * s1) + v11 * s3;
  y[1] = v;
  S[2] = t0;
  S[3] = t1;
  if (!isfinite(v) || !isfinite(t0) || !isfinite(t1))
    return not_finite(e, 1, h, err);
  return RKIN_OK;
}

static int sens_from_eig(rkin_expath *e, double h, double *y, double *S,
                         rkin_err *err)
{
  if (TWO_BY_TWO(e)) return sens_from_eig_22(e, h, y, S, err);
  return sens_from_eig_n(e, h, y, S, err, e->n, e->n_dir);
}

int rkin_expath_advance_sens(rkin_expath *e, double ts, double te,
                             double *y, double *S, const double *rate,
                             const double *drate, const double *tout,
                             size_t n_tout, rkin_emit_fn emit, void *ctx,
                             rkin_err *err)
{
  double s = ts;
  size_t k;
  int rc, has_rate = 0;
  for (k = 0; k < e->n; k++) has_rate |= rate[k] != 0;
  sens_to_eig(e, y, S, rate, has_rate, drate);
  if (TWO_BY_TWO(e) && !has_rate && !drate) {
    /* the loop below with its 2 x 2 bolus kernels called directly */
    for (k = 0; k < n_tout; k++) {
      if (tout[k] > s) {
        sens_step_22(e, tout[k] - s);
        rc = sens_from_eig_22(e, tout[k] - s, y, S, err);
        if (rc) return rc;
      }
      s = tout[k];
      emit(ctx, y);
    }
    if (!(te > s)) return RKIN_OK;
    sens_step_22(e, te - s);
    return sens_from_eig_22(e, te - s, y, S, err);
  }
  for (k = 0; k < n_tout; k++) {
    if (tout[k] > s) {
      sens_step(e, tout[k] - s, has_rate, drate != NULL);
      rc = sens_from_eig(e, tout[k] - s, y, S, err);
      if (rc) return rc;
    }
    s = tout[k];
    emit(ctx, y);
  }
  if (!(te > s)) return RKIN_OK;
  sens_step(e, te - s, has_rate, drate != NULL);
  return sens_from_eig(e, te - s, y, S, err);
}
