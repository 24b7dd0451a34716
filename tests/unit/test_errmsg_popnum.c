/* test_errmsg_popnum.c - numerical and set-up failures of population fits
 * (engine/pop: the FO / FOCE objective terms, Omega, endpoints, the
 * residual variance, expression-built parameters, NLopt), provoked with
 * models and data that make them fail, their text asserted and the
 * failure checked to lose nothing: an error code, no NaN passed on as a
 * result (issue 22 item 3). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/expr.h"
#include "core/init.h"
#include "core/model.h"
#include "pop/data.h"
#include "pop/popest.h"
#include "pop/popsim.h"
#include "pop/saem.h"
#include "pop/vpop.h"
#include "../tap.h"
#include "../errmsg.h"

/* f = theta * exp(eta) * scale, scale from ud (1 when NULL) */
static int psi_exp(const double *th, const double *eta, const double *cov,
                   double *psi, void *ud, rkin_err *e)
{
  (void)cov;
  (void)ud;
  (void)e;
  psi[0] = th[0] * exp(eta[0]);
  return 0;
}

static int pred_scaled(const rkin_data_subject *s, const double *psi,
                       double *f, void *ud, rkin_err *e)
{
  size_t k;
  double sc = ud ? *(const double *)ud : 1;
  (void)e;
  for (k = 0; k < s->n_obs; k++) f[k] = psi[0] * sc;
  return 0;
}

/* f = psi + offset: df/deta stays about 1 however large f is */
static int pred_offset(const rkin_data_subject *s, const double *psi,
                       double *f, void *ud, rkin_err *e)
{
  size_t k;
  (void)e;
  for (k = 0; k < s->n_obs; k++) f[k] = psi[0] + *(const double *)ud;
  return 0;
}

static rkin_data *parse(const char *txt, const rkin_data_opts *o)
{
  rkin_data *d = rkin_data_parse(txt, strlen(txt), "n.csv", o, &err);
  if (!d) ok(0, "dataset: %s", err.msg);
  return d;
}

static void base_model(rkin_popmodel *pm, const double *th, const double *om,
                       const double *sg)
{
  memset(pm, 0, sizeof *pm);
  pm->predict = pred_scaled;
  pm->indiv = psi_exp;
  pm->n_psi = 1;
  pm->n_theta = 1;
  pm->theta_init = th;
  pm->n_eta = 1;
  pm->omega_init = om;
  pm->res = RKIN_RES_ADD;
  pm->sigma_init = sg;
}

/* The FO objective term of a subject whose squared residual overflows:
 * log det C + r' C^-1 r is +inf and must be refused, not summed. */
static void test_fo_terms(void)
{
  const char *txt = "ID,TIME,DV\n1,1,1\n1,2,1\n1,3,1\n2,1,2\n2,2,1\n";
  static const double th[1] = {1}, om[1] = {0.1}, sg[1] = {1};
  static const double th_big[1] = {1e10}, om1[1] = {1}, sg_tiny[1] = {1e-10};
  double huge = 1e200, big = 9e153, ofv = 0, ofv_i[2] = {0, 0};
  rkin_popmodel pm;
  rkin_popfit_opts o;
  rkin_data *d = parse(txt, NULL);
  if (!d) return;
  base_model(&pm, th, om, sg);
  pm.predict_ud = &huge;
  rkin_popfit_opts_default(&o);
  o.method = RKIN_POP_FO;
  o.threads = 1;
  /* additive error: V = 1 whatever f, the squared residual overflows */
  BAD(rkin_popest_ofv(&pm, d, &o, th, om, sg, &ofv, NULL, ofv_i, &err),
      RKIN_ENONFINITE, "subject ID 1 (line 2): prediction 1e+200: the "
      "observation's likelihood is not finite", "FO: a residual of 1e200 "
      "(r^2 overflows)");
  ok(!(isinf(ofv) && ofv > 0), "... no infinite objective handed back "
     "(%g)", ofv);
  /* each r^2 = 8.1e307 (and 2 r^2) is finite, the sum of 3 is not */
  pm.predict = pred_offset;
  pm.predict_ud = &big;
  ofv = 0;
  BAD(rkin_popest_ofv(&pm, d, &o, th, om, sg, &ofv, NULL, ofv_i, &err),
      RKIN_ENONFINITE, "subject ID 1: objective term is not finite",
      "FO: three residuals of 9e153 (their r'C^-1r overflows)");
  ok(isfinite(ofv), "... no infinite objective handed back (%g)", ofv);
  /* Two observations with the same df/deta = 1e10 and V = 1e-20: C =
   * 1e20 [1 1; 1 1] + 1e-20 I is singular in doubles. */
  base_model(&pm, th_big, om1, sg_tiny);
  BAD(rkin_popest_ofv(&pm, d, &o, th_big, om1, sg_tiny, &ofv, NULL, NULL,
                      &err), RKIN_ENONFINITE, "subject ID 1: marginal "
      "covariance G Omega G' + V is not positive definite",
      "FO: a marginal covariance singular in doubles");
  /* proportional error, prediction 0: V = (b f)^2 = 0 */
  {
    double zero = 0;
    base_model(&pm, th, om, sg);
    pm.res = RKIN_RES_PROP;
    pm.predict_ud = &zero;
    BAD(rkin_popest_ofv(&pm, d, &o, th, om, sg, &ofv, NULL, NULL, &err),
        RKIN_ERANGE, "subject ID 1 (line 2): prediction 0: the residual "
        "variance is not > 0", "proportional error, prediction 0");
  }
  rkin_data_free(d);
}

