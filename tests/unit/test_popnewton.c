/* test_popnewton.c - the Newton search of the EBEs (popsubj.c
 * newton_search): the same modes, objectives and fits as the LBFGS search
 * it replaced (opts.inner_lbfgs), on Theophylline through the exact path
 * (additive error, df/deta from forward sensitivities) and through the
 * closed-form predictor (both combined errors, df/deta by differences;
 * FOCE-I, FOCE without interaction, Laplace-I), with no
 * search handed to LBFGS and fewer solutions; on the CVODES path it stops
 * at the solver's noise floor. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_errno.h>
#include <gsl/gsl_linalg.h>

#include "core/init.h"
#include "core/model.h"
#include "pop/chol2.h"
#include "pop/data.h"
#include "pop/popest.h"
#include "pop/popest_impl.h"
#include "solve/solve.h"
#include "../tap.h"
#include "../theoph.h"

/* Near nlme's ML estimates (test_popest.c), so that the EBEs spread. */
static const double TH[3] = {-2.45, 0.47, -3.23};
static const double OM[4] = {0.42, 0, 0, 0.028};

/* Evaluation at (TH, OM, sg) by Newton and by LBFGS alone: OFV to 1e-7,
 * every EBE to 1e-6 (both searches stop at steps of 1e-9 in whitened
 * eta), every search ended by Newton. */
static void same_eval(const rkin_popmodel *pm, const rkin_data *d,
                      rkin_pop_method m, const double *sg, const char *what)
{
  rkin_popfit_opts o;
  rkin_popfit fn, fl;
  rkin_err en, el;
  size_t k;
  double de = 0;
  int rn, rl;
  rkin_popfit_opts_default(&o);
  o.method = m;
  o.threads = 1;
  o.covariance = 0;
  rn = rkin_popfit_evaluate(pm, d, &o, TH, OM, sg, &fn, &en);
  o.inner_lbfgs = 1;
  rl = rkin_popfit_evaluate(pm, d, &o, TH, OM, sg, &fl, &el);
  ok(rn == 0 && rl == 0, "%s: both evaluations run (%s / %s)", what,
     rn ? en.msg : "ok", rl ? el.msg : "ok");
  if (rn || rl) return;
  for (k = 0; k < fn.n_subj * fn.n_eta; k++)
    if (fabs(fn.eta[k] - fl.eta[k]) > de) de = fabs(fn.eta[k] - fl.eta[k]);
  ok(fabs(fn.ofv - fl.ofv) < 1e-7, "%s: OFV Newton %.10f = LBFGS %.10f "
     "(tol. 1e-7)", what, fn.ofv, fl.ofv);
  ok(de < 1e-6, "%s: EBEs Newton = LBFGS (max diff %.2g, tol. 1e-6)", what,
     de);
  ok(fn.n_ebe_newton > 0 && fn.n_ebe_fallback == 0 && fl.n_ebe_newton == 0
     && fl.n_ebe_fallback == 0, "%s: %lu searches by Newton, %lu handed to "
     "LBFGS (none expected); LBFGS alone: %lu, %lu", what, fn.n_ebe_newton,
     fn.n_ebe_fallback, fl.n_ebe_newton, fl.n_ebe_fallback);
  rkin_popfit_free(&fn);
  rkin_popfit_free(&fl);
}

/* theoph_popmodel_cf's thetas, Omega, error and covariate over the ODE
 * model (exact path) instead of the closed form. */
static void theoph_ode_popmodel(rkin_popmodel *pm, const rkin_model *m)
{
  theoph_popmodel_cf(pm);
  pm->predict = NULL;
  pm->n_psi = 0;
  pm->psi_names = NULL;
  pm->model = m;
  pm->output = 0;
}

/* The whole FOCE-I fit with the covariance step (bench_popfit's): -2LL
 * to 1e-6, estimates to 1e-4 relative (BOBYQA's precision), SEs to 1 %,
 * and fewer solutions with sensitivities. */
