/* cv_block.h - internal: SUNDIALS plug-ins for a block-diagonal system of
 * nblk independent blocks of nb equations each (several patients
 * integrated as one CVODES system, cv_batch.c). Not installed.
 *
 * - The vector is laid out as SUNDIALS' serial vector (block k at
 *   elements k nb .. k nb + nb - 1, NV_DATA_S works on it) with
 *   cv_nvector.c's operations, except its weighted RMS norms: the MAXIMUM
 *   over the blocks of each block's own WRMS norm (over its nb elements).
 *   CVODES' error test and Newton convergence test then hold for every
 *   block as strictly as if that block were integrated alone.
 * - The matrix holds only the nblk diagonal blocks, each nb x nb
 *   column-major, one after the other.
 * - The linear solver factors each block by the dense LU of cv_linsol.c
 *   (partial pivoting) and solves block by block. */
#ifndef RKIN_CV_BLOCK_H
#define RKIN_CV_BLOCK_H

#include <stddef.h>

#include <sundials/sundials_linearsolver.h>
#include <sundials/sundials_matrix.h>
#include <sundials/sundials_nvector.h>

/* A zeroed vector of nblk * nb elements; NULL when out of memory. */
N_Vector rkin_block_vector(size_t nblk, size_t nb, SUNContext ctx);
/* The block length nb of a block vector. */
size_t rkin_block_vector_nb(N_Vector v);

/* The block-diagonal matrix; NULL when out of memory. */
SUNMatrix rkin_block_matrix(size_t nblk, size_t nb, SUNContext ctx);
/* Block k's nb x nb column-major entries. */
double *rkin_block_matrix_block(SUNMatrix A, size_t k);

/* The block LU solver for rkin_block_matrix(nblk, nb, ...) and block
 * vectors; NULL when out of memory. Its setup returns SUNLS_LUFACT_FAIL
 * (recoverable: CVODES retries with a smaller step) when a block is
 * singular. */
SUNLinearSolver rkin_block_lu(size_t nblk, size_t nb, SUNContext ctx);

#endif
