/* test_popiov.c - between-occasion variability (IOV) in population fits:
 * the objective of every method at fixed parameters against the marginal
 * likelihood written out here (a linear model: closed-form predictions,
 * the explicit V_i = Z D Z' + s^2 I with one block of occasion etas per
 * occasion), the EBEs of every occasion, the covariance step against the
 * Hessian of that likelihood, FIX, and the refusals of bad OCC data. */
#include <gsl/gsl_blas.h>
#include <gsl/gsl_linalg.h>
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
#include "../theoph.h"

/* f = a + b tau, tau = t mod 10 h, the time since the occasion's start;
 * a = th0 + eta_a + kap_a(occ), b = th1 + eta_b + kap_b(occ);
 * additive error. etas in the order (eta_a, eta_b, kap_a, kap_b). */
static int iov_psi(const double *th, const double *eta, const double *cov,
                   double *psi, void *ud, rkin_err *err)
{
  (void)cov;
  (void)ud;
  (void)err;
  psi[0] = th[0] + eta[0] + eta[2];
  psi[1] = th[1] + eta[1] + eta[3];
  return 0;
}

static int iov_pred(const rkin_data_subject *s, const double *psi, double *f,
                    void *ud, rkin_err *err)
{
  size_t k;
  (void)ud;
  (void)err;
  for (k = 0; k < s->n_obs; k++)
    f[k] = psi[0] + psi[1] * fmod(s->time[k], 10.0);
  return 0;
}

/* Occasion values: subject i has 2 or 3 occasions, labelled 1, 3, 7
 * (not contiguous); subject 3's records list occasion 3 before 1. */
static double occ_of(size_t i, size_t k)
{
  static const double lab[3] = {1, 3, 7};
  if (i == 2) return k == 0 ? 3 : 1;
  return lab[k];
}

static size_t nocc_of(size_t i)
{
  return i % 3 == 1 ? 3 : 2;
}

/* Data: per occasion 4 observations at t = 0.5, 1, 2, 4 h after the
 * occasion's start (occasions 10 h apart). */
static rkin_data *iov_data(unsigned long seed, size_t n, const double *th,
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
    for (k = 0; k < nocc_of(i); k++) {
      double ka = gsl_ran_gaussian(r, sd[2]), kb = gsl_ran_gaussian(r, sd[3]);
      for (j = 0; j < 4; j++) {
        double tt = 10.0 * (double)k + times[j];
        len += (size_t)snprintf(t + len, cap - len, "%zu,%g,%.8f,%g\n",
                                i + 1, tt, th[0] + ea + ka + (th[1] + eb
                                + kb) * times[j] + gsl_ran_gaussian(r, sg),
                                occ_of(i, k));
      }
    }
  }
  d = rkin_data_parse(t, strlen(t), "iov.csv", NULL, &err);
  if (!d) diag("%s", err.msg);
  free(t);
  gsl_rng_free(r);
  return d;
}

/* The subject's occasion slot of observation j: rank of its OCC value. */
static size_t slot_of(const rkin_data_subject *s, size_t j, size_t *K)
{
  double v[8];
  size_t n = 0, k, m, sl = 0;
  int i;
  /* the dataset's covariate 0 is OCC; per observation: its record */
  size_t nc = 1, r;
  for (r = 0; r < s->n_rec; r++) {
    double x = s->rec_cov[r * nc];
    for (k = 0; k < n && v[k] != x; k++) {}
    if (k == n) v[n++] = x;
  }
  /* sort */
  for (k = 1; k < n; k++)
    for (m = k; m > 0 && v[m - 1] > v[m]; m--) {
      double x = v[m];
      v[m] = v[m - 1];
      v[m - 1] = x;
    }
  *K = n;
  for (r = 0; r < s->n_rec; r++)
    if (s->rec_line[r] == s->obs_line[j]) break;
  for (i = 0; i < (int)n; i++)
    if (v[i] == s->rec_cov[r * nc]) sl = (size_t)i;
  return sl;
}

/* One subject directly: u = (eta_a, eta_b, kap_a(1), kap_b(1), ...), Z
 * row j = (1, t, [slot = k] 1, [slot = k] t ...), D = blockdiag(Om, Pi,
 * Pi, ...) with Om = diag(om_a, om_b) or full (om[4]), Pi = diag(pi_a,
 * pi_b); OFV term log det V + r' V^-1 r, V = Z D Z' + s^2 I; EBE u = D Z'
 * V^-1 r. */
