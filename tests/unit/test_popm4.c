/* test_popm4.c - Beal's M4 likelihood (popm4.c) and the Laplace objective
 * from exact second derivatives of each observation's term (popsubj.c):
 * the M4 terms against their formulas with GSL's normal CDF, their
 * derivatives against finite differences, and the Laplace / Laplace-I
 * OFV with M3 and M4 censored records against the Laplace approximation
 * written out here (explicit mode search, second derivative of the
 * explicit joint density). */
#include <gsl/gsl_cdf.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/init.h"
#include "pop/data.h"
#include "pop/popest.h"
#include "../tap.h"

/* ------------------------------------------------- the M4 terms */

static double m4_direct(const double *sig, int comb, double y, double f,
                        double s, int cens, double L)
{
  double sd = comb ? sqrt(sig[0] * sig[0] + sig[1] * sig[1] * s * s)
                   : sig[0];
  double pos = gsl_cdf_ugaussian_P(f / sd);
  if (cens == 0) {
    double r = y - f;
    return r * r / (sd * sd) + log(sd * sd) + 2 * log(pos);
  }
  if (cens > 0)
    return -2 * log((gsl_cdf_ugaussian_P((L - f) / sd)
                     - gsl_cdf_ugaussian_P(-f / sd)) / pos);
  return -2 * log(gsl_cdf_ugaussian_P((f - L) / sd) / pos);
}

static double c_at(rkin_res_model res, const double *sig, double y,
                   double f, double s, int cens, double L, int which)
{
  rkin_res_obs o;
  if (rkin_res_eval_m4(res, 0, sig, y, f, s, cens, L, &o)) return NAN;
  return which == 0 ? o.c : which == 1 ? o.c_f : o.c_s;
}

static void test_terms(void)
{
  static const struct {
    int cens;
    double y, f, L;
    const char *what;
  } cs[] = {
    {0, 1.2, 1.0, NAN, "observed"},
    {0, 0.1, 0.3, NAN, "observed, prediction near 0"},
    {1, NAN, 1.0, 0.5, "below the limit"},
    {1, NAN, 6.0, 0.5, "below the limit, prediction far above"},
    {1, NAN, 0.05, 0.5, "below the limit, prediction near 0"},
    {-1, NAN, 1.0, 2.0, "above the limit"},
  };
  double add[1] = {0.5}, comb[2] = {0.3, 0.2};
  size_t k;
  int m;
  for (m = 0; m < 2; m++) {
    rkin_res_model res = m ? RKIN_RES_COMB : RKIN_RES_ADD;
    const double *sig = m ? comb : add;
    for (k = 0; k < sizeof cs / sizeof cs[0]; k++) {
      rkin_res_obs o;
      double f = cs[k].f, s = f, h = 1e-5, e = 0, want;
      int rc = rkin_res_eval_m4(res, 0, sig, cs[k].y, f, s, cs[k].cens,
                                cs[k].L, &o);
      want = m4_direct(sig, m, cs[k].y, f, s, cs[k].cens, cs[k].L);
      ok(rc == 0 && fabs(o.c - want) < 1e-10 * (1 + fabs(want)), "M4 %s, "
         "%s: c %.12f = -2 log of the conditional likelihood %.12f",
         m ? "combined" : "additive", cs[k].what, o.c, want);
      /* first derivatives from c, second from c_f, c_s: central
       * differences, h 1e-5 (truncation ~1e-10, rounding ~1e-11) */
#define FD(w, df, ds) ((c_at(res, sig, cs[k].y, f + (df), s + (ds),       \
                             cs[k].cens, cs[k].L, w)                       \
                        - c_at(res, sig, cs[k].y, f - (df), s - (ds),      \
                               cs[k].cens, cs[k].L, w)) / (2 * h))
      e = fmax(e, fabs(o.c_f - FD(0, h, 0)));
      e = fmax(e, fabs(o.c_ff - FD(1, h, 0)));
      if (m) {
        e = fmax(e, fabs(o.c_s - FD(0, 0, h)));
        e = fmax(e, fabs(o.c_fs - FD(1, 0, h)));
        e = fmax(e, fabs(o.c_fs - FD(2, h, 0)));
        e = fmax(e, fabs(o.c_ss - FD(2, 0, h)));
      }
