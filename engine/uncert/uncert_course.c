/* uncert_course.c - first-order uncertainty of a course's doses and BEDs
 * when the doses are given (per cycle) rather than counts: independent
 * per-cycle terms add in quadrature over cycles, terms shared by every
 * cycle (calibration, mass, S value) add linearly (GUM JCGM 100:2008
 * eq. 13 with correlation 1). */
#include <math.h>
#include <string.h>

#include <gsl/gsl_cdf.h>

#include "uncert/uncert.h"

static const int shared_src[3] = {RKIN_UNC_CALIB, RKIN_UNC_VOLUME,
                                  RKIN_UNC_SVALUE};

static void finish(rkin_unc_q *q, double z)
{
  double t = 0.0;
  int s;
  for (s = 0; s < RKIN_UNC_NSRC; s++) t += q->var[s];
  q->u = sqrt(t);
  q->lo = q->value - z * q->u;
  q->hi = q->value + z * q->u;
}

static void blank(rkin_unc_q *q)
{
  int s;
  q->value = q->u = q->lo = q->hi = NAN;
  for (s = 0; s < RKIN_UNC_NSRC; s++) q->var[s] = NAN;
}

static void zero(rkin_unc_q *q, double v)
{
  memset(q, 0, sizeof *q);
  q->value = v;
}

int rkin_unc_course_delta(const rkin_unc_course *c,
                          rkin_unc_course_result *r, rkin_err *err)
{
  double sh[3], z, lv, ab;
  size_t i, j;
  int k, bed;
  if (!c || !c->dose_gy || c->n < 1 || c->n > RKIN_UNC_MAX_CYCLES)
    return rkin_err_set(err, RKIN_EINVAL, "course: %zu cycles, expected "
                        "1..%d", c ? c->n : 0, RKIN_UNC_MAX_CYCLES);
  sh[0] = c->u_cal_rel;
  sh[1] = c->u_mass_rel;
  sh[2] = c->u_s_rel;
  for (k = 0; k < 3; k++)
    if (!isfinite(sh[k]) || sh[k] < 0.0)
      return rkin_err_set(err, RKIN_EINVAL, "course: shared relative SD %g "
                          "(%s), expected >= 0", sh[k],
                          rkin_unc_source_name(shared_src[k]));
  bed = c->g != NULL;
  ab = c->ab_gy;
  if (bed && (!isfinite(ab) || ab <= 0.0 || !isfinite(c->u_ab_gy) ||
              c->u_ab_gy < 0.0))
    return rkin_err_set(err, RKIN_EINVAL, "course: alpha/beta %g +- %g Gy, "
                        "expected > 0 and SD >= 0", ab, c->u_ab_gy);
  for (i = 0; i < c->n; i++) {
    double u = c->u_rel ? c->u_rel[i] : 0.0;
    if (!isfinite(c->dose_gy[i]) || c->dose_gy[i] <= 0.0)
      return rkin_err_set(err, RKIN_EINVAL, "course cycle %zu: dose %g Gy, "
                          "expected > 0", i + 1, c->dose_gy[i]);
    if (!isfinite(u) || u < 0.0)
      return rkin_err_set(err, RKIN_EINVAL, "course cycle %zu: relative SD "
                          "%g, expected >= 0", i + 1, u);
    if (bed && (!isfinite(c->g[i]) || c->g[i] < 0.0 || c->g[i] > 1.0))
      return rkin_err_set(err, RKIN_EINVAL, "course cycle %zu: G %g, "
                          "expected in [0, 1]", i + 1, c->g[i]);
  }
  lv = c->level > 0.0 ? c->level : 0.95;
  if (!(lv < 1.0))
    return rkin_err_set(err, RKIN_EINVAL, "course: level %g, expected in "
                        "(0, 1)", c->level);
  z = gsl_cdf_ugaussian_Pinv(0.5 + 0.5 * lv);
  memset(r, 0, sizeof *r);
  r->n = c->n;
  for (j = 0; j < c->n; j++) {
    /* through cycle j: quadrature sums of the independent terms, linear
     * sums of the shared ones */
    double cd = 0.0, cb = 0.0, vd = 0.0, vb = 0.0, ld = 0.0, lb = 0.0,
           lab = 0.0;
    for (i = 0; i <= j; i++) {
      double d = c->dose_gy[i], u = c->u_rel ? c->u_rel[i] : 0.0;
      double gi = bed ? c->g[i] : 0.0, kb = 1.0 + 2.0 * gi * d / (bed ? ab : 1);
      cd += d;
      vd += u * u * d * d;
      ld += d;
      if (bed) {
        cb += d * (1.0 + gi * d / ab);
        vb += kb * kb * u * u * d * d;
        lb += kb * d;
        lab += gi * d * d / (ab * ab);
      }
    }
    zero(&r->cum_dose_at[j], cd);
    r->cum_dose_at[j].var[RKIN_UNC_COUNTS] = vd;
    for (k = 0; k < 3; k++)
      r->cum_dose_at[j].var[shared_src[k]] = sh[k] * sh[k] * ld * ld;
    finish(&r->cum_dose_at[j], z);
    if (bed) {
      zero(&r->cum_bed_at[j], cb);
      r->cum_bed_at[j].var[RKIN_UNC_COUNTS] = vb;
      for (k = 0; k < 3; k++)
        r->cum_bed_at[j].var[shared_src[k]] = sh[k] * sh[k] * lb * lb;
      r->cum_bed_at[j].var[RKIN_UNC_AB] = lab * lab * c->u_ab_gy * c->u_ab_gy;
      finish(&r->cum_bed_at[j], z);
    } else {
      blank(&r->cum_bed_at[j]);
    }
    /* cycle j alone */
    {
      double d = c->dose_gy[j], u = c->u_rel ? c->u_rel[j] : 0.0;
      zero(&r->dose[j], d);
      r->dose[j].var[RKIN_UNC_COUNTS] = u * u * d * d;
      for (k = 0; k < 3; k++)
        r->dose[j].var[shared_src[k]] = sh[k] * sh[k] * d * d;
      finish(&r->dose[j], z);
      if (bed) {
        double gj = c->g[j], kb = 1.0 + 2.0 * gj * d / ab;
        zero(&r->bed[j], d * (1.0 + gj * d / ab));
        r->bed[j].var[RKIN_UNC_COUNTS] = kb * kb * u * u * d * d;
        for (k = 0; k < 3; k++)
          r->bed[j].var[shared_src[k]] = sh[k] * sh[k] * kb * kb * d * d;
        r->bed[j].var[RKIN_UNC_AB] = pow(gj * d * d / (ab * ab) *
                                         c->u_ab_gy, 2);
        finish(&r->bed[j], z);
      } else {
        blank(&r->bed[j]);
      }
    }
  }
  r->cum_dose = r->cum_dose_at[c->n - 1];
  r->cum_bed = r->cum_bed_at[c->n - 1];
  return 0;
}
