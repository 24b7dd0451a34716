/* test_cv_kernels.c - the optimised N_Vector operations (cv_nvector.c) and
 * dense LU (cv_linsol.c) against SUNDIALS' own serial vector and dense
 * linear solver: every operation rkin_nvector_fast installs, on lengths 1
 * to 9 (the two-at-a-time loops' odd tails), with the aliasings CVODES
 * uses (z = x, z = y, z = x[0]); LU factors, pivots and solutions of
 * random, pivoting and singular matrices. SUNDIALS' reference results come
 * from a vector / solver built without the replacement. Elementwise
 * operations must agree exactly (same operations in the same order);
 * reductions to a few units of roundoff (the summation order may
 * differ). */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nvector/nvector_serial.h>
#include <sundials/sundials_config.h>
#include <sunlinsol/sunlinsol_dense.h>
#include <sunmatrix/sunmatrix_dense.h>

#include "solve/cv_linsol.h"
#include "solve/cv_nvector.h"
#include "../tap.h"

#define MAXN 9
#define PIVOTS(s) (((SUNLinearSolverContent_Dense)(s)->content)->pivots)

static SUNContext ctx;

/* A reproducible uniform in (-1, 1) (LCG; the values only need to be
 * uneven). */
static double rnd(void)
{
  static unsigned long x = 12345;
  x = (x * 1103515245ul + 12345ul) & 0x7fffffff;
  return 2.0 * (double)x / 2147483648.0 - 1.0;
}

static void fill(N_Vector v, N_Vector w)
{
  size_t i, n = (size_t)NV_LENGTH_S(v);
  for (i = 0; i < n; i++) NV_DATA_S(v)[i] = NV_DATA_S(w)[i] = 10.0 * rnd();
}

/* Number of elements of a and b that differ. */
static size_t ndiff(N_Vector a, N_Vector b)
{
  size_t i, n = (size_t)NV_LENGTH_S(a), d = 0;
  for (i = 0; i < n; i++) d += NV_DATA_S(a)[i] != NV_DATA_S(b)[i];
  return d;
}

static int close_to(double a, double b)
{
  return fabs(a - b) <= 8 * DBL_EPSILON * fmax(fabs(a), fabs(b));
}

static int close_to_vec(N_Vector a, N_Vector b)
{
  size_t i, n = (size_t)NV_LENGTH_S(a);
  for (i = 0; i < n; i++)
    if (!close_to(NV_DATA_S(a)[i], NV_DATA_S(b)[i])) return 0;
  return 1;
}

/* Pairs of vectors: [0] SUNDIALS' operations, [1] the fast ones. */
typedef struct {
  N_Vector x[2], y[2], z[2], w[2];
} quad;

static void quad_new(quad *q, size_t n)
{
  int s;
  for (s = 0; s < 2; s++) {
    q->x[s] = N_VNew_Serial((sunindextype)n, ctx);
    q->y[s] = N_VNew_Serial((sunindextype)n, ctx);
    q->z[s] = N_VNew_Serial((sunindextype)n, ctx);
    q->w[s] = N_VNew_Serial((sunindextype)n, ctx);
  }
  rkin_nvector_fast(q->x[1]);
  rkin_nvector_fast(q->y[1]);
  rkin_nvector_fast(q->z[1]);
  rkin_nvector_fast(q->w[1]);
  fill(q->x[0], q->x[1]);
  fill(q->y[0], q->y[1]);
  fill(q->z[0], q->z[1]);
  fill(q->w[0], q->w[1]);
}

static void quad_free(quad *q)
{
  int s;
  for (s = 0; s < 2; s++) {
    N_VDestroy(q->x[s]);
    N_VDestroy(q->y[s]);
    N_VDestroy(q->z[s]);
    N_VDestroy(q->w[s]);
  }
}

/* Counts elementwise mismatches of every operation at length n into
 * bad[op]; reductions that differ beyond roundoff likewise. */
