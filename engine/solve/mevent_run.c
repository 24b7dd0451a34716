/* mevent_run.c - the pending executions of a model's events and the
 * rules that fire, cancel and order them (mevent_run.h). */
#include "solve/mevent_run.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  size_t ev;
  double t;             /* execution time, h */
  unsigned long seq;    /* firing order */
  double *vals;         /* values kept from the firing, or NULL */
  /* with sensitivities (rkin_mevrun_at_sens): ns directions, dT (ns) the
   * total derivative of t, dv (n_assign x ns) of the kept values */
  size_t ns;
  double *dT, *dv;
} pend;

struct rkin_mevrun {
  const rkin_model *m;
  const rkin_mevents *e;
  size_t ne, na;
  const double *p;
  unsigned char *prev;  /* each trigger at the last evaluation */
  double *trig, *dp, *vals, *work;
  double *yp;           /* the state just past a root (rkin_mevrun_at) */
  size_t n;
  int dp_t_valid;       /* dp holds the values at the current (t, y) */
  pend *q;
  size_t nq, cap;
  unsigned long seq;
  /* sensitivities of the current instant (NULL: none asked) */
  rkin_mevsens *sx;
  size_t np, ns_cap;
  double *sig;          /* n x ns: total derivative of the state */
  double *fv;           /* n: right-hand side */
  double *G;            /* max(na, 1) x (n + np + 1): derivatives */
  double *dvs;          /* na x ns */
};

static void pend_free(pend *q)
{
  free(q->vals);
  free(q->dT);
  free(q->dv);
  q->vals = q->dT = q->dv = NULL;
}

void rkin_mevrun_free(rkin_mevrun *r)
{
  size_t k;
  if (!r) return;
  for (k = 0; k < r->nq; k++) pend_free(&r->q[k]);
  free(r->q);
  free(r->sig);
  free(r->fv);
  free(r->G);
  free(r->dvs);
  free(r->prev);
  free(r->trig);
  free(r->dp);
  free(r->vals);
  free(r->work);
  free(r->yp);
  free(r);
}

rkin_mevrun *rkin_mevrun_new(const rkin_model *m, rkin_err *err)
{
  rkin_mevrun *r = calloc(1, sizeof *r);
  size_t nw;
  if (!r) goto nomem;
  r->m = m;
  r->e = rkin_model_events(m);
  r->ne = rkin_mevents_count(r->e);
  r->na = r->e ? rkin_mevents_max_assign(r->e) : 0;
  nw = rkin_model_nwork(m);
  if (r->e && rkin_mevents_nwork(r->e) > nw) nw = rkin_mevents_nwork(r->e);
  r->prev = calloc(r->ne + 1, 1);
  r->trig = malloc((r->ne + 1) * sizeof *r->trig);
  r->dp = malloc((2 * r->ne + 1) * sizeof *r->dp);
  r->vals = malloc((r->na + 1) * sizeof *r->vals);
  r->work = malloc((nw + 1) * sizeof *r->work);
  r->n = rkin_model_nstates(m);
  r->np = rkin_model_nparams(m);
  r->yp = malloc((r->n + 1) * sizeof *r->yp);
  if (!r->yp || !r->prev || !r->trig || !r->dp || !r->vals || !r->work) goto nomem;
  return r;
nomem:
  rkin_mevrun_free(r);
  rkin_err_set(err, RKIN_ENOMEM, "model '%s': out of memory for its events",
               rkin_model_name(m));
  return NULL;
}

void rkin_mevrun_begin(rkin_mevrun *r, const double *p)
{
  size_t k;
  for (k = 0; k < r->nq; k++) pend_free(&r->q[k]);
  r->nq = 0;
  r->seq = 0;
  r->p = p;
  for (k = 0; k < r->ne; k++)
    r->prev[k] = (unsigned char)rkin_mevents_initial_value(r->e, k);
}

