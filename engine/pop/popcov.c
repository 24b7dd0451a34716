/* popcov.c - the covariance step of a population fit: the Hessian R of the
 * OFV and the cross-product S of the subjects' OFV gradients by central
 * finite differences on the natural scale (theta, Omega elements, sigma
 * SDs), then R^-1 S R^-1 (sandwich, NONMEM's default), R^-1 and S^-1. */
#include "pop/popest_impl.h"

#include <gsl/gsl_blas.h>
#include <gsl/gsl_eigen.h>
#include <gsl/gsl_linalg.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
  pop *p;
  const double *eta0;   /* EBEs at the estimates: every evaluation starts
                           there, so none depends on the order of others */
  const double *S0;     /* the EBE searches' secant corrections there
                           (popsubj.c newton_search), restored alike */
  double *omega;        /* n_eta^2 scratch */
  const rkin_popfit *fit; /* the estimates (fixed values from here) */
  double *fi;           /* n_subj: the last evaluation's OFV terms */
  size_t multimodal;    /* evaluations where a subject had several modes */
  int n_points;         /* evaluations (OFV passes) */
} cov_ctx;

static int th_free(const pop *p, size_t k)
{
  return !(p->pm->theta_fix && p->pm->theta_fix[k]);
}

static int sg_free(const pop *p, size_t k)
{
  return !(p->pm->sigma_fix && p->pm->sigma_fix[k]);
}

/* The estimated parameters on the natural scale: fixed ones are left out
 * (no SE) and keep their values in every evaluation. */
static void nat_from_fit(const pop *p, const rkin_popfit *fit, double *v)
{
  size_t q = p->n_eta, k, a, b, i = 0;
  for (k = 0; k < p->n_theta; k++)
    if (th_free(p, k)) v[i++] = fit->theta[k];
  for (a = 0; a < q; a++)
    for (b = 0; b <= a; b++)
      if (pop_omega_free(p, a, b)) v[i++] = fit->omega[a * q + b];
  for (k = 0; k < p->n_sigma; k++)
    if (sg_free(p, k)) v[i++] = fit->sigma[k];
}

static int name_params(const pop *p, rkin_popfit *fit)
{
  size_t q = p->n_eta, k, a, b, i = 0;
  char buf[96];
  fit->est_names = calloc(p->n_est, sizeof *fit->est_names);
  if (!fit->est_names) return RKIN_ENOMEM;
  for (k = 0; k < p->n_theta; k++) {
    if (!th_free(p, k)) continue;
    if (p->pm->theta_names) snprintf(buf, sizeof buf, "%s",
                                     p->pm->theta_names[k]);
    else snprintf(buf, sizeof buf, "THETA%zu", k + 1);
    if (!(fit->est_names[i++] = strdup(buf))) return RKIN_ENOMEM;
  }
  for (a = 0; a < q; a++)
    for (b = 0; b <= a; b++) {
      if (!pop_omega_free(p, a, b)) continue;
      snprintf(buf, sizeof buf, "OMEGA(%zu,%zu)", a + 1, b + 1);
      if (!(fit->est_names[i++] = strdup(buf))) return RKIN_ENOMEM;
    }
  for (k = 0; k < p->n_sigma; k++) {
    if (!sg_free(p, k)) continue;
    pop_sigma_name(p, k, buf, sizeof buf);
    if (!(fit->est_names[i++] = strdup(buf))) return RKIN_ENOMEM;
  }
  return RKIN_OK;
}

/* On the CVODES path the OFV carries noise of 1e-6 to 1e-5 (the
 * solver's tolerance and the EBE re-search at every point; measured on
 * Theophylline and a saturable-binding PBPK model at rtol 1e-8 and 1e-10
 * alike), which the relative step 1e-3 turns into errors of R's diagonal
 * (4 noise / h^2) beyond the curvature of a weakly determined variance:
 * R came out not positive definite. There each parameter's step is
 * chosen so that the OFV rises by at least COV_DOFV / 2 over it: the
 * noise's share of R_kk is then below 4 noise / COV_DOFV (< 1 % at 3e-5
 * noise), the truncation error of the second difference (of order 3
 * COV_DOFV / N for a variance determined by N subjects) of the same
 * order. The step only grows from the default one (a steep OFV is
 * above the noise). */
