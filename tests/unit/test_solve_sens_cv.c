/* test_solve_sens_cv.c - forward sensitivities on the CVODES path
 * (rkin_solver_run_sensx, rkin_model_rhs_dparams): against the closed-form
 * derivatives of a one-compartment model (parameters, a dose amount, the
 * initial state; states, outputs, TIA) and of the Bateman function
 * (two-compartment), against the exact path on a linear model with an
 * infusion, a reset and amount directions, and against central
 * differences of rkin_solver_run on a nonlinear (Michaelis-Menten) model
 * with a lagged bolus, an infusion whose amount and rate move, a reset
 * and the TIA of a nonlinear output. */
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
#include "../theoph.h"

static double relerr(double got, double want, double floor)
{
  return fabs(got - want) / fmax(fabs(want), floor);
}

static rkin_solver *cv_solver(const rkin_model *m, double rtol, double atol)
{
  rkin_solve_opts o;
  rkin_solve_opts_default(&o);
  o.path = RKIN_PATH_CVODES;
  o.rtol = rtol;
  o.atol = atol;
  return rkin_solver_new(m, &o, NULL);
}

/* X' = -k X, output C = X / V. */
static rkin_model *onec_model(void)
{
  static const char *const st[] = {"X"};
  static const char *const pa[] = {"k", "V"};
  static const char *const on[] = {"C"};
  static const double val[] = {0.1, 5};
  rkin_graph *g = rkin_graph_new();
  rkin_node x = rkin_expr_state(g, 0), d[1], out[1];
  rkin_model_spec sp;
  memset(&sp, 0, sizeof sp);
  d[0] = rkin_expr_unary(g, RKIN_OP_NEG, rkin_expr_binary(
           g, RKIN_OP_MUL, rkin_expr_param(g, 0), x));
  out[0] = rkin_expr_binary(g, RKIN_OP_DIV, x, rkin_expr_param(g, 1));
  sp.name = "onec";
  sp.n_states = 1;
  sp.states = st;
  sp.deriv = d;
  sp.n_params = 2;
  sp.params = pa;
  sp.values = val;
  sp.n_outputs = 1;
  sp.outputs = on;
  sp.output_expr = out;
  return rkin_model_new(&sp, g, NULL);
}

/* (1 - e^-k tau) / k and its derivative by k. */
static double ifac(double k, double tau, double *dk)
{
  double e = exp(-k * tau);
  *dk = (tau * e * k - (1 - e)) / (k * k);
  return (1 - e) / k;
}

/* One compartment, y0 = 50, boluses D0 = 100 at 0 and D1 = 80 at 6 h:
 * X = (y0 + D0) e^-kt + D1 e^-k(t-6) [t >= 6]. Directions: k, V, AMT of
 * record 0, y0. Closed forms of X, C = X/V, TIA of X and C over 24 h. */
