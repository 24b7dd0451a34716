/* test_regopt.c - the regimen optimiser on the augmented route with
 * gradients from CVODES forward sensitivities (SLSQP) against COBYLA
 * without gradients (same optimum) on a nonlinear (saturable uptake)
 * model, and the KKT conditions at its optimum for a closed-form case (one
 * compartment: cumulative doses and BEDs, and their gradients, by hand). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/init.h"
#include "core/model.h"
#include "core/nuclide.h"
#include "dose/organ.h"
#include "regimen/regimen.h"
#include "regimen/regimen_impl.h"
#include "../regfix.h"
#include "../tap.h"

/* P -> K (saturable: kPK P / (1 + P / km)), P -> T, P -> out, K -> out,
 * T -> out; Lu-177. */
static rkin_model *sat_model(void)
{
  static const char *st[] = {"P", "K", "T"};
  static const char *pa[] = {"kPK", "kPT", "kel", "kK", "kT", "km"};
  static const double v[] = {0.017, 0.010, 0.5, 0.012, 0.006, 5000};
  rkin_graph *g = rkin_graph_new();
  rkin_node d[3];
  rkin_model_spec sp = {0};
  regfix_sat_deriv(g, d);
  regfix_spec(&sp, "pkt_sat", 3, st, d, 6, pa, v);
  return rkin_model_new(&sp, g, NULL);
}

/* sat_model with a carrier C (unlabelled ligand, state 3) competing for
 * the same saturable kidney uptake: kPK P / (1 + (P + C) / km) and
 * kPK C / (1 + (P + C) / km); C leaves by kel. Lu-177. */
static rkin_model *carrier_model(void)
{
  static const char *st[] = {"P", "K", "T", "C"};
  static const char *pa[] = {"kPK", "kPT", "kel", "kK", "kT", "km"};
  static const double v[] = {0.017, 0.010, 0.5, 0.012, 0.006, 5000};
  rkin_graph *g = rkin_graph_new();
  rkin_node p = rkin_expr_state(g, 0), c = rkin_expr_state(g, 3), d[4];
  rkin_node sat, up, upc, outc;
  rkin_model_spec sp = {0};
  sat = rkin_expr_binary(g, RKIN_OP_ADD, rkin_expr_const(g, 1),
                         rkin_expr_binary(g, RKIN_OP_DIV,
                                          rkin_expr_binary(g, RKIN_OP_ADD,
                                                           p, c),
                                          rkin_expr_param(g, 5)));
  up = rkin_expr_binary(g, RKIN_OP_DIV, rkin_expr_binary(
         g, RKIN_OP_MUL, rkin_expr_param(g, 0), p), sat);
  upc = rkin_expr_binary(g, RKIN_OP_DIV, rkin_expr_binary(
          g, RKIN_OP_MUL, rkin_expr_param(g, 0), c), sat);
  outc = rkin_expr_binary(g, RKIN_OP_MUL, rkin_expr_param(g, 2), c);
  regfix_pkt_deriv(g, up, d);
  d[3] = rkin_expr_unary(g, RKIN_OP_NEG,
                         rkin_expr_binary(g, RKIN_OP_ADD, upc, outc));
  regfix_spec(&sp, "pkt_carrier", 4, st, d, 6, pa, v);
  return rkin_model_new(&sp, g, NULL);
}

/* A -> out at rate k, Lu-177. */
static rkin_model *mono_model(void)
{
  static const char *st[] = {"A"}, *pa[] = {"k"};
  static const double v[] = {0.01};
  rkin_graph *g = rkin_graph_new();
  rkin_node d[1];
  rkin_model_spec sp = {0};
  d[0] = rkin_expr_unary(g, RKIN_OP_NEG, rkin_expr_binary(
           g, RKIN_OP_MUL, rkin_expr_param(g, 0), rkin_expr_state(g, 0)));
  regfix_spec(&sp, "mono", 1, st, d, 1, pa, v);
  return rkin_model_new(&sp, g, NULL);
}

static double infusion_h = 0;   /* the spec's infusion, for make() */
static double carrier_per_mbq = 0;   /* the spec's carrier into state 3 */

static rkin_regimen *make(const rkin_model *m, const double *params,
                          size_t n, const rkin_region *rg, size_t nr,
                          int cvodes, double interval_h)
{
  return regfix_make(m, params, n, rg, nr, cvodes, interval_h, infusion_h,
                     carrier_per_mbq);
}

/* Two patients of the saturable model (kidney uptake, washout and the
 * saturation level varied; activities up to 40 GBq, so a limit binds
 * rather than the bounds): the gradient optimum's tumour BED equals
 * COBYLA's to 1e-6, and its plan keeps the limits. */
static void test_vs_cobyla(void)
{
  static const double pv[12] = {0.017, 0.010, 0.5, 0.012, 0.006, 5000,
                                0.030, 0.008, 0.4, 0.020, 0.004, 2000};
  const rkin_region *rg = regfix_regions();
  rkin_regimen_limit lim[2] = {{0, 1, 27.0}, {2, 0, 2.0}};
  rkin_model *m = sat_model();
  rkin_regimen *r = make(m, pv, 2, rg, 3, 0, 1344);
  size_t i;
  ok(r && rkin_regimen_route(r) == RKIN_ROUTE_AUGMENTED,
     "saturable model: augmented route");
  for (i = 0; r && i < 2; i++) {
    double a[2][3], obj[2], cd[3], cb[3];
    size_t k[2];
    rkin_err err;
    int rc = regfix_optimise_both(r, i, lim, 2, 3, 40, a, k, obj, &err);
    ok(!rc, "patient %zu: both optimisers ran", i + 1);
    rkin_regimen_evaluate(r, i, k[1], a[1], cd, cb, &err);
    ok(!rc && obj[1] >= obj[0] * (1 - 1e-6)
       && fabs(obj[1] - obj[0]) <= 1e-6 * obj[0],
       "patient %zu: SLSQP with sensitivity gradients reaches COBYLA's "
       "optimum: tumour BED %.6f vs %.6f Gy (rel. %.1e, tol. 1e-6); %zu / "
       "%zu cycles", i + 1, obj[1], obj[0], obj[1] / obj[0] - 1, k[1], k[0]);
    ok(cb[0] <= 27 * (1 + 1e-9) && cd[2] <= 2 * (1 + 1e-9)
       && fabs(cb[1] - obj[1]) <= 1e-9 * obj[1]
       && (fabs(cb[0] - 27) < 1e-5 * 27 || fabs(cd[2] - 2) < 1e-5 * 2),
       "patient %zu: gradient plan keeps kidney BED %.6f <= 27 and marrow "
       "%.6f <= 2 Gy, one of them active; objective = re-scored BED", i + 1,
       cb[0], cd[2]);
  }
  rkin_regimen_free(r);
  rkin_model_free(m);
}

/* One compartment, k_e = k + lambda, bolus y_c = 1000 a_c + y_(c-1) e^-k_e
 * T: per cycle D = s y F, I = s^2 y^2 G with F = (1 - e^-k_e T) / k_e and
 * G = [(1 - e^-2 k_e T) / (2 k_e) - (1 - e^-(k_e + mu) T) / (k_e + mu)] /
 * (mu - k_e) (q' = R - mu q, I' = R q from q(0) = 0), BED = D + 2 I / ab;
 * gradients through dy_c / da_m = 1000 e^-k_e T (c - m). */
