/* cv_block.c - a block-diagonal system for CVODES through SUNDIALS'
 * documented plug-in interfaces (custom N_Vector, SUNMatrix and
 * SUNLinearSolver; see cv_block.h for what each does and why).
 *
 * The vector's content starts with SUNDIALS' serial content (length,
 * ownership, data), so the serial vector's operations and NV_DATA_S apply
 * to it unchanged; the block length follows. Only the operations that
 * must know the blocks are replaced: the WRMS norms, and clone / clone
 * empty (to carry the block length). */
#include "solve/cv_block.h"
#include "solve/cv_linsol.h"
#include "solve/cv_nvector.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <nvector/nvector_serial.h>

typedef struct {
  struct _N_VectorContent_Serial s;   /* first: NV_DATA_S etc. work */
  size_t nb;
} block_content;

#define BC(v) ((block_content *)(v)->content)

size_t rkin_block_vector_nb(N_Vector v)
{
  return BC(v)->nb;
}

/* Sum of (x w)^2 over n elements (two running sums, as cv_nvector.c). */
static double wsq(const double *x, const double *w, size_t n)
{
  double s0 = 0, s1 = 0;
  size_t i;
  for (i = 0; i + 2 <= n; i += 2) {
    double a = x[i] * w[i], b = x[i + 1] * w[i + 1];
    s0 += a * a;
    s1 += b * b;
  }
  if (i < n) s0 += (x[i] * w[i]) * (x[i] * w[i]);
  return s0 + s1;
}

/* max over blocks of sqrt(sum_block (x w)^2 / nb) */
static sunrealtype wrms_max(N_Vector x, N_Vector w)
{
  const double *xd = NV_DATA_S(x), *wd = NV_DATA_S(w);
  size_t nb = BC(x)->nb, n = (size_t)NV_LENGTH_S(x), k;
  double m = 0;
  for (k = 0; k < n; k += nb) {
    double s = wsq(xd + k, wd + k, nb);
    if (s > m) m = s;
  }
  return sqrt(m / (double)nb);
}

/* The masked form: elements with id > 0 only, still divided by nb (as
 * SUNDIALS' N_VWrmsNormMask divides by the full length). */
static sunrealtype wrms_max_mask(N_Vector x, N_Vector w, N_Vector id)
{
  const double *xd = NV_DATA_S(x), *wd = NV_DATA_S(w), *md = NV_DATA_S(id);
  size_t nb = BC(x)->nb, n = (size_t)NV_LENGTH_S(x), k, i;
  double m = 0;
  for (k = 0; k < n; k += nb) {
    double s = 0;
    for (i = k; i < k + nb; i++)
      if (md[i] > 0) s += (xd[i] * wd[i]) * (xd[i] * wd[i]);
    if (s > m) m = s;
  }
  return sqrt(m / (double)nb);
}

static int wrms_max_array(int nv, N_Vector *x, N_Vector *w, sunrealtype *nrm)
{
  int k;
  for (k = 0; k < nv; k++) nrm[k] = wrms_max(x[k], w[k]);
  return 0;
}

static N_Vector_ID block_id(N_Vector v)
{
  (void)v;
  return SUNDIALS_NVEC_CUSTOM;
}

/* A block vector of len elements in blocks of nb, with the operations of
 * ops_from; its data allocated (zeroed) when with_data. */
static N_Vector make(N_Vector ops_from, sunindextype len, size_t nb,
                     int with_data)
{
  N_Vector v = N_VNewEmpty(ops_from->sunctx);
  block_content *c;
  if (!v) return NULL;
  if (N_VCopyOps(ops_from, v) || !(c = calloc(1, sizeof *c))) {
    N_VFreeEmpty(v);
    return NULL;
  }
  c->s.length = len;
  c->nb = nb;
  v->content = c;
  if (with_data) {
    c->s.data = calloc((size_t)len ? (size_t)len : 1, sizeof *c->s.data);
    c->s.own_data = SUNTRUE;
    if (!c->s.data) {
      free(c);
      v->content = NULL;
      N_VFreeEmpty(v);
      return NULL;
    }
  }
  return v;
}

static N_Vector clone_empty(N_Vector w)
{
  return make(w, NV_LENGTH_S(w), BC(w)->nb, 0);
}

static N_Vector clone(N_Vector w)
{
  return make(w, NV_LENGTH_S(w), BC(w)->nb, 1);
}

static void destroy(N_Vector v)
{
  if (!v) return;
  if (v->content) {
    if (BC(v)->s.own_data) free(BC(v)->s.data);
    free(v->content);
    v->content = NULL;
  }
  N_VFreeEmpty(v);
}

N_Vector rkin_block_vector(size_t nblk, size_t nb, SUNContext ctx)
{
  /* the operations: a serial vector's, with cv_nvector.c's fast ones */
  N_Vector tmpl = N_VNewEmpty_Serial((sunindextype)(nblk * nb), ctx), v;
  if (!tmpl) return NULL;
  rkin_nvector_fast(tmpl);
  tmpl->ops->nvclone = clone;
  tmpl->ops->nvcloneempty = clone_empty;
  tmpl->ops->nvdestroy = destroy;
  tmpl->ops->nvgetvectorid = block_id;
  tmpl->ops->nvwrmsnorm = wrms_max;
  tmpl->ops->nvwrmsnormmask = wrms_max_mask;
  tmpl->ops->nvwrmsnormvectorarray = wrms_max_array;
  /* the sums behind a distributed norm have no block form: unset, so
   * nothing can compute a whole-vector norm by mistake */
  tmpl->ops->nvwsqrsumlocal = NULL;
  tmpl->ops->nvwsqrsummasklocal = NULL;
  v = make(tmpl, (sunindextype)(nblk * nb), nb, 1);
  N_VDestroy_Serial(tmpl);
  return v;
}