#define COV_DOFV 0.02
#define COV_STEP_TRIES 6     /* steps tried per parameter */

/* The largest step of each estimated parameter that keeps every
 * evaluation valid: 0.3 |v| for an Omega variance or a sigma SD, for a
 * covariance 0.3 (0.7 - |rho|) sqrt(omega_aa omega_bb) (pairs of steps
 * keep the block positive definite), for a bounded theta half the
 * distance to its nearest bound; never below the default step h. */
static void step_caps(const pop *p, const rkin_popfit *fit, const double *h,
                      double *cap)
{
  const rkin_popmodel *pm = p->pm;
  size_t q = p->n_eta, k, a, b, i = 0;
  for (k = 0; k < p->n_theta; k++) {
    double th = fit->theta[k], c = HUGE_VAL;
    if (!th_free(p, k)) continue;
    if (pm->theta_lower && isfinite(pm->theta_lower[k]))
      c = fmin(c, 0.5 * (th - pm->theta_lower[k]));
    if (pm->theta_upper && isfinite(pm->theta_upper[k]))
      c = fmin(c, 0.5 * (pm->theta_upper[k] - th));
    cap[i] = fmax(c, h[i]);
    i++;
  }
  for (a = 0; a < q; a++)
    for (b = 0; b <= a; b++) {
      double oa = fit->omega[a * q + a], ob = fit->omega[b * q + b], c;
      if (!pop_omega_free(p, a, b)) continue;
      if (a == b) {
        c = 0.3 * oa;
      } else {
        double r = fabs(fit->omega[a * q + b]) / sqrt(oa * ob);
        c = 0.3 * fmax(0.7 - r, 0) * sqrt(oa * ob);
      }
      cap[i] = fmax(c, h[i]);
      i++;
    }
  for (k = 0; k < p->n_sigma; k++)
    if (sg_free(p, k)) {
      cap[i] = fmax(0.3 * fabs(fit->sigma[k]), h[i]);
      i++;
    }
}

/* The OFV at natural parameters v (per-subject terms into c->fi). */
static int eval_nat(cov_ctx *c, const double *v, double *ofv, rkin_err *err)
{
  pop *p = c->p;
  size_t q = p->n_eta, k, a, b, i = 0;
  int rc;
  for (k = 0; k < p->n_theta; k++)
    p->theta[k] = th_free(p, k) ? v[i++] : c->fit->theta[k];
  for (a = 0; a < q; a++)
    for (b = 0; b <= a; b++) {
      double x = pop_omega_free(p, a, b) ? v[i++] : c->fit->omega[a * q + b];
      c->omega[a * q + b] = c->omega[b * q + a] = x;
    }
  for (k = 0; k < p->n_sigma; k++)
    p->sigma[k] = sg_free(p, k) ? v[i++] : c->fit->sigma[k];
  rc = pop_cholesky(c->omega, q, p->L, "omega (a covariance-step point)",
                    err);
  if (rc) return rc;
  memcpy(p->eta_hat, c->eta0, p->n_subj * p->n_ei * sizeof *p->eta_hat);
  memcpy(p->ebe_S, c->S0, p->n_subj * p->n_ei * p->n_ei * sizeof *p->ebe_S);
  c->n_points++;
  rc = pop_pass(p, POP_TASK_OFV, ofv, err);
  if (!rc) memcpy(c->fi, p->ofv_i, p->n_subj * sizeof *c->fi);
  for (k = 0; !rc && k < p->n_subj; k++)
    if (p->ebe_modes[k] > 1) {
      c->multimodal++;
      break;
    }
  return rc;
}