enum {
  OP_LSUM, OP_LSUM_X, OP_LSUM_Y, OP_CONST, OP_PROD, OP_DIV, OP_SCALE,
  OP_SCALE_X, OP_ABS, OP_INV, OP_ADDC, OP_DOT, OP_MAX, OP_WRMS, OP_WSQR,
  OP_MIN, OP_CMP, OP_INVT, OP_INVT0, OP_LCOMB, OP_LCOMB_X, OP_SAM,
  OP_SAM_Y, OP_CLONE, OP_LSUM11, OP_LSUM11_Y, NOPS
};
static const char *const op_name[NOPS] = {
  "N_VLinearSum", "N_VLinearSum (z = x)", "N_VLinearSum (z = y)",
  "N_VConst", "N_VProd", "N_VDiv", "N_VScale", "N_VScale (z = x)",
  "N_VAbs", "N_VInv", "N_VAddConst", "N_VDotProd", "N_VMaxNorm",
  "N_VWrmsNorm", "N_VWSqrSumLocal", "N_VMin", "N_VCompare", "N_VInvTest",
  "N_VInvTest with a zero", "N_VLinearCombination",
  "N_VLinearCombination (z = x[0])", "N_VScaleAddMulti",
  "N_VScaleAddMulti (z = y)", "a clone keeps the fast operations",
  "N_VLinearSum a = b = 1 (the predictor's case)",
  "N_VLinearSum a = b = 1 (z = y)"
};

