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

/* The statistics of h->d (sorted, h->n > 0) and of sum. */
static void finish_stats(rkin_dvh *out, double sum)
{
  size_t i, m = out->n;
  double ss = 0.0;
  out->mean = sum / (double)m;
  for (i = 0; i < m; i++)
    ss += (out->d[i] - out->mean) * (out->d[i] - out->mean);
  out->sd = m > 1 ? sqrt(ss / (double)(m - 1)) : 0.0;
  out->min = out->d[0];
  out->max = out->d[m - 1];
  out->median = out->d50 = rkin_dvh_dx(out, 50);
  out->d2 = rkin_dvh_dx(out, 2);
  out->d70 = rkin_dvh_dx(out, 70);
  out->d90 = rkin_dvh_dx(out, 90);
  out->d98 = rkin_dvh_dx(out, 98);
}

/* Keys gathered (m of them, unsorted) to a finished DVH; a non-finite
 * dose (exponent bits all ones) is an error naming its voxel, found back
 * through `where` (mask, or labels + label index) only then. */
static int keys_to_dvh(uint32_t *keys, size_t m, double voxel_ml,
                       rkin_dvh *out, rkin_err *err)
{
  size_t i;
  double sum = 0.0;
  out->d = malloc(m * sizeof *out->d);
  if (!out->d || radix_sort(keys, m) < 0) {
    rkin_dvh_free(out);
    return rkin_err_set(err, RKIN_ENOMEM, "DVH: out of memory");
  }
  for (i = 0; i < m; i++) {
    out->d[i] = key_float(keys[i]);
    sum += out->d[i];
  }
  out->n = m;
  out->voxel_ml = voxel_ml;
  finish_stats(out, sum);
  return RKIN_OK;
}

/* 1 when the float is NaN or infinite. */
static int nonfinite_key(uint32_t k)
{
  uint32_t u = (k & 0x80000000u) ? (k & 0x7fffffffu) : ~k;
  return (u & 0x7f800000u) == 0x7f800000u;
}

/* The passes over the whole map are the cost (not the sort of the VOI):
 * they are branch-free, every voxel's key written and the cursor moved by
 * its mask bit, so the mask's edges cost no mispredicted branches. */
int rkin_dvh_eval(const rkin_image *dose, const unsigned char *mask,
                  rkin_dvh *out, rkin_err *err)
{
  size_t i, n = rkin_grid_count(&dose->g), m = 0;
  uint32_t *keys;
  int rc;
  memset(out, 0, sizeof *out);
  if (mask)
    for (i = 0; i < n; i++) m += mask[i] != 0;
  else
    m = n;
  if (m == 0)
    return rkin_err_set(err, RKIN_EINVAL, "DVH: the VOI has no voxel in the "
                        "dose map (mask does not overlap)");
  keys = malloc((m + 1) * sizeof *keys);
  if (!keys) return rkin_err_set(err, RKIN_ENOMEM, "DVH: out of memory");
  for (i = 0, m = 0; i < n; i++) {
    keys[m] = float_key(dose->v[i]);
    m += !mask || mask[i] != 0;
  }
  for (i = 0; i < m; i++)
    if (nonfinite_key(keys[i])) {
      size_t v, k = 0;
      for (v = 0; v < n; v++)
        if (!mask || mask[v]) {
          if (k == i) break;
          k++;
        }
      free(keys);
      return rkin_err_set(err, RKIN_ENONFINITE, "DVH: dose voxel %zu "
                          "at (%zu,%zu,%zu) is not finite", v,
                          v % dose->g.n[0], (v / dose->g.n[0]) % dose->g.n[1],
                          v / (dose->g.n[0] * dose->g.n[1]));
    }
  rc = keys_to_dvh(keys, m, rkin_grid_voxel_ml(&dose->g), out, err);
  free(keys);
  return rc;
}

