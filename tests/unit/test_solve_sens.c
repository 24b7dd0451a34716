/* test_solve_sens.c - forward parameter sensitivities on the exact path
 * (rkin_solver_run_sens, rkin_model_linear_dparams): against the
 * derivatives of the Bateman function (analytic), against central finite
 * differences of rkin_solver_run on a three-state model with decay, close
 * eigenvalues (divided-difference branches), an infusion, and every
 * refusal. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/dosing.h"
#include "core/init.h"
#include "core/model.h"
#include "solve/solve.h"
#include "../tap.h"
#include "../theoph.h"

/* Bateman concentration and its derivatives by ka, cl, v (by hand:
 * c = D ka / (v (ka - ke)) (e^-ke t - e^-ka t), ke = cl / v). */
static void bateman_d(double D, double ka, double cl, double v, double t,
                      double *c, double *dc)
{
  double ke = cl / v, e1 = exp(-ke * t), e2 = exp(-ka * t), dk = ka - ke;
  double dc_dke = D * ka / v * ((e1 - e2) / (dk * dk) - t * e1 / dk);
  *c = D * ka / (v * dk) * (e1 - e2);
  dc[0] = D / v * (-ke / (dk * dk) * (e1 - e2) + ka * t * e2 / dk);
  dc[1] = dc_dke / v;
  dc[2] = -*c / v - dc_dke * cl / (v * v);
}

static rkin_dosing *bolus(double t, double amt, int cmt, double rate)
{
  rkin_dosing *d = rkin_dosing_new();
  rkin_dose r;
  memset(&r, 0, sizeof r);
  r.time = t;
  r.amount = amt;
  r.cmt = cmt;
  r.rate = rate;
  rkin_dosing_add(d, &r, NULL);
  return d;
}

static void test_bateman(double ka, const char *what)
{
  static const double times[] = {0.25, 0.5, 1, 2, 3.5, 5, 7, 9, 12, 24};
  static const double dir[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1};
  rkin_model *m = theoph_model();
  rkin_solver *s = rkin_solver_new(m, NULL, NULL);
  rkin_dosing *d = bolus(0, 320, 0, 0);
  double p[3] = {ka, 2.8, 32}, out[10], dout[30], y[20], dy[60];
  double worst = 0, worst_y = 0;
  rkin_solve_req rq;
  rkin_solve_res rs;
  rkin_err err;
  size_t k, j;
  int rc;
  memset(&rq, 0, sizeof rq);
  memset(&rs, 0, sizeof rs);
  rq.t1 = 24;
  rq.params = p;
  rq.dosing = d;
  rq.times = times;
  rq.n_times = 10;
  rs.out = out;
  rs.y = y;
  rc = rkin_solver_run_sens(s, &rq, dir, 3, &rs, dy, dout, &err);
  ok(rc == 0, "%s: run_sens (%s)", what, rc ? err.msg : "ok");
  for (k = 0; !rc && k < 10; k++) {
    double c, dc[3];
    bateman_d(320, p[0], p[1], p[2], times[k], &c, dc);
    if (fabs(out[k] - c) > worst) worst = fabs(out[k] - c) / c;
    for (j = 0; j < 3; j++) {
      double e = fabs(dout[k * 3 + j] - dc[j]) / (fabs(dc[j]) + 1e-3);
      if (e > worst) worst = e;
      /* central = conc * v: d central / d ka = v dc/dka */
      if (j == 0) {
        e = fabs(dy[(k * 2 + 1) * 3] - p[2] * dc[0]) / (p[2] * fabs(dc[0]));
        if (e > worst_y) worst_y = e;
      }
    }
  }
  ok(!rc && worst < 1e-9, "%s: conc and d conc / d(ka, cl, v) equal the "
     "Bateman function's derivatives (max rel. err. %.2g, tol. 1e-9: "
     "eigen-route round-off)", what, worst);
  ok(!rc && worst_y < 1e-9, "%s: state sensitivity d central / d ka = v "
     "d conc / d ka (max rel. err. %.2g, tol. 1e-9)", what, worst_y);
  rkin_dosing_free(d);
  rkin_solver_free(s);
  rkin_model_free(m);
}

/* The unrolled kernels for 2 states and 2 directions (exact_path.c,
 * solve.c) against the general ones, which a third direction selects:
 * every direction is carried by its own operations, so the first two of
 * three must equal the two alone to the bit, states, outputs and both
 * sensitivities, for a bolus then an infusion (the input's divided
 * differences), eigenvalues far apart and close (phi1 branch). */
