/* cv_linsol.h - internal: optimised factor and solve for a SUNDIALS dense
 * linear solver (see cv_linsol.c for why). Not installed. */
#ifndef RKIN_CV_LINSOL_H
#define RKIN_CV_LINSOL_H

#include <sundials/sundials_linearsolver.h>

/* Replaces the setup (LU factorisation) and solve operations of the
 * SUNLinSol_Dense object ls with optimised loops computing the same
 * factors, pivots and solutions. */
void rkin_linsol_fast(SUNLinearSolver ls);

/* The factorisation and solve behind it (also the block LU of
 * cv_block.c): column-major a (n x n) into its LU factors with row pivots
 * piv, returning 0 or k + 1 when the pivot of column k is zero; b :=
 * A^-1 b from those factors. */
sunindextype rkin_lu_factor(double *a, sunindextype n, sunindextype *piv);
void rkin_lu_solve(const double *a, sunindextype n, const sunindextype *piv,
                   double *b);

#endif
