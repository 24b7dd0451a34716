/* test_solve_zeroamt.c - the derivative by a dose record's amount when
 * that amount is exactly 0 (rkin_solver_run_sensx with damt): the record
 * still gives its dose events (value 0), so the sensitivities jump at the
 * dose time plus ALAG by F dAMT (a bolus; an infusion of a given RATE,
 * 0 h long at a zero amount, its length's derivative F dAMT / RATE), or
 * are forced at rate F dAMT / D for D h (RATE -2, the model's D).
 *
 * Model: depot G and central X, G' = -ka G, X' = ka G - k X (the exact
 * path), plus vmax X / (km + X) in X' on the CVODES path; F = 0.6, ALAG
 * = 1.5 h and D = 3 h on G. Records: 100 into G at 0 h, then the zero
 * record into G at 4 h with ADDL 1, II 2 (its copies at 5.5 and 7.5 h
 * after the lag; as D infusions they overlap, 5.5-8.5 and 7.5-10.5 h).
 * Two directions: the zero record's amount by 1, record 1's by 1.
 *
 * Reference: the one-sided second-order difference (-3 f(0) + 4 f(h) -
 * f(2h)) / 2h of plain solutions with the zero record's amount at 0, h,
 * 2h (the derivative from the positive side: a negative amount is not
 * a dose). Its error is h^2 / 3 f''' plus the solutions' error over h:
 * on the exact path f is linear in the amount for a bolus and a D
 * infusion, and for a given RATE f''' ~ (F / RATE)^2 X'': h = 1e-2,
 * tolerance 1e-7; on the CVODES path (rtol 1e-10, atol 1e-10, amounts
 * ~ 100, so noise ~ 1e-8 / h) with Michaelis-Menten (km 30), h = 0.05:
 * f''' / f' ~ 1 / km^2, tolerance 1e-4. Relative errors have a floor of
 * 1e-3 of the largest sensitivity of the state. Output times avoid the
 * dose and infusion-end times (a given-RATE infusion's state at its own
 * start has not moved yet at any h > 0). States: the run with the zero
 * record's events equals the run without them (damt 0 for that record)
 * to 1e-14 relative on the exact path (an extra breakpoint splits a
 * matrix-exponential step, so not bitwise); on the CVODES path the value
 * 0 changes no state either, but each stop restarts the integrator (BDF
 * history, step size, Newton matrix), which moves the solution within
 * its tolerance: 1e-8 of the state's largest value at rtol 1e-10. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/dosing.h"
#include "core/init.h"
#include "core/model.h"
#include "solve/solve.h"
#include "../depot.h"
#include "../tap.h"

enum { KA, KE, F, LAG, DUR, KM, VMAX, NP };
#define NST 2
#define NT 60
#define NDIR 2

static const char *const PNAMES[NP] = {"ka", "k", "F", "tlag", "D", "km",
                                       "vmax"};
static const double PV[NP] = {0.8, 0.1, 0.6, 1.5, 3, 30, 20};

static rkin_model *build(int mm, int mods_on)
{
  static const char *const st[] = {"G", "X"};
  rkin_graph *g = rkin_graph_new();
  rkin_node d[2], mods[RKIN_MOD_N * 2];
  rkin_model_spec sp;
  rkin_model *m;
  int i;
  memset(&sp, 0, sizeof sp);
  depot_deriv(g, KA, KE, KM, VMAX, mm, d);
  for (i = 0; i < RKIN_MOD_N * 2; i++) mods[i] = -1;
  mods[RKIN_MOD_F * 2 + 0] = rkin_expr_param(g, F);
  mods[RKIN_MOD_LAG * 2 + 0] = rkin_expr_param(g, LAG);
  mods[RKIN_MOD_DUR * 2 + 0] = rkin_expr_param(g, DUR);
  sp.name = mm ? "mm_zero" : "lin_zero";
  sp.n_states = NST;
  sp.states = st;
  sp.deriv = d;
  sp.n_params = mm ? NP : NP - 2;
  sp.params = PNAMES;
  sp.values = PV;
  m = rkin_model_new(&sp, g, NULL);
  if (m && mods_on && rkin_model_set_dose_mods(m, mods, NULL)) {
    rkin_model_free(m);
    return NULL;
  }
  return m;
}

static rkin_solver *solver(const rkin_model *m, rkin_path path)
{
  rkin_solve_opts o;
  rkin_solve_opts_default(&o);
  o.path = path;
  o.rtol = 1e-10;
  o.atol = 1e-10;
  return rkin_solver_new(m, &o, NULL);
}

/* kind: 0 bolus, 1 a given RATE of 20 / h, 2 RATE -2 (the model's D) */
static rkin_dosing *schedule(int kind, double amt)
{
  rkin_dosing *d = rkin_dosing_new();
  rkin_dose r0 = {.time = 0, .amount = 100, .cmt = 0};
  rkin_dose r1 = {.time = 4, .amount = amt, .cmt = 0, .addl = 1, .ii = 2,
                  .rate = kind == 1 ? 20 : kind == 2 ? -2 : 0};
  if (d && (rkin_dosing_add(d, &r0, NULL) || rkin_dosing_add(d, &r1, NULL))) {
    rkin_dosing_free(d);
    return NULL;
  }
  return d;
}