static void test_two_by_two(double ka, const char *what)
{
  static const double times[] = {0.25, 1, 3.5, 6, 7, 9, 12, 24};
  static const double dir[9] = {1, 0.5, 0, 0, 1, -0.3, 0.2, 0, 1};
  rkin_model *m = theoph_model();
  rkin_solver *s = rkin_solver_new(m, NULL, NULL);
  rkin_dosing *d = bolus(0, 320, 0, 0);
  double p[3] = {ka, 2.8, 32}, out[2][8], y[2][16], dout[2][24], dy[2][48];
  rkin_solve_req rq;
  rkin_solve_res rs;
  rkin_dose inf;
  rkin_err err;
  size_t k, j, diff = 0;
  int rc = 0, nd;
  memset(&inf, 0, sizeof inf);
  inf.time = 6;
  inf.amount = 100;
  inf.cmt = 1;
  inf.rate = 50;
  rkin_dosing_add(d, &inf, NULL);
  memset(&rq, 0, sizeof rq);
  rq.t1 = 24;
  rq.params = p;
  rq.dosing = d;
  rq.times = times;
  rq.n_times = 8;
  for (nd = 2; nd <= 3 && !rc; nd++) {
    memset(&rs, 0, sizeof rs);
    rs.out = out[nd - 2];
    rs.y = y[nd - 2];
    rc = rkin_solver_run_sens(s, &rq, dir, (size_t)nd, &rs, dy[nd - 2],
                              dout[nd - 2], &err);
  }
  ok(rc == 0, "%s: runs with 2 and 3 directions (%s)", what,
     rc ? err.msg : "ok");
  for (k = 0; !rc && k < 8; k++) {
    diff += out[0][k] != out[1][k];
    for (j = 0; j < 2; j++) {
      diff += y[0][k * 2 + j] != y[1][k * 2 + j];
      diff += dout[0][k * 2 + j] != dout[1][k * 3 + j];
      diff += dy[0][(k * 2) * 2 + j] != dy[1][(k * 2) * 3 + j];
      diff += dy[0][(k * 2 + 1) * 2 + j] != dy[1][(k * 2 + 1) * 3 + j];
    }
  }
  ok(!rc && diff == 0, "%s: 2 states x 2 directions (unrolled kernels) "
     "equal the general kernels' first two of 3 directions to the bit "
     "(%zu of 72 values differ)", what, diff);
  rkin_dosing_free(d);
  rkin_solver_free(s);
  rkin_model_free(m);
}

/* Two boluses and a direction mixing parameters: by superposition the
 * sensitivity is the sum of both doses' Bateman derivatives. */
static void test_two_doses(void)
{
  static const double times[] = {1, 6, 12, 13, 18, 30};
  const double dir[3] = {0.3, -1.2, 2.0};
  rkin_model *m = theoph_model();
  rkin_solver *s = rkin_solver_new(m, NULL, NULL);
  rkin_dosing *d = bolus(0, 100, 0, 0);
  rkin_dose r2;
  double p[3] = {0.9, 3.5, 40}, out[6], dout[6], worst = 0;
  rkin_solve_req rq;
  rkin_solve_res rs;
  rkin_err err;
  size_t k, j;
  int rc;
  memset(&r2, 0, sizeof r2);
  r2.time = 12;
  r2.amount = 250;
  rkin_dosing_add(d, &r2, NULL);
  memset(&rq, 0, sizeof rq);
  memset(&rs, 0, sizeof rs);
  rq.t1 = 30;
  rq.params = p;
  rq.dosing = d;
  rq.times = times;
  rq.n_times = 6;
  rs.out = out;
  rc = rkin_solver_run_sens(s, &rq, dir, 1, &rs, NULL, dout, &err);
  for (k = 0; !rc && k < 6; k++) {
    double c1, c2, d1[3], d2[3], want = 0;
    bateman_d(100, p[0], p[1], p[2], times[k], &c1, d1);
    if (times[k] >= 12) {
      bateman_d(250, p[0], p[1], p[2], times[k] - 12, &c2, d2);
    } else {
      d2[0] = d2[1] = d2[2] = 0;
    }
    for (j = 0; j < 3; j++) want += dir[j] * (d1[j] + d2[j]);
    if (fabs(dout[k] - want) > worst)
      worst = fabs(dout[k] - want) / fabs(want);
  }
  ok(rc == 0 && worst < 1e-9, "two boluses, mixed direction: sensitivity = "
     "sum of the doses' Bateman derivatives (max rel. err. %.2g, tol. "
     "1e-9; superposition)", worst);
  rkin_dosing_free(d);
  rkin_solver_free(s);
  rkin_model_free(m);
}