void rkin_mevrun_params(rkin_mevrun *r, const double *p)
{
  r->p = p;
}

double rkin_mevrun_next(const rkin_mevrun *r)
{
  double t = HUGE_VAL;
  size_t k;
  for (k = 0; k < r->nq; k++)
    if (r->q[k].t < t) t = r->q[k].t;
  return t;
}

static int bad(rkin_mevrun *r, size_t k, const char *what, double t,
               double v, rkin_err *err)
{
  return rkin_err_set(err, RKIN_ENONFINITE, "model '%s', event '%s': %s is "
                      "%g at t = %g h", rkin_model_name(r->m),
                      rkin_mevents_name(r->e, k), what, v, t);
}

/* Delays and priorities at (t, y), once per state. */
static int timing(rkin_mevrun *r, double t, const double *y, rkin_err *err)
{
  int rc;
  if (r->dp_t_valid) return RKIN_OK;
  rc = rkin_mevents_timing(r->e, t, y, r->p, r->dp, r->work);
  if (rc) {
    size_t k = (size_t)(-1 - rc);
    return bad(r, k % r->ne, k < r->ne ? "the delay" : "the priority", t,
               r->dp[k], err);
  }
  r->dp_t_valid = 1;
  return RKIN_OK;
}

/* The refusal of an event at an instant whose time derivative is not
 * available. */
static int no_dtau(rkin_mevrun *r, size_t k, double t, rkin_err *err)
{
  return rkin_err_set(err, RKIN_EINVAL, "model '%s', event '%s' at t = %g "
                      "h: no sensitivities across it (%s; use finite "
                      "differences)", rkin_model_name(r->m),
                      rkin_mevents_name(r->e, k), t, r->sx->why_not);
}

/* out (rows x ns) = G (rows x (n + np + 1)) applied to (sigma, dp,
 * dtau): the total derivatives of rows expressions at the instant. */
static void total(const rkin_mevrun *r, const double *G, size_t rows,
                  double *out)
{
  const rkin_mevsens *sx = r->sx;
  size_t n = r->n, np = r->np, w = n + np + 1, ns = sx->ns, i, j, d;
  for (i = 0; i < rows; i++) {
    const double *g = G + i * w;
    for (d = 0; d < ns; d++) {
      double v = g[n + np] * sx->dtau[d];
      for (j = 0; j < n; j++)
        if (g[j] != 0) v += g[j] * r->sig[j * ns + d];
      for (j = 0; sx->dir && j < np; j++)
        if (g[n + j] != 0) v += g[n + j] * sx->dir[d * np + j];
      out[i * ns + d] = v;
    }
  }
}

/* A firing's execution time derivative, and its kept values'. */
static int fire_sens(rkin_mevrun *r, size_t k, pend *q, double t,
                     const double *y, rkin_err *err)
{
  size_t ns = r->sx->ns, na = rkin_mevents_nassign(r->e, k), d;
  int rc;
  if (r->sx->why_not) return no_dtau(r, k, t, err);
  if (!(q->dT = malloc(ns * sizeof *q->dT))) goto nomem;
  q->ns = ns;
  for (d = 0; d < ns; d++) q->dT[d] = r->sx->dtau[d];
  if (rkin_mevents_has_delay(r->e, k)) {
    if ((rc = rkin_mevents_ddelay(r->e, k, t, y, r->p, r->G, r->work)))
      return bad(r, k, "a derivative of the delay", t, r->G[-1 - rc], err);
    total(r, r->G, 1, r->dvs);
    for (d = 0; d < ns; d++) q->dT[d] += r->dvs[d];
  }
  if (q->vals) {
    if (!(q->dv = malloc((na * ns + 1) * sizeof *q->dv))) goto nomem;
    if ((rc = rkin_mevents_dvalues(r->e, k, t, y, r->p, r->G, r->work)))
      return bad(r, k, "a derivative of an assigned value", t,
                 r->G[-1 - rc], err);
    total(r, r->G, na, q->dv);
  }
  return RKIN_OK;
nomem:
  return rkin_err_set(err, RKIN_ENOMEM, "model '%s': out of memory for its "
                      "pending events", rkin_model_name(r->m));
}

