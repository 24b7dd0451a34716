/* voi.c - masks from label maps and thresholds; statistics over a VOI. */
#include "image/image.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int rkin_image_mask(const rkin_image *labels, int label, unsigned char *mask,
                    size_t *count, rkin_err *err)
{
  size_t i, n = rkin_grid_count(&labels->g), c = 0;
  if (label < 0)
    return rkin_err_set(err, RKIN_EINVAL, "mask: label %d (expected >= 0; "
                        "0 selects every labelled voxel)", label);
  /* (int)lrintf(v) == label without a libm call per voxel (the DVHs of a
   * 128^3 map were bound by it): strictly inside (label -+ 0.5), or on
   * an edge and rounding (half to even) to the label */
  {
    const float lo = (float)label - 0.5f, hi = (float)label + 0.5f;
    for (i = 0; i < n; i++) {
      float v = labels->v[i];
      int in = label == 0 ? v > 0.5f
                          : (v > lo && v < hi) ||
                                ((v == lo || v == hi) &&
                                 (int)lrintf(v) == label);
      mask[i] = (unsigned char)in;
      c += (size_t)in;
    }
  }
  if (count) *count = c;
  if (c == 0)
    return rkin_err_set(err, RKIN_ENOTFOUND, "mask: no voxel has label %d",
                        label);
  return RKIN_OK;
}

int rkin_image_threshold(const rkin_image *im, double lo, double hi,
                         unsigned char *mask, size_t *count, rkin_err *err)
{
  size_t i, n = rkin_grid_count(&im->g), c = 0;
  if (!(lo <= hi))
    return rkin_err_set(err, RKIN_EINVAL, "threshold: [%g, %g] is empty", lo,
                        hi);
  for (i = 0; i < n; i++) {
    int in = im->v[i] >= lo && im->v[i] <= hi;
    mask[i] = (unsigned char)in;
    c += (size_t)in;
  }
  if (count) *count = c;
  return RKIN_OK;
}

int rkin_voi_stats_eval(const rkin_image *im, const unsigned char *mask,
                        rkin_voi_stats *out, rkin_err *err)
{
  size_t i, n = rkin_grid_count(&im->g), m = 0;
  double sum = 0.0, mean, ss = 0.0, lo = INFINITY, hi = -INFINITY;
  for (i = 0; i < n; i++) {
    double x;
    if (mask && !mask[i]) continue;
    x = im->v[i];
    if (!isfinite(x))
      return rkin_err_set(err, RKIN_ENONFINITE, "VOI statistics: voxel %zu "
                          "is not finite", i);
    sum += x;
    if (x < lo) lo = x;
    if (x > hi) hi = x;
    m++;
  }
  if (m == 0)
    return rkin_err_set(err, RKIN_EINVAL, "VOI statistics: the mask does not "
                        "overlap the image (0 voxels)");
  mean = sum / (double)m;
  for (i = 0; i < n; i++)
    if (!mask || mask[i]) ss += (im->v[i] - mean) * (im->v[i] - mean);
  out->n = m;
  out->volume_ml = (double)m * rkin_grid_voxel_ml(&im->g);
  out->sum = sum;
  out->integral = sum * rkin_grid_voxel_ml(&im->g);
  out->mean = mean;
  out->sd = m > 1 ? sqrt(ss / (double)(m - 1)) : 0.0;
  out->min = lo;
  out->max = hi;
  return RKIN_OK;
}

/* One step of growing (grow = 1: a voxel with a face neighbour inside
 * joins) or shrinking (grow = 0: a voxel with a face neighbour outside,
 * or on the grid's edge, leaves) from a into b. */
static void grow_step(const size_t n[3], const unsigned char *a,
                      unsigned char *b, int grow)
{
  size_t i, j, k, nx = n[0], ny = n[1], nz = n[2], sxy = nx * ny;
  for (k = 0; k < nz; k++)
    for (j = 0; j < ny; j++)
      for (i = 0; i < nx; i++) {
        size_t v = i + nx * j + sxy * k;
        int nb[6], c, any = 0, all = 1;
        nb[0] = i > 0 ? a[v - 1] : 0;
        nb[1] = i + 1 < nx ? a[v + 1] : 0;
        nb[2] = j > 0 ? a[v - nx] : 0;
        nb[3] = j + 1 < ny ? a[v + nx] : 0;
        nb[4] = k > 0 ? a[v - sxy] : 0;
        nb[5] = k + 1 < nz ? a[v + sxy] : 0;
        for (c = 0; c < 6; c++) {
          any |= nb[c];
          all &= nb[c] != 0;
        }
        b[v] = (unsigned char)(grow ? (a[v] || any) : (a[v] && all));
      }
}

int rkin_mask_grow(const rkin_grid *g, unsigned char *mask, int steps,
                   size_t *count, rkin_err *err)
{
  size_t n = rkin_grid_count(g), i, c = 0;
  unsigned char *tmp;
  int s, m = steps < 0 ? -steps : steps;
  if (m > 1000)
    return rkin_err_set(err, RKIN_EINVAL, "mask grow: %d steps (expected "
                        "-1000..1000 voxels)", steps);
  if (m > 0) {
    if (!(tmp = malloc(n)))
      return rkin_err_set(err, RKIN_ENOMEM, "mask grow: out of memory");
    for (s = 0; s < m; s++) {
      grow_step(g->n, mask, tmp, steps > 0);
      memcpy(mask, tmp, n);
    }
    free(tmp);
  }
  for (i = 0; i < n; i++) c += mask[i] != 0;
  if (count) *count = c;
  return RKIN_OK;
}
