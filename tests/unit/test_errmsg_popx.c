/* test_errmsg_popx.c - error messages of the population engine reached
 * only through its C functions (engine/pop: covariate declarations, the
 * bootstrap's draws, resampling and intervals, simulation from a fit,
 * SAEM's options), provoked one by one and their text asserted (issue 22
 * item 3). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/expr.h"
#include "core/init.h"
#include "core/model.h"
#include "pop/covdecl.h"
#include "pop/data.h"
#include "pop/popboot.h"
#include "pop/popsim.h"
#include "pop/saem.h"
#include "pop/vpop.h"
#include "../tap.h"
#include "../errmsg.h"

static void test_covdecl(void)
{
  const double lv[3] = {0, NAN, 1}, twice[3] = {0, 1, 1};
  rkin_covdecl c = {.name = "WT", .unit = "kg", .lo = 150, .hi = 30};
  BAD(rkin_covdecl_check(&c, &err), RKIN_EINVAL, "covariate WT: range [150, "
      "30] is invalid (expected finite lo <= hi)", "covdecl: lo > hi");
  c.name = "SEX";
  c.categorical = 1;
  c.levels = lv;
  c.n_levels = 3;
  BAD(rkin_covdecl_check(&c, &err), RKIN_EINVAL, "covariate SEX: level 2 = "
      "nan is not finite", "covdecl: a NaN level");
  c.levels = twice;
  BAD(rkin_covdecl_check(&c, &err), RKIN_EINVAL, "covariate SEX: level 1 is "
      "given twice", "covdecl: a level twice");
}

static void test_boot(void)
{
  const double strata[3] = {1, NAN, 2};
  const double rep[4] = {1, 2, 3, 4};
  size_t pick[3];
  rkin_boot_ci ci;
  char *out = NULL;
  size_t len;
  const char *noid = "SUBJ,TIME,DV\n1,0,1\n";
  const char *ok3 = "ID,TIME,DV\n1,0,1\n2,0,2\n";
  const char *short_rec = "TIME,DV,ID\n0,1,1\n0,2\n";
  const size_t far[2] = {0, 5};
  BAD(rkin_boot_pick(0, NULL, 1, 0, pick, &err), RKIN_EINVAL,
      "bootstrap: no subjects", "boot: no subjects");
  BAD(rkin_boot_pick(3, strata, 1, 0, pick, &err), RKIN_EINVAL,
      "bootstrap: subject 2 has no stratum value (missing or not finite)",
      "boot: a NaN stratum");
  BAD(rkin_boot_resample_csv(noid, strlen(noid), "d.csv", far, 1, &out,
                             &len, &err), RKIN_EINVAL,
      "d.csv:1: no ID column in the header", "boot: no ID column");
  free(out);
  out = NULL;
  BAD(rkin_boot_resample_csv(short_rec, strlen(short_rec), "d.csv", far, 1,
                             &out, &len, &err), RKIN_EINVAL,
      "d.csv:3: the record has 2 fields, no ID (column 3)",
      "boot: a record too short for its ID");
  free(out);
  out = NULL;
  BAD(rkin_boot_resample_csv(ok3, strlen(ok3), "d.csv", far, 2, &out, &len,
                             &err), RKIN_EINVAL,
      "d.csv: resampling draws subject 6 of 2", "boot: a draw beyond the "
      "subjects");
  free(out);
  BAD(rkin_boot_interval(rep, 4, 2.5, NULL, 0, 1.0, &ci, &err), RKIN_EINVAL,
      "bootstrap interval: level 1 (expected 0 < level < 1)",
      "boot interval: level 1");
  BAD(rkin_boot_interval(rep, 4, NAN, NULL, 0, 0.9, &ci, &err), RKIN_EINVAL,
      "bootstrap interval: the original estimate is not finite",
      "boot interval: a NaN estimate");
}

static int psi1(const double *th, const double *eta, const double *cov,
                double *psi, void *ud, rkin_err *e)
{
  (void)cov;
  (void)ud;
  (void)e;
  psi[0] = th[0] + eta[0];
  return 0;
}

static int pred1(const rkin_data_subject *s, const double *psi, double *f,
                 void *ud, rkin_err *e)
{
  size_t k;
  (void)ud;
  (void)e;
  for (k = 0; k < s->n_obs; k++) f[k] = psi[0];
  return 0;
}

static int psi_nan(const double *th, const double *eta, const double *cov,
                   double *psi, void *ud, rkin_err *e)
{
  (void)th;
  (void)eta;
  (void)cov;
  (void)ud;
  (void)e;
  psi[0] = NAN;
  return 0;
}

static int pred_neg(const rkin_data_subject *s, const double *psi,
                    double *f, void *ud, rkin_err *e)
{
  size_t k;
  (void)psi;
  (void)ud;
  (void)e;
  for (k = 0; k < s->n_obs; k++) f[k] = -1;
  return 0;
}

static void test_sim_saem(void)
{
  const char *txt = "ID,TIME,DV\n1,1,10\n1,2,11\n2,1,9\n2,2,9.5\n";
  static double th[1] = {10}, om[1] = {0.5}, sg[1] = {1};
  rkin_data *d = rkin_data_parse(txt, strlen(txt), "s.csv", NULL, &err);
  rkin_popmodel pm;
  rkin_popsim_opts so;
  rkin_popsim out;
  rkin_saem_opts sa, x;
  rkin_popfit fit;
  if (!d) {
    ok(0, "dataset: %s", err.msg);
    return;
  }
  memset(&pm, 0, sizeof pm);
  pm.predict = pred1;
  pm.indiv = psi1;
  pm.n_psi = 1;
  pm.n_theta = 1;
  pm.theta_init = th;
  pm.n_eta = 1;
  pm.omega_init = om;
  pm.res = RKIN_RES_ADD;
  pm.sigma_init = sg;
  memset(&so, 0, sizeof so);
  so.n_rep = 2;
  so.theta = th;
  so.omega = om;
  so.sigma = sg;
  BAD(rkin_popsim_run(&pm, d, &so, NULL, &err), RKIN_EINVAL,
      "simulation: NULL result", "simulation: no result");
  BAD(rkin_popsim_run(&pm, NULL, &so, &out, &err), RKIN_EINVAL,
      "simulation: NULL argument", "simulation: no dataset");
  rkin_popsim_free(&out);
  so.n_rep = 0;
  BAD(rkin_popsim_run(&pm, d, &so, &out, &err), RKIN_EINVAL,
      "simulation: 0 replicates (expected >= 1)", "simulation: 0 replicates");
  rkin_popsim_free(&out);
  so.n_rep = (size_t)1 << 40;
  BAD(rkin_popsim_run(&pm, d, &so, &out, &err), RKIN_ERANGE,
      "simulation: 1099511627776 replicates of 4 observations are too many",
      "simulation: too many replicates");
  rkin_popsim_free(&out);
  /* SAEM's options, checked before anything runs */
  rkin_saem_opts_default(&sa);
  BAD(rkin_popfit_saem(&pm, d, NULL, &sa, NULL, NULL, &err), RKIN_EINVAL,
      "rkin_popfit_saem: NULL result", "SAEM: no result");
  x = sa; x.iter = 0;
  BAD(rkin_popfit_saem(&pm, d, NULL, &x, &fit, NULL, &err), RKIN_EINVAL,
      "SAEM: burn = 300, iter = 0 (expected burn >= 0 and iter >= 1, each at "
      "most 1e6)", "SAEM: no iterations");
  ok(fit.status == RKIN_EINVAL && strstr(fit.err.msg, "iter = 0"),
     "... the fit is marked failed with the message");
  rkin_popfit_free(&fit);
  x = sa; x.chains = 0;
  BAD(rkin_popfit_saem(&pm, d, NULL, &x, &fit, NULL, &err), RKIN_EINVAL,
      "SAEM: chains = 0 (expected 1 to 1000)", "SAEM: no chains");
  rkin_popfit_free(&fit);
  x = sa; x.n_prior = x.n_comp = x.n_block = 0;
  BAD(rkin_popfit_saem(&pm, d, NULL, &x, &fit, NULL, &err), RKIN_EINVAL,
      "SAEM: kernel moves 0, 0, 0 (expected 0 to 100 each, not all 0)",
      "SAEM: no kernel moves");
  rkin_popfit_free(&fit);
  x = sa; x.imp_df = 5000;
  BAD(rkin_popfit_saem(&pm, d, NULL, &x, &fit, NULL, &err), RKIN_EINVAL,
      "SAEM: imp_samples = 1000, imp_df = 5000 (expected 0 to 1e7, and 0 to "
      "1000)", "SAEM: t proposal of 5000 degrees of freedom");
  rkin_popfit_free(&fit);
  x = sa; x.then = 99;
  BAD(rkin_popfit_saem(&pm, d, NULL, &x, &fit, NULL, &err), RKIN_EINVAL,
      "SAEM: then = 99 (expected -1 or an estimation method)",
      "SAEM: then an unknown method");
  rkin_popfit_free(&fit);
  /* the residual error model, checked as the fit is set up */
  {
    rkin_popmodel q = pm;
    static const double zero[1] = {0};
    q.res = (rkin_res_model)99;
    BAD(rkin_popfit_run(&q, d, NULL, &fit, &err), RKIN_EINVAL,
        "population model: error model 99 is not one of additive, "
        "proportional, combined (2 forms), power, additive + power",
        "fit: an unknown error model");
    rkin_popfit_free(&fit);
    {
      rkin_pop_endpoint ep = {.output = 0, .res = RKIN_RES_ADD};
      q = pm;
      q.n_endpoints = 1;
      q.endpoints = &ep;
      BAD(rkin_popfit_run(&q, d, NULL, &fit, &err), RKIN_EINVAL,
          "population model: sigma_init is required", "fit: an endpoint "
          "without sigma");
    }
    rkin_popfit_free(&fit);
    q = pm;
    q.sigma_init = zero;
    BAD(rkin_popfit_run(&q, d, NULL, &fit, &err), RKIN_EINVAL,
        "population model: sigma[0] = 0 (expected a residual SD > 0), the ",
        "fit: a zero residual SD");
    rkin_popfit_free(&fit);
    q = pm;
    q.n_endpoints = 2;
    BAD(rkin_popfit_run(&q, d, NULL, &fit, &err), RKIN_EINVAL,
        "population model: n_endpoints = 2 but no endpoints",
        "fit: endpoints counted but not given");
    rkin_popfit_free(&fit);
    {
      double ofv;
      q = pm;
      q.indiv = psi_nan;
      BAD(rkin_popest_ofv(&q, d, NULL, th, om, sg, &ofv, NULL, NULL, &err),
          RKIN_ENONFINITE, "subject ID 1: individual parameter ",
          "objective: an individual parameter NaN");
      ok(strstr(err.msg, "= nan is not finite") != NULL, "... its value "
         "named: %s", err.msg);
      q = pm;
      q.predict = pred_neg;
      q.log_scale = 1;
      BAD(rkin_popest_ofv(&q, d, NULL, th, om, sg, &ofv, NULL, NULL, &err),
          RKIN_ERANGE, "subject ID 1: prediction -1 at time 1 h (line 2) is "
          "not > 0, but the error model is on the log scale",
          "objective: a negative prediction on the log scale");
    }
    q = pm;
    q.blq = (rkin_blq_method)9;
    BAD(rkin_popfit_run(&q, d, NULL, &fit, &err), RKIN_EINVAL,
        "population model: blq = 9 (expected M3, M4, M1 or DV)",
        "fit: an unknown BLQ method");
    rkin_popfit_free(&fit);
  }
  rkin_data_free(d);
}

