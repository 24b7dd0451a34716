/* test_ss_sens_cv.c - forward sensitivities of steady-state dose records
 * (SS 1 / 2 with II) on the CVODES path: the periodic fixed point's
 * sensitivities S = (I - E)^-1 dPhi/dp reached by CVODES' own interval
 * sensitivities (steady.c). Linear model: CVODES = the exact path's
 * closed (I - E)^-1 P to 1e-6 relative, SS 1 and SS 2, bolus and
 * infusion. Nonlinear (Michaelis-Menten) model with F and ALAG: CVODES =
 * 4-point differences of the steady-state solution at rtol 1e-12, and
 * (SS 1 bolus) = the sensitivities after 60 ordinary doses. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/init.h"
#include "core/model.h"
#include "pop/data.h"
#include "pop/popest.h"
#include "solve/solve.h"
#include "../depot.h"
#include "../simsubj.h"
#include "../tap.h"
#include "../theoph.h"

#define NT 6
static const double TIMES[NT] = {0.5, 2, 5, 9, 14, 23};

static rkin_solver *solver(const rkin_model *m, rkin_path path)
{
  rkin_solve_opts o;
  rkin_solve_opts_default(&o);
  o.path = path;
  o.rtol = 1e-10;
  o.atol = 1e-12;
  return rkin_solver_new(m, &o, NULL);
}

/* The dosing of case k: 0 SS 1 bolus, 1 SS 1 infusion (2.5 h, shorter
 * than II), 2 SS 2 bolus after an ordinary dose, 3 SS 2 infusion longer
 * than II (two running at once) after an ordinary dose. */
static rkin_dosing *ss_dosing(int k, double amt)
{
  rkin_dosing *d = rkin_dosing_new();
  rkin_dose r[2];
  size_t nr = 0;
  memset(r, 0, sizeof r);
  if (k >= 2) {
    r[0].amount = 70;
    r[0].cmt = 0;
    nr = 1;
  }
  r[nr].time = k >= 2 ? 3 : 0;
  r[nr].amount = amt;
  r[nr].ii = 12;
  r[nr].ss = k >= 2 ? 2 : 1;
  r[nr].cmt = (k == 1 || k == 3) ? 1 : 0;
  if (k == 1) r[nr].rate = amt / 2.5;
  if (k == 3) r[nr].rate = amt / 17.0;
  nr++;
  rkin_dosing_add_many(d, r, nr, NULL, NULL);
  return d;
}

static const char *const CASE[4] = {
  "SS 1 bolus", "SS 1 infusion", "SS 2 bolus", "SS 2 infusion (2 running)"
};

/* States y and output out at times (NT of them) of a run over [0, t1]
 * at p with dosing d; with sensitivities dy, dout by the first n_dir
 * parameters (unit directions, n_dir <= 5) when dy is not NULL. */
static int ss_run(rkin_solver *s, const double *p, const rkin_dosing *d,
                  double t1, const double *times, size_t n_dir, double *y,
                  double *out, double *dy, double *dout, rkin_err *err)
{
  double dir[25];
  rkin_solve_req rq = {.t1 = t1, .params = p, .dosing = d, .times = times,
                       .n_times = NT};
  rkin_solve_res rs = {.y = y, .out = out};
  rkin_sens_req sq = {.n_dir = n_dir, .dir = dir};
  rkin_sens_res sr = {.dy = dy, .dout = dout};
  size_t i;
  for (i = 0; i < n_dir * n_dir; i++) dir[i] = i % (n_dir + 1) == 0;
  if (!dy) return rkin_solver_run(s, &rq, &rs, err);
  return rkin_solver_run_sensx(s, &rq, &sq, &rs, &sr, err);
}

/* Sensitivities of states and output at TIMES by (ka, cl, v), n_dir 3. */
static int run(rkin_solver *s, const double *p, rkin_dosing *d, double *y,
               double *dy, double *dout, rkin_err *err)
{
  double out[NT];
  return ss_run(s, p, d, 24, TIMES, 3, y, out, dy, dout, err);
}

