/* regimen_aug.c - the augmented route: the user's model plus, per region,
 * the auxiliary states of the Lea-Catcheside integral (docs/sources.md, "Linear-quadratic model and BED")
 *   q' = R - mu q,   I' = R q,   R = s x (region activity),
 * so a CVODES solve of one cycle gives D (the TIA quadrature times s) and
 * I, and G = 2 I / D^2, for any model (nonlinear kinetics, infusions).
 * The model's expressions are copied node by node into a new graph;
 * physical decay is written into the copied derivatives, because the
 * augmented model has no nuclide (its auxiliary states must not decay). */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/dosing.h"
#include "regimen/regimen_impl.h"

typedef struct {
  const rkin_graph *src;
  rkin_graph *dst;
  rkin_node *memo;    /* INT_MIN: not copied yet */
} copier;

static rkin_node copy_node(copier *c, rkin_node n)
{
  rkin_op op;
  rkin_node out;
  double v;
  if (n < 0) return n;
  if (c->memo[n] != INT_MIN) return c->memo[n];
  op = rkin_expr_op(c->src, n);
  switch (op) {
  case RKIN_OP_CONST:
    rkin_expr_is_const(c->src, n, &v);
    out = rkin_expr_const(c->dst, v);
    break;
  case RKIN_OP_TIME:
    out = rkin_expr_time(c->dst);
    break;
  case RKIN_OP_STATE:
    out = rkin_expr_state(c->dst, rkin_expr_index(c->src, n));
    break;
  case RKIN_OP_PARAM:
    out = rkin_expr_param(c->dst, rkin_expr_index(c->src, n));
    break;
  case RKIN_OP_NEG: case RKIN_OP_EXP: case RKIN_OP_LOG: case RKIN_OP_SQRT:
  case RKIN_OP_ABS: case RKIN_OP_SIGN: case RKIN_OP_STEP: case RKIN_OP_NOT:
  case RKIN_OP_SIN: case RKIN_OP_COS: case RKIN_OP_TAN: case RKIN_OP_ASIN:
  case RKIN_OP_ACOS: case RKIN_OP_ATAN: case RKIN_OP_FLOOR: case RKIN_OP_CEIL:
  case RKIN_OP_FACT:
    out = rkin_expr_unary(c->dst, op,
                          copy_node(c, rkin_expr_arg(c->src, n, 0)));
    break;
  case RKIN_OP_IFELSE:
    out = rkin_expr_ifelse(c->dst, copy_node(c, rkin_expr_arg(c->src, n, 0)),
                           copy_node(c, rkin_expr_arg(c->src, n, 1)),
                           copy_node(c, rkin_expr_arg(c->src, n, 2)));
    break;
  default:
    out = rkin_expr_binary(c->dst, op,
                           copy_node(c, rkin_expr_arg(c->src, n, 0)),
                           copy_node(c, rkin_expr_arg(c->src, n, 1)));
  }
  c->memo[n] = out;
  return out;
}

typedef struct {
  char **names;
  const char **states, **params, **outputs;
  rkin_node *deriv, *outx;
  rkin_node *memo;
} aug_mem;

static void aug_mem_free(aug_mem *a, size_t nr)
{
  size_t q;
  for (q = 0; a->names && q < 2 * nr; q++) free(a->names[q]);
  free(a->names);
  free(a->states);
  free(a->params);
  free(a->outputs);
  free(a->deriv);
  free(a->outx);
  free(a->memo);
}

static int aug_mem_alloc(aug_mem *a, const rkin_regimen *r, size_t ng)
{
  size_t n = r->n, nr = r->nr, no = rkin_model_noutputs(r->sp.model), q;
  memset(a, 0, sizeof *a);
  a->names = calloc(2 * nr, sizeof *a->names);
  a->states = calloc(n + 2 * nr, sizeof *a->states);
  a->params = calloc(r->np + 1, sizeof *a->params);
  a->outputs = calloc(no + 1, sizeof *a->outputs);
  a->deriv = calloc(n + 2 * nr, sizeof *a->deriv);
  a->outx = calloc(no + 1, sizeof *a->outx);
  a->memo = malloc((ng + 1) * sizeof *a->memo);
  if (!a->names || !a->states || !a->params || !a->outputs || !a->deriv
      || !a->outx || !a->memo)
    return 0;
  for (q = 0; q < ng; q++) a->memo[q] = INT_MIN;
  for (q = 0; q < nr; q++) {
    const char *nm = r->sp.regions[q].name;
    size_t len = strlen(nm) + 8;
    if (!(a->names[2 * q] = malloc(len))
        || !(a->names[2 * q + 1] = malloc(len)))
      return 0;
    snprintf(a->names[2 * q], len, "__q_%s", nm);
    snprintf(a->names[2 * q + 1], len, "__I_%s", nm);
  }
  return 1;
}

