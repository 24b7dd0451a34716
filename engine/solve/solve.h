/* solve.h - integrate a model through a dosing schedule.
 *
 * Two paths: CVODES (BDF, dense exact Jacobian from the model's tape) for
 * any model, and the exact path for linear constant-coefficient models
 * (matrix exponential; TIA from the same augmented system). A solver is a
 * per-thread workspace for one model, reused across patients.
 *
 * Semantics of a run over [t0, t1]:
 * - Dose times are absolute. Boluses at times in [t0, t1) are applied (one
 *   at t0 is added to y0; one at t1 belongs to the next run). Infusions
 *   are rates: the rate in force over [t0, t1] counts every infusion start
 *   and end up to that time, also those before t0, so consecutive runs
 *   [a, b], [b, c] give the same result as one run [a, c].
 * - At equal times infusion ends apply before starts, starts before
 *   boluses; an output at a dose time reports the state AFTER the dose
 *   (before it with req->pre_dose).
 * - Event records (dosing.h): a reset (EVID 3/4) sets every amount and
 *   rate to 0 and cancels the infusions of earlier records still running
 *   (their ADDL copies still come). SS = 1 resets, cancels every pending
 *   event of earlier records, and sets the amounts to the periodic steady
 *   state just before the record's dose: the solution of
 *   x = Phi(x), Phi the map over one interval ii of the dose repeated
 *   (an infusion longer than ii overlaps: (m+1) infusions run over the
 *   first rem h of an interval, m over the rest). SS = 2 adds that steady
 *   state (computed from zero) to the amounts. The exact path solves
 *   (I - e^(A ii)) x = Phi(0) by LU; CVODES runs Newton on x - Phi(x) with
 *   a finite-difference Jacobian of Phi until the step is below
 *   10 (rtol |x| + atol), and reports RKIN_ESOLVER with the number of
 *   iterations when it does not converge. Both that stop
 *   and the integration scale with atol: amounts left from earlier doses
 *   that are small against atol (a long II) need a smaller atol (the
 *   steady-state cohort, tests/bench/bench_ss.c, takes 1e-12 MBq). The constant-infusion steady
 *   state (ii = 0) solves f(x) + r = 0 by Newton with the model's exact
 *   Jacobian (one LU solve of A x = -r for a linear model).
 * - Output times must lie in [t0, t1] and be non-decreasing; NaN times,
 *   a NaN y0 or parameter, an unknown cmt or TIA index are RKIN_EINVAL with
 *   a message naming the index and the value.
 * - The integration stops exactly at every dose event and at t1; outputs
 *   in between are interpolated (CVODES) or exact (exact path).
 * - y0 and res->y_end may be the same array.
 * - AUTO takes the exact path when the model is linear, else CVODES.
 *   Outputs, any function of states, parameters and time, are evaluated
 *   at the output times after the solve and never change the path; only a
 *   run asking for the TIA of an output that is not linear in the states
 *   (no closed form) integrates with CVODES (rkin_solver_path then says
 *   so; sensitivities stay exact). On the CVODES path a linear
 *   model's Jacobian is computed once per parameter vector. The exact path
 *   caches e^(M h) per segment length for the same parameters, so a
 *   patient's repeated cycles cost one exponential. */
#ifndef RKIN_SOLVE_H
#define RKIN_SOLVE_H

#include <stddef.h>

#include "core/dosing.h"
#include "core/err.h"
#include "core/model.h"

typedef enum {
  RKIN_PATH_AUTO,   /* exact when the model is linear, else CVODES */
  RKIN_PATH_CVODES,
  RKIN_PATH_EXACT   /* RKIN_ENOTLINEAR for a nonlinear model */
} rkin_path;

/* The Newton matrix of the CVODES path: dense LU, or compressed-column
 * from the Jacobian's sparsity pattern (rkin_model_jac_nnz) with
 * SUNDIALS' KLU solver. AUTO takes sparse from RKIN_SPARSE_MIN_STATES
 * states on when at most half the Jacobian's entries are structural
 * nonzeros: on tests/large.h's model sparse was faster from 10 states on
 * (1.6x at 10, 6x at 200), dense LU faster on the 6-state peer model
 * (tests/bench/bench_large and a cohort of the peer). */
typedef enum {
  RKIN_JAC_AUTO,
  RKIN_JAC_DENSE,
  RKIN_JAC_SPARSE
} rkin_jacobian;

#define RKIN_SPARSE_MIN_STATES 10

typedef struct {
  double rtol;      /* relative tolerance, CVODES path (default 1e-6) */
  double atol;      /* absolute tolerance, every state (default 1e-9) */
  long max_steps;   /* CVODES steps per output interval (default 100000) */
  rkin_path path;   /* default RKIN_PATH_AUTO */
  rkin_jacobian jacobian;   /* default RKIN_JAC_AUTO */
} rkin_solve_opts;

void rkin_solve_opts_default(rkin_solve_opts *o);

/* The state of a model's events (core/mevent.h) carried from one run to
 * the next (a regimen's cycles): the triggers' values at the end of a run
 * and its executions still pending (a delay running past its end), which
 * the next run starts with, at the same offsets from its t0. */