static void test_onec(void)
{
  static const double times[] = {1, 6, 7.5, 12, 24};
  static const double dir[8] = {1, 0, 0, 1, 0, 0, 0, 0};
  static const double damt[8] = {0, 0, 0, 0, 1, 0, 0, 0};
  static const double dy0[4] = {0, 0, 0, 1};
  static const int tia[2] = {0, 1};
  rkin_model *m = onec_model();
  rkin_solver *s = cv_solver(m, 1e-10, 1e-12);
  rkin_dosing *d = rkin_dosing_new();
  rkin_dose r[2];
  double p[2] = {0.1, 5}, y0 = 50, y[5], out[5], q[2], yend[1];
  double dy[20], dout[20], dq[8], dyend[4], worst = 0, worst_q = 0;
  rkin_solve_req rq;
  rkin_solve_res rs;
  rkin_sens_req sq;
  rkin_sens_res sr;
  rkin_err err;
  size_t i, j;
  int rc;
  memset(r, 0, sizeof r);
  r[0].amount = 100;
  r[1].time = 6;
  r[1].amount = 80;
  rkin_dosing_add_many(d, r, 2, NULL, NULL);
  memset(&rq, 0, sizeof rq);
  memset(&rs, 0, sizeof rs);
  memset(&sq, 0, sizeof sq);
  memset(&sr, 0, sizeof sr);
  rq.t1 = 24;
  rq.y0 = &y0;
  rq.params = p;
  rq.dosing = d;
  rq.times = times;
  rq.n_times = 5;
  rq.tia = tia;
  rq.n_tia = 2;
  rs.y = y;
  rs.out = out;
  rs.tia = q;
  rs.y_end = yend;
  sq.n_dir = 4;
  sq.dir = dir;
  sq.damt = damt;
  sq.dy0 = dy0;
  sr.dy = dy;
  sr.dout = dout;
  sr.dtia = dq;
  sr.dy_end = dyend;
  rc = rkin_solver_run_sensx(s, &rq, &sq, &rs, &sr, &err);
  ok(rc == 0, "one compartment: CVODES sensitivities run (%s)",
     rc ? err.msg : "ok");
  ok(rkin_solver_path(s) == RKIN_PATH_CVODES, "... on the CVODES path");
  for (i = 0; !rc && i < 5; i++) {
    double t = times[i], e0 = exp(-p[0] * t);
    double e1 = t >= 6 ? exp(-p[0] * (t - 6)) : 0;
    double x = (y0 + 100) * e0 + 80 * e1;
    double want[4] = {-t * (y0 + 100) * e0 - (t - 6) * 80 * e1, 0, e0, e0};
    for (j = 0; j < 4; j++) {
      worst = fmax(worst, relerr(dy[i * 4 + j], want[j], 1e-3));
      worst = fmax(worst, relerr(dout[i * 4 + j],
                                 j == 1 ? -x / (p[1] * p[1])
                                        : want[j] / p[1], 1e-3));
    }
  }
  if (!rc) {
    double dk0, dk1, f0 = ifac(p[0], 24, &dk0), f1 = ifac(p[0], 18, &dk1);
    double tx = (y0 + 100) * f0 + 80 * f1;
    double want[4] = {(y0 + 100) * dk0 + 80 * dk1, 0, f0, f0};
    worst_q = fmax(relerr(q[0], tx, 1), relerr(q[1], tx / p[1], 1));
    for (j = 0; j < 4; j++) {
      worst_q = fmax(worst_q, relerr(dq[j], want[j], 1e-3));
      worst_q = fmax(worst_q, relerr(dq[4 + j], j == 1 ? -tx / (p[1] * p[1])
                                                   : want[j] / p[1], 1e-3));
      worst = fmax(worst, relerr(dyend[j], j == 1 ? 0 : j == 0
                     ? -24 * (y0 + 100) * exp(-2.4) - 18 * 80 * exp(-1.8)
                     : exp(-2.4), 1e-3));
    }
  }
  ok(!rc && worst < 1e-7, "one compartment: dX, dC, dX(t1) by k, V, AMT "
     "and y0 = closed forms (dose jump e^-kt; rel. %.1e, tol. 1e-7 at "
     "rtol 1e-10)", worst);
  ok(!rc && worst_q < 1e-7, "one compartment: TIA of X and C and their "
     "sensitivities = closed forms ((1 - e^-kT)/k and d/dk; rel. %.1e, "
     "tol. 1e-7)", worst_q);
  rkin_dosing_free(d);
  rkin_solver_free(s);
  rkin_model_free(m);
}

/* Bateman: c = D ka / (v (ka - ke)) (e^-ke t - e^-ka t), ke = cl / v,
 * derivatives by ka, cl, v by hand. */
static void bateman(double D, double ka, double cl, double v, double t,
                    double *c, double *dc)
{
  double ke = cl / v, e1 = exp(-ke * t), e2 = exp(-ka * t), dk = ka - ke;
  double dc_dke = D * ka / v * ((e1 - e2) / (dk * dk) - t * e1 / dk);
  *c = D * ka / (v * dk) * (e1 - e2);
  dc[0] = D / v * (-ke / (dk * dk) * (e1 - e2) + ka * t * e2 / dk);
  dc[1] = dc_dke / v;
  dc[2] = -*c / v - dc_dke * cl / (v * v);
  dc[3] = *c / D;
}