static void test_linear(void)
{
  static const double p[3] = {1.2, 2.8, 32};
  rkin_model *m = theoph_model();
  rkin_solver *se = solver(m, RKIN_PATH_EXACT);
  rkin_solver *sc = solver(m, RKIN_PATH_CVODES);
  int k;
  for (k = 0; k < 4; k++) {
    rkin_dosing *d = ss_dosing(k, 320);
    double ye[NT * 2], yc[NT * 2], dye[NT * 6], dyc[NT * 6];
    double doe[NT * 3], doc[NT * 3], worst = 0, wo = 0;
    rkin_err err;
    int rc1, rc2;
    size_t i;
    rc1 = run(se, p, d, ye, dye, doe, &err);
    ok(rc1 == 0 && rkin_solver_path(se) == RKIN_PATH_EXACT, "%s: exact "
       "path (%s)", CASE[k], rc1 ? err.msg : "ok");
    rc2 = run(sc, p, d, yc, dyc, doc, &err);
    ok(rc2 == 0 && rkin_solver_path(sc) == RKIN_PATH_CVODES, "%s: CVODES "
       "path sensitivities run (%s)", CASE[k], rc2 ? err.msg : "ok");
    for (i = 0; !rc1 && !rc2 && i < NT * 6; i++)
      worst = fmax(worst, fabs(dyc[i] - dye[i]) / (fabs(dye[i]) + 1e-3));
    for (i = 0; !rc1 && !rc2 && i < NT * 3; i++)
      wo = fmax(wo, fabs(doc[i] - doe[i]) / (fabs(doe[i]) + 1e-5));
    ok(!rc1 && !rc2 && worst < 1e-6 && wo < 1e-6, "%s: CVODES = exact "
       "path, d(states, conc)/d(ka, cl, v) at 6 times (worst rel. %.1e, "
       "%.1e; tol. 1e-6)", CASE[k], worst, wo);
    rkin_dosing_free(d);
  }
  rkin_solver_free(se);
  rkin_solver_free(sc);
  rkin_model_free(m);
}

/* G' = -ka G, X' = ka G - vmax X / (km + X); F of G = f, ALAG of G =
 * tlag; output E = X / (km + X). Parameters ka, vmax, km, f, tlag. */
static rkin_model *mm_model(void)
{
  static const double val[] = {0.8, 20, 30, 0.7, 0.3};
  return depot_mm_model("mm_ss", 1, val);
}

/* States and output at TIMES (dy NULL) or with sensitivities by all 5
 * parameters. */
static int mm_run(rkin_solver *s, const double *p, rkin_dosing *d,
                  double *y, double *out, double *dy, double *dout,
                  rkin_err *err)
{
  return ss_run(s, p, d, 24, TIMES, 5, y, out, dy, dout, err);
}

/* The reference derivative by parameter j: the 4-point central
 * difference (f(-2h) - 8 f(-h) + 8 f(h) - f(2h)) / 12h, h = hr p_j, of
 * the steady-state solution by a solver at rtol 1e-12 (sf). Why not a
 * 2-point difference at the tested solver's rtol 1e-10 (as before): there
 * the solution carries non-smooth errors of ~1e-9 relative (the steady
 * state's Newton stops at corrections below 10 (rtol |x| + atol), CVODES'
 * global error ~ rtol, both changing with the step sequence), which a
 * difference divides by 2h: its gap to these sensitivities grew as 1/h,
 * 5e-5, 8e-4, 4e-3 at h = 1e-3, 1e-4, 1e-5 relative (the "defect" once
 * marked TODO here), while at rtol 1e-12 it shrank to 1e-7 - 3e-5, and
 * 60 ordinary doses (test below) agree with them to 6e-9. 4 points let h
 * be 1e-3 (truncation O(h^4)), so the noise is divided by 1e-3 only. */
