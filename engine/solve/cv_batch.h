/* cv_batch.h - several patients of one model integrated as ONE CVODES
 * system (block-diagonal: cv_block.h), through one run of a dosing
 * schedule they share. Why: per step CVODES' own work (Nordsieck
 * history, step and order selection, Newton bookkeeping) is a fixed cost
 * that a small model does not amortise; with B patients in one system it
 * is paid once for B. Each patient's error control stays its own (the
 * norm is the maximum of the patients' norms), so each patient's result
 * is within the tolerance of its own run; the steps are those of the
 * patient needing the smallest ones.
 *
 * Covered (rkin_cvbatch_refusal): the CVODES path with a dense Newton
 * matrix; dose records that are boluses or infusions (given rates, or
 * the model's F, ALAG, R, D when they give every patient of a batch the
 * same event times: amounts and rates may differ). Not covered, runs
 * patient by patient (rkin_solver_run): the exact path, models with
 * events (SBML / rk.model{events=}) or conditions (rk.ifelse switches),
 * a sparse (KLU) Newton matrix, steady-state (SS) and reset (EVID 3/4)
 * records, sensitivities, output times, time-varying parameters. Not
 * installed. */
#ifndef RKIN_CV_BATCH_H
#define RKIN_CV_BATCH_H

#include <stddef.h>

#include "core/dosing.h"
#include "core/err.h"
#include "core/model.h"
#include "solve/solve.h"

/* rkin_cvbatch_run's answer when the batch cannot be run as one system
 * (the patients' dose times differ, a parameter or state is not finite,
 * a dose modifier fails): nothing was integrated. */
#define RKIN_CVBATCH_UNEVEN 1

typedef struct rkin_cvbatch rkin_cvbatch;

/* NULL when runs of model m with options o and dosing d (NULL: none) can
 * be batched, else why not (a static string). */
const char *rkin_cvbatch_refusal(const rkin_model *m,
                                 const rkin_solve_opts *o,
                                 const rkin_dosing *d);

rkin_cvbatch *rkin_cvbatch_new(const rkin_model *m, const rkin_solve_opts *o,
                               rkin_err *err);
void rkin_cvbatch_free(rkin_cvbatch *b);

/* One run over [t0, t1] of nblk >= 1 patients, as rkin_solver_run with
 * events_at_t1 0 and no output times: params (nblk rows of n_params), y
 * (nblk rows of n_states: the states at t0 in, at t1 out), the integrals
 * of the n_tia quantities tia (solve.h indexing, checked by the caller)
 * into tia_out + k * tia_stride for patient k. *steps gets the steps of
 * the system (each taken by all nblk patients together). Returns 0,
 * RKIN_CVBATCH_UNEVEN, or a negative code (CVODES failed, a right-hand
 * side was not finite, ...) with err set: y and tia_out are then
 * meaningless, and the patients must be run one by one (which names the
 * one that fails). */
int rkin_cvbatch_run(rkin_cvbatch *b, size_t nblk, const double *params,
                     double *y, const rkin_dosing *d, double t0, double t1,
                     const int *tia, size_t n_tia, double *tia_out,
                     size_t tia_stride, long *steps, rkin_err *err);

#endif