static void mono_bed(double ke, double T, const rkin_region *rg,
                     double s, const double *a, size_t k, double *bed,
                     double *grad)
{
  double mu = log(2.0) / rg->lq.trep_h, e = exp(-ke * T);
  double F = (1 - e) / ke;
  double G = ((1 - exp(-2 * ke * T)) / (2 * ke)
              - (1 - exp(-(ke + mu) * T)) / (ke + mu)) / (mu - ke);
  double y = 0, ab = rg->lq.ab_gy;
  size_t c, m;
  *bed = 0;
  for (m = 0; m < k; m++) grad[m] = 0;
  for (c = 0; c < k; c++) {
    double dbdy;
    y = 1000 * a[c] + y * e;
    *bed += s * F * y + 2 * s * s * G * y * y / ab;
    dbdy = s * F + 4 * s * s * G * y / ab;
    for (m = 0; m <= c; m++) grad[m] += dbdy * 1000 * pow(e, (double)(c - m));
  }
}

/* Cycles 150 h apart: each cycle's activity carries into the next ones
 * (e^-k_e T = 0.12), the last one's tail is not scored, so the optimum is
 * neither uniform nor front-loaded (the optimiser's starting plans): the
 * gradient search must find it. */
static void test_kkt(void)
{
  const rkin_organ *kid = rkin_organ_find("kidney", NULL);
  const rkin_organ *tum = rkin_organ_find("tumour", NULL);
  const rkin_nuclide *lu = rkin_nuclide_find("Lu-177", NULL);
  /* both regions see the one state; the "kidney" heavier (lower dose per
   * MBq h), the tumour more sensitive to dose rate (a/b 10 vs 2.5) */
  rkin_region rg[2] = {{"kidney", 0, 2.0, 0, kid->lq},
                       {"tumour", 0, 0.5, 0, tum->lq}};
  double p[1] = {0.01}, ke = 0.01 + log(2.0) / lu->half_life_h, T = 150;
  double sk = rkin_nuclide_j_per_mbqh(lu) / 2.0;
  double st = rkin_nuclide_j_per_mbqh(lu) / 0.5, amax[3] = {10, 10, 10};
  double gk[3], gt[3], bk, bt, a[3], obj, L, lo = 0, hi = HUGE_VAL, res = 0;
  double lam_lo = 0, lam_hi = HUGE_VAL, acob[3], objc;
  rkin_regimen_limit lim[1];
  rkin_regimen_rule u;
  rkin_model *m = mono_model();
  rkin_regimen *r = make(m, p, 1, rg, 2, 1, T);
  rkin_err err;
  size_t k, kc, c, nfree = 0;
  int rc;
  /* the limit: 60 % of the kidney BED of 3 x 10 GBq, so it binds */
  mono_bed(ke, T, &rg[0], sk, amax, 3, &bk, gk);
  L = 0.6 * bk;
  lim[0].region = 0;
  lim[0].bed = 1;
  lim[0].limit_gy = L;
  regfix_rule(&u, lim, 1, 3, 10, RKIN_OPT_GRADIENT);
  ok(r && rkin_regimen_route(r) == RKIN_ROUTE_AUGMENTED,
     "linear model forced onto the augmented (CVODES) route");
  rc = rkin_regimen_optimise(r, 0, &u, 0, NULL, a, &k, &obj, &err);
  ok(!rc && k >= 1, "closed-form case: optimised (%zu cycles)", k);
  if (rc || !k) goto done;
  mono_bed(ke, T, &rg[0], sk, a, k, &bk, gk);
  mono_bed(ke, T, &rg[1], st, a, k, &bt, gt);
  ok(fabs(bt - obj) <= 1e-6 * bt, "objective %.9g = the closed-form tumour "
     "BED %.9g (rel. 1e-6)", obj, bt);
  ok(bk <= L * (1 + 1e-9) && bk >= L * (1 - 1e-6), "KKT: the kidney limit "
     "is active: BED %.9g of %.9g Gy (primal feasibility, rel. 1e-6)", bk,
     L);
  /* stationarity with lambda >= 0 and the bounds' signs: a free activity
   * has grad_t = lambda grad_k; one at max_gbq grad_t >= lambda grad_k;
   * one at the lower bound (1 GBq) grad_t <= lambda grad_k */
  for (c = 0; c < k; c++) {
    double ratio = gt[c] / gk[c];
    if (a[c] >= 10 * (1 - 1e-7)) {
      if (ratio < lam_hi) lam_hi = ratio;
    } else if (a[c] <= 1 + 1e-7) {
      if (ratio > lam_lo) lam_lo = ratio;
    } else {
      lo = fmax(lo, ratio);
      hi = fmin(hi, ratio);
      nfree++;
    }
  }
  if (nfree) {
    double lam = 0.5 * (lo + hi);
    res = fabs(hi - lo) / lam;
    ok(res <= 1e-4 && lam >= lam_lo * (1 - 1e-4)
       && lam <= lam_hi * (1 + 1e-4) && lam > 0,
       "KKT: stationarity over %zu free activities, lambda = %.6g >= 0 "
       "(spread %.1e, tol. 1e-4), bound activities' signs hold", nfree,
       lam, res);
  } else {
    ok(lam_lo <= lam_hi * (1 + 1e-4) && lam_hi > 0, "KKT: a multiplier in "
       "[%.6g, %.6g] satisfies every bound's sign", lam_lo, lam_hi);
  }
  diag("plan %.6f %.6f %.6f GBq (%zu cycles), tumour BED %.6f Gy",
       a[0], k > 1 ? a[1] : 0, k > 2 ? a[2] : 0, k, obj);
  regfix_rule(&u, lim, 1, 3, 10, RKIN_OPT_COBYLA);
  rc = rkin_regimen_optimise(r, 0, &u, 0, NULL, acob, &kc, &objc, &err);
  ok(!rc && fabs(obj - objc) <= 1e-6 * objc, "closed-form case: COBYLA's "
     "optimum %.9g = the gradient optimum %.9g (rel. 1e-6)", objc, obj);
done:
  rkin_regimen_free(r);
  rkin_model_free(m);
}

/* A 4 h infusion per cycle (its rate moves with the activity, the
 * duration fixed: the sensitivities jump at its end and are forced while
 * it runs): the same optimum as COBYLA on the saturable model. */
static void test_infusion(void)
{
  static const double pv[6] = {0.030, 0.008, 0.4, 0.020, 0.004, 2000};
  const rkin_region *rg = regfix_regions();
  rkin_regimen_limit lim[2] = {{0, 1, 27.0}, {2, 0, 2.0}};
  rkin_model *m = sat_model();
  rkin_regimen *r;
  double a[2][3], obj[2];
  size_t k[2];
  rkin_err err;
  int rc = 0;
  infusion_h = 4;
  r = make(m, pv, 1, rg, 3, 0, 1344);
  infusion_h = 0;
  if (r) rc = regfix_optimise_both(r, 0, lim, 2, 3, 40, a, k, obj, &err);
  ok(r && !rc && fabs(obj[1] - obj[0]) <= 1e-6 * obj[0], "4 h infusions: "
     "gradient optimum %.6f = COBYLA's %.6f Gy (rel. %.1e, tol. 1e-6)",
     obj[1], obj[0], r && !rc ? obj[1] / obj[0] - 1 : 0.0);
  rkin_regimen_free(r);
  rkin_model_free(m);
}

/* The optimiser's gradients themselves: cumulative BEDs of 3 cycles by
 * each cycle's activity against central differences of
 * rkin_regimen_evaluate (step 1e-3 GBq), for boluses and for 4 h
 * infusions (activity moving the rate, not the duration), on the
 * saturable model; and against the closed form of the one compartment. */
