/* chol2.h - internal: H x = b for a 2 x 2 symmetric H by Cholesky,
 * written out (the Newton search of the EBEs with two etas). Not
 * installed. */
#ifndef RKIN_CHOL2_H
#define RKIN_CHOL2_H

/* x = H^-1 b for H (row-major, symmetric: H[1] is not read) positive
 * definite, with the operations of GSL 2.7's gsl_linalg_cholesky_decomp1
 * (unblocked below its crossover: each column scaled by 1 / sqrt of its
 * pivot, a pivot <= 0 refused) and gsl_linalg_cholesky_svx (forward then
 * backward substitution) in their order, so the same bits. Returns 0, or
 * 1 where GSL returns GSL_EDOM (x then untouched). x may be b. */
int pop_chol2_solve(const double *H, const double *b, double *x);

#endif