typedef struct rkin_mevcarry rkin_mevcarry;
rkin_mevcarry *rkin_mevcarry_new(void);
void rkin_mevcarry_free(rkin_mevcarry *c);
/* Forgets what c holds: the next run starts afresh. */
void rkin_mevcarry_clear(rkin_mevcarry *c);
/* The executions c carries. */
size_t rkin_mevcarry_pending(const rkin_mevcarry *c);
/* dst becomes a copy of src (events of model m; pending executions with
 * their values and sensitivities): a plan evaluation restarting from a
 * cycle boundary takes up the events from there. RKIN_ENOMEM or 0. */
int rkin_mevcarry_copy(rkin_mevcarry *dst, const rkin_mevcarry *src,
                       const rkin_model *m, rkin_err *err);

typedef struct {
  double t0, t1;              /* integrate over [t0, t1], h */
  const double *y0;           /* n_states at t0; NULL: all zero */
  const double *params;       /* n_params; NULL: model defaults */
  const rkin_dosing *dosing;  /* NULL: none. Events in [t0, t1) apply */
  const double *times;        /* output times in [t0, t1], non-decreasing */
  size_t n_times;
  const int *tia;             /* quantities integrated over [t0, t1]:
                                 i < n_states: state i; n_states + k:
                                 output k */
  size_t n_tia;
  int events_at_t1;           /* 1: events at t1 apply too (a run that is
                                 not continued: an output at t1 sees a
                                 dose there, like any other output) */
  int pre_dose;               /* 1: an output at an event time reports the
                                 state BEFORE that time's events */
  const int *out_rec;         /* NULL, or n_times record counts (dataset
                                 order): output k sees, of the events at
                                 its time, those of dose records
                                 < out_rec[k] (ADDL copies of earlier
                                 records included); the others apply
                                 after it. Non-decreasing at equal times.
                                 Overrides pre_dose. */
  /* Piecewise-constant parameters (time-varying covariates): from each
   * of n_pw switch times pw_t (non-decreasing, finite; those after t1
   * are ignored) the parameters are the row k of pw_params (n_pw x
   * n_params) until the next switch; before pw_t[0] they are params.
   * The integrator stops at every switch and restarts with the new
   * parameters (the states are continuous; no smoothing). The events
   * and outputs at a switch time see the parameters before it
   * (pw_locf 0: NONMEM's "next observation carried backward", a
   * record's values advance the system to that record) or after it
   * (pw_locf 1: last observation carried forward); a steady state is
   * computed with the parameters its events see. rec_params (NULL: the
   * run's params) gives each dose record of dosing its own parameters
   * for the model's dose modifiers (F, ALAG, R, D; row i for record i).
   * rkin_solver_run_sens / _sensx, on either path: pw_dir (n_pw x
   * n_dir x n_params) are the directions after each switch (NULL: dir
   * throughout); the states and their sensitivities are continuous
   * across a switch, which changes the directions the sensitivity
   * equations' df/dp is taken along. rec_dir (n_records x n_dir x
   * n_params; NULL: dir; used with rec_params) are each dose record's
   * directions, with which
   * its modifiers (F, ALAG, R, D at rec_params) move: the jumps at its
   * doses use its own modifiers' values and derivatives. */
  size_t n_pw;
  const double *pw_t;
  const double *pw_params;
  const double *pw_dir;
  int pw_locf;
  const double *rec_params;
  const double *rec_dir;
  /* Model events carried between consecutive runs (NULL: each run starts
   * with nothing pending and every trigger at its initial value): a run
   * starts from what ev_carry holds (when it holds anything) and leaves
   * its end state there (rkin_solver_run on the CVODES path). */
  rkin_mevcarry *ev_carry;
} rkin_solve_req;

typedef struct {
  double *y;        /* n_times x n_states, row-major; NULL: not wanted.
                       At a dose time the value after the dose. */
  double *out;      /* n_times x n_outputs; NULL: not wanted */
  double *tia;      /* n_tia integrals (MBq·h for activities) */
  double *y_end;    /* n_states at t1; NULL: not wanted */
  long n_steps;     /* CVODES internal steps taken (0 on the exact path) */
} rkin_solve_res;

typedef struct rkin_solver rkin_solver;

rkin_solver *rkin_solver_new(const rkin_model *m, const rkin_solve_opts *o,
                             rkin_err *err);
void rkin_solver_free(rkin_solver *s);
/* The path of the last run (before any run: the one runs take unless a
 * run needs the AUTO fallback above); never AUTO. */
rkin_path rkin_solver_path(const rkin_solver *s);
/* The Newton matrix the CVODES path uses (options and size resolved):
 * RKIN_JAC_DENSE or RKIN_JAC_SPARSE. */
rkin_jacobian rkin_solver_jacobian(const rkin_solver *s);

/* The dose events of the last run (after the model's F, ALAG, R, D):
 * what a caller checks for doses after t1. */
const rkin_event *rkin_solver_events(const rkin_solver *s, size_t *n);