static int fire(rkin_mevrun *r, size_t k, double t, const double *y,
                rkin_err *err)
{
  pend *q;
  double d = 0;
  int rc;
  if (rkin_mevents_has_delay(r->e, k)) {
    if ((rc = timing(r, t, y, err))) return rc;
    d = r->dp[k];
    if (d < 0)
      return rkin_err_set(err, RKIN_EINVAL, "model '%s', event '%s': the "
                          "delay is %g h at t = %g h (expected >= 0)",
                          rkin_model_name(r->m), rkin_mevents_name(r->e, k),
                          d, t);
  }
  if (r->nq >= RKIN_MEV_MAX_PENDING)
    return rkin_err_set(err, RKIN_ERANGE, "model '%s', event '%s': more than "
                        "%d executions pending at t = %g h", rkin_model_name(
                        r->m), rkin_mevents_name(r->e, k),
                        RKIN_MEV_MAX_PENDING, t);
  if (r->nq == r->cap) {
    size_t cap = r->cap ? 2 * r->cap : 8;
    pend *nq = realloc(r->q, cap * sizeof *nq);
    if (!nq) goto nomem;
    r->q = nq;
    r->cap = cap;
  }
  q = &r->q[r->nq];
  q->ev = k;
  q->t = t + d;
  q->seq = r->seq++;
  q->vals = q->dT = q->dv = NULL;
  q->ns = 0;
  if (rkin_mevents_from_trigger(r->e, k) && rkin_mevents_nassign(r->e, k)) {
    size_t na = rkin_mevents_nassign(r->e, k);
    if (!(q->vals = malloc(na * sizeof *q->vals))) goto nomem;
    rc = rkin_mevents_values(r->e, k, t, y, r->p, q->vals, r->work);
    if (rc) {
      double v = q->vals[-1 - rc];
      free(q->vals);
      q->vals = NULL;
      return bad(r, k, "an assigned value", t, v, err);
    }
  }
  if (r->sx && (rc = fire_sens(r, k, q, t, y, err))) {
    pend_free(q);
    return rc;
  }
  r->nq++;
  return RKIN_OK;
nomem:
  return rkin_err_set(err, RKIN_ENOMEM, "model '%s': out of memory for its "
                      "pending events", rkin_model_name(r->m));
}

static void drop(rkin_mevrun *r, size_t i)
{
  pend_free(&r->q[i]);
  r->q[i] = r->q[--r->nq];
}

/* Triggers at (t, y): fire the ones turned true, cancel the executions of
 * non-persistent ones turned false. */
static int scan(rkin_mevrun *r, double t, const double *y, double tp,
                const double *yp, int *changed, rkin_err *err)
{
  size_t k, i;
  int rc = rkin_mevents_triggers(r->e, yp ? tp : t, yp ? yp : y, r->p,
                                 r->trig, r->work);
  r->dp_t_valid = 0;
  if (rc) {
    k = (size_t)(-1 - rc);
    return bad(r, k, "the trigger", t, r->trig[k], err);
  }
  for (k = 0; k < r->ne; k++) {
    int cur = r->trig[k] != 0;
    if (cur && !r->prev[k]) {
      if ((rc = fire(r, k, t, y, err))) return rc;
      *changed = 1;
    } else if (!cur && !rkin_mevents_persistent(r->e, k)) {
      for (i = r->nq; i-- > 0;)
        if (r->q[i].ev == k) {
          drop(r, i);
          *changed = 1;
        }
    }
    r->prev[k] = (unsigned char)cur;
  }
  return RKIN_OK;
}

