/* test_saemiov.c - between-occasion variability (IOV) in SAEM and in
 * simulation from a fit. SAEM on a linear-Gaussian model with occasions,
 * whose FOCE-I objective is the exact marginal likelihood (checked against
 * an explicit computation in test_popiov.c): the SAEM estimates, IOV
 * variances included, against that exact maximum within Monte Carlo error,
 * the importance-sampling OFV against the exact -2LL, a FIXed IOV
 * variance kept. Simulation: the spread of simulated parameters within an
 * occasion is omega + iov, and between two occasions of a subject 2 iov. */
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/init.h"
#include "pop/data.h"
#include "pop/popest.h"
#include "pop/popsim.h"
#include "pop/saem.h"
#include "../sacheck.h"
#include "../tap.h"

/* f = a + b tau, tau the time since the occasion's start (occasions 10 h
 * apart); a = th0 + eta_a + kap_a(occ), b = th1 + eta_b; additive error.
 * etas in the order (eta_a, eta_b, kap_a). */
static int lin_psi(const double *th, const double *eta, const double *cov,
                   double *psi, void *ud, rkin_err *err)
{
  (void)cov;
  (void)ud;
  (void)err;
  psi[0] = th[0] + eta[0] + eta[2];
  psi[1] = th[1] + eta[1];
  return 0;
}

static int lin_pred(const rkin_data_subject *s, const double *psi, double *f,
                    void *ud, rkin_err *err)
{
  size_t k;
  (void)ud;
  (void)err;
  for (k = 0; k < s->n_obs; k++)
    f[k] = psi[0] + psi[1] * fmod(s->time[k], 10.0);
  return 0;
}

/* n subjects, 2 or 3 occasions (every third subject 3), 4 observations
 * per occasion; true values th, sd = (eta_a, eta_b, kap_a) SDs, sg. */
static rkin_data *lin_data(unsigned long seed, size_t n, const double *th,
                           const double *sd, double sg)
{
  static const double times[] = {0.5, 1, 2, 4};
  gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
  size_t cap = 64 + n * 12 * 64, len = 0, i, j, k;
  char *t = malloc(cap);
  rkin_err err;
  rkin_data *d;
  gsl_rng_set(r, seed);
  len += (size_t)snprintf(t + len, cap - len, "ID,TIME,DV,OCC\n");
  for (i = 0; i < n; i++) {
    double ea = gsl_ran_gaussian(r, sd[0]), eb = gsl_ran_gaussian(r, sd[1]);
    for (k = 0; k < (i % 3 == 2 ? 3u : 2u); k++) {
      double ka = gsl_ran_gaussian(r, sd[2]);
      for (j = 0; j < 4; j++)
        len += (size_t)snprintf(t + len, cap - len, "%zu,%g,%.8f,%zu\n",
                                i + 1, 10.0 * (double)k + times[j],
                                th[0] + ea + ka + (th[1] + eb) * times[j]
                                + gsl_ran_gaussian(r, sg), k + 1);
    }
  }
  d = rkin_data_parse(t, strlen(t), "iov_lin.csv", NULL, &err);
  if (!d) diag("%s", err.msg);
  free(t);
  gsl_rng_free(r);
  return d;
}

/* The exact -2 log L (no 2 pi) of the whole dataset: per subject y ~
 * N(X th, V), V = om_a 1 1' + om_b tau tau' + pi_a B + s^2 I, B the
 * same-occasion indicator. Written here independently of the engine. */