/* Omega given to the objective: symmetric and positive definite. */
static void test_omega(void)
{
  const char *txt = "ID,TIME,DV\n1,1,1\n1,2,1\n2,1,2\n2,2,1\n";
  static const double th[1] = {1}, sg[1] = {1};
  static const double asym[4] = {0.1, 0.01, 0.02, 0.1};
  static const double npd[4] = {0.1, 0.2, 0.2, 0.1};
  rkin_popmodel pm;
  rkin_popfit fit;
  rkin_data *d = parse(txt, NULL);
  if (!d) return;
  base_model(&pm, th, asym, sg);
  pm.n_eta = 2;
  BAD(rkin_popfit_run(&pm, d, NULL, &fit, &err), RKIN_EINVAL,
      "population model: omega is not symmetric: entry (1,2) = 0.01 but (2,1) "
      "= 0.02",
      "fit: an asymmetric omega_init");
  rkin_popfit_free(&fit);
  pm.omega_init = npd;
  BAD(rkin_popfit_run(&pm, d, NULL, &fit, &err), RKIN_EINVAL,
      "population model: omega is not positive definite (expected variances > 0 and "
      "|correlations| < 1)", "fit: omega_init with correlation 2");
  rkin_popfit_free(&fit);
  {
    static const double nan_om[4] = {0.1, 0, 0, NAN};
    pm.omega_init = nan_om;
    BAD(rkin_popfit_run(&pm, d, NULL, &fit, &err), RKIN_EINVAL,
        "population model: omega(2,2) = nan is not finite",
        "fit: a NaN variance in omega_init");
    rkin_popfit_free(&fit);
  }
  rkin_data_free(d);
}

/* NLopt's BOBYQA refuses bounds narrower than twice its first step. */
static void test_bobyqa(void)
{
  const char *txt = "ID,TIME,DV\n1,1,1\n1,2,1.2\n2,1,0.9\n2,2,1\n";
  static const double th[1] = {1}, om[1] = {0.1}, sg[1] = {0.2};
  static const double lo[1] = {0.99}, hi[1] = {1.01};
  rkin_popmodel pm;
  rkin_popfit_opts o;
  rkin_popfit fit;
  rkin_data *d = parse(txt, NULL);
  if (!d) return;
  base_model(&pm, th, om, sg);
  pm.theta_lower = lo;
  pm.theta_upper = hi;
  rkin_popfit_opts_default(&o);
  o.method = RKIN_POP_FO;
  o.threads = 1;
  o.covariance = 0;
  is_int(rkin_popfit_run(&pm, d, &o, &fit, &err), 0, "narrow bounds: the "
         "fit runs");
  is_int(fit.status, RKIN_EOPTIM, "... and fails");
  like(fit.err.msg, "population fit: NLopt BOBYQA failed: INVALID_ARGS "
       "(insufficient space between the bounds: 1.01 - 0.99 < 0.2): the "
       "bounds of a free theta must be at least 0.2 x its initial value "
       "apart", "... message says why and what to change");
  like(fit.cov_err.msg, "covariance step not run (not asked for, or the "
       "fit stopped before it)", "... covariance step not run (covariance "
       "= 0)");
  rkin_popfit_free(&fit);
  BAD(rkin_popfit_run(&pm, d, &o, NULL, &err), RKIN_EINVAL,
      "rkin_popfit_run: NULL result (expected a rkin_popfit to fill)",
      "fit: no result to fill");
  rkin_data_free(d);
}

