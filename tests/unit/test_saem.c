/* test_saem.c - SAEM (pop/saem.h): on linear-Gaussian models, where the
 * marginal likelihood is exact, the estimates against the exact maximum
 * likelihood computed here independently (explicit marginal covariance,
 * Nelder-Mead on it), the importance-sampling OFV against the exact
 * -2 log L; on Theophylline against FOCE-I; the same numbers for 1 and 2
 * threads; bad options. */
#include <gsl/gsl_blas.h>
#include <gsl/gsl_linalg.h>
#include <gsl/gsl_multimin.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/init.h"
#include "pop/data.h"
#include "pop/popest.h"
#include "pop/saem.h"
#include "../tap.h"
#include "../theoph.h"
#include "../linfix.h"

/* ------------------------------------------------ the linear model */

/* f = a + b t; a = th0 + eta0; b = th1 + eta1 (two etas, full Omega) or
 * b = th1 (LIN_ONE: one eta, th1 then has no closed-form update). */
static int LIN_ONE;

static int lin_psi(const double *th, const double *eta, const double *cov,
                   double *psi, void *ud, rkin_err *err)
{
  (void)cov;
  (void)ud;
  (void)err;
  psi[0] = th[0] + eta[0];
  psi[1] = th[1] + (LIN_ONE ? 0 : eta[1]);
  return 0;
}

static rkin_data *lin_data(unsigned long seed, size_t n)
{
  return linfix_data(seed, n, !LIN_ONE);
}

static double LIN_TH[2] = {9, -0.5}, LIN_OM[4] = {0.5, 0.1, 0.1, 0.05};
static double LIN_OM1[1] = {0.5};
static double LIN_SG[1] = {1};

/* The likelihood itself (IMP, 4000 samples) at the estimates `at`: every
 * theta, omega and sigma FIX there (at most 4 thetas, 2 etas, 1 sigma),
 * one SAEM iteration, no covariance step. fx and ix are the caller's to
 * free whatever the result. */
static int imp_at(const rkin_popmodel *pm, const rkin_data *d,
                  const rkin_popfit_opts *o, const rkin_saem_opts *so,
                  const rkin_popfit *at, rkin_popfit *fx, rkin_saem_info *ix,
                  rkin_err *err)
{
  static const int fix[4] = {1, 1, 1, 1};
  rkin_popmodel px = *pm;
  rkin_saem_opts sx = *so;
  rkin_popfit_opts ox = *o;
  px.theta_init = at->theta;
  px.omega_init = at->omega;
  px.sigma_init = at->sigma;
  px.theta_fix = fix;
  px.omega_fix = fix;
  px.sigma_fix = fix;
  sx.burn = 0;
  sx.iter = 1;
  sx.imp_samples = 4000;
  ox.covariance = 0;
  return rkin_popfit_saem(&px, d, &ox, &sx, fx, ix, err);
}

static void lin_popmodel(rkin_popmodel *pm)
{
  memset(pm, 0, sizeof *pm);
  pm->predict = linfix_pred;
  pm->n_psi = 2;
  pm->n_theta = 2;
  pm->theta_init = LIN_TH;
  pm->n_eta = LIN_ONE ? 1 : 2;
  pm->omega_init = LIN_ONE ? LIN_OM1 : LIN_OM;
  pm->indiv = lin_psi;
  pm->res = RKIN_RES_ADD;
  pm->sigma_init = LIN_SG;
}

/* Exact -2 log L without 2 pi (NONMEM's OFV) of the whole dataset:
 * y_i ~ N(X th, X Om X' + s^2 I), X = [1 t] (one eta: [1]). */
static double lin_ofv(const rkin_data *d, const double *th, const double *om,
                      double sg)
{
  size_t s, i, j, ns = rkin_data_nsubjects(d);
  double tot = 0;
  for (s = 0; s < ns; s++) {
    const rkin_data_subject *sj = rkin_data_subject_at(d, s);
    size_t n = sj->n_obs;
    gsl_matrix *C = gsl_matrix_alloc(n, n);
    gsl_vector *r = gsl_vector_alloc(n), *x = gsl_vector_alloc(n);
    double ld = 0, q = 0;
    for (i = 0; i < n; i++) {
      double ti = sj->time[i];
      gsl_vector_set(r, i, sj->dv[i] - th[0] - th[1] * ti);
      for (j = 0; j < n; j++) {
        double tj = sj->time[j];
        double c = LIN_ONE ? om[0]
                   : om[0] + om[1] * (ti + tj) + om[3] * ti * tj;
        gsl_matrix_set(C, i, j, c + (i == j ? sg * sg : 0));
      }
    }
    if (gsl_linalg_cholesky_decomp1(C)) {
      tot = HUGE_VAL;
    } else {
      for (i = 0; i < n; i++) ld += 2 * log(gsl_matrix_get(C, i, i));
      gsl_linalg_cholesky_solve(C, r, x);
      gsl_blas_ddot(r, x, &q);
      tot += ld + q;
    }
    gsl_matrix_free(C);
    gsl_vector_free(r);
    gsl_vector_free(x);
  }
  return tot;
}