static void test_gradients(void)
{
  static const double pv[6] = {0.030, 0.008, 0.4, 0.020, 0.004, 2000};
  static const double a[3] = {12, 7, 3};
  const rkin_organ *kid = rkin_organ_find("kidney", NULL);
  const rkin_organ *tum = rkin_organ_find("tumour", NULL);
  const rkin_nuclide *lu = rkin_nuclide_find("Lu-177", NULL);
  const rkin_region *rg = regfix_regions();
  rkin_model *m = sat_model(), *mo = mono_model();
  rkin_err err;
  int inf;
  for (inf = 0; inf < 2; inf++) {
    rkin_regimen *r;
    double cb[3], gb[9], worst = 0, h = 1e-3;
    int rc;
    infusion_h = inf ? 4 : 0;
    r = make(m, pv, 1, rg, 3, 0, 1344);
    infusion_h = 0;
    rc = !r || regfix_plan_grad(r, 0, 3, a, 0, cb, gb, &err);
    rc = rc ? rc : regfix_grad_vs_fd(r, 0, 3, a, gb, h, &worst, &err);
    ok(!rc && worst < 1e-4, "%s: d(cumulative BED) / d(activity of each "
       "cycle) from the sensitivities = central differences (rel. %.1e, "
       "tol. 1e-4)", inf ? "4 h infusions" : "boluses", worst);
    rkin_regimen_free(r);
  }
  {
    rkin_region rm[2] = {{"kidney", 0, 2.0, 0, kid->lq},
                         {"tumour", 0, 0.5, 0, tum->lq}};
    double p[1] = {0.01}, ke = 0.01 + log(2.0) / lu->half_life_h;
    double cb[2], gb[6], want, wg[3], worst = 0;
    rkin_regimen *r = make(mo, p, 1, rm, 2, 1, 150);
    size_t q, c;
    int rc = !r || regfix_plan_grad(r, 0, 3, a, 0, cb, gb, &err);
    for (q = 0; !rc && q < 2; q++) {
      mono_bed(ke, 150, &rm[q], rkin_nuclide_j_per_mbqh(lu)
               / rm[q].mass_kg, a, 3, &want, wg);
      worst = fmax(worst, fabs(cb[q] - want) / want);
      for (c = 0; c < 3; c++)
        worst = fmax(worst, fabs(gb[q * 3 + c] - wg[c]) / wg[c]);
    }
    ok(!rc && worst < 1e-6, "one compartment, cycles 150 h apart: "
       "cumulative BEDs and their gradients = closed forms (rel. %.1e, "
       "tol. 1e-6)", worst);
    rkin_regimen_free(r);
  }
  rkin_model_free(m);
  rkin_model_free(mo);
}

/* A carrier given with every activity (carrier_per_mbq x the MBq into
 * state C, engine/regimen/regimen.h): it saturates the kidney uptake, so
 * kidney BED per GBq falls with it; the gradients of the cumulative BEDs
 * by each cycle's activity (the carrier moving with the activity, a
 * second dose record) against central differences of
 * rkin_regimen_evaluate, for boluses and 4 h infusions; a carrier of 0
 * is the run without one. */
static void test_carrier(void)
{
  static const double pv[6] = {0.030, 0.008, 0.4, 0.020, 0.004, 2000};
  static const double a[3] = {12, 7, 3};
  const rkin_organ *kid = rkin_organ_find("kidney", NULL);
  const rkin_organ *tum = rkin_organ_find("tumour", NULL);
  rkin_region rg[2] = {{"kidney", 1, 0.3, 0, kid->lq},
                       {"tumour", 2, 0.05, 0, tum->lq}};
  rkin_model *m = carrier_model();
  rkin_err err;
  double none[2], zero[2], some[2], more[2];
  rkin_regimen *r0, *r1, *r2, *r3;
  int inf, rc;
  r0 = make(m, pv, 1, rg, 2, 0, 1344);
  carrier_per_mbq = 0;
  r1 = make(m, pv, 1, rg, 2, 0, 1344);
  carrier_per_mbq = 0.2;
  r2 = make(m, pv, 1, rg, 2, 0, 1344);
  carrier_per_mbq = 1.0;
  r3 = make(m, pv, 1, rg, 2, 0, 1344);
  carrier_per_mbq = 0;
  rc = !r0 || !r1 || !r2 || !r3
       || rkin_regimen_evaluate(r0, 0, 3, a, NULL, none, &err)
       || rkin_regimen_evaluate(r1, 0, 3, a, NULL, zero, &err)
       || rkin_regimen_evaluate(r2, 0, 3, a, NULL, some, &err)
       || rkin_regimen_evaluate(r3, 0, 3, a, NULL, more, &err);
  ok(!rc && zero[0] == none[0] && zero[1] == none[1], "carrier 0 per MBq: "
     "the run without a carrier (kidney BED %.6f Gy)", rc ? 0.0 : none[0]);
  ok(!rc && some[0] < none[0] && more[0] < some[0], "carrier 0, 0.2, 1 per "
     "MBq: kidney BED %.4f > %.4f > %.4f Gy (saturation)",
     rc ? 0.0 : none[0], rc ? 0.0 : some[0], rc ? 0.0 : more[0]);
  ok(!rc && some[1] > none[1] && more[1] > some[1], "... and tumour BED "
     "%.3f < %.3f < %.3f Gy (its uptake is not saturable: the plasma keeps "
     "what the kidney does not take)", rc ? 0.0 : none[1],
     rc ? 0.0 : some[1], rc ? 0.0 : more[1]);
  rkin_regimen_free(r0);
  rkin_regimen_free(r1);
  rkin_regimen_free(r2);
  rkin_regimen_free(r3);
  for (inf = 0; inf < 2; inf++) {
    rkin_regimen *r;
    double cb[2], gb[6], worst = 0, h = 1e-3;
    infusion_h = inf ? 4 : 0;
    carrier_per_mbq = 1.0;
    r = make(m, pv, 1, rg, 2, 0, 1344);
    infusion_h = 0;
    carrier_per_mbq = 0;
    ok(r && rkin_regimen_route(r) == RKIN_ROUTE_AUGMENTED, "a carrier "
       "takes the augmented route");
    rc = !r || regfix_plan_grad(r, 0, 3, a, 0, cb, gb, &err);
    rc = rc ? rc : regfix_grad_vs_fd(r, 0, 3, a, gb, h, &worst, &err);
    ok(!rc && worst < 1e-4, "carrier, %s: d(cumulative BED) / d(activity) "
       "from the sensitivities = central differences (rel. %.1e, tol. "
       "1e-4)", inf ? "4 h infusions" : "boluses", worst);
    rkin_regimen_free(r);
  }
  /* bad carriers */
  {
    rkin_regimen_spec sp = {0};
    double p0[6];
    memcpy(p0, pv, sizeof p0);
    sp.model = m;
    rkin_solve_opts_default(&sp.opts);
    sp.n_patients = 1;
    sp.params = p0;
    sp.n_regions = 2;
    sp.regions = rg;
    sp.interval_h = 1344;
    sp.carrier_per_mbq = -1;
    sp.carrier = 3;
    ok(!rkin_regimen_new(&sp, &err) && strstr(err.msg, "carrier amount per "
       "MBq must be a finite number >= 0"), "negative carrier: %s", err.msg);
    sp.carrier_per_mbq = 1;
    sp.carrier = 0;
    ok(!rkin_regimen_new(&sp, &err) && strstr(err.msg, "other than the "
       "inject state"), "carrier into the inject state: %s", err.msg);
    sp.carrier = 4;
    ok(!rkin_regimen_new(&sp, &err) && strstr(err.msg, "carrier state 4 "
       "must be one of the model's 4 states"), "carrier state outside the "
       "model: %s", err.msg);
  }
  rkin_model_free(m);
}