/* Individual parameters built from expressions (graph + psi_expr): leaves
 * theta, eta, covariates only, and a finite value. */
static void test_expr_psi(void)
{
  const char *txt = "ID,TIME,DV\n1,1,1\n1,2,1\n2,1,2\n2,2,1\n";
  static const double th[1] = {0}, om[1] = {0.1}, sg[1] = {1};
  rkin_graph *g = rkin_graph_new();
  rkin_node lg = rkin_expr_unary(g, RKIN_OP_LOG, rkin_expr_param(g, 0));
  rkin_node st = rkin_expr_state(g, 0), far = rkin_expr_param(g, 5);
  rkin_popmodel pm;
  rkin_popfit_opts o;
  rkin_popfit fit;
  double ofv = 0;
  rkin_data *d = parse(txt, NULL);
  if (!d) return;
  base_model(&pm, th, om, sg);
  pm.indiv = NULL;
  pm.graph = g;
  pm.psi_expr = &st;
  BAD(rkin_popfit_run(&pm, d, NULL, &fit, &err), RKIN_EINVAL,
      "population model: the expression of individual parameter 1 uses a "
      "state or time (expected theta, eta and covariates only)",
      "expression psi: a state");
  rkin_popfit_free(&fit);
  pm.psi_expr = &far;
  BAD(rkin_popfit_run(&pm, d, NULL, &fit, &err), RKIN_EINVAL,
      "population model: the expression of individual parameter 1 uses "
      "parameter leaf 5 (expected < 2: theta, eta, covariates)",
      "expression psi: a leaf beyond theta, eta and covariates");
  rkin_popfit_free(&fit);
  /* psi = log(theta) + eta at theta = 0 */
  lg = rkin_expr_binary(g, RKIN_OP_ADD, lg, rkin_expr_param(g, 1));
  pm.psi_expr = &lg;
  rkin_popfit_opts_default(&o);
  o.method = RKIN_POP_FO;
  o.threads = 1;
  BAD(rkin_popest_ofv(&pm, d, &o, th, om, sg, &ofv, NULL, NULL, &err),
      RKIN_ENONFINITE, "subject ID 1: individual parameter psi[0] = -inf is not "
      "finite", "expression psi: log of theta = 0");
  rkin_data_free(d);
  rkin_graph_free(g);
}

/* A covariate the parameters use, blank on every record of a subject. */
static void test_cov_missing(void)
{
  const char *txt = "ID,TIME,DV,WT\n1,1,1,70\n1,2,1,70\n2,1,2,\n2,2,1,\n";
  static const double th[1] = {1}, om[1] = {0.1}, sg[1] = {1};
  static const char *cn[1] = {"WT"};
  rkin_popmodel pm;
  rkin_popfit fit;
  rkin_data *d = parse(txt, NULL);
  if (!d) return;
  base_model(&pm, th, om, sg);
  pm.n_cov = 1;
  pm.cov_names = cn;
  BAD(rkin_popfit_run(&pm, d, NULL, &fit, &err), RKIN_EINVAL,
      "subject ID 2 (line 4): covariate WT is missing on all its records",
      "a covariate blank for a whole subject");
  rkin_popfit_free(&fit);
  rkin_data_free(d);
}