static double iov_direct(const rkin_data_subject *s, const double *th,
                         const double *om, const double *pi, double sg,
                         double *u_out, size_t *K_out)
{
  size_t n = s->n_obs, K = 0, m, i, j, a;
  gsl_matrix *Z, *V;
  gsl_vector *r, *x;
  double D[2 + 2 * 8] = {0}, ld = 0, q = 0;
  slot_of(s, 0, &K);
  m = 2 + 2 * K;
  Z = gsl_matrix_calloc(n, m);
  V = gsl_matrix_alloc(n, n);
  r = gsl_vector_alloc(n);
  x = gsl_vector_alloc(n);
  for (j = 0; j < n; j++) {
    size_t kk, sl = slot_of(s, j, &kk);
    double t = fmod(s->time[j], 10.0);
    gsl_matrix_set(Z, j, 0, 1);
    gsl_matrix_set(Z, j, 1, t);
    gsl_matrix_set(Z, j, 2 + 2 * sl, 1);
    gsl_matrix_set(Z, j, 3 + 2 * sl, t);
    gsl_vector_set(r, j, s->dv[j] - th[0] - th[1] * t);
  }
  for (i = 0; i < n; i++)
    for (j = 0; j < n; j++) {
      double v = i == j ? sg * sg : 0;
      double zi0 = gsl_matrix_get(Z, i, 0), zi1 = gsl_matrix_get(Z, i, 1);
      double zj0 = gsl_matrix_get(Z, j, 0), zj1 = gsl_matrix_get(Z, j, 1);
      v += om[0] * zi0 * zj0 + om[1] * (zi0 * zj1 + zi1 * zj0)
           + om[3] * zi1 * zj1;
      for (a = 0; a < K; a++) {
        v += pi[0] * gsl_matrix_get(Z, i, 2 + 2 * a)
             * gsl_matrix_get(Z, j, 2 + 2 * a);
        v += pi[1] * gsl_matrix_get(Z, i, 3 + 2 * a)
             * gsl_matrix_get(Z, j, 3 + 2 * a);
      }
      gsl_matrix_set(V, i, j, v);
    }
  gsl_linalg_cholesky_decomp1(V);
  for (i = 0; i < n; i++) ld += 2 * log(gsl_matrix_get(V, i, i));
  gsl_linalg_cholesky_solve(V, r, x);
  gsl_blas_ddot(r, x, &q);
  if (u_out) {
    /* D Z' x */
    for (a = 0; a < m; a++) {
      double t = 0;
      for (j = 0; j < n; j++) t += gsl_matrix_get(Z, j, a)
                                   * gsl_vector_get(x, j);
      D[a] = t;
    }
    u_out[0] = om[0] * D[0] + om[1] * D[1];
    u_out[1] = om[2] * D[0] + om[3] * D[1];
    for (a = 2; a < m; a++) u_out[a] = pi[a % 2] * D[a];
  }
  if (K_out) *K_out = K;
  gsl_matrix_free(Z);
  gsl_matrix_free(V);
  gsl_vector_free(r);
  gsl_vector_free(x);
  return ld + q;
}

static double iov_direct_all(const rkin_data *d, long only, const double *th,
                             const double *om, const double *pi, double sg)
{
  size_t s;
  double t = 0;
  for (s = 0; s < rkin_data_nsubjects(d); s++)
    if (only < 0 || (size_t)only == s)
      t += iov_direct(rkin_data_subject_at(d, s), th, om, pi, sg, NULL,
                      NULL);
  return t;
}

static const int ETA_OCC[4] = {0, 0, 1, 1};

static void iov_model(rkin_popmodel *pm, double *th, double *om4,
                      double *sg)
{
  static const char *const en[4] = {"eta_a", "eta_b", "kap_a", "kap_b"};
  static const char *const pn[2] = {"a", "b"};
  memset(pm, 0, sizeof *pm);
  pm->predict = iov_pred;
  pm->n_psi = 2;
  pm->psi_names = pn;
  pm->n_theta = 2;
  pm->theta_init = th;
  pm->n_eta = 4;
  pm->eta_names = en;
  pm->omega_init = om4;
  pm->omega_diag = 1;
  pm->eta_occ = ETA_OCC;
  pm->indiv = iov_psi;
  pm->res = RKIN_RES_ADD;
  pm->sigma_init = sg;
}