static void test_fit(const rkin_data *d)
{
  rkin_model *m = theoph_model();
  rkin_popmodel pm;
  rkin_popfit_opts o;
  rkin_popfit fn, fl;
  rkin_err en, el;
  double de = 0, ds = 0;
  size_t k;
  int rn, rl;
  theoph_ode_popmodel(&pm, m);
  same_eval(&pm, d, RKIN_POP_FOCEI, NULL, "Theophylline exact path FOCE-I");
  rkin_popfit_opts_default(&o);
  o.threads = 1;
  rn = rkin_popfit_run(&pm, d, &o, &fn, &en);
  o.inner_lbfgs = 1;
  rl = rkin_popfit_run(&pm, d, &o, &fl, &el);
  ok(rn == 0 && rl == 0 && fn.status == 0 && fl.status == 0
     && fn.cov_status == 0 && fl.cov_status == 0, "Theophylline fits and "
     "covariance steps, Newton and LBFGS (%s / %s)",
     rn ? en.msg : fn.status ? fn.err.msg : "ok",
     rl ? el.msg : fl.status ? fl.err.msg : "ok");
  if (!rn && !rl && !fn.status && !fl.status && !fn.cov_status
      && !fl.cov_status) {
    for (k = 0; k < fn.n_est; k++) {
      double e = fabs(fn.est[k] - fl.est[k]) / fabs(fl.est[k]);
      double s = fabs(fn.se[k] / fl.se[k] - 1);
      if (e > de) de = e;
      if (s > ds) ds = s;
    }
    ok(fabs(fn.m2ll - fl.m2ll) < 1e-6, "-2LL Newton %.10f = LBFGS %.10f "
       "(tol. 1e-6)", fn.m2ll, fl.m2ll);
    ok(de < 1e-4, "estimates Newton = LBFGS (max rel. diff %.2g, tol. "
       "1e-4)", de);
    ok(ds < 0.01, "SEs Newton = LBFGS (max rel. diff %.2g, tol. 1 %%)", ds);
    ok(fn.n_ebe_fallback == 0, "no search handed to LBFGS (%lu of %lu)",
       fn.n_ebe_fallback, fn.n_ebe_newton + fn.n_ebe_fallback);
    /* measured: 3.2 (Newton with the kept secant correction; 4.6 without
     * it, 5.9 by LBFGS) */
    ok((double)fn.n_pred_sens / (double)fn.n_ebe_newton < 4.0,
       "solutions with sensitivities per Newton search %.2f (< 4; %lu in "
       "all, LBFGS alone %lu)",
       (double)fn.n_pred_sens / (double)fn.n_ebe_newton, fn.n_pred_sens,
       fl.n_pred_sens);
  }
  rkin_popfit_free(&fn);
  rkin_popfit_free(&fl);
  rkin_model_free(m);
}

/* The closed-form predictor (df/deta by differences) with the SD moving
 * with the prediction: sqrt(a^2 + b^2 f^2) and a + b f under FOCE-I,
 * Laplace-I and FOCE (the residual variance at eta = 0). */
static void test_cf(const rkin_data *d)
{
  rkin_popmodel pm;
  static const double sg_comb[2] = {0.3, 0.1};
  theoph_popmodel_cf(&pm);
  pm.res = RKIN_RES_COMB;
  pm.sigma_init = sg_comb;
  same_eval(&pm, d, RKIN_POP_FOCEI, sg_comb, "closed form, combined error, "
            "FOCE-I");
  same_eval(&pm, d, RKIN_POP_LAPLACEI, sg_comb, "closed form, combined "
            "error, Laplace-I");
  pm.res = RKIN_RES_COMB1;
  same_eval(&pm, d, RKIN_POP_FOCE, sg_comb, "closed form, combined error "
            "a + b f, FOCE");
  same_eval(&pm, d, RKIN_POP_FOCEI, sg_comb, "closed form, combined error "
            "a + b f, FOCE-I");
}

/* The CVODES path at its default tolerances (rtol 1e-6): the inner
 * objective carries the solver's noise, on which the full Newton step
 * near the mode is refused; the search stops there (popsubj.c NEWTON_DEC)
 * rather than creeping along the noise or handing over to LBFGS. */