static double times[NT];

static void req_init(rkin_solve_req *q, const rkin_dosing *d)
{
  size_t k;
  for (k = 0; k < NT; k++) times[k] = 0.25 + 0.5 * (double)k;
  memset(q, 0, sizeof *q);
  q->t0 = 0;
  q->t1 = 30;
  q->dosing = d;
  q->times = times;
  q->n_times = NT;
}

/* Plain solution with the zero record's amount amt. */
static int plain(rkin_solver *s, int kind, double amt, double *y)
{
  rkin_dosing *d = schedule(kind, amt);
  rkin_solve_req q;
  rkin_solve_res r = {0};
  int rc;
  if (!d) return -1;
  req_init(&q, d);
  r.y = y;
  rc = rkin_solver_run(s, &q, &r, NULL);
  rkin_dosing_free(d);
  return rc;
}

/* Sensitivity run at the zero amount: dy (NT x NST x NDIR) and y;
 * zero_moves 0: the zero record's damt is 0 (no events of its own). */
static int sens(rkin_solver *s, int kind, int zero_moves, double *y,
                double *dy, rkin_err *err)
{
  double damt[NDIR * 2] = {0, 1, 1, 0};
  rkin_dosing *d = schedule(kind, 0);
  rkin_solve_req q;
  rkin_solve_res r = {0};
  rkin_sens_req sq = {0};
  rkin_sens_res sr = {0};
  int rc;
  if (!d) return -1;
  req_init(&q, d);
  if (!zero_moves) damt[1] = 0;
  r.y = y;
  sq.n_dir = NDIR;
  sq.damt = damt;
  sr.dy = dy;
  rc = rkin_solver_run_sensx(s, &q, &sq, &r, &sr, err);
  rkin_dosing_free(d);
  return rc;
}

static const char *const KIND[3] = {"bolus", "infusion RATE 20",
                                    "infusion RATE -2 (D 3 h)"};

/* dy of direction 0 against the one-sided difference; the worst
 * relative error (floor 1e-3 of the state's largest). */
static double vs_onesided(rkin_solver *s, int kind, double h,
                          const double *dy)
{
  double f0[NT * NST], f1[NT * NST], f2[NT * NST], big[NST] = {0};
  double worst = 0;
  size_t k, i;
  if (plain(s, kind, 0, f0) || plain(s, kind, h, f1)
      || plain(s, kind, 2 * h, f2))
    return HUGE_VAL;
  for (k = 0; k < NT; k++)
    for (i = 0; i < NST; i++)
      big[i] = fmax(big[i], fabs(dy[(k * NST + i) * NDIR]));
  for (k = 0; k < NT; k++)
    for (i = 0; i < NST; i++) {
      size_t j = k * NST + i;
      double fd = (-3 * f0[j] + 4 * f1[j] - f2[j]) / (2 * h);
      double e = fabs(dy[j * NDIR] - fd) / fmax(fabs(fd), 1e-3 * big[i]);
      if (!(e <= worst)) worst = e;   /* (NaN counts) */
    }
  return worst;
}

/* Direction 1 (record 1's amount) against its own one-sided difference
 * (the zero record's events must not disturb another record's jump). */