/* depot -> C <-> P, elimination from C, Lu-177 decay on every state. */
static rkin_model *three_model(void)
{
  static const char *const st[] = {"D", "C", "P"};
  static const char *const pa[] = {"ka", "k12", "k21", "k10"};
  static const double val[] = {0.8, 0.3, 0.1, 0.2};
  rkin_graph *g = rkin_graph_new();
  rkin_node y[3], k[4], d[3], t;
  rkin_model_spec sp;
  int i;
  for (i = 0; i < 3; i++) y[i] = rkin_expr_state(g, i);
  for (i = 0; i < 4; i++) k[i] = rkin_expr_param(g, i);
  d[0] = rkin_expr_unary(g, RKIN_OP_NEG, rkin_expr_binary(g, RKIN_OP_MUL,
                                                          k[0], y[0]));
  t = rkin_expr_binary(g, RKIN_OP_SUB, rkin_expr_binary(g, RKIN_OP_MUL,
                       k[2], y[2]), rkin_expr_binary(g, RKIN_OP_MUL,
                       rkin_expr_binary(g, RKIN_OP_ADD, k[1], k[3]), y[1]));
  d[1] = rkin_expr_binary(g, RKIN_OP_SUB, t, d[0]);
  d[2] = rkin_expr_binary(g, RKIN_OP_SUB, rkin_expr_binary(
           g, RKIN_OP_MUL, k[1], y[1]), rkin_expr_binary(g, RKIN_OP_MUL,
                                                         k[2], y[2]));
  memset(&sp, 0, sizeof sp);
  sp.name = "three";
  sp.nuclide = rkin_nuclide_find("Lu-177", NULL);
  sp.n_states = 3;
  sp.states = st;
  sp.deriv = d;
  sp.n_params = 4;
  sp.params = pa;
  sp.values = val;
  return rkin_model_new(&sp, g, NULL);
}

/* Sensitivities vs central differences of rkin_solver_run with h = 1e-5
 * (rates 0.05-0.8 /h): rounding ~eps 7400 / h = 1e-7 MBq, truncation
 * h^2 t^3 y / 6 below 1e-4 of y; compared with a floor of 1 MBq per unit
 * rate (sensitivities reach 1e4). */
static void test_vs_fd(const double *p0, int infusion, const char *what)
{
  static const double times[] = {0.5, 2, 4, 24, 72, 168};
  rkin_model *m = three_model();
  rkin_solver *s = rkin_solver_new(m, NULL, NULL);
  /* Infusion: 7400 MBq into C over 3 h, outputs during and after it. */
  rkin_dosing *d = infusion ? bolus(0, 7400, 1, 7400 / 3.0)
                            : bolus(0, 7400, 0, 0);
  double dir[8] = {1, 0, 0.5, 0, 0, -1, 0, 2}, y[18], yp[18], ym[18];
  double dy[36], p[4], worst = 0, h = 1e-5;
  rkin_solve_req rq;
  rkin_solve_res rs;
  rkin_err err;
  size_t k, l, j;
  int rc;
  memset(&rq, 0, sizeof rq);
  memset(&rs, 0, sizeof rs);
  rq.t1 = 168;
  rq.params = p0;
  rq.dosing = d;
  rq.times = times;
  rq.n_times = 6;
  rs.y = y;
  rc = rkin_solver_run_sens(s, &rq, dir, 2, &rs, dy, NULL, &err);
  ok(rc == 0, "%s: run_sens (%s)", what, rc ? err.msg : "ok");
  for (l = 0; !rc && l < 2; l++) {
    for (j = 0; j < 4; j++) p[j] = p0[j] + h * dir[l * 4 + j];
    rq.params = p;
    rs.y = yp;
    rkin_solver_run(s, &rq, &rs, NULL);
    for (j = 0; j < 4; j++) p[j] = p0[j] - h * dir[l * 4 + j];
    rs.y = ym;
    rkin_solver_run(s, &rq, &rs, NULL);
    for (k = 0; k < 18; k++) {
      double fd = (yp[k] - ym[k]) / (2 * h), e;
      e = fabs(dy[k * 2 + l] - fd) / (fabs(fd) + 1);
      if (e > worst) worst = e;
    }
  }
  ok(!rc && worst < 1e-6, "%s: state sensitivities equal central "
     "differences (max rel. err. %.2g, tol. 1e-6)", what, worst);
  rkin_dosing_free(d);
  rkin_solver_free(s);
  rkin_model_free(m);
}

/* depot -> C <-> P with F and ALAG on D (F = 5 k21, ALAG = 2 ka) and on
 * C (F = 2 k12, ALAG = 3 k10), so every direction moves doses. */