static void test_cvodes(const rkin_data *d)
{
  rkin_model *m = theoph_model();
  rkin_popmodel pm;
  rkin_popfit_opts o;
  rkin_solve_opts so;
  rkin_popfit fn, fl;
  rkin_err en, el;
  static const double sg[1] = {0.7};
  int rn, rl;
  rkin_solve_opts_default(&so);
  so.path = RKIN_PATH_CVODES;
  theoph_ode_popmodel(&pm, m);
  pm.solve = &so;
  rkin_popfit_opts_default(&o);
  o.threads = 1;
  o.covariance = 0;
  rn = rkin_popfit_evaluate(&pm, d, &o, TH, OM, sg, &fn, &en);
  o.inner_lbfgs = 1;
  rl = rkin_popfit_evaluate(&pm, d, &o, TH, OM, sg, &fl, &el);
  ok(rn == 0 && rl == 0, "CVODES path: both evaluations run (%s / %s)",
     rn ? en.msg : "ok", rl ? el.msg : "ok");
  if (!rn && !rl) {
    /* measured: 0 of 72 handed over, 9.1 solves a search (11 of 72 and
     * 62 without the stop); OFVs 1.6e-6 apart (3.1e-6 without it) */
    ok(fn.n_ebe_newton > 0 && fn.n_ebe_fallback == 0
       && fn.n_ebe_bobyqa == 0, "CVODES path: %lu searches by Newton, %lu "
       "handed to LBFGS, %lu to BOBYQA (none expected)", fn.n_ebe_newton,
       fn.n_ebe_fallback, fn.n_ebe_bobyqa);
    ok((double)fn.n_pred_sens / (double)fn.n_ebe_newton < 15,
       "CVODES path: %.1f solutions with sensitivities per Newton search "
       "(< 15; LBFGS alone %lu in all, Newton %lu)",
       (double)fn.n_pred_sens / (double)fn.n_ebe_newton, fl.n_pred_sens,
       fn.n_pred_sens);
    /* both end within the solver's noise of the same modes */
    ok(fabs(fn.ofv - fl.ofv) < 1e-5, "CVODES path: OFV Newton %.10f = "
       "LBFGS %.10f (tol. 1e-5: noise of rtol 1e-6)", fn.ofv, fl.ofv);
    /* the secant update from the step a search ends on is noise: never
     * kept for the subject's next search */
    ok(fn.n_ebe_floor > 0 && fn.n_ebe_floor <= fn.n_ebe_newton
       && fn.n_ebe_floor_sr1 == 0, "CVODES path: %lu of %lu searches "
       "ended on the noise floor, %lu secant updates taken from their "
       "last step (none expected)", fn.n_ebe_floor, fn.n_ebe_newton,
       fn.n_ebe_floor_sr1);
  }
  rkin_popfit_free(&fn);
  rkin_popfit_free(&fl);
  rkin_model_free(m);
}

/* Theophylline with DV and AMT in other units (x 1000: ug/L and ug). */
static rkin_data *theoph_x1000(rkin_err *err)
{
  const char *src = getenv("RADIOKIN_SRCDIR");
  char path[1024], line[512], *text, *tok, *save;
  size_t cap = 1 << 16, len = 0;
  FILE *fp;
  rkin_data *d;
  snprintf(path, sizeof path, "%s/tests/data/theoph_nm.csv",
           src ? src : ".");
  fp = fopen(path, "r");
  text = malloc(cap);
  if (!fp || !text) {
    if (fp) fclose(fp);
    free(text);
    rkin_err_set(err, RKIN_EIO, "%s: cannot read", path);
    return NULL;
  }
  while (fgets(line, sizeof line, fp) && len + 512 < cap) {
    int col = 0;
    line[strcspn(line, "\r\n")] = 0;
    if (line[0] == '#' || !strncmp(line, "ID,", 3)) {
      len += (size_t)snprintf(text + len, cap - len, "%s\n", line);
      continue;
    }
    for (tok = strtok_r(line, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save), col++) {
      const char *sep = col ? "," : "";
      if ((col == 2 || col == 3) && strcmp(tok, "."))
        len += (size_t)snprintf(text + len, cap - len, "%s%.17g", sep,
                                1000 * atof(tok));
      else
        len += (size_t)snprintf(text + len, cap - len, "%s%s", sep, tok);
    }
    len += (size_t)snprintf(text + len, cap - len, "\n");
  }
  fclose(fp);
  d = rkin_data_parse(text, len, "theoph_x1000.csv", NULL, err);
  free(text);
  return d;
}

/* The noise-floor stop is free of the data's units: concentrations and
 * doses x 1000 (sigma x 1000) give the same objective up to the constant
 * n log 1e6 of the log variance, the same EBEs and nearly the same
 * solves on CVODES (rtol 1e-6), whose steps and noise change a little
 * with the states' scale (atol): measured 2.5e-4 in the OFV (CVODES' own
 * error: 1.9e-4 and 5.5e-5 off the exact path's), 1.2e-6 in the EBEs,
 * 653 / 620 solves; on the exact path 570 / 570 and 6e-10.
 * The earlier scale (1 + |J|) took in that constant, 11 log 1e6 = 152 a
 * subject. */
