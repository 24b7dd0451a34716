/* cvodes_path.h - internal: the CVODES integrator behind rkin_solver
 * (BDF, exact dense or sparse Jacobian, TIA as appended states). Not
 * installed. */
#ifndef RKIN_CVODES_PATH_H
#define RKIN_CVODES_PATH_H

#include <stddef.h>

#include "core/err.h"
#include "core/model.h"
#include "solve/solve.h"

typedef struct rkin_cvpath rkin_cvpath;

/* Called for each output time inside a segment with the state there. */
typedef void (*rkin_emit_fn)(void *ctx, const double *y);

rkin_cvpath *rkin_cvpath_new(const rkin_model *m, const rkin_solve_opts *o,
                             rkin_err *err);
void rkin_cvpath_free(rkin_cvpath *c);

/* Prepares a run: parameters p (kept by pointer until the run ends) and
 * the quantities integrated (solve.h indexing, already validated). */
int rkin_cvpath_begin(rkin_cvpath *c, const double *p, const int *tia,
                      size_t n_tia, rkin_err *err);

/* Integrates from ts (state y, constant input rates `rate`) to te, stopping
 * exactly at te; calls emit at each of the n_tout times in (ts, te); adds
 * the segment's integrals to q and the steps taken to *steps; y becomes the
 * state at te. */
int rkin_cvpath_advance(rkin_cvpath *c, double ts, double te, double *y,
                        const double *rate, const double *tout,
                        size_t n_tout, rkin_emit_fn emit, void *ctx,
                        double *q, long *steps, rkin_err *err);

/* Forward sensitivities for the runs that follow (after
 * rkin_cvpath_begin): ns directions dir (ns x n_params) in parameter
 * space; S (n x ns, row-major) is the caller's: the sensitivities at the
 * start of each advance, updated in place (also before each emit);
 * drate (n x ns, NULL: none) the derivatives of the input rates; dq (nq x
 * ns, NULL: not wanted) receives the integrals' sensitivities of each
 * segment added. CVODES' staggered corrector with error control on the
 * sensitivities (same tolerances as the states). ns = 0 turns them off. */
int rkin_cvpath_sens(rkin_cvpath *c, const double *dir, size_t ns,
                     double *S, const double *drate, double *dq,
                     rkin_err *err);

/* For a steady state inside a run with sensitivities (steady.c): hold 1
 * pauses them (the states' Newton iterations over the dosing interval
 * need none, and must not overwrite the run's S), hold 0 resumes them;
 * rkin_cvpath_sens_scratch(c, S) makes the advances that follow carry S
 * instead of the run's S (no input-rate derivatives, no integrals' sensitivities) until it is called
 * with NULL, which restores the run's. */
void rkin_cvpath_sens_hold(rkin_cvpath *c, int hold);
void rkin_cvpath_sens_scratch(rkin_cvpath *c, double *S);
/* 1 when a solver of m with option jac uses the sparse form (AUTO: from
 * RKIN_SPARSE_MIN_STATES states on, when at most half the Jacobian's
 * entries are structural nonzeros). */
int rkin_cvpath_want_sparse(const rkin_model *m, rkin_jacobian jac);

/* Model events (the model's rkin_model_events): 1 when it has any; a
 * run starts them once (every trigger at its initial value, nothing
 * pending), after the parameters are set (rkin_cvpath_begin);
 * rkin_cvpath_events_at fires and executes them at a time the walk stops
 * at (t0, doses: y changed in place); rkin_cvpath_advance does the same
 * at every root, pending execution and output time inside a segment. */
int rkin_cvpath_has_events(const rkin_cvpath *c);
void rkin_cvpath_events_start(rkin_cvpath *c);
/* The event state carried between runs (solve/mevent_run.h). */
int rkin_cvpath_events_restore(rkin_cvpath *c, double t0,
                               const rkin_mevcarry *k, rkin_err *err);
int rkin_cvpath_events_save(const rkin_cvpath *c, double t1,
                            rkin_mevcarry *k, rkin_err *err);
/* With sensitivities on (rkin_cvpath_sens), both carry S across the
 * events (mevent_run.h); at a walk's stop the instant's time does not
 * move (a dose time, t0) unless why_not (non-NULL) says it does and why:
 * an event firing or executing there is then refused. */
int rkin_cvpath_events_at(rkin_cvpath *c, double t, double *y,
                          const char *why_not, rkin_err *err);

/* 1 when c factors a sparse Newton matrix with KLU, 0 for dense LU. */
int rkin_cvpath_sparse(const rkin_cvpath *c);

/* For the tests: the Newton matrix I - gamma J at (t, y) of the system
 * rkin_cvpath_begin set up (y: n states then nq integrals), built as a
 * step builds it, expanded to dense column-major nsys x nsys in M. */
int rkin_cvpath_newton_matrix(rkin_cvpath *c, double t, const double *y,
                              double gamma, double *M, rkin_err *err);

#endif
