/* test_evsens.c - forward sensitivities across model events (CVODES path;
 * a model with events never takes the exact path): the jump at an event
 * (solve/mevent_run.h) against closed forms of one-compartment
 * elimination A' = -k A (A0 = 10) with
 *  0. a dose D when A falls below C (fires three times by 24 h): after n
 *     firings A = A0 (1 + D/C)^n e^(-k t), so dA/dk = -t A, dA/dC =
 *     -n D / (C (C + D)) A, dA/dD = n / (C + D) A;
 *  1. at t >= T, A becomes F A + D (values at the trigger time): A =
 *     A0 F e^(-k t) + D e^(-k (t - T)) after T;
 *  2. 3. the dose of 0. executed L hours after the crossing at tau =
 *     ln(A0 / C) / k, its value A + D taken at execution (2: A = (C
 *     e^(-k L) + D) e^(-k (t - tau - L))) or at the trigger (3: A = (C +
 *     D) e^(-k (t - tau - L))),
 * each against the closed form's derivatives (central differences of the
 * closed form, step 1e-6: truncation ~1e-12) and against central
 * differences of the solver itself, for every parameter, at several
 * times, with TIA sensitivities too; a run split at a pending execution
 * (carried, rkin_solve_req.ev_carry) equals the whole run; refusals: a
 * pending execution carried from a run without sensitivities, a dose lag
 * time that moves while an event fires at the dose. (The other refusals,
 * a tangential crossing among them: test_evsens_refuse.c.) */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/dosing.h"
#include "core/model.h"
#include "solve/solve.h"
#include "../tap.h"

enum { PK, PC, PD, PT, PF, PL, NP };
static const char *const pnames[NP] = {"k", "C", "D", "T", "F", "L"};
static const double pdef[NP] = {0.1, 4, 3, 6, 0.5, 2};
#define A0 10.0

/* kind 0-3 above; 5: check_lag. */
static rkin_model *mk(int kind)
{
  rkin_graph *g = rkin_graph_new();
  rkin_node A = rkin_expr_state(g, 0), P[NP], t = rkin_expr_time(g);
  rkin_node d, trig, val, delay = -1;
  rkin_model_event ev = {0};
  rkin_model_spec sp = {0};
  rkin_err err = {0};
  rkin_model *m;
  static int target = 0;
  static rkin_node vals[1];
  rkin_node lag[RKIN_MOD_N] = {-1, -1, -1, -1};
  const char *st[] = {"A"};
  int i;
  for (i = 0; i < NP; i++) P[i] = rkin_expr_param(g, i);
  d = rkin_expr_unary(g, RKIN_OP_NEG, rkin_expr_binary(g, RKIN_OP_MUL,
                                                        P[PK], A));
  val = rkin_expr_binary(g, RKIN_OP_ADD, A, P[PD]);
  trig = rkin_expr_binary(g, RKIN_OP_LT, A, P[PC]);
  if (kind == 1) {
    trig = rkin_expr_binary(g, RKIN_OP_GE, t, P[PT]);
    val = rkin_expr_binary(g, RKIN_OP_ADD, rkin_expr_binary(
                             g, RKIN_OP_MUL, P[PF], A), P[PD]);
  }
  if (kind == 2 || kind == 3) delay = P[PL];
  if (kind == 5) trig = rkin_expr_binary(g, RKIN_OP_GT, A, P[PC]);
  sp.name = "evsens";
  sp.n_states = 1;
  sp.states = st;
  sp.deriv = &d;
  sp.n_params = NP;
  sp.params = pnames;
  sp.values = pdef;
  vals[0] = val;
  ev.name = "redose";
  ev.trigger = trig;
  ev.initial_value = 1;
  ev.persistent = 1;
  ev.from_trigger = kind != 2;
  ev.delay = delay;
  ev.priority = -1;
  ev.n_assign = 1;
  ev.target = &target;
  ev.value = vals;
  lag[RKIN_MOD_LAG] = P[PT];
  if (!(m = rkin_model_new(&sp, g, &err))
      || rkin_model_set_events(m, &ev, 1, &err)
      || (kind == 5 && rkin_model_set_dose_mods(m, lag, &err))) {
    fprintf(stderr, "model: %s\n", err.msg);
    exit(1);
  }
  return m;
}