static int mm_fd(rkin_solver *sf, const double *p0, int j, double hr,
                 rkin_dosing *d, double *fy, double *fo, rkin_err *err)
{
  static const double off[4] = {-2, -1, 1, 2}, w[4] = {1, -8, 8, -1};
  double p[5], y[NT * 2], out[NT], h = hr * p0[j];
  int a, rc;
  size_t i;
  memset(fy, 0, NT * 2 * sizeof *fy);
  memset(fo, 0, NT * sizeof *fo);
  for (a = 0; a < 4; a++) {
    memcpy(p, p0, sizeof p);
    p[j] = p0[j] + off[a] * h;
    if ((rc = mm_run(sf, p, d, y, out, NULL, NULL, err))) return rc;
    for (i = 0; i < NT * 2; i++) fy[i] += w[a] * y[i] / (12 * h);
    for (i = 0; i < NT; i++) fo[i] += w[a] * out[i] / (12 * h);
  }
  return 0;
}

static void test_mm_vs_fd(void)
{
  /* ALAG 0.3 h: no dose lands on an output time (a jump there) */
  static const double p0[5] = {0.8, 20, 30, 0.7, 0.3};
  rkin_model *m = mm_model();
  rkin_solver *s = m ? solver(m, RKIN_PATH_CVODES) : NULL, *sf = NULL;
  rkin_solve_opts o;
  int k;
  if (!ok(s != NULL, "MM model with F and ALAG builds")) return;
  rkin_solve_opts_default(&o);
  o.path = RKIN_PATH_CVODES;
  o.rtol = 1e-12;
  o.atol = 1e-14;
  sf = rkin_solver_new(m, &o, NULL);
  for (k = 0; sf && k < 4; k++) {
    rkin_dosing *d = ss_dosing(k, 150);
    double y[NT * 2], out[NT], dy[NT * 10], dout[NT * 5];
    double fy[2][NT * 2], fo[2][NT], worst = 0, wl = 0, self = 0;
    rkin_err err;
    int rc, j, bad = 0, q;
    size_t i;
    rc = mm_run(s, p0, d, y, out, dy, dout, &err);
    ok(rc == 0, "MM %s: CVODES sensitivities run (%s)", CASE[k],
       rc ? err.msg : "ok");
    for (j = 0; !rc && j < 5; j++) {
      /* two steps: the reference must not depend on h */
      for (q = 0; q < 2; q++)
        bad |= mm_fd(sf, p0, j, q ? 3e-3 : 1e-3, d, fy[q], fo[q], &err);
      for (i = 0; !bad && i < NT * 2; i++) {
        double e = fabs(dy[i * 5 + j] - fy[0][i]) / (fabs(fy[0][i]) + 1e-3);
        self = fmax(self, fabs(fy[1][i] - fy[0][i])
                          / (fabs(fy[0][i]) + 1e-3));
        if (j == 4) wl = fmax(wl, e); else worst = fmax(worst, e);
      }
      for (i = 0; !bad && i < NT; i++) {
        double e = fabs(dout[i * 5 + j] - fo[0][i]) / (fabs(fo[0][i]) + 1e-5);
        self = fmax(self, fabs(fo[1][i] - fo[0][i]) / (fabs(fo[0][i]) + 1e-5));
        if (j == 4) wl = fmax(wl, e); else worst = fmax(worst, e);
      }
    }
    /* observed: the two steps within 6e-7 of each other, the
     * sensitivities (rtol 1e-10) within 1.7e-6 of the reference */
    ok(!rc && !bad && self < 5e-6, "MM %s: reference differences with h = "
       "1e-3 and 3e-3 relative agree (worst rel. %.1e, tol. 5e-6)",
       CASE[k], self);
    ok(!rc && !bad && worst < 1e-5, "MM %s: d(states, E)/d(ka, vmax, km, "
       "F) at 6 times = 4-point differences of the steady-state solution "
       "at rtol 1e-12 (worst rel. %.1e, tol. 1e-5)", CASE[k], worst);
    ok(!rc && !bad && wl < 1e-5, "MM %s: d/dALAG = 4-point differences "
       "(worst rel. %.1e, tol. 1e-5)", CASE[k], wl);
    rkin_dosing_free(d);
  }
  ok(sf != NULL, "MM: the reference solver (rtol 1e-12) builds");
  rkin_solver_free(sf);
  rkin_solver_free(s);
  rkin_model_free(m);
}

