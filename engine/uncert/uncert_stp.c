/* uncert_stp.c - uncertainty of a single-time-point TIA: the measurement
 * model's uncertainty of A(t) plus the method's error over the
 * population's spread of effective half-lives. */
#include <math.h>

#include <gsl/gsl_cdf.h>
#include <gsl/gsl_integration.h>

#include "uncert/uncert.h"

#define GH_NODES 40

/* Log of the ratio of a patient's true TIA, A(t) e^(l t) / l, to the
 * estimate. Worked in logs: the ratio itself has no finite moments over a
 * log-normal population (it grows as e^(ln 2 t / T) for short T), its log
 * has. */
static double lratio(rkin_unc_stp_method m, double t, double l, double lm)
{
  double ltruth = l * t - log(l);
  double lest = m == RKIN_UNC_STP_HAENSCHEID ? log(2.0 * t / M_LN2)
                                              : lm * t - log(lm);
  return ltruth - lest;
}

int rkin_unc_stp_tia(rkin_unc_stp_method m, double t_h, double a_mbq,
                     double u_a_rel, double t_half_h, double cv,
                     double level, rkin_unc_stp *out, rkin_err *err)
{
  gsl_integration_fixed_workspace *w;
  double s_ln, lm, e1 = 0.0, e2 = 0.0, z;
  size_t i;
  if (m != RKIN_UNC_STP_HAENSCHEID && m != RKIN_UNC_STP_POPLAMBDA)
    return rkin_err_set(err, RKIN_EINVAL, "single time point: method %d, "
                        "expected haenscheid or poplambda", m);
  if (!isfinite(t_h) || !(t_h > 0.0))
    return rkin_err_set(err, RKIN_EINVAL, "single time point: time %g h, "
                        "expected > 0", t_h);
  if (!isfinite(a_mbq) || !(a_mbq > 0.0))
    return rkin_err_set(err, RKIN_EINVAL, "single time point: activity %g "
                        "MBq, expected > 0", a_mbq);
  if (!isfinite(u_a_rel) || !(u_a_rel >= 0.0))
    return rkin_err_set(err, RKIN_EINVAL, "single time point: relative SD "
                        "%g of the activity, expected >= 0", u_a_rel);
  if (!isfinite(t_half_h) || !(t_half_h > 0.0))
    return rkin_err_set(err, RKIN_EINVAL, "single time point: population "
                        "half-life %g h, expected > 0", t_half_h);
  if (!isfinite(cv) || !(cv >= 0.0) || cv > 3.0)
    return rkin_err_set(err, RKIN_EINVAL, "single time point: half-life CV "
                        "%g, expected 0..3", cv);
  if (!(level > 0.0 && level < 1.0))
    return rkin_err_set(err, RKIN_EINVAL, "single time point: level %g, "
                        "expected in (0, 1)", level);
  s_ln = sqrt(log1p(cv * cv));
  lm = M_LN2 / t_half_h;
  if (s_ln == 0.0) {
    e1 = lratio(m, t_h, lm, lm);
    e2 = e1 * e1;
  } else {
    /* E[f(T)] for ln T ~ N(ln t_half, s^2): nodes x of weight e^(-x^2),
     * T = t_half e^(sqrt 2 s x), divided by sqrt(pi) */
    const double *x, *wt;
    w = gsl_integration_fixed_alloc(gsl_integration_fixed_hermite, GH_NODES,
                                    0.0, 1.0, 0.0, 0.0);
    if (!w)
      return rkin_err_set(err, RKIN_ENOMEM, "single time point: out of "
                          "memory");
    x = gsl_integration_fixed_nodes(w);
    wt = gsl_integration_fixed_weights(w);
    for (i = 0; i < GH_NODES; i++) {
      double tp = t_half_h * exp(M_SQRT2 * s_ln * x[i]);
      double r = lratio(m, t_h, M_LN2 / tp, lm);
      e1 += wt[i] * r;
      e2 += wt[i] * r * r;
    }
    gsl_integration_fixed_free(w);
    e1 /= sqrt(M_PI);
    e2 /= sqrt(M_PI);
  }
  if (!isfinite(e1) || !isfinite(e2))
    return rkin_err_set(err, RKIN_ENONFINITE, "single time point: the "
                        "population spread (CV %g) makes the TIA ratio "
                        "infinite at %g h", cv, t_h);
  out->tia = a_mbq * (m == RKIN_UNC_STP_HAENSCHEID ? 2.0 * t_h / M_LN2
                                                   : exp(lm * t_h) / lm);
  out->bias_rel = exp(e1) - 1.0;
  out->u_rel_method = sqrt(fmax(e2 - e1 * e1, 0.0));
  out->u_rel_meas = u_a_rel;
  {
    double ul = sqrt(out->u_rel_method * out->u_rel_method +
                     u_a_rel * u_a_rel);
    out->u = out->tia * ul;
    z = gsl_cdf_ugaussian_Pinv(0.5 + 0.5 * level);
    out->lo = out->tia * exp(e1 - z * ul);
    out->hi = out->tia * exp(e1 + z * ul);
  }
  return 0;
}
