/* test_errmsg_solvenum.c - numerical failures of the solver (engine/solve:
 * a non-finite output, a state overflowing on the exact path, a TIA to
 * infinity that overflows, steady states that have no finite value or
 * whose Newton iteration does not converge, steady-state sensitivities
 * not implemented), provoked with models and doses that make them fail,
 * their text asserted and the call checked to fail with its code (issue
 * 22 item 3). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/dosing.h"
#include "core/expr.h"
#include "core/init.h"
#include "core/mevent.h"
#include "core/model.h"
#include "solve/solve.h"
#include "../tap.h"
#include "../errmsg.h"

/* dA/dt = -k A with output lneg = log(-A) (NaN once A > 0); *rate (when
 * not NULL) a node 50 k in its graph, for a modelled infusion rate. */
static rkin_model *decay_model_r(rkin_node *rate);

static rkin_model *decay_model(void)
{
  return decay_model_r(NULL);
}

static rkin_model *decay_model_r(rkin_node *rate)
{
  static const char *st[] = {"A"}, *pa[] = {"k"}, *on[] = {"lneg"};
  static const double val[] = {0.1};
  rkin_graph *g = rkin_graph_new();
  rkin_node a = rkin_expr_state(g, 0), k = rkin_expr_param(g, 0);
  rkin_node d = rkin_expr_unary(g, RKIN_OP_NEG,
                                rkin_expr_binary(g, RKIN_OP_MUL, k, a));
  rkin_node o = rkin_expr_unary(g, RKIN_OP_LOG,
                                rkin_expr_unary(g, RKIN_OP_NEG, a));
  if (rate)
    *rate = rkin_expr_binary(g, RKIN_OP_MUL, rkin_expr_const(g, 50), k);
  rkin_model_spec sp;
  memset(&sp, 0, sizeof sp);
  sp.name = "decay";
  sp.n_states = 1;
  sp.states = st;
  sp.deriv = &d;
  sp.n_params = 1;
  sp.params = pa;
  sp.values = val;
  sp.n_outputs = 1;
  sp.outputs = on;
  sp.output_expr = &o;
  return rkin_model_new(&sp, g, &err);
}

/* dA/dt = -sign(u) |u|^(1/3) - 10, u = A - 1: under an infusion of
 * 10 / h its steady state is A = 1, and Newton's iteration from A = 0
 * doubles u with its sign flipped each step (the cube root's classic
 * divergence): 2^50 after the 50 allowed, finite but not converged. */
static rkin_model *cbrt_model(void)
{
  static const char *st[] = {"A"}, *pa[] = {"c"};
  static const double val[] = {1.0 / 3};
  rkin_graph *g = rkin_graph_new();
  rkin_node a = rkin_expr_binary(g, RKIN_OP_SUB, rkin_expr_state(g, 0),
                                 rkin_expr_const(g, 1));
  rkin_node r = rkin_expr_binary(
    g, RKIN_OP_MUL, rkin_expr_unary(g, RKIN_OP_SIGN, a),
    rkin_expr_binary(g, RKIN_OP_POW, rkin_expr_unary(g, RKIN_OP_ABS, a),
                     rkin_expr_param(g, 0)));
  rkin_node d = rkin_expr_binary(g, RKIN_OP_SUB,
                                 rkin_expr_unary(g, RKIN_OP_NEG, r),
                                 rkin_expr_const(g, 10));
  rkin_model_spec sp;
  memset(&sp, 0, sizeof sp);
  sp.name = "cbrt";
  sp.n_states = 1;
  sp.states = st;
  sp.deriv = &d;
  sp.n_params = 1;
  sp.params = pa;
  sp.values = val;
  return rkin_model_new(&sp, g, &err);
}

static rkin_dosing *one_dose(double amt, double rate, int ss, double ii)
{
  rkin_dosing *d = rkin_dosing_new();
  rkin_dose r;
  memset(&r, 0, sizeof r);
  r.amount = amt;
  r.rate = rate;
  r.evid = 1;
  r.ss = ss;
  r.ii = ii;
  rkin_dosing_add(d, &r, NULL);
  return d;
}

/* A run from 0 to t1 with one output time and one sensitivity
 * direction: the requests and results the sensitivity refusals share. */
static void one_time(rkin_solve_req *rq, rkin_solve_res *rs,
                     rkin_sens_req *sq, rkin_sens_res *sr, double t1,
                     const double *p, const rkin_dosing *d,
                     const double *times, double *y, const double *dir,
                     double *dy)
{
  memset(rq, 0, sizeof *rq);
  memset(rs, 0, sizeof *rs);
  rq->t1 = t1;
  rq->params = p;
  rq->dosing = d;
  rq->times = times;
  rq->n_times = 1;
  rs->y = y;
  memset(sq, 0, sizeof *sq);
  memset(sr, 0, sizeof *sr);
  sq->n_dir = 1;
  sq->dir = dir;
  sr->dy = dy;
}