/* Runs one integration. Errors name the time, the state and, on the
 * CVODES path, the CVODES flag (CV_CONV_FAILURE, ...); a non-finite
 * derivative names the state and its expression. */
int rkin_solver_run(rkin_solver *s, const rkin_solve_req *req,
                    rkin_solve_res *res, rkin_err *err);

/* rkin_solver_run plus forward sensitivities of the
 * states and outputs along n_dir directions in parameter space (dir
 * row-major n_dir x n_params; direction d is the derivative by a scalar
 * that moves the parameters by dir[d]): dy (n_times x n_states x n_dir)
 * and dout (n_times x n_outputs x n_dir; outputs not linear in the states
 * by the chain rule through their symbolic partials), either NULL
 * when not wanted. y0 does not depend on the parameters; doses do only
 * through the model's F, ALAG, R and D (the sensitivities jump at each
 * dose, and a modelled rate forces them while it runs); a steady state
 * (SS 1 / 2 with II) carries S = (I - E)^-1 P, moved along the cycle by
 * the lag. A steady state with RATE -1 / -2 and the constant-infusion
 * steady state are RKIN_EINVAL (use finite differences then). No TIA
 * (n_tia 0). On the CVODES path as rkin_solver_run_sensx. Exact path:
 * RKIN_ERANGE when A has complex eigenvalues or nearly parallel
 * eigenvectors (not implemented): use finite differences then. */
int rkin_solver_run_sens(rkin_solver *s, const rkin_solve_req *req,
                         const double *dir, size_t n_dir,
                         rkin_solve_res *res, double *dy, double *dout,
                         rkin_err *err);

/* Forward sensitivities on either path (rkin_solver_run_sensx): along
 * n_dir directions, each a derivative by a scalar that moves the
 * parameters by dir[d] (NULL: they do not move), the initial state by
 * dy0 (n_states x n_dir, row-major; NULL: 0), and the amount and given
 * rate of each dose record by damt and drec (n_dir x n_records, record
 * order; NULL: 0). A dose amount's sensitivity is a jump of the dosed
 * state's sensitivity at the dose (F times damt for a bolus); an
 * infusion with a given rate lasts F AMT / RATE, so damt moves its end
 * and drec its rate (both together keep the duration). A record of
 * amount 0 whose damt is not 0 still gives its dose events (changing no
 * state), so its derivative is the one-sided one at 0: a bolus, or an
 * infusion of a given or modelled rate (0 h long, its length's
 * derivative F damt / RATE), jumps the dosed state's sensitivity by F
 * damt at the dose time plus ALAG; an infusion of modelled duration D
 * (RATE -2) forces it at rate F damt / D from then for D h. */
typedef struct {
  size_t n_dir;
  const double *dir;   /* n_dir x n_params, or NULL */
  const double *dy0;   /* n_states x n_dir, or NULL */
  const double *damt;  /* n_dir x n_records, or NULL */
  const double *drec;  /* n_dir x n_records, or NULL (rates > 0 only) */
} rkin_sens_req;

typedef struct {
  double *dy;      /* n_times x n_states x n_dir, or NULL */
  double *dout;    /* n_times x n_outputs x n_dir, or NULL */
  double *dtia;    /* n_tia x n_dir (TIA sensitivities), or NULL */
  double *dy_end;  /* n_states x n_dir at t1, or NULL */
} rkin_sens_res;

/* rkin_solver_run plus forward sensitivities, on either path. The exact
 * path as rkin_solver_run_sens (no TIA: a run asking for TIA
 * sensitivities on a linear model integrates with CVODES unless the path
 * is forced EXACT). The CVODES path: CVODES' forward sensitivity module
 * (staggered corrector, error control on the sensitivities with the
 * states' rtol and atol), the sensitivity right-hand side J s + (df/dp)
 * dir from the model's symbolic derivatives, TIA quantities as integrals
 * of the states' and outputs' sensitivities, resets zeroing them, jumps
 * at doses as above and for F, ALAG, R, D (a lagged bolus by f(y-) -
 * f(y+)). Steady-state records (SS 1 / 2) on the CVODES path: the
 * periodic fixed point's sensitivity S = E S + P, iterated with CVODES'
 * sensitivities over one interval and a difference Jacobian of the
 * interval map as the Newton matrix (engine/solve/steady.c). Model events
 * are crossed with their jump conditions (engine/solve/mevent_run.c). */
int rkin_solver_run_sensx(rkin_solver *s, const rkin_solve_req *req,
                          const rkin_sens_req *sq, rkin_solve_res *res,
                          rkin_sens_res *sr, rkin_err *err);

/* Exact path only: integrals from t0 to infinity of the quantities in tia
 * (same indexing as rkin_solve_req), from state y0 with no further dosing,
 * by one linear solve A x = -y0. RKIN_ERANGE when A is singular (something
 * never decays). */
int rkin_solver_tia_inf(rkin_solver *s, const double *params,
                        const double *y0, const int *tia, size_t n_tia,
                        double *out, rkin_err *err);

#endif
