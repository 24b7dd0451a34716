/* mevent.c - model events compiled to tapes: one for the triggers (as
 * numbers 1 / 0), one for the root functions of their comparisons, one
 * for delays and priorities, one per event for its assignment values (an
 * event's values are evaluated alone, when it executes). */
#include "core/mevent.h"

#include <stdlib.h>
#include <string.h>

/* First derivatives of a list of expressions in the states, parameters
 * and time, kept sparse: only the leaves each one uses are differentiated
 * (rkin_expr_diff), all derivatives on one tape; var[k] says which
 * variable output k is the derivative in (j < ns: state j, ns + l:
 * parameter l, ns + np: time), off[i] where expression i's start. */
typedef struct {
  size_t nx;           /* expressions */
  size_t *off;         /* nx + 1 */
  int *var;
  rkin_tape *tape;
} dgrad;

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
  dgrad dvalues, ddelay;   /* derivatives of the values and the delay */
} mev;

struct rkin_mevents {
  size_t n, max_assign, nwork, nroots, ns, np;
  dgrad droots;              /* derivatives of the root functions */
  mev *ev;
  rkin_node *cmp;            /* the comparisons behind the roots */
  rkin_tape *trig, *roots, *timing;
};

static void dgrad_free(dgrad *d)
{
  free(d->off);
  free(d->var);
  rkin_tape_free(d->tape);
}

/* The derivatives of x[0..nx-1] (nodes of g) in every variable each one
 * depends on. */
static int dgrad_make(rkin_graph *g, const rkin_node *x, size_t nx,
                      size_t ns, size_t np, dgrad *d, rkin_err *err)
{
  rkin_node *dn = NULL, tn = rkin_expr_time(g);
  size_t i, k, cap = 0, nd = 0;
  int rc = RKIN_OK, kind;
  d->nx = nx;
  if (!(d->off = malloc((nx + 1) * sizeof *d->off))) goto nomem;
  for (i = 0; i < nx; i++) {
    d->off[i] = nd;
    for (kind = 0; kind < 3; kind++) {
      int *lv = NULL, one = 0;
      size_t nl = 0;
      if (kind == 2) {
        if (!rkin_expr_has_time(g, x[i])) continue;
        lv = &one;
        nl = 1;
      } else if (rkin_expr_leaves(g, x[i], kind ? RKIN_OP_PARAM
                                  : RKIN_OP_STATE, &lv, &nl)) {
        goto nomem;
      }
      if (nd + nl > cap) {
        size_t nc = 2 * (nd + nl) + 8;
        rkin_node *a = realloc(dn, nc * sizeof *a);
        int *b = realloc(d->var, nc * sizeof *b);
        if (a) dn = a;
        if (b) d->var = b;
        if (!a || !b) {
          if (kind < 2) free(lv);
          goto nomem;
        }
        cap = nc;
      }
      for (k = 0; k < nl; k++) {
        rkin_node leaf = kind == 0 ? rkin_expr_state(g, lv[k])
                         : kind == 1 ? rkin_expr_param(g, lv[k]) : tn;
        dn[nd] = rkin_expr_diff(g, x[i], leaf);
        d->var[nd++] = kind == 0 ? lv[k] : kind == 1 ? (int)ns + lv[k]
                                                     : (int)(ns + np);
      }
      if (kind < 2) free(lv);
    }
  }
  d->off[nx] = nd;
  if ((rc = rkin_graph_error(g, err))) goto out;
  if (!(d->tape = rkin_tape_compile(g, dn, nd, err))) rc = err ? err->code
                                                           : RKIN_ENOMEM;
out:
  free(dn);
  return rc;
nomem:
  free(dn);
  return rkin_err_set(err, RKIN_ENOMEM, "out of memory differentiating "
                      "the events");
}

/* G (nx x (ns + np + 1), row-major) = the derivatives at (t, y, p). */
static int dgrad_eval(const rkin_mevents *e, const dgrad *d, double t,
                      const double *y, const double *p, double *G,
                      double *work)
{
  size_t w = e->ns + e->np + 1, i, k;
  double *v = work + rkin_tape_nwork(d->tape);
  int rc;
  memset(G, 0, d->nx * w * sizeof *G);
  if (!d->off[d->nx]) return 0;
  rc = rkin_tape_eval(d->tape, t, y, p, work, v);
  if (rc) {
    /* the entry of G that is not finite, holding its value (for the
     * message), as the header says; the tape's outputs are packed */
    size_t j = (size_t)(-1 - rc), g;
    for (i = 0; i + 1 < d->nx && j >= d->off[i + 1]; i++)
      ;
    g = i * w + (size_t)d->var[j];
    G[g] = v[j];
    return -1 - (int)g;
  }
  for (i = 0; i < d->nx; i++)
    for (k = d->off[i]; k < d->off[i + 1]; k++)
      G[i * w + (size_t)d->var[k]] = v[k];
  return 0;
}

static size_t dgrad_nwork(const dgrad *d)
{
  return d->tape ? rkin_tape_nwork(d->tape) + d->off[d->nx] + 1 : 0;
}

void rkin_mevents_free(rkin_mevents *e)
{
  size_t k;
  if (!e) return;
  dgrad_free(&e->droots);
  for (k = 0; e->ev && k < e->n; k++) {
    dgrad_free(&e->ev[k].dvalues);
    dgrad_free(&e->ev[k].ddelay);
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
  e->ns = n_states;
  e->np = n_params;
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
    if (dgrad_make(g, v->value, v->n_assign, n_states, n_params,
                   &d->dvalues, err)
        || dgrad_make(g, &tim[k], 1, n_states, n_params, &d->ddelay, err))
      goto fail;
    e->nwork = bigger(e->nwork, bigger(dgrad_nwork(&d->dvalues),
                                       dgrad_nwork(&d->ddelay)));
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
      || !(e->timing = rkin_tape_compile(g, tim, 2 * n, err))
      || dgrad_make(g, rt, e->nroots, n_states, n_params, &e->droots, err))
    goto fail;
  e->nwork = bigger(e->nwork, dgrad_nwork(&e->droots) + e->nroots
                               * (n_states + n_params + 1));
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

int rkin_mevents_droot(const rkin_mevents *e, size_t k, double t,
                       const double *y, const double *p, double *G,
                       double *work)
{
  /* one root's row: the tape gives all; k selects */
  size_t w = e->ns + e->np + 1, j;
  double *all = work + dgrad_nwork(&e->droots);
  int rc = dgrad_eval(e, &e->droots, t, y, p, all, work);
  if (rc) return rc;
  for (j = 0; j < w; j++) G[j] = all[k * w + j];
  return 0;
}

int rkin_mevents_dvalues(const rkin_mevents *e, size_t k, double t,
                         const double *y, const double *p, double *G,
                         double *work)
{
  return dgrad_eval(e, &e->ev[k].dvalues, t, y, p, G, work);
}

int rkin_mevents_ddelay(const rkin_mevents *e, size_t k, double t,
                        const double *y, const double *p, double *G,
                        double *work)
{
  return dgrad_eval(e, &e->ev[k].ddelay, t, y, p, G, work);
}