/* x: th0, th1, log sd0, [atanh corr, log sd1,] log sigma */
static void lin_unpack(const double *x, double *th, double *om, double *sg)
{
  th[0] = x[0];
  th[1] = x[1];
  if (LIN_ONE) {
    om[0] = exp(2 * x[2]);
    *sg = exp(x[3]);
  } else {
    double s0 = exp(x[2]), rho = tanh(x[3]), s1 = exp(x[4]);
    om[0] = s0 * s0;
    om[1] = om[2] = rho * s0 * s1;
    om[3] = s1 * s1;
    *sg = exp(x[5]);
  }
}

static double ml_f(const gsl_vector *v, void *d)
{
  double th[2], om[4], sg, x[6];
  size_t k;
  for (k = 0; k < v->size; k++) x[k] = gsl_vector_get(v, k);
  lin_unpack(x, th, om, &sg);
  return lin_ofv(d, th, om, sg);
}

/* The exact MLE by Nelder-Mead, restarted until it no longer moves. */
static double lin_mle(const rkin_data *d, double *th, double *om, double *sg)
{
  size_t n = LIN_ONE ? 4 : 6, k, it, rs;
  gsl_multimin_function F = {ml_f, n, (void *)d};
  gsl_vector *x = gsl_vector_alloc(n), *st = gsl_vector_alloc(n);
  gsl_multimin_fminimizer *m =
      gsl_multimin_fminimizer_alloc(gsl_multimin_fminimizer_nmsimplex2, n);
  double xs[6], f = 0;
  gsl_vector_set(x, 0, 10);
  gsl_vector_set(x, 1, -0.8);
  gsl_vector_set(x, 2, 0);
  if (LIN_ONE) {
    gsl_vector_set(x, 3, log(0.5));
  } else {
    gsl_vector_set(x, 3, 0);
    gsl_vector_set(x, 4, log(0.3));
    gsl_vector_set(x, 5, log(0.5));
  }
  for (rs = 0; rs < 4; rs++) {
    gsl_vector_set_all(st, 0.1);
    gsl_multimin_fminimizer_set(m, &F, x, st);
    for (it = 0; it < 20000; it++) {
      if (gsl_multimin_fminimizer_iterate(m)) break;
      if (gsl_multimin_test_size(gsl_multimin_fminimizer_size(m), 1e-10)
          == GSL_SUCCESS)
        break;
    }
    gsl_vector_memcpy(x, m->x);
    f = m->fval;
  }
  for (k = 0; k < n; k++) xs[k] = gsl_vector_get(x, k);
  lin_unpack(xs, th, om, sg);
  gsl_multimin_fminimizer_free(m);
  gsl_vector_free(x);
  gsl_vector_free(st);
  return f;
}