static double exact_ofv(const rkin_data *d, const double *th,
                        const double *om3, double sg)
{
  size_t s, i, j, k, ns = rkin_data_nsubjects(d);
  double tot = 0;
  for (s = 0; s < ns; s++) {
    const rkin_data_subject *sj = rkin_data_subject_at(d, s);
    size_t n = sj->n_obs;
    double V[12 * 12], r[12], ld = 0, q = 0;
    for (i = 0; i < n; i++) {
      double ti = fmod(sj->time[i], 10.0);
      r[i] = sj->dv[i] - th[0] - th[1] * ti;
      for (j = 0; j < n; j++) {
        double tj = fmod(sj->time[j], 10.0);
        int same = floor(sj->time[i] / 10) == floor(sj->time[j] / 10);
        V[i * n + j] = om3[0] + om3[1] * ti * tj + (same ? om3[2] : 0)
                       + (i == j ? sg * sg : 0);
      }
    }
    /* Cholesky in place, then forward substitution of r */
    for (j = 0; j < n; j++) {
      double v = V[j * n + j];
      for (k = 0; k < j; k++) v -= V[j * n + k] * V[j * n + k];
      V[j * n + j] = sqrt(v);
      for (i = j + 1; i < n; i++) {
        double w = V[i * n + j];
        for (k = 0; k < j; k++) w -= V[i * n + k] * V[j * n + k];
        V[i * n + j] = w / V[j * n + j];
      }
    }
    for (i = 0; i < n; i++) {
      double w = r[i];
      for (k = 0; k < i; k++) w -= V[i * n + k] * r[k];
      r[i] = w / V[i * n + i];
      q += r[i] * r[i];
      ld += 2 * log(V[i * n + i]);
    }
    tot += ld + q;
  }
  return tot;
}

static const int ETA_OCC[3] = {0, 0, 1};
static const char *const ETA_NAMES[3] = {"eta_a", "eta_b", "kap_a"};

static void lin_model(rkin_popmodel *pm, double *th, double *om9, double *sg)
{
  memset(pm, 0, sizeof *pm);
  pm->predict = lin_pred;
  pm->n_psi = 2;
  pm->n_theta = 2;
  pm->theta_init = th;
  pm->n_eta = 3;
  pm->eta_names = ETA_NAMES;
  pm->omega_init = om9;
  pm->omega_diag = 1;
  pm->eta_occ = ETA_OCC;
  pm->indiv = lin_psi;
  pm->res = RKIN_RES_ADD;
  pm->sigma_init = sg;
}

