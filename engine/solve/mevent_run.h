/* mevent_run.h - internal: firing a model's events during a run (SBML
 * Level 3 Version 2 core, section 4.12). Not installed.
 *
 * - An event fires when its trigger goes from false to true. Just before
 *   t0 the trigger has its initial value, so an event whose trigger is
 *   true at t0 fires there unless that value is true.
 * - Firing schedules an execution at t + delay (delay evaluated then; at
 *   once without one); with from_trigger the assignment values are
 *   evaluated at firing and kept, else at execution. An event fires again
 *   while earlier executions are pending (each one executes).
 * - A pending execution of an event that is not persistent is cancelled
 *   when its trigger turns false first.
 * - Executions due at the same time go one at a time: the highest
 *   priority (evaluated at that moment) first; events without a priority
 *   after those with one; ties in order of firing (then of the model).
 *   After each, every trigger is evaluated again (new firings join,
 *   cancelled executions leave) before the next is chosen.
 * Bounded: more than RKIN_MEV_MAX_CHAIN executions at one time (events
 * that keep firing each other) or RKIN_MEV_MAX_PENDING pending ones are an
 * error naming the event. */
#ifndef RKIN_MEVENT_RUN_H
#define RKIN_MEVENT_RUN_H

#include <stddef.h>

#include "core/err.h"
#include "core/model.h"
#include "solve/solve.h"

#define RKIN_MEV_MAX_CHAIN 100000
#define RKIN_MEV_MAX_PENDING 1000000

typedef struct rkin_mevrun rkin_mevrun;

/* NULL with err for out of memory; m must have events. */
rkin_mevrun *rkin_mevrun_new(const rkin_model *m, rkin_err *err);
void rkin_mevrun_free(rkin_mevrun *r);

/* Starts a run at t0 with parameters p (kept by pointer): nothing
 * pending, every trigger at its initial value. */
void rkin_mevrun_begin(rkin_mevrun *r, const double *p);

/* New parameters (time-varying ones) for what follows; nothing else
 * changes. */
void rkin_mevrun_params(rkin_mevrun *r, const double *p);

/* At time t with state y (n states, changed in place): fires the events
 * whose triggers turned true since the last call, cancels what turned
 * false, and executes everything due by t. *changed is 1 when y or the
 * pending executions changed (the integrator restarts then). yp (NULL:
 * y) is the state at tp, just after t, where the triggers are first
 * evaluated: at a root the integrator locates a crossing to within a
 * tolerance and may return just before it; the events still happen at t,
 * with the values at t. */
int rkin_mevrun_at(rkin_mevrun *r, double t, double *y, double tp,
                   const double *yp, int *changed, rkin_err *err);

/* Sensitivities across the events of one instant (rkin_mevrun_at_sens).
 * With x(t; theta) the state and S = dx/dtheta at fixed t, an event
 * happening at tau(theta) makes the total derivative of the state at the
 * instant sigma = S + f dtau continuous except where an assignment sets a
 * state: there sigma_i = dv_i, the total derivative of the assigned value
 * v = h(x, p, t) (dv = h_x sigma + h_p dp + h_t dtau, at firing for
 * values kept from the trigger time, else at execution). After the
 * instant S+ = sigma - f(x+) dtau. An execution's time T = tau_fire +
 * delay(x, p, t) has dT = dtau_fire + delay_x sigma + delay_p dp +
 * delay_t dtau_fire, kept with the pending execution (and carried with
 * it across runs). The instant's dtau comes from the caller at a root
 * (-(g_x S + g_p dp) / (g_x f + g_t)), else from the executions due (a
 * pending one's dT), else 0 (a dose time, t0). */
typedef int (*rkin_mev_rhs_fn)(void *ctx, double t, const double *y,
                               double *f);
typedef struct {
  size_t ns;              /* directions */
  const double *dir;      /* ns x n_params row-major: dp / dtheta (NULL:
                             the parameters do not move) */
  double *S;              /* n x ns row-major, in and out */
  int dtau_known;         /* 1: dtau holds the instant's dtau on entry */
  double *dtau;           /* ns: in (dtau_known) and out */
  const char *why_not;    /* non-NULL: the instant's dtau is unavailable
                             (why); an event firing or executing then is
                             refused, naming it and this */
  rkin_mev_rhs_fn rhs;    /* the right-hand side (inputs included) */
  void *ctx;
} rkin_mevsens;

/* rkin_mevrun_at that also carries sx->S across the instant (above). */
int rkin_mevrun_at_sens(rkin_mevrun *r, double t, double *y, double tp,
                        const double *yp, rkin_mevsens *sx, int *changed,
                        rkin_err *err);

/* The earliest pending execution time, HUGE_VAL when none. */
double rkin_mevrun_next(const rkin_mevrun *r);

/* The run's event state at its end t_end into c (rkin_mevcarry, solve.h):
 * the triggers' last values and the pending executions, their times made
 * relative to t_end. */
int rkin_mevrun_save(const rkin_mevrun *r, double t_end, rkin_mevcarry *c,
                     rkin_err *err);
/* After rkin_mevrun_begin: the state c carries (nothing when c holds
 * none), pending times moved to t0 + their offset. */
int rkin_mevrun_restore(rkin_mevrun *r, double t0, const rkin_mevcarry *c,
                        rkin_err *err);

#endif