/* Derivatives: the model's (with decay written in), then q and I of every
 * region. */
static void aug_equations(const rkin_regimen *r, copier *c, aug_mem *a)
{
  const rkin_model *m = r->sp.model;
  size_t n = r->n, no = rkin_model_noutputs(m), i, q;
  double lambda = rkin_model_lambda(m);
  rkin_graph *g = c->dst;
  for (i = 0; i < no; i++)
    a->outx[i] = copy_node(c, rkin_model_output_node(m, i));
  for (i = 0; i < n; i++) {
    rkin_node f = copy_node(c, rkin_model_deriv_node(m, i));
    if (lambda > 0)
      f = rkin_expr_binary(g, RKIN_OP_SUB, f,
                           rkin_expr_binary(g, RKIN_OP_MUL,
                                            rkin_expr_const(g, lambda),
                                            rkin_expr_state(g, (int)i)));
    a->deriv[i] = f;
  }
  for (q = 0; q < r->nr; q++) {
    const rkin_region *rg = &r->sp.regions[q];
    int k = rg->quantity;
    rkin_node act = (size_t)k < n ? rkin_expr_state(g, k)
                                  : a->outx[(size_t)k - n];
    rkin_node rate = rkin_expr_binary(g, RKIN_OP_MUL,
                                      rkin_expr_const(g, r->s[q]), act);
    rkin_node qs = rkin_expr_state(g, (int)(n + 2 * q));
    rkin_node mu = rkin_expr_const(g, log(2.0) / rg->lq.trep_h);
    a->deriv[n + 2 * q] =
      rkin_expr_binary(g, RKIN_OP_SUB, rate,
                       rkin_expr_binary(g, RKIN_OP_MUL, mu, qs));
    a->deriv[n + 2 * q + 1] = rkin_expr_binary(g, RKIN_OP_MUL, rate, qs);
  }
}