/* A virtual population's spec (engine/pop/vpop_pop.c): the matrices and
 * the functions' slots, on a one-state model dA/dt = -k A. */
static void test_pop_spec(void)
{
  static const char *states[] = {"A"}, *params[] = {"k"}, *cn[1] = {"W"};
  static const double values[] = {0.1};
  rkin_graph *g = rkin_graph_new();
  rkin_node d = rkin_expr_unary(
    g, RKIN_OP_NEG, rkin_expr_binary(g, RKIN_OP_MUL, rkin_expr_param(g, 0),
                                     rkin_expr_state(g, 0)));
  rkin_model_spec sp = {0};
  rkin_model *m;
  rkin_pop_spec ps;
  rkin_effect ef = {.param = 3, .cov = 0, .kind = RKIN_EFFECT_POWER,
                    .ref = 70, .beta = 0.75};
  rkin_pop_fn fn = {0};
  double om[1] = {-0.09}, th[1] = {NAN}, cr[4] = {1, 0.5, 0.4, 1};
  double cr1[1] = {2};
  static const char *cn2[2] = {"W", "H"};
  rkin_covdist cd[2] = {
    {.name = "W", .dist = RKIN_DIST_NORMAL, .mean = 70, .sd = 10,
     .lo = -INFINITY, .hi = INFINITY},
    {.name = "H", .dist = RKIN_DIST_NORMAL, .mean = 170, .sd = 10,
     .lo = -INFINITY, .hi = INFINITY}};
  sp.name = "one";
  sp.n_states = 1;
  sp.states = states;
  sp.deriv = &d;
  sp.n_params = 1;
  sp.params = params;
  sp.values = values;
  if (!(m = rkin_model_new(&sp, g, &err))) {
    ok(0, "population model (%s)", err.msg);
    return;
  }
  memset(&ps, 0, sizeof ps);
  ps.model = m;
  ps.theta = th;
  BAD(rkin_pop_check(&ps, &err), RKIN_EINVAL, "population: theta of 'k' is "
      "not finite", "pop spec: a NaN theta");
  th[0] = 0.1;
  ps.n_effects = 1;
  ps.effects = &ef;
  ps.n_cov = 1;
  ps.cov_names = cn;
  ps.cov = cd;
  BAD(rkin_pop_check(&ps, &err), RKIN_EINVAL, "population: effect 1 names "
      "parameter 3 / covariate 0, outside the model's 1 parameters / 1 "
      "covariates", "pop spec: an effect on parameter 3");
  ps.n_effects = 0;
  fn.fn = m;          /* one input (k), no output: slots not given */
  ps.individual = fn;
  BAD(rkin_pop_check(&ps, &err), RKIN_EINVAL, "population: individual: "
      "input or output slots missing", "pop spec: a function without slots");
  {
    static const size_t far[1] = {9};
    fn.arg = far;
    ps.individual = fn;
    BAD(rkin_pop_check(&ps, &err), RKIN_EINVAL, "population: individual: "
        "input 'k' reads slot 9 of 3", "pop spec: an input beyond the slots");
  }
  memset(&ps.individual, 0, sizeof ps.individual);
  ps.omega = om;
  BAD(rkin_pop_check(&ps, &err), RKIN_EINVAL, "population: omega[k][k] = "
      "-0.09: a diagonal entry must be a finite variance >= 0",
      "pop spec: a negative variance");
  ps.omega = NULL;
  ps.cov_corr = cr1;
  BAD(rkin_pop_check(&ps, &err), RKIN_EINVAL, "][W] = 2: a diagonal entry "
      "must be 1", "pop spec: a correlation diagonal of 2");
  ps.n_cov = 2;
  ps.cov_names = cn2;
  ps.cov_corr = cr;
  BAD(rkin_pop_check(&ps, &err), RKIN_EINVAL, " is not symmetric: [W][H] = "
      "0.5 but [H][W] = 0.4", "pop spec: an asymmetric correlation");
  cr[1] = cr[2] = NAN;
  BAD(rkin_pop_check(&ps, &err), RKIN_EINVAL, "[W][H] is not finite",
      "pop spec: a NaN correlation");
  rkin_model_free(m);
}

int main(void)
{
  rkin_init();
  test_covdecl();
  test_boot();
  test_sim_saem();
  test_pop_spec();
  done_testing();
  return exit_status();
}