/* SS 1 bolus (case 0) against no steady-state machinery at all: 60
 * ordinary doses every 12 h (the last at 720 h; the slowest mode, vmax /
 * km = 0.67 /h at low amounts, has decayed by e^-300), read 720 h later,
 * with the ordinary doses' forward sensitivities (test_solve_sens_cv
 * checks those). Observed 6e-9 relative at rtol 1e-10: tol. 1e-7. */
static void test_mm_vs_many_doses(void)
{
  static const double p0[5] = {0.8, 20, 30, 0.7, 0.3};
  rkin_model *m = mm_model();
  rkin_solver *s = m ? solver(m, RKIN_PATH_CVODES) : NULL;
  rkin_dosing *d = ss_dosing(0, 150), *d2 = rkin_dosing_new();
  double y[NT * 2], out[NT], dy[NT * 10], dout[NT * 5], tt[NT];
  double y2[NT * 2], o2[NT], dy2[NT * 10], do2[NT * 5], worst = 0;
  rkin_dose r;
  rkin_err err;
  int rc = -1, rc2 = -1;
  size_t i;
  memset(&r, 0, sizeof r);
  r.amount = 150;
  r.ii = 12;
  r.addl = 60;
  rkin_dosing_add_many(d2, &r, 1, NULL, NULL);
  if (s) rc = mm_run(s, p0, d, y, out, dy, dout, &err);
  if (!rc) {
    for (i = 0; i < NT; i++) tt[i] = TIMES[i] + 720;
    rc2 = ss_run(s, p0, d2, 744, tt, 5, y2, o2, dy2, do2, &err);
  }
  for (i = 0; !rc2 && i < NT * 10; i++)
    worst = fmax(worst, fabs(dy[i] - dy2[i]) / (fabs(dy2[i]) + 1e-3));
  for (i = 0; !rc2 && i < NT * 5; i++)
    worst = fmax(worst, fabs(dout[i] - do2[i]) / (fabs(do2[i]) + 1e-5));
  ok(!rc && !rc2 && worst < 1e-7, "MM SS 1 bolus: d(states, E)/d(ka, vmax, "
     "km, F, ALAG) = those after 60 ordinary doses (worst rel. %.1e, tol. "
     "1e-7)%s%s", worst, rc || rc2 ? ": " : "", rc || rc2 ? err.msg : "");
  rkin_dosing_free(d);
  rkin_dosing_free(d2);
  rkin_solver_free(s);
  rkin_model_free(m);
}

/* psi = (ka, cl, v): ka and cl log-normal, v = exp(theta 3). */
static int ss_psi(const double *th, const double *eta, const double *cov,
                  double *psi, void *ud, rkin_err *err)
{
  (void)cov;
  (void)ud;
  (void)err;
  psi[0] = exp(th[0] + eta[0]);
  psi[1] = exp(th[1] + eta[1]);
  psi[2] = exp(th[2]);
  return 0;
}

/* A rough normal from 12 uniforms of a fixed LCG (only variety matters,
 * and the same data each run). */
static double lcg_normal(unsigned long *lcg)
{
  double u = -6;
  int j;
  for (j = 0; j < 12; j++) {
    *lcg = (*lcg * 1103515245ul + 12345ul) & 0x7fffffff;
    u += (double)*lcg / 2147483648.0;
  }
  return u;
}

/* The FOCE-I objective of data whose every subject starts at a steady state (SS 1
 * bolus, II 12 h, then a 12-h profile; every other subject also an SS 2
 * infusion at 6 h) on the CVODES path, at parameters off the truth:
 * forward sensitivities (the steady-state ones included) and central
 * differences give the same objective. The data: the model at drawn etas with 10 % noise (a fixed
 * LCG, so the set is the same each run). */
