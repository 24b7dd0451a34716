/* regfix.h - the regimen optimiser's set-up shared by test_regopt and
 * test_regopt_ev: the derivatives of P -> K (saturable uptake), P -> T,
 * P -> out, K -> out, T -> out, a regimen over a model, the
 * kidney / tumour / marrow regions, an "optimised" rule, and the
 * cumulative BEDs of a plan with their gradients chained through
 * rg_cycle_aug_sens. Header-only, for the unit tests. */
#ifndef RKIN_REGFIX_H
#define RKIN_REGFIX_H

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/expr.h"
#include "core/model.h"
#include "core/nuclide.h"
#include "dose/organ.h"
#include "regimen/regimen.h"
#include "regimen/regimen_impl.h"
#include "tap.h"

/* States P, K, T (0, 1, 2); parameters kPK, kPT, kel, kK, kT (0-4):
 * P' = -(up + kPT P + kel P), K' = up - kK K, T' = kPT P - kT T, into
 * d[0..2], with up the kidney uptake. */
static inline void regfix_pkt_deriv(rkin_graph *g, rkin_node up,
                                    rkin_node *d)
{
  rkin_node p = rkin_expr_state(g, 0), ut, out, kk, kt;
  ut = rkin_expr_binary(g, RKIN_OP_MUL, rkin_expr_param(g, 1), p);
  out = rkin_expr_binary(g, RKIN_OP_MUL, rkin_expr_param(g, 2), p);
  kk = rkin_expr_binary(g, RKIN_OP_MUL, rkin_expr_param(g, 3),
                        rkin_expr_state(g, 1));
  kt = rkin_expr_binary(g, RKIN_OP_MUL, rkin_expr_param(g, 4),
                        rkin_expr_state(g, 2));
  d[0] = rkin_expr_unary(g, RKIN_OP_NEG, rkin_expr_binary(
           g, RKIN_OP_ADD, up, rkin_expr_binary(g, RKIN_OP_ADD, ut, out)));
  d[1] = rkin_expr_binary(g, RKIN_OP_SUB, up, kk);
  d[2] = rkin_expr_binary(g, RKIN_OP_SUB, ut, kt);
}

/* regfix_pkt_deriv with the saturable uptake kPK P / (1 + P / km), km
 * parameter 5. */
static inline void regfix_sat_deriv(rkin_graph *g, rkin_node *d)
{
  rkin_node p = rkin_expr_state(g, 0);
  regfix_pkt_deriv(g, rkin_expr_binary(
                     g, RKIN_OP_DIV,
                     rkin_expr_binary(g, RKIN_OP_MUL,
                                      rkin_expr_param(g, 0), p),
                     rkin_expr_binary(g, RKIN_OP_ADD,
                                      rkin_expr_const(g, 1),
                                      rkin_expr_binary(
                                        g, RKIN_OP_DIV, p,
                                        rkin_expr_param(g, 5)))), d);
}

/* sp for a Lu-177 model of n_states states st (derivatives d) and
 * n_params parameters pa with values v. */
static inline void regfix_spec(rkin_model_spec *sp, const char *name,
                               size_t n_states, const char **st,
                               const rkin_node *d, size_t n_params,
                               const char **pa, const double *v)
{
  sp->name = name;
  sp->nuclide = rkin_nuclide_find("Lu-177", NULL);
  sp->n_states = n_states;
  sp->states = st;
  sp->deriv = d;
  sp->n_params = n_params;
  sp->params = pa;
  sp->values = v;
}

/* A regimen of n patients (params n x n_params) at rtol = atol = 1e-8,
 * one thread, on CVODES when cvodes (else the path the solver picks);
 * infusion_h and carrier_per_mbq the spec's (the carrier into state 3).
 * NULL (with a diagnostic) on failure. */
static inline rkin_regimen *regfix_make(const rkin_model *m,
                                        const double *params, size_t n,
                                        const rkin_region *rg, size_t nr,
                                        int cvodes, double interval_h,
                                        double infusion_h,
                                        double carrier_per_mbq)
{
  rkin_regimen_spec sp = {0};
  rkin_err err;
  rkin_regimen *r;
  sp.model = m;
  rkin_solve_opts_default(&sp.opts);
  sp.opts.rtol = 1e-8;
  sp.opts.atol = 1e-8;
  if (cvodes) sp.opts.path = RKIN_PATH_CVODES;
  sp.n_patients = n;
  sp.params = params;
  sp.n_regions = nr;
  sp.regions = rg;
  sp.interval_h = interval_h;
  sp.infusion_h = infusion_h;
  sp.carrier = 3;
  sp.carrier_per_mbq = carrier_per_mbq;
  sp.threads = 1;
  r = rkin_regimen_new(&sp, &err);
  if (!r) diag("regimen: %s", err.msg);
  return r;
}

/* The kidney (state 1, 0.3 kg), tumour (state 2, 0.05 kg) and marrow
 * (state 0, 5 kg) regions, each with its organ's LQ parameters. */