static void om16(const double *om, const double *pi, double *o)
{
  memset(o, 0, 16 * sizeof *o);
  o[0] = om[0];
  o[1] = o[4] = om[1];
  o[5] = om[3];
  o[10] = pi[0];
  o[15] = pi[1];
}

static void test_objective(void)
{
  static const char *const names[5] = {"FO", "FOCE-I", "FOCE", "Laplace",
                                       "Laplace-I"};
  double th_t[2] = {10, -0.8}, sd_t[4] = {1, 0.3, 0.5, 0.1};
  double th[2] = {9.5, -0.7}, om[4] = {0.8, 0, 0, 0.06}, pi[2] = {0.3, 0.02};
  double sg = 0.6, o16[16], want = 0, got;
  rkin_data *d = iov_data(11, 9, th_t, sd_t, 0.5);
  rkin_popmodel pm;
  rkin_popfit_opts o;
  rkin_popfit fit;
  rkin_err err;
  size_t s, m, k, ns;
  double maxd = 0, maxo = 0;
  om16(om, pi, o16);
  iov_model(&pm, th, o16, &sg);
  ns = rkin_data_nsubjects(d);
  want = iov_direct_all(d, -1, th, om, pi, sg);
  rkin_popfit_opts_default(&o);
  o.threads = 2;
  /* Linear in the etas with additive error: every method is the exact
   * marginal likelihood. */
  for (m = 0; m < 5; m++) {
    o.method = (rkin_pop_method)m;
    got = NAN;
    if (rkin_popest_ofv(&pm, d, &o, th, o16, &sg, &got, NULL, NULL, &err))
      diag("%s", err.msg);
    ok(fabs(got - want) < 1e-6, "IOV, %s: OFV %.9f = the explicit V_i with "
       "occasion blocks %.9f (abs. tol. 1e-6)", names[m], got, want);
  }
  /* The same without the occasion etas differs: the blocks matter. */
  {
    double pi0[2] = {1e-12, 1e-12};
    double w0 = iov_direct_all(d, -1, th, om, pi0, sg);
    ok(fabs(w0 - want) > 1, "the occasion etas change the OFV (%.3f vs "
       "%.3f without)", want, w0);
  }
  /* Evaluation: EBEs of every occasion, per-subject OFV. */
  o.method = RKIN_POP_FOCEI;
  o.covariance = 0;
  if (rkin_popfit_evaluate(&pm, d, &o, th, o16, &sg, &fit, &err))
    diag("%s", err.msg);
  ok(fit.n_occ == 3 && fit.occ_eta && fit.occ_value && fit.occ,
     "evaluation: n_occ 3 (%zu)", fit.n_occ);
  for (s = 0; s < ns && fit.occ_eta; s++) {
    const rkin_data_subject *sj = rkin_data_subject_at(d, s);
    double u[2 + 2 * 8];
    size_t K;
    double oi = iov_direct(sj, th, om, pi, sg, u, &K);
    if (fabs(oi - fit.ofv_i[s]) > maxo) maxo = fabs(oi - fit.ofv_i[s]);
    for (k = 0; k < 3; k++) {
      const double *e = fit.occ_eta + (s * 3 + k) * 4;
      if (k >= K) {
        if (!isnan(e[2]) || !isnan(fit.occ_value[s * 3 + k])) maxd = 1;
        continue;
      }
      if (fabs(e[0] - u[0]) > maxd) maxd = fabs(e[0] - u[0]);
      if (fabs(e[1] - u[1]) > maxd) maxd = fabs(e[1] - u[1]);
      if (fabs(e[2] - u[2 + 2 * k]) > maxd) maxd = fabs(e[2] - u[2 + 2 * k]);
      if (fabs(e[3] - u[3 + 2 * k]) > maxd) maxd = fabs(e[3] - u[3 + 2 * k]);
    }
    if (fabs(fit.eta[s * 4 + 2] - u[2]) > maxd)
      maxd = fabs(fit.eta[s * 4 + 2] - u[2]);
  }
  ok(maxd < 1e-5, "EBEs of every occasion = D Z' V^-1 r (max diff %.2g, "
     "tol. 1e-5); absent occasions NaN", maxd);
  ok(maxo < 1e-6, "per-subject OFV = the explicit terms (max diff %.2g)",
     maxo);
  ok(fit.occ_value && fit.occ_value[0] == 1 && fit.occ_value[1] == 3
     && isnan(fit.occ_value[2]) && fit.occ_value[3 * 2 + 0] == 1
     && fit.occ_value[3 * 2 + 1] == 3 && fit.occ_value[3 + 2] == 7,
     "occasion values sorted per subject (1, 3; 1, 3, 7; subject 3 listed "
     "3 before 1)");
  ok(fit.occ && fit.occ[0] == 1 && fit.occ[4] == 3
     && fit.occ[20] == 3 && fit.occ[24] == 1,
     "OCC per observation");
  ok(isfinite(fit.eta_shrink[2]) && isfinite(fit.eta_shrink[3]),
     "shrinkage of the occasion etas (%.3f %.3f)", fit.eta_shrink[2],
     fit.eta_shrink[3]);
  rkin_popfit_free(&fit);
  rkin_data_free(d);
}