/* One optimisation through a workspace: the plan, its objective and
 * whether the vertex shortcut settled it (regimen_vertex.c; vx_part: it
 * left a search of rival plan lengths only, seeded with its plan; vx_warm:
 * how many of those searches started from its surrogate optimum, vx_kkt:
 * how many of those stopped there, a strict local maximum; vx_sens: cycle
 * solves with sensitivities in all). */
static long vx_part, vx_warm, vx_sens, vx_kkt;

static int opt_ws(rkin_regimen *r, size_t i, const rkin_regimen_rule *u,
                  double *a, size_t *k, double *obj, long *vx)
{
  rg_ws ws;
  rkin_err err;
  int rc = rg_ws_init(&ws, r, &err);
  if (!rc) rc = rg_optimise(&ws, i, u, NULL, a, k, obj, &err);
  if (rc) diag("optimise: %s", err.msg);
  *vx = ws.n_vertex;
  vx_part = ws.n_vertex_partial;
  vx_warm = ws.n_warm;
  vx_kkt = ws.n_kkt;
  vx_sens = ws.n_solve_sens;
  rg_ws_clear(&ws);
  return rc;
}

/* The vertex shortcut on the saturable model (max 15 GBq, 6 cycles 1344
 * h apart, so the optimum gives full cycles and one partial on a limit):
 * it settles patients 1 and 3, with the plan and objective of the full
 * multi-start search (RKIN_OPT_GRADIENT_SEARCH) and of COBYLA to 1e-6;
 * the objective is the re-scored BED and the limits hold. Its optimality
 * is checked independently of the sensitivities, by central differences
 * of rkin_regimen_evaluate (step 1e-3 GBq): with the binding limit's
 * multiplier lambda = (dT/dx) / (dg/dx) from the partial cycle x, every
 * full cycle has dT/da - lambda dg/da > 0 (KKT at an upper bound). */
static void test_vertex(void)
{
  static const double pv[18] = {0.017, 0.010, 0.5, 0.012, 0.006, 5000,
                                0.030, 0.008, 0.4, 0.020, 0.004, 2000,
                                0.012, 0.012, 0.6, 0.010, 0.005, 3000};
  const rkin_region *rg = regfix_regions();
  rkin_regimen_limit lim[2] = {{0, 1, 27.0}, {2, 0, 2.0}};
  rkin_model *m = sat_model();
  rkin_regimen *r = make(m, pv, 3, rg, 3, 0, 1344);
  size_t i;
  for (i = 0; r && i < 3; i++) {
    rkin_regimen_rule u;
    double a[3][6], obj[3], cd[3], cb[3], da = 0, h = 1e-3;
    double gt[6], gk[6], gm[6], lam, worst = HUGE_VAL;
    size_t k[3], c, j, kc;
    long vx[3];
    int rc = 0, binding_kidney;
    rkin_err err;
    long part = 0, warm[3], sens[3], kkt = 0;
    for (j = 0; j < 3; j++) {
      static const rkin_opt_method meth[3] = {
        RKIN_OPT_GRADIENT, RKIN_OPT_GRADIENT_SEARCH, RKIN_OPT_COBYLA};
      regfix_rule(&u, lim, 2, 6, 15, meth[j]);
      rc |= opt_ws(r, i, &u, a[j], &k[j], &obj[j], &vx[j]);
      if (j == 0) {
        part = vx_part;
        kkt = vx_kkt;
      }
      warm[j] = vx_warm;
      sens[j] = vx_sens;
    }
    for (c = 0; c < 6; c++) da = fmax(da, fabs(a[0][c] - a[1][c]));
    /* patient 2's 5-cycle plan is within 0.1 % of its 4-cycle optimum
     * on the surrogate: the shortcut leaves a search of 5 cycles only,
     * which its 4-cycle plan wins */
    ok(!rc && vx[0] == (i != 1) && part == (i == 1) && vx[1] == 0
       && vx[2] == 0, "patient %zu: the vertex shortcut %s (and only when "
       "asked)", i + 1, i != 1 ? "settles it"
       : "leaves a search of the rival length (a near tie)");
    /* the rival length's search starts from the surrogate's optimum of
     * that length (one search, warm), which, taken onto the binding
     * limit, is a vertex where the KKT conditions hold strictly: no local
     * search; its solves with sensitivities are then fewer than the full
     * search's over every length from cold starts */
    ok(!rc && warm[0] == (i == 1) && warm[1] == 0 && warm[2] == 0
       && kkt == (i == 1) && (i != 1 || sens[0] < sens[1]), "patient %zu: "
       "%ld warm-started searches (%s), %ld at a strict local maximum, %ld "
       "vs %ld solves with sensitivities", i + 1, warm[0],
       i == 1 ? "the rival length" : "none", kkt, sens[0], sens[1]);
    /* its line search onto the limit starts from the warm plan, near the
     * limit, and aims at the middle of the window that ends it: 17
     * solves with sensitivities in all (aimed at its edge 19; 26 when it
     * started from the ray's end at max, aimed at the edge) */
    if (i == 1)
      ok(!rc && sens[0] <= 17, "patient 2: the warm plan's line search "
         "starts at the plan: %ld solves with sensitivities (<= 17)",
         sens[0]);
    ok(!rc && k[0] == k[1] && da <= 1e-4
       && fabs(obj[0] - obj[1]) <= 1e-6 * obj[1],
       "patient %zu: shortcut = full search: tumour BED %.9f vs %.9f Gy "
       "(rel. %.1e, tol. 1e-6), %zu / %zu cycles, activities within %.1e "
       "GBq (tol. 1e-4)", i + 1, obj[0], obj[1], obj[0] / obj[1] - 1, k[0],
       k[1], da);
    ok(!rc && obj[0] >= obj[2] * (1 - 1e-6), "patient %zu: shortcut %.6f "
       ">= COBYLA %.6f Gy (rel. tol. 1e-6)", i + 1, obj[0], obj[2]);
    kc = k[0];
    rkin_regimen_evaluate(r, i, kc, a[0], cd, cb, &err);
    ok(fabs(cb[1] - obj[0]) <= 1e-9 * obj[0] && cb[0] <= 27 && cd[2] <= 2
       && (fabs(cb[0] - 27) <= 1e-5 * 27 || fabs(cd[2] - 2) <= 1e-5 * 2),
       "patient %zu: objective = re-scored BED, kidney BED %.6f <= 27, "
       "marrow %.6f <= 2 Gy, one of them active", i + 1, cb[0], cd[2]);
    binding_kidney = fabs(cb[0] - 27) <= 1e-5 * 27;
    /* the partial cycle lands on the binding limit less the route's
     * reproducibility margin of 10 rtol (rtol 1e-8 here), to 1e-8 */
    ok(fabs((binding_kidney ? cb[0] / 27 : cd[2] / 2) - (1 - 1e-7)) <= 1e-8,
       "patient %zu: the binding limit at 1 - 10 rtol of its value (%.10f)",
       i + 1, binding_kidney ? cb[0] / 27 : cd[2] / 2);
    for (c = 0; c < kc; c++) {
      double ap[6], dp[3], bp[3], dm[3], bm[3];
      memcpy(ap, a[0], sizeof ap);
      ap[c] += h;
      rkin_regimen_evaluate(r, i, kc, ap, dp, bp, &err);
      ap[c] -= 2 * h;
      rkin_regimen_evaluate(r, i, kc, ap, dm, bm, &err);
      gt[c] = (bp[1] - bm[1]) / (2 * h);
      gk[c] = (bp[0] - bm[0]) / (2 * h);
      gm[c] = (dp[2] - dm[2]) / (2 * h);
    }
    lam = gt[kc - 1] / (binding_kidney ? gk[kc - 1] : gm[kc - 1]);
    for (c = 0; c + 1 < kc; c++)
      worst = fmin(worst, (gt[c] - lam * (binding_kidney ? gk[c] : gm[c]))
                          / gt[c]);
    ok(a[0][kc - 1] < 15 && lam > 0 && (kc == 1 || worst > 0), "patient "
       "%zu: KKT by central differences: partial cycle %.4f GBq, lambda "
       "%.4g > 0, full cycles' reduced gradients >= %.3g of dT/da > 0",
       i + 1, a[0][kc - 1], lam, kc > 1 ? worst : 0.0);
  }
  rkin_regimen_free(r);
  rkin_model_free(m);
}

