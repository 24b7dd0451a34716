/* cv_linsol.c - the dense LU factorisation and solve CVODES calls at every
 * Newton setup and iteration, compiled with the project's optimisation and
 * installed into a SUNLinSol_Dense object's ops.
 *
 * Why: Debian 12's libsundials 6.4.1 is built without optimisation, and on
 * a 7-equation system its SUNDlsMat_denseGETRS/GETRF took a quarter of
 * the CVODES path's instructions (callgrind, tests/bench/bench_solve; see
 * the report of issue 3). SUNDIALS' own alternatives do not help here:
 * Debian ships no SUNLinSol_LapackDense, and GSL's LU (an adapter would be
 * the "real library" route) costs more than the unoptimised code at this
 * size (~5,400 instructions per 7x7 factorisation, ~1,200 per solve).
 *
 * Same object, same content (the pivot array), same algorithm as
 * SUNDlsMat_denseGETRF/GETRS - partial pivoting with whole-row
 * interchanges, unit-lower L and U stored in place - so results and
 * failure flags are those of SUNDIALS' solver; only the two function
 * pointers CVODES calls per step change. The vectors are serial (the
 * CVODES path's and their clones): their data are read directly, which
 * spares two calls through SUNDIALS' generic dispatch per solve. */
#include "solve/cv_linsol.h"
#include "solve/cv_pair.h"

#include <math.h>
#include <string.h>

#include <nvector/nvector_serial.h>
#include <sunlinsol/sunlinsol_dense.h>
#include <sunmatrix/sunmatrix_dense.h>

#define CONTENT(s) ((SUNLinearSolverContent_Dense)(s)->content)

/* Column-major a (n x n) into its LU factors with row pivots piv. Returns
 * 0, or k + 1 when the pivot of column k is zero (singular). The update
 * of the trailing columns goes by pairs (cv_pair.h), elementwise the same
 * operations as SUNDlsMat_denseGETRF's. */
sunindextype rkin_lu_factor(double *a, sunindextype n, sunindextype *piv)
{
  sunindextype i, j, k, l;
  for (k = 0; k < n; k++) {
    double *ck = a + k * n, r;
    for (l = k, i = k + 1; i < n; i++)
      if (fabs(ck[i]) > fabs(ck[l])) l = i;
    piv[k] = l;
    if (ck[l] == 0.0) return k + 1;
    if (l != k)
      for (j = 0; j < n; j++) {
        double t = a[l + j * n];
        a[l + j * n] = a[k + j * n];
        a[k + j * n] = t;
      }
    r = 1.0 / ck[k];
    for (i = k + 1; i < n; i++) ck[i] *= r;
    for (j = k + 1; j < n; j++) {
      double *cj = a + j * n, m = cj[k];
      rkin_pair v = {m, m};
      if (m == 0.0) continue;
      for (i = k + 1; i + 2 <= n; i += 2)
        rkin_st2(cj + i, rkin_ld2(cj + i) - v * rkin_ld2(ck + i));
      if (i < n) cj[i] -= m * ck[i];
    }
  }
  return 0;
}

/* b := A^-1 b from the factors of lu_factor. The inner loops go by
 * pairs (cv_pair.h); each b[i] gets the same operations in the same order
 * as in SUNDlsMat_denseGETRS, so the solution is bit-identical to it. */
void rkin_lu_solve(const double *a, sunindextype n, const sunindextype *piv,
                   double *b)
{
  sunindextype i, k;
  for (k = 0; k < n; k++)
    if (piv[k] != k) {
      double t = b[k];
      b[k] = b[piv[k]];
      b[piv[k]] = t;
    }
  for (k = 0; k < n - 1; k++) {
    const double *ck = a + k * n;
    double bk = b[k];
    rkin_pair v = {bk, bk};
    for (i = k + 1; i + 2 <= n; i += 2)
      rkin_st2(b + i, rkin_ld2(b + i) - rkin_ld2(ck + i) * v);
    if (i < n) b[i] -= ck[i] * bk;
  }
  for (k = n - 1; k >= 0; k--) {
    const double *ck = a + k * n;
    double bk = b[k] / ck[k];
    rkin_pair v = {bk, bk};
    b[k] = bk;
    for (i = 0; i + 2 <= k; i += 2)
      rkin_st2(b + i, rkin_ld2(b + i) - rkin_ld2(ck + i) * v);
    if (i < k) b[i] -= ck[i] * bk;
  }
}

static int setup(SUNLinearSolver s, SUNMatrix A)
{
  SUNLinearSolverContent_Dense c = CONTENT(s);
  sunindextype n;
  if (SUNMatGetID(A) != SUNMATRIX_DENSE || (n = SM_ROWS_D(A)) != SM_COLUMNS_D(A)
      || n != c->N) {
    c->last_flag = SUNLS_ILL_INPUT;
    return SUNLS_ILL_INPUT;
  }
  c->last_flag = rkin_lu_factor(SM_DATA_D(A), n, c->pivots);
  return c->last_flag > 0 ? SUNLS_LUFACT_FAIL : SUNLS_SUCCESS;
}

static int solve(SUNLinearSolver s, SUNMatrix A, N_Vector x, N_Vector b,
                 sunrealtype tol)
{
  SUNLinearSolverContent_Dense c = CONTENT(s);
  double *xd = NV_DATA_S(x);
  (void)tol;
  if (x != b) memcpy(xd, NV_DATA_S(b), (size_t)c->N * sizeof *xd);
  rkin_lu_solve(SM_DATA_D(A), c->N, c->pivots, xd);
  c->last_flag = SUNLS_SUCCESS;
  return SUNLS_SUCCESS;
}

void rkin_linsol_fast(SUNLinearSolver ls)
{
  ls->ops->setup = setup;
  ls->ops->solve = solve;
}