/* R (the Hessian H of the OFV) counts as not positive definite when its
 * smallest eigenvalue is below this fraction of its largest (NONMEM's
 * "algorithmically singular"): finite differences leave noise far below
 * it, a non-identifiable direction sits at it or below. */
#define R_SINGULAR 1e-9
/* A parameter is named as part of a degenerate direction when its
 * component in the (unit) eigenvector is at least this. */
#define R_LOADING 0.3

/* Checks R = H through its eigenvalues; when not positive definite,
 * names the parameters of each degenerate direction in err. */
static int check_r(const rkin_popfit *fit, const double *H, size_t n,
                   double *cond_r, rkin_err *err)
{
  gsl_matrix *A = gsl_matrix_alloc(n, n), *V = gsl_matrix_alloc(n, n);
  gsl_vector *e = gsl_vector_alloc(n);
  gsl_eigen_symmv_workspace *ws = gsl_eigen_symmv_alloc(n);
  size_t i, j, len = 0, bad = 0;
  double emax = 0, emin = HUGE_VAL;
  char buf[RKIN_ERR_MSG];
  int rc = RKIN_OK;
  buf[0] = 0;
  if (!A || !V || !e || !ws) {
    rc = rkin_err_set(err, RKIN_ENOMEM, "out of memory");
    goto done;
  }
  for (i = 0; i < n; i++)
    for (j = 0; j < n; j++) gsl_matrix_set(A, i, j, H[i * n + j]);
  gsl_eigen_symmv(A, e, V, ws);
  for (i = 0; i < n; i++) {
    double v = gsl_vector_get(e, i);
    if (fabs(v) > emax) emax = fabs(v);
    if (v < emin) emin = v;
  }
  *cond_r = emin > 0 ? emax / emin : HUGE_VAL;
  for (i = 0; i < n; i++) {
    double v = gsl_vector_get(e, i);
    if (v > R_SINGULAR * emax) continue;
    bad++;
    if (len < sizeof buf)
      len += (size_t)snprintf(buf + len, sizeof buf - len, "%seigenvalue "
                              "%.3g along", bad > 1 ? "; " : "", v);
    for (j = 0; j < n && len < sizeof buf; j++)
      if (fabs(gsl_matrix_get(V, j, i)) >= R_LOADING)
        len += (size_t)snprintf(buf + len, sizeof buf - len, " %s",
                                fit->est_names[j]);
  }
  if (bad)
    rc = rkin_err_set(err, RKIN_ERANGE, "covariance step: the Hessian of "
                      "the OFV (R matrix) is not positive definite (largest "
                      "eigenvalue %.3g; %s): these parameters are not "
                      "identifiable together or the estimates are not at a "
                      "minimum", emax, buf);
done:
  gsl_matrix_free(A);
  gsl_matrix_free(V);
  gsl_vector_free(e);
  if (ws) gsl_eigen_symmv_free(ws);
  return rc;
}

/* Largest over smallest eigenvalue of the correlation matrix (NONMEM's
 * condition number). */