/* Where the vertex is not (certainly) the optimum the shortcut declines
 * and the full search runs, giving its plan exactly: cycles 150 h apart
 * (each carries 12 % into the next: the carry-over margin exceeds what
 * the KKT check allows), a smallest cycle of 0.01 GBq (one more tiny
 * cycle is within the margin of the vertex plan on the surrogate), and
 * the kidney's BED (saturable uptake: concave dose) maximised under a
 * tumour BED limit (convex), where spreading the activity pays: the
 * full cycles' reduced gradients are negative at the vertex. */
static void test_vertex_declines(void)
{
  static const double pv[6] = {0.030, 0.008, 0.4, 0.020, 0.004, 2000};
  const rkin_region *rg = regfix_regions();
  rkin_regimen_limit lim[2] = {{0, 1, 27.0}, {2, 0, 2.0}};
  rkin_model *m = sat_model();
  long vx_part_last = 0, warm_last = 0;
  int t;
  for (t = 0; t < 3; t++) {
    rkin_regimen *r = make(m, pv, 1, rg, 3, 0, t ? 1344 : 150);
    rkin_regimen_limit tl[1] = {{1, 1, 150.0}};
    rkin_regimen_rule u;
    double a[2][6], obj[2];
    size_t k[2];
    long vx[2];
    int rc = 0, j;
    for (j = 0; r && j < 2; j++) {
      regfix_rule(&u, lim, 2, t ? 6 : 4, 15, j ? RKIN_OPT_GRADIENT_SEARCH
                                                : RKIN_OPT_GRADIENT);
      if (t == 1) u.min_cycle_gbq = 0.01;
      if (t == 2) {
        u.objective = 0;
        u.limits = tl;
        u.n_limits = 1;
      }
      rc |= opt_ws(r, 0, &u, a[j], &k[j], &obj[j], &vx[j]);
      if (j == 0) {
        vx_part_last = vx_part;
        warm_last = vx_warm;
      }
    }
    /* the near tie (t 1) leaves a search of the rival lengths, which
     * the vertex plan wins: the full search's optimum to 1e-9; the
     * others the full search itself */
    if (r && !rc && t == 1) {
      double da = 0;
      size_t c;
      for (c = 0; c < 6; c++) da = fmax(da, fabs(a[0][c] - a[1][c]));
      ok(vx[0] == 0 && vx_part_last == 1 && k[0] == k[1] && da <= 1e-6
         && fabs(obj[0] - obj[1]) <= 1e-9 * obj[1], "smallest cycle 0.01 "
         "GBq: the shortcut leaves a search of the rival lengths; the full "
         "search's optimum (%zu cycles, tumour BED %.9f vs %.9f Gy)", k[0],
         obj[0], obj[1]);
      /* the rival plans end on a cycle at the smallest activity: made
       * feasible with it kept there, each search starts warm */
      ok(warm_last >= 1, "smallest cycle 0.01 GBq: %ld rival-length "
         "searches warm-started", warm_last);
    } else {
      ok(r && !rc && vx[0] == 0 && vx_part_last == 0 && obj[0] == obj[1]
         && k[0] == k[1] && !memcmp(a[0], a[1], k[0] * sizeof a[0][0]),
         "%s: the shortcut declines; the full search's plan (%zu cycles, "
         "objective BED %.6f Gy)", t == 2 ? "kidney BED under a tumour BED "
         "limit" : "cycles 150 h apart", k[0], obj[0]);
    }
    rkin_regimen_free(r);
  }
  rkin_model_free(m);
}

/* A near tie whose rival plan is a vertex only just: patient kPK 0.01398,
 * kPT 0.008151, kel 0.3824, kK 0.0126, kT 0.00718, km 4897 (max 15 GBq,
 * 6 cycles). The 5-cycle rival's warm plan ends on a cycle at lo whose
 * reduced gradient dT/da - lambda dg/da is about -9e-4 of dT/da, inside
 * the 1e-3 margin of the KKT check (the sensitivities' error could flip
 * it): the search is warm-started but polished by SLSQP, and the result
 * is the full search's to 1e-8. */
static void test_warm_margin(void)
{
  static const double pv[6] = {0.01398, 0.008151, 0.3824, 0.0126, 0.00718,
                               4897};
  const rkin_region *rg = regfix_regions();
  rkin_regimen_limit lim[2] = {{0, 1, 27.0}, {2, 0, 2.0}};
  rkin_model *m = sat_model();
  rkin_regimen *r = make(m, pv, 1, rg, 3, 0, 1344);
  rkin_regimen_rule u;
  double a[2][6], obj[2];
  size_t k[2];
  long vx[2], warm = 0, kkt = 0;
  int rc = 0, j;
  for (j = 0; r && j < 2; j++) {
    regfix_rule(&u, lim, 2, 6, 15,
                j ? RKIN_OPT_GRADIENT_SEARCH : RKIN_OPT_GRADIENT);
    rc |= opt_ws(r, 0, &u, a[j], &k[j], &obj[j], &vx[j]);
    if (j == 0) {
      warm = vx_warm;
      kkt = vx_kkt;
    }
  }
  ok(r && !rc && warm == 1 && kkt == 0, "rival vertex inside the KKT "
     "margin: warm-started (%ld), not taken as a strict maximum (%ld)",
     warm, kkt);
  ok(r && !rc && k[0] == k[1] && fabs(obj[0] - obj[1]) <= 1e-8 * obj[1],
     "rival vertex inside the KKT margin: the full search's optimum (%zu / "
     "%zu cycles, tumour BED %.9f vs %.9f Gy, tol. 1e-8)", k[0], k[1],
     obj[0], obj[1]);
  rkin_regimen_free(r);
  rkin_model_free(m);
}

/* At a confidence (each limit holds the upper bound of the planned
 * course, regimen.h) the shortcut works on the same limited values: at
 * 0.95 with a 10 % shared SD, kidney BED 15 Gy binding, it settles the
 * saturable patient with the full search's plan (1e-6) and the upper
 * bound BED + z s (2 BED - D) on the limit by hand. */