static void test_linear(void)
{
  rkin_data *d;
  rkin_popmodel pm;
  rkin_popfit_opts o;
  rkin_saem_opts so;
  rkin_popfit fit;
  rkin_saem_info in;
  rkin_err err;
  double th[2], om[4], sg, ofv_ml, exact;
  size_t k;
  int rc;
  LIN_ONE = 0;
  d = lin_data(7, 60);
  ofv_ml = lin_mle(d, th, om, &sg);
  diag("exact MLE: th %.5f %.5f om %.5f %.5f %.5f sigma %.5f ofv %.4f",
       th[0], th[1], om[0], om[1], om[3], sg, ofv_ml);
  lin_popmodel(&pm);
  rkin_popfit_opts_default(&o);
  o.threads = 1;
  rkin_saem_opts_default(&so);
  so.burn = 150;
  so.iter = 400;
  so.chains = 4;
  so.seed = 11;
  so.imp_samples = 2000;
  rc = rkin_popfit_saem(&pm, d, &o, &so, &fit, &in, &err);
  ok(rc == 0 && fit.status == 0, "linear 2-eta: SAEM ran (%s)",
     rc ? err.msg : fit.status ? fit.err.msg : "ok");
  if (rc == 0 && fit.status == 0) {
    /* Monte Carlo band: 0.1 SE of the MLE (the SEs are the covariance
     * step's, exact for this model: FOCE-I is its exact likelihood) for
     * theta; Omega and sigma within 0.1 of their own SE likewise. */
    double est[6] = {fit.theta[0], fit.theta[1], fit.omega[0], fit.omega[2],
                     fit.omega[3], fit.sigma[0]};
    double mle[6] = {th[0], th[1], om[0], om[1], om[3], sg};
    static const char *const nm[6] = {"th0", "th1", "OMEGA(1,1)",
                                      "OMEGA(2,1)", "OMEGA(2,2)", "sigma"};
    ok(in.mu_ref[0] == 0 && in.mu_ref[1] == 1,
       "th0, th1 detected as mu-referenced by eta1, eta2 (%d, %d)",
       in.mu_ref[0], in.mu_ref[1]);
    ok(fit.cov_status == 0 && fit.n_est == 6, "covariance step at the SAEM "
       "estimates (%s)", fit.cov_status ? fit.cov_err.msg : "ok");
    for (k = 0; k < 6 && fit.cov_status == 0; k++)
      ok(fabs(est[k] - mle[k]) <= 0.1 * fit.se[k],
         "SAEM %s = %.5f vs exact MLE %.5f: within 0.1 SE (%.4f; off by "
         "%.3f SE)", nm[k], est[k], mle[k], fit.se[k],
         fabs(est[k] - mle[k]) / fit.se[k]);
    exact = lin_ofv(d, fit.theta, fit.omega, fit.sigma[0]);
    ok(fabs(in.ofv_imp - exact) <= 4 * in.ofv_imp_se
       && in.ofv_imp_se > 0 && in.ofv_imp_se < 0.5,
       "IMP OFV %.4f (MC SE %.4f, t5 proposal) = exact -2LL %.4f within 4 "
       "SE", in.ofv_imp, in.ofv_imp_se, exact);
    ok(fabs(fit.ofv - in.ofv_imp) == 0, "fit.ofv is the IMP objective");
    ok(fabs(exact - ofv_ml) < 0.05, "exact OFV at the SAEM estimates %.4f "
       "within 0.05 of the maximum %.4f", exact, ofv_ml);
    ok(fabs(in.ofv_focei - exact) < 1e-6, "FOCE-I OFV at the estimates "
       "%.6f = exact (linear in eta)", in.ofv_focei);
  }
  rkin_popfit_free(&fit);
  rkin_saem_info_free(&in);
  /* A normal proposal with the exact posterior covariance: every weight
   * is the marginal likelihood itself, so IMP is exact, SE ~ 0. */
  so.imp_df = 0;
  so.iter = 50;
  so.burn = 50;
  so.imp_samples = 200;
  o.covariance = 0;
  rc = rkin_popfit_saem(&pm, d, &o, &so, &fit, &in, &err);
  if (rc == 0 && fit.status == 0) {
    exact = lin_ofv(d, fit.theta, fit.omega, fit.sigma[0]);
    ok(fabs(in.ofv_imp - exact) < 1e-6 && in.ofv_imp_se < 1e-6,
       "IMP with the normal proposal = exact -2LL to 1e-6 (%.8f vs %.8f, "
       "SE %.2g)", in.ofv_imp, exact, in.ofv_imp_se);
  } else {
    ok(0, "IMP normal proposal run: %s", rc ? err.msg : fit.err.msg);
  }
  rkin_popfit_free(&fit);
  rkin_saem_info_free(&in);
  rkin_data_free(d);
}

/* The IMP Monte Carlo SE against the spread of the IMP OFV over seeds, at
 * parameters held fixed (everything FIX: SAEM leaves them as given), on
 * the 2-eta linear model with the t5 proposal (whose weights vary). */