static void check_length(size_t n, size_t *bad)
{
  quad q;
  int s;
  double r[2], c[3] = {0.7, -1.3, 2.1};
  sunbooleantype tb[2];
  quad_new(&q, n);

  for (s = 0; s < 2; s++) N_VLinearSum(1.7, q.x[s], -0.3, q.y[s], q.z[s]);
  bad[OP_LSUM] += ndiff(q.z[0], q.z[1]);
  for (s = 0; s < 2; s++) N_VLinearSum(1.0, q.x[s], 1.0, q.y[s], q.x[s]);
  bad[OP_LSUM_X] += ndiff(q.x[0], q.x[1]);
  for (s = 0; s < 2; s++) N_VLinearSum(-2.5, q.x[s], 0.5, q.y[s], q.y[s]);
  bad[OP_LSUM_Y] += ndiff(q.y[0], q.y[1]);
  for (s = 0; s < 2; s++) N_VLinearSum(1.0, q.x[s], 1.0, q.y[s], q.z[s]);
  bad[OP_LSUM11] += ndiff(q.z[0], q.z[1]);
  for (s = 0; s < 2; s++) N_VLinearSum(1.0, q.z[s], 1.0, q.y[s], q.y[s]);
  bad[OP_LSUM11_Y] += ndiff(q.y[0], q.y[1]);
  for (s = 0; s < 2; s++) N_VConst(3.25, q.w[s]);
  bad[OP_CONST] += ndiff(q.w[0], q.w[1]);
  fill(q.w[0], q.w[1]);
  for (s = 0; s < 2; s++) N_VProd(q.x[s], q.y[s], q.z[s]);
  bad[OP_PROD] += ndiff(q.z[0], q.z[1]);
  for (s = 0; s < 2; s++) N_VDiv(q.x[s], q.w[s], q.z[s]);
  bad[OP_DIV] += ndiff(q.z[0], q.z[1]);
  for (s = 0; s < 2; s++) N_VScale(-0.37, q.x[s], q.z[s]);
  bad[OP_SCALE] += ndiff(q.z[0], q.z[1]);
  for (s = 0; s < 2; s++) N_VScale(1.9, q.z[s], q.z[s]);
  bad[OP_SCALE_X] += ndiff(q.z[0], q.z[1]);
  for (s = 0; s < 2; s++) N_VAbs(q.x[s], q.z[s]);
  bad[OP_ABS] += ndiff(q.z[0], q.z[1]);
  for (s = 0; s < 2; s++) N_VInv(q.w[s], q.z[s]);
  bad[OP_INV] += ndiff(q.z[0], q.z[1]);
  for (s = 0; s < 2; s++) N_VAddConst(q.x[s], -4.5, q.z[s]);
  bad[OP_ADDC] += ndiff(q.z[0], q.z[1]);
  for (s = 0; s < 2; s++) r[s] = N_VDotProd(q.x[s], q.y[s]);
  bad[OP_DOT] += !close_to(r[0], r[1]);
  for (s = 0; s < 2; s++) r[s] = N_VMaxNorm(q.x[s]);
  bad[OP_MAX] += r[0] != r[1];
  for (s = 0; s < 2; s++) r[s] = N_VWrmsNorm(q.x[s], q.w[s]);
  bad[OP_WRMS] += !close_to(r[0], r[1]);
  for (s = 0; s < 2; s++) r[s] = N_VWSqrSumLocal(q.x[s], q.w[s]);
  bad[OP_WSQR] += !close_to(r[0], r[1]);
  for (s = 0; s < 2; s++) r[s] = N_VMin(q.x[s]);
  bad[OP_MIN] += r[0] != r[1];
  for (s = 0; s < 2; s++) N_VCompare(3.0, q.x[s], q.z[s]);
  bad[OP_CMP] += ndiff(q.z[0], q.z[1]);
  for (s = 0; s < 2; s++) tb[s] = N_VInvTest(q.w[s], q.z[s]);
  bad[OP_INVT] += (tb[0] != tb[1] || !tb[0]) + ndiff(q.z[0], q.z[1]);
  /* a zero: false, and the other elements still inverted */
  for (s = 0; s < 2; s++) {
    NV_DATA_S(q.w[s])[n / 2] = 0.0;
    N_VConst(-7.0, q.z[s]);
    tb[s] = N_VInvTest(q.w[s], q.z[s]);
  }
  bad[OP_INVT0] += (tb[0] != tb[1] || tb[0]) + ndiff(q.z[0], q.z[1]);
  {
    N_Vector v0[3] = {q.x[0], q.y[0], q.w[0]};
    N_Vector v1[3] = {q.x[1], q.y[1], q.w[1]};
    int f0 = N_VLinearCombination(3, c, v0, q.z[0]);
    int f1 = N_VLinearCombination(3, c, v1, q.z[1]);
    bad[OP_LCOMB] += (f0 != f1) + !close_to_vec(q.z[0], q.z[1]);
    v0[0] = q.z[0];
    v1[0] = q.z[1];
    f0 = N_VLinearCombination(3, c, v0, q.z[0]);
    f1 = N_VLinearCombination(3, c, v1, q.z[1]);
    bad[OP_LCOMB_X] += (f0 != f1) + !close_to_vec(q.z[0], q.z[1]);
  }
  {
    N_Vector y0[2] = {q.y[0], q.w[0]}, z0[2] = {q.z[0], q.w[0]};
    N_Vector y1[2] = {q.y[1], q.w[1]}, z1[2] = {q.z[1], q.w[1]};
    int f0 = N_VScaleAddMulti(2, c, q.x[0], y0, z0);
    int f1 = N_VScaleAddMulti(2, c, q.x[1], y1, z1);
    bad[OP_SAM] += (f0 != f1) + ndiff(q.z[0], q.z[1]);
    bad[OP_SAM_Y] += ndiff(q.w[0], q.w[1]);   /* z[1] = y[1]: in place */
  }
  {
    N_Vector cl = N_VClone(q.x[1]);
    bad[OP_CLONE] += !cl || cl->ops->nvlinearsum != q.x[1]->ops->nvlinearsum
                     || cl->ops->nvlinearsum == q.x[0]->ops->nvlinearsum;
    if (cl) N_VDestroy(cl);
  }
  quad_free(&q);
}