#undef FD
      ok(e < 1e-6, "M4 %s, %s: c_f, c_s, c_ff, c_fs, c_ss = central "
         "differences (max diff %.2g, tol. 1e-6)",
         m ? "combined" : "additive", cs[k].what, e);
    }
  }
  {
    rkin_res_obs o3, o4;
    rkin_res_eval(RKIN_RES_ADD, 1, add, NAN, 2.0, 2.0, 1, 1.0, &o3);
    rkin_res_eval_m4(RKIN_RES_ADD, 1, add, NAN, 2.0, 2.0, 1, 1.0, &o4);
    ok(o3.c == o4.c && o3.c_ff == o4.c_ff, "log scale: M4 is M3");
    ok(rkin_res_eval_m4(RKIN_RES_ADD, 0, add, NAN, 1.0, 1.0, 1, 0.0, &o4)
       == RKIN_ERANGE, "M4 below a limit <= 0: RKIN_ERANGE");
  }
}

/* ------------------------------- Laplace with censored records */

/* One eta: f_j = g(th + eta) t_j with g the identity (LIN) or exp;
 * additive error SD a. */
static int NONLIN;

static int e_psi(const double *th, const double *eta, const double *cov,
                 double *psi, void *ud, rkin_err *err)
{
  (void)cov;
  (void)ud;
  (void)err;
  psi[0] = NONLIN ? exp(th[0] + eta[0]) : th[0] + eta[0];
  return 0;
}

static int e_pred(const rkin_data_subject *s, const double *psi, double *f,
                  void *ud, rkin_err *err)
{
  size_t k;
  (void)ud;
  (void)err;
  for (k = 0; k < s->n_obs; k++) f[k] = psi[0] * s->time[k];
  return 0;
}

/* The joint -2 log density (no 2 pi) of subject s at eta: the records'
 * terms (Gaussian; M3: -2 log Phi((L - f) / a); M4 as above) + eta^2 /
 * om. */
static double e_J(const rkin_data_subject *s, double th, double om,
                  double a, int m4, double eta)
{
  double J = eta * eta / om, p = NONLIN ? exp(th + eta) : th + eta;
  size_t j;
  for (j = 0; j < s->n_obs; j++) {
    double f = p * s->time[j];
    if (m4) {
      J += m4_direct(&a, 0, s->dv[j], f, f, s->cens[j], s->limit[j]);
    } else if (s->cens[j]) {
      J += -2 * log(gsl_cdf_ugaussian_P((s->limit[j] - f) / a));
    } else {
      double r = s->dv[j] - f;
      J += r * r / (a * a) + log(a * a);
    }
  }
  return J;
}

/* Laplace written out: mode by a grid and golden section, J'' by a
 * five-point stencil (h 1e-3: truncation ~1e-12, rounding ~1e-9), OFV_i
 * = J(eta^) + log(om J'' / 2). */
static double e_laplace(const rkin_data_subject *s, double th, double om,
                        double a, int m4)
{
  double lo = -6 * sqrt(om), hi = 6 * sqrt(om), best = lo, fb = HUGE_VAL;
  double x, g = (sqrt(5) - 1) / 2, h = 1e-3, J0, d2;
  int i;
  for (x = lo; x <= hi; x += 1e-3 * sqrt(om)) {
    double v = e_J(s, th, om, a, m4, x);
    if (v < fb) {
      fb = v;
      best = x;
    }
  }
  lo = best - 2e-3 * sqrt(om);
  hi = best + 2e-3 * sqrt(om);
  for (i = 0; i < 200; i++) {
    double c = hi - g * (hi - lo), d = lo + g * (hi - lo);
    if (e_J(s, th, om, a, m4, c) < e_J(s, th, om, a, m4, d)) hi = d;
    else lo = c;
  }
  x = (lo + hi) / 2;
  J0 = e_J(s, th, om, a, m4, x);
  d2 = (-e_J(s, th, om, a, m4, x + 2 * h) + 16 * e_J(s, th, om, a, m4, x + h)
        - 30 * J0 + 16 * e_J(s, th, om, a, m4, x - h)
        - e_J(s, th, om, a, m4, x - 2 * h)) / (12 * h * h);
  return J0 + log(om * d2 / 2);
}

static rkin_data *e_data(unsigned long seed, size_t n, double th, double om,
                         double a, double lloq, size_t *n_blq)
{
  static const double tt[] = {0.5, 1, 2, 4, 8};
  gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
  size_t cap = 64 + n * 5 * 64, len = 0, i, j;
  char *t = malloc(cap);
  rkin_err err;
  rkin_data *d;
  gsl_rng_set(r, seed);
  *n_blq = 0;
  len += (size_t)snprintf(t + len, cap - len, "ID,TIME,DV,LLOQ\n");
  for (i = 0; i < n; i++) {
    double e = gsl_ran_gaussian(r, sqrt(om));
    double p = NONLIN ? exp(th + e) : th + e;
    for (j = 0; j < 5; j++) {
      double y = p * tt[j] + gsl_ran_gaussian(r, a);
      if (y < lloq) {
        len += (size_t)snprintf(t + len, cap - len, "%zu,%g,.,%g\n", i + 1,
                                tt[j], lloq);
        (*n_blq)++;
      } else {
        len += (size_t)snprintf(t + len, cap - len, "%zu,%g,%.8f,%g\n",
                                i + 1, tt[j], y, lloq);
      }
    }
  }
  d = rkin_data_parse(t, strlen(t), "blq.csv", NULL, &err);
  if (!d) diag("%s", err.msg);
  free(t);
  gsl_rng_free(r);
  return d;
}