static rkin_model *three_mods_model(int with_lag)
{
  static const char *const st[] = {"D", "C", "P"};
  static const char *const pa[] = {"ka", "k12", "k21", "k10"};
  static const double val[] = {0.8, 0.3, 0.1, 0.2};
  rkin_graph *g = rkin_graph_new();
  rkin_node y[3], k[4], d[3], t, mods[RKIN_MOD_N * 3];
  rkin_model_spec sp;
  rkin_model *m;
  int i;
  for (i = 0; i < 3; i++) y[i] = rkin_expr_state(g, i);
  for (i = 0; i < 4; i++) k[i] = rkin_expr_param(g, i);
  d[0] = rkin_expr_unary(g, RKIN_OP_NEG, rkin_expr_binary(g, RKIN_OP_MUL,
                                                          k[0], y[0]));
  t = rkin_expr_binary(g, RKIN_OP_SUB, rkin_expr_binary(g, RKIN_OP_MUL,
                       k[2], y[2]), rkin_expr_binary(g, RKIN_OP_MUL,
                       rkin_expr_binary(g, RKIN_OP_ADD, k[1], k[3]), y[1]));
  d[1] = rkin_expr_binary(g, RKIN_OP_SUB, t, d[0]);
  d[2] = rkin_expr_binary(g, RKIN_OP_SUB, rkin_expr_binary(
           g, RKIN_OP_MUL, k[1], y[1]), rkin_expr_binary(g, RKIN_OP_MUL,
                                                         k[2], y[2]));
  for (i = 0; i < RKIN_MOD_N * 3; i++) mods[i] = -1;
  mods[RKIN_MOD_F * 3 + 0] = rkin_expr_binary(g, RKIN_OP_MUL,
                                              rkin_expr_const(g, 5), k[2]);
  if (with_lag)
    mods[RKIN_MOD_LAG * 3 + 0] =
        rkin_expr_binary(g, RKIN_OP_MUL, rkin_expr_const(g, 2), k[0]);
  mods[RKIN_MOD_F * 3 + 1] = rkin_expr_binary(g, RKIN_OP_MUL,
                                              rkin_expr_const(g, 2), k[1]);
  if (with_lag)
    mods[RKIN_MOD_LAG * 3 + 1] =
        rkin_expr_binary(g, RKIN_OP_MUL, rkin_expr_const(g, 3), k[3]);
  /* R of C = 10000 k12 (3000 /h), D of D = 10 k21 (1 h) */
  mods[RKIN_MOD_RATE * 3 + 1] = rkin_expr_binary(g, RKIN_OP_MUL,
                                                 rkin_expr_const(g, 1e4),
                                                 k[1]);
  mods[RKIN_MOD_DUR * 3 + 0] = rkin_expr_binary(g, RKIN_OP_MUL,
                                                rkin_expr_const(g, 10), k[2]);
  memset(&sp, 0, sizeof sp);
  sp.name = "three_mods";
  sp.nuclide = rkin_nuclide_find("Lu-177", NULL);
  sp.n_states = 3;
  sp.states = st;
  sp.deriv = d;
  sp.n_params = 4;
  sp.params = pa;
  sp.values = val;
  m = rkin_model_new(&sp, g, NULL);
  if (m && rkin_model_set_dose_mods(m, mods, NULL)) {
    rkin_model_free(m);
    m = NULL;
  }
  return m;
}

/* Sensitivities through doses moved and scaled by F and ALAG (a bolus
 * with a lagged ADDL copy into D, an infusion with a given rate into C,
 * whose duration F sets) vs central differences, as test_vs_fd. */