/* The vector-array operations (one vector per sensitivity direction),
 * NV vectors per array, against SUNDIALS' generic loops over the single
 * operations (a plain serial vector has no fused array operations). */
enum {
  AR_LSUM, AR_SCALE, AR_CONST, AR_WRMS, AR_SAM, AR_SAM_Y, AR_LCOMB,
  AR_LCOMB_X, AR_INSTALLED, NAR
};
static const char *const ar_name[NAR] = {
  "N_VLinearSumVectorArray", "N_VScaleVectorArray", "N_VConstVectorArray",
  "N_VWrmsNormVectorArray", "N_VScaleAddMultiVectorArray",
  "N_VScaleAddMultiVectorArray (z = y)", "N_VLinearCombinationVectorArray",
  "N_VLinearCombinationVectorArray (z = x[0])",
  "the array operations are installed (not SUNDIALS' loops)"
};
#define NV 3

static void check_arrays(size_t n, size_t *bad)
{
  N_Vector x[2][NV], y[2][NV], z[2][NV], w[2][NV];
  double c[NV] = {0.7, -1.3, 2.1}, nrm[2][NV];
  int s, k;
  for (s = 0; s < 2; s++)
    for (k = 0; k < NV; k++) {
      x[s][k] = N_VNew_Serial((sunindextype)n, ctx);
      y[s][k] = N_VNew_Serial((sunindextype)n, ctx);
      z[s][k] = N_VNew_Serial((sunindextype)n, ctx);
      w[s][k] = N_VNew_Serial((sunindextype)n, ctx);
      if (s) {
        rkin_nvector_fast(x[s][k]);
        rkin_nvector_fast(y[s][k]);
        rkin_nvector_fast(z[s][k]);
        rkin_nvector_fast(w[s][k]);
      }
    }
  for (k = 0; k < NV; k++) {
    fill(x[0][k], x[1][k]);
    fill(y[0][k], y[1][k]);
    fill(z[0][k], z[1][k]);
    fill(w[0][k], w[1][k]);
  }
  bad[AR_INSTALLED] += z[1][0]->ops->nvlinearsumvectorarray == NULL
                       || z[1][0]->ops->nvscaleaddmultivectorarray == NULL
                       || z[1][0]->ops->nvlinearcombinationvectorarray
                          == NULL;
  for (s = 0; s < 2; s++) N_VLinearSumVectorArray(NV, 1.7, x[s], -0.3, y[s],
                                                  z[s]);
  for (k = 0; k < NV; k++) bad[AR_LSUM] += ndiff(z[0][k], z[1][k]);
  for (s = 0; s < 2; s++) N_VScaleVectorArray(NV, c, x[s], z[s]);
  for (k = 0; k < NV; k++) bad[AR_SCALE] += ndiff(z[0][k], z[1][k]);
  for (s = 0; s < 2; s++) N_VConstVectorArray(NV, -2.25, z[s]);
  for (k = 0; k < NV; k++) bad[AR_CONST] += ndiff(z[0][k], z[1][k]);
  for (s = 0; s < 2; s++) N_VWrmsNormVectorArray(NV, x[s], w[s], nrm[s]);
  for (k = 0; k < NV; k++) bad[AR_WRMS] += !close_to(nrm[0][k], nrm[1][k]);
  {
    /* two sums: z[j][k] = c[j] x[k] + y[j][k]; then in place (z = y) */
    N_Vector *ys[2][2] = {{y[0], w[0]}, {y[1], w[1]}};
    N_Vector *zs[2][2] = {{z[0], x[0]}, {z[1], x[1]}};
    for (s = 0; s < 2; s++) {
      N_Vector *zz[2] = {zs[s][0], ys[s][1]};
      N_VScaleAddMultiVectorArray(NV, 2, c, x[s], ys[s], zz);
    }
    for (k = 0; k < NV; k++)
      bad[AR_SAM] += ndiff(z[0][k], z[1][k]);
    for (k = 0; k < NV; k++)
      bad[AR_SAM_Y] += ndiff(w[0][k], w[1][k]);
    (void)zs;
  }
  {
    N_Vector *xs[2][3] = {{x[0], y[0], w[0]}, {x[1], y[1], w[1]}};
    for (s = 0; s < 2; s++) N_VLinearCombinationVectorArray(NV, 3, c, xs[s],
                                                            z[s]);
    for (k = 0; k < NV; k++)
      bad[AR_LCOMB] += !close_to_vec(z[0][k], z[1][k]);
    xs[0][0] = z[0];
    xs[1][0] = z[1];
    for (s = 0; s < 2; s++) N_VLinearCombinationVectorArray(NV, 3, c, xs[s],
                                                            z[s]);
    for (k = 0; k < NV; k++)
      bad[AR_LCOMB_X] += !close_to_vec(z[0][k], z[1][k]);
  }
  for (s = 0; s < 2; s++)
    for (k = 0; k < NV; k++) {
      N_VDestroy(x[s][k]);
      N_VDestroy(y[s][k]);
      N_VDestroy(z[s][k]);
      N_VDestroy(w[s][k]);
    }
}