static void test_imp_se(void)
{
  static const int tfix[2] = {1, 1}, ofix[4] = {1, 1, 1, 1}, sfix[1] = {1};
  rkin_data *d = lin_data(7, 60);
  rkin_popmodel pm;
  rkin_popfit_opts o;
  rkin_saem_opts so;
  rkin_popfit fit;
  rkin_saem_info in;
  rkin_err err;
  double v[20], se = 0, mean = 0, sd = 0, exact;
  int k, n = 0;
  LIN_ONE = 0;
  lin_popmodel(&pm);
  pm.theta_fix = tfix;
  pm.omega_fix = ofix;
  pm.sigma_fix = sfix;
  exact = lin_ofv(d, LIN_TH, LIN_OM, LIN_SG[0]);
  rkin_popfit_opts_default(&o);
  o.threads = 1;
  o.covariance = 0;
  rkin_saem_opts_default(&so);
  so.burn = 0;
  so.iter = 1;
  so.imp_samples = 200;
  for (k = 0; k < 20; k++) {
    so.seed = 100 + (unsigned long)k;
    if (rkin_popfit_saem(&pm, d, &o, &so, &fit, &in, &err) == 0
        && fit.status == 0) {
      v[n++] = in.ofv_imp;
      se += in.ofv_imp_se / 20;
    }
    rkin_popfit_free(&fit);
    rkin_saem_info_free(&in);
  }
  ok(n == 20, "IMP at fixed parameters, 20 seeds ran");
  for (k = 0; k < n; k++) mean += v[k] / n;
  for (k = 0; k < n; k++) sd += (v[k] - mean) * (v[k] - mean) / (n - 1);
  sd = sqrt(sd);
  /* 20 replicates: the sample SD is within 0.6-1.5 of the true one with
   * probability > 0.99 (chi-square, 19 d.f.) */
  ok(n == 20 && sd > 0.6 * se && sd < 1.5 * se, "reported IMP SE %.4f "
     "matches the SD over seeds %.4f (ratio %.2f, band 0.6-1.5)", se, sd,
     sd / se);
  ok(n == 20 && fabs(mean - exact) < 4 * se / sqrt(20.0), "mean IMP OFV "
     "over seeds %.4f = exact %.4f within 4 SE of the mean", mean, exact);
  rkin_data_free(d);
}

/* One eta on the intercept; the slope th1 has none, so it is updated by
 * the numerical M-step (no closed form). */
static void test_linear_nonmu(void)
{
  rkin_data *d;
  rkin_popmodel pm;
  rkin_popfit_opts o;
  rkin_saem_opts so;
  rkin_popfit fit;
  rkin_saem_info in;
  rkin_err err;
  double th[2], om[4], sg;
  int rc;
  LIN_ONE = 1;
  d = lin_data(5, 40);
  lin_mle(d, th, om, &sg);
  lin_popmodel(&pm);
  rkin_popfit_opts_default(&o);
  o.threads = 2;
  rkin_saem_opts_default(&so);
  so.burn = 100;
  so.iter = 300;
  so.chains = 3;
  so.imp_samples = 500;
  rc = rkin_popfit_saem(&pm, d, &o, &so, &fit, &in, &err);
  ok(rc == 0 && fit.status == 0 && fit.cov_status == 0,
     "linear 1-eta: SAEM ran (%s)", rc ? err.msg : fit.status
     ? fit.err.msg : fit.cov_status ? fit.cov_err.msg : "ok");
  if (rc == 0 && fit.status == 0 && fit.cov_status == 0) {
    double exact = lin_ofv(d, fit.theta, fit.omega, fit.sigma[0]);
    ok(in.mu_ref[0] == 0, "th0 mu-referenced, th1 not (%d)", in.mu_ref[0]);
    ok(fabs(fit.theta[1] - th[1]) <= 0.1 * fit.se[1],
       "slope (numerical M-step) %.5f vs MLE %.5f within 0.1 SE (%.4f)",
       fit.theta[1], th[1], fit.se[1]);
    ok(fabs(fit.theta[0] - th[0]) <= 0.1 * fit.se[0],
       "intercept %.5f vs MLE %.5f within 0.1 SE (%.4f)", fit.theta[0],
       th[0], fit.se[0]);
    ok(fabs(fit.omega[0] - om[0]) <= 0.1 * fit.se[2],
       "omega %.5f vs MLE %.5f within 0.1 SE (%.4f)", fit.omega[0], om[0],
       fit.se[2]);
    ok(fabs(fit.sigma[0] - sg) <= 0.1 * fit.se[3],
       "sigma %.5f vs MLE %.5f within 0.1 SE (%.4f)", fit.sigma[0], sg,
       fit.se[3]);
    ok(fabs(in.ofv_imp - exact) <= 4 * in.ofv_imp_se,
       "IMP OFV %.4f = exact %.4f within 4 MC SE (%.4f)", in.ofv_imp,
       exact, in.ofv_imp_se);
  }
  rkin_popfit_free(&fit);
  rkin_saem_info_free(&in);
  rkin_data_free(d);
  LIN_ONE = 0;
}

/* M3: the 2-eta linear model with records below an LLOQ of 8 censored
 * (about a quarter; CENS 1, DV = the limit): the additive SD then has no
 * closed form (numerical M-step on the M3 likelihood). SAEM against a
 * Laplace-I fit (exact here for the uncensored part, Laplace for the
 * censored) within one SE. */