static void test_mods_vs_fd(void)
{
  static const double times[] = {0.5, 2, 4, 24, 26, 31, 33, 41, 43, 52,
                                 60, 72};
  static const double p0[4] = {0.8, 0.3, 0.1, 0.2};
  rkin_model *m = three_mods_model(1);
  rkin_solver *s = m ? rkin_solver_new(m, NULL, NULL) : NULL;
  rkin_dosing *d = rkin_dosing_new();
  rkin_dose r[4];
  double dir[8] = {1, 0, 0.5, 0, 0, -1, 0, 2}, y[36], yp[36], ym[36];
  double dy[72], p[4], worst = 0, h = 1e-6;
  rkin_solve_req rq;
  rkin_solve_res rs;
  rkin_err err;
  size_t k, l, j;
  int rc;
  ok(s != NULL, "model with F and ALAG on D and C");
  if (!s) {
    rkin_model_free(m);
    rkin_dosing_free(d);
    return;
  }
  memset(r, 0, sizeof r);
  r[0].amount = 7400;
  r[0].ii = 24;
  r[0].addl = 1;
  r[1].time = 30;
  r[1].amount = 7400;
  r[1].rate = 7400 / 3.0;
  r[1].cmt = 1;
  /* RATE -1 into C at 40 h (from 40.6 h for F 0.6 x 7400 / 3000 =
   * 1.48 h), RATE -2 into D at 50 h (from 51.6 h, 1 h) */
  r[2].time = 40;
  r[2].amount = 7400;
  r[2].rate = -1;
  r[2].cmt = 1;
  r[3].time = 50;
  r[3].amount = 7400;
  r[3].rate = -2;
  rkin_dosing_add_many(d, r, 4, NULL, NULL);
  memset(&rq, 0, sizeof rq);
  memset(&rs, 0, sizeof rs);
  rq.t1 = 72;
  rq.params = p0;
  rq.dosing = d;
  rq.times = times;
  rq.n_times = 12;
  rs.y = y;
  rc = rkin_solver_run_sens(s, &rq, dir, 2, &rs, dy, NULL, &err);
  ok(rc == 0, "F, ALAG, R, D: run_sens (%s)", rc ? err.msg : "ok");
  for (l = 0; !rc && l < 2; l++) {
    for (j = 0; j < 4; j++) p[j] = p0[j] + h * dir[l * 4 + j];
    rq.params = p;
    rs.y = yp;
    rkin_solver_run(s, &rq, &rs, NULL);
    for (j = 0; j < 4; j++) p[j] = p0[j] - h * dir[l * 4 + j];
    rs.y = ym;
    rkin_solver_run(s, &rq, &rs, NULL);
    for (k = 0; k < 36; k++) {
      double fd = (yp[k] - ym[k]) / (2 * h), e;
      e = fabs(dy[k * 2 + l] - fd) / (fabs(fd) + 1);
      if (e > worst) worst = e;
    }
  }
  ok(!rc && worst < 1e-5, "F, ALAG, R, D: state sensitivities (dose jumps "
     "-A b dALAG + AMT dF, infusion ends moved by F and D, modelled rates "
     "forcing S) equal central differences (max rel. err. %.2g, tol. "
     "1e-5)", worst);
  rkin_dosing_free(d);
  rkin_solver_free(s);
  rkin_model_free(m);
}

/* A reset (EVID 4) clears the sensitivities with the amounts: after it
 * they equal a fresh subject's. */
static void test_reset_sens(void)
{
  static const double p0[4] = {0.8, 0.3, 0.1, 0.2};
  double dir[8] = {1, 0, 0.5, 0, 0, -1, 0, 2}, y[3], dy[6], y1[3], dy1[6];
  double t40 = 40, t10 = 10, worst = 0;
  rkin_model *m = three_model();
  rkin_solver *s = rkin_solver_new(m, NULL, NULL);
  rkin_dosing *two = rkin_dosing_new(), *one = bolus(0, 7400, 0, 0);
  rkin_dose r[2];
  rkin_solve_req rq;
  rkin_solve_res rs;
  int rc;
  size_t k;
  memset(r, 0, sizeof r);
  r[0].amount = 5000;
  r[1].time = 30;
  r[1].amount = 7400;
  r[1].evid = 4;
  rkin_dosing_add_many(two, r, 2, NULL, NULL);
  memset(&rq, 0, sizeof rq);
  memset(&rs, 0, sizeof rs);
  rq.t1 = 40;
  rq.params = p0;
  rq.dosing = two;
  rq.times = &t40;
  rq.n_times = 1;
  rs.y = y;
  rc = rkin_solver_run_sens(s, &rq, dir, 2, &rs, dy, NULL, NULL);
  rq.t1 = 10;
  rq.dosing = one;
  rq.times = &t10;
  rs.y = y1;
  rc |= rkin_solver_run_sens(s, &rq, dir, 2, &rs, dy1, NULL, NULL);
  for (k = 0; k < 6; k++)
    worst = fmax(worst, fabs(dy[k] - dy1[k]) / (fabs(dy1[k]) + 1));
  ok(rc == 0 && worst < 1e-12, "EVID 4: sensitivities 10 h after the "
     "reset = a fresh subject's 10 h after its dose (max rel %.2g)", worst);
  rkin_dosing_free(two);
  rkin_dosing_free(one);
  rkin_solver_free(s);
  rkin_model_free(m);
}

/* Steady-state sensitivities (S = (I - E)^-1 P) vs central differences
 * (h = 1e-5: the error is then below 4e-7, growing for larger and smaller
 * h as truncation and rounding):
 * SS = 1 bolus into D and SS = 1 infusion into C with II 2 h shorter than
 * its duration (F 0.6 x 7400 / 1000 = 4.44 h), F on both compartments;
 * an SS = 2 bolus added later. */