/* Fit, covariance step against 2 H^-1 of the explicit OFV, FIX. */
static void test_fit_cov(void)
{
  double th_t[2] = {10, -0.8}, sd_t[4] = {1, 0.3, 0.5, 0.15};
  double th[2] = {9.5, -0.7}, o16[16], sg = 0.6;
  double om0[4] = {0.8, 0, 0, 0.06}, pi0[2] = {0.3, 0.02};
  rkin_data *d = iov_data(2024, 30, th_t, sd_t, 0.4);
  rkin_popmodel pm;
  rkin_popfit_opts o;
  rkin_popfit fit;
  rkin_err err;
  size_t n = 7, i, j;
  double v0[7], h[7], H[49], w;
  double wr = 0;
  gsl_matrix_view Hv = gsl_matrix_view_array(H, 7, 7);
  int rc;
  om16(om0, pi0, o16);
  iov_model(&pm, th, o16, &sg);
  rkin_popfit_opts_default(&o);
  o.threads = 2;
  rc = rkin_popfit_run(&pm, d, &o, &fit, &err);
  ok(rc == 0 && fit.status == 0 && fit.cov_status == 0 && fit.n_est == 7,
     "IOV FOCE-I fit with covariance step (%s; %s)", fit.err.msg,
     fit.cov_err.msg);
  diag("IOV fit: th %.3f %.3f, om %.3f %.4f, pi %.3f %.4f, sg %.3f",
       fit.theta[0], fit.theta[1], fit.omega[0], fit.omega[5],
       fit.omega[10], fit.omega[15], fit.sigma[0]);
  v0[0] = fit.theta[0];
  v0[1] = fit.theta[1];
  v0[2] = fit.omega[0];
  v0[3] = fit.omega[5];
  v0[4] = fit.omega[10];
  v0[5] = fit.omega[15];
  v0[6] = fit.sigma[0];
  {
    double om[4] = {v0[2], 0, 0, v0[3]}, pi[2] = {v0[4], v0[5]};
    w = iov_direct_all(d, -1, v0, om, pi, v0[6]);
    ok(fabs(w - fit.ofv) < 1e-6, "fit OFV %.9f = the explicit OFV at its "
       "estimates %.9f", fit.ofv, w);
  }
  for (i = 0; i < n; i++) h[i] = 1e-4 * fabs(v0[i]);
  for (i = 0; i < n; i++)
    for (j = 0; j <= i; j++) {
      double v[7], a, b, c, e;
      double om[4], pi[2];
#define OFV7(v) (om[0] = v[2], om[1] = om[2] = 0, om[3] = v[3],          \
                 pi[0] = v[4], pi[1] = v[5],                             \
                 iov_direct_all(d, -1, v, om, pi, v[6]))
      memcpy(v, v0, sizeof v);
      v[i] += h[i];
      v[j] += h[j];
      a = OFV7(v);
      v[j] -= 2 * h[j];
      b = OFV7(v);
      v[i] -= 2 * h[i];
      e = OFV7(v);
      v[j] += 2 * h[j];
      c = OFV7(v);
      H[i * n + j] = H[j * n + i] = (a - b - c + e) / (4 * h[i] * h[j]);
    }
  gsl_linalg_cholesky_decomp1(&Hv.matrix);
  gsl_linalg_cholesky_invert(&Hv.matrix);
  for (i = 0; fit.cov_r && i < n; i++) {
    double r = fit.cov_r[i * n + i] / (2 * H[i * n + i]) - 1;
    if (fabs(r) > wr) wr = fabs(r);
  }
  /* as test_popeval's covariance step: 1e-4 relative */
  ok(fit.cov_r && wr < 1e-4, "IOV: R^-1 variances = 2 H^-1 of the "
     "explicit OFV over (theta, omega, IOV variances, sigma) (max rel. "
     "diff %.2g, tol. 1e-4)", wr);
  ok(fit.est_names && !strcmp(fit.est_names[4], "OMEGA(3,3)"),
     "the IOV variance is a parameter (%s)", fit.est_names
     ? fit.est_names[4] : "-");
  rkin_popfit_free(&fit);

  /* FIX an IOV variance: kept, no SE, the OFV equals the explicit one. */
  {
    int fix[16] = {0};
    fix[15] = 1;
    pm.omega_fix = fix;
    rc = rkin_popfit_run(&pm, d, &o, &fit, &err);
    ok(rc == 0 && fit.status == 0 && fit.n_est == 6
       && fit.omega[15] == pi0[1], "FIX kap_b's variance: kept at %g, 6 "
       "estimated", fit.omega[15]);
    {
      double om[4] = {fit.omega[0], 0, 0, fit.omega[5]};
      double pi[2] = {fit.omega[10], fit.omega[15]};
      w = iov_direct_all(d, -1, fit.theta, om, pi, fit.sigma[0]);
      ok(fabs(w - fit.ofv) < 1e-6, "FIX: OFV %.9f = explicit %.9f", fit.ofv,
         w);
    }
    rkin_popfit_free(&fit);
    pm.omega_fix = NULL;
  }
  rkin_data_free(d);
}