static void test_bateman(void)
{
  static const double times[] = {0.25, 1, 2, 5, 9, 12, 24};
  static const double dir[12] = {1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0};
  static const double damt[4] = {0, 0, 0, 1};
  rkin_model *m = theoph_model();
  rkin_solver *s = cv_solver(m, 1e-10, 1e-12);
  rkin_dosing *d = rkin_dosing_new();
  rkin_dose r;
  double p[3] = {1.5, 2.8, 32}, out[7], dout[28], worst = 0;
  rkin_solve_req rq;
  rkin_solve_res rs;
  rkin_sens_req sq;
  rkin_sens_res sr;
  rkin_err err;
  size_t i, j;
  int rc;
  memset(&r, 0, sizeof r);
  r.amount = 320;
  rkin_dosing_add(d, &r, NULL);
  memset(&rq, 0, sizeof rq);
  memset(&rs, 0, sizeof rs);
  memset(&sq, 0, sizeof sq);
  memset(&sr, 0, sizeof sr);
  rq.t1 = 24;
  rq.params = p;
  rq.dosing = d;
  rq.times = times;
  rq.n_times = 7;
  rs.out = out;
  sq.n_dir = 4;
  sq.dir = dir;
  sq.damt = damt;
  sr.dout = dout;
  rc = rkin_solver_run_sensx(s, &rq, &sq, &rs, &sr, &err);
  ok(rc == 0, "Bateman: CVODES sensitivities run (%s)", rc ? err.msg : "ok");
  for (i = 0; !rc && i < 7; i++) {
    double c, dc[4];
    bateman(320, p[0], p[1], p[2], times[i], &c, dc);
    for (j = 0; j < 4; j++)
      worst = fmax(worst, relerr(dout[i * 4 + j], dc[j], 1e-2 * fabs(dc[j])
                                 + 1e-4));
  }
  ok(!rc && worst < 1e-6, "two compartments (depot, central): d conc / d "
     "(ka, cl, v, AMT) = the Bateman function's derivatives (rel. %.1e, "
     "tol. 1e-6 at rtol 1e-10)", worst);
  rkin_dosing_free(d);
  rkin_solver_free(s);
  rkin_model_free(m);
}

/* The same request on both paths: a bolus, an infusion (AMT and RATE
 * moving), EVID 3 (sensitivities reset), a bolus after it. */
