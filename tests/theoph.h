/* theoph.h - the Theophylline model shared by the population tests and
 * benchmarks: one compartment with first-order absorption (depot ->
 * central, conc = central / v), nlme's fm3Theo.nlme individual parameters
 * (ka = exp(lKa + eta1), CL = exp(lCl + eta2) WT, V = CL / exp(lKe)),
 * its closed form (the Bateman function) and tests/data/theoph_nm.csv.
 * Header-only, for the unit tests and the benchmarks. */
#ifndef RKIN_THEOPH_H
#define RKIN_THEOPH_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#include "pop/data.h"
#include "pop/popest.h"
#include "core/err.h"
#include "core/expr.h"
#include "core/model.h"

/* Amounts in mg, params ka (/h), cl (L/h), v (L): the model the DSL would
 * build, written here with the expression API. */
static inline rkin_model *theoph_model(void)
{
  static const char *const st[] = {"depot", "central"};
  static const char *const pa[] = {"ka", "cl", "v"};
  static const char *const on[] = {"conc"};
  static const double val[] = {1.5, 2.8, 32};
  rkin_graph *g = rkin_graph_new();
  rkin_node dep = rkin_expr_state(g, 0), cen = rkin_expr_state(g, 1);
  rkin_node ka = rkin_expr_param(g, 0), cl = rkin_expr_param(g, 1);
  rkin_node v = rkin_expr_param(g, 2), d[2], out[1], abs_;
  rkin_model_spec sp;
  memset(&sp, 0, sizeof sp);
  abs_ = rkin_expr_binary(g, RKIN_OP_MUL, ka, dep);
  d[0] = rkin_expr_unary(g, RKIN_OP_NEG, abs_);
  d[1] = rkin_expr_binary(g, RKIN_OP_SUB, abs_, rkin_expr_binary(
           g, RKIN_OP_MUL, rkin_expr_binary(g, RKIN_OP_DIV, cl, v), cen));
  out[0] = rkin_expr_binary(g, RKIN_OP_DIV, cen, v);
  sp.name = "theoph";
  sp.n_states = 2;
  sp.states = st;
  sp.deriv = d;
  sp.n_params = 3;
  sp.params = pa;
  sp.values = val;
  sp.n_outputs = 1;
  sp.outputs = on;
  sp.output_expr = out;
  return rkin_model_new(&sp, g, NULL);
}

/* nlme's SSfol on a per-kg dose, moved to mg: theta = (lKe, lKa, lCl),
 * eta = (eta_lKa, eta_lCl), cov = (WT); psi = (ka, cl, v). The
 * rkin_popmodel indiv callback. */
static inline int theoph_psi_fn(const double *th, const double *eta,
                                const double *cov, double *psi, void *ud,
                                rkin_err *err)
{
  (void)ud;
  (void)err;
  psi[0] = exp(th[1] + eta[0]);
  psi[1] = exp(th[2] + eta[1]) * cov[0];
  psi[2] = exp(th[2] + eta[1] - th[0]) * cov[0];
  return 0;
}

/* Bateman function of a single oral dose (the closed form of the model
 * above): conc = D ka / (V (ka - ke)) (e^-ke t - e^-ka t), ke = cl / v. */
static inline double theoph_bateman(double dose, double ka, double cl,
                                    double v, double t)
{
  double ke = cl / v;
  if (t <= 0) return 0;
  return dose * ka / (v * (ka - ke)) * (exp(-ke * t) - exp(-ka * t));
}

/* The closed form as a rkin_popmodel predict callback (the subject's first
 * dose only). */
static inline int theoph_bateman_pred(const rkin_data_subject *s,
                                      const double *psi, double *f,
                                      void *ud, rkin_err *err)
{
  const rkin_dose *r = rkin_dosing_record(s->seg[0].dosing, 0);
  size_t k;
  (void)ud;
  if (!r) return rkin_err_set(err, RKIN_EINVAL, "no dose");
  for (k = 0; k < s->n_obs; k++)
    f[k] = theoph_bateman(r->amount, psi[0], psi[1], psi[2],
                          s->time[k] - r->time);
  return 0;
}

/* The population model of nlme's fm3Theo.nlme over the closed form:
 * thetas (lKe, lKa, lCl), diagonal Omega on lKa and lCl, additive error,
 * WT the covariate; the starts of the SAEM tests and of test_popdist. */
static inline void theoph_popmodel_cf(rkin_popmodel *pm)
{
  static const char *const pn[3] = {"ka", "cl", "v"};
  static const char *const cw[1] = {"WT"};
  static const double theta0[3] = {-2.4, 0.45, -3.2};
  static const double omega0[4] = {0.2, 0, 0, 0.05};
  static const double sigma0[1] = {0.5};
  memset(pm, 0, sizeof *pm);
  pm->predict = theoph_bateman_pred;
  pm->n_psi = 3;
  pm->psi_names = pn;
  pm->n_theta = 3;
  pm->theta_init = theta0;
  pm->n_eta = 2;
  pm->omega_init = omega0;
  pm->omega_diag = 1;
  pm->n_cov = 1;
  pm->cov_names = cw;
  pm->indiv = theoph_psi_fn;
  pm->res = RKIN_RES_ADD;
  pm->sigma_init = sigma0;
}

/* tests/data/theoph_nm.csv below $RADIOKIN_SRCDIR, or below srcdir when
 * that is unset. NULL and err on failure. */
static inline rkin_data *theoph_data(const char *srcdir, rkin_err *err)
{
  const char *src = getenv("RADIOKIN_SRCDIR");
  char path[1024];
  snprintf(path, sizeof path, "%s/tests/data/theoph_nm.csv",
           src ? src : srcdir);
  return rkin_data_read(path, NULL, err);
}

/* CSV text (malloc'ed) of a simulated dataset of n subjects: WT uniform
 * on 60-90 kg, 4 mg/kg orally at t = 0, ten samples over 24 h of the
 * Bateman function plus N(0, sg^2); eta_i ~ N(0, sd_i^2). */
static inline char *theoph_simulate(gsl_rng *r, size_t n, const double *th,
                                    const double *sd, double sg)
{
  static const double times[] = {0.25, 0.5, 1, 2, 3.5, 5, 7, 9, 12, 24};
  size_t cap = 64 + n * 12 * 64, len = 0, i, j;
  char *t = malloc(cap);
  len += (size_t)snprintf(t + len, cap - len, "ID,TIME,DV,AMT,CMT,WT\n");
  for (i = 0; i < n; i++) {
    double wt = 60 + 30 * gsl_rng_uniform(r), dose = 4 * wt;
    double eta[2], psi[3], cov[1] = {wt};
    eta[0] = gsl_ran_gaussian(r, sd[0]);
    eta[1] = gsl_ran_gaussian(r, sd[1]);
    theoph_psi_fn(th, eta, cov, psi, NULL, NULL);
    len += (size_t)snprintf(t + len, cap - len, "%zu,0,.,%g,1,%g\n", i + 1,
                            dose, wt);
    for (j = 0; j < 10; j++) {
      double c = theoph_bateman(dose, psi[0], psi[1], psi[2], times[j]);
      len += (size_t)snprintf(t + len, cap - len, "%zu,%g,%.5f,.,2,%g\n",
                              i + 1, times[j], c + gsl_ran_gaussian(r, sg),
                              wt);
    }
  }
  return t;
}

#endif