static void test_saem_exact(void)
{
  double th_t[2] = {10, -0.8}, sd_t[3] = {1, 0.3, 0.6};
  double th[2] = {9.5, -0.7}, om9[9] = {0.8, 0, 0, 0, 0.06, 0, 0, 0, 0.2};
  double sg = 0.6, exact;
  rkin_data *d = lin_data(31, 60, th_t, sd_t, 0.4);
  rkin_popmodel pm;
  rkin_popfit_opts o;
  rkin_saem_opts so;
  rkin_popfit ml, fit;
  rkin_saem_info in;
  rkin_err err;
  size_t k;
  int rc;
  lin_model(&pm, th, om9, &sg);
  rkin_popfit_opts_default(&o);
  o.threads = 2;
  /* FOCE-I: the exact ML for this model (linear in the etas) */
  rc = rkin_popfit_run(&pm, d, &o, &ml, &err);
  ok(rc == 0 && ml.status == 0 && ml.cov_status == 0,
     "exact ML (FOCE-I, linear model) with SEs (%s)", ml.err.msg);
  exact = exact_ofv(d, ml.theta, (double[3]){ml.omega[0], ml.omega[4],
                                              ml.omega[8]}, ml.sigma[0]);
  ok(fabs(exact - ml.ofv) < 1e-6, "FOCE-I OFV %.8f = the explicit "
     "marginal -2LL %.8f", ml.ofv, exact);
  rkin_saem_opts_default(&so);
  so.burn = 150;
  so.iter = 400;
  so.chains = 4;
  so.seed = 5;
  so.imp_samples = 2000;
  rc = rkin_popfit_saem(&pm, d, &o, &so, &fit, &in, &err);
  ok(rc == 0 && fit.status == 0, "SAEM with IOV ran (%s)",
     rc ? err.msg : fit.err.msg);
  if (rc == 0 && fit.status == 0 && ml.cov_status == 0) {
    /* Monte Carlo band: 0.2 SE of the MLE (the covariance step's SE,
     * exact here). With 4 chains x 400 smoothing iterations the SA
     * average's MC SD is a few hundredths of an SE for the
     * well-identified parameters; the IOV variance mixes slowest. */
    double est[6] = {fit.theta[0], fit.theta[1], fit.omega[0], fit.omega[4],
                     fit.omega[8], fit.sigma[0]};
    double mle[6] = {ml.theta[0], ml.theta[1], ml.omega[0], ml.omega[4],
                     ml.omega[8], ml.sigma[0]};
    static const char *const nm[6] = {"th0", "th1", "OMEGA(eta_a)",
                                      "OMEGA(eta_b)", "IOV kap_a",
                                      "sigma"};
    ok(in.mu_ref[0] == 0 && in.mu_ref[1] == 1 && in.mu_ref[2] == -1,
       "th0, th1 mu-referenced by eta_a, eta_b; the occasion eta by none "
       "(%d %d %d)", in.mu_ref[0], in.mu_ref[1], in.mu_ref[2]);
    for (k = 0; k < 6; k++)
      ok(fabs(est[k] - mle[k]) <= 0.2 * ml.se[k],
         "SAEM %s = %.5f vs exact MLE %.5f: within 0.2 SE (%.4f; off by "
         "%.3f SE)", nm[k], est[k], mle[k], ml.se[k],
         fabs(est[k] - mle[k]) / ml.se[k]);
    exact = exact_ofv(d, fit.theta, (double[3]){fit.omega[0], fit.omega[4],
                                                fit.omega[8]}, fit.sigma[0]);
    ok(fabs(in.ofv_imp - exact) <= 4 * in.ofv_imp_se
       && in.ofv_imp_se > 0 && in.ofv_imp_se < 0.5,
       "IOV: IMP OFV %.4f (MC SE %.4f) = exact -2LL %.4f within 4 SE",
       in.ofv_imp, in.ofv_imp_se, exact);
    ok(fabs(in.ofv_focei - exact) < 1e-6, "IOV: FOCE-I OFV at the SAEM "
       "estimates %.6f = exact", in.ofv_focei);
    ok(fit.n_occ == 3 && fit.occ_eta != NULL, "IOV fields of the fit "
       "filled (%zu occasions)", fit.n_occ);
  }
  rkin_popfit_free(&fit);
  rkin_saem_info_free(&in);

  /* A normal proposal with the exact posterior covariance (over the
   * subject's etas and all its occasion copies): IMP is exact. */
  so.imp_df = 0;
  so.burn = so.iter = 40;
  so.imp_samples = 200;
  o.covariance = 0;
  rc = rkin_popfit_saem(&pm, d, &o, &so, &fit, &in, &err);
  if (rc == 0 && fit.status == 0) {
    exact = exact_ofv(d, fit.theta, (double[3]){fit.omega[0], fit.omega[4],
                                                fit.omega[8]}, fit.sigma[0]);
    ok(fabs(in.ofv_imp - exact) < 1e-6 && in.ofv_imp_se < 1e-6,
       "IOV: IMP with the normal proposal = exact -2LL to 1e-6 (%.8f vs "
       "%.8f)", in.ofv_imp, exact);
  } else {
    ok(0, "IOV IMP normal proposal: %s", rc ? err.msg : fit.err.msg);
  }
  rkin_popfit_free(&fit);
  rkin_saem_info_free(&in);

  /* FIX the IOV variance: kept as given */
  {
    int fix[9] = {0};
    fix[8] = 1;
    pm.omega_fix = fix;
    so.burn = so.iter = 30;
    rc = rkin_popfit_saem(&pm, d, &o, &so, &fit, &in, &err);
    ok(rc == 0 && fit.status == 0 && fit.omega[8] == om9[8],
       "IOV variance FIX: kept at %g (%s)", fit.omega[8],
       rc ? err.msg : fit.err.msg);
    rkin_popfit_free(&fit);
    rkin_saem_info_free(&in);
    pm.omega_fix = NULL;
  }
  /* the same numbers on 1 and 2 threads */
  {
    rkin_popfit f1, f2;
    so.burn = so.iter = 20;
    so.imp_samples = 50;
    o.threads = 1;
    rkin_popfit_saem(&pm, d, &o, &so, &f1, NULL, &err);
    o.threads = 2;
    rkin_popfit_saem(&pm, d, &o, &so, &f2, NULL, &err);
    ok(f1.status == 0 && f2.status == 0 && f1.omega[8] == f2.omega[8]
       && f1.ofv == f2.ofv, "IOV SAEM: 1 and 2 threads give the same "
       "numbers (IOV %.9g, OFV %.9g)", f1.omega[8], f1.ofv);
    rkin_popfit_free(&f1);
    rkin_popfit_free(&f2);
  }
  rkin_popfit_free(&ml);
  rkin_data_free(d);
}