static void test_exact_vs_cv(void)
{
  static const double times[] = {1, 4, 10, 30, 31.5, 40, 49, 50, 55, 72};
  static const double dir[15] = {1, 0, 0, 0, 1, 0, 0, 0, 1,
                                 0, 0, 0, 0, 0, 0};
  rkin_model *m = theoph_model();
  rkin_solver *se = rkin_solver_new(m, NULL, NULL);
  rkin_solver *sc = cv_solver(m, 1e-10, 1e-12);
  rkin_dosing *d = rkin_dosing_new();
  rkin_dose r[4];
  double damt[20], drec[20], p[3] = {1.2, 2.8, 32};
  double ye[20], yc[20], dye[100], dyc[100], oe[10], oc[10];
  double doe[50], doc[50], worst = 0, wy = 0;
  rkin_solve_req rq;
  rkin_solve_res rs;
  rkin_sens_req sq;
  rkin_sens_res sr;
  rkin_err err;
  size_t i;
  int rc1, rc2;
  memset(r, 0, sizeof r);
  memset(damt, 0, sizeof damt);
  memset(drec, 0, sizeof drec);
  r[0].amount = 320;
  r[1].time = 30;
  r[1].amount = 200;
  r[1].rate = 100;
  r[1].cmt = 1;
  r[2].time = 50;
  r[2].evid = 3;
  r[3].time = 52;
  r[3].amount = 150;
  rkin_dosing_add_many(d, r, 4, NULL, NULL);
  damt[3 * 4 + 0] = 1;    /* direction 4: AMT of the first bolus */
  damt[4 * 4 + 1] = 1;    /* direction 5: AMT and RATE of the infusion */
  drec[4 * 4 + 1] = 0.5;
  memset(&rq, 0, sizeof rq);
  memset(&sq, 0, sizeof sq);
  rq.t1 = 72;
  rq.params = p;
  rq.dosing = d;
  rq.times = times;
  rq.n_times = 10;
  sq.n_dir = 5;
  sq.dir = dir;
  sq.damt = damt;
  sq.drec = drec;
  memset(&rs, 0, sizeof rs);
  memset(&sr, 0, sizeof sr);
  rs.y = ye;
  rs.out = oe;
  sr.dy = dye;
  sr.dout = doe;
  rc1 = rkin_solver_run_sensx(se, &rq, &sq, &rs, &sr, &err);
  ok(rc1 == 0 && rkin_solver_path(se) == RKIN_PATH_EXACT,
     "linear model: exact-path sensitivities (%s)", rc1 ? err.msg : "ok");
  memset(&rs, 0, sizeof rs);
  memset(&sr, 0, sizeof sr);
  rs.y = yc;
  rs.out = oc;
  sr.dy = dyc;
  sr.dout = doc;
  rc2 = rkin_solver_run_sensx(sc, &rq, &sq, &rs, &sr, &err);
  ok(rc2 == 0, "linear model: CVODES-path sensitivities (%s)",
     rc2 ? err.msg : "ok");
  for (i = 0; !rc1 && !rc2 && i < 100; i++)
    worst = fmax(worst, fabs(dyc[i] - dye[i]) / (fabs(dye[i]) + 1e-2));
  for (i = 0; !rc1 && !rc2 && i < 50; i++)
    worst = fmax(worst, fabs(doc[i] - doe[i]) / (fabs(doe[i]) + 1e-4));
  for (i = 0; !rc1 && !rc2 && i < 20; i++)
    wy = fmax(wy, fabs(yc[i] - ye[i]) / (fabs(ye[i]) + 1e-6));
  ok(!rc1 && !rc2 && worst < 1e-6 && wy < 1e-7, "exact path = CVODES path: "
     "state and output sensitivities by ka, cl, v, a bolus AMT and an "
     "infusion's AMT and RATE through the infusion, EVID 3 and a later "
     "bolus (rel. %.1e, tol. 1e-6; states %.1e)", worst, wy);
  /* after the reset at 50 h only the bolus at 52 h counts: its
   * sensitivities by the first doses' amounts are exactly 0 */
  ok(!rc2 && dyc[(8 * 2 + 1) * 5 + 3] == 0 && dyc[(8 * 2 + 1) * 5 + 4] == 0,
     "after EVID 3: sensitivities by earlier doses' amounts are 0");
  rkin_dosing_free(d);
  rkin_solver_free(se);
  rkin_solver_free(sc);
  rkin_model_free(m);
}

/* G' = -ka G, X' = ka G - vmax X / (km + X); ALAG of G = tlag; output
 * E = X / (km + X) (nonlinear). */
static rkin_model *mm_model(void)
{
  static const double val[] = {0.8, 20, 30, 0.5};
  return depot_mm_model("mm2", 0, val);
}

#define MM_NT 9
#define MM_ND 8

/* One run of the MM problem with parameters p, y0, record amounts amt
 * and rates rate; with sensitivities when sq is not NULL. */