static inline const rkin_region *regfix_regions(void)
{
  static rkin_region rg[3];
  const rkin_organ *kid = rkin_organ_find("kidney", NULL);
  const rkin_organ *tum = rkin_organ_find("tumour", NULL);
  const rkin_organ *mar = rkin_organ_find("red_marrow", NULL);
  rg[0] = (rkin_region){"kidney", 1, 0.3, 0, kid->lq};
  rg[1] = (rkin_region){"tumour", 2, 0.05, 0, tum->lq};
  rg[2] = (rkin_region){"marrow", 0, 5.0, 0, mar->lq};
  return rg;
}

/* The "optimised" rule maximising the tumour BED (region 1) under nl
 * limits, at most cycles cycles of max_gbq GBq, by meth. */
static inline void regfix_rule(rkin_regimen_rule *u,
                               const rkin_regimen_limit *lim, size_t nl,
                               size_t cycles, double max_gbq,
                               rkin_opt_method meth)
{
  rkin_regimen_rule_default(u);
  u->kind = RKIN_RULE_OPTIMISED;
  u->max_cycles = cycles;
  u->max_gbq = max_gbq;
  u->objective = 1;
  u->n_limits = nl;
  u->limits = lim;
  u->optimiser = meth;
}

/* Patient i's plan under the rule of regfix_rule by COBYLA (a[0], k[0],
 * obj[0]) and by SLSQP with gradients (a[1], k[1], obj[1]); non-zero
 * when either failed. */
static inline int regfix_optimise_both(rkin_regimen *r, size_t i,
                                       const rkin_regimen_limit *lim,
                                       size_t nl, size_t cycles,
                                       double max_gbq, double (*a)[3],
                                       size_t *k, double *obj, rkin_err *err)
{
  rkin_regimen_rule u;
  int j, rc = 0;
  for (j = 0; j < 2; j++) {
    regfix_rule(&u, lim, nl, cycles, max_gbq,
                j ? RKIN_OPT_GRADIENT : RKIN_OPT_COBYLA);
    rc |= rkin_regimen_optimise(r, i, &u, 0, NULL, a[j], &k[j], &obj[j],
                                err);
    if (rc) diag("optimise: %s", err->msg);
  }
  return rc;
}

/* The cumulative BEDs cb (nr) of a k-cycle plan of activities a (GBq)
 * for patient i and their gradients gb (nr x k; direction c: the
 * activity of cycle c), chained through rg_cycle_aug_sens; with events,
 * the model events carried from cycle to cycle (as the optimiser's plan
 * caches do). */
static inline int regfix_plan_grad(rkin_regimen *r, size_t i, size_t k,
                                   const double *a, int events, double *cb,
                                   double *gb, rkin_err *err)
{
  rg_ws ws;
  size_t nr = r->nr, c, q, m;
  double y[8] = {0}, S[64] = {0}, w[8], d[4], b[4], gd1[32], gb1[32];
  double *sc = malloc(rg_aug_sens_size(r, k) * sizeof *sc);
  int rc = rg_ws_init(&ws, r, err);
  if (events) ws.carry = rkin_mevcarry_new();
  memset(cb, 0, nr * sizeof *cb);
  memset(gb, 0, nr * k * sizeof *gb);
  for (c = 0; !rc && c < k; c++) {
    for (m = 0; m < k; m++) w[m] = m == c;
    rc = rg_cycle_aug_sens(&ws, i, y, S, 1000 * a[c], w, k, d, b, gd1, gb1,
                           sc, err);
    for (q = 0; !rc && q < nr; q++) {
      cb[q] += b[q];
      for (m = 0; m < k; m++) gb[q * k + m] += gb1[q * k + m];
    }
  }
  if (events) {
    rkin_mevcarry_free(ws.carry);
    ws.carry = NULL;
  }
  rg_ws_clear(&ws);
  free(sc);
  return rc;
}

/* The largest relative difference between the gradients gb (nr x k, as
 * regfix_plan_grad gives them) of patient i's k-cycle plan a and central
 * differences (step h GBq) of rkin_regimen_evaluate (plain solves), into
 * *worst (not lowered); the elements off by more than 1e-4 as
 * diagnostics. */
static inline int regfix_grad_vs_fd(rkin_regimen *r, size_t i, size_t k,
                                    const double *a, const double *gb,
                                    double h, double *worst, rkin_err *err)
{
  double ap[8], bp[4], bm[4];
  size_t c, q;
  int rc = 0;
  for (c = 0; !rc && c < k; c++) {
    memcpy(ap, a, k * sizeof *ap);
    ap[c] += h;
    rc |= rkin_regimen_evaluate(r, i, k, ap, NULL, bp, err);
    ap[c] -= 2 * h;
    rc |= rkin_regimen_evaluate(r, i, k, ap, NULL, bm, err);
    for (q = 0; q < r->nr; q++) {
      double fd = (bp[q] - bm[q]) / (2 * h);
      double e = fabs(gb[q * k + c] - fd) / fabs(gb[q * k + c]);
      if (e > 1e-4)
        diag("region %zu, cycle %zu: %.8g vs differences %.8g", q, c,
             gb[q * k + c], fd);
      *worst = fmax(*worst, e);
    }
  }
  return rc;
}

#endif