/* IOV: the occasion column holds integers. */
static void test_iov_occ(void)
{
  const char *txt = "ID,TIME,DV,OCC\n1,1,1,1\n1,2,1,1.5\n2,1,2,1\n2,2,1,2\n";
  static const double th[1] = {1}, om[1] = {0.1}, sg[1] = {1};
  static const int occ[1] = {1};
  rkin_popmodel pm;
  rkin_popfit fit;
  rkin_data *d = parse(txt, NULL);
  if (!d) return;
  base_model(&pm, th, om, sg);
  pm.eta_occ = occ;
  BAD(rkin_popfit_run(&pm, d, NULL, &fit, &err), RKIN_EINVAL,
      "n.csv:3: column 4 (OCC): occasion 1.5 of subject ID 1 is not an "
      "integer (IOV: an integer occasion index on every record)",
      "IOV: occasion 1.5");
  rkin_popfit_free(&fit);
  rkin_data_free(d);
}

/* Simulation from a fit: a proportional error at a prediction of 0 has no
 * residual SD to draw from. */
static void test_sim_sd(void)
{
  const char *txt = "ID,TIME,DV\n1,1,1\n1,2,1\n2,1,2\n2,2,1\n";
  static const double th[1] = {1}, om[1] = {0.1}, sg[1] = {0.2};
  double zero = 0;
  rkin_popmodel pm;
  rkin_popsim_opts so;
  rkin_popsim out;
  rkin_data *d = parse(txt, NULL);
  if (!d) return;
  base_model(&pm, th, om, sg);
  pm.res = RKIN_RES_PROP;
  pm.predict_ud = &zero;
  memset(&so, 0, sizeof so);
  so.n_rep = 2;
  so.theta = th;
  so.omega = om;
  so.sigma = sg;
  BAD(rkin_popsim_run(&pm, d, &so, &out, &err), RKIN_ERANGE,
      "replicate 1: subject ID 1 (line 2): prediction 0: the residual SD is "
      "not > 0 and finite", "simulation: proportional error at f = 0");
  rkin_popsim_free(&out);
  rkin_data_free(d);
}

/* Endpoints of a model fit: each names an output or a state of the model,
 * all of one kind; a record's DVID selects one of them. */
static void test_endpoints(void)
{
  static const char *states[] = {"A"}, *params[] = {"k"};
  static const char *outs[] = {"C", "D", "E"};
  static const char *onames[] = {"C", "D", "E"};
  static const double values[] = {0.1};
  static const double th[1] = {0.1}, om[1] = {0.1}, sg[1] = {1};
  const char *txt = "ID,TIME,AMT,DV,EVID,CMT,DVID\n1,0,100,.,1,A,.\n"
                    "1,1,.,90,0,.,1\n1,2,.,80,0,.,3\n";
  rkin_graph *g = rkin_graph_new();
  rkin_node k = rkin_expr_param(g, 0), a = rkin_expr_state(g, 0);
  rkin_node dd = rkin_expr_unary(g, RKIN_OP_NEG,
                                 rkin_expr_binary(g, RKIN_OP_MUL, k, a));
  rkin_node oe[3];
  rkin_model_spec sp = {0};
  rkin_model *m;
  rkin_popmodel pm;
  rkin_popfit fit;
  rkin_pop_endpoint ep[2] = {{.output = 0, .res = RKIN_RES_ADD,
                              .sigma_init = sg},
                             {.output = 1, .res = RKIN_RES_ADD,
                              .sigma_init = sg}};
  rkin_data_opts dop;
  rkin_data *d;
  oe[0] = oe[1] = oe[2] = a;
  sp.name = "one";
  sp.n_states = 1;
  sp.states = states;
  sp.deriv = &dd;
  sp.n_params = 1;
  sp.params = params;
  sp.values = values;
  sp.n_outputs = 3;
  sp.outputs = outs;
  sp.output_expr = oe;
  if (!(m = rkin_model_new(&sp, g, &err))) {
    ok(0, "endpoint model (%s)", err.msg);
    return;
  }
  memset(&dop, 0, sizeof dop);
  dop.n_states = 1;
  dop.state_names = states;
  dop.n_outputs = 3;
  dop.output_names = onames;
  d = parse(txt, &dop);
  if (!d) {
    rkin_model_free(m);
    return;
  }
  base_model(&pm, th, om, sg);
  pm.predict = NULL;
  pm.indiv = psi_exp;
  pm.model = m;
  pm.n_endpoints = 2;
  pm.endpoints = ep;
  BAD(rkin_popfit_run(&pm, d, NULL, &fit, &err), RKIN_EINVAL,
      "subject ID 1 (line 4): the record observes output 3 (DVID / CMT), "
      "which no endpoint of the fit predicts", "endpoints: a record of "
      "DVID 3 when the endpoints observe outputs 1 and 2");
  rkin_popfit_free(&fit);
  ep[1].output = 7;
  BAD(rkin_popfit_run(&pm, d, NULL, &fit, &err), RKIN_EINVAL,
      "population model: endpoint 2 observes 7, not an output (0 .. 3 - 1) "
      "or a state (-1 .. -1) of model 'one'", "endpoints: output 7 of 3");
  rkin_popfit_free(&fit);
  ep[1].output = -1;
  BAD(rkin_popfit_run(&pm, d, NULL, &fit, &err), RKIN_EINVAL,
      "population model: endpoint 2 observes a state but endpoint 1 an "
      "output: the endpoints must all be model outputs or all states",
      "endpoints: an output and a state");
  rkin_popfit_free(&fit);
  rkin_data_free(d);
  rkin_model_free(m);
}