/* 1 when pending a goes before b (both due). */
static int before(const rkin_mevrun *r, const pend *a, const pend *b)
{
  int ha = rkin_mevents_has_priority(r->e, a->ev);
  int hb = rkin_mevents_has_priority(r->e, b->ev);
  if (ha != hb) return ha;
  if (ha) {
    double pa = r->dp[r->ne + a->ev], pb = r->dp[r->ne + b->ev];
    if (pa != pb) return pa > pb;
  }
  return a->seq < b->seq;
}

/* 1 when a and b, time derivatives of two things at one instant, agree
 * (they move together with the parameters). */
static int same_dt(const double *a, const double *b, size_t ns)
{
  size_t d;
  for (d = 0; d < ns; d++)
    if (fabs(a[d] - b[d]) > 1e-9 * (1 + fabs(a[d]) + fabs(b[d]))) return 0;
  return 1;
}

/* Before the instant's events: its dtau (from a due execution when the
 * caller has none) and sigma = S + f dtau. */
static int sens_enter(rkin_mevrun *r, double t, const double *y, double due,
                      rkin_err *err)
{
  rkin_mevsens *sx = r->sx;
  size_t ns = sx->ns, n = r->n, na = r->na ? r->na : 1, i, d;
  int rc;
  if (ns > r->ns_cap) {
    double *a = realloc(r->sig, (n * ns + 1) * sizeof *a);
    double *b = a ? realloc(r->dvs, (na * ns + 1) * sizeof *b) : NULL;
    if (a) r->sig = a;
    if (b) r->dvs = b;
    if (!a || !b) goto nomem;
    r->ns_cap = ns;
  }
  if (!r->fv && !(r->fv = malloc((n + 1) * sizeof *r->fv))) goto nomem;
  if (!r->G && !(r->G = malloc((na * (n + r->np + 1) + 1) * sizeof *r->G)))
    goto nomem;
  if (!sx->dtau_known && !sx->why_not) {
    const pend *first = NULL;
    for (d = 0; d < ns; d++) sx->dtau[d] = 0;
    for (i = 0; i < r->nq; i++) {
      const pend *q = &r->q[i];
      if (q->t > due) continue;
      if (!q->dT || q->ns != ns) {
        sx->why_not = "its pending execution was scheduled without "
                      "sensitivities";
        break;
      }
      if (!first) {
        first = q;
        memcpy(sx->dtau, q->dT, ns * sizeof *sx->dtau);
      } else if (!same_dt(first->dT, q->dT, ns)) {
        sx->why_not = "executions due at the same time move apart with "
                      "the parameters";
        break;
      }
    }
  }
  memcpy(r->sig, sx->S, n * ns * sizeof *r->sig);
  if (sx->why_not) return RKIN_OK;
  for (d = 0; d < ns && sx->dtau[d] == 0; d++)
    ;
  if (d == ns) return RKIN_OK;
  if ((rc = sx->rhs(sx->ctx, t, y, r->fv)))
    return rkin_err_set(err, RKIN_ENONFINITE, "model '%s': the right-hand "
                        "side is not finite at t = %g h (at an event)",
                        rkin_model_name(r->m), t);
  for (i = 0; i < n; i++)
    for (d = 0; d < ns; d++) r->sig[i * ns + d] += r->fv[i] * sx->dtau[d];
  return RKIN_OK;
nomem:
  return rkin_err_set(err, RKIN_ENOMEM, "model '%s': out of memory for "
                      "sensitivities across its events",
                      rkin_model_name(r->m));
}

