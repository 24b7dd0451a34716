/* uncert_voi.c - first-order uncertainty of a VOI's mean dose and mean
 * BED from voxel maps, for factors every voxel of the VOI shares
 * (uncert.h). */
#include <math.h>
#include <string.h>

#include <gsl/gsl_cdf.h>

#include "uncert/uncert.h"

int rkin_unc_voi_delta(const rkin_unc_voi *x, rkin_unc_q *dose,
                       rkin_unc_q *bed, rkin_err *err)
{
  double lv, z, tot = 0.0, slope;
  int s, has_bed;
  if (!x || !isfinite(x->dose_gy) || !(x->dose_gy > 0.0))
    return rkin_err_set(err, RKIN_EINVAL, "VOI uncertainty: mean dose %g Gy "
                        "(expected > 0)", x ? x->dose_gy : NAN);
  has_bed = !isnan(x->bed_gy);
  if (has_bed && (!isfinite(x->bed_gy) ||
                  x->bed_gy < x->dose_gy * (1.0 - 1e-12)))
    return rkin_err_set(err, RKIN_EINVAL, "VOI uncertainty: mean BED %g Gy "
                        "below the mean dose %g Gy (BED >= D)", x->bed_gy,
                        x->dose_gy);
  for (s = 0; s < RKIN_UNC_NSRC; s++) {
    if (!isfinite(x->u_rel[s]) || x->u_rel[s] < 0.0)
      return rkin_err_set(err, RKIN_EINVAL, "VOI uncertainty: relative SD "
                          "%g (%s), expected >= 0", x->u_rel[s],
                          rkin_unc_source_name(s));
    tot += x->u_rel[s] * x->u_rel[s];
  }
  if (x->ab_gy != 0.0 && (!isfinite(x->ab_gy) || x->ab_gy < 0.0 ||
                          !isfinite(x->u_ab_gy) || x->u_ab_gy < 0.0))
    return rkin_err_set(err, RKIN_EINVAL, "VOI uncertainty: alpha/beta %g "
                        "+- %g Gy (expected > 0, SD >= 0)", x->ab_gy,
                        x->u_ab_gy);
  lv = x->level > 0.0 ? x->level : 0.95;
  if (!(lv > 0.0 && lv < 1.0))
    return rkin_err_set(err, RKIN_EINVAL, "VOI uncertainty: level %g "
                        "(expected in (0, 1))", lv);
  z = gsl_cdf_ugaussian_Pinv(0.5 + 0.5 * lv);
  memset(dose, 0, sizeof *dose);
  dose->value = x->dose_gy;
  for (s = 0; s < RKIN_UNC_NSRC; s++)
    dose->var[s] = x->dose_gy * x->dose_gy * x->u_rel[s] * x->u_rel[s];
  dose->u = x->dose_gy * sqrt(tot);
  dose->lo = dose->value - z * dose->u;
  dose->hi = dose->value + z * dose->u;
  if (!bed) return RKIN_OK;
  memset(bed, 0, sizeof *bed);
  if (!has_bed) {
    bed->value = bed->u = bed->lo = bed->hi = NAN;
    for (s = 0; s < RKIN_UNC_NSRC; s++) bed->var[s] = NAN;
    return RKIN_OK;
  }
  bed->value = x->bed_gy;
  slope = 2.0 * x->bed_gy - x->dose_gy;   /* d mean BED / d ln(scale) */
  tot = 0.0;
  for (s = 0; s < RKIN_UNC_NSRC; s++) {
    if (!isfinite(x->bed_u_gy[s]) || x->bed_u_gy[s] < 0.0)
      return rkin_err_set(err, RKIN_EINVAL, "VOI uncertainty: BED standard "
                          "uncertainty %g Gy (%s), expected >= 0",
                          x->bed_u_gy[s], rkin_unc_source_name(s));
    bed->var[s] = x->bed_u_gy[s] > 0.0
                      ? x->bed_u_gy[s] * x->bed_u_gy[s]
                      : slope * slope * x->u_rel[s] * x->u_rel[s];
    tot += bed->var[s];
  }
  if (x->ab_gy > 0.0) {
    /* BED - D = sum G D^2 / ab: d/d ab = -(BED - D) / ab */
    double d = (x->bed_gy - x->dose_gy) / x->ab_gy * x->u_ab_gy;
    bed->var[RKIN_UNC_AB] = d * d;
    tot += d * d;
  }
  bed->u = sqrt(tot);
  bed->lo = bed->value - z * bed->u;
  bed->hi = bed->value + z * bed->u;
  return RKIN_OK;
}