static double e_engine(const rkin_data *d, rkin_pop_method m,
                       rkin_blq_method blq, double th, double om, double a,
                       rkin_err *err)
{
  static const char *const pn[1] = {"p"};
  rkin_popmodel pm;
  rkin_popfit_opts o;
  double ofv = NAN;
  memset(&pm, 0, sizeof pm);
  pm.predict = e_pred;
  pm.n_psi = 1;
  pm.psi_names = pn;
  pm.n_theta = 1;
  pm.theta_init = &th;
  pm.n_eta = 1;
  pm.omega_init = &om;
  pm.indiv = e_psi;
  pm.res = RKIN_RES_ADD;
  pm.sigma_init = &a;
  pm.blq = blq;
  rkin_popfit_opts_default(&o);
  o.threads = 2;
  o.method = m;
  rkin_err_clear(err);
  if (rkin_popest_ofv(&pm, d, &o, &th, &om, &a, &ofv, NULL, NULL, err))
    return NAN;
  return ofv;
}

static void test_laplace(void)
{
  rkin_err err;
  size_t nb, s, ns;
  int nl;
  for (nl = 0; nl < 2; nl++) {
    double th = nl ? log(1.0) : 1.0, om = nl ? 0.2 : 0.09, a = 0.6;
    rkin_data *d;
    double w3 = 0, w4 = 0, g3, g4, g3i, g4i;
    NONLIN = nl;
    d = e_data(77 + (unsigned long)nl, 12, th, om, a, 1.0, &nb);
    ns = rkin_data_nsubjects(d);
    for (s = 0; s < ns; s++) {
      w3 += e_laplace(rkin_data_subject_at(d, s), th, om, a, 0);
      w4 += e_laplace(rkin_data_subject_at(d, s), th, om, a, 1);
    }
    g3 = e_engine(d, RKIN_POP_LAPLACE, RKIN_BLQ_M3, th, om, a, &err);
    g3i = e_engine(d, RKIN_POP_LAPLACEI, RKIN_BLQ_M3, th, om, a, &err);
    g4 = e_engine(d, RKIN_POP_LAPLACE, RKIN_BLQ_M4, th, om, a, &err);
    g4i = e_engine(d, RKIN_POP_LAPLACEI, RKIN_BLQ_M4, th, om, a, &err);
    diag("%s model, %zu of 60 records below the LLOQ", nl ? "nonlinear"
         : "linear", nb);
    ok(fabs(g3i - w3) < 1e-6 && fabs(g3 - w3) < 1e-6, "%s, M3: Laplace-I "
       "%.9f and Laplace %.9f = the written-out Laplace %.9f (tol. 1e-6)",
       nl ? "f = exp(th + eta) t" : "f = (th + eta) t", g3i, g3, w3);
    ok(fabs(g4i - w4) < 1e-6 && fabs(g4 - w4) < 1e-6, "%s, M4: Laplace-I "
       "%.9f and Laplace %.9f = the written-out Laplace %.9f (tol. 1e-6)",
       nl ? "f = exp(th + eta) t" : "f = (th + eta) t", g4i, g4, w4);
    ok(fabs(w4 - w3) > 1e-2, "M4 differs from M3 here (%.4f vs %.4f)", w4,
       w3);
    if (!nl) {
      double f = e_engine(d, RKIN_POP_FOCEI, RKIN_BLQ_M4, th, om, a, &err);
      ok(isnan(f) && strstr(err.msg, "blq = M4 needs method laplace or "
                            "laplacei"), "M4 with FOCE-I refused (%s)",
         err.msg);
      f = e_engine(d, RKIN_POP_FO, RKIN_BLQ_M4, th, om, a, &err);
      ok(isnan(f) && strstr(err.msg, "blq = M4 needs"), "M4 with FO "
         "refused");
    }
    rkin_data_free(d);
  }
}

int main(void)
{
  rkin_init();
  test_terms();
  test_laplace();
  done_testing();
  return exit_status();
}
