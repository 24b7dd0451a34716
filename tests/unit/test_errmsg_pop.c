/* test_errmsg_pop.c - error messages of population evaluation
 * (engine/pop/popeval.c) and of the covariance step (popcov.c), provoked
 * one by one and their text asserted (issue 22 item 3). The model is a
 * straight line a + b t with additive error (two etas). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/init.h"
#include "pop/data.h"
#include "pop/popest.h"
#include "../tap.h"

static rkin_err err;

static int line_psi(const double *th, const double *eta, const double *cov,
                    double *psi, void *ud, rkin_err *e)
{
  (void)cov;
  (void)ud;
  (void)e;
  psi[0] = th[0] + eta[0];
  psi[1] = th[1] + eta[1];
  return 0;
}

static int line_pred(const rkin_data_subject *s, const double *psi,
                     double *f, void *ud, rkin_err *e)
{
  size_t k;
  (void)ud;
  (void)e;
  for (k = 0; k < s->n_obs; k++) f[k] = psi[0] + psi[1] * s->time[k];
  return 0;
}

static double TH[2] = {9, -0.5}, OM[4] = {0.5, 0.1, 0.1, 0.05}, SG[1] = {1};
static const char *const TH_NAMES[2] = {"intercept", "slope"};

static void line_model(rkin_popmodel *pm)
{
  memset(pm, 0, sizeof *pm);
  pm->predict = line_pred;
  pm->n_psi = 2;
  pm->n_theta = 2;
  pm->theta_init = TH;
  pm->n_eta = 2;
  pm->omega_init = OM;
  pm->indiv = line_psi;
  pm->res = RKIN_RES_ADD;
  pm->sigma_init = SG;
}

/* n subjects of a fixed, slightly scattered line (no random numbers). */
static rkin_data *line_data(size_t n)
{
  char t[8192];
  size_t len = 0, i, j;
  rkin_data *d;
  len += (size_t)snprintf(t + len, sizeof t - len, "ID,TIME,DV\n");
  for (i = 0; i < n; i++)
    for (j = 0; j < 4; j++)
      len += (size_t)snprintf(t + len, sizeof t - len, "%zu,%zu,%g\n", i + 1,
                              j + 1, 10.0 + 0.3 * (double)i - 0.8 * (double)j
                              + 0.2 * ((i + j) % 3 == 0 ? 1 : -1));
  d = rkin_data_parse(t, strlen(t), "line.csv", NULL, &err);
  if (!d) diag("data: %s", err.msg);
  return d;
}

static void test_evaluate(void)
{
  rkin_popmodel pm;
  rkin_popfit_opts o;
  rkin_popfit ev;
  rkin_data *d = line_data(12);
  double nan_th[2] = {NAN, -0.5}, nan_om[4] = {NAN, 0, 0, 0.05};
  double asym[4] = {0.5, 0.1, 0.0, 0.05}, sg0 = 0;
  double dg[4] = {0.5, 0, 0, 0.05};
  int rc;
  line_model(&pm);
  rkin_popfit_opts_default(&o);
  o.threads = 1;
  o.covariance = 0;

  rkin_err_clear(&err);
  rc = rkin_popfit_evaluate(&pm, d, &o, TH, OM, SG, NULL, &err);
  is_int(rc, RKIN_EINVAL, "evaluate: no result structure");
  like(err.msg, "rkin_popfit_evaluate: NULL result", "... message");

  rc = rkin_popfit_evaluate(&pm, d, &o, TH, OM, SG, &ev, &err);
  is_int(rc, 0, "evaluate: the base case works");
  ok(ev.cov_status != 0, "evaluate without covariance: no covariance");
  like(ev.cov_err.msg, "covariance step not run", "... and cov_err says "
       "the step was not run");
  rkin_popfit_free(&ev);

  rc = rkin_popfit_evaluate(&pm, d, &o, nan_th, OM, SG, &ev, &err);
  is_int(rc, RKIN_EINVAL, "evaluate: theta NaN");
  like(err.msg, "evaluation: THETA1 = nan (expected a finite value)",
       "... named THETA1 without names");
  rkin_popfit_free(&ev);
  pm.theta_names = TH_NAMES;
  rc = rkin_popfit_evaluate(&pm, d, &o, nan_th, OM, SG, &ev, &err);
  like(err.msg, "evaluation: theta intercept = nan (expected a finite "
       "value)", "... by its name when the model names thetas");
  rkin_popfit_free(&ev);

  rc = rkin_popfit_evaluate(&pm, d, &o, TH, nan_om, SG, &ev, &err);
  is_int(rc, RKIN_EINVAL, "evaluate: omega NaN");
  like(err.msg, "evaluation: omega(1,1) = nan (expected a finite number)",
       "... names the element");
  rkin_popfit_free(&ev);
  rc = rkin_popfit_evaluate(&pm, d, &o, TH, asym, SG, &ev, &err);
  like(err.msg, "evaluation: omega is not symmetric: (1,2) = 0.1 but (2,1) "
       "= 0", "omega not symmetric: both elements named");
  rkin_popfit_free(&ev);
  rc = rkin_popfit_evaluate(&pm, d, &o, TH, OM, &sg0, &ev, &err);
  like(err.msg, "evaluation: sigma[0] = 0 (expected a residual SD > 0)",
       "sigma 0: named, with what was expected");
  rkin_popfit_free(&ev);
  pm.omega_diag = 1;
  pm.omega_init = dg;
  rc = rkin_popfit_evaluate(&pm, d, &o, TH, OM, SG, &ev, &err);
  like(err.msg, "evaluation: omega(1,2) = 0.1, but the model's Omega is "
       "diagonal: that element is 0", "a covariance in a diagonal Omega");
  rkin_popfit_free(&ev);
  rkin_data_free(d);
}

/* Covariance step from the S matrix alone with fewer subjects than
 * estimated parameters (2 thetas, 3 omega elements, 1 sigma = 6; 3
 * subjects): S, a sum of 3 outer products, has rank <= 3. */
static void test_cov_s(void)
{
  rkin_popmodel pm;
  rkin_popfit_opts o;
  rkin_popfit ev;
  rkin_data *d = line_data(3);
  int rc;
  line_model(&pm);
  rkin_popfit_opts_default(&o);
  o.threads = 1;
  o.covariance = 1;
  o.cov_matrix = RKIN_COV_S;
  rc = rkin_popfit_evaluate(&pm, d, &o, TH, OM, SG, &ev, &err);
  is_int(rc, 0, "evaluate with S covariance on 3 subjects runs");
  ok(ev.cov_status != 0, "... the covariance step fails");
  like(ev.cov_err.msg, "covariance step: the S matrix (cross-product of the "
       "subjects' gradients) is singular: fewer informative subjects than "
       "parameters?", "... saying why");
  rkin_popfit_free(&ev);
  rkin_data_free(d);
}

int main(void)
{
  rkin_init();
  test_evaluate();
  test_cov_s();
  done_testing();
  return exit_status();
}
