/* test_regopt_ev.c - the regimen optimiser ("optimised" rule, augmented
 * route) on a model with events: a saturable-uptake model (P -> K
 * saturable, P -> T, P -> out; Lu-177) with
 *  - "protect": when K rises above Kth = 1 MBq (early in every cycle, at
 *    a time that moves with the activity), 6 h later K becomes fr K
 *    (fr = 0.6; the value taken at execution);
 *  - "late": at cycle time 1300 h, 100 h later (56 h into the next cycle
 *    of 1344 h: pending across the boundary) K becomes K / 2.
 * Checked: the gradients of the cumulative BEDs by each cycle's activity
 * (sensitivities across both events, carried across cycles) against
 * central differences of rkin_regimen_evaluate (plain solves); the
 * optimum of SLSQP (sensitivity gradients, plan caches carrying the
 * events) re-scored by rkin_regimen_evaluate equals the optimiser's own
 * value, keeps the limits, and equals COBYLA's (no gradients) optimum. */
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

static rkin_model *ev_model(void)
{
  static const char *st[] = {"P", "K", "T"};
  static const char *pa[] = {"kPK", "kPT", "kel", "kK", "kT", "km", "Kth",
                             "fr"};
  static const double v[] = {0.017, 0.010, 0.5, 0.012, 0.006, 5000, 1, 0.6};
  static int tgt[1] = {1};
  static rkin_node val[2];
  rkin_graph *g = rkin_graph_new();
  rkin_node K = rkin_expr_state(g, 1), d[3];
  rkin_model_spec sp = {0};
  rkin_model_event ev[2] = {{0}, {0}};
  rkin_err err = {0};
  rkin_model *m;
  regfix_sat_deriv(g, d);
  val[0] = rkin_expr_binary(g, RKIN_OP_MUL, rkin_expr_param(g, 7), K);
  val[1] = rkin_expr_binary(g, RKIN_OP_MUL, rkin_expr_const(g, 0.5), K);
  ev[0].name = "protect";
  ev[0].trigger = rkin_expr_binary(g, RKIN_OP_GT, K, rkin_expr_param(g, 6));
  ev[0].delay = rkin_expr_const(g, 6);
  ev[1].name = "late";
  ev[1].trigger = rkin_expr_binary(g, RKIN_OP_GE, rkin_expr_time(g),
                                   rkin_expr_const(g, 1300));
  ev[1].delay = rkin_expr_const(g, 100);
  ev[0].initial_value = ev[1].initial_value = 1;
  ev[0].persistent = ev[1].persistent = 1;
  ev[0].priority = ev[1].priority = -1;
  ev[0].n_assign = ev[1].n_assign = 1;
  ev[0].target = ev[1].target = tgt;
  ev[0].value = &val[0];
  ev[1].value = &val[1];
  regfix_spec(&sp, "pkt_events", 3, st, d, 8, pa, v);
  if (!(m = rkin_model_new(&sp, g, &err))
      || rkin_model_set_events(m, ev, 2, &err)) {
    diag("model: %s", err.msg);
    exit(1);
  }
  return m;
}

static const double pv[16] = {0.017, 0.010, 0.5, 0.012, 0.006, 5000, 1, 0.6,
                              0.030, 0.008, 0.4, 0.020, 0.004, 2000, 1, 0.6};

static void test_gradients(rkin_regimen *r)
{
  static const double a[3] = {12, 7, 3};
  double cb[3], gb[9], b0[3], worst = 0, h = 1e-3;
  size_t q;
  rkin_err err;
  int rc = regfix_plan_grad(r, 0, 3, a, 1, cb, gb, &err);
  if (rc) diag("plan_grad: %s", err.msg);
  rc = rc ? rc : rkin_regimen_evaluate(r, 0, 3, a, NULL, b0, &err);
  for (q = 0; !rc && q < 3; q++)
    worst = fmax(worst, fabs(cb[q] - b0[q]) / b0[q]);
  ok(!rc && worst < 1e-6, "events: the sensitivity run's cumulative BEDs = "
     "the plain cycles' (rel. %.1e, tol. 1e-6)", worst);
  worst = 0;
  rc = rc ? rc : regfix_grad_vs_fd(r, 0, 3, a, gb, h, &worst, &err);
  ok(!rc && worst < 1e-4, "events: d(cumulative BED) / d(activity of each "
     "cycle) from the sensitivities across both events = central "
     "differences of plain solves (rel. %.1e, tol. 1e-4)", worst);
}

static void test_optimum(rkin_regimen *r, size_t i)
{
  /* kidney BED 5 Gy binds: the events (on K) shape the optimum */
  rkin_regimen_limit lim[2] = {{0, 1, 5.0}, {2, 0, 2.0}};
  double a[2][3], obj[2], cd[3], cb[3];
  size_t k[2];
  rkin_err err;
  int rc = regfix_optimise_both(r, i, lim, 2, 3, 40, a, k, obj, &err);
  ok(!rc, "events, patient %zu: both optimisers ran", i + 1);
  rc = rc ? rc : rkin_regimen_evaluate(r, i, k[1], a[1], cd, cb, &err);
  ok(!rc && fabs(cb[1] - obj[1]) <= 1e-7 * obj[1], "events, patient %zu: "
     "the optimum's tumour BED re-scored by plain solves %.9f = the "
     "optimiser's %.9f (tol. 1e-7 rel.)", i + 1, cb[1], obj[1]);
  ok(!rc && fabs(cb[0] - 5) <= 1e-6 * 5 && cd[2] <= 2 * (1 + 1e-7),
     "events, patient %zu: re-scored, the kidney BED %.9f meets its 5 Gy "
     "limit (tol. 1e-6 rel.), marrow %.6f <= 2 Gy", i + 1, cb[0], cd[2]);
  ok(!rc && fabs(obj[1] - obj[0]) <= 1e-5 * obj[0], "events, patient %zu: "
     "SLSQP with sensitivity gradients reaches COBYLA's optimum: tumour BED "
     "%.6f vs %.6f Gy (rel. %.1e, tol. 1e-5); %zu / %zu cycles: %.4f %.4f "
     "%.4f GBq", i + 1, obj[1], obj[0], obj[1] / obj[0] - 1, k[1], k[0],
     a[1][0], k[1] > 1 ? a[1][1] : 0, k[1] > 2 ? a[1][2] : 0);
}

int main(void)
{
  const rkin_region *rg = regfix_regions();
  rkin_model *m;
  rkin_regimen *r;
  rkin_init();
  m = ev_model();
  /* (no carrier: carrier_per_mbq is 0) */
  r = regfix_make(m, pv, 2, rg, 3, 0, 1344, 0, 0);
  ok(r && rkin_regimen_route(r) == RKIN_ROUTE_AUGMENTED, "events: "
     "augmented route");
  if (r) {
    test_gradients(r);
    test_optimum(r, 0);
    test_optimum(r, 1);
  }
  rkin_regimen_free(r);
  rkin_model_free(m);
  done_testing();
  return exit_status();
}
