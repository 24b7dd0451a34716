/* test_evsens_refuse.c - the refusals of forward sensitivities across
 * model events (CVODES path), each message asserted in full with the
 * model, the event and the time, beside a control that differs only in
 * what is refused and runs:
 *  - a tangential crossing: X' = 3 (t - T)^2 (X(0) = 0) so X = (t - T)^3
 *    + T^3 reaches T^3 at t = T with rate 0; the trigger X >= T^3 has
 *    dtau = -(g_x S + g_p) / (g_x f + g_t) with a zero denominator there
 *    (control: X' = 1, trigger X >= T, crossing at the same time with
 *    rate 1: dA/dD = e^(-k (t - T)) after it, closed form);
 *  - a trigger whose parameter derivative is not finite: A < C +
 *    sqrt(L - 2) at L = 2 (d/dL = inf);
 *  - two executions due together (triggers t >= 2 and t >= 3, delays 4
 *    and 3: both at 6 h) whose times move apart along the first
 *    trigger's time but not along k (control: along k they run);
 *  - a delay and an assigned value whose parameter derivatives are not
 *    finite (sqrt(L - 2), sqrt(D - 3) at L = 2, D = 3: the values are
 *    0, their derivatives infinite);
 *  - (also without sensitivities) a negative delay, L - 3;
 *  - a right-hand side that is not finite after an event (A' = -k A +
 *    k log(1 - X), the event sets X = 1): with sensitivities the jump
 *    S+ = sigma - f+ dtau needs f+.
 * The one-compartment part everywhere: A' = -k A, A(0) = 10, k = 0.1. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/model.h"
#include "solve/solve.h"
#include "../tap.h"

enum { PK, PT, PD, PC, PL, PT2, NP };
static const char *const pnames[NP] = {"k", "T", "D", "C", "L", "T2"};
static const double pdef[NP] = {0.1, 6, 3, 4, 2, 3};

enum { TANGENT, CROSS, TRIG_INF, TOGETHER, DELAY_INF, VALUE_INF, RHS_INF,
       DELAY_NEG };

static rkin_node bin(rkin_graph *g, rkin_op op, rkin_node a, rkin_node b)
{
  return rkin_expr_binary(g, op, a, b);
}

/* The model of `kind` (states A, X; events as the header says). */
static rkin_model *mk(int kind)
{
  rkin_graph *g = rkin_graph_new();
  rkin_node A = rkin_expr_state(g, 0), X = rkin_expr_state(g, 1);
  rkin_node t = rkin_expr_time(g), P[NP], d[2], sq, two, three;
  static rkin_node vals[2][1];
  static int tgt[2] = {0, 0}, tgt_x = 1;
  rkin_model_event ev[2];
  rkin_model_spec sp = {0};
  rkin_err err = {0};
  rkin_model *m;
  const char *st[] = {"A", "X"};
  size_t n_ev = 1, i;
  for (i = 0; i < NP; i++) P[i] = rkin_expr_param(g, (int)i);
  two = rkin_expr_const(g, 2);
  three = rkin_expr_const(g, 3);
  memset(ev, 0, sizeof ev);
  d[0] = rkin_expr_unary(g, RKIN_OP_NEG, bin(g, RKIN_OP_MUL, P[PK], A));
  d[1] = rkin_expr_const(g, kind == CROSS ? 1 : 0);
  for (i = 0; i < 2; i++) {
    ev[i].initial_value = 1;
    ev[i].persistent = 1;
    ev[i].from_trigger = 1;
    ev[i].delay = -1;
    ev[i].priority = -1;
    ev[i].n_assign = 1;
    ev[i].target = &tgt[i];
    ev[i].value = vals[i];
    vals[i][0] = bin(g, RKIN_OP_ADD, A, P[PD]);
  }
  ev[0].name = "boost";
  switch (kind) {
  case TANGENT:
    sq = bin(g, RKIN_OP_SUB, t, P[PT]);
    d[1] = bin(g, RKIN_OP_MUL, three, bin(g, RKIN_OP_MUL, sq, sq));
    ev[0].trigger = bin(g, RKIN_OP_GE, X, bin(g, RKIN_OP_POW, P[PT], three));
    break;
  case CROSS:
    ev[0].trigger = bin(g, RKIN_OP_GE, X, P[PT]);
    break;
  case TRIG_INF:
    ev[0].trigger = bin(g, RKIN_OP_LT, A, bin(g, RKIN_OP_ADD, P[PC],
        rkin_expr_unary(g, RKIN_OP_SQRT, bin(g, RKIN_OP_SUB, P[PL], two))));
    break;
  case TOGETHER:
    n_ev = 2;
    ev[0].from_trigger = ev[1].from_trigger = 0;
    ev[0].trigger = bin(g, RKIN_OP_GE, t, two);
    ev[0].delay = rkin_expr_const(g, 4);
    ev[1].name = "second";
    ev[1].trigger = bin(g, RKIN_OP_GE, t, P[PT2]);
    ev[1].delay = three;
    break;
  case DELAY_INF:
    ev[0].trigger = bin(g, RKIN_OP_LT, A, P[PC]);
    ev[0].delay = rkin_expr_unary(g, RKIN_OP_SQRT,
                                  bin(g, RKIN_OP_SUB, P[PL], two));
    break;
  case DELAY_NEG:
    ev[0].trigger = bin(g, RKIN_OP_LT, A, P[PC]);
    ev[0].delay = bin(g, RKIN_OP_SUB, P[PL], three);
    break;
  case VALUE_INF:
    ev[0].trigger = bin(g, RKIN_OP_LT, A, P[PC]);
    vals[0][0] = bin(g, RKIN_OP_ADD, A, rkin_expr_unary(
        g, RKIN_OP_SQRT, bin(g, RKIN_OP_SUB, P[PD], three)));
    break;
  case RHS_INF:
    /* A' = -k A + k log(1 - X): X = 0 until the event sets it to 1
     * (log 0) */
    d[0] = bin(g, RKIN_OP_ADD, d[0], bin(g, RKIN_OP_MUL, P[PK],
        rkin_expr_unary(g, RKIN_OP_LOG, bin(g, RKIN_OP_SUB,
                                            rkin_expr_const(g, 1), X))));
    ev[0].trigger = bin(g, RKIN_OP_LT, A, P[PC]);
    ev[0].target = &tgt_x;
    vals[0][0] = rkin_expr_const(g, 1);
    break;
  }
  sp.name = "evrefuse";
  sp.n_states = 2;
  sp.states = st;
  sp.deriv = d;
  sp.n_params = NP;
  sp.params = pnames;
  sp.values = pdef;
  if (!(m = rkin_model_new(&sp, g, &err))
      || rkin_model_set_events(m, ev, n_ev, &err)) {
    printf("Bail out! model %d: %s\n", kind, err.msg);
    exit(1);
  }
  return m;
}

