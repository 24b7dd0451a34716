/* test_popsens_cv.c - FOCE-I on an ODE model solved by CVODES: df/deta
 * from CVODES forward sensitivities (the default) gives the objective of
 * central differences (fd_grad) and of the exact path's analytic
 * sensitivities, on the Theophylline data (tests/data/theoph_nm.csv) at
 * nlme's fm3Theo.nlme estimates. The covariance step on the CVODES path:
 * its OFV carries noise of ~1e-5 (solver tolerance, EBE re-search), which
 * the relative step 1e-3 made into an R matrix not positive definite
 * (eigenvalue -1.5e5 along OMEGA(2,2) at these values); with steps sized
 * by the OFV's rise (popcov.c) it succeeds and its R^-1 SEs equal the
 * exact path's (noise-free OFV: a well-conditioned reference). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/init.h"
#include "pop/popest.h"
#include "solve/solve.h"
#include "../tap.h"
#include "../theoph.h"

/* nlme 3.1 fm3Theo.nlme (ML) estimates, as in test_popest.c. */
static const double THETA[3] = {-2.454704, 0.465736, -3.227223};
static const double SIGMA = 0.709254;
static const char *const THETA_NAMES[3] = {"lKe", "lKa", "lCl"};
static const char *const ETA_NAMES[2] = {"eta_lKa", "eta_lCl"};
static const char *const COV_WT[1] = {"WT"};

static void popmodel(rkin_popmodel *pm, const rkin_model *m,
                     const rkin_solve_opts *so)
{
  static double th0[3] = {-2.4, 0.45, -3.2}, om0[4] = {0.2, 0, 0, 0.05};
  static double sg0[1] = {0.5};
  memset(pm, 0, sizeof *pm);
  pm->model = m;
  pm->output = 0;
  pm->solve = so;
  pm->n_theta = 3;
  pm->theta_names = THETA_NAMES;
  pm->theta_init = th0;
  pm->n_eta = 2;
  pm->eta_names = ETA_NAMES;
  pm->omega_init = om0;
  pm->omega_diag = 1;
  pm->n_cov = 1;
  pm->cov_names = COV_WT;
  pm->indiv = theoph_psi_fn;
  pm->res = RKIN_RES_ADD;
  pm->sigma_init = sg0;
}