int rg_aug_build(rkin_regimen *r, rkin_err *err)
{
  const rkin_model *m = r->sp.model;
  size_t n = r->n, nr = r->nr, no = rkin_model_noutputs(m), i, q;
  size_t ng = rkin_graph_size(rkin_model_graph(m));
  rkin_model_spec sp = {0};
  aug_mem a;
  copier c;
  char name[96];
  rkin_node *mods = NULL, *evals = NULL;
  size_t ne = rkin_mevents_count(rkin_model_events(m));
  rkin_model_event *evs = calloc(ne + 1, sizeof *evs);
  if (!evs) return rkin_err_set(err, RKIN_ENOMEM, "regimen: out of memory");
  if (!aug_mem_alloc(&a, r, ng) || !(c.dst = rkin_graph_new())) {
    aug_mem_free(&a, nr);
    free(evs);
    return rkin_err_set(err, RKIN_ENOMEM, "regimen: out of memory");
  }
  c.src = rkin_model_graph(m);
  c.memo = a.memo;
  for (i = 0; i < n; i++) a.states[i] = rkin_model_state_name(m, i);
  for (q = 0; q < 2 * nr; q++) a.states[n + q] = a.names[q];
  for (i = 0; i < r->np; i++) a.params[i] = rkin_model_param_name(m, i);
  for (i = 0; i < no; i++) a.outputs[i] = rkin_model_output_name(m, i);
  aug_equations(r, &c, &a);
  /* the model's dose modifiers (F, ALAG, R, D) on its own states; the
   * auxiliary states take no doses. An infusion lasts infusion_h: the
   * records give RATE -2 with that D on the dosed states (rate F AMT /
   * D; also at a zero activity, whose derivative is then that rate's
   * F dAMT / D over the same hours; aug_dosing). */
  if (rkin_model_has_dose_mods(m) || r->sp.infusion_h > 0) {
    size_t na = n + 2 * nr, k;
    int kind;
    if (!(mods = malloc(RKIN_MOD_N * na * sizeof *mods))) {
      aug_mem_free(&a, nr);
      rkin_graph_free(c.dst);
      free(evs);
      return rkin_err_set(err, RKIN_ENOMEM, "regimen: out of memory");
    }
    for (k = 0; k < RKIN_MOD_N * na; k++) mods[k] = -1;
    for (kind = 0; kind < RKIN_MOD_N; kind++)
      for (i = 0; i < n; i++)
        mods[(size_t)kind * na + i] =
          copy_node(&c, rkin_model_dose_mod_node(m, kind, i));
    if (r->sp.infusion_h > 0) {
      rkin_node dur = rkin_expr_const(c.dst, r->sp.infusion_h);
      mods[(size_t)RKIN_MOD_DUR * na + (size_t)r->sp.inject] = dur;
      if (r->sp.carrier_per_mbq > 0)
        mods[(size_t)RKIN_MOD_DUR * na + (size_t)r->sp.carrier] = dur;
    }
  }
  /* the model's events on its own states, their nodes copied */
  if (ne) {
    size_t k, na_all = 0;
    for (k = 0; k < ne; k++) {
      rkin_mevents_spec(rkin_model_events(m), k, &evs[k]);
      na_all += evs[k].n_assign;
    }
    if (!(evals = malloc((na_all + 1) * sizeof *evals))) {
      aug_mem_free(&a, nr);
      rkin_graph_free(c.dst);
      free(mods);
      free(evs);
      return rkin_err_set(err, RKIN_ENOMEM, "regimen: out of memory");
    }
    na_all = 0;
    for (k = 0; k < ne; k++) {
      rkin_model_event *v = &evs[k];
      size_t j;
      v->trigger = copy_node(&c, v->trigger);
      v->delay = copy_node(&c, v->delay);
      v->priority = copy_node(&c, v->priority);
      for (j = 0; j < v->n_assign; j++)
        evals[na_all + j] = copy_node(&c, v->value[j]);
      v->value = evals + na_all;
      na_all += v->n_assign;
    }
  }
  snprintf(name, sizeof name, "%s+aux", rkin_model_name(m));
  sp.name = name;
  sp.n_states = n + 2 * nr;
  sp.states = a.states;
  sp.deriv = a.deriv;
  sp.n_params = r->np;
  sp.params = a.params;
  sp.values = rkin_model_defaults(m);
  sp.n_outputs = no;
  sp.outputs = a.outputs;
  sp.output_expr = a.outx;
  r->aug = rkin_model_new(&sp, c.dst, err);   /* owns c.dst */
  aug_mem_free(&a, nr);
  if (r->aug && ne && rkin_model_set_events(r->aug, evs, ne, err)) {
    rkin_model_free(r->aug);
    r->aug = NULL;
  }
  free(evs);
  free(evals);
  if (!r->aug) {
    free(mods);
    return rkin_err_prefix(err, "regimen: augmented model: ");
  }
  if (mods) {
    int rc = rkin_model_set_dose_mods(r->aug, mods, err);
    free(mods);
    if (rc) return rkin_err_prefix(err, "regimen: augmented model: ");
  }
  if (!(r->aug_q = malloc(nr * sizeof *r->aug_q)))
    return rkin_err_set(err, RKIN_ENOMEM, "regimen: out of memory");
  for (q = 0; q < nr; q++) {
    int k = r->sp.regions[q].quantity;
    r->aug_q[q] = (size_t)k < n ? k : k + (int)(2 * nr);
  }
  return RKIN_OK;
}

/* Dose records of one administration: record 0 the activity into
 * `inject`, record 1 (with a carrier) carrier_per_mbq x the activity into
 * `carrier`, same time and infusion length (RATE -2: the augmented
 * model's D, infusion_h). A zero activity gives zero-amount records: no
 * dose, but the sensitivities' jumps by its derivative apply
 * (rkin_solver_run_sensx). */