/* A solve over [0, 12] h with A(0) = 10, X(0) = 0: sensitivities along
 * parameter `along` (-1: none), A at 10 h into *a and dA/dp into *da. */
static int run(int kind, int along, double *a, double *da, rkin_err *err)
{
  rkin_model *m = mk(kind);
  rkin_solve_opts o;
  rkin_solver *s;
  double y0[2] = {10, 0}, dir[NP] = {0}, tt = 10, y[2], dy[2];
  rkin_solve_req rq = {0};
  rkin_solve_res rs = {0};
  rkin_sens_req sq = {0};
  rkin_sens_res sr = {0};
  int rc;
  rkin_solve_opts_default(&o);
  o.rtol = 1e-10;
  o.atol = 1e-12;
  if (!(s = rkin_solver_new(m, &o, err))) {
    rkin_model_free(m);
    return -1;
  }
  rq.t0 = 0;
  rq.t1 = 12;
  rq.y0 = y0;
  rq.params = pdef;
  rq.times = &tt;
  rq.n_times = 1;
  rs.y = y;
  if (along < 0) {
    rc = rkin_solver_run(s, &rq, &rs, err);
  } else {
    dir[along] = 1;
    sq.n_dir = 1;
    sq.dir = dir;
    sr.dy = dy;
    rc = rkin_solver_run_sensx(s, &rq, &sq, &rs, &sr, err);
  }
  *a = y[0];
  if (da) *da = dy[0];
  rkin_solver_free(s);
  rkin_model_free(m);
  return rc;
}