static void test_units(const rkin_data *d)
{
  rkin_model *m = theoph_model();
  rkin_popmodel pm;
  rkin_popfit_opts o;
  rkin_solve_opts so;
  rkin_popfit f1, f2;
  rkin_err e1, e2;
  rkin_data *dk = theoph_x1000(&e2);
  static const double sg1[1] = {0.7}, sg2[1] = {700};
  double de = 0;
  size_t k;
  int r1, r2;
  rkin_solve_opts_default(&so);
  so.path = RKIN_PATH_CVODES;
  theoph_ode_popmodel(&pm, m);
  pm.solve = &so;
  rkin_popfit_opts_default(&o);
  o.threads = 1;
  o.covariance = 0;
  r1 = rkin_popfit_evaluate(&pm, d, &o, TH, OM, sg1, &f1, &e1);
  r2 = dk ? rkin_popfit_evaluate(&pm, dk, &o, TH, OM, sg2, &f2, &e2) : -1;
  ok(r1 == 0 && r2 == 0, "units: both evaluations run (%s / %s)",
     r1 ? e1.msg : "ok", r2 ? e2.msg : "ok");
  if (!r1 && !r2) {
    for (k = 0; k < f1.n_subj * f1.n_eta; k++)
      if (fabs(f1.eta[k] - f2.eta[k]) > de) de = fabs(f1.eta[k] - f2.eta[k]);
    /* n_obs log(1000^2): the log variance's constant */
    ok(fabs(f2.ofv - f1.ofv - (double)f1.n_obs * log(1e6)) < 1e-3,
       "units: OFV x1000 %.8f = %.8f + %zu log 1e6 (tol. 1e-3: CVODES' "
       "error at rtol 1e-6)", f2.ofv, f1.ofv, f1.n_obs);
    ok(de < 1e-5, "units: EBEs the same (max diff %.2g, tol. 1e-5)", de);
    ok(fabs((double)f1.n_pred_sens - (double)f2.n_pred_sens)
       < 0.1 * (double)f1.n_pred_sens && f1.n_ebe_floor > 0
       && f2.n_ebe_floor > 0 && f1.n_ebe_fallback == 0
       && f2.n_ebe_fallback == 0, "units: solves %lu / %lu (within 10 %%), "
       "searches ended on the noise floor %lu / %lu, none handed over "
       "(%lu / %lu)", f1.n_pred_sens, f2.n_pred_sens, f1.n_ebe_floor,
       f2.n_ebe_floor, f1.n_ebe_fallback, f2.n_ebe_fallback);
    rkin_popfit_free(&f2);
  }
  if (!r1) rkin_popfit_free(&f1);
  rkin_data_free(dk);
  rkin_model_free(m);
}

/* A Hessian that overestimates the curvature: every subject's secant
 * correction set to kappa I (on the eta scale), as a noise-dominated
 * secant update can leave it, and the search started at eta = 0. The
 * predicted decrease -slope / 2 is then tiny far from the mode, which
 * must not pass for the noise floor (the gradient guard), nor the step
 * for converged (NEWTON_XTOL, from 1e11 I on): the EBEs and the OFV are
 * those of a search with a sound Hessian (without the guards: EBEs 0.19
 * and 0.5 off, OFV 3.0 and 35 higher). CVODES at rtol 1e-3: a noise
 * floor far above rounding, which the stop follows (no search handed
 * over). */