static void test_vertex_confidence(void)
{
  static const double pv[6] = {0.017, 0.010, 0.5, 0.012, 0.006, 5000};
  const rkin_region *rg = regfix_regions();
  rkin_regimen_limit lim[2] = {{0, 1, 15.0}, {2, 0, 4.0}};
  rkin_model *m = sat_model();
  rkin_regimen *r = make(m, pv, 1, rg, 3, 0, 1344);
  rkin_regimen_rule u;
  double a[2][6], obj[2], cd[3], cb[3], zs = 1.6448536269514722 * 0.1;
  double ub_k, ub_m;
  size_t k[2];
  long vx[2];
  rkin_err err;
  int rc = 0, j;
  for (j = 0; r && j < 2; j++) {
    regfix_rule(&u, lim, 2, 6, 15,
                j ? RKIN_OPT_GRADIENT_SEARCH : RKIN_OPT_GRADIENT);
    u.confidence = 0.95;
    u.plan_u_rel = 0.1;
    rc |= opt_ws(r, 0, &u, a[j], &k[j], &obj[j], &vx[j]);
  }
  ok(r && !rc && vx[0] == 1 && k[0] == k[1]
     && fabs(obj[0] - obj[1]) <= 1e-6 * obj[1], "confidence 0.95: the "
     "shortcut settles it with the full search's optimum %.6f vs %.6f Gy",
     obj[0], obj[1]);
  if (r && !rc) {
    rkin_regimen_evaluate(r, 0, k[0], a[0], cd, cb, &err);
    ub_k = cb[0] + zs * (2 * cb[0] - cd[0]);
    ub_m = cd[2] * (1 + zs);
    ok(ub_k <= 15 && ub_m <= 4 && fabs(ub_k - 15) <= 1e-5 * 15,
       "confidence 0.95: upper bounds kidney BED %.6f <= 15 (binding), "
       "marrow %.6f <= 4 Gy by hand", ub_k, ub_m);
  }
  rkin_regimen_free(r);
  rkin_model_free(m);
}

/* sat_model with dose modifiers on the injected state P: F = f and a
 * lag of lag h (NONMEM F1, ALAG1). */
static rkin_model *sat_model_mods(double f, double lag)
{
  rkin_model *m = sat_model();
  rkin_graph *g = (rkin_graph *)rkin_model_graph(m);
  rkin_node nodes[RKIN_MOD_N * 3];
  rkin_err err;
  size_t j;
  for (j = 0; j < RKIN_MOD_N * 3; j++) nodes[j] = -1;
  nodes[RKIN_MOD_F * 3 + 0] = rkin_expr_const(g, f);
  nodes[RKIN_MOD_LAG * 3 + 0] = rkin_expr_const(g, lag);
  if (m && rkin_model_set_dose_mods(m, nodes, &err)) {
    diag("dose modifiers: %s", err.msg);
    rkin_model_free(m);
    return NULL;
  }
  return m;
}

/* A cycle of zero activity inside a plan (min_gbq = min_cycle_gbq = 0
 * lets the optimiser reach it) on a model whose injected state has F and
 * ALAG: the gradient by that cycle's activity is the one-sided limit, so
 * it is checked against the second-order one-sided difference
 * (-3 f(0) + 4 f(h) - f(2h)) / 2h of rkin_regimen_evaluate (h = 1e-3
 * GBq; truncation about h^2/3 times the third derivative, like the
 * central differences above). Putting the derivative in at t0 without F
 * and the lag (an earlier route) is 1/0.6 too large and too early;
 * leaving it out (infusions, earlier) gives 0. Cases: boluses, 4 h
 * infusions (the zero-amount record runs at rate 0 over the 4 h, its
 * rate's derivative F dA / 4 h), and 4 h infusions with a carrier (two
 * zero-amount records moving together), each with the zero cycle second
 * and first. */
static void test_zero_cycle_mods(void)
{
  static const double pv[6] = {0.017, 0.010, 0.5, 0.012, 0.006, 5000};
  static const double plans[2][3] = {{5, 0, 3}, {0, 5, 3}};
  static const char *const what[3] = {"F 0.6 and ALAG 2 h, boluses",
                                      "F 0.6 and ALAG 2 h, 4 h infusions",
                                      "carrier 0.2 per MBq, 4 h infusions"};
  const rkin_organ *kid = rkin_organ_find("kidney", NULL);
  const rkin_organ *tum = rkin_organ_find("tumour", NULL);
  rkin_region rg[2] = {{"kidney", 1, 0.3, 0, kid->lq},
                       {"tumour", 2, 0.05, 0, tum->lq}};
  rkin_model *m = sat_model_mods(0.6, 2.0), *mc = carrier_model();
  rkin_err err;
  int cs, z;
  for (cs = 0; cs < 3; cs++)
    for (z = 0; z < 2; z++) {
      rkin_regimen *r;
      const double *a = plans[z];
      double cb[2], gb[6], f0[2], f1[2], f2[2], ap[3], worst = 0, h = 1e-3;
      size_t q, c = z ? 0 : 1;
      int rc;
      infusion_h = cs ? 4 : 0;
      carrier_per_mbq = cs == 2 ? 0.2 : 0;
      r = m && mc ? make(cs == 2 ? mc : m, pv, 1, rg, 2, 0, 1344) : NULL;
      infusion_h = 0;
      carrier_per_mbq = 0;
      rc = !r || regfix_plan_grad(r, 0, 3, a, 0, cb, gb, &err);
      if (rc && r) diag("zero cycle, gradient: %s", err.msg);
      memcpy(ap, a, sizeof ap);
      rc = rc || rkin_regimen_evaluate(r, 0, 3, ap, NULL, f0, &err);
      ap[c] = h;
      rc = rc || rkin_regimen_evaluate(r, 0, 3, ap, NULL, f1, &err);
      ap[c] = 2 * h;
      rc = rc || rkin_regimen_evaluate(r, 0, 3, ap, NULL, f2, &err);
      if (rc && r) diag("zero cycle: %s", err.msg);
      for (q = 0; !rc && q < 2; q++) {
        double fd = (-3 * f0[q] + 4 * f1[q] - f2[q]) / (2 * h);
        worst = fmax(worst, fabs(gb[q * 3 + c] - fd) / fabs(fd));
      }
      ok(!rc && worst < 1e-4, "%s, cycle %zu of 0 GBq: d(cumulative BED) "
         "/ d(its activity) = the one-sided difference (rel. %.1e, tol. "
         "1e-4)", what[cs], c + 1, worst);
      rkin_regimen_free(r);
    }
  rkin_model_free(m);
  rkin_model_free(mc);
}

/* An infusion lasts infusion_h whatever the injected state's F, which
 * scales its rate (F A / infusion_h over infusion_h; the records are
 * RATE -2 with the augmented model's D): the saturable model with F 0.5
 * given 2a GBq per cycle has the cumulative BEDs of the model without F
 * given a (the same input over the same hours; 1e-9: the two integrate
 * different numbers through CVODES at rtol 1e-8). A given rate A / 4 h
 * (the records before) would run 2a for 0.5 x 4 h instead. */
