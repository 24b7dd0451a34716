/* radiobio.c - BED, EQD2, cumulative BED and the remaining budget. */
#include "dose/radiobio.h"

#include <math.h>

#include "dose/gfactor.h"

static const char *label(const char *where)
{
  return where && where[0] ? where : "LQ";
}

int rkin_radiobio_check(const rkin_lq *p, const char *where, rkin_err *err)
{
  if (!p)
    return rkin_err_set(err, RKIN_EINVAL, "%s: no LQ parameters",
                        label(where));
  if (!isfinite(p->ab_gy) || p->ab_gy <= 0.0)
    return rkin_err_set(err, RKIN_EINVAL,
                        "%s: alpha/beta = %g Gy, expected > 0",
                        label(where), p->ab_gy);
  if (!isfinite(p->trep_h) || p->trep_h <= 0.0)
    return rkin_err_set(err, RKIN_EINVAL,
                        "%s: repair half-time trep_h = %g h, expected > 0",
                        label(where), p->trep_h);
  return RKIN_OK;
}

static int check_g(double g, const char *where, rkin_err *err)
{
  if (!isfinite(g) || g < 0.0 || g > 1.0)
    return rkin_err_set(err, RKIN_EINVAL,
                        "%s: protraction factor G = %g, expected 0..1",
                        label(where), g);
  return RKIN_OK;
}

int rkin_radiobio_bed(double dose_gy, double g, const rkin_lq *p,
                      const char *where, double *bed_gy, rkin_err *err)
{
  int rc;
  if ((rc = rkin_radiobio_check(p, where, err))) return rc;
  if ((rc = check_g(g, where, err))) return rc;
  if (!isfinite(dose_gy) || dose_gy < 0.0)
    return rkin_err_set(err, RKIN_EINVAL,
                        "%s: absorbed dose %g Gy, expected finite and >= 0",
                        label(where), dose_gy);
  *bed_gy = dose_gy * (1.0 + g * dose_gy / p->ab_gy);
  return RKIN_OK;
}

int rkin_radiobio_eqd2(double bed_gy, const rkin_lq *p, const char *where,
                       double *eqd2_gy, rkin_err *err)
{
  int rc;
  if ((rc = rkin_radiobio_check(p, where, err))) return rc;
  if (!isfinite(bed_gy) || bed_gy < 0.0)
    return rkin_err_set(err, RKIN_EINVAL,
                        "%s: BED %g Gy, expected finite and >= 0",
                        label(where), bed_gy);
  *eqd2_gy = bed_gy / (1.0 + 2.0 / p->ab_gy);
  return RKIN_OK;
}

int rkin_radiobio_bed_curve(const rkin_doserate *r, const rkin_lq *p,
                            const char *where, double *dose_gy, double *g,
                            double *bed_gy, rkin_err *err)
{
  double gg, d, bed;
  int rc;
  if ((rc = rkin_radiobio_check(p, where, err))) return rc;
  if ((rc = rkin_doserate_check(r, where, err))) return rc;
  if ((rc = rkin_gfactor_sum(r, p->trep_h, &gg, err)))
    return rkin_err_prefix(err, "%s: ", label(where));
  d = rkin_doserate_total(r);
  if ((rc = rkin_radiobio_bed(d, gg, p, where, &bed, err))) return rc;
  if (dose_gy) *dose_gy = d;
  if (g) *g = gg;
  if (bed_gy) *bed_gy = bed;
  return RKIN_OK;
}

int rkin_radiobio_cumulative(size_t n, const double *bed_gy,
                             const char *where, double *sum_gy,
                             rkin_err *err)
{
  double s = 0.0;
  size_t k;
  if (n && !bed_gy)
    return rkin_err_set(err, RKIN_EINVAL, "%s: no cycle BEDs",
                        label(where));
  for (k = 0; k < n; k++) {
    if (!isfinite(bed_gy[k]) || bed_gy[k] < 0.0)
      return rkin_err_set(err, RKIN_EINVAL,
                          "%s: cycle %zu BED %g Gy, expected finite and "
                          ">= 0", label(where), k + 1, bed_gy[k]);
    s += bed_gy[k];
  }
  *sum_gy = s;
  return RKIN_OK;
}

int rkin_radiobio_budget(double bed_so_far_gy, double limit_bed_gy,
                         double g, const rkin_lq *p, const char *where,
                         double *dose_next_gy, int *over, rkin_err *err)
{
  double rem;
  int rc;
  if ((rc = rkin_radiobio_check(p, where, err))) return rc;
  if ((rc = check_g(g, where, err))) return rc;
  if (!isfinite(limit_bed_gy) || limit_bed_gy <= 0.0)
    return rkin_err_set(err, RKIN_EINVAL,
                        "%s: BED limit %g Gy, expected > 0", label(where),
                        limit_bed_gy);
  if (!isfinite(bed_so_far_gy) || bed_so_far_gy < 0.0)
    return rkin_err_set(err, RKIN_EINVAL,
                        "%s: cumulative BED so far %g Gy, expected finite "
                        "and >= 0", label(where), bed_so_far_gy);
  rem = limit_bed_gy - bed_so_far_gy;
  if (over) *over = rem <= 0.0;
  if (rem <= 0.0) {
    *dose_next_gy = 0.0;
    return RKIN_OK;
  }
  *dose_next_gy = 2.0 * rem / (1.0 + sqrt(1.0 + 4.0 * g * rem / p->ab_gy));
  return RKIN_OK;
}

int rkin_radiobio_activity_for(double dose_gy, double gy_per_mbq,
                               const char *where, double *activity_mbq,
                               rkin_err *err)
{
  if (!isfinite(gy_per_mbq) || gy_per_mbq <= 0.0)
    return rkin_err_set(err, RKIN_EINVAL,
                        "%s: dose per activity %g Gy/MBq, expected > 0",
                        label(where), gy_per_mbq);
  if (!isfinite(dose_gy) || dose_gy < 0.0)
    return rkin_err_set(err, RKIN_EINVAL,
                        "%s: dose %g Gy, expected finite and >= 0",
                        label(where), dose_gy);
  *activity_mbq = dose_gy / gy_per_mbq;
  return RKIN_OK;
}