static rkin_solver *solver(const rkin_model *m, rkin_path path)
{
  rkin_solve_opts o;
  rkin_solve_opts_default(&o);
  o.path = path;
  return rkin_solver_new(m, &o, &err);
}

static void test_decay(void)
{
  static const double times[2] = {1, 10};
  rkin_model *m = decay_model();
  rkin_solver *sx, *sc;
  rkin_dosing *d = one_dose(100, 0, 0, 0);
  rkin_solve_req rq;
  rkin_solve_res rs;
  double out[2] = {0, 0}, y[2], p[1] = {0.1}, grow[1] = {-100};
  double tiny[1] = {1e-310}, y0[1] = {1e300}, tia[1] = {0};
  double dy[2], dout[2];
  static const double dir[1] = {1};
  rkin_sens_req sq;
  rkin_sens_res sr;
  int q[1] = {0};
  if (!m) {
    ok(0, "decay model: %s", err.msg);
    return;
  }
  sx = solver(m, RKIN_PATH_EXACT);
  sc = solver(m, RKIN_PATH_CVODES);
  memset(&rq, 0, sizeof rq);
  memset(&rs, 0, sizeof rs);
  rq.t1 = 10;
  rq.params = p;
  rq.dosing = d;
  rq.times = times;
  rq.n_times = 2;
  rs.out = out;
  rs.y = y;
  memset(&sq, 0, sizeof sq);
  memset(&sr, 0, sizeof sr);
  sq.n_dir = 1;
  sq.dir = dir;
  sr.dy = dy;
  sr.dout = dout;
  BAD(rkin_solver_run_sensx(sx, &rq, &sq, &rs, &sr, &err), RKIN_ENONFINITE,
      "model 'decay': output 'lneg' (or its sensitivity) is not finite at "
      "t = 1 h", "exact path: log of a negative amount");
  BAD(rkin_solver_run_sensx(sc, &rq, &sq, &rs, &sr, &err), RKIN_ENONFINITE,
      "model 'decay': output 'lneg' (or its sensitivity) is not finite at "
      "t = 1 h", "CVODES path: the same");
  /* k = -100: A grows as exp(100 t), past DBL_MAX before 10 h */
  rq.params = grow;
  rs.out = NULL;
  sr.dout = NULL;
  BAD(rkin_solver_run_sensx(sx, &rq, &sq, &rs, &sr, &err), RKIN_ENONFINITE,
      "state 'A' or its sensitivity is not finite after 9 h (model 'decay': "
      "rates too large?)", "exact path: a state overflowing");
  /* TIA to infinity of 1e300 decaying at 1e-310 /h: 1e610 */
  BAD(rkin_solver_tia_inf(sx, tiny, y0, q, 1, tia, &err), RKIN_ENONFINITE,
      "tia[0] to infinity is not finite (model 'decay')",
      "TIA to infinity overflowing");
  rkin_dosing_free(d);
  rkin_solver_free(sx);
  rkin_solver_free(sc);
  rkin_model_free(m);
}

static void test_steady(void)
{
  static const double times[1] = {1}, dir[1] = {1};
  rkin_model *m = decay_model(), *c = cbrt_model();
  rkin_solver *s = NULL, *sc = NULL;
  rkin_dosing *inf = one_dose(0, 10, 1, 0), *huge = one_dose(0, 1e308, 1, 0);
  rkin_solve_req rq;
  rkin_solve_res rs;
  rkin_sens_req sq;
  rkin_sens_res sr;
  double y[1], dy[1], p[1] = {0.1}, zero[1] = {0}, pc[1] = {1.0 / 3};
  if (!m || !c) {
    ok(0, "steady-state models: %s", err.msg);
    goto done;
  }
  s = solver(m, RKIN_PATH_CVODES);
  sc = solver(c, RKIN_PATH_CVODES);
  one_time(&rq, &rs, &sq, &sr, 1, p, inf, times, y, dir, dy);
  BAD(rkin_solver_run_sensx(s, &rq, &sq, &rs, &sr, &err), RKIN_EINVAL,
      "dose record 1: sensitivities of the constant-infusion steady state "
      "are not implemented (use finite differences)",
      "constant-infusion steady state: sensitivities");
  /* k = 0: the infusion never reaches a steady state */
  rq.params = zero;
  rkin_err_clear(&err);
  ok(rkin_solver_run(s, &rq, &rs, &err) != 0, "constant infusion without "
     "elimination fails: %s", err.msg);
  /* rate / k = 1e308 / 0.1 overflows */
  rq.params = p;
  rq.dosing = huge;
  BAD(rkin_solver_run(s, &rq, &rs, &err), RKIN_ENONFINITE,
      "dose record 1: the steady state of state 'A' is not finite",
      "constant infusion: a steady state past DBL_MAX");
  rq.dosing = inf;
  rq.params = pc;
  BAD(rkin_solver_run(sc, &rq, &rs, &err), RKIN_ESOLVER,
      "dose record 1: the constant-infusion steady state of model 'cbrt' "
      "did not converge in ", "constant infusion: Newton diverging");
done:
  rkin_dosing_free(inf);
  rkin_dosing_free(huge);
  rkin_solver_free(s);
  rkin_solver_free(sc);
  rkin_model_free(m);
  rkin_model_free(c);
}