static int mm_run(rkin_solver *s, const double *p, const double *y0,
                  const double *amt, const double *rate, double *y,
                  double *out, double *q, double *yend,
                  const rkin_sens_req *sq, rkin_sens_res *sr,
                  rkin_err *err)
{
  static const double times[MM_NT] = {0.25, 1, 3, 10, 20, 21, 26, 41, 60};
  static const int tia[2] = {1, 2};
  rkin_dosing *d = rkin_dosing_new();
  rkin_dose r[4];
  rkin_solve_req rq;
  rkin_solve_res rs;
  int rc;
  memset(r, 0, sizeof r);
  r[0].amount = amt[0];          /* bolus into G, lagged by tlag */
  r[1].time = 20;                /* infusion into X */
  r[1].amount = amt[1];
  r[1].rate = rate[1];
  r[1].cmt = 1;
  r[2].time = 40;                /* EVID 4: reset, then this dose */
  r[2].amount = amt[2];
  r[2].evid = 4;
  r[2].cmt = 1;
  r[3].time = 45;                /* into G again, lagged */
  r[3].amount = amt[3];
  rkin_dosing_add_many(d, r, 4, NULL, NULL);
  memset(&rq, 0, sizeof rq);
  memset(&rs, 0, sizeof rs);
  rq.t1 = 60;
  rq.y0 = y0;
  rq.params = p;
  rq.dosing = d;
  rq.times = times;
  rq.n_times = MM_NT;
  rq.tia = tia;
  rq.n_tia = 2;
  rs.y = y;
  rs.out = out;
  rs.tia = q;
  rs.y_end = yend;
  rc = sq ? rkin_solver_run_sensx(s, &rq, sq, &rs, sr, err)
          : rkin_solver_run(s, &rq, &rs, err);
  rkin_dosing_free(d);
  return rc;
}

/* Central differences (step 1e-4 along each direction, the directions
 * scaled to the values they move) vs the CVODES sensitivities. */
