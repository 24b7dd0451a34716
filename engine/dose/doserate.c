/* doserate.c - sum-of-exponentials dose-rate curves and their checks. */
#include "dose/doserate.h"

#include <math.h>

static const char *label(const char *where)
{
  return where && where[0] ? where : "dose-rate curve";
}

/* Sign changes of the coefficients ordered by rate (terms of equal rate
 * merged). By Laguerre's extension of Descartes' rule of signs, a sum of
 * exponentials has at most that many real zeros. */
static int sign_changes(const rkin_doserate *r)
{
  size_t idx[RKIN_DOSERATE_MAX], k, j, n = r->n;
  double prev = 0.0;
  int changes = 0;
  for (k = 0; k < n; k++) idx[k] = k;
  for (k = 1; k < n; k++)           /* insertion sort by rate: n <= 8 */
    for (j = k; j > 0 && r->b[idx[j]] < r->b[idx[j - 1]]; j--) {
      size_t t = idx[j];
      idx[j] = idx[j - 1];
      idx[j - 1] = t;
    }
  for (k = 0; k < n; k = j) {
    double c = 0.0;
    for (j = k; j < n && r->b[idx[j]] == r->b[idx[k]]; j++) c += r->c[idx[j]];
    if (c != 0.0) {
      if (prev != 0.0 && (c > 0.0) != (prev > 0.0)) changes++;
      prev = c;
    }
  }
  return changes;
}

/* A curve that starts >= 0 and ends > 0 can still dip below zero in
 * between when its coefficients change sign twice or more (3+ terms).
 * Only then: a sampled check on 400 log-spaced times from 1e-3 / b_max to
 * 40 / b_min, fine against the curve's own time scales (about 50 points
 * per decade). One sign change or none needs no sampling. */
static int dips_below_zero(const rkin_doserate *r, double *t_neg)
{
  double bmin = r->b[0], bmax = r->b[0], lo, hi;
  size_t k, i;
  if (r->n < 3 || sign_changes(r) < 2) return 0;
  for (k = 0; k < r->n; k++) {
    if (r->b[k] < bmin) bmin = r->b[k];
    if (r->b[k] > bmax) bmax = r->b[k];
  }
  lo = log(1e-3 / bmax);
  hi = log(40.0 / bmin);
  for (i = 0; i < 400; i++) {
    double t = exp(lo + (hi - lo) * (double)i / 399.0);
    if (rkin_doserate_eval(r, t) < 0.0) {
      *t_neg = t;
      return 1;
    }
  }
  return 0;
}

int rkin_doserate_check(const rkin_doserate *r, const char *where,
                        rkin_err *err)
{
  size_t k, slow = 0;
  double r0 = 0.0, tail = 0.0, t_neg = 0.0;
  if (!r)
    return rkin_err_set(err, RKIN_EINVAL, "%s: no dose-rate curve given",
                        label(where));
  if (r->n == 0 || r->n > RKIN_DOSERATE_MAX)
    return rkin_err_set(err, RKIN_EINVAL,
                        "%s: %zu exponential terms, expected 1 to %d",
                        label(where), r->n, RKIN_DOSERATE_MAX);
  for (k = 0; k < r->n; k++) {
    if (!isfinite(r->c[k]))
      return rkin_err_set(err, RKIN_ENONFINITE,
                          "%s: term %zu coefficient c = %g Gy/h is not "
                          "finite", label(where), k + 1, r->c[k]);
    if (!isfinite(r->b[k]) || r->b[k] <= 0.0)
      return rkin_err_set(err, RKIN_EINVAL,
                          "%s: term %zu rate b = %g /h does not decay "
                          "(TIA and dose would be infinite); expected b > 0",
                          label(where), k + 1, r->b[k]);
    r0 += r->c[k];
    if (r->b[k] < r->b[slow]) slow = k;
  }
  /* The slowest rate sets the sign at late times: with a negative
   * coefficient there the curve would go below zero. */
  for (k = 0; k < r->n; k++)
    if (r->b[k] == r->b[slow]) tail += r->c[k];
  /* an all-zero curve is no dose, not a negative one */
  for (k = 0; k < r->n && r->c[k] == 0.0; k++) {}
  if (k == r->n)
    return rkin_err_set(err, RKIN_EINVAL,
                        "%s: total dose %g Gy, expected > 0", label(where),
                        0.0);
  if (r0 < -1e-12 * fabs(r->c[0]) || tail <= 0.0)
    return rkin_err_set(err, RKIN_EINVAL,
                        "%s: dose rate becomes negative (R(0) = %g Gy/h, "
                        "slowest term %g Gy/h at b = %g /h); expected a "
                        "curve >= 0", label(where), r0, tail, r->b[slow]);
  if (dips_below_zero(r, &t_neg))
    return rkin_err_set(err, RKIN_EINVAL,
                        "%s: dose rate becomes negative between t = 0 and "
                        "the tail (R(%.4g h) = %g Gy/h); expected a curve "
                        ">= 0", label(where), t_neg,
                        rkin_doserate_eval(r, t_neg));
  if (!(rkin_doserate_total(r) > 0.0))
    return rkin_err_set(err, RKIN_EINVAL,
                        "%s: total dose %g Gy, expected > 0", label(where),
                        rkin_doserate_total(r));
  return RKIN_OK;
}