/* LU of an n x n matrix by SUNDIALS' dense solver and by the fast one:
 * kind 0 random, 1 a zero leading entry (forces a row interchange), 2 a
 * zero column (singular). Returns the number of mismatches: setup flags,
 * factors, pivots, solutions (in place, x = b, and into another vector). */
static size_t check_lu(size_t n, int kind)
{
  SUNMatrix A[2];
  SUNLinearSolver ls[2];
  N_Vector b[2], x[2];
  size_t i, j, bad = 0;
  int s, flag[2];
  for (s = 0; s < 2; s++) {
    A[s] = SUNDenseMatrix((sunindextype)n, (sunindextype)n, ctx);
    b[s] = N_VNew_Serial((sunindextype)n, ctx);
    x[s] = N_VNew_Serial((sunindextype)n, ctx);
    ls[s] = SUNLinSol_Dense(b[s], A[s], ctx);
  }
  rkin_linsol_fast(ls[1]);
  for (j = 0; j < n; j++)
    for (i = 0; i < n; i++) {
      /* I - gamma J like, but with off-diagonal weight enough to pivot */
      double v = (i == j ? 1.0 : 0.0) + 2.0 * rnd();
      if (kind == 1 && i == 0 && j == 0) v = 0.0;
      if (kind == 2 && j == n / 2) v = 0.0;
      SUNDenseMatrix_Data(A[0])[i + j * n] = v;
      SUNDenseMatrix_Data(A[1])[i + j * n] = v;
    }
  fill(b[0], b[1]);
  for (s = 0; s < 2; s++) {
    SUNLinSolInitialize(ls[s]);
    flag[s] = SUNLinSolSetup(ls[s], A[s]);
  }
  bad += flag[0] != flag[1]
         || SUNLinSolLastFlag(ls[0]) != SUNLinSolLastFlag(ls[1]);
  bad += (kind == 2) != (flag[0] != 0);
  for (i = 0; i < n * n; i++)
    bad += SUNDenseMatrix_Data(A[0])[i] != SUNDenseMatrix_Data(A[1])[i];
  /* a failed factorisation leaves the pivots past its column unset */
  for (i = 0; i < (flag[0] ? (size_t)SUNLinSolLastFlag(ls[0]) : n); i++)
    bad += PIVOTS(ls[0])[i] != PIVOTS(ls[1])[i];
  if (!flag[0] && !flag[1]) {
    for (s = 0; s < 2; s++) SUNLinSolSolve(ls[s], A[s], x[s], b[s], 0.0);
    bad += ndiff(x[0], x[1]);
    for (s = 0; s < 2; s++) SUNLinSolSolve(ls[s], A[s], b[s], b[s], 0.0);
    bad += ndiff(b[0], b[1]) + ndiff(b[0], x[0]);
  }
  for (s = 0; s < 2; s++) {
    SUNLinSolFree(ls[s]);
    SUNMatDestroy(A[s]);
    N_VDestroy(b[s]);
    N_VDestroy(x[s]);
  }
  return bad;
}