static double cond_number(const double *corr, size_t n)
{
  gsl_matrix *A = gsl_matrix_alloc(n, n);
  gsl_vector *e = gsl_vector_alloc(n);
  gsl_eigen_symm_workspace *ws = gsl_eigen_symm_alloc(n);
  double lo = HUGE_VAL, hi = -HUGE_VAL, c = NAN;
  size_t i, j;
  if (A && e && ws) {
    for (i = 0; i < n; i++)
      for (j = 0; j < n; j++) gsl_matrix_set(A, i, j, corr[i * n + j]);
    gsl_eigen_symm(A, e, ws);
    for (i = 0; i < n; i++) {
      double v = gsl_vector_get(e, i);
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    c = lo > 0 ? hi / lo : HUGE_VAL;
  }
  gsl_matrix_free(A);
  gsl_vector_free(e);
  if (ws) gsl_eigen_symm_free(ws);
  return c;
}

/* Inverse of the SPD n x n matrix m (in place); nonzero when not PD. */
static int spd_inverse(double *m, size_t n)
{
  gsl_matrix_view v = gsl_matrix_view_array(m, n, n);
  if (gsl_linalg_cholesky_decomp1(&v.matrix)) return 1;
  gsl_linalg_cholesky_invert(&v.matrix);
  return 0;
}

/* The three covariance matrices from H (Hessian of the OFV = 2 x the
 * information) and S = sum_i g_i g_i' (g_i: gradient of subject i's OFV
 * term): information I = H/2, scores -g_i/2, so R^-1 = 2 H^-1, S^-1 (of
 * the scores) = 4 S^-1 and the sandwich R^-1 S R^-1 = H^-1 S H^-1. The
 * chosen one (opts cov_matrix) gives the SEs, the correlations and the
 * condition number; the others are kept when they exist. */
static int finish(rkin_popfit *fit, rkin_cov_matrix which, double *H,
                  const double *S, size_t n, rkin_err *err)
{
  gsl_matrix *T = gsl_matrix_alloc(n, n);
  gsl_matrix_view Hm = gsl_matrix_view_array(H, n, n);
  gsl_matrix_const_view Sm = gsl_matrix_const_view_array(S, n, n);
  gsl_matrix_view Wm = gsl_matrix_view_array(fit->cov_sandwich, n, n);
  const double *chosen;
  size_t i, j;
  int rc, r_ok, s_ok;
  rkin_err rerr;
  if (!T) return rkin_err_set(err, RKIN_ENOMEM, "out of memory");
  rkin_err_clear(&rerr);
  r_ok = check_r(fit, H, n, &fit->cond_r, &rerr) == RKIN_OK
         && !spd_inverse(H, n);
  if (r_ok) {
    gsl_blas_dgemm(CblasNoTrans, CblasNoTrans, 1.0, &Hm.matrix, &Sm.matrix,
                   0.0, T);
    gsl_blas_dgemm(CblasNoTrans, CblasNoTrans, 1.0, T, &Hm.matrix, 0.0,
                   &Wm.matrix);
    for (i = 0; i < n * n; i++) fit->cov_r[i] = 2 * H[i];
  }
  memcpy(fit->cov_s, S, n * n * sizeof *S);
  s_ok = !spd_inverse(fit->cov_s, n);
  for (i = 0; i < n * n; i++) {
    if (s_ok) fit->cov_s[i] *= 4;
    else fit->cov_s[i] = NAN;
    if (!r_ok) fit->cov_r[i] = fit->cov_sandwich[i] = NAN;
  }
  fit->cov_ok = (r_ok ? 3 : 0) | (s_ok ? 4 : 0);
  gsl_matrix_free(T);
  if (which != RKIN_COV_S && !r_ok) {
    if (!rerr.code)
      rkin_err_set(&rerr, RKIN_ERANGE, "covariance step: the R matrix "
                   "could not be inverted");
    *err = rerr;
    return err->code;
  }
  if (which == RKIN_COV_S && !s_ok)
    return rkin_err_set(err, RKIN_ERANGE, "covariance step: the S matrix "
                        "(cross-product of the subjects' gradients) is "
                        "singular: fewer informative subjects than "
                        "parameters?");
  chosen = which == RKIN_COV_R ? fit->cov_r
           : which == RKIN_COV_S ? fit->cov_s : fit->cov_sandwich;
  memcpy(fit->cov, chosen, n * n * sizeof *chosen);
  for (i = 0; i < n; i++) {
    double v = fit->cov[i * n + i];
    if (!(v > 0) || !isfinite(v))
      return rkin_err_set(err, RKIN_ERANGE, "covariance step: the "
                          "variance of %s is %g (expected > 0): S is "
                          "degenerate", fit->est_names[i], v);
    fit->se[i] = sqrt(v);
    fit->rse[i] = fit->est[i] != 0 ? 100 * fit->se[i] / fabs(fit->est[i])
                                   : NAN;
  }
  for (i = 0; i < n; i++)
    for (j = 0; j < n; j++)
      fit->corr[i * n + j] = fit->cov[i * n + j] / (fit->se[i] * fit->se[j]);
  fit->cond = cond_number(fit->corr, n);
  rc = RKIN_OK;
  return rc;
}

static int cov_run(pop *p, rkin_popfit *fit, rkin_err *err)
{
  size_t n = p->n_est, ns = p->n_subj, k, l, s;
  cov_ctx c;
  double *v0 = NULL, *v = NULL, *h = NULL, *H = NULL, *S = NULL, *e0, *S0;
  double *fp = NULL, *fm = NULL, *gp = NULL, *g = NULL, f0, a, b, cc, d;
  double *cap = NULL;
  int rc = RKIN_ENOMEM, *modes = NULL, noisy, it;
  memset(&c, 0, sizeof c);
  c.p = p;
  fit->est = calloc(n, sizeof(double));
  fit->se = calloc(n, sizeof(double));
  fit->rse = calloc(n, sizeof(double));
  fit->cov = calloc(n * n, sizeof(double));
  fit->cov_r = calloc(n * n, sizeof(double));
  fit->cov_s = calloc(n * n, sizeof(double));
  fit->cov_sandwich = calloc(n * n, sizeof(double));
  fit->corr = calloc(n * n, sizeof(double));
  /* the subjects' EBEs as searched (IOV: every occasion's) */
  e0 = malloc(ns * p->n_ei * sizeof *e0);
  if (e0) memcpy(e0, p->eta_hat, ns * p->n_ei * sizeof *e0);
  c.eta0 = e0;
  S0 = malloc(ns * p->n_ei * p->n_ei * sizeof *S0 + 1);
  if (S0) memcpy(S0, p->ebe_S, ns * p->n_ei * p->n_ei * sizeof *S0);
  c.S0 = S0;
  c.fit = fit;
  c.omega = malloc(p->n_eta * p->n_eta * sizeof(double));
  c.fi = malloc(ns * sizeof(double));
  v0 = malloc(n * sizeof *v0);
  v = malloc(n * sizeof *v);
  h = malloc(n * sizeof *h);
  H = calloc(n * n, sizeof *H);
  S = calloc(n * n, sizeof *S);
  fp = malloc(n * sizeof *fp);
  fm = malloc(n * sizeof *fm);
  gp = malloc(ns * sizeof *gp);
  g = malloc(ns * n * sizeof *g);
  modes = malloc(ns * sizeof *modes);
  cap = malloc(n * sizeof *cap);
  if (!modes || !cap || !fit->est || !fit->se || !fit->rse || !fit->cov || !fit->cov_r
      || !fit->cov_s || !fit->cov_sandwich
      || !fit->corr || !c.omega || !c.fi || !v0 || !v || !h || !H || !S
      || !fp || !fm || !gp || !g || !e0 || !S0 || name_params(p, fit))
    rc = rkin_err_set(err, RKIN_ENOMEM, "covariance step: out of memory");
  else
    rc = RKIN_OK;
  /* over several processes: none may start the passes alone */
  if ((rc = pop_agree(p, rc, err))) goto done;
  nat_from_fit(p, fit, v0);
  memcpy(fit->est, v0, n * sizeof *v0);
  /* the final pass's scan at the estimates decides which subjects are
   * tracked from their EBE (popsubj.c ebe()) */
  memcpy(modes, p->ebe_modes, ns * sizeof *modes);
  p->cov_modes = modes;
  /* Relative steps: central differences balance truncation (h^2) against
   * the OFV's noise from the inner optimisation (~1e-10 / h^2). */
  for (k = 0; k < n; k++) h[k] = 1e-3 * (fabs(v0[k]) > 1e-2 ? fabs(v0[k])
                                                            : 1e-2);
  /* noisy OFV (CVODES path): steps by the OFV change (COV_DOFV) */
  noisy = p->ws[0].solver
          && rkin_solver_path(p->ws[0].solver) == RKIN_PATH_CVODES;
  step_caps(p, fit, h, cap);
  rc = eval_nat(&c, v0, &f0, err);
  for (k = 0; !rc && k < n; k++) {
    for (it = 0; it < COV_STEP_TRIES; it++) {
      double dF, fac, hn;
      memcpy(v, v0, n * sizeof *v);
      v[k] = v0[k] + h[k];
      rc = eval_nat(&c, v, &fp[k], err);
      if (rc) break;
      memcpy(gp, c.fi, ns * sizeof *gp);
      v[k] = v0[k] - h[k];
      rc = eval_nat(&c, v, &fm[k], err);
      if (rc || !noisy) break;
      /* the OFV's rise over the step: at least COV_DOFV / 2, or a
       * larger step (never a smaller one: a steep OFV is above noise) */
      dF = 0.5 * (fp[k] - 2 * f0 + fm[k]);
      if (dF >= 0.5 * COV_DOFV) break;
      fac = dF > 0 ? fmin(sqrt(COV_DOFV / dF), 10) : 10;
      hn = fmin(h[k] * fac, cap[k]);
      if (!(hn > h[k])) break;
      h[k] = hn;
    }
    if (rc) break;
    for (s = 0; s < ns; s++) g[s * n + k] = (gp[s] - c.fi[s]) / (2 * h[k]);
    H[k * n + k] = (fp[k] - 2 * f0 + fm[k]) / (h[k] * h[k]);
  }
  /* Off-diagonal elements. On the exact path from the two points along
   * the diagonal (+,+) and (-,-) with the axis points above:
   * f(++) + f(--) - f(+.) - f(-.) - f(.+) - f(.-) + 2 f0 = 2 h_k h_l
   * H_kl + O(h^4), half the passes of the four-point rule and the same
   * O(h^2) error; its noise (about 3 times the four-point rule's) stays
   * far below H there. The noisy CVODES path keeps the four points. */
  for (k = 0; !rc && !noisy && k < n; k++)
    for (l = 0; !rc && l < k; l++) {
      memcpy(v, v0, n * sizeof *v);
      v[k] = v0[k] + h[k];
      v[l] = v0[l] + h[l];
      rc = eval_nat(&c, v, &a, err);
      v[k] = v0[k] - h[k];
      v[l] = v0[l] - h[l];
      if (!rc) rc = eval_nat(&c, v, &d, err);
      if (!rc)
        H[k * n + l] = H[l * n + k]
          = (a + d - fp[k] - fm[k] - fp[l] - fm[l] + 2 * f0)
            / (2 * h[k] * h[l]);
    }
  for (k = 0; !rc && noisy && k < n; k++)
    for (l = 0; !rc && l < k; l++) {
      memcpy(v, v0, n * sizeof *v);
      v[k] = v0[k] + h[k];
      v[l] = v0[l] + h[l];
      rc = eval_nat(&c, v, &a, err);
      v[l] = v0[l] - h[l];
      if (!rc) rc = eval_nat(&c, v, &b, err);
      v[k] = v0[k] - h[k];
      if (!rc) rc = eval_nat(&c, v, &d, err);
      v[l] = v0[l] + h[l];
      if (!rc) rc = eval_nat(&c, v, &cc, err);
      if (!rc)
        H[k * n + l] = H[l * n + k] = (a - b - cc + d) / (4 * h[k] * h[l]);
    }
  if (rc) {
    rkin_err_prefix(err, "covariance step: ");
    goto done;
  }
  for (s = 0; s < ns; s++)
    for (k = 0; k < n; k++)
      for (l = 0; l < n; l++) S[k * n + l] += g[s * n + k] * g[s * n + l];
  rc = finish(fit, p->opts.cov_matrix, H, S, n, err);
done:
  p->cov_modes = NULL;
  free(modes);
  free(cap);
  fit->cov_multimodal = c.multimodal;
  fit->cov_n_points = c.n_points;
  /* Leave p at the estimates for any later use. */
  free(c.omega);
  free(e0);
  free(S0);
  free(c.fi);
  free(v0);
  free(v);
  free(h);
  free(H);
  free(S);
  free(fp);
  free(fm);
  free(gp);
  free(g);
  return rc;
}

/* The solves and EBE searches of every thread, summed: the covariance
 * step's share is the change over it. */
static void ws_counts(const pop *p, unsigned long *n)
{
  int t;
  memset(n, 0, 5 * sizeof *n);
  for (t = 0; t < p->n_threads; t++) {
    n[0] += p->ws[t].n_pred;
    n[1] += p->ws[t].n_pred_sens;
    n[2] += p->ws[t].n_newton;
    n[3] += p->ws[t].n_newton_fail;
    n[4] += p->ws[t].n_bobyqa;
  }
}

int pop_covariance(pop *p, rkin_popfit *fit, rkin_err *err)
{
  unsigned long n0[5], n1[5];
  clock_t t0 = clock();
  int rc;
  ws_counts(p, n0);
  rc = cov_run(p, fit, err);
  ws_counts(p, n1);
  fit->cov_cpu_s = (double)(clock() - t0) / CLOCKS_PER_SEC;
  fit->cov_n_pred = n1[0] - n0[0];
  fit->cov_n_pred_sens = n1[1] - n0[1];
  fit->cov_n_ebe_newton = n1[2] - n0[2];
  fit->cov_n_ebe_fallback = n1[3] - n0[3];
  fit->cov_n_ebe_bobyqa = n1[4] - n0[4];
  return rc;
}

int pop_cov_from_info(pop *p, rkin_popfit *fit, const double *info,
                      rkin_err *err)
{
  size_t n = p->n_est, i, j;
  fit->est = calloc(n + 1, sizeof(double));
  fit->se = calloc(n + 1, sizeof(double));
  fit->rse = calloc(n + 1, sizeof(double));
  fit->cov = calloc(n * n + 1, sizeof(double));
  fit->cov_r = calloc(n * n + 1, sizeof(double));
  fit->cov_s = calloc(n * n + 1, sizeof(double));
  fit->cov_sandwich = calloc(n * n + 1, sizeof(double));
  fit->corr = calloc(n * n + 1, sizeof(double));
  if (!fit->est || !fit->se || !fit->rse || !fit->cov || !fit->cov_r
      || !fit->cov_s || !fit->cov_sandwich || !fit->corr
      || name_params(p, fit))
    return rkin_err_set(err, RKIN_ENOMEM, "covariance step: out of memory");
  nat_from_fit(p, fit, fit->est);
  for (i = 0; i < n * n; i++)
    fit->cov_r[i] = fit->cov_s[i] = fit->cov_sandwich[i] = NAN;
  fit->cov_ok = 0;
  fit->cond_r = NAN;
  for (i = 0; i < n; i++)      /* symmetric: the mean of both halves */
    for (j = 0; j < n; j++)
      fit->cov[i * n + j] = 0.5 * (info[i * n + j] + info[j * n + i]);
  if (spd_inverse(fit->cov, n))
    return rkin_err_set(err, RKIN_ERANGE, "covariance step: the Fisher "
                        "information by stochastic approximation is not "
                        "positive definite (parameters not identifiable, "
                        "or too few iterations: raise se_iter)");
  for (i = 0; i < n; i++) {
    double v = fit->cov[i * n + i];
    if (!(v > 0) || !isfinite(v))
      return rkin_err_set(err, RKIN_ERANGE, "covariance step: the "
                          "variance of %s is %g (expected > 0)",
                          fit->est_names[i], v);
    fit->se[i] = sqrt(v);
    fit->rse[i] = fit->est[i] != 0 ? 100 * fit->se[i] / fabs(fit->est[i])
                                   : NAN;
  }
  for (i = 0; i < n; i++)
    for (j = 0; j < n; j++)
      fit->corr[i * n + j] = fit->cov[i * n + j] / (fit->se[i] * fit->se[j]);
  fit->cond = cond_number(fit->corr, n);
  return RKIN_OK;
}