/* ------------------------------------------- SA standard errors */

/* The exact observed information of the linear IOV model over the n
 * free parameters fr of x = (th0, th1, om_a, om_b, iov, sigma) (the
 * covariance step's order): half the Hessian of the explicit marginal
 * -2LL (exact_ofv), by central differences with step h_k = rel *
 * max(|x_k|, 0.1). I is n x n. */
static void exact_info_fd(const rkin_data *d, const double *x,
                          const size_t *fr, size_t n, double rel, double *I)
{
  size_t i, j;
  for (i = 0; i < n; i++)
    for (j = 0; j <= i; j++) {
      size_t u = fr[i], w = fr[j];
      double hi = rel * fmax(fabs(x[u]), 0.1), hj = rel * fmax(fabs(x[w]),
                                                               0.1), f[4];
      int a, b, c = 0;
      for (a = 1; a >= -1; a -= 2)
        for (b = 1; b >= -1; b -= 2) {
          double xp[6];
          memcpy(xp, x, sizeof xp);
          xp[u] += a * hi;
          xp[w] += b * hj;
          f[c++] = exact_ofv(d, xp, xp + 2, xp[5]);
        }
      I[i * n + j] = I[j * n + i] = 0.5 * (f[0] - f[1] - f[2] + f[3])
                                    / (4 * hi * hj);
    }
}

/* IOV only on a (the model of test_saem_iov_only): th0 is then not
 * mu-referenced, its derivatives go through log p(y | eta) by
 * differences at every chain's occasion copies. */
static int iiv_psi(const double *th, const double *eta, const double *cov,
                   double *psi, void *ud, rkin_err *err);

/* SA standard errors with IOV (se = RKIN_SAEM_SE_SA): each chain's
 * occasion copies are part of the complete data, so the IOV variance's
 * score and Hessian gain a term per (subject, further occasion). On the
 * linear model the observed information is exact by differences of the
 * explicit marginal -2LL: the SA SEs within 5 % (Monte Carlo error with
 * 2000 x 4 draws per subject: about 1 %, as for the models without IOV
 * in test_saem_se.c), every element of the information within 0.03
 * sqrt(I_ii I_jj) (measured 0.012 and 0.016); and against the FOCE-I
 * covariance step (exact here) at the ML estimates, R^-1's SEs, within
 * 5 % (the SAEM estimates are within 0.2 SE of the ML ones, which moves
 * an SE by 1-3 %). iov_only: the model without IIV on a (etas eta_b,
 * kap_a; 5 parameters, th0 not mu-referenced). */