static void test_ss_vs_fd(int with_lag)
{
  static const double times[] = {0, 1, 5, 10, 20, 30};
  static const double p0[4] = {0.8, 0.3, 0.1, 0.2};
  rkin_model *m = three_mods_model(with_lag);
  rkin_solver *s = m ? rkin_solver_new(m, NULL, NULL) : NULL;
  rkin_dose r[3];
  rkin_dosing *d = rkin_dosing_new();
  double dir[8] = {1, 0, 0.5, 0, 0, -1, 0, 2}, y[18], yp[18], ym[18];
  double dy[36], p[4], worst = 0, h = 1e-5;
  rkin_solve_req rq;
  rkin_solve_res rs;
  rkin_err err;
  size_t k, l, j;
  int rc, c;
  for (c = 0; c < 3 && s; c++) {
    memset(r, 0, sizeof r);
    r[0].amount = 7400;
    r[0].ss = 1;
    r[0].ii = c ? 2 : 24;
    r[0].cmt = c ? 1 : 0;
    /* c = 2: 5.5 h, so the window ii - lag = 1.4 h ends while 3 run */
    r[0].rate = c == 1 ? 1000 : c == 2 ? 7400 * 0.6 / 5.5 : 0;
    r[1].time = 12;
    r[1].amount = 1000;
    r[1].ss = 2;
    r[1].ii = 48;
    rkin_dosing_free(d);
    d = rkin_dosing_new();
    rkin_dosing_add_many(d, r, 2, NULL, NULL);
    memset(&rq, 0, sizeof rq);
    memset(&rs, 0, sizeof rs);
    rq.t1 = 30;
    rq.params = p0;
    rq.dosing = d;
    rq.times = times;
    rq.n_times = 6;
    rs.y = y;
    rc = rkin_solver_run_sens(s, &rq, dir, 2, &rs, dy, NULL, &err);
    ok(rc == 0, "SS %s%s: run_sens (%s)", c ? "infusion" : "bolus",
       with_lag ? " with lag" : "", rc ? err.msg : "ok");
    worst = 0;
    for (l = 0; !rc && l < 2; l++) {
      for (j = 0; j < 4; j++) p[j] = p0[j] + h * dir[l * 4 + j];
      rq.params = p;
      rs.y = yp;
      rkin_solver_run(s, &rq, &rs, NULL);
      for (j = 0; j < 4; j++) p[j] = p0[j] - h * dir[l * 4 + j];
      rs.y = ym;
      rkin_solver_run(s, &rq, &rs, NULL);
      for (k = 0; k < 18; k++) {
        double fd = (yp[k] - ym[k]) / (2 * h), e;
        e = fabs(dy[k * 2 + l] - fd) / (fabs(fd) + 1);
        if (e > worst) worst = e;
      }
    }
    ok(!rc && worst < 1e-5, "SS %s with F%s: sensitivities (I - E)^-1 P "
       "equal central differences (max rel. err. %.2g, tol. 1e-5)",
       c == 1 ? "infusion, II < duration"
       : c == 2 ? "infusion, 3 running at the record" : "bolus",
       with_lag ? " and ALAG (S -= dALAG (A y + r))" : "", worst);
  }
  ok(s != NULL, "SS sensitivities: model built");
  rkin_dosing_free(d);
  rkin_solver_free(s);
  rkin_model_free(m);
}

static void test_dparams(void)
{
  rkin_model *m = theoph_model();
  double p[3] = {1.5, 2.8, 32}, dir[3] = {0, 1, 0}, dA[4], dC[2];
  rkin_err err;
  int rc = rkin_model_linear_dparams(m, p, dir, 1, dA, dC, &err);
  /* A = [[-ka, 0], [ka, -cl/v]], C = [0, 1/v]: d/dcl = [[0,0],[0,-1/v]]. */
  ok(rc == 0 && dA[0] == 0 && dA[1] == 0 && dA[2] == 0
     && fabs(dA[3] + 1 / 32.0) < 1e-15 && dC[0] == 0 && dC[1] == 0,
     "dA/dcl = [[0,0],[0,-1/v]] exactly, dC/dcl = 0 (symbolic)");
  dir[1] = 0;
  dir[2] = 1;
  rc = rkin_model_linear_dparams(m, p, dir, 1, dA, dC, &err);
  ok(rc == 0 && fabs(dA[3] - 2.8 / (32.0 * 32)) < 1e-15
     && fabs(dC[1] + 1 / (32.0 * 32)) < 1e-15,
     "dA/dv(2,2) = cl/v^2, dC/dv = -1/v^2 (symbolic)");
  p[2] = 0;
  rc = rkin_model_linear_dparams(m, p, dir, 1, dA, dC, &err);
  ok(rc == RKIN_ENONFINITE, "v = 0: non-finite derivative refused");
  like(err.msg, "by parameter 'cl'", "message names the entry's "
       "parameter (%s)", err.msg);
  rkin_model_free(m);
}

