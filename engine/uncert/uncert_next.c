/* uncert_next.c - the next cycle's activity that keeps the cumulative BED
 * under a limit at a stated one-sided confidence (the decision rule of a
 * regimen held at an upper confidence bound rather than the estimate). */
#include <math.h>
#include <string.h>

#include <gsl/gsl_cdf.h>

#include "uncert/uncert.h"

/* Predicted cumulative BED and its variance by source with the next
 * cycle's dose d (d = 0: past only). The course's delta method treats the
 * cycles' own terms as independent; a prediction from the last cycle's
 * measured dose per activity is that same measurement scaled (D_n = D_L
 * A / A_L), so its own relative error is the last cycle's, correlation 1:
 * its variance u_L^2 + u_x^2 goes in as the next cycle's own term and the
 * covariance 2 k_L D_L k_n D_n u_L^2 is added (GUM JCGM 100:2008 eq. 13).
 * The shared terms (calibration, mass, S value) and alpha/beta are
 * already linear sums over every cycle, the next included. */
static int predict(const rkin_unc_next *x, double d, double *bed,
                   double var[RKIN_UNC_NSRC], rkin_err *err)
{
  double dose[RKIN_UNC_MAX_CYCLES], u[RKIN_UNC_MAX_CYCLES],
      g[RKIN_UNC_MAX_CYCLES];
  rkin_unc_course c = x->past;
  rkin_unc_course_result r;
  size_t i, n = x->past.n;
  int rc, s;
  double u_last = 0.0;
  for (s = 0; s < RKIN_UNC_NSRC; s++) var[s] = 0.0;
  for (i = 0; i < n; i++) {
    dose[i] = x->past.dose_gy[i];
    u[i] = x->past.u_rel ? x->past.u_rel[i] : 0.0;
    g[i] = x->past.g[i];
  }
  if (x->from_last && n > 0) u_last = u[n - 1];
  if (d > 0.0) {
    dose[n] = d;
    u[n] = sqrt(u_last * u_last +
                x->u_gy_per_mbq_rel * x->u_gy_per_mbq_rel);
    g[n] = x->g_next;
    n++;
  }
  if (n == 0) {
    *bed = 0.0;
    return 0;
  }
  c.n = n;
  c.dose_gy = dose;
  c.u_rel = u;
  c.g = g;
  c.level = 0.0;
  if ((rc = rkin_unc_course_delta(&c, &r, err))) return rc;
  for (s = 0; s < RKIN_UNC_NSRC; s++) var[s] = r.cum_bed.var[s];
  if (d > 0.0 && u_last > 0.0) {
    size_t L = n - 2;
    double ab = x->past.ab_gy;
    double kl = 1.0 + 2.0 * g[L] * dose[L] / ab;
    double kn = 1.0 + 2.0 * g[n - 1] * d / ab;
    var[RKIN_UNC_COUNTS] += 2.0 * kl * dose[L] * kn * d * u_last * u_last;
  }
  *bed = r.cum_bed.value;
  return 0;
}

static double total(const double var[RKIN_UNC_NSRC])
{
  double t = 0.0;
  int s;
  for (s = 0; s < RKIN_UNC_NSRC; s++) t += var[s];
  return t;
}

/* Upper bound BED_cum + z u with the next cycle's dose d. */
static int upper(const rkin_unc_next *x, double d, double z, double *ub,
                 rkin_err *err)
{
  double var[RKIN_UNC_NSRC], bed;
  int rc;
  if ((rc = predict(x, d, &bed, var, err))) return rc;
  *ub = bed + z * sqrt(total(var));
  return 0;
}