/* The closed forms (kinds 0-3) of A(t) at p. */
static double closed(int kind, const double *p, double t)
{
  double k = p[PK], C = p[PC], D = p[PD], T = p[PT], F = p[PF], L = p[PL];
  double tau = log(A0 / C) / k, a;
  int n = 0;
  if (kind == 0) {
    for (;;) {
      double tj = log(A0 * pow(1 + D / C, n) / C) / k;
      if (tj >= t) break;
      n++;
    }
    return A0 * pow(1 + D / C, n) * exp(-k * t);
  }
  if (kind == 1)
    return t < T ? A0 * exp(-k * t)
                 : A0 * F * exp(-k * t) + D * exp(-k * (t - T));
  if (t < tau + L) return A0 * exp(-k * t);
  a = kind == 2 ? C * exp(-k * L) + D : C + D;
  return a * exp(-k * (t - tau - L));
}

static double closed_d(int kind, const double *p, double t, int j)
{
  double q[NP], h = 1e-6 * fabs(p[j]), up, dn;
  memcpy(q, p, sizeof q);
  q[j] = p[j] + h;
  up = closed(kind, q, t);
  q[j] = p[j] - h;
  dn = closed(kind, q, t);
  return (up - dn) / (2 * h);
}

#define NT 4
static const double times[4][NT] = {
  {5, 12, 18, 24}, {3, 6.5, 8, 20}, {5, 10, 13, 15}, {5, 10, 13, 15}};
static const double t_end[4] = {24, 20, 15, 15};

static rkin_solver *solver(const rkin_model *m)
{
  rkin_solve_opts o;
  rkin_err err = {0};
  rkin_solver *s;
  rkin_solve_opts_default(&o);
  o.rtol = 1e-11;
  o.atol = 1e-13;
  if (!(s = rkin_solver_new(m, &o, &err))) {
    fprintf(stderr, "solver: %s\n", err.msg);
    exit(1);
  }
  return s;
}

/* One run of the solver: from t0 (y0; NULL: the model's start) to t1 at
 * p with dosing, outputs y at times (n_times) and the TIA of A when tia,
 * y_end when set; with sensitivities along dir (n_dir directions, dy0 at
 * t0) into dy, dtia, dy_end when n_dir > 0; carry the pending events. */
typedef struct {
  double t0, t1;
  const double *y0, *p;
  const rkin_dosing *dosing;
  const double *times;
  size_t n_times;
  size_t n_dir;
  const double *dir, *dy0;
  rkin_mevcarry *carry;
  double *y, *tia, *y_end, *dy, *dtia, *dy_end;
} ev_run;

static int run(rkin_solver *s, const ev_run *e, rkin_err *err)
{
  static const int q = 0;
  rkin_solve_req rq = {.t0 = e->t0, .t1 = e->t1, .y0 = e->y0, .params = e->p,
                       .dosing = e->dosing, .times = e->times,
                       .n_times = e->n_times, .tia = e->tia ? &q : NULL,
                       .n_tia = e->tia ? 1 : 0, .ev_carry = e->carry};
  rkin_solve_res rs = {.y = e->y, .tia = e->tia, .y_end = e->y_end};
  rkin_sens_req sq = {.n_dir = e->n_dir, .dir = e->dir, .dy0 = e->dy0};
  rkin_sens_res sr = {.dy = e->dy, .dtia = e->dtia, .dy_end = e->dy_end};
  return e->n_dir ? rkin_solver_run_sensx(s, &rq, &sq, &rs, &sr, err)
                  : rkin_solver_run(s, &rq, &rs, err);
}

/* y at the kind's times and the TIA of A over [0, t_end], at p. */
static int plain(rkin_solver *s, int kind, const double *p, double *y,
                 double *tia, rkin_err *err)
{
  double y0 = A0;
  ev_run e = {.t1 = t_end[kind], .y0 = &y0, .p = p, .times = times[kind],
              .n_times = NT, .y = y, .tia = tia};
  return run(s, &e, err);
}