/* Michaelis-Menten elimination: not linear. */
static rkin_model *mm_model(void)
{
  static const char *const st[] = {"C"};
  static const char *const pa[] = {"vmax", "km"};
  static const double val[] = {1, 2};
  rkin_graph *g = rkin_graph_new();
  rkin_node c = rkin_expr_state(g, 0), d[1];
  rkin_model_spec sp;
  d[0] = rkin_expr_unary(g, RKIN_OP_NEG, rkin_expr_binary(
           g, RKIN_OP_DIV, rkin_expr_binary(g, RKIN_OP_MUL,
                                            rkin_expr_param(g, 0), c),
           rkin_expr_binary(g, RKIN_OP_ADD, rkin_expr_param(g, 1), c)));
  memset(&sp, 0, sizeof sp);
  sp.name = "mm";
  sp.n_states = 1;
  sp.states = st;
  sp.deriv = d;
  sp.n_params = 2;
  sp.params = pa;
  sp.values = val;
  return rkin_model_new(&sp, g, NULL);
}

/* Outputs not linear in the states: logc = log(central / v) and mix =
 * log(central) + ka, their sensitivities by the chain rule against the
 * Bateman derivatives: d logc = dc / c; d mix / dka = dc/dka / c + 1,
 * d mix / dcl = dc/dcl / c, d mix / dv = (c + v dc/dv) / (c v). */
static void test_nonlinear_outputs(void)
{
  static const double times[] = {0.5, 2, 6, 12};
  static const double dir[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1};
  static const char *const st[] = {"depot", "central"};
  static const char *const pa[] = {"ka", "cl", "v"};
  static const char *const on[] = {"logc", "mix"};
  static const double val[] = {1.5, 2.8, 32};
  rkin_graph *g = rkin_graph_new();
  rkin_node dep = rkin_expr_state(g, 0), cen = rkin_expr_state(g, 1);
  rkin_node ka = rkin_expr_param(g, 0), cl = rkin_expr_param(g, 1);
  rkin_node v = rkin_expr_param(g, 2), d[2], out[2], abs_;
  rkin_model_spec sp;
  rkin_model *m;
  rkin_solver *sv;
  rkin_dosing *dd = bolus(0, 320, 0, 0);
  double p[3] = {1.5, 2.8, 32}, o[8], dout[24], worst = 0;
  rkin_solve_req rq;
  rkin_solve_res rs;
  rkin_err err;
  size_t k, j;
  memset(&sp, 0, sizeof sp);
  abs_ = rkin_expr_binary(g, RKIN_OP_MUL, ka, dep);
  d[0] = rkin_expr_unary(g, RKIN_OP_NEG, abs_);
  d[1] = rkin_expr_binary(g, RKIN_OP_SUB, abs_, rkin_expr_binary(
           g, RKIN_OP_MUL, rkin_expr_binary(g, RKIN_OP_DIV, cl, v), cen));
  out[0] = rkin_expr_unary(g, RKIN_OP_LOG,
                           rkin_expr_binary(g, RKIN_OP_DIV, cen, v));
  out[1] = rkin_expr_binary(g, RKIN_OP_ADD,
                            rkin_expr_unary(g, RKIN_OP_LOG, cen), ka);
  sp.name = "theoph_log";
  sp.n_states = 2;
  sp.states = st;
  sp.deriv = d;
  sp.n_params = 3;
  sp.params = pa;
  sp.values = val;
  sp.n_outputs = 2;
  sp.outputs = on;
  sp.output_expr = out;
  m = rkin_model_new(&sp, g, &err);
  ok(m && rkin_model_is_linear(m) && !rkin_model_outputs_linear(m),
     "linear model with log outputs");
  sv = rkin_solver_new(m, NULL, &err);
  memset(&rq, 0, sizeof rq);
  memset(&rs, 0, sizeof rs);
  rq.t1 = 12;
  rq.dosing = dd;
  rq.times = times;
  rq.n_times = 4;
  rq.params = p;
  rs.out = o;
  is_int(rkin_solver_run_sens(sv, &rq, dir, 3, &rs, NULL, dout, &err), 0,
         "sensitivities of nonlinear outputs run (%s)", err.msg);
  for (k = 0; k < 4; k++) {
    double c, dc[3], want[2][3];
    bateman_d(320, p[0], p[1], p[2], times[k], &c, dc);
    for (j = 0; j < 3; j++) want[0][j] = dc[j] / c;
    want[1][0] = dc[0] / c + 1;
    want[1][1] = dc[1] / c;
    want[1][2] = (c + p[2] * dc[2]) / (c * p[2]);
    worst = fmax(worst, fabs(o[2 * k] - log(c)) / fabs(log(c)));
    for (j = 0; j < 6; j++) {
      double w = want[j / 3][j % 3];
      worst = fmax(worst, fabs(dout[k * 6 + j] - w) / fmax(fabs(w), 1e-3));
    }
  }
  ok(worst < 1e-9, "log outputs and their ka, cl, v sensitivities = the "
     "Bateman derivatives by the chain rule to 1e-9 (worst %.1e)", worst);
  rkin_dosing_free(dd);
  rkin_solver_free(sv);
  rkin_model_free(m);
}

