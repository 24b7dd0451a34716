/* mevent.c - model events compiled to tapes: one for the triggers (as
 * numbers 1 / 0), one for the root functions of their comparisons, one
 * for delays and priorities, one per event for its assignment values (an
 * event's values are evaluated alone, when it executes). */
#include "core/mevent.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
  char *name;
  int initial_value, persistent, from_trigger, has_delay, has_priority;
  size_t n_assign;
  int *target;
  rkin_tape *values;
  /* the event as given (nodes of the model's graph), for writers and
   * for models built from this one (rkin_mevents_spec) */
  rkin_node trigger, delay, priority;
  rkin_node *value;
} mev;

struct rkin_mevents {
  size_t n, max_assign, nwork, nroots;
  mev *ev;
  rkin_node *cmp;            /* the comparisons behind the roots */
  rkin_tape *trig, *roots, *timing;
};

void rkin_mevents_free(rkin_mevents *e)
{
  size_t k;
  if (!e) return;
  for (k = 0; e->ev && k < e->n; k++) {
    free(e->ev[k].name);
    free(e->ev[k].target);
    free(e->ev[k].value);
    rkin_tape_free(e->ev[k].values);
  }
  free(e->ev);
  free(e->cmp);
  rkin_tape_free(e->trig);
  rkin_tape_free(e->roots);
  rkin_tape_free(e->timing);
  free(e);
}

static size_t bigger(size_t a, size_t b)
{
  return a > b ? a : b;
}

/* A node of the graph usable as an event's expression. */
static int node_ok(rkin_graph *g, rkin_node x, size_t ns, size_t np)
{
  return x >= 0 && (size_t)x < rkin_graph_size(g)
         && rkin_expr_max_state(g, x) < (int)ns
         && rkin_expr_max_param(g, x) < (int)np;
}

static int check(rkin_graph *g, const char *model, size_t ns, size_t np,
                 const char *const *snames, const rkin_model_event *v,
                 rkin_err *err)
{
  const char *nm = v->name ? v->name : "?";
  size_t j, i;
  if (!node_ok(g, v->trigger, ns, np) || !rkin_expr_is_bool(g, v->trigger))
    return rkin_err_set(err, RKIN_EINVAL, "model '%s', event '%s': the "
                        "trigger is not a valid condition", model, nm);
  if (v->delay >= 0 && (!node_ok(g, v->delay, ns, np)
                        || rkin_expr_is_bool(g, v->delay)))
    return rkin_err_set(err, RKIN_EINVAL, "model '%s', event '%s': the "
                        "delay is not a valid number expression", model, nm);
  if (v->priority >= 0 && (!node_ok(g, v->priority, ns, np)
                           || rkin_expr_is_bool(g, v->priority)))
    return rkin_err_set(err, RKIN_EINVAL, "model '%s', event '%s': the "
                        "priority is not a valid number expression", model,
                        nm);
  for (j = 0; j < v->n_assign; j++) {
    int t = v->target[j];
    if (t < 0 || (size_t)t >= ns)
      return rkin_err_set(err, RKIN_EINVAL, "model '%s', event '%s': "
                          "assignment %zu targets state %d (expected 0..%zu)",
                          model, nm, j + 1, t, ns ? ns - 1 : 0);
    if (!node_ok(g, v->value[j], ns, np) || rkin_expr_is_bool(g, v->value[j]))
      return rkin_err_set(err, RKIN_EINVAL, "model '%s', event '%s': the "
                          "value assigned to '%s' is not a valid number "
                          "expression", model, nm, snames[t]);
    for (i = 0; i < j; i++)
      if (v->target[i] == t)
        return rkin_err_set(err, RKIN_EINVAL, "model '%s', event '%s': "
                            "state '%s' is assigned twice", model, nm,
                            snames[t]);
  }
  return RKIN_OK;
}