static void check_kind(int kind)
{
  rkin_model *m = mk(kind);
  rkin_solver *s = solver(m);
  rkin_err err = {0};
  double dir[NP * NP] = {0}, y[NT], dy[NT * NP], tia, dtia[NP], y0 = A0;
  double worst_cf = 0, worst_fd = 0, worst_tia = 0, worst_y = 0;
  int j, i, rc;
  ev_run er = {.t1 = t_end[kind], .y0 = &y0, .p = pdef,
               .times = times[kind], .n_times = NT, .n_dir = NP, .dir = dir,
               .y = y, .tia = &tia, .dy = dy, .dtia = dtia};
  for (j = 0; j < NP; j++) dir[j * NP + j] = 1;
  rc = run(s, &er, &err);
  if (!ok(rc == 0, "kind %d: sensitivities across the event run (%s)",
          kind, rc ? err.msg : "ok")) {
    rkin_solver_free(s);
    rkin_model_free(m);
    return;
  }
  for (i = 0; i < NT; i++) {
    double e = fabs(y[i] - closed(kind, pdef, times[kind][i]));
    if (e > worst_y) worst_y = e;
  }
  for (j = 0; j < NP; j++) {
    double p[NP], yu[NT], yd[NT], tu, td, h = 1e-5 * pdef[j];
    memcpy(p, pdef, sizeof p);
    p[j] += h;
    rc = plain(s, kind, p, yu, &tu, &err);
    p[j] -= 2 * h;
    rc = rc ? rc : plain(s, kind, p, yd, &td, &err);
    if (rc) {
      ok(0, "kind %d: differences: %s", kind, err.msg);
      continue;
    }
    for (i = 0; i < NT; i++) {
      double got = dy[i * NP + j], cf = closed_d(kind, pdef,
                                                 times[kind][i], j);
      double fd = (yu[i] - yd[i]) / (2 * h);
      double e1 = fabs(got - cf) / (1 + fabs(cf));
      double e2 = fabs(got - fd) / (1 + fabs(fd));
      if (e1 > worst_cf) worst_cf = e1;
      if (e2 > worst_fd) worst_fd = e2;
      if (e1 > 1e-6 || e2 > 5e-6)
        diag("kind %d, d/d%s at t = %g: %.10g, closed form %.10g, "
             "differences %.10g", kind, pnames[j], times[kind][i], got, cf,
             fd);
    }
    {
      double fd = (tu - td) / (2 * h), e = fabs(dtia[j] - fd) / (1 + fabs(fd));
      if (e > worst_tia) worst_tia = e;
      if (e > 5e-6)
        diag("kind %d, dTIA/d%s: %.10g, differences %.10g", kind, pnames[j],
             dtia[j], fd);
    }
  }
  ok(worst_y <= 1e-8, "kind %d: states = closed form (worst %.2g)", kind,
     worst_y);
  ok(worst_cf <= 1e-6, "kind %d: dA/dp = the closed form's derivative "
     "(worst rel. %.2g, tolerance 1e-6)", kind, worst_cf);
  /* (the differences' own error: the solves' rtol 1e-11 over a step of
   * 1e-5 relative) */
  ok(worst_fd <= 5e-6, "kind %d: dA/dp = central differences of the solver "
     "(worst rel. %.2g, tolerance 5e-6)", kind, worst_fd);
  ok(worst_tia <= 5e-6, "kind %d: dTIA/dp = central differences (worst "
     "rel. %.2g, tolerance 5e-6)", kind, worst_tia);
  rkin_solver_free(s);
  rkin_model_free(m);
}

/* Kind 2 run over [0, 10] then [10, 15], the pending execution (at 11.16
 * h, its time derivative and the sensitivities) carried: = one run. */
