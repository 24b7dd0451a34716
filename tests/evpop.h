/* evpop.h - a population model with a state-triggered event, shared by
 * test_popsens_ev and bench_popsens_ev: one-compartment elimination of a
 * 10 nmol bolus at 0 h, A' = -k A + R, with the event "rescue": when A
 * falls below C = 4, an infusion starts, R = D (values at the trigger
 * time; R = 0 before). The crossing time moves with k; the observed A is
 * continuous across it (only its slope jumps, by D), so the likelihood is
 * continuous in the etas: a jump of the observed state at a moving event
 * (a redose A = A + D) makes it jump wherever a firing passes a sampling
 * time, pinning EBE modes there. theta = (log k, log D), an eta on each:
 * k = exp(lk + eta1), D = exp(lD + eta2); A observed with a proportional
 * error. Subjects simulated from the model itself (CVODES) with a fixed
 * seed. Header-only, for tests and benchmarks. */
#ifndef RKIN_EVPOP_H
#define RKIN_EVPOP_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#include "core/dosing.h"
#include "core/expr.h"
#include "core/model.h"
#include "pop/data.h"
#include "pop/popest.h"
#include "solve/solve.h"

enum { EVPOP_K, EVPOP_C, EVPOP_D, EVPOP_NP };
static const double EVPOP_TH[2] = {-2.302585092994046 /* log 0.1 */,
                                   -1.6094379124341003 /* log 0.2 */};
static const double EVPOP_OM[2] = {0.04, 0.09}, EVPOP_SIG = 0.1;
static const double EVPOP_TIMES[8] = {1, 3, 6, 9, 12, 16, 24, 36};

static inline rkin_model *evpop_model(void)
{
  static const char *const st[] = {"A", "R"};
  static const char *const pa[EVPOP_NP] = {"k", "C", "D"};
  static const double val[EVPOP_NP] = {0.1, 4, 0.2};
  static int target = 1;
  static rkin_node vals[1];
  rkin_graph *g = rkin_graph_new();
  rkin_node A = rkin_expr_state(g, 0), R = rkin_expr_state(g, 1);
  rkin_node k = rkin_expr_param(g, EVPOP_K), C = rkin_expr_param(g, EVPOP_C);
  rkin_node D = rkin_expr_param(g, EVPOP_D), d[2];
  rkin_model_spec sp;
  rkin_model_event ev;
  rkin_model *m;
  memset(&sp, 0, sizeof sp);
  memset(&ev, 0, sizeof ev);
  d[0] = rkin_expr_binary(g, RKIN_OP_SUB, R, rkin_expr_binary(
           g, RKIN_OP_MUL, k, A));
  d[1] = rkin_expr_const(g, 0);
  vals[0] = D;
  sp.name = "evpop";
  sp.n_states = 2;
  sp.states = st;
  sp.deriv = d;
  sp.n_params = EVPOP_NP;
  sp.params = pa;
  sp.values = val;
  ev.name = "rescue";
  ev.trigger = rkin_expr_binary(g, RKIN_OP_LT, A, C);
  ev.initial_value = 1;
  ev.persistent = 1;
  ev.from_trigger = 1;
  ev.delay = -1;
  ev.priority = -1;
  ev.n_assign = 1;
  ev.target = &target;
  ev.value = vals;
  m = rkin_model_new(&sp, g, NULL);
  if (m && rkin_model_set_events(m, &ev, 1, NULL)) {
    rkin_model_free(m);
    m = NULL;
  }
  return m;
}

/* The rkin_popmodel indiv callback: psi = (k, C, D). */
static inline int evpop_psi(const double *th, const double *eta,
                            const double *cov, double *psi, void *ud,
                            rkin_err *err)
{
  (void)cov;
  (void)ud;
  (void)err;
  psi[EVPOP_K] = exp(th[0] + eta[0]);
  psi[EVPOP_C] = 4;
  psi[EVPOP_D] = exp(th[1] + eta[1]);
  return 0;
}

/* n simulated subjects (seed): a dataset, NULL on failure. */
static inline rkin_data *evpop_data(const rkin_model *m, size_t n,
                                    unsigned long seed, rkin_err *err)
{
  gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
  rkin_solver *s = rkin_solver_new(m, NULL, err);
  size_t cap = 64 + n * 9 * 48, len = 0, i, j;
  char *text = malloc(cap);
  rkin_data *d = NULL;
  int bad = !r || !s || !text;
  if (r) gsl_rng_set(r, seed);
  if (!bad) len += (size_t)snprintf(text, cap, "ID,TIME,DV,AMT,CMT\n");
  for (i = 0; !bad && i < n; i++) {
    rkin_dosing *dose = rkin_dosing_new();
    rkin_dose d0 = {.time = 0, .amount = 10, .rate = 0, .cmt = 0};
    rkin_solve_req rq;
    rkin_solve_res rs;
    double eta[2], psi[EVPOP_NP], y[8 * 2];
    eta[0] = gsl_ran_gaussian(r, sqrt(EVPOP_OM[0]));
    eta[1] = gsl_ran_gaussian(r, sqrt(EVPOP_OM[1]));
    evpop_psi(EVPOP_TH, eta, NULL, psi, NULL, NULL);
    memset(&rq, 0, sizeof rq);
    memset(&rs, 0, sizeof rs);
    rq.t1 = EVPOP_TIMES[7];
    rq.params = psi;
    rq.dosing = dose;
    rq.times = EVPOP_TIMES;
    rq.n_times = 8;
    rs.y = y;
    bad = !dose || rkin_dosing_add(dose, &d0, err)
          || rkin_solver_run(s, &rq, &rs, err) != 0;
    rkin_dosing_free(dose);
    len += (size_t)snprintf(text + len, cap - len, "%zu,0,.,10,1\n", i + 1);
    for (j = 0; !bad && j < 8; j++)
      len += (size_t)snprintf(text + len, cap - len, "%zu,%g,%.6g,.,1\n",
                              i + 1, EVPOP_TIMES[j],
                              y[2 * j] * (1 + gsl_ran_gaussian(r,
                                                               EVPOP_SIG)));
  }
  if (!bad) d = rkin_data_parse(text, len, "evpop_sim.csv", NULL, err);
  free(text);
  rkin_solver_free(s);
  gsl_rng_free(r);
  return d;
}

/* The population model (initial values off the truth). */
static inline void evpop_popmodel(rkin_popmodel *pm, const rkin_model *m)
{
  static const char *const tn[] = {"lk", "lD"};
  static const char *const en[] = {"eta_lk", "eta_lD"};
  static double th0[2] = {-2.1, -1.4}, om0[4] = {0.1, 0, 0, 0.1};
  static double sg0[1] = {0.15};
  memset(pm, 0, sizeof *pm);
  pm->model = m;
  pm->output = -1;              /* state A */
  pm->n_theta = 2;
  pm->theta_names = tn;
  pm->theta_init = th0;
  pm->n_eta = 2;
  pm->eta_names = en;
  pm->omega_init = om0;
  pm->omega_diag = 1;
  pm->indiv = evpop_psi;
  pm->res = RKIN_RES_PROP;
  pm->sigma_init = sg0;
}

#endif
