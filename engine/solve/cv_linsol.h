/* cv_linsol.h - internal: optimised factor and solve for a SUNDIALS dense
 * linear solver (see cv_linsol.c for why). Not installed. */
#ifndef RKIN_CV_LINSOL_H
#define RKIN_CV_LINSOL_H

#include <sundials/sundials_linearsolver.h>

/* Replaces the setup (LU factorisation) and solve operations of the
 * SUNLinSol_Dense object ls with optimised loops computing the same
 * factors, pivots and solutions. */
void rkin_linsol_fast(SUNLinearSolver ls);

#endif
