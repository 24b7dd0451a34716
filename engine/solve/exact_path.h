/* exact_path.h - internal: the matrix-exponential path behind rkin_solver
 * for linear constant-coefficient models. Not installed. */
#ifndef RKIN_EXACT_PATH_H
#define RKIN_EXACT_PATH_H

#include <stddef.h>

#include "solve/cvodes_path.h"
#include "core/err.h"
#include "core/model.h"

typedef struct rkin_expath rkin_expath;

rkin_expath *rkin_expath_new(const rkin_model *m, rkin_err *err);
void rkin_expath_free(rkin_expath *e);

/* Prepares a run: builds A(p) and the selector/output rows of the TIA
 * quantities. Exponentials already computed for the same p and the same
 * quantities are kept, so a patient's later cycles reuse them. */
int rkin_expath_begin(rkin_expath *e, const double *p, const int *tia,
                      size_t n_tia, rkin_err *err);

/* Same contract as rkin_cvpath_advance (no steps). */
int rkin_expath_advance(rkin_expath *e, double ts, double te, double *y,
                        const double *rate, const double *tout,
                        size_t n_tout, rkin_emit_fn emit, void *ctx,
                        double *q, rkin_err *err);

/* Integrals over [0, inf) of the quantities from y0, no input: one LU
 * solve of A x = -y0. */
int rkin_expath_tia_inf(rkin_expath *e, const double *p, const double *y0,
                        const int *tia, size_t n_tia, double *out,
                        rkin_err *err);

/* Forward sensitivities S = dy/dp along n_dir parameter directions (dir
 * row-major n_dir x n_params): like rkin_expath_begin without TIA, plus
 * dA, dC along the directions and the eigendecomposition of A, which the
 * sensitivities need (RKIN_ERANGE when A has complex eigenvalues or an
 * ill-conditioned eigenvector matrix: use finite differences then). */
int rkin_expath_begin_sens(rkin_expath *e, const double *p,
                           const double *dir, size_t n_dir, rkin_err *err);
/* As rkin_expath_advance, carrying S (n x n_dir row-major) too; drate
 * (n x n_dir, or NULL for none) are the derivatives of the input rates
 * along the directions (a modelled rate or duration); jumps at doses are
 * the caller's. emit sees y (S is updated in place before each call).
 * No TIA. */
int rkin_expath_advance_sens(rkin_expath *e, double ts, double te,
                             double *y, double *S, const double *rate,
                             const double *drate, const double *tout,
                             size_t n_tout, rkin_emit_fn emit, void *ctx,
                             rkin_err *err);
/* C(p) (NULL when outputs are not linear) and, after begin_sens, dC along
 * the directions (n_dir x n_out x n). */
const double *rkin_expath_output_matrix(const rkin_expath *e);

/* Which route decomposed A last: 0 none yet, 1 substitution (triangular
 * A), 2 GSL's general eigensolver, 3 closed form (2 x 2, real). rkin_expath_eig_general(e, 1) makes
 * every later decomposition take GSL's route (tests compare the two). */
int rkin_expath_eig_route(const rkin_expath *e);
void rkin_expath_eig_general(rkin_expath *e, int on);
const double *rkin_expath_doutput(const rkin_expath *e);

#endif