static double other_dir(rkin_solver *s, int kind, const double *dy)
{
  double f0[NT * NST], f1[NT * NST], big[NST] = {0}, worst = 0, h = 1;
  rkin_dosing *d0 = schedule(kind, 0), *d1 = NULL;
  rkin_dose r0 = {.time = 0, .amount = 100 + h, .cmt = 0};
  rkin_dose r1 = {.time = 4, .amount = 0, .cmt = 0, .addl = 1, .ii = 2,
                  .rate = kind == 1 ? 20 : kind == 2 ? -2 : 0};
  rkin_solve_req q;
  rkin_solve_res r = {0};
  size_t k, i;
  int rc = !d0 || !(d1 = rkin_dosing_new())
           || rkin_dosing_add(d1, &r0, NULL) || rkin_dosing_add(d1, &r1,
                                                                NULL);
  req_init(&q, d0);
  r.y = f0;
  rc = rc || rkin_solver_run(s, &q, &r, NULL);
  q.dosing = d1;
  r.y = f1;
  rc = rc || rkin_solver_run(s, &q, &r, NULL);
  rkin_dosing_free(d0);
  rkin_dosing_free(d1);
  if (rc) return HUGE_VAL;
  /* linear in record 1's amount on the exact path: forward difference */
  for (k = 0; k < NT; k++)
    for (i = 0; i < NST; i++)
      big[i] = fmax(big[i], fabs(dy[(k * NST + i) * NDIR + 1]));
  for (k = 0; k < NT; k++)
    for (i = 0; i < NST; i++) {
      size_t j = k * NST + i;
      double fd = (f1[j] - f0[j]) / h;
      double e = fabs(dy[j * NDIR + 1] - fd) / fmax(fabs(fd),
                                                    1e-3 * big[i]);
      if (!(e <= worst)) worst = e;
    }
  return worst;
}

/* Largest relative difference of NT x NST states; floor: that fraction
 * of the state's largest value (0: none). */
static double rel_diff(const double *a, const double *b, double floor)
{
  double w = 0, big[NST] = {0};
  size_t j;
  for (j = 0; j < NT * NST; j++)
    big[j % NST] = fmax(big[j % NST], fabs(b[j]));
  for (j = 0; j < NT * NST; j++) {
    double e = fabs(a[j] - b[j]) / fmax(fmax(fabs(b[j]),
                                             floor * big[j % NST]), 1e-300);
    if (!(e <= w)) w = e;
  }
  return w;
}

static void test_path(int mm)
{
  rkin_model *m = build(mm, 1);
  rkin_path path = mm ? RKIN_PATH_CVODES : RKIN_PATH_EXACT;
  const char *pn = mm ? "CVODES, Michaelis-Menten" : "exact, linear";
  double h = mm ? 0.05 : 1e-3, tol = mm ? 1e-4 : 1e-7;
  int kind;
  for (kind = 0; kind < 3; kind++) {
    rkin_solver *s = m ? solver(m, path) : NULL;
    double y[NT * NST], y0[NT * NST], dy[NT * NST * NDIR];
    double dy0[NT * NST * NDIR], e, big = 0;
    rkin_err err;
    size_t j;
    int rc = !s || sens(s, kind, 1, y, dy, &err);
    if (rc && s) diag("%s: %s", KIND[kind], err.msg);
    e = rc ? HUGE_VAL : vs_onesided(s, kind, h, dy);
    ok(e <= tol, "%s, %s at amount 0, F 0.6, ALAG 1.5 h: d(states) / "
       "d(amount) = the one-sided difference (h %g; rel. %.1e, tol. %g)",
       pn, KIND[kind], h, e, tol);
    for (j = 0; !rc && j < NT * NST; j++)
      big = fmax(big, fabs(dy[j * NDIR]));
    ok(!rc && big > 0.3, "%s, %s: the zero amount's derivative is not 0 "
       "(largest %.3g)", pn, KIND[kind], big);
    if (!mm) {
      e = rc ? HUGE_VAL : other_dir(s, kind, dy);
      ok(e <= 1e-9, "%s, %s: record 1's derivative beside it = the "
         "difference (rel. %.1e, tol. 1e-9)", pn, KIND[kind], e);
    }
    /* the states: the zero record's events change none */
    rc = rc || sens(s, kind, 0, y0, dy0, &err);
    e = rc ? HUGE_VAL : rel_diff(y, y0, mm ? 1 : 0);
    ok(e <= (mm ? 1e-8 : 1e-14), "%s, %s: states with the zero record's "
       "events = without them (%s %.1e, tol. %g)", pn, KIND[kind],
       mm ? "relative to the state's largest value" : "rel.", e,
       mm ? 1e-8 : 1e-14);
    rkin_solver_free(s);
  }
  rkin_model_free(m);
}

