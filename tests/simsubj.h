/* simsubj.h - simulating subjects of an ODE population model and fitting
 * them, as test_ss_sens_cv and the population benchmarks do: one
 * subject's solution at its sampling times, and the rkin_popmodel of two
 * log-normal etas (diagonal Omega) with a proportional error.
 * Header-only, for the unit tests and the benchmarks. */
#ifndef RKIN_SIMSUBJ_H
#define RKIN_SIMSUBJ_H

#include <string.h>

#include "core/dosing.h"
#include "pop/popest.h"
#include "solve/solve.h"

/* States (y, when not NULL) and outputs (out, when not NULL) at times
 * (n_times) of a run over [0, t1] at psi with dosing. */
static inline int simsubj_solve(rkin_solver *s, const double *psi,
                                const rkin_dosing *dosing, double t1,
                                const double *times, size_t n_times,
                                double *y, double *out, rkin_err *err)
{
  rkin_solve_req rq;
  rkin_solve_res rs;
  memset(&rq, 0, sizeof rq);
  memset(&rs, 0, sizeof rs);
  rq.t1 = t1;
  rq.params = psi;
  rq.dosing = dosing;
  rq.times = times;
  rq.n_times = n_times;
  rs.y = y;
  rs.out = out;
  return rkin_solver_run(s, &rq, &rs, err);
}

/* pm over model m (output: the output index, or -1 - a state index;
 * solve: NULL for the defaults): n_theta thetas named tn from th0, two
 * etas with the diagonal Omega om0 (2 x 2), indiv(ud) the individual
 * parameters, a proportional error from sg0. */
static inline void simsubj_popmodel(rkin_popmodel *pm, const rkin_model *m,
                                    int output, const rkin_solve_opts *solve,
                                    size_t n_theta, const char *const *tn,
                                    const double *th0, const double *om0,
                                    rkin_pop_indiv_fn indiv, void *ud,
                                    const double *sg0)
{
  memset(pm, 0, sizeof *pm);
  pm->model = m;
  pm->output = output;
  pm->solve = solve;
  pm->n_theta = n_theta;
  pm->theta_names = tn;
  pm->theta_init = th0;
  pm->n_eta = 2;
  pm->omega_init = om0;
  pm->omega_diag = 1;
  pm->indiv = indiv;
  pm->indiv_ud = ud;
  pm->res = RKIN_RES_PROP;
  pm->sigma_init = sg0;
}

#endif