static void check_carry(void)
{
  rkin_model *m = mk(2);
  rkin_solver *s = solver(m);
  rkin_mevcarry *c = rkin_mevcarry_new();
  rkin_err err = {0};
  double dir[NP * NP] = {0}, y0 = A0, y1, S1[NP], y2, S2[NP], yw, Sw[NP];
  double worst = 0;
  int rc, j;
  ev_run er = {.t1 = 15, .y0 = &y0, .p = pdef, .n_dir = NP, .dir = dir,
               .y_end = &yw, .dy_end = Sw};
  for (j = 0; j < NP; j++) dir[j * NP + j] = 1;
  rc = run(s, &er, &err);
  er.t1 = 10;
  er.carry = c;
  er.y_end = &y1;
  er.dy_end = S1;
  rc = rc ? rc : run(s, &er, &err);
  ok(rc == 0 && rkin_mevcarry_pending(c) == 1, "carry: one execution "
     "pending at 10 h (%s)", rc ? err.msg : "ok");
  er.t0 = 10;
  er.t1 = 15;
  er.y0 = &y1;
  er.dy0 = S1;
  er.y_end = &y2;
  er.dy_end = S2;
  rc = rc ? rc : run(s, &er, &err);
  for (j = 0; !rc && j < NP; j++) {
    double e = fabs(S2[j] - Sw[j]) / (1 + fabs(Sw[j]));
    if (e > worst) worst = e;
  }
  ok(!rc && fabs(y2 - yw) <= 1e-9 * yw && worst <= 1e-7, "carry: the split "
     "run's state and sensitivities at 15 h = the whole run's (worst rel. "
     "%.2g; %s)", worst, rc ? err.msg : "ok");
  /* a sensitivity run cannot go on from a plain run's pending execution:
   * its time derivative was never computed */
  er.t0 = 0;
  er.t1 = 10;
  er.y0 = &y0;
  er.n_dir = 0;
  rc = run(s, &er, &err);
  er.t0 = 10;
  er.t1 = 15;
  er.y0 = &y1;
  er.n_dir = NP;
  rc = rc ? rc : run(s, &er, &err);
  ok(rc == RKIN_EINVAL, "carry from a plain run: refused");
  like(err.msg, "event 'redose' at t = 11.16", "... naming the event and "
       "time");
  like(err.msg, "scheduled without", "... and why");
  rkin_mevcarry_free(c);
  rkin_solver_free(s);
  rkin_model_free(m);
}

/* Kind 5: a bolus of 10 at 0 lagged by ALAG = T (6 h) into A (0
 * before), the event (A > C: A = A + D) firing at the dose itself: the
 * instant moves with T, refused along T (not covered), and along k the
 * closed form (13 e^(-k (t - 6)): dA/dk = -(t - 6) A). */
static void check_lag(void)
{
  rkin_model *m = mk(5);
  rkin_solver *s = solver(m);
  rkin_dosing *ds = rkin_dosing_new();
  rkin_dose dose = {.time = 0, .amount = A0, .rate = 0, .cmt = 0};
  rkin_err err = {0};
  double dir[NP] = {0}, yend, S[1];
  int rc;
  ev_run er = {.t1 = 10, .p = pdef, .dosing = ds, .n_dir = 1, .dir = dir,
               .y_end = &yend, .dy_end = S};
  rc = rkin_dosing_add(ds, &dose, &err);
  dir[PK] = 1;
  rc = rc ? rc : run(s, &er, &err);
  ok(rc == 0 && fabs(yend - 13 * exp(-0.4)) < 1e-8, "lag: the event fires "
     "at the lagged dose (A(10) = %.10g, expected 13 e^-0.4; %s)", yend,
     rc ? err.msg : "ok");
  is_double(S[0], -4 * 13 * exp(-0.4), 1e-6, "lag: dA/dk across the event "
            "at the dose (the dose time does not move along k)");
  dir[PK] = 0;
  dir[PT] = 1;
  rc = run(s, &er, &err);
  ok(rc == RKIN_EINVAL, "lag: along ALAG, the event at the moving dose "
     "time is refused");
  like(err.msg, "event 'redose' at t = 6 h", "... naming the event and time");
  like(err.msg, "lag time (ALAG) that moves", "... and why");
  rkin_dosing_free(ds);
  rkin_solver_free(s);
  rkin_model_free(m);
}

int main(void)
{
  int kind;
  for (kind = 0; kind < 4; kind++) check_kind(kind);
  check_carry();
  check_lag();
  done_testing();
  return exit_status();
}