/* got = want, both shown when they differ. */
static void same_text(const char *got, const char *want, const char *what)
{
  if (!ok(strcmp(got, want) == 0, "%s", what))
    diag("got:  %s\nwant: %s", got, want);
}

/* The refusal message (time printed %g) is exactly want. */
static void refused(int kind, int along, const char *want, const char *what)
{
  rkin_err err = {0};
  char buf[256];
  double a;
  int rc = run(kind, along, &a, NULL, &err);
  ok(rc < 0, "%s: refused (rc %d)", what, rc);
  if (rc >= 0) diag("A(10) = %g", a);
  snprintf(buf, sizeof buf, "%s: the message", what);
  same_text(err.msg, want, buf);
}

int main(void)
{
  rkin_err err = {0};
  double a, da, t;
  int rc, n;
  char buf[512];

  /* tangential crossing; the plain run applies the event (A = 10 e^-1 +
   * 3 e^-0.4 at 10 h, the crossing at 6 h to within the location the
   * flat root allows: (atol)^(1/3) ~ 1e-4 h) */
  rc = run(TANGENT, -1, &a, NULL, &err);
  ok(rc == 0 && fabs(a - (10 * exp(-1.0) + 3 * exp(-0.4))) < 1e-3,
     "tangent: the plain run fires the event (A(10) %.8g; %s)", a,
     rc ? err.msg : "ok");
  rc = run(TANGENT, PD, &a, NULL, &err);
  ok(rc == RKIN_EINVAL, "tangent: sensitivities across the tangential "
     "crossing refused (rc %d)", rc);
  n = sscanf(err.msg, "model 'evrefuse', event 'boost' at t = %lf h: %511[^\n]",
             &t, buf);
  /* (the flat root is located to the cube root of the state's
   * tolerance, (1e-10 * 216)^(1/3) = 2.8e-3 h) */
  ok(n == 2 && fabs(t - 6) < 1e-2, "tangent: the message names the model, "
     "the event and the time of the crossing, 6 h (%s)", err.msg);
  same_text(n == 2 ? buf : "", "no sensitivities across it (its trigger "
            "is tangential: it reaches zero at a rate the tolerances "
            "cannot tell from 0 (expected a crossing at a non-zero rate); "
            "use finite differences)", "tangent: ... and why, and what to do");
  rc = run(CROSS, PD, &a, &da, &err);
  ok(rc == 0 && fabs(da - exp(-0.4)) < 1e-7, "cross (the same event "
     "crossing at rate 1): dA/dD at 10 h %.10g = e^-0.4 (%s)", da,
     rc ? err.msg : "ok");

  refused(TRIG_INF, PK, "model 'evrefuse', event 'boost' at t = 9.16291 h: "
          "no sensitivities across it (a derivative of its trigger is not "
          "finite; use finite differences)", "trigger with an infinite "
          "derivative");
  refused(TOGETHER, PT2, "model 'evrefuse', event 'boost' at t = 6 h: no "
          "sensitivities across it (executions due at the same time move "
          "apart with the parameters; use finite differences)",
          "executions due together");
  rc = run(TOGETHER, PK, &a, &da, &err);
  ok(rc == 0 && fabs(da - (-100 * exp(-1.0) - 24 * exp(-0.4)))
     < 1e-6, "together along k (times fixed): dA/dk at 10 h %.10g (%s)",
     da, rc ? err.msg : "ok");
  refused(DELAY_INF, PK, "model 'evrefuse', event 'boost': a derivative of "
          "the delay is inf at t = 9.16291 h", "delay with an infinite "
          "derivative");
  refused(VALUE_INF, PK, "model 'evrefuse', event 'boost': a derivative of "
          "an assigned value is inf at t = 9.16291 h", "assigned value "
          "with an infinite derivative");
  refused(RHS_INF, PK, "model 'evrefuse': the right-hand side is not "
          "finite at t = 9.16291 h (after an event)", "right-hand side "
          "not finite after the event");
  refused(DELAY_NEG, -1, "model 'evrefuse', event 'boost': the delay is "
          "-1 h at t = 9.16291 h (expected >= 0)", "negative delay (without "
          "sensitivities)");
  done_testing();
  return exit_status();
}