/* SAEM: a subject's likelihood that overflows (three squared residuals of
 * 8.1e307), and a chained method with more endpoints than it holds. */
static void test_saem(void)
{
  const char *txt = "ID,TIME,DV\n1,1,1\n1,2,1\n1,3,1\n2,1,2\n2,2,1\n2,3,1\n";
  static const double th[1] = {1}, om[1] = {0.1}, sg[1] = {1};
  double big = 9e153;
  rkin_popmodel pm;
  rkin_popfit_opts o;
  rkin_saem_opts sa;
  rkin_popfit fit;
  int rc;
  rkin_data *d = parse(txt, NULL);
  if (!d) return;
  base_model(&pm, th, om, sg);
  pm.predict = pred_offset;
  pm.predict_ud = &big;
  rkin_popfit_opts_default(&o);
  o.threads = 1;
  rkin_saem_opts_default(&sa);
  sa.burn = 2;
  sa.iter = 2;
  rkin_err_clear(&err);
  rc = rkin_popfit_saem(&pm, d, &o, &sa, &fit, NULL, &err);
  ok(rc != 0 || fit.status != 0, "SAEM: an overflowing likelihood fails "
     "(rc %d, status %d)", rc, fit.status);
  is_int(fit.status, RKIN_ENONFINITE, "... status: not finite");
  like(fit.err.msg, "subject ID 1: likelihood is not finite", "... message "
       "names the subject");
  rkin_popfit_free(&fit);
  {
    static rkin_pop_endpoint ep[65];
    const char *t2 = "ID,TIME,DV,DVID\n1,1,1,1\n1,2,1.2,1\n2,1,0.9,1\n"
                     "2,2,1.1,1\n";
    rkin_data *d2 = parse(t2, NULL);
    size_t e;
    if (!d2) return;
    for (e = 0; e < 65; e++) {
      ep[e].output = 0;
      ep[e].res = RKIN_RES_ADD;
      ep[e].sigma_init = sg;
    }
    base_model(&pm, th, om, sg);
    pm.n_endpoints = 65;
    pm.endpoints = ep;
    sa.then = RKIN_POP_FOCEI;
    sa.imp_samples = 0;
    rkin_err_clear(&err);
    rc = rkin_popfit_saem(&pm, d2, &o, &sa, &fit, NULL, &err);
    is_int(rc, RKIN_EINVAL, "SAEM then FOCE-I with 65 endpoints fails");
    is_int(fit.status, RKIN_EINVAL, "... the fit is marked failed");
    like(err.msg, "SAEM: 65 endpoints, but a chained method (then) takes at "
         "most 64", "... message says the limit");
    like(fit.err.msg, "SAEM: 65 endpoints", "... also in the fit");
    is_int(fit.n_eval, 0, "... refused before SAEM runs");
    rkin_popfit_free(&fit);
    rkin_data_free(d2);
  }
  rkin_data_free(d);
}