static void test_refusals(void)
{
  static const double times[] = {1, 5};
  rkin_model *m = theoph_model(), *mm = mm_model();
  rkin_solver *s = rkin_solver_new(m, NULL, NULL);
  rkin_solver *smm = rkin_solver_new(mm, NULL, NULL);
  rkin_dosing *bol = bolus(0, 100, 0, 0);
  double dir[3] = {1, 0, 0}, y[4], dy[4], p[3] = {0.1, 3.2, 32};
  int tia[1] = {0};
  double tq[1];
  rkin_solve_req rq;
  rkin_solve_res rs;
  rkin_err err;
  int rc;
  memset(&rq, 0, sizeof rq);
  memset(&rs, 0, sizeof rs);
  rq.t1 = 5;
  rq.dosing = bol;
  rq.times = times;
  rq.n_times = 2;
  rs.y = y;
  rc = rkin_solver_run_sens(s, &rq, dir, 0, &rs, dy, NULL, &err);
  ok(rc == RKIN_EINVAL, "n_dir = 0 refused");
  like(err.msg, "n_dir = 0", "message names n_dir");
  rq.tia = tia;
  rq.n_tia = 1;
  rs.tia = tq;
  rc = rkin_solver_run_sens(s, &rq, dir, 1, &rs, dy, NULL, &err);
  ok(rc == RKIN_EINVAL, "TIA with sensitivities refused");
  like(err.msg, "n_tia = 1", "message names n_tia");
  rq.tia = NULL;
  rq.n_tia = 0;
  /* ka = cl/v: a defective A (one eigenvector): no eigen-route. */
  p[0] = 0.1;
  rq.params = p;
  rc = rkin_solver_run_sens(s, &rq, dir, 1, &rs, dy, NULL, &err);
  ok(rc == RKIN_ERANGE, "ka = ke (defective A) refused: use finite "
     "differences");
  like(err.msg, "eigenvectors", "message says why (%s)", err.msg);
  rq.params = NULL;
  rq.dosing = NULL;
  /* issue 15: a nonlinear model's sensitivities come from CVODES */
  rc = rkin_solver_run_sens(smm, &rq, dir, 1, &rs, dy, NULL, &err);
  ok(rc == 0, "nonlinear model: sensitivities on the CVODES path run (%s)",
     rc ? err.msg : "ok");
  rc = rkin_model_linear_dparams(mm, NULL, dir, 1, dy, NULL, &err);
  ok(rc == RKIN_ENOTLINEAR, "dparams of a nonlinear model refused");
  like(err.msg, "'mm' is not linear", "message names the model");
  rkin_dosing_free(bol);
  rkin_solver_free(s);
  rkin_solver_free(smm);
  rkin_model_free(m);
  rkin_model_free(mm);
}

int main(void)
{
  static const double p_far[4] = {0.8, 0.3, 0.1, 0.2};
  /* ka 0.277 next to the eigenvalue -0.27808 of the C-P block: the
   * phi1 branch of the divided differences. */
  static const double p_close[4] = {0.2770, 0.05, 0.1, 0.2};
  rkin_init();
  test_bateman(1.5, "ka 1.5 (eigenvalues far apart)");
  test_bateman(0.0925, "ka 0.0925, ke 0.0875 (phi1 branch)");
  test_two_doses();
  test_two_by_two(1.5, "2 x 2 kernels, ka 1.5");
  test_two_by_two(0.0925, "2 x 2 kernels, ka 0.0925 (phi1 branch)");
  test_nonlinear_outputs();
  test_vs_fd(p_far, 0, "3 states + decay");
  test_vs_fd(p_close, 0, "3 states, close eigenvalues");
  test_vs_fd(p_far, 1, "3 states, infusion into C");
  test_vs_fd(p_close, 1, "3 states, close eigenvalues, infusion");
  test_dparams();
  test_mods_vs_fd();
  test_reset_sens();
  test_ss_vs_fd(0);
  test_ss_vs_fd(1);
  test_refusals();
  done_testing();
  return exit_status();
}