/* After the instant: S = sigma - f(x+) dtau. */
static int sens_leave(rkin_mevrun *r, double t, const double *y,
                      rkin_err *err)
{
  rkin_mevsens *sx = r->sx;
  size_t ns = sx->ns, n = r->n, i, d;
  memcpy(sx->S, r->sig, n * ns * sizeof *sx->S);
  for (d = 0; d < ns && sx->dtau[d] == 0; d++)
    ;
  if (d == ns) return RKIN_OK;
  if (sx->rhs(sx->ctx, t, y, r->fv))
    return rkin_err_set(err, RKIN_ENONFINITE, "model '%s': the right-hand "
                        "side is not finite at t = %g h (after an event)",
                        rkin_model_name(r->m), t);
  for (i = 0; i < n; i++)
    for (d = 0; d < ns; d++) sx->S[i * ns + d] -= r->fv[i] * sx->dtau[d];
  return RKIN_OK;
}

/* An execution's sensitivities: its time moves with the instant's, and
 * the assigned states' total derivatives become the values'. */
static int exec_sens(rkin_mevrun *r, const pend *q, double t,
                     const double *y, rkin_err *err)
{
  rkin_mevsens *sx = r->sx;
  size_t k = q->ev, na = rkin_mevents_nassign(r->e, k), ns = sx->ns, i, d;
  const int *tg = rkin_mevents_targets(r->e, k);
  const double *dv = q->dv;
  int rc;
  if (sx->why_not) return no_dtau(r, k, t, err);
  if (!q->dT || q->ns != ns)
    return rkin_err_set(err, RKIN_EINVAL, "model '%s', event '%s' at t = %g "
                        "h: no sensitivities across it (its execution was "
                        "scheduled without them; use finite differences)",
                        rkin_model_name(r->m), rkin_mevents_name(r->e, k), t);
  if (!same_dt(q->dT, sx->dtau, ns))
    return rkin_err_set(err, RKIN_EINVAL, "model '%s', event '%s' at t = %g "
                        "h: no sensitivities across it (it executes at the "
                        "time of another event or root that moves otherwise "
                        "with the parameters; use finite differences)",
                        rkin_model_name(r->m), rkin_mevents_name(r->e, k), t);
  if (!dv && na) {
    if ((rc = rkin_mevents_dvalues(r->e, k, t, y, r->p, r->G, r->work)))
      return bad(r, k, "a derivative of an assigned value", t,
                 r->G[-1 - rc], err);
    total(r, r->G, na, r->dvs);
    dv = r->dvs;
  }
  for (i = 0; i < na; i++)
    for (d = 0; d < ns; d++)
      r->sig[(size_t)tg[i] * ns + d] = dv[i * ns + d];
  return RKIN_OK;
}

int rkin_mevrun_at(rkin_mevrun *r, double t, double *y, double tp,
                   const double *yp, int *changed, rkin_err *err)
{
  return rkin_mevrun_at_sens(r, t, y, tp, yp, NULL, changed, err);
}

static int at(rkin_mevrun *r, double t, double *y, double tp,
              const double *yp, int *changed, int *executed, rkin_err *err)
{
  double due = t + 4 * DBL_EPSILON * fabs(t);
  long chain;
  int rc;
  *changed = 0;
  if (r->sx && (rc = sens_enter(r, t, y, due, err))) return rc;
  /* the triggers look at the state past the root throughout, with the
   * assignments made to it as well */
  if (yp) yp = memcpy(r->yp, yp, r->n * sizeof *yp);
  if ((rc = scan(r, t, y, tp, yp, changed, err))) return rc;
  for (chain = 0;; chain++) {
    size_t i, best = r->nq, k, na;
    const int *tg;
    const double *v;
    for (i = 0; i < r->nq; i++)
      if (r->q[i].t <= due) {
        if (best == r->nq) {
          best = i;
          continue;
        }
        if (rkin_mevents_has_priority(r->e, r->q[i].ev)
            && (rc = timing(r, t, y, err)))
          return rc;
        if (rkin_mevents_has_priority(r->e, r->q[best].ev)
            && (rc = timing(r, t, y, err)))
          return rc;
        if (before(r, &r->q[i], &r->q[best])) best = i;
      }
    if (best == r->nq) return RKIN_OK;
    k = r->q[best].ev;
    if (chain >= RKIN_MEV_MAX_CHAIN)
      return rkin_err_set(err, RKIN_ERANGE, "model '%s', event '%s': more "
                          "than %d executions at t = %g h (events that keep "
                          "firing each other)", rkin_model_name(r->m),
                          rkin_mevents_name(r->e, k), RKIN_MEV_MAX_CHAIN, t);
    na = rkin_mevents_nassign(r->e, k);
    tg = rkin_mevents_targets(r->e, k);
    v = r->q[best].vals;
    if (r->sx && (rc = exec_sens(r, &r->q[best], t, y, err))) return rc;
    *executed = 1;
    if (!v && na) {
      rc = rkin_mevents_values(r->e, k, t, y, r->p, r->vals, r->work);
      if (rc) return bad(r, k, "an assigned value", t, r->vals[-1 - rc], err);
      v = r->vals;
    }
    /* all values first (v is r->vals or the kept ones), then assigned */
    for (i = 0; i < na; i++) y[tg[i]] = v[i];
    for (i = 0; yp && i < na; i++) r->yp[tg[i]] = v[i];
    drop(r, best);
    *changed = 1;
    if ((rc = scan(r, t, y, tp, yp, changed, err))) return rc;
  }
}