/* Virtual populations (engine/pop/vpop.c, vpop_pop.c) on dA/dt = -k A
 * with a second parameter v, and a function y = log(x) of one input. */
static rkin_model *two_param_model(void)
{
  static const char *states[] = {"A"}, *params[] = {"k", "v"};
  static const double values[] = {0.1, 2};
  rkin_graph *g = rkin_graph_new();
  rkin_node d = rkin_expr_unary(
    g, RKIN_OP_NEG, rkin_expr_binary(g, RKIN_OP_MUL, rkin_expr_param(g, 0),
                                     rkin_expr_state(g, 0)));
  rkin_model_spec sp = {0};
  sp.name = "two";
  sp.n_states = 1;
  sp.states = states;
  sp.deriv = &d;
  sp.n_params = 2;
  sp.params = params;
  sp.values = values;
  return rkin_model_new(&sp, g, &err);
}

static rkin_model *log_fn(void)
{
  static const char *params[] = {"x"}, *outs[] = {"y"}, *st[] = {"u"};
  static const double values[] = {1};
  rkin_graph *g = rkin_graph_new();
  rkin_node y = rkin_expr_unary(g, RKIN_OP_LOG, rkin_expr_param(g, 0));
  rkin_node z = rkin_expr_const(g, 0);
  rkin_model_spec sp = {0};
  sp.name = "f";
  sp.n_states = 1;     /* ignored: a model needs one */
  sp.states = st;
  sp.deriv = &z;
  sp.n_params = 1;
  sp.params = params;
  sp.values = values;
  sp.n_outputs = 1;
  sp.outputs = outs;
  sp.output_expr = &y;
  return rkin_model_new(&sp, g, &err);
}

static void test_vpop(void)
{
  rkin_model *m = two_param_model(), *f = log_fn();
  static const double neg[2] = {-1, 2}, cv[2] = {0.3, 0};
  static const double asym[4] = {0.1, 0.01, 0.02, 0.1};
  static const double wide[4] = {4, 0, 0, 4}, th_big[2] = {1e308, 2};
  static const double th_zero[2] = {0, 2};
  static const char *cn[1] = {"W"};
  static const size_t arg0[1] = {0}, out5[1] = {5}, out0[1] = {0};
  double par[2 * 50], cov_nan[1] = {NAN};
  rkin_pop_spec ps;
  if (!m || !f) {
    ok(0, "vpop models (%s)", err.msg);
    rkin_model_free(m);
    rkin_model_free(f);
    return;
  }
  BAD(rkin_vpop_sample(m, neg, cv, 1, 3, par, &err), RKIN_EINVAL,
      "cohort: parameter 'k' has cv 0.3, so its typical value must be > 0 "
      "for log-normal variability (got -1)", "cohort: cv on a negative k");
  memset(&ps, 0, sizeof ps);
  ps.model = m;
  ps.omega = asym;
  BAD(rkin_pop_check(&ps, &err), RKIN_EINVAL, "population: omega is not "
      "symmetric: [k][v] = 0.01 but [v][k] = 0.02", "population: an "
      "asymmetric omega");
  /* k = 1e308 exp(eta), eta of SD 2: some patient's k overflows */
  ps.omega = wide;
  ps.theta = th_big;
  ps.threads = 1;
  BAD(rkin_pop_sample(&ps, 7, 50, NULL, par, NULL, NULL, &err),
      RKIN_ENONFINITE, "parameter 'k' is not finite (theta 1e+308, eta ",
      "population: k overflows");
  ps.omega = NULL;
  ps.theta = th_zero;
  ps.n_cov = 1;
  ps.cov_names = cn;
  BAD(rkin_pop_sample(&ps, 7, 1, NULL, par, NULL, NULL, &err), RKIN_EINVAL,
      "population: covariate 'W' has no distribution to sample from (give it "
      "one, or read the covariates from a table)", "population: a covariate "
      "without a distribution or a table");
  BAD(rkin_pop_sample(&ps, 7, 1, cov_nan, par, NULL, NULL, &err),
      RKIN_EINVAL, "covariate 'W' is not a finite number",
      "population: a NaN covariate in the table");
  ps.n_cov = 0;
  ps.individual.fn = f;
  ps.individual.arg = arg0;
  ps.individual.out = out5;
  BAD(rkin_pop_check(&ps, &err), RKIN_EINVAL, "population: individual: "
      "output 'y' writes target 5 of 2", "population: an output past the "
      "parameters");
  ps.individual.out = out0;
  BAD(rkin_pop_sample(&ps, 7, 1, NULL, par, NULL, NULL, &err),
      RKIN_ENONFINITE, "the individual function returns a non-finite 'y' "
      "(inputs: x = 0)", "population: log of theta 0");
  rkin_model_free(f);
  rkin_model_free(m);
}