/* A steady state whose infusion rate the model gives (RATE = -1, the
 * modifier R = 50 k): its sensitivities are not implemented. */
static void test_ss_modelled_rate(void)
{
  static const double times[1] = {1}, dir[1] = {1};
  rkin_node mods[RKIN_MOD_N], rate;
  rkin_model *m = decay_model_r(&rate);
  rkin_solver *s = NULL;
  rkin_dosing *d = one_dose(100, -1, 1, 12);
  rkin_solve_req rq;
  rkin_solve_res rs;
  rkin_sens_req sq;
  rkin_sens_res sr;
  double y[1], dy[1], p[1] = {0.1};
  size_t k;
  if (!m) {
    ok(0, "modelled-rate model: %s", err.msg);
    goto done;
  }
  for (k = 0; k < RKIN_MOD_N; k++) mods[k] = -1;
  mods[RKIN_MOD_RATE] = rate;
  if (rkin_model_set_dose_mods(m, mods, &err)) {
    ok(0, "modelled rate: %s", err.msg);
    goto done;
  }
  s = solver(m, RKIN_PATH_CVODES);
  one_time(&rq, &rs, &sq, &sr, 1, p, d, times, y, dir, dy);
  rkin_err_clear(&err);
  ok(rkin_solver_run(s, &rq, &rs, &err) == 0, "modelled-rate steady state "
     "runs (%s)", err.msg);
  BAD(rkin_solver_run_sensx(s, &rq, &sq, &rs, &sr, &err), RKIN_EINVAL,
      "dose record 1: sensitivities of a steady state with a modelled rate "
      "or duration are not implemented (use finite differences)",
      "modelled-rate steady state: sensitivities");
done:
  rkin_dosing_free(d);
  rkin_solver_free(s);
  rkin_model_free(m);
}

/* dA/dt = -0.1 A with n_ev events "A becomes 0 when t >= 5 + k". */
static rkin_model *event_model(size_t n_ev)
{
  static const char *st[] = {"A"}, *pa[] = {"k"};
  static const double val[] = {0.1};
  static const int target[1] = {0};
  rkin_graph *g = rkin_graph_new();
  rkin_node a = rkin_expr_state(g, 0), k = rkin_expr_param(g, 0);
  rkin_node d = rkin_expr_unary(g, RKIN_OP_NEG,
                                rkin_expr_binary(g, RKIN_OP_MUL, k, a));
  rkin_node zero = rkin_expr_const(g, 0);
  rkin_model_event ev[2];
  rkin_model_spec sp;
  rkin_model *m;
  size_t e;
  memset(ev, 0, sizeof ev);
  for (e = 0; e < n_ev && e < 2; e++) {
    ev[e].name = e ? "late" : "early";
    ev[e].trigger = rkin_expr_binary(g, RKIN_OP_GE, rkin_expr_time(g),
                                     rkin_expr_const(g, 5.0 + (double)e));
    ev[e].persistent = 1;
    ev[e].from_trigger = 1;
    ev[e].delay = -1;
    ev[e].priority = -1;
    ev[e].n_assign = 1;
    ev[e].target = target;
    ev[e].value = &zero;
  }
  memset(&sp, 0, sizeof sp);
  sp.name = n_ev == 1 ? "one_event" : "two_events";
  sp.n_states = 1;
  sp.states = st;
  sp.deriv = &d;
  sp.n_params = 1;
  sp.params = pa;
  sp.values = val;
  if (!(m = rkin_model_new(&sp, g, &err))) return NULL;
  if (rkin_model_set_events(m, ev, n_ev, &err)) {
    rkin_model_free(m);
    return NULL;
  }
  return m;
}