static rkin_data *cens_data(unsigned long seed, size_t n, double lloq,
                            size_t *n_cens)
{
  static const double times[] = {0.5, 1, 2, 4, 6, 8};
  gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
  size_t cap = 64 + n * 6 * 48, len = 0, i, j;
  char *t = malloc(cap);
  rkin_err err;
  rkin_data *d;
  gsl_rng_set(r, seed);
  *n_cens = 0;
  len += (size_t)snprintf(t + len, cap - len, "ID,TIME,DV,CENS\n");
  for (i = 0; i < n; i++) {
    double a = 10 + gsl_ran_gaussian(r, 1.0);
    double b = -0.8 + gsl_ran_gaussian(r, 0.3);
    for (j = 0; j < 6; j++) {
      double y = a + b * times[j] + gsl_ran_gaussian(r, 0.5);
      int c = y < lloq;
      *n_cens += (size_t)c;
      len += (size_t)snprintf(t + len, cap - len, "%zu,%g,%.6f,%d\n", i + 1,
                              times[j], c ? lloq : y, c);
    }
  }
  d = rkin_data_parse(t, strlen(t), "censored.csv", NULL, &err);
  if (!d) diag("%s", err.msg);
  free(t);
  gsl_rng_free(r);
  return d;
}

static void test_m3(void)
{
  size_t nc, k;
  rkin_data *d;
  rkin_popmodel pm;
  rkin_popfit_opts o;
  rkin_saem_opts so;
  rkin_popfit fs, fl;
  rkin_saem_info in;
  rkin_err err;
  int rc1, rc2;
  static const char *const nm[6] = {"th0", "th1", "OMEGA(1,1)",
                                    "OMEGA(2,1)", "OMEGA(2,2)", "sigma"};
  LIN_ONE = 0;
  d = cens_data(3, 40, 6.0, &nc);
  lin_popmodel(&pm);
  pm.blq = RKIN_BLQ_M3;
  rkin_popfit_opts_default(&o);
  o.threads = 2;
  o.method = RKIN_POP_LAPLACEI;
  rc1 = rkin_popfit_run(&pm, d, &o, &fl, &err);
  rkin_saem_opts_default(&so);
  so.chains = 2;
  so.imp_samples = 300;
  rc2 = rkin_popfit_saem(&pm, d, &o, &so, &fs, &in, &err);
  ok(!rc1 && !rc2 && fl.status == 0 && fs.status == 0 && fl.cov_status == 0,
     "M3, %zu of 240 records censored: Laplace-I and SAEM fits ran (%s)", nc,
     rc2 ? err.msg : fs.status ? fs.err.msg : "ok");
  if (!rc1 && !rc2 && fl.status == 0 && fs.status == 0
      && fl.cov_status == 0) {
    double es[6] = {fs.theta[0], fs.theta[1], fs.omega[0], fs.omega[2],
                    fs.omega[3], fs.sigma[0]};
    double el[6] = {fl.theta[0], fl.theta[1], fl.omega[0], fl.omega[2],
                    fl.omega[3], fl.sigma[0]};
    for (k = 0; k < 6; k++)
      ok(fabs(es[k] - el[k]) <= 0.5 * fl.se[k], "M3 %s: SAEM %.4f vs "
         "Laplace-I %.4f within 0.5 SE (%.4f)", nm[k], es[k], el[k],
         fl.se[k]);
    /* the exact likelihood (IMP, 4000 samples) at the Laplace-I
     * estimates: everything FIX there, one SAEM iteration */
    {
      rkin_popfit fx;
      rkin_saem_info ix;
      if (!imp_at(&pm, d, &o, &so, &fl, &fx, &ix, &err) && fx.status == 0) {
        double se = sqrt(in.ofv_imp_se * in.ofv_imp_se
                         + ix.ofv_imp_se * ix.ofv_imp_se);
        ok(in.ofv_imp <= ix.ofv_imp + 3 * se, "M3: the likelihood (IMP) "
           "at the SAEM estimates %.3f not worse than at Laplace-I's %.3f "
           "(3 combined MC SEs: %.3f)", in.ofv_imp, ix.ofv_imp, 3 * se);
        diag("M3: IMP OFV at the SAEM estimates %.3f (SE %.3f), at the "
             "Laplace-I estimates %.3f (SE %.3f); Laplace-I's own %.3f",
             in.ofv_imp, in.ofv_imp_se, ix.ofv_imp, ix.ofv_imp_se, fl.ofv);
      } else {
        ok(0, "M3: IMP at the Laplace-I estimates: %s", err.msg);
      }
      rkin_popfit_free(&fx);
      rkin_saem_info_free(&ix);
    }
  }
  rkin_popfit_free(&fs);
  rkin_popfit_free(&fl);
  rkin_saem_info_free(&in);
  rkin_data_free(d);
}