static int bad(const char *csv, const int *blocks, const char *want)
{
  double th[2] = {9.5, -0.7}, o16[16], sg = 0.6;
  double om[4] = {0.8, 0, 0, 0.06}, pi[2] = {0.3, 0.02}, ofv;
  rkin_popmodel pm;
  rkin_popfit_opts o;
  rkin_err err;
  rkin_data *d = rkin_data_parse(csv, strlen(csv), "bad.csv", NULL, &err);
  int rc, good;
  if (!d) {
    diag("%s", err.msg);
    return 0;
  }
  om16(om, pi, o16);
  iov_model(&pm, th, o16, &sg);
  if (blocks) {
    pm.omega_block = blocks;
    pm.omega_diag = 0;
  }
  rkin_popfit_opts_default(&o);
  o.threads = 1;
  rkin_err_clear(&err);
  rc = rkin_popest_ofv(&pm, d, &o, th, o16, &sg, &ofv, NULL, NULL, &err);
  good = rc == RKIN_EINVAL && strstr(err.msg, want) != NULL;
  if (!good) diag("rc %d: %s", rc, err.msg);
  else diag("%s", err.msg);
  rkin_data_free(d);
  return good;
}

static void test_bad(void)
{
  static const int mixed[4] = {0, 1, 0, 2};
  ok(bad("ID,TIME,DV,OCC\n1,1,5,1\n1,2,4,1.5\n", NULL,
         "bad.csv:3: column 4 (OCC): occasion 1.5 of subject ID 1 is not "
         "an integer"), "OCC 1.5 refused with file, line, column");
  ok(bad("ID,TIME,DV,OCC\n1,1,5,1\n1,2,4,\n", NULL,
         "bad.csv:3: column 4 (OCC): occasion missing on a record of "
         "subject ID 1"), "OCC missing on a record refused with file, "
         "line, column");
  ok(bad("ID,TIME,DV\n1,1,5\n1,2,4\n", NULL,
         "eta kap_a is an occasion (IOV) eta, but dataset bad.csv has no "
         "OCC column"), "IOV without an OCC column refused");
  ok(bad("ID,TIME,DV,WT\n1,1,5,70\n1,2,4,70\n", NULL,
         "has no OCC column"), "IOV with other covariates but no OCC "
         "refused");
  ok(bad("ID,TIME,DV,OCC\n1,1,5,1\n1,2,4,2\n", mixed,
         "eta kap_a is an occasion (IOV) eta and eta eta_a is not, but "
         "they are in one Omega block"), "an occasion eta in a block with "
         "a subject eta refused");
}

/* ------------------------------------------ IOV on a solved model */