/* Events carried from a run of one model into a run of another. */
static void test_carry(void)
{
  static const double times[1] = {2};
  rkin_model *m1 = event_model(1), *m2 = event_model(2);
  rkin_solver *s1 = NULL, *s2 = NULL;
  rkin_mevcarry *c = rkin_mevcarry_new();
  rkin_dosing *d = one_dose(100, 0, 0, 0);
  rkin_solve_req rq;
  rkin_solve_res rs;
  double y[1], p[1] = {0.1};
  if (!m1 || !m2 || !c) {
    ok(0, "event models: %s", err.msg);
    goto done;
  }
  s1 = solver(m1, RKIN_PATH_CVODES);
  s2 = solver(m2, RKIN_PATH_CVODES);
  memset(&rq, 0, sizeof rq);
  memset(&rs, 0, sizeof rs);
  rq.t1 = 2;
  rq.params = p;
  rq.dosing = d;
  rq.times = times;
  rq.n_times = 1;
  rq.ev_carry = c;
  rs.y = y;
  rkin_err_clear(&err);
  ok(rkin_solver_run(s1, &rq, &rs, &err) == 0, "one_event: a run carrying "
     "its events (%s)", err.msg);
  rq.t0 = 2;
  rq.t1 = 4;
  rq.dosing = NULL;
  BAD(rkin_solver_run(s2, &rq, &rs, &err), RKIN_EINVAL,
      "model 'two_events': the carried events are of another model (1 "
      "events, expected 2)", "events carried into another model");
done:
  rkin_mevcarry_free(c);
  rkin_dosing_free(d);
  rkin_solver_free(s1);
  rkin_solver_free(s2);
  rkin_model_free(m1);
  rkin_model_free(m2);
}

/* dA/dt = -k A + 1e-300 sqrt(A) (NaN below 0), and an event "A becomes -1
 * when A <= 50": its time moves with k, so a sensitivity run evaluates
 * the right-hand side just after it, where it is NaN. */
static void test_event_rhs(void)
{
  static const char *st[] = {"A"}, *pa[] = {"k"};
  static const double val[] = {0.1}, times[1] = {10}, dir[1] = {1};
  static const int target[1] = {0};
  rkin_graph *g = rkin_graph_new();
  rkin_node a = rkin_expr_state(g, 0), k = rkin_expr_param(g, 0);
  rkin_node d = rkin_expr_binary(
    g, RKIN_OP_ADD,
    rkin_expr_unary(g, RKIN_OP_NEG, rkin_expr_binary(g, RKIN_OP_MUL, k, a)),
    rkin_expr_binary(g, RKIN_OP_MUL, rkin_expr_const(g, 1e-300),
                     rkin_expr_unary(g, RKIN_OP_SQRT, a)));
  rkin_node minus1 = rkin_expr_const(g, -1);
  rkin_model_event ev;
  rkin_model_spec sp;
  rkin_model *m;
  rkin_solver *s = NULL;
  rkin_dosing *dd = one_dose(100, 0, 0, 0);
  rkin_solve_req rq;
  rkin_solve_res rs;
  rkin_sens_req sq;
  rkin_sens_res sr;
  double y[1], dy[1], p[1] = {0.1};
  memset(&ev, 0, sizeof ev);
  ev.name = "flip";
  ev.trigger = rkin_expr_binary(g, RKIN_OP_LE, a, rkin_expr_const(g, 50));
  ev.persistent = 1;
  ev.from_trigger = 1;
  ev.delay = -1;
  ev.priority = -1;
  ev.n_assign = 1;
  ev.target = target;
  ev.value = &minus1;
  memset(&sp, 0, sizeof sp);
  sp.name = "flip";
  sp.n_states = 1;
  sp.states = st;
  sp.deriv = &d;
  sp.n_params = 1;
  sp.params = pa;
  sp.values = val;
  m = rkin_model_new(&sp, g, &err);
  if (!m || rkin_model_set_events(m, &ev, 1, &err)) {
    ok(0, "event model: %s", err.msg);
    goto done;
  }
  s = solver(m, RKIN_PATH_CVODES);
  one_time(&rq, &rs, &sq, &sr, 10, p, dd, times, y, dir, dy);
  BAD(rkin_solver_run_sensx(s, &rq, &sq, &rs, &sr, &err), RKIN_ENONFINITE,
      "model 'flip': the right-hand side is not finite at t = 6.93147 h "
      "(after an event)", "an event leaving the right-hand side NaN "
      "(sensitivities)");
done:
  rkin_dosing_free(dd);
  rkin_solver_free(s);
  rkin_model_free(m);
}

int main(void)
{
  rkin_init();
  test_decay();
  test_steady();
  test_ss_modelled_rate();
  test_carry();
  test_event_rhs();
  done_testing();
  return exit_status();
}