/* Two endpoints: DVID 1 is a + b t with an additive SD, DVID 2 is
 * 2 a + 3 (a PD-like second output) with a proportional SD: each SD has
 * its own closed-form update. Against Laplace-I within 0.5 SE and, by
 * the likelihood itself (IMP), not worse at SAEM's estimates. */
static int ep_pred(const rkin_data_subject *s, const double *psi, double *f,
                   void *ud, rkin_err *err)
{
  size_t k;
  (void)ud;
  (void)err;
  for (k = 0; k < s->n_obs; k++)
    f[k] = s->dvid && s->dvid[k] == 2 ? 2 * psi[0] + 3
                                      : psi[0] + psi[1] * s->time[k];
  return 0;
}

static rkin_data *ep_data(unsigned long seed, size_t n)
{
  static const double times[] = {0.5, 1, 2, 4, 6, 8};
  gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
  size_t cap = 64 + n * 9 * 48, len = 0, i, j;
  char *t = malloc(cap);
  rkin_err err;
  rkin_data *d;
  gsl_rng_set(r, seed);
  len += (size_t)snprintf(t + len, cap - len, "ID,TIME,DV,DVID\n");
  for (i = 0; i < n; i++) {
    double a = 10 + gsl_ran_gaussian(r, 1.0);
    double b = -0.8 + gsl_ran_gaussian(r, 0.3);
    for (j = 0; j < 6; j++) {
      len += (size_t)snprintf(t + len, cap - len, "%zu,%g,%.6f,1\n", i + 1,
                              times[j], a + b * times[j]
                              + gsl_ran_gaussian(r, 0.5));
      if (j % 2 == 0)
        len += (size_t)snprintf(t + len, cap - len, "%zu,%g,%.6f,2\n",
                                i + 1, times[j], (2 * a + 3)
                                * (1 + gsl_ran_gaussian(r, 0.1)));
    }
  }
  d = rkin_data_parse(t, strlen(t), "endpoints.csv", NULL, &err);
  if (!d) diag("%s", err.msg);
  free(t);
  gsl_rng_free(r);
  return d;
}

static void test_endpoints(void)
{
  static const double sg1[1] = {1}, sg2[1] = {0.2};
  rkin_pop_endpoint ep[2];
  rkin_data *d = ep_data(21, 40);
  rkin_popmodel pm;
  rkin_popfit_opts o;
  rkin_saem_opts so;
  rkin_popfit fs, fl;
  rkin_saem_info in;
  rkin_err err;
  size_t k;
  int rc1, rc2;
  static const char *const nm[7] = {"th0", "th1", "OMEGA(1,1)",
                                    "OMEGA(2,1)", "OMEGA(2,2)", "SD add",
                                    "SD prop"};
  LIN_ONE = 0;
  memset(ep, 0, sizeof ep);
  ep[0].res = RKIN_RES_ADD;
  ep[0].sigma_init = sg1;
  ep[1].res = RKIN_RES_PROP;
  ep[1].sigma_init = sg2;
  lin_popmodel(&pm);
  pm.predict = ep_pred;
  pm.sigma_init = NULL;
  pm.n_endpoints = 2;
  pm.endpoints = ep;
  rkin_popfit_opts_default(&o);
  o.threads = 2;
  o.method = RKIN_POP_LAPLACEI;
  rc1 = rkin_popfit_run(&pm, d, &o, &fl, &err);
  rkin_saem_opts_default(&so);
  so.chains = 2;
  so.imp_samples = 500;
  rc2 = rkin_popfit_saem(&pm, d, &o, &so, &fs, &in, &err);
  ok(!rc1 && !rc2 && fl.status == 0 && fs.status == 0 && fl.cov_status == 0
     && fs.n_sigma == 2, "two endpoints (additive, proportional): "
     "Laplace-I and SAEM ran (%s)", rc2 ? err.msg : fs.status ? fs.err.msg
     : "ok");
  if (!rc1 && !rc2 && fl.status == 0 && fs.status == 0
      && fl.cov_status == 0) {
    double es[7] = {fs.theta[0], fs.theta[1], fs.omega[0], fs.omega[2],
                    fs.omega[3], fs.sigma[0], fs.sigma[1]};
    double el[7] = {fl.theta[0], fl.theta[1], fl.omega[0], fl.omega[2],
                    fl.omega[3], fl.sigma[0], fl.sigma[1]};
    for (k = 0; k < 7; k++)
      ok(fabs(es[k] - el[k]) <= 0.5 * fl.se[k], "endpoints %s: SAEM %.4f "
         "vs Laplace-I %.4f within 0.5 SE (%.4f)", nm[k], es[k], el[k],
         fl.se[k]);
  }
  rkin_popfit_free(&fs);
  rkin_popfit_free(&fl);
  rkin_saem_info_free(&in);
  rkin_data_free(d);
}