static void test_mm_vs_fd(void)
{
  static const double p0[4] = {0.8, 20, 30, 0.5};
  static const double amt0[4] = {100, 60, 40, 50}, rate0[4] = {0, 20, 0, 0};
  static const double y00[2] = {0, 5};
  rkin_model *m = mm_model();
  rkin_solver *s = m ? cv_solver(m, 1e-10, 1e-12) : NULL;
  double dir[MM_ND * 4], damt[MM_ND * 4], drec[MM_ND * 4], dy0[2 * MM_ND];
  double y[2 * MM_NT], out[MM_NT], q[2], ye[2];
  double dy[2 * MM_NT * MM_ND], dout[MM_NT * MM_ND], dq[2 * MM_ND];
  double dye[2 * MM_ND], worst = 0, worst_q = 0, h = 1e-4;
  rkin_sens_req sq;
  rkin_sens_res sr;
  rkin_err err;
  size_t dd, j;
  int rc;
  ok(s != NULL, "Michaelis-Menten model with ALAG builds");
  if (!s) {
    rkin_model_free(m);
    return;
  }
  memset(dir, 0, sizeof dir);
  memset(damt, 0, sizeof damt);
  memset(drec, 0, sizeof drec);
  memset(dy0, 0, sizeof dy0);
  dir[0 * 4 + 1] = 20;        /* vmax */
  dir[1 * 4 + 2] = 30;        /* km */
  dir[2 * 4 + 3] = 0.5;       /* tlag: both G boluses move */
  dir[3 * 4 + 0] = 0.8;       /* ka */
  damt[4 * 4 + 0] = 100;      /* the first bolus's AMT */
  damt[5 * 4 + 1] = 60;       /* the infusion's AMT: it lasts longer */
  drec[6 * 4 + 1] = 20;       /* its RATE: it runs faster, ends sooner */
  dy0[1 * MM_ND + 7] = 5;     /* X(0) */
  memset(&sq, 0, sizeof sq);
  memset(&sr, 0, sizeof sr);
  sq.n_dir = MM_ND;
  sq.dir = dir;
  sq.damt = damt;
  sq.drec = drec;
  sq.dy0 = dy0;
  sr.dy = dy;
  sr.dout = dout;
  sr.dtia = dq;
  sr.dy_end = dye;
  rc = mm_run(s, p0, y00, amt0, rate0, y, out, q, ye, &sq, &sr, &err);
  ok(rc == 0, "MM: CVODES sensitivities run (%s)", rc ? err.msg : "ok");
  for (dd = 0; !rc && dd < MM_ND; dd++) {
    double pp[4], pm[4], ap[4], am[4], rp[4], rm[4], y0p[2], y0m[2];
    double yp[2 * MM_NT], ym[2 * MM_NT], op[MM_NT], om[MM_NT];
    double qp[2], qm[2], yep[2], yem[2];
    for (j = 0; j < 4; j++) {
      pp[j] = p0[j] + h * dir[dd * 4 + j];
      pm[j] = p0[j] - h * dir[dd * 4 + j];
      ap[j] = amt0[j] + h * damt[dd * 4 + j];
      am[j] = amt0[j] - h * damt[dd * 4 + j];
      rp[j] = rate0[j] + h * drec[dd * 4 + j];
      rm[j] = rate0[j] - h * drec[dd * 4 + j];
    }
    for (j = 0; j < 2; j++) {
      y0p[j] = y00[j] + h * dy0[j * MM_ND + dd];
      y0m[j] = y00[j] - h * dy0[j * MM_ND + dd];
    }
    if (mm_run(s, pp, y0p, ap, rp, yp, op, qp, yep, NULL, NULL, NULL)
        || mm_run(s, pm, y0m, am, rm, ym, om, qm, yem, NULL, NULL, NULL)) {
      worst = HUGE_VAL;
      break;
    }
    for (j = 0; j < 2 * MM_NT; j++)
      worst = fmax(worst, fabs(dy[j * MM_ND + dd] - (yp[j] - ym[j]) / (2 * h))
                          / (fabs(y[j]) + 1e-2));
    for (j = 0; j < MM_NT; j++)
      worst = fmax(worst, fabs(dout[j * MM_ND + dd]
                               - (op[j] - om[j]) / (2 * h)) / 1e-2);
    for (j = 0; j < 2; j++) {
      worst = fmax(worst, fabs(dye[j * MM_ND + dd] - (yep[j] - yem[j])
                               / (2 * h)) / (fabs(ye[j]) + 1e-2));
      worst_q = fmax(worst_q, fabs(dq[j * MM_ND + dd] - (qp[j] - qm[j])
                                   / (2 * h)) / fabs(q[j]));
    }
  }
  ok(!rc && worst < 1e-5, "MM: state and nonlinear-output sensitivities "
     "by vmax, km, tlag (lagged boluses), ka, a bolus AMT, an infusion's AMT "
     "and RATE, X(0), through EVID 4, = central differences (rel. %.1e, "
     "tol. 1e-5)", worst);
  ok(!rc && worst_q < 1e-5, "MM: sensitivities of the TIA of X and of the "
     "nonlinear output X/(km+X) = central differences (rel. %.1e, tol. "
     "1e-5)", worst_q);
  rkin_solver_free(s);
  rkin_model_free(m);
}

/* df/dp along directions from the model's symbolic derivatives. */
static void test_rhs_dparams(void)
{
  rkin_model *m = mm_model();
  double y[2] = {10, 15}, p[4] = {0.8, 20, 30, 0.5};
  double dir[8] = {1, 0, 0, 0, 0, 0, 1, 0}, fp[4], op[2], *work;
  int rc;
  work = malloc(rkin_model_nwork(m) * sizeof *work);
  rc = rkin_model_rhs_dparams(m, 0, y, p, dir, 2, fp, op, work);
  /* d/dka: (-G, G); d/dkm: (0, vmax X / (km + X)^2); dE/dkm = -X/(km+X)^2 */
  ok(rc == 0 && fp[0] == -10 && fp[2] == 10 && fp[1] == 0
     && fabs(fp[3] - 20.0 * 15 / (45.0 * 45)) < 1e-15
     && op[0] == 0 && fabs(op[1] + 15 / (45.0 * 45)) < 1e-15,
     "rhs_dparams: df/dka, df/dkm, dE/dkm by hand");
  free(work);
  rkin_model_free(m);
}