/* Theophylline's one-compartment oral model with IOV on CL: ka =
 * exp(th1 + e0), CL = exp(th2 + e1 + k2) WT, V = exp(th2 + e1 - th0) WT;
 * k2 the occasion eta. */
static int th_iov_psi(const double *th, const double *eta, const double *cov,
                      double *psi, void *ud, rkin_err *err)
{
  (void)ud;
  (void)err;
  psi[0] = exp(th[1] + eta[0]);
  psi[1] = exp(th[2] + eta[1] + eta[2]) * cov[0];
  psi[2] = exp(th[2] + eta[1] - th[0]) * cov[0];
  return 0;
}

/* The closed form per segment (each occasion starts with a reset dose,
 * EVID 4): the Bateman function of the segment's dose. */
static int th_seg_pred(const rkin_data_subject *s, const double *psi,
                       double *f, void *ud, rkin_err *err)
{
  size_t g, k;
  (void)ud;
  for (g = 0; g < s->n_seg; g++) {
    const rkin_dose *r = rkin_dosing_record(s->seg[g].dosing, 0);
    if (!r) return rkin_err_set(err, RKIN_EINVAL, "no dose");
    for (k = s->seg[g].first_obs; k < s->seg[g].first_obs + s->seg[g].n_obs;
         k++)
      f[k] = theoph_bateman(r->amount, psi[0], psi[1], psi[2],
                            s->time[k] - r->time);
  }
  return 0;
}

static void test_model_path(void)
{
  static const double tt[] = {0.5, 1, 2, 4, 8, 12};
  static const int occ3[3] = {0, 0, 1};
  static const char *const cw[1] = {"WT"};
  double th[3] = {-2.4, 0.45, -3.2}, om[9] = {0.2, 0, 0, 0, 0.05, 0, 0, 0,
                                               0.04}, sg = 0.5;
  gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
  size_t cap = 20000, len = 0, i, j, k;
  char *t = malloc(cap);
  rkin_model *m = theoph_model();
  rkin_popmodel pm;
  rkin_popfit_opts o;
  rkin_err err;
  rkin_data *d;
  double ofv_m = NAN, ofv_p = NAN, ofv_c = NAN;
  gsl_rng_set(r, 7);
  len += (size_t)snprintf(t + len, cap - len, "ID,TIME,DV,AMT,EVID,CMT,WT,"
                          "OCC\n");
  for (i = 0; i < 6; i++) {
    double wt = 60 + 5 * (double)i, psi[3], e[3];
    for (k = 0; k < 2; k++) {
      double t0 = 24.0 * (double)k;
      e[0] = 0.3 * gsl_ran_ugaussian(r);
      e[1] = 0.2 * gsl_ran_ugaussian(r);
      e[2] = 0.25 * gsl_ran_ugaussian(r);
      th_iov_psi(th, e, &wt, psi, NULL, NULL);
      len += (size_t)snprintf(t + len, cap - len, "%zu,%g,.,320,%d,1,%g,"
                              "%zu\n", i + 1, t0, k ? 4 : 1, wt, k + 1);
      for (j = 0; j < 6; j++)
        len += (size_t)snprintf(t + len, cap - len, "%zu,%g,%.5f,.,0,2,%g,"
                                "%zu\n", i + 1, t0 + tt[j],
                                theoph_bateman(320, psi[0], psi[1], psi[2],
                                               tt[j])
                                + 0.4 * gsl_ran_ugaussian(r), wt, k + 1);
    }
  }
  d = rkin_data_parse(t, strlen(t), "theoph_iov.csv", NULL, &err);
  if (!d) diag("%s", err.msg);
  memset(&pm, 0, sizeof pm);
  pm.model = m;
  pm.output = 0;
  pm.n_theta = 3;
  pm.theta_init = th;
  pm.n_eta = 3;
  pm.omega_init = om;
  pm.omega_diag = 1;
  pm.eta_occ = occ3;
  pm.n_cov = 1;
  pm.cov_names = cw;
  pm.indiv = th_iov_psi;
  pm.res = RKIN_RES_ADD;
  pm.sigma_init = &sg;
  rkin_popfit_opts_default(&o);
  o.threads = 2;
  if (rkin_popest_ofv(&pm, d, &o, th, om, &sg, &ofv_m, NULL, NULL, &err))
    diag("%s", err.msg);
  pm.model = NULL;
  pm.predict = th_seg_pred;
  pm.n_psi = 3;
  if (rkin_popest_ofv(&pm, d, &o, th, om, &sg, &ofv_p, NULL, NULL, &err))
    diag("%s", err.msg);
  /* the same model with the occasion eta as a subject eta: differs */
  pm.eta_occ = NULL;
  if (rkin_popest_ofv(&pm, d, &o, th, om, &sg, &ofv_c, NULL, NULL, &err))
    diag("%s", err.msg);
  /* exact path (analytic df/deta) vs closed form with differences */
  ok(fabs(ofv_m - ofv_p) < 1e-5, "IOV on a solved model (occasion "
     "parameters per record) FOCE-I OFV %.8f = the closed form per "
     "occasion %.8f (tol. 1e-5)", ofv_m, ofv_p);
  ok(fabs(ofv_m - ofv_c) > 1, "and differs from one eta for both "
     "occasions (%.4f)", ofv_c);
  rkin_data_free(d);
  rkin_model_free(m);
  gsl_rng_free(r);
  free(t);
}

