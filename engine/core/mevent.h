/* mevent.h - model events: discrete changes of states when a condition
 * on the states and time becomes true (SBML events), compiled with the
 * model (rkin_model_set_events). The firing rules (when a trigger counts,
 * delays, priorities) are the solver's (solve/mevent_run.h); this file
 * holds the compiled expressions and evaluates them.
 *
 * An event: a trigger (a condition of t, y, p), an optional delay (h) and
 * priority (numbers of t, y, p), and assignments "state i becomes value"
 * (the values are expressions of t, y, p, all evaluated before any is
 * made). The comparisons in the triggers that depend on states or time
 * are root functions a - b (rkin_mevents_roots): where one changes sign a
 * trigger may change, so the integrator stops there. */
#ifndef RKIN_MEVENT_H
#define RKIN_MEVENT_H

#include <stddef.h>

#include "core/err.h"
#include "core/expr.h"

typedef struct {
  const char *name;        /* for messages (SBML id) */
  rkin_node trigger;       /* a condition (comparison, AND, OR, NOT) */
  int initial_value;       /* the trigger's value just before t0 (1: an
                              event true at t0 does not fire there) */
  int persistent;          /* 0: a pending execution is cancelled when
                              the trigger turns false before it */
  int from_trigger;        /* 1: the values are evaluated when the
                              trigger fires, 0: when the event executes */
  rkin_node delay;         /* h, evaluated when the trigger fires; -1:
                              none (executes at once) */
  rkin_node priority;      /* evaluated when events compete; -1: none */
  size_t n_assign;
  const int *target;       /* n_assign state indices */
  const rkin_node *value;  /* n_assign new values */
} rkin_model_event;

typedef struct rkin_mevents rkin_mevents;

/* Compiles ev[0..n-1] from nodes of g (n_states states, n_params
 * parameters; state_names for messages). RKIN_EINVAL naming the event for
 * a trigger that is not a condition, a target out of range or assigned
 * twice, an invalid node. */
rkin_mevents *rkin_mevents_compile(rkin_graph *g, const char *model,
                                   size_t n_states, size_t n_params,
                                   const char *const *state_names,
                                   const rkin_model_event *ev, size_t n,
                                   rkin_err *err);
void rkin_mevents_free(rkin_mevents *e);

size_t rkin_mevents_count(const rkin_mevents *e);
const char *rkin_mevents_name(const rkin_mevents *e, size_t k);
int rkin_mevents_initial_value(const rkin_mevents *e, size_t k);
int rkin_mevents_persistent(const rkin_mevents *e, size_t k);
int rkin_mevents_from_trigger(const rkin_mevents *e, size_t k);
int rkin_mevents_has_delay(const rkin_mevents *e, size_t k);
int rkin_mevents_has_priority(const rkin_mevents *e, size_t k);
size_t rkin_mevents_nassign(const rkin_mevents *e, size_t k);
const int *rkin_mevents_targets(const rkin_mevents *e, size_t k);
/* Event k as it was given (its nodes in the model's graph; pointers into
 * e, valid while e lives): for writers (SBML, Lua) and for models made
 * from this one (a regimen's augmented model copies the nodes). */
void rkin_mevents_spec(const rkin_mevents *e, size_t k,
                       rkin_model_event *out);
/* The most assignments of one event, and scratch doubles any evaluation
 * below needs. */
size_t rkin_mevents_max_assign(const rkin_mevents *e);
size_t rkin_mevents_nwork(const rkin_mevents *e);

/* The root functions (a - b of the triggers' comparisons on states or
 * time) at (t, y, p) into g. Returns 0, or -1 - k for the first k not
 * finite. */
size_t rkin_mevents_nroots(const rkin_mevents *e);
int rkin_mevents_roots(const rkin_mevents *e, double t, const double *y,
                       const double *p, double *g, double *work);
/* Each event's trigger (1 or 0) at (t, y, p) into v; -1 - k for the first
 * trigger k that is not a number (NaN operand). */
int rkin_mevents_triggers(const rkin_mevents *e, double t, const double *y,
                          const double *p, double *v, double *work);
/* Each event's delay and priority (0 without one) at (t, y, p): dp[k]
 * the delay, dp[n + k] the priority. -1 - k for the first non-finite
 * entry k (of the 2n). */
int rkin_mevents_timing(const rkin_mevents *e, double t, const double *y,
                        const double *p, double *dp, double *work);
/* Event k's assignment values at (t, y, p) into out (n_assign); -1 - j
 * for the first non-finite value j. */
int rkin_mevents_values(const rkin_mevents *e, size_t k, double t,
                        const double *y, const double *p, double *out,
                        double *work);
/* First derivatives (for sensitivities across events), each into G as a
 * row of n_states + n_params + 1 entries: d/dy_j, then d/dp_l, then d/dt,
 * from the expressions' symbolic derivatives (rkin_expr_diff), compiled
 * with the events. rkin_mevents_droot: root function k (one row);
 * rkin_mevents_dvalues: event k's assignment values (n_assign rows);
 * rkin_mevents_ddelay: event k's delay (one row, zero without a delay).
 * Return like rkin_mevents_values (-1 - j: entry j of G not finite, G[j]
 * holding its value). */
int rkin_mevents_droot(const rkin_mevents *e, size_t k, double t,
                       const double *y, const double *p, double *G,
                       double *work);
int rkin_mevents_dvalues(const rkin_mevents *e, size_t k, double t,
                         const double *y, const double *p, double *G,
                         double *work);
int rkin_mevents_ddelay(const rkin_mevents *e, size_t k, double t,
                        const double *y, const double *p, double *G,
                        double *work);
/* The comparison k of the roots as text, for messages. */
void rkin_mevents_root_text(const rkin_mevents *e, const rkin_graph *g,
                            size_t k, const char *const *states,
                            const char *const *params, char *buf,
                            size_t size);

#endif