static void test_saem_sa(int iov_only)
{
  static const int occ2[2] = {0, 1};
  static const char *const en2[2] = {"eta_b", "kap_a"};
  static const size_t fr6[6] = {0, 1, 2, 3, 4, 5}, fr5[5] = {0, 1, 3, 4, 5};
  double th_t[2] = {10, -0.8}, sd_t[3] = {1, 0.3, 0.6};
  double th[2] = {9.5, -0.7}, om9[9] = {0.8, 0, 0, 0, 0.06, 0, 0, 0, 0.2};
  double om4[4] = {0.06, 0, 0, 0.3};
  double sg = 0.6, x[6], I[36], I2[36], se[6], worst = 0, fd = 0;
  const size_t *fr = iov_only ? fr5 : fr6;
  size_t np = iov_only ? 5 : 6;
  const char *nm = iov_only ? "IOV only on a" : "IOV";
  rkin_data *d;
  rkin_popmodel pm;
  rkin_popfit_opts o;
  rkin_saem_opts so;
  rkin_popfit ml, fit;
  rkin_saem_info in;
  rkin_err err;
  size_t i, j;
  int rc, rcm;
  if (iov_only) {
    sd_t[0] = 0;
    sd_t[2] = 0.8;
  }
  d = lin_data(iov_only ? 53 : 31, 60, th_t, sd_t, 0.4);
  lin_model(&pm, th, iov_only ? om4 : om9, &sg);
  if (iov_only) {
    pm.n_eta = 2;
    pm.eta_names = en2;
    pm.eta_occ = occ2;
    pm.indiv = iiv_psi;
  }
  rkin_popfit_opts_default(&o);
  o.threads = 2;
  rcm = rkin_popfit_run(&pm, d, &o, &ml, &err);
  sa_opts(&so, 150, 9);
  rc = rkin_popfit_saem(&pm, d, &o, &so, &fit, &in, &err);
  ok(rc == 0 && fit.status == 0 && fit.cov_status == 0 && fit.n_est == np,
     "%s: SAEM with SA standard errors ran (%s)", nm, rc ? err.msg
     : fit.status ? fit.err.msg : fit.cov_status ? fit.cov_err.msg : "ok");
  if (rc == 0 && fit.status == 0 && fit.cov_status == 0 && fit.n_est == np) {
    x[0] = fit.theta[0];
    x[1] = fit.theta[1];
    if (iov_only) {
      x[2] = 0;
      x[3] = fit.omega[0];
      x[4] = fit.omega[3];
    } else {
      x[2] = fit.omega[0];
      x[3] = fit.omega[4];
      x[4] = fit.omega[8];
    }
    x[5] = fit.sigma[0];
    /* the reference itself: two step sizes agree */
    exact_info_fd(d, x, fr, np, 1e-4, I);
    exact_info_fd(d, x, fr, np, 5e-4, I2);
    for (i = 0; i < np; i++)
      for (j = 0; j < np; j++)
        fd = fmax(fd, fabs(I[i * np + j] - I2[i * np + j])
                      / sqrt(I[i * np + i] * I[j * np + j]));
    ok(fd < 1e-4 && !sa_se_of(I, np, se), "%s: exact information by "
       "differences of the marginal -2LL, steps 1e-4 and 5e-4 agree (%.2g "
       "of sqrt(I_ii I_jj)), positive definite", nm, fd);
    sa_check_ses(nm, &fit, se, np);
    worst = sa_info_err(&fit, I, np);
    ok(worst < 0.03, "%s: every element of the SA information within 0.03 "
       "sqrt(I_ii I_jj) of the exact one (worst %.4f)", nm, worst);
    if (rcm == 0 && ml.status == 0 && ml.cov_status == 0 && ml.n_est == np)
      for (i = 0; i < np; i++) {
        double sr = sqrt(ml.cov_r[i * np + i]);
        ok(fabs(fit.se[i] / sr - 1) < 0.05, "%s: %s SE by SA %.5f vs the "
           "FOCE-I covariance step's R^-1 %.5f (ratio %.4f, tolerance "
           "5 %%)", nm, fit.est_names[i], fit.se[i], sr, fit.se[i] / sr);
      }
    else
      ok(0, "%s: FOCE-I fit with its covariance step (%s)", nm, ml.err.msg);
  }
  rkin_popfit_free(&fit);
  rkin_saem_info_free(&in);
  rkin_popfit_free(&ml);
  rkin_data_free(d);
}

/* IOV without IIV on a parameter: a = th0 + kap_a(occ), b = th1 + eta_b
 * (etas eta_b, kap_a). The occasion eta must not take th0 as its mean
 * (th0 is then not mu-referenced); SAEM against the exact ML (FOCE-I). */
static int iiv_psi(const double *th, const double *eta, const double *cov,
                   double *psi, void *ud, rkin_err *err)
{
  (void)cov;
  (void)ud;
  (void)err;
  psi[0] = th[0] + eta[1];
  psi[1] = th[1] + eta[0];
  return 0;
}