/* The C table writer: ENDPOINT, CENS, OCC and the record's EBEs (an
 * occasion eta at the record's occasion), on a result built here. */
static void test_table(void)
{
  double id[3] = {1, 1, 2}, tm[3] = {1, 2, 1}, dv[3] = {5, NAN, 3};
  double pr[3] = {4, 3, 2}, ip[3] = {4.5, 3.5, 2.5}, rs[3] = {1, NAN, 1};
  double iw[3] = {0.5, NAN, 0.25}, cw[3] = {0.4, NAN, 0.2};
  double eta[4] = {0.1, 0.2, -0.3, 0.4};
  double occv[4] = {1, 2, 5, NAN}, occ[3] = {1, 2, 5};
  double oe[8] = {0.1, 0.2, 0.1, 0.7, -0.3, 0.4, NAN, NAN};
  int ep[3] = {1, 2, 1}, cens[3] = {0, 1, 0};
  rkin_popfit f;
  rkin_err err;
  char *pt = NULL, *ot = NULL;
  int rc;
  memset(&f, 0, sizeof f);
  f.n_subj = 2;
  f.n_obs = 3;
  f.n_eta = 2;
  f.id = id;
  f.time = tm;
  f.dv = dv;
  f.pred = pr;
  f.ipred = ip;
  f.res = rs;
  f.iwres = iw;
  f.cwres = cw;
  f.eta = eta;
  f.n_endpoints = 2;
  f.endpoint = ep;
  f.cens = cens;
  f.n_occ = 2;
  f.occ_value = occv;
  f.occ_eta = oe;
  f.occ = occ;
  f.cov_status = 1;
  rc = rkin_popfit_table_csv(&f, &pt, &ot, &err);
  ok(rc == 0 && !strcmp(ot, "ID,TIME,DV,PRED,IPRED,RES,IWRES,CWRES,"
                        "ENDPOINT,CENS,OCC,ETA1,ETA2\n"
                        "1,1,5,4,4.5,1,0.5,0.4,1,0,1,0.1,0.2\n"
                        "1,2,NA,3,3.5,NA,NA,NA,2,1,2,0.1,0.7\n"
                        "2,1,3,2,2.5,1,0.25,0.2,1,0,5,-0.3,0.4\n"),
     "table: ENDPOINT, CENS, OCC and each record's EBEs (its occasion's)");
  if (ot) diag("%s", ot);
  free(pt);
  free(ot);
  /* without endpoints, censoring or occasions: the subject's EBEs */
  f.n_endpoints = 1;
  f.cens = NULL;
  f.occ = NULL;
  f.n_occ = 0;
  rc = rkin_popfit_table_csv(&f, &pt, &ot, &err);
  ok(rc == 0 && !strcmp(ot, "ID,TIME,DV,PRED,IPRED,RES,IWRES,CWRES,ETA1,"
                        "ETA2\n1,1,5,4,4.5,1,0.5,0.4,0.1,0.2\n"
                        "1,2,NA,3,3.5,NA,NA,NA,0.1,0.2\n"
                        "2,1,3,2,2.5,1,0.25,0.2,-0.3,0.4\n"),
     "table without them: the subject's EBEs per record");
  free(pt);
  free(ot);
}

int main(void)
{
  rkin_init();
  test_objective();
  test_fit_cov();
  test_model_path();
  test_bad();
  test_table();
  done_testing();
  return exit_status();
}