rkin_mevents *rkin_mevents_compile(rkin_graph *g, const char *model,
                                   size_t n_states, size_t n_params,
                                   const char *const *state_names,
                                   const rkin_model_event *ev, size_t n,
                                   rkin_err *err)
{
  rkin_mevents *e = calloc(1, sizeof *e);
  rkin_node *trig = NULL, *tim = NULL, *rt = NULL;
  size_t k;
  if (!e || !(e->ev = calloc(n ? n : 1, sizeof *e->ev))
      || !(trig = malloc((n ? n : 1) * sizeof *trig))
      || !(tim = malloc((2 * n + 1) * sizeof *tim)))
    goto nomem;
  e->n = n;
  for (k = 0; k < n; k++) {
    const rkin_model_event *v = &ev[k];
    mev *d = &e->ev[k];
    if (check(g, model, n_states, n_params, state_names, v, err)) goto fail;
    if (!(d->name = strdup(v->name ? v->name : "?"))
        || !(d->target = malloc((v->n_assign ? v->n_assign : 1)
                                * sizeof *d->target))
        || !(d->value = malloc((v->n_assign ? v->n_assign : 1)
                               * sizeof *d->value)))
      goto nomem;
    memcpy(d->target, v->target, v->n_assign * sizeof *d->target);
    memcpy(d->value, v->value, v->n_assign * sizeof *d->value);
    d->trigger = v->trigger;
    d->delay = v->delay >= 0 ? v->delay : -1;
    d->priority = v->priority >= 0 ? v->priority : -1;
    d->n_assign = v->n_assign;
    d->initial_value = v->initial_value != 0;
    d->persistent = v->persistent != 0;
    d->from_trigger = v->from_trigger != 0;
    d->has_delay = v->delay >= 0;
    d->has_priority = v->priority >= 0;
    e->max_assign = bigger(e->max_assign, v->n_assign);
    trig[k] = rkin_expr_ifelse(g, v->trigger, rkin_expr_const(g, 1),
                               rkin_expr_const(g, 0));
    tim[k] = d->has_delay ? v->delay : rkin_expr_const(g, 0);
    tim[n + k] = d->has_priority ? v->priority : rkin_expr_const(g, 0);
    if (rkin_graph_error(g, err)) goto fail;
    if (!(d->values = rkin_tape_compile(g, v->value, v->n_assign, err)))
      goto fail;
    e->nwork = bigger(e->nwork, rkin_tape_nwork(d->values));
  }
  {
    /* the comparisons of all triggers (rkin_expr_switches takes nodes) */
    rkin_node *tn = malloc((n ? n : 1) * sizeof *tn);
    if (!tn) goto nomem;
    for (k = 0; k < n; k++) tn[k] = ev[k].trigger;
    k = (size_t)rkin_expr_switches(g, tn, n, &e->cmp, &e->nroots);
    free(tn);
    if (k) goto nomem;
  }
  if (!(rt = malloc((e->nroots ? e->nroots : 1) * sizeof *rt))) goto nomem;
  for (k = 0; k < e->nroots; k++)
    rt[k] = rkin_expr_binary(g, RKIN_OP_SUB, rkin_expr_arg(g, e->cmp[k], 0),
                             rkin_expr_arg(g, e->cmp[k], 1));
  if (rkin_graph_error(g, err)) goto fail;
  if (!(e->trig = rkin_tape_compile(g, trig, n, err))
      || !(e->roots = rkin_tape_compile(g, rt, e->nroots, err))
      || !(e->timing = rkin_tape_compile(g, tim, 2 * n, err)))
    goto fail;
  e->nwork = bigger(e->nwork, bigger(rkin_tape_nwork(e->trig),
                                     bigger(rkin_tape_nwork(e->roots),
                                            rkin_tape_nwork(e->timing))));
  free(trig);
  free(tim);
  free(rt);
  return e;
nomem:
  rkin_err_set(err, RKIN_ENOMEM, "model '%s': out of memory compiling its "
               "events", model);
fail:
  free(trig);
  free(tim);
  free(rt);
  rkin_mevents_free(e);
  return NULL;
}

size_t rkin_mevents_count(const rkin_mevents *e) { return e ? e->n : 0; }
const char *rkin_mevents_name(const rkin_mevents *e, size_t k)
{
  return e->ev[k].name;
}
int rkin_mevents_initial_value(const rkin_mevents *e, size_t k)
{
  return e->ev[k].initial_value;
}
int rkin_mevents_persistent(const rkin_mevents *e, size_t k)
{
  return e->ev[k].persistent;
}
int rkin_mevents_from_trigger(const rkin_mevents *e, size_t k)
{
  return e->ev[k].from_trigger;
}
int rkin_mevents_has_delay(const rkin_mevents *e, size_t k)
{
  return e->ev[k].has_delay;
}
int rkin_mevents_has_priority(const rkin_mevents *e, size_t k)
{
  return e->ev[k].has_priority;
}
size_t rkin_mevents_nassign(const rkin_mevents *e, size_t k)
{
  return e->ev[k].n_assign;
}
const int *rkin_mevents_targets(const rkin_mevents *e, size_t k)
{
  return e->ev[k].target;
}
void rkin_mevents_spec(const rkin_mevents *e, size_t k,
                       rkin_model_event *out)
{
  const mev *d = &e->ev[k];
  out->name = d->name;
  out->trigger = d->trigger;
  out->initial_value = d->initial_value;
  out->persistent = d->persistent;
  out->from_trigger = d->from_trigger;
  out->delay = d->delay;
  out->priority = d->priority;
  out->n_assign = d->n_assign;
  out->target = d->target;
  out->value = d->value;
}
size_t rkin_mevents_max_assign(const rkin_mevents *e)
{
  return e->max_assign;
}
size_t rkin_mevents_nwork(const rkin_mevents *e)
{
  return e->nwork;
}
size_t rkin_mevents_nroots(const rkin_mevents *e)
{
  return e ? e->nroots : 0;
}

int rkin_mevents_roots(const rkin_mevents *e, double t, const double *y,
                       const double *p, double *g, double *work)
{
  return e->nroots ? rkin_tape_eval(e->roots, t, y, p, work, g) : 0;
}

int rkin_mevents_triggers(const rkin_mevents *e, double t, const double *y,
                          const double *p, double *v, double *work)
{
  return e->n ? rkin_tape_eval(e->trig, t, y, p, work, v) : 0;
}

int rkin_mevents_timing(const rkin_mevents *e, double t, const double *y,
                        const double *p, double *dp, double *work)
{
  return e->n ? rkin_tape_eval(e->timing, t, y, p, work, dp) : 0;
}

int rkin_mevents_values(const rkin_mevents *e, size_t k, double t,
                        const double *y, const double *p, double *out,
                        double *work)
{
  return e->ev[k].n_assign
             ? rkin_tape_eval(e->ev[k].values, t, y, p, work, out) : 0;
}

void rkin_mevents_root_text(const rkin_mevents *e, const rkin_graph *g,
                            size_t k, const char *const *states,
                            const char *const *params, char *buf,
                            size_t size)
{
  if (k >= e->nroots) {
    if (size) buf[0] = '\0';
    return;
  }
  rkin_expr_format(g, e->cmp[k], states, params, buf, size);
}