static size_t aug_nrec(const rkin_regimen *r)
{
  return r->sp.carrier_per_mbq > 0 ? 2 : 1;
}

static int aug_dosing(const rkin_regimen *r, double a_mbq, rkin_dosing **d,
                      rkin_err *err)
{
  rkin_dose dd[2];
  size_t j, nrec = aug_nrec(r);
  memset(dd, 0, sizeof dd);
  if (!(*d = rkin_dosing_new()))
    return rkin_err_set(err, RKIN_ENOMEM, "regimen: out of memory");
  if (!(a_mbq > 0)) a_mbq = 0;   /* (-0 or below: none) */
  dd[0].amount = a_mbq;
  dd[0].cmt = r->sp.inject;
  dd[1].amount = a_mbq * r->sp.carrier_per_mbq;
  dd[1].cmt = r->sp.carrier;
  for (j = 0; j < nrec; j++) {
    int rc;
    if (r->sp.infusion_h > 0) dd[j].rate = -2;
    if ((rc = rkin_dosing_add(*d, &dd[j], err))) return rc;
  }
  return RKIN_OK;
}

/* What both cycle routines do first: the patient's augmented solver
 * (made on first use), the augmented start ya (the states y, then the
 * regions' auxiliary states at 0), the cycle's dosing, and the request
 * over one interval from those. */
static int aug_begin(rg_ws *ws, size_t i, const double *y, double *ya,
                     double a_mbq, rkin_dosing **d, rkin_solve_req *rq,
                     rkin_err *err)
{
  rkin_regimen *r = ws->r;
  if (!ws->solver) {
    rkin_solve_opts o = r->sp.opts;
    o.path = RKIN_PATH_CVODES;
    if (!(ws->solver = rkin_solver_new(r->aug, &o, err))) return err->code;
  }
  memcpy(ya, y, r->n * sizeof *ya);
  memset(ya + r->n, 0, 2 * r->nr * sizeof *ya);
  rq->t0 = 0;
  rq->t1 = r->sp.interval_h;
  rq->y0 = ya;
  rq->params = r->sp.params + i * r->np;
  rq->tia = r->aug_q;
  rq->n_tia = r->nr;
  rq->ev_carry = ws->carry;
  return aug_dosing(r, a_mbq, d, err);
}

int rg_cycle_aug(rg_ws *ws, size_t i, double *y, double a_mbq, double *tia,
                 double *dose, double *g, double *bed, size_t n_times,
                 const double *img_t, double *img_act, rkin_err *err)
{
  rkin_regimen *r = ws->r;
  size_t n = r->n, nr = r->nr, na = n + 2 * nr;
  size_t no = rkin_model_noutputs(r->sp.model), q, l;
  double *ya = ws->buf, *tq = ya + na, *ys = tq + nr;
  double *outs = ys + n_times * na;
  rkin_solve_req rq = {0};
  rkin_solve_res rs = {0};
  rkin_dosing *d = NULL;
  int rc;
  if ((rc = aug_begin(ws, i, y, ya, a_mbq, &d, &rq, err))) goto done;
  rq.dosing = d;
  if (img_act && n_times) {
    rq.times = img_t;
    rq.n_times = n_times;
    rs.y = ys;
    rs.out = no ? outs : NULL;
  }
  rs.tia = tq;
  rs.y_end = ya;
  rc = rkin_solver_run(ws->solver, &rq, &rs, err);
  ws->steps += rs.n_steps;
  ws->n_solve++;
  if (rc) goto done;
  for (q = 0; q < nr; q++) {
    double dd = r->s[q] * tq[q], in = ya[n + 2 * q + 1], gg = 0;
    if (dd > 0) {
      gg = 2 * in / (dd * dd);
      if (gg < 0) gg = 0;
      if (gg > 1) gg = 1;
    } else {
      dd = 0;
    }
    if (tia) tia[q] = dd / r->s[q];
    if (dose) dose[q] = dd;
    if (g) g[q] = gg;
    if (bed) bed[q] = dd * (1 + gg * dd / r->sp.regions[q].lq.ab_gy);
    if (img_act)
      for (l = 0; l < n_times; l++) {
        int k = r->sp.regions[q].quantity;
        img_act[q * n_times + l] = (size_t)k < n
          ? ys[l * na + (size_t)k] : outs[l * no + ((size_t)k - n)];
      }
  }
  memcpy(y, ya, n * sizeof *y);
done:
  rkin_dosing_free(d);
  return rc;
}