static void test_infusion_f(void)
{
  static const double pv[6] = {0.017, 0.010, 0.5, 0.012, 0.006, 5000};
  static const double a[3] = {6, 4, 2}, a2[3] = {12, 8, 4};
  const rkin_organ *kid = rkin_organ_find("kidney", NULL);
  const rkin_organ *tum = rkin_organ_find("tumour", NULL);
  rkin_region rg[2] = {{"kidney", 1, 0.3, 0, kid->lq},
                       {"tumour", 2, 0.05, 0, tum->lq}};
  rkin_model *m = sat_model(), *mf = sat_model_mods(0.5, 0);
  rkin_regimen *r, *rf;
  double b[2], bf[2], ap[3], worst = 0;
  rkin_err err;
  size_t q;
  int rc;
  infusion_h = 4;
  r = m ? make(m, pv, 1, rg, 2, 0, 1344) : NULL;
  rf = mf ? make(mf, pv, 1, rg, 2, 0, 1344) : NULL;
  infusion_h = 0;
  memcpy(ap, a, sizeof ap);
  rc = !r || !rf || rkin_regimen_evaluate(r, 0, 3, ap, NULL, b, &err);
  memcpy(ap, a2, sizeof ap);
  rc = rc || rkin_regimen_evaluate(rf, 0, 3, ap, NULL, bf, &err);
  if (rc && r && rf) diag("infusion with F: %s", err.msg);
  for (q = 0; !rc && q < 2; q++)
    worst = fmax(worst, fabs(bf[q] - b[q]) / b[q]);
  ok(!rc && worst < 1e-9, "4 h infusions, F 0.5 on the injected state "
     "and twice the activity = no F (cumulative BEDs, rel. %.1e, tol. "
     "1e-9)", worst);
  rkin_regimen_free(r);
  rkin_regimen_free(rf);
  rkin_model_free(m);
  rkin_model_free(mf);
}

/* The vertex shortcut's Newton steps onto the limit with the partial
 * cycle start from a quadratic model of that cycle's share (0 at 0, its
 * value and cycle 1's slope at max) and aim at the middle of the window
 * that ends them: 12 saturable patients (test_vertex's first, kPK, kT
 * and km varied), of which the shortcut settles 10 (the other two are
 * near ties), take 49 solves with sensitivities in all (the vertex's
 * nodes at lo and max included); from a linear start 50, aimed at the
 * window's edge 52. */
static void test_vertex_newton(void)
{
  const rkin_region *rg = regfix_regions();
  rkin_regimen_limit lim[2] = {{0, 1, 27.0}, {2, 0, 2.0}};
  rkin_model *m = sat_model();
  double pv[12 * 6];
  rkin_regimen *r;
  size_t i;
  long sens = 0, settled = 0;
  int rc = 0;
  for (i = 0; i < 12; i++) {
    double *p = pv + 6 * i;
    p[0] = 0.017 * (0.7 + 0.2 * (double)(i % 4));
    p[1] = 0.010;
    p[2] = 0.5;
    p[3] = 0.012;
    p[4] = 0.006 * (0.8 + 0.2 * (double)(i % 3));
    p[5] = 5000 * (0.5 + 0.25 * (double)(i % 5));
  }
  r = make(m, pv, 12, rg, 3, 0, 1344);
  for (i = 0; r && i < 12; i++) {
    rkin_regimen_rule u;
    double a[6], obj;
    size_t k;
    long vx;
    regfix_rule(&u, lim, 2, 6, 15, RKIN_OPT_GRADIENT);
    rc |= opt_ws(r, i, &u, a, &k, &obj, &vx);
    if (vx) sens += vx_sens;   /* the settled ones: the vertex's own */
    settled += vx;
  }
  ok(r && !rc && settled == 10 && sens <= 49, "12 patients: %ld settled "
     "by the shortcut (10) with %ld solves with sensitivities (<= 49)",
     settled, sens);
  rkin_regimen_free(r);
  rkin_model_free(m);
}

/* The rules' start plans (empiric 4 x 7.4 GBq, PP-PRRT kidney dose 23 Gy
 * over 4 cycles, ILUMINET 7.4 GBq until kidney BED 27 Gy) made on first
 * use (rg_starts with rules) against the same plans made up front with
 * rg_rule_plan and given: the same plan to the bit for the three patients
 * of test_vertex; the certified patients (1 and 3) never make them on the
 * truth (their plans decided on the surrogate are far below the vertex
 * plan), the near tie (2) does, for its search. With ILUMINET at 15 GBq a
 * cycle (max), its plan is the vertex plan itself: made on the truth; so
 * are they for the full search (no shortcut), which starts from them. */
static void test_rule_starts(void)
{
  static const double pv[18] = {0.017, 0.010, 0.5, 0.012, 0.006, 5000,
                                0.030, 0.008, 0.4, 0.020, 0.004, 2000,
                                0.012, 0.012, 0.6, 0.010, 0.005, 3000};
  static const rkin_rule_kind kinds[3] = {
    RKIN_RULE_EMPIRIC, RKIN_RULE_PP_PRRT, RKIN_RULE_ILUMINET};
  const rkin_region *rg = regfix_regions();
  rkin_regimen_limit lim[2] = {{0, 1, 27.0}, {2, 0, 2.0}};
  rkin_model *m = sat_model();
  rkin_regimen *r = make(m, pv, 3, rg, 3, 0, 1344);
  size_t i;
  int t;
  for (t = 0; r && t < 3; t++)
    for (i = 0; i < 3; i++) {
      rkin_regimen_rule u, b[3];
      double plan[2][18], a[2][6], obj[2] = {0, 0};
      size_t k[2] = {0, 0}, kr, j;
      long made[2] = {0, 0};
      int rc = 0, e;
      rkin_err err;
      if (t > 0 && i != 0) continue;
      regfix_rule(&u, lim, 2, 6, 15,
                  t == 2 ? RKIN_OPT_GRADIENT_SEARCH : RKIN_OPT_GRADIENT);
      u.target_gy = 23;
      u.bed_limit_gy = 27;
      if (t == 1) u.activity_gbq = 15;
      for (j = 0; j < 3; j++) {
        b[j] = u;
        b[j].kind = kinds[j];
      }
      memset(plan, 0, sizeof plan);
      for (e = 0; e < 2; e++) {
        rg_ws ws;
        rg_starts st = {3, plan[e], b, 0};
        if ((rc |= rg_ws_init(&ws, r, &err))) break;
        for (j = 0; e == 1 && j < 3 && !rc; j++)
          rc |= rg_rule_plan(&ws, i, &b[j], plan[e] + j * 6, &kr, &err);
        if (e == 1) st.rules = NULL;   /* given, made up front */
        if (!rc) rc |= rg_optimise(&ws, i, &u, &st, a[e], &k[e], &obj[e],
                                   &err);
        made[e] = ws.n_rule_plans;
        rg_ws_clear(&ws);
      }
      if (rc) diag("rule starts: %s", err.msg);
      ok(!rc && k[0] == k[1] && obj[0] == obj[1]
         && !memcmp(a[0], a[1], k[0] * sizeof a[0][0])
         && !memcmp(plan[0], plan[1], made[0] ? sizeof plan[0] : 0),
         "%spatient %zu: the rules' plans made on first use = made up "
         "front: plan to the bit (%zu cycles, tumour BED %.9f Gy)",
         t == 1 ? "ILUMINET at 15 GBq, " : t ? "full search, " : "", i + 1, k[0], obj[0]);
      ok(!rc && made[0] == (t > 0 || i == 1) && made[1] == 0,
         "%spatient %zu: the rules' plans %s on the truth (%ld)",
         t == 1 ? "ILUMINET at 15 GBq, " : t ? "full search, " : "", i + 1,
         t > 0 || i == 1 ? "made" : "not made", made[0]);
    }
  rkin_regimen_free(r);
  rkin_model_free(m);
}