/* ------------------------------------------------ Theophylline */

static void test_theoph(const rkin_data *d)
{
  rkin_popmodel pm;
  rkin_popfit_opts o;
  rkin_saem_opts so;
  rkin_popfit fs, ff, f2, fc;
  rkin_saem_info in, in2, inc;
  rkin_err err;
  size_t k;
  int rc, same = 1;
  static const char *const nm[6] = {"lKe", "lKa", "lCl", "OMEGA(lKa)",
                                    "OMEGA(lCl)", "sigma"};
  theoph_popmodel_cf(&pm);
  rkin_popfit_opts_default(&o);
  o.threads = 1;
  rc = rkin_popfit_run(&pm, d, &o, &ff, &err);
  ok(rc == 0 && ff.status == 0 && ff.cov_status == 0, "Theophylline "
     "FOCE-I fit");
  rkin_saem_opts_default(&so);
  so.chains = 3;
  so.seed = 2026;
  rc = rkin_popfit_saem(&pm, d, &o, &so, &fs, &in, &err);
  ok(rc == 0 && fs.status == 0 && fs.cov_status == 0,
     "Theophylline SAEM (300 + 200 iterations, 3 chains) (%s)",
     rc ? err.msg : fs.status ? fs.err.msg : "ok");
  if (rc == 0 && fs.status == 0 && ff.status == 0 && fs.cov_status == 0
      && ff.cov_status == 0) {
    double es[6] = {fs.theta[0], fs.theta[1], fs.theta[2], fs.omega[0],
                    fs.omega[3], fs.sigma[0]};
    double ef[6] = {ff.theta[0], ff.theta[1], ff.theta[2], ff.omega[0],
                    ff.omega[3], ff.sigma[0]};
    ok(in.mu_ref[0] == 1 && in.mu_ref[1] == 2, "lKa, lCl mu-referenced; "
       "lKe by the numerical M-step (%d, %d)", in.mu_ref[0], in.mu_ref[1]);
    for (k = 0; k < 6; k++)
      ok(fabs(es[k] - ef[k]) <= ff.se[k],
         "%s: SAEM %.4f vs FOCE-I %.4f within one FOCE-I SE (%.4f)", nm[k],
         es[k], ef[k], ff.se[k]);
    diag("OFV: SAEM IMP %.3f (MC SE %.3f), FOCE-I at the SAEM estimates "
         "%.3f, FOCE-I fit %.3f", in.ofv_imp, in.ofv_imp_se, in.ofv_focei,
         ff.ofv);
    ok(fabs(in.ofv_imp - ff.ofv) < 3 && in.ofv_imp_se < 0.5,
       "IMP OFV %.3f near the FOCE-I OFV %.3f (FOCE-I approximates the "
       "same likelihood; within 3)", in.ofv_imp, ff.ofv);
    {
      /* the likelihood itself (IMP) at FOCE-I's estimates: all FIX */
      rkin_popfit fx;
      rkin_saem_info ix;
      if (!imp_at(&pm, d, &o, &so, &ff, &fx, &ix, &err) && fx.status == 0) {
        double se = sqrt(in.ofv_imp_se * in.ofv_imp_se
                         + ix.ofv_imp_se * ix.ofv_imp_se);
        ok(in.ofv_imp <= ix.ofv_imp + 3 * se, "Theophylline: the "
           "likelihood (IMP) at SAEM's estimates %.3f not worse than at "
           "FOCE-I's %.3f (3 combined MC SEs: %.3f)", in.ofv_imp,
           ix.ofv_imp, 3 * se);
      } else {
        ok(0, "IMP at the FOCE-I estimates: %s", err.msg);
      }
      rkin_popfit_free(&fx);
      rkin_saem_info_free(&ix);
    }
    ok(in.ofv_focei >= ff.ofv - 1e-3, "FOCE-I objective at the SAEM "
       "estimates (%.4f) not below FOCE-I's minimum (%.4f)", in.ofv_focei,
       ff.ofv);
    ok(in.accept_prior > 0 && in.accept_comp > 0.15 && in.accept_comp < 0.7,
       "acceptance: prior %.2f, component %.2f, block %.2f",
       in.accept_prior, in.accept_comp, in.accept_block);
  }
  /* the same run on 2 threads: the same numbers */
  o.threads = 2;
  rc = rkin_popfit_saem(&pm, d, &o, &so, &f2, &in2, &err);
  ok(rc == 0 && f2.status == 0, "SAEM on 2 threads ran");
  if (rc == 0 && f2.status == 0 && fs.status == 0) {
    for (k = 0; k < 3; k++) same &= fs.theta[k] == f2.theta[k];
    for (k = 0; k < 4; k++) same &= fs.omega[k] == f2.omega[k];
    same &= fs.sigma[0] == f2.sigma[0] && in.ofv_imp == in2.ofv_imp;
    for (k = 0; k < in.n_par * (size_t)in.n_iter; k++)
      same &= in.trace[k] == in2.trace[k];
    ok(same, "1 and 2 threads: identical estimates, trace and IMP OFV "
       "(%.10f vs %.10f)", in.ofv_imp, in2.ofv_imp);
  }
  rkin_popfit_free(&f2);
  rkin_saem_info_free(&in2);
  /* another seed: different numbers (the seed is used) */
  so.seed = 7;
  so.then = RKIN_POP_FOCEI;
  o.threads = 1;
  rc = rkin_popfit_saem(&pm, d, &o, &so, &fc, &inc, &err);
  ok(rc == 0 && fc.status == 0 && fc.cov_status == 0,
     "SAEM then FOCE-I in one call (%s)", rc ? err.msg : "ok");
  if (rc == 0 && fc.status == 0 && ff.status == 0) {
    ok(inc.theta[0] != in.theta[0], "seed 7 gives other SAEM numbers than "
       "seed 2026 (%.6f vs %.6f)", inc.theta[0], in.theta[0]);
    ok(fabs(fc.ofv - ff.ofv) < 1e-3, "chained FOCE-I reaches FOCE-I's "
       "minimum from the SAEM estimates (%.5f vs %.5f)", fc.ofv, ff.ofv);
    for (k = 0; k < 3; k++)
      ok(fabs(fc.theta[k] - ff.theta[k]) < 0.01 * ff.se[k],
         "chained %s = FOCE-I's %.5f within 0.01 SE (%.5f; %d evaluations "
         "vs %d from the initial values)", nm[k], ff.theta[k], fc.theta[k],
         fc.n_eval, ff.n_eval);
    ok(inc.ofv_imp > 0 && isfinite(inc.ofv_imp_se),
       "the SAEM stage is kept beside the chained fit (IMP OFV %.3f)",
       inc.ofv_imp);
  }
  rkin_popfit_free(&fc);
  rkin_saem_info_free(&inc);
  rkin_popfit_free(&fs);
  rkin_saem_info_free(&in);
  rkin_popfit_free(&ff);
}