static void test_saem_iov_only(void)
{
  static const int occ[2] = {0, 1};
  static const char *const en[2] = {"eta_b", "kap_a"};
  double th_t[2] = {10, -0.8}, sd_t[3] = {0, 0.3, 0.8};
  double th[2] = {9.5, -0.7}, om[4] = {0.06, 0, 0, 0.3}, sg = 0.6;
  rkin_data *d = lin_data(53, 60, th_t, sd_t, 0.4);
  rkin_popmodel pm;
  rkin_popfit_opts o;
  rkin_saem_opts so;
  rkin_popfit ml, fit;
  rkin_saem_info in;
  rkin_err err;
  int rc;
  lin_model(&pm, th, om, &sg);
  pm.n_eta = 2;
  pm.eta_names = en;
  pm.eta_occ = occ;
  pm.indiv = iiv_psi;
  rkin_popfit_opts_default(&o);
  o.threads = 2;
  rc = rkin_popfit_run(&pm, d, &o, &ml, &err);
  ok(rc == 0 && ml.status == 0 && ml.cov_status == 0, "IOV only on a: "
     "exact ML (FOCE-I) with SEs (%s)", ml.err.msg);
  rkin_saem_opts_default(&so);
  so.burn = 150;
  so.iter = 300;
  so.chains = 4;
  so.seed = 8;
  so.imp_samples = 0;
  o.covariance = 0;
  rc = rkin_popfit_saem(&pm, d, &o, &so, &fit, &in, &err);
  ok(rc == 0 && fit.status == 0, "IOV only on a: SAEM ran (%s)",
     rc ? err.msg : fit.err.msg);
  if (rc == 0 && fit.status == 0 && ml.cov_status == 0) {
    ok(in.mu_ref[0] == 1 && in.mu_ref[1] == -1, "th1 mu-referenced by "
       "eta_b; the occasion eta takes no theta (%d %d)", in.mu_ref[0],
       in.mu_ref[1]);
    /* band 0.2 SE as above (th0 moves by Newton steps here) */
    ok(fabs(fit.theta[0] - ml.theta[0]) <= 0.2 * ml.se[0]
       && fabs(fit.omega[3] - ml.omega[3]) <= 0.2 * ml.se[3],
       "IOV only on a: SAEM th0 %.5f, IOV %.5f vs exact ML %.5f, %.5f "
       "within 0.2 SE (%.4f, %.4f)", fit.theta[0], fit.omega[3],
       ml.theta[0], ml.omega[3], ml.se[0], ml.se[3]);
  }
  rkin_popfit_free(&fit);
  rkin_saem_info_free(&in);
  rkin_popfit_free(&ml);
  rkin_data_free(d);
}

/* ---------------------------------------------------- simulation */

/* y = a = th0 + eta_a + kap_a(occ) at every observation (no residual). */
static int lvl_psi(const double *th, const double *eta, const double *cov,
                   double *psi, void *ud, rkin_err *err)
{
  (void)cov;
  (void)ud;
  (void)err;
  psi[0] = th[0] + eta[0] + eta[1];
  return 0;
}

static int lvl_pred(const rkin_data_subject *s, const double *psi, double *f,
                    void *ud, rkin_err *err)
{
  size_t k;
  (void)ud;
  (void)err;
  for (k = 0; k < s->n_obs; k++) f[k] = psi[0];
  return 0;
}