static void test_fit(void)
{
  static const double obs[6] = {0.5, 1, 2, 4, 8, 11.5};
  static const char *const tn[3] = {"lka", "lcl", "lv"};
  double th_true[3] = {log(1.2), log(2.8), log(32)}, th0[3];
  double om0[4] = {0.1, 0, 0, 0.1}, sg0[1] = {0.15};
  unsigned long lcg = 2024;
  char text[8192];
  size_t len = 0;
  int i, j, rc[2];
  rkin_model *m = theoph_model();
  rkin_solver *s = solver(m, RKIN_PATH_CVODES);
  rkin_data *data;
  rkin_popmodel pm;
  double ofv[2];
  rkin_solve_opts so;
  rkin_err err;
  len += (size_t)snprintf(text + len, sizeof text - len,
                          "ID,TIME,DV,AMT,RATE,II,SS,CMT,EVID,MDV\n");
  for (i = 0; i < 10; i++) {
    double eta[2], p[3], y[12], z[2];
    rkin_dosing *d = rkin_dosing_new();
    rkin_dose r[2];
    int k;
    for (k = 0; k < 2; k++) z[k] = lcg_normal(&lcg);
    eta[0] = 0.3 * z[0];
    eta[1] = 0.3 * z[1];
    ss_psi(th_true, eta, NULL, p, NULL, NULL);
    memset(r, 0, sizeof r);
    r[0].amount = 320;
    r[0].ii = 12;
    r[0].ss = 1;
    r[1].time = 6;
    r[1].amount = 100;
    r[1].rate = 50;
    r[1].ii = 12;
    r[1].ss = 2;
    r[1].cmt = 1;
    rkin_dosing_add_many(d, r, i % 2 ? 2 : 1, NULL, NULL);
    rc[0] = simsubj_solve(s, p, d, 12, obs, 6, y, NULL, &err);
    rkin_dosing_free(d);
    if (rc[0]) break;
    len += (size_t)snprintf(text + len, sizeof text - len,
                            "%d,0,.,320,0,12,1,1,1,1\n", i + 1);
    for (j = 0; j < 6; j++) {
      if (i % 2 && j == 4)     /* the SS 2 record at 6 h, in time order */
        len += (size_t)snprintf(text + len, sizeof text - len,
                                "%d,6,.,100,50,12,2,2,1,1\n", i + 1);
      len += (size_t)snprintf(text + len, sizeof text - len,
                              "%d,%g,%.6g,0,0,0,0,2,0,0\n", i + 1, obs[j],
                              y[j * 2 + 1] / p[2]
                              * (1 + 0.1 * lcg_normal(&lcg)));
    }
  }
  if (!ok(!rc[0], "SS fit: data simulated (%s)", rc[0] ? err.msg : "ok"))
    goto out;
  data = rkin_data_parse(text, len, "ss_sim.csv", NULL, &err);
  if (!ok(data != NULL, "SS fit: data parsed (%s)", data ? "ok" : err.msg))
    goto out;
  for (j = 0; j < 3; j++) th0[j] = th_true[j] + 0.15;
  rkin_solve_opts_default(&so);
  so.path = RKIN_PATH_CVODES;
  so.rtol = 1e-8;
  so.atol = 1e-12;
  simsubj_popmodel(&pm, m, 0, &so, 3, tn, th0, om0, ss_psi, NULL, sg0);
  for (j = 0; j < 2; j++) {
    rkin_popfit_opts o;
    rkin_popfit_opts_default(&o);
    o.method = RKIN_POP_FOCEI;
    o.threads = 1;
    o.fd_grad = j;
    rc[j] = rkin_popest_ofv(&pm, data, &o, th0, om0, sg0, &ofv[j], NULL,
                            NULL, &err);
    ok(rc[j] == 0, "SS data on CVODES, FOCE-I objective with %s (%s)",
       j ? "central differences" : "sensitivities", rc[j] ? err.msg : "ok");
  }
  ok(!rc[0] && !rc[1] && fabs(ofv[0] - ofv[1]) < 1e-4, "SS data: FOCE-I "
     "OFV with CVODES sensitivities %.8f = with central differences %.8f "
     "(abs. tol. 1e-4: the differences' truncation error)", ofv[0],
     ofv[1]);
  rkin_data_free(data);
out:
  rkin_solver_free(s);
  rkin_model_free(m);
}

int main(void)
{
  rkin_init();
  test_linear();
  test_mm_vs_fd();
  test_mm_vs_many_doses();
  test_fit();
  done_testing();
  return exit_status();
}