/* Checks of x shared by the two entry points. */
static int check(const rkin_unc_next *x, rkin_err *err)
{
  if (!x)
    return rkin_err_set(err, RKIN_EINVAL, "next activity: no input");
  if (x->past.n > RKIN_UNC_MAX_CYCLES - 1 ||
      (x->past.n > 0 && (!x->past.dose_gy || !x->past.g)))
    return rkin_err_set(err, RKIN_EINVAL, "next activity: %zu past cycles "
                        "(with doses and G), expected 0..%d", x->past.n,
                        RKIN_UNC_MAX_CYCLES - 1);
  if (x->from_last && x->past.n == 0)
    return rkin_err_set(err, RKIN_EINVAL, "next activity: a prediction from "
                        "the last cycle (from_last) needs at least one past "
                        "cycle");
  if (!isfinite(x->gy_per_mbq) || x->gy_per_mbq <= 0.0)
    return rkin_err_set(err, RKIN_EINVAL, "next activity: dose per activity "
                        "%g Gy/MBq, expected > 0", x->gy_per_mbq);
  if (!isfinite(x->u_gy_per_mbq_rel) || x->u_gy_per_mbq_rel < 0.0)
    return rkin_err_set(err, RKIN_EINVAL, "next activity: relative SD %g of "
                        "the dose per activity, expected >= 0",
                        x->u_gy_per_mbq_rel);
  if (!isfinite(x->g_next) || x->g_next < 0.0 || x->g_next > 1.0)
    return rkin_err_set(err, RKIN_EINVAL, "next activity: G %g, expected in "
                        "[0, 1]", x->g_next);
  if (!isfinite(x->past.ab_gy) || x->past.ab_gy <= 0.0)
    return rkin_err_set(err, RKIN_EINVAL, "next activity: alpha/beta %g Gy, "
                        "expected > 0", x->past.ab_gy);
  return 0;
}

int rkin_unc_next_bed(const rkin_unc_next *x, double activity_mbq,
                      double *bed_gy, double *u_gy,
                      double var[RKIN_UNC_NSRC], rkin_err *err)
{
  double v[RKIN_UNC_NSRC], bed;
  int rc, s;
  if ((rc = check(x, err))) return rc;
  if (!isfinite(activity_mbq) || activity_mbq < 0.0)
    return rkin_err_set(err, RKIN_EINVAL, "next activity: activity %g MBq, "
                        "expected >= 0", activity_mbq);
  if ((rc = predict(x, activity_mbq * x->gy_per_mbq, &bed, v, err)))
    return rc;
  if (bed_gy) *bed_gy = bed;
  if (u_gy) *u_gy = sqrt(total(v));
  if (var)
    for (s = 0; s < RKIN_UNC_NSRC; s++) var[s] = v[s];
  return 0;
}

int rkin_unc_next_activity(const rkin_unc_next *x, double *activity_mbq,
                           double *bed_upper_gy, int *over, rkin_err *err)
{
  double z, lo = 0.0, hi, ub, d_point;
  int rc, it;
  if (!activity_mbq)
    return rkin_err_set(err, RKIN_EINVAL, "next activity: no output");
  if ((rc = check(x, err))) return rc;
  if (!isfinite(x->limit_bed_gy) || x->limit_bed_gy <= 0.0)
    return rkin_err_set(err, RKIN_EINVAL, "next activity: BED limit %g Gy, "
                        "expected > 0", x->limit_bed_gy);
  if (!(x->level >= 0.5 && x->level < 1.0))
    return rkin_err_set(err, RKIN_EINVAL, "next activity: level %g, expected "
                        "in [0.5, 1) (one-sided)", x->level);
  z = gsl_cdf_ugaussian_Pinv(x->level);
  if ((rc = upper(x, 0.0, z, &ub, err))) return rc;
  if (over) *over = ub >= x->limit_bed_gy;
  if (ub >= x->limit_bed_gy) {
    *activity_mbq = 0.0;
    if (bed_upper_gy) *bed_upper_gy = ub;
    return 0;
  }
  /* bracket: the point-estimate dose that alone reaches the whole limit
   * is an upper bound (z >= 0 only lowers the answer) */
  d_point = 2.0 * x->limit_bed_gy /
            (1.0 + sqrt(1.0 + 4.0 * x->g_next * x->limit_bed_gy /
                              x->past.ab_gy));
  hi = d_point / x->gy_per_mbq * (1.0 + 1e-9);
  for (it = 0; it < 200 && hi - lo > 1e-10 * hi; it++) {
    double mid = 0.5 * (lo + hi);
    if ((rc = upper(x, mid * x->gy_per_mbq, z, &ub, err))) return rc;
    if (ub <= x->limit_bed_gy) lo = mid;
    else hi = mid;
  }
  *activity_mbq = lo;
  if (bed_upper_gy) {
    if ((rc = upper(x, lo * x->gy_per_mbq, z, &ub, err))) return rc;
    *bed_upper_gy = ub;
  }
  return 0;
}