static void test_refusals(void)
{
  rkin_model *m = theoph_model();
  rkin_solver *s = cv_solver(m, 1e-6, 1e-9);
  rkin_dosing *d = rkin_dosing_new();
  rkin_dose r;
  double dir[3] = {1, 0, 0}, y[2], dy[2], bad[2] = {NAN, 0};
  rkin_solve_req rq;
  rkin_solve_res rs;
  rkin_sens_req sq;
  rkin_sens_res sr;
  rkin_err err;
  int rc;
  memset(&r, 0, sizeof r);
  r.amount = 100;
  r.ii = 12;
  r.ss = 1;
  rkin_dosing_add(d, &r, NULL);
  memset(&rq, 0, sizeof rq);
  memset(&rs, 0, sizeof rs);
  memset(&sq, 0, sizeof sq);
  memset(&sr, 0, sizeof sr);
  rq.t1 = 5;
  rq.dosing = d;
  rs.y_end = y;
  sq.n_dir = 1;
  sq.dir = dir;
  sr.dy_end = dy;
  /* once refused here; the numbers: test_ss_sens_cv.c */
  rc = rkin_solver_run_sensx(s, &rq, &sq, &rs, &sr, &err);
  ok(rc == 0, "SS record with CVODES sensitivities runs (%s)",
     rc ? err.msg : "ok");

  rq.dosing = NULL;
  sq.dy0 = bad;
  rc = rkin_solver_run_sensx(s, &rq, &sq, &rs, &sr, &err);
  ok(rc == RKIN_EINVAL, "NaN dy0 refused");
  like(err.msg, "dy0[0] = nan is not finite", "message names it");
  {
    /* Parameters switching at 2 h (time-varying covariates): once
     * refused on this path, now integrated piece by piece (the numbers
     * against the exact path and differences: test_solve_sens_tv.c);
     * here the exact path's on the same request. */
    static const double p1[3] = {1.5, 2.8, 32}, p2[3] = {1.5, 4.0, 32};
    static const double tsw[1] = {2.0};
    rkin_solve_opts oe;
    rkin_solver *se;
    rkin_dose b;
    rkin_dosing *d1 = rkin_dosing_new();
    double ye[2], dye[2];
    memset(&b, 0, sizeof b);
    b.amount = 100;
    rkin_dosing_add(d1, &b, NULL);
    rkin_solve_opts_default(&oe);
    oe.path = RKIN_PATH_EXACT;
    se = rkin_solver_new(m, &oe, NULL);
    sq.dy0 = NULL;
    rq.dosing = d1;
    rq.params = p1;
    rq.n_pw = 1;
    rq.pw_t = tsw;
    rq.pw_params = p2;
    rc = rkin_solver_run_sensx(s, &rq, &sq, &rs, &sr, &err);
    ok(rc == 0, "time-varying parameters with CVODES sensitivities run "
       "(%s)", rc ? err.msg : "ok");
    rs.y_end = ye;
    sr.dy_end = dye;
    rc = se ? rkin_solver_run_sensx(se, &rq, &sq, &rs, &sr, &err) : -1;
    ok(rc == 0 && fabs(dy[0] - dye[0]) <= 1e-5 * fabs(dye[0])
       && fabs(dy[1] - dye[1]) <= 1e-5 * fabs(dye[1]), "... and give the "
       "exact path's sensitivities at 5 h (%g, %g vs %g, %g)", dy[0],
       dy[1], dye[0], dye[1]);
    rq.n_pw = 0;
    rkin_solver_free(se);
    rkin_dosing_free(d1);
  }
  rkin_dosing_free(d);
  rkin_solver_free(s);
  rkin_model_free(m);
}

int main(void)
{
  rkin_init();
  test_onec();
  test_bateman();
  test_exact_vs_cv();
  test_mm_vs_fd();
  test_rhs_dparams();
  test_refusals();
  done_testing();
  return exit_status();
}