int rkin_mevrun_at_sens(rkin_mevrun *r, double t, double *y, double tp,
                        const double *yp, rkin_mevsens *sx, int *changed,
                        rkin_err *err)
{
  int executed = 0, rc;
  r->sx = sx;
  rc = at(r, t, y, tp, yp, changed, &executed, err);
  if (!rc && sx && executed) rc = sens_leave(r, t, y, err);
  r->sx = NULL;
  return rc;
}

/* ------------------------------------------ carried across runs (cycles) */

struct rkin_mevcarry {
  int has;              /* 0: nothing carried yet (a fresh start) */
  size_t ne;
  unsigned char *prev;  /* the triggers at the end of the last run */
  pend *q;              /* pending executions, t relative to its end */
  size_t nq, cap;
  unsigned long seq;
};

rkin_mevcarry *rkin_mevcarry_new(void)
{
  return calloc(1, sizeof(rkin_mevcarry));
}

static void carry_clear(rkin_mevcarry *c)
{
  size_t k;
  for (k = 0; k < c->nq; k++) pend_free(&c->q[k]);
  c->nq = 0;
  c->has = 0;
}

void rkin_mevcarry_clear(rkin_mevcarry *c)
{
  if (c) carry_clear(c);
}

void rkin_mevcarry_free(rkin_mevcarry *c)
{
  if (!c) return;
  carry_clear(c);
  free(c->q);
  free(c->prev);
  free(c);
}

size_t rkin_mevcarry_pending(const rkin_mevcarry *c)
{
  return c ? c->nq : 0;
}

static double *copy_vals(const double *v, size_t n)
{
  double *o;
  if (!v) return NULL;
  if (!(o = malloc((n ? n : 1) * sizeof *o))) return NULL;
  memcpy(o, v, n * sizeof *o);
  return o;
}

/* b's values and sensitivities, copies of a's (na values); -1: out of
 * memory (b holds none then). */
static int pend_copy(pend *b, const pend *a, size_t na)
{
  b->vals = b->dT = b->dv = NULL;
  b->ns = a->ns;
  if ((a->vals && !(b->vals = copy_vals(a->vals, na)))
      || (a->dT && !(b->dT = copy_vals(a->dT, a->ns)))
      || (a->dv && !(b->dv = copy_vals(a->dv, na * a->ns)))) {
    pend_free(b);
    return -1;
  }
  return 0;
}