/* A model without dose modifiers (F 1, no lag; the schedule's own
 * events, which have none for a zero amount, are not enough): a zero
 * bolus at 4 h (and 6 h) on the exact path, its derivative against the
 * one-sided difference. */
static void test_nomods(void)
{
  rkin_model *m = build(0, 0);
  rkin_solver *s = m ? solver(m, RKIN_PATH_EXACT) : NULL;
  double y[NT * NST], dy[NT * NST * NDIR], e;
  rkin_err err;
  int rc = !s || sens(s, 0, 1, y, dy, &err);
  if (rc && s) diag("no modifiers: %s", err.msg);
  e = rc ? HUGE_VAL : vs_onesided(s, 0, 1e-3, dy);
  ok(e <= 1e-7, "exact, linear, no dose modifiers, bolus at amount 0: "
     "d(states) / d(amount) = the one-sided difference (rel. %.1e, tol. "
     "1e-7)", e);
  rkin_solver_free(s);
  rkin_model_free(m);
}

/* The events themselves: with keep, a zero record gives value-0 events
 * at the lagged times (a D infusion's end D later); without, none; a
 * positive amount is unchanged by keep. */
static void test_expand(void)
{
  rkin_model *m = build(0, 1);
  double mods[RKIN_MOD_N * NST];
  unsigned char keep[2] = {0, 1}, none[2] = {0, 0};
  rkin_event *ev = NULL;
  size_t cap = 0, n0 = 0, n1 = 0, n2 = 0, k;
  int kind, good = 1;
  rkin_err err;
  if (!m || rkin_model_dose_mods(m, NULL, mods, &err)) good = 0;
  for (kind = 0; good && kind < 3; kind++) {
    rkin_dosing *d = schedule(kind, 0), *dp = schedule(kind, 5);
    good = d && dp
      && !rkin_dosing_expand_rec(d, mods, 0, NST, none, &ev, &cap, &n0, &err)
      && n0 == 1
      && !rkin_dosing_expand_rec(dp, mods, 0, NST, keep, &ev, &cap, &n2,
                                 &err)
      && n2 == (kind == 0 ? 3u : 5u)
      && !rkin_dosing_expand_rec(d, mods, 0, NST, keep, &ev, &cap, &n1, &err)
      && n1 == (kind == 2 ? 5u : 3u);
    for (k = 1; good && k < n1; k++) {
      double want_t = kind == 2 ? (double[]){5.5, 7.5, 8.5, 10.5}[k - 1]
                                : (double[]){5.5, 7.5}[k - 1];
      rkin_event_kind want_k = kind != 2 ? RKIN_EV_BOLUS
                               : ev[k].time < 8 ? RKIN_EV_INF_ON
                                                : RKIN_EV_INF_OFF;
      good = ev[k].time == want_t && ev[k].value == 0
             && ev[k].kind == want_k && ev[k].rec == 1;
    }
    if (!good) diag("%s: %zu / %zu / %zu events", KIND[kind], n0, n1, n2);
    rkin_dosing_free(d);
    rkin_dosing_free(dp);
  }
  ok(good, "expansion: a zero record gives no events, with keep value-0 "
     "events at 5.5 and 7.5 h (ALAG 1.5 h; a D infusion's ends 3 h "
     "later), a positive one the same events either way");
  free(ev);
  rkin_model_free(m);
}

/* RATE -2 (modelled duration) with amount 0 is a zero dose; RATE -1
 * (modelled rate) with amount 0 stays refused. */
static void test_records(void)
{
  rkin_dosing *d = rkin_dosing_new();
  rkin_dose a = {.time = 0, .amount = 0, .rate = -2, .cmt = 0};
  rkin_dose b = {.time = 1, .amount = 0, .rate = -1, .cmt = 0};
  rkin_err err;
  ok(d && !rkin_dosing_add(d, &a, &err), "RATE -2 with amount 0 is taken");
  ok(d && rkin_dosing_add(d, &b, &err) == RKIN_EINVAL
     && strstr(err.msg, "rate = -1 (modelled rate) needs an amount > 0"),
     "RATE -1 with amount 0 is refused (%s)", d ? err.msg : "");
  rkin_dosing_free(d);
}

int main(void)
{
  rkin_init();
  plan(25);
  test_records();
  test_expand();
  test_path(0);
  test_path(1);
  test_nomods();
  return exit_status();
}