/* One cycle of patient i with the derivatives of its doses and BEDs
 * along k directions in the space of the plan's activities (GBq), from
 * CVODES forward sensitivities: S (n x k, the states' sensitivities at the
 * cycle start) goes in and comes out at the cycle end; w[d] is this
 * cycle's activity's derivative along direction d (e_c for the gradient,
 * the line's direction for a line search), so its dose jumps the injected
 * state's sensitivity by F 1000 w[d] MBq (an infusion of fixed duration:
 * its rate by F 1000 w[d] / infusion_h), also at a zero activity (the
 * one-sided derivative). The auxiliary states start at 0
 * each cycle, so do their sensitivities. Per region: dose and BED (nr)
 * and their derivatives gdose, gbed (nr x k); BED = D + 2 I / (a/b) as in
 * rg_cycle_aug. sc holds rg_aug_sens_size(r, k) doubles. */
size_t rg_aug_sens_size(const rkin_regimen *r, size_t k)
{
  size_t na = r->n + 2 * r->nr;
  return na + 2 * na * k + k * aug_nrec(r) + r->nr * (k + 1);
}

int rg_cycle_aug_sens(rg_ws *ws, size_t i, double *y, double *S,
                      double a_mbq, const double *w, size_t k, double *dose,
                      double *bed, double *gdose, double *gbed, double *sc,
                      rkin_err *err)
{
  rkin_regimen *r = ws->r;
  size_t n = r->n, nr = r->nr, na = n + 2 * nr, q, j, m, nrec = aug_nrec(r);
  double *ya = sc, *dy0 = ya + na, *dye = dy0 + na * k, *damt = dye + na * k;
  double *tq = damt + k * nrec, *dtq = tq + nr;
  double per[2];
  rkin_solve_req rq = {0};
  rkin_solve_res rs = {0};
  rkin_sens_req sq = {0};
  rkin_sens_res sr = {0};
  rkin_dosing *d = NULL;
  int rc;
  if ((rc = aug_begin(ws, i, y, ya, a_mbq, &d, &rq, err))) goto done;
  rq.dosing = d;
  memcpy(dy0, S, n * k * sizeof *dy0);
  memset(dy0 + n * k, 0, 2 * nr * k * sizeof *dy0);
  /* damt is n_dir x n_records: the carrier record moves with the
   * activity, carrier_per_mbq times as much (an infusion's rate follows
   * through D: no drec) */
  per[0] = 1;
  per[1] = r->sp.carrier_per_mbq;
  for (m = 0; m < k; m++)
    for (j = 0; j < nrec; j++)
      damt[m * nrec + j] = 1000.0 * w[m] * per[j];   /* MBq per GBq */
  rs.tia = tq;
  rs.y_end = ya;
  sq.n_dir = k;
  sq.dy0 = dy0;
  sq.damt = damt;
  sr.dtia = dtq;
  sr.dy_end = dye;
  rc = rkin_solver_run_sensx(ws->solver, &rq, &sq, &rs, &sr, err);
  ws->steps += rs.n_steps;
  ws->n_solve_sens++;
  ws->n_sens_dirs += (long)k;
  if (rc) goto done;
  for (q = 0; q < nr; q++) {
    double s = r->s[q], dd = s * tq[q], in = ya[n + 2 * q + 1];
    double ab = r->sp.regions[q].lq.ab_gy;
    dose[q] = dd > 0 ? dd : 0;
    bed[q] = dose[q] + (dd > 0 ? 2 * in / ab : 0);
    for (m = 0; m < k; m++) {
      gdose[q * k + m] = s * dtq[q * k + m];
      gbed[q * k + m] = gdose[q * k + m]
                        + 2 * dye[(n + 2 * q + 1) * k + m] / ab;
    }
  }
  memcpy(y, ya, n * sizeof *y);
  for (j = 0; j < n * k; j++) S[j] = dye[j];
done:
  rkin_dosing_free(d);
  return rc;
}