/* ---------------------------------------------------------------- matrix */

typedef struct {
  size_t nblk, nb;
  double *data;   /* nblk blocks of nb * nb */
} mat_content;

#define MC(A) ((mat_content *)(A)->content)

double *rkin_block_matrix_block(SUNMatrix A, size_t k)
{
  return MC(A)->data + k * MC(A)->nb * MC(A)->nb;
}

static SUNMatrix_ID mat_id(SUNMatrix A)
{
  (void)A;
  return SUNMATRIX_CUSTOM;
}

static void mat_destroy(SUNMatrix A)
{
  if (!A) return;
  if (A->content) {
    free(MC(A)->data);
    free(A->content);
    A->content = NULL;
  }
  SUNMatFreeEmpty(A);
}

static SUNMatrix mat_clone(SUNMatrix A)
{
  return rkin_block_matrix(MC(A)->nblk, MC(A)->nb, A->sunctx);
}

static int mat_space(SUNMatrix A, long *lrw, long *liw)
{
  *lrw = (long)(MC(A)->nblk * MC(A)->nb * MC(A)->nb);
  *liw = 2;
  return 0;
}

SUNMatrix rkin_block_matrix(size_t nblk, size_t nb, SUNContext ctx)
{
  SUNMatrix A = SUNMatNewEmpty(ctx);
  mat_content *c;
  if (!A) return NULL;
  A->ops->getid = mat_id;
  A->ops->clone = mat_clone;
  A->ops->destroy = mat_destroy;
  A->ops->space = mat_space;
  c = calloc(1, sizeof *c);
  A->content = c;
  if (c) {
    c->nblk = nblk;
    c->nb = nb;
    c->data = calloc(nblk * nb * nb + 1, sizeof *c->data);
  }
  if (!c || !c->data) {
    mat_destroy(A);
    return NULL;
  }
  return A;
}

/* ------------------------------------------------------- linear solver */

typedef struct {
  size_t nblk, nb;
  sunindextype *piv;   /* nblk * nb */
  long last_flag;
} ls_content;

#define LC(S) ((ls_content *)(S)->content)

static SUNLinearSolver_Type ls_type(SUNLinearSolver S)
{
  (void)S;
  return SUNLINEARSOLVER_DIRECT;
}

static SUNLinearSolver_ID ls_id(SUNLinearSolver S)
{
  (void)S;
  return SUNLINEARSOLVER_CUSTOM;
}

static int ls_init(SUNLinearSolver S)
{
  LC(S)->last_flag = SUNLS_SUCCESS;
  return SUNLS_SUCCESS;
}

static int ls_setup(SUNLinearSolver S, SUNMatrix A)
{
  ls_content *c = LC(S);
  size_t k;
  if (SUNMatGetID(A) != SUNMATRIX_CUSTOM || MC(A)->nb != c->nb
      || MC(A)->nblk != c->nblk) {
    c->last_flag = SUNLS_ILL_INPUT;
    return SUNLS_ILL_INPUT;
  }
  for (k = 0; k < c->nblk; k++) {
    sunindextype f = rkin_lu_factor(rkin_block_matrix_block(A, k),
                                    (sunindextype)c->nb, c->piv + k * c->nb);
    if (f > 0) {
      c->last_flag = (long)(k * c->nb) + f;
      return SUNLS_LUFACT_FAIL;
    }
  }
  c->last_flag = SUNLS_SUCCESS;
  return SUNLS_SUCCESS;
}

static int ls_solve(SUNLinearSolver S, SUNMatrix A, N_Vector x, N_Vector b,
                    sunrealtype tol)
{
  ls_content *c = LC(S);
  double *xd = NV_DATA_S(x);
  size_t k;
  (void)tol;
  if (x != b)
    memcpy(xd, NV_DATA_S(b), c->nblk * c->nb * sizeof *xd);
  for (k = 0; k < c->nblk; k++)
    rkin_lu_solve(rkin_block_matrix_block(A, k), (sunindextype)c->nb,
                  c->piv + k * c->nb, xd + k * c->nb);
  c->last_flag = SUNLS_SUCCESS;
  return SUNLS_SUCCESS;
}

static sunindextype ls_last_flag(SUNLinearSolver S)
{
  return (sunindextype)LC(S)->last_flag;
}

static int ls_free(SUNLinearSolver S)
{
  if (!S) return SUNLS_SUCCESS;
  if (S->content) {
    free(LC(S)->piv);
    free(S->content);
    S->content = NULL;
  }
  SUNLinSolFreeEmpty(S);
  return SUNLS_SUCCESS;
}

SUNLinearSolver rkin_block_lu(size_t nblk, size_t nb, SUNContext ctx)
{
  SUNLinearSolver S = SUNLinSolNewEmpty(ctx);
  ls_content *c;
  if (!S) return NULL;
  S->ops->gettype = ls_type;
  S->ops->getid = ls_id;
  S->ops->initialize = ls_init;
  S->ops->setup = ls_setup;
  S->ops->solve = ls_solve;
  S->ops->lastflag = ls_last_flag;
  S->ops->free = ls_free;
  c = calloc(1, sizeof *c);
  S->content = c;
  if (c) {
    c->nblk = nblk;
    c->nb = nb;
    c->piv = malloc((nblk * nb + 1) * sizeof *c->piv);
  }
  if (!c || !c->piv) {
    ls_free(S);
    return NULL;
  }
  return S;
}