/* psi and d psi / d eta from expressions (psi_deta: the tape of both) on
 * a model's exact path: psi = theta + eta at theta = 0 is finite, the
 * derivative given as log(theta) is not; predict_grad then takes central
 * differences, as after any failure of the sensitivity path. */
static void test_psi_deta(void)
{
  static const char *states[] = {"A"}, *params[] = {"k"};
  static const double values[] = {0.1};
  static const double th[1] = {0}, om[1] = {0.1}, sg[1] = {1};
  const char *txt = "ID,TIME,AMT,DV,EVID,CMT\n1,0,100,.,1,A\n1,1,.,90,0,.\n"
                    "1,2,.,80,0,.\n2,0,100,.,1,A\n2,1,.,91,0,.\n";
  rkin_graph *mg = rkin_graph_new(), *g = rkin_graph_new();
  rkin_node dd = rkin_expr_unary(
    mg, RKIN_OP_NEG, rkin_expr_binary(mg, RKIN_OP_MUL,
                                      rkin_expr_param(mg, 0),
                                      rkin_expr_state(mg, 0)));
  rkin_node psi = rkin_expr_binary(g, RKIN_OP_ADD, rkin_expr_param(g, 0),
                                   rkin_expr_param(g, 1));
  /* a derivative given wrong, and not finite: log(theta) */
  rkin_node dpsi = rkin_expr_unary(g, RKIN_OP_LOG, rkin_expr_param(g, 0));
  rkin_model_spec sp = {0};
  rkin_model *m;
  rkin_popmodel pm;
  rkin_popfit_opts o;
  rkin_data_opts dop;
  rkin_data *d;
  double ofv = 0;
  sp.name = "one";
  sp.n_states = 1;
  sp.states = states;
  sp.deriv = &dd;
  sp.n_params = 1;
  sp.params = params;
  sp.values = values;
  if (!(m = rkin_model_new(&sp, mg, &err))) {
    ok(0, "psi_deta model (%s)", err.msg);
    rkin_graph_free(g);
    return;
  }
  memset(&dop, 0, sizeof dop);
  dop.n_states = 1;
  dop.state_names = states;
  if (!(d = parse(txt, &dop))) {
    rkin_model_free(m);
    rkin_graph_free(g);
    return;
  }
  base_model(&pm, th, om, sg);
  pm.predict = NULL;
  pm.indiv = NULL;
  pm.model = m;
  pm.output = -1;
  pm.graph = g;
  pm.psi_expr = &psi;
  pm.psi_deta = &dpsi;
  rkin_popfit_opts_default(&o);
  o.method = RKIN_POP_FO;
  o.threads = 1;
  /* the sensitivity path's failure falls back to central differences of
   * psi, which are finite: the objective is computed */
  rkin_err_clear(&err);
  is_int(rkin_popest_ofv(&pm, d, &o, th, om, sg, &ofv, NULL, NULL, &err), 0,
         "psi_deta not finite: finite differences instead (%s)", err.msg);
  ok(isfinite(ofv), "... a finite objective (%g)", ofv);
  rkin_data_free(d);
  rkin_model_free(m);
  rkin_graph_free(g);
}

int main(void)
{
  rkin_init();
  test_fo_terms();
  test_omega();
  test_bobyqa();
  test_expr_psi();
  test_cov_missing();
  test_iov_occ();
  test_sim_sd();
  test_endpoints();
  test_saem();
  test_vpop();
  test_psi_deta();
  done_testing();
  return exit_status();
}