/* The fast solve solves: A x = b to roundoff for a known x (a test that
 * does not lean on SUNDIALS' result). */
static void check_residual(void)
{
  enum { N = 7 };
  SUNMatrix A = SUNDenseMatrix(N, N, ctx);
  N_Vector b = N_VNew_Serial(N, ctx);
  SUNLinearSolver ls = SUNLinSol_Dense(b, A, ctx);
  double a0[N * N], xs[N], worst = 0;
  size_t i, j;
  rkin_linsol_fast(ls);
  for (i = 0; i < N * N; i++) a0[i] = rnd() + (i % (N + 1) == 0 ? 3.0 : 0.0);
  for (i = 0; i < N; i++) xs[i] = 1.0 + i;
  for (i = 0; i < N; i++) {
    double v = 0;
    for (j = 0; j < N; j++) v += a0[i + j * N] * xs[j];
    NV_DATA_S(b)[i] = v;
  }
  memcpy(SUNDenseMatrix_Data(A), a0, sizeof a0);
  SUNLinSolInitialize(ls);
  ok(SUNLinSolSetup(ls, A) == 0, "fast LU: a regular 7x7 factorises");
  SUNLinSolSolve(ls, A, b, b, 0.0);
  for (i = 0; i < N; i++)
    worst = fmax(worst, fabs(NV_DATA_S(b)[i] - xs[i]) / xs[i]);
  ok(worst < 1e-13, "fast LU: solves A x = b for a known x (worst rel. "
     "error %.1e)", worst);
  SUNLinSolFree(ls);
  SUNMatDestroy(A);
  N_VDestroy(b);
}

int main(void)
{
  size_t bad[NOPS] = {0}, n, lu[3] = {0, 0, 0}, abad[NAR] = {0};
  int op, kind;
#if SUNDIALS_VERSION_MAJOR >= 7
  SUNContext_Create(SUN_COMM_NULL, &ctx);
#else
  SUNContext_Create(NULL, &ctx);
#endif
  for (n = 1; n <= MAXN; n++) {
    int rep;
    for (rep = 0; rep < 4; rep++) check_length(n, bad);
  }
  for (op = 0; op < NOPS; op++)
    ok(bad[op] == 0, "%s: fast = SUNDIALS serial on lengths 1-%d "
       "(%zu mismatches)", op_name[op], MAXN, bad[op]);
  for (n = 1; n <= MAXN; n++) {
    int rep;
    for (rep = 0; rep < 4; rep++) check_arrays(n, abad);
  }
  for (op = 0; op < NAR; op++)
    ok(abad[op] == 0, "%s: fast = SUNDIALS serial on lengths 1-%d "
       "(%zu mismatches)", ar_name[op], MAXN, abad[op]);
  for (kind = 0; kind < 3; kind++)
    for (n = 1; n <= MAXN; n++) {
      int rep;
      if (kind == 1 && n == 1) continue;   /* that 1x1 is singular */
      for (rep = 0; rep < 4; rep++)
        lu[kind] += check_lu(n, kind);
    }
  ok(lu[0] == 0, "dense LU: factors, pivots, solutions = SUNDIALS' on "
     "random 1x1-9x9 (%zu mismatches)", lu[0]);
  ok(lu[1] == 0, "dense LU: the same with a zero leading pivot (%zu "
     "mismatches)", lu[1]);
  ok(lu[2] == 0, "dense LU: a singular matrix fails with SUNDIALS' flag "
     "(%zu mismatches)", lu[2]);
  check_residual();
  SUNContext_Free(&ctx);
  done_testing();
  return exit_status();
}
