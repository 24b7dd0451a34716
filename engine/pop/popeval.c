/* popeval.c - evaluation of a population model at given parameters
 * without estimation (NONMEM's MAXEVAL=0): EBEs, the objective and the
 * per-observation diagnostics, through the same passes as a fit. */
#include "pop/popest_impl.h"

#include <math.h>
#include <string.h>

/* A diagonal (block-diagonal) Omega must be given so: the fit could not
 * reach any other, so neither may its evaluation. */
static int check_pattern(const pop *p, const double *omega, rkin_err *err)
{
  size_t q = p->n_eta, a, b;
  for (a = 0; a < q; a++)
    for (b = 0; b < q; b++) {
      double v = omega[a * q + b];
      if (!isfinite(v))
        return rkin_err_set(err, RKIN_EINVAL, "omega(%zu,%zu) = %g "
                            "(expected a finite number)", a + 1, b + 1, v);
      if (v != omega[b * q + a])
        return rkin_err_set(err, RKIN_EINVAL, "omega is not symmetric: "
                            "(%zu,%zu) = %g but (%zu,%zu) = %g", a + 1,
                            b + 1, v, b + 1, a + 1, omega[b * q + a]);
      if (!pop_same_block(p, a, b) && v != 0)
        return rkin_err_set(err, RKIN_EINVAL, "omega(%zu,%zu) = %g, but "
                            "the model's Omega is %s: that element is 0",
                            a + 1, b + 1, v, p->pm->omega_block
                            ? "block-diagonal" : "diagonal");
    }
  return RKIN_OK;
}

int rkin_popfit_evaluate(const rkin_popmodel *pm, const rkin_data *data,
                         const rkin_popfit_opts *opts, const double *theta,
                         const double *omega, const double *sigma,
                         rkin_popfit *fit, rkin_err *err)
{
  pop *p;
  double ofv;
  size_t k;
  int rc = pop_fit_begin(pm, data, opts, fit, "rkin_popfit_evaluate", &p,
                         err);
  if (rc) return rc;
  if (!theta) theta = pm->theta_init;
  if (!omega) omega = pm->omega_init;
  /* every endpoint's initial sigma, as pop_res_setup laid them out */
  if (!sigma) sigma = p->sigma0;
  for (k = 0; !rc && k < p->n_theta; k++)
    if (!isfinite(theta[k]))
      rc = pm->theta_names
           ? rkin_err_set(err, RKIN_EINVAL, "theta %s = %g (expected a "
                          "finite value)", pm->theta_names[k], theta[k])
           : rkin_err_set(err, RKIN_EINVAL, "THETA%zu = %g (expected a "
                          "finite value)", k + 1, theta[k]);
  if (!rc) rc = check_pattern(p, omega, err);
  if (!rc) rc = pop_set_natural(p, theta, omega, sigma, err);
  if (!rc) rc = pop_pass(p, POP_TASK_DIAG, &ofv, err);
  if (rc) {
    rkin_err_prefix(err, "evaluation: ");
    fit->status = rc;
    fit->err = *err;
    pop_free(p);
    return rc;
  }
  pop_fill_fit(p, fit, ofv);
  /* the values as given (not L L' rounded, nor a FIX's initial value) */
  memcpy(fit->omega, omega, p->n_eta * p->n_eta * sizeof *omega);
  fit->stop = "evaluation at the given parameters (no estimation)";
  fit->n_eval = 0;
  if (p->opts.covariance) {
    rkin_err_clear(&fit->cov_err);
    fit->cov_status = pop_covariance(p, fit, &fit->cov_err);
  }
  pop_fill_counts(p, fit);
  pop_free(p);
  return RKIN_OK;
}