int rkin_dvh_eval_labels(const rkin_image *dose, const rkin_image *labels,
                         size_t n_labels, const int *label_of,
                         rkin_dvh *out, rkin_err *err)
{
  size_t i, n = rkin_grid_count(&dose->g), l, total = 0;
  size_t *start = NULL, *cur = NULL;
  uint32_t *keys = NULL;
  int32_t *slot = NULL;
  int lmax = 0, rc = RKIN_OK;
  for (l = 0; l < n_labels; l++) memset(&out[l], 0, sizeof out[l]);
  if (n_labels == 0 || !label_of)
    return rkin_err_set(err, RKIN_EINVAL, "DVH: no label given");
  if (!rkin_grid_same(&dose->g, &labels->g))
    return rkin_err_set(err, RKIN_EINVAL, "DVH: the label map is not on the "
                        "dose map's grid (resample it first)");
  for (l = 0; l < n_labels; l++) {
    size_t k;
    if (label_of[l] < 1 || label_of[l] > 65535)
      return rkin_err_set(err, RKIN_EINVAL, "DVH: label %d, expected "
                          "1..65535", label_of[l]);
    for (k = 0; k < l; k++)
      if (label_of[k] == label_of[l])
        return rkin_err_set(err, RKIN_EINVAL, "DVH: label %d given twice",
                            label_of[l]);
    if (label_of[l] > lmax) lmax = label_of[l];
  }
  /* slot[label] = 1 + index of the VOI, 0: not asked for */
  slot = calloc((size_t)lmax + 2, sizeof *slot);
  start = calloc(n_labels + 1, sizeof *start);
  cur = calloc(n_labels + 1, sizeof *cur);
  if (!slot || !start || !cur) {
    rc = rkin_err_set(err, RKIN_ENOMEM, "DVH: out of memory");
    goto done;
  }
  for (l = 0; l < n_labels; l++) slot[label_of[l]] = (int32_t)l + 1;
  /* pass 1: voxels per VOI (cur[0] collects the rest) */
  for (i = 0; i < n; i++) {
    float f = labels->v[i];
    int lv = f >= 0.5f && f < (float)lmax + 0.5f ? (int)(f + 0.5f) : 0;
    cur[slot[lv]]++;
  }
  for (l = 0; l < n_labels; l++) {
    if (cur[l + 1] == 0) {
      rc = rkin_err_set(err, RKIN_EINVAL, "DVH: label %d marks no voxel of "
                        "the label map (expected each label asked for to "
                        "mark at least one)", label_of[l]);
      goto done;
    }
    start[l + 1] = total;
    total += cur[l + 1];
  }
  keys = malloc((total + 1) * sizeof *keys);
  if (!keys) {
    rc = rkin_err_set(err, RKIN_ENOMEM, "DVH: out of memory");
    goto done;
  }
  for (l = 0; l < n_labels; l++) cur[l + 1] = start[l + 1];
  /* pass 2: every VOI's keys into its own segment; voxels of no VOI go
   * to a scratch slot (keys[total]) */
  cur[0] = total;
  for (i = 0; i < n; i++) {
    float f = labels->v[i];
    int lv = f >= 0.5f && f < (float)lmax + 0.5f ? (int)(f + 0.5f) : 0;
    int32_t s = slot[lv];
    keys[cur[s]] = float_key(dose->v[i]);
    cur[s] += s != 0;
  }
  for (l = 0; l < n_labels && rc == RKIN_OK; l++) {
    size_t m = cur[l + 1] - start[l + 1], k;
    uint32_t *seg = keys + start[l + 1];
    for (k = 0; k < m; k++)
      if (nonfinite_key(seg[k])) {
        rc = rkin_err_set(err, RKIN_ENONFINITE, "DVH: a dose voxel of label "
                          "%d is not finite", label_of[l]);
        break;
      }
    if (rc == RKIN_OK)
      rc = keys_to_dvh(seg, m, rkin_grid_voxel_ml(&dose->g), &out[l], err);
  }
  if (rc != RKIN_OK)
    for (l = 0; l < n_labels; l++) rkin_dvh_free(&out[l]);
done:
  free(slot);
  free(start);
  free(cur);
  free(keys);
  return rc;
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