/* P -> K (linear: kPK P), P -> T, P -> out, K -> out, T -> out; Lu-177. */
static rkin_model *lin_model(void)
{
  static const char *st[] = {"P", "K", "T"};
  static const char *pa[] = {"kPK", "kPT", "kel", "kK", "kT"};
  static const double v[] = {0.017, 0.010, 0.5, 0.012, 0.006};
  rkin_graph *g = rkin_graph_new();
  rkin_node d[3];
  rkin_model_spec sp = {0};
  regfix_pkt_deriv(g, rkin_expr_binary(g, RKIN_OP_MUL, rkin_expr_param(g, 0),
                                       rkin_expr_state(g, 0)), d);
  regfix_spec(&sp, "pkt_lin", 3, st, d, 5, pa, v);
  return rkin_model_new(&sp, g, NULL);
}

/* Largest relative difference of n values a against b. */
static double max_rel(const double *a, const double *b, size_t n)
{
  double w = 0;
  size_t j;
  for (j = 0; j < n; j++)
    w = fmax(w, fabs(a[j] - b[j]) / fmax(fabs(b[j]), 1e-300));
  return w;
}

/* The rules' plans decided on the vertex shortcut's surrogate (nodes lo,
 * x, max from the empty state; cubic Hermite in the activity between)
 * against the truth, for PP-PRRT (kidney dose 12 Gy over 4 cycles, 7.4
 * GBq first) and ILUMINET (7.4 GBq until kidney BED 15 Gy, the last cycle
 * cut to the budget by its G factor): every cycle's doses and BEDs, and
 * G's share of the BED (G D^2 / ab: G itself is a small difference for
 * the marrow), against the cycle solved from the empty state at the same
 * activity, and the plan's activities (relative to max_gbq, 15 GBq)
 * against rg_rule_plan's (cycles 1344 h apart: carry-over below 1e-6).
 * On a linear model a cycle's dose is linear in its activity, its BED
 * quadratic and G constant, so the cubic surrogate is exact: 1e-6 (rtol
 * 1e-8, the nodes' sensitivities), plans 1e-5. On the saturable model (12
 * patients, node x the vertex plan's partial cycle) within 8 %: the
 * bench's worst rule plan over 2,816 patients was 5.7 % (PP-PRRT) off;
 * here 5.1 % (values) and 4.3 % (activities). */
static void test_surrogate_rules(void)
{
  static const rkin_rule_kind kinds[2] = {RKIN_RULE_PP_PRRT,
                                          RKIN_RULE_ILUMINET};
  const rkin_region *rg = regfix_regions();
  rkin_regimen_limit lim[2] = {{0, 1, 27.0}, {2, 0, 2.0}};
  double pv[12 * 6];
  size_t i, lin;
  for (i = 0; i < 12; i++) {   /* the saturable population (varied) */
    double f = (double)i / 11;
    pv[6 * i + 0] = 0.010 + 0.025 * f;
    pv[6 * i + 1] = 0.006 + 0.006 * ((i * 7) % 12) / 11.0;
    pv[6 * i + 2] = 0.4 + 0.2 * ((i * 5) % 12) / 11.0;
    pv[6 * i + 3] = 0.008 + 0.014 * ((i * 3) % 12) / 11.0;
    pv[6 * i + 4] = 0.004 + 0.003 * f;
    pv[6 * i + 5] = 1500 + 4000 * ((i * 5 + 3) % 12) / 11.0;
  }
  for (lin = 0; lin < 2; lin++) {
    rkin_model *m = lin ? lin_model() : sat_model();
    size_t np = lin ? 3 : 12;
    double pl[3 * 5], tol = lin ? 1e-6 : 0.08, wv = 0, wp = 0, wg = 0;
    rkin_regimen *r;
    int bad = 0, t;
    size_t ncy = 0, ncut = 0;
    for (i = 0; i < 15; i++) pl[i] = pv[6 * (i / 5) * 4 + i % 5];
    r = make(m, lin ? pl : pv, np, rg, 3, 1, 1344);
    ok(r && rkin_regimen_route(r) == RKIN_ROUTE_AUGMENTED,
       "surrogate rules, %s model: augmented route",
       lin ? "linear" : "saturable");
    for (i = 0; r && i < np; i++)
      for (t = 0; t < 2; t++) {
        rkin_regimen_rule u, b;
        rg_ws ws;
        rkin_err err;
        double act[6], sa[6], ta[6], obj, x = 0, sd[18], sg[18], sb[18];
        double y[3], td[3], tg[3], tb[3];
        size_t kk = 0, ks = 0, kt = 0, c, q;
        uint64_t search;
        int rc;
        regfix_rule(&u, lim, 2, 6, 15, RKIN_OPT_GRADIENT);
        b = u;
        b.kind = kinds[t];
        b.region = 0;
        b.target_gy = 12;
        b.n_cycles = 4;
        b.bed_limit_gy = 15;
        b.activity_gbq = 7.4;
        if ((rc = rg_ws_init(&ws, r, &err))) break;
        /* x: the vertex plan's partial cycle, as the shortcut takes it */
        rc = rg_opt_vertex(&ws, i, &u, NULL, act, &kk, &obj, &search, NULL,
                           &err);
        if (rc >= 0 && kk) x = act[kk - 1];
        if (rc >= 0)
          rc = rg_vertex_rule_plan(&ws, i, &u, lin ? 6.0 : x, &b, sa, &ks,
                                   sd, sg, sb, &err);
        if (!rc) rc = rg_rule_plan(&ws, i, &b, ta, &kt, &err);
        for (c = 0; !rc && c < ks; c++) {
          memset(y, 0, sizeof y);
          rc = rg_cycle(&ws, i, y, 1000 * sa[c], NULL, td, tg, tb, 0, NULL,
                        NULL, &err);
          wv = fmax(wv, fmax(max_rel(sd + 3 * c, td, 3),
                             max_rel(sb + 3 * c, tb, 3)));
          for (q = 0; q < 3; q++)   /* G's share of the BED */
            wg = fmax(wg, fabs(sg[3 * c + q] - tg[q]) * td[q] * td[q]
                              / rg[q].lq.ab_gy / tb[q]);
          ncy++;
        }
        if (rc) diag("surrogate rules: %s", err.msg);
        if (ks && sa[ks - 1] < 7.4) ncut++;
        if (rc || ks != kt || ks < 2) bad = 1;
        else
          for (c = 0; c < ks; c++) wp = fmax(wp, fabs(sa[c] - ta[c]) / 15);
        rg_ws_clear(&ws);
      }
    ok(!bad && wv <= tol && wg <= tol,
       "%s model, %zu patients: the rules' %zu cycles on the surrogate: "
       "doses and BEDs within %.1e, G's share of the BED within %.1e of "
       "the truth's (tol. %.0e)", lin ? "linear" : "saturable", np, ncy, wv, wg, tol);
    ok(!bad && wp <= (lin ? 1e-5 : tol) && ncut > 0,
       "%s model: the rules' plans on the surrogate = on the truth, "
       "activities within %.1e of max_gbq (tol. %.0e), same lengths; %zu end "
       "below 7.4 GBq", lin ? "linear" : "saturable", wp, lin ? 1e-5 : tol,
       ncut);
    rkin_regimen_free(r);
    rkin_model_free(m);
  }
}

int main(void)
{
  rkin_init();
  test_gradients();
  test_carrier();
  test_zero_cycle_mods();
  test_infusion_f();
  test_vs_cobyla();
  test_infusion();
  test_kkt();
  test_vertex();
  test_vertex_declines();
  test_warm_margin();
  test_vertex_confidence();
  test_rule_starts();
  test_vertex_newton();
  test_surrogate_rules();
  done_testing();
  return exit_status();
}