int main(void)
{
  rkin_err err;
  rkin_data *d;
  rkin_model *m;
  rkin_popmodel pc, pe;
  rkin_popfit_opts o;
  rkin_solve_opts so, se;
  double om[4] = {0.4, 0, 0, 0.03}, ocv, ofd, oex;
  int rc1, rc2, rc3;
  rkin_init();
  d = theoph_data(".", &err);
  m = theoph_model();
  if (!d || !m) {
    printf("Bail out! %s\n", d ? "model" : err.msg);
    return 1;
  }
  rkin_solve_opts_default(&so);
  so.path = RKIN_PATH_CVODES;
  so.rtol = 1e-8;
  so.atol = 1e-12;
  rkin_solve_opts_default(&se);
  se.path = RKIN_PATH_EXACT;
  popmodel(&pc, m, &so);
  popmodel(&pe, m, &se);
  rkin_popfit_opts_default(&o);
  o.method = RKIN_POP_FOCEI;
  o.threads = 1;
  rc1 = rkin_popest_ofv(&pc, d, &o, THETA, om, &SIGMA, &ocv, NULL, NULL,
                        &err);
  ok(rc1 == 0, "FOCE-I OFV on the CVODES path with forward sensitivities "
     "(%s)", rc1 ? err.msg : "ok");
  o.fd_grad = 1;
  rc2 = rkin_popest_ofv(&pc, d, &o, THETA, om, &SIGMA, &ofd, NULL, NULL,
                        &err);
  o.fd_grad = 0;
  rc3 = rkin_popest_ofv(&pe, d, &o, THETA, om, &SIGMA, &oex, NULL, NULL,
                        &err);
  ok(rc1 == 0 && rc2 == 0 && fabs(ocv - ofd) < 1e-4, "CVODES sensitivities "
     "OFV %.8f = central differences (step 1e-3) %.8f (abs. tol. 1e-4: the "
     "differences' truncation error)", ocv, ofd);
  /* measured 6.6e-7 (3.6e-6 when the EBE search handed the noise floor
   * to LBFGS and BOBYQA, before popsubj.c NEWTON_DEC) */
  ok(rc1 == 0 && rc3 == 0 && fabs(ocv - oex) < 2e-6, "CVODES sensitivities "
     "OFV %.8f = the exact path's analytic sensitivities %.8f (abs. tol. "
     "2e-6 at rtol 1e-8)", ocv, oex);
  {
    /* the covariance step on the CVODES path against the exact path's */
    rkin_popfit fc, fe;
    size_t k;
    int r1, r2;
    o.covariance = 1;
    r1 = rkin_popfit_evaluate(&pc, d, &o, THETA, om, &SIGMA, &fc, &err);
    r2 = rkin_popfit_evaluate(&pe, d, &o, THETA, om, &SIGMA, &fe, &err);
    ok(r1 == 0 && r2 == 0 && fc.cov_status == 0 && fe.cov_status == 0,
       "covariance step on both paths (%s; %s)", fc.cov_err.msg,
       fe.cov_err.msg);
    /* The Newton EBE search on CVODES' noise floor stops there
     * (popsubj.c NEWTON_DEC) instead of creeping along the noise or
     * handing the search to LBFGS and BOBYQA. Measured in the covariance
     * step: 91 OFV passes, 20 of 1092 searches handed over, 8.8 solves
     * a search, 9 s CPU (without the stop: 277, 76 and 89 s). */
    ok(r1 == 0 && fc.cov_n_points > 0 && fc.cov_n_ebe_newton
       + fc.cov_n_ebe_fallback == (unsigned long)fc.cov_n_points
       * fc.n_subj && fc.cov_n_pred_sens <= fc.n_pred_sens
       && fc.cov_n_ebe_newton <= fc.n_ebe_newton && fc.cov_cpu_s > 0,
       "covariance step counts: %d OFV passes x %zu subjects = %lu + %lu "
       "EBE searches; %lu of %lu solutions with sensitivities; %.2f s CPU",
       fc.cov_n_points, fc.n_subj, fc.cov_n_ebe_newton,
       fc.cov_n_ebe_fallback, fc.cov_n_pred_sens, fc.n_pred_sens,
       fc.cov_cpu_s);
    ok(r1 == 0 && fc.cov_n_ebe_fallback * 100 < 3 * fc.cov_n_points * fc.n_subj
       && fc.cov_n_pred_sens < 15 * fc.cov_n_ebe_newton,
       "CVODES path, covariance step: %lu of %lu EBE searches handed to "
       "LBFGS (< 3 %%), %.1f solutions per search (< 15)",
       fc.cov_n_ebe_fallback, fc.cov_n_ebe_newton + fc.cov_n_ebe_fallback,
       (double)fc.cov_n_pred_sens
       / (double)(fc.cov_n_ebe_newton + fc.cov_n_ebe_fallback));
    for (k = 0; r1 == 0 && r2 == 0 && fc.cov_status == 0
                && fe.cov_status == 0 && k < fc.n_est; k++) {
      double a = sqrt(fc.cov_r[k * fc.n_est + k]);
      double b = sqrt(fe.cov_r[k * fe.n_est + k]);
      ok(fabs(a / b - 1) < 0.01, "%s: R^-1 SE on CVODES %.6f vs exact path "
         "%.6f (ratio %.5f, tolerance 1 %%)", fc.est_names[k], a, b, a / b);
    }
    rkin_popfit_free(&fc);
    rkin_popfit_free(&fe);
  }
  rkin_model_free(m);
  rkin_data_free(d);
  done_testing();
  return exit_status();
}