int rkin_doserate_set(rkin_doserate *r, size_t n, const double *c_gy_h,
                      const double *b_per_h, const char *where,
                      rkin_err *err)
{
  size_t k;
  if (!r || !c_gy_h || !b_per_h)
    return rkin_err_set(err, RKIN_EINVAL, "%s: missing coefficient arrays",
                        label(where));
  if (n == 0 || n > RKIN_DOSERATE_MAX)
    return rkin_err_set(err, RKIN_EINVAL,
                        "%s: %zu exponential terms, expected 1 to %d",
                        label(where), n, RKIN_DOSERATE_MAX);
  r->n = n;
  for (k = 0; k < n; k++) {
    r->c[k] = c_gy_h[k];
    r->b[k] = b_per_h[k];
  }
  return rkin_doserate_check(r, where, err);
}

int rkin_doserate_from_tac_s(rkin_doserate *r, double s_gy_per_mbqh,
                             size_t n, const double *a_mbq,
                             const double *b_per_h, const char *where,
                             rkin_err *err)
{
  double c[RKIN_DOSERATE_MAX];
  size_t k;
  if (!isfinite(s_gy_per_mbqh) || s_gy_per_mbqh <= 0.0)
    return rkin_err_set(err, RKIN_EINVAL,
                        "%s: S value %g Gy/(MBq h), expected > 0",
                        label(where), s_gy_per_mbqh);
  if (!a_mbq || n == 0 || n > RKIN_DOSERATE_MAX)
    return rkin_err_set(err, RKIN_EINVAL,
                        "%s: %zu activity terms, expected 1 to %d",
                        label(where), a_mbq ? n : 0, RKIN_DOSERATE_MAX);
  for (k = 0; k < n; k++) c[k] = a_mbq[k] * s_gy_per_mbqh;
  return rkin_doserate_set(r, n, c, b_per_h, where, err);
}

int rkin_doserate_from_tac(rkin_doserate *r, const rkin_nuclide *nuc,
                           size_t n, const double *a_mbq,
                           const double *b_per_h, double mass_kg,
                           const char *where, rkin_err *err)
{
  if (!nuc)
    return rkin_err_set(err, RKIN_EINVAL, "%s: no nuclide given",
                        label(where));
  if (!isfinite(mass_kg) || mass_kg <= 0.0)
    return rkin_err_set(err, RKIN_EINVAL,
                        "%s: mass_kg = %g, expected > 0", label(where),
                        mass_kg);
  /* J/(MBq h) per kg is Gy per MBq h. */
  return rkin_doserate_from_tac_s(r, rkin_nuclide_j_per_mbqh(nuc) / mass_kg,
                                  n, a_mbq, b_per_h, where, err);
}

double rkin_doserate_eval(const rkin_doserate *r, double t_h)
{
  double s = 0.0;
  size_t k;
  for (k = 0; k < r->n; k++) s += r->c[k] * exp(-r->b[k] * t_h);
  return s;
}

double rkin_doserate_total(const rkin_doserate *r)
{
  double s = 0.0;
  size_t k;
  for (k = 0; k < r->n; k++) s += r->c[k] / r->b[k];
  return s;
}

void rkin_doserate_scale(rkin_doserate *r, double s)
{
  size_t k;
  for (k = 0; k < r->n; k++) r->c[k] *= s;
}