static void test_sim(void)
{
  static const int occ[2] = {0, 1};
  static const char *const en[2] = {"eta", "kap"};
  /* the declaration's Omega differs from the one simulated: the
   * simulation must take the given one for the occasion copies too */
  double th[1] = {3}, om[4] = {0.5, 0, 0, 0.5}, sg[1] = {0.1};
  double om_decl[4] = {0.05, 0, 0, 0.05};
  size_t n = 400, R = 5, i, r, k;
  size_t cap = 64 + n * 3 * 32, len = 0;
  char *t = malloc(cap);
  rkin_data *d;
  rkin_popmodel pm;
  rkin_popsim_opts so;
  rkin_popsim out;
  rkin_err err;
  int rc;
  /* 400 subjects, 3 occasions (one observation each) */
  len += (size_t)snprintf(t + len, cap - len, "ID,TIME,DV,OCC\n");
  for (i = 0; i < n; i++)
    for (k = 0; k < 3; k++)
      len += (size_t)snprintf(t + len, cap - len, "%zu,%zu,1,%zu\n", i + 1,
                              10 * k + 1, k + 1);
  d = rkin_data_parse(t, strlen(t), "lvl.csv", NULL, &err);
  free(t);
  memset(&pm, 0, sizeof pm);
  pm.predict = lvl_pred;
  pm.n_psi = 1;
  pm.n_theta = 1;
  pm.theta_init = th;
  pm.n_eta = 2;
  pm.eta_names = en;
  pm.omega_init = om_decl;
  pm.omega_diag = 1;
  pm.eta_occ = occ;
  pm.indiv = lvl_psi;
  pm.res = RKIN_RES_ADD;
  pm.sigma_init = sg;
  memset(&so, 0, sizeof so);
  so.n_rep = R;
  so.seed = 17;
  so.threads = 2;
  so.theta = th;
  so.omega = om;
  so.sigma = sg;
  so.no_residual = 1;
  rc = rkin_popsim_run(&pm, d, &so, &out, &err);
  ok(rc == 0, "simulation with IOV ran (%s)", rc ? err.msg : "ok");
  if (rc == 0) {
    /* Over R x n = 2000 subjects: the variance of y at each occasion is
     * omega + iov = 1 (SD of a variance estimate from 2000 draws:
     * sqrt(2/1999) = 0.032; band 0.13 = 4 SD; omega alone, 0.5, lies 16
     * SD away: the check rejects it with power ~1); the variance of the
     * difference of two occasions of a subject is 2 iov = 1 (0 if the
     * occasions shared one draw). */
    double m[3] = {0, 0, 0}, v[3] = {0, 0, 0}, dd = 0, N = (double)(R * n);
    double y[3];
    for (r = 0; r < R; r++)
      for (i = 0; i < n; i++)
        for (k = 0; k < 3; k++) m[k] += out.dv[r * 3 * n + 3 * i + k] / N;
    for (r = 0; r < R; r++)
      for (i = 0; i < n; i++) {
        for (k = 0; k < 3; k++) {
          y[k] = out.dv[r * 3 * n + 3 * i + k];
          v[k] += (y[k] - m[k]) * (y[k] - m[k]) / (N - 1);
        }
        dd += (y[1] - y[0]) * (y[1] - y[0]) / N;
      }
    for (k = 0; k < 3; k++)
      ok(fabs(v[k] - 1.0) < 0.13 && fabs(m[k] - 3) < 0.1,
         "occasion %zu: variance of the simulated parameter %.4f = omega + "
         "iov = 1 (band 0.13 = 4 MC SD; omega alone 0.5 is rejected), "
         "mean %.4f = theta 3", k + 1, v[k], m[k]);
    ok(fabs(dd - 1.0) < 0.13, "E (y_occ2 - y_occ1)^2 = %.4f = 2 iov = 1 "
       "(band 0.13): a fresh occasion eta per occasion", dd);
  }
  rkin_popsim_free(&out);
  /* with the IOV variance ~0 the occasions agree within a subject */
  om[3] = 1e-12;
  rc = rkin_popsim_run(&pm, d, &so, &out, &err);
  if (rc == 0) {
    double mx = 0;
    for (i = 0; i < n; i++)
      mx = fmax(mx, fabs(out.dv[3 * i + 2] - out.dv[3 * i]));
    ok(mx < 1e-4, "iov 1e-12: a subject's occasions agree (max diff %.2g)",
       mx);
  } else {
    ok(0, "simulation iov ~0: %s", err.msg);
  }
  rkin_popsim_free(&out);
  rkin_data_free(d);
}

int main(void)
{
  rkin_init();
  test_saem_exact();
  test_saem_iov_only();
  test_saem_sa(0);
  test_saem_sa(1);
  test_sim();
  done_testing();
  return exit_status();
}