int rkin_mevrun_save(const rkin_mevrun *r, double t_end, rkin_mevcarry *c,
                     rkin_err *err)
{
  size_t k;
  carry_clear(c);
  if (!c->prev || c->ne != r->ne) {
    free(c->prev);
    if (!(c->prev = malloc(r->ne + 1))) goto nomem;
    c->ne = r->ne;
  }
  memcpy(c->prev, r->prev, r->ne);
  if (r->nq > c->cap) {
    pend *nq = realloc(c->q, r->nq * sizeof *nq);
    if (!nq) goto nomem;
    c->q = nq;
    c->cap = r->nq;
  }
  for (k = 0; k < r->nq; k++) {
    const pend *a = &r->q[k];
    pend *b = &c->q[c->nq];
    b->ev = a->ev;
    b->t = a->t - t_end;
    b->seq = a->seq;
    if (pend_copy(b, a, rkin_mevents_nassign(r->e, a->ev))) goto nomem;
    c->nq++;
  }
  c->seq = r->seq;
  c->has = 1;
  return RKIN_OK;
nomem:
  carry_clear(c);
  return rkin_err_set(err, RKIN_ENOMEM, "model '%s': out of memory carrying "
                      "its pending events", rkin_model_name(r->m));
}

int rkin_mevrun_restore(rkin_mevrun *r, double t0, const rkin_mevcarry *c,
                        rkin_err *err)
{
  size_t k;
  if (!c || !c->has) return RKIN_OK;
  if (c->ne != r->ne)
    return rkin_err_set(err, RKIN_EINVAL, "model '%s': the carried events "
                        "are of another model (%zu events, expected %zu)",
                        rkin_model_name(r->m), c->ne, r->ne);
  memcpy(r->prev, c->prev, r->ne);
  for (k = 0; k < r->nq; k++) pend_free(&r->q[k]);
  r->nq = 0;
  if (c->nq > r->cap) {
    pend *nq = realloc(r->q, c->nq * sizeof *nq);
    if (!nq) goto nomem;
    r->q = nq;
    r->cap = c->nq;
  }
  for (k = 0; k < c->nq; k++) {
    const pend *a = &c->q[k];
    pend *b = &r->q[r->nq];
    b->ev = a->ev;
    b->t = t0 + a->t;
    b->seq = a->seq;
    if (pend_copy(b, a, rkin_mevents_nassign(r->e, a->ev))) goto nomem;
    r->nq++;
  }
  r->seq = c->seq;
  return RKIN_OK;
nomem:
  return rkin_err_set(err, RKIN_ENOMEM, "model '%s': out of memory restoring "
                      "its pending events", rkin_model_name(r->m));
}

int rkin_mevcarry_copy(rkin_mevcarry *dst, const rkin_mevcarry *src,
                       const rkin_model *m, rkin_err *err)
{
  const rkin_mevents *e = rkin_model_events(m);
  size_t k;
  carry_clear(dst);
  if (!src || !src->has) return RKIN_OK;
  if (!dst->prev || dst->ne != src->ne) {
    free(dst->prev);
    if (!(dst->prev = malloc(src->ne + 1))) goto nomem;
    dst->ne = src->ne;
  }
  memcpy(dst->prev, src->prev, src->ne);
  if (src->nq > dst->cap) {
    pend *nq = realloc(dst->q, src->nq * sizeof *nq);
    if (!nq) goto nomem;
    dst->q = nq;
    dst->cap = src->nq;
  }
  for (k = 0; k < src->nq; k++) {
    const pend *a = &src->q[k];
    pend *b = &dst->q[dst->nq];
    b->ev = a->ev;
    b->t = a->t;
    b->seq = a->seq;
    if (pend_copy(b, a, e ? rkin_mevents_nassign(e, a->ev) : 0)) goto nomem;
    dst->nq++;
  }
  dst->seq = src->seq;
  dst->has = 1;
  return RKIN_OK;
nomem:
  carry_clear(dst);
  return rkin_err_set(err, RKIN_ENOMEM, "model '%s': out of memory copying "
                      "its pending events", rkin_model_name(m));
}