static void test_overestimate(const rkin_data *d)
{
  rkin_model *m = theoph_model();
  rkin_popmodel pm;
  rkin_popfit_opts o;
  rkin_solve_opts so;
  rkin_popfit fit;
  rkin_err err;
  pop *p = NULL;
  double ofv1 = 0, ofv2 = 0, de, *mode = NULL;
  static const double sg[1] = {0.7}, kappa[2] = {1e10, 1e12};
  size_t s, a, q = 2, k;
  int rc;
  rkin_solve_opts_default(&so);
  so.path = RKIN_PATH_CVODES;
  so.rtol = 1e-3;
  theoph_ode_popmodel(&pm, m);
  pm.solve = &so;
  rkin_popfit_opts_default(&o);
  o.threads = 1;
  o.covariance = 0;
  o.ebe_starts = RKIN_EBE_SINGLE;
  rc = pop_fit_begin(&pm, d, &o, &fit, "test", &p, &err);
  if (!rc) rc = pop_set_natural(p, TH, OM, sg, &err);
  if (!rc) rc = pop_pass(p, POP_TASK_OFV, &ofv1, &err);
  ok(rc == 0 && p->ws[0].n_floor > 0 && p->ws[0].n_newton_fail == 0,
     "CVODES at rtol 1e-3 (%s): %lu of %lu Newton searches ended on the "
     "noise floor, %lu handed over (none expected)", rc ? err.msg : "ok",
     p ? p->ws[0].n_floor : 0, p ? p->ws[0].n_newton : 0,
     p ? p->ws[0].n_newton_fail : 0);
  if (!rc) mode = malloc(p->n_subj * q * sizeof *mode);
  if (mode) memcpy(mode, p->eta_hat, p->n_subj * q * sizeof *mode);
  for (k = 0; mode && k < 2; k++) {
    unsigned long nf = p->ws[0].n_floor, nn = p->ws[0].n_newton;
    for (s = 0; s < p->n_subj; s++)
      for (a = 0; a < q * q; a++) {
        p->ebe_S[s * q * q + a] = a % (q + 1) ? 0 : kappa[k];
        p->eta_hat[s * q + a % q] = 0;
      }
    rc = pop_pass(p, POP_TASK_OFV, &ofv2, &err);
    de = 0;
    for (s = 0; !rc && s < p->n_subj * q; s++)
      if (fabs(p->eta_hat[s] - mode[s]) > de)
        de = fabs(p->eta_hat[s] - mode[s]);
    /* measured 1.4e-4 and 3.4e-4 (1e10), 1.2e-4 and 1.4e-5 (1e12): two
     * searches on rtol 1e-3's floor */
    ok(rc == 0 && de < 1e-3 && fabs(ofv2 - ofv1) < 1e-2,
       "overestimated Hessian (%g I): EBEs from zero as with a sound one "
       "(max diff %.2g, tol. 1e-3), OFV %.8f vs %.8f (tol. 1e-2); %lu of "
       "%lu Newton searches ended on the noise floor", kappa[k], de, ofv2,
       ofv1, p->ws[0].n_floor - nf, p->ws[0].n_newton - nn);
  }
  free(mode);
  if (p) pop_free(p);
  rkin_popfit_free(&fit);
  rkin_model_free(m);
}

/* The Newton step's 2 x 2 Cholesky solve (chol2.c) against GSL's
 * decomp1 + svx, which it writes out: the same solution to the bit and
 * the same refusals, over 200000 symmetric matrices (scales 1e-3..1e3,
 * correlations up to 1.05: some indefinite), so the fit's Newton steps
 * are GSL's. */
static void test_chol2(void)
{
  gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
  gsl_error_handler_t *old = gsl_set_error_handler_off();
  long n, diff = 0, refused = 0;
  for (n = 0; n < 200000; n++) {
    double a = gsl_rng_uniform_pos(r) * pow(10, 6 * gsl_rng_uniform(r) - 3);
    double dd = gsl_rng_uniform_pos(r) * pow(10, 6 * gsl_rng_uniform(r) - 3);
    double c = (2 * gsl_rng_uniform(r) - 1) * sqrt(a * dd) * 1.05;
    double H[4] = {a, c, c, dd}, G[4] = {a, c, c, dd};
    double b[2] = {gsl_rng_uniform(r) - 0.5, 3 * gsl_rng_uniform(r) - 1};
    double x[2] = {b[0], b[1]}, y[2] = {7, 7};
    gsl_matrix_view Gm = gsl_matrix_view_array(G, 2, 2);
    gsl_vector_view xv = gsl_vector_view_array(x, 2);
    int rg = gsl_linalg_cholesky_decomp1(&Gm.matrix), rm;
    if (!rg) gsl_linalg_cholesky_svx(&Gm.matrix, &xv.vector);
    rm = pop_chol2_solve(H, b, y);
    refused += rm != 0;
    diff += (rg != 0) != (rm != 0)
            || (!rg && (x[0] != y[0] || x[1] != y[1]))
            || (rg && (y[0] != 7 || y[1] != 7));
  }
  gsl_set_error_handler(old);
  gsl_rng_free(r);
  ok(diff == 0 && refused > 1000, "2 x 2 Cholesky solve = GSL's decomp1 + "
     "svx to the bit, refusals alike (%ld of 200000 differ; %ld not "
     "positive definite)", diff, refused);
}

int main(void)
{
  rkin_err err;
  rkin_data *d;
  rkin_init();
  d = theoph_data(".", &err);
  if (!d) {
    printf("Bail out! tests/data/theoph_nm.csv: %s\n", err.msg);
    return 1;
  }
  test_chol2();
  test_fit(d);
  test_cf(d);
  test_cvodes(d);
  test_units(d);
  test_overestimate(d);
  rkin_data_free(d);
  done_testing();
  return exit_status();
}
