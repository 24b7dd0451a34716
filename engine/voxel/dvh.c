/* dvh.c - dose-volume histograms and statistics (dvh.h). */
#include "voxel/dvh.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Doses are floats (images hold float): sorted by an LSD radix sort of
 * their bit patterns mapped to unsigned keys in the same order (negatives
 * flipped entirely, positives with the sign bit set), 3 passes of 11 bits:
 * linear time, so 10 DVHs of a 128^3 map stay well under 0.1 s. */
static uint32_t float_key(float f)
{
  uint32_t u;
  memcpy(&u, &f, sizeof u);
  return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}

static float key_float(uint32_t k)
{
  uint32_t u = (k & 0x80000000u) ? (k & 0x7fffffffu) : ~k;
  float f;
  memcpy(&f, &u, sizeof f);
  return f;
}

static int radix_sort(uint32_t *a, size_t n)
{
  /* three passes of 11, 11 and 10 bits */
  static const int shift[3] = {0, 11, 22};
  uint32_t *tmp = malloc(n * sizeof *tmp), *src = a, *dst = tmp, *sw;
  size_t *count = malloc(2048 * sizeof *count);
  int pass;
  if (!tmp || !count) {
    free(tmp);
    free(count);
    return -1;
  }
  for (pass = 0; pass < 3; pass++) {
    size_t pos = 0, i;
    int b;
    memset(count, 0, 2048 * sizeof *count);
    for (i = 0; i < n; i++) count[(src[i] >> shift[pass]) & 0x7ffu]++;
    for (b = 0; b < 2048; b++) {
      size_t c = count[b];
      count[b] = pos;
      pos += c;
    }
    for (i = 0; i < n; i++)
      dst[count[(src[i] >> shift[pass]) & 0x7ffu]++] = src[i];
    sw = src; src = dst; dst = sw;
  }
  /* an odd number of passes leaves the result in tmp */
  memcpy(a, src, n * sizeof *a);
  free(tmp);
  free(count);
  return 0;
}

void rkin_dvh_free(rkin_dvh *h)
{
  if (!h) return;
  free(h->d);
  h->d = NULL;
}

double rkin_dvh_dx(const rkin_dvh *h, double x_pct)
{
  double p, pos, f;
  size_t m;
  if (!(x_pct >= 0.0 && x_pct <= 100.0) || h->n == 0) return NAN;
  p = 1.0 - x_pct / 100.0;
  pos = p * (double)h->n - 0.5;  /* 0-based position among the centres */
  if (pos <= 0.0) return h->d[0];
  if (pos >= (double)(h->n - 1)) return h->d[h->n - 1];
  m = (size_t)floor(pos);
  f = pos - (double)m;
  return h->d[m] + f * (h->d[m + 1] - h->d[m]);
}

double rkin_dvh_vx(const rkin_dvh *h, double d)
{
  /* first index with dose >= d */
  size_t lo = 0, hi = h->n;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (h->d[mid] < d) lo = mid + 1;
    else hi = mid;
  }
  return (double)(h->n - lo) / (double)h->n;
}

double rkin_dvh_geud(const rkin_dvh *h, double a)
{
  size_t i;
  double s = 0.0;
  if (a == 0.0 || !isfinite(a)) return NAN;
  for (i = 0; i < h->n; i++) {
    if (h->d[i] == 0.0 && a < 0.0) return 0.0; /* d^a diverges: EUD 0 */
    s += pow(h->d[i], a);
  }
  return pow(s / (double)h->n, 1.0 / a);
}

double rkin_dvh_eud_alpha(const rkin_dvh *h, double alpha)
{
  size_t i;
  double s = 0.0, dmin = h->d[0];
  if (!(alpha > 0.0) || !isfinite(alpha)) return NAN;
  /* factor out e^(-alpha dmin) so high doses do not underflow to 0 */
  for (i = 0; i < h->n; i++) s += exp(-alpha * (h->d[i] - dmin));
  return dmin - log(s / (double)h->n) / alpha;
}

int rkin_dvh_eval(const rkin_image *dose, const unsigned char *mask,
                  rkin_dvh *out, rkin_err *err)
{
  size_t i, n = rkin_grid_count(&dose->g), m = 0;
  double sum = 0.0, ss = 0.0;
  uint32_t *keys;
  memset(out, 0, sizeof *out);
  for (i = 0; i < n; i++)
    if (!mask || mask[i]) m++;
  if (m == 0)
    return rkin_err_set(err, RKIN_EINVAL, "DVH: the VOI has no voxel in the "
                        "dose map (mask does not overlap)");
  out->d = malloc(m * sizeof *out->d);
  keys = malloc(m * sizeof *keys);
  if (!out->d || !keys) {
    free(keys);
    rkin_dvh_free(out);
    return rkin_err_set(err, RKIN_ENOMEM, "DVH: out of memory");
  }
  for (i = 0, m = 0; i < n; i++) {
    if (mask && !mask[i]) continue;
    if (!isfinite(dose->v[i])) {
      free(keys);
      rkin_dvh_free(out);
      return rkin_err_set(err, RKIN_ENONFINITE, "DVH: dose voxel %zu is not "
                          "finite", i);
    }
    keys[m++] = float_key(dose->v[i]);
    sum += dose->v[i];
  }
  if (radix_sort(keys, m) < 0) {
    free(keys);
    rkin_dvh_free(out);
    return rkin_err_set(err, RKIN_ENOMEM, "DVH: out of memory");
  }
  for (i = 0; i < m; i++) out->d[i] = key_float(keys[i]);
  free(keys);
  out->n = m;
  out->voxel_ml = rkin_grid_voxel_ml(&dose->g);
  out->mean = sum / (double)m;
  for (i = 0; i < m; i++) ss += (out->d[i] - out->mean) * (out->d[i] - out->mean);
  out->sd = m > 1 ? sqrt(ss / (double)(m - 1)) : 0.0;
  out->min = out->d[0];
  out->max = out->d[m - 1];
  out->median = out->d50 = rkin_dvh_dx(out, 50);
  out->d2 = rkin_dvh_dx(out, 2);
  out->d70 = rkin_dvh_dx(out, 70);
  out->d90 = rkin_dvh_dx(out, 90);
  out->d98 = rkin_dvh_dx(out, 98);
  return RKIN_OK;
}

int rkin_dvh_curve(const rkin_dvh *h, double bin, size_t nbins, double *cum,
                   double *diff, rkin_err *err)
{
  size_t b, i = 0;
  if (!(bin > 0.0) || !isfinite(bin) || nbins < 1 || nbins > 100000)
    return rkin_err_set(err, RKIN_EINVAL, "DVH curve: bin %g Gy, %zu bins "
                        "(expected bin > 0 and 1..100000 bins)", bin, nbins);
  for (b = 0; b < nbins; b++) {
    double lo = (double)b * bin;
    if (cum) cum[b] = rkin_dvh_vx(h, lo);
    if (diff) {
      size_t start = i;
      if (b + 1 == nbins) i = h->n;
      else
        while (i < h->n && h->d[i] < lo + bin) i++;
      diff[b] = (double)(i - start) / (double)h->n;
    }
  }
  return RKIN_OK;
}