static void test_bad(const rkin_data *d)
{
  rkin_popmodel pm;
  rkin_saem_opts so;
  rkin_popfit fit;
  rkin_err err;
  int rc;
  theoph_popmodel_cf(&pm);
  rkin_saem_opts_default(&so);
  so.iter = 0;
  rc = rkin_popfit_saem(&pm, d, NULL, &so, &fit, NULL, &err);
  ok(rc == RKIN_EINVAL && strstr(err.msg, "iter = 0"), "iter 0 refused: %s",
     err.msg);
  rkin_popfit_free(&fit);
  rkin_saem_opts_default(&so);
  so.chains = 0;
  rc = rkin_popfit_saem(&pm, d, NULL, &so, &fit, NULL, &err);
  ok(rc == RKIN_EINVAL && strstr(err.msg, "chains = 0"),
     "chains 0 refused: %s", err.msg);
  rkin_popfit_free(&fit);
}

int main(void)
{
  rkin_data *d;
  rkin_init();
  d = theoph_data(".", NULL);
  if (!d) {
    printf("Bail out! tests/data/theoph_nm.csv not readable\n");
    return 1;
  }
  test_linear();
  test_imp_se();
  test_linear_nonmu();
  test_m3();
  test_endpoints();
  test_theoph(d);
  test_bad(d);
  rkin_data_free(d);
  done_testing();
  return exit_status();
}
